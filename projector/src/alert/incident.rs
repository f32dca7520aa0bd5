//! Incident alerts: the warnings at 75% of the response and resolution
//! targets and the breaches, found by the engine's own clock. Evaluating
//! the incident against targets cut to 75% gives the instant that share
//! was reached, with the same calendars, pauses and priority changes as
//! the real targets. Every incident alert ends when the incident is
//! resolved (its last resolve, while it stays resolved).

use crate::incident::{evaluate, last_resolution, steps, Terms};
use crate::projection::Projection;

use super::{Found, Kind, Subject, WARNING_SHARE};

/// The incident alerts of the projection (events up to `now`) that fired
/// by `now`.
pub(super) fn found<'a>(projection: &Projection<'a>, now: i64) -> Vec<Found<'a>> {
    // Evaluation instants are counted before a limit: `now` is included.
    let limit = now.saturating_add(1);
    let mut out = Vec::new();
    for incident in &projection.incidents {
        let Some(terms) = Terms::of(incident.agreement, incident.service) else {
            continue;
        };
        let timeline = &incident.timeline;
        let ends = last_resolution(timeline, &steps(timeline));
        let real = evaluate(timeline, &terms, limit);
        let warned = evaluate(timeline, &warning_terms(terms), limit);
        let verdicts = [
            (Kind::ResponseWarning, warned.response),
            (Kind::ResolutionWarning, warned.resolution),
            (Kind::ResponseBreach, real.response),
            (Kind::ResolutionBreach, real.resolution),
        ];
        for (kind, verdict) in verdicts {
            let Some(v) = verdict.filter(|v| !v.met) else {
                continue;
            };
            out.push(Found {
                kind,
                service: Some(incident.service),
                subject: Subject::Incident(incident.id),
                priority: Some(v.priority.as_str()),
                at: v.at,
                ends: ends.filter(|&e| e >= v.at),
            });
        }
    }
    out
}

/// The terms with every response and resolution target cut to the
/// warning share (rounded up to whole seconds, at least one).
fn warning_terms(terms: Terms<'_>) -> Terms<'_> {
    let (num, den) = WARNING_SHARE;
    let cut = |target: i64| ((target * num + den - 1) / den).max(1);
    let mut out = terms;
    for term in &mut out.by_priority {
        term.response = cut(term.response);
        term.resolution = cut(term.resolution);
    }
    out
}
