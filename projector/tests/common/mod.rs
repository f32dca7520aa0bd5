//! Helpers shared by the projector's integration tests: compact events
//! (only `time`, `type`, `data`, optionally `tenant`) become validated
//! ledger events, and agreements may start from a named base in
//! `tests/agreements/` (`{"$base": "base", ...overrides}`, a shallow merge).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use projector::LedgerEvent;
use serde_json::{json, Map, Value};

/// The tenant of a case that names none.
pub const TENANT: &str = "alver";

pub fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An agreement value with its `$base` (if any) merged in.
pub fn agreement(v: &Value) -> Value {
    let Some(base) = v.get("$base").and_then(Value::as_str) else {
        return v.clone();
    };
    let mut merged: Map<String, Value> = read_json(&dir("agreements").join(format!("{base}.json")))
        .as_object()
        .cloned()
        .expect("a base agreement is an object");
    for (k, x) in v.as_object().expect("agreement object") {
        if k != "$base" {
            merged.insert(k.clone(), x.clone());
        }
    }
    Value::Object(merged)
}

/// A validated event from the compact form; `index` makes the id.
pub fn event(compact: &Value, index: usize, tenant: &str) -> schemas::Event {
    let mut data = compact.get("data").cloned().unwrap_or_else(|| json!({}));
    if compact["type"] == "agreement.published" {
        data["agreement"] = agreement(&data["agreement"]);
    }
    let full = json!({
        "specversion": "1.0",
        "id": format!("e{index}"),
        "source": "test/case",
        "type": compact["type"],
        "time": compact["time"],
        "tenant": compact.get("tenant").and_then(Value::as_str).unwrap_or(tenant),
        "data": data,
    });
    schemas::Event::from_json(&full).unwrap_or_else(|e| panic!("event {index} {compact}: {e:?}"))
}

/// Ledger events at positions 0.. from compact events.
pub fn ledger(compact: &[Value], tenant: &str) -> Vec<LedgerEvent> {
    compact
        .iter()
        .enumerate()
        .map(|(i, c)| LedgerEvent {
            position: i as u64,
            event: event(c, i, tenant),
        })
        .collect()
}

/// Unix seconds of an RFC 3339 instant.
pub fn instant(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp()
}

/// Compares with the stored snapshot, or rewrites it under UPDATE_EXPECT.
pub fn snapshot_check(file: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(file, actual).expect("write snapshot");
        return None;
    }
    match std::fs::read_to_string(file) {
        Ok(stored) if stored == actual => None,
        Ok(stored) => Some(format!(
            "snapshot {} differs (UPDATE_EXPECT=1 to accept after review):\n{}",
            file.display(),
            first_difference(&stored, actual)
        )),
        Err(_) => Some(format!(
            "snapshot {} missing; run with UPDATE_EXPECT=1 and review it",
            file.display()
        )),
    }
}

fn first_difference(stored: &str, actual: &str) -> String {
    let mut lines = stored.lines().zip(actual.lines()).enumerate();
    match lines.find(|(_, (a, b))| a != b) {
        Some((n, (a, b))) => format!("line {}: stored {a:?}, now {b:?}", n + 1),
        None => "one is a prefix of the other".to_string(),
    }
}

/// The seeded demo history of `tenants` tenants over `months` months, as
/// ledger events at positions 0..: (tenants, periods, events).
pub fn demo_history(tenants: usize, months: u32) -> (Vec<String>, Vec<String>, Vec<LedgerEvent>) {
    let config = demo::DemoConfig {
        tenants,
        months,
        ..demo::DemoConfig::default()
    };
    let h = demo::generate(&config);
    let events = h
        .events
        .iter()
        .enumerate()
        .map(|(i, v)| LedgerEvent {
            position: i as u64,
            event: schemas::Event::from_json(v).expect("demo event"),
        })
        .collect();
    (h.tenants, h.periods, events)
}
