//! Test vectors as data (vectors/*.json): every event of good_events.json
//! validates and round-trips through its canonical bytes; every case of
//! bad_events.json is refused, and each of its `expect` texts appears in
//! the Display of one of the errors reported.
//!
//! A bad case is `{"description", "event" | "raw" | "raw_hex", "expect"}`:
//! `event` is a JSON value, tried as a pretty-printed document, as a
//! one-element array and as an NDJSON line; `raw` and `raw_hex` are the
//! bytes of a whole input, for what JSON cannot hold (broken or non-UTF-8
//! text).

use std::path::PathBuf;

use schemas::canonical::to_canonical;
use schemas::input::parse_events;
use schemas::{Event, EventType};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(cases)) => cases,
        other => panic!(
            "{}: expected an array of cases, got {other:?}",
            path.display()
        ),
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("raw_hex is hex"))
        .collect()
}

/// The inputs a case stands for, each with a name for messages.
fn inputs(case: &Value) -> Vec<(&'static str, Vec<u8>)> {
    if let Some(raw) = case["raw"].as_str() {
        return vec![("raw", raw.as_bytes().to_vec())];
    }
    if let Some(hex) = case["raw_hex"].as_str() {
        return vec![("raw_hex", hex_bytes(hex))];
    }
    let event = &case["event"];
    let compact = serde_json::to_string(event).expect("serialisable");
    vec![
        (
            "document",
            serde_json::to_vec_pretty(event).expect("serialisable"),
        ),
        ("array", format!("[\n{compact}\n]").into_bytes()),
        ("ndjson", format!("{compact}\n").into_bytes()),
    ]
}

/// Every error the input yields, as displayed.
fn errors_of(input: &[u8]) -> Vec<String> {
    match parse_events(input) {
        Err(e) => vec![e.to_string()],
        Ok(events) => events
            .into_iter()
            .filter_map(|e| e.result.err())
            .flatten()
            .map(|e| e.to_string())
            .collect(),
    }
}

#[test]
fn bad_events_are_refused_with_named_errors() {
    let cases = load("bad_events.json");
    assert!(
        cases.len() >= 35,
        "the catalogue must hold at least 35 cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let description = case["description"].as_str().expect("description");
        let expect: Vec<&str> = case["expect"]
            .as_array()
            .expect("expect")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!expect.is_empty(), "{description}: no expected error");
        for (shape, input) in inputs(case) {
            let errors = errors_of(&input);
            if errors.is_empty() {
                failures.push(format!("{description} ({shape}): accepted"));
            }
            for e in &expect {
                if !errors.iter().any(|got| got.contains(e)) {
                    failures.push(format!(
                        "{description} ({shape}): no error contains {e:?}; got {errors:#?}"
                    ));
                }
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
fn good_events_validate_and_round_trip() {
    let cases = load("good_events.json");
    let mut seen = Vec::new();
    for case in &cases {
        let description = case["description"].as_str().expect("description");
        let v = &case["event"];
        let event = Event::from_json(v).unwrap_or_else(|e| panic!("{description}: {e:#?}"));
        let canonical = to_canonical(v).expect("canonical");
        assert_eq!(event.canonical(), &canonical[..], "{description}");
        let back = Event::from_canonical(event.canonical())
            .unwrap_or_else(|e| panic!("{description}: {e:#?}"));
        assert_eq!(back, event, "{description}");
        assert_eq!(Some(event.type_name()), v["type"].as_str(), "{description}");
        assert_eq!(
            event.key(),
            (
                v["source"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or("")
            )
        );

        // The same event read from a file gives the same value.
        let read =
            parse_events(&serde_json::to_vec_pretty(v).expect("serialisable")).expect("readable");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].result.as_ref(), Ok(&event), "{description}");
        seen.push(event.event_type);
    }
    for t in EventType::ALL {
        assert!(seen.contains(&t), "good_events.json has no {t}");
    }
}
