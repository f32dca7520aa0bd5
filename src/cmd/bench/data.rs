//! The benchmark's events: deterministic, valid, and shaped like a
//! municipality's ITSM traffic (incidents opened, responded to and
//! resolved, outages started and ended), spread evenly over one year.
//!
//! Events are written directly in canonical form and read back with
//! `Event::from_canonical`, which also proves the text is canonical.

use anyhow::Context;
use schemas::Event;

/// 2025-11-01T00:00:00Z: the start of the benchmark year.
const YEAR_START: i64 = 1_761_955_200;
const YEAR_SECONDS: i64 = 365 * 86_400;

/// 2026-11-28T00:00:00Z: the ledger clock while appending (after every
/// event time, so no clock-skew refusal).
pub const NOW_MICROS: i64 = 1_796_256_000_000_000;

/// The reported tenant-month: the benchmark year's last, so that its
/// report's trend (the twelve periods ending with it) covers the whole
/// year, every period with the agreement in force.
pub const REPORT_PERIOD: &str = "2026-10";

/// Events of one cycle of `event`: incident opened, outage started,
/// incident responded, outage ended, incident resolved.
const CYCLE: usize = 5;

/// The name of tenant number `index`.
pub fn tenant(index: usize) -> String {
    format!("kommune-{index:03}")
}

/// The agreement of a tenant: one service with an availability target and
/// incident targets, in force from before the benchmark year.
pub fn agreement(tenant: &str) -> anyhow::Result<Event> {
    let value = serde_json::json!({
        "specversion": "1.0", "id": format!("agreement-{tenant}"), "source": "bench/agreements",
        "type": "agreement.published", "time": "2025-10-20T10:00:00+02:00", "tenant": tenant,
        "data": {"agreement": {
            "version": "2025-1", "effective_from": "2025-11-01T00:00:00+01:00",
            "calendars": {"office": {"days": ["mon","tue","wed","thu","fri"], "from": "07:30", "to": "16:00", "holidays": "NO"}},
            "services": [{"id": "epost", "name": "E-post",
                "availability": {"target_pct": "99.5"},
                "incidents": {"calendar": "office", "targets": {
                    "P1": {"response_min": 30, "resolution_min": 240, "calendar": "24x7"},
                    "P2": {"response_min": 60, "resolution_min": 480},
                    "P3": {"response_min": 240, "resolution_min": 2400},
                    "P4": {"response_min": 480, "resolution_min": 4800}}}}]}}
    });
    Event::from_json(&value)
        .map_err(|errors| anyhow::anyhow!("the benchmark agreement is invalid: {errors:?}"))
}

/// The `n`-th of `per_tenant` events of a tenant, at an even spacing over
/// the benchmark year: about 270 bytes in canonical form.
pub fn event(tenant: &str, n: usize, per_tenant: usize) -> anyhow::Result<Event> {
    let per_tenant = per_tenant.max(1) as i64;
    let time = YEAR_START + (n as i64 * YEAR_SECONDS) / per_tenant;
    let stamp = schemas::format_instant(time);
    let cycle = n / CYCLE;
    let (kind, data) = match n % CYCLE {
        0 => (
            "incident.opened",
            format!(r#"{{"incident_id":"INC-{cycle:07}","priority":"P3","service":"epost"}}"#),
        ),
        1 => (
            "outage.started",
            format!(r#"{{"impact":"partial","outage_id":"OUT-{cycle:07}","service":"epost"}}"#),
        ),
        2 => (
            "incident.responded",
            format!(r#"{{"incident_id":"INC-{cycle:07}"}}"#),
        ),
        3 => (
            "outage.ended",
            format!(r#"{{"outage_id":"OUT-{cycle:07}","service":"epost"}}"#),
        ),
        _ => (
            "incident.resolved",
            format!(r#"{{"incident_id":"INC-{cycle:07}"}}"#),
        ),
    };
    // Keys in byte order: the canonical form.
    let text = format!(
        r#"{{"data":{data},"datacontenttype":"application/json","id":"ev-{n:09}","source":"topdesk/{tenant}","specversion":"1.0","tenant":"{tenant}","time":"{stamp}","type":"{kind}"}}"#
    );
    Event::from_canonical(text.as_bytes())
        .map_err(|errors| anyhow::anyhow!("benchmark event {n} is invalid: {errors:?}"))
        .context("generating benchmark events")
}

/// `count` events over `tenants` tenants, interleaved, after one agreement
/// per tenant (the agreements count toward `count`).
pub fn mixed(count: usize, tenants: usize) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::with_capacity(count);
    for t in 0..tenants.min(count) {
        events.push(agreement(&tenant(t))?);
    }
    let per_tenant = count.div_ceil(tenants);
    let mut n = 0;
    while events.len() < count {
        let t = n % tenants;
        events.push(event(&tenant(t), n / tenants, per_tenant)?);
        n += 1;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_benchmark_event_is_valid_and_canonical() {
        for n in 0..2 * CYCLE {
            let event = event("kommune-000", n, 100).expect("valid");
            assert_eq!(event.tenant, "kommune-000");
            let again = Event::from_canonical(event.canonical()).expect("canonical");
            assert_eq!(again, event);
        }
        let mixed = mixed(50, 3).expect("valid");
        assert_eq!(mixed.len(), 50);
        assert_eq!(mixed[0].type_name(), "agreement.published");
        assert_eq!(mixed[3].tenant, "kommune-000");
        assert_eq!(mixed[4].tenant, "kommune-001");
    }
}
