//! The xlsx rendering (`tla report --format xlsx`) opened by a real
//! reader: Python's `openpyxl` (scripts/test installs it when missing)
//! loads the workbook from its bytes and hands back every sheet's cells
//! with their types, and the figures are checked against the JSON report
//! they came from: the month of issue 22 (`tests/render/month.report.json`,
//! the engine's own report) and the hand-built format-1 `full` report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use projector::render::{self, Format, Lang};
use projector::Report;
use serde_json::Value;

/// Reads the workbook on stdin and prints `{sheet: [[[type, value], ...],
/// ...]}` as JSON: `type` is openpyxl's data type (`s` string, `n`
/// number, `f` formula, ...), `value` the cell's value (null when empty).
const READER: &str = r#"
import io, json, sys
import openpyxl
book = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read()))
out = {}
for sheet in book.worksheets:
    out[sheet.title] = [[[c.data_type, c.value] for c in row] for row in sheet.iter_rows()]
json.dump({"order": book.sheetnames, "sheets": out}, sys.stdout)
"#;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render")
}

fn read(name: &str) -> Report {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workbook as openpyxl reads it.
struct Book {
    order: Vec<String>,
    sheets: serde_json::Map<String, Value>,
}

impl Book {
    fn open(bytes: &[u8]) -> Book {
        let mut child = Command::new("python3")
            .args(["-c", READER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (scripts/test installs openpyxl)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("workbook written to python3");
        let out = child.wait_with_output().expect("python3 ends");
        assert!(
            out.status.success(),
            "openpyxl could not read the workbook: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from python3");
        Book {
            order: v["order"]
                .as_array()
                .expect("order")
                .iter()
                .map(|s| s.as_str().expect("name").to_string())
                .collect(),
            sheets: v["sheets"].as_object().expect("sheets").clone(),
        }
    }

    /// The rows of `sheet` below its header, as (type, value) cells.
    fn rows(&self, sheet: &str) -> Vec<Vec<(String, Value)>> {
        let rows = self.sheets[sheet].as_array().expect("rows");
        rows.iter()
            .skip(1)
            .map(|r| {
                r.as_array()
                    .expect("row")
                    .iter()
                    .map(|c| (c[0].as_str().unwrap_or("").to_string(), c[1].clone()))
                    .collect()
            })
            .collect()
    }

    fn header(&self, sheet: &str) -> Vec<Value> {
        self.sheets[sheet][0]
            .as_array()
            .expect("header")
            .iter()
            .map(|c| c[1].clone())
            .collect()
    }

    /// The row of `sheet` whose column `col` is the string `key`.
    fn row(&self, sheet: &str, col: usize, key: &str) -> Vec<(String, Value)> {
        self.rows(sheet)
            .into_iter()
            .find(|r| r.get(col).is_some_and(|(_, v)| v.as_str() == Some(key)))
            .unwrap_or_else(|| panic!("{sheet}: no row with {key:?}"))
    }
}

fn workbook(report: &Report, lang: Lang) -> Book {
    let bytes = render::render(report, Format::Xlsx, lang).expect("renders");
    assert!(bytes.starts_with(b"PK\x03\x04"), "an Office Open XML zip");
    Book::open(&bytes)
}

/// A number cell equal to the report's decimal text.
fn number(cell: &(String, Value), expected: &str) {
    assert_eq!(cell.0, "n", "{cell:?} is not a number");
    let want: f64 = expected.parse().expect("a number in the report");
    let got = cell.1.as_f64().expect("a value");
    assert!((got - want).abs() < 1e-9, "{got} != {expected}");
}

fn text(cell: &(String, Value)) -> &str {
    assert_eq!(cell.0, "s", "{cell:?} is not text");
    cell.1.as_str().expect("text")
}

#[test]
fn the_month_opens_with_one_sheet_per_section_and_the_report_s_figures() {
    let report = read("month.report.json");
    let json: Value = serde_json::from_slice(&report.canonical_bytes()).expect("json");
    let book = workbook(&report, Lang::Nn);
    assert_eq!(
        book.order,
        [
            "Samandrag",
            "Avvik frå TLA-krava",
            "Kommunen sine plikter",
            "Tilgjengelegheit",
            "Utfall",
            "Hendingar",
            "Opne hendingar",
            "Oppfølging",
            "Tiltak",
            "Styring",
            "Ansvarlege",
            "Utvikling",
            "Datakvalitet",
            "Stadfesting",
        ]
    );
    // Availability: every guaranteed service, figures as numbers.
    let services = json["services"].as_array().expect("services");
    let guaranteed: Vec<&Value> = services
        .iter()
        .filter(|s| !s["availability"].is_null())
        .collect();
    assert_eq!(book.rows("Tilgjengelegheit").len(), guaranteed.len());
    for s in &guaranteed {
        let a = &s["availability"];
        let row = book.row("Tilgjengelegheit", 1, s["service"].as_str().expect("id"));
        assert_eq!(text(&row[0]), s["name"].as_str().expect("name"));
        number(&row[2], a["target_pct"].as_str().expect("target"));
        number(&row[3], a["achieved_pct"].as_str().expect("achieved"));
        for (col, key) in [
            (4, "downtime_seconds"),
            (5, "excluded_seconds"),
            (6, "window_seconds"),
        ] {
            number(&row[col], &a[key].to_string());
        }
    }
    // Incidents: every service and priority, counts as numbers.
    let incidents = book.rows("Hendingar");
    assert_eq!(incidents.len(), 4 * services.len());
    for s in services {
        for (p, counts) in s["incidents"].as_object().expect("incidents") {
            let row = incidents
                .iter()
                .find(|r| r[1].1 == s["service"] && r[2].1.as_str() == Some(p.as_str()))
                .expect("incident row");
            for (col, key) in [
                (3, "opened"),
                (4, "response_met"),
                (5, "response_breached"),
                (6, "resolution_met"),
                (7, "resolution_breached"),
            ] {
                number(&row[col], &counts[key].to_string());
            }
        }
    }
    // The two groups hold the deviations by party, with their ids.
    let deviations = json["deviations"].as_array().expect("deviations");
    for (sheet, party) in [
        ("Avvik frå TLA-krava", "provider"),
        ("Kommunen sine plikter", "tenant"),
    ] {
        let ids: Vec<&str> = deviations
            .iter()
            .filter(|d| d["party"] == party)
            .map(|d| d["id"].as_str().expect("id"))
            .collect();
        let rows = book.rows(sheet);
        let shown: Vec<&str> = rows.iter().map(|r| text(&r[9])).collect();
        assert_eq!(shown, ids, "{sheet}");
    }
    let steering = book.row("Kommunen sine plikter", 8, "steering_meeting_missing");
    assert_eq!(text(&steering[1]), "august 2026");
    assert_eq!(
        text(&steering[7]),
        "Siste styringsgruppemøte vart halde 20. april 2026."
    );
    let late = book.row("Avvik frå TLA-krava", 8, "response_breach");
    assert!(text(&late[7]).contains("2026-08-18 11:00 CEST"), "{late:?}");
    // Outages: the partial one marked; open incidents at month end.
    let partial = book.row("Utfall", 2, "P-1");
    assert_eq!(text(&partial[0]), "Nettstad");
    assert_eq!(text(&partial[4]), "ja");
    assert_eq!(text(&partial[7]), "2026-08-14T07:00:00Z");
    let outages: usize = services
        .iter()
        .map(|s| s["outages"].as_array().expect("outages").len())
        .sum();
    assert_eq!(book.rows("Utfall").len(), outages);
    let open: Vec<String> = book
        .rows("Opne hendingar")
        .iter()
        .map(|r| text(&r[2]).to_string())
        .collect();
    assert_eq!(open, ["I-8", "I-6"]);
    // The trend, and the proof.
    let trend = json["trend"].as_array().expect("trend");
    let rows = book.rows("Utvikling");
    assert_eq!(rows.len(), trend.len());
    for (r, p) in rows.iter().zip(trend) {
        assert_eq!(r[0].1, p["period"]);
        number(&r[1], &p["deviations"].to_string());
    }
    let proof = book.row("Stadfesting", 0, "Loggrot");
    assert_eq!(
        text(&proof[1]),
        json["manifest"]["ledger_root"].as_str().expect("root")
    );
    assert_eq!(book.header("Tilgjengelegheit")[0], "Teneste");
}

/// A format-1 report has one deviation sheet and none of format 2's; a
/// tenant that looks like a formula is a string cell, never a formula.
#[test]
fn format_1_and_formula_text_in_english() {
    let mut report = read("full.report.json");
    report.tenant = "=HYPERLINK(\"http://x\")".to_string();
    let book = workbook(&report, Lang::En);
    assert_eq!(
        book.order,
        [
            "Summary",
            "Deviations",
            "Availability",
            "Incidents",
            "Data quality",
            "Manifest",
        ]
    );
    assert_eq!(book.rows("Deviations").len(), report.deviations.len());
    let tenant = book.row("Summary", 0, "Tenant");
    assert_eq!(text(&tenant[1]), "=HYPERLINK(\"http://x\")");
    let no_formula = book.sheets.values().all(|rows| {
        rows.as_array()
            .expect("rows")
            .iter()
            .flat_map(|r| r.as_array().expect("row").iter())
            .all(|c| c[0] != "f")
    });
    assert!(no_formula, "a formula cell");
}
