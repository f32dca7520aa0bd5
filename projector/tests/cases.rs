//! Hand-computed report cases, as data: every `tests/cases/*.json` holds
//! events, the reports to compute from them, the figures expected (worked
//! out by hand, with the arithmetic in `why`), and a full snapshot of each
//! report in `tests/snapshots/`. Expected figures are a subset of the
//! report (services keyed by id; `deviations`, when given, must match
//! exactly). Every report is computed in all three formats: format 1
//! against `NAME.I.json` (the snapshots written before format 2 existed,
//! so these are also the check that format 1 regenerates byte for byte),
//! format 2 against `NAME.I.v2.json` (likewise written before format 3)
//! and format 3 against `NAME.I.v3.json`; format 3 without its measures
//! must be format 2. A deviation's measure (format 3: `opened_at`,
//! `target_seconds`, `responded_at`, …) in an expectation is checked in
//! format 3 only. Format 2's own fields in an expectation
//! (`actions`, `governance`, `contacts`, `trend`; a service's `name`,
//! `outages`, `open_incidents`; a deviation's `id`, `party`,
//! `explanation`, `last_held`) are checked in format 2 only, and
//! a deviation expected without them is compared without them. Snapshots
//! are refreshed on purpose with
//! `UPDATE_EXPECT=1 cargo test -p projector --test cases` and reviewed in
//! the diff; the hand-written figures never are.

mod common;

use std::path::Path;

use projector::{compute_as, Format, Input, Period};
use serde_json::{Map, Value};

/// Fewer case files than this means cases went missing.
const CASES_MIN: usize = 23;

/// The top-level fields format 2 adds.
const STORY_KEYS: [&str; 4] = ["actions", "governance", "contacts", "trend"];

/// The fields format 2 adds to a service.
const DETAIL_KEYS: [&str; 3] = ["name", "outages", "open_incidents"];

/// The fields format 2 adds to a deviation.
const FOLLOW_UP_KEYS: [&str; 4] = ["id", "party", "explanation", "last_held"];

/// The fields format 3 adds to a deviation (its measure).
const MEASURE_KEYS: [&str; 9] = [
    "opened_at",
    "target_seconds",
    "responded_at",
    "response_seconds",
    "resolved_at",
    "clock_seconds",
    "scheduled_at",
    "notice_seconds",
    "notice_required_seconds",
];

#[test]
fn cases() {
    let mut paths: Vec<_> = std::fs::read_dir(common::dir("cases"))
        .expect("tests/cases")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= CASES_MIN, "only {} case files", paths.len());
    let failures: Vec<String> = paths.iter().flat_map(|p| check(p)).collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs every report of one case file; returns the failures.
fn check(path: &Path) -> Vec<String> {
    let case = common::read_json(path);
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("file name");
    assert!(
        case["description"].is_string(),
        "{name}: description missing"
    );
    let tenant = case["tenant"].as_str().unwrap_or(common::TENANT);
    let events = common::ledger(case["events"].as_array().expect("events"), tenant);
    let mut failures = Vec::new();
    for (i, r) in case["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .enumerate()
    {
        let label = format!("{name}[{i}] {}", r["period"]);
        let prefix = r["prefix"].as_u64().map_or(events.len(), |n| n as usize);
        let period: Period = r["period"]
            .as_str()
            .expect("period")
            .parse()
            .expect("period");
        let input = Input {
            tenant,
            period,
            events: &events[..prefix],
            horizon: r["horizon"].as_str().map(common::instant),
        };
        let mut computed = Vec::new();
        for format in Format::ALL {
            let label = format!("{label} {}", format.as_str());
            let (actual, snapshot) = run(&input, format, prefix);
            computed.push(actual.clone());
            if let Some(expect) = r.get("error") {
                let text = actual.as_str().unwrap_or("");
                if !text.contains(expect.as_str().expect("error text")) {
                    failures.push(format!(
                        "{label}: expected error containing {expect}, got {actual}"
                    ));
                }
            } else {
                if actual["format"] != format.as_str() {
                    failures.push(format!("{label}: format {}", actual["format"]));
                }
                let expect = expectation(&r["expect"], &actual, format);
                let mut errors = Vec::new();
                subset(&expect, &by_service(&actual), "", &mut errors);
                failures.extend(errors.into_iter().map(|e| format!("{label}: {e}")));
            }
            let file = match format {
                Format::V1 => format!("{name}.{i}.json"),
                Format::V2 => format!("{name}.{i}.v2.json"),
                Format::V3 => format!("{name}.{i}.v3.json"),
            };
            let file = common::dir("snapshots").join(file);
            failures
                .extend(common::snapshot_check(&file, &snapshot).map(|e| format!("{label}: {e}")));
        }
        if let [_, v2, v3] = &computed[..] {
            if let Some(e) = v3_is_v2_measured(v2, v3) {
                failures.push(format!("{label}: {e}"));
            }
        }
    }
    failures
}

/// The report of `input` in `format` as JSON, and its snapshot text.
fn run(input: &Input, format: Format, prefix: usize) -> (Value, String) {
    match compute_as(input, format) {
        Ok(mut report) => {
            report.manifest.ledger_size = prefix as u64;
            report.manifest.ledger_root = "test".to_string();
            report.seal();
            let bytes = report.canonical_bytes();
            // What verify-report reads back is the same report, byte for
            // byte, in either format.
            let back: projector::Report = serde_json::from_slice(&bytes).expect("a report");
            assert!(
                back == report && back.canonical_bytes() == bytes,
                "{format:?} round trip"
            );
            let v: Value = serde_json::from_slice(&bytes).expect("json");
            let text = serde_json::to_string_pretty(&v).expect("json") + "\n";
            (v, text)
        }
        Err(e) => (
            Value::String(format!("error: {e}")),
            format!("error: {e}\n"),
        ),
    }
}

/// What to check of `actual` in `format`: in format 1, `expect` without
/// format 2's fields; in format 2, `expect` with each expected deviation
/// given the follow-up fields the actual one has and it does not name
/// (so that only the named ones are compared).
fn expectation(expect: &Value, actual: &Value, format: Format) -> Value {
    let mut expect = expect.clone();
    let Some(top) = expect.as_object_mut() else {
        return expect;
    };
    if format == Format::V1 {
        for k in STORY_KEYS {
            top.remove(k);
        }
        if let Some(Value::Object(services)) = top.get_mut("services") {
            for s in services.values_mut().filter_map(Value::as_object_mut) {
                for k in DETAIL_KEYS {
                    s.remove(k);
                }
            }
        }
    }
    let Some(Value::Array(deviations)) = top.get_mut("deviations") else {
        return expect;
    };
    let given = actual["deviations"].as_array();
    for (i, d) in deviations.iter_mut().enumerate() {
        let Some(d) = d.as_object_mut() else { continue };
        for k in FOLLOW_UP_KEYS {
            match format {
                Format::V1 => {
                    d.remove(k);
                }
                Format::V2 | Format::V3 => {
                    let theirs = given.and_then(|g| g.get(i)).and_then(|g| g.get(k));
                    if let (None, Some(v)) = (d.get(k), theirs) {
                        d.insert(k.to_string(), v.clone());
                    }
                }
            }
        }
        for k in MEASURE_KEYS {
            let theirs = given.and_then(|g| g.get(i)).and_then(|g| g.get(k));
            match (format, d.get(k), theirs) {
                (Format::V1 | Format::V2, _, _) => {
                    d.remove(k);
                }
                (Format::V3, None, Some(v)) => {
                    d.insert(k.to_string(), v.clone());
                }
                (Format::V3, _, _) => {}
            }
        }
    }
    expect
}

/// Format 3 is format 2 with each late response, late resolution and
/// short notice measured, and nothing else: the format-3 report without
/// the measure keys (and with format 2's name and digest) is the format-2
/// report, and exactly the kinds that have a measure carry one.
fn v3_is_v2_measured(v2: &Value, v3: &Value) -> Option<String> {
    if v2.is_string() || v3.is_string() {
        return (v2 != v3).then(|| format!("errors differ: {v2} / {v3}"));
    }
    let mut stripped = v3.clone();
    stripped["format"] = v2["format"].clone();
    stripped["manifest"]["report_digest"] = v2["manifest"]["report_digest"].clone();
    for d in stripped["deviations"].as_array_mut()? {
        let measured = matches!(
            d["kind"].as_str(),
            Some("response_breach" | "resolution_breach" | "maintenance_short_notice")
        );
        let d = d.as_object_mut()?;
        let had: Vec<&str> = MEASURE_KEYS
            .into_iter()
            .filter(|k| d.remove(*k).is_some())
            .collect();
        if measured == had.is_empty() {
            return Some(format!("deviation {d:?} has measure keys {had:?}"));
        }
    }
    (stripped != *v2).then(|| "format 3 without its measures is not format 2".to_string())
}

/// The report with `services` as an object keyed by service id.
fn by_service(report: &Value) -> Value {
    let mut v = report.clone();
    if let Some(services) = report["services"].as_array() {
        let keyed: Map<String, Value> = services
            .iter()
            .map(|s| (s["service"].as_str().unwrap_or("").to_string(), s.clone()))
            .collect();
        v["services"] = Value::Object(keyed);
    }
    v
}

/// Checks that `expect` is contained in `actual`.
fn subset(expect: &Value, actual: &Value, path: &str, errors: &mut Vec<String>) {
    match (expect, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, x) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    None if x.is_null() => {}
                    None => errors.push(format!("{p}: missing, expected {x}")),
                    Some(y) if k == "deviations" && x != y => errors.push(format!(
                        "{p}: expected\n  {}\ngot\n  {}",
                        serde_json::to_string(x).unwrap_or_default(),
                        serde_json::to_string(y).unwrap_or_default()
                    )),
                    Some(y) => subset(x, y, &p, errors),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                subset(x, y, &format!("{path}[{i}]"), errors);
            }
        }
        (e, a) if e == a => {}
        (e, a) => errors.push(format!("{path}: expected {e}, got {a}")),
    }
}
