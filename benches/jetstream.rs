//! Sustained throughput from JetStream into the durable ledger, against a
//! raw JetStream consume of the same messages on the same server, in the
//! same run; target at least 0.8× raw.
//!
//! A nats-server of the benchmark's own (JetStream in a temp dir, a free
//! port) is filled with the same N events twice: once on `raw.<tenant>`
//! (stream BENCH_RAW), once on `tla.events.<tenant>` (TLA_EVENTS). Then:
//!
//! - raw: a durable pull consumer receives every message and acknowledges
//!   it (no validation, no storage): what JetStream itself delivers;
//! - ledger: `ingest::writer::run`, the ledger writer of `tla serve`,
//!   validates every event again, appends each batch with one flush, and
//!   only then acknowledges, until every event is durable.
//!
//! For reference it also times the ledger work alone (validate from bytes,
//! append, fsync; no NATS), which bounds what the writer can reach.
//!
//! Each is run `ROUNDS` times in fresh streams and ledgers; the best of
//! each is reported, with the publish rate for reference. Run with
//! `cargo bench --bench jetstream` (optionally `-- EVENTS`). It prints a
//! table; it asserts nothing, it is a benchmark.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use ingest::metrics::Metrics;
use ingest::{nats, writer};

/// Events per run, unless given on the command line.
const EVENTS_DEFAULT: usize = 100_000;
/// Rounds of each measurement; the best is reported.
const ROUNDS: usize = 3;
/// Publishes in flight before their acknowledgements are awaited.
const PUBLISH_WINDOW: usize = 2_000;

fn main() {
    let count = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(EVENTS_DEFAULT);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut server = start_nats(port, dir.path().join("nats"));
    let url = format!("nats://127.0.0.1:{port}");
    let events = make_events(count);
    let mean = events.iter().map(|(_, e)| e.len()).sum::<usize>() / count;
    println!("jetstream benchmark: {count} events (mean {mean} B), nats-server on port {port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut raw_best, mut ledger_best, mut publish_best) = (f64::MAX, f64::MAX, f64::MAX);
    let mut alone_best = f64::MAX;
    for round in 0..ROUNDS {
        let (publish, raw, ledger) = rt.block_on(async {
            let client = async_nats::connect(&url).await.expect("connect");
            let js = jetstream::new(client.clone());
            // Fresh streams each round: the previous ones are deleted.
            let _ = js.delete_stream("BENCH_RAW").await;
            let _ = js.delete_stream(nats::EVENTS_STREAM).await;
            js.create_stream(stream::Config {
                name: "BENCH_RAW".into(),
                subjects: vec!["raw.*".into()],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .expect("raw stream");
            // The events stream as `tla serve` makes it, minus deny_delete
            // (so the next round can start afresh).
            let mut config = nats::stream_config(nats::EVENTS_STREAM, 1);
            config.deny_delete = false;
            js.create_stream(config).await.expect("events stream");
            let publish = publish_all(&js, &events, "raw.").await;
            publish_all(&js, &events, nats::EVENTS_PREFIX).await;
            let raw = consume_raw(&js, count).await;
            let ledger_dir = dir.path().join(format!("ledger-{round}"));
            let ledger = consume_ledger(client, ledger_dir, count).await;
            (publish, raw, ledger)
        });
        println!(
            "round {round}: publish {:.2} s, raw consume {:.2} s, ledger writer {:.2} s",
            publish, raw, ledger
        );
        let alone = ledger_alone(&events, dir.path().join(format!("alone-{round}")));
        println!("  validate + append + fsync alone, from memory: {alone:.2} s");
        alone_best = alone_best.min(alone);
        raw_best = raw_best.min(raw);
        ledger_best = ledger_best.min(ledger);
        publish_best = publish_best.min(publish);
    }
    server.kill().expect("stop nats-server");
    server.wait().expect("reap nats-server");
    let rate = |secs: f64| count as f64 / secs;
    println!();
    println!("| path | events/s | vs raw consume |");
    println!("| --- | ---: | ---: |");
    println!(
        "| JetStream publish (acked) | {:.0} | |",
        rate(publish_best)
    );
    println!(
        "| raw JetStream consume + ack | {:.0} | 1.00× |",
        rate(raw_best)
    );
    println!(
        "| ledger writer: validate, append, fsync, then ack | {:.0} | {:.2}× (target ≥ 0.8×) |",
        rate(ledger_best),
        raw_best / ledger_best
    );
    println!(
        "| (the writer's ledger work alone: validate, append, fsync, no NATS) | {:.0} | {:.2}× |",
        rate(alone_best),
        raw_best / alone_best
    );
}

/// The ledger side of the writer without NATS: each batch of the same
/// size validated from its bytes and appended with one flush. The
/// writer cannot beat this on one core; it bounds the ratio above.
fn ledger_alone(events: &[(String, Vec<u8>)], dir: PathBuf) -> f64 {
    let mut ledger = ledger::Ledger::open(&dir).expect("open ledger");
    let started = Instant::now();
    for chunk in events.chunks(writer::BATCH_MESSAGES_MAX) {
        let batch: Vec<schemas::Event> = chunk
            .iter()
            .map(|(_, bytes)| {
                let mut parsed = schemas::input::parse_events(bytes).expect("JSON");
                parsed.pop().expect("one event").result.expect("valid")
            })
            .collect();
        ledger.append(&batch, writer::now_micros()).expect("append");
    }
    started.elapsed().as_secs_f64()
}

/// Publishes every event on `prefix<tenant>` with its message id, awaiting
/// acknowledgements in windows; returns the seconds it took.
async fn publish_all(js: &jetstream::Context, events: &[(String, Vec<u8>)], prefix: &str) -> f64 {
    let started = Instant::now();
    for window in events.chunks(PUBLISH_WINDOW) {
        let mut acks = Vec::with_capacity(window.len());
        for (tenant, bytes) in window {
            let ack = js
                .publish(format!("{prefix}{tenant}"), bytes.clone().into())
                .await
                .expect("publish");
            acks.push(ack);
        }
        for ack in acks {
            ack.await.expect("acknowledged");
        }
    }
    started.elapsed().as_secs_f64()
}

/// Receives and acknowledges every message of BENCH_RAW.
async fn consume_raw(js: &jetstream::Context, count: usize) -> f64 {
    let stream = js.get_stream("BENCH_RAW").await.expect("raw stream");
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 2 * writer::BATCH_MESSAGES_MAX as i64,
            ..Default::default()
        })
        .await
        .expect("raw consumer");
    let started = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(writer::BATCH_MESSAGES_MAX)
        .messages()
        .await
        .expect("pull");
    let mut received = 0;
    while received < count {
        let message = messages.next().await.expect("a message").expect("received");
        if received + 1 == count {
            message.double_ack().await.expect("double ack");
        } else {
            message.ack().await.expect("ack");
        }
        received += 1;
    }
    started.elapsed().as_secs_f64()
}

/// Runs the ledger writer until every event is durable in a fresh ledger.
async fn consume_ledger(client: async_nats::Client, dir: PathBuf, count: usize) -> f64 {
    let ledger = ledger::Ledger::open(&dir).expect("open ledger");
    let ledger = Arc::new(std::sync::Mutex::new(ledger));
    let metrics = Arc::new(Metrics::default());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(writer::run(
        ledger,
        client,
        writer::Config::default(),
        Arc::clone(&metrics),
        |_| {},
        shutdown,
    ));
    while metrics.events_appended.load(Ordering::Relaxed) < count as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    stop.send(true).expect("writer running");
    task.await.expect("writer task").expect("writer");
    let batches = metrics.batches.load(Ordering::Relaxed);
    println!(
        "  ledger writer: {batches} batches, {:.0} events per batch",
        count as f64 / batches as f64
    );
    secs
}

/// `count` valid events over three tenants: (tenant, canonical bytes).
fn make_events(count: usize) -> Vec<(String, Vec<u8>)> {
    let tenants = ["alver", "fedje", "gulen"];
    (0..count)
        .map(|n| {
            let tenant = tenants[n % 3];
            let value = serde_json::json!({
                "specversion": "1.0", "id": format!("ev-{n}"), "source": "bench/jetstream",
                "type": "incident.opened", "time": "2026-01-05T09:15:00+01:00",
                "tenant": tenant, "datacontenttype": "application/json",
                "data": {"incident_id": format!("INC-{n}"), "service": "epost", "priority": "P2"}
            });
            let event = schemas::Event::from_json(&value).expect("valid event");
            (tenant.to_owned(), event.canonical().to_vec())
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_nats(port: u16, store: PathBuf) -> Child {
    let binary = [
        "/usr/sbin/nats-server",
        "/usr/local/bin/nats-server",
        "/usr/bin/nats-server",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .unwrap_or_else(|| PathBuf::from("nats-server"));
    let child = Command::new(&binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}; install nats-server",
                binary.display()
            )
        });
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
