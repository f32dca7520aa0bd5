//! Reports issued as `tla-report/2`, before format 3 existed, still
//! regenerate byte for byte (SEMANTICS.md section 12, "Compatibility";
//! docs/SEMANTICS-NOTES.md "Report format 3"): the evidence bundle
//! committed under `tests/fixtures/format2/` (made by the format-2 code,
//! see its README) verifies offline, and a format-2 issuance in a ledger
//! is found, regenerated and re-verified in format 2 while new reports are
//! format 3, which differ from it only by the measures.

mod common;

use std::path::PathBuf;

use projector::{Format, Period};
use service::report::{self, Horizon};

fn fixture(name: &str) -> PathBuf {
    common::format_fixture("format2", name)
}

#[test]
fn a_format_2_bundle_made_before_format_3_still_verifies() {
    // The format named decides: the same report relabelled as the next
    // format (its digest left as it is) no longer reproduces.
    common::old_format_bundle_verifies("format2", "tla-report/2", "tla-report/3");
}

#[test]
fn a_format_2_issue_in_the_ledger_regenerates_as_format_2() {
    let (_dir, mut ledger) = common::ledger_of_format_fixture("format2");
    let period: Period = "2026-04".parse().unwrap();

    // Issued as the format-2 code issued it: the fixture's report, byte
    // for byte but for the pins of this ledger.
    let how = (Horizon::Now, Format::V2);
    let issued = report::generate_as(&ledger, "alver", period, None, how).unwrap();
    assert_eq!(issued.format, "tla-report/2");
    assert_eq!(issued.measures, None);
    let fixture_text = std::fs::read_to_string(fixture("report.json")).unwrap();
    let fixture_report: projector::Report = serde_json::from_str(&fixture_text).unwrap();
    assert!(report::same_figures(&issued, &fixture_report).unwrap());
    assert_eq!(
        fixture_report.canonical_bytes(),
        fixture_text.trim_end().as_bytes()
    );
    report::append_issued(&mut ledger, &issued, &report::issued_id(&issued)).unwrap();

    // The issued report is found in its own format, byte for byte.
    let (_, found) = report::last_issued(&ledger, "alver", period)
        .unwrap()
        .unwrap();
    assert_eq!(found.canonical_bytes(), issued.canonical_bytes());
    // verify-report's regeneration follows the format the report names.
    let given =
        service::report_file::Given::from_value(report::to_value(&issued).unwrap()).unwrap();
    let again = report::regenerate(&ledger, &given).unwrap();
    assert_eq!(again.canonical_bytes(), issued.canonical_bytes());

    // A new report of the same prefix is format 3: the same deviations,
    // each late response, late resolution and short notice measured.
    let new = report::generate(
        &ledger,
        "alver",
        period,
        Some(issued.manifest.ledger_size),
        Horizon::Pinned(None),
    )
    .unwrap();
    assert_eq!(new.format, "tla-report/3");
    assert_ne!(new.manifest.report_digest, issued.manifest.report_digest);
    assert_eq!(new.deviations, issued.deviations);
    assert_eq!(new.follow_up, issued.follow_up);
    let measured: Vec<serde_json::Value> = report::to_value(&new).unwrap()["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d.get("response_seconds").is_some() || d.get("notice_seconds").is_some())
        .cloned()
        .collect();
    let late = &measured[0];
    assert_eq!(
        (
            &late["incident_id"],
            &late["response_seconds"],
            &late["target_seconds"]
        ),
        (
            &"INC-2".into(),
            &serde_json::json!(4320),
            &serde_json::json!(3600)
        )
    );
    let notice = measured
        .iter()
        .find(|d| d["kind"] == "maintenance_short_notice")
        .unwrap();
    assert_eq!(
        (
            &notice["notice_seconds"],
            &notice["notice_required_seconds"]
        ),
        (&serde_json::json!(72_000), &serde_json::json!(432_000))
    );
}
