//! Scenario 5: what replication costs (issue 13). The ledger's durable
//! append with its commit log (each batch prepared, published to
//! `TLA_LEDGER` R1 on a nats-server of the benchmark's own and
//! acknowledged, and only then applied) against the same append without
//! publishing; and a follower applying that commit log into an empty
//! ledger (`ingest::replica::Follower`, each record checked) against the
//! leader's append rate. All three in the same run, on the same events.
//!
//! Both appends are pipelined the way the ledger writer pipelines them
//! (`ingest::writer`): a batch is prepared, published (or not), applied,
//! and then synced on a second thread while the next batch is prepared.

use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use async_nats::jetstream;
use ingest::metrics::Metrics;
use ingest::nats;
use ingest::replica::{self, CommitLog, Follower, Until};
use ledger::{AppendOptions, Ledger, LedgerError};
use schemas::Event;

use super::{data, say, settle, Better, Context, Row};

/// Tenants of the events.
const TENANTS: usize = 20;
/// The commit log's subject is that of this (notional) writer's consumer.
const CONSUMER: &str = "bench";
/// How long the follower may take before the run stops as stalled
/// (at the leader's rate it needs seconds).
const FOLLOW_MAX: std::time::Duration = std::time::Duration::from_secs(120);

pub fn run(cx: &Context<'_>) -> anyhow::Result<Vec<Row>> {
    let binary = super::jetstream::nats_server()?;
    let count = cx.sizes.replication_events;
    let events = data::mixed(count, TENANTS)?;
    let (_server, url) = super::jetstream::start_nats(&binary, &cx.dir("replication-nats")?)?;
    say(format_args!(
        "replication: {count} events, {} per append, commit log on {url}, best of {}",
        cx.batch, cx.sizes.rounds
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let js = runtime.block_on(async {
        let client = async_nats::connect(&url).await?;
        anyhow::Ok(nats::jetstream(client))
    })?;
    let rate = |secs: f64| count as f64 / secs;
    let (mut without, mut with, mut follow) = (f64::MAX, f64::MAX, f64::MAX);
    // The three take turns, round by round, so that a slow spell of the
    // disk hits each.
    for round in 0..cx.sizes.rounds {
        settle();
        let without_round = pipelined(&cx.dir("replication-plain")?, &events, cx.batch, None)?;
        // A fresh commit log each round, as `tla serve` makes it (R1),
        // minus deny_delete so that the next round can start afresh.
        runtime.block_on(async {
            let _ = js.delete_stream(nats::LEDGER_STREAM).await;
            let mut config = nats::stream_config(nats::LEDGER_STREAM, 1);
            config.deny_delete = false;
            js.create_stream(config).await?;
            anyhow::Ok(())
        })?;
        settle();
        let leader = cx.dir("replication-leader")?;
        let with_round = pipelined(&leader, &events, cx.batch, Some((&runtime, &js)))?;
        settle();
        let follow_round = follow_log(&runtime, &js, &cx.dir("replication-follower")?, count)?;
        say(format_args!(
            "replication: round {round}: append without {:.0}/s, with commit log {:.0}/s, \
             follower {:.0}/s",
            rate(without_round),
            rate(with_round),
            rate(follow_round)
        ));
        without = without.min(without_round);
        with = with.min(with_round);
        follow = follow.min(follow_round);
    }
    Ok(vec![
        Row::compared(
            "append, durable, with replication (R1) vs without",
            "events/s",
            Better::Higher,
            (rate(with), rate(without)),
            "the same pipelined durable append, not published to the commit log",
            Some(0.7),
            None,
        )
        .with_note(
            "each batch published to TLA_LEDGER (R1, one nats-server, JetStream's default \
             fsync) and acknowledged before it is applied",
        ),
        Row::compared(
            "follower apply vs leader append",
            "events/s",
            Better::Higher,
            (rate(follow), rate(with)),
            "the leader's durable append with replication, same records",
            Some(1.0),
            None,
        )
        .with_note(
            "ingest::replica::Follower into an empty ledger: every record checked (position, \
             both chains, hash, canonical form), synced per pull (at most 64 messages, 16 MiB)",
        ),
    ])
}

/// Seconds to append every event durably in a fresh ledger, batches
/// pipelined: each is prepared, published to the commit log when `log`
/// is given (and acknowledged), applied, and synced while the next one is
/// prepared.
fn pipelined(
    dir: &Path,
    events: &[Event],
    batch: usize,
    log: Option<(&tokio::runtime::Runtime, &jetstream::Context)>,
) -> anyhow::Result<f64> {
    let mut ledger = Ledger::open(dir)?;
    let ledger_id = ledger.ledger_id()?;
    let mut log =
        log.map(|(runtime, js)| (runtime, CommitLog::new(js.clone(), CONSUMER, 0, ledger_id)));
    let syncer = ledger.syncer();
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (request, requests) = sync_channel::<()>(1);
        let (synced, syncs) = sync_channel::<Result<(), LedgerError>>(1);
        scope.spawn(move || {
            for () in requests {
                if synced.send(syncer.sync()).is_err() {
                    break;
                }
            }
        });
        let mut in_flight = false;
        for chunk in events.chunks(batch) {
            let (prepared, _) = ledger.prepare_with(chunk, AppendOptions::at(data::NOW_MICROS))?;
            if let Some((runtime, log)) = &mut log {
                let segments =
                    prepared.segments(ledger_id, log.writer(), replica::SEGMENT_BYTES_MAX);
                runtime.block_on(log.publish(&segments))?;
            }
            ledger.commit_prepared(prepared, None)?;
            if in_flight {
                syncs.recv().context("the sync thread ended")??;
            }
            request.send(()).context("the sync thread ended")?;
            in_flight = true;
        }
        if in_flight {
            syncs.recv().context("the sync thread ended")??;
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        ledger.size() == events.len() as u64,
        "the ledger holds {} of {} events",
        ledger.size(),
        events.len()
    );
    Ok(secs)
}

/// Seconds for a follower to apply the whole commit log into an empty
/// ledger and sync it.
fn follow_log(
    runtime: &tokio::runtime::Runtime,
    js: &jetstream::Context,
    dir: &Path,
    count: usize,
) -> anyhow::Result<f64> {
    let ledger = Arc::new(Mutex::new(Ledger::open(dir)?));
    let follower = Follower {
        ledger: Arc::clone(&ledger),
        jetstream: js.clone(),
        consumer: CONSUMER.into(),
        metrics: Arc::new(Metrics::default()),
        checkpoints: false,
    };
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let following = follower.follow(Until::CaughtUp, &|_| (), shutdown);
    let Ok(followed) =
        runtime.block_on(async { tokio::time::timeout(FOLLOW_MAX, following).await })
    else {
        let size = ledger
            .lock()
            .map_err(|_| anyhow::anyhow!("ledger lock poisoned"))?
            .size();
        anyhow::bail!(
            "the follower stalled: it applied {size} of {count} entries in {FOLLOW_MAX:?} \
             (the nats-server log is beside its store in the scratch directory)"
        );
    };
    let followed = followed?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        followed.head.size == count as u64,
        "the follower holds {} of {count} entries",
        followed.head.size
    );
    Ok(secs)
}
