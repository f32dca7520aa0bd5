//! Evidence bundles through the binary: a bundle of an issued report
//! verifies offline with the public key alone, and each kind of tampering
//! (a changed byte in an event, a dropped entry, a changed figure, a
//! foreign signature, a forged proof) fails with a message naming it.

mod common;

use common::Env;
use serde_json::Value;

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
    assert_eq!(bundle["format"], "tla-evidence/1");
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
    .assert_stdout_contains("an earlier report.issued of 2025-11 at position ");
}

fn base64_to_hex(text: &str) -> String {
    use base64::Engine as _;
    hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
}
