//! The live projection: every tenant's events as the ledger made them
//! durable, kept in memory, from which reports (current month included)
//! and alerts are computed on demand.
//!
//! It follows the ledger without knowing it: whoever holds the ledger
//! (the binary, the ledger writer) feeds it the stored entries on start
//! and each durable batch after that, with the ledger's head, so every
//! report it serves pins a real ledger prefix (`ledger_size`,
//! `ledger_root`) and reproduces with `tla verify-report`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use projector::alert::{self, Alert};
use projector::{compute, Input, LedgerEvent, Period, Report, ReportError};

/// How long a computed preliminary report is served before it is
/// recomputed with a later horizon, when no event arrived for its tenant.
pub const REPORT_FRESH_SECONDS: i64 = 5;

/// How far back alerts are derived: a restarted service re-derives and
/// re-sends (deduplicated downstream by id) the alerts of the last day,
/// never a whole history.
pub const ALERT_LOOKBACK_SECONDS: i64 = 24 * 60 * 60;

/// How often a tenant with running clocks (incidents, budgets, meeting
/// windows, vacancies) but no new events is
/// scanned for alerts again: a warning or breach is then published at most
/// this late, while a tenant's whole history is not projected every tick.
pub const ALERT_RESCAN_SECONDS: i64 = 10;

/// One tenant's events as followed. Reports and alert scans are computed
/// from a shared snapshot of them without the projection's lock (a
/// tenant's report can take seconds, and the ledger writer's feed, the
/// refresher and `/metrics` must not queue behind it): `events` is shared
/// with those computations, and what arrives while it is shared waits in
/// `pending` until the vector is unshared or a snapshot joins the two.
#[derive(Default)]
struct Followed {
    events: Arc<Vec<LedgerEvent>>,
    pending: Vec<LedgerEvent>,
}

impl Followed {
    fn push(&mut self, entry: LedgerEvent) {
        match Arc::get_mut(&mut self.events) {
            Some(events) => {
                events.append(&mut self.pending);
                events.push(entry);
            }
            None => self.pending.push(entry),
        }
    }

    fn len(&self) -> usize {
        self.events.len() + self.pending.len()
    }
}

/// A tenant's events and the ledger's pins at one instant, read under the
/// lock and computed from without it.
struct Snapshot {
    events: Arc<Vec<LedgerEvent>>,
    size: u64,
    root: String,
    tree_root: String,
}

/// What the live projection holds.
#[derive(Default)]
struct State {
    tenants: BTreeMap<String, Followed>,
    /// Tenants with an `agreement.published` among their entries.
    agreed: HashSet<String>,
    /// The ledger's size, head hash and Merkle root (hex) after the last
    /// batch: what a live report's manifest pins.
    size: u64,
    root: String,
    tree_root: String,
    /// (tenant, period) -> (the tenant's entry count, horizon, report).
    /// A report stays valid while its tenant has no new entries: it pins
    /// the ledger prefix it was computed from, which still reproduces it.
    reports: HashMap<(String, String), (usize, i64, Report)>,
    /// Tenants with new events since their last alert scan.
    to_scan: HashSet<String>,
    /// Tenants whose clocks still run, and when they were last scanned.
    running: HashMap<String, i64>,
    alerts_sent: HashSet<String>,
    alerts_published: u64,
}

/// The live projection, shared by the HTTP handlers and the refresher.
#[derive(Default)]
pub struct Live {
    state: RwLock<State>,
}

/// Why a live report is not available.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no events for tenant {0:?}")]
    UnknownTenant(String),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }

    /// Adds entries the ledger made durable (in position order) and the
    /// ledger's head hash and Merkle root (hex) after them.
    pub fn follow(
        &self,
        appended: Vec<LedgerEvent>,
        size: u64,
        root_hex: String,
        tree_root_hex: String,
    ) {
        let mut state = self.write();
        debug_assert!(size >= state.size, "the ledger only grows");
        for entry in appended {
            let tenant = entry.event.tenant.clone();
            if entry.event.event_type == schemas::EventType::AgreementPublished {
                state.agreed.insert(tenant.clone());
            }
            state.to_scan.insert(tenant.clone());
            state.tenants.entry(tenant).or_default().push(entry);
        }
        state.size = size;
        state.root = root_hex;
        state.tree_root = tree_root_hex;
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; serving
        // it is better than failing every request after.
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The ledger's size as followed so far.
    pub fn size(&self) -> u64 {
        self.read().size
    }

    /// Whether an agreement of `tenant` is among the entries followed.
    pub fn has_agreement(&self, tenant: &str) -> bool {
        self.read().agreed.contains(tenant)
    }

    /// Tenants and their entry counts.
    pub fn tenants(&self) -> Vec<(String, u64)> {
        let state = self.read();
        state
            .tenants
            .iter()
            .map(|(t, e)| (t.clone(), e.len() as u64))
            .collect()
    }

    /// The tenant's events and the pins now, the events that arrived while
    /// earlier snapshots were in use joined (outside the lock) to the
    /// rest, and the joined vector kept for the next snapshot.
    fn snapshot(&self, tenant: &str) -> Option<Snapshot> {
        let (snapshot, pending) = {
            let state = self.read();
            let followed = state.tenants.get(tenant)?;
            let snapshot = Snapshot {
                events: Arc::clone(&followed.events),
                size: state.size,
                root: state.root.clone(),
                tree_root: state.tree_root.clone(),
            };
            (snapshot, followed.pending.clone())
        };
        if pending.is_empty() {
            return Some(snapshot);
        }
        let mut joined = Vec::with_capacity(snapshot.events.len() + pending.len());
        joined.extend_from_slice(&snapshot.events);
        joined.extend_from_slice(&pending);
        let joined = Arc::new(joined);
        let mut state = self.write();
        if let Some(followed) = state.tenants.get_mut(tenant) {
            // Unless another snapshot joined them first: while this one
            // holds the shared vector, events only queue behind it.
            if Arc::ptr_eq(&followed.events, &snapshot.events)
                && followed.pending.len() >= pending.len()
            {
                followed.pending.drain(..pending.len());
                followed.events = Arc::clone(&joined);
            }
        }
        Some(Snapshot {
            events: joined,
            ..snapshot
        })
    }

    /// The tenant's report of `period` over everything followed so far,
    /// preliminary (horizon `now`) while the period runs, sealed.
    pub fn report(&self, tenant: &str, period: Period, now: i64) -> Result<Report, LiveError> {
        let key = (tenant.to_owned(), period.to_string());
        {
            let state = self.read();
            let count = state.tenants.get(tenant).map_or(0, Followed::len);
            if let Some((seen, horizon, report)) = state.reports.get(&key) {
                let fresh =
                    *seen == count && (!report.preliminary || now - horizon < REPORT_FRESH_SECONDS);
                if fresh {
                    return Ok(report.clone());
                }
            }
        }
        let snapshot = self
            .snapshot(tenant)
            .ok_or_else(|| LiveError::UnknownTenant(tenant.to_owned()))?;
        let compute = |horizon| {
            compute(&Input {
                tenant,
                period,
                events: &snapshot.events,
                horizon,
            })
        };
        // Preliminary (horizon now) while the period runs; an ended
        // period's report depends on the ledger prefix alone.
        let mut report = compute(Some(now))?;
        if !report.preliminary {
            report = compute(None)?;
        }
        report.manifest.ledger_size = snapshot.size;
        report.manifest.ledger_root = snapshot.root;
        report.manifest.tree_root = snapshot.tree_root;
        report.seal();
        let count = snapshot.events.len();
        self.write()
            .reports
            .insert(key, (count, now, report.clone()));
        Ok(report)
    }

    /// Alerts due at `now` that were not handed out before. Each one
    /// returned must be confirmed with `sent` once published; until then
    /// it is returned again.
    pub fn due_alerts(&self, now: i64) -> Vec<Alert> {
        let tenants: Vec<String> = {
            let mut state = self.write();
            let mut tenants: Vec<String> = state.to_scan.drain().collect();
            for (tenant, scanned) in &state.running {
                if now - scanned >= ALERT_RESCAN_SECONDS && !tenants.contains(tenant) {
                    tenants.push(tenant.clone());
                }
            }
            tenants
        };
        let mut due = Vec::new();
        for tenant in tenants {
            let Some(snapshot) = self.snapshot(&tenant) else {
                continue;
            };
            let scan = alert::alerts(&tenant, &snapshot.events, now, now - ALERT_LOOKBACK_SECONDS);
            let (fresh, open) = {
                let state = self.read();
                let fresh: Vec<Alert> = scan
                    .alerts
                    .into_iter()
                    .filter(|a| !state.alerts_sent.contains(&a.message_id()))
                    .collect();
                (fresh, scan.clocks_running)
            };
            let mut state = self.write();
            if !fresh.is_empty() {
                // Not yet published: scanned again next tick.
                state.to_scan.insert(tenant.clone());
            }
            if open {
                state.running.insert(tenant, now);
            } else {
                state.running.remove(&tenant);
            }
            due.extend(fresh);
        }
        due
    }

    /// Records that an alert was published (in the state it was handed
    /// out in: firing, or ended).
    pub fn sent(&self, alert: &Alert) {
        let mut state = self.write();
        if state.alerts_sent.insert(alert.message_id()) {
            state.alerts_published += 1;
        }
    }

    /// Appends the projector's metrics in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let state = self.read();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP tla_projector_ledger_entries Ledger entries the live projection follows.\n\
             # TYPE tla_projector_ledger_entries gauge\ntla_projector_ledger_entries {}\n\
             # HELP tla_projector_tenants Tenants with entries.\n\
             # TYPE tla_projector_tenants gauge\ntla_projector_tenants {}\n\
             # HELP tla_alerts_published_total Alerts published on tla.alerts.<tenant>.\n\
             # TYPE tla_alerts_published_total counter\ntla_alerts_published_total {}",
            state.size,
            state.tenants.len(),
            state.alerts_published
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Event;
    use serde_json::json;

    /// 2026-01-05T10:00:00Z.
    const OPENED: i64 = 1_767_607_200;

    fn entry(position: u64, value: serde_json::Value) -> LedgerEvent {
        let event = Event::from_json(&value).unwrap_or_else(|e| panic!("{e:?}"));
        LedgerEvent { position, event }
    }

    fn live() -> Live {
        // The workspace's one test agreement (tests/fixtures).
        let agreement: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/agreement.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        let live = Live::new();
        live.follow(
            vec![
                entry(0, json!({"specversion": "1.0", "id": "a", "source": "t", "type": "agreement.published",
                    "time": "2026-01-01T00:00:00Z", "tenant": "alver", "data": {"agreement": agreement}})),
                entry(1, json!({"specversion": "1.0", "id": "o", "source": "t", "type": "incident.opened",
                    "time": "2026-01-05T10:00:00Z", "tenant": "alver",
                    "data": {"incident_id": "INC-1", "service": "epost", "priority": "P1"}})),
            ],
            2,
            "ab".repeat(32),
            "ef".repeat(32),
        );
        live
    }

    fn kinds(alerts: &[Alert]) -> Vec<&str> {
        alerts.iter().map(|a| a.kind.as_str()).collect()
    }

    #[test]
    fn alerts_come_until_sent_and_running_clocks_are_rescanned() {
        let live = live();
        let t = OPENED + 31 * 60;
        let due = live.due_alerts(t);
        assert_eq!(kinds(&due), ["response_warning", "response_breach"]);
        // Not confirmed: handed out again.
        assert_eq!(
            kinds(&live.due_alerts(t + 1)),
            ["response_warning", "response_breach"]
        );
        live.sent(&due[0]);
        live.sent(&due[1]);
        assert!(live.due_alerts(t + 2).is_empty());
        // The clock runs: within the rescan interval nothing is scanned,
        // after it the warning (at 180 minutes) is found.
        let warned = OPENED + 180 * 60;
        assert!(live.due_alerts(t + 3).is_empty());
        assert_eq!(
            kinds(&live.due_alerts(warned + ALERT_RESCAN_SECONDS)),
            ["resolution_warning"]
        );
    }

    #[test]
    fn reports_pin_the_followed_prefix_and_are_reused_until_the_tenant_changes() {
        let live = live();
        let period: Period = "2026-01".parse().unwrap();
        let after = OPENED + 40 * 86_400; // the period has ended
        let report = live.report("alver", period, after).unwrap();
        assert_eq!(report.manifest.ledger_size, 2);
        assert_eq!(report.manifest.tree_root, "ef".repeat(32));
        assert!(!report.preliminary);
        assert_eq!(report.services[0].incidents["P1"].response_breached, 1);
        // Another tenant's entry does not invalidate it.
        live.follow(
            vec![entry(
                2,
                json!({"specversion": "1.0", "id": "x", "source": "t", "type": "incident.responded",
                "time": "2026-01-05T10:00:00Z", "tenant": "fedje", "data": {"incident_id": "I"}}),
            )],
            3,
            "cd".repeat(32),
            "01".repeat(32),
        );
        assert_eq!(live.report("alver", period, after).unwrap(), report);
        assert!(matches!(
            live.report("nobody", period, after),
            Err(LiveError::UnknownTenant(_))
        ));
    }

    #[test]
    fn events_followed_while_a_snapshot_is_in_use_reach_the_next_one() {
        let live = live();
        let responded = |position: u64| {
            entry(
                position,
                json!({"specversion": "1.0", "id": format!("r{position}"), "source": "t",
                    "type": "incident.responded", "time": "2026-01-05T10:10:00Z", "tenant": "alver",
                    "data": {"incident_id": "INC-1"}}),
            )
        };
        let positions = |snapshot: &Snapshot| -> Vec<u64> {
            snapshot.events.iter().map(|e| e.position).collect()
        };
        let held = live.snapshot("alver").unwrap();
        // A report computing from `held`: the feed does not wait for it.
        live.follow(vec![responded(2)], 3, "cd".repeat(32), "01".repeat(32));
        assert_eq!(positions(&held), [0, 1]);
        assert_eq!(live.read().tenants["alver"].pending.len(), 1);
        let next = live.snapshot("alver").unwrap();
        assert_eq!(positions(&next), [0, 1, 2]);
        assert_eq!(
            (next.size, next.tree_root.as_str()),
            (3, "01".repeat(32).as_str())
        );
        // The joined vector is kept: nothing waits any more.
        assert!(live.read().tenants["alver"].pending.is_empty());
        drop((held, next));
        // Unshared again: the next entry is appended in place.
        live.follow(vec![responded(3)], 4, "ee".repeat(32), "02".repeat(32));
        assert!(live.read().tenants["alver"].pending.is_empty());
        assert_eq!(positions(&live.snapshot("alver").unwrap()), [0, 1, 2, 3]);
        assert_eq!(live.tenants(), [("alver".to_string(), 4)]);
        let period: Period = "2026-01".parse().unwrap();
        let report = live.report("alver", period, OPENED + 40 * 86_400).unwrap();
        assert_eq!(report.manifest.ledger_size, 4);
    }
}
