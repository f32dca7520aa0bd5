//! Proofs from the ledger, signed checkpoints and `tla audit` through the
//! binary: a proof `tla proof` makes is one `tla proof verify` accepts, and
//! an auditor's kept checkpoint catches a rewritten or truncated ledger.

mod common;

use common::{event_json, Env};

/// A ledger of `count` events (one of them changed when `changed` names
/// its index), a key, and a signed checkpoint.
fn signed_ledger(env: &Env, count: usize, changed: Option<usize>) {
    let tenants = ["alver", "fedje", "gulen"];
    let events: String = (0..count)
        .map(|n| {
            let incident = match changed {
                Some(c) if c == n => "INC-REWRITTEN".to_owned(),
                _ => format!("INC-{n}"),
            };
            event_json(tenants[n % 3], &format!("ev-{n}"), &incident) + "\n"
        })
        .collect();
    let file = env.write("events.ndjson", events.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
}

fn key(env: &Env) -> (String, String) {
    let private = env.path("signing.key");
    let run = env.run(&[
        "key",
        "generate",
        "--name",
        "test.example/ledger",
        "--out",
        private.to_str().unwrap(),
    ]);
    run.assert_code(0);
    (
        private.to_str().unwrap().to_owned(),
        run.stdout.trim().to_owned(),
    )
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_owned()
}

fn fields<const N: usize>(text: &str, names: [&str; N]) -> [String; N] {
    names.map(|name| field(text, name))
}

#[test]
fn proofs_the_ledger_makes_verify_and_a_changed_one_does_not() {
    let env = Env::new();
    signed_ledger(&env, 700, None);
    let run = env.run(&["proof", "inclusion", "--seq", "300", "--size", "650"]);
    run.assert_code(0);
    let out = &run.stdout;
    let (leaf, root, proof) = (
        field(out, "leaf_hash"),
        field(out, "root"),
        field(out, "proof"),
    );
    let verify = |leaf: &str| {
        env.run(&[
            "proof",
            "verify",
            "inclusion",
            "--leaf-hash",
            leaf,
            "--index",
            "300",
            "--size",
            "650",
            "--root",
            &root,
            "--proof",
            &proof,
        ])
    };
    verify(&leaf).assert_code(0);
    let mut other = leaf.clone();
    other.replace_range(0..1, if leaf.starts_with('0') { "1" } else { "0" });
    verify(&other).assert_code(1);

    let run = env.run(&["proof", "consistency", "--from", "257", "--to", "700"]);
    run.assert_code(0);
    let out = &run.stdout;
    env.run(&[
        "proof",
        "verify",
        "consistency",
        "--size1",
        "257",
        "--size2",
        "700",
        "--root1",
        &field(out, "root1"),
        "--root2",
        &field(out, "root2"),
        "--proof",
        &field(out, "proof"),
    ])
    .assert_code(0);
    // verify recomputes the tree and prints the same root the proofs use.
    let whole = env.run(&["proof", "inclusion", "--seq", "0"]);
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("Merkle root {}", field(&whole.stdout, "root")));
    env.run(&["proof", "inclusion", "--seq", "700"])
        .assert_code(1)
        .assert_stderr_contains("--seq 700 is not an entry");
}

#[test]
fn a_key_file_is_private_and_the_checkpoint_verifies_with_its_public_key() {
    let env = Env::new();
    signed_ledger(&env, 10, None);
    let (private, public) = key(&env);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(public.starts_with("test.example/ledger+"), "{public}");
    // An existing key is never overwritten.
    env.run(&["key", "generate", "--out", &private])
        .assert_code(1)
        .assert_stderr_contains("never overwritten");
    let run = env.run(&["checkpoint", "--key", &private]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("test.example/ledger\n10\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\n\n\u{2014} test.example/ledger "));
    env.run(&["checkpoint", "--latest"])
        .assert_code(0)
        .assert_stdout_contains("\n10\n");
    // An operator with the key in the environment (as OPERATIONS.md sets
    // it up) still reads the latest checkpoint without signing one.
    let output = env
        .tla()
        .env("TLA_SIGNING_KEY", &private)
        .args(["checkpoint", "--latest"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("\n10\n"));
    assert!(
        !stderr.contains("signed"),
        "--latest signs nothing: {stderr}"
    );
}

#[test]
fn audit_accepts_growth_and_catches_rewritten_and_truncated_ledgers() {
    let env = Env::new();
    let (private, public) = key(&env);
    let trusted = env.path("trusted-checkpoint");
    let trusted = trusted.to_str().unwrap();
    signed_ledger(&env, 400, None);
    env.run(&["checkpoint", "--key", &private]).assert_code(0);
    env.run(&["audit", "--trusted", trusted, "--key", &public])
        .assert_code(0)
        .assert_stdout_contains("trust on first use");
    let kept = std::fs::read_to_string(trusted).unwrap();

    // The operator rewrites history: the same 400 events but one early
    // event changed, every hash and tile recomputed, signed with the same
    // key. Same length, new root.
    // Growing it afterwards does not hide the change.
    for size in [400, 450] {
        let rewritten = Env::new();
        signed_ledger(&rewritten, size, Some(3));
        rewritten
            .run(&["checkpoint", "--key", &private])
            .assert_code(0);
        rewritten.run(&["verify"]).assert_code(0);
        let run = rewritten.run(&["audit", "--trusted", trusted, "--key", &public]);
        run.assert_code(1).assert_stderr_contains("REWRITTEN");
        assert_eq!(
            std::fs::read_to_string(trusted).unwrap(),
            kept,
            "kept file unchanged"
        );
    }

    // A truncated ledger, signed again.
    let truncated = Env::new();
    signed_ledger(&truncated, 300, None);
    truncated
        .run(&["checkpoint", "--key", &private])
        .assert_code(0);
    truncated
        .run(&["audit", "--trusted", trusted, "--key", &public])
        .assert_code(1)
        .assert_stderr_contains("TRUNCATED");

    // The honest ledger grows; the audit passes and keeps the new checkpoint.
    let more: String = (400..450)
        .map(|n| event_json("alver", &format!("ev-{n}"), &format!("INC-{n}")) + "\n")
        .collect();
    let file = env.write("more.ndjson", more.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    env.run(&["checkpoint", "--key", &private]).assert_code(0);
    env.run(&["audit", "--trusted", trusted, "--key", &public])
        .assert_code(0)
        .assert_stdout_contains("is a prefix of the current one (size 450");
    assert!(std::fs::read_to_string(trusted)
        .unwrap()
        .contains("\n450\n"));

    // A checkpoint signed by another key is refused.
    let other = Env::new();
    let (_, other_public) = key(&other);
    env.run(&["audit", "--trusted", trusted, "--key", &other_public])
        .assert_code(1)
        .assert_stderr_contains("does not verify");
}

/// A ledger of `count` events with a signed checkpoint of them in a file:
/// the environment, the public key and the checkpoint's path.
fn checkpointed_ledger(count: usize) -> (Env, String, std::path::PathBuf) {
    let env = Env::new();
    let (private, public) = key(&env);
    signed_ledger(&env, count, None);
    let note = env.run(&["checkpoint", "--key", &private]);
    note.assert_code(0);
    let checkpoint = env.write("checkpoint.txt", note.stdout.as_bytes());
    (env, public, checkpoint)
}

#[test]
fn an_export_is_held_against_a_signed_checkpoint() {
    let (env, public, checkpoint) = checkpointed_ledger(40);
    let checkpoint = checkpoint.to_str().unwrap();
    // The ledger grows after the checkpoint; its first 40 entries still match.
    let more: String = (40..45)
        .map(|n| event_json("alver", &format!("ev-{n}"), &format!("INC-{n}")) + "\n")
        .collect();
    let file = env.write("more.ndjson", more.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let against = |export: &str, key: &str| {
        env.run(&[
            "verify",
            "--export",
            export,
            "--checkpoint",
            checkpoint,
            "--key",
            key,
        ])
    };
    let export = env.path("ledger.jsonl");
    let export = export.to_str().unwrap();
    env.run(&["export", "--out", export]).assert_code(0);
    let whole = env.run(&["verify"]);
    whole.assert_code(0);
    let root = whole.stdout.trim().rsplit(' ').next().unwrap().to_owned();
    env.run(&["verify", "--export", export])
        .assert_code(0)
        .assert_stdout_contains("45 entries verified, head ")
        .assert_stdout_contains(&format!("Merkle root {root}"));
    against(export, &public)
        .assert_code(0)
        .assert_stdout_contains("its first 40 entries have the root");

    // Another key of the same name did not sign it.
    let (_, other_public) = key(&Env::new());
    against(export, &other_public)
        .assert_code(1)
        .assert_stderr_contains("no signature by key test.example/ledger");
    // A tenant export holds only some leaves of the signed tree.
    let tenant = env.path("alver.jsonl");
    let tenant = tenant.to_str().unwrap();
    env.run(&["export", "--tenant", "alver", "--out", tenant])
        .assert_code(0);
    env.run(&["verify", "--export", tenant])
        .assert_code(0)
        .assert_stdout_contains("no Merkle root");
    against(tenant, &public)
        .assert_code(1)
        .assert_stderr_contains("is an export of tenant alver");
    // A genuine but shorter ledger's export lacks entries the log signed.
    let shorter = Env::new();
    signed_ledger(&shorter, 30, None);
    let short = shorter.path("short.jsonl");
    let short = short.to_str().unwrap();
    shorter.run(&["export", "--out", short]).assert_code(0);
    against(short, &public)
        .assert_code(1)
        .assert_stderr_contains("holds 30 entries, but the checkpoint signs a tree of 40");
    // A checkpoint without the key to check it is a usage error.
    env.run(&["verify", "--export", export, "--checkpoint", checkpoint])
        .assert_code(2);
}

#[test]
fn a_signed_checkpoint_binds_a_proofs_size_and_root() {
    let (env, public, checkpoint) = checkpointed_ledger(50);
    let checkpoint = checkpoint.to_str().unwrap();
    let signed = ["--checkpoint", checkpoint, "--key", public.as_str()];
    let inclusion = |size: &str, extra: &[&str]| {
        let made = env.run(&["proof", "inclusion", "--seq", "7", "--size", size]);
        made.assert_code(0);
        let [leaf, root, proof] = fields(&made.stdout, ["leaf_hash", "root", "proof"]);
        let args = format!(
            "proof verify inclusion --leaf-hash {leaf} --index 7 --size {size} --root {root} --proof {proof}"
        );
        let mut args: Vec<&str> = args.split(' ').collect();
        args.extend_from_slice(extra);
        (env.run(&args), root)
    };
    let (run, root) = inclusion("50", &[]);
    run.assert_code(0)
        .assert_stdout_contains(&format!("size 50 and root {root} taken on trust"));
    let (run, _) = inclusion("50", &signed);
    run.assert_code(0)
        .assert_stdout_contains("size 50 and root ")
        .assert_stdout_contains("are signed by the checkpoint of test.example/ledger");
    // A valid proof in a tree the checkpoint does not sign.
    let (run, _) = inclusion("40", &signed);
    run.assert_code(1)
        .assert_stderr_contains("signs a tree of size 50, but the proof is about size 40");

    let made = env.run(&["proof", "consistency", "--from", "20", "--to", "50"]);
    made.assert_code(0);
    let [root1, root2, proof] = fields(&made.stdout, ["root1", "root2", "proof"]);
    let args = format!(
        "proof verify consistency --size1 20 --size2 50 --root1 {root1} --root2 {root2} --proof {proof}"
    );
    let mut args: Vec<&str> = args.split(' ').collect();
    args.extend_from_slice(&signed);
    env.run(&args)
        .assert_code(0)
        .assert_stdout_contains(&format!("size 20 and root {root1} taken on trust"))
        .assert_stdout_contains(&format!("size 50 and root {root2} are signed"));
}
