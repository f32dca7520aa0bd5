//! Fuzz targets for every parser that faces the network or an auditor's
//! files, on stable Rust: proptest drives each target with inputs that are
//! either arbitrary bytes or valid seeds mutated (bytes replaced, inserted,
//! deleted, cut, chunks repeated). A target passes when no input panics;
//! errors are the parsers' job.
//!
//! `cargo test --test fuzz` runs `FUZZ_CASES_DEFAULT` inputs per target (a
//! smoke test, as in CI); `scripts/fuzz` runs `TLA_FUZZ_CASES` (1,000,000)
//! in a release build and prints each target's count. A failing input is
//! shrunk by proptest and printed; `TLA_FUZZ_SEED` fixes the random seed.

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use common::*;

/// Inputs per target in an ordinary test run.
const FUZZ_CASES_DEFAULT: u32 = 2_000;

/// Longest arbitrary input: parsers see far longer, but the interesting
/// structure of these formats is in the first few hundred bytes.
const RANDOM_BYTES_MAX: usize = 512;

/// Bytes that matter to these formats' syntax, put in place of others.
const SYNTAX: &[u8] = b"\"{}[],:\\\n\r0-9.+eE =#\x00\xff";

/// Edits made to one seed.
const EDITS_MAX: usize = 8;

fn cases() -> u32 {
    std::env::var("TLA_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(FUZZ_CASES_DEFAULT)
}

/// One edit of a seed: where, what byte, and which operation.
type Edit = (Index, u8, u8, Index);

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for (at, byte, op, other) in edits {
        let len = bytes.len();
        if len == 0 {
            bytes.push(*byte);
            continue;
        }
        let i = at.index(len);
        match op % 6 {
            0 => bytes[i] = *byte,
            1 => bytes.insert(i, *byte),
            2 => {
                bytes.remove(i);
            }
            3 => bytes.truncate(i),
            4 => {
                // Repeat a chunk: JSON nesting, lines, signatures.
                let j = other.index(len);
                let (from, to) = (i.min(j), i.max(j));
                let chunk = bytes[from..to].to_vec();
                bytes.splice(i..i, chunk);
            }
            _ => bytes[i] = SYNTAX[usize::from(*byte) % SYNTAX.len()],
        }
    }
    bytes
}

/// Arbitrary bytes, or one of `seeds` mutated.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty());
    let count = seeds.len();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..RANDOM_BYTES_MAX),
        4 => (0..count, proptest::collection::vec(any::<Edit>(), 0..EDITS_MAX))
            .prop_map(move |(seed, edits)| mutate(seeds[seed].clone(), &edits)),
    ]
}

/// Runs `target` over `cases()` inputs from `seeds`; panics (with the
/// shrunk input) when any input panics the target. The target says
/// whether its parser accepted the input: the count printed shows that
/// the inputs reach past the first check.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, target: impl Fn(&[u8]) -> bool) {
    let cases = cases();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 10_000,
        ..Config::default()
    };
    let seed: u64 = std::env::var("TLA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand_seed);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let started = std::time::Instant::now();
    let accepted = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&inputs(seeds), |bytes| {
        if target(&bytes) {
            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("fuzz target {name} (TLA_FUZZ_SEED={seed}): {failure}");
    }
    println!(
        "fuzz target {name}: {cases} inputs, {} accepted, no panic ({:.1} s, TLA_FUZZ_SEED={seed})",
        accepted.into_inner(),
        started.elapsed().as_secs_f64()
    );
}

fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(0)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Valid events: two ordinary ones and an agreement.
fn event_seeds() -> Vec<String> {
    vec![
        event_json("alver", "ev-1", "INC-1"),
        outage_json("fedje", "o-1", "O-1", "2026-01-10T10:00:00+01:00", true),
        agreement_json("alver"),
    ]
}

#[test]
fn cloudevents_structured_batch_and_ndjson() {
    use ingest::cloudevents::{read, Mode};
    let events = event_seeds();
    let mut seeds: Vec<Vec<u8>> = events.iter().map(|e| e.clone().into_bytes()).collect();
    seeds.push(format!("[{}]", events.join(",")).into_bytes());
    seeds.push(format!("{}\n", events.join("\n")).into_bytes());
    fuzz("cloudevents", seeds, |bytes| {
        let mut accepted = false;
        for (mode, content_type) in [
            (Mode::Structured, "application/cloudevents+json"),
            (Mode::Batch, "application/cloudevents-batch+json"),
            (Mode::Ndjson, "application/x-ndjson"),
            (Mode::Json, "application/json"),
        ] {
            if let Ok(read) = read(mode, Some(content_type), &[], bytes) {
                accepted |= ingest::cloudevents::problems(&read).is_empty();
            }
        }
        schemas::input::parse_events(bytes).is_ok() || accepted
    });
}

#[test]
fn cloudevents_binary_headers_and_body() {
    use ingest::cloudevents::{ce_headers, read, Mode};
    // Headers as lines `name: value`, then an empty line, then the data.
    let seed = "ce-specversion: 1.0\nce-id: b-1\nce-source: test/binary\n\
                ce-type: incident.opened\nce-time: 2026-01-10T10:00:00Z\nce-tenant: alver\n\n\
                {\"incident_id\":\"INC-1\",\"service\":\"epost\",\"priority\":\"P2\"}";
    fuzz(
        "cloudevents-binary",
        vec![seed.as_bytes().to_vec()],
        |bytes| {
            let (head, body) = match bytes.windows(2).position(|w| w == b"\n\n") {
                Some(at) => (&bytes[..at], &bytes[at + 2..]),
                None => (bytes, &[][..]),
            };
            let lines: Vec<(String, Vec<u8>)> = head
                .split(|b| *b == b'\n')
                .filter_map(|line| {
                    let at = line.iter().position(|b| *b == b':')?;
                    let name = String::from_utf8(line[..at].to_vec()).ok()?;
                    Some((name, line[at + 1..].trim_ascii().to_vec()))
                })
                .collect();
            let headers = lines.iter().map(|(n, v)| (n.as_str(), v.as_slice()));
            let Ok(attributes) = ce_headers(headers) else {
                return false;
            };
            let _ = ingest::cloudevents::mode(Some("application/json"), !attributes.is_empty());
            read(Mode::Binary, Some("application/json"), &attributes, body)
                .is_ok_and(|events| ingest::cloudevents::problems(&events).is_empty())
        },
    );
}

#[test]
fn alertmanager_payloads() {
    let seed = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "tla", "groupKey": "{}:{}",
        "alerts": [{"status": "firing", "fingerprint": "abc123",
            "labels": {"alertname": "EpostDown", "service": "epost", "severity": "critical"},
            "annotations": {"summary": "E-post is down"},
            "startsAt": "2026-01-20T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]
    })
    .to_string();
    fuzz("alertmanager", vec![seed.into_bytes()], |bytes| {
        ingest::alertmanager::events("alver", bytes).is_ok()
    });
}

#[test]
fn agreements_in_json_and_toml() {
    let event: serde_json::Value = serde_json::from_str(&agreement_json("alver")).unwrap();
    let json = event["data"]["agreement"].to_string();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = std::fs::read_to_string(root.join("deploy/agreements/alver.toml")).unwrap();
    fuzz(
        "agreements",
        vec![json.into_bytes(), toml.into_bytes()],
        |bytes| {
            let text = text(bytes);
            let parsed = [
                schemas::agreement::from_json_str(&text),
                schemas::agreement::from_toml_str(&text),
            ];
            parsed
                .iter()
                .flatten()
                .any(|value| schemas::agreement::from_json_value(value).is_ok())
        },
    );
}

/// A signer with a fixed seed, and one checkpoint it signed.
fn signed() -> &'static (ledger::checkpoint::Signer, String) {
    static SIGNED: OnceLock<(ledger::checkpoint::Signer, String)> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let signer = ledger::checkpoint::Signer::from_seed("fuzz.test/ledger", [7; 32]).unwrap();
        let checkpoint = ledger::checkpoint::Checkpoint::new("fuzz.test/ledger", 42, [9; 32]);
        let note = signer.sign(&checkpoint);
        (signer, note)
    })
}

#[test]
fn signed_notes_and_keys() {
    let (signer, note) = signed();
    let verifier = signer.verifier();
    let seeds = vec![
        note.clone().into_bytes(),
        verifier.to_text().into_bytes(),
        signer.to_text().into_bytes(),
    ];
    fuzz("signed-notes-and-keys", seeds, |bytes| {
        let text = text(bytes);
        let opened = verifier.open(&text).is_ok();
        let read = ledger::checkpoint::read_unverified(&text).is_ok();
        let body = ledger::checkpoint::Checkpoint::parse(&text).is_ok();
        let public = ledger::checkpoint::Verifier::parse(&text).is_ok();
        let private = ledger::checkpoint::Signer::parse(&text).is_ok();
        opened || read || body || public || private
    });
}

#[test]
fn proofs() {
    let seed = [[1u8; 32], [2; 32], [3; 32]]
        .iter()
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(",");
    fuzz("proofs", vec![seed.into_bytes()], |bytes| {
        let text = text(bytes);
        let _ = service::proofs::digest("--root", &text);
        let Ok(proof) = service::proofs::proof(&text) else {
            return false;
        };
        let (leaf, root) = ([5u8; 32], [6u8; 32]);
        let _ = ledger::merkle::verify_inclusion(&leaf, 3, 8, &proof, &root);
        let _ = ledger::merkle::verify_consistency(3, 8, &root, &root, &proof);
        true
    });
}

/// An export of a ledger of four entries, and an evidence bundle of a
/// small demo ledger, made once.
fn files() -> &'static (String, String) {
    static FILES: OnceLock<(String, String)> = OnceLock::new();
    FILES.get_or_init(|| {
        let small = Env::new();
        let events = [
            agreement_json("alver"),
            event_json("alver", "ev-1", "INC-1"),
            outage_json("alver", "o-1", "O-1", "2025-11-10T10:00:00Z", true),
            outage_json("alver", "o-2", "O-1", "2025-11-10T11:00:00Z", false),
        ];
        let input = small.write("events.ndjson", (events.join("\n") + "\n").as_bytes());
        small
            .run(&["import", input.to_str().unwrap()])
            .assert_code(0);
        let export = small.path("export.ndjson");
        small
            .run(&["export", "--out", export.to_str().unwrap()])
            .assert_code(0);
        let demo = Env::new();
        demo.run(&["demo", "--tenants", "1", "--months", "2"])
            .assert_code(0);
        let bundle = demo.path("bundle.json");
        demo.run(&[
            "evidence",
            "export",
            "--tenant",
            "alver",
            "--period",
            "2025-11",
            "--out",
            bundle.to_str().unwrap(),
        ])
        .assert_code(0);
        let export = std::fs::read_to_string(export).unwrap();
        (export, std::fs::read_to_string(bundle).unwrap())
    })
}

#[test]
fn export_lines() {
    let (export, _) = files();
    fuzz("export", vec![export.clone().into_bytes()], |bytes| {
        ledger::export::verify(&mut std::io::Cursor::new(bytes)).is_ok()
    });
}

#[test]
fn evidence_bundles() {
    let (_, bundle) = files();
    let (_, note) = signed();
    let checkpoint = ledger::checkpoint::read_unverified(note).unwrap();
    fuzz(
        "evidence",
        vec![bundle.clone().into_bytes()],
        |bytes| match service::evidence::parse("fuzz.json", &text(bytes)) {
            Ok(bundle) => {
                let _ = service::evidence::check(&bundle, &checkpoint);
                true
            }
            Err(_) => false,
        },
    );
}
