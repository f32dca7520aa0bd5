//! Tests of the human-facing renderings (`projector::render`).
//!
//! Every `tests/render/*.report.json` is a hand-built report (`full` has
//! every deviation kind, a preliminary horizon, a null `achieved_pct` and
//! a service without availability; `quiet` has nothing to report; `story`
//! is a format-2 report with an explanation, actions in every status,
//! meetings with late and pending minutes, vacant roles and a trend); each
//! is rendered as Markdown, HTML and CSV in both languages and compared
//! with the snapshot `tests/render/<name>.<lang>.<ext>`. Snapshots are
//! refreshed on purpose with
//! `UPDATE_EXPECT=1 cargo test -p projector --test render` and reviewed in
//! the diff. The other tests check properties no snapshot review should
//! have to: escaping, CSV quoting, determinism, no network references.

mod common;

use std::path::{Path, PathBuf};

use projector::render::{self, Format, Lang};
use projector::{Deviation, Report};

/// Fewer fixtures than this means fixtures went missing.
const FIXTURES_MIN: usize = 3;

const LANGS: [Lang; 2] = [Lang::Nn, Lang::En];

const FORMATS: [(Format, &str); 3] = [
    (Format::Markdown, "md"),
    (Format::Html, "html"),
    (Format::Csv, "csv"),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render")
}

/// The fixtures, by name, in name order.
fn fixtures() -> Vec<(String, Report)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/render")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".report.json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= FIXTURES_MIN, "only {} fixtures", paths.len());
    paths.iter().map(|p| (name(p), read(p))).collect()
}

fn name(path: &Path) -> String {
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .expect("file name");
    file.trim_end_matches(".report.json").to_string()
}

fn read(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn full() -> Report {
    read(&dir().join("full.report.json"))
}

fn text(report: &Report, format: Format, lang: Lang) -> String {
    String::from_utf8(render::render(report, format, lang)).expect("UTF-8")
}

#[test]
fn snapshots() {
    let mut failures = Vec::new();
    for (name, report) in fixtures() {
        for lang in LANGS {
            for (format, ext) in FORMATS {
                let file = dir().join(format!("{name}.{}.{ext}", lang.tag()));
                failures.extend(common::snapshot_check(&file, &text(&report, format, lang)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_is_the_canonical_bytes_and_a_newline() {
    let report = full();
    let mut expected = report.canonical_bytes();
    expected.push(b'\n');
    for lang in LANGS {
        assert_eq!(render::render(&report, Format::Json, lang), expected);
    }
}

#[test]
fn output_is_identical_across_calls() {
    for (name, report) in fixtures() {
        let copy = report.clone();
        for lang in LANGS {
            for format in [Format::Json, Format::Markdown, Format::Html, Format::Csv] {
                let first = render::render(&report, format, lang);
                let second = render::render(&copy, format, lang);
                assert!(first == second, "{name} {format:?} {lang:?} differs");
            }
        }
    }
}

#[test]
fn the_functions_are_what_render_prints() {
    let report = full();
    for lang in LANGS {
        assert_eq!(
            text(&report, Format::Markdown, lang),
            render::markdown(&report, lang)
        );
        assert_eq!(
            text(&report, Format::Html, lang),
            render::html(&report, lang)
        );
        assert_eq!(text(&report, Format::Csv, lang), render::csv(&report, lang));
    }
}

/// A report whose strings all try to become markup.
fn hostile() -> Report {
    let mut report = full();
    report.tenant = "<script>alert(\"tenant\")</script>".to_string();
    report.agreement_version = "v1 & <b>2</b>".to_string();
    report.services[0].service = "ark'iv\"><img src=x>".to_string();
    report.deviations.push(Deviation::ContactVacant {
        at: "2026-10-31T23:00:00Z".to_string(),
        role: "<script>alert('role')</script>|x|".to_string(),
        service: Some("e<i>post".to_string()),
        vacant_seconds: 60,
    });
    report.deviations.push(Deviation::MinutesMissing {
        at: "2026-10-31T23:00:00Z".to_string(),
        meeting_id: "M`1`*".to_string(),
    });
    report
}

#[test]
fn html_escapes_every_report_string() {
    for lang in LANGS {
        let html = render::html(&hostile(), lang);
        for raw in ["<script", "<img", "<b>", "<i>", "v1 & "] {
            assert!(!html.contains(raw), "{lang:?}: {raw:?} reached the page");
        }
        for escaped in [
            "&lt;script&gt;alert(&quot;tenant&quot;)&lt;/script&gt;",
            "&lt;script&gt;alert(&#39;role&#39;)&lt;/script&gt;",
            "ark&#39;iv&quot;&gt;&lt;img src=x&gt;",
            "v1 &amp; &lt;b&gt;2&lt;/b&gt;",
            "e&lt;i&gt;post",
        ] {
            assert!(html.contains(escaped), "{lang:?}: {escaped:?} missing");
        }
    }
}

#[test]
fn markdown_escapes_report_strings() {
    let md = render::markdown(&hostile(), Lang::En);
    let raw = md.matches("<script").count();
    assert_eq!(
        raw,
        md.matches(r"\<script").count(),
        "raw <script> in Markdown"
    );
    assert!(
        md.contains(r#"\<script\>alert("tenant")\</script\>"#),
        "tenant not escaped"
    );
    // A | in a role would end the table cell early.
    assert!(md.contains(r"\|x\|"), "pipe in role not escaped");
    assert!(md.contains(r"M\`1\`\*"), "backticks in an id not escaped");
    let table_rows = md.lines().filter(|l| l.starts_with("| ")).count();
    let cells_per_row: Vec<usize> = md
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("Contact vacant"))
        .map(|l| l.replace(r"\|", "").matches('|').count())
        .collect();
    assert!(table_rows > 0);
    assert!(cells_per_row.iter().all(|n| *n == 9), "{cells_per_row:?}");
}

#[test]
fn html_makes_no_network_requests() {
    for (name, report) in fixtures() {
        for lang in LANGS {
            let html = render::html(&report, lang).to_lowercase();
            for needle in [
                "http://", "https://", "//", "url(", "@import", "<script", "<link", "src=",
            ] {
                assert!(!html.contains(needle), "{name} {lang:?}: {needle:?}");
            }
        }
    }
}

#[test]
fn html_is_a_printable_accessible_page() {
    let report = full();
    for lang in LANGS {
        let html = render::html(&report, lang);
        let expected_lang = format!("<html lang=\"{}\">", lang.tag());
        for needle in [
            "<!DOCTYPE html>",
            expected_lang.as_str(),
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "@page{size:A4;",
            "@media print{",
            "@media screen and (max-width:40rem){",
            "<caption>",
            "<th scope=\"col\">",
            "<th scope=\"row\"",
        ] {
            assert!(html.contains(needle), "{lang:?}: {needle:?} missing");
        }
        assert_eq!(
            html.matches("<table").count(),
            html.matches("<caption>").count()
        );
        assert!(html.ends_with("</html>\n"));
    }
}

/// The records of a CSV text, by RFC 4180 (a reader written apart from
/// the writer, so the test does not trust the code it checks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\n') => panic!("bare LF outside quotes"),
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(field.is_empty() && record.is_empty(), "no CRLF at the end");
    records
}

#[test]
fn csv_quotes_commas_quotes_and_newlines() {
    let mut report = full();
    let tenant = "Alver, \"Nord\"\nkommune\r\nIKS";
    let role = "drift,\"vakt\"";
    report.tenant = tenant.to_string();
    report.deviations.push(Deviation::ContactVacant {
        at: "2026-10-31T23:00:00Z".to_string(),
        role: role.to_string(),
        service: None,
        vacant_seconds: 60,
    });
    for lang in LANGS {
        let records = parse_csv(&render::csv(&report, lang));
        assert!(
            records.iter().all(|r| r.len() == 18),
            "{lang:?}: ragged rows"
        );
        assert!(
            records[1..].iter().all(|r| r[0] == tenant),
            "{lang:?}: tenant"
        );
        let last_deviation = records.iter().rev().find(|r| r[6] == "contact_vacant");
        assert_eq!(
            last_deviation.map(|r| r[17].as_str()),
            Some(role),
            "{lang:?}"
        );
    }
}

#[test]
fn csv_keeps_formulas_from_running() {
    let mut report = full();
    report.tenant = "=HYPERLINK(\"x\")".to_string();
    report.services[0].service = "+1".to_string();
    report.services[1].service = "@sum".to_string();
    let records = parse_csv(&render::csv(&report, Lang::Nn));
    assert_eq!(records[1][0], "'=HYPERLINK(\"x\")");
    assert!(records.iter().any(|r| r[4] == "'+1"));
    assert!(records.iter().any(|r| r[4] == "'@sum"));
    assert!(!records
        .iter()
        .flatten()
        .any(|f| f.starts_with(['=', '+', '@'])));
}

#[test]
fn csv_has_one_row_per_figure() {
    for (name, report) in fixtures() {
        let guaranteed = report.services.iter().filter(|s| s.availability.is_some());
        let expected = 1
            + 5 * guaranteed.count()
            + 5 * 4 * report.services.len()
            + report.deviations.len()
            + 1
            + report.data_quality.by_reason.len();
        for lang in LANGS {
            let records = parse_csv(&render::csv(&report, lang));
            assert_eq!(records.len(), expected, "{name} {lang:?}");
        }
    }
}

#[test]
fn csv_codes_do_not_depend_on_the_language() {
    let report = full();
    let codes = |lang| -> Vec<String> {
        let records = parse_csv(&render::csv(&report, lang));
        records[1..].iter().map(|r| r[6].clone()).collect()
    };
    assert_eq!(codes(Lang::Nn), codes(Lang::En));
}

#[test]
fn every_deviation_kind_has_words_in_both_languages() {
    let report = full();
    let labels = [
        (
            "availability_below_target",
            "Tilgjengelegheit under mål",
            "Availability below target",
        ),
        (
            "maintenance_short_notice",
            "For kort varsel om vedlikehald",
            "Maintenance with short notice",
        ),
        (
            "response_breach",
            "Responstid ikkje oppfylt",
            "Response time breached",
        ),
        (
            "resolution_breach",
            "Løysingstid ikkje oppfylt",
            "Resolution time breached",
        ),
        (
            "operations_meeting_missing",
            "Driftsmøte manglar",
            "Operations meeting missing",
        ),
        (
            "steering_meeting_missing",
            "Styringsgruppemøte manglar",
            "Steering meeting missing",
        ),
        ("minutes_missing", "Referat manglar", "Minutes missing"),
        ("contact_vacant", "Kontaktperson manglar", "Contact vacant"),
    ];
    let kinds: Vec<&str> = report.deviations.iter().map(Deviation::kind).collect();
    for (kind, nn, en) in labels {
        assert!(kinds.contains(&kind), "fixture lacks {kind}");
        assert!(
            render::markdown(&report, Lang::Nn).contains(nn),
            "{kind} nn"
        );
        assert!(
            render::markdown(&report, Lang::En).contains(en),
            "{kind} en"
        );
        assert!(
            render::html(&report, Lang::Nn).contains(nn),
            "{kind} nn html"
        );
    }
}

#[test]
fn lang_and_format_parse() {
    fn check(s: &str, expect: Option<(Option<Lang>, Option<Format>)>) {
        let got = (s.parse::<Lang>().ok(), s.parse::<Format>().ok());
        assert_eq!(Some(got), expect, "{s:?}");
    }
    check("nn", Some((Some(Lang::Nn), None)));
    check("en", Some((Some(Lang::En), None)));
    check("json", Some((None, Some(Format::Json))));
    check("md", Some((None, Some(Format::Markdown))));
    check("html", Some((None, Some(Format::Html))));
    check("csv", Some((None, Some(Format::Csv))));
    check("nb", Some((None, None)));
    check("NN", Some((None, None)));
    check("markdown", Some((None, None)));
    for format in [Format::Json, Format::Markdown, Format::Html, Format::Csv] {
        assert_eq!(format.to_string().parse::<Format>(), Ok(format));
    }
    for lang in LANGS {
        assert_eq!(lang.to_string().parse::<Lang>(), Ok(lang));
    }
    assert_eq!(Lang::default(), Lang::Nn);
    let err = "de".parse::<Lang>().expect_err("de");
    assert_eq!(
        err.to_string(),
        "unknown language \"de\": expected nn or en"
    );
}

#[test]
fn instants_in_utc_and_local_time() {
    fn check(at: &str, tz: &str, utc: &str, local: &str, rfc3339: &str) {
        let w = render::when(at, tz);
        assert_eq!(
            (w.utc.as_str(), w.local.as_str(), w.local_rfc3339.as_str()),
            (utc, local, rfc3339),
            "{at} {tz}"
        );
    }
    check(
        "2026-10-04T12:00:00Z",
        "Europe/Oslo",
        "2026-10-04 12:00 UTC",
        "2026-10-04 14:00 CEST",
        "2026-10-04T14:00:00+02:00",
    );
    // Either side of the end of summer time: 02:30 local happens twice.
    check(
        "2026-10-25T00:30:00Z",
        "Europe/Oslo",
        "2026-10-25 00:30 UTC",
        "2026-10-25 02:30 CEST",
        "2026-10-25T02:30:00+02:00",
    );
    check(
        "2026-10-25T01:30:00Z",
        "Europe/Oslo",
        "2026-10-25 01:30 UTC",
        "2026-10-25 02:30 CET",
        "2026-10-25T02:30:00+01:00",
    );
    check(
        "2026-10-31T23:00:00Z",
        "Europe/Oslo",
        "2026-10-31 23:00 UTC",
        "2026-11-01 00:00 CET",
        "2026-11-01T00:00:00+01:00",
    );
    check(
        "2026-10-13T09:15:30Z",
        "Europe/Oslo",
        "2026-10-13 09:15:30 UTC",
        "2026-10-13 11:15:30 CEST",
        "2026-10-13T11:15:30+02:00",
    );
    check(
        "2026-10-13T09:15:00Z",
        "Nowhere/City",
        "2026-10-13 09:15 UTC",
        "2026-10-13 09:15 UTC",
        "2026-10-13T09:15:00+00:00",
    );
    check(
        "not a time",
        "Europe/Oslo",
        "not a time",
        "not a time",
        "not a time",
    );
}

#[test]
fn durations() {
    fn check(seconds: i64, nn_hm: &str, en_hm: &str, nn_dhm: &str) {
        assert_eq!(render::hours_minutes(seconds, Lang::Nn), nn_hm, "{seconds}");
        assert_eq!(render::hours_minutes(seconds, Lang::En), en_hm, "{seconds}");
        assert_eq!(
            render::days_hours_minutes(seconds, Lang::Nn),
            nn_dhm,
            "{seconds}"
        );
    }
    check(0, "0 t 0 min", "0 h 0 min", "0 t 0 min");
    check(1800, "0 t 30 min", "0 h 30 min", "0 t 30 min");
    check(
        5430,
        "1 t 30 min 30 s",
        "1 h 30 min 30 s",
        "1 t 30 min 30 s",
    );
    check(2_682_000, "745 t 0 min", "745 h 0 min", "31 døgn 1 t 0 min");
    check(302_400, "84 t 0 min", "84 h 0 min", "3 døgn 12 t 0 min");
    assert_eq!(
        render::days_hours_minutes(302_400, Lang::En),
        "3 d 12 h 0 min"
    );
}

#[test]
fn periods_and_percentages() {
    fn check(period: &str, nn: &str, en: &str) {
        assert_eq!(render::period_label(period, Lang::Nn), nn);
        assert_eq!(render::period_label(period, Lang::En), en);
    }
    check("2026-01", "januar 2026", "January 2026");
    check("2026-05", "mai 2026", "May 2026");
    check("2026-10", "oktober 2026", "October 2026");
    check("2026-12", "desember 2026", "December 2026");
    check("2026-13", "2026-13", "2026-13");
    check("oct", "oct", "oct");
    assert_eq!(render::percent("99.932", Lang::Nn), "99,932 %");
    assert_eq!(render::percent("99.932", Lang::En), "99.932%");
}

#[test]
fn the_deviation_list_says_what_when_target_and_measured() {
    let md = render::markdown(&full(), Lang::En);
    let row = |needle: &str| -> String {
        md.lines()
            .find(|l| l.starts_with("| ") && l.contains(needle))
            .unwrap_or_else(|| panic!("no row with {needle:?}"))
            .to_string()
    };
    let availability = row("Availability below target");
    for cell in [
        "2026-11-01 00:00 CET",
        "2026-10-31 23:00 UTC",
        "| sak |",
        "99.800%",
        "99.663%",
    ] {
        assert!(availability.contains(cell), "{availability}: {cell}");
    }
    let response = row("Response time breached");
    for cell in ["2026-10-13 11:15:30 CEST", "INC-9", "P2"] {
        assert!(response.contains(cell), "{response}: {cell}");
    }
    let whole = row("driftsansvarleg");
    assert!(
        whole.contains("whole agreement") && whole.contains("3 d 12 h 0 min"),
        "{whole}"
    );
}

/// Format 2's texts from the ledger are escaped in Markdown like the rest.
#[test]
fn story_texts_are_escaped_in_markdown() {
    let mut report = read(&dir().join("story.report.json"));
    let hostile = "<script>x</script> | **y**";
    let follow_up = report.follow_up.as_mut().expect("format 2");
    let explanation = follow_up[0].explanation.as_mut().expect("explained");
    explanation.cause = hostile.to_string();
    let story = report.story.as_mut().expect("format 2");
    story.actions[0].title = hostile.to_string();
    story.actions[0].owner = hostile.to_string();
    if let Some(rows) = story.contacts.as_mut() {
        rows[0].person = Some(hostile.to_string());
    }
    for lang in LANGS {
        let md = render::markdown(&report, lang);
        assert!(!md.contains("<script>"), "{md}");
        assert!(!md.contains("| **y**"), "{md}");
        assert_eq!(
            md.matches(r"\<script\>x\</script\> \| \*\*y\*\*").count(),
            4,
            "{md}"
        );
    }
}
