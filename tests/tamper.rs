//! The tamper suite: tampered artefacts as data (tests/tamper/*.json, one
//! case per file), after transparency-dev's test vectors. Each case names
//! a genuine artefact of a demo ledger (a whole-ledger export, a tenant
//! export, the signed checkpoint, an inclusion or consistency proof, an
//! evidence bundle, an issued report file for `tla verify-report`), the edits that tamper with it (a forger's
//! recomputation of hashes and signatures included), and the verdict:
//! `refused` cases must fail with exit 1 and the message named, `accepted`
//! cases (benign controls: other key order, an extension line, a
//! co-signature) must pass. The tampered files are written to the target's
//! tmp directory (`tamper/`), and docs/verify_export.py, the auditor's kit
//! in Python, must reach the same verdict on each, except where a case
//! names the kit's own (`kit_verdict`): the kit checks a report file's
//! digest only, so a report whose digest a forger recomputed is caught by
//! regenerating it (`tla verify-report`), which the kit cannot do.

mod common;

use std::path::{Path, PathBuf};

use common::Env;
use ledger::checkpoint::{read_unverified, Checkpoint, Signer};
use ledger::record::{self, Hash, Record, ZERO_HASH};
use serde_json::Value;

/// The genuine artefacts every case starts from.
struct Base {
    env: Env,
    public: String,
    signer: Signer,
    export: Vec<Value>,
    tenant_export: Vec<Value>,
    checkpoint: String,
    inclusion: Value,
    /// A valid inclusion proof in a tree the checkpoint does not sign.
    inclusion_other: Value,
    consistency: Value,
    bundle: Value,
    /// The genuine files, for cases that tamper with something else.
    export_file: PathBuf,
    checkpoint_file: PathBuf,
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("export line"))
        .collect()
}

fn base() -> Base {
    let env = Env::new();
    env.run(&["demo", "--tenants", "2"]).assert_code(0);
    let data = env.data_dir();
    let public = std::fs::read_to_string(data.join("demo-signing.key.pub")).unwrap();
    let private = std::fs::read_to_string(data.join("demo-signing.key")).unwrap();
    let signer = Signer::parse(&private).unwrap();
    let export_file = env.path("ledger.jsonl");
    let export = export_file.to_str().unwrap();
    env.run(&["export", "--out", export]).assert_code(0);
    let tenant = env.path("alver.jsonl");
    env.run(&[
        "export",
        "--tenant",
        "alver",
        "--out",
        tenant.to_str().unwrap(),
    ])
    .assert_code(0);
    let bundle = env.path("bundle.json");
    env.run(&[
        "evidence",
        "export",
        "--tenant",
        "alver",
        "--period",
        "2026-03",
        "--out",
        bundle.to_str().unwrap(),
    ])
    .assert_code(0);
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let checkpoint = bundle["checkpoint"].as_str().unwrap().to_owned();
    let checkpoint_file = env.write("checkpoint.txt", checkpoint.as_bytes());
    let size = read_unverified(&checkpoint).unwrap().size.to_string();
    let proof = |args: &[&str]| -> Value {
        let run = env.run(args);
        run.assert_code(0);
        serde_json::from_str(&run.stdout).unwrap()
    };
    let inclusion = proof(&[
        "proof",
        "inclusion",
        "--seq",
        "500",
        "--size",
        &size,
        "--json",
    ]);
    let inclusion_other = proof(&[
        "proof",
        "inclusion",
        "--seq",
        "500",
        "--size",
        "1100",
        "--json",
    ]);
    let consistency = proof(&[
        "proof",
        "consistency",
        "--from",
        "500",
        "--to",
        &size,
        "--json",
    ]);
    Base {
        public: public.trim().to_owned(),
        signer,
        export: lines(&std::fs::read_to_string(&export_file).unwrap()),
        tenant_export: lines(&std::fs::read_to_string(&tenant).unwrap()),
        checkpoint,
        inclusion,
        inclusion_other,
        consistency,
        bundle,
        export_file,
        checkpoint_file,
        env,
    }
}

/// The value at a `/`-separated path; array indexes may count from the
/// end (`-1` is the last).
fn at<'v>(value: &'v mut Value, path: &str) -> &'v mut Value {
    let mut here = value;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        here = match here {
            Value::Array(items) => {
                let len = items.len() as i64;
                // `@text`: the first item whose JSON holds `text`.
                let i = match part.strip_prefix('@') {
                    Some(text) => items
                        .iter()
                        .position(|item| item.to_string().contains(text))
                        .unwrap_or_else(|| panic!("{path}: no item holds {text}")),
                    None => {
                        let i: i64 = part.parse().expect("an array index");
                        (if i < 0 { len + i } else { i }) as usize
                    }
                };
                &mut items[i]
            }
            Value::Object(map) => map.entry(part.to_owned()).or_insert(Value::Null),
            other => panic!("{path}: {other} has no {part}"),
        };
    }
    here
}

/// Splits a path into its parent and last part.
fn parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').expect("a path with a parent")
}

/// A hex string with its last digit's low bit flipped.
fn flip(text: &str) -> String {
    let (head, last) = text.split_at(text.len() - 1);
    let digit = u8::from_str_radix(last, 16).unwrap() ^ 1;
    format!("{head}{digit:x}")
}

/// The JSON edits every artefact shares.
fn edit_json(value: &mut Value, edit: &Value) {
    let path = edit["at"].as_str().unwrap_or("");
    match edit["op"].as_str().unwrap() {
        "set" => *at(value, path) = edit["value"].clone(),
        // Another part of the same artefact, genuine, put in its place.
        "copy" => {
            let from = at(value, edit["from"].as_str().unwrap()).clone();
            *at(value, path) = from;
        }
        "remove" => {
            let (up, key) = parent(path);
            match at(value, up) {
                Value::Object(map) => {
                    map.remove(key);
                }
                Value::Array(items) => {
                    let i: i64 = key.parse().unwrap();
                    let len = items.len() as i64;
                    items.remove(if i < 0 { len + i } else { i } as usize);
                }
                other => panic!("{path}: cannot remove from {other}"),
            }
        }
        "upper" => {
            let target = at(value, path);
            *target = target.as_str().unwrap().to_uppercase().into();
        }
        "swap_items" => {
            let Value::Array(items) = at(value, path) else {
                panic!("{path}: not an array");
            };
            items.swap(
                edit["a"].as_u64().unwrap() as usize,
                edit["b"].as_u64().unwrap() as usize,
            );
        }
        // A forger's recomputation of the report digest over the report
        // as edited (docs/FORMAT.md, "The report digest").
        "reseal" => {
            let report = at(value, path);
            let mut content = report.clone();
            content["manifest"]
                .as_object_mut()
                .unwrap()
                .remove("report_digest");
            let canonical = schemas::canonical::to_canonical(&content).unwrap();
            report["manifest"]["report_digest"] = blake3::hash(&canonical).to_hex().as_str().into();
        }
        "flip" => {
            let target = at(value, path);
            *target = flip(target.as_str().unwrap()).into();
        }
        "replace" => {
            let target = at(value, path);
            let (from, to) = (edit["from"].as_str().unwrap(), edit["to"].as_str().unwrap());
            let text = target.as_str().unwrap();
            assert!(text.contains(from), "{path}: no {from:?} in {text}");
            *target = text.replacen(from, to, 1).into();
        }
        other => panic!("unknown edit {other}"),
    }
}

/// A forger's recomputation of an export: every entry's tenant sequence,
/// links and hash, then the header's counts and heads.
fn rechain(lines: &mut [Value]) {
    let whole = lines[0]["scope"] == "ledger";
    let mut prev = ZERO_HASH;
    let mut tenants: std::collections::BTreeMap<String, (u64, Hash)> = Default::default();
    let mut count = 0u64;
    for line in lines[1..].iter_mut() {
        let tenant = line["tenant"].as_str().unwrap().to_owned();
        let (seq, tenant_prev) = tenants.get(&tenant).copied().unwrap_or((0, ZERO_HASH));
        if whole {
            line["position"] = count.into();
            line["prev_hash"] = prev.to_hex().into();
        }
        line["tenant_seq"] = seq.into();
        line["tenant_prev_hash"] = tenant_prev.to_hex().into();
        let record = Record {
            position: line["position"].as_u64().unwrap(),
            record_time: line["record_time"].as_i64().unwrap(),
            prev_hash: Hash::from_hex(line["prev_hash"].as_str().unwrap()).unwrap(),
            tenant_seq: seq,
            tenant_prev_hash: tenant_prev,
            tenant: tenant.clone(),
            event: line["event"].as_str().unwrap().as_bytes().to_vec(),
        };
        let hash = record::hash(&record.encode());
        line["hash"] = hash.to_hex().into();
        tenants.insert(tenant, (seq + 1, hash));
        prev = hash;
        count += 1;
    }
    let header = &mut lines[0];
    header["entries"] = count.into();
    header["head"] = prev.to_hex().into();
    if whole {
        header["ledger_size"] = count.into();
        header["ledger_head"] = prev.to_hex().into();
    }
}

/// The export's text after the edits; `text` edits apply to the written
/// lines (key order, spacing and duplicates a JSON value cannot hold).
fn tampered_export(mut lines: Vec<Value>, edits: &[Value]) -> String {
    let mut text_edits = Vec::new();
    for edit in edits {
        match edit["op"].as_str().unwrap() {
            "truncate" => lines.truncate(1 + edit["keep"].as_u64().unwrap() as usize),
            "swap" => {
                let (a, b) = (edit["a"].as_u64().unwrap(), edit["b"].as_u64().unwrap());
                lines.swap(a as usize, b as usize);
            }
            "rechain" => rechain(&mut lines),
            "text" => text_edits.push(edit),
            _ => {
                let mut array = Value::Array(lines);
                edit_json(&mut array, edit);
                let Value::Array(back) = array else {
                    unreachable!()
                };
                lines = back;
            }
        }
    }
    let mut written: Vec<String> = lines.iter().map(Value::to_string).collect();
    for edit in text_edits {
        let line = &mut written[edit["line"].as_u64().unwrap() as usize];
        let (from, to) = (edit["from"].as_str().unwrap(), edit["to"].as_str().unwrap());
        assert!(line.contains(from), "no {from:?} in {line}");
        *line = line.replacen(from, to, 1);
    }
    written.iter().map(|line| format!("{line}\n")).collect()
}

/// A witness's key: another name, another key.
fn witness() -> Signer {
    Signer::from_seed("witness.example/log", [3; 32]).unwrap()
}

/// The signature lines of a note, with their newlines.
fn signature_lines(note: &str) -> &str {
    &note[note.find("\n\n").unwrap() + 2..]
}

/// The checkpoint's text after the edits: re-signed by the genuine key (a
/// key-holder's forgery), co-signed, or changed as text.
fn tampered_checkpoint(base: &Base, note: &str, edits: &[Value]) -> String {
    let mut note = note.to_owned();
    for edit in edits {
        match edit["op"].as_str().unwrap() {
            // The fields changed and signed again by the genuine key
            // (`resign`), or changed under the old signature (`edit`).
            op @ ("resign" | "edit") => {
                let mut checkpoint = read_unverified(&note).unwrap();
                if let Some(origin) = edit["origin"].as_str() {
                    checkpoint.origin = origin.to_owned();
                }
                if let Some(size) = edit["size"].as_u64() {
                    checkpoint.size = size;
                }
                if let Some(root) = edit["root"].as_str() {
                    hex::decode_to_slice(root, &mut checkpoint.root).unwrap();
                }
                if let Some(line) = edit["extension"].as_str() {
                    checkpoint.extensions.push(line.to_owned());
                }
                note = match op {
                    "resign" => base.signer.sign(&checkpoint),
                    _ => format!("{}\n{}", checkpoint.body(), signature_lines(&note)),
                };
            }
            // Our signature line with one signature byte flipped, before
            // (`bad_first`) or instead of the genuine one.
            op @ ("bad_first" | "flip_signature") => {
                let at = note.find("\n\n").unwrap() + 2;
                let (body, ours) = note.split_at(at);
                let (name, blob) = ours.trim_end().rsplit_once(' ').unwrap();
                let mut bytes = base64_decode(blob);
                bytes[20] ^= 1;
                let bad = format!("{name} {}\n", base64_encode(&bytes));
                note = match op {
                    "bad_first" => format!("{body}{bad}{ours}"),
                    _ => format!("{body}{bad}"),
                };
            }
            "cosign" => {
                let body = &note[..note.find("\n\n").unwrap() + 1];
                let checkpoint = Checkpoint::parse(body).unwrap();
                let theirs = witness().sign(&checkpoint);
                let ours = signature_lines(&note).to_owned();
                let theirs = signature_lines(&theirs);
                note = match edit["first"].as_bool() {
                    Some(true) => format!("{body}\n{theirs}{ours}"),
                    _ => format!("{body}\n{ours}{theirs}"),
                };
            }
            "signed_by_witness" => {
                let mut checkpoint = read_unverified(&note).unwrap();
                checkpoint.origin = witness().name().to_owned();
                note = witness().sign(&checkpoint);
            }
            "text" => {
                let (from, to) = (edit["from"].as_str().unwrap(), edit["to"].as_str().unwrap());
                assert!(note.contains(from), "no {from:?} in {note}");
                note = note.replacen(from, to, 1);
            }
            "append" => note.push_str(edit["text"].as_str().unwrap()),
            other => panic!("unknown checkpoint edit {other}"),
        }
    }
    note
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One case: its file's name and contents.
struct Case {
    name: String,
    spec: Value,
}

fn cases() -> Vec<Case> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tamper");
    let mut cases: Vec<Case> = std::fs::read_dir(dir)
        .expect("tests/tamper")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| Case {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            spec: serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// Where the tampered artefacts are written, for other verifiers.
fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tamper");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the case's artefact and returns the `tla` arguments that check it.
fn arguments(base: &Base, case: &Case, dir: &Path) -> Vec<String> {
    let spec = &case.spec;
    let edits = spec["edits"].as_array().cloned().unwrap_or_default();
    let public = base.public.clone();
    let with_checkpoint = spec["with_checkpoint"].as_bool().unwrap_or(false);
    let checkpoint_args = || {
        vec![
            "--checkpoint".to_owned(),
            base.checkpoint_file.display().to_string(),
            "--key".to_owned(),
            public.clone(),
        ]
    };
    let write = |extension: &str, text: &str| {
        let path = dir.join(format!("{}.{extension}", case.name));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let kind = spec["artefact"].as_str().unwrap();
    match kind {
        "export" | "tenant_export" => {
            let lines = match kind {
                "export" => base.export.clone(),
                _ => base.tenant_export.clone(),
            };
            let file = write("jsonl", &tampered_export(lines, &edits));
            let mut args = vec!["verify".to_owned(), "--export".to_owned(), file];
            if with_checkpoint {
                args.extend(checkpoint_args());
            }
            args
        }
        "checkpoint" => {
            let file = write("txt", &tampered_checkpoint(base, &base.checkpoint, &edits));
            let export = base.export_file.display().to_string();
            let args = [
                "verify",
                "--export",
                &export,
                "--checkpoint",
                &file,
                "--key",
            ];
            let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            args.push(public);
            args
        }
        "inclusion" | "consistency" => {
            let mut proof = match (kind, spec["tree"].as_str()) {
                ("inclusion", Some("unsigned")) => base.inclusion_other.clone(),
                ("inclusion", _) => base.inclusion.clone(),
                _ => base.consistency.clone(),
            };
            for edit in &edits {
                edit_json(&mut proof, edit);
            }
            write("json", &proof.to_string());
            let mut args = vec!["proof".to_owned(), "verify".to_owned(), kind.to_owned()];
            let names: &[&str] = match kind {
                "inclusion" => &["leaf_hash", "index", "size", "root"],
                _ => &["size1", "size2", "root1", "root2"],
            };
            for name in names {
                args.push(format!("--{}", name.replace('_', "-")));
                args.push(match &proof[name] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                });
            }
            let hashes: Vec<&str> = proof["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            args.push("--proof".to_owned());
            args.push(hashes.join(","));
            if with_checkpoint {
                args.extend(checkpoint_args());
            }
            args
        }
        "bundle" => {
            let mut bundle = base.bundle.clone();
            for edit in &edits {
                match edit["op"].as_str().unwrap() {
                    "checkpoint" => {
                        let note = bundle["checkpoint"].as_str().unwrap().to_owned();
                        let inner = edit["edits"].as_array().unwrap();
                        bundle["checkpoint"] = tampered_checkpoint(base, &note, inner).into();
                    }
                    "record_byte" => {
                        let entry =
                            &mut bundle["entries"][edit["entry"].as_u64().unwrap() as usize];
                        let mut bytes = hex::decode(entry["record"].as_str().unwrap()).unwrap();
                        let at = bytes.len() - 3;
                        bytes[at] ^= 1;
                        entry["record"] = hex::encode(bytes).into();
                    }
                    _ => edit_json(&mut bundle, edit),
                }
            }
            let file = write("json", &serde_json::to_string_pretty(&bundle).unwrap());
            vec![
                "evidence".to_owned(),
                "verify".to_owned(),
                file,
                "--key".to_owned(),
                public,
            ]
        }
        "report" => {
            let mut report = base.bundle["report"].clone();
            let mut text_edits = Vec::new();
            for edit in &edits {
                match edit["op"].as_str().unwrap() {
                    "text" => text_edits.push(edit),
                    _ => edit_json(&mut report, edit),
                }
            }
            // A report file holds canonical JSON and a newline, as `tla
            // report issue` writes it; `pretty` lays it out otherwise.
            let mut text = match spec["pretty"].as_bool() {
                Some(true) => serde_json::to_string_pretty(&report).unwrap(),
                _ => String::from_utf8(schemas::canonical::to_canonical(&report).unwrap()).unwrap(),
            };
            for edit in text_edits {
                let (from, to) = (edit["from"].as_str().unwrap(), edit["to"].as_str().unwrap());
                assert!(
                    text.contains(from),
                    "{}: no {from:?} in the report",
                    case.name
                );
                text = text.replacen(from, to, 1);
            }
            let file = write("json", &format!("{text}\n"));
            vec!["verify-report".to_owned(), file]
        }
        other => panic!("{}: unknown artefact {other}", case.name),
    }
}

/// The Python kit's verdict (accepted?, what it printed) on the artefact
/// `tla` was run on with `args`: the same files and key, its own spelling.
fn kit_verdict(name: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify_export.py");
    let signed = args.iter().position(|a| *a == "--checkpoint");
    let mut kit: Vec<String> = match args {
        ["verify", "--export", file, ..] => vec!["export".into(), file.to_string()],
        ["proof", "verify", ..] => {
            vec![
                "proof".into(),
                dir.join(format!("{name}.json")).display().to_string(),
            ]
        }
        ["evidence", "verify", file, "--key", key] => {
            vec![
                "bundle".into(),
                file.to_string(),
                "--key".into(),
                key.to_string(),
            ]
        }
        ["verify-report", file] => vec!["report".into(), file.to_string()],
        other => panic!("{name}: no kit command for {other:?}"),
    };
    if let Some(at) = signed {
        kit.extend(args[at..at + 4].iter().map(|a| a.to_string()));
    }
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(&kit)
        .output()
        .expect("python3 runs");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => (true, said),
        Some(1) => (false, said),
        code => panic!("{name}: the kit exited {code:?} for {kit:?}: {said}"),
    }
}

/// `tla` refuses every tampered case with the message named and accepts
/// every control, and the Python kit (docs/verify_export.py, written from
/// docs/FORMAT.md) reaches the same verdict on every case.
#[test]
fn every_tampered_artefact_is_refused_and_every_control_accepted() {
    common::require_python("blake3, cryptography");
    let base = base();
    let cases = cases();
    let refused = cases
        .iter()
        .filter(|c| c.spec["verdict"] == "refused")
        .count();
    assert!(
        refused >= 40,
        "the suite has {refused} tampered cases, want 40"
    );
    let dir = out_dir();
    let mut failures = Vec::new();
    let mut kit_disagrees = Vec::new();
    for case in &cases {
        let args = arguments(&base, case, &dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = base.env.run(&args);
        let accepted = run.code == 0;
        let expected = case.spec["verdict"].as_str().unwrap();
        let message = case.spec["message"].as_str().unwrap_or("");
        let said = format!("{}{}", run.stdout, run.stderr);
        let ok = match expected {
            "accepted" => accepted,
            "refused" => run.code == 1 && said.contains(message),
            other => panic!("{}: verdict {other}", case.name),
        };
        let kit = kit_verdict(&case.name, &args, &dir);
        let kit_expected = match case.spec["kit_verdict"].as_str() {
            Some(verdict) => verdict == "accepted",
            None => accepted,
        };
        if kit.0 != kit_expected {
            kit_disagrees.push(format!(
                "{}: tla {} it (the kit should have {}), the Python kit {} it: {}",
                case.name,
                if accepted { "accepted" } else { "refused" },
                if kit_expected { "accepted" } else { "refused" },
                if kit.0 { "accepted" } else { "refused" },
                kit.1.trim()
            ));
        }
        if !ok {
            failures.push(format!(
                "{} ({}): expected {expected}{}, got exit {}: {}",
                case.name,
                case.spec["description"].as_str().unwrap_or(""),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" with {message:?}")
                },
                run.code,
                said.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        kit_disagrees.is_empty(),
        "docs/verify_export.py and tla disagree:\n{}",
        kit_disagrees.join("\n")
    );
}
