//! The seeded demo history: a year of TLA events for the eight
//! municipalities of a regional IT cooperation, as their producers would
//! have sent them (Zabbix for outages, TOPdesk for incidents and
//! maintenance, the governance register for meetings, minutes and contacts).
//!
//! The history is deterministic: the same [`DemoConfig`] gives the same
//! events, byte for byte, because every random draw comes from a ChaCha8
//! stream keyed by (seed, tenant, component) and nothing reads the wall
//! clock. It is realistic enough to exercise every rule of SEMANTICS.md:
//! most months are clean, and a fixed plan (`PLAN`) places a few
//! deviations of each kind. Random events are kept inside their targets
//! (outage budgets, incident clocks computed with the same office calendar
//! the agreement declares), so the planned deviations are the only ones;
//! [`designed_deviations`] lists them with the period where a report shows
//! them. Problem management (TOPdesk) explains most of them and opens
//! corrective actions for the provider's breaches (SEMANTICS.md section
//! 12), naming each deviation by the id a report gives it
//! ([`deviation_id`]); most actions are closed, one stays overdue.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Oslo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// Public API

/// What to generate. Out-of-range values are clamped (see the limits below).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// How many tenants, taken in order from alver; 1..=8.
    pub tenants: usize,
    /// (year, month 1..=12) of the first reporting period.
    pub first_month: (i32, u32),
    /// How many reporting periods.
    pub months: u32,
    /// Multiplies the number of incidents and outages (large files for crash
    /// tests and benchmarks). Everything else stays as at scale 1.
    pub scale: u32,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seed: 0,
            tenants: TENANTS.len(),
            first_month: (2025, 11),
            months: 12,
            scale: 1,
        }
    }
}

/// A generated history.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoHistory {
    /// CloudEvents 1.0 JSON objects, sorted by time, then generation order.
    pub events: Vec<Value>,
    /// Tenant ids, in generation order.
    pub tenants: Vec<String>,
    /// The reporting periods covered, `YYYY-MM`.
    pub periods: Vec<String>,
}

/// A deviation the history was designed to contain, where a report of
/// (tenant, period) over the whole history shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DesignedDeviation {
    pub tenant: String,
    /// `YYYY-MM`.
    pub period: String,
    /// The deviation kind of SEMANTICS.md section 11.
    pub kind: &'static str,
    /// The deviation instant, `Z`.
    pub at: String,
    /// The service, where the kind has one.
    pub service: Option<String>,
    /// The incident, window or meeting id, or the role, where the kind has
    /// one.
    pub subject: Option<String>,
    /// The priority of an incident breach.
    pub priority: Option<String>,
    /// The seconds of a contact vacancy within the period.
    pub vacant_seconds: Option<i64>,
}

/// Generates the demo history of `config`.
///
/// # Panics
///
/// When `config.first_month.1` is not a month number (1..=12).
pub fn generate(config: &DemoConfig) -> DemoHistory {
    build(config).0
}

/// The deviations `generate(config)` was designed to contain, sorted by
/// tenant, period and kind. Periods outside the history are left out.
///
/// # Panics
///
/// As [`generate`].
pub fn designed_deviations(config: &DemoConfig) -> Vec<DesignedDeviation> {
    build(config).1
}

/// The id a report of format 2 or later gives a designed deviation (SEMANTICS.md
/// section 12, "Deviation ids"): the first 16 hex digits of BLAKE3 over the
/// canonical JSON of its kind, instant and subject. The demo's follow-up
/// names its deviations by it.
pub fn deviation_id(d: &DesignedDeviation) -> String {
    let mut object: BTreeMap<&str, Value> = BTreeMap::new();
    object.insert("kind", json!(d.kind));
    object.insert("at", json!(d.at));
    let subject = d.subject.as_deref().map(|s| json!(s));
    let service = d.service.as_deref().map(|s| json!(s));
    let subject_field = match d.kind {
        "maintenance_short_notice" => Some("window_id"),
        "response_breach" | "resolution_breach" => Some("incident_id"),
        "minutes_missing" => Some("meeting_id"),
        "contact_vacant" => Some("role"),
        _ => None,
    };
    if let (Some(field), Some(subject)) = (subject_field, subject) {
        object.insert(field, subject);
    }
    match (d.kind, service) {
        // A role's service is part of its id even when there is none.
        ("contact_vacant", service) => {
            object.insert("service", service.unwrap_or(Value::Null));
        }
        (_, Some(service)) => {
            object.insert("service", service);
        }
        (_, None) => {}
    }
    // Keys in byte order (a BTreeMap), no whitespace, and only ASCII ids,
    // kinds and instants: serde_json writes exactly the canonical form.
    let text = serde_json::to_string(&object).unwrap_or_default();
    let mut id = blake3::hash(text.as_bytes()).to_hex().to_string();
    id.truncate(DEVIATION_ID_LEN);
    id
}

/// The display name of a demo tenant ("Osterøy" for `osteroy`); empty for an
/// id that is not one.
pub fn tenant_display_name(id: &str) -> &'static str {
    TENANTS.iter().find(|t| t.id == id).map_or("", |t| t.name)
}

// ---------------------------------------------------------------------------
// Limits and volumes

/// Most reporting periods: ten years is far more than a demo needs.
const MONTHS_MAX: u32 = 120;
/// Largest scale: 1,000 gives about 3 million events for 8 tenants, several
/// GB of JSON in memory; more would not fit a test machine.
const SCALE_MAX: u32 = 1000;
/// No event lies later than this many days after the last period ends, so
/// the default history (ending 2026-10-31) is wholly before 2026-11-28 and
/// passes the ledger's clock-skew check when imported from then on.
const TAIL_DAYS_MAX: i64 = 25;
/// The agreement is published this many days before the first period.
const AGREEMENT_LEAD_DAYS: i64 = 6;
/// Random outages per tenant and month at scale 1 (inclusive range).
const OUTAGES_PER_MONTH_MIN: u32 = 4;
const OUTAGES_PER_MONTH_MAX: u32 = 7;
/// Share of random outages that are `partial` (not counted as downtime).
const OUTAGE_PARTIAL_SHARE: f64 = 0.3;
/// Random full outages of a service may use this share of the downtime its
/// target allows in the shortest month, so they never breach by chance.
const OUTAGE_BUDGET_SHARE: f64 = 0.4;
/// Maintenance windows per tenant and month (inclusive range; not scaled).
const WINDOWS_PER_MONTH_MIN: u32 = 1;
const WINDOWS_PER_MONTH_MAX: u32 = 3;
/// Notice of a regular maintenance window, days (inclusive range). Seven
/// days is more than the strictest `maintenance_notice_hours` (120).
const WINDOW_NOTICE_DAYS_MIN: i64 = 7;
const WINDOW_NOTICE_DAYS_MAX: i64 = 14;
/// Share of regular windows cancelled before their start.
const WINDOW_CANCEL_SHARE: f64 = 0.08;
/// Share of regular windows moved a week later by a new announcement.
const WINDOW_RESCHEDULE_SHARE: f64 = 0.05;
/// Share of (not cancelled) windows during which the service is down.
const WINDOW_OUTAGE_SHARE: f64 = 0.5;
/// Share of incidents put on hold, re-prioritised, or reopened.
const INCIDENT_HOLD_SHARE: f64 = 0.15;
const INCIDENT_PRIORITY_CHANGE_SHARE: f64 = 0.08;
const INCIDENT_REOPEN_SHARE: f64 = 0.05;
/// Share of P2..P4 incidents opened outside office hours (self service).
const INCIDENT_AFTER_HOURS_SHARE: f64 = 0.15;
/// Incidents priority mix, P1..P4, in percent.
const PRIORITY_MIX_PCT: [u32; 4] = [4, 14, 47, 35];
/// A met incident uses at most this share of its resolution target, and
/// its response at most this share of its response target.
const MET_RESOLUTION_SHARE_MAX: f64 = 0.85;
const MET_RESPONSE_SHARE_MAX: f64 = 0.8;
/// Minutes are filed this many days after the meeting (inclusive range);
/// with the move to the next working day (at most 6 days over Christmas)
/// they stay within the agreement's 14 days.
const MINUTES_DAYS_MIN: i64 = 1;
const MINUTES_DAYS_MAX: i64 = 7;
/// Contact handovers without a gap per tenant and year (inclusive range).
const HANDOVERS_MAX: u32 = 2;
/// Hex digits of a deviation id (SEMANTICS.md section 12).
const DEVIATION_ID_LEN: usize = 16;
/// Every this many deviations of a tenant, one is left unexplained (the
/// last of each run), so that the year shows both.
const UNEXPLAINED_EVERY: usize = 3;
/// A deviation is explained this long after its instant, and its action
/// opened then.
const EXPLAIN_AFTER_DAYS: i64 = 2;
/// A corrective action is due this long after it was opened, and closed
/// (when it is) this long after.
const ACTION_DUE_DAYS: i64 = 30;
const ACTION_CLOSED_DAYS: i64 = 21;
/// Independent random streams per tenant (one per component below).
const STREAMS_PER_TENANT: u64 = 16;
const STREAM_AGREEMENT: u64 = 0;
const STREAM_CONTACTS: u64 = 1;
const STREAM_MEETINGS: u64 = 2;
const STREAM_PLANNED: u64 = 3;
const STREAM_MAINTENANCE: u64 = 4;
const STREAM_OUTAGES: u64 = 5;
const STREAM_INCIDENTS: u64 = 6;

/// Office hours of the "office" calendar, local minutes after midnight.
const OFFICE_FROM_MIN: i64 = 7 * 60 + 30;
const OFFICE_TO_MIN: i64 = 16 * 60;
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

// ---------------------------------------------------------------------------
// Catalogue: tenants, services, people

struct TenantSpec {
    id: &'static str,
    name: &'static str,
    /// Incidents per month at scale 1, by size of the municipality.
    incidents_per_month: u32,
    /// Larger municipalities also buy the GIS service.
    large: bool,
}

static TENANTS: [TenantSpec; 8] = [
    tenant("alver", "Alver", 12, true),
    tenant("austrheim", "Austrheim", 6, false),
    tenant("fedje", "Fedje", 4, false),
    tenant("gulen", "Gulen", 6, false),
    tenant("masfjorden", "Masfjorden", 5, false),
    tenant("modalen", "Modalen", 4, false),
    tenant("osteroy", "Osterøy", 9, true),
    tenant("vaksdal", "Vaksdal", 8, true),
];

const fn tenant(id: &'static str, name: &'static str, n: u32, large: bool) -> TenantSpec {
    TenantSpec {
        id,
        name,
        incidents_per_month: n,
        large,
    }
}

/// Response and resolution targets in minutes, P1..P4. P1 runs on `24x7`,
/// the others on the service's `office` calendar.
type Targets = [(i64, i64); 4];
const STANDARD: Targets = [(30, 240), (60, 480), (240, 2400), (480, 4800)];
const CRITICAL: Targets = [(15, 120), (30, 240), (120, 1200), (480, 4800)];
const BASIC: Targets = [(60, 480), (120, 960), (480, 3600), (960, 4800)];

struct ServiceSpec {
    id: &'static str,
    name: &'static str,
    /// (target_pct, availability calendar).
    availability: Option<(&'static str, &'static str)>,
    /// `maintenance_notice_hours`; 0 is left out of the agreement.
    notice_hours: u32,
    targets: Option<&'static Targets>,
    outage_weight: u32,
    incident_weight: u32,
    /// Network services are watched by their own Zabbix.
    network: bool,
    large_only: bool,
}

#[rustfmt::skip]
static SERVICES: [ServiceSpec; 11] = [
    service("epost", "E-post", Some(("99.5", "24x7")), 120, Some(&STANDARD), 3, 4, false, false),
    service("sak-arkiv", "Sak og arkiv", Some(("99.5", "24x7")), 120, Some(&STANDARD), 2, 3, false, false),
    service("journal", "Journalsystem for helse og omsorg", Some(("99.5", "24x7")), 120, Some(&CRITICAL), 2, 3, false, false),
    service("nettverk", "Nettverk og brannmur", Some(("99.5", "24x7")), 120, Some(&CRITICAL), 3, 2, true, false),
    service("telefoni", "Telefoni og sentralbord", Some(("99.0", "24x7")), 0, Some(&STANDARD), 2, 2, true, false),
    service("servicedesk", "Brukarstøtte", None, 0, Some(&BASIC), 1, 5, false, false),
    service("fagsystem-oppvekst", "Fagsystem for oppvekst", Some(("98.0", "office")), 0, Some(&STANDARD), 1, 3, false, false),
    service("lonn", "Løn og personal", Some(("99.0", "24x7")), 120, Some(&STANDARD), 1, 2, false, false),
    service("web", "Nettstad", Some(("99.0", "24x7")), 0, None, 2, 1, false, false),
    service("m365", "Microsoft 365", None, 0, Some(&BASIC), 2, 4, false, false),
    service("gis", "Kart og oppmåling", Some(("98.0", "24x7")), 0, Some(&BASIC), 1, 1, false, true),
];

#[allow(clippy::too_many_arguments)]
const fn service(
    id: &'static str,
    name: &'static str,
    availability: Option<(&'static str, &'static str)>,
    notice_hours: u32,
    targets: Option<&'static Targets>,
    outage_weight: u32,
    incident_weight: u32,
    network: bool,
    large_only: bool,
) -> ServiceSpec {
    ServiceSpec {
        id,
        name,
        availability,
        notice_hours,
        targets,
        outage_weight,
        incident_weight,
        network,
        large_only,
    }
}

/// The tenant whose agreement gets a second version mid-year, the service
/// whose target it changes, and the new target.
const REVISED_TENANT: usize = 0;
const REVISED_SERVICE: &str = "epost";
const REVISED_TARGET_PCT: &str = "99.7";

const REQUIRED_ROLES: [&str; 2] = ["provider_account_owner", "tenant_contact"];
const PER_SERVICE_ROLE: &str = "provider_service_owner";

/// The provider's staff: account owners first, then service owners.
const PROVIDER_STAFF: [&str; 14] = [
    "Kari Nordmann",
    "Ola Nordmann",
    "Ingrid Haugland",
    "Lars Mjelde",
    "Silje Hope",
    "Eirik Brekke",
    "Marit Vik",
    "Sindre Kvamme",
    "Åse Hauge",
    "Nils Tveit",
    "Torbjørn Nordanger",
    "Hilde Sætre",
    "Magnus Hjelmtveit",
    "Guro Takle",
];
const ACCOUNT_OWNERS: usize = 4;

/// Contact persons in the municipalities.
const TENANT_STAFF: [&str; 16] = [
    "Ragnhild Myking",
    "Solveig Dale",
    "Knut Fosse",
    "Bjørn Lygre",
    "Anne Lise Eide",
    "Håkon Sandvik",
    "Randi Mongstad",
    "Per Olav Rong",
    "Liv Hammersland",
    "Arne Haukeland",
    "Synnøve Risa",
    "Terje Nesse",
    "Jorunn Leiknes",
    "Oddvar Fjeldstad",
    "Brit Instanes",
    "Geir Helland",
];

const HOLD_REASONS: [&str; 5] = [
    "Ventar på svar frå brukar",
    "Ventar på leverandør",
    "Ventar på reservedel",
    "Brukar er ikkje tilgjengeleg",
    "Ventar på endringsvindauge",
];

// ---------------------------------------------------------------------------
// The plan of deviations

/// The two meetings of the governance rhythm (SEMANTICS.md section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MeetingKind {
    Operations,
    Steering,
}

impl MeetingKind {
    fn wire(self) -> &'static str {
        match self {
            MeetingKind::Operations => "operations",
            MeetingKind::Steering => "steering",
        }
    }
}

/// How a generated incident is meant to fare against its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Met,
    ResponseBreach,
    ResolutionBreach,
}

/// One planned event pattern. Each gives deviations except the cross-month
/// outage, an edge case kept within target.
#[derive(Debug)]
enum Planned {
    /// A full outage this long (overnight) takes the service below target.
    LongOutage { service: &'static str, minutes: i64 },
    /// A full outage from the last evening of the month into the next.
    CrossMonthOutage { service: &'static str, minutes: i64 },
    /// A window announced with too little notice, the service down in it.
    ShortNotice {
        service: &'static str,
        notice_hours: i64,
    },
    /// An incident breaching its response or resolution target
    /// (`priority` 0 is P1).
    Incident {
        service: &'static str,
        priority: usize,
        outcome: Outcome,
    },
    /// The meeting of the month is not held.
    MeetingSkipped(MeetingKind),
    /// The meeting of the month is held in the first week of the next.
    MeetingPostponed(MeetingKind),
    /// Minutes of the month's meeting filed this many days after it, past
    /// the 14 days due.
    MinutesLate { kind: MeetingKind, days: i64 },
    /// Minutes of the month's meeting never filed.
    MinutesNever(MeetingKind),
    /// A role vacant for some days; `month_end` starts it on the month's
    /// last working day, so it spans two periods.
    Vacancy {
        role: &'static str,
        service: Option<&'static str>,
        days: i64,
        month_end: bool,
    },
}

/// (tenant index, month index, pattern). With fewer tenants or months the
/// indices wrap, so every history has every kind.
#[rustfmt::skip]
static PLAN: [(usize, u32, Planned); 20] = [
    (0, 2, Planned::LongOutage { service: "epost", minutes: 300 }),
    (6, 8, Planned::LongOutage { service: "nettverk", minutes: 370 }),
    (3, 11, Planned::LongOutage { service: "telefoni", minutes: 545 }),
    (7, 3, Planned::CrossMonthOutage { service: "web", minutes: 155 }),
    (1, 3, Planned::ShortNotice { service: "sak-arkiv", notice_hours: 48 }),
    (6, 6, Planned::ShortNotice { service: "epost", notice_hours: 72 }),
    (4, 10, Planned::ShortNotice { service: "lonn", notice_hours: 26 }),
    (0, 4, Planned::Incident { service: "servicedesk", priority: 1, outcome: Outcome::ResponseBreach }),
    (2, 7, Planned::Incident { service: "epost", priority: 0, outcome: Outcome::ResponseBreach }),
    (7, 10, Planned::Incident { service: "fagsystem-oppvekst", priority: 2, outcome: Outcome::ResponseBreach }),
    (0, 5, Planned::Incident { service: "journal", priority: 0, outcome: Outcome::ResolutionBreach }),
    (5, 1, Planned::Incident { service: "m365", priority: 2, outcome: Outcome::ResolutionBreach }),
    (6, 9, Planned::Incident { service: "lonn", priority: 1, outcome: Outcome::ResolutionBreach }),
    (0, 8, Planned::MeetingSkipped(MeetingKind::Operations)),
    (3, 5, Planned::MeetingPostponed(MeetingKind::Operations)),
    (1, 2, Planned::MeetingSkipped(MeetingKind::Steering)),
    (4, 7, Planned::MeetingSkipped(MeetingKind::Steering)),
    (2, 3, Planned::MinutesLate { kind: MeetingKind::Steering, days: 21 }),
    (5, 7, Planned::MinutesLate { kind: MeetingKind::Operations, days: 17 }),
    (6, 10, Planned::MinutesNever(MeetingKind::Steering)),
];

/// Planned contact vacancies (kept apart from [`PLAN`] so that handovers
/// can avoid their roles).
#[rustfmt::skip]
static VACANCIES: [(usize, u32, Planned); 3] = [
    (1, 4, Planned::Vacancy { role: "tenant_contact", service: None, days: 9, month_end: false }),
    (7, 7, Planned::Vacancy { role: "provider_service_owner", service: Some("journal"), days: 5, month_end: false }),
    (0, 10, Planned::Vacancy { role: "provider_account_owner", service: None, days: 4, month_end: true }),
];

// ---------------------------------------------------------------------------
// Time and the office calendar

type Instant = DateTime<Utc>;

/// The instant of a local wall time in Oslo: the earlier one when it is
/// ambiguous, the first after the gap when it does not exist (SEMANTICS.md
/// section 4).
fn local(date: NaiveDate, minutes: i64) -> Instant {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    let mut naive = midnight + Duration::minutes(minutes);
    loop {
        match Oslo.from_local_datetime(&naive) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(early, _) => return early.with_timezone(&Utc),
            // Oslo's gaps are one hour, so this ends within 60 steps.
            LocalResult::None => naive += Duration::minutes(1),
        }
    }
}

fn local_date(t: Instant) -> NaiveDate {
    t.with_timezone(&Oslo).date_naive()
}

fn fmt_local(t: Instant) -> String {
    t.with_timezone(&Oslo)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn fmt_utc(t: Instant) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// Easter Sunday (anonymous Gregorian algorithm).
///
/// A second copy of `projector::calendar::easter_sunday`, on purpose: the
/// demo plays the world outside the ledger (the provider's staff working
/// office hours) and depends on no crate of the workspace (ARCHITECTURE.md,
/// checked by tests/architecture.rs), so the engine's calendar is checked
/// against an account of its own rather than against itself. The test
/// `calendar_agrees_with_the_engine` holds the two copies to each other.
fn easter(year: i32) -> NaiveDate {
    let (a, b, c) = (year % 19, year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // The algorithm yields a date in March or April of every year.
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a valid date")
}

/// Norway's public holidays (`"holidays": "NO"`).
fn is_holiday(date: NaiveDate) -> bool {
    let fixed = [(1, 1), (5, 1), (5, 17), (12, 25), (12, 26)];
    if fixed.contains(&(date.month(), date.day())) {
        return true;
    }
    let offset = (date - easter(date.year())).num_days();
    [-3, -2, 0, 1, 39, 49, 50].contains(&offset)
}

/// The agreement's `office` calendar: Monday to Friday 07:30-16:00 local,
/// except Norwegian holidays and the closed dates (24 and 31 December).
struct Office;

impl Office {
    fn closed_dates(years: std::ops::RangeInclusive<i32>) -> Vec<String> {
        years
            .flat_map(|y| [format!("{y}-12-24"), format!("{y}-12-31")])
            .collect()
    }

    fn is_workday(date: NaiveDate) -> bool {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let closed = date.month() == 12 && (date.day() == 24 || date.day() == 31);
        !weekend && !closed && !is_holiday(date)
    }

    /// The first working day on or after `date`.
    fn workday_from(mut date: NaiveDate) -> NaiveDate {
        while !Self::is_workday(date) {
            date += Duration::days(1);
        }
        date
    }

    /// The instant at which `amount` seconds of office time have passed
    /// since `from`.
    fn advance(from: Instant, amount: i64) -> Instant {
        if amount <= 0 {
            return from;
        }
        let mut remaining = amount;
        let mut date = local_date(from);
        loop {
            if Self::is_workday(date) {
                let open = local(date, OFFICE_FROM_MIN).max(from);
                let close = local(date, OFFICE_TO_MIN);
                if open < close {
                    let available = (close - open).num_seconds();
                    if available >= remaining {
                        return open + secs(remaining);
                    }
                    remaining -= available;
                }
            }
            date += Duration::days(1);
        }
    }
}

/// A reporting period.
struct Month {
    first_day: NaiveDate,
    start: Instant,
    end: Instant,
    label: String,
    workdays: Vec<NaiveDate>,
}

fn months(config: &DemoConfig) -> Vec<Month> {
    let (year, month) = config.first_month;
    let base = year * 12 + month as i32 - 1;
    let first_day = |i: i32| {
        let n = base + i;
        // Month numbers are 1..=12 by construction and day 1 always exists.
        NaiveDate::from_ymd_opt(n.div_euclid(12), n.rem_euclid(12) as u32 + 1, 1)
            .expect("the first of a month is a valid date")
    };
    (0..config.months as i32)
        .map(|i| {
            let (first, next) = (first_day(i), first_day(i + 1));
            Month {
                first_day: first,
                start: local(first, 0),
                end: local(next, 0),
                label: first.format("%Y-%m").to_string(),
                workdays: first
                    .iter_days()
                    .take_while(|d| *d < next)
                    .filter(|d| Office::is_workday(*d))
                    .collect(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Sources and drafts

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Agreements,
    ZabbixDrift,
    ZabbixNett,
    Topdesk,
    Governance,
    /// TOPdesk's problem management: causes of deviations and the
    /// corrective actions taken (SEMANTICS.md section 12).
    Problems,
}

impl Source {
    fn uri(self) -> &'static str {
        match self {
            Source::Agreements => "tla/agreements",
            Source::ZabbixDrift => "zabbix/drift-1",
            Source::ZabbixNett => "zabbix/nett-1",
            Source::Topdesk => "topdesk/itsm",
            Source::Governance => "tla/governance",
            Source::Problems => "topdesk/problem",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Source::Agreements => "agr",
            Source::ZabbixDrift | Source::ZabbixNett => "zbx",
            Source::Topdesk => "tdx",
            Source::Governance => "gov",
            Source::Problems => "prb",
        }
    }

    /// Zabbix writes UTC; the others write Oslo local time with its offset.
    fn time(self, t: Instant) -> String {
        match self {
            Source::ZabbixDrift | Source::ZabbixNett => fmt_utc(t),
            _ => fmt_local(t),
        }
    }
}

/// An event before its envelope is written.
struct Draft {
    at: Instant,
    source: Source,
    id: String,
    kind: &'static str,
    data: Value,
}

fn envelope(tenant: &str, d: Draft) -> Value {
    json!({
        "specversion": "1.0",
        "id": d.id,
        "source": d.source.uri(),
        "type": d.kind,
        "time": d.source.time(d.at),
        "tenant": tenant,
        "datacontenttype": "application/json",
        "data": d.data,
    })
}

fn weighted<T>(rng: &mut ChaCha8Rng, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.gen_range(0..total.max(1));
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if pick < w {
            return i;
        }
        pick -= w;
    }
    0
}

// ---------------------------------------------------------------------------
// Building

fn normalized(config: &DemoConfig) -> DemoConfig {
    assert!(
        (1..=12).contains(&config.first_month.1),
        "DemoConfig.first_month: month {} is not in 1..=12",
        config.first_month.1
    );
    DemoConfig {
        seed: config.seed,
        tenants: config.tenants.clamp(1, TENANTS.len()),
        first_month: config.first_month,
        months: config.months.clamp(1, MONTHS_MAX),
        scale: config.scale.clamp(1, SCALE_MAX),
    }
}

fn build(config: &DemoConfig) -> (DemoHistory, Vec<DesignedDeviation>) {
    let config = normalized(config);
    let months = months(&config);
    let mut drafts = Vec::new();
    let mut designed = Vec::new();
    for index in 0..config.tenants {
        let mut gen = TenantGen::new(&config, index, &months);
        gen.run();
        designed.extend(gen.designed);
        drafts.extend(gen.drafts.into_iter().map(|d| (index, d)));
    }
    // Stable: equal times keep generation order (tenant, then sequence).
    drafts.sort_by_key(|(_, d)| d.at);
    designed.sort();
    let history = DemoHistory {
        events: drafts
            .into_iter()
            .map(|(i, d)| envelope(TENANTS[i].id, d))
            .collect(),
        tenants: TENANTS[..config.tenants]
            .iter()
            .map(|t| t.id.to_string())
            .collect(),
        periods: months.iter().map(|m| m.label.clone()).collect(),
    };
    (history, designed)
}

/// A meeting as held, for the designed governance deviations.
struct MeetingRecord {
    id: String,
    kind: MeetingKind,
    held: Instant,
    filed: Option<Instant>,
}

/// The generator of one tenant's history.
struct TenantGen<'a> {
    config: &'a DemoConfig,
    index: usize,
    spec: &'static TenantSpec,
    months: &'a [Month],
    /// Events at or after this instant are not written.
    tail_end: Instant,
    services: Vec<&'static ServiceSpec>,
    drafts: Vec<Draft>,
    counters: BTreeMap<Source, u64>,
    designed: Vec<DesignedDeviation>,
    /// Seconds of random and planned full outage per (month, service).
    budget_used: BTreeMap<(usize, &'static str), i64>,
    incident_seq: BTreeMap<usize, u32>,
    window_seq: BTreeMap<usize, u32>,
    outage_seq: u32,
    meetings: Vec<MeetingRecord>,
}

impl<'a> TenantGen<'a> {
    fn new(config: &'a DemoConfig, index: usize, months: &'a [Month]) -> Self {
        let spec = &TENANTS[index];
        // `normalized` clamps `months` to at least one.
        let last = months.last().expect("normalized configs have a month");
        TenantGen {
            config,
            index,
            spec,
            months,
            tail_end: last.end + Duration::days(TAIL_DAYS_MAX),
            services: SERVICES
                .iter()
                .filter(|s| spec.large || !s.large_only)
                .collect(),
            drafts: Vec::new(),
            counters: BTreeMap::new(),
            designed: Vec::new(),
            budget_used: BTreeMap::new(),
            incident_seq: BTreeMap::new(),
            window_seq: BTreeMap::new(),
            outage_seq: 1000,
            meetings: Vec::new(),
        }
    }

    fn rng(&self, component: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(self.index as u64 * STREAMS_PER_TENANT + component);
        rng
    }

    fn run(&mut self) {
        self.agreements();
        self.contacts();
        self.meetings();
        self.planned();
        for m in 0..self.months.len() {
            self.maintenance_month(m);
            self.outages_month(m);
            self.incidents_month(m);
        }
        self.governance_deviations();
        self.follow_up();
    }

    fn emit(&mut self, at: Instant, source: Source, kind: &'static str, data: Value) {
        if at >= self.tail_end {
            return;
        }
        let n = self.counters.entry(source).or_insert(0);
        *n += 1;
        let id = format!("{}-{}-{:06}", source.id_prefix(), self.spec.id, n);
        self.drafts.push(Draft {
            at,
            source,
            id,
            kind,
            data,
        });
    }

    fn month_of(&self, t: Instant) -> Option<usize> {
        self.months.iter().position(|m| m.start <= t && t < m.end)
    }

    /// Records a designed deviation at instant `at`, in the period that
    /// contains it.
    fn design(
        &mut self,
        kind: &'static str,
        at: Instant,
        service: Option<&str>,
        subject: Option<&str>,
    ) {
        if let Some(m) = self.month_of(at) {
            self.design_in(m, kind, at, service, subject);
        }
    }

    /// Records a designed deviation of period `m` (period-wide ones are
    /// `at` the period's end, which lies outside it).
    fn design_in(
        &mut self,
        m: usize,
        kind: &'static str,
        at: Instant,
        service: Option<&str>,
        subject: Option<&str>,
    ) {
        self.designed.push(DesignedDeviation {
            tenant: self.spec.id.to_string(),
            period: self.months[m].label.clone(),
            kind,
            at: fmt_utc(at),
            service: service.map(str::to_string),
            subject: subject.map(str::to_string),
            priority: None,
            vacant_seconds: None,
        });
    }

    /// The planned patterns of this tenant, as (month index, pattern).
    fn plan(&self, table: &'static [(usize, u32, Planned)]) -> Vec<(usize, &'static Planned)> {
        table
            .iter()
            .filter(|(t, _, _)| t % self.config.tenants == self.index)
            .map(|(_, m, p)| ((m % self.config.months) as usize, p))
            .collect()
    }

    /// The service `id` of this tenant. Only [`PLAN`] calls this, and it
    /// names only services every tenant has (not `gis`), so it cannot fail.
    fn service(&self, id: &str) -> &'static ServiceSpec {
        self.services
            .iter()
            .copied()
            .find(|s| s.id == id)
            .expect("planned services are offered to every tenant")
    }

    /// A random working day of month `m` at a random office time, leaving
    /// `tail` seconds of office hours after it.
    fn office_time(&self, rng: &mut ChaCha8Rng, m: usize, days: (u32, u32), tail: i64) -> Instant {
        let month = &self.months[m];
        let eligible: Vec<&NaiveDate> = month
            .workdays
            .iter()
            .filter(|d| (days.0..=days.1).contains(&d.day()))
            .collect();
        let date = match eligible.is_empty() {
            true => Office::workday_from(month.first_day),
            false => *eligible[rng.gen_range(0..eligible.len())],
        };
        let span = (OFFICE_TO_MIN - OFFICE_FROM_MIN) * MINUTE - tail;
        local(date, OFFICE_FROM_MIN) + secs(rng.gen_range(0..span.max(1)))
    }
}

// ---------------------------------------------------------------------------
// Agreements

impl TenantGen<'_> {
    fn revision_month(&self) -> Option<usize> {
        let m = self.months.len() / 2;
        (self.index == REVISED_TENANT && m >= 1).then_some(m)
    }

    fn agreements(&mut self) {
        let mut rng = self.rng(STREAM_AGREEMENT);
        let first = &self.months[0];
        let published = local(
            first.first_day - Duration::days(AGREEMENT_LEAD_DAYS),
            10 * 60 + rng.gen_range(0..120),
        );
        let version = format!("{}-1", first.first_day.year());
        let agreement = self.agreement_json(&version, first.start, false);
        self.emit(
            published,
            Source::Agreements,
            "agreement.published",
            json!({ "agreement": agreement }),
        );
        if let Some(m) = self.revision_month() {
            let effective = &self.months[m];
            let version = format!("{}-2", effective.first_day.year());
            let agreement = self.agreement_json(&version, effective.start, true);
            let published = self.office_time(&mut rng, m - 1, (10, 20), 0);
            self.emit(
                published,
                Source::Agreements,
                "agreement.published",
                json!({ "agreement": agreement }),
            );
        }
    }

    fn agreement_json(&self, version: &str, effective: Instant, revised: bool) -> Value {
        let first_year = self.months[0].first_day.year();
        let services: Vec<Value> = self
            .services
            .iter()
            .map(|s| service_json(s, revised))
            .collect();
        json!({
            "version": version,
            "effective_from": fmt_local(effective),
            "timezone": "Europe/Oslo",
            "calendars": {"office": {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "from": "07:30", "to": "16:00", "holidays": "NO",
                "closed_dates": Office::closed_dates(first_year..=self.tail_end.year()),
            }},
            "services": services,
            "governance": {"operations_meeting_every_months": 2,
                           "steering_meeting_every_months": 1, "minutes_due_days": 14},
            "contacts": {"required_roles": REQUIRED_ROLES,
                         "per_service_roles": [PER_SERVICE_ROLE]},
        })
    }
}

/// The target of `s` in the first (or the revised) agreement version.
fn target_pct(s: &ServiceSpec, revised: bool) -> Option<&'static str> {
    let (target, _) = s.availability?;
    Some(match revised && s.id == REVISED_SERVICE {
        true => REVISED_TARGET_PCT,
        false => target,
    })
}

fn service_json(s: &ServiceSpec, revised: bool) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(s.id));
    o.insert("name".into(), json!(s.name));
    if let (Some((_, calendar)), Some(target)) = (s.availability, target_pct(s, revised)) {
        o.insert(
            "availability".into(),
            json!({"target_pct": target, "calendar": calendar}),
        );
    }
    if s.notice_hours > 0 {
        o.insert("maintenance_notice_hours".into(), json!(s.notice_hours));
    }
    if let Some(t) = s.targets {
        let p = |i: usize| json!({"response_min": t[i].0, "resolution_min": t[i].1});
        let mut p1 = p(0);
        p1["calendar"] = json!("24x7");
        o.insert(
            "incidents".into(),
            json!({"calendar": "office",
                   "targets": {"P1": p1, "P2": p(1), "P3": p(2), "P4": p(3)}}),
        );
    }
    Value::Object(o)
}

// ---------------------------------------------------------------------------
// Contacts

impl TenantGen<'_> {
    fn first_holder(&self, role: &str, service: Option<&str>) -> &'static str {
        let i = self.index;
        match (role, service) {
            ("tenant_contact", _) => TENANT_STAFF[(2 * i) % TENANT_STAFF.len()],
            (_, Some(s)) => {
                let k = SERVICES.iter().position(|x| x.id == s).unwrap_or(0);
                PROVIDER_STAFF[ACCOUNT_OWNERS + k % (PROVIDER_STAFF.len() - ACCOUNT_OWNERS)]
            }
            _ => PROVIDER_STAFF[i % ACCOUNT_OWNERS],
        }
    }

    /// Someone else for the role: a colleague on the same side.
    fn successor(&self, rng: &mut ChaCha8Rng, current: &str, role: &str) -> &'static str {
        let pool: &[&'static str] = match role {
            "tenant_contact" => &TENANT_STAFF,
            _ => &PROVIDER_STAFF,
        };
        loop {
            let p = pool[rng.gen_range(0..pool.len())];
            if p != current {
                return p;
            }
        }
    }

    fn assign(&mut self, at: Instant, role: &str, service: Option<&str>, person: &str) {
        let mut data = json!({"role": role, "person": person});
        if let Some(s) = service {
            data["service"] = json!(s);
        }
        self.emit(at, Source::Governance, "contact.assigned", data);
    }

    fn contacts(&mut self) {
        let mut rng = self.rng(STREAM_CONTACTS);
        let start = self.months[0].start;
        for role in REQUIRED_ROLES {
            self.assign(start, role, None, self.first_holder(role, None));
        }
        let ids: Vec<&'static str> = self.services.iter().map(|s| s.id).collect();
        for s in &ids {
            let person = self.first_holder(PER_SERVICE_ROLE, Some(s));
            self.assign(start, PER_SERVICE_ROLE, Some(s), person);
        }
        for (m, planned) in self.plan(&VACANCIES) {
            self.vacancy(&mut rng, m, planned);
        }
        self.handovers(&mut rng, &ids);
    }

    fn vacancy(&mut self, rng: &mut ChaCha8Rng, m: usize, planned: &Planned) {
        let Planned::Vacancy {
            role,
            service,
            days,
            month_end,
        } = *planned
        else {
            return;
        };
        let vacated = match month_end {
            true => {
                let last = *self.months[m]
                    .workdays
                    .last()
                    .unwrap_or(&self.months[m].first_day);
                local(last, 15 * 60 + 30)
            }
            false => self.office_time(rng, m, (6, 14), 0),
        };
        let mut data = json!({"role": role});
        if let Some(s) = service {
            data["service"] = json!(s);
        }
        self.emit(vacated, Source::Governance, "contact.vacated", data);
        let back = Office::workday_from(local_date(vacated) + Duration::days(days));
        let assigned = local(back, 8 * 60 + 15 + rng.gen_range(0..90));
        let person = self.successor(rng, self.first_holder(role, service), role);
        self.assign(assigned, role, service, person);
        self.vacancy_deviations(vacated, assigned, role, service);
    }

    fn vacancy_deviations(
        &mut self,
        from: Instant,
        to: Instant,
        role: &str,
        service: Option<&str>,
    ) {
        for m in 0..self.months.len() {
            let (start, end) = (self.months[m].start, self.months[m].end);
            let vacant = (to.min(end) - from.max(start)).num_seconds();
            if vacant > 0 {
                self.design_in(m, "contact_vacant", end, service, Some(role));
                if let Some(d) = self.designed.last_mut() {
                    d.vacant_seconds = Some(vacant);
                }
            }
        }
    }

    /// A service owner changes hands without a gap, now and then.
    fn handovers(&mut self, rng: &mut ChaCha8Rng, ids: &[&'static str]) {
        let vacant: Vec<Option<&str>> = self
            .plan(&VACANCIES)
            .iter()
            .filter_map(|(_, p)| match p {
                Planned::Vacancy { service, .. } => Some(*service),
                _ => None,
            })
            .collect();
        for _ in 0..rng.gen_range(0..=HANDOVERS_MAX) {
            let s = ids[rng.gen_range(0..ids.len())];
            if vacant.contains(&Some(s)) || self.months.len() < 2 {
                continue;
            }
            let m = rng.gen_range(1..self.months.len());
            let at = self.office_time(rng, m, (1, 28), 0);
            let current = self.first_holder(PER_SERVICE_ROLE, Some(s));
            let person = self.successor(rng, current, PER_SERVICE_ROLE);
            self.assign(at, PER_SERVICE_ROLE, Some(s), person);
        }
    }
}

// ---------------------------------------------------------------------------
// Meetings and minutes

impl TenantGen<'_> {
    /// Whether month `m` has this tenant's regular operations meeting:
    /// every second month, even tenants in even months, odd ones in odd.
    fn operations_month(&self, m: usize) -> bool {
        m % 2 == self.index % 2
    }

    /// The planned meeting pattern for (month, kind), if any. An
    /// operations pattern planned for a month without an operations meeting
    /// moves to the nearest month that has one.
    fn meeting_plan(&self, m: usize, kind: MeetingKind) -> Option<&'static Planned> {
        self.plan(&PLAN).into_iter().find_map(|(pm, p)| {
            let pk = match p {
                Planned::MeetingSkipped(k) | Planned::MeetingPostponed(k) => *k,
                Planned::MinutesLate { kind, .. } => *kind,
                Planned::MinutesNever(k) => *k,
                _ => return None,
            };
            let month = match pk {
                MeetingKind::Operations if !self.operations_month(pm) => {
                    if pm + 1 < self.months.len() {
                        pm + 1
                    } else {
                        pm.saturating_sub(1)
                    }
                }
                _ => pm,
            };
            (pk == kind && month == m).then_some(p)
        })
    }

    fn meetings(&mut self) {
        let mut rng = self.rng(STREAM_MEETINGS);
        for m in 0..self.months.len() {
            if self.operations_month(m) {
                self.meeting(&mut rng, m, MeetingKind::Operations);
            }
            self.meeting(&mut rng, m, MeetingKind::Steering);
        }
    }

    fn meeting(&mut self, rng: &mut ChaCha8Rng, m: usize, kind: MeetingKind) {
        let plan = self.meeting_plan(m, kind);
        let (prefix, days, hour) = match kind {
            MeetingKind::Operations => ("drift", (4, 22), 9),
            MeetingKind::Steering => ("styring", (8, 26), 13),
        };
        let id = format!("{prefix}-{}", self.months[m].label);
        let mut day = self.office_time(rng, m, days, 0);
        match plan {
            Some(Planned::MeetingSkipped(_)) => return,
            Some(Planned::MeetingPostponed(_)) => {
                let next = self.months[m].end;
                day = local(
                    Office::workday_from(local_date(next) + Duration::days(3)),
                    0,
                );
            }
            _ => {}
        }
        let held = local(local_date(day), hour * 60 + 30 * rng.gen_range(0..3));
        let data = json!({"meeting_id": id, "kind": kind.wire()});
        self.emit(held, Source::Governance, "meeting.held", data);
        let delay = match plan {
            Some(Planned::MinutesNever(_)) => None,
            Some(Planned::MinutesLate { days, .. }) => Some(*days),
            _ => Some(rng.gen_range(MINUTES_DAYS_MIN..=MINUTES_DAYS_MAX)),
        };
        let filed = delay.map(|d| {
            let date = Office::workday_from(local_date(held) + Duration::days(d));
            local(date, 8 * 60 + rng.gen_range(0..7 * 60))
        });
        if let Some(at) = filed {
            let digest = blake3::hash(self.minutes_text(&id, kind, held).as_bytes());
            let data = json!({"meeting_id": id, "digest": digest.to_hex().as_str()});
            self.emit(at, Source::Governance, "minutes.filed", data);
        }
        self.meetings.push(MeetingRecord {
            id,
            kind,
            held,
            filed,
        });
    }

    /// The minutes document whose BLAKE3 digest is filed.
    fn minutes_text(&self, id: &str, kind: MeetingKind, held: Instant) -> String {
        let title = match kind {
            MeetingKind::Operations => "Referat frå driftsmøte",
            MeetingKind::Steering => "Referat frå styringsgruppemøte",
        };
        format!(
            "{title} ({id})\n{} kommune og IKT-samarbeidet\nDato: {}\n\
             Til stades: {}, {}\n\
             Sak 1: Driftsstatus, tilgjenge og avvik sidan sist\n\
             Sak 2: Planlagt vedlikehald og endringar\n\
             Sak 3: Eventuelt\n",
            self.spec.name,
            local_date(held),
            self.first_holder("provider_account_owner", None),
            self.first_holder("tenant_contact", None),
        )
    }

    /// Designed meeting and minutes deviations, from the meetings as held
    /// (SEMANTICS.md section 8).
    fn governance_deviations(&mut self) {
        for (kind, every, name) in [
            (MeetingKind::Operations, 2, "operations_meeting_missing"),
            (MeetingKind::Steering, 1, "steering_meeting_missing"),
        ] {
            for p in (every - 1)..self.months.len() {
                let window = (self.months[p + 1 - every].start, self.months[p].end);
                let held = self
                    .meetings
                    .iter()
                    .any(|r| r.kind == kind && window.0 <= r.held && r.held < window.1);
                if !held {
                    self.design_in(p, name, window.1, None, None);
                }
            }
        }
        let late: Vec<(Instant, String)> = self
            .meetings
            .iter()
            .map(|r| (r.held + Duration::days(14), r))
            .filter(|(due, r)| !matches!(r.filed, Some(f) if f <= *due))
            .map(|(due, r)| (due, r.id.clone()))
            .collect();
        for (due, id) in late {
            self.design("minutes_missing", due, None, Some(&id));
        }
    }
}

// ---------------------------------------------------------------------------
// Outages and maintenance

impl TenantGen<'_> {
    /// Seconds of full outage random events may still add to (month,
    /// service) without risking its target.
    fn budget_left(&self, m: usize, s: &ServiceSpec) -> i64 {
        let Some((_, calendar)) = s.availability else {
            return i64::MAX;
        };
        let strictest = [false, true]
            .iter()
            .filter_map(|r| target_pct(s, *r))
            .filter_map(|t| t.parse::<f64>().ok())
            .fold(0.0, f64::max);
        // The shortest month: 28 days round the clock, or 17 office days.
        let window = match calendar {
            "office" => 17 * (OFFICE_TO_MIN - OFFICE_FROM_MIN) * MINUTE,
            _ => 28 * DAY,
        };
        let allowed = (100.0 - strictest) / 100.0 * window as f64 * OUTAGE_BUDGET_SHARE;
        allowed as i64 - self.budget_used.get(&(m, s.id)).copied().unwrap_or(0)
    }

    fn spend(&mut self, m: usize, s: &'static ServiceSpec, amount: i64) {
        *self.budget_used.entry((m, s.id)).or_insert(0) += amount;
    }

    fn outage(&mut self, s: &'static ServiceSpec, start: Instant, end: Instant, full: bool) {
        self.outage_seq += 1;
        let id = format!("P-{}", self.outage_seq);
        let source = match s.network {
            true => Source::ZabbixNett,
            false => Source::ZabbixDrift,
        };
        let impact = if full { "full" } else { "partial" };
        let data = json!({"service": s.id, "outage_id": id, "impact": impact});
        self.emit(start, source, "outage.started", data);
        let data = json!({"service": s.id, "outage_id": id});
        self.emit(end, source, "outage.ended", data);
    }

    fn outages_month(&mut self, m: usize) {
        let mut rng = self.rng(STREAM_OUTAGES);
        rng.set_word_pos(m as u128 * (1 << 40));
        let count =
            rng.gen_range(OUTAGES_PER_MONTH_MIN..=OUTAGES_PER_MONTH_MAX) * self.config.scale;
        for _ in 0..count {
            let k = weighted(&mut rng, &self.services, |s| s.outage_weight);
            let s = self.services[k];
            let mut full = !rng.gen_bool(OUTAGE_PARTIAL_SHARE);
            let minutes = match (full, rng.gen_range(0..100)) {
                (false, _) => rng.gen_range(15..=360),
                (true, 0..=69) => rng.gen_range(2..=30),
                (true, 70..=94) => rng.gen_range(30..=90),
                (true, _) => rng.gen_range(90..=180),
            };
            let duration = minutes * MINUTE + rng.gen_range(0..MINUTE);
            if full && self.budget_left(m, s) < duration {
                full = false;
            }
            if full {
                self.spend(m, s, duration);
            }
            let month = &self.months[m];
            let span = (month.end - month.start).num_seconds() - duration - HOUR;
            let start = month.start + secs(rng.gen_range(0..span));
            self.outage(s, start, start + secs(duration), full);
        }
    }

    fn maintenance_month(&mut self, m: usize) {
        let mut rng = self.rng(STREAM_MAINTENANCE);
        rng.set_word_pos(m as u128 * (1 << 40));
        for _ in 0..rng.gen_range(WINDOWS_PER_MONTH_MIN..=WINDOWS_PER_MONTH_MAX) {
            let k = weighted(&mut rng, &self.services, |s| {
                1 + 2 * u32::from(s.availability.is_some())
            });
            let s = self.services[k];
            if self.long_outage_near(m, s.id) {
                continue;
            }
            let (start, end) = self.window_slot(&mut rng, m);
            let notice = rng.gen_range(WINDOW_NOTICE_DAYS_MIN..=WINDOW_NOTICE_DAYS_MAX);
            let earliest = self.months[0].start + Duration::hours(8);
            let announced = local(local_date(start) - Duration::days(notice), 9 * 60).max(earliest)
                + secs(rng.gen_range(0..6 * HOUR));
            self.window(&mut rng, m, s, announced, (start, end));
        }
    }

    /// A maintenance slot in month `m`: a weekday evening (sometimes past
    /// midnight) or a Saturday morning, from the 8th (14th in the first
    /// month, to leave room for notice) to the 26th.
    fn window_slot(&self, rng: &mut ChaCha8Rng, m: usize) -> (Instant, Instant) {
        let first_day = if m == 0 { 14 } else { 8 };
        let mut date = self.months[m].first_day + Duration::days(rng.gen_range(first_day..=20) - 1);
        let saturday = rng.gen_bool(0.3);
        let wanted = |d: NaiveDate| match saturday {
            true => d.weekday() == Weekday::Sat,
            false => matches!(d.weekday(), Weekday::Tue | Weekday::Wed | Weekday::Thu),
        };
        while !wanted(date) {
            date += Duration::days(1);
        }
        let (from, minutes) = match (saturday, rng.gen_range(0..3)) {
            (true, _) => (6 * 60, 4 * 60),
            (false, 0) => (21 * 60, 4 * 60),
            (false, _) => (20 * 60, 3 * 60),
        };
        let start = local(date, from);
        (start, start + Duration::minutes(minutes))
    }

    /// Writes a window announced at `announced`, with its random fate:
    /// cancelled, moved a week, or kept (and maybe the service down in it).
    fn window(
        &mut self,
        rng: &mut ChaCha8Rng,
        m: usize,
        s: &'static ServiceSpec,
        announced: Instant,
        slot: (Instant, Instant),
    ) {
        let id = self.window_id(m);
        self.schedule(announced, s, &id, slot);
        let lead = (slot.0 - announced).num_seconds();
        if rng.gen_bool(WINDOW_CANCEL_SHARE) {
            let at = announced + secs(rng.gen_range(HOUR..lead - HOUR));
            let data = json!({"service": s.id, "window_id": id});
            self.emit(at, Source::Topdesk, "maintenance.cancelled", data);
            return;
        }
        let mut slot = slot;
        if rng.gen_bool(WINDOW_RESCHEDULE_SHARE) {
            slot = (slot.0 + Duration::days(7), slot.1 + Duration::days(7));
            self.schedule(announced + Duration::days(1), s, &id, slot);
        }
        if rng.gen_bool(WINDOW_OUTAGE_SHARE) {
            let start = slot.0 + secs(rng.gen_range(2 * MINUTE..15 * MINUTE));
            let end = slot.1 - secs(rng.gen_range(5 * MINUTE..30 * MINUTE));
            self.outage(s, start, end, true);
        }
    }

    /// Whether a planned long outage of `service` falls in month `m` or the
    /// next (a window moved a week could reach it): a window over it would
    /// exclude the downtime the outage is there to cause.
    fn long_outage_near(&self, m: usize, service: &str) -> bool {
        self.plan(&PLAN).iter().any(|(pm, p)| {
            matches!(p, Planned::LongOutage { service: s, .. } if *s == service)
                && (*pm == m || *pm == m + 1)
        })
    }

    fn window_id(&mut self, m: usize) -> String {
        let n = self.window_seq.entry(m).or_insert(0);
        *n += 1;
        format!("C{}-{:03}", self.months[m].first_day.format("%y%m"), n)
    }

    fn schedule(&mut self, at: Instant, s: &ServiceSpec, id: &str, slot: (Instant, Instant)) {
        let data = json!({"service": s.id, "window_id": id,
                          "start": fmt_local(slot.0), "end": fmt_local(slot.1)});
        self.emit(at, Source::Topdesk, "maintenance.scheduled", data);
    }
}

// ---------------------------------------------------------------------------
// Planned patterns

impl TenantGen<'_> {
    fn planned(&mut self) {
        let mut rng = self.rng(STREAM_PLANNED);
        for (m, p) in self.plan(&PLAN) {
            match *p {
                Planned::LongOutage { service, minutes } => {
                    self.long_outage(&mut rng, m, service, minutes)
                }
                Planned::CrossMonthOutage { service, minutes } => {
                    self.cross_month_outage(&mut rng, m, service, minutes)
                }
                Planned::ShortNotice {
                    service,
                    notice_hours,
                } => self.short_notice(&mut rng, m, service, notice_hours),
                Planned::Incident {
                    service,
                    priority,
                    outcome,
                } => {
                    let s = self.service(service);
                    let opened = self.office_time(&mut rng, m, (5, 15), 2 * HOUR);
                    self.incident(&mut rng, s, priority, opened, outcome);
                }
                _ => {}
            }
        }
    }

    fn long_outage(&mut self, rng: &mut ChaCha8Rng, m: usize, service: &str, minutes: i64) {
        let s = self.service(service);
        let day = self.months[m].first_day + Duration::days(rng.gen_range(9..=18));
        let start = local(day, 20 * 60 + rng.gen_range(0..120)) + secs(rng.gen_range(0..MINUTE));
        let duration = minutes * MINUTE + rng.gen_range(0..10 * MINUTE);
        self.spend(m, s, duration);
        self.outage(s, start, start + secs(duration), true);
        self.design_in(
            m,
            "availability_below_target",
            self.months[m].end,
            Some(service),
            None,
        );
    }

    fn cross_month_outage(&mut self, rng: &mut ChaCha8Rng, m: usize, service: &str, minutes: i64) {
        let s = self.service(service);
        let end_of_month = self.months[m].end;
        let start = end_of_month - secs(rng.gen_range(40 * MINUTE..80 * MINUTE));
        let end = start + secs(minutes * MINUTE);
        self.spend(m, s, minutes * MINUTE);
        if m + 1 < self.months.len() {
            self.spend(m + 1, s, minutes * MINUTE);
        }
        self.outage(s, start, end, true);
    }

    fn short_notice(&mut self, rng: &mut ChaCha8Rng, m: usize, service: &str, notice_hours: i64) {
        let s = self.service(service);
        let (start, end) = self.window_slot(rng, m);
        let announced = start - Duration::hours(notice_hours) + secs(rng.gen_range(0..2 * HOUR));
        let id = self.window_id(m);
        self.schedule(announced, s, &id, (start, end));
        let down = (start + Duration::minutes(5), start + Duration::minutes(45));
        self.spend(m, s, (down.1 - down.0).num_seconds());
        self.outage(s, down.0, down.1, true);
        self.design("maintenance_short_notice", start, Some(service), Some(&id));
    }
}

// ---------------------------------------------------------------------------
// Incidents

/// The resolution clock of an incident being written: where it stands in
/// time, the calendar seconds it has accrued, and when it crossed its
/// target (SEMANTICS.md section 7).
struct Clock {
    t: Instant,
    accrued: i64,
    priority: usize,
    targets: Targets,
    breach: Option<Instant>,
}

impl Clock {
    /// P1 runs round the clock, the others in office hours.
    fn advance(&self, from: Instant, amount: i64) -> Instant {
        match self.priority {
            0 => from + secs(amount),
            _ => Office::advance(from, amount),
        }
    }

    fn resolution_target(&self) -> i64 {
        self.targets[self.priority].1 * MINUTE
    }

    /// Lets `amount` calendar seconds accrue.
    fn run(&mut self, amount: i64) {
        let target = self.resolution_target();
        if self.breach.is_none() && self.accrued + amount >= target {
            self.breach = Some(self.advance(self.t, target - self.accrued));
        }
        self.t = self.advance(self.t, amount);
        self.accrued += amount;
    }
}

/// The calendar seconds an incident spends before its response and in all,
/// and the priority it may be changed to.
struct IncidentShape {
    response: i64,
    total: i64,
    new_priority: Option<usize>,
    hold: bool,
    reopen: bool,
}

fn incident_shape(rng: &mut ChaCha8Rng, t: &Targets, p: usize, outcome: Outcome) -> IncidentShape {
    let (resp, res) = (t[p].0 * MINUTE, t[p].1 * MINUTE);
    let hold = rng.gen_bool(INCIDENT_HOLD_SHARE);
    let f = |rng: &mut ChaCha8Rng, a: f64, b: f64| rng.gen_range(a..b);
    match outcome {
        Outcome::Met => {
            let new_priority =
                (p >= 1 && rng.gen_bool(INCIDENT_PRIORITY_CHANGE_SHARE)).then(|| match p {
                    1 => 2,
                    3 => 2,
                    _ => [1, 3][rng.gen_range(0..2)],
                });
            let least = new_priority.map_or(res, |q| res.min(t[q].1 * MINUTE));
            let total = (least as f64 * f(rng, 0.25, MET_RESOLUTION_SHARE_MAX)) as i64;
            let response = (resp as f64 * f(rng, 0.1, MET_RESPONSE_SHARE_MAX)) as i64;
            IncidentShape {
                response: response.min(total * 3 / 10).max(MINUTE),
                total,
                new_priority,
                hold,
                reopen: rng.gen_bool(INCIDENT_REOPEN_SHARE),
            }
        }
        Outcome::ResponseBreach => {
            let response = (resp as f64 * f(rng, 1.3, 2.5)) as i64;
            let ceiling = (res as f64 * MET_RESOLUTION_SHARE_MAX) as i64;
            let total = response + ((ceiling - response) as f64 * f(rng, 0.2, 0.5)) as i64;
            IncidentShape {
                response,
                total,
                new_priority: None,
                hold,
                reopen: false,
            }
        }
        Outcome::ResolutionBreach => IncidentShape {
            response: (resp as f64 * f(rng, 0.2, 0.7)) as i64,
            total: (res as f64 * f(rng, 1.2, 1.6)) as i64,
            new_priority: None,
            hold,
            reopen: false,
        },
    }
}

/// Splits `amount` into `n` random parts of at least a minute each.
fn split(rng: &mut ChaCha8Rng, amount: i64, n: usize) -> Vec<i64> {
    let weights: Vec<i64> = (0..n).map(|_| rng.gen_range(1..=4)).collect();
    let sum: i64 = weights.iter().sum();
    let mut parts: Vec<i64> = weights
        .iter()
        .map(|w| (amount * w / sum).max(MINUTE))
        .collect();
    let rest = amount - parts.iter().sum::<i64>();
    if let Some(last) = parts.last_mut() {
        *last = (*last + rest).max(MINUTE);
    }
    parts
}

/// The events of one incident being written, in order.
struct Steps {
    id: String,
    list: Vec<(Instant, &'static str, Value)>,
}

impl Steps {
    fn push<const N: usize>(&mut self, kind: &'static str, at: Instant, extra: [(&str, Value); N]) {
        let mut data = json!({ "incident_id": self.id });
        for (k, v) in extra {
            data[k] = v;
        }
        self.list.push((at, kind, data));
    }
}

/// Writes an incident's life after its opening: the response, then maybe a
/// priority change and a hold, the resolution, and maybe a reopening.
fn lifecycle(rng: &mut ChaCha8Rng, clock: &mut Clock, shape: &IncidentShape, steps: &mut Steps) {
    clock.run(shape.response);
    steps.push("incident.responded", clock.t, []);
    let runs = 1
        + usize::from(shape.new_priority.is_some())
        + usize::from(shape.hold)
        + usize::from(shape.reopen);
    let mut parts = split(rng, shape.total - shape.response, runs).into_iter();
    let mut next = || parts.next().unwrap_or(MINUTE);
    if let Some(q) = shape.new_priority {
        clock.run(next());
        clock.priority = q;
        let priority = json!(format!("P{}", q + 1));
        steps.push(
            "incident.priority_changed",
            clock.t,
            [("priority", priority)],
        );
    }
    if shape.hold {
        clock.run(next());
        let reason = HOLD_REASONS[rng.gen_range(0..HOLD_REASONS.len())];
        steps.push("incident.on_hold", clock.t, [("reason", json!(reason))]);
        clock.t += secs(rng.gen_range(2 * HOUR..3 * DAY));
        steps.push("incident.resumed", clock.t, []);
    }
    clock.run(next());
    steps.push("incident.resolved", clock.t, []);
    if shape.reopen {
        clock.t += secs(rng.gen_range(3 * HOUR..2 * DAY));
        steps.push("incident.reopened", clock.t, []);
        clock.run(next());
        steps.push("incident.resolved", clock.t, []);
    }
}

impl TenantGen<'_> {
    fn incidents_month(&mut self, m: usize) {
        let mut rng = self.rng(STREAM_INCIDENTS);
        rng.set_word_pos(m as u128 * (1 << 40));
        let base = self.spec.incidents_per_month as i64 + rng.gen_range(-1..=1);
        for _ in 0..base.max(1) as u32 * self.config.scale {
            let p = weighted(&mut rng, &[0usize, 1, 2, 3], |p| PRIORITY_MIX_PCT[*p]);
            let k = weighted(&mut rng, &self.services, |s| s.incident_weight);
            let s = self.services[k];
            let opened = match p == 0 || rng.gen_bool(INCIDENT_AFTER_HOURS_SHARE) {
                true => {
                    let month = &self.months[m];
                    let span = (month.end - month.start).num_seconds() - HOUR;
                    month.start + secs(rng.gen_range(0..span))
                }
                false => self.office_time(&mut rng, m, (1, 31), 10 * MINUTE),
            };
            self.incident(&mut rng, s, p, opened, Outcome::Met);
        }
    }

    fn incident_id(&mut self, opened: Instant) -> String {
        let m = self.month_of(opened).unwrap_or(0);
        let n = self.incident_seq.entry(m).or_insert(0);
        *n += 1;
        format!("I{}-{:03}", self.months[m].first_day.format("%y%m"), n)
    }

    fn incident(
        &mut self,
        rng: &mut ChaCha8Rng,
        s: &'static ServiceSpec,
        p: usize,
        opened: Instant,
        outcome: Outcome,
    ) {
        // A service without an incident guarantee still gets tickets,
        // handled at the usual pace; they are counted, never evaluated.
        let targets = *s.targets.unwrap_or(&STANDARD);
        let shape = incident_shape(rng, &targets, p, outcome);
        let id = self.incident_id(opened);
        let mut clock = Clock {
            t: opened,
            accrued: 0,
            priority: p,
            targets,
            breach: None,
        };
        let mut steps = Steps {
            id: id.clone(),
            list: Vec::new(),
        };
        let priority = json!(format!("P{}", p + 1));
        steps.push(
            "incident.opened",
            opened,
            [("service", json!(s.id)), ("priority", priority)],
        );
        lifecycle(rng, &mut clock, &shape, &mut steps);
        for (at, kind, data) in steps.list {
            self.emit(at, Source::Topdesk, kind, data);
        }
        self.incident_deviation(&id, s, p, opened, outcome, &clock);
    }

    fn incident_deviation(
        &mut self,
        id: &str,
        s: &ServiceSpec,
        p: usize,
        opened: Instant,
        outcome: Outcome,
        clock: &Clock,
    ) {
        let priority = format!("P{}", p + 1);
        match outcome {
            Outcome::Met => {}
            Outcome::ResponseBreach => {
                let probe = Clock {
                    t: opened,
                    accrued: 0,
                    priority: p,
                    targets: clock.targets,
                    breach: None,
                };
                let deadline = probe.advance(opened, clock.targets[p].0 * MINUTE);
                self.design_incident("response_breach", deadline, s.id, id, &priority);
            }
            Outcome::ResolutionBreach => {
                if let Some(at) = clock.breach {
                    self.design_incident("resolution_breach", at, s.id, id, &priority);
                }
            }
        }
    }

    fn design_incident(
        &mut self,
        kind: &'static str,
        at: Instant,
        service: &str,
        id: &str,
        priority: &str,
    ) {
        let before = self.designed.len();
        self.design(kind, at, Some(service), Some(id));
        if let Some(d) = self.designed.get_mut(before) {
            d.priority = Some(priority.to_string());
        }
    }
}

// ---------------------------------------------------------------------------
// Follow-up: causes and corrective actions

/// What the provider's problem management writes for a deviation of a kind:
/// the cause, and for the kinds that get a corrective action its title and
/// owner.
fn cause_of(kind: &str) -> (&'static str, Option<(&'static str, &'static str)>) {
    match kind {
        "availability_below_target" => (
            "Ein kontrollar i lagringssystemet (SAN) svikta, og failover tok lengre tid enn planlagt.",
            Some(("Byte kontrollarane og test failover kvart kvartal", "Drift, IKT Nordhordland")),
        ),
        "resolution_breach" => (
            "Feilen kravde hjelp frå underleverandøren, som ikkje svara innan fristen.",
            Some(("Avtale om responstid med underleverandøren", "Tenesteleiar")),
        ),
        "response_breach" => (
            "Saka vart liggjande i feil kø og vart ikkje plukka opp i tide.",
            Some(("Gå gjennom køfordelinga i TOPdesk", "Servicedesk")),
        ),
        "maintenance_short_notice" => (
            "Ei kritisk tryggingsoppdatering måtte installerast på kort varsel.",
            Some(("Rutine for varsling av hastevedlikehald", "Endringsleiar")),
        ),
        "operations_meeting_missing" => (
            "Driftsmøtet vart avlyst på grunn av sjukdom og ikkje flytta.",
            None,
        ),
        "steering_meeting_missing" => (
            "Styringsgruppa fann ikkje ei felles møtetid i perioden.",
            None,
        ),
        "minutes_missing" => ("Referatet vart ikkje ferdigskrive før fristen.", None),
        _ => ("Rolla stod tom etter at innehavaren slutta.", None),
    }
}

impl TenantGen<'_> {
    /// Explains most designed deviations and opens corrective actions for
    /// the provider's breaches of the guaranteed levels: closed three weeks
    /// later, but
    /// the first tenant's first action stays open (and so overdue once
    /// due), and one whose closing would fall after the history stays open.
    fn follow_up(&mut self) {
        let designed = self.designed.clone();
        let mut actions = 0;
        for (n, d) in designed.iter().enumerate() {
            if n % UNEXPLAINED_EVERY == UNEXPLAINED_EVERY - 1 {
                continue;
            }
            let Ok(at) = DateTime::parse_from_rfc3339(&d.at) else {
                continue;
            };
            let explained = at.with_timezone(&Utc) + Duration::days(EXPLAIN_AFTER_DAYS);
            let id = deviation_id(d);
            let (cause, action) = cause_of(d.kind);
            let mut data = json!({"deviation_id": id, "cause": cause});
            if let Some((title, owner)) = action {
                actions += 1;
                let action_id = format!("prb-{}-{actions:03}", self.spec.id);
                data["action_id"] = json!(action_id);
                let due = explained + Duration::days(ACTION_DUE_DAYS);
                let opened = json!({"action_id": action_id, "title": title, "owner": owner,
                    "due": fmt_utc(due), "deviation_ids": [id]});
                self.emit(explained, Source::Problems, "action.opened", opened);
                let stays_open = self.index == 0 && actions == 1;
                if !stays_open {
                    let closed = explained + Duration::days(ACTION_CLOSED_DAYS);
                    let outcome = json!({"action_id": action_id,
                        "outcome": "Gjennomført; ingen nye hendingar av same slag sidan."});
                    self.emit(closed, Source::Problems, "action.closed", outcome);
                }
            }
            self.emit(explained, Source::Problems, "deviation.explained", data);
        }
    }
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::OnceLock;

    /// The 19 event types the demo's producers send (all but
    /// `report.issued`, `report.acknowledged`, which answer issued reports,
    /// and `agreement.approved`).
    const TYPES: [&str; 19] = [
        "agreement.published",
        "outage.started",
        "outage.ended",
        "maintenance.scheduled",
        "maintenance.cancelled",
        "incident.opened",
        "incident.responded",
        "incident.on_hold",
        "incident.resumed",
        "incident.priority_changed",
        "incident.resolved",
        "incident.reopened",
        "meeting.held",
        "minutes.filed",
        "contact.assigned",
        "contact.vacated",
        "deviation.explained",
        "action.opened",
        "action.closed",
    ];

    fn default_history() -> &'static DemoHistory {
        static HISTORY: OnceLock<DemoHistory> = OnceLock::new();
        HISTORY.get_or_init(|| generate(&DemoConfig::default()))
    }

    fn str_of<'v>(v: &'v Value, field: &str) -> &'v str {
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is a string in {v}"))
    }

    fn instant(text: &str) -> Instant {
        let t = DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        t.with_timezone(&Utc)
    }

    fn count(h: &DemoHistory, kind: &str) -> usize {
        h.events.iter().filter(|e| e["type"] == kind).count()
    }

    #[test]
    fn same_config_gives_same_history_and_another_seed_differs() {
        let config = DemoConfig::default();
        assert_eq!(generate(&config), *default_history());
        let other = generate(&DemoConfig { seed: 1, ..config });
        assert_ne!(other.events, default_history().events);
    }

    #[test]
    fn tenants_and_periods() {
        let h = default_history();
        assert_eq!(h.tenants.len(), 8);
        assert_eq!(h.periods.first().map(String::as_str), Some("2025-11"));
        assert_eq!(h.periods.last().map(String::as_str), Some("2026-10"));
        for t in &h.tenants {
            let ok = t
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            assert!(ok && !t.starts_with('-') && t.len() <= 63, "tenant id {t}");
            assert!(!tenant_display_name(t).is_empty(), "{t} has a name");
        }
        assert_eq!(tenant_display_name("osteroy"), "Osterøy");
        assert_eq!(tenant_display_name("bergen"), "");
    }

    #[test]
    fn every_tenant_starts_with_its_agreement() {
        let h = default_history();
        for t in &h.tenants {
            let mut own = h.events.iter().filter(|e| e["tenant"] == t.as_str());
            let first = own.next().expect("every tenant has events");
            assert_eq!(first["type"], "agreement.published", "{t}: {first}");
            let published = instant(str_of(first, "time"));
            assert!(own.all(|e| instant(str_of(e, "time")) > published), "{t}");
        }
    }

    #[test]
    fn ids_are_unique_per_source() {
        let mut seen = BTreeSet::new();
        for e in &default_history().events {
            let key = (str_of(e, "source"), str_of(e, "id"));
            assert!(seen.insert(key), "duplicate {key:?}");
            assert!(key.1.len() <= 128 && key.1.bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn times_have_offsets_are_sorted_and_in_the_past() {
        let limit = instant("2026-11-28T00:00:00Z");
        let mut last = None;
        for e in &default_history().events {
            let text = str_of(e, "time");
            assert!(
                text.ends_with('Z') || text.ends_with(":00"),
                "offset in {text}"
            );
            let t = instant(text);
            assert!(t < limit, "{text} is not before {limit}");
            assert!(!matches!(last, Some(l) if l > t), "{text} after {last:?}");
            last = Some(t);
            if e["type"] == "maintenance.scheduled" {
                let (s, end) = (
                    instant(str_of(&e["data"], "start")),
                    instant(str_of(&e["data"], "end")),
                );
                assert!(t < s && s < end, "{e}");
            }
        }
    }

    #[test]
    fn envelope_and_data_fields_are_exactly_those_of_the_spec() {
        let expected = |kind: &str, has_service: bool, has_action: bool| -> Vec<&'static str> {
            match kind {
                "agreement.published" => vec!["agreement"],
                "outage.started" => vec!["impact", "outage_id", "service"],
                "outage.ended" => vec!["outage_id", "service"],
                "maintenance.scheduled" => vec!["end", "service", "start", "window_id"],
                "maintenance.cancelled" => vec!["service", "window_id"],
                "incident.opened" => vec!["incident_id", "priority", "service"],
                "incident.on_hold" => vec!["incident_id", "reason"],
                "incident.priority_changed" => vec!["incident_id", "priority"],
                "meeting.held" => vec!["kind", "meeting_id"],
                "minutes.filed" => vec!["digest", "meeting_id"],
                "contact.assigned" if has_service => vec!["person", "role", "service"],
                "contact.assigned" => vec!["person", "role"],
                "contact.vacated" if has_service => vec!["role", "service"],
                "contact.vacated" => vec!["role"],
                "deviation.explained" if has_action => vec!["action_id", "cause", "deviation_id"],
                "deviation.explained" => vec!["cause", "deviation_id"],
                "action.opened" => vec!["action_id", "deviation_ids", "due", "owner", "title"],
                "action.closed" => vec!["action_id", "outcome"],
                _ => vec!["incident_id"],
            }
        };
        let envelope = [
            "data",
            "datacontenttype",
            "id",
            "source",
            "specversion",
            "tenant",
            "time",
            "type",
        ];
        for e in &default_history().events {
            // Sorted here, so the test holds whatever serde_json's map order.
            let sorted = |o: &Map<String, Value>| {
                let mut keys: Vec<String> = o.keys().cloned().collect();
                keys.sort();
                keys
            };
            assert_eq!(sorted(e.as_object().expect("object")), envelope, "{e}");
            let data = e["data"].as_object().expect("data is an object");
            let keys = sorted(data);
            let kind = str_of(e, "type");
            let (has_service, has_action) =
                (data.contains_key("service"), data.contains_key("action_id"));
            assert_eq!(keys, expected(kind, has_service, has_action), "{e}");
            if kind == "minutes.filed" {
                let digest = str_of(&e["data"], "digest");
                assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
            }
        }
    }

    #[test]
    fn every_event_type_occurs() {
        let h = default_history();
        for kind in TYPES {
            assert!(count(h, kind) > 0, "no {kind}");
        }
        assert_eq!(
            count(h, "agreement.published"),
            9,
            "one tenant has two versions"
        );
    }

    #[test]
    fn agreements_have_the_shape_of_section_4() {
        for e in default_history()
            .events
            .iter()
            .filter(|e| e["type"] == "agreement.published")
        {
            let a = &e["data"]["agreement"];
            assert!(instant(str_of(a, "effective_from")) > instant(str_of(e, "time")));
            let services = a["services"].as_array().expect("services");
            assert!((9..=11).contains(&services.len()));
            for s in services {
                if let Some(t) = s["availability"]["target_pct"].as_str() {
                    let v: f64 = t.parse().expect("decimal target");
                    assert!(v > 0.0 && v <= 100.0);
                }
                if s["incidents"].is_null() {
                    continue;
                }
                for p in ["P1", "P2", "P3", "P4"] {
                    let t = &s["incidents"]["targets"][p];
                    assert!(t["response_min"].as_i64() >= Some(1), "{p} of {s}");
                    assert!(t["resolution_min"].as_i64() >= Some(1), "{p} of {s}");
                }
            }
        }
    }

    /// Every service named in an event exists in the tenant's agreement.
    #[test]
    fn events_name_services_of_the_agreement() {
        let h = default_history();
        let mut offered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for e in h
            .events
            .iter()
            .filter(|e| e["type"] == "agreement.published")
        {
            let set = offered.entry(str_of(e, "tenant")).or_default();
            for s in e["data"]["agreement"]["services"]
                .as_array()
                .expect("services")
            {
                set.insert(str_of(s, "id"));
            }
        }
        for e in &h.events {
            if let Some(s) = e["data"]["service"].as_str() {
                assert!(offered[str_of(e, "tenant")].contains(s), "{e}");
            }
        }
    }

    #[test]
    fn volume_at_scale_one() {
        let h = default_history();
        for t in &h.tenants {
            let n = h
                .events
                .iter()
                .filter(|e| e["tenant"] == t.as_str())
                .count();
            assert!((300..=800).contains(&n), "{t}: {n} events");
        }
        assert!(
            (3000..=6000).contains(&h.events.len()),
            "{}",
            h.events.len()
        );
    }

    #[test]
    fn scale_multiplies_incidents_and_outages() {
        let config = DemoConfig {
            tenants: 2,
            months: 4,
            ..DemoConfig::default()
        };
        let one = generate(&config);
        let three = generate(&DemoConfig { scale: 3, ..config });
        let ratio = |kind| count(&three, kind) as f64 / count(&one, kind) as f64;
        let incidents = ratio("incident.opened");
        assert!((2.8..=3.2).contains(&incidents), "incidents x{incidents}");
        // Outages in maintenance windows and planned ones do not scale.
        let outages = ratio("outage.started");
        assert!((2.2..=3.2).contains(&outages), "outages x{outages}");
        let mut seen = BTreeSet::new();
        assert!(three
            .events
            .iter()
            .all(|e| seen.insert((str_of(e, "source"), str_of(e, "id")))));
    }

    #[test]
    fn small_configs_still_hold_every_planned_kind() {
        let config = DemoConfig {
            tenants: 1,
            months: 12,
            ..DemoConfig::default()
        };
        let kinds: BTreeSet<&str> = designed_deviations(&config)
            .iter()
            .map(|d| d.kind)
            .collect();
        assert_eq!(kinds.len(), 8, "{kinds:?}");
        let tiny = generate(&DemoConfig {
            tenants: 1,
            months: 1,
            ..config
        });
        assert_eq!(tiny.periods, ["2025-11"]);
        assert_eq!(tiny.events[0]["type"], "agreement.published");
    }

    #[test]
    fn designed_deviations_cover_every_kind() {
        let designed = designed_deviations(&DemoConfig::default());
        let kinds: BTreeSet<&str> = designed.iter().map(|d| d.kind).collect();
        let all = [
            "availability_below_target",
            "contact_vacant",
            "maintenance_short_notice",
            "minutes_missing",
            "operations_meeting_missing",
            "resolution_breach",
            "response_breach",
            "steering_meeting_missing",
        ];
        assert_eq!(kinds, all.into_iter().collect());
        for d in &designed {
            println!("{d:?}");
        }
    }

    #[test]
    fn planned_services_are_offered_to_every_tenant() {
        for (_, _, p) in PLAN.iter().chain(VACANCIES.iter()) {
            let service = match p {
                Planned::LongOutage { service, .. }
                | Planned::CrossMonthOutage { service, .. }
                | Planned::ShortNotice { service, .. }
                | Planned::Incident { service, .. } => Some(*service),
                Planned::Vacancy { service, .. } => *service,
                _ => None,
            };
            if let Some(id) = service {
                assert!(SERVICES.iter().any(|s| s.id == id && !s.large_only), "{id}");
            }
        }
    }

    /// The demo's holiday calendar is the engine's: Easter for every
    /// year of the Gregorian calendar's first millennium, and every day of
    /// the years around the demo's.
    #[test]
    fn calendar_agrees_with_the_engine() {
        for year in 1583..=2600 {
            assert_eq!(
                easter(year),
                projector::calendar::easter_sunday(year),
                "{year}"
            );
        }
        let mut day = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        while day.year() < 2035 {
            assert_eq!(
                is_holiday(day),
                projector::calendar::is_norwegian_holiday(day),
                "{day}"
            );
            day = day.succ_opt().expect("date");
        }
    }

    #[test]
    fn office_calendar() {
        assert_eq!(
            easter(2026),
            NaiveDate::from_ymd_opt(2026, 4, 5).expect("date")
        );
        assert_eq!(
            easter(2025),
            NaiveDate::from_ymd_opt(2025, 4, 20).expect("date")
        );
        let date = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        assert!(!Office::is_workday(date(4, 2)), "Maundy Thursday");
        assert!(!Office::is_workday(date(5, 14)), "Ascension Day");
        assert!(Office::is_workday(date(4, 7)));
        // Friday 15:00 plus two office hours is Monday 08:30 (CET).
        let friday = instant("2026-01-16T15:00:00+01:00");
        assert_eq!(
            Office::advance(friday, 2 * HOUR),
            instant("2026-01-19T08:30:00+01:00")
        );
        // Spring forward: 02:30 does not exist and means 03:00 (CEST).
        assert_eq!(
            local(date(3, 29), 150),
            instant("2026-03-29T03:00:00+02:00")
        );
    }

    /// The deviations a naive reading of SEMANTICS.md finds in the history
    /// are exactly the designed ones: random events never breach by chance.
    #[test]
    fn designed_deviations_are_all_the_deviations() {
        for config in [
            DemoConfig::default(),
            DemoConfig {
                seed: 7,
                scale: 2,
                ..DemoConfig::default()
            },
        ] {
            let history = generate(&config);
            let mut found = reference::deviations(&history);
            found.sort();
            let mut designed: Vec<reference::Found> = designed_deviations(&config)
                .into_iter()
                .map(|d| (d.tenant, d.period, d.kind.to_string(), d.service, d.subject))
                .collect();
            designed.sort();
            assert_eq!(found, designed, "seed {}", config.seed);
        }
    }

    /// Every event passes the schemas crate's validation.
    #[test]
    fn every_event_validates() {
        for e in &default_history().events {
            if let Err(errors) = schemas::Event::from_json(e) {
                panic!("{e}\n{errors:?}");
            }
        }
    }
}

/// A naive evaluator of the rules of SEMANTICS.md sections 6-9, enough for
/// the demo history: interval sweeps and a calendar clock found by binary
/// search, sharing nothing with the generator but the office calendar's
/// day test.
#[cfg(test)]
mod reference {
    use super::*;

    /// (tenant, period, kind, service, subject).
    pub type Found = (String, String, String, Option<String>, Option<String>);

    type Span = (i64, i64);

    fn ts(v: &Value) -> i64 {
        let text = v
            .as_str()
            .unwrap_or_else(|| panic!("instant expected: {v}"));
        let t = DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        t.timestamp()
    }

    fn utc(t: i64) -> Instant {
        DateTime::from_timestamp(t, 0).expect("instant in range")
    }

    fn office_spans(from: i64, to: i64) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut d = local_date(utc(from));
        while local(d, 0).timestamp() < to {
            if Office::is_workday(d) {
                let open = local(d, OFFICE_FROM_MIN).timestamp().max(from);
                let close = local(d, OFFICE_TO_MIN).timestamp().min(to);
                if open < close {
                    spans.push((open, close));
                }
            }
            d += Duration::days(1);
        }
        spans
    }

    fn calendar_spans(calendar: &str, from: i64, to: i64) -> Vec<Span> {
        match calendar {
            "24x7" => vec![(from, to)],
            _ => office_spans(from, to),
        }
    }

    fn clock(calendar: &str, from: i64, to: i64) -> i64 {
        calendar_spans(calendar, from, to)
            .iter()
            .map(|(a, b)| b - a)
            .sum()
    }

    /// The first instant in [from, to] at which `need` calendar seconds have
    /// accrued since `from`.
    fn crossing(calendar: &str, from: i64, to: i64, need: i64) -> Option<i64> {
        if clock(calendar, from, to) < need {
            return None;
        }
        let (mut lo, mut hi) = (from, to);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match clock(calendar, from, mid) >= need {
                true => hi = mid,
                false => lo = mid + 1,
            }
        }
        Some(lo)
    }

    fn contains(spans: &[Span], t: i64) -> bool {
        spans.iter().any(|&(a, b)| a <= t && t < b)
    }

    /// (|C|, |C ∩ M|, |(O ∩ C) − M|) by a sweep over all boundaries.
    fn measure(c: &[Span], m: &[Span], o: &[Span]) -> (i64, i64, i64) {
        let mut points: Vec<i64> = [c, m, o]
            .concat()
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .collect();
        points.sort_unstable();
        points.dedup();
        let (mut window, mut excluded, mut down) = (0, 0, 0);
        for w in points.windows(2) {
            let (a, len) = (w[0], w[1] - w[0]);
            if contains(c, a) {
                window += len;
                match (contains(m, a), contains(o, a)) {
                    (true, _) => excluded += len,
                    (false, true) => down += len,
                    _ => {}
                }
            }
        }
        (window, excluded, down)
    }

    struct Tenant<'h> {
        id: String,
        events: Vec<&'h Value>,
        versions: Vec<(i64, &'h Value)>,
        periods: Vec<(String, i64, i64)>,
        found: Vec<Found>,
    }

    pub fn deviations(h: &DemoHistory) -> Vec<Found> {
        let mut all = Vec::new();
        for id in &h.tenants {
            let events: Vec<&Value> = h
                .events
                .iter()
                .filter(|e| e["tenant"] == id.as_str())
                .collect();
            let versions = events
                .iter()
                .filter(|e| e["type"] == "agreement.published")
                .map(|e| {
                    (
                        ts(&e["data"]["agreement"]["effective_from"]),
                        &e["data"]["agreement"],
                    )
                })
                .collect();
            let periods = h
                .periods
                .iter()
                .map(|p| {
                    let (y, m) = (
                        p[..4].parse().expect("year"),
                        p[5..].parse().expect("month"),
                    );
                    let first = |y, m| {
                        local(NaiveDate::from_ymd_opt(y, m, 1).expect("date"), 0).timestamp()
                    };
                    let next = if m == 12 {
                        first(y + 1, 1)
                    } else {
                        first(y, m + 1)
                    };
                    (p.clone(), first(y, m), next)
                })
                .collect();
            let mut t = Tenant {
                id: id.clone(),
                events,
                versions,
                periods,
                found: Vec::new(),
            };
            t.availability();
            t.incidents();
            t.governance();
            t.contacts();
            all.extend(t.found);
        }
        all
    }

    impl<'h> Tenant<'h> {
        fn version_at(&self, t: i64) -> &'h Value {
            self.versions
                .iter()
                .filter(|(from, _)| *from <= t)
                .max_by_key(|(from, _)| *from)
                .map(|(_, a)| *a)
                .expect("a version is in force")
        }

        fn period_of(&self, t: i64) -> Option<String> {
            self.periods
                .iter()
                .find(|(_, a, b)| *a <= t && t < *b)
                .map(|(p, _, _)| p.clone())
        }

        fn push(
            &mut self,
            period: Option<String>,
            kind: &str,
            service: Option<&str>,
            subject: Option<&str>,
        ) {
            if let Some(p) = period {
                let owned = |x: Option<&str>| x.map(str::to_string);
                self.found.push((
                    self.id.clone(),
                    p,
                    kind.to_string(),
                    owned(service),
                    owned(subject),
                ));
            }
        }

        fn of_type(&self, kind: &'h str) -> impl Iterator<Item = &'h Value> + '_ {
            self.events
                .iter()
                .copied()
                .filter(move |e| e["type"] == kind)
        }

        /// Windows by id: (service, latest schedule time, start, end, cancelled before start).
        fn windows(&self) -> BTreeMap<String, (String, i64, i64, i64, bool)> {
            let mut windows = BTreeMap::new();
            for e in &self.events {
                let d = &e["data"];
                let id = d["window_id"].as_str().unwrap_or_default().to_string();
                match e["type"].as_str() {
                    Some("maintenance.scheduled") => {
                        let service = d["service"].as_str().unwrap_or_default().to_string();
                        windows.insert(
                            id,
                            (
                                service,
                                ts(&e["time"]),
                                ts(&d["start"]),
                                ts(&d["end"]),
                                false,
                            ),
                        );
                    }
                    Some("maintenance.cancelled") => {
                        let w = windows.get_mut(&id).expect("cancel of a known window");
                        w.4 = ts(&e["time"]) < w.2;
                    }
                    _ => {}
                }
            }
            windows
        }

        fn full_outages(&self, service: &str) -> Vec<Span> {
            let mut open = BTreeMap::new();
            let mut spans = Vec::new();
            for e in &self.events {
                let d = &e["data"];
                if d["service"] != service {
                    continue;
                }
                match e["type"].as_str() {
                    Some("outage.started") if d["impact"] == "full" => {
                        open.insert(d["outage_id"].to_string(), ts(&e["time"]));
                    }
                    Some("outage.ended") => {
                        if let Some(start) = open.remove(&d["outage_id"].to_string()) {
                            spans.push((start, ts(&e["time"])));
                        }
                    }
                    _ => {}
                }
            }
            spans.extend(open.values().map(|&s| (s, i64::MAX / 2)));
            spans
        }

        fn availability(&mut self) {
            let windows = self.windows();
            for (label, start, end) in self.periods.clone() {
                let agreement = self.version_at(start);
                for s in agreement["services"].as_array().expect("services") {
                    let Some(target) = s["availability"]["target_pct"].as_str() else {
                        continue;
                    };
                    let id = s["id"].as_str().expect("id");
                    let notice = s["maintenance_notice_hours"].as_i64().unwrap_or(0) * HOUR;
                    let mine = windows.values().filter(|w| w.0 == id && !w.4);
                    let m: Vec<Span> = mine
                        .clone()
                        .filter(|w| w.1 <= w.2 - notice)
                        .map(|w| (w.2, w.3))
                        .collect();
                    for w in mine.filter(|w| w.1 > w.2 - notice && start <= w.2 && w.2 < end) {
                        let wid = windows
                            .iter()
                            .find(|(_, x)| *x == w)
                            .map(|(k, _)| k.as_str());
                        self.push(
                            Some(label.clone()),
                            "maintenance_short_notice",
                            Some(id),
                            wid,
                        );
                    }
                    let c = calendar_spans(
                        s["availability"]["calendar"].as_str().unwrap_or("24x7"),
                        start,
                        end,
                    );
                    let (window, excluded, down) = measure(&c, &m, &self.full_outages(id));
                    let milli: i64 =
                        (target.parse::<f64>().expect("target") * 1000.0).round() as i64;
                    if (window - excluded - down) * 100_000 < milli * (window - excluded) {
                        self.push(
                            Some(label.clone()),
                            "availability_below_target",
                            Some(id),
                            None,
                        );
                    }
                }
            }
        }

        fn incidents(&mut self) {
            let opened: Vec<&Value> = self.of_type("incident.opened").collect();
            for o in opened {
                let id = o["data"]["incident_id"].as_str().expect("id");
                let service = o["data"]["service"].as_str().expect("service");
                let agreement = self.version_at(ts(&o["time"]));
                let s = agreement["services"]
                    .as_array()
                    .expect("services")
                    .iter()
                    .find(|s| s["id"] == service);
                let Some(incidents) = s.map(|s| &s["incidents"]).filter(|i| !i.is_null()) else {
                    continue;
                };
                let history: Vec<&Value> = self
                    .events
                    .iter()
                    .copied()
                    .filter(|e| e["data"]["incident_id"] == id)
                    .collect();
                let (response, resolution) = evaluate(incidents, &history);
                for (kind, at) in [
                    ("response_breach", response),
                    ("resolution_breach", resolution),
                ] {
                    if let Some(at) = at {
                        self.push(self.period_of(at), kind, Some(service), Some(id));
                    }
                }
            }
        }

        fn governance(&mut self) {
            let earliest = self.versions.iter().map(|v| v.0).min().expect("a version");
            let meetings: Vec<(String, i64)> = self
                .of_type("meeting.held")
                .map(|e| {
                    (
                        e["data"]["kind"].as_str().expect("kind").to_string(),
                        ts(&e["time"]),
                    )
                })
                .collect();
            for (kind, every, name) in [
                ("operations", 2, "operations_meeting_missing"),
                ("steering", 1, "steering_meeting_missing"),
            ] {
                for i in (every - 1)..self.periods.len() {
                    let (from, to) = (self.periods[i + 1 - every].1, self.periods[i].2);
                    let held = meetings
                        .iter()
                        .any(|(k, t)| k == kind && from <= *t && *t < to);
                    if from >= earliest && !held {
                        self.push(Some(self.periods[i].0.clone()), name, None, None);
                    }
                }
            }
            let held: Vec<&Value> = self.of_type("meeting.held").collect();
            for m in held {
                let id = &m["data"]["meeting_id"];
                let due = ts(&m["time"]) + 14 * DAY;
                let filed = self
                    .of_type("minutes.filed")
                    .any(|f| f["data"]["meeting_id"] == *id && ts(&f["time"]) <= due);
                if !filed {
                    self.push(self.period_of(due), "minutes_missing", None, id.as_str());
                }
            }
        }

        fn contacts(&mut self) {
            for (label, start, end) in self.periods.clone() {
                let agreement = self.version_at(start);
                let mut roles: Vec<(String, Option<String>)> = REQUIRED_ROLES
                    .iter()
                    .map(|r| (r.to_string(), None))
                    .collect();
                for s in agreement["services"].as_array().expect("services") {
                    roles.push((
                        PER_SERVICE_ROLE.to_string(),
                        s["id"].as_str().map(str::to_string),
                    ));
                }
                for (role, service) in roles {
                    let mut held_since: Option<i64> = None;
                    let mut covered = 0;
                    for e in self.events.iter().filter(|e| {
                        e["data"]["role"] == role.as_str()
                            && e["data"]["service"].as_str() == service.as_deref()
                    }) {
                        let t = ts(&e["time"]);
                        match (e["type"].as_str(), held_since) {
                            (Some("contact.assigned"), None) => held_since = Some(t),
                            (Some("contact.vacated"), Some(since)) => {
                                covered += (t.min(end) - since.max(start)).max(0);
                                held_since = None;
                            }
                            _ => {}
                        }
                    }
                    if let Some(since) = held_since {
                        covered += (end - since.max(start)).max(0);
                    }
                    if covered < end - start {
                        self.push(
                            Some(label.clone()),
                            "contact_vacant",
                            service.as_deref(),
                            Some(&role),
                        );
                    }
                }
            }
        }
    }

    /// (response breach instant, resolution breach instant) of one incident.
    fn evaluate(incidents: &Value, history: &[&Value]) -> (Option<i64>, Option<i64>) {
        let calendar = |p: &str| {
            let t = &incidents["targets"][p];
            t["calendar"]
                .as_str()
                .or(incidents["calendar"].as_str())
                .unwrap_or("24x7")
                .to_string()
        };
        let target = |p: &str, field: &str| {
            incidents["targets"][p][field].as_i64().expect("target") * MINUTE
        };
        let mut p = history[0]["data"]["priority"]
            .as_str()
            .expect("priority")
            .to_string();
        let (mut t, mut running, mut resp, mut res) = (ts(&history[0]["time"]), true, 0, 0);
        let (mut responded, mut deadline, mut breach) = (None, None, None);
        let far = t + 400 * DAY;
        let ends = history[1..]
            .iter()
            .map(|e| (ts(&e["time"]), Some(*e)))
            .chain([(far, None)]);
        for (e, event) in ends {
            let cal = calendar(&p);
            if deadline.is_none() {
                deadline = crossing(&cal, t, e, target(&p, "response_min") - resp);
            }
            resp += clock(&cal, t, e);
            let resolving = event.is_some_and(|v| v["type"] == "incident.resolved");
            if running && breach.is_none() {
                let at = crossing(&cal, t, e, target(&p, "resolution_min") - res);
                breach = at.filter(|at| *at < e || !resolving);
                res += clock(&cal, t, e);
            }
            t = e;
            let Some(v) = event else { break };
            match v["type"].as_str() {
                Some("incident.responded") => responded = responded.or(Some(e)),
                Some("incident.resolved") => (responded, running) = (responded.or(Some(e)), false),
                Some("incident.on_hold") => running = false,
                Some("incident.resumed") | Some("incident.reopened") => running = true,
                Some("incident.priority_changed") => {
                    p = v["data"]["priority"]
                        .as_str()
                        .expect("priority")
                        .to_string()
                }
                _ => {}
            }
        }
        let late = deadline.filter(|d| !matches!(responded, Some(r) if r <= *d));
        (late, breach)
    }
}
