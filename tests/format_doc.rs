//! docs/FORMAT.md is a contract with auditors: its worked example must be
//! what this code computes. This test rebuilds the two example entries and
//! checks every hex string the document shows, and verifies the example
//! export lines with the export verifier; the bundle example verifies
//! with `tla evidence verify` and with the Python kit. docs/AUDITING.md's
//! public key and checkpoint are real: the key's id matches it, and the
//! checkpoint is signed by it.

mod common;

use ledger::record::{self, Hash, Record, ZERO_HASH};

const EVENT_0: &str = r#"{"data":{"impact":"full","outage_id":"O-1","service":"epost"},"id":"1","source":"zabbix/nh-1","specversion":"1.0","tenant":"alver","time":"2026-01-05T09:00:00+01:00","type":"outage.started"}"#;
const EVENT_1: &str = r#"{"data":{"outage_id":"O-1","service":"epost"},"id":"2","source":"zabbix/nh-1","specversion":"1.0","tenant":"alver","time":"2026-01-05T09:40:00+01:00","type":"outage.ended"}"#;

fn example() -> [(Record, Vec<u8>, Hash); 2] {
    let first = Record {
        position: 0,
        record_time: 1_767_600_000_000_000,
        prev_hash: ZERO_HASH,
        tenant_seq: 0,
        tenant_prev_hash: ZERO_HASH,
        tenant: "alver".into(),
        event: EVENT_0.as_bytes().to_vec(),
    };
    let first_bytes = first.encode();
    let first_hash = record::hash(&first_bytes);
    let second = Record {
        position: 1,
        record_time: 1_767_602_400_000_000,
        prev_hash: first_hash,
        tenant_seq: 1,
        tenant_prev_hash: first_hash,
        tenant: "alver".into(),
        event: EVENT_1.as_bytes().to_vec(),
    };
    let second_bytes = second.encode();
    let second_hash = record::hash(&second_bytes);
    [
        (first, first_bytes, first_hash),
        (second, second_bytes, second_hash),
    ]
}

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md");
    std::fs::read_to_string(path).expect("docs/FORMAT.md exists")
}

#[test]
fn the_worked_example_matches_the_code() {
    let doc = doc();
    for (n, (record, bytes, hash)) in example().iter().enumerate() {
        let fixed = hex::encode(&bytes[..bytes.len() - record.event.len()]);
        println!("entry {n}: fixed part {fixed}\nhash {hash}");
        assert!(
            doc.contains(&fixed),
            "FORMAT.md lacks entry {n}'s fixed part {fixed}"
        );
        assert!(
            doc.contains(&hash.to_hex()),
            "FORMAT.md lacks entry {n}'s hash {hash}"
        );
        let line = ledger::export::Line::from_entry(record, *hash).unwrap();
        let json = serde_json::to_string(&line).unwrap();
        println!("{json}");
        assert!(
            doc.contains(&json),
            "FORMAT.md lacks entry {n}'s export line {json}"
        );
    }
}

#[test]
fn the_example_export_in_the_doc_verifies() {
    let doc = doc();
    let start = doc.find("```jsonl\n").expect("a ```jsonl block") + "```jsonl\n".len();
    let end = start + doc[start..].find("```").expect("closed block");
    let export = &doc[start..end];
    let (header, summary) =
        ledger::export::verify(&mut export.as_bytes()).expect("example verifies");
    assert_eq!(header.entries, 2);
    assert_eq!(summary.head, example()[1].2);
}

#[test]
fn the_merkle_example_matches_the_code() {
    let doc = doc();
    let [(_, first, _), (_, second, _)] = example();
    let leaves = [
        ledger::merkle::leaf_hash(&first),
        ledger::merkle::leaf_hash(&second),
    ];
    for (n, leaf) in leaves.iter().enumerate() {
        let text = format!("leaf {n}  {}", hex::encode(leaf));
        assert!(doc.contains(&text), "FORMAT.md lacks {text:?}");
    }
    let root = hex::encode(ledger::merkle::root(&leaves));
    assert!(doc.contains(&root), "FORMAT.md lacks the root {root}");
}

/// The bundle example (docs/FORMAT.md, "Worked example: an evidence
/// bundle") verifies as it stands, report regenerated, with the public key
/// the document gives, and the Python kit agrees. It is a real bundle,
/// made with `tla agreement publish`, `tla import`, `tla report issue` and
/// `tla evidence export`: an issued report must keep regenerating byte for
/// byte, so a change of the engine that breaks this example breaks every
/// issued report's evidence too.
#[test]
fn the_bundle_example_in_the_doc_verifies() {
    let doc = doc();
    let section = &doc[doc
        .find("## Worked example: an evidence bundle")
        .expect("the bundle example")..];
    let key_at = section.find("Public key:\n`").expect("the key") + "Public key:\n`".len();
    let key = &section[key_at..key_at + section[key_at..].find('`').unwrap()];
    let start = section.find("```json\n").expect("a ```json block") + "```json\n".len();
    let bundle = &section[start..start + section[start..].find("```").unwrap()];
    let env = common::Env::new();
    let file = env.write("bundle.json", bundle.as_bytes());
    let file = file.to_str().unwrap();
    env.run(&["evidence", "verify", file, "--key", key])
        .assert_code(0)
        .assert_stdout_contains("reproduces from its 4 bundled entries");
    common::require_python("blake3, cryptography");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify_export.py");
    let kit = std::process::Command::new("python3")
        .args([script, "bundle", file, "--key", key])
        .output()
        .unwrap();
    assert!(
        kit.status.success(),
        "{}",
        String::from_utf8_lossy(&kit.stdout)
    );

    // The example's prefix ends at alver's own entry 2, so the bundle holds
    // the entry manifest.ledger_root names: another root is refused.
    let mut value: serde_json::Value = serde_json::from_str(bundle).unwrap();
    let root = value["report"]["manifest"]["ledger_root"].as_str().unwrap();
    let last = if root.ends_with('0') { "1" } else { "0" };
    let other = format!("{}{last}", &root[..root.len() - 1]);
    value["report"]["manifest"]["ledger_root"] = other.into();
    let changed = env.write("root.json", value.to_string().as_bytes());
    let changed = changed.to_str().unwrap();
    env.run(&["evidence", "verify", changed, "--key", key])
        .assert_code(1)
        .assert_stderr_contains("manifest.ledger_root");
    let kit = std::process::Command::new("python3")
        .args([script, "bundle", changed, "--key", key])
        .output()
        .unwrap();
    assert_eq!(kit.status.code(), Some(1));
}

/// The fenced block of `doc` that follows `after`.
fn block_after<'d>(doc: &'d str, after: &str) -> &'d str {
    let from = doc.find(after).unwrap_or_else(|| panic!("no {after:?}")) + after.len();
    let start = from + doc[from..].find("```\n").expect("a block") + "```\n".len();
    &doc[start..start + doc[start..].find("```").expect("closed block")]
}

/// docs/AUDITING.md's public key is a real one (its id is the one its name
/// and key derive; issue 24 found `1a2b3c4d` where the key gave
/// `12717235`), and its example checkpoint is signed by it.
#[test]
fn the_auditing_key_and_checkpoint_examples_verify() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/AUDITING.md");
    let doc = std::fs::read_to_string(path).expect("docs/AUDITING.md exists");
    let key = block_after(&doc, "It looks like").trim();
    let verifier = ledger::checkpoint::Verifier::parse(key)
        .unwrap_or_else(|e| panic!("AUDITING.md's key {key}: {e}"));
    let note = block_after(&doc, "C2SP signed\nnote):");
    let checkpoint = verifier
        .open(note)
        .unwrap_or_else(|e| panic!("AUDITING.md's checkpoint: {e}\n{note}"));
    let size_said = format!("the log had {} entries", thousands(checkpoint.size));
    assert!(doc.contains(&size_said), "AUDITING.md lacks {size_said:?}");
    // Every shortened spelling of the key is this key's.
    let id = key.split('+').nth(1).unwrap();
    for (at, _) in doc.match_indices("ikt.example.no/tla-ledger+") {
        let rest = &doc[at + "ikt.example.no/tla-ledger+".len()..];
        assert!(
            rest.starts_with(id),
            "AUDITING.md names another key id: {}",
            &rest[..8]
        );
    }
}

/// 1236 as 1,236.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// docs/SEMANTICS.md and docs/CLI.md are the project's contracts word for
/// word below their marker, so that the repository carries what an auditor
/// needs to regenerate a report; the copies beside the repository
/// (`../shared/spec/`, as the project is given them) are the originals.
#[test]
fn the_contracts_in_docs_are_the_projects_word_for_word() {
    const MARK: &str = "<!-- The contract follows, word for word. -->\n\n";
    let repo = env!("CARGO_MANIFEST_DIR");
    for name in ["SEMANTICS.md", "CLI.md"] {
        let ours = std::fs::read_to_string(format!("{repo}/docs/{name}"))
            .unwrap_or_else(|e| panic!("docs/{name}: {e}"));
        let original = format!("{repo}/../shared/spec/{name}");
        let original = std::fs::read_to_string(&original).unwrap_or_else(|e| {
            panic!("{original}: {e}: the project's contracts are given beside the repository")
        });
        let at = ours
            .find(MARK)
            .unwrap_or_else(|| panic!("docs/{name} lacks its marker {MARK:?}"));
        assert!(
            ours[at + MARK.len()..] == original,
            "docs/{name} is not ../shared/spec/{name} word for word below its marker: copy it again (keep the preface above the marker)"
        );
    }
}
