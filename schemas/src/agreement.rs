//! The agreement (tenestenivåavtale) of one tenant, SEMANTICS.md sections 4
//! and 11: calendars, services with their availability and incident
//! targets, governance rhythm and contact roles.
//!
//! Agreements are authored in TOML or JSON ([`from_toml_str`],
//! [`from_json_str`] give a JSON value), validated by [`from_json_value`]
//! into [`Agreement`], and published as the `data.agreement` of an
//! `agreement.published` event ([`published_event`]). The JSON value, not
//! the typed one, is what the ledger stores, so defaults stay implicit.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::event::{Party, Priority};
use crate::rules::{self, index, Fields};
use crate::{json, FieldError};

/// The calendar that is always open; reserved, never defined.
pub const CALENDAR_24X7: &str = "24x7";

/// The time zone of an agreement that names none.
pub const TIMEZONE_DEFAULT: Tz = chrono_tz::Europe::Oslo;

/// Longest `version` of an agreement, in characters; it is printed in
/// every report header.
pub const VERSION_LEN_MAX: usize = 64;

/// One validated agreement version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub version: String,
    /// Unix seconds from which this version is in force.
    pub effective_from: i64,
    pub timezone: Tz,
    /// Named calendars; `24x7` is implicit and never in this map.
    pub calendars: BTreeMap<String, Calendar>,
    /// In the order of the agreement; ids are unique.
    pub services: Vec<Service>,
    pub governance: Option<Governance>,
    pub contacts: Option<Contacts>,
    /// In force only with an `agreement.approved` from each party
    /// (SEMANTICS.md section 12); `false` when absent.
    pub requires_approval: bool,
}

impl Agreement {
    /// The service with id `id`.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The calendar named `name`; `None` for `24x7` and for unknown names
    /// (validation guarantees every name the agreement uses is known).
    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }
}

/// A weekly window in local time (SEMANTICS.md sections 4 and 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Open days, Monday first, without duplicates.
    pub days: Vec<Weekday>,
    /// Minutes after local midnight; `from < to`.
    pub from: u16,
    /// Minutes after local midnight, up to 1440 (`24:00`, the next midnight).
    pub to: u16,
    pub holidays: Holidays,
    /// Local dates without a window, sorted, without duplicates.
    pub closed_dates: Vec<NaiveDate>,
}

/// Which public holidays close a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holidays {
    /// `"none"` or absent.
    None,
    /// `"NO"`: Norway's public holidays.
    Norway,
}

/// One service of the agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub name: String,
    /// `None`: no availability guarantee.
    pub availability: Option<Availability>,
    /// Defaults to 0.
    pub maintenance_notice_hours: u32,
    /// `None`: no incident guarantee.
    pub incidents: Option<Incidents>,
}

/// An availability guarantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    pub target_pct: TargetPct,
    /// `24x7` or a calendar of the agreement; defaults to `24x7`.
    pub calendar: String,
}

/// An availability target in thousandths of a percent, kept exactly:
/// `"99.5"` is `TargetPct(99_500)`, `"100"` is `TargetPct(100_000)`.
/// Validated values satisfy `0 < t <= 100_000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetPct(pub u32);

impl TargetPct {
    /// `100 %`.
    pub const FULL: TargetPct = TargetPct(100_000);

    /// Parses `\d+(\.\d{1,3})?` with `0 < t <= 100`.
    pub fn parse(s: &str) -> Result<TargetPct, String> {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let shape_ok = !whole.is_empty()
            && whole.bytes().all(|c| c.is_ascii_digit())
            && (!s.contains('.') || (1..=3).contains(&fraction.len()))
            && fraction.bytes().all(|c| c.is_ascii_digit());
        if !shape_ok {
            return Err(format!("{s:?} is not a percentage: expected a decimal string like \"99.5\" (at most 3 decimals)"));
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 3 {
            return Err(format!("{s:?} must be at most 100"));
        }
        // At most three digits each, so both parses succeed and fit.
        let whole: u32 = if whole.is_empty() {
            0
        } else {
            whole.parse().unwrap_or(u32::MAX)
        };
        let fraction: u32 = format!("{fraction:0<3}").parse().unwrap_or(u32::MAX);
        let t = whole.saturating_mul(1000).saturating_add(fraction);
        match t {
            0 => Err(format!("{s:?} must be greater than 0")),
            t if t > TargetPct::FULL.0 => Err(format!("{s:?} must be at most 100")),
            t => Ok(TargetPct(t)),
        }
    }

    /// Thousandths of a percent.
    pub fn thousandths(self) -> u32 {
        self.0
    }
}

/// Three decimals, as in reports: `99.500`.
impl fmt::Display for TargetPct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// An incident guarantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incidents {
    /// `24x7` or a calendar of the agreement; defaults to `24x7`.
    pub calendar: String,
    /// Exactly P1..P4.
    pub targets: BTreeMap<Priority, Target>,
}

impl Incidents {
    /// The calendar of priority `p`: its own, else the service's.
    pub fn calendar_for(&self, p: Priority) -> &str {
        self.targets
            .get(&p)
            .and_then(|t| t.calendar.as_deref())
            .unwrap_or(&self.calendar)
    }
}

/// Response and resolution targets of one priority, in calendar minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub response_min: u32,
    pub resolution_min: u32,
    /// Overrides the service's `incidents.calendar`.
    pub calendar: Option<String>,
}

/// The governance rhythm; a missing field is not evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Governance {
    pub operations_meeting_every_months: Option<u32>,
    pub steering_meeting_every_months: Option<u32>,
    pub minutes_due_days: Option<u32>,
    /// Who owes the operations meetings (default provider).
    pub operations_party: Party,
    /// Who owes the steering meetings (default tenant).
    pub steering_party: Party,
    /// Who owes the operations meetings' minutes (default provider).
    pub operations_minutes_party: Party,
    /// Who owes the steering meetings' minutes (default tenant).
    pub steering_minutes_party: Party,
}

/// Roles that must be held at all times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contacts {
    pub required_roles: Vec<String>,
    pub per_service_roles: Vec<String>,
    /// Which side fills a role, where the agreement says so (else the
    /// role's name decides, SEMANTICS.md section 12).
    pub parties: BTreeMap<String, Party>,
}

/// Validates an agreement; paths are relative to it
/// (`services[1].availability.target_pct`).
pub fn from_json_value(v: &Value) -> Result<Agreement, Vec<FieldError>> {
    let mut errors = Vec::new();
    match validate(v, "", &mut errors) {
        Some(a) if errors.is_empty() => Ok(a),
        _ => {
            debug_assert!(!errors.is_empty(), "an invalid agreement must say why");
            Err(errors)
        }
    }
}

/// Parses agreement JSON text (duplicate keys refused).
pub fn from_json_str(s: &str) -> Result<Value, Vec<FieldError>> {
    json::parse_strict(s).map_err(|e| vec![e.into_field_error()])
}

/// Parses agreement TOML into the JSON value it stands for. TOML dates and
/// date-times become strings as written (`2026-12-24`,
/// `2026-01-01T00:00:00+01:00`); TOML floats are refused, since decimals
/// are written as strings.
pub fn from_toml_str(s: &str) -> Result<Value, Vec<FieldError>> {
    let table: toml::Table = s.parse().map_err(|e: toml::de::Error| {
        let (line, column) = e
            .span()
            .map_or((0, 0), |span| rules::line_column(s, span.start));
        vec![FieldError::new(
            "",
            format!(
                "invalid TOML at line {line}, column {column}: {}",
                e.message()
            ),
        )]
    })?;
    let mut errors = Vec::new();
    let v = toml_to_json(toml::Value::Table(table), "", &mut errors);
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(errors)
    }
}

fn toml_to_json(v: toml::Value, path: &str, errors: &mut Vec<FieldError>) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Float(x) => {
            errors.push(FieldError::new(
                path,
                format!("{x} is a decimal number; write decimals as strings, e.g. target_pct = \"99.5\""),
            ));
            Value::Null
        }
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, x)| toml_to_json(x, &index(path, i), errors))
                .collect(),
        ),
        toml::Value::Table(t) => Value::Object(
            t.into_iter()
                .map(|(k, x)| {
                    let child = toml_to_json(x, &rules::join(path, &k), errors);
                    (k, child)
                })
                .collect(),
        ),
    }
}

/// Builds the CloudEvent of `agreement.published` for an agreement value
/// (validate it first with [`from_json_value`]).
pub fn published_event(
    agreement: &Value,
    tenant: &str,
    source: &str,
    id: &str,
    time_rfc3339: &str,
) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": "agreement.published",
        "time": time_rfc3339,
        "tenant": tenant,
        "datacontenttype": "application/json",
        "data": {"agreement": agreement},
    })
}

/// Validates the agreement at `path`, pushing every problem.
pub(crate) fn validate(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Agreement> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let version = f.req("version", version, errors);
    let effective_from = f.req("effective_from", rules::instant, errors);
    let timezone = f
        .opt("timezone", timezone, errors)
        .map(|tz| tz.unwrap_or(TIMEZONE_DEFAULT));
    // Names are taken from the keys even when a calendar is invalid, so a
    // bad calendar is reported once rather than again at every use.
    let calendars_value = f.value("calendars");
    let names: BTreeSet<&str> = calendars_value
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let calendars = match calendars_value {
        None => Some(BTreeMap::new()),
        Some(c) => calendars(c, &f.path("calendars"), errors),
    };
    let services = f
        .required_value("services", errors)
        .and_then(|s| services(s, &f.path("services"), &names, errors));
    let governance = f
        .value("governance")
        .map(|g| governance(g, &f.path("governance"), errors));
    let contacts = f
        .value("contacts")
        .map(|c| contacts(c, &f.path("contacts"), errors));
    let requires_approval = f
        .opt("requires_approval", boolean, errors)
        .map(Option::unwrap_or_default);
    f.reject_unknown("an agreement", errors);
    Some(Agreement {
        version: version?,
        effective_from: effective_from?,
        timezone: timezone?,
        calendars: calendars?,
        services: services?,
        governance: governance.map_or(Some(None), |g| g.map(Some))?,
        contacts: contacts.map_or(Some(None), |c| c.map(Some))?,
        requires_approval: requires_approval?,
    })
}

fn boolean(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    let b = v.as_bool();
    if b.is_none() {
        errors.push(FieldError::new(
            path,
            format!("expected true or false, found {}", rules::kind_of(v)),
        ));
    }
    b
}

pub(crate) fn version(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let s = rules::str_at(v, path, errors)?;
    match version_rule(s) {
        Ok(()) => Some(s.to_string()),
        Err(message) => {
            errors.push(FieldError::new(path, message));
            None
        }
    }
}

/// The rule of [`version`] on a string, for the fast path: it accepts
/// exactly what `version` accepts.
pub(crate) fn version_rule(s: &str) -> Result<(), String> {
    rules::person_rule(s)?;
    if s.chars().count() > VERSION_LEN_MAX {
        return Err(format!("is longer than {VERSION_LEN_MAX} characters"));
    }
    Ok(())
}

fn timezone(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Tz> {
    let s = rules::str_at(v, path, errors)?;
    let tz = s.parse::<Tz>().ok();
    if tz.is_none() {
        errors.push(FieldError::new(
            path,
            format!("unknown time zone {s:?}; use an IANA name such as \"Europe/Oslo\""),
        ));
    }
    tz
}

fn calendars(
    v: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<BTreeMap<String, Calendar>> {
    let obj = rules::object(v, path, errors)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, c) in obj {
        let cpath = rules::join(path, name);
        if name == CALENDAR_24X7 {
            errors.push(FieldError::new(
                cpath,
                "the calendar name \"24x7\" is reserved; choose another name",
            ));
            ok = false;
            continue;
        }
        if let Err(message) = rules::role_rule(name) {
            errors.push(FieldError::new(
                cpath.clone(),
                format!("calendar name {message}"),
            ));
            ok = false;
        }
        match calendar(c, &cpath, errors) {
            Some(c) => {
                out.insert(name.clone(), c);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn calendar(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Calendar> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let days = f.req("days", days, errors);
    let from = f.req("from", clock_from, errors);
    let to = f.req("to", clock_to, errors);
    let holidays = f
        .opt("holidays", holidays, errors)
        .map(|h| h.unwrap_or(Holidays::None));
    let closed_dates = f
        .opt("closed_dates", closed_dates, errors)
        .map(Option::unwrap_or_default);
    f.reject_unknown("a calendar", errors);
    let (from, to) = (from?, to?);
    if from >= to {
        errors.push(FieldError::new(
            f.path("to"),
            format!(
                "must be after from ({} >= {}); a window cannot cross midnight",
                clock_text(from),
                clock_text(to)
            ),
        ));
        return None;
    }
    Some(Calendar {
        days: days?,
        from,
        to,
        holidays: holidays?,
        closed_dates: closed_dates?,
    })
}

fn clock_text(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn days(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Vec<Weekday>> {
    const NAMES: [(&str, Weekday); 7] = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];
    let items = rules::array(v, path, errors)?;
    if items.is_empty() {
        errors.push(FieldError::new(
            path,
            "must name at least one day (mon..sun)",
        ));
        return None;
    }
    let mut seen = [false; 7];
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        match rules::one_of(item, &ipath, &NAMES, errors) {
            Some(d) if seen[d.num_days_from_monday() as usize] => {
                errors.push(FieldError::new(ipath, format!("duplicate day {item}")));
                ok = false;
            }
            Some(d) => seen[d.num_days_from_monday() as usize] = true,
            None => ok = false,
        }
    }
    let days = NAMES
        .iter()
        .map(|(_, d)| *d)
        .filter(|d| seen[d.num_days_from_monday() as usize]);
    ok.then(|| days.collect())
}

/// `HH:MM` as minutes after midnight, `00:00..=23:59`, or `24:00` when
/// `allow_midnight`.
fn clock(v: &Value, path: &str, allow_midnight: bool, errors: &mut Vec<FieldError>) -> Option<u16> {
    let s = rules::str_at(v, path, errors)?;
    let b = s.as_bytes();
    let shape = b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    let number = |i: usize| u16::from(b[i] - b'0') * 10 + u16::from(b[i + 1] - b'0');
    let minutes = shape.then(|| (number(0), number(3)));
    match minutes {
        Some((24, 0)) if allow_midnight => Some(1440),
        Some((h, m)) if h < 24 && m < 60 => Some(h * 60 + m),
        _ => {
            let range = if allow_midnight {
                "00:00 to 24:00"
            } else {
                "00:00 to 23:59"
            };
            errors.push(FieldError::new(
                path,
                format!("{s:?} is not a time of day: expected HH:MM, {range}"),
            ));
            None
        }
    }
}

fn clock_from(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<u16> {
    clock(v, path, false, errors)
}

fn clock_to(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<u16> {
    clock(v, path, true, errors)
}

fn holidays(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Holidays> {
    rules::one_of(
        v,
        path,
        &[("NO", Holidays::Norway), ("none", Holidays::None)],
        errors,
    )
}

fn closed_dates(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Vec<NaiveDate>> {
    let items = rules::array(v, path, errors)?;
    let mut dates = BTreeSet::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let Some(s) = rules::str_at(item, &ipath, errors) else {
            ok = false;
            continue;
        };
        let parsed = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10);
        match parsed {
            Some(d) if !dates.insert(d) => {
                errors.push(FieldError::new(ipath, format!("duplicate date {s:?}")));
                ok = false;
            }
            Some(_) => {}
            None => {
                errors.push(FieldError::new(
                    ipath,
                    format!("{s:?} is not a date: expected YYYY-MM-DD"),
                ));
                ok = false;
            }
        }
    }
    ok.then(|| dates.into_iter().collect())
}

fn services(
    v: &Value,
    path: &str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<Service>> {
    let items = rules::array(v, path, errors)?;
    if items.is_empty() {
        errors.push(FieldError::new(path, "must list at least one service"));
        return None;
    }
    let mut first_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let spath = index(path, i);
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            if let Some(first) = first_index.get(id) {
                errors.push(FieldError::new(
                    rules::join(&spath, "id"),
                    format!("duplicate service id {id:?} (also {})", index(path, *first)),
                ));
                ok = false;
            } else {
                first_index.insert(id, i);
            }
        }
        match service(item, &spath, calendars, errors) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn service(
    v: &Value,
    path: &str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Service> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let id = f.req("id", rules::service, errors);
    let name = f.req("name", rules::person, errors);
    let availability = f
        .value("availability")
        .map(|a| availability(a, &f.path("availability"), calendars, errors));
    let notice = f
        .opt("maintenance_notice_hours", rules::non_negative, errors)
        .map(Option::unwrap_or_default);
    let incidents = f
        .value("incidents")
        .map(|x| incidents(x, &f.path("incidents"), calendars, errors));
    f.reject_unknown("a service", errors);
    Some(Service {
        id: id?,
        name: name?,
        availability: availability.map_or(Some(None), |a| a.map(Some))?,
        maintenance_notice_hours: notice?,
        incidents: incidents.map_or(Some(None), |x| x.map(Some))?,
    })
}

/// A calendar reference: `24x7` or a defined name.
fn calendar_ref(
    f: &mut Fields<'_>,
    name: &'static str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    let c = f.opt(name, rules::string, errors)?;
    if let Some(c) = &c {
        if c != CALENDAR_24X7 && !calendars.contains(c.as_str()) {
            errors.push(FieldError::new(
                f.path(name),
                format!("unknown calendar name {c:?}; define it under calendars or use \"24x7\""),
            ));
            return None;
        }
    }
    Some(c)
}

fn availability(
    v: &Value,
    path: &str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Availability> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let target_pct = f.req("target_pct", target_pct, errors);
    let calendar = calendar_ref(&mut f, "calendar", calendars, errors);
    f.reject_unknown("availability", errors);
    Some(Availability {
        target_pct: target_pct?,
        calendar: calendar?.unwrap_or_else(|| CALENDAR_24X7.to_string()),
    })
}

fn target_pct(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<TargetPct> {
    let Some(s) = v.as_str() else {
        errors.push(FieldError::new(
            path,
            format!(
                "expected a decimal string like \"99.5\", found {}",
                rules::kind_of(v)
            ),
        ));
        return None;
    };
    match TargetPct::parse(s) {
        Ok(t) => Some(t),
        Err(message) => {
            errors.push(FieldError::new(path, message));
            None
        }
    }
}

fn incidents(
    v: &Value,
    path: &str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Incidents> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let calendar = calendar_ref(&mut f, "calendar", calendars, errors);
    let targets = f
        .required_value("targets", errors)
        .and_then(|t| targets(t, &f.path("targets"), calendars, errors));
    f.reject_unknown("incidents", errors);
    Some(Incidents {
        calendar: calendar?.unwrap_or_else(|| CALENDAR_24X7.to_string()),
        targets: targets?,
    })
}

fn targets(
    v: &Value,
    path: &str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<BTreeMap<Priority, Target>> {
    let obj = rules::object(v, path, errors)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, t) in obj {
        let tpath = rules::join(path, key);
        let Some(p) = Priority::parse(key) else {
            errors.push(FieldError::new(
                tpath,
                "unknown priority; targets has only P1, P2, P3, P4",
            ));
            ok = false;
            continue;
        };
        match target(t, &tpath, calendars, errors) {
            Some(t) => {
                out.insert(p, t);
            }
            None => ok = false,
        }
    }
    for p in Priority::ALL
        .iter()
        .filter(|p| !obj.contains_key(p.as_str()))
    {
        errors.push(FieldError::new(
            rules::join(path, p.as_str()),
            "missing; incidents.targets must define all of P1, P2, P3, P4",
        ));
        ok = false;
    }
    ok.then_some(out)
}

fn target(
    v: &Value,
    path: &str,
    calendars: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Target> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let response_min = f.req("response_min", rules::positive, errors);
    let resolution_min = f.req("resolution_min", rules::positive, errors);
    let calendar = calendar_ref(&mut f, "calendar", calendars, errors);
    f.reject_unknown("a target", errors);
    Some(Target {
        response_min: response_min?,
        resolution_min: resolution_min?,
        calendar: calendar?,
    })
}

fn governance(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Governance> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let operations = f.opt("operations_meeting_every_months", rules::positive, errors);
    let steering = f.opt("steering_meeting_every_months", rules::positive, errors);
    let minutes = f.opt("minutes_due_days", rules::positive, errors);
    let mut party = |name, default| {
        f.opt(name, crate::data::party, errors)
            .map(|p| p.unwrap_or(default))
    };
    let operations_party = party("operations_party", Party::Provider);
    let steering_party = party("steering_party", Party::Tenant);
    let operations_minutes_party = party("operations_minutes_party", Party::Provider);
    let steering_minutes_party = party("steering_minutes_party", Party::Tenant);
    f.reject_unknown("governance", errors);
    Some(Governance {
        operations_meeting_every_months: operations?,
        steering_meeting_every_months: steering?,
        minutes_due_days: minutes?,
        operations_party: operations_party?,
        steering_party: steering_party?,
        operations_minutes_party: operations_minutes_party?,
        steering_minutes_party: steering_minutes_party?,
    })
}

fn contacts(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Contacts> {
    let obj = rules::object(v, path, errors)?;
    let mut f = Fields::new(obj, path);
    let required = f
        .opt("required_roles", roles, errors)
        .map(Option::unwrap_or_default);
    let per_service = f
        .opt("per_service_roles", roles, errors)
        .map(Option::unwrap_or_default);
    let parties = f
        .opt("parties", parties, errors)
        .map(Option::unwrap_or_default);
    f.reject_unknown("contacts", errors);
    Some(Contacts {
        required_roles: required?,
        per_service_roles: per_service?,
        parties: parties?,
    })
}

/// `contacts.parties`: role name to `provider` or `tenant`.
fn parties(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<BTreeMap<String, Party>> {
    let obj = rules::object(v, path, errors)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (role, party) in obj {
        let at = rules::join(path, role);
        if let Err(message) = rules::role_rule(role) {
            errors.push(FieldError::new(&at, message));
            ok = false;
        }
        match crate::data::party(party, &at, errors) {
            Some(p) => {
                out.insert(role.clone(), p);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn roles(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let items = rules::array(v, path, errors)?;
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        match rules::role(item, &ipath, errors) {
            Some(r) if out.contains(&r) => {
                errors.push(FieldError::new(ipath, format!("duplicate role {r:?}")));
                ok = false;
            }
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_pct_parsing() {
        for (s, expect) in [
            ("99.5", Some(99_500)),
            ("100", Some(100_000)),
            ("100.000", Some(100_000)),
            ("0.001", Some(1)),
            ("099.9", Some(99_900)),
            ("99.875", Some(99_875)),
            ("0", None),
            ("0.000", None),
            ("100.001", None),
            ("100.5", None),
            ("99.", None),
            (".5", None),
            ("99.1234", None),
            ("abc", None),
            ("-1", None),
            ("1e2", None),
            ("", None),
            ("00000000000000000000099", Some(99_000)),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(
                TargetPct::parse(s).ok().map(TargetPct::thousandths),
                expect,
                "{s:?}"
            );
        }
        assert_eq!(TargetPct(99_500).to_string(), "99.500");
        assert_eq!(TargetPct(100_000).to_string(), "100.000");
    }

    #[test]
    fn toml_positions_and_floats() {
        let errors = from_toml_str("a = 1\nb = = 2\n").expect_err("syntax error");
        assert!(errors[0].message.contains("line 2"), "{errors:?}");
        let errors = from_toml_str("[x]\ntarget_pct = 99.5\n").expect_err("float");
        assert_eq!(errors[0].path, "x.target_pct");
    }
}
