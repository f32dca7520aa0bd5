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

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::report::{Deviation, IncidentCounts, Report};

pub use self::csv::csv;
pub use self::html::html;
pub use self::markdown::markdown;

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
}

impl FromStr for Format {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Format, ParseError> {
        match s {
            "json" => Ok(Format::Json),
            "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "csv" => Ok(Format::Csv),
            _ => Err(ParseError {
                what: "report format",
                value: s.to_string(),
                expected: "json, md, html or csv",
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
        }
    }

    /// The media type to serve the rendering with (all are UTF-8).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8; header=present",
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

/// The bytes `tla report` prints for `format`; JSON is the report's
/// canonical bytes and a newline, whatever the language.
pub fn render(report: &Report, format: Format, lang: Lang) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut bytes = report.canonical_bytes();
            bytes.push(b'\n');
            bytes
        }
        Format::Markdown => markdown(report, lang).into_bytes(),
        Format::Html => html(report, lang).into_bytes(),
        Format::Csv => csv(report, lang).into_bytes(),
    }
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
    pub service: &'a str,
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
            service: &s.service,
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

/// The services without an availability guarantee, by id.
fn unguaranteed(report: &Report) -> Vec<&str> {
    let ids = report.services.iter().filter(|s| s.availability.is_none());
    ids.map(|s| s.service.as_str()).collect()
}

/// (service, priority, counts) for every priority with a non-zero count,
/// in report order.
fn incident_rows(report: &Report) -> Vec<(&str, &str, &IncidentCounts)> {
    report
        .services
        .iter()
        .flat_map(|s| {
            s.incidents
                .iter()
                .map(move |(p, c)| (s.service.as_str(), p.as_str(), c))
        })
        .filter(|(_, _, c)| !c.is_zero())
        .collect()
}

/// One deviation, with everything a reader needs worked out.
pub struct DeviationRow {
    /// 1-based, in report order.
    pub number: usize,
    pub when: When,
    pub label: &'static str,
    /// The service, "heile avtalen" for a tenant-wide contact, or "–".
    pub service: String,
    pub description: String,
    pub target: String,
    pub measured: String,
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
    let service = match d {
        Deviation::ContactVacant { service: None, .. } => t.whole_agreement.to_string(),
        _ => f.service.unwrap_or("–").to_string(),
    };
    let scope = match f.service {
        Some(s) => text::service_scope(lang, s),
        None => t.whole_agreement.to_string(),
    };
    let subject = text::Subject {
        service: f.service.unwrap_or(""),
        id: f.id,
        priority: f.priority,
        scope: &scope,
        duration: &duration,
    };
    let (target, measured) = match d {
        Deviation::AvailabilityBelowTarget { service, .. } => {
            availability_pair(report, service, lang)
        }
        _ => (
            text::target(lang, d.kind(), f.priority),
            text::measured(lang, d.kind(), &duration),
        ),
    };
    DeviationRow {
        number,
        when: when(d.at(), &report.timezone),
        label: text::kind_label(lang, d.kind()),
        service,
        description: text::describe(lang, d.kind(), &subject),
        target,
        measured,
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
    let achieved = a.achieved_pct.as_deref();
    (
        percent(&a.target_pct, lang),
        achieved.map_or_else(|| "–".to_string(), |p| percent(p, lang)),
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
