//! End to end over the seeded demo history of the `demo` crate: every
//! tenant-month report of the default history, compared with the
//! deviations the demo was designed to contain (kind, tenant, period,
//! instant, and service, subject, priority and vacant seconds where
//! given). The demo's author keeps random events inside their targets, so
//! the designed deviations should be all there is.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use demo::{designed_deviations, deviation_id, generate, DemoConfig};
use projector::{compute, Deviation, Input, LedgerEvent, Period, Report};

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

/// Every tenant-month report of the default demo history, computed as an
/// ended period (tenant, period, report), once for the whole file.
fn demo_reports() -> &'static [(String, String, Report)] {
    static REPORTS: OnceLock<Vec<(String, String, Report)>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        let history = generate(&DemoConfig::default());
        let events: Vec<LedgerEvent> = history
            .events
            .iter()
            .enumerate()
            .map(|(i, v)| LedgerEvent {
                position: i as u64,
                event: schemas::Event::from_json(v)
                    .unwrap_or_else(|e| panic!("demo event {i}: {e:?}")),
            })
            .collect();
        let mut reports = Vec::new();
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
                reports.push((tenant.clone(), period.clone(), report));
            }
        }
        reports
    })
}

#[test]
fn demo_reports_show_exactly_the_designed_deviations() {
    let config = DemoConfig::default();
    let mut found: BTreeSet<Key> = BTreeSet::new();
    for (tenant, period, report) in demo_reports() {
        assert_eq!(
            report.data_quality.set_aside, 0,
            "{tenant} {period}: {:?}",
            report.data_quality
        );
        found.extend(report.deviations.iter().map(|d| key_of(tenant, period, d)));
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

/// The demo's follow-up names the deviations its reports show (the demo
/// computes their ids itself, by SEMANTICS.md section 12), and the year
/// reads like a real one: most deviations explained, some not; actions
/// closed, and one left overdue.
#[test]
fn demo_follow_up_explains_real_deviations_and_leaves_one_action_overdue() {
    let config = DemoConfig::default();
    let shown: BTreeSet<(String, String)> = demo_reports()
        .iter()
        .flat_map(|(tenant, _, r)| r.deviations.iter().map(|d| (tenant.clone(), d.id())))
        .collect();
    for d in designed_deviations(&config) {
        let id = deviation_id(&d);
        assert!(
            shown.contains(&(d.tenant.clone(), id.clone())),
            "{d:?}: its id {id} is not a report's"
        );
    }
    let follow_ups: Vec<_> = demo_reports()
        .iter()
        .flat_map(|(_, _, r)| r.follow_up.iter().flatten())
        .collect();
    let explained = follow_ups
        .iter()
        .filter(|f| f.explanation.is_some())
        .count();
    assert!(
        explained * 2 > follow_ups.len() && explained < follow_ups.len(),
        "{explained} of {} deviations explained: want most, not all",
        follow_ups.len()
    );
    let mut statuses: BTreeSet<(String, String)> = BTreeSet::new();
    for (tenant, period, report) in demo_reports() {
        let story = report.story.as_ref().expect("format 2");
        for action in &story.actions {
            statuses.insert((action.status.clone(), action.action_id.clone()));
            assert!(
                action
                    .deviation_ids
                    .iter()
                    .all(|id| shown.contains(&(tenant.clone(), id.clone()))),
                "{tenant} {period}: {action:?} answers a deviation no report shows"
            );
        }
    }
    let overdue: BTreeSet<&str> = statuses
        .iter()
        .filter(|(status, _)| status == "overdue")
        .map(|(_, id)| id.as_str())
        .collect();
    let closed = statuses
        .iter()
        .filter(|(status, _)| status == "closed")
        .count();
    assert_eq!(overdue.len(), 1, "overdue actions: {overdue:?}");
    assert!(closed >= 5, "{closed} closed actions: {statuses:?}");
}
