//! Deviation ids (SEMANTICS.md section 12) are stable: appending events
//! that change no deviation (another tenant's events, explanations,
//! actions, acknowledgements, a role outside the agreement, minutes for no
//! meeting) leaves every deviation and its id as they were, in every
//! period. The base is the seeded demo history; proptest prints the seed
//! of a failing case.

mod common;

use projector::{compute, Input, LedgerEvent, Period};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The demo history of the first tenant (and a second) over six months.
fn history() -> (String, Vec<String>, Vec<LedgerEvent>) {
    let (tenants, periods, events) = common::demo_history(2, 6);
    (tenants[0].clone(), periods, events)
}

/// `(id, deviation without its follow-up)` of every deviation of a report.
fn ids(tenant: &str, period: &str, events: &[LedgerEvent]) -> Vec<(String, Value)> {
    let period: Period = period.parse().expect("period");
    let input = Input {
        tenant,
        period,
        events,
        horizon: None,
    };
    let report = compute(&input).expect("report");
    let follow_up = report.follow_up.expect("format 2");
    assert_eq!(follow_up.len(), report.deviations.len());
    follow_up
        .iter()
        .zip(&report.deviations)
        .map(|(f, d)| {
            assert_eq!(f.id, d.id());
            (f.id.clone(), serde_json::to_value(d).expect("json"))
        })
        .collect()
}

/// An event that changes no deviation of the first tenant, at `time`.
fn unrelated() -> impl Strategy<Value = Value> {
    let time = (0i64..180 * 86_400).prop_map(|s| {
        let t = common::instant("2025-12-01T00:00:00Z") + s;
        schemas::format_instant(t)
    });
    let hex16 = "[0-9a-f]{16}";
    let data = prop_oneof![
        hex16.prop_map(|id| ("deviation.explained", json!({"deviation_id": id, "cause": "Cause"}))),
        (hex16, "[a-z]{1,6}").prop_map(|(id, a)| (
            "action.opened",
            json!({"action_id": a, "title": "T", "owner": "O", "due": "2026-03-01T00:00:00Z", "deviation_ids": [id]})
        )),
        "[a-z]{1,6}".prop_map(|a| ("action.closed", json!({"action_id": a, "outcome": "Done"}))),
        "[0-9a-f]{64}".prop_map(|d| (
            "report.acknowledged",
            json!({"period": "2026-01", "report_digest": d, "person": "Kari"})
        )),
        "[A-Z][a-z]{1,8}".prop_map(|p| ("contact.assigned", json!({"role": "it_coordinator", "person": p}))),
        "[0-9a-f]{64}".prop_map(|d| ("minutes.filed", json!({"meeting_id": "NO-SUCH-MEETING", "digest": d}))),
        Just((
            "outage.started",
            json!({"service": "epost", "outage_id": "OTHER-TENANT", "impact": "full", "$tenant": "other"})
        )),
    ];
    (time, data).prop_map(|(time, (kind, mut data))| {
        let tenant = data.as_object_mut().and_then(|d| d.remove("$tenant"));
        let mut v = json!({"time": time, "type": kind, "data": data});
        if let Some(t) = tenant {
            v["tenant"] = t;
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn deviation_ids_are_stable_under_unrelated_events(extra in prop::collection::vec(unrelated(), 1..12)) {
        let (tenant, periods, mut events) = history();
        let before: Vec<_> = periods.iter().map(|p| ids(&tenant, p, &events)).collect();
        prop_assert!(before.iter().any(|d| !d.is_empty()), "the demo has deviations");
        let next = events.len();
        for (i, v) in extra.iter().enumerate() {
            events.push(LedgerEvent {
                position: (next + i) as u64,
                event: common::event(v, next + i, &tenant),
            });
        }
        for (period, before) in periods.iter().zip(&before) {
            prop_assert_eq!(before, &ids(&tenant, period, &events), "{}", period);
        }
    }
}
