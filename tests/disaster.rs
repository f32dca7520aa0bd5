//! Disaster recovery (issue 13): the ledger writer's data directory is
//! deleted after 100,000 entries, and `tla ledger restore` rebuilds it
//! from the commit log `TLA_LEDGER` on a real nats-server. The restored
//! ledger has the same head and Merkle root as the lost one (`tla verify`
//! prints the same line), and `tla audit` against a checkpoint an auditor
//! kept before the loss passes. When NATS loses every copy of its store
//! instead, the writer refuses to write on its old consumer, and on a new
//! one republishes the ledger to the new commit log before writing on.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Events the writer ingests, after the three agreements.
const EVENTS: usize = 100_000;
/// The auditor keeps the checkpoint signed once this many events are in.
const KEPT_AFTER: usize = EVENTS / 2;
const TENANTS: [&str; 3] = ["alver", "fedje", "gulen"];
const WAIT: Duration = Duration::from_secs(120);

fn event(n: usize) -> (String, String, String) {
    let tenant = TENANTS[n % 3];
    (
        format!("tla.events.{tenant}"),
        format!("dr-{n}"),
        outage_json(
            tenant,
            &format!("ev-{n}"),
            &format!("O-{n}"),
            "2026-01-10T10:00:00Z",
            true,
        ),
    )
}

/// The size line (the second) of a signed checkpoint.
fn checkpoint_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no size in the checkpoint {note:?}"))
}

/// `tla verify`'s summary line of `dir`.
fn verified(env: &Env, dir: &std::path::Path) -> String {
    let run = env.run_in(dir, &["verify"]);
    run.assert_code(0);
    run.stdout.trim().to_owned()
}

/// The value after `name ` in `text` (e.g. "head", "Merkle root").
fn after<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("{name} "))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        + name.len()
        + 1;
    text[start..]
        .split([',', ' ', '\n'])
        .next()
        .expect("a value")
}

#[test]
fn a_deleted_data_directory_is_restored_from_the_commit_log_and_passes_the_audit() {
    let env = Env::new();
    seed_agreements(&env, &TENANTS);
    let nats = Nats::start(env.path("nats"));
    let url = nats.url();
    let key = env.path("signing.key");
    let public = env
        .run(&[
            "key",
            "generate",
            "--name",
            "tla.example/disaster",
            "--out",
            key.to_str().unwrap(),
        ])
        .assert_code(0)
        .stdout
        .trim()
        .to_owned();
    // A checkpoint at most a second after the writer goes idle, so the
    // auditor's kept one is of exactly the entries ingested so far.
    let mut writer = Service::start(
        &env,
        &[
            "ledger",
            "run",
            "--nats",
            &url,
            "--key",
            key.to_str().unwrap(),
            "--checkpoint-seconds",
            "1",
        ],
    );
    let rt = runtime();
    let started = Instant::now();
    rt.block_on(publish_events(&url, (0..KEPT_AFTER).map(event)));
    writer.wait_for_size((KEPT_AFTER + TENANTS.len()) as u64, WAIT);
    let first_half = started.elapsed();
    // The auditor keeps the latest checkpoint from tla.checkpoints.
    let kept_size = (KEPT_AFTER + TENANTS.len()) as u64;
    let mut kept = String::new();
    wait_for("the checkpoint of the first half", WAIT, || {
        kept = rt.block_on(latest_checkpoint(&url));
        checkpoint_size(&kept) == kept_size
    });
    let kept_file = env.write("kept-checkpoint", kept.as_bytes());

    rt.block_on(publish_events(&url, (KEPT_AFTER..EVENTS).map(event)));
    let size = (EVENTS + TENANTS.len()) as u64;
    writer.wait_for_size(size, WAIT);
    let ingested = started.elapsed();
    wait_for("the checkpoint of every entry", WAIT, || {
        checkpoint_size(&rt.block_on(latest_checkpoint(&url))) == size
    });
    writer.stop();
    let original = verified(&env, &env.data_dir());
    assert!(
        original.starts_with(&format!("ok: {size} entries verified, 3 tenants")),
        "{original}"
    );

    // The disk is lost.
    std::fs::remove_dir_all(env.data_dir()).unwrap();
    let restoring = Instant::now();
    let run = env.run(&["ledger", "restore", "--nats", &url]);
    let restore_took = restoring.elapsed();
    run.assert_code(0)
        .assert_stdout_contains(&format!("restored {size} entries"));
    let restored = verified(&env, &env.data_dir());
    assert_eq!(restored, original);
    // The restore's own account agrees with the lost ledger's.
    assert_eq!(after(&run.stdout, "head"), after(&original, "head"));
    assert_eq!(
        after(&run.stdout, "Merkle root"),
        after(&original, "Merkle root")
    );
    assert_eq!(after(&original, "Merkle root").len(), 64, "{original}");

    // The auditor's kept checkpoint (of the first half) against the
    // restored ledger: its latest checkpoint, restored from
    // tla.checkpoints, verifies and extends the kept one.
    env.run(&[
        "audit",
        "--trusted",
        kept_file.to_str().unwrap(),
        "--key",
        &public,
    ])
    .assert_code(0)
    .assert_stdout_contains(&format!("is a prefix of the current one (size {size}"));
    println!(
        "{EVENTS} events: ingested in {:.1} s ({:.1} s for the first half), \
         restored in {:.1} s",
        ingested.as_secs_f64(),
        first_half.as_secs_f64(),
        restore_took.as_secs_f64()
    );
}

/// The latest message on tla.checkpoints, as an auditor subscribed to it
/// keeps it.
async fn latest_checkpoint(url: &str) -> String {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("TLA_CHECKPOINTS").await.expect("stream");
    match stream
        .get_last_raw_message_by_subject("tla.checkpoints")
        .await
    {
        Ok(message) => String::from_utf8(message.payload.to_vec()).expect("a text checkpoint"),
        // None published yet: a size no ledger here has.
        Err(error)
            if error.kind()
                == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
        {
            "none\n0\n".to_owned()
        }
        Err(error) => panic!("reading tla.checkpoints: {error}"),
    }
}

#[test]
fn after_losing_every_nats_store_the_writer_refuses_and_a_new_consumer_republishes_the_ledger() {
    const BEFORE: usize = 300;
    let env = Env::new();
    seed_agreements(&env, &TENANTS);
    let mut nats = Nats::start(env.path("nats"));
    let url = nats.url();
    let rt = runtime();
    let mut writer = Service::start(&env, &["ledger", "run", "--nats", &url]);
    rt.block_on(publish_events(&url, (0..BEFORE).map(event)));
    let size = (BEFORE + TENANTS.len()) as u64;
    writer.wait_for_size(size, WAIT);
    writer.stop();
    let before = verified(&env, &env.data_dir());

    // Every copy of NATS's store is gone: the same server comes back empty.
    nats.kill();
    std::fs::remove_dir_all(&nats.store).unwrap();
    nats.restart();
    // On its old consumer the writer refuses: the commit log ends before
    // what the ledger applied from it, and writing would fork it.
    let port = free_port();
    let mut command = env.tla();
    command.args([
        "ledger",
        "run",
        "--nats",
        &url,
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let mut refused = Service::spawn(&env, port, command);
    let mut health = (0, serde_json::Value::Null);
    wait_for("the writer to refuse the emptied commit log", WAIT, || {
        health = refused.health();
        health.1["detail"]
            .as_str()
            .is_some_and(|d| d.contains("messages were lost from the stream"))
    });
    assert_eq!(health.0, 503, "{}", health.1);
    refused.kill();
    assert_eq!(verified(&env, &env.data_dir()), before, "nothing written");

    // On a new consumer the writer publishes the whole ledger to the new
    // commit log first, then writes what producers send again.
    let consumer = ["--consumer", "tla-ledger-2"];
    let mut writer = Service::start(
        &env,
        &[&["ledger", "run", "--nats", &url][..], &consumer].concat(),
    );
    rt.block_on(publish_events(&url, (BEFORE..BEFORE + 30).map(event)));
    writer.wait_for_size(size + 30, WAIT);
    writer.stop();
    let after = verified(&env, &env.data_dir());
    assert!(
        after.starts_with(&format!("ok: {} entries", size + 30)),
        "{after}"
    );
    let restored = env.path("restored");
    env.run_in(
        &restored,
        &[&["ledger", "restore", "--nats", &url][..], &consumer].concat(),
    )
    .assert_code(0)
    .assert_stdout_contains(&format!("restored {} entries", size + 30));
    assert_eq!(verified(&env, &restored), after);
}
