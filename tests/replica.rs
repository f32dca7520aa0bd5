//! The ledger's commit log on a real nats-server (`ingest::replica`,
//! issue 13): a writer's appends published with the fencing header and a
//! follower applying them are byte-identical ledgers (head, Merkle root,
//! cursors); a second writer that does not hold the log's last sequence is
//! fenced; a record altered in flight (published by a second client) is
//! refused by the follower with its position named, and nothing after it
//! is applied.

mod common;

use std::sync::{Arc, Mutex};

use common::{Env, Nats};
use ingest::metrics::Metrics;
use ingest::replica::{self, CommitLog, Follower, LogError, Until};
use ledger::{AppendOptions, Ledger};
use schemas::Event;

const CONSUMER: &str = "tla-ledger";
const NOW: i64 = 1_800_000_000_000_000;

fn event(id: usize) -> Event {
    let value = serde_json::json!({
        "specversion": "1.0", "id": format!("e{id}"), "source": "test/replica",
        "type": "incident.opened", "time": "2025-11-03T09:15:00+01:00",
        "tenant": if id.is_multiple_of(3) { "fedje" } else { "alver" },
        "datacontenttype": "application/json",
        "data": {"incident_id": format!("INC-{id}"), "service": "epost", "priority": "P2"}
    });
    Event::from_json(&value).expect("a valid event")
}

async fn jetstream(nats: &Nats) -> async_nats::jetstream::Context {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let context = ingest::nats::jetstream(client);
    ingest::nats::ensure_streams(&context, 1)
        .await
        .expect("streams");
    context
}

/// Prepares `events` on the writer's ledger, publishes them, commits.
async fn write(
    ledger: &mut Ledger,
    log: &mut CommitLog,
    events: &[Event],
) -> Result<u64, LogError> {
    let (prepared, _) = ledger.prepare_with(events, AppendOptions::at(NOW))?;
    let segments = prepared.segments(log.ledger_id(), log.writer(), replica::SEGMENT_BYTES_MAX);
    let sequence = log.publish(&segments).await?;
    let cursor = replica::cursor_name(CONSUMER);
    ledger.commit_prepared(prepared, Some((&cursor, sequence)))?;
    Ok(sequence)
}

fn follower(ledger: &Arc<Mutex<Ledger>>, jetstream: &async_nats::jetstream::Context) -> Follower {
    Follower {
        ledger: Arc::clone(ledger),
        jetstream: jetstream.clone(),
        consumer: CONSUMER.into(),
        metrics: Arc::new(Metrics::default()),
        checkpoints: true,
    }
}

fn no_shutdown() -> tokio::sync::watch::Receiver<bool> {
    // The sender is leaked so the receiver never sees a change.
    let (sender, receiver) = tokio::sync::watch::channel(false);
    std::mem::forget(sender);
    receiver
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_of_the_commit_log_equals_the_writer_and_a_second_writer_is_fenced() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let jetstream = jetstream(&nats).await;
    let mut leader = Ledger::open(&env.path("leader")).unwrap();
    let ledger_id = leader.ledger_id().unwrap();
    let mut log = CommitLog::new(jetstream.clone(), CONSUMER, 0, ledger_id);
    // Batches large enough that some are split over several messages.
    let mut last = 0;
    for batch in 0..6 {
        let events: Vec<Event> = (batch * 1500..(batch + 1) * 1500).map(event).collect();
        last = write(&mut leader, &mut log, &events).await.unwrap();
    }
    leader.syncer().sync().unwrap();
    assert_eq!(leader.size(), 9000);
    assert_eq!(
        replica::last(&jetstream, CONSUMER)
            .await
            .unwrap()
            .unwrap()
            .0,
        last
    );

    // A follower into an empty directory (a restore) catches up.
    let copy = Arc::new(Mutex::new(Ledger::open(&env.path("replica")).unwrap()));
    let followed = follower(&copy, &jetstream)
        .follow(Until::CaughtUp, &|_| (), no_shutdown())
        .await
        .unwrap();
    assert_eq!(followed.cursor, last);
    {
        let copy = copy.lock().unwrap();
        assert_eq!(copy.head(), leader.head());
        assert_eq!(
            copy.merkle_root(9000).unwrap(),
            leader.merkle_root(9000).unwrap()
        );
        assert_eq!(copy.identity().unwrap(), leader.identity().unwrap());
    }

    // A second writer that last saw the log before the leader's latest
    // batch (a replaced writer coming back) is fenced: it applies nothing.
    let mut stale = CommitLog::new(jetstream.clone(), CONSUMER, last - 1, ledger_id);
    let mut stale_ledger = Ledger::open(&env.path("stale")).unwrap();
    let error = write(&mut stale_ledger, &mut stale, &[event(99_999)])
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::Fenced { .. }), "{error}");
    assert_eq!(stale_ledger.size(), 0);
    // The leader goes on; the follower follows.
    write(&mut leader, &mut log, &[event(10_000)])
        .await
        .unwrap();
    let followed = follower(&copy, &jetstream)
        .follow(Until::CaughtUp, &|_| (), no_shutdown())
        .await
        .unwrap();
    assert_eq!(followed.head, leader.head());
    let summary = copy.lock().unwrap().verify(|_| ()).unwrap();
    assert_eq!(summary.expect("the replica verifies").size, 9001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_altered_in_flight_is_refused_with_its_position_and_nothing_after_it_applies() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let jetstream = jetstream(&nats).await;
    let mut leader = Ledger::open(&env.path("leader")).unwrap();
    let mut log = CommitLog::new(jetstream.clone(), CONSUMER, 0, leader.ledger_id().unwrap());
    let first: Vec<Event> = (0..10).map(event).collect();
    let last = write(&mut leader, &mut log, &first).await.unwrap();
    // The leader's next batch, altered in flight: a second client
    // publishes it with one byte of its second record's event changed.
    let (next, _) = leader
        .prepare_with(
            &(10..13).map(event).collect::<Vec<_>>(),
            AppendOptions::at(NOW),
        )
        .unwrap();
    let mut forged = next.segments(log.ledger_id(), log.writer(), replica::SEGMENT_BYTES_MAX);
    assert_eq!((forged.len(), forged[0].first), (1, 10));
    let record = &mut forged[0].records[1].0;
    let at = record.len() - 4;
    record[at] ^= 0x01;
    jetstream
        .publish(replica::subject(CONSUMER), forged[0].encode().into())
        .await
        .unwrap()
        .await
        .unwrap();
    drop(next);
    assert!(last > 0);
    // The leader's next batch is fenced by the forged message.
    let error = write(&mut leader, &mut log, &[event(50)])
        .await
        .unwrap_err();
    assert!(matches!(error, LogError::Fenced { .. }), "{error}");

    let copy = Arc::new(Mutex::new(Ledger::open(&env.path("replica")).unwrap()));
    let error = follower(&copy, &jetstream)
        .follow(Until::CaughtUp, &|_| (), no_shutdown())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, LogError::Refused { .. }), "{text}");
    // The altered record is refused at itself (its bytes no longer hash
    // to the writer's hash), the one before it applied, nothing after.
    assert!(text.contains("position 11"), "{text}");
    assert!(text.contains("altered"), "{text}");
    assert_eq!(copy.lock().unwrap().size(), 11);
}

/// `tla verify`'s summary line of a data directory.
fn verified(env: &Env, dir: &std::path::Path) -> String {
    let run = env.run_in(dir, &["verify"]);
    run.assert_code(0);
    run.stdout.clone()
}

#[test]
fn tla_serve_replicates_every_entry_and_restore_rebuilds_the_ledger() {
    let env = Env::new();
    // A ledger from before replication: its agreements, imported.
    common::seed_agreements(&env, &["alver", "fedje"]);
    let nats = Nats::start(env.path("nats"));
    let key = env.path("signing.key");
    env.run(&[
        "key",
        "generate",
        "--name",
        "tla.example/replica",
        "--out",
        key.to_str().unwrap(),
    ])
    .assert_code(0);
    let mut service = common::start_serve(
        &env,
        &nats,
        &["--key", key.to_str().unwrap(), "--checkpoint-entries", "50"],
    );
    for i in 0..200 {
        let token = if i % 2 == 0 {
            common::ALVER_TOKEN
        } else {
            common::FEDJE_TOKEN
        };
        let tenant = if i % 2 == 0 { "alver" } else { "fedje" };
        let (status, body) = service.post(
            "/v1/events",
            token,
            "application/cloudevents+json",
            &[],
            &common::event_json(tenant, &format!("evt-{i}"), &format!("INC-{i}")),
        );
        assert_eq!(status, 202, "{body}");
    }
    common::wait_for("202 entries", std::time::Duration::from_secs(30), || {
        service.ledger_size() == 202
    });
    service.stop();
    let restored = env.path("restored");
    let run = env.run_in(&restored, &["ledger", "restore", "--nats", &nats.url()]);
    run.assert_code(0)
        .assert_stdout_contains("restored 202 entries");
    // Same head and root, and the writer's checkpoints came along.
    let original = verified(&env, &env.data_dir());
    assert_eq!(
        verified(&env, &restored),
        original.replace(env.data_dir().to_str().unwrap(), restored.to_str().unwrap(),)
    );
    assert!(!run.stdout.contains(" 0 checkpoint(s)"), "{}", run.stdout);
    // The restored directory takes over writing: its ledger id, first
    // entry and consumer cursor came with the records, so the consumer's
    // binding holds, and it extends the same chain.
    let mut takeover = common::Service::start_in(
        &env,
        &restored,
        &[
            "serve",
            "--nats",
            &nats.url(),
            "--tokens",
            env.path("tokens.toml").to_str().unwrap(),
        ],
    );
    let (status, body) = takeover.post(
        "/v1/events",
        common::ALVER_TOKEN,
        "application/cloudevents+json",
        &[],
        &common::event_json("alver", "after-restore", "INC-R"),
    );
    assert_eq!(status, 202, "{body}");
    common::wait_for("203 entries", std::time::Duration::from_secs(30), || {
        takeover.ledger_size() == 203
    });
    let metrics = takeover.get("/metrics").unwrap().into_string().unwrap();
    assert!(metrics.contains("\ntla_ledger_writing 1\n"), "{metrics}");
    takeover.stop();
    env.run_in(&restored, &["verify"]).assert_code(0);
    // A second restore into the same directory is refused.
    env.run_in(&restored, &["ledger", "restore", "--nats", &nats.url()])
        .assert_code(1)
        .assert_stderr_contains("already holds a ledger");
}
