//! docs/FORMAT.md is a contract with auditors: its worked example must be
//! what this code computes. This test rebuilds the two example entries and
//! checks every hex string the document shows, and verifies the example
//! export lines with the export verifier; the bundle example verifies
//! with `tla evidence verify` and with the Python kit. docs/AUDITING.md's
//! public key and checkpoint are real: the key's id matches it, and the
//! checkpoint is signed by it.
//!
//! docs/SEMANTICS.md is held to the engine: its worked example (section
//! 13) is regenerated from `tests/fixtures/semantics/events.ndjson` with
//! `tla report` and must equal the report the document shows; every event
//! type, report field, deviation kind and set-aside reason the code has is
//! in the document, and every one the document names is the code's.
//! docs/CLI.md is held to the binary: every command it names has a
//! `--help`, and every flag it names is in that help.

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

/// The text of `docs/NAME`.
fn repo_doc(name: &str) -> String {
    let path = format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The part of `doc` from the heading that starts with `heading` to the
/// next heading of the same level or higher.
fn section<'d>(doc: &'d str, heading: &str) -> &'d str {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let at = doc
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("no heading {heading:?}"))
        + 1;
    let body = &doc[at + heading.len()..];
    let end = (1..=level)
        .filter_map(|l| body.find(&format!("\n{} ", "#".repeat(l))))
        .min()
        .unwrap_or(body.len());
    &doc[at..at + heading.len() + end]
}

/// The body rows of the markdown tables in `text` whose first cell is in
/// backticks (header rows, those followed by a `| ---` rule, left out).
fn body_rows(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            let header = lines.get(i + 1).is_some_and(|n| n.starts_with("| ---"));
            l.starts_with("| `") && !header
        })
        .map(|(_, l)| *l)
        .collect()
}

/// The first cell of every body row of the tables in `text`, without its
/// backticks.
fn first_cells(text: &str) -> Vec<String> {
    body_rows(text)
        .iter()
        .filter_map(|l| l.split('|').nth(1))
        .map(|c| c.trim().trim_matches('`').to_string())
        .collect()
}

/// The fenced ```json block of `doc` that follows `after`.
fn json_block_after<'d>(doc: &'d str, after: &str) -> &'d str {
    let from = doc.find(after).unwrap_or_else(|| panic!("no {after:?}")) + after.len();
    let start = from + doc[from..].find("```json\n").expect("a ```json block") + "```json\n".len();
    &doc[start..start + doc[start..].find("```").expect("closed block")]
}

/// Every `name` the document writes in backticks.
fn backticked(doc: &str) -> std::collections::BTreeSet<String> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// A ledger holding the worked example's events.
fn example_ledger() -> common::Env {
    let env = common::Env::new();
    let events = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/semantics/events.ndjson"
    );
    env.run(&["import", events])
        .assert_code(0)
        .assert_stdout_contains("47 appended");
    env
}

/// `tla report` of alver for `period` over the whole ledger of `env`.
fn example_report(env: &common::Env, period: &str) -> serde_json::Value {
    let run = env.run(&["report", "--tenant", "alver", "--period", period]);
    run.assert_code(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The first JSON path at which `a` and `b` differ, with both values.
fn difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (x, y) = (x.get(k), y.get(k));
                let here = format!("{path}.{k}");
                match (x, y) {
                    (Some(x), Some(y)) => difference(x, y, &here),
                    _ => Some(format!("{here}: {x:?} against {y:?}")),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| format!("{path}: {a} against {b}")),
    }
}

/// docs/SEMANTICS.md section 13 works March 2026 of a small ledger through
/// by hand and shows the report it gives, and April's deviations and
/// actions. Here `tla` computes them from the same events: they must be
/// the ones shown, manifest aside (the ledger's record times, and so
/// `ledger_root`, are those of this run).
/// The deviation id that section 12.3 derives by hand is the report's.
#[test]
fn the_semantics_worked_example_is_what_tla_computes() {
    let doc = repo_doc("SEMANTICS.md");
    let env = example_ledger();
    let mut report = example_report(&env, "2026-03");
    let manifest = report
        .as_object_mut()
        .and_then(|r| r.remove("manifest"))
        .expect("a manifest");
    assert_eq!(manifest["ledger_size"], 47);
    assert!(manifest["horizon"].is_null(), "March 2026 has ended");
    let shown = json_block_after(&doc, "<!-- The worked example's report follows");
    let shown: serde_json::Value = serde_json::from_str(shown)
        .unwrap_or_else(|e| panic!("SEMANTICS.md's example report is not JSON: {e}"));
    if let Some(d) = difference(&shown, &report, "report") {
        panic!(
            "SEMANTICS.md section 13 shows another report than tla computes: {d} (shown, computed)\n\
             the computed report, manifest aside:\n{}",
            serde_json::to_string_pretty(&report).unwrap()
        );
    }
    // April (13.8): its deviations and actions.
    let april = example_report(&env, "2026-04");
    let shown = json_block_after(&doc, "<!-- The worked example's April follows");
    let shown: serde_json::Value = serde_json::from_str(shown)
        .unwrap_or_else(|e| panic!("SEMANTICS.md's April is not JSON: {e}"));
    let computed = serde_json::json!({
        "actions": april["actions"],
        "deviations": april["deviations"],
    });
    if let Some(d) = difference(&shown, &computed, "april") {
        panic!(
            "SEMANTICS.md section 13.8 shows another April than tla computes: {d} (shown, computed)\n{}",
            serde_json::to_string_pretty(&computed).unwrap()
        );
    }

    // The events section 13 lists are the fixture's, and so is the
    // agreement it shows.
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/semantics/events.ndjson"
    ))
    .unwrap();
    let listed = section(&doc, "### 13.9 The events");
    assert_eq!(
        body_rows(listed).len(),
        0,
        "13.9's rows begin with a position"
    );
    let rows = listed
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"));
    assert_eq!(rows.count(), 48, "13.9 lists every event (and a header)");
    for (position, line) in fixture.lines().enumerate() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["source"], "example/semantics");
        assert_eq!(event["id"], format!("s-{}", position + 1));
        assert_eq!(event["tenant"], "alver");
        let (time, kind) = (
            &event["time"].as_str().unwrap(),
            event["type"].as_str().unwrap(),
        );
        let data = if kind == "agreement.published" {
            let shown = json_block_after(&doc, "<!-- The worked example's agreement follows");
            let shown: serde_json::Value = serde_json::from_str(shown).unwrap();
            assert_eq!(shown, event["data"]["agreement"], "§13.1's agreement");
            "the agreement of §13.1".to_string()
        } else {
            let bytes = schemas::canonical::to_canonical(&event["data"]).unwrap();
            format!("`{}`", String::from_utf8(bytes).unwrap())
        };
        let row = format!("| {position} | `{time}` | `{kind}` | {data} |");
        assert!(listed.contains(&row), "§13.9 lacks {row}");
    }

    let below = report["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "availability_below_target")
        .expect("sak-arkiv's deviation");
    let id = below["id"].as_str().unwrap();
    let hashed =
        r#"{"at":"2026-03-31T22:00:00Z","kind":"availability_below_target","service":"sak-arkiv"}"#;
    assert_eq!(
        &blake3::hash(hashed.as_bytes()).to_hex()[..16],
        id,
        "the id is BLAKE3 of the canonical object"
    );
    let derivation = section(&doc, "### 12.3 Deviation ids");
    assert!(derivation.contains(hashed), "§12.3 lacks {hashed}");
    assert!(
        derivation.contains(&format!("`{id}`")),
        "§12.3 names another id than {id}"
    );
}

/// The event types of docs/SEMANTICS.md (the tables of sections 3 and
/// 12.2) are exactly the ones the code accepts.
#[test]
fn the_semantics_names_every_event_type_and_no_other() {
    let doc = repo_doc("SEMANTICS.md");
    let mut named: Vec<String> = first_cells(section(&doc, "## 3. Event types"));
    named.extend(first_cells(section(
        &doc,
        "### 12.2 Event types of format 2",
    )));
    let mut code: Vec<String> = schemas::EventType::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    named.sort();
    code.sort();
    assert_eq!(
        named, code,
        "SEMANTICS.md's event types (left) against the code's"
    );
}

/// Every key of a real report (the worked example's months, which hold
/// every kind of row) is named in docs/SEMANTICS.md, and every field the
/// document lists for a report object (`{"a", "b"}` and the section 10
/// table) is a key of a real report. Every deviation kind, with its
/// fields, is in the table of section 11.9; every set-aside reason in
/// section 11.3.
#[test]
fn the_semantics_names_every_report_field_kind_and_reason() {
    use projector::Deviation;
    let doc = repo_doc("SEMANTICS.md");
    let names = backticked(&doc);
    let env = example_ledger();
    let mut keys = std::collections::BTreeSet::new();
    fn collect(v: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    keys.insert(k.clone());
                    collect(v, keys);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, keys)),
            _ => {}
        }
    }
    for period in ["2026-01", "2026-03"] {
        collect(&example_report(&env, period), &mut keys);
    }
    assert!(
        keys.contains("last_held"),
        "January lacks its steering meeting"
    );
    let missing: Vec<&String> = keys.iter().filter(|k| !names.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "report fields SEMANTICS.md does not name: {missing:?}"
    );

    // Fields the document lists: `{"a", "b", ...}` and section 10's table.
    let mut listed: Vec<String> = Vec::new();
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("{\"") {
        let group = &rest[at + 1..];
        let end = group.find('}').unwrap_or(group.len());
        let items: Vec<&str> = group[..end].split(',').map(str::trim).collect();
        let names_only = items.iter().all(|i| {
            i.len() > 2
                && i.starts_with('"')
                && i.ends_with('"')
                && i[1..i.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
        });
        if names_only {
            listed.extend(items.iter().map(|i| i.trim_matches('"').to_string()));
        }
        rest = &group[end..];
    }
    for cell in first_cells(section(&doc, "## 10. The report document")) {
        listed.extend(cell.split("`, `").map(str::to_string));
    }
    assert!(listed.len() > 40, "too few listed fields found: {listed:?}");
    let unknown: Vec<&String> = listed.iter().filter(|f| !keys.contains(*f)).collect();
    assert!(
        unknown.is_empty(),
        "SEMANTICS.md lists fields no report has: {unknown:?}"
    );

    // Every kind, with the fields of its kind, in the table of 11.9.
    let at = || "2026-03-31T22:00:00Z".to_string();
    let s = || "epost".to_string();
    let kinds = [
        Deviation::AvailabilityBelowTarget {
            at: at(),
            service: s(),
        },
        Deviation::MaintenanceShortNotice {
            at: at(),
            service: s(),
            window_id: s(),
        },
        Deviation::ResponseBreach {
            at: at(),
            service: s(),
            incident_id: s(),
            priority: s(),
        },
        Deviation::ResolutionBreach {
            at: at(),
            service: s(),
            incident_id: s(),
            priority: s(),
        },
        Deviation::OperationsMeetingMissing { at: at() },
        Deviation::SteeringMeetingMissing { at: at() },
        Deviation::MinutesMissing {
            at: at(),
            meeting_id: s(),
        },
        Deviation::ContactVacant {
            at: at(),
            role: s(),
            service: None,
            vacant_seconds: 1,
        },
    ];
    let table = section(&doc, "### 11.9 Deviations");
    let rows = body_rows(table);
    assert_eq!(rows.len(), kinds.len(), "§11.9 has a row per kind");
    for d in &kinds {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}` |", d.kind())))
            .unwrap_or_else(|| panic!("§11.9 lacks {}", d.kind()));
        let value = serde_json::to_value(d).unwrap();
        for field in value.as_object().unwrap().keys() {
            if field != "kind" && field != "at" {
                assert!(
                    row.contains(&format!("`{field}`")),
                    "§11.9's row of {} lacks `{field}`",
                    d.kind()
                );
            }
        }
    }
    let reasons = first_cells(section(&doc, "### 11.3 Set aside"));
    let code: Vec<&str> = projector::quality::Reason::PRECEDENCE
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(
        reasons.iter().map(String::as_str).collect::<Vec<_>>(),
        code,
        "§11.3's reasons, in the order of precedence"
    );
}

/// Every command docs/CLI.md names exists (`tla CMD --help` exits 0) and
/// every flag it gives a command is in that command's help.
#[test]
fn every_command_and_flag_of_docs_cli_exists() {
    let doc = repo_doc("CLI.md");
    let env = common::Env::new();
    let mut checked = 0;
    for span in backticked(&doc).iter().filter(|s| s.starts_with("tla ")) {
        // Inside a table, `|` is written `\|`.
        let span = span.replace("\\|", "|");
        let words: Vec<&str> = span.split_whitespace().skip(1).collect();
        let path: Vec<&str> = words
            .iter()
            .take_while(|w| {
                w.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '|')
            })
            .filter(|w| !w.starts_with('-'))
            .copied()
            .collect();
        // `proof inclusion|consistency` names two commands.
        let alternatives: Vec<Vec<String>> = match path.iter().position(|w| w.contains('|')) {
            Some(i) => path[i]
                .split('|')
                .map(|alt| {
                    let mut p: Vec<String> = path.iter().map(|w| w.to_string()).collect();
                    p[i] = alt.to_string();
                    p
                })
                .collect(),
            None => vec![path.iter().map(|w| w.to_string()).collect()],
        };
        let flags: Vec<&str> = span
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
            .filter(|w| w.starts_with("--"))
            .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
            .collect();
        for path in alternatives {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push("--help");
            let run = env.run(&args);
            run.assert_code(0);
            for flag in &flags {
                assert!(
                    run.stdout.contains(flag),
                    "docs/CLI.md gives `{span}`, but `tla {}` lacks {flag}",
                    args.join(" ")
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 25,
        "only {checked} commands found in docs/CLI.md"
    );
}
