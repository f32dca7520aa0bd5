//! The report document of SEMANTICS.md sections 10 and 12, its canonical
//! bytes and its digest.
//!
//! Three formats: `tla-report/1` (section 10); `tla-report/2`, which adds
//! each deviation's `id`, `party`, `explanation` (and `last_held` on the
//! missing meetings) and the report's `actions`, `governance`, `contacts`
//! and `trend` (section 12); and `tla-report/3`, which adds what was
//! measured of a late response, a late resolution and a short notice
//! ([`Measure`], docs/SEMANTICS-NOTES.md "Report format 3"). A [`Report`]
//! holds the later formats' parts as `follow_up`, `story` and `measures`,
//! `None` in the formats before; on the wire they sit in the deviation
//! objects and at the top level ([`ReportWire`]), so that a format-1 or
//! format-2 report has exactly the bytes it always had.
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

/// The `format` of the reports this engine writes by default.
pub const REPORT_FORMAT: &str = "tla-report/3";

/// The report formats the engine writes: new reports are
/// [`Format::V3`]; a report issued or saved as [`Format::V1`] or
/// [`Format::V2`] is regenerated as one (SEMANTICS.md section 12,
/// "Compatibility").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    V1,
    V2,
    #[default]
    V3,
}

impl Format {
    /// Every format, oldest first.
    pub const ALL: [Format; 3] = [Format::V1, Format::V2, Format::V3];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::V1 => "tla-report/1",
            Format::V2 => "tla-report/2",
            Format::V3 => "tla-report/3",
        }
    }

    /// The format named `s` (a report's `format`), if the engine knows it.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The formats this engine knows, for a message: "tla-report/1,
    /// tla-report/2 or tla-report/3".
    pub fn known() -> String {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        let (last, rest) = names.split_last().unwrap_or((&"", &[]));
        format!("{} or {last}", rest.join(", "))
    }
}

/// The engine's version, recorded in every manifest: a report regenerated
/// by another engine version may differ and says so.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A tenant-month TLA report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ReportWire", from = "ReportWire")]
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
    /// Format 2: the follow-up of each deviation, in the order of
    /// `deviations` (same length). `None` in format 1.
    pub follow_up: Option<Vec<FollowUp>>,
    /// Format 2: the agreement's whole story. `None` in format 1.
    pub story: Option<Story>,
    /// Format 3: what was measured of each deviation, in the order of
    /// `deviations` (same length; `None` for a kind without a measure).
    /// `None` in formats 1 and 2.
    pub measures: Option<Vec<Option<Measure>>>,
    pub data_quality: DataQuality,
    pub manifest: Manifest,
}

/// What format 2 adds to a deviation (SEMANTICS.md section 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// 16 hex digits: see [`Deviation::id`].
    pub id: String,
    /// `provider` or `tenant`: who owes what the deviation is about.
    pub party: String,
    pub explanation: Option<Explanation>,
    /// On `operations_meeting_missing` and `steering_meeting_missing`
    /// only: the last meeting of that kind held before the period's end.
    #[serde(default, skip_serializing_if = "LastHeld::is_absent")]
    pub last_held: LastHeld,
}

/// `last_held`: absent on most kinds, else an instant or null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LastHeld {
    #[default]
    Absent,
    Never,
    At(String),
}

impl LastHeld {
    fn is_absent(&self) -> bool {
        *self == LastHeld::Absent
    }
}

impl Serialize for LastHeld {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LastHeld::At(t) => s.serialize_some(t),
            LastHeld::Absent | LastHeld::Never => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for LastHeld {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map_or(LastHeld::Never, LastHeld::At))
    }
}

/// What format 3 adds to a deviation: the measured figures behind it
/// (docs/SEMANTICS-NOTES.md, "Report format 3"). Not part of the
/// deviation's id. On the wire the fields sit in the deviation object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Measure {
    Response(ResponseMeasure),
    Resolution(ResolutionMeasure),
    Notice(NoticeMeasure),
}

/// A `response_breach`'s measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMeasure {
    /// UTC `Z`: the incident's opening.
    pub opened_at: String,
    /// The response target of the deviation's `priority` (the one in force
    /// at the deadline), in seconds.
    pub target_seconds: i64,
    /// UTC `Z`: the response instant R (the first `incident.responded`, or
    /// the first `incident.resolved` if earlier) in the prefix; `None`
    /// (null) when there is none.
    pub responded_at: Option<String>,
    /// The response clock from the opening to R, in calendar seconds;
    /// `None` (null) without R.
    pub response_seconds: Option<i64>,
}

/// A `resolution_breach`'s measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionMeasure {
    /// The resolution target of the deviation's `priority`, in seconds.
    pub target_seconds: i64,
    /// UTC `Z`: the last `incident.resolved` when the incident ends the
    /// prefix resolved; `None` (null) while it is open or on hold.
    pub resolved_at: Option<String>,
    /// The resolution clock accrued up to `resolved_at`, or up to the
    /// report's end (`period_end`, or the horizon) without it.
    pub clock_seconds: i64,
}

/// A `maintenance_short_notice`'s measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeMeasure {
    /// UTC `Z`: the `time` of the window's latest `maintenance.scheduled`.
    pub scheduled_at: String,
    /// Seconds from `scheduled_at` to the window's start.
    pub notice_seconds: i64,
    /// `maintenance_notice_hours` × 3600 of the version in force at the
    /// period's start.
    pub notice_required_seconds: i64,
}

/// The last `deviation.explained` of a deviation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub cause: String,
    pub action_id: Option<String>,
    /// UTC `Z`.
    pub explained_at: String,
}

/// The format-2 sections of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Story {
    /// Sorted by (`opened_at`, `action_id`).
    pub actions: Vec<Action>,
    /// `None` (null) when the agreement has no `governance`.
    pub governance: Option<GovernanceStory>,
    /// The responsibility overview at the period's end; `None` (null)
    /// when the agreement has no `contacts`.
    pub contacts: Option<Vec<ContactRow>>,
    /// Up to twelve periods ending with this one, oldest first.
    pub trend: Vec<TrendPeriod>,
}

/// A corrective action (SEMANTICS.md section 12 "Actions").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub action_id: String,
    pub title: String,
    pub owner: String,
    pub due: String,
    pub opened_at: String,
    pub deviation_ids: Vec<String>,
    pub closed_at: Option<String>,
    pub outcome: Option<String>,
    /// `closed`, `overdue` or `open`.
    pub status: String,
}

/// Meetings and minutes of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceStory {
    pub meetings: Vec<MeetingRow>,
    pub last_operations_meeting: Option<String>,
    pub last_steering_meeting: Option<String>,
}

/// A meeting held in the period and its minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRow {
    pub meeting_id: String,
    pub kind: String,
    pub held_at: String,
    pub minutes_due: Option<String>,
    pub minutes_filed_at: Option<String>,
    pub minutes_digest: Option<String>,
    pub minutes_on_time: Option<bool>,
}

/// One row of the responsibility overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRow {
    pub role: String,
    pub service: Option<String>,
    /// `None` (null) for a vacant role, like `since`.
    pub person: Option<String>,
    pub since: Option<String>,
}

/// One period of the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendPeriod {
    pub period: String,
    pub deviations: u64,
    pub services_met: u64,
    pub services_guaranteed: u64,
}

/// A report as written: the format-2 parts inside the deviations and at
/// the top level, absent in format 1.
#[derive(Serialize, Deserialize)]
struct ReportWire {
    format: String,
    tenant: String,
    period: String,
    timezone: String,
    period_start: String,
    period_end: String,
    agreement_version: String,
    preliminary: bool,
    services: Vec<ServiceReport>,
    deviations: Vec<DeviationWire>,
    data_quality: DataQuality,
    manifest: Manifest,
    #[serde(flatten)]
    story: Option<Story>,
}

#[derive(Serialize, Deserialize)]
struct DeviationWire {
    #[serde(flatten)]
    deviation: Deviation,
    #[serde(flatten)]
    follow_up: Option<FollowUp>,
    #[serde(flatten)]
    measure: Option<Measure>,
}

impl From<Report> for ReportWire {
    fn from(r: Report) -> ReportWire {
        let mut follow_up = r.follow_up.map(Vec::into_iter);
        let mut measures = r.measures.map(Vec::into_iter);
        let deviations = r
            .deviations
            .into_iter()
            .map(|deviation| DeviationWire {
                deviation,
                follow_up: follow_up.as_mut().and_then(Iterator::next),
                measure: measures.as_mut().and_then(Iterator::next).flatten(),
            })
            .collect();
        ReportWire {
            format: r.format,
            tenant: r.tenant,
            period: r.period,
            timezone: r.timezone,
            period_start: r.period_start,
            period_end: r.period_end,
            agreement_version: r.agreement_version,
            preliminary: r.preliminary,
            services: r.services,
            deviations,
            data_quality: r.data_quality,
            manifest: r.manifest,
            story: r.story,
        }
    }
}

impl From<ReportWire> for Report {
    fn from(w: ReportWire) -> Report {
        let follow_up: Option<Vec<FollowUp>> =
            w.deviations.iter().map(|d| d.follow_up.clone()).collect();
        // Format 1 has no follow-up at all; a report in which only some
        // deviations carry one keeps none (it does not regenerate).
        let follow_up = follow_up.filter(|_| w.story.is_some());
        // Measures belong to format 3 and later; a kind without one has
        // none there.
        let measured = Format::parse(&w.format).is_some_and(|f| f >= Format::V3);
        let measures = measured.then(|| w.deviations.iter().map(|d| d.measure.clone()).collect());
        Report {
            format: w.format,
            tenant: w.tenant,
            period: w.period,
            timezone: w.timezone,
            period_start: w.period_start,
            period_end: w.period_end,
            agreement_version: w.agreement_version,
            preliminary: w.preliminary,
            services: w.services,
            deviations: w.deviations.into_iter().map(|d| d.deviation).collect(),
            follow_up,
            story: w.story,
            measures,
            data_quality: w.data_quality,
            manifest: w.manifest,
        }
    }
}

/// The figures of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReport {
    pub service: String,
    /// `None` (null) without an availability guarantee.
    pub availability: Option<Availability>,
    /// `P1`..`P4`, always all four.
    pub incidents: BTreeMap<String, IncidentCounts>,
    /// Format 2: what lies behind the figures. `None` in format 1.
    #[serde(flatten)]
    pub details: Option<ServiceDetails>,
}

/// What format 2 adds to a service (SEMANTICS.md section 12, "What lies
/// behind the figures").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetails {
    /// The service's name in the agreement in force at the start; `None`
    /// (null) for a service not in it.
    pub name: Option<String>,
    /// Sorted by (`start`, `outage_id`).
    pub outages: Vec<OutageRow>,
    /// Sorted by (`opened_at`, `incident_id`).
    pub open_incidents: Vec<OpenIncident>,
}

/// An outage of the service that overlaps the period, full or partial,
/// with its real instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutageRow {
    pub outage_id: String,
    pub impact: String,
    pub start: String,
    /// `None` (null) while open in the prefix.
    pub end: Option<String>,
}

/// An incident opened before the period's end and not resolved then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub incident_id: String,
    /// The priority in force at the period's end.
    pub priority: String,
    pub opened_at: String,
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

    /// The deviation's `id` in format 2 (SEMANTICS.md section 12): the
    /// first 16 hex digits of BLAKE3 over the canonical JSON of its
    /// `kind`, `at` and identifying fields (`service`, `incident_id`,
    /// `window_id`, `meeting_id`, `role`; `service` kept when null on
    /// `contact_vacant`). Measured fields (`priority`, `vacant_seconds`)
    /// are left out, so the id names the same lapse in every prefix.
    pub fn id(&self) -> String {
        let mut v = serde_json::Map::new();
        let mut put = |k: &str, x: Value| {
            v.insert(k.to_string(), x);
        };
        put("kind", self.kind().into());
        put("at", self.at().into());
        match self {
            Deviation::AvailabilityBelowTarget { service, .. } => {
                put("service", service.as_str().into())
            }
            Deviation::MaintenanceShortNotice {
                service, window_id, ..
            } => {
                put("service", service.as_str().into());
                put("window_id", window_id.as_str().into());
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
                put("service", service.as_str().into());
                put("incident_id", incident_id.as_str().into());
            }
            Deviation::MinutesMissing { meeting_id, .. } => {
                put("meeting_id", meeting_id.as_str().into())
            }
            Deviation::ContactVacant { role, service, .. } => {
                put("role", role.as_str().into());
                put(
                    "service",
                    service.as_deref().map_or(Value::Null, Value::from),
                );
            }
            Deviation::OperationsMeetingMissing { .. }
            | Deviation::SteeringMeetingMissing { .. } => {}
        }
        // Strings only, one level deep: canonical form always exists.
        let bytes = schemas::canonical::to_canonical(&Value::Object(v)).unwrap_or_default();
        let mut id = hex::encode(blake3::hash(&bytes).as_bytes());
        id.truncate(schemas::DEVIATION_ID_LEN);
        id
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
