//! Human-facing renderings of a [`Report`]: Markdown, one self-contained
//! HTML page and CSV, in Nynorsk (the default) or English, besides the
//! contract JSON. `tla report --format md|html|csv --lang nn|en` prints
//! what [`render`] returns.
//!
//! Every renderer is a pure function of the report and the language: no
//! clock, no environment, no hash-map order, so the same report always
//! gives the same bytes. What the three formats share is worked out once
//! here (the summary, one [`DeviationRow`] per deviation with its phrases,
//! times in UTC and in the report's time zone, durations and percentages
//! written for people); `markdown`, `html` and `csv` only lay it out, and
//! `text` holds every word in both languages. The JSON report stays the
//! record: these renderings add nothing to it and are not digested.
//! `html` (its escaping, stylesheet and sections) and `text` are public
//! because the web viewer (crate `web`) lays out its pages from the same
//! pieces, so a report reads the same in the viewer and in a file.

mod csv;
pub mod html;
mod markdown;
pub mod text;
mod xlsx;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

use crate::report::{Deviation, IncidentCounts, Measure, Report};

pub use self::csv::csv;
pub use self::html::html;
pub use self::markdown::markdown;
pub use self::xlsx::xlsx;

/// The language of a rendering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Nynorsk, the language of the agreements.
    #[default]
    Nn,
    En,
}

impl Lang {
    /// The BCP 47 tag, as in HTML's `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Nn => "nn",
            Lang::En => "en",
        }
    }
}

impl FromStr for Lang {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Lang, ParseError> {
        match s {
            "nn" => Ok(Lang::Nn),
            "en" => Ok(Lang::En),
            _ => Err(ParseError {
                what: "language",
                value: s.to_string(),
                expected: "nn or en",
            }),
        }
    }
}

/// The output format of `tla report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The contract format of SEMANTICS.md section 10.
    Json,
    Markdown,
    Html,
    Csv,
    /// An Office Open XML workbook, one sheet per section.
    Xlsx,
}

impl FromStr for Format {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Format, ParseError> {
        match s {
            "json" => Ok(Format::Json),
            "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(ParseError {
                what: "report format",
                value: s.to_string(),
                expected: "json, md, html, csv or xlsx",
            }),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl Format {
    /// The name `--format` takes, also the usual file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The media type to serve the rendering with (the text ones are
    /// UTF-8).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--lang` or `--format` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}: expected {}",
            self.what, self.value, self.expected
        )
    }
}

impl std::error::Error for ParseError {}

/// A rendering that could not be made: only the workbook's writer can
/// fail (a cell or sheet beyond the format's limits).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot write the xlsx workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// The bytes `tla report` prints for `format`; JSON is the report's
/// canonical bytes and a newline, whatever the language.
pub fn render(report: &Report, format: Format, lang: Lang) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        Format::Json => {
            let mut bytes = report.canonical_bytes();
            bytes.push(b'\n');
            bytes
        }
        Format::Markdown => markdown(report, lang).into_bytes(),
        Format::Html => html(report, lang).into_bytes(),
        Format::Csv => csv(report, lang).into_bytes(),
        Format::Xlsx => xlsx(report, lang)?,
    })
}

/// "oktober 2026" / "October 2026" for `2026-10`; anything else as given.
pub fn period_label(period: &str, lang: Lang) -> String {
    let parsed = period.split_once('-').and_then(|(y, m)| {
        let name = text::month(lang, m.parse().ok()?)?;
        (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{name} {y}"))
    });
    parsed.unwrap_or_else(|| period.to_string())
}

/// An instant of the report written for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// The instant as the report writes it, UTC `Z`.
    pub utc_z: String,
    /// `2026-10-04 12:00 UTC` (seconds only when not zero).
    pub utc: String,
    /// `2026-10-04 14:00 CEST`, in the report's time zone.
    pub local: String,
    /// `2026-10-04T14:00:00+02:00`, for spreadsheets.
    pub local_rfc3339: String,
}

/// `at` (UTC `Z`) in UTC and in `timezone`. A time zone chrono-tz does
/// not know is shown as UTC, and an unparseable instant as given: a
/// rendering shows what the report says rather than fail.
pub fn when(at: &str, timezone: &str) -> When {
    let Ok(t) = DateTime::parse_from_rfc3339(at) else {
        return When {
            utc_z: at.to_string(),
            utc: at.to_string(),
            local: at.to_string(),
            local_rfc3339: at.to_string(),
        };
    };
    let utc = t.with_timezone(&Utc);
    let tz: Tz = timezone.parse().unwrap_or(Tz::UTC);
    let local = utc.with_timezone(&tz);
    let pattern = if utc.second() == 0 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    When {
        utc_z: at.to_string(),
        utc: format!("{} UTC", utc.format(pattern)),
        local: format!("{} {}", local.format(pattern), local.format("%Z")),
        local_rfc3339: local.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
    }
}

/// `seconds` as hours and minutes, "2 t 30 min" / "2 h 30 min" (with
/// seconds only when there are some): the way downtime is read.
pub fn hours_minutes(seconds: i64, lang: Lang) -> String {
    let t = lang.text();
    let (sign, s) = split_sign(seconds);
    let mut out = format!("{sign}{} {} {} min", s / 3600, t.hour_unit, s % 3600 / 60);
    if s % 60 != 0 {
        out.push_str(&format!(" {} s", s % 60));
    }
    out
}

/// `seconds` as days, hours and minutes when a day or more ("3 døgn 4 t
/// 0 min" / "3 d 4 h 0 min"), else as [`hours_minutes`].
pub fn days_hours_minutes(seconds: i64, lang: Lang) -> String {
    let (sign, s) = split_sign(seconds);
    if s < 86_400 {
        return hours_minutes(seconds, lang);
    }
    let rest = i64::try_from(s % 86_400).unwrap_or(0);
    format!(
        "{sign}{} {} {}",
        s / 86_400,
        lang.text().day_unit,
        hours_minutes(rest, lang)
    )
}

fn split_sign(seconds: i64) -> (&'static str, u64) {
    (if seconds < 0 { "−" } else { "" }, seconds.unsigned_abs())
}

/// A report percentage (`"99.500"`) for people: "99,500 %" / "99.500%".
pub fn percent(pct: &str, lang: Lang) -> String {
    match lang {
        Lang::Nn => format!("{} %", pct.replace('.', ",")),
        Lang::En => format!("{pct}%"),
    }
}

/// "Oppfylt" / "Ikkje oppfylt".
fn met_label(met: bool, lang: Lang) -> &'static str {
    if met {
        lang.text().met
    } else {
        lang.text().not_met
    }
}

/// The figures of the summary line.
pub struct Summary {
    pub services: usize,
    pub guarantees: usize,
    pub met: usize,
    pub not_met: usize,
    pub deviations: usize,
}

pub fn summary(report: &Report) -> Summary {
    let guaranteed: Vec<bool> = report
        .services
        .iter()
        .filter_map(|s| s.availability.as_ref().map(|a| a.met))
        .collect();
    let met = guaranteed.iter().filter(|m| **m).count();
    Summary {
        services: report.services.len(),
        guarantees: guaranteed.len(),
        met,
        not_met: guaranteed.len() - met,
        deviations: report.deviations.len(),
    }
}

/// The title line: "Tenestenivårapport: alver, oktober 2026", with
/// "(førebels)" after it for a preliminary report, so that the marker
/// travels with the title into e-mail subjects and printed headers.
fn title(report: &Report, lang: Lang) -> String {
    let t = lang.text();
    let mut title = format!(
        "{}: {}, {}",
        t.title,
        report.tenant,
        period_label(&report.period, lang)
    );
    if report.preliminary {
        title.push_str(&format!(" ({})", t.status_preliminary));
    }
    title
}

/// The preliminary note, naming the horizon when the manifest has one.
pub fn preliminary_note(report: &Report, lang: Lang) -> String {
    let horizon = report.manifest.horizon.as_deref().map(|h| {
        let w = when(h, &report.timezone);
        format!("{} ({})", w.local, w.utc)
    });
    text::preliminary_note(lang, horizon.as_deref())
}

/// The period's bounds in UTC, "2026-09-30 22:00 – 2026-10-31 23:00".
fn period_utc(report: &Report) -> String {
    let (start, end) = (
        when(&report.period_start, "UTC"),
        when(&report.period_end, "UTC"),
    );
    format!("{} – {}", start.utc, end.utc)
}

/// One availability row, written for people.
pub struct AvailabilityRow<'a> {
    /// The service by the agreement's name (its id in format 1).
    pub service: &'a str,
    pub service_id: &'a str,
    pub target: String,
    /// "–" when nothing was measurable.
    pub achieved: String,
    pub measurable: bool,
    pub downtime: String,
    pub excluded: String,
    pub window: String,
    pub met: bool,
    pub result: &'static str,
}

fn availability_rows(report: &Report, lang: Lang) -> Vec<AvailabilityRow<'_>> {
    let rows = report.services.iter().filter_map(|s| {
        let a = s.availability.as_ref()?;
        Some(AvailabilityRow {
            service: service_name(report, &s.service),
            service_id: &s.service,
            target: percent(&a.target_pct, lang),
            achieved: a
                .achieved_pct
                .as_deref()
                .map_or_else(|| "–".to_string(), |p| percent(p, lang)),
            measurable: a.achieved_pct.is_some(),
            downtime: hours_minutes(a.downtime_seconds, lang),
            excluded: hours_minutes(a.excluded_seconds, lang),
            window: hours_minutes(a.window_seconds, lang),
            met: a.met,
            result: met_label(a.met, lang),
        })
    });
    rows.collect()
}

/// The services without an availability guarantee, by name.
fn unguaranteed(report: &Report) -> Vec<&str> {
    let ids = report.services.iter().filter(|s| s.availability.is_none());
    ids.map(|s| service_name(report, &s.service)).collect()
}

/// (service by name, priority, counts) for every priority with a
/// non-zero count, in report order.
fn incident_rows(report: &Report) -> Vec<(&str, &str, &IncidentCounts)> {
    report
        .services
        .iter()
        .flat_map(|s| {
            s.incidents
                .iter()
                .map(move |(p, c)| (service_name(report, &s.service), p.as_str(), c))
        })
        .filter(|(_, _, c)| !c.is_zero())
        .collect()
}

/// One deviation, with everything a reader needs worked out.
pub struct DeviationRow {
    /// 1-based, in report order.
    pub number: usize,
    pub when: When,
    /// The date column: the month ("august 2026") for a period-wide
    /// deviation, else `when.local`.
    pub dated: String,
    /// A period-wide deviation (`at` the period's end): its exact
    /// instant, "registrert ved periodeslutt 2026-09-01 00:00 CEST", for
    /// the detail; `None` otherwise.
    pub period_wide: Option<String>,
    pub label: &'static str,
    /// The service by the agreement's name, "heile avtalen" for a
    /// tenant-wide contact, or "–".
    pub service: String,
    pub description: String,
    pub target: String,
    /// The measure in plain words: the deadline that passed, the last
    /// meeting held, the vacant time, the achieved percentage.
    pub measured: String,
    /// `provider` or `tenant` (format 2), `None` in format 1.
    pub party: Option<String>,
}

/// The deviation kinds that are about the whole period, `at` its end
/// (SEMANTICS.md section 10).
fn period_wide_kind(d: &Deviation) -> bool {
    matches!(
        d,
        Deviation::AvailabilityBelowTarget { .. }
            | Deviation::OperationsMeetingMissing { .. }
            | Deviation::SteeringMeetingMissing { .. }
            | Deviation::ContactVacant { .. }
    )
}

/// A service for people: the agreement's `name` the report carries
/// (format 2), else its id.
pub fn service_name<'a>(report: &'a Report, id: &'a str) -> &'a str {
    report
        .services
        .iter()
        .find(|s| s.service == id)
        .and_then(|s| s.details.as_ref()?.name.as_deref())
        .unwrap_or(id)
}

/// A role for people: its label in `lang` and its id in brackets
/// ("Kundeansvarleg (provider_account_owner)"), or the id alone for a
/// role without a label.
pub fn role_for_people(role: &str, lang: Lang) -> String {
    match text::role_label(lang, role) {
        Some(label) => format!("{label} ({role})"),
        None => role.to_string(),
    }
}

/// The local date of `at` in words, "19. mai 2026" / "19 May 2026".
pub fn date_words(at: &str, timezone: &str, lang: Lang) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(at) else {
        return at.to_string();
    };
    let tz: Tz = timezone.parse().unwrap_or(Tz::UTC);
    let local = t.with_timezone(&tz);
    let month = text::month(lang, local.month()).unwrap_or("");
    match lang {
        Lang::Nn => format!("{}. {month} {}", local.day(), local.year()),
        Lang::En => format!("{} {month} {}", local.day(), local.year()),
    }
}

pub fn deviation_rows(report: &Report, lang: Lang) -> Vec<DeviationRow> {
    let rows = report.deviations.iter().enumerate();
    rows.map(|(i, d)| deviation_row(report, i + 1, d, lang))
        .collect()
}

fn deviation_row<'a>(
    report: &'a Report,
    number: usize,
    d: &'a Deviation,
    lang: Lang,
) -> DeviationRow {
    let t = lang.text();
    let f = fields(d);
    let duration = f
        .vacant
        .map_or(String::new(), |s| days_hours_minutes(s, lang));
    let name = f.service.map(|s| service_name(report, s));
    let service = match d {
        Deviation::ContactVacant { service: None, .. } => t.whole_agreement.to_string(),
        _ => name.unwrap_or("–").to_string(),
    };
    let scope = match name {
        Some(s) => text::service_scope(lang, s),
        None => t.whole_agreement.to_string(),
    };
    let role = role_for_people(f.role, lang);
    let subject = text::Subject {
        service: name.unwrap_or(""),
        id: if f.role.is_empty() { f.id } else { &role },
        priority: f.priority,
        scope: &scope,
        duration: &duration,
    };
    let follow_up = report.follow_up.as_ref().and_then(|f| f.get(number - 1));
    let (target, measured) = match d {
        Deviation::AvailabilityBelowTarget { service, .. } => {
            availability_pair(report, service, lang)
        }
        _ => (
            text::target(lang, d.kind(), f.priority),
            match measured(report, number - 1) {
                Some(m) => measure_v3(report, d, m, lang),
                None => measure(report, d, follow_up, &duration, lang),
            },
        ),
    };
    let when = when(d.at(), &report.timezone);
    let period_wide = (period_wide_kind(d) && d.at() == report.period_end)
        .then(|| text::at_period_end(lang, &when.local));
    let dated = match &period_wide {
        Some(_) => period_label(&report.period, lang),
        None => when.local.clone(),
    };
    DeviationRow {
        number,
        when,
        dated,
        period_wide,
        label: text::kind_label(lang, d.kind()),
        service,
        description: text::describe(lang, d.kind(), &subject),
        target,
        measured,
        party: follow_up.map(|f| f.party.clone()),
    }
}

/// What format 3 measured of the deviation at `index`, if anything.
pub fn measured(report: &Report, index: usize) -> Option<&Measure> {
    report.measures.as_ref()?.get(index)?.as_ref()
}

/// A duration in whole hours when it is one ("20 t" / "20 h"), else as
/// [`hours_minutes`]: how notice is spoken of.
pub fn hours(seconds: i64, lang: Lang) -> String {
    if seconds % 3600 == 0 {
        format!("{} {}", seconds / 3600, lang.text().hour_unit)
    } else {
        hours_minutes(seconds, lang)
    }
}

/// What format 3 measured of `d`, in plain words: the response time, the
/// resolution clock or the notice against what the agreement requires.
fn measure_v3(report: &Report, d: &Deviation, m: &Measure, lang: Lang) -> String {
    let local = when(d.at(), &report.timezone).local;
    match m {
        Measure::Response(r) => text::response_took(
            lang,
            r.response_seconds
                .map(|s| hours_minutes(s, lang))
                .as_deref(),
            &hours_minutes(r.target_seconds, lang),
            &local,
        ),
        Measure::Resolution(r) => text::resolution_took(
            lang,
            &days_hours_minutes(r.clock_seconds, lang),
            r.resolved_at.is_some(),
            &days_hours_minutes(r.target_seconds, lang),
        ),
        Measure::Notice(n) => text::notice_given(
            lang,
            &hours(n.notice_seconds.abs(), lang),
            n.notice_seconds < 0,
            &hours(n.notice_required_seconds, lang),
            &local,
        ),
    }
}

/// What was measured of `d`, in plain words, from what the report holds:
/// the deadline that passed (and whether the incident was still open at
/// the period's end), the window's start, the last meeting held, the
/// meeting whose minutes are missing, the vacant time.
fn measure(
    report: &Report,
    d: &Deviation,
    follow_up: Option<&crate::report::FollowUp>,
    duration: &str,
    lang: Lang,
) -> String {
    let local = |at: &str| when(at, &report.timezone).local;
    match d {
        Deviation::ResponseBreach {
            at,
            service,
            incident_id,
            ..
        }
        | Deviation::ResolutionBreach {
            at,
            service,
            incident_id,
            ..
        } => {
            let open = report
                .services
                .iter()
                .filter(|s| &s.service == service)
                .filter_map(|s| s.details.as_ref())
                .any(|x| {
                    x.open_incidents
                        .iter()
                        .any(|i| &i.incident_id == incident_id)
                });
            let response = matches!(d, Deviation::ResponseBreach { .. });
            text::deadline_passed(lang, response, &local(at), open)
        }
        Deviation::MaintenanceShortNotice { at, .. } => text::window_started(lang, &local(at)),
        Deviation::OperationsMeetingMissing { .. } | Deviation::SteeringMeetingMissing { .. } => {
            let last = follow_up.and_then(|f| match &f.last_held {
                crate::report::LastHeld::At(at) => Some(Some(at.as_str())),
                crate::report::LastHeld::Never => Some(None),
                crate::report::LastHeld::Absent => None,
            });
            match last {
                Some(at) => {
                    let steering = matches!(d, Deviation::SteeringMeetingMissing { .. });
                    let day = at.map(|at| date_words(at, &report.timezone, lang));
                    text::last_meeting(lang, steering, day.as_deref())
                }
                None => text::measured(lang, d.kind(), duration),
            }
        }
        Deviation::MinutesMissing { meeting_id, .. } => {
            let meeting = report
                .story
                .as_ref()
                .and_then(|s| s.governance.as_ref())
                .and_then(|g| g.meetings.iter().find(|m| &m.meeting_id == meeting_id));
            match meeting {
                Some(m) => text::minutes_not_filed(
                    lang,
                    &date_words(&m.held_at, &report.timezone, lang),
                    m.minutes_due.as_deref().map(local).as_deref(),
                ),
                None => text::measured(lang, d.kind(), duration),
            }
        }
        _ => text::measured(lang, d.kind(), duration),
    }
}

/// Target and achieved of a service's availability, "–" where the report
/// has none (an availability deviation for a service without figures).
fn availability_pair(report: &Report, service: &str, lang: Lang) -> (String, String) {
    let figures = report
        .services
        .iter()
        .find(|s| s.service == service)
        .and_then(|s| s.availability.as_ref());
    let Some(a) = figures else {
        return ("–".to_string(), "–".to_string());
    };
    let achieved = a
        .achieved_pct
        .as_deref()
        .map_or_else(|| "–".to_string(), |p| percent(p, lang));
    (
        percent(&a.target_pct, lang),
        text::achieved_with_downtime(lang, &achieved, &hours_minutes(a.downtime_seconds, lang)),
    )
}

/// The fields of a deviation besides `kind` and `at`, flattened.
#[derive(Default)]
pub struct Fields<'a> {
    pub service: Option<&'a str>,
    /// The incident, window or meeting id, or the role of a contact.
    pub id: &'a str,
    pub priority: &'a str,
    pub incident_id: &'a str,
    pub window_id: &'a str,
    pub meeting_id: &'a str,
    pub role: &'a str,
    pub vacant: Option<i64>,
}

pub fn fields(d: &Deviation) -> Fields<'_> {
    match d {
        Deviation::AvailabilityBelowTarget { service, .. } => Fields {
            service: Some(service),
            ..Fields::default()
        },
        Deviation::MaintenanceShortNotice {
            service, window_id, ..
        } => Fields {
            service: Some(service),
            id: window_id,
            window_id,
            ..Fields::default()
        },
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
        } => Fields {
            service: Some(service),
            id: incident_id,
            priority,
            incident_id,
            ..Fields::default()
        },
        Deviation::OperationsMeetingMissing { .. } | Deviation::SteeringMeetingMissing { .. } => {
            Fields::default()
        }
        Deviation::MinutesMissing { meeting_id, .. } => Fields {
            id: meeting_id,
            meeting_id,
            ..Fields::default()
        },
        Deviation::ContactVacant {
            role,
            service,
            vacant_seconds,
            ..
        } => Fields {
            service: service.as_deref(),
            id: role,
            role,
            vacant: Some(*vacant_seconds),
            ..Fields::default()
        },
    }
}

/// The horizon line of the manifest: local and UTC, or "period ended".
fn horizon(report: &Report, lang: Lang) -> String {
    match &report.manifest.horizon {
        Some(h) => {
            let w = when(h, &report.timezone);
            format!("{} ({})", w.local, w.utc)
        }
        None => lang.text().no_horizon.to_string(),
    }
}

/// The explained deviations of a format-2 report: (row number as in the
/// deviations table, id, explanation).
pub fn explained_rows(report: &Report) -> Vec<(usize, &str, &crate::report::Explanation)> {
    let Some(follow_up) = &report.follow_up else {
        return Vec::new();
    };
    follow_up
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i + 1, f.id.as_str(), f.explanation.as_ref()?)))
        .collect()
}

/// The deviation rows grouped by who owes them, for a format-2 report:
/// (caption, rows) for the provider's and then the municipality's, each
/// group present only when it has rows. A format-1 report (no party) is
/// one group under `caption`. Rows keep their report-order numbers.
pub fn deviation_groups(
    report: &Report,
    lang: Lang,
    caption: &'static str,
) -> Vec<(&'static str, Vec<DeviationRow>)> {
    let rows = deviation_rows(report, lang);
    let Some(follow_up) = &report.follow_up else {
        return vec![(caption, rows)];
    };
    let s = text::story(lang);
    let (mut provider, mut tenant) = (Vec::new(), Vec::new());
    for (i, row) in rows.into_iter().enumerate() {
        match follow_up.get(i).map(|f| f.party.as_str()) {
            Some("tenant") => tenant.push(row),
            _ => provider.push(row),
        }
    }
    [
        (s.deviations_provider, provider),
        (s.deviations_tenant, tenant),
    ]
    .into_iter()
    .filter(|(_, rows)| !rows.is_empty())
    .collect()
}

/// One outage behind a service's figures, written for people.
pub struct OutageLine<'a> {
    /// The service by its name.
    pub service: &'a str,
    pub service_id: &'a str,
    pub outage_id: &'a str,
    /// A partial outage: it counts as no downtime, and is marked.
    pub partial: bool,
    /// "fullt utfall" / "delvis utfall (tel ikkje som nedetid)".
    pub impact: &'static str,
    pub start: When,
    /// `None` while the outage is open in the prefix.
    pub end: Option<When>,
}

/// Every outage of a format-2 report, service by service in report
/// order, each service's by (`start`, `outage_id`) as the report holds
/// them; empty in format 1.
pub fn outage_lines(report: &Report, lang: Lang) -> Vec<OutageLine<'_>> {
    let d = text::detail(lang);
    report
        .services
        .iter()
        .filter_map(|s| Some((s, s.details.as_ref()?)))
        .flat_map(|(s, x)| {
            x.outages.iter().map(move |o| OutageLine {
                service: service_name(report, &s.service),
                service_id: &s.service,
                outage_id: &o.outage_id,
                partial: o.impact == "partial",
                impact: d.impact_word(&o.impact),
                start: when(&o.start, &report.timezone),
                end: o.end.as_deref().map(|e| when(e, &report.timezone)),
            })
        })
        .collect()
}

/// One incident open at the period's end, written for people.
pub struct OpenIncidentLine<'a> {
    pub service: &'a str,
    pub service_id: &'a str,
    pub incident_id: &'a str,
    pub priority: &'a str,
    pub opened: When,
    /// Opened before the period's start.
    pub earlier: bool,
    /// "oppretta i ein tidlegare månad" / "oppretta denne månaden".
    pub note: &'static str,
}

/// The incidents open at the period's end of a format-2 report, service
/// by service; empty in format 1.
pub fn open_incident_lines(report: &Report, lang: Lang) -> Vec<OpenIncidentLine<'_>> {
    let d = text::detail(lang);
    report
        .services
        .iter()
        .filter_map(|s| Some((s, s.details.as_ref()?)))
        .flat_map(|(s, x)| {
            x.open_incidents.iter().map(move |i| {
                // Both are UTC `Z` of one shape: string order is time order.
                let earlier = i.opened_at < report.period_start;
                OpenIncidentLine {
                    service: service_name(report, &s.service),
                    service_id: &s.service,
                    incident_id: &i.incident_id,
                    priority: &i.priority,
                    opened: when(&i.opened_at, &report.timezone),
                    earlier,
                    note: if earlier {
                        d.earlier_month
                    } else {
                        d.this_month
                    },
                }
            })
        })
        .collect()
}

/// `value`, or "–" when empty (a ledger root not yet filled in).
pub fn or_dash(value: &str) -> &str {
    if value.is_empty() {
        "–"
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_month_has_a_name() {
        for m in 1..=12 {
            assert!(text::month(Lang::Nn, m).is_some());
            assert!(text::month(Lang::En, m).is_some());
        }
        assert_eq!(text::month(Lang::Nn, 0), None);
        assert_eq!(text::month(Lang::Nn, 13), None);
    }
}
