//! The ledger writer: a durable JetStream pull consumer that makes events
//! durable in the ledger and only then acknowledges them.
//!
//! Each batch (whatever messages are ready, up to `BATCH_MESSAGES_MAX`) is
//! handled in this order, so that a crash at any point loses nothing and
//! duplicates nothing:
//!
//! 1. every message is validated again (producers may publish to NATS
//!    directly), and its tenant checked against its subject; system-only
//!    types (`report.issued`) and events of a tenant without an agreement
//!    (but its `agreement.published`) are refused; the valid events are
//!    checked against the ledger (conflicts, clock skew judged against the
//!    time the stream received the message, refusals remembered);
//! 2. the rest is applied as one atomic append, together with the consumer
//!    cursor (the batch's highest stream sequence) and the refused events
//!    (so that a replay refuses them again) in the same sled batch, and
//!    synced with one flush;
//! 3. once the flush returned, the refused ones are published to
//!    `tla.rejected.<tenant>` with their errors, and JetStream's
//!    acknowledgement awaited (the `Nats-Msg-Id` is the stream sequence, so
//!    a repeat after a crash is dropped);
//! 4. the refused messages are terminated (`AckKind::Term`: never
//!    redelivered), every other one acknowledged, the last with a double
//!    acknowledgement that waits for the server's confirmation.
//!
//! Messages are handled in stream order, also across restarts: JetStream
//! delivers new messages before it redelivers unacknowledged ones, so a
//! writer that starts while its consumer has unacknowledged messages
//! recreates the consumer from the first of them (`Writer::consumer`).
//! Verdicts that depend on the ledger's state (an event of a tenant whose
//! agreement comes earlier in the stream) are then the same on every
//! replay.
//!
//! Batches are pipelined like `Ledger::append_pipelined`: batch N+1 is
//! applied while batch N's flush runs on another thread, and N is
//! acknowledged only after its own flush returned, so the CPU work and the
//! fsync overlap without acknowledging anything early. Step 1's validation
//! (parsing each message, its subject and metadata: everything that does
//! not need the ledger) runs a stage ahead, in the intake (`Intake`): a
//! task that gathers the next batch and validates it on a blocking thread
//! of its own while the ledger checks, hashes, publishes and commits the
//! batch before it. The intake hands batches over in stream order, one at
//! a time; a message's verdict depends on nothing that changes between
//! the two stages (its bytes, subject and the stream's timestamp), so the
//! verdicts are those of validating it in the ledger's turn.
//!
//! Whether a message is refused depends only on the message (its bytes,
//! subject and the stream's timestamp of it) and the ledger's state, never
//! on when it is handled, and a refused event is remembered: a crash before
//! 4, or a new consumer replaying the stream, refuses it again. Every
//! per-message failure is a refusal, never an error of the batch, so no
//! message can stop the writer (a poison pill). A crash before 4 means
//! redelivery: the messages are appended again, which the ledger's
//! idempotency on (`tenant`, `source`, `id`) turns into duplicates. The cursor records the
//! highest stream sequence made durable (for lag and for operators); it is
//! not used to skip redeliveries, because after a restart JetStream may
//! deliver new messages before it redelivers older unacknowledged ones, so
//! a sequence below the cursor is not proof of durability. NATS going away
//! (a restart) makes the consumer stream fail; the writer finishes the
//! batch in flight and recreates the stream with backoff. A ledger failure
//! is fatal: the writer stops, and whoever supervises it restarts it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::Context;
use async_nats::jetstream::{AckKind, Message};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use ledger::replicate::{Prepared, Segment};
use ledger::{AppendOptions, Head, Ledger, LedgerError, Outcome, Rejection, SkewClock};
use schemas::input::parse_events;
use schemas::{Event, EventType};
use tokio::sync::watch;

use protocol::pipeline::{self, Action, BatchId, CheckpointRule, Pipeline};
use protocol::start;

use crate::metrics::Metrics;
use crate::nats;
use crate::replica::LogError;

/// Most messages per batch (one append, one flush). Larger batches
/// amortise the flush; 4,096 events of a few hundred bytes keep an append
/// near 1.5 MB and well under the ledger's `APPEND_EVENTS_MAX`.
pub const BATCH_MESSAGES_MAX: usize = 4096;

/// How long JetStream waits for an acknowledgement before redelivering:
/// far above a batch's append time, short enough that a crashed writer's
/// unacknowledged messages come back soon after its restart.
pub const ACK_WAIT: Duration = Duration::from_secs(10);

/// Messages delivered and not yet acknowledged, at most: two batches in
/// the pipeline of pull requests.
pub const ACK_PENDING_MAX: i64 = 2 * BATCH_MESSAGES_MAX as i64;

/// Longest pause between attempts to reach JetStream again.
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(2);

/// How long a batch may wait for more messages while they keep coming
/// (the client hands them over some 64 KiB at a time): a few milliseconds
/// of latency buy batches large enough to amortise the flush.
pub const BATCH_LINGER: Duration = Duration::from_millis(3);

/// A pause this long with no message ends a batch early: the stream is
/// quiet, so waiting longer only adds latency.
pub const BATCH_QUIET: Duration = Duration::from_micros(500);

/// Validated batches the intake holds ready for the ledger, at most: it
/// gathers and validates the next while this one waits, so the ledger
/// finds a batch ready when it finishes one, and no more than two batches
/// (the messages `ACK_PENDING_MAX` lets JetStream deliver) sit in memory.
pub const INTAKE_BATCHES_MAX: usize = 1;

/// How long the writer waits for a message before looking at the shutdown
/// signal and the consumer's health again.
pub const IDLE_POLL: Duration = Duration::from_millis(500);

/// Errors listed in a rejection document; the rest are counted.
pub const REJECTION_ERRORS_MAX: usize = 100;

/// Longest error text in a rejection document: an error may quote the
/// event's input, which a hostile producer makes as large as it likes.
pub const REJECTION_ERROR_BYTES_MAX: usize = 2048;

/// Most of the refused message's payload a rejection document quotes; it
/// always carries the payload's length and BLAKE3 digest, and quotes less
/// when the document would not fit NATS's largest message otherwise.
pub const REJECTION_EVENT_BYTES_MAX: usize = 256 << 10;

/// Idle heartbeat the server sends on a pending pull: two missed ones
/// (after a NATS restart) make the writer recreate its consumer stream,
/// so this bounds how long it stays deaf after NATS comes back.
pub const PULL_HEARTBEAT: Duration = Duration::from_secs(2);

/// How long one pull request lives before the client renews it (more
/// than twice the heartbeat, as JetStream requires).
pub const PULL_EXPIRES: Duration = Duration::from_secs(10);

/// The writer's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The durable consumer's name; also the ledger's cursor name.
    pub consumer: String,
    /// The subjects this writer takes: `tla.events.*` for all tenants, or a
    /// partition (`tla.events.alver`, ...) when writers are scaled out.
    pub subjects: Vec<String>,
    /// When and with which key to sign checkpoints; none without a key.
    pub checkpoints: Option<CheckpointPolicy>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            consumer: "tla-ledger".into(),
            subjects: vec![format!("{}*", nats::EVENTS_PREFIX)],
            checkpoints: None,
        }
    }
}

/// Entries after which the writer signs a checkpoint unless told otherwise.
pub const CHECKPOINT_ENTRIES_DEFAULT: u64 = 10_000;

/// Time after which the writer signs a checkpoint of whatever it appended
/// since the last one, unless told otherwise: an auditor's checkpoint is
/// then at most this old.
pub const CHECKPOINT_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);

/// The writer signs a checkpoint once `every_entries` entries were appended
/// since the last one, or once `every` has passed with any appended; it
/// stores it beside the ledger (durably) and then publishes it on
/// `tla.checkpoints`. The ledger refuses to sign a checkpoint that does not
/// extend the previous one.
#[derive(Clone)]
pub struct CheckpointPolicy {
    pub signer: Arc<ledger::checkpoint::Signer>,
    pub every_entries: u64,
    pub every: Duration,
}

impl std::fmt::Debug for CheckpointPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself stays out of logs.
        f.debug_struct("CheckpointPolicy")
            .field("key", &self.signer.name())
            .field("every_entries", &self.every_entries)
            .field("every", &self.every)
            .finish()
    }
}

impl CheckpointPolicy {
    /// Whether a checkpoint is due at ledger size `size`, the last one
    /// having been signed at `signed` entries `since` ago.
    pub fn due(&self, size: u64, signed: u64, since: Duration) -> bool {
        self.rule().due(size, signed, since)
    }

    /// When to sign, as the writer's pipeline takes it.
    pub fn rule(&self) -> CheckpointRule {
        CheckpointRule {
            every_entries: self.every_entries,
            every: self.every,
        }
    }
}

/// A batch made durable: the events appended (position, event) and the
/// ledger's head after it. What the live projector follows.
#[derive(Debug, Clone)]
pub struct Durable {
    pub appended: Vec<(u64, Event)>,
    pub head: Head,
    /// The Merkle root of the ledger after it (what reports pin as
    /// `tree_root`).
    pub tree_root: ledger::merkle::Digest,
}

#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Binding(#[from] crate::binding::BindingError),
    /// The commit log refused or could not take a batch; a
    /// `LogError::Fenced` means another writer replaced this one.
    #[error(transparent)]
    Log(crate::replica::LogError),
}

impl WriterError {
    /// Whether another writer replaced this one (it must only follow now).
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            WriterError::Log(crate::replica::LogError::Fenced { .. })
        )
    }
}

/// A failure that ends the current consumer stream but not the writer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transient(String);

/// The ledger as the writer shares it with readers in the same process
/// (the web viewer): each apply, sync hand-off and checkpoint holds the
/// lock on a blocking thread for as long as it takes, never on the
/// runtime's own threads.
pub type SharedLedger = Arc<std::sync::Mutex<Ledger>>;

/// Runs a writer that holds no lease (the benchmark) until `shutdown`
/// turns true (finishing the batch in hand) or the ledger fails:
/// `protocol::supervisor` decides its start as it does for
/// `service::run`'s writer that took the lease (claim, catch up, read the
/// log's end, publish a backlog), carried out by `claim`, `catch_up`,
/// `log_end` and `publish_backlog`; then `write`. `durable` hears of
/// every durable batch.
pub async fn run(
    ledger: SharedLedger,
    client: async_nats::Client,
    config: Config,
    metrics: Arc<Metrics>,
    durable: impl Fn(Durable) + Send + Sync + 'static,
    shutdown: watch::Receiver<bool>,
) -> Result<(), WriterError> {
    use protocol::supervisor::{Action as A, Input, Supervisor};
    let jetstream = nats::jetstream(client.clone());
    let empty = lock(&ledger)?.size() == 0;
    let mut start = Supervisor::new(false);
    let mut actions: std::collections::VecDeque<A> =
        start.handle(Input::LeaseTaken { empty }).into();
    while let Some(action) = actions.pop_front() {
        let input = match action {
            A::Claim => {
                crate::binding::claim(&jetstream, &ledger, &config.consumer).await?;
                Input::Claimed
            }
            A::CatchUp => {
                let (stop, consumer) = (shutdown.clone(), &config.consumer);
                catch_up(&ledger, &jetstream, consumer, &metrics, &durable, stop).await?;
                if *shutdown.borrow() {
                    return Ok(());
                }
                Input::CaughtUp
            }
            A::ReadLogEnd => {
                let (size, last) = log_end(&ledger, &jetstream, &config.consumer).await?;
                Input::LogEnd { size, last }
            }
            A::PublishBacklog { from, log_last } => {
                let consumer = &config.consumer;
                let sequence =
                    publish_backlog(&ledger, &jetstream, consumer, from, log_last).await?;
                Input::BacklogPublished { sequence }
            }
            A::Write { log_last } => {
                return write(ledger, client, config, metrics, durable, shutdown, log_last).await
            }
            other => {
                return Err(WriterError::Task(format!(
                    "a writer's start asked for {other:?}"
                )))
            }
        };
        actions.extend(start.handle(input));
    }
    Ok(())
}

/// Applies the commit log up to its last message as of now (a writer's
/// start, `protocol::supervisor`'s `CatchUp`), or until `stop`. The log
/// gives a ledger with entries only records of its own
/// (`Ledger::apply_segment` refuses another ledger's).
pub async fn catch_up(
    ledger: &SharedLedger,
    jetstream: &Context,
    consumer: &str,
    metrics: &Arc<Metrics>,
    durable: &(impl Fn(Durable) + Send + Sync),
    stop: watch::Receiver<bool>,
) -> Result<(), WriterError> {
    let follower = crate::replica::Follower {
        ledger: Arc::clone(ledger),
        jetstream: jetstream.clone(),
        consumer: consumer.to_owned(),
        metrics: Arc::clone(metrics),
        checkpoints: false,
    };
    follower
        .follow(crate::replica::Until::CaughtUp, durable, stop)
        .await
        .map(|_| ())
        .map_err(WriterError::Log)
}

/// The log's last message (its stream sequence and the ledger size after
/// it), then the ledger's size: what `protocol::start::decide` judges
/// after a catch-up.
pub async fn log_end(
    ledger: &SharedLedger,
    jetstream: &Context,
    consumer: &str,
) -> Result<(u64, start::LogEnd), WriterError> {
    let last = crate::replica::last(jetstream, consumer)
        .await
        .map_err(WriterError::Log)?;
    let last = last.map(|(sequence, segment)| (sequence, segment.end()));
    let size = lock(ledger)?.size();
    Ok((size, last))
}

/// Runs the writer, the log's last message at `log_last` (what
/// `protocol::start::decide` found), until `shutdown` turns true
/// (finishing the batch in hand) or the ledger fails. `durable` hears of
/// every durable batch.
pub async fn write(
    ledger: SharedLedger,
    client: async_nats::Client,
    config: Config,
    metrics: Arc<Metrics>,
    durable: impl Fn(Durable) + Send + Sync + 'static,
    mut shutdown: watch::Receiver<bool>,
    log_last: u64,
) -> Result<(), WriterError> {
    let jetstream = nats::jetstream(client.clone());
    let ledger_id = lock(&ledger)?.ledger_id()?;
    let log =
        crate::replica::CommitLog::new(jetstream.clone(), &config.consumer, log_last, ledger_id);
    let (size, signed, cursor, syncer) = {
        let ledger = lock(&ledger)?;
        let signed = ledger.latest_checkpoint()?.map_or(0, |(size, _)| size);
        let cursor = ledger.cursor(&config.consumer)?.unwrap_or(0);
        (ledger.size(), signed, cursor, ledger.syncer())
    };
    metrics.ledger_size.store(size, Ordering::Relaxed);
    let clock = std::time::Instant::now();
    let rule = config.checkpoints.as_ref().map(CheckpointPolicy::rule);
    let pipeline = Pipeline::new(cursor, log.last(), size, signed, rule, 0);
    let mut writer = Writer {
        pipeline,
        clock,
        next_batch: 0,
        ledger,
        syncer,
        jetstream,
        client,
        config,
        metrics,
        in_flight: None,
        acking: None,
        in_order: false,
        log,
        syncing: Arc::new(AtomicBool::new(false)),
    };
    writer
        .metrics
        .durable_sequence
        .store(writer.pipeline.cursor(), Ordering::Relaxed);
    tracing::info!(consumer = %writer.config.consumer, cursor = writer.pipeline.cursor(), "ledger writer starting");
    writer.metrics.writing.store(1, Ordering::Relaxed);
    let mut failures: u32 = 0;
    while !*shutdown.borrow() {
        match writer.consume(&durable, &mut shutdown).await {
            Ok(()) => break,
            Err(Stop::Fatal(error)) => {
                writer.metrics.writing.store(0, Ordering::Relaxed);
                return Err(error);
            }
            Err(Stop::Transient(error)) => {
                // The batches in hand are dropped; their messages come again.
                writer.pipeline.abandon();
                failures = failures.saturating_add(1);
                let delay = Duration::from_millis(100u64 << failures.min(5)).min(RETRY_DELAY_MAX);
                tracing::warn!(%error, ?delay, "JetStream consumer failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    writer.metrics.writing.store(0, Ordering::Relaxed);
    tracing::info!(cursor = writer.pipeline.cursor(), "ledger writer stopped");
    Ok(())
}

/// Publishes the ledger's entries from `from` the commit log lacks (a
/// ledger from before replication), expecting the log's last message at
/// `log_last`, and stores the log's cursor with them; returns the log's
/// last sequence.
pub async fn publish_backlog(
    ledger: &SharedLedger,
    jetstream: &Context,
    consumer: &str,
    from: u64,
    log_last: u64,
) -> Result<u64, WriterError> {
    let (ledger_id, size) = {
        let ledger = lock(ledger)?;
        (ledger.ledger_id()?, ledger.size())
    };
    let mut log = crate::replica::CommitLog::new(jetstream.clone(), consumer, log_last, ledger_id);
    let writer = log.writer();
    let shared = Arc::clone(ledger);
    let segments = tokio::task::spawn_blocking(move || {
        lock(&shared)?
            .stored_segments(from, writer, crate::replica::SEGMENT_BYTES_MAX)
            .map_err(WriterError::from)
    })
    .await
    .map_err(|e| WriterError::Task(e.to_string()))??;
    tracing::info!(
        from,
        entries = size - from,
        messages = segments.len(),
        "publishing the ledger's entries the commit log lacks"
    );
    let sequence = log.publish(&segments).await.map_err(WriterError::Log)?;
    let shared = Arc::clone(ledger);
    let name = crate::replica::cursor_name(consumer);
    tokio::task::spawn_blocking(move || -> Result<(), WriterError> {
        let mut ledger = lock(&shared)?;
        let (prepared, _) = ledger.prepare_with(&[], AppendOptions::at(now_micros()))?;
        ledger.commit_prepared(prepared, Some((&name, sequence)))?;
        Ok(ledger.syncer().sync()?)
    })
    .await
    .map_err(|e| WriterError::Task(e.to_string()))??;
    Ok(sequence)
}

enum Stop {
    Fatal(WriterError),
    Transient(Transient),
}

impl From<Transient> for Stop {
    fn from(error: Transient) -> Stop {
        Stop::Transient(error)
    }
}

impl From<WriterError> for Stop {
    fn from(error: WriterError) -> Stop {
        Stop::Fatal(error)
    }
}

/// The async shell around `protocol::pipeline::Pipeline`, which decides
/// each step (publish, apply, sign, flush, acknowledge, stop): this
/// carries its inputs and actions to NATS and the ledger.
struct Writer {
    /// The decisions: cursor, size, the commit log's last sequence, the
    /// checkpoints, and where each batch stands.
    pipeline: Pipeline,
    /// The pipeline's clock (for checkpoints due by time).
    clock: std::time::Instant,
    /// The next batch's id.
    next_batch: BatchId,
    ledger: SharedLedger,
    /// Makes what was applied durable, without the ledger's lock.
    syncer: ledger::Syncer,
    client: async_nats::Client,
    jetstream: Context,
    config: Config,
    metrics: Arc<Metrics>,
    /// The batch applied and being synced, not yet acknowledged.
    in_flight: Option<InFlight>,
    /// The acknowledgements of the last durable batch, under way.
    acking: Option<(BatchId, tokio::task::JoinHandle<Result<(), Transient>>)>,
    /// Whether the consumer was brought back to stream order since start.
    in_order: bool,
    /// The ledger's commit log, which takes every batch before it is applied.
    log: crate::replica::CommitLog,
    /// Whether a batch's sync is under way: the intake's group commit
    /// waits for more messages while it is (`gather`).
    syncing: Arc<AtomicBool>,
}

/// A batch being prepared on a blocking thread, holding the ledger: the
/// prepared append, its commit-log segments, and the verdicts.
type Applying = tokio::task::JoinHandle<Result<(Prepared, Vec<Segment>, Applied), WriterError>>;

/// Each message's (stream sequence, pending count).
type Sequences = Vec<(u64, u64)>;

/// One refused message and why.
struct Refused {
    index: usize,
    tenant: String,
    errors: Vec<String>,
}

/// One message as the writer judges it.
struct Input {
    subject: String,
    payload: Bytes,
    /// When the stream received it (microseconds since the epoch), what
    /// its clock skew is judged against; `Err` when the message carries no
    /// JetStream metadata to tell.
    received: Result<i64, String>,
}

/// A batch as the intake hands it over: its messages in stream order,
/// each one's (stream sequence, pending), and step 1's verdicts but the
/// ledger's: the valid events (`Candidate`s) and the refused.
struct Gathered {
    batch: Vec<Message>,
    sequences: Sequences,
    candidates: Vec<Candidate>,
    refused: Vec<Refused>,
}

/// The intake: a task that gathers batches from the consumer's messages
/// and validates each on a blocking thread, a stage ahead of the ledger
/// (module doc), handing them over in stream order. It ends when the
/// messages end or fail (handing over the error after every batch before
/// it), and is aborted when dropped; the messages it holds then are not
/// acknowledged, so JetStream delivers them again.
struct Intake {
    batches: tokio::sync::mpsc::Receiver<Result<Gathered, Stop>>,
    /// Whether it is gathering or validating a batch not handed over yet.
    busy: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Intake {
    fn start(messages: pull::Stream, syncing: Arc<AtomicBool>) -> Intake {
        let (sender, batches) = tokio::sync::mpsc::channel(INTAKE_BATCHES_MAX);
        let busy = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(intake(messages, syncing, Arc::clone(&busy), sender));
        Intake {
            batches,
            busy,
            task,
        }
    }

    /// The next batch if one is ready, or being gathered and validated
    /// (then waited for); `None` when none is under way.
    async fn ready(&mut self) -> Option<Option<Result<Gathered, Stop>>> {
        use tokio::sync::mpsc::error::TryRecvError;
        match self.batches.try_recv() {
            Ok(gathered) => Some(Some(gathered)),
            Err(TryRecvError::Disconnected) => Some(None),
            Err(TryRecvError::Empty) if self.busy.load(Ordering::Acquire) => {
                Some(self.batches.recv().await)
            }
            Err(TryRecvError::Empty) => None,
        }
    }
}

/// The intake's task (`Intake`).
async fn intake(
    mut messages: pull::Stream,
    syncing: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    sender: tokio::sync::mpsc::Sender<Result<Gathered, Stop>>,
) {
    loop {
        let first = match messages.next().await {
            None => Err(Transient("the consumer stream ended".into())),
            Some(Err(e)) => Err(Transient(format!("receiving: {e}"))),
            Some(Ok(message)) => Ok(message),
        };
        let first = match first {
            Ok(first) => first,
            Err(error) => {
                // The writer may be gone already; then nobody needs to know.
                let _ = sender.send(Err(error.into())).await;
                return;
            }
        };
        busy.store(true, Ordering::Release);
        let batch = gather(first, &mut messages, &syncing).await;
        let gathered = tokio::task::spawn_blocking(move || validate_batch(batch))
            .await
            .map_err(|e| Stop::from(WriterError::Task(e.to_string())));
        let failed = gathered.is_err();
        if sender.send(gathered).await.is_err() || failed {
            return;
        }
        busy.store(false, Ordering::Release);
    }
}

/// A batch starting with `first`: what is ready joins it, and while
/// messages keep coming it waits for more, for `BATCH_LINGER` or as long
/// as the previous batch's flush runs (`syncing`: a group commit, one
/// flush for everything that arrived during the last one), up to
/// `BATCH_MESSAGES_MAX`. A quiet stream sends what it has at once.
async fn gather(first: Message, messages: &mut pull::Stream, syncing: &AtomicBool) -> Vec<Message> {
    let started = std::time::Instant::now();
    let mut batch = vec![first];
    while batch.len() < BATCH_MESSAGES_MAX {
        let next = match messages.next().now_or_never() {
            Some(next) => next,
            None => {
                let syncing = syncing.load(Ordering::Acquire);
                if !syncing && started.elapsed() >= BATCH_LINGER {
                    break;
                }
                match tokio::time::timeout(BATCH_QUIET, messages.next()).await {
                    Ok(next) => next,
                    Err(_) if syncing => continue,
                    Err(_) => break,
                }
            }
        };
        match next {
            Some(Ok(message)) => batch.push(message),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "receiving; handling the batch in hand first");
                break;
            }
            None => break,
        }
    }
    batch
}

/// Step 1 but the ledger's checks, for a whole batch: each message's
/// stream sequence and timestamp, and its verdict (`validated`).
fn validate_batch(batch: Vec<Message>) -> Gathered {
    let mut sequences = Vec::with_capacity(batch.len());
    let mut inputs = Vec::with_capacity(batch.len());
    for message in &batch {
        let received = match message.info() {
            Ok(info) => {
                sequences.push((info.stream_sequence, info.pending));
                let nanos = info.published.unix_timestamp_nanos();
                Ok(i64::try_from(nanos / 1_000).unwrap_or(i64::MAX))
            }
            Err(error) => {
                // Not a JetStream delivery: refused, never appended.
                sequences.push((0, 0));
                Err(format!(
                    "the message carries no JetStream metadata: {error}"
                ))
            }
        };
        inputs.push(Input {
            subject: message.subject.to_string(),
            payload: message.payload.clone(),
            received,
        });
    }
    let (candidates, refused) = validated(&inputs);
    Gathered {
        batch,
        sequences,
        candidates,
        refused,
    }
}

/// Clears the writer's `syncing` flag when a sync ends, however it ends.
struct SyncEnded(Arc<AtomicBool>);

impl Drop for SyncEnded {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What applying a batch gave, before it is durable.
struct Applied {
    refused: Vec<Refused>,
    appended: Vec<(u64, Event)>,
    duplicates: u64,
    head: Head,
    /// The Merkle root after the batch, when it appended anything.
    tree_root: Option<ledger::merkle::Digest>,
}

/// A batch applied to the ledger whose sync is under way.
struct InFlight {
    id: BatchId,
    batch: Vec<Message>,
    /// (stream sequence, pending) of each message.
    sequences: Vec<(u64, u64)>,
    applied: Applied,
    sync: tokio::task::JoinHandle<Result<(), LedgerError>>,
}

impl Writer {
    /// The durable consumer, created when absent. The first time after the
    /// writer starts, a consumer with unacknowledged messages (left by a
    /// writer that stopped before acknowledging them) is recreated to
    /// deliver from the first of them, so that they are not overtaken by
    /// newer ones. Everything before it is acknowledged, hence durable
    /// (acknowledged only after the ledger's flush); later messages that
    /// were acknowledged come again and are duplicates, or refused again.
    /// The stream keeps its messages whatever its consumers do (limits
    /// retention), so recreating the consumer loses nothing.
    async fn consumer(&mut self) -> Result<PullConsumer, Transient> {
        let stream = self
            .jetstream
            .get_stream(nats::EVENTS_STREAM)
            .await
            .map_err(|e| Transient(format!("stream {}: {e}", nats::EVENTS_STREAM)))?;
        let name = self.config.consumer.clone();
        let failed = |e: &dyn std::fmt::Display| Transient(format!("consumer {name}: {e}"));
        let mut deliver_policy = DeliverPolicy::All;
        if !self.in_order
            && consumer_exists(&stream, &name)
                .await
                .map_err(|e| failed(&e))?
        {
            // Any failure here is retried: skipping the check would risk
            // handling the stream out of order.
            let info = stream.consumer_info(&name).await.map_err(|e| failed(&e))?;
            if info.num_ack_pending > 0 {
                let first = info.ack_floor.stream_sequence + 1;
                tracing::info!(
                    consumer = %name,
                    unacknowledged = info.num_ack_pending,
                    from = first,
                    "redelivering from the first unacknowledged message, in stream order"
                );
                stream
                    .delete_consumer(&name)
                    .await
                    .map_err(|e| failed(&e))?;
                deliver_policy = DeliverPolicy::ByStartSequence {
                    start_sequence: first,
                };
            }
        }
        let config = pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: ACK_PENDING_MAX,
            deliver_policy,
            // Redelivered until acknowledged or terminated, never dropped.
            max_deliver: -1,
            filter_subjects: filter_subjects(&self.config.subjects),
            ..Default::default()
        };
        let mut consumer = stream
            .get_or_create_consumer(&name, config.clone())
            .await
            .map_err(|e| failed(&e))?;
        // A consumer made before agreements had their own subject takes
        // them too from now on (its other settings kept).
        let found = &consumer.cached_info().config;
        let mut have: Vec<String> = found.filter_subjects.clone();
        if !found.filter_subject.is_empty() {
            have.push(found.filter_subject.clone());
        }
        have.sort();
        let mut want = config.filter_subjects.clone();
        want.sort();
        if have != want {
            let updated = pull::Config {
                deliver_policy: found.deliver_policy,
                ..config
            };
            tracing::info!(consumer = %name, subjects = ?want, "updating the consumer's subjects");
            consumer = stream
                .update_consumer(updated)
                .await
                .map_err(|e| failed(&e))?;
        }
        self.in_order = true;
        Ok(consumer)
    }

    /// Consumes until shutdown or a failure, then finishes the batch in
    /// flight (made durable and acknowledged) whatever ended the stream.
    async fn consume(
        &mut self,
        durable: &(impl Fn(Durable) + Send + Sync),
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        let consumed = self.consume_batches(durable, shutdown).await;
        let finished = match self.finish(durable).await {
            Ok(()) => self.acknowledged().await.map(|_| ()),
            Err(e) => Err(e),
        };
        match (consumed, finished) {
            (Err(Stop::Fatal(e)), _) | (_, Err(Stop::Fatal(e))) => Err(Stop::Fatal(e)),
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// The pipeline: batch N+1 is applied while batch N is being synced,
    /// and validated by the intake before that; N is acknowledged once its
    /// sync returned. When no batch is ready or under way in the intake,
    /// the batch in flight is finished at once rather than waiting for the
    /// next one.
    async fn consume_batches(
        &mut self,
        durable: &(impl Fn(Durable) + Send + Sync),
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        let consumer = self.consumer().await?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(BATCH_MESSAGES_MAX)
            .heartbeat(PULL_HEARTBEAT)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| Transient(format!("pull: {e}")))?;
        // Dropped (and so ended) whenever this returns.
        let mut intake = Intake::start(messages, Arc::clone(&self.syncing));
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let ready = match self.in_flight {
                Some(_) => tokio::select! {
                    ready = intake.ready() => ready,
                    _ = shutdown.changed() => return Ok(()),
                },
                None => None,
            };
            let next = match ready {
                Some(next) => next,
                None => {
                    self.finish(durable).await?;
                    let next = tokio::select! {
                        next = tokio::time::timeout(IDLE_POLL, intake.batches.recv()) => next,
                        _ = shutdown.changed() => return Ok(()),
                    };
                    match next {
                        Err(_) => {
                            // Idle: a checkpoint may be due by time.
                            let actions = self.feed(pipeline::Input::Tick {
                                now_micros: self.now_micros(),
                            });
                            self.checkpoint(actions).await?;
                            continue;
                        }
                        Ok(next) => next,
                    }
                }
            };
            let gathered = match next {
                None => return Err(Transient("the consumer stream ended".into()).into()),
                Some(gathered) => gathered?,
            };
            let batch = gathered.batch;
            let sequences = gathered.sequences;
            let verdicts = (gathered.candidates, gathered.refused);
            let (id, applying) = self.start_apply(&sequences, verdicts)?;
            // The previous batch's sync ran while this one was gathered, and
            // its acknowledgements go out while this one is applied.
            let finished = self.finish(durable).await;
            let applied = self.join_apply(id, applying).await;
            finished?;
            let (applied, actions) = applied?;
            // A checkpoint when one is due, then the flush.
            self.checkpoint(actions.clone()).await?;
            if !actions.contains(&Action::Flush { batch: id }) {
                return Err(unexpected(&actions, "a flush").into());
            }
            let syncer = self.syncer.clone();
            self.syncing.store(true, Ordering::Release);
            let ended = SyncEnded(Arc::clone(&self.syncing));
            self.in_flight = Some(InFlight {
                id,
                batch,
                sequences,
                applied,
                sync: tokio::task::spawn_blocking(move || {
                    let _ended = ended;
                    syncer.sync()
                }),
            });
        }
    }

    /// Starts steps 1 (the ledger's checks) and 2 but the flush (module
    /// doc) on a blocking thread, which takes the ledger until
    /// `join_apply`: refuses what the service path does not take, checks
    /// the valid events against the ledger, and applies them with the
    /// cursor, not yet synced.
    fn start_apply(
        &mut self,
        sequences: &Sequences,
        verdicts: (Vec<Candidate>, Vec<Refused>),
    ) -> Result<(BatchId, Applying), Stop> {
        self.next_batch += 1;
        let id = self.next_batch;
        let actions = self.feed(pipeline::Input::Gathered {
            batch: id,
            sequences: sequences.iter().map(|s| s.0).collect(),
        });
        let last_sequence = match actions.as_slice() {
            [Action::Prepare { cursor, .. }] => *cursor,
            _ => return Err(unexpected(&actions, "a prepare").into()),
        };
        let ledger = Arc::clone(&self.ledger);
        let name = self.config.consumer.clone();
        let writer = self.log.writer();
        let applying = tokio::task::spawn_blocking(move || {
            let mut ledger = lock(&ledger)?;
            let ledger_id = ledger.ledger_id()?;
            let (prepared, applied) = prepare(&mut ledger, verdicts, (&name, last_sequence))?;
            let segments = prepared.segments(ledger_id, writer, crate::replica::SEGMENT_BYTES_MAX);
            Ok((prepared, segments, applied))
        });
        Ok((id, applying))
    }

    /// Signs, stores and publishes a checkpoint when the policy says one is
    /// due. The ledger may hold an applied batch whose own sync is still
    /// under way: storing the checkpoint syncs it too, so a stored
    /// checkpoint never covers entries a crash could lose. A publish that
    /// fails is logged; the checkpoint stays in the ledger
    /// (`tla checkpoint --latest`) and the next one is published.
    async fn checkpoint(&mut self, actions: Vec<Action>) -> Result<(), Stop> {
        let Some(size) = actions.iter().find_map(|a| match a {
            Action::SignCheckpoint { size } => Some(*size),
            _ => None,
        }) else {
            return Ok(());
        };
        let Some(policy) = self.config.checkpoints.clone() else {
            return Ok(());
        };
        let ledger = Arc::clone(&self.ledger);
        let signer = Arc::clone(&policy.signer);
        let note = tokio::task::spawn_blocking(move || -> Result<String, WriterError> {
            Ok(lock(&ledger)?.sign_checkpoint(&signer)?)
        })
        .await
        .map_err(|e| WriterError::Task(e.to_string()))??;
        self.feed(pipeline::Input::Tick {
            now_micros: self.now_micros(),
        });
        self.feed(pipeline::Input::CheckpointStored { size });
        tracing::info!(size, key = policy.signer.name(), "signed a checkpoint");
        let msg_id = format!("{}/{size}", policy.signer.name());
        let subject = nats::CHECKPOINTS_SUBJECT.to_owned();
        let mut headers = async_nats::HeaderMap::new();
        let ledger_id = hex::encode(self.log.ledger_id());
        headers.insert(crate::replica::LEDGER_ID_HEADER, ledger_id.as_str());
        let note = Bytes::from(note);
        if let Err(error) =
            nats::publish_acked_with(&self.jetstream, subject, msg_id, headers, note).await
        {
            tracing::warn!(%error, size, "the checkpoint is stored but was not published");
        }
        Ok(())
    }

    /// Waits for an apply.
    /// Waits for a prepare, has the commit log take the batch (the
    /// fencing point: a writer that was replaced stops here, having
    /// applied nothing), then applies it locally.
    async fn join_apply(
        &mut self,
        id: BatchId,
        applying: Applying,
    ) -> Result<(Applied, Vec<Action>), Stop> {
        let (prepared, segments, applied) = applying
            .await
            .map_err(|e| WriterError::Task(e.to_string()))??;
        let refused = applied.refused.iter().map(|r| r.index).collect();
        let mut actions = self.feed(pipeline::Input::Prepared {
            batch: id,
            records: !segments.is_empty(),
            refused,
        });
        if let [Action::PublishLog { expected_last, .. }] = actions.as_slice() {
            let published = self.log.publish_after(*expected_last, &segments).await;
            actions = match published {
                Ok(sequence) => self.feed(pipeline::Input::LogAcked {
                    batch: id,
                    sequence,
                }),
                Err(error) => {
                    let input = match error {
                        LogError::Fenced { .. } => pipeline::Input::LogRefused { batch: id },
                        _ => pipeline::Input::LogFailed { batch: id },
                    };
                    self.feed(input);
                    return Err(WriterError::Log(error).into());
                }
            };
        }
        let log_cursor = match actions.as_slice() {
            [Action::Apply { log_sequence, .. }] => *log_sequence,
            _ => return Err(unexpected(&actions, "an apply").into()),
        };
        let ledger = Arc::clone(&self.ledger);
        let name = crate::replica::cursor_name(&self.config.consumer);
        let applied = tokio::task::spawn_blocking(move || -> Result<Applied, WriterError> {
            let mut ledger = lock(&ledger)?;
            let cursor = log_cursor.map(|sequence| (name.as_str(), sequence));
            Ok(commit(&mut ledger, prepared, cursor, applied)?)
        })
        .await
        .map_err(|e| WriterError::Task(e.to_string()))??;
        self.feed(pipeline::Input::Tick {
            now_micros: self.now_micros(),
        });
        let actions = self.feed(pipeline::Input::Applied {
            batch: id,
            size: applied.head.size,
        });
        Ok((applied, actions))
    }

    /// Steps 3-4 for the batch in flight, if any: waits for its sync,
    /// tells `durable`, then publishes the refused ones and acknowledges
    /// in a task of their own (after the previous batch's), so that the
    /// next batch is applied meanwhile.
    async fn finish(&mut self, durable: &(impl Fn(Durable) + Send + Sync)) -> Result<(), Stop> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        in_flight
            .sync
            .await
            .map_err(|e| WriterError::Task(e.to_string()))?
            .map_err(WriterError::from)?;
        let InFlight {
            id,
            batch,
            sequences,
            applied,
            ..
        } = in_flight;
        let mut actions = self.feed(pipeline::Input::Flushed { batch: id });
        self.count(batch.len(), &applied, sequences.last());
        let Applied {
            refused,
            appended,
            head,
            tree_root,
            ..
        } = applied;
        if actions.contains(&Action::Durable { batch: id }) {
            if let (false, Some(tree_root)) = (appended.is_empty(), tree_root) {
                durable(Durable {
                    appended,
                    head,
                    tree_root,
                });
            }
        }
        // The acknowledgements of the batch before first.
        actions.extend(self.acknowledged().await?);
        let terminate = actions.iter().find_map(|a| match a {
            Action::Acknowledge { batch, terminate } if *batch == id => Some(terminate.clone()),
            _ => None,
        });
        let Some(terminate) = terminate else {
            return Err(unexpected(&actions, "an acknowledgement").into());
        };
        let (jetstream, client) = (self.jetstream.clone(), self.client.clone());
        self.acking = Some((
            id,
            tokio::spawn(async move {
                publish_refused(&jetstream, &client, &batch, &sequences, &refused).await?;
                acknowledge(&client, &batch, &terminate).await
            }),
        ));
        Ok(())
    }

    /// Waits for the acknowledgements under way; the pipeline's next
    /// actions.
    async fn acknowledged(&mut self) -> Result<Vec<Action>, Stop> {
        let Some((id, acking)) = self.acking.take() else {
            return Ok(Vec::new());
        };
        let acked = acking
            .await
            .map_err(|e| Transient(format!("acknowledging: {e}")))
            .and_then(|acked| acked);
        match acked {
            Ok(()) => Ok(self.feed(pipeline::Input::Acknowledged { batch: id })),
            Err(error) => {
                self.feed(pipeline::Input::AckFailed { batch: id });
                Err(error.into())
            }
        }
    }

    /// Feeds the pipeline one input; its actions.
    fn feed(&mut self, input: pipeline::Input) -> Vec<Action> {
        self.pipeline.handle(input)
    }

    /// Microseconds since this writer started: the pipeline's clock.
    fn now_micros(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn count(&self, messages: usize, applied: &Applied, last: Option<&(u64, u64)>) {
        let m = &self.metrics;
        m.events_appended
            .fetch_add(applied.appended.len() as u64, Ordering::Relaxed);
        m.events_duplicate
            .fetch_add(applied.duplicates, Ordering::Relaxed);
        m.events_rejected
            .fetch_add(applied.refused.len() as u64, Ordering::Relaxed);
        m.observe_batch(messages);
        m.durable_sequence
            .store(self.pipeline.cursor(), Ordering::Relaxed);
        if let Some((_, pending)) = last {
            m.consumer_pending.store(*pending, Ordering::Relaxed);
        }
        m.ledger_size.store(applied.head.size, Ordering::Relaxed);
    }
}

/// Publishes each refused message to `tla.rejected.<tenant>` and waits
/// for every acknowledgement.
async fn publish_refused(
    jetstream: &Context,
    client: &async_nats::Client,
    batch: &[Message],
    sequences: &[(u64, u64)],
    refused: &[Refused],
) -> Result<(), Transient> {
    let fits = jetstream_payload_max(client);
    let publishes = refused.iter().map(|r| {
        let message = &batch[r.index];
        let sequence = sequences[r.index].0;
        let subject = format!("{}{}", nats::REJECTED_PREFIX, r.tenant);
        let digest = blake3::hash(&message.payload).to_hex();
        let msg_id = match sequence {
            0 => format!("rejected-{}", &digest[..32]),
            _ => format!("rejected-{sequence}"),
        };
        let document = rejection_document(
            message.subject.as_str(),
            sequence,
            &r.errors,
            (&message.payload, digest.as_str()),
            fits,
        );
        nats::publish_acked(jetstream, subject, msg_id, Bytes::from(document))
    });
    for result in futures::future::join_all(publishes).await {
        result.map_err(|e| Transient(format!("publishing a refused event: {e}")))?;
    }
    for r in refused {
        tracing::info!(subject = %batch[r.index].subject, errors = ?r.errors, "event refused");
    }
    Ok(())
}

/// The largest message NATS takes on this connection, less room for the
/// headers of the publish.
fn jetstream_payload_max(client: &async_nats::Client) -> usize {
    /// Room left for the `Nats-Msg-Id` header and the protocol line.
    const HEADROOM_BYTES: usize = 4096;
    let server = client.server_info().max_payload;
    server.saturating_sub(HEADROOM_BYTES).max(HEADROOM_BYTES)
}

/// The document published for a refused message: its subject and stream
/// sequence, the errors (at most `REJECTION_ERRORS_MAX`, each cut to
/// `REJECTION_ERROR_BYTES_MAX`), the payload's length and BLAKE3 digest,
/// and as much of the payload as fits in `fits` bytes (up to
/// `REJECTION_EVENT_BYTES_MAX`), so that a refusal is never lost to its
/// own size. `digest` is the payload's BLAKE3 (hex), computed once by the
/// caller, which names the refusal by it too.
fn rejection_document(
    subject: &str,
    sequence: u64,
    errors: &[String],
    (payload, digest): (&[u8], &str),
    fits: usize,
) -> Vec<u8> {
    let listed: Vec<String> = errors
        .iter()
        .take(REJECTION_ERRORS_MAX)
        .map(|e| cut(e, REJECTION_ERROR_BYTES_MAX))
        .collect();
    let mut quoted = payload.len().min(REJECTION_EVENT_BYTES_MAX);
    loop {
        let text = String::from_utf8_lossy(&payload[..quoted]);
        let mut document = serde_json::json!({
            "subject": cut(subject, REJECTION_ERROR_BYTES_MAX),
            "stream_sequence": sequence,
            "errors": listed,
            "event": text,
            "event_bytes": payload.len(),
            "event_blake3": digest,
        });
        if errors.len() > listed.len() {
            document["errors_not_listed"] = (errors.len() - listed.len()).into();
        }
        if quoted < payload.len() {
            document["event_truncated"] = true.into();
        }
        let bytes = document.to_string().into_bytes();
        if bytes.len() <= fits || quoted == 0 {
            return bytes;
        }
        quoted /= 2;
    }
}

/// `text` cut to at most `max` bytes at a character boundary, saying so.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// Terminates the refused messages, acknowledges the others, and
/// double-acknowledges the last one: its confirmation comes after the
/// server handled every earlier acknowledgement of this connection.
async fn acknowledge(
    client: &async_nats::Client,
    batch: &[Message],
    terminate: &[bool],
) -> Result<(), Transient> {
    let failed = |e: async_nats::Error| Transient(format!("acknowledging: {e}"));
    let Some((last, rest)) = batch.split_last() else {
        return Ok(());
    };
    for (message, term) in rest.iter().zip(terminate.iter()) {
        let kind = if *term { AckKind::Term } else { AckKind::Ack };
        message.ack_with(kind).await.map_err(failed)?;
    }
    if terminate.last().copied().unwrap_or(false) {
        last.ack_with(AckKind::Term).await.map_err(failed)?;
        // A flush round trip confirms the server received every ack.
        client
            .flush()
            .await
            .map_err(|e| Transient(format!("flushing acknowledgements: {e}")))?;
    } else {
        last.double_ack().await.map_err(failed)?;
    }
    Ok(())
}

/// The error of a pipeline that did not ask for what the shell's step
/// does next (a bug of the shell or the pipeline, never of the input).
fn unexpected(actions: &[Action], wanted: &str) -> WriterError {
    WriterError::Task(format!(
        "the writer's pipeline asked for {actions:?} where the writer takes {wanted}"
    ))
}

/// The ledger's lock; a reader that panicked while holding it poisons it,
/// and the writer then stops rather than guess at the ledger's state.
fn lock(ledger: &SharedLedger) -> Result<std::sync::MutexGuard<'_, Ledger>, WriterError> {
    ledger
        .lock()
        .map_err(|_| WriterError::Task("a reader panicked while holding the ledger".into()))
}

/// Takes a batch's validated messages (`validated`: the valid events and
/// the refused), refuses what the service path does not take (`admit`),
/// checks the rest against the ledger (conflicts, clock skew against the
/// stream's timestamp, earlier refusals), and applies what is left with
/// the cursor and the refused events, unsynced. Pure but for the ledger:
/// the same messages and ledger give the same verdicts.
fn prepare(
    ledger: &mut Ledger,
    verdicts: (Vec<Candidate>, Vec<Refused>),
    cursor: (&str, u64),
) -> Result<(Prepared, Applied), LedgerError> {
    let (mut candidates, mut refused) = verdicts;
    // Valid events refused, with the reason: remembered with the append.
    let mut remembered: Vec<(Event, String)> = Vec::new();
    // Each round refuses at least one candidate or appends, so this ends.
    let (prepared, outcomes, events) = loop {
        let (admitted, policy) = admit(ledger, candidates)?;
        for (index, event, reason) in policy {
            refuse(&mut refused, &mut remembered, index, event, reason, true);
        }
        let mut indexes = Vec::with_capacity(admitted.len());
        let mut events = Vec::with_capacity(admitted.len());
        let mut received = Vec::with_capacity(admitted.len());
        for (index, event, at) in admitted {
            indexes.push(index);
            events.push(event);
            received.push(at);
        }
        let refusals: Vec<(&Event, String)> =
            remembered.iter().map(|(e, r)| (e, r.clone())).collect();
        let options = AppendOptions {
            now_micros: now_micros(),
            skew: SkewClock::Received(&received),
            cursor: Some(cursor),
            refused: &refusals,
        };
        match ledger.prepare_with(&events, options) {
            Ok((prepared, outcomes)) => break (prepared, outcomes, events),
            Err(LedgerError::Rejected(rejected)) => {
                let admitted = indexes.into_iter().zip(events).zip(received);
                let admitted = admitted.map(|((index, event), at)| (index, event, at));
                candidates = Vec::with_capacity(rejected.len());
                let mut reasons: Vec<Option<Rejection>> = vec![None; admitted.len()];
                for (i, rejection) in rejected {
                    reasons[i] = Some(rejection);
                }
                for (candidate, reason) in admitted.zip(reasons) {
                    match reason {
                        None => candidates.push(candidate),
                        Some(rejection) => {
                            // An earlier refusal is remembered already.
                            let remember = !matches!(rejection, Rejection::RefusedBefore { .. });
                            let (index, event, _) = candidate;
                            let reason = rejection.to_string();
                            let (to, memory) = (&mut refused, &mut remembered);
                            refuse(to, memory, index, event, reason, remember);
                        }
                    }
                }
            }
            Err(error) => return Err(error),
        }
    };
    let mut duplicates = 0;
    let appended: Vec<(u64, Event)> = outcomes
        .iter()
        .zip(events)
        .filter_map(|(outcome, event)| match outcome {
            Outcome::Appended(position) => Some((*position, event)),
            Outcome::Duplicate(_) => {
                duplicates += 1;
                None
            }
        })
        .collect();
    let head = prepared.head();
    let applied = Applied {
        refused,
        appended,
        duplicates,
        head,
        tree_root: None,
    };
    Ok((prepared, applied))
}

/// Commits a prepared batch (after the commit log took it) with the
/// commit log's cursor, unsynced; fills in the head and Merkle root.
fn commit(
    ledger: &mut Ledger,
    prepared: Prepared,
    log_cursor: Option<(&str, u64)>,
    mut applied: Applied,
) -> Result<Applied, LedgerError> {
    let head = ledger.commit_prepared(prepared, log_cursor)?;
    applied.head = head;
    if !applied.appended.is_empty() {
        applied.tree_root = Some(ledger.merkle_root(head.size)?);
    }
    Ok(applied)
}

/// Whether the stream has a consumer named `name`.
async fn consumer_exists(
    stream: &async_nats::jetstream::stream::Stream,
    name: &str,
) -> Result<bool, async_nats::Error> {
    let mut names = stream.consumer_names();
    while let Some(found) = names.next().await {
        if found? == name {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A valid event of a batch: (index in the batch, event, when received).
type Candidate = (usize, Event, i64);

/// The batch's messages as valid events (`Candidate`s) and the refused.
fn validated(inputs: &[Input]) -> (Vec<Candidate>, Vec<Refused>) {
    let mut candidates = Vec::with_capacity(inputs.len());
    let mut refused = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let judged = input
            .received
            .clone()
            .map_err(|error| (subject_tenant(&input.subject).to_owned(), vec![error]))
            .and_then(|received| {
                validate(&input.subject, &input.payload).map(|event| (event, received))
            });
        match judged {
            Ok((event, received)) => candidates.push((index, event, received)),
            Err((tenant, errors)) => refused.push(Refused {
                index,
                tenant,
                errors,
            }),
        }
    }
    (candidates, refused)
}

/// A valid event the service path refuses: (index in the batch, event, why).
type Inadmissible = (usize, Event, String);

/// Splits candidates into those the service path takes and those it
/// refuses, with the reason: a system-only type (`report.issued`, which
/// only the ledger writes), or a tenant with no agreement stored or earlier
/// in the batch (but for its `agreement.published`).
fn admit(
    ledger: &mut Ledger,
    candidates: Vec<Candidate>,
) -> Result<(Vec<Candidate>, Vec<Inadmissible>), LedgerError> {
    let mut admitted = Vec::with_capacity(candidates.len());
    let mut refused = Vec::new();
    let mut agreed_in_batch: HashSet<String> = HashSet::new();
    for (index, event, received) in candidates {
        let kind = event.event_type;
        let reason = if kind.is_system_only() {
            Some(format!(
                "type: {} is written only by the ledger itself (`tla report issue`); \
                 no producer may send it",
                kind.as_str()
            ))
        } else if kind == EventType::AgreementPublished {
            agreed_in_batch.insert(event.tenant.clone());
            None
        } else if !agreed_in_batch.contains(&event.tenant)
            && !ledger.has_agreement(&event.tenant)?
        {
            Some(format!(
                "tenant: {:?} has no agreement; publish its agreement \
                 (`tla agreement publish FILE --tenant {}`) before its events",
                event.tenant, event.tenant
            ))
        } else {
            None
        };
        match reason {
            None => admitted.push((index, event, received)),
            Some(reason) => refused.push((index, event, reason)),
        }
    }
    Ok((admitted, refused))
}

/// Records a refused valid event, and whether to remember it.
fn refuse(
    refused: &mut Vec<Refused>,
    remembered: &mut Vec<(Event, String)>,
    index: usize,
    event: Event,
    reason: String,
    remember: bool,
) {
    refused.push(Refused {
        index,
        tenant: event.tenant.clone(),
        errors: vec![reason.clone()],
    });
    if remember {
        remembered.push((event, reason));
    }
}

/// The subjects a writer's consumer takes: `subjects` (`tla.events.*`, or
/// a partition) and the agreement subjects of the same tenants.
fn filter_subjects(subjects: &[String]) -> Vec<String> {
    let mut out = subjects.to_vec();
    for subject in subjects {
        if let Some(agreements) = nats::agreements_counterpart(subject) {
            if !out.contains(&agreements) {
                out.push(agreements);
            }
        }
    }
    out
}

/// The tenant a subject of the events stream names, or `unknown`.
fn subject_tenant(subject: &str) -> &str {
    nats::tenant_of(subject, nats::EVENTS_PREFIX)
        .or_else(|| nats::tenant_of(subject, nats::AGREEMENTS_PREFIX))
        .unwrap_or("unknown")
}

/// Validates one message: one CloudEvent whose tenant is its subject's.
/// The error carries the tenant to publish the refusal under.
fn validate(subject: &str, payload: &[u8]) -> Result<Event, (String, Vec<String>)> {
    let subject_tenant = subject_tenant(subject);
    let refuse = |errors: Vec<String>| (subject_tenant.to_owned(), errors);
    let mut events = parse_events(payload).map_err(|e| refuse(vec![e.to_string()]))?;
    if events.len() != 1 {
        return Err(refuse(vec![format!(
            "a message holds exactly one CloudEvent, this one {}",
            events.len()
        )]));
    }
    let event = events
        .pop()
        .map(|e| e.result)
        .unwrap_or_else(|| Err(Vec::new()))
        .map_err(|errors| refuse(errors.iter().map(ToString::to_string).collect()))?;
    if event.tenant != subject_tenant {
        return Err(refuse(vec![format!(
            "tenant: {:?}, but the event was published on {subject}",
            event.tenant
        )]));
    }
    let on_agreements = subject.starts_with(nats::AGREEMENTS_PREFIX);
    match (event.event_type.changes_agreement(), on_agreements) {
        (true, false) => Err(refuse(vec![format!(
            "type: {} arrived on {subject}, which producers publish to; agreement events are \
             taken only from {}{}, which only the service publishes after checking the \
             token's types (send it over HTTP with a token whose `types` name it)",
            event.type_name(),
            nats::AGREEMENTS_PREFIX,
            event.tenant
        )])),
        (false, true) => Err(refuse(vec![format!(
            "type: {} arrived on {subject}, which carries agreement events only",
            event.type_name()
        )])),
        _ => Ok(event),
    }
}

/// The ledger clock: microseconds since the Unix epoch.
pub use schemas::clock::now_micros;
