//! The bad-input catalogue end to end: every malformed case of
//! schemas/tests/vectors/bad_events.json (99 of them: missing and
//! ill-typed fields, times without offsets, unknown types, oversize ids,
//! broken JSON, non-UTF-8, bad agreements, ...) and the cases only the
//! ledger can judge (conflicts, clock skew) go through `tla import`. Each
//! must exit 1 with its message on stderr, and nothing may be appended,
//! not even the valid event placed beside it in the same file.

mod common;

use common::{event_json, Env};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/tests/vectors/bad_events.json"
    );
    let text = std::fs::read_to_string(path).expect("bad_events.json");
    serde_json::from_str(&text).expect("bad_events.json is an array")
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The file a case is imported as: a raw input as it is, or the event as
/// an NDJSON line after a valid event.
fn input(case: &Value) -> Vec<u8> {
    if let Some(raw) = case["raw"].as_str() {
        return raw.as_bytes().to_vec();
    }
    if let Some(hex) = case["raw_hex"].as_str() {
        return hex_bytes(hex);
    }
    format!(
        "{}\n{}\n",
        event_json("fedje", "valid-neighbour", "INC-N"),
        case["event"]
    )
    .into_bytes()
}

fn assert_refused(env: &Env, name: &str, bytes: &[u8], expect: &[&str]) {
    let file = env.write("case.json", bytes);
    let run = env.run(&["import", file.to_str().unwrap()]);
    assert_eq!(
        run.code, 1,
        "{name}: exit {} (expected 1)\nstderr:\n{}",
        run.code, run.stderr
    );
    for text in expect {
        assert!(
            run.stderr.contains(text),
            "{name}: stderr lacks {text:?}:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("case.json"),
        "{name}: the file is not named:\n{}",
        run.stderr
    );
}

#[test]
fn every_malformed_event_is_refused_and_nothing_is_appended() {
    let env = Env::new();
    let seed = env.write("seed.json", event_json("alver", "ev-1", "INC-1").as_bytes());
    env.run(&["import", seed.to_str().unwrap()]).assert_code(0);
    let cases = cases();
    assert!(cases.len() >= 30, "the catalogue has {} cases", cases.len());
    for case in &cases {
        let name = case["description"].as_str().unwrap_or("unnamed case");
        let expect: Vec<&str> = case["expect"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_refused(&env, name, &input(case), &expect);
    }
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 1 entries verified");
}

#[test]
fn conflicts_and_clock_skew_are_refused_and_nothing_is_appended() {
    let env = Env::new();
    let seed = env.write("seed.json", event_json("alver", "ev-1", "INC-1").as_bytes());
    env.run(&["import", seed.to_str().unwrap()]).assert_code(0);
    let conflict = format!(
        "{}\n{}\n",
        event_json("alver", "ev-2", "INC-2"),
        event_json("alver", "ev-1", "INC-CHANGED")
    );
    assert_refused(
        &env,
        "conflict with the ledger",
        conflict.as_bytes(),
        &["line 2", "conflicts with ledger position 0"],
    );
    let in_file = format!(
        "{}\n{}\n",
        event_json("alver", "ev-9", "INC-9"),
        event_json("alver", "ev-9", "INC-10")
    );
    assert_refused(
        &env,
        "conflict inside the file",
        in_file.as_bytes(),
        &["line 2", "conflicts with event 0 of the same batch"],
    );
    let future = chrono::Utc::now() + chrono::Duration::minutes(10);
    let skewed = event_json("alver", "ev-skew", "INC-S").replace(
        "2025-11-03T09:15:00+01:00",
        &future.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    assert_refused(
        &env,
        "clock skew",
        skewed.as_bytes(),
        &["line 1", "more than 300 s after the ledger's clock"],
    );
    let near = chrono::Utc::now() + chrono::Duration::minutes(2);
    let fine = event_json("alver", "ev-near", "INC-S").replace(
        "2025-11-03T09:15:00+01:00",
        &near.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let file = env.write("near.json", fine.as_bytes());
    env.run(&["import", file.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains("1 appended");
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 2 entries verified");
}
