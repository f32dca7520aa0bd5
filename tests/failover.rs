//! Failover without a fork (issue 13), on the test's own nats-server:
//!
//! - a writer, a standby and a read replica with producers publishing
//!   throughout; the writer is SIGKILLed five times, the roles rotating
//!   (the killed writer comes back as the replica, the replica as the
//!   standby, the standby took over). Afterwards every event JetStream
//!   acknowledged is in the ledger exactly once, every copy has the same
//!   head and Merkle root and verifies, and a checkpoint kept before the
//!   first kill passes `tla audit` on the final writer;
//! - two writers started at once on purpose, with the lease torn away
//!   from under them again and again: each time only the commit log's
//!   compare-and-set decides, one writer is fenced and says why, and both
//!   ledgers end byte-identical.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use common::*;
use rand::{Rng, SeedableRng};

const TENANTS: [&str; 3] = ["alver", "fedje", "gulen"];
const WAIT: Duration = Duration::from_secs(60);

fn event(n: usize) -> String {
    outage_json(
        TENANTS[n % 3],
        &format!("ev-{n}"),
        &format!("O-{n}"),
        "2026-01-10T10:00:00Z",
        true,
    )
}

/// Runs `work` on a runtime of its own (each test thread has one).
fn block_on<F: std::future::Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(work)
}

/// Publishes events to JetStream, `chunk` at a time with `pause` between,
/// until `stop`; returns how many JetStream acknowledged (all of them:
/// an unacknowledged publish fails the test).
fn produce(url: String, stop: Arc<AtomicBool>, chunk: usize, pause: Duration) -> usize {
    block_on(async move {
        let client = async_nats::connect(&url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let mut acks = Vec::new();
            for _ in 0..chunk {
                let mut headers = HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("ev-{n}").as_str());
                let subject = format!("tla.events.{}", TENANTS[n % 3]);
                acks.push(
                    js.publish_with_headers(subject, headers, event(n).into())
                        .await
                        .expect("publish"),
                );
                n += 1;
            }
            for ack in acks {
                ack.await.expect("JetStream acknowledged");
            }
            tokio::time::sleep(pause).await;
        }
        n
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Standby,
    Replica,
}

struct Node {
    name: &'static str,
    dir: PathBuf,
    role: Role,
    service: Service,
}

/// A test's ledger site: its directory with the agreements seeded, its
/// own nats-server, tokens and signing key.
struct Site {
    env: Env,
    nats: Nats,
    tokens: PathBuf,
    key: PathBuf,
    /// The signing key's public half.
    public: String,
}

impl Site {
    fn new() -> Site {
        let env = Env::new();
        seed_agreements(&env, &TENANTS);
        let nats = Nats::start(env.path("nats"));
        let (key, public) = signing_key(&env);
        Site {
            tokens: write_tokens(&env),
            env,
            nats,
            key,
            public,
        }
    }

    /// Starts a node in `dir` and waits until it answers /healthz.
    fn start(&self, dir: &Path, role: Role) -> Service {
        let service = self.spawn(dir, role);
        service.wait_healthy();
        service
    }

    /// Starts a node in `dir` without waiting.
    fn spawn(&self, dir: &Path, role: Role) -> Service {
        let url = self.nats.url();
        let (nats, tokens, key) = (
            url.as_str(),
            self.tokens.to_str().unwrap(),
            self.key.to_str().unwrap(),
        );
        let serve = [
            "serve",
            "--nats",
            nats,
            "--tokens",
            tokens,
            "--key",
            key,
            "--checkpoint-entries",
            "200",
        ];
        let args: Vec<&str> = match role {
            Role::Writer => serve.to_vec(),
            Role::Standby => [&serve[..], &["--standby"]].concat(),
            Role::Replica => vec!["ledger", "follow", "--nats", nats, "--tokens", tokens],
        };
        let port = free_port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tla"));
        command
            .arg("--data-dir")
            .arg(dir)
            .env_remove("TLA_DATA_DIR")
            .args(&args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        Service::spawn(&self.env, port, command)
    }
}

/// What `/healthz` says the process is: "writer", "standby", "replica".
fn role(service: &Service) -> String {
    service.health().1["role"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `tla verify`'s output for `dir`, with the directory's name taken out.
fn verified(env: &Env, dir: &Path) -> String {
    let run = env.run_in(dir, &["verify"]);
    run.assert_code(0);
    run.stdout.replace(dir.to_str().unwrap(), "DIR")
}

/// The ids of the events (not agreements) of the ledger in `dir`.
fn event_ids(env: &Env, dir: &Path) -> Vec<String> {
    let run = env.run_in(dir, &["export"]);
    run.assert_code(0);
    export_events(&run.stdout)
        .iter()
        .filter(|e| e["type"] != "agreement.published")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every event 0..count exactly once.
fn assert_exactly_once(mut ids: Vec<String>, count: usize) {
    assert_eq!(ids.len(), count, "as many entries as acknowledged events");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "no event twice");
    let mut expected: Vec<String> = (0..count).map(|n| format!("ev-{n}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

/// The last checkpoint the writer published on `tla.checkpoints`, as an
/// auditor keeps it.
fn latest_checkpoint(url: &str) -> String {
    block_on(async {
        let client = async_nats::connect(url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("TLA_CHECKPOINTS").await.expect("stream");
        let message = stream
            .get_last_raw_message_by_subject("tla.checkpoints")
            .await
            .expect("a checkpoint was published");
        String::from_utf8(message.payload.to_vec()).expect("a note is text")
    })
}

/// The public key printed by `tla key generate`, and the key file.
fn signing_key(env: &Env) -> (PathBuf, String) {
    let key = env.path("signing.key");
    let run = env.run(&[
        "key",
        "generate",
        "--name",
        "tla.example/failover",
        "--out",
        key.to_str().unwrap(),
    ]);
    run.assert_code(0);
    (key, run.stdout.trim().to_owned())
}

#[test]
fn kill_the_writer_five_times_with_roles_rotating_and_nothing_is_lost_or_forked() {
    const KILLS: usize = 5;
    let seed: u64 = std::env::var("TLA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("failover seed {seed} (rerun with TLA_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let cluster = Site::new();
    let (env, nats) = (&cluster.env, &cluster.nats);
    let mut nodes = vec![Node {
        name: "a",
        dir: env.data_dir(),
        role: Role::Writer,
        service: cluster.start(&env.data_dir(), Role::Writer),
    }];
    wait_for("the first writer", WAIT, || {
        role(&nodes[0].service) == "writer"
    });
    for (name, role) in [("b", Role::Standby), ("c", Role::Replica)] {
        let dir = env.path(name);
        nodes.push(Node {
            name,
            service: cluster.start(&dir, role),
            dir,
            role,
        });
    }
    assert_eq!(role(&nodes[1].service), "standby");
    assert_eq!(role(&nodes[2].service), "replica");

    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (url, stop) = (nats.url(), Arc::clone(&stop));
        std::thread::spawn(move || produce(url, stop, 50, Duration::from_millis(100)))
    };
    let mut kept = None;
    let mut takeovers = Vec::new();
    let mut last_size = 0;
    for round in 0..KILLS {
        let writer = nodes.iter().position(|n| n.role == Role::Writer).unwrap();
        // Each kill comes once the writer has appended since the last
        // one, at a random moment after.
        wait_for("the writer to append", WAIT, || {
            nodes[writer].service.ledger_size() > last_size + 50
        });
        if kept.is_none() {
            // The auditor's checkpoint, kept before the first kill.
            wait_for("a signed checkpoint", WAIT, || {
                nodes[writer].service.ledger_size() > 250
            });
            kept = Some(env.write("kept-checkpoint", latest_checkpoint(&nats.url()).as_bytes()));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..200)));
        last_size = nodes[writer].service.ledger_size();
        nodes[writer].service.kill();
        let killed_at = Instant::now();
        // Rotate: the killed writer comes back as the replica, the replica
        // becomes a standby; the standby takes over.
        let replica = nodes.iter().position(|n| n.role == Role::Replica).unwrap();
        let standby = nodes.iter().position(|n| n.role == Role::Standby).unwrap();
        nodes[replica].service.stop();
        nodes[replica].service = cluster.start(&nodes[replica].dir, Role::Standby);
        nodes[replica].role = Role::Standby;
        nodes[writer].service = cluster.start(&nodes[writer].dir, Role::Replica);
        nodes[writer].role = Role::Replica;
        // Whichever standby wins the lease writes (the old standby, as a
        // rule; the new one may be quicker).
        let mut new_writer = None;
        wait_for("a standby to take over", WAIT, || {
            new_writer = [standby, replica]
                .into_iter()
                .find(|&i| role(&nodes[i].service) == "writer");
            new_writer.is_some()
        });
        let new_writer = new_writer.unwrap();
        takeovers.push(killed_at.elapsed());
        for i in [standby, replica] {
            nodes[i].role = if i == new_writer {
                Role::Writer
            } else {
                Role::Standby
            };
        }
        println!(
            "round {round}: killed {} at {last_size} entries; {} took over in {:?}",
            nodes[writer].name, nodes[new_writer].name, takeovers[round]
        );
    }
    // Let the last writer take some more, then stop producing.
    let writer = nodes.iter().position(|n| n.role == Role::Writer).unwrap();
    wait_for("the last writer to append", WAIT, || {
        nodes[writer].service.ledger_size() > last_size + 50
    });
    stop.store(true, Ordering::Relaxed);
    let published = producer.join().expect("producer");
    let size = (published + TENANTS.len()) as u64;
    println!("{published} events acknowledged by JetStream; takeovers {takeovers:?}");
    for node in &nodes {
        node.service.wait_for_size(size, WAIT);
    }
    for node in &mut nodes {
        node.service.stop();
    }
    // Every copy verifies, with the same head and Merkle root.
    let heads: Vec<String> = nodes.iter().map(|n| verified(env, &n.dir)).collect();
    assert!(
        heads[0].contains(&format!("ok: {size} entries")),
        "{}",
        heads[0]
    );
    assert!(heads.iter().all(|h| h == &heads[0]), "{heads:#?}");
    // Every acknowledged event exactly once, in the final writer's ledger
    // (the others are byte-identical, as their heads show).
    assert_exactly_once(event_ids(env, &nodes[writer].dir), published);
    // The checkpoint kept before the first kill still holds.
    let kept = kept.unwrap();
    env.run_in(
        &nodes[writer].dir,
        &[
            "audit",
            "--trusted",
            kept.to_str().unwrap(),
            "--key",
            &cluster.public,
        ],
    )
    .assert_code(0);
}

/// Deletes the lease key `times` times, `every` apart: both writers then
/// take it in turn, each writing while the other still believes it
/// writes, and only the commit log's fencing keeps one chain.
fn tear_leases(url: String, times: usize, every: Duration, torn: Arc<AtomicUsize>) {
    block_on(async move {
        let client = async_nats::connect(&url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let kv = js
            .get_key_value("TLA_LEDGER_LEASES")
            .await
            .expect("the lease bucket");
        for _ in 0..times {
            tokio::time::sleep(every).await;
            kv.purge("tla-ledger").await.expect("purge the lease");
            torn.fetch_add(1, Ordering::Relaxed);
        }
    });
}

#[test]
fn two_writers_at_once_never_fork_the_chain() {
    let cluster = Site::new();
    let (env, nats) = (&cluster.env, &cluster.nats);
    // The second directory is a copy of the same ledger (a restore).
    {
        let mut first = cluster.start(&env.data_dir(), Role::Writer);
        wait_for("the first writer", WAIT, || role(&first) == "writer");
        first.stop();
    }
    let other = env.path("other");
    env.run_in(&other, &["ledger", "restore", "--nats", &nats.url()])
        .assert_code(0);
    // Both started at once, as writers (no --standby).
    let mut a = cluster.spawn(&env.data_dir(), Role::Writer);
    let mut b = cluster.spawn(&other, Role::Writer);
    a.wait_healthy();
    b.wait_healthy();
    // Each has decided once neither is still starting.
    wait_for("both to take a role", WAIT, || {
        role(&a) != "starting" && role(&b) != "starting"
    });
    let roles = [role(&a), role(&b)];
    assert!(
        roles.contains(&"writer".to_owned()) && roles.contains(&"standby".to_owned()),
        "exactly one writes: {roles:?}"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (url, stop) = (nats.url(), Arc::clone(&stop));
        std::thread::spawn(move || produce(url, stop, 50, Duration::from_millis(50)))
    };
    let torn = Arc::new(AtomicUsize::new(0));
    let tearing = {
        let (url, torn) = (nats.url(), Arc::clone(&torn));
        std::thread::spawn(move || tear_leases(url, 8, Duration::from_millis(700), torn))
    };
    tearing.join().expect("lease tearer");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let published = producer.join().expect("producer");
    let size = (published + TENANTS.len()) as u64;
    a.wait_for_size(size, WAIT);
    b.wait_for_size(size, WAIT);
    let roles = [role(&a), role(&b)];
    assert!(
        roles.contains(&"writer".to_owned()) && roles.contains(&"standby".to_owned()),
        "one writer at the end: {roles:?}"
    );
    a.stop();
    b.stop();
    let log = std::fs::read_to_string(env.path("service.log")).unwrap();
    let replaced = log.matches("this writer was replaced").count()
        + log.matches("lost the ledger's lease").count();
    println!(
        "{published} events; lease torn {} times; writers stopped {replaced} times",
        torn.load(Ordering::Relaxed)
    );
    assert!(replaced > 0, "no writer was ever replaced:\n{log}");
    let (head_a, head_b) = (verified(env, &env.data_dir()), verified(env, &other));
    assert!(head_a.contains(&format!("ok: {size} entries")), "{head_a}");
    assert_eq!(head_a, head_b);
    assert_exactly_once(event_ids(env, &other), published);
}

/// Publishes, as a second client, a record forged to extend the commit
/// log's last segment: the records of that segment again, claimed at the
/// next position. Returns the position it claims.
fn forge_next_record(url: &str) -> u64 {
    block_on(async {
        let client = async_nats::connect(url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let (_, last) = ingest::replica::last(&js, "tla-ledger")
            .await
            .expect("the commit log")
            .expect("a segment");
        let mut forged = last.clone();
        forged.first = last.end();
        forged.base_hash = last.records.last().expect("a record").1;
        forged.records.truncate(1);
        js.publish(
            ingest::replica::subject("tla-ledger"),
            forged.encode().into(),
        )
        .await
        .expect("publish")
        .await
        .expect("JetStream stored the forged record");
        forged.first
    })
}

#[test]
fn a_replica_serves_reads_shows_its_lag_and_stops_at_a_forged_record() {
    let cluster = Site::new();
    let (env, nats) = (&cluster.env, &cluster.nats);
    let mut writer = cluster.start(&env.data_dir(), Role::Writer);
    let replica_dir = env.path("replica");
    let mut replica = cluster.start(&replica_dir, Role::Replica);
    assert_eq!(role(&replica), "replica");
    for n in 0..30 {
        writer.accept(
            ALVER_TOKEN,
            &event_json("alver", &format!("r-{n}"), "INC-1"),
        );
    }
    let size = 33;
    writer.wait_for_size(size, WAIT);
    replica.wait_for_size(size, WAIT);
    // The read API, under the same grants as the writer's.
    let (status, body) = replica.status_as(Some(ALVER_TOKEN), "/v1/tenants");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alver") && !body.contains("fedje"), "{body}");
    assert_eq!(replica.status_as(None, "/v1/tenants").0, 401);
    // Its lag, in /metrics: nothing pending once caught up.
    let metrics = replica.get("/metrics").unwrap().into_string().unwrap();
    assert!(
        metrics.contains("\ntla_commit_log_pending_messages 0\n"),
        "{metrics}"
    );
    let applied: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tla_commit_log_sequence "))
        .and_then(|n| n.trim().parse().ok())
        .expect("tla_commit_log_sequence");
    assert!(applied > 0, "{metrics}");
    writer.stop();

    // A record forged by a second client stops the replica loudly, with
    // the position named, and nothing past it is applied.
    let position = forge_next_record(&nats.url());
    assert_eq!(position, size);
    let mut child = replica.child.take().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < WAIT, "the replica did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let log = std::fs::read_to_string(env.path("service.log")).unwrap();
    assert!(
        log.contains(&format!("position {position}")),
        "the refusal names the position:\n{log}"
    );
    env.run_in(&replica_dir, &["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("ok: {size} entries"));
}
