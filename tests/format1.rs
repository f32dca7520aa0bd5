//! Reports issued as `tla-report/1`, before format 2 existed, still
//! regenerate byte for byte (SEMANTICS.md section 12, "Compatibility"):
//! the evidence bundle committed under `tests/fixtures/format1/` (made by
//! the format-1 code, see its README) verifies offline, and a format-1
//! issuance in a ledger is found, regenerated and re-verified in format 1
//! while new reports are in the current format.

mod common;

use std::path::PathBuf;

use projector::{Format, Period};
use service::report::{self, Horizon};

fn fixture(name: &str) -> PathBuf {
    common::format_fixture("format1", name)
}

#[test]
fn a_format_1_bundle_made_before_format_2_still_verifies() {
    // The format named decides: the same report relabelled as the next
    // format (its digest left as it is) no longer reproduces.
    common::old_format_bundle_verifies("format1", "tla-report/1", "tla-report/2");
}

#[test]
fn a_format_1_issue_in_the_ledger_regenerates_as_format_1() {
    let (_dir, mut ledger) = common::ledger_of_format_fixture("format1");
    let period: Period = "2026-04".parse().unwrap();

    // Issued as the format-1 code issued it.
    let how = (Horizon::Now, Format::V1);
    let issued = report::generate_as(&ledger, "alver", period, None, how).unwrap();
    assert_eq!(issued.format, "tla-report/1");
    let fixture_report: projector::Report =
        serde_json::from_str(&std::fs::read_to_string(fixture("report.json")).unwrap()).unwrap();
    assert_eq!(
        (issued.follow_up.as_ref(), issued.story.as_ref()),
        (None, None)
    );
    // Same figures as the fixture's (which pins another ledger).
    assert!(report::same_figures(&issued, &fixture_report).unwrap());
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

    // A new report of the same prefix is format 2, and differs.
    let new = report::generate(
        &ledger,
        "alver",
        period,
        Some(issued.manifest.ledger_size),
        Horizon::Pinned(None),
    )
    .unwrap();
    assert_eq!(new.format, projector::REPORT_FORMAT);
    assert_ne!(new.manifest.report_digest, issued.manifest.report_digest);
    assert_eq!(new.deviations, issued.deviations);
}
