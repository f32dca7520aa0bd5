//! The validated CloudEvent: envelope (SEMANTICS.md section 2), its type and
//! typed data (section 3), and the canonical bytes the ledger stores.
//!
//! An [`Event`] exists only after every rule has passed, so the rest of the
//! workspace never sees raw JSON. Its canonical bytes are the canonical form
//! of the whole object as received, every attribute included; they are what
//! the ledger hashes, and [`Event::from_canonical`] rebuilds the same value
//! from them.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value};

use crate::agreement::Agreement;
use crate::canonical::to_canonical;
use crate::rules::{self, Fields};
use crate::{data, fast, json, FieldError};

/// Largest canonical form of an event other than `agreement.published`.
/// Operational events are a handful of short fields (a few hundred bytes);
/// 64 KiB leaves room for extension attributes while keeping one bad
/// producer from filling the ledger.
pub const EVENT_BYTES_MAX: usize = 64 * 1024;

/// Largest canonical form of an `agreement.published` event. An agreement
/// with a hundred services and their calendars is about 100 KiB; 1 MiB
/// bounds it without ever getting in a real agreement's way.
pub const AGREEMENT_EVENT_BYTES_MAX: usize = 1024 * 1024;

/// Longest name of a CloudEvents extension attribute (the CloudEvents
/// spec recommends at most 20 characters).
pub const EXTENSION_NAME_LEN_MAX: usize = 20;

/// The `source` of the events the ledger writes itself (system-only types:
/// `report.issued`). A `report.issued` from any other source is not the
/// ledger's, and nothing trusts it (docs/FORMAT.md).
pub const LEDGER_SOURCE: &str = "tla/reports";

/// The CloudEvents `authcontext` extension's attributes that the HTTP
/// receiver sets on the agreement events it accepts: `authtype`
/// ([`AUTHTYPE_API_KEY`]: a bearer token) and `authid` (the token's
/// `name`), so that `tla agreement log` can say who published or approved
/// a version (docs/FORMAT.md).
pub const AUTHTYPE_ATTRIBUTE: &str = "authtype";
/// See [`AUTHTYPE_ATTRIBUTE`].
pub const AUTHID_ATTRIBUTE: &str = "authid";
/// The `authtype` of an event sent with a bearer token.
pub const AUTHTYPE_API_KEY: &str = "api_key";

/// The twenty-two event types of SEMANTICS.md sections 3 and 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    AgreementPublished,
    OutageStarted,
    OutageEnded,
    MaintenanceScheduled,
    MaintenanceCancelled,
    IncidentOpened,
    IncidentResponded,
    IncidentOnHold,
    IncidentResumed,
    IncidentPriorityChanged,
    IncidentResolved,
    IncidentReopened,
    MeetingHeld,
    MinutesFiled,
    ContactAssigned,
    ContactVacated,
    ReportIssued,
    DeviationExplained,
    ActionOpened,
    ActionClosed,
    ReportAcknowledged,
    AgreementApproved,
}

impl EventType {
    /// Every type, in the order of SEMANTICS.md sections 3 and 12.
    pub const ALL: [EventType; 22] = [
        EventType::AgreementPublished,
        EventType::OutageStarted,
        EventType::OutageEnded,
        EventType::MaintenanceScheduled,
        EventType::MaintenanceCancelled,
        EventType::IncidentOpened,
        EventType::IncidentResponded,
        EventType::IncidentOnHold,
        EventType::IncidentResumed,
        EventType::IncidentPriorityChanged,
        EventType::IncidentResolved,
        EventType::IncidentReopened,
        EventType::MeetingHeld,
        EventType::MinutesFiled,
        EventType::ContactAssigned,
        EventType::ContactVacated,
        EventType::ReportIssued,
        EventType::DeviationExplained,
        EventType::ActionOpened,
        EventType::ActionClosed,
        EventType::ReportAcknowledged,
        EventType::AgreementApproved,
    ];

    /// The CloudEvents `type`, e.g. `outage.started`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AgreementPublished => "agreement.published",
            EventType::OutageStarted => "outage.started",
            EventType::OutageEnded => "outage.ended",
            EventType::MaintenanceScheduled => "maintenance.scheduled",
            EventType::MaintenanceCancelled => "maintenance.cancelled",
            EventType::IncidentOpened => "incident.opened",
            EventType::IncidentResponded => "incident.responded",
            EventType::IncidentOnHold => "incident.on_hold",
            EventType::IncidentResumed => "incident.resumed",
            EventType::IncidentPriorityChanged => "incident.priority_changed",
            EventType::IncidentResolved => "incident.resolved",
            EventType::IncidentReopened => "incident.reopened",
            EventType::MeetingHeld => "meeting.held",
            EventType::MinutesFiled => "minutes.filed",
            EventType::ContactAssigned => "contact.assigned",
            EventType::ContactVacated => "contact.vacated",
            EventType::ReportIssued => "report.issued",
            EventType::DeviationExplained => "deviation.explained",
            EventType::ActionOpened => "action.opened",
            EventType::ActionClosed => "action.closed",
            EventType::ReportAcknowledged => "report.acknowledged",
            EventType::AgreementApproved => "agreement.approved",
        }
    }

    /// Whether only the ledger itself writes this type (`report.issued`,
    /// appended by `tla report issue` with source [`LEDGER_SOURCE`]): every
    /// producer's event of it is refused, whatever its grants.
    pub fn is_system_only(self) -> bool {
        matches!(self, EventType::ReportIssued)
    }

    /// Whether this type changes which agreement is in force
    /// (`agreement.published`, `agreement.approved`): a token writes it
    /// only when its `types` name it, and on NATS it travels only on
    /// `tla.agreements.<tenant>`, which only the service publishes
    /// (docs/OPERATIONS.md).
    pub fn changes_agreement(self) -> bool {
        matches!(
            self,
            EventType::AgreementPublished | EventType::AgreementApproved
        )
    }

    /// The type named `s`, exactly as [`EventType::as_str`] spells it.
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Largest canonical event of this type.
    pub fn bytes_max(self) -> usize {
        match self {
            EventType::AgreementPublished => AGREEMENT_EVENT_BYTES_MAX,
            _ => EVENT_BYTES_MAX,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Incident priority; `P1` is the most urgent (and sorts first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of a service an outage takes down; only `Full` counts as
/// downtime (SEMANTICS.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impact {
    Full,
    Partial,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Full => "full",
            Impact::Partial => "partial",
        }
    }
}

/// The kind of a governance meeting: driftsmøte or styringsgruppemøte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MeetingKind {
    Operations,
    Steering,
}

impl MeetingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingKind::Operations => "operations",
            MeetingKind::Steering => "steering",
        }
    }
}

/// A side of the agreement (SEMANTICS.md section 12): the provider or
/// the municipality (tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    Provider,
    Tenant,
}

impl Party {
    /// Both parties, provider first.
    pub const ALL: [Party; 2] = [Party::Provider, Party::Tenant];

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Provider => "provider",
            Party::Tenant => "tenant",
        }
    }
}

/// The typed `data` of an event, one variant per [`EventType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    AgreementPublished(Box<Agreement>),
    OutageStarted {
        service: String,
        outage_id: String,
        impact: Impact,
    },
    OutageEnded {
        service: String,
        outage_id: String,
    },
    MaintenanceScheduled {
        service: String,
        window_id: String,
        start: i64,
        end: i64,
    },
    MaintenanceCancelled {
        service: String,
        window_id: String,
    },
    IncidentOpened {
        incident_id: String,
        service: String,
        priority: Priority,
    },
    IncidentResponded {
        incident_id: String,
    },
    IncidentOnHold {
        incident_id: String,
        reason: String,
    },
    IncidentResumed {
        incident_id: String,
    },
    IncidentPriorityChanged {
        incident_id: String,
        priority: Priority,
    },
    IncidentResolved {
        incident_id: String,
    },
    IncidentReopened {
        incident_id: String,
    },
    MeetingHeld {
        meeting_id: String,
        kind: MeetingKind,
    },
    MinutesFiled {
        meeting_id: String,
        digest: String,
    },
    ContactAssigned {
        role: String,
        service: Option<String>,
        person: String,
        /// For alerts (varsling); a report shows neither this nor `phone`.
        email: Option<String>,
        phone: Option<String>,
    },
    ContactVacated {
        role: String,
        service: Option<String>,
    },
    /// The optional `as_of` of the JSON is validated and kept in the
    /// canonical bytes but not repeated here (see VALIDATION.md).
    ReportIssued {
        period: String,
        ledger_size: u64,
        report_digest: String,
        /// RFC 6962 root of the first `ledger_size` entries, lowercase hex.
        tree_root: Option<String>,
    },
    /// The cause of a deviation (by its id, SEMANTICS.md section 12) and
    /// the corrective action taken for it.
    DeviationExplained {
        deviation_id: String,
        cause: String,
        action_id: Option<String>,
    },
    ActionOpened {
        action_id: String,
        title: String,
        owner: String,
        /// Unix seconds.
        due: i64,
        /// The deviations the action answers, as sent (may be empty).
        deviation_ids: Vec<String>,
    },
    ActionClosed {
        action_id: String,
        outcome: String,
    },
    /// The municipality's receipt of an issued report.
    ReportAcknowledged {
        period: String,
        report_digest: String,
        person: String,
        comment: Option<String>,
    },
    /// One party's approval of an agreement version that requires it.
    AgreementApproved {
        version: String,
        party: Party,
        person: String,
    },
}

impl EventData {
    /// The `service` the data names, if any (`contact.*` name one only
    /// for per-service roles).
    pub fn service(&self) -> Option<&str> {
        match self {
            EventData::OutageStarted { service, .. }
            | EventData::OutageEnded { service, .. }
            | EventData::MaintenanceScheduled { service, .. }
            | EventData::MaintenanceCancelled { service, .. }
            | EventData::IncidentOpened { service, .. } => Some(service),
            EventData::ContactAssigned { service, .. }
            | EventData::ContactVacated { service, .. } => service.as_deref(),
            _ => None,
        }
    }

    /// The `incident_id` of the seven incident types.
    pub fn incident_id(&self) -> Option<&str> {
        match self {
            EventData::IncidentOpened { incident_id, .. }
            | EventData::IncidentResponded { incident_id }
            | EventData::IncidentOnHold { incident_id, .. }
            | EventData::IncidentResumed { incident_id }
            | EventData::IncidentPriorityChanged { incident_id, .. }
            | EventData::IncidentResolved { incident_id }
            | EventData::IncidentReopened { incident_id } => Some(incident_id),
            _ => None,
        }
    }
}

/// A validated CloudEvent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub source: String,
    pub tenant: String,
    pub event_type: EventType,
    /// Unix seconds (UTC), fractions truncated toward the past.
    pub time: i64,
    pub data: EventData,
    /// Canonical JSON of the whole event object as received.
    canonical: Vec<u8>,
}

/// The envelope attributes this crate knows; anything else must pass as a
/// CloudEvents extension attribute.
pub(crate) const ENVELOPE: [&str; 8] = [
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "tenant",
    "datacontenttype",
    "data",
];

/// What the envelope yields before the data is read.
struct Envelope {
    id: Option<String>,
    source: Option<String>,
    tenant: Option<String>,
    event_type: Option<EventType>,
    time: Option<i64>,
}

impl Event {
    /// Validates one CloudEvent object and returns every problem found,
    /// each naming its field path (`time`, `data.priority`,
    /// `data.agreement.services[0].incidents.targets.P3`).
    pub fn from_json(v: &Value) -> Result<Event, Vec<FieldError>> {
        let Some(obj) = v.as_object() else {
            return Err(vec![FieldError::new(
                "",
                format!(
                    "expected a JSON object (a CloudEvent), found {}",
                    rules::kind_of(v)
                ),
            )]);
        };
        let mut errors = Vec::new();
        let mut fields = Fields::new(obj, "");
        let envelope = read_envelope(&mut fields, &mut errors);
        check_extensions(obj, &mut errors);
        let data = match (
            envelope.event_type,
            fields.required_value("data", &mut errors),
        ) {
            (Some(t), Some(d)) => data::read(t, d, &mut errors),
            (None, Some(d)) => rules::object(d, "data", &mut errors).and(None),
            (_, None) => None,
        };
        let canonical = canonical_checked(v, envelope.event_type, &mut errors);
        match (envelope, data, canonical) {
            (
                Envelope {
                    id: Some(id),
                    source: Some(source),
                    tenant: Some(tenant),
                    event_type: Some(event_type),
                    time: Some(time),
                },
                Some(data),
                Some(canonical),
            ) if errors.is_empty() => Ok(Event::from_parts(
                id, source, tenant, event_type, time, data, canonical,
            )),
            _ => {
                debug_assert!(!errors.is_empty(), "an invalid event must say why");
                Err(errors)
            }
        }
    }

    /// An event from parts that passed every rule of [`Event::from_json`],
    /// with `canonical` the canonical bytes of the object they came from.
    pub(crate) fn from_parts(
        id: String,
        source: String,
        tenant: String,
        event_type: EventType,
        time: i64,
        data: EventData,
        canonical: Vec<u8>,
    ) -> Event {
        Event {
            id,
            source,
            tenant,
            event_type,
            time,
            data,
            canonical,
        }
    }

    /// Rebuilds an event from its stored canonical bytes. Bytes that parse
    /// but are not in canonical form are refused: stored bytes are always
    /// canonical, so anything else is damage.
    ///
    /// Events of every type but `agreement.published` are read by a
    /// scanner that needs no `serde_json::Value` and no second
    /// serialisation; anything it is unsure of, invalid bytes included,
    /// goes through [`Event::from_canonical_reference`], which gives the
    /// same result for everything the scanner accepts.
    pub fn from_canonical(bytes: &[u8]) -> Result<Event, Vec<FieldError>> {
        let fast = std::str::from_utf8(bytes).ok().and_then(fast::read);
        match fast {
            Some(event) if event.canonical == bytes => Ok(event),
            _ => Event::from_canonical_reference(bytes),
        }
    }

    /// [`Event::from_canonical`] by the full path: strict parse to a
    /// `serde_json::Value`, [`Event::from_json`], comparison of the bytes.
    /// The reference the fast path is tested against.
    #[doc(hidden)]
    pub fn from_canonical_reference(bytes: &[u8]) -> Result<Event, Vec<FieldError>> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            vec![FieldError::new(
                "",
                format!("stored event is not UTF-8 (at byte {})", e.valid_up_to()),
            )]
        })?;
        let v = json::parse_strict(text).map_err(|e| vec![e.into_field_error()])?;
        let event = Event::from_json(&v)?;
        if event.canonical != bytes {
            return Err(vec![FieldError::new(
                "",
                "stored event bytes are not in canonical form",
            )]);
        }
        Ok(event)
    }

    /// The event of JSON text `text` by the fast path alone, `None` where
    /// it defers to the full path; for tests of the fast path's reach.
    #[doc(hidden)]
    pub fn from_text_fast(text: &str) -> Option<Event> {
        fast::read(text)
    }

    /// Canonical JSON of the whole event: the bytes the ledger stores and hashes.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    /// The identity of the event: (`source`, `id`).
    pub fn key(&self) -> (&str, &str) {
        (&self.source, &self.id)
    }

    /// The CloudEvents `type`, e.g. `outage.started`.
    pub fn type_name(&self) -> &'static str {
        self.event_type.as_str()
    }

    /// `time` as RFC 3339 in UTC with whole seconds, e.g. `2026-10-04T12:00:00Z`.
    pub fn time_rfc3339(&self) -> String {
        format_instant(self.time)
    }

    /// The string value of the extension attribute `name` (`authid`, ...),
    /// read from the canonical bytes; `None` when absent or not a string.
    pub fn extension(&self, name: &str) -> Option<String> {
        if ENVELOPE.contains(&name) {
            return None;
        }
        let v: Value = serde_json::from_slice(&self.canonical).ok()?;
        v.get(name)?.as_str().map(str::to_owned)
    }

    /// This event with the extension attributes `attributes` set (each
    /// replacing one of the same name), validated again like any event.
    pub fn with_extensions(&self, attributes: &[(&str, &str)]) -> Result<Event, Vec<FieldError>> {
        let mut v: Value = serde_json::from_slice(&self.canonical).map_err(|e| {
            vec![FieldError::new(
                "",
                format!("canonical bytes unreadable: {e}"),
            )]
        })?;
        let Some(obj) = v.as_object_mut() else {
            return Err(vec![FieldError::new("", "expected a JSON object")]);
        };
        for (name, value) in attributes {
            if ENVELOPE.contains(name) {
                return Err(vec![FieldError::new(
                    *name,
                    "an envelope attribute, not an extension",
                )]);
            }
            obj.insert((*name).to_owned(), Value::String((*value).to_owned()));
        }
        Event::from_json(&v)
    }
}

/// Unix seconds as RFC 3339 in UTC with whole seconds (`...Z`).
pub fn format_instant(secs: i64) -> String {
    match DateTime::from_timestamp(secs, 0) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        // Only seconds beyond chrono's range (about ±262,000 years) get
        // here, and validated instants never are.
        None => format!("{secs}s since 1970"),
    }
}

fn read_envelope(f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Envelope {
    if let Some(v) = f.required_value("specversion", errors) {
        if v.as_str() != Some("1.0") {
            errors.push(FieldError::new(
                "specversion",
                format!("must be \"1.0\" (CloudEvents 1.0), found {v}"),
            ));
        }
    }
    let id = f.req("id", rules::id, errors);
    let source = f.req("source", rules::source, errors);
    let tenant = f.req("tenant", rules::service, errors);
    let event_type = f.req("type", event_type, errors);
    let time = f.req("time", rules::instant, errors);
    if let Some(v) = f.value("datacontenttype") {
        if v.as_str() != Some("application/json") {
            errors.push(FieldError::new(
                "datacontenttype",
                format!("must be \"application/json\" or absent, found {v}"),
            ));
        }
    }
    Envelope {
        id,
        source,
        tenant,
        event_type,
        time,
    }
}

fn event_type(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<EventType> {
    let s = rules::str_at(v, path, errors)?;
    let t = EventType::parse(s);
    if t.is_none() {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        errors.push(FieldError::new(
            path,
            format!(
                "unknown event type {s:?}; expected one of {}",
                names.join(", ")
            ),
        ));
    }
    t
}

/// Attributes beyond the envelope are CloudEvents extension attributes:
/// a lowercase alphanumeric name of at most 20 characters and a string,
/// integer or boolean value.
fn check_extensions(obj: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for (name, v) in obj.iter().filter(|(k, _)| !ENVELOPE.contains(&k.as_str())) {
        let name_ok = extension_name_ok(name);
        if name == "data_base64" {
            errors.push(FieldError::new(
                name,
                "binary data is not accepted; send data as a JSON object",
            ));
        } else if !name_ok {
            errors.push(FieldError::new(
                name,
                format!(
                    "unknown attribute; an extension attribute needs a name of 1 to {EXTENSION_NAME_LEN_MAX} \
                     lowercase letters and digits"
                ),
            ));
        } else if !(v.is_string() || v.is_boolean() || v.is_i64() || v.is_u64()) {
            errors.push(FieldError::new(
                name,
                format!(
                    "extension attribute must be a string, integer or boolean, found {}",
                    rules::kind_of(v)
                ),
            ));
        }
    }
}

/// Whether `name` may name an extension attribute: 1 to
/// [`EXTENSION_NAME_LEN_MAX`] lowercase ASCII letters and digits.
pub(crate) fn extension_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= EXTENSION_NAME_LEN_MAX
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// The canonical bytes, with non-integer numbers reported (unless a field
/// rule already named that path) and the size limit of the type checked.
fn canonical_checked(
    v: &Value,
    t: Option<EventType>,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<u8>> {
    match to_canonical(v) {
        Ok(bytes) => {
            let max = t.map_or(EVENT_BYTES_MAX, EventType::bytes_max);
            if bytes.len() > max {
                let what = t.map_or("an event", EventType::as_str);
                errors.push(FieldError::new(
                    "",
                    format!("event too large: {} bytes in canonical form; at most {max} allowed for {what}", bytes.len()),
                ));
                return None;
            }
            Some(bytes)
        }
        Err(found) => {
            for e in found {
                if !errors.iter().any(|known| known.path == e.path) {
                    errors.push(e);
                }
            }
            None
        }
    }
}
