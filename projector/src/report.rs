//! The report document of SEMANTICS.md section 10, its canonical bytes and
//! its digest.
//!
//! Field names are the contract. The canonical bytes are the canonical
//! JSON of `schemas::canonical` (keys in byte order, no insignificant
//! whitespace, integers only) of the whole report; the digest is BLAKE3
//! over the canonical JSON of the report with `manifest.report_digest`
//! left out, written as 64 lowercase hex characters. The body holds no
//! wall-clock time of generation, so the same prefix gives the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::availability::Availability;

/// The `format` of every report this engine writes.
pub const REPORT_FORMAT: &str = "tla-report/1";

/// The engine's version, recorded in every manifest: a report regenerated
/// by another engine version may differ and says so.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A tenant-month TLA report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    pub tenant: String,
    /// `YYYY-MM`.
    pub period: String,
    /// IANA name, e.g. `Europe/Oslo`.
    pub timezone: String,
    /// UTC `Z`.
    pub period_start: String,
    /// UTC `Z`; the period's true end, also in a preliminary report.
    pub period_end: String,
    /// The version in force at the period's start.
    pub agreement_version: String,
    /// True when computed with a horizon before the period's end.
    pub preliminary: bool,
    /// Sorted by service id.
    pub services: Vec<ServiceReport>,
    /// Sorted by [`Deviation::sort_key`].
    pub deviations: Vec<Deviation>,
    pub data_quality: DataQuality,
    pub manifest: Manifest,
}

/// The figures of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReport {
    pub service: String,
    /// `None` (null) without an availability guarantee.
    pub availability: Option<Availability>,
    /// `P1`..`P4`, always all four.
    pub incidents: BTreeMap<String, IncidentCounts>,
}

/// Incident counts of one priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentCounts {
    pub opened: u64,
    pub response_met: u64,
    pub response_breached: u64,
    pub resolution_met: u64,
    pub resolution_breached: u64,
}

impl IncidentCounts {
    pub fn is_zero(&self) -> bool {
        *self == IncidentCounts::default()
    }
}

/// A deviation (avvik), with exactly the fields of its kind
/// (SEMANTICS.md section 11 "Deviations"). `at` is UTC `Z`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deviation {
    AvailabilityBelowTarget {
        at: String,
        service: String,
    },
    MaintenanceShortNotice {
        at: String,
        service: String,
        window_id: String,
    },
    ResponseBreach {
        at: String,
        service: String,
        incident_id: String,
        priority: String,
    },
    ResolutionBreach {
        at: String,
        service: String,
        incident_id: String,
        priority: String,
    },
    OperationsMeetingMissing {
        at: String,
    },
    SteeringMeetingMissing {
        at: String,
    },
    MinutesMissing {
        at: String,
        meeting_id: String,
    },
    ContactVacant {
        at: String,
        role: String,
        service: Option<String>,
        vacant_seconds: i64,
    },
}

/// The sort key of a deviation: (`at`, `kind`, `service`, `incident_id`,
/// `window_id`, `meeting_id`, `role`), absent or null as "".
pub type SortKey<'a> = [&'a str; 7];

impl Deviation {
    /// The `kind` as written in the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Deviation::AvailabilityBelowTarget { .. } => "availability_below_target",
            Deviation::MaintenanceShortNotice { .. } => "maintenance_short_notice",
            Deviation::ResponseBreach { .. } => "response_breach",
            Deviation::ResolutionBreach { .. } => "resolution_breach",
            Deviation::OperationsMeetingMissing { .. } => "operations_meeting_missing",
            Deviation::SteeringMeetingMissing { .. } => "steering_meeting_missing",
            Deviation::MinutesMissing { .. } => "minutes_missing",
            Deviation::ContactVacant { .. } => "contact_vacant",
        }
    }

    pub fn at(&self) -> &str {
        match self {
            Deviation::AvailabilityBelowTarget { at, .. }
            | Deviation::MaintenanceShortNotice { at, .. }
            | Deviation::ResponseBreach { at, .. }
            | Deviation::ResolutionBreach { at, .. }
            | Deviation::OperationsMeetingMissing { at }
            | Deviation::SteeringMeetingMissing { at }
            | Deviation::MinutesMissing { at, .. }
            | Deviation::ContactVacant { at, .. } => at,
        }
    }

    /// The key deviations are sorted by, plain byte-wise string order.
    pub fn sort_key(&self) -> SortKey<'_> {
        let mut key = [self.at(), self.kind(), "", "", "", "", ""];
        match self {
            Deviation::AvailabilityBelowTarget { service, .. } => key[2] = service,
            Deviation::MaintenanceShortNotice {
                service, window_id, ..
            } => {
                key[2] = service;
                key[4] = window_id;
            }
            Deviation::ResponseBreach {
                service,
                incident_id,
                ..
            }
            | Deviation::ResolutionBreach {
                service,
                incident_id,
                ..
            } => {
                key[2] = service;
                key[3] = incident_id;
            }
            Deviation::MinutesMissing { meeting_id, .. } => key[5] = meeting_id,
            Deviation::ContactVacant { role, service, .. } => {
                key[2] = service.as_deref().unwrap_or("");
                key[6] = role;
            }
            Deviation::OperationsMeetingMissing { .. }
            | Deviation::SteeringMeetingMissing { .. } => {}
        }
        key
    }
}

/// Set-aside events of the period (SEMANTICS.md section 11 "Set aside").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataQuality {
    pub set_aside: u64,
    /// Reason name to count; only reasons with a non-zero count.
    pub by_reason: BTreeMap<String, u64>,
}

/// What pins the report to its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Entries in the ledger prefix; set by the caller (0 from `compute`).
    pub ledger_size: u64,
    /// Hash of the prefix's last entry (BLAKE3 chain head); set by the
    /// caller ("" from `compute`).
    pub ledger_root: String,
    /// RFC 6962 Merkle root (SHA-256) of the prefix: the root of the signed
    /// checkpoint the report is checked against. Set by the caller; absent
    /// in reports made before the ledger had a Merkle tree.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tree_root: String,
    /// [`ENGINE_VERSION`].
    pub engine_version: String,
    /// The generation instant of a preliminary report (UTC `Z`), else null.
    pub horizon: Option<String>,
    /// BLAKE3 of the canonical report without this field; see [`Report::seal`].
    pub report_digest: String,
}

impl Report {
    /// The canonical JSON value of the report; `with_digest: false` leaves
    /// `manifest.report_digest` out.
    fn value(&self, with_digest: bool) -> Value {
        // A report is strings, integers, booleans, arrays and objects with
        // string keys, which serde_json always represents.
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if !with_digest {
            if let Some(m) = v.get_mut("manifest").and_then(Value::as_object_mut) {
                m.remove("report_digest");
            }
        }
        v
    }

    fn canonical(v: &Value) -> Vec<u8> {
        // Every number in a report is an integer and the nesting is five
        // levels deep, so canonical form always exists.
        schemas::canonical::to_canonical(v).unwrap_or_default()
    }

    /// The digest the report should carry: BLAKE3 over the canonical JSON
    /// of the report without `manifest.report_digest`, lowercase hex.
    pub fn computed_digest(&self) -> String {
        hex::encode(blake3::hash(&Report::canonical(&self.value(false))).as_bytes())
    }

    /// Computes and sets `manifest.report_digest`. Call after the caller
    /// has set `ledger_size` and `ledger_root`.
    pub fn seal(&mut self) {
        self.manifest.report_digest = self.computed_digest();
    }

    /// Canonical JSON of the whole report, digest included: the bytes
    /// `tla report --format json` prints (before its trailing newline).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        Report::canonical(&self.value(true))
    }

    /// Whether `manifest.report_digest` is the digest of the rest.
    pub fn digest_matches(&self) -> bool {
        self.manifest.report_digest == self.computed_digest()
    }
}
