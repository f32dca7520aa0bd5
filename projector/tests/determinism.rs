//! Determinism: the same prefix gives the same bytes. Computing twice,
//! feeding the events in another slice order (ledger positions kept), and
//! adding events outside the period that cannot reach it all leave a
//! report's canonical bytes unchanged. The events are the seeded demo
//! history; proptest prints the seed of a failing shuffle.

mod common;

use projector::{compute, Input, LedgerEvent, Period};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The demo history of the first two tenants over six months.
fn history() -> (Vec<String>, Vec<String>, Vec<LedgerEvent>) {
    common::demo_history(2, 6)
}

fn bytes(tenant: &str, period: &str, events: &[LedgerEvent], horizon: Option<i64>) -> Vec<u8> {
    let period: Period = period.parse().expect("period");
    let input = Input {
        tenant,
        period,
        events,
        horizon,
    };
    let mut report = compute(&input).expect("report");
    report.seal();
    assert!(report.digest_matches());
    report.canonical_bytes()
}

#[test]
fn computing_twice_gives_the_same_bytes() {
    let (tenants, periods, events) = history();
    for tenant in &tenants {
        for period in &periods {
            let horizon = Some(common::instant(&format!("{period}-15T12:00:00Z")));
            assert_eq!(
                bytes(tenant, period, &events, None),
                bytes(tenant, period, &events, None)
            );
            assert_eq!(
                bytes(tenant, period, &events, horizon),
                bytes(tenant, period, &events, horizon)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn slice_order_does_not_matter(order in Just((0..history().2.len()).collect::<Vec<usize>>()).prop_shuffle()) {
        let (tenants, periods, events) = history();
        let shuffled: Vec<LedgerEvent> = order.iter().map(|&i| events[i].clone()).collect();
        for tenant in &tenants {
            for period in periods.iter().step_by(2) {
                prop_assert_eq!(bytes(tenant, period, &events, None), bytes(tenant, period, &shuffled, None));
            }
        }
    }
}

/// Events of the first demo tenant wholly before or after 2026-02 that
/// close whatever they open before 2026-02 starts or open after it ends.
fn unrelated() -> Vec<Value> {
    let e = |time: &str, kind: &str, data: Value| json!({"time": time, "type": kind, "data": data});
    vec![
        e(
            "2026-01-05T10:00:00Z",
            "outage.started",
            json!({"service": "epost", "outage_id": "X-1", "impact": "full"}),
        ),
        e(
            "2026-01-05T11:00:00Z",
            "outage.ended",
            json!({"service": "epost", "outage_id": "X-1"}),
        ),
        e(
            "2026-01-06T08:00:00Z",
            "incident.opened",
            json!({"incident_id": "X-2", "service": "epost", "priority": "P3"}),
        ),
        e(
            "2026-01-06T08:10:00Z",
            "incident.resolved",
            json!({"incident_id": "X-2"}),
        ),
        e(
            "2026-03-10T10:00:00Z",
            "outage.started",
            json!({"service": "epost", "outage_id": "X-3", "impact": "full"}),
        ),
        e(
            "2026-03-10T10:00:00Z",
            "incident.opened",
            json!({"incident_id": "X-4", "service": "epost", "priority": "P1"}),
        ),
        e(
            "2026-03-11T10:00:00Z",
            "meeting.held",
            json!({"meeting_id": "X-5", "kind": "steering"}),
        ),
        e(
            "2026-03-12T10:00:00Z",
            "maintenance.scheduled",
            json!({"service": "epost", "window_id": "X-6", "start": "2026-03-13T00:00:00Z", "end": "2026-03-13T01:00:00Z"}),
        ),
        e(
            "2026-03-12T10:00:00Z",
            "outage.ended",
            json!({"service": "epost", "outage_id": "NEVER-OPENED"}),
        ),
    ]
}

#[test]
fn events_outside_the_period_leave_it_unchanged() {
    let (tenants, _, mut events) = history();
    let tenant = &tenants[0];
    let before = bytes(tenant, "2026-02", &events, None);
    let next = events.len();
    for (i, v) in unrelated().iter().enumerate() {
        events.push(LedgerEvent {
            position: (next + i) as u64,
            event: common::event(v, next + i, tenant),
        });
    }
    assert_eq!(before, bytes(tenant, "2026-02", &events, None));
    assert_ne!(
        bytes(tenant, "2026-03", &events[..next], None),
        bytes(tenant, "2026-03", &events, None)
    );
}
