//! The ledger writer: a durable JetStream pull consumer that makes events
//! durable in the ledger and only then acknowledges them.
//!
//! Each batch (whatever messages are ready, up to `BATCH_MESSAGES_MAX`) is
//! handled in this order, so that a crash at any point loses nothing and
//! duplicates nothing:
//!
//! 1. every message is validated again (producers may publish to NATS
//!    directly), and its tenant checked against its subject; the valid
//!    events are checked against the ledger (conflicts, clock skew);
//! 2. the rest is applied as one atomic append, together with the consumer
//!    cursor (the batch's highest stream sequence) in the same sled batch,
//!    and synced with one flush;
//! 3. once the flush returned, the refused ones are published to
//!    `tla.rejected.<tenant>` with their errors, and JetStream's
//!    acknowledgement awaited (the `Nats-Msg-Id` is the stream sequence, so
//!    a repeat after a crash is dropped);
//! 4. the refused messages are terminated (`AckKind::Term`: never
//!    redelivered), every other one acknowledged, the last with a double
//!    acknowledgement that waits for the server's confirmation.
//!
//! Batches are pipelined like `Ledger::append_pipelined`: batch N+1 is
//! validated and applied while batch N's flush runs on another thread, and
//! N is acknowledged only after its own flush returned, so the CPU work
//! and the fsync overlap without acknowledging anything early.
//!
//! A crash before 4 means redelivery: the messages are appended again,
//! which the ledger's idempotency on (`source`, `id`) turns into
//! duplicates, and refused ones are refused again. The cursor records the
//! highest stream sequence made durable (for lag and for operators); it is
//! not used to skip redeliveries, because after a restart JetStream may
//! deliver new messages before it redelivers older unacknowledged ones, so
//! a sequence below the cursor is not proof of durability. NATS going away
//! (a restart) makes the consumer stream fail; the writer finishes the
//! batch in flight and recreates the stream with backoff. A ledger failure
//! is fatal: the writer stops, and whoever supervises it restarts it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::Context;
use async_nats::jetstream::{AckKind, Message};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use ledger::{Head, Ledger, LedgerError, Outcome};
use schemas::input::parse_events;
use schemas::Event;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::nats;

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

/// How long the writer waits for a message before looking at the shutdown
/// signal and the consumer's health again.
pub const IDLE_POLL: Duration = Duration::from_millis(500);

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
        size > signed && (size - signed >= self.every_entries || since >= self.every)
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

/// Runs the writer until `shutdown` turns true (finishing the batch in
/// hand) or the ledger fails. `durable` hears of every durable batch.
pub async fn run(
    ledger: SharedLedger,
    client: async_nats::Client,
    config: Config,
    metrics: Arc<Metrics>,
    durable: impl Fn(Durable) + Send + Sync + 'static,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WriterError> {
    let (size, signed, cursor, syncer) = {
        let ledger = lock(&ledger)?;
        let signed = ledger.latest_checkpoint()?.map_or(0, |(size, _)| size);
        let cursor = ledger.cursor(&config.consumer)?.unwrap_or(0);
        (ledger.size(), signed, cursor, ledger.syncer())
    };
    metrics.ledger_size.store(size, Ordering::Relaxed);
    let mut writer = Writer {
        checkpointed: (signed, std::time::Instant::now()),
        size,
        cursor,
        ledger,
        syncer,
        jetstream: nats::jetstream(client.clone()),
        client,
        config,
        metrics,
        in_flight: None,
        acking: None,
    };
    writer
        .metrics
        .durable_sequence
        .store(writer.cursor, Ordering::Relaxed);
    tracing::info!(consumer = %writer.config.consumer, cursor = writer.cursor, "ledger writer starting");
    let mut failures: u32 = 0;
    while !*shutdown.borrow() {
        match writer.consume(&durable, &mut shutdown).await {
            Ok(()) => break,
            Err(Stop::Fatal(error)) => return Err(error),
            Err(Stop::Transient(error)) => {
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
    tracing::info!(cursor = writer.cursor, "ledger writer stopped");
    Ok(())
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

struct Writer {
    ledger: SharedLedger,
    /// Makes what was applied durable, without the ledger's lock.
    syncer: ledger::Syncer,
    /// The ledger's size after the last apply.
    size: u64,
    client: async_nats::Client,
    jetstream: Context,
    config: Config,
    metrics: Arc<Metrics>,
    /// The last stream sequence the ledger holds durably.
    cursor: u64,
    /// The batch applied and being synced, not yet acknowledged.
    in_flight: Option<InFlight>,
    /// The acknowledgements of the last durable batch, under way.
    acking: Option<tokio::task::JoinHandle<Result<(), Transient>>>,
    /// The size of the last signed checkpoint, and when it was signed.
    checkpointed: (u64, std::time::Instant),
}

/// An apply under way on a blocking thread, holding the ledger.
type Applying = tokio::task::JoinHandle<Result<Applied, WriterError>>;

/// Each message's (stream sequence, pending count).
type Sequences = Vec<(u64, u64)>;

/// One refused message and why.
struct Refused {
    index: usize,
    tenant: String,
    errors: Vec<String>,
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
    batch: Vec<Message>,
    /// (stream sequence, pending) of each message.
    sequences: Vec<(u64, u64)>,
    applied: Applied,
    /// The batch's highest stream sequence, stored as the cursor.
    last_sequence: u64,
    sync: tokio::task::JoinHandle<Result<(), LedgerError>>,
}

impl Writer {
    async fn consumer(&self) -> Result<PullConsumer, Transient> {
        let stream = self
            .jetstream
            .get_stream(nats::EVENTS_STREAM)
            .await
            .map_err(|e| Transient(format!("stream {}: {e}", nats::EVENTS_STREAM)))?;
        let config = pull::Config {
            durable_name: Some(self.config.consumer.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: ACK_PENDING_MAX,
            deliver_policy: DeliverPolicy::All,
            // Redelivered until acknowledged or terminated, never dropped.
            max_deliver: -1,
            filter_subjects: self.config.subjects.clone(),
            ..Default::default()
        };
        stream
            .get_or_create_consumer(&self.config.consumer, config)
            .await
            .map_err(|e| Transient(format!("consumer {}: {e}", self.config.consumer)))
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
            Ok(()) => self.acknowledged().await,
            Err(e) => Err(e),
        };
        match (consumed, finished) {
            (Err(Stop::Fatal(e)), _) | (_, Err(Stop::Fatal(e))) => Err(Stop::Fatal(e)),
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// The pipeline: batch N+1 is validated and applied while batch N is
    /// being synced; N is acknowledged once its sync returned. When no
    /// message is ready, the batch in flight is finished at once rather
    /// than waiting for the next one.
    async fn consume_batches(
        &mut self,
        durable: &(impl Fn(Durable) + Send + Sync),
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        let consumer = self.consumer().await?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(BATCH_MESSAGES_MAX)
            .heartbeat(PULL_HEARTBEAT)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| Transient(format!("pull: {e}")))?;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let ready = match self.in_flight {
                Some(_) => messages.next().now_or_never(),
                None => None,
            };
            let first = match ready {
                Some(next) => next,
                None => {
                    self.finish(durable).await?;
                    let next = tokio::select! {
                        next = tokio::time::timeout(IDLE_POLL, messages.next()) => next,
                        _ = shutdown.changed() => return Ok(()),
                    };
                    match next {
                        Err(_) => {
                            // Idle: a checkpoint may be due by time.
                            self.checkpoint().await?;
                            continue;
                        }
                        Ok(next) => next,
                    }
                }
            };
            let first = match first {
                None => return Err(Transient("the consumer stream ended".into()).into()),
                Some(Err(e)) => return Err(Transient(format!("receiving: {e}")).into()),
                Some(Ok(message)) => message,
            };
            let batch = self.gather(first, &mut messages).await;
            let (applying, sequences, last_sequence) = self.start_apply(&batch)?;
            // The previous batch's sync ran while this one was gathered, and
            // its acknowledgements go out while this one is applied.
            let finished = self.finish(durable).await;
            let applied = self.join_apply(applying).await;
            finished?;
            let applied = applied?;
            self.checkpoint().await?;
            let syncer = self.syncer.clone();
            self.in_flight = Some(InFlight {
                batch,
                sequences,
                applied,
                last_sequence,
                sync: tokio::task::spawn_blocking(move || syncer.sync()),
            });
        }
    }

    /// A batch starting with `first`: what is ready joins it, and while
    /// messages keep coming it waits for more, for `BATCH_LINGER` or as
    /// long as the previous batch's flush runs (a group commit: one flush
    /// for everything that arrived during the last one), up to
    /// `BATCH_MESSAGES_MAX`. A quiet stream sends what it has at once.
    async fn gather(&self, first: Message, messages: &mut pull::Stream) -> Vec<Message> {
        let started = std::time::Instant::now();
        let mut batch = vec![first];
        while batch.len() < BATCH_MESSAGES_MAX {
            let next = match messages.next().now_or_never() {
                Some(next) => next,
                None => {
                    let syncing = self
                        .in_flight
                        .as_ref()
                        .is_some_and(|f| !f.sync.is_finished());
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

    /// Starts steps 1 and 2 but the flush (module doc) on a blocking
    /// thread, which takes the ledger until `join_apply`: validates, checks
    /// against the ledger, and applies the valid events with the cursor,
    /// not yet synced.
    fn start_apply(&mut self, batch: &[Message]) -> Result<(Applying, Sequences, u64), Stop> {
        let mut sequences = Vec::with_capacity(batch.len());
        for message in batch {
            let info = message
                .info()
                .map_err(|e| Transient(format!("message metadata: {e}")))?;
            sequences.push((info.stream_sequence, info.pending));
        }
        let last_sequence = sequences.iter().map(|s| s.0).max().unwrap_or(self.cursor);
        let inputs: Vec<(String, Bytes)> = batch
            .iter()
            .map(|m| (m.subject.to_string(), m.payload.clone()))
            .collect();
        let ledger = Arc::clone(&self.ledger);
        let name = self.config.consumer.clone();
        let applying = tokio::task::spawn_blocking(move || {
            let mut ledger = lock(&ledger)?;
            Ok(apply(&mut ledger, &inputs, (&name, last_sequence))?)
        });
        Ok((applying, sequences, last_sequence))
    }

    /// Signs, stores and publishes a checkpoint when the policy says one is
    /// due. The ledger may hold an applied batch whose own sync is still
    /// under way: storing the checkpoint syncs it too, so a stored
    /// checkpoint never covers entries a crash could lose. A publish that
    /// fails is logged; the checkpoint stays in the ledger
    /// (`tla checkpoint --latest`) and the next one is published.
    async fn checkpoint(&mut self) -> Result<(), Stop> {
        let Some(policy) = self.config.checkpoints.clone() else {
            return Ok(());
        };
        let size = self.size;
        let (signed, at) = self.checkpointed;
        if !policy.due(size, signed, at.elapsed()) {
            return Ok(());
        }
        let ledger = Arc::clone(&self.ledger);
        let signer = Arc::clone(&policy.signer);
        let note = tokio::task::spawn_blocking(move || -> Result<String, WriterError> {
            Ok(lock(&ledger)?.sign_checkpoint(&signer)?)
        })
        .await
        .map_err(|e| WriterError::Task(e.to_string()))??;
        self.checkpointed = (size, std::time::Instant::now());
        tracing::info!(size, key = policy.signer.name(), "signed a checkpoint");
        let msg_id = format!("{}/{size}", policy.signer.name());
        let subject = nats::CHECKPOINTS_SUBJECT.to_owned();
        if let Err(error) =
            nats::publish_acked(&self.jetstream, subject, msg_id, Bytes::from(note)).await
        {
            tracing::warn!(%error, size, "the checkpoint is stored but was not published");
        }
        Ok(())
    }

    /// Waits for an apply.
    async fn join_apply(&mut self, applying: Applying) -> Result<Applied, Stop> {
        let applied = applying
            .await
            .map_err(|e| WriterError::Task(e.to_string()))??;
        self.size = applied.head.size;
        Ok(applied)
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
        self.cursor = self.cursor.max(in_flight.last_sequence);
        let InFlight {
            batch,
            sequences,
            applied,
            ..
        } = in_flight;
        self.count(batch.len(), &applied, sequences.last());
        let Applied {
            refused,
            appended,
            head,
            tree_root,
            ..
        } = applied;
        if let (false, Some(tree_root)) = (appended.is_empty(), tree_root) {
            durable(Durable {
                appended,
                head,
                tree_root,
            });
        }
        self.acknowledged().await?;
        let (jetstream, client) = (self.jetstream.clone(), self.client.clone());
        self.acking = Some(tokio::spawn(async move {
            publish_refused(&jetstream, &batch, &sequences, &refused).await?;
            acknowledge(&client, &batch, &refused).await
        }));
        Ok(())
    }

    /// Waits for the acknowledgements under way.
    async fn acknowledged(&mut self) -> Result<(), Stop> {
        match self.acking.take() {
            Some(acking) => Ok(acking
                .await
                .map_err(|e| Transient(format!("acknowledging: {e}")))??),
            None => Ok(()),
        }
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
        m.durable_sequence.store(self.cursor, Ordering::Relaxed);
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
    batch: &[Message],
    sequences: &[(u64, u64)],
    refused: &[Refused],
) -> Result<(), Transient> {
    let publishes = refused.iter().map(|r| {
        let message = &batch[r.index];
        let sequence = sequences[r.index].0;
        let document = serde_json::json!({
            "subject": message.subject.as_str(),
            "stream_sequence": sequence,
            "errors": r.errors,
            "event": String::from_utf8_lossy(&message.payload),
        });
        let subject = format!("{}{}", nats::REJECTED_PREFIX, r.tenant);
        let msg_id = format!("rejected-{sequence}");
        let payload = Bytes::from(document.to_string());
        nats::publish_acked(jetstream, subject, msg_id, payload)
    });
    for result in futures::future::join_all(publishes).await {
        result.map_err(|e| Transient(format!("publishing a refused event: {e}")))?;
    }
    for r in refused {
        tracing::info!(subject = %batch[r.index].subject, errors = ?r.errors, "event refused");
    }
    Ok(())
}

/// Terminates the refused messages, acknowledges the others, and
/// double-acknowledges the last one: its confirmation comes after the
/// server handled every earlier acknowledgement of this connection.
async fn acknowledge(
    client: &async_nats::Client,
    batch: &[Message],
    refused: &[Refused],
) -> Result<(), Transient> {
    let mut terminate = vec![false; batch.len()];
    for r in refused {
        terminate[r.index] = true;
    }
    let failed = |e: async_nats::Error| Transient(format!("acknowledging: {e}"));
    let Some((last, rest)) = batch.split_last() else {
        return Ok(());
    };
    for (message, term) in rest.iter().zip(&terminate) {
        let kind = if *term { AckKind::Term } else { AckKind::Ack };
        message.ack_with(kind).await.map_err(failed)?;
    }
    if terminate[batch.len() - 1] {
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

/// The ledger's lock; a reader that panicked while holding it poisons it,
/// and the writer then stops rather than guess at the ledger's state.
fn lock(ledger: &SharedLedger) -> Result<std::sync::MutexGuard<'_, Ledger>, WriterError> {
    ledger
        .lock()
        .map_err(|_| WriterError::Task("a reader panicked while holding the ledger".into()))
}

/// Validates a batch's messages, checks the valid events against the
/// ledger (conflicts and clock skew join the refused), and applies the
/// rest with the cursor, unsynced. Pure but for the ledger.
fn apply(
    ledger: &mut Ledger,
    inputs: &[(String, Bytes)],
    cursor: (&str, u64),
) -> Result<Applied, LedgerError> {
    let mut refused = Vec::new();
    let mut events = Vec::with_capacity(inputs.len());
    let mut indexes = Vec::with_capacity(inputs.len());
    for (index, (subject, payload)) in inputs.iter().enumerate() {
        match validate(subject, payload) {
            Ok(event) => {
                events.push(event);
                indexes.push(index);
            }
            Err((tenant, errors)) => refused.push(Refused {
                index,
                tenant,
                errors,
            }),
        }
    }
    // The append checks the batch itself and applies nothing when it
    // refuses an event; the refused ones leave and the rest is tried again.
    let outcomes = loop {
        match ledger.append_unsynced_with_cursor(&events, now_micros(), Some(cursor)) {
            Ok(outcomes) => break outcomes,
            Err(LedgerError::Rejected(rejected)) => {
                let mut drop = vec![false; events.len()];
                for (i, rejection) in rejected {
                    drop[i] = true;
                    refused.push(Refused {
                        index: indexes[i],
                        tenant: events[i].tenant.clone(),
                        errors: vec![rejection.to_string()],
                    });
                }
                let mut keep = drop.iter().map(|d| !d);
                events.retain(|_| keep.next().unwrap_or(true));
                let mut keep = drop.iter().map(|d| !d);
                indexes.retain(|_| keep.next().unwrap_or(true));
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
    let head = ledger.head();
    let tree_root = if appended.is_empty() {
        None
    } else {
        Some(ledger.merkle_root(head.size)?)
    };
    Ok(Applied {
        refused,
        appended,
        duplicates,
        head,
        tree_root,
    })
}

/// Validates one message: one CloudEvent whose tenant is its subject's.
/// The error carries the tenant to publish the refusal under.
fn validate(subject: &str, payload: &[u8]) -> Result<Event, (String, Vec<String>)> {
    let subject_tenant = nats::tenant_of(subject, nats::EVENTS_PREFIX).unwrap_or("unknown");
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
    Ok(event)
}

/// The ledger clock: microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}
