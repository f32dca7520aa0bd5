//! The fast path of reading events gives exactly the results of the full
//! path (`serde_json::Value` and `Event::from_json`): the same events,
//! canonical bytes included, and the same errors, for generated events of
//! every type, valid and not, and for their canonical bytes after random
//! damage (flipped bytes, whitespace, reordered and repeated keys,
//! escapes, decimals, truncation, stray tokens). It also reads every valid
//! event of every type but `agreement.published` and `action.opened`
//! (nested data) itself, so that these
//! comparisons are not won by always deferring.

mod common;

use std::path::PathBuf;

use common::render_reversed;
use proptest::prelude::*;
use schemas::canonical::to_canonical;
use schemas::input::{parse_events, parse_events_reference};
use schemas::{Event, EventType};
use serde_json::{json, Map, Value};

/// Anything a field should not hold.
fn junk() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3i64..0).prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!(2.0)),
        "[ -~]{0,6}".prop_map(Value::String),
        "[a-z\\-0-9 \u{0}\t\nø\"\\\\/]{0,6}".prop_map(Value::String),
        Just(json!({"a": 1})),
        Just(json!(["x"])),
        Just(json!({})),
    ]
    .boxed()
}

/// A field that is `valid`; when `noisy`, sometimes anything.
fn field(valid: impl Strategy<Value = String> + 'static, noisy: bool) -> BoxedStrategy<Value> {
    let valid = valid.prop_map(Value::String);
    if noisy {
        prop_oneof![16 => valid, 1 => junk()].boxed()
    } else {
        valid.boxed()
    }
}

/// `valid` strings, or when `noisy` also those of `near_misses`.
fn strings(
    valid: impl Strategy<Value = String> + 'static,
    near_misses: impl Strategy<Value = String> + 'static,
    noisy: bool,
) -> BoxedStrategy<Value> {
    if noisy {
        field(prop_oneof![8 => valid, 1 => near_misses], true)
    } else {
        field(valid, false)
    }
}

fn name(noisy: bool) -> BoxedStrategy<Value> {
    strings(
        "[a-z0-9][a-z0-9-]{0,10}",
        prop_oneof![
            "[a-z0-9][a-z0-9_-]{0,4}",
            "[a-z]{63,64}",
            "[A-Za-z_ -]{0,3}"
        ],
        noisy,
    )
}

fn role(noisy: bool) -> BoxedStrategy<Value> {
    strings(
        "[a-z0-9][a-z0-9_-]{0,10}",
        prop_oneof!["[a-z]{63,64}", "[A-Za-z_ -]{0,3}"],
        noisy,
    )
}

fn id(noisy: bool) -> BoxedStrategy<Value> {
    strings(
        prop_oneof!["[A-Za-z0-9-]{1,12}", "[!-~]([ -~]{0,10}[!-~])?"],
        prop_oneof![
            "[ -~]{0,12}",
            "x{127,129}",
            "[a-z]{1,3}[\u{0}\t\nøé\u{7f}][a-z]{0,2}",
        ],
        noisy,
    )
}

fn source(noisy: bool) -> BoxedStrategy<Value> {
    strings(
        prop_oneof![
            "[a-z]{1,8}/[a-z0-9.-]{1,8}",
            "https://[a-z]{1,5}\\.example/[a-z?=#&0-9]{0,8}(%[0-9A-F]{2})?",
        ],
        "[ -~ø]{0,8}",
        noisy,
    )
}

/// RFC 3339 instants, and when `noisy` near misses.
fn time(noisy: bool) -> BoxedStrategy<Value> {
    let parts = |noisy: bool| {
        let fraction = if noisy {
            prop_oneof![Just(String::new()), "\\.[0-9]{1,10}", Just(".".to_string())].boxed()
        } else {
            prop_oneof![Just(String::new()), "\\.[0-9]{1,9}"].boxed()
        };
        let offset = if noisy {
            prop_oneof![
                Just("Z".to_string()),
                Just("z".to_string()),
                Just("-00:00".to_string()),
                "[+-][0-9]{2}:?[0-9]{2}",
                Just(String::new()),
            ]
            .boxed()
        } else {
            prop_oneof![
                Just("Z".to_string()),
                "[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]"
            ]
            .boxed()
        };
        let (day, hour, minute, second) = if noisy {
            (31, 24, 60, 61)
        } else {
            (28, 23, 59, 59)
        };
        (
            1900u32..2200,
            1u32..=12,
            1u32..=day,
            0u32..=hour,
            0u32..=minute,
            0u32..=second,
            fraction,
            offset,
            if noisy {
                prop_oneof![Just('T'), Just('t'), Just(' ')].boxed()
            } else {
                Just('T').boxed()
            },
        )
            .prop_map(|(y, mo, d, h, mi, s, frac, off, sep)| {
                format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{off}")
            })
    };
    // A few fixed instants, so that two times are often equal (or one
    // moment written two ways).
    let fixed = prop::sample::select(
        &[
            "2026-10-04T10:00:00Z",
            "2026-10-04T12:00:00+02:00",
            "2026-10-04T10:00:00.999Z",
            "2026-10-04T10:00:01Z",
        ][..],
    )
    .prop_map(str::to_string);
    strings(
        prop_oneof![3 => parts(false), 1 => fixed],
        prop_oneof![parts(true), "[0-9T:+Z. -]{0,25}"],
        noisy,
    )
}

fn digest(noisy: bool) -> BoxedStrategy<Value> {
    strings("[0-9a-f]{64}", "[0-9a-fA-F]{63,65}", noisy)
}

/// Free text; `lines` allows newlines and tabs in valid text.
fn text(lines: bool, noisy: bool) -> BoxedStrategy<Value> {
    let valid = if lines {
        "[A-Za-zæøå][A-Za-zæøå .,\"\\\\/\n\t]{0,20}"
    } else {
        "[A-Za-zæøå][A-Za-zæøå .,\"\\\\/]{0,20}"
    };
    strings(
        valid,
        prop_oneof![
            "[ -~\t\n\u{1}ø]{0,12}",
            "a{1020,1030}",
            Just(" ".to_string())
        ],
        noisy,
    )
}

/// The free text of the follow-up events (at most 2,000 characters).
fn long_text(noisy: bool) -> BoxedStrategy<Value> {
    strings(
        "[A-Za-zæøå][A-Za-zæøå .,\"\\\\/\n\t]{0,20}",
        prop_oneof![
            "[ -~\t\n\u{1}ø]{0,12}",
            "a{1995,2005}",
            Just(" ".to_string())
        ],
        noisy,
    )
}

fn deviation_id(noisy: bool) -> BoxedStrategy<Value> {
    strings("[0-9a-f]{16}", "[0-9a-fA-F]{15,17}", noisy)
}

fn integer(noisy: bool) -> BoxedStrategy<Value> {
    let valid = prop_oneof![
        8 => (0u64..1_000_000).prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
    ];
    if noisy {
        prop_oneof![16 => valid, 1 => junk()].boxed()
    } else {
        valid.boxed()
    }
}

fn choice(
    valid: &'static [&'static str],
    near_misses: &'static [&'static str],
    noisy: bool,
) -> BoxedStrategy<Value> {
    strings(
        prop::sample::select(valid).prop_map(str::to_string),
        prop::sample::select(near_misses).prop_map(str::to_string),
        noisy,
    )
}

/// An agreement small enough to test quickly; when `noisy`, maybe junk.
fn agreement(noisy: bool) -> BoxedStrategy<Value> {
    let valid = Just(json!({
        "version": "2025-1", "effective_from": "2025-11-01T00:00:00+01:00",
        "calendars": {"office": {"days": ["mon","tue","wed","thu","fri"], "from": "07:30", "to": "16:00", "holidays": "NO"}},
        "services": [{"id": "epost", "name": "E-post",
            "availability": {"target_pct": "99.5"},
            "incidents": {"calendar": "office", "targets": {
                "P1": {"response_min": 30, "resolution_min": 240, "calendar": "24x7"},
                "P2": {"response_min": 60, "resolution_min": 480},
                "P3": {"response_min": 240, "resolution_min": 2400},
                "P4": {"response_min": 480, "resolution_min": 4800}}}}]
    }));
    if noisy {
        prop_oneof![valid, junk()].boxed()
    } else {
        valid.boxed()
    }
}

/// A field of an object: name, value, and whether it may be absent.
type Field = (&'static str, BoxedStrategy<Value>, bool);

/// The data fields of type `t`.
fn data_fields(t: EventType, noisy: bool) -> Vec<Field> {
    use EventType as T;
    let n = noisy;
    let mut fields: Vec<Field> = Vec::new();
    let mut add = |name, s, optional| fields.push((name, s, optional));
    match t {
        T::AgreementPublished => add("agreement", agreement(n), false),
        T::OutageStarted | T::OutageEnded => {
            add("service", name(n), false);
            add("outage_id", id(n), false);
            if t == T::OutageStarted {
                add(
                    "impact",
                    choice(&["full", "partial"], &["Full", ""], n),
                    false,
                );
            }
        }
        T::MaintenanceScheduled | T::MaintenanceCancelled => {
            add("service", name(n), false);
            add("window_id", id(n), false);
            if t == T::MaintenanceScheduled {
                add("start", time(n), false);
                add("end", time(n), false);
            }
        }
        T::IncidentOpened
        | T::IncidentResponded
        | T::IncidentOnHold
        | T::IncidentResumed
        | T::IncidentPriorityChanged
        | T::IncidentResolved
        | T::IncidentReopened => {
            add("incident_id", id(n), false);
            if t == T::IncidentOpened {
                add("service", name(n), false);
            }
            if matches!(t, T::IncidentOpened | T::IncidentPriorityChanged) {
                let p = choice(&["P1", "P2", "P3", "P4"], &["P5", "p1"], n);
                add("priority", p, false);
            }
            if t == T::IncidentOnHold {
                add("reason", text(true, n), false);
            }
        }
        T::MeetingHeld | T::MinutesFiled => {
            add("meeting_id", id(n), false);
            if t == T::MeetingHeld {
                add(
                    "kind",
                    choice(&["operations", "steering"], &["other"], n),
                    false,
                );
            } else {
                add("digest", digest(n), false);
            }
        }
        T::ContactAssigned | T::ContactVacated => {
            add("role", role(n), false);
            add("service", name(n), true);
            if t == T::ContactAssigned {
                add("person", text(false, n), false);
                let email = strings("[a-z.]{1,8}@[a-z.]{1,8}", "[a-z@]{0,8}", n);
                add("email", email, true);
                add("phone", strings("[+0-9 ]{0,32}", "[0-9]{33,34}", n), true);
            }
        }
        T::ReportIssued => {
            let period = strings("20[0-9]{2}-(0[1-9]|1[0-2])", "[0-9]{4}-[0-1][0-9]", n);
            add("period", period, false);
            add("ledger_size", integer(n), false);
            add("report_digest", digest(n), false);
            add("as_of", integer(n), true);
            add("tree_root", digest(n), true);
        }
        T::DeviationExplained => {
            add("deviation_id", deviation_id(n), false);
            add("cause", long_text(n), false);
            add("action_id", name(n), true);
        }
        T::ActionOpened => {
            add("action_id", name(n), false);
            add("title", long_text(n), false);
            add("owner", long_text(n), false);
            add("due", time(n), false);
            let ids = prop::collection::vec(deviation_id(false), 0..3).prop_map(Value::Array);
            let ids = if n {
                prop_oneof![4 => ids, 1 => junk()].boxed()
            } else {
                ids.boxed()
            };
            add("deviation_ids", ids, false);
        }
        T::ActionClosed => {
            add("action_id", name(n), false);
            add("outcome", long_text(n), false);
        }
        T::ReportAcknowledged => {
            let period = strings("20[0-9]{2}-(0[1-9]|1[0-2])", "[0-9]{4}-[0-1][0-9]", n);
            add("period", period, false);
            add("report_digest", digest(n), false);
            add("person", long_text(n), false);
            add("comment", long_text(n), true);
        }
        T::AgreementApproved => {
            add("version", text(false, n), false);
            add(
                "party",
                choice(&["provider", "tenant"], &["Provider", "both"], n),
                false,
            );
            add("person", long_text(n), false);
        }
    }
    fields
}

/// `Some` of `s` with probability `p`, which may be 0 or 1 (unlike
/// `prop::option::weighted`).
fn maybe<T: std::fmt::Debug + Clone + 'static>(
    p: f64,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    if p >= 1.0 {
        s.prop_map(Some).boxed()
    } else if p <= 0.0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(p, s).boxed()
    }
}

/// `fields` as an object: when `noisy` each kept with probability 9/10
/// and maybe an unknown field added, else each optional one kept with
/// probability 1/2.
fn object_of(fields: Vec<Field>, noisy: bool) -> BoxedStrategy<Map<String, Value>> {
    let kept: Vec<_> = fields
        .into_iter()
        .map(|(name, s, optional)| {
            let p = match (noisy, optional) {
                (true, _) => 0.95,
                (false, true) => 0.5,
                (false, false) => 1.0,
            };
            maybe(p, s).prop_map(move |v| v.map(|v| (name.to_string(), v)))
        })
        .collect();
    let unknown = if noisy { 0.05 } else { 0.0 };
    (kept, maybe(unknown, ("[a-z_]{1,8}", junk())))
        .prop_map(|(kept, extra)| kept.into_iter().flatten().chain(extra).collect())
        .boxed()
}

/// A CloudEvent of any type: valid but for a maintenance window that may
/// end before it starts, or, when noisy, with anything wrong.
fn event_of(noisy: bool) -> BoxedStrategy<Value> {
    prop::sample::select(EventType::ALL.to_vec())
        .prop_flat_map(move |t| {
            let n = noisy;
            let envelope = vec![
                ("specversion", choice(&["1.0"], &["1.1", "1"], n), false),
                ("id", id(n), false),
                ("source", source(n), false),
                (
                    "type",
                    strings(Just(t.as_str().to_string()), "incident[.]Opened|", n),
                    false,
                ),
                ("time", time(n), false),
                ("tenant", name(n), false),
                (
                    "datacontenttype",
                    choice(&["application/json"], &["text/plain"], n),
                    true,
                ),
            ];
            let extension_name = if noisy {
                prop_oneof![
                    "[a-z0-9]{1,20}",
                    "[a-z0-9_A-Z]{0,22}",
                    Just("data_base64".to_string())
                ]
                .boxed()
            } else {
                "[a-z0-9]{1,20}".boxed()
            };
            let extension_value = prop_oneof![
                "[ -~ø]{0,8}".prop_map(Value::String),
                // Near the size limit of an event.
                (65_000usize..65_536).prop_map(|n| Value::String("x".repeat(n))),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::Bool),
            ];
            let extension_value = if noisy {
                prop_oneof![4 => extension_value, 1 => junk()].boxed()
            } else {
                extension_value.boxed()
            };
            let extensions = prop::collection::btree_map(extension_name, extension_value, 0..3);
            (
                object_of(envelope, n),
                maybe(
                    if noisy { 0.97 } else { 1.0 },
                    object_of(data_fields(t, n), n),
                ),
                prop::option::weighted(0.3, extensions),
            )
                .prop_map(|(mut top, data, extensions)| {
                    for (name, v) in extensions.into_iter().flatten() {
                        top.entry(name).or_insert(v);
                    }
                    if let Some(data) = data {
                        top.insert("data".into(), Value::Object(data));
                    }
                    Value::Object(top)
                })
        })
        .boxed()
}

/// A CloudEvent of any type, valid (mostly) or not.
fn event() -> BoxedStrategy<Value> {
    prop_oneof![event_of(false), event_of(true)].boxed()
}

/// A change to one member of an event: which (a fraction of all top
/// and `data` members), and its new value, or none to remove it.
fn tweak() -> impl Strategy<Value = Option<(f64, Option<Value>)>> {
    maybe(0.3, (0.0..1.0f64, maybe(0.8, junk())))
}

fn apply_tweak(v: &mut Value, tweak: &Option<(f64, Option<Value>)>) {
    let Some((at, new)) = tweak else { return };
    let Some(top) = v.as_object_mut() else { return };
    let data_keys: Vec<String> = match top.get("data") {
        Some(Value::Object(d)) => d.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let top_keys: Vec<String> = top.keys().cloned().collect();
    let all = top_keys.len() + data_keys.len();
    let i = ((all as f64) * at) as usize;
    let (obj, key) = if i < top_keys.len() {
        (top, &top_keys[i])
    } else if let Some(Value::Object(d)) = top.get_mut("data") {
        (d, &data_keys[i - top_keys.len()])
    } else {
        return;
    };
    match new {
        Some(new) => obj.insert(key.clone(), new.clone()),
        None => obj.remove(key),
    };
}

/// The JSON text of `v`: canonical when it can be, else serde_json's.
fn canonical_text(v: &Value) -> Vec<u8> {
    to_canonical(v).unwrap_or_else(|_| serde_json::to_vec(v).expect("serialisable"))
}

/// Texts inserted into an event to damage it.
const SNIPPETS: &[&str] = &[
    " ", "\t", "\r\n", "\"", "\\", "\\/", "\\u0041", "\\ud800", "\\n", "\\x", "{", "}", "[", "]",
    ",", ":", "null", "true", "0", "\u{0}", "\u{1f}", "ø", "\u{feff}",
];

/// Numbers that replace a value.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "01",
    "1.0",
    "1.",
    "1e3",
    "1E2",
    "2E+1",
    "-",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
];

/// Members inserted into an object of an event, most of them not valid
/// there.
const MEMBERS: &[&str] = &[
    "\"data\":{},",
    "\"id\":\"x\",",
    "\"tenant\":\"alver\",",
    "\"service\":\"epost\",",
    "\"as_of\":1,",
    "\"as_of\":-0,",
    "\"as_of\":1.0,",
    "\"as_of\":-1,",
    "\"as_of\":1E2,",
    "\"x1\":1E2,",
    "\"x1\":1.0,",
    "\"x1\":1e3,",
    "\"x1\":-0,",
    "\"x1\":01,",
    "\"x1\":-9223372036854775808,",
    "\"x1\":-9223372036854775809,",
    "\"x1\":18446744073709551615,",
    "\"x1\":18446744073709551616,",
    "\"x1\":null,",
    "\"x1\":[],",
    "\"x1\":\"\\u0000\",",
    "\"x1\":\"a\\/b\",",
    "\"x1\":true,",
    "\"x1\":{\"a\":1},",
    "\"data_base64\":\"AA==\",",
    "\"datacontenttype\":\"application/json\",",
    "\"service\":null,",
    "\"tree_root\":\"0000000000000000000000000000000000000000000000000000000000000000\",",
];

/// One kind of damage to the bytes of an event.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// XOR of the byte at a position (a fraction of the length) with a mask.
    Flip(f64, u8),
    /// A snippet inserted at a position.
    Insert(f64, &'static str),
    /// Keys in reverse order, with whitespace between tokens.
    Reorder(&'static str),
    /// A snippet inserted before the first key after a position.
    Member(f64, &'static str),
    /// The first value after a position that is an integer (else the
    /// first value) replaced by a number, most of them not integers.
    Number(f64, &'static str),
    /// A member repeated: the text of the member that starts at the first
    /// `"` after a position, inserted again before it.
    Repeat(f64),
    /// The ASCII letter or digit at or after a position written as `\u00XX`.
    Escape(f64),
    /// Cut at a position.
    Truncate(f64),
}

fn damage() -> impl Strategy<Value = Damage> {
    let at = 0.0..1.0f64;
    prop_oneof![
        2 => Just(Damage::None),
        2 => (at.clone(), 1u8..=255).prop_map(|(p, m)| Damage::Flip(p, m)),
        3 => (at.clone(), prop::sample::select(SNIPPETS)).prop_map(|(p, s)| Damage::Insert(p, s)),
        3 => (at.clone(), prop::sample::select(MEMBERS)).prop_map(|(p, s)| Damage::Member(p, s)),
        2 => (at.clone(), prop::sample::select(NUMBERS)).prop_map(|(p, s)| Damage::Number(p, s)),
        1 => prop::sample::select(&["", " ", "\n  "][..]).prop_map(Damage::Reorder),
        2 => at.clone().prop_map(Damage::Repeat),
        2 => at.clone().prop_map(Damage::Escape),
        1 => at.prop_map(Damage::Truncate),
    ]
}

fn position(bytes: &[u8], at: f64) -> usize {
    ((bytes.len() as f64) * at) as usize
}

/// The start of the first key at or after `from`: a `"` after `{` or `,`.
fn key_start(bytes: &[u8], from: usize) -> Option<usize> {
    (from.max(1)..bytes.len()).find(|&i| bytes[i] == b'"' && matches!(bytes[i - 1], b'{' | b','))
}

/// The end of the JSON member starting at `start` (a key), found by
/// tracking strings and brackets; `None` if the text ends first.
fn member_end(bytes: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(i),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn apply(v: &Value, damage: &Damage) -> Vec<u8> {
    let mut bytes = canonical_text(v);
    match *damage {
        Damage::None => {}
        Damage::Flip(at, mask) => {
            let i = position(&bytes, at);
            if let Some(b) = bytes.get_mut(i) {
                *b ^= mask;
            }
        }
        Damage::Insert(at, s) => {
            let i = position(&bytes, at);
            bytes.splice(i..i, s.bytes());
        }
        Damage::Reorder(ws) => {
            let mut text = String::new();
            render_reversed(v, ws, &mut text);
            bytes = text.into_bytes();
        }
        Damage::Member(at, s) => {
            if let Some(i) = key_start(&bytes, position(&bytes, at)) {
                bytes.splice(i..i, s.bytes());
            }
        }
        Damage::Number(at, n) => {
            let from = position(&bytes, at);
            let value_at = |pred: fn(u8) -> bool| {
                (from.max(1)..bytes.len()).find(|&i| bytes[i - 1] == b':' && pred(bytes[i]))
            };
            let start = value_at(|b| b.is_ascii_digit() || b == b'-').or(value_at(|_| true));
            if let Some(start) = start {
                if let Some(end) = member_end(&bytes, start) {
                    bytes.splice(start..end, n.bytes());
                }
            }
        }
        Damage::Repeat(at) => {
            if let Some(start) = key_start(&bytes, position(&bytes, at)) {
                if let Some(end) = member_end(&bytes, start) {
                    let mut member = bytes[start..end].to_vec();
                    member.push(b',');
                    bytes.splice(start..start, member);
                }
            }
        }
        Damage::Escape(at) => {
            let from = position(&bytes, at);
            if let Some(i) = (from..bytes.len()).find(|&i| bytes[i].is_ascii_alphanumeric()) {
                let escaped = format!("\\u{:04x}", bytes[i]);
                bytes.splice(i..=i, escaped.bytes());
            }
        }
        Damage::Truncate(at) => bytes.truncate(position(&bytes, at)),
    }
    bytes
}

/// Both paths agree on `bytes`, as stored bytes and as an input.
fn assert_same(bytes: &[u8]) -> Result<(), TestCaseError> {
    let shown = String::from_utf8_lossy(bytes);
    prop_assert_eq!(
        Event::from_canonical(bytes),
        Event::from_canonical_reference(bytes),
        "from_canonical of {}",
        shown
    );
    prop_assert_eq!(
        parse_events(bytes),
        parse_events_reference(bytes),
        "parse_events of {}",
        shown
    );
    let mut ndjson = bytes.to_vec();
    ndjson.push(b'\n');
    ndjson.extend_from_slice(bytes);
    prop_assert_eq!(
        parse_events(&ndjson),
        parse_events_reference(&ndjson),
        "parse_events of two lines of {}",
        shown
    );
    let array = [b"[\n".as_slice(), bytes, b",\n", bytes, b"]"].concat();
    prop_assert_eq!(
        parse_events(&array),
        parse_events_reference(&array),
        "parse_events of an array of {}",
        shown
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Generated events, valid or not, with one member changed or not, and
    /// damaged bytes of them.
    #[test]
    fn fast_path_equals_full_path(mut v in event(), tweak in tweak(), damage in damage()) {
        apply_tweak(&mut v, &tweak);
        assert_same(&apply(&v, &damage))?;
    }

    /// Every valid event but an agreement or an `action.opened` is read by the fast path, from
    /// canonical bytes and from any key order and whitespace.
    #[test]
    fn fast_path_reads_valid_events(v in event(), ws in "[ \t\r\n]{0,2}") {
        let Ok(event) = Event::from_json(&v) else {
            return Ok(());
        };
        let fast = fast_type(event.event_type);
        let canonical = std::str::from_utf8(event.canonical()).expect("UTF-8");
        prop_assert_eq!(Event::from_text_fast(canonical).is_some(), fast);
        let mut text = String::new();
        render_reversed(&v, &ws, &mut text);
        let reordered = Event::from_text_fast(&text);
        prop_assert_eq!(reordered.is_some(), fast);
        if let Some(reordered) = reordered {
            prop_assert_eq!(reordered, event);
        }
        assert_same(text.as_bytes())?;
    }
}

/// Whether the fast path reads valid events of type `t` itself: all but
/// those with nested data (an agreement; `action.opened`'s array).
fn fast_type(t: EventType) -> bool {
    !matches!(t, EventType::AgreementPublished | EventType::ActionOpened)
}

fn vectors(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("an array of cases")
}

#[test]
fn fast_path_equals_full_path_on_test_vectors() {
    let good = vectors("good_events.json");
    let bad = vectors("bad_events.json");
    for case in good.iter().chain(&bad) {
        let inputs: Vec<Vec<u8>> = if let Some(raw) = case["raw"].as_str() {
            vec![raw.as_bytes().to_vec()]
        } else {
            let event = &case["event"];
            vec![
                canonical_text(event),
                serde_json::to_vec(event).expect("serialisable"),
                serde_json::to_vec_pretty(event).expect("serialisable"),
            ]
        };
        for input in inputs {
            assert_same(&input).unwrap_or_else(|e| panic!("{}: {e}", case["description"]));
        }
    }
    for case in &good {
        let event = Event::from_json(&case["event"]).expect("a good event");
        let canonical = std::str::from_utf8(event.canonical()).expect("UTF-8");
        let fast = Event::from_text_fast(canonical);
        if !fast_type(event.event_type) {
            assert_eq!(fast, None);
        } else {
            assert_eq!(fast.as_ref(), Some(&event), "{}", case["description"]);
        }
    }
}
