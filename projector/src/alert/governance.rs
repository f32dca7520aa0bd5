//! Governance alerts: a meeting window about to end without a meeting,
//! and minutes about to fall due unfiled.
//!
//! For period P and a kind of meeting due every k months (the governance
//! of the version in force at P's start), the window is the one of
//! SEMANTICS.md section 11, `[1st of month P-(k-1), end of P)`, evaluated
//! only when it starts at or after the earliest `effective_from`. The
//! warning fires 14 days before the window ends (or at its start, for a
//! shorter window) when no meeting of that kind was held in the window up
//! to and including that instant, and ends at the next such meeting or the
//! window's end. Minutes: the warning fires 2 days before they are due
//! (not before the meeting) when none were filed by then, and ends at the
//! first filing or the due instant.

use chrono_tz::Tz;
use schemas::MeetingKind;

use crate::agreement::Versions;
use crate::governance::minutes_due;
use crate::projection::Projection;

use super::availability::periods;
use super::{Found, Kind, Subject, MEETING_WARNING_SECONDS, MINUTES_WARNING_SECONDS};

/// The governance alerts of the periods overlapping `[since, now]` and of
/// every meeting.
pub(super) fn found<'a>(
    projection: &Projection<'a>,
    versions: &Versions<'a>,
    tz: Tz,
    (since, now): (i64, i64),
) -> Vec<Found<'a>> {
    let mut out = minutes(projection, versions, now);
    let Some(earliest) = versions.earliest_effective_from() else {
        return out;
    };
    for period in periods(versions, tz, since, now) {
        let (start, end) = (period.start(tz), period.end(tz));
        let Some(governance) = versions.in_force(start).and_then(|a| a.governance.as_ref()) else {
            continue;
        };
        let rhythm = [
            (
                MeetingKind::Operations,
                governance.operations_meeting_every_months,
                Kind::OperationsMeetingDue,
            ),
            (
                MeetingKind::Steering,
                governance.steering_meeting_every_months,
                Kind::SteeringMeetingDue,
            ),
        ];
        for (meeting, every, kind) in rhythm {
            // The same bound as the deviation's (`governance`): a window
            // reaching further back than ten thousand years is never
            // evaluated.
            let Some(back) = every
                .and_then(|k| i32::try_from(k).ok())
                .filter(|&k| (1..=120_000).contains(&k))
            else {
                continue;
            };
            let window_start = period.plus_months(1 - back).start(tz);
            if window_start < earliest {
                continue;
            }
            let at = (end - MEETING_WARNING_SECONDS).max(window_start);
            let held = |from: i64, to: i64| {
                projection
                    .meetings
                    .iter()
                    .filter(|m| m.kind == meeting && from <= m.held && m.held <= to)
                    .map(|m| m.held)
                    .min()
            };
            if held(window_start, at).is_some() {
                continue;
            }
            let ends = held(at, end - 1).unwrap_or(end);
            out.push(Found {
                kind,
                service: None,
                subject: Subject::Period(period),
                priority: None,
                at,
                ends: (ends <= now).then_some(ends),
            });
        }
    }
    out
}

/// Minutes due within two days and not filed.
fn minutes<'a>(projection: &Projection<'a>, versions: &Versions<'a>, now: i64) -> Vec<Found<'a>> {
    projection
        .meetings
        .iter()
        .filter_map(|m| {
            let due = minutes_due(versions, m)?;
            let at = (due - MINUTES_WARNING_SECONDS).max(m.held);
            if m.filings.iter().any(|&f| f <= at) {
                return None;
            }
            let ends = m.filings.iter().copied().min().map_or(due, |f| f.min(due));
            Some(Found {
                kind: Kind::MinutesDue,
                service: None,
                subject: Subject::Meeting(m.id),
                priority: None,
                at,
                ends: (ends <= now).then_some(ends),
            })
        })
        .collect()
}
