//! Properties of canonical JSON: the form is idempotent (canonical bytes
//! read back give the same bytes), independent of the key order and
//! whitespace of the input, and equal to serde_json's compact output for
//! the values both accept (the reference model), so a third party can
//! reproduce it with any sorted-key JSON writer.

mod common;

use common::render_reversed;
use proptest::prelude::*;
use schemas::canonical::to_canonical;
use schemas::Event;
use serde_json::{Map, Value};

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[\\x00-\\x20\"\\\\/a-zæøå\\x7f]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner.clone(), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            prop::collection::btree_map("[a-zA-Z_é]{0,3}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const EVENT: &str = r#"{"specversion":"1.0","id":"e-1","source":"zabbix/nh-1","type":"incident.opened",
  "time":"2026-10-04T10:00:00.5+02:00","tenant":"alver",
  "data":{"incident_id":"INC-1","service":"epost","priority":"P2"}}"#;

proptest! {
    #[test]
    fn canonical_is_idempotent(v in arb_value()) {
        let bytes = to_canonical(&v).expect("integers only");
        let back: Value = serde_json::from_slice(&bytes).expect("canonical bytes are JSON");
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(to_canonical(&back).expect("integers only"), bytes);
    }

    #[test]
    fn canonical_matches_serde_json(v in arb_value()) {
        prop_assert_eq!(to_canonical(&v).expect("integers only"), serde_json::to_vec(&v).expect("serialisable"));
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter(v in arb_value(), ws in "[ \t\r\n]{0,3}") {
        let mut text = String::new();
        render_reversed(&v, &ws, &mut text);
        let reread: Value = serde_json::from_str(&text).expect("rendered text is JSON");
        prop_assert_eq!(to_canonical(&reread).expect("integers only"), to_canonical(&v).expect("integers only"));
    }

    #[test]
    fn events_round_trip_with_any_extensions(
        extensions in prop::collection::btree_map("[a-z0-9]{1,20}", prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
        ], 0..4),
        ws in "[ \n]{0,2}",
    ) {
        let mut v: Value = serde_json::from_str(EVENT).expect("valid JSON");
        for (name, value) in extensions {
            if v.get(&name).is_none() {
                v[name.as_str()] = value;
            }
        }
        let event = Event::from_json(&v).expect("valid event");
        prop_assert_eq!(Event::from_canonical(event.canonical()).expect("canonical bytes read back"), event.clone());
        let mut text = String::new();
        render_reversed(&v, &ws, &mut text);
        let reordered = Event::from_json(&serde_json::from_str(&text).expect("JSON")).expect("valid event");
        prop_assert_eq!(reordered.canonical(), event.canonical());
        prop_assert_eq!(event.time, 1_791_100_800);
    }
}

#[test]
fn non_canonical_bytes_are_refused() {
    let v: Value = serde_json::from_str(EVENT).expect("valid JSON");
    let event = Event::from_json(&v).expect("valid event");
    let spaced = String::from_utf8(event.canonical().to_vec())
        .expect("UTF-8")
        .replacen(',', ", ", 1);
    let errors = Event::from_canonical(spaced.as_bytes()).expect_err("not canonical");
    assert!(
        errors[0].message.contains("not in canonical form"),
        "{errors:?}"
    );
    assert!(Event::from_canonical(b"\xff").is_err());
    assert_eq!(event.time_rfc3339(), "2026-10-04T08:00:00Z");
    assert_eq!(event.key(), ("zabbix/nh-1", "e-1"));
}
