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
    String::from_utf8(render::render(report, format, lang).expect("renders")).expect("UTF-8")
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
        assert_eq!(
            render::render(&report, Format::Json, lang).expect("renders"),
            expected
        );
    }
}

#[test]
fn output_is_identical_across_calls() {
    for (name, report) in fixtures() {
        let copy = report.clone();
        for lang in LANGS {
            for format in [
                Format::Json,
                Format::Markdown,
                Format::Html,
                Format::Csv,
                Format::Xlsx,
            ] {
                let first = render::render(&report, format, lang).expect("renders");
                let second = render::render(&copy, format, lang).expect("renders");
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
            "&lt;script&gt;alert('role')&lt;/script&gt;",
            "ark'iv&quot;&gt;&lt;img src=x&gt;",
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

/// The records of a CSV text of `lang`: Nynorsk's starts with a byte
/// order mark and separates with `;`, English's is plain RFC 4180.
fn parse_csv(text: &str, lang: Lang) -> Vec<Vec<String>> {
    match lang {
        Lang::Nn => {
            let body = text.strip_prefix('\u{feff}').expect("a byte order mark");
            parse_separated(body, ';')
        }
        Lang::En => {
            assert!(!text.starts_with('\u{feff}'), "English has no BOM");
            parse_separated(text, ',')
        }
    }
}

/// The records of a CSV text separated by `sep`, by RFC 4180 (a reader
/// written apart from the writer, so the test does not trust the code it
/// checks).
fn parse_separated(text: &str, sep: char) -> Vec<Vec<String>> {
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
            (false, c) if c == sep => record.push(std::mem::take(&mut field)),
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
    let tenant = "Alver, \"Nord\"\nkommune\r\nIKS; vest";
    let role = "drift,\"vakt\"";
    report.tenant = tenant.to_string();
    report.deviations.push(Deviation::ContactVacant {
        at: "2026-10-31T23:00:00Z".to_string(),
        role: role.to_string(),
        service: None,
        vacant_seconds: 60,
    });
    for lang in LANGS {
        let records = parse_csv(&render::csv(&report, lang), lang);
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
    let records = parse_csv(&render::csv(&report, Lang::Nn), Lang::Nn);
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
            + report.data_quality.by_reason.len()
            + report.story.as_ref().map_or(0, |s| {
                s.actions.len()
                    + s.governance.as_ref().map_or(0, |g| g.meetings.len() + 2)
                    + s.contacts.as_ref().map_or(0, Vec::len)
                    + 3 * s.trend.len()
            })
            + report
                .services
                .iter()
                .filter_map(|s| s.details.as_ref())
                .map(|d| d.outages.len() + d.open_incidents.len())
                .sum::<usize>();
        let width = match (&report.story, &report.measures) {
            (_, Some(_)) => 31,
            (Some(_), None) => 28,
            (None, None) => 18,
        };
        for lang in LANGS {
            let records = parse_csv(&render::csv(&report, lang), lang);
            assert_eq!(records.len(), expected, "{name} {lang:?}");
            assert!(records.iter().all(|r| r.len() == width), "{name} {lang:?}");
        }
    }
}

#[test]
fn csv_codes_do_not_depend_on_the_language() {
    let report = full();
    let codes = |lang| -> Vec<String> {
        let records = parse_csv(&render::csv(&report, lang), lang);
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
    check("xlsx", Some((None, Some(Format::Xlsx))));
    check("nb", Some((None, None)));
    check("NN", Some((None, None)));
    check("markdown", Some((None, None)));
    for format in [
        Format::Json,
        Format::Markdown,
        Format::Html,
        Format::Csv,
        Format::Xlsx,
    ] {
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

fn story() -> Report {
    read(&dir().join("story.report.json"))
}

/// The format-2 sections of the HTML page, in both languages: the
/// follow-up of every deviation (explained or not), the actions with the
/// overdue one marked, governance, the roster with its vacant roles, and
/// the trend chart; and none of them for a format-1 report.
#[test]
fn html_has_the_story_sections_in_both_languages() {
    let report = story();
    let expect = [
        (
            Lang::Nn,
            [
                "<h2 id=\"follow-up\">Oppfølging av avvik</h2>",
                "ikkje forklart enno",
                "<td data-label=\"Part\">leverandøren</td>",
                "<td data-label=\"Status\" class=\"bad\">over fristen</td>",
                "<h2 id=\"governance-story\">Styring</h2>",
                "<td data-label=\"I tide\" class=\"bad\">nei</td>",
                "<h2 id=\"responsible\">Ansvarlege</h2>",
                "<strong class=\"bad\">ledig</strong>",
                "<h2 id=\"trend\">Utvikling over tolv månader</h2>",
            ],
        ),
        (
            Lang::En,
            [
                "<h2 id=\"follow-up\">Deviation follow-up</h2>",
                "not explained yet",
                "<td data-label=\"Party\">provider</td>",
                "<td data-label=\"Status\" class=\"bad\">overdue</td>",
                "<h2 id=\"governance-story\">Governance</h2>",
                "<td data-label=\"On time\" class=\"bad\">no</td>",
                "<h2 id=\"responsible\">Responsible persons</h2>",
                "<strong class=\"bad\">vacant</strong>",
                "<h2 id=\"trend\">Twelve-month trend</h2>",
            ],
        ),
    ];
    let follow_up = report.follow_up.as_ref().expect("format 2");
    let story = report.story.as_ref().expect("format 2");
    for (lang, needles) in expect {
        let html = render::html(&report, lang);
        for needle in needles {
            assert!(html.contains(needle), "{lang:?}: {needle:?} missing");
        }
        // Every deviation has its follow-up row, the explained one its cause.
        for f in follow_up {
            assert!(html.contains(&format!("<tr id=\"deviation-{}\">", f.id)));
        }
        let cause = &follow_up[0].explanation.as_ref().expect("explained").cause;
        assert!(html.contains(&format!(
            "<td data-label=\"{}\">{cause}</td>",
            render::text::story(lang).cause
        )));
        let vacant = story.contacts.as_ref().expect("contacts");
        let vacant = vacant.iter().filter(|c| c.person.is_none()).count();
        assert_eq!(html.matches("data-vacant=\"true\"").count(), vacant);
        assert_eq!(html.matches("<g data-period=").count(), story.trend.len());
        // The sections come after the deviations and before availability.
        let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("id=\"deviations\"") < at("id=\"follow-up\""));
        assert!(at("id=\"follow-up\"") < at("id=\"actions\""));
        assert!(at("id=\"actions\"") < at("id=\"governance-story\""));
        assert!(at("id=\"governance-story\"") < at("id=\"responsible\""));
        assert!(at("id=\"responsible\"") < at("id=\"trend\""));
        assert!(at("id=\"trend\"") < at("id=\"availability\""));
    }
    let format1 = render::html(&full(), Lang::En);
    for id in [
        "follow-up",
        "actions",
        "governance-story",
        "responsible",
        "trend",
    ] {
        assert!(
            !format1.contains(&format!("id=\"{id}\"")),
            "{id} in format 1"
        );
    }
}

/// Format 2's texts from the ledger are escaped in HTML like the rest.
#[test]
fn story_texts_are_escaped_in_html() {
    let mut report = story();
    let hostile = "<script>x</script>\"'&";
    // `'` stays as it is: every attribute is quoted with `"`.
    let escaped = "&lt;script&gt;x&lt;/script&gt;&quot;'&amp;";
    let follow_up = report.follow_up.as_mut().expect("format 2");
    follow_up[0].id = hostile.to_string();
    let explanation = follow_up[0].explanation.as_mut().expect("explained");
    explanation.cause = hostile.to_string();
    explanation.action_id = Some(hostile.to_string());
    let story = report.story.as_mut().expect("format 2");
    let action = &mut story.actions[0];
    (action.title, action.owner, action.action_id) = (
        hostile.to_string(),
        hostile.to_string(),
        hostile.to_string(),
    );
    story.actions[2].outcome = Some(hostile.to_string());
    let governance = story.governance.as_mut().expect("governance");
    governance.meetings[0].meeting_id = hostile.to_string();
    let contacts = story.contacts.as_mut().expect("contacts");
    contacts[0].role = hostile.to_string();
    contacts[0].person = Some(hostile.to_string());
    contacts[2].service = Some(hostile.to_string());
    story.trend[0].period = hostile.to_string();
    for lang in LANGS {
        let html = render::html(&report, lang);
        assert!(!html.contains("<script"), "{lang:?}: raw <script>");
        assert!(!html.contains("x</script>"), "{lang:?}: raw </script>");
        // Ids in attributes and text, cause, the action named by the
        // explanation (twice: its title and its id), title, owner, id,
        // outcome, meeting, role, person, service, the trend's period
        // (attribute, title, label).
        assert!(html.matches(escaped).count() >= 15, "{lang:?}: {html}");
    }
}

/// The stylesheet, the one piece of the page spliced in unescaped (CSS
/// is not HTML text), cannot end its `<style>` element or open another.
#[test]
fn the_raw_stylesheet_holds_no_markup() {
    assert!(!render::html::STYLE.contains('<'));
    for (name, report) in fixtures() {
        let html = render::html(&report, Lang::En);
        assert_eq!(html.matches("<style>").count(), 1, "{name}");
        assert!(html.contains(&format!("<style>{}</style>", render::html::STYLE)));
    }
}

/// The trend chart, alone: every string escaped, bars scaled to the
/// highest count, no bar for a period without deviations, no script and
/// no `style` attribute (the page's CSP allows neither).
#[test]
fn trend_chart_escapes_and_scales() {
    use projector::report::TrendPeriod;
    let period = |period: &str, deviations| TrendPeriod {
        period: period.to_string(),
        deviations,
        services_met: 1,
        services_guaranteed: 2,
    };
    let trend = [
        period("<script>alert('x')</script>", 0),
        period("2026-09", 2),
        period("2026-10", 4),
    ];
    for lang in LANGS {
        let svg = render::html::trend_chart(&trend, lang).into_string();
        assert!(svg.starts_with("<svg class=\"trend\""), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("style="), "{svg}");
        assert!(
            svg.contains("data-period=\"&lt;script&gt;alert('x')&lt;/script&gt;\""),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect ").count(), 2, "{svg}");
        assert!(
            svg.contains("height=\"90\""),
            "the highest fills the plot: {svg}"
        );
        assert!(
            svg.contains("height=\"45\""),
            "half the highest, half the plot: {svg}"
        );
        assert_eq!(svg.matches(">1/2</text>").count(), 3, "{svg}");
    }
    let nn = render::html::trend_chart(&trend, Lang::Nn).into_string();
    assert!(
        nn.contains(">okt 26</text>") && nn.contains("oktober 2026. Avvik: 4."),
        "{nn}"
    );
    let en = render::html::trend_chart(&trend, Lang::En).into_string();
    assert!(
        en.contains(">Oct 26</text>") && en.contains("October 2026. Deviations: 4."),
        "{en}"
    );
    // No periods: an empty chart, not a failure.
    assert!(render::html::trend_chart(&[], Lang::En)
        .into_string()
        .ends_with("</svg>\n"));
}

/// The format-2 CSV: deviation rows carry id, party and explanation; the
/// action rows link back to the deviations; governance, roster and trend
/// rows have their codes; format 1 keeps its eighteen columns.
#[test]
fn csv_story_rows_in_both_languages() {
    let report = story();
    let follow_up = report.follow_up.as_ref().expect("format 2");
    let story = report.story.as_ref().expect("format 2");
    for lang in LANGS {
        let records = parse_csv(&render::csv(&report, lang), lang);
        let s = render::text::story(lang);
        assert_eq!(&records[0][18..], &s.csv_header[..]);
        let deviations: Vec<&Vec<String>> = records
            .iter()
            .filter(|r| r[3] == lang.text().section_deviations)
            .collect();
        assert_eq!(deviations.len(), follow_up.len());
        for (r, f) in deviations.iter().zip(follow_up) {
            assert_eq!(
                (r[18].as_str(), r[19].as_str()),
                (f.id.as_str(), f.party.as_str())
            );
            let cause = f.explanation.as_ref().map_or("", |e| e.cause.as_str());
            assert_eq!(r[20], cause);
        }
        let by_code =
            |code: &str| -> Vec<&Vec<String>> { records.iter().filter(|r| r[6] == code).collect() };
        let overdue = by_code("action_overdue");
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0][3], s.section_actions);
        assert_eq!(overdue[0][11], s.overdue);
        assert_eq!(overdue[0][18], "b-1");
        assert_eq!(overdue[0][24], "2026-03-20T15:00:00Z");
        let closed = by_code("action_closed");
        assert_eq!(closed[0][21], "0123456789abcdef fedcba9876543210");
        assert_eq!(closed[0][26], "Firmware 4.2 installed");
        let late = by_code("operations_meeting");
        assert_eq!(
            (late[0][16].as_str(), late[0][11].as_str()),
            ("D-1", lang.text().not_met)
        );
        assert_eq!(late[1][11], "", "minutes not due yet are not judged");
        let vacant = by_code("role_vacant");
        let expected = story
            .contacts
            .as_ref()
            .expect("contacts")
            .iter()
            .filter(|c| c.person.is_none())
            .count();
        assert_eq!(vacant.len(), expected);
        assert!(vacant.iter().all(|r| r[7] == s.vacant && r[23].is_empty()));
        let trend = by_code("services_guaranteed");
        assert_eq!(trend.len(), story.trend.len());
        assert!(trend
            .iter()
            .zip(&story.trend)
            .all(|(r, p)| r[27] == p.period
                && r[8] == p.services_guaranteed.to_string()
                && r[3] == s.section_trend));
    }
    // Format 1: eighteen columns, no story rows.
    let records = parse_csv(&render::csv(&full(), Lang::En), Lang::En);
    assert!(records.iter().all(|r| r.len() == 18));
    assert!(!records.iter().any(|r| r[3] == "actions" || r[3] == "trend"));
}

/// A cause or title that would run as a formula is shown as text.
#[test]
fn csv_keeps_story_formulas_from_running() {
    let mut report = story();
    let follow_up = report.follow_up.as_mut().expect("format 2");
    follow_up[0].explanation.as_mut().expect("explained").cause = "=HYPERLINK(\"x\")".to_string();
    report.story.as_mut().expect("format 2").actions[0].owner = "+47 555".to_string();
    let records = parse_csv(&render::csv(&report, Lang::Nn), Lang::Nn);
    assert!(records.iter().any(|r| r[20] == "'=HYPERLINK(\"x\")"));
    assert!(records.iter().any(|r| r[23] == "'+47 555"));
}

/// Format 2 shows the provider's deviations from the guaranteed levels
/// apart from what the municipality owes (SEMANTICS.md section 12 "Who
/// owes it"), each row keeping its report-order number; format 1 keeps
/// its one table.
#[test]
fn the_provider_s_deviations_stand_apart_from_the_municipality_s() {
    let mut report = story();
    report.follow_up.as_mut().expect("format 2")[0].party = "tenant".to_string();
    for (lang, provider, tenant) in [
        (
            Lang::Nn,
            "Avvik frå TLA-krava (1)",
            "Kommunen sine plikter (1)",
        ),
        (
            Lang::En,
            "Deviations from the TLA requirements (1)",
            "What the municipality owes (1)",
        ),
    ] {
        let html = render::html(&report, lang);
        let (p, t) = (
            html.find(&format!("<caption>{provider}</caption>"))
                .expect("provider table"),
            html.find(&format!("<caption>{tenant}</caption>"))
                .expect("tenant table"),
        );
        assert!(p < t, "the provider's first");
        // The provider's table holds deviation 2, the municipality's 1.
        assert!(
            html[p..t].contains("class=\"num\">2</th>"),
            "{}",
            &html[p..t]
        );
        assert!(html[t..].contains("class=\"num\">1</th>"));
        let md = render::markdown(&report, lang);
        let (p, t) = (
            md.find(&format!("**{}** (1)", &provider[..provider.len() - 4]))
                .expect("md provider"),
            md.find(&format!("**{}** (1)", &tenant[..tenant.len() - 4]))
                .expect("md tenant"),
        );
        assert!(p < t && md[p..t].contains("\n| 2 |") && md[t..].contains("\n| 1 |"));
    }
    let format1 = render::html(&full(), Lang::En);
    assert_eq!(
        format1
            .matches("<caption>Deviations in the period (")
            .count(),
        1
    );
}

/// The month a municipality reads (issue 22): the engine's own format-3
/// report of `tests/cases/month_for_people.json`, August 2026.
fn month() -> Report {
    read(&dir().join("month.report.json"))
}

/// The month fixture is what the engine computes, not a hand edit: it is
/// the case's format-3 snapshot, which `tests/cases.rs` recomputes.
#[test]
fn the_month_fixture_is_the_engine_s_report() {
    let snapshot = read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/month_for_people.0.v3.json"),
    );
    assert_eq!(month(), snapshot);
}

/// The same month in format 2, which measures nothing: its renderings say
/// what the deadline words said before format 3, byte for byte as they
/// were (a format-2 report keeps rendering as it was issued), and its CSV
/// keeps 28 columns; in format 3 the CSV's three measure columns give the
/// seconds behind the words.
#[test]
fn the_month_in_format_2_keeps_its_words_and_format_3_measures() {
    let v2 = read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/month_for_people.0.v2.json"),
    );
    assert_eq!(v2.format, "tla-report/2");
    let md = render::markdown(&v2, Lang::Nn);
    for needle in [
        "Responsfristen gjekk ut 2026-08-18 11:00 CEST før hendinga fekk respons.",
        "Vindauget starta 2026-08-21 22:00 CEST, utan varsel i tide.",
    ] {
        assert!(md.contains(needle), "{needle:?} missing in\n{md}");
    }
    assert!(
        !md.contains("Respons etter") && !md.contains("Varsla "),
        "{md}"
    );
    let v3 = month();
    assert_eq!(v3.format, "tla-report/3");
    for (report, width) in [(&v2, 28), (&v3, 31)] {
        let records = parse_csv(&render::csv(report, Lang::En), Lang::En);
        assert!(records.iter().all(|r| r.len() == width), "{width}");
    }
    let records = parse_csv(&render::csv(&v3, Lang::Nn), Lang::Nn);
    let row = |code: &str| {
        records
            .iter()
            .find(|r| r[6] == code)
            .unwrap_or_else(|| panic!("no {code} row"))
            .clone()
    };
    let late = row("response_breach");
    assert_eq!((late[29].as_str(), late[30].as_str()), ("4320", "3600"));
    assert!(late[28].starts_with("Respons etter 1 t 12 min; kravet er 1 t 0 min."));
    let notice = row("maintenance_short_notice");
    assert_eq!(
        (notice[29].as_str(), notice[30].as_str()),
        ("72000", "432000")
    );
    assert!(notice[28].starts_with("Varsla 20 t før; avtalen krev 120 t."));
    assert_eq!(records[0][28], "målt");
}

/// The Markdown row of the deviation whose row holds `needle`.
fn md_row(md: &str, needle: &str) -> String {
    md.lines()
        .find(|l| l.starts_with("| ") && l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in\n{md}"))
        .to_string()
}

/// Every case issue 22 lists, in the Markdown of both languages: the two
/// deviation groups, a late response with its deadline, a steering lapse
/// owed by the tenant with its last meeting, a period-wide deviation
/// dated as the month with the exact instant in the detail, services and
/// roles by name, a partial outage marked, open incidents at month end
/// and the proof in plain words.
#[test]
fn the_month_reads_as_the_municipality_needs() {
    let mut report = month();
    // The case's ledger has no Merkle tree; an issued report has its root.
    report.manifest.tree_root = "ab".repeat(32);
    let cases = [
        (
            Lang::Nn,
            [
                "**Avvik frå TLA-krava** (4)",
                "**Kommunen sine plikter** (2)",
                "Respons etter 1 t 12 min; kravet er 1 t 0 min. Fristen gjekk ut 2026-08-18 11:00 CEST.",
                "Varsla 20 t før; avtalen krev 120 t. Vindauget starta 2026-08-21 22:00 CEST.",
                "Siste styringsgruppemøte vart halde 20. april 2026.",
                "| august 2026 | 2026-08-31 22:00 UTC | Tilgjengelegheit under mål | E-post |",
                "registrert ved periodeslutt, 2026-09-01 00:00 CEST.",
                "Kontaktperson i kommunen (tenant\\_contact)",
                "| Nettstad | `P-1` | **delvis utfall (tel ikkje som nedetid)** | 2026-08-14 09:00 CEST | 2026-08-14 16:48 CEST |",
                "| Nettverk | `I-6` | P3 | 2026-07-28 12:00 CEST | oppretta i ein tidlegare månad |",
                "| E-post | `I-8` | P4 | 2026-08-28 10:00 CEST | oppretta denne månaden |",
                "99,193 % (nedetid 6 t 0 min)",
                "Møtet vart halde 5. august 2026; referatet skulle vore levert 2026-08-19 10:00 CEST.",
                "Loggrota er kontrollsummen",
                "Merkle-rota er rota",
                "`/tenants/alver/reports/2026-08/verify`",
            ],
        ),
        (
            Lang::En,
            [
                "**Deviations from the TLA requirements** (4)",
                "**What the municipality owes** (2)",
                "Response after 1 h 12 min; the requirement is 1 h 0 min. The deadline passed at 2026-08-18 11:00 CEST.",
                "Announced 20 h ahead; the agreement requires 120 h. The window started at 2026-08-21 22:00 CEST.",
                "The last steering group meeting was held on 20 April 2026.",
                "| August 2026 | 2026-08-31 22:00 UTC | Availability below target | E-post |",
                "recorded at the period's end, 2026-09-01 00:00 CEST.",
                "Municipal contact (tenant\\_contact)",
                "| Nettstad | `P-1` | **partial outage (not counted as downtime)** | 2026-08-14 09:00 CEST | 2026-08-14 16:48 CEST |",
                "| Nettverk | `I-6` | P3 | 2026-07-28 12:00 CEST | opened in an earlier month |",
                "| E-post | `I-8` | P4 | 2026-08-28 10:00 CEST | opened this month |",
                "99.193% (downtime 6 h 0 min)",
                "The meeting was held on 5 August 2026; minutes were due 2026-08-19 10:00 CEST.",
                "The log root is the digest",
                "The Merkle root is the root",
                "`/tenants/alver/reports/2026-08/verify`",
            ],
        ),
    ];
    for (lang, needles) in cases {
        let md = render::markdown(&report, lang);
        for needle in needles {
            assert!(md.contains(needle), "{lang:?}: {needle:?} missing in\n{md}");
        }
        // The provider's group comes first and holds the late response;
        // the municipality's holds the steering lapse and the contact.
        let s = render::text::story(lang);
        let (p, t) = (
            md.find(&format!("**{}**", s.deviations_provider))
                .expect("provider group"),
            md.find(&format!("**{}**", s.deviations_tenant))
                .expect("tenant group"),
        );
        assert!(p < t);
        let late = md_row(&md, render::text::kind_label(lang, "response_breach"));
        assert!(late.contains("Nettverk") && late.contains("I-7"), "{late}");
        let steering = md.find(render::text::kind_label(lang, "steering_meeting_missing"));
        let response = md.find(render::text::kind_label(lang, "response_breach"));
        assert!(
            response.is_some_and(|r| p < r && r < t) && steering.is_some_and(|x| x > t),
            "{md}"
        );
        // Services by name in every table, never by id alone.
        for id in ["| epost |", "| nett |", "| web |"] {
            assert!(!md.contains(id), "{lang:?}: {id} shown by id");
        }
    }
}

/// The Nynorsk CSV is what Excel set to Norwegian opens as columns: a
/// byte order mark, `;` between fields, a decimal comma in the figures;
/// the English one stays RFC 4180 with a decimal point. Outage and open
/// incident rows carry the detail.
#[test]
fn csv_for_norwegian_excel() {
    let report = month();
    let nn = render::csv(&report, Lang::Nn);
    assert!(nn.starts_with("\u{feff}kunde;periode;status;del;"), "{nn}");
    let records = parse_csv(&nn, Lang::Nn);
    let by = |code: &str, service: &str| -> Vec<String> {
        records
            .iter()
            .find(|r| r[6] == code && r[4] == service)
            .unwrap_or_else(|| panic!("no {code} row of {service}"))
            .clone()
    };
    assert_eq!(by("achieved_pct", "epost")[8], "99,193");
    assert_eq!(by("achieved_pct", "epost")[10], "99,500");
    assert_eq!(by("downtime_seconds", "epost")[8], "21600");
    let partial = by("outage_partial", "web");
    assert_eq!(
        (
            partial[3].as_str(),
            partial[18].as_str(),
            partial[25].as_str()
        ),
        ("utfall", "P-1", "2026-08-14T14:48:00Z")
    );
    assert!(partial[7].contains("tel ikkje som nedetid"), "{partial:?}");
    let open = by("open_incident", "nett");
    assert_eq!((open[5].as_str(), open[14].as_str()), ("P3", "I-6"));
    let en = parse_csv(&render::csv(&report, Lang::En), Lang::En);
    let achieved = en
        .iter()
        .find(|r| r[6] == "achieved_pct" && r[4] == "epost")
        .expect("achieved row");
    assert_eq!(achieved[8], "99.193");
    assert_eq!(records.len(), en.len());
}

/// The `<tr …>…</tr>` of `html` that holds `needle`.
fn html_row<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in\n{html}"));
    let start = html[..at].rfind("<tr").expect("a row around it");
    let end = at + html[at..].find("</tr>").expect("the row's end");
    &html[start..end]
}

/// Issue 22 in the HTML report (and so in the PDF printed from it), both
/// languages: the provider's deviations apart from the municipality's, a
/// late response with its deadline, the tenant's steering lapse with its
/// last meeting, a period-wide deviation dated as the month with the
/// exact instant under its description, roles by label with the id in
/// small print, services by name, the outages behind the figures with the
/// partial one marked, the incidents open at month end marked opened this
/// month or earlier, and the proof in plain words with a link to the
/// verification page. The same words as the Markdown: they come from
/// `render::text`.
#[test]
fn the_month_reads_as_the_municipality_needs_in_html() {
    let mut report = month();
    report.manifest.tree_root = "ab".repeat(32);
    let cases = [
        (
            Lang::Nn,
            "august 2026",
            "registrert ved periodeslutt, 2026-09-01 00:00 CEST.",
            [
                "Respons etter 1 t 12 min; kravet er 1 t 0 min. Fristen gjekk ut 2026-08-18 11:00 CEST.",
                "Varsla 20 t før; avtalen krev 120 t. Vindauget starta 2026-08-21 22:00 CEST.",
                "Siste styringsgruppemøte vart halde 20. april 2026.",
                "Kontaktperson i kommunen (tenant_contact)",
                "Kontaktperson i kommunen <small class=\"note\"><code>tenant_contact</code></small>",
                "<strong>delvis utfall (tel ikkje som nedetid)</strong>",
                "99,193 % (nedetid 6 t 0 min)",
                "<h2 id=\"outages\">Utfall bak tala</h2>",
                "<h2 id=\"open-incidents\">Opne hendingar ved utgangen av månaden</h2>",
                "<p class=\"proof\" data-proof=\"log-root\">Loggrota er kontrollsummen",
                "<p class=\"proof\" data-proof=\"tree-root\">Merkle-rota er rota",
                "på kontrollsida <a href=\"/tenants/alver/reports/2026-08/verify\"><code>/tenants/alver/reports/2026-08/verify</code></a>.",
            ],
            ["oppretta i ein tidlegare månad", "oppretta denne månaden"],
        ),
        (
            Lang::En,
            "August 2026",
            "recorded at the period's end, 2026-09-01 00:00 CEST.",
            [
                "Response after 1 h 12 min; the requirement is 1 h 0 min. The deadline passed at 2026-08-18 11:00 CEST.",
                "Announced 20 h ahead; the agreement requires 120 h. The window started at 2026-08-21 22:00 CEST.",
                "The last steering group meeting was held on 20 April 2026.",
                "Municipal contact (tenant_contact)",
                "Municipal contact <small class=\"note\"><code>tenant_contact</code></small>",
                "<strong>partial outage (not counted as downtime)</strong>",
                "99.193% (downtime 6 h 0 min)",
                "<h2 id=\"outages\">Outages behind the figures</h2>",
                "<h2 id=\"open-incidents\">Incidents open at the end of the month</h2>",
                "<p class=\"proof\" data-proof=\"log-root\">The log root is the digest",
                "<p class=\"proof\" data-proof=\"tree-root\">The Merkle root is the root",
                "verification page <a href=\"/tenants/alver/reports/2026-08/verify\"><code>/tenants/alver/reports/2026-08/verify</code></a>.",
            ],
            ["opened in an earlier month", "opened this month"],
        ),
    ];
    for (lang, month_name, exact, needles, [earlier, this_month]) in cases {
        let html = render::html(&report, lang);
        for needle in needles {
            assert!(
                html.contains(needle),
                "{lang:?}: {needle:?} missing in\n{html}"
            );
        }
        // The two groups, the provider's first; each row says whose it is.
        let s = render::text::story(lang);
        let p = html
            .find(&format!("<caption>{} (4)</caption>", s.deviations_provider))
            .expect("the provider's table");
        let t = html
            .find(&format!("<caption>{} (2)</caption>", s.deviations_tenant))
            .expect("the municipality's table");
        assert!(p < t);
        let end = t + html[t..].find("</table>").expect("its end");
        assert_eq!(
            html[p..t].matches("<tr data-party=\"provider\">").count(),
            4
        );
        assert_eq!(
            html[t..end].matches("<tr data-party=\"tenant\">").count(),
            2
        );
        let kind = |k: &str| render::text::kind_label(lang, k);
        let late = html_row(&html, kind("response_breach"));
        assert!(late.contains("Nettverk") && late.contains("I-7"), "{late}");
        assert!(html
            .find(kind("response_breach"))
            .is_some_and(|r| p < r && r < t));
        assert!(html
            .find(kind("steering_meeting_missing"))
            .is_some_and(|r| r > t));
        // A period-wide deviation: the month in the date cell, the exact
        // instant (and no other time) in the detail.
        let wide = html_row(&html, kind("availability_below_target"));
        assert!(
            wide.contains(&format!("class=\"time\">{month_name}</td>")),
            "{wide}"
        );
        assert!(wide.contains(exact), "{wide}");
        assert!(!wide.contains("22:00 UTC"), "{wide}");
        // An instant deviation keeps its local and UTC time.
        assert!(
            late.contains(
                "2026-08-18 11:00 CEST<br><span class=\"note\">2026-08-18 09:00 UTC</span>"
            ),
            "{late}"
        );
        // The partial outage, marked, by the service's name.
        let partial = html_row(&html, "data-outage=\"P-1\"");
        assert!(partial.contains("data-impact=\"partial\""), "{partial}");
        assert!(partial.contains(">Nettstad</th>"), "{partial}");
        assert!(
            partial.contains("2026-08-14 09:00 CEST") && partial.contains("2026-08-14 16:48 CEST")
        );
        let full = html_row(&html, "data-outage=\"F-1\"");
        assert!(
            full.contains("data-impact=\"full\"") && !full.contains("<strong>"),
            "{full}"
        );
        // Open at month end: I-6 from July, I-8 from August.
        let july = html_row(&html, "data-incident=\"I-6\"");
        assert!(
            july.contains("data-earlier=\"true\"") && july.contains(earlier),
            "{july}"
        );
        assert!(
            july.contains("2026-07-28 12:00 CEST") && july.contains(">P3<"),
            "{july}"
        );
        let august = html_row(&html, "data-incident=\"I-8\"");
        assert!(
            august.contains("data-earlier=\"false\"") && august.contains(this_month),
            "{august}"
        );
        // Services by name in every table, never by id alone.
        for id in [">epost<", ">nett<", ">web<"] {
            assert!(!html.contains(id), "{lang:?}: {id} shown by id");
        }
    }
    // Without a Merkle root (an older report) the tree sentence goes.
    report.manifest.tree_root = String::new();
    let html = render::html(&report, Lang::Nn);
    assert!(html.contains("data-proof=\"log-root\"") && !html.contains("data-proof=\"tree-root\""));
    // Format 1 has none of format 2's detail sections.
    let format1 = render::html(&full(), Lang::Nn);
    for absent in ["id=\"outages\"", "id=\"open-incidents\"", "data-proof"] {
        assert!(!format1.contains(absent), "format 1 shows {absent}");
    }
}
