//! `tla bench` writes the results file its contract describes: one row per
//! comparison, ratios that follow from the figures, and a skipped baseline
//! kept as a row with a note instead of a made-up figure.
//!
//! The harness is built with `--features bench` (scripts/test passes it);
//! without it there is nothing here to test.

#![cfg(feature = "bench")]

use std::process::Command;

#[test]
fn bench_quick_append_writes_the_contract_json_and_skips_an_unreachable_postgres() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("results.json");
    let output = Command::new(env!("CARGO_BIN_EXE_tla"))
        .args(["bench", "--quick", "--only", "append", "--batch", "2000"])
        .arg("--out")
        .arg(&out)
        .arg("--scratch")
        .arg(dir.path().join("scratch"))
        // Port 1 on loopback: nothing listens there.
        .args([
            "--postgres",
            "host=127.0.0.1 port=1 user=postgres connect_timeout=2",
        ])
        .output()
        .expect("run tla bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tla bench failed: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("| append, durable, vs raw sled |"),
        "{stdout}"
    );

    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("results written")).expect("JSON");
    assert_eq!(results["mode"], "quick");
    let rows = results["scenarios"].as_array().expect("scenarios");
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "append, durable, vs raw sled",
            "append, durable, vs BLAKE3 chaining",
            "append, durable, vs disk sequential write",
            "append, durable, vs PostgreSQL",
            "append, durable, vs PostgreSQL multi-row INSERT",
        ]
    );
    for row in rows {
        for field in [
            "unit",
            "ours",
            "baseline",
            "baseline_name",
            "ratio",
            "target_ratio",
            "met",
        ] {
            assert!(row.get(field).is_some(), "{field} missing from {row}");
        }
        let ours = row["ours"].as_f64().expect("ours");
        assert!(ours > 0.0, "{row}");
        match row["baseline"].as_f64() {
            Some(baseline) => {
                let ratio = row["ratio"].as_f64().expect("ratio");
                assert!((ratio - ours / baseline).abs() < 1e-9, "{row}");
                let met = ratio
                    >= row["target_ratio"]
                        .as_f64()
                        .expect("append rows have targets");
                assert_eq!(row["met"].as_bool(), Some(met), "{row}");
            }
            None => {
                // The unreachable PostgreSQL: a row, no figure, a reason.
                assert!(row["ratio"].is_null() && row["met"].is_null(), "{row}");
                let note = row["note"].as_str().expect("note");
                assert!(note.contains("no PostgreSQL reachable"), "{note}");
            }
        }
    }
    assert!(
        rows[0]["baseline"].as_f64().is_some(),
        "the sled baseline ran"
    );
    assert!(rows[3]["baseline"].is_null(), "PostgreSQL was unreachable");
}
