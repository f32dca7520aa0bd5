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
use std::sync::RwLock;

use crate::alert::{self, Alert};
use crate::{compute, Input, LedgerEvent, Period, Report, ReportError};

/// How long a computed preliminary report is served before it is
/// recomputed with a later horizon, when no event arrived for its tenant.
pub const REPORT_FRESH_SECONDS: i64 = 5;

/// How far back alerts are derived: a restarted service re-derives and
/// re-sends (deduplicated downstream by id) the alerts of the last day,
/// never a whole history.
pub const ALERT_LOOKBACK_SECONDS: i64 = 24 * 60 * 60;

/// What the live projection holds.
#[derive(Default)]
struct State {
    tenants: BTreeMap<String, Vec<LedgerEvent>>,
    /// The ledger's size and head hash (hex) after the last batch.
    size: u64,
    root: String,
    /// (tenant, period) -> (ledger size, horizon, report).
    reports: HashMap<(String, String), (u64, i64, Report)>,
    /// Tenants whose next alert scan cannot be skipped: new events, or
    /// incidents whose clocks still run.
    to_scan: HashSet<String>,
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
    /// ledger's head after them.
    pub fn follow(&self, appended: Vec<LedgerEvent>, size: u64, root_hex: String) {
        let mut state = self.write();
        debug_assert!(size >= state.size, "the ledger only grows");
        for entry in appended {
            let tenant = entry.event.tenant.clone();
            state.to_scan.insert(tenant.clone());
            state.tenants.entry(tenant).or_default().push(entry);
        }
        state.size = size;
        state.root = root_hex;
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

    /// Tenants and their entry counts.
    pub fn tenants(&self) -> Vec<(String, u64)> {
        let state = self.read();
        state
            .tenants
            .iter()
            .map(|(t, e)| (t.clone(), e.len() as u64))
            .collect()
    }

    /// The tenant's report of `period` over everything followed so far,
    /// preliminary (horizon `now`) while the period runs, sealed.
    pub fn report(&self, tenant: &str, period: Period, now: i64) -> Result<Report, LiveError> {
        let key = (tenant.to_owned(), period.to_string());
        {
            let state = self.read();
            if let Some((size, horizon, report)) = state.reports.get(&key) {
                let fresh = *size == state.size
                    && (!report.preliminary || now - horizon < REPORT_FRESH_SECONDS);
                if fresh {
                    return Ok(report.clone());
                }
            }
        }
        let (report, size) = {
            let state = self.read();
            let events = state
                .tenants
                .get(tenant)
                .ok_or_else(|| LiveError::UnknownTenant(tenant.to_owned()))?;
            let compute = |horizon| {
                compute(&Input {
                    tenant,
                    period,
                    events,
                    horizon,
                })
            };
            let ended = compute(None)?;
            let end = chrono::DateTime::parse_from_rfc3339(&ended.period_end)
                .map(|t| t.timestamp())
                .unwrap_or(i64::MIN);
            let mut report = if now < end {
                compute(Some(now))?
            } else {
                ended
            };
            report.manifest.ledger_size = state.size;
            report.manifest.ledger_root = state.root.clone();
            report.seal();
            (report, state.size)
        };
        self.write()
            .reports
            .insert(key, (size, now, report.clone()));
        Ok(report)
    }

    /// Alerts due at `now` that were not handed out before. Each one
    /// returned must be confirmed with `sent` once published; until then
    /// it is returned again.
    pub fn due_alerts(&self, now: i64) -> Vec<Alert> {
        let tenants: Vec<String> = self.read().to_scan.iter().cloned().collect();
        let mut due = Vec::new();
        let mut still_open = Vec::new();
        for tenant in tenants {
            let scan = {
                let state = self.read();
                let Some(events) = state.tenants.get(&tenant) else {
                    continue;
                };
                let scan = alert::alerts(&tenant, events, now, now - ALERT_LOOKBACK_SECONDS);
                let fresh: Vec<Alert> = scan
                    .alerts
                    .iter()
                    .filter(|a| !state.alerts_sent.contains(&a.id))
                    .cloned()
                    .collect();
                (fresh, scan.open_incidents)
            };
            let (fresh, open) = scan;
            if open || !fresh.is_empty() {
                still_open.push(tenant.clone());
            }
            due.extend(fresh);
        }
        let mut state = self.write();
        state.to_scan.clear();
        state.to_scan.extend(still_open);
        due
    }

    /// Records that an alert was published.
    pub fn sent(&self, alert: &Alert) {
        let mut state = self.write();
        if state.alerts_sent.insert(alert.id.clone()) {
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
