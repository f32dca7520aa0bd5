//! The report as CSV for spreadsheets: one header row, then one row per
//! figure, every row carrying the same 18 columns so that a filter on any
//! column (service, section, code, result) gives a meaningful subset and
//! files of several tenants or months can be appended to each other.
//!
//! RFC 4180: comma-separated, CRLF line ends, a field in double quotes
//! when it holds a comma, a double quote, CR or LF, with its quotes
//! doubled. UTF-8 without a byte order mark (import with "From text/CSV"
//! and UTF-8 in a spreadsheet that does not guess). Numbers are written
//! as in the JSON report, with a decimal point. A text field from the
//! report that starts with `=`, `+`, `-`, `@`, tab or CR is prefixed with
//! `'` so that a spreadsheet shows it instead of running it as a formula;
//! the JSON report holds the exact value.
//!
//! The header names and the descriptive values (section, description,
//! result, status) follow the language; the `code` column does not, so a
//! filter written once works for both. Columns (Nynorsk header / English
//! header):
//!
//! | # | nn / en | content |
//! |---|---------|---------|
//! | 1 | `kunde` / `tenant` | the tenant |
//! | 2 | `periode` / `period` | `YYYY-MM` |
//! | 3 | `status` | `førebels`/`endeleg`, `preliminary`/`final` |
//! | 4 | `del` / `section` | `tilgjengelegheit`, `hendingar`, `avvik`, `datakvalitet` / `availability`, `incidents`, `deviations`, `data_quality` |
//! | 5 | `teneste` / `service` | the service id; empty for tenant-wide rows |
//! | 6 | `prioritet` / `priority` | `P1`..`P4` for incident rows and breaches |
//! | 7 | `kode` / `code` | the figure or deviation kind, as in the JSON report (below) |
//! | 8 | `skildring` / `description` | what the row is, in words |
//! | 9 | `verdi` / `value` | the number; empty when there is none |
//! | 10 | `eining` / `unit` | `%`, `s` (seconds) or `tal`/`count` |
//! | 11 | `mål` / `target` | the availability target in %, on availability rows and `availability_below_target` |
//! | 12 | `resultat` / `result` | `Oppfylt`/`Ikkje oppfylt`, `Met`/`Not met`: the service's availability result on its rows, not met on every deviation |
//! | 13 | `tid_utc` / `at_utc` | a deviation's `at`, UTC (`2026-10-04T12:00:00Z`) |
//! | 14 | `tid_lokal` / `at_local` | the same instant in the report's time zone with its offset |
//! | 15 | `hending` / `incident_id` | for breaches |
//! | 16 | `vedlikehaldsvindauge` / `window_id` | for short-notice maintenance |
//! | 17 | `møte` / `meeting_id` | for missing minutes |
//! | 18 | `rolle` / `role` | for a vacant contact |
//!
//! Codes: availability rows `target_pct`, `achieved_pct` (empty value when
//! nothing was measurable), `window_seconds`, `excluded_seconds`,
//! `downtime_seconds`, one set per service with a guarantee; incident
//! rows `opened`, `response_met`, `response_breached`, `resolution_met`,
//! `resolution_breached` for every service and all four priorities, zeros
//! included; one row per deviation with its `kind` as code (value: the
//! achieved % of `availability_below_target`, the vacant seconds of
//! `contact_vacant`); data-quality rows `set_aside` and one per reason.

use super::text::{self, Text};
use super::{Lang, Report};
use crate::availability::Availability;
use crate::report::{Deviation, IncidentCounts};

/// The number of columns of every row.
const COLUMNS: usize = 18;

type Row = [String; COLUMNS];

/// The report as CSV in `lang`.
pub fn csv(report: &Report, lang: Lang) -> String {
    let t = lang.text();
    let mut rows: Vec<Row> = Vec::new();
    for s in &report.services {
        if let Some(a) = &s.availability {
            availability(&mut rows, report, t, &s.service, a);
        }
    }
    for s in &report.services {
        for (priority, counts) in &s.incidents {
            incidents(&mut rows, report, t, &s.service, priority, counts);
        }
    }
    for (i, d) in report.deviations.iter().enumerate() {
        rows.push(deviation(report, lang, i + 1, d));
    }
    data_quality(&mut rows, report, lang);
    let mut out = record(&t.csv_header.map(str::to_string));
    for row in &rows {
        out.push_str(&record(row));
    }
    out
}

/// A row with the tenant, period and status filled in and `section` set.
fn row(report: &Report, t: &Text, section: &str) -> Row {
    let mut r: Row = Default::default();
    r[0] = data(&report.tenant);
    r[1] = data(&report.period);
    r[2] = if report.preliminary {
        t.status_preliminary
    } else {
        t.status_final
    }
    .to_string();
    r[3] = section.to_string();
    r
}

fn availability(rows: &mut Vec<Row>, report: &Report, t: &Text, service: &str, a: &Availability) {
    let achieved_label = match a.achieved_pct {
        Some(_) => t.achieved.to_string(),
        None => format!("{} ({})", t.achieved, t.not_measurable),
    };
    let figures = [
        (
            "target_pct",
            t.target.to_string(),
            a.target_pct.clone(),
            "%",
        ),
        (
            "achieved_pct",
            achieved_label,
            a.achieved_pct.clone().unwrap_or_default(),
            "%",
        ),
        (
            "window_seconds",
            t.window.to_string(),
            a.window_seconds.to_string(),
            "s",
        ),
        (
            "excluded_seconds",
            t.excluded.to_string(),
            a.excluded_seconds.to_string(),
            "s",
        ),
        (
            "downtime_seconds",
            t.downtime.to_string(),
            a.downtime_seconds.to_string(),
            "s",
        ),
    ];
    let result = if a.met { t.met } else { t.not_met };
    for (code, label, value, unit) in figures {
        let mut r = row(report, t, t.section_availability);
        r[4] = data(service);
        r[6] = code.to_string();
        r[7] = label;
        r[8] = value;
        r[9] = unit.to_string();
        r[10] = a.target_pct.clone();
        r[11] = result.to_string();
        rows.push(r);
    }
}

fn incidents(
    rows: &mut Vec<Row>,
    report: &Report,
    t: &Text,
    service: &str,
    priority: &str,
    c: &IncidentCounts,
) {
    let figures = [
        ("opened", t.opened, c.opened),
        ("response_met", t.response_met, c.response_met),
        (
            "response_breached",
            t.response_breached,
            c.response_breached,
        ),
        ("resolution_met", t.resolution_met, c.resolution_met),
        (
            "resolution_breached",
            t.resolution_breached,
            c.resolution_breached,
        ),
    ];
    for (code, label, n) in figures {
        let mut r = row(report, t, t.section_incidents);
        r[4] = data(service);
        r[5] = data(priority);
        r[6] = code.to_string();
        r[7] = label.to_string();
        r[8] = n.to_string();
        r[9] = t.unit_count.to_string();
        rows.push(r);
    }
}

fn deviation(report: &Report, lang: Lang, number: usize, d: &Deviation) -> Row {
    let t = lang.text();
    let view = super::deviation_row(report, number, d, lang);
    let f = super::fields(d);
    let mut r = row(report, t, t.section_deviations);
    r[4] = data(f.service.unwrap_or(""));
    r[5] = data(f.priority);
    r[6] = d.kind().to_string();
    r[7] = data(&format!("{}: {}", view.label, view.description));
    if let Deviation::AvailabilityBelowTarget { service, .. } = d {
        let a = report
            .services
            .iter()
            .find(|s| &s.service == service)
            .and_then(|s| s.availability.as_ref());
        if let Some(a) = a {
            r[8] = a.achieved_pct.clone().unwrap_or_default();
            r[9] = "%".to_string();
            r[10] = a.target_pct.clone();
        }
    }
    if let Some(seconds) = f.vacant {
        r[8] = seconds.to_string();
        r[9] = "s".to_string();
    }
    r[11] = t.not_met.to_string();
    r[12] = data(d.at());
    r[13] = data(&view.when.local_rfc3339);
    r[14] = data(f.incident_id);
    r[15] = data(f.window_id);
    r[16] = data(f.meeting_id);
    r[17] = data(f.role);
    r
}

fn data_quality(rows: &mut Vec<Row>, report: &Report, lang: Lang) {
    let t = lang.text();
    let q = &report.data_quality;
    let total = (
        "set_aside".to_string(),
        t.set_aside_total.to_string(),
        q.set_aside,
    );
    let reasons = q
        .by_reason
        .iter()
        .map(|(code, n)| (data(code), text::reason(lang, code).to_string(), *n));
    for (code, label, n) in std::iter::once(total).chain(reasons) {
        let mut r = row(report, t, t.section_data_quality);
        r[6] = code;
        r[7] = label;
        r[8] = n.to_string();
        r[9] = t.unit_count.to_string();
        rows.push(r);
    }
}

/// Report text made safe to open in a spreadsheet: a leading character
/// that would start a formula gets a `'` in front.
fn data(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// One RFC 4180 record with its CRLF.
fn record(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| field(f)).collect();
    quoted.join(",") + "\r\n"
}

/// A field, quoted when RFC 4180 requires it.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
