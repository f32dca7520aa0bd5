//! The report as CSV for spreadsheets: one header row, then one row per
//! figure, every row carrying the same columns (18 for a format-1 report,
//! 28 for format 2) so that a filter on any
//! column (service, section, code, result) gives a meaningful subset and
//! files of several tenants or months can be appended to each other.
//!
//! RFC 4180 in English (`--lang en`): comma-separated, CRLF line ends, a
//! field in double quotes when it holds the separator, a double quote, CR
//! or LF, with its quotes doubled, UTF-8 without a byte order mark, and
//! numbers as in the JSON report, with a decimal point. In Nynorsk
//! (`--lang nn`, the default) the file is what a spreadsheet set to
//! Norwegian opens as columns: `;` as separator, a decimal comma in the
//! `verdi` and `mål` columns ("99,500"), and a UTF-8 byte order mark so
//! that it detects the encoding; quoting and line ends as in English. A
//! text field from the report that starts with `=`, `+`, `-`, `@`, tab or
//! CR is prefixed with `'` so that a spreadsheet shows it instead of
//! running it as a formula; the JSON report holds the exact value.
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
//!
//! A format-2 report (`tla-report/2`) keeps those rows and columns as
//! they are and adds ten columns after them, on every row (empty where
//! they do not apply), and four sections of rows after the deviations,
//! so the file stays one table a filter works on and a format-1 report
//! renders exactly as before (docs/SEMANTICS-NOTES.md "Renderings of
//! format 2"):
//!
//! | # | nn / en | content |
//! |---|---------|---------|
//! | 19 | `id` | the deviation id on deviation rows, the action id on action rows |
//! | 20 | `part` / `party` | `provider` or `tenant` (as in the JSON report) on deviation rows |
//! | 21 | `årsak` / `cause` | the deviation's explanation |
//! | 22 | `kopla_id` / `linked_ids` | the explanation's action id on deviation rows; the deviation ids an action answers (space-separated) on action rows |
//! | 23 | `forklart_utc` / `explained_at_utc` | when the deviation was explained |
//! | 24 | `person` | an action's owner; a role's holder |
//! | 25 | `frist_utc` / `due_utc` | an action's due instant; a meeting's minutes due |
//! | 26 | `utført_utc` / `done_utc` | an action's closing; a meeting's minutes filed |
//! | 27 | `utfall` / `outcome` | a closed action's outcome |
//! | 28 | `trendperiode` / `trend_period` | the period (`YYYY-MM`) a trend row counts |
//!
//! A format-3 report (`tla-report/3`) keeps the 28 columns and adds
//! three, on every row (empty where they do not apply):
//!
//! | # | nn / en | content |
//! |---|---------|---------|
//! | 29 | `målt` / `measured` | on deviation rows, what was measured, in the words of the other renderings ("Respons etter 1 t 12 min; kravet er 1 t 0 min. …") |
//! | 30 | `målt_s` / `measured_s` | the response time (empty without a response), the resolution clock or the notice given, in seconds |
//! | 31 | `krav_s` / `required_s` | the response or resolution target, or the notice required, in seconds |
//!
//! Sections and codes: `tiltak`/`actions` rows `action_open`,
//! `action_overdue`, `action_closed` (description: the title; result: the
//! status in words; times: when opened); `styring`/`governance` rows
//! `operations_meeting`, `steering_meeting` per meeting held (times: held;
//! `møte`: its id; result: minutes on time `Oppfylt`/`Met`, late or
//! missing `Ikkje oppfylt`/`Not met`, empty when not evaluated) and
//! `last_operations_meeting`, `last_steering_meeting` (times empty when
//! none was held); `ansvarlege`/`contacts` rows `role_held`,
//! `role_vacant` (service, `rolle`, person; times: since);
//! `utvikling`/`trend` rows `deviations`, `services_met`,
//! `services_guaranteed` per trend period, oldest first;
//! `utfall`/`outages` rows `outage_full`, `outage_partial` per outage
//! behind a service's figures (service; description: the kind in words,
//! the partial one marked as no downtime; times: its start; `id`: the
//! outage id; `utført_utc`: its end, empty while open);
//! `opne_hendingar`/`open_incidents` rows `open_incident` per incident
//! open at the period's end (service, priority; description: opened this
//! month or in an earlier one; times: opened; `hending`: its id).
//! Services are by id in the `teneste` column (a code, like `kode`); the
//! descriptions name them by the agreement's name.

use super::text::{self, Text};
use super::{Lang, Report};
use crate::availability::Availability;
use crate::report::{Deviation, FollowUp, IncidentCounts, Measure, Story};

/// The number of columns of every row of a format-1 report.
const COLUMNS_V1: usize = 18;

/// The number of columns of every row of a format-2 report: the eighteen
/// of format 1, then ten for its follow-up, actions, governance,
/// responsible persons and trend.
const COLUMNS_V2: usize = COLUMNS_V1 + 10;

/// The number of columns of every row of a format-3 report: those of
/// format 2, then three for each deviation's measure.
const COLUMNS: usize = COLUMNS_V2 + 3;

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
        let mut r = deviation(report, lang, i + 1, d);
        if let Some(f) = report.follow_up.as_ref().and_then(|f| f.get(i)) {
            follow_up(&mut r, f);
        }
        if report.measures.is_some() {
            measure(&mut r, report, lang, i, d);
        }
        rows.push(r);
    }
    if let Some(story) = &report.story {
        outages(&mut rows, report, lang);
        open_incidents(&mut rows, report, lang);
        actions(&mut rows, report, lang, story);
        governance(&mut rows, report, lang, story);
        contacts(&mut rows, report, lang, story);
        trend(&mut rows, report, lang, story);
    }
    data_quality(&mut rows, report, lang);
    // Formats 1 and 2 keep their eighteen and 28 columns, byte for byte.
    let width = match (&report.story, &report.measures) {
        (_, Some(_)) => COLUMNS,
        (Some(_), None) => COLUMNS_V2,
        (None, None) => COLUMNS_V1,
    };
    let mut head: Vec<String> = t.csv_header.map(str::to_string).to_vec();
    head.extend(text::story(lang).csv_header.map(str::to_string));
    head.extend(text::measure_csv_header(lang).map(str::to_string));
    let sep = separator(lang);
    // The byte order mark lets a Norwegian spreadsheet see UTF-8.
    let mut out = match lang {
        Lang::Nn => "\u{feff}".to_string(),
        Lang::En => String::new(),
    };
    out.push_str(&record(&head[..width], sep));
    for row in &mut rows {
        if lang == Lang::Nn {
            for number in [8, 10] {
                row[number] = row[number].replace('.', ",");
            }
        }
        out.push_str(&record(&row[..width], sep));
    }
    out
}

/// The field separator of `lang`'s CSV: `;` where the comma is the
/// decimal sign.
pub fn separator(lang: Lang) -> char {
    match lang {
        Lang::Nn => ';',
        Lang::En => ',',
    }
}

/// One row per outage behind a service's figures.
fn outages(rows: &mut Vec<Row>, report: &Report, lang: Lang) {
    let (t, d) = (lang.text(), text::detail(lang));
    for o in super::outage_lines(report, lang) {
        let mut r = row(report, t, d.section_outages);
        r[4] = data(o.service_id);
        r[6] = if o.partial {
            "outage_partial"
        } else {
            "outage_full"
        }
        .to_string();
        r[7] = data(&format!("{}: {}", o.service, o.impact));
        r[12] = data(&o.start.utc_z);
        r[13] = data(&o.start.local_rfc3339);
        r[ID] = data(o.outage_id);
        r[DONE] = data(o.end.as_ref().map_or("", |e| e.utc_z.as_str()));
        rows.push(r);
    }
}

/// One row per incident open at the period's end.
fn open_incidents(rows: &mut Vec<Row>, report: &Report, lang: Lang) {
    let (t, d) = (lang.text(), text::detail(lang));
    for i in super::open_incident_lines(report, lang) {
        let mut r = row(report, t, d.section_open_incidents);
        r[4] = data(i.service_id);
        r[5] = data(i.priority);
        r[6] = "open_incident".to_string();
        r[7] = data(&format!("{}: {}", i.service, i.note));
        r[12] = data(&i.opened.utc_z);
        r[13] = data(&i.opened.local_rfc3339);
        r[14] = data(i.incident_id);
        rows.push(r);
    }
}

/// Column indexes of the format-2 columns.
const ID: usize = 18;
const PARTY: usize = 19;
const CAUSE: usize = 20;
const LINKED: usize = 21;
const EXPLAINED: usize = 22;
const PERSON: usize = 23;
const DUE: usize = 24;
const DONE: usize = 25;
const OUTCOME: usize = 26;
const TREND_PERIOD: usize = 27;

/// Column indexes of the format-3 columns.
const MEASURED: usize = 28;
const MEASURED_S: usize = 29;
const REQUIRED_S: usize = 30;

/// A deviation's measure on its row (format 3): in words, as the other
/// renderings say it, and the measured and required seconds where the
/// report measures them.
fn measure(r: &mut Row, report: &Report, lang: Lang, i: usize, d: &Deviation) {
    r[MEASURED] = data(&super::deviation_row(report, i + 1, d, lang).measured);
    let seconds = |s: Option<i64>| s.map_or(String::new(), |s| s.to_string());
    let (measured, required) = match super::measured(report, i) {
        Some(Measure::Response(m)) => (m.response_seconds, Some(m.target_seconds)),
        Some(Measure::Resolution(m)) => (Some(m.clock_seconds), Some(m.target_seconds)),
        Some(Measure::Notice(m)) => (Some(m.notice_seconds), Some(m.notice_required_seconds)),
        None => (None, None),
    };
    r[MEASURED_S] = seconds(measured);
    r[REQUIRED_S] = seconds(required);
}

/// A deviation's id, party and explanation on its row.
fn follow_up(r: &mut Row, f: &FollowUp) {
    r[ID] = data(&f.id);
    r[PARTY] = data(&f.party);
    if let Some(e) = &f.explanation {
        r[CAUSE] = data(&e.cause);
        r[LINKED] = data(e.action_id.as_deref().unwrap_or(""));
        r[EXPLAINED] = data(&e.explained_at);
    }
}

/// An instant of the report in the two time columns.
fn at(r: &mut Row, report: &Report, at: Option<&str>) {
    if let Some(at) = at {
        r[12] = data(at);
        r[13] = data(&super::when(at, &report.timezone).local_rfc3339);
    }
}

fn actions(rows: &mut Vec<Row>, report: &Report, lang: Lang, story: &Story) {
    let (t, s) = (lang.text(), text::story(lang));
    for a in &story.actions {
        let mut r = row(report, t, s.section_actions);
        r[6] = format!("action_{}", a.status);
        r[7] = data(&a.title);
        r[11] = s.status_word(&a.status).to_string();
        at(&mut r, report, Some(&a.opened_at));
        r[ID] = data(&a.action_id);
        r[LINKED] = data(&a.deviation_ids.join(" "));
        r[PERSON] = data(&a.owner);
        r[DUE] = data(&a.due);
        r[DONE] = data(a.closed_at.as_deref().unwrap_or(""));
        r[OUTCOME] = data(a.outcome.as_deref().unwrap_or(""));
        rows.push(r);
    }
}

fn governance(rows: &mut Vec<Row>, report: &Report, lang: Lang, story: &Story) {
    let Some(g) = &story.governance else { return };
    let (t, s) = (lang.text(), text::story(lang));
    for m in &g.meetings {
        let mut r = row(report, t, s.section_governance);
        r[6] = format!("{}_meeting", m.kind);
        r[7] = s.meeting_kind(&m.kind).to_string();
        r[11] = match m.minutes_on_time {
            Some(true) => t.met.to_string(),
            Some(false) => t.not_met.to_string(),
            None => String::new(),
        };
        at(&mut r, report, Some(&m.held_at));
        r[16] = data(&m.meeting_id);
        r[DUE] = data(m.minutes_due.as_deref().unwrap_or(""));
        r[DONE] = data(m.minutes_filed_at.as_deref().unwrap_or(""));
        rows.push(r);
    }
    let last = [
        (
            "last_operations_meeting",
            s.last_operations,
            &g.last_operations_meeting,
        ),
        (
            "last_steering_meeting",
            s.last_steering,
            &g.last_steering_meeting,
        ),
    ];
    for (code, label, held) in last {
        let mut r = row(report, t, s.section_governance);
        r[6] = code.to_string();
        r[7] = label.to_string();
        at(&mut r, report, held.as_deref());
        rows.push(r);
    }
}

fn contacts(rows: &mut Vec<Row>, report: &Report, lang: Lang, story: &Story) {
    let Some(roster) = &story.contacts else {
        return;
    };
    let (t, s) = (lang.text(), text::story(lang));
    for c in roster {
        let mut r = row(report, t, s.section_contacts);
        r[4] = data(c.service.as_deref().unwrap_or(""));
        r[6] = if c.person.is_some() {
            "role_held"
        } else {
            "role_vacant"
        }
        .to_string();
        r[7] = match &c.person {
            Some(person) => data(person),
            None => s.vacant.to_string(),
        };
        at(&mut r, report, c.since.as_deref());
        r[17] = data(&c.role);
        r[PERSON] = data(c.person.as_deref().unwrap_or(""));
        rows.push(r);
    }
}

fn trend(rows: &mut Vec<Row>, report: &Report, lang: Lang, story: &Story) {
    let (t, s) = (lang.text(), text::story(lang));
    for p in &story.trend {
        let figures = [
            ("deviations", t.deviations, p.deviations),
            ("services_met", s.services_met, p.services_met),
            (
                "services_guaranteed",
                s.services_guaranteed,
                p.services_guaranteed,
            ),
        ];
        for (code, label, n) in figures {
            let mut r = count(report, t, s.section_trend, code, label, n);
            r[TREND_PERIOD] = data(&p.period);
            rows.push(r);
        }
    }
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
        let mut r = count(report, t, t.section_incidents, code, label, n);
        r[4] = data(service);
        r[5] = data(priority);
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
        rows.push(count(report, t, t.section_data_quality, &code, &label, n));
    }
}

/// A row of one count: its section, code, words, number and unit.
fn count(report: &Report, t: &Text, section: &str, code: &str, label: &str, n: u64) -> Row {
    let mut r = row(report, t, section);
    r[6] = code.to_string();
    r[7] = label.to_string();
    r[8] = n.to_string();
    r[9] = t.unit_count.to_string();
    r
}

/// Report text made safe to open in a spreadsheet: a leading character
/// that would start a formula gets a `'` in front.
fn data(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// One record with its CRLF, fields joined by `sep`.
fn record(fields: &[String], sep: char) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| field(f, sep)).collect();
    quoted.join(&sep.to_string()) + "\r\n"
}

/// A field, quoted when RFC 4180 requires it (with `sep` as separator).
pub fn field(s: &str, sep: char) -> String {
    if s.contains([sep, '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
