//! Evidence bundles through the binary: a bundle of an issued report
//! verifies offline with the public key alone, and each kind of tampering
//! (a changed byte in an event, a dropped entry, a changed figure, a
//! foreign signature, a forged proof) fails with a message naming it. The
//! municipality's acknowledgement travels with its own inclusion proof,
//! and `tla evidence verify` says whose it is and which digest it names.

mod common;

use common::Env;
use serde_json::Value;
use service::evidence::Problem;

/// A two-tenant demo ledger (the demo signs a checkpoint with a key it
/// keeps in the data directory), its public key, and the bundle of alver's
/// 2026-03 report (issued by the demo) as JSON.
fn bundle() -> (Env, String, Value) {
    let env = Env::new();
    env.run(&["demo", "--tenants", "2"]).assert_code(0);
    let public = std::fs::read_to_string(env.data_dir().join("demo-signing.key.pub")).unwrap();
    let out = env.path("bundle.json");
    let out = out.to_str().unwrap();
    env.run(&[
        "evidence", "export", "--tenant", "alver", "--period", "2026-03", "--out", out,
    ])
    .assert_code(0);
    let bundle = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    (env, public.trim().to_owned(), bundle)
}

fn verify(env: &Env, public: &str, bundle: &Value, name: &str) -> common::Run {
    let file = env.write(name, bundle.to_string().as_bytes());
    env.run(&[
        "evidence",
        "verify",
        file.to_str().unwrap(),
        "--key",
        public,
    ])
}

#[test]
fn a_bundle_verifies_offline_and_every_tampering_is_named() {
    let (env, public, bundle) = bundle();
    assert_eq!(bundle["format"], "tla-evidence/2");
    let entries = bundle["entries"].as_array().unwrap().len();
    assert!(
        entries > 50,
        "alver's history up to the report: {entries} entries"
    );
    // The ledger is not needed: verify from another, empty directory.
    let elsewhere = Env::new();
    let run = verify(&elsewhere, &public, &bundle, "bundle.json");
    run.assert_code(0)
        .assert_stdout_contains("reproduces from its")
        .assert_stdout_contains("cannot show whether the period was reissued later");
    assert!(!run.stdout.contains("REISSUE"), "{}", run.stdout);

    // The report digest as docs/FORMAT.md defines it: BLAKE3 of the
    // canonical JSON of the report with manifest.report_digest removed.
    let mut content = bundle["report"].clone();
    let digest = content["manifest"]
        .as_object_mut()
        .unwrap()
        .remove("report_digest")
        .unwrap();
    let canonical = schemas::canonical::to_canonical(&content).unwrap();
    assert_eq!(digest, blake3::hash(&canonical).to_hex().as_str());

    // The genuine key's signature over a checkpoint of another origin.
    let private = std::fs::read_to_string(env.data_dir().join("demo-signing.key")).unwrap();
    let signer = ledger::checkpoint::Signer::parse(&private).unwrap();
    let mut evil =
        ledger::checkpoint::read_unverified(bundle["checkpoint"].as_str().unwrap()).unwrap();
    evil.origin = "evil.example/ledger".into();
    let mut origin = bundle.clone();
    origin["checkpoint"] = signer.sign(&evil).into();
    verify(&env, &public, &origin, "origin.json")
        .assert_code(1)
        .assert_stderr_contains("origin is \"evil.example/ledger\", not the key's name");

    // A changed byte in an event.
    let mut changed = bundle.clone();
    let record = changed["entries"][5]["record"].as_str().unwrap().to_owned();
    let mut bytes = hex::decode(&record).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    changed["entries"][5]["record"] = hex::encode(bytes).into();
    let position = changed["entries"][5]["position"].as_u64().unwrap();
    verify(&env, &public, &changed, "byte.json")
        .assert_code(1)
        .assert_stderr_contains(&format!(
            "entry at position {position} is not in the signed checkpoint"
        ));

    // A dropped entry.
    let mut dropped = bundle.clone();
    dropped["entries"].as_array_mut().unwrap().remove(7);
    verify(&env, &public, &dropped, "dropped.json")
        .assert_code(1)
        .assert_stderr_contains("the tenant chain breaks at entry 7")
        .assert_stderr_contains("missing");

    // A changed report figure, digest left as it was.
    let mut figure = bundle.clone();
    let downtime = &mut figure["report"]["services"][0]["availability"]["downtime_seconds"];
    *downtime = (downtime.as_u64().unwrap() + 60).into();
    verify(&env, &public, &figure, "figure.json")
        .assert_code(1)
        .assert_stderr_contains("does not match its digest");

    // A foreign signature: a checkpoint signed by another key.
    let other = Env::new();
    let other_key = other.path("other.key");
    let other_public = other.run(&[
        "key",
        "generate",
        "--name",
        "test.example/ledger",
        "--out",
        other_key.to_str().unwrap(),
    ]);
    verify(&env, other_public.stdout.trim(), &bundle, "foreign.json")
        .assert_code(1)
        .assert_stderr_contains("carries no signature by key test.example/ledger");

    // A forged consistency proof. The checkpoint covers the report.issued
    // entry after the report's prefix, so the proof is never empty.
    let mut forged = bundle.clone();
    forged["consistency"][0] = "00".repeat(32).into();
    verify(&env, &public, &forged, "forged.json")
        .assert_code(1)
        .assert_stderr_contains("is not a prefix of the signed checkpoint");
}

#[test]
fn a_bundle_carries_the_acknowledgement_with_its_proof_and_tampering_with_it_is_named() {
    let (env, public, bundle) = bundle();
    // The demo acknowledged alver's 2026-03 report after issuing it.
    let ack = &bundle["acknowledgement"];
    let position = ack["position"].as_u64().expect("an acknowledgement entry");
    let issued = bundle["entries"].as_array().unwrap().last().unwrap()["position"]
        .as_u64()
        .unwrap();
    assert!(
        position > issued,
        "acknowledged at {position}, issued at {issued}"
    );
    let digest = bundle["report"]["manifest"]["report_digest"]
        .as_str()
        .unwrap();
    verify(&env, &public, &bundle, "acknowledged.json")
        .assert_code(0)
        .assert_stdout_contains("acknowledged: by ")
        .assert_stdout_contains(&format!("(ledger position {position}, comment "))
        .assert_stdout_contains(&format!("naming this report's digest {digest}"));

    // A changed byte in the acknowledgement's event.
    let mut changed = bundle.clone();
    let record = changed["acknowledgement"]["record"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bytes = hex::decode(&record).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    changed["acknowledgement"]["record"] = hex::encode(bytes).into();
    verify(&env, &public, &changed, "ack-byte.json")
        .assert_code(1)
        .assert_stderr_contains(&format!(
            "the acknowledgement entry at position {position} is not in the signed checkpoint"
        ));
    // Another genuine entry of the tenant (in the checkpoint, with its
    // proof) passed off as the acknowledgement.
    let mut other = bundle.clone();
    other["acknowledgement"] = bundle["entries"][3].clone();
    let other_position = other["acknowledgement"]["position"].as_u64().unwrap();
    verify(&env, &public, &other, "ack-other.json")
        .assert_code(1)
        .assert_stderr_contains(&format!(
            "the acknowledgement entry at position {other_position} is not a report.acknowledged of alver for 2026-03"
        ));
    // With none (null), the bundle still verifies and says it carries none.
    let mut without = bundle.clone();
    without["acknowledgement"] = Value::Null;
    verify(&env, &public, &without, "ack-none.json")
        .assert_code(0)
        .assert_stdout_contains("the bundle carries no acknowledgement of 2026-03 for alver");

    // The last month is not acknowledged by the demo; an acknowledgement
    // made after the demo's checkpoint is left out until one covers it.
    let last = env.path("last.json");
    let export = [
        "evidence",
        "export",
        "--tenant",
        "alver",
        "--period",
        "2026-10",
        "--out",
        last.to_str().unwrap(),
    ];
    env.run(&export).assert_code(0);
    let read = |path: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    assert!(read(&last)["acknowledgement"].is_null());
    env.run(&[
        "report",
        "acknowledge",
        "--tenant",
        "alver",
        "--period",
        "2026-10",
        "--person",
        "Kari Nordmann",
    ])
    .assert_code(0);
    env.run(&export)
        .assert_code(0)
        .assert_stderr_contains("is left out: no signed checkpoint covers it yet");
    assert!(read(&last)["acknowledgement"].is_null());
    let key = env.data_dir().join("demo-signing.key");
    let mut with_key = export.to_vec();
    with_key.extend(["--key", key.to_str().unwrap()]);
    env.run(&with_key)
        .assert_code(0)
        .assert_stderr_contains("the acknowledgement at position");
    verify(&env, &public, &read(&last), "last.json")
        .assert_code(0)
        .assert_stdout_contains("acknowledged: by Kari Nordmann at ");
}

#[test]
fn issuing_with_a_key_signs_the_checkpoint_the_report_is_issued_against() {
    let env = Env::new();
    env.run(&["demo", "--tenants", "2"]).assert_code(0);
    let key = env.path("signing.key");
    let key = key.to_str().unwrap();
    env.run(&["key", "generate", "--out", key]).assert_code(0);
    // A late event for November changes its figures, so it is issued anew.
    let late = common::event_json("alver", "late-1", "INC-LATE-1");
    let file = env.write("late.json", late.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let out = env.path("alver-2025-11.json");
    let run = env.run(&[
        "report",
        "issue",
        "--tenant",
        "alver",
        "--period",
        "2025-11",
        "--key",
        key,
        "--out",
        out.to_str().unwrap(),
    ]);
    run.assert_code(0)
        .assert_stderr_contains("signed the checkpoint of the")
        .assert_stderr_contains("supersedes");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let manifest = &report["manifest"];
    let latest = env.run(&["checkpoint", "--latest"]);
    latest.assert_code(0);
    let lines: Vec<&str> = latest.stdout.lines().collect();
    assert_eq!(
        lines[1],
        manifest["ledger_size"].to_string(),
        "{}",
        latest.stdout
    );
    let root = base64_to_hex(lines[2]);
    assert_eq!(root, manifest["tree_root"].as_str().unwrap());
    // The report.issued entry carries the same tree root.
    let log = env.run(&[
        "log",
        "--tenant",
        "alver",
        "--type",
        "report.issued",
        "--json",
    ]);
    log.assert_code(0)
        .assert_stdout_contains(manifest["tree_root"].as_str().unwrap());
    env.run(&["verify-report", out.to_str().unwrap()])
        .assert_code(0);
    // That checkpoint ends where the report.issued entry begins, so a
    // bundle needs a newer one: without a key, export says so.
    let bundle = env.path("bundle.json");
    let args = [
        "evidence",
        "export",
        "--tenant",
        "alver",
        "--period",
        "2025-11",
        "--out",
        bundle.to_str().unwrap(),
    ];
    env.run(&args)
        .assert_code(1)
        .assert_stderr_contains("no signed checkpoint covers the report.issued entry");
    let mut with_key = args.to_vec();
    with_key.extend(["--key", key]);
    env.run(&with_key).assert_code(0);
    let public = env.path("signing.key.pub");
    env.run(&[
        "evidence",
        "verify",
        bundle.to_str().unwrap(),
        "--key",
        public.to_str().unwrap(),
    ])
    .assert_code(0)
    .assert_stdout_contains("this report is a REISSUE")
    .assert_stdout_contains("an earlier report.issued of 2025-11 at position ")
    // The demo's acknowledgement of 2025-11 named the first issue.
    .assert_stdout_contains("NOT ACKNOWLEDGED AS ISSUED")
    .assert_stdout_contains("an OLDER issue of 2025-11 that this report replaces");
}

fn base64_to_hex(text: &str) -> String {
    use base64::Engine as _;
    hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
}

/// One single edit of a report's JSON: where, and what.
struct Edit {
    /// The path as the verifier names it: `deviations[0].waived`.
    path: String,
    /// The path as steps, for applying the edit.
    steps: Vec<Step>,
    what: What,
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

enum What {
    Add,
    Remove,
    Change,
}

/// Every single edit of `value`: each key removed, a key added to each
/// object, each scalar changed.
fn every_edit(value: &Value, path: &str, steps: &[Step], out: &mut Vec<Edit>) {
    let here = |child: String, step: Step| {
        let mut steps = steps.to_vec();
        steps.push(step);
        (child, steps)
    };
    match value {
        Value::Object(map) => {
            let (added, added_steps) = here(
                match path {
                    "" => "waived".to_owned(),
                    _ => format!("{path}.waived"),
                },
                Step::Key("waived".to_owned()),
            );
            out.push(Edit {
                path: added,
                steps: added_steps,
                what: What::Add,
            });
            for (key, child) in map {
                let name = match path {
                    "" => key.clone(),
                    _ => format!("{path}.{key}"),
                };
                let (name, child_steps) = here(name, Step::Key(key.clone()));
                out.push(Edit {
                    path: name.clone(),
                    steps: child_steps.clone(),
                    what: What::Remove,
                });
                every_edit(child, &name, &child_steps, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let (name, child_steps) = here(format!("{path}[{i}]"), Step::Index(i));
                every_edit(child, &name, &child_steps, out);
            }
        }
        _ => out.push(Edit {
            path: path.to_owned(),
            steps: steps.to_vec(),
            what: What::Change,
        }),
    }
}

/// The report with `edit` applied.
fn apply(report: &Value, edit: &Edit) -> Value {
    let mut report = report.clone();
    let (last, up) = edit.steps.split_last().expect("an edit has a path");
    let mut here = &mut report;
    for step in up {
        here = match step {
            Step::Key(key) => &mut here[key.as_str()],
            Step::Index(i) => &mut here[*i],
        };
    }
    match (&edit.what, last) {
        (What::Add, Step::Key(key)) => here[key.as_str()] = true.into(),
        (What::Remove, Step::Key(key)) => {
            here.as_object_mut().unwrap().remove(key);
        }
        (What::Change, step) => {
            let target = match step {
                Step::Key(key) => &mut here[key.as_str()],
                Step::Index(i) => &mut here[*i],
            };
            *target = match target.take() {
                Value::String(text) => format!("{text}x").into(),
                Value::Number(n) => (n.as_u64().unwrap_or(0) + 1).into(),
                Value::Bool(b) => (!b).into(),
                _ => "x".into(),
            };
        }
        _ => unreachable!("adds and removes are of keys"),
    }
    report
}

/// Fields a bundle's report is regenerated from or checked against before
/// regeneration: an edit there is refused by another check (the
/// `report.issued` entry, the chain head, the tree root, the format) that
/// does not always name the path.
const PINNED: &[&str] = &[
    "tenant",
    "period",
    "format",
    "manifest",
    "manifest.ledger_size",
    "manifest.ledger_root",
    "manifest.tree_root",
    "manifest.horizon",
    "manifest.report_digest",
];

/// Single edits tried per run: each check regenerates the report (some
/// 0.19 s in a debug build), so a run samples; all 1,071 single edits of
/// the demo's report were tried once (200 s): every one refused, and every
/// one outside [`PINNED`] with its path named.
const EDITS_TRIED: u32 = 64;

/// Issue 24's property: any single JSON edit anywhere in a valid bundle's
/// report (a key added, a key removed, a scalar changed) is refused, and
/// outside the fields the report is regenerated from, the refusal names
/// the edited path. proptest picks the edits among every single edit of
/// the demo's report; `TLA_EDIT_SEED` repeats a run.
#[test]
fn any_single_edit_of_a_bundled_report_is_refused_naming_its_path() {
    use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

    let (_env, public, bundle) = bundle();
    let text = bundle.to_string();
    let parsed = service::evidence::parse("bundle.json", &text).unwrap();
    let verifier = service::keys::load_verifier(&public).unwrap();
    let checkpoint = verifier.open(&parsed.checkpoint).unwrap();
    assert_eq!(service::evidence::check(&parsed, &checkpoint), []);
    let mut edits = Vec::new();
    every_edit(&bundle["report"], "", &[], &mut edits);
    assert!(edits.len() > 200, "{} edits", edits.len());
    let seed: u64 = std::env::var("TLA_EDIT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_nanos() as u64)
        });
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: EDITS_TRIED,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&(0..edits.len()), |i| {
        let edit = &edits[i];
        let mut tampered = parsed.clone();
        tampered.report = apply(&bundle["report"], edit);
        let problems = service::evidence::check(&tampered, &checkpoint);
        if problems.is_empty() {
            return Err(TestCaseError::fail(format!(
                "{}: the edit was accepted",
                edit.path
            )));
        }
        let pinned = PINNED.contains(&edit.path.as_str());
        // The field's path is named as a difference of its own, and in
        // the message `tla evidence verify` prints.
        let named = problems.iter().any(|p| {
            matches!(p, Problem::Differs(d) if d.path == edit.path)
                && p.to_string().contains(&format!("{}:", edit.path))
        });
        if !pinned && !named {
            let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(TestCaseError::fail(format!(
                "{}: refused without the path named: {}",
                edit.path,
                listed.join("; ")
            )));
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("TLA_EDIT_SEED={seed}: {failure}");
    }
    println!(
        "{EDITS_TRIED} of the report's {} single edits, each refused (TLA_EDIT_SEED={seed})",
        edits.len()
    );
}

/// A report under a version that required approval: the bundle holds the
/// two `agreement.approved` entries among the tenant's (they lie in the
/// report's prefix), and `tla evidence verify` says who approved the
/// version for each party.
#[test]
fn a_bundle_names_who_approved_the_version_its_report_used() {
    let env = Env::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/agreements/alver.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let first = env.write("alver.toml", text.as_bytes());
    let second = text
        .replace("version = \"2026-1\"", "version = \"2026-2\"")
        .replace("2026-01-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00");
    let second = env.write(
        "alver-2.toml",
        format!("requires_approval = true\n{second}").as_bytes(),
    );
    for file in [&first, &second] {
        common::publish_agreement(&env, file, "alver").assert_code(0);
    }
    for (party, person) in [("provider", "Per Hansen"), ("tenant", "Kari Nordmann")] {
        common::approve_agreement(&env, "alver", "2026-2", party, person).assert_code(0);
    }
    let key = env.path("signing.key");
    let key = key.to_str().unwrap();
    env.run(&["key", "generate", "--out", key]).assert_code(0);
    env.run(&[
        "report", "issue", "--tenant", "alver", "--period", "2026-03", "--key", key,
    ])
    .assert_code(0);
    let out = env.path("bundle.json");
    env.run(&[
        "evidence",
        "export",
        "--tenant",
        "alver",
        "--period",
        "2026-03",
        "--out",
        out.to_str().unwrap(),
        "--key",
        key,
    ])
    .assert_code(0);
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(bundle["report"]["agreement_version"], "2026-2");
    let public = std::fs::read_to_string(env.path("signing.key.pub")).unwrap();
    let run = verify(&env, public.trim(), &bundle, "approved.json");
    run.assert_code(0)
        .assert_stdout_contains(
            "agreement: the report used version 2026-2, approved by the provider by Per Hansen at ",
        )
        .assert_stdout_contains(" (ledger position 2) and the tenant by Kari Nordmann at ")
        .assert_stdout_contains("(ledger position 3); those entries are in the bundle");
    // Without the tenant's approval entry the bundle no longer verifies:
    // the report would be regenerated under 2026-1.
    let mut dropped = bundle.clone();
    dropped["entries"].as_array_mut().unwrap().remove(3);
    verify(&env, public.trim(), &dropped, "dropped.json").assert_code(1);
}
