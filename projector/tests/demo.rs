//! End to end over the seeded demo history of the `demo` crate: every
//! tenant-month report of the default history, compared with the
//! deviations the demo was designed to contain (kind, tenant, period,
//! instant, and service, subject, priority and vacant seconds where
//! given). The demo's author keeps random events inside their targets, so
//! the designed deviations should be all there is.

use std::collections::BTreeSet;

use demo::{designed_deviations, generate, DemoConfig};
use projector::{compute, Deviation, Input, LedgerEvent, Period};

/// (tenant, period, kind, at, service, subject, priority, vacant_seconds).
type Key = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

fn key_of(tenant: &str, period: &str, d: &Deviation) -> Key {
    let (service, subject, priority, vacant) = match d {
        Deviation::AvailabilityBelowTarget { service, .. } => {
            (Some(service.clone()), None, None, None)
        }
        Deviation::MaintenanceShortNotice {
            service, window_id, ..
        } => (Some(service.clone()), Some(window_id.clone()), None, None),
        Deviation::ResponseBreach {
            service,
            incident_id,
            priority,
            ..
        }
        | Deviation::ResolutionBreach {
            service,
            incident_id,
            priority,
            ..
        } => (
            Some(service.clone()),
            Some(incident_id.clone()),
            Some(priority.clone()),
            None,
        ),
        Deviation::OperationsMeetingMissing { .. } | Deviation::SteeringMeetingMissing { .. } => {
            (None, None, None, None)
        }
        Deviation::MinutesMissing { meeting_id, .. } => {
            (None, Some(meeting_id.clone()), None, None)
        }
        Deviation::ContactVacant {
            role,
            service,
            vacant_seconds,
            ..
        } => (
            service.clone(),
            Some(role.clone()),
            None,
            Some(*vacant_seconds),
        ),
    };
    let (tenant, period) = (tenant.to_string(), period.to_string());
    (
        tenant,
        period,
        d.kind().to_string(),
        d.at().to_string(),
        service,
        subject,
        priority,
        vacant,
    )
}

#[test]
fn demo_reports_show_exactly_the_designed_deviations() {
    let config = DemoConfig::default();
    let history = generate(&config);
    let events: Vec<LedgerEvent> = history
        .events
        .iter()
        .enumerate()
        .map(|(i, v)| LedgerEvent {
            position: i as u64,
            event: schemas::Event::from_json(v).unwrap_or_else(|e| panic!("demo event {i}: {e:?}")),
        })
        .collect();
    let mut found: BTreeSet<Key> = BTreeSet::new();
    for tenant in &history.tenants {
        let mine: Vec<LedgerEvent> = events
            .iter()
            .filter(|e| &e.event.tenant == tenant)
            .cloned()
            .collect();
        for period in &history.periods {
            let p: Period = period.parse().expect("period");
            let input = Input {
                tenant,
                period: p,
                events: &mine,
                horizon: None,
            };
            let report = compute(&input).unwrap_or_else(|e| panic!("{tenant} {period}: {e}"));
            assert_eq!(
                report.data_quality.set_aside, 0,
                "{tenant} {period}: {:?}",
                report.data_quality
            );
            found.extend(report.deviations.iter().map(|d| key_of(tenant, period, d)));
        }
    }
    let designed: BTreeSet<Key> = designed_deviations(&config)
        .into_iter()
        .map(|d| {
            (
                d.tenant,
                d.period,
                d.kind.to_string(),
                d.at,
                d.service,
                d.subject,
                d.priority,
                d.vacant_seconds,
            )
        })
        .collect();
    assert!(
        designed.len() >= 20,
        "the demo designs at least 20 deviations, got {}",
        designed.len()
    );
    let missing: Vec<&Key> = designed.difference(&found).collect();
    let extra: Vec<&Key> = found.difference(&designed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "designed but not found ({}):\n{}\nfound but not designed ({}):\n{}",
        missing.len(),
        missing
            .iter()
            .map(|k| format!("  {k:?}"))
            .collect::<Vec<_>>()
            .join("\n"),
        extra.len(),
        extra
            .iter()
            .map(|k| format!("  {k:?}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}
