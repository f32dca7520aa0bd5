//! Alerts: the provider's duty to warn. An incident whose resolution clock
//! reaches 75% of its target gets a warning, and every response or
//! resolution breach is reported at the instant it happens.
//!
//! Pure, like the engine: the tenant's events and the moment `now` in,
//! the alerts whose instant lies in `[since, now]` out. The warning
//! instant is found by the engine's own clock: evaluating the incident
//! against targets cut to 75% gives the instant that share was reached,
//! with the same calendars, pauses and priority changes as the real
//! targets. An alert's id is derived from what it says, so the same alert
//! derived again (next tick, after a restart) has the same id and is not
//! sent twice.

use schemas::format_instant;
use serde::Serialize;

use crate::agreement::Versions;
use crate::incident::{evaluate, Terms};
use crate::projection::project;
use crate::LedgerEvent;

/// The share of the resolution target at which the warning is raised, as
/// (numerator, denominator): 75%.
pub const WARNING_SHARE: (i64, i64) = (3, 4);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The resolution clock reached 75% of the target.
    ResolutionWarning,
    ResponseBreach,
    ResolutionBreach,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ResolutionWarning => "resolution_warning",
            Kind::ResponseBreach => "response_breach",
            Kind::ResolutionBreach => "resolution_breach",
        }
    }
}

/// One alert, as published on `tla.alerts.<tenant>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// `tenant/incident/kind/at`: the same alert always has the same id.
    pub id: String,
    pub tenant: String,
    pub kind: Kind,
    pub incident_id: String,
    pub service: String,
    /// The priority in force at `at`.
    pub priority: String,
    /// When the share was reached or the breach happened (UTC `Z`).
    pub at: String,
}

/// What `alerts` found for a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Sorted by (`at`, id).
    pub alerts: Vec<Alert>,
    /// Whether an incident is still unresolved: its clocks keep running,
    /// so a later scan may find more even without new events.
    pub open_incidents: bool,
}

/// The tenant's alerts with an instant in `[since, now]`.
pub fn alerts(tenant: &str, events: &[LedgerEvent], now: i64, since: i64) -> Scan {
    let mut mine: Vec<&LedgerEvent> = events
        .iter()
        .filter(|e| e.event.tenant == tenant && e.event.time <= now)
        .collect();
    mine.sort_by_key(|e| (e.event.time, e.position));
    let versions = Versions::from_events(&mine);
    let projection = project(&mine, &versions);
    let mut scan = Scan::default();
    // Evaluation instants are counted before a limit: `now` is included.
    let limit = now.saturating_add(1);
    for incident in &projection.incidents {
        let Some(terms) = Terms::of(incident.agreement, incident.service) else {
            continue;
        };
        let timeline = &incident.timeline;
        let evaluation = evaluate(timeline, &terms, limit);
        if evaluation.resolution.is_none_or(|v| !v.met) {
            scan.open_incidents = true;
        }
        let mut found = Vec::new();
        if let Some(v) = evaluation.response.filter(|v| !v.met) {
            found.push((Kind::ResponseBreach, v.at, v.priority));
        }
        if let Some(v) = evaluation.resolution.filter(|v| !v.met) {
            found.push((Kind::ResolutionBreach, v.at, v.priority));
        }
        let warned = evaluate(timeline, &warning_terms(terms), limit);
        if let Some(v) = warned.resolution.filter(|v| !v.met) {
            found.push((Kind::ResolutionWarning, v.at, v.priority));
        }
        for (kind, at, priority) in found {
            if at < since {
                continue;
            }
            let at = format_instant(at);
            scan.alerts.push(Alert {
                id: format!("{tenant}/{}/{}/{at}", incident.id, kind.as_str()),
                tenant: tenant.to_owned(),
                kind,
                incident_id: incident.id.to_owned(),
                service: incident.service.to_owned(),
                priority: priority.as_str().to_owned(),
                at,
            });
        }
    }
    scan.alerts
        .sort_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)));
    scan
}

/// The terms with every resolution target cut to the warning share
/// (rounded up to whole seconds, at least one).
fn warning_terms(terms: Terms<'_>) -> Terms<'_> {
    let (num, den) = WARNING_SHARE;
    let mut cut = terms;
    for term in &mut cut.by_priority {
        term.resolution = ((term.resolution * num + den - 1) / den).max(1);
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Event;
    use serde_json::json;

    const AGREEMENT_TIME: &str = "2026-01-01T00:00:00Z";

    fn event(position: u64, value: serde_json::Value) -> LedgerEvent {
        let event = Event::from_json(&value).unwrap_or_else(|e| panic!("{e:?}"));
        LedgerEvent { position, event }
    }

    fn history(extra: &[(&str, &str)]) -> Vec<LedgerEvent> {
        let agreement = json!({
            "version": "1", "effective_from": AGREEMENT_TIME,
            "services": [{"id": "epost", "name": "E-post",
              "incidents": {"calendar": "24x7", "targets": {
                "P1": {"response_min": 30, "resolution_min": 240},
                "P2": {"response_min": 60, "resolution_min": 480},
                "P3": {"response_min": 240, "resolution_min": 2400},
                "P4": {"response_min": 480, "resolution_min": 4800}}}}]
        });
        let mut out = vec![event(
            0,
            json!({"specversion": "1.0", "id": "a", "source": "t", "type": "agreement.published",
                   "time": AGREEMENT_TIME, "tenant": "alver", "data": {"agreement": agreement}}),
        )];
        for (i, (kind, time)) in extra.iter().enumerate() {
            let data = match *kind {
                "incident.opened" => {
                    json!({"incident_id": "INC-1", "service": "epost", "priority": "P1"})
                }
                "incident.on_hold" => {
                    json!({"incident_id": "INC-1", "reason": "waiting for the vendor"})
                }
                _ => json!({"incident_id": "INC-1"}),
            };
            out.push(event(
                i as u64 + 1,
                json!({"specversion": "1.0", "id": format!("e{i}"), "source": "t", "type": kind,
                       "time": time, "tenant": "alver", "data": data}),
            ));
        }
        out
    }

    fn check(extra: &[(&str, &str)], now: &str, expect: &[(&str, &str)]) {
        let now = chrono::DateTime::parse_from_rfc3339(now)
            .unwrap()
            .timestamp();
        let scan = alerts("alver", &history(extra), now, 0);
        let got: Vec<(&str, &str)> = scan
            .alerts
            .iter()
            .map(|a| (a.kind.as_str(), a.at.as_str()))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn warning_at_three_quarters_then_breaches_as_they_happen() {
        let opened = [("incident.opened", "2026-01-05T10:00:00Z")];
        // P1: response 30 min, resolution 240 min (24x7); 75% is 180 min.
        check(&opened, "2026-01-05T10:29:59Z", &[]);
        check(
            &opened,
            "2026-01-05T10:30:00Z",
            &[("response_breach", "2026-01-05T10:30:00Z")],
        );
        check(
            &opened,
            "2026-01-05T13:00:00Z",
            &[
                ("response_breach", "2026-01-05T10:30:00Z"),
                ("resolution_warning", "2026-01-05T13:00:00Z"),
            ],
        );
        check(
            &opened,
            "2026-01-06T00:00:00Z",
            &[
                ("response_breach", "2026-01-05T10:30:00Z"),
                ("resolution_warning", "2026-01-05T13:00:00Z"),
                ("resolution_breach", "2026-01-05T14:00:00Z"),
            ],
        );
    }

    #[test]
    fn a_pause_moves_the_warning_and_resolving_prevents_it() {
        let paused = [
            ("incident.opened", "2026-01-05T10:00:00Z"),
            ("incident.responded", "2026-01-05T10:10:00Z"),
            ("incident.on_hold", "2026-01-05T11:00:00Z"),
            ("incident.resumed", "2026-01-05T12:00:00Z"),
        ];
        check(
            &paused,
            "2026-01-05T14:59:59Z",
            &[("resolution_warning", "2026-01-05T14:00:00Z")],
        );
        let resolved = [
            ("incident.opened", "2026-01-05T10:00:00Z"),
            ("incident.resolved", "2026-01-05T10:20:00Z"),
        ];
        check(&resolved, "2026-01-07T00:00:00Z", &[]);
    }
}
