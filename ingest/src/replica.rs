//! The ledger's commit log on JetStream: what makes the ledger a
//! replicated system of record (docs/OPERATIONS.md, "The replicated
//! ledger"; issue 13).
//!
//! The stream `TLA_LEDGER` holds, on the subject `tla.ledger.<consumer>`
//! of each ledger writer's durable consumer, the ledger's records exactly
//! as hashed, one message per append (`ledger::replicate::Segment`, split
//! when an append is larger than `SEGMENT_BYTES_MAX`). JetStream
//! replicates the stream with Raft; no consensus of ours is involved.
//!
//! - **The writer** (`CommitLog`) prepares each append against its head,
//!   publishes its segments with `Nats-Expected-Last-Subject-Sequence`
//!   set to the last message it knows on its subject, and applies the
//!   append locally only after JetStream acknowledged them. A publish
//!   refused for a wrong last sequence means another writer extended the
//!   log: this one was replaced, and stops writing (`LogError::Fenced`).
//!   So the stream decides what is committed, and two writers never both
//!   extend the chain.
//! - **Followers** (`Follower`: replicas, standbys, restores, and a writer
//!   catching up at start) apply the log in stream order, each record
//!   checked by `Ledger::apply_segment` (position, both chains, the
//!   writer's hash, the canonical form), with the stream sequence stored
//!   as the cursor `cursor_name(consumer)` in the same batch. A record that
//!   does not check stops the follower, naming its position; nothing after
//!   it is applied.
//! - **Checkpoints** the writer signs are published on `tla.checkpoints`
//!   with the ledger id in `LEDGER_ID_HEADER`; followers store those of
//!   their ledger once they hold as many entries, after checking the root
//!   against their own tree (a mismatch stops them).
//!
//! Correctness needs no clock: fencing is JetStream's compare-and-set on
//! the subject's last sequence. The lease (`lease`) only decides which
//! standby tries to write.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use ledger::replicate::Segment;
use ledger::{Head, LedgerError, ReplicaError};
use schemas::Event;
use tokio::sync::watch;

use crate::nats;
use crate::writer::{Durable, SharedLedger};

/// Largest segment payload: under NATS's default `max_payload` of 1 MiB,
/// with room for the encoding's framing and the headers.
pub const SEGMENT_BYTES_MAX: usize = 768 << 10;

/// Header naming the ledger (its id in hex) on published checkpoints.
pub const LEDGER_ID_HEADER: &str = "Tla-Ledger-Id";

/// Commit-log messages a follower applies as one batch (one sync).
pub const FOLLOW_BATCH_MAX: usize = 64;

/// How often a follower that keeps applying looks for new checkpoints.
pub const CHECKPOINT_LOOK_EVERY: Duration = Duration::from_secs(1);

/// How long a follower waits for a message before looking at its
/// shutdown signal and the checkpoints again.
pub const FOLLOW_IDLE: Duration = Duration::from_millis(250);

/// Most bytes of commit-log messages a follower asks for at once: well
/// under nats-server's default 64 MiB of data pending to one client, past
/// which the server drops that client's messages as a slow consumer. (An
/// ordered consumer asks for 500 messages whatever their size: 500
/// segments of up to 768 KiB each did that, and the follower then slowed
/// to a crawl or waited for good.)
pub const FOLLOW_PULL_BYTES_MAX: usize = 16 << 20;

/// How long the server keeps a follower's consumer with no request from
/// it: longer than applying the largest batch takes.
pub const FOLLOW_CONSUMER_IDLE_MAX: Duration = Duration::from_secs(60);

/// The commit-log subject of the ledger fed by `consumer`.
pub fn subject(consumer: &str) -> String {
    format!("{}{consumer}", nats::LEDGER_PREFIX)
}

/// The name of the cursor a ledger stores its commit-log position under.
pub fn cursor_name(consumer: &str) -> String {
    format!("{}/{consumer}", nats::LEDGER_STREAM)
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(
        "another writer extended the commit log {subject} (this writer expected its last \
         message at stream sequence {expected}): this writer was replaced and stops writing"
    )]
    Fenced { subject: String, expected: u64 },
    #[error("the commit log {subject} is unavailable: {detail}")]
    Unavailable { subject: String, detail: String },
    #[error(
        "the commit log {subject} ends at stream sequence {last}, before sequence {cursor} \
         that this ledger applied: messages were lost from the stream; refusing to write \
         (see \"Losing a machine\" in docs/OPERATIONS.md)"
    )]
    Behind {
        subject: String,
        last: u64,
        cursor: u64,
    },
    #[error("commit log {subject}, stream sequence {sequence}: {source}")]
    Refused {
        subject: String,
        sequence: u64,
        source: ReplicaError,
    },
    #[error(
        "checkpoint of size {size} from the commit log's writer does not match this ledger: \
         {source}"
    )]
    Checkpoint { size: u64, source: LedgerError },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger task failed: {0}")]
    Task(String),
}

impl LogError {
    fn unavailable(subject: &str, detail: impl std::fmt::Display) -> LogError {
        LogError::Unavailable {
            subject: subject.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// Whether retrying later may help (NATS unreachable), as opposed to a
    /// refusal that stops the follower or writer for good.
    pub fn is_transient(&self) -> bool {
        matches!(self, LogError::Unavailable { .. } | LogError::Task(_))
    }
}

fn lock(ledger: &SharedLedger) -> Result<std::sync::MutexGuard<'_, ledger::Ledger>, LogError> {
    ledger
        .lock()
        .map_err(|_| LogError::Task("a reader panicked while holding the ledger".into()))
}

/// The last message on the commit log of `consumer`: its stream sequence
/// and segment; `None` when the log has no message.
pub async fn last(jetstream: &Context, consumer: &str) -> Result<Option<(u64, Segment)>, LogError> {
    let subject = subject(consumer);
    let stream = jetstream
        .get_stream(nats::LEDGER_STREAM)
        .await
        .map_err(|e| LogError::unavailable(&subject, e))?;
    match stream.get_last_raw_message_by_subject(&subject).await {
        Ok(message) => {
            let segment =
                Segment::decode(&message.payload).map_err(|detail| LogError::Refused {
                    subject: subject.clone(),
                    sequence: message.sequence,
                    source: ReplicaError::Refused {
                        position: 0,
                        detail,
                    },
                })?;
            Ok(Some((message.sequence, segment)))
        }
        Err(error)
            if error.kind()
                == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
        {
            Ok(None)
        }
        Err(error) => Err(LogError::unavailable(&subject, error)),
    }
}

/// The writer's side: publishes appends with the fencing header.
pub struct CommitLog {
    jetstream: Context,
    consumer: String,
    subject: String,
    /// Stream sequence of the last message on the subject, as this writer
    /// knows it (0: none).
    last: u64,
    ledger_id: [u8; 16],
    writer: [u8; 16],
}

impl CommitLog {
    /// The commit log of `consumer`'s ledger (`ledger_id`), whose last
    /// message is at stream sequence `last` (0: none).
    pub fn new(jetstream: Context, consumer: &str, last: u64, ledger_id: [u8; 16]) -> CommitLog {
        CommitLog {
            jetstream,
            consumer: consumer.to_owned(),
            subject: subject(consumer),
            last,
            ledger_id,
            writer: rand::random(),
        }
    }

    pub fn ledger_id(&self) -> [u8; 16] {
        self.ledger_id
    }

    pub fn writer(&self) -> [u8; 16] {
        self.writer
    }

    /// The stream sequence of the last message on the subject, as this
    /// writer knows it (0: none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// `publish`, expecting the log's last message at `expected` (what
    /// the writer's pipeline decided; the same as `last` unless the shell
    /// and the pipeline disagree).
    pub async fn publish_after(
        &mut self,
        expected: u64,
        segments: &[Segment],
    ) -> Result<u64, LogError> {
        self.last = expected;
        self.publish(segments).await
    }

    /// Publishes segments in order, each acknowledged before the next;
    /// returns the stream sequence of the last. A retry of a message
    /// JetStream stored (its acknowledgement lost) is recognised by its
    /// `Nats-Msg-Id` (the segment's BLAKE3) and not stored twice.
    pub async fn publish(&mut self, segments: &[Segment]) -> Result<u64, LogError> {
        for segment in segments {
            let payload = Bytes::from(segment.encode());
            let msg_id = format!(
                "{}/{}",
                self.consumer,
                &blake3::hash(&payload).to_hex()[..32]
            );
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", msg_id.as_str());
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                self.last.to_string().as_str(),
            );
            let ack = self
                .jetstream
                .publish_with_headers(self.subject.clone(), headers, payload)
                .await
                .map_err(|e| LogError::unavailable(&self.subject, e))?
                .await;
            match ack {
                Ok(ack) => self.last = ack.sequence,
                Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                    return Err(LogError::Fenced {
                        subject: self.subject.clone(),
                        expected: self.last,
                    })
                }
                Err(error) => return Err(LogError::unavailable(&self.subject, error)),
            }
        }
        Ok(self.last)
    }
}

/// How long a follower follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Until it holds the log's last message as of the start (a restore,
    /// or a writer catching up before it writes).
    CaughtUp,
    /// Until shutdown (a replica, a standby).
    Shutdown,
}

/// Applies the commit log of `consumer` into a ledger.
pub struct Follower {
    pub ledger: SharedLedger,
    pub jetstream: Context,
    pub consumer: String,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Whether to store the writer's checkpoints as the ledger reaches
    /// them (replicas and restores). A writer catching up at start does
    /// not: it stores the checkpoints it signs, and reading every
    /// checkpoint ever published would slow each of its starts.
    pub checkpoints: bool,
}

/// What a follow ended with: the head and the cursor (stream sequence).
#[derive(Debug, Clone, Copy)]
pub struct Followed {
    pub head: Head,
    pub cursor: u64,
}

impl Follower {
    /// Applies the log from the ledger's cursor on, telling `durable` of
    /// each batch once synced, until `until` (or shutdown). Checkpoints of
    /// the ledger are stored as the ledger reaches them.
    pub async fn follow(
        &self,
        until: Until,
        durable: &(impl Fn(Durable) + Send + Sync),
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Followed, LogError> {
        let subject = subject(&self.consumer);
        let cursor_name = cursor_name(&self.consumer);
        let cursor = lock(&self.ledger)?.cursor(&cursor_name)?.unwrap_or(0);
        let target = match until {
            Until::CaughtUp => last(&self.jetstream, &self.consumer)
                .await?
                .map_or(0, |(sequence, _)| sequence),
            Until::Shutdown => u64::MAX,
        };
        if until == Until::CaughtUp && target < cursor {
            return Err(LogError::Behind {
                subject,
                last: target,
                cursor,
            });
        }
        let mut checkpoints = Checkpoints::new(self.checkpoints);
        let mut followed = Followed {
            head: lock(&self.ledger)?.head(),
            cursor,
        };
        if followed.cursor >= target {
            checkpoints.store(&self.ledger, &self.jetstream).await?;
            return Ok(followed);
        }
        let stream = self
            .jetstream
            .get_stream(nats::LEDGER_STREAM)
            .await
            .map_err(|e| LogError::unavailable(&subject, e))?;
        let mut reader = Reader {
            stream,
            subject: subject.clone(),
            consumer: None,
            next: cursor + 1,
            delivered: 0,
        };
        let syncer = lock(&self.ledger)?.syncer();
        // Each batch syncs while the next one is pulled and applied; a
        // batch counts (cursor, metrics, `durable`) once its sync returned.
        let mut syncing: Option<Syncing> = None;
        // The next batch, pulled while the one before was applied.
        let mut pulled: Option<Result<_, LogError>> = None;
        loop {
            if *shutdown.borrow() {
                self.finish(&mut syncing, durable).await?;
                return Ok(followed);
            }
            let batch = match pulled.take() {
                Some(batch) => batch,
                None => tokio::select! {
                    batch = reader.next_batch() => batch,
                    _ = shutdown.changed() => continue,
                },
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(error) => {
                    self.finish(&mut syncing, durable).await?;
                    return Err(error);
                }
            };
            if batch.is_empty() {
                self.finish(&mut syncing, durable).await?;
                checkpoints.store(&self.ledger, &self.jetstream).await?;
                continue;
            }
            let mut inputs = Vec::with_capacity(batch.len());
            let mut pending = 0;
            for message in &batch {
                let info = message
                    .info()
                    .map_err(|e| LogError::unavailable(&subject, e))?;
                pending = info.pending;
                inputs.push((info.stream_sequence, message.payload.clone()));
            }
            let last_sequence = inputs.last().map_or(followed.cursor, |i| i.0);
            let ledger = std::sync::Arc::clone(&self.ledger);
            let (name, log) = (cursor_name.clone(), subject.clone());
            let applying =
                tokio::task::spawn_blocking(move || apply(&ledger, &inputs, &name, &log));
            // While messages wait in the log, the next batch is pulled as
            // this one is applied (caught up, the pull would only wait).
            let applied = if pending > 0 && last_sequence < target {
                let (applied, next) = tokio::join!(applying, reader.next_batch());
                pulled = Some(next);
                applied
            } else {
                applying.await
            }
            .map_err(|e| LogError::Task(e.to_string()));
            // The batch before is durable first, also when this one was
            // refused (its good messages were synced by `apply`).
            self.finish(&mut syncing, durable).await?;
            let applied = applied??;
            followed = Followed {
                head: applied.head,
                cursor: last_sequence,
            };
            let syncer = syncer.clone();
            syncing = Some(Syncing {
                sync: tokio::task::spawn_blocking(move || syncer.sync()),
                applied,
                sequence: last_sequence,
                pending,
            });
            if followed.cursor >= target {
                self.finish(&mut syncing, durable).await?;
                checkpoints.store(&self.ledger, &self.jetstream).await?;
                return Ok(followed);
            }
            if checkpoints.due() {
                // Checkpoints are stored over durable entries only.
                self.finish(&mut syncing, durable).await?;
                checkpoints.store(&self.ledger, &self.jetstream).await?;
            }
        }
    }
}

/// The commit log's messages from a stream sequence on, in order, in
/// batches of at most `FOLLOW_BATCH_MAX` messages and
/// `FOLLOW_PULL_BYTES_MAX` bytes, through a consumer of the follower's own.
/// A message missing on the way (a pull cut short, a consumer lost)
/// starts a new consumer after the last message handed out, so the
/// follower never sees a gap the log does not have.
struct Reader {
    stream: async_nats::jetstream::stream::Stream,
    subject: String,
    consumer: Option<async_nats::jetstream::consumer::PullConsumer>,
    /// The stream sequence of the next message to hand out.
    next: u64,
    /// The consumer sequence of the last message handed out (0: none yet
    /// from the current consumer).
    delivered: u64,
}

impl Reader {
    /// The messages there are now (none after `FOLLOW_IDLE` without one).
    async fn next_batch(&mut self) -> Result<Vec<async_nats::jetstream::Message>, LogError> {
        let consumer = match self.consumer.take() {
            Some(consumer) => consumer,
            None => self.start().await?,
        };
        // What is there now; when nothing is, wait a moment for one.
        let mut pulled = collect(
            consumer
                .fetch()
                .max_messages(FOLLOW_BATCH_MAX)
                .max_bytes(FOLLOW_PULL_BYTES_MAX)
                .expires(FOLLOW_IDLE)
                .messages()
                .await,
        )
        .await;
        if matches!(&pulled, Ok(messages) if messages.is_empty()) {
            pulled = collect(
                consumer
                    .batch()
                    .max_messages(1)
                    .expires(FOLLOW_IDLE)
                    .messages()
                    .await,
            )
            .await;
        }
        let messages = match pulled {
            Ok(messages) => messages,
            Err(error) => {
                // The next call starts a new consumer; not at once, so a
                // lasting failure does not spin.
                tracing::debug!(%error, subject = %self.subject, "pulling the commit log failed; starting over");
                tokio::time::sleep(FOLLOW_IDLE).await;
                return Ok(Vec::new());
            }
        };
        self.consumer = Some(consumer);
        let mut taken = Vec::with_capacity(messages.len());
        for message in messages {
            let (consumer_sequence, stream_sequence) = {
                let info = message
                    .info()
                    .map_err(|e| LogError::unavailable(&self.subject, e))?;
                (info.consumer_sequence, info.stream_sequence)
            };
            if consumer_sequence != self.delivered + 1 {
                tracing::debug!(
                    expected = self.delivered + 1,
                    got = consumer_sequence,
                    subject = %self.subject,
                    "a commit-log message went missing on the way; starting over after the last one"
                );
                self.consumer = None;
                break;
            }
            self.delivered = consumer_sequence;
            self.next = stream_sequence + 1;
            taken.push(message);
        }
        Ok(taken)
    }

    /// A new consumer from `next` on.
    async fn start(&mut self) -> Result<async_nats::jetstream::consumer::PullConsumer, LogError> {
        self.delivered = 0;
        self.stream
            .create_consumer(pull::Config {
                filter_subject: self.subject.clone(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: self.next,
                },
                ack_policy: AckPolicy::None,
                inactive_threshold: FOLLOW_CONSUMER_IDLE_MAX,
                ..Default::default()
            })
            .await
            .map_err(|e| LogError::unavailable(&self.subject, e))
    }
}

/// The messages of one pull. A pull that ends in an error after some
/// messages (the server stops it when the next message would pass its
/// byte limit) keeps them; one that ends in an error before any fails.
async fn collect(
    pull: Result<pull::Batch, pull::BatchError>,
) -> Result<Vec<async_nats::jetstream::Message>, String> {
    let mut pull = pull.map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    while let Some(next) = pull.next().await {
        match next {
            Ok(message) => messages.push(message),
            Err(error) if messages.is_empty() => return Err(error.to_string()),
            Err(_) => break,
        }
    }
    Ok(messages)
}

/// Applies commit-log messages (stream sequence, payload) without syncing;
/// returns what the caller makes durable with the next sync. The events
/// are read from the applied records and parsed after the ledger's lock
/// is released. A refused message stops at itself: the messages before it
/// are applied and synced, and the error names it.
fn apply(
    ledger: &SharedLedger,
    inputs: &[(u64, Bytes)],
    cursor_name: &str,
    subject: &str,
) -> Result<Durable, LogError> {
    let mut records: Vec<Vec<u8>> = Vec::new();
    let (head, tree_root) = {
        let mut ledger = lock(ledger)?;
        let mut refused = None;
        for (sequence, payload) in inputs {
            let result = Segment::decode(payload)
                .map_err(|detail| ReplicaError::Refused {
                    position: ledger.size(),
                    detail,
                })
                .and_then(|segment| {
                    let applied = ledger.apply_segment(&segment, (cursor_name, *sequence))?;
                    let skip = segment.records.len() - applied.applied as usize;
                    records.extend(segment.records.into_iter().skip(skip).map(|(r, _)| r));
                    Ok(())
                });
            if let Err(source) = result {
                refused = Some(LogError::Refused {
                    subject: subject.to_owned(),
                    sequence: *sequence,
                    source,
                });
                break;
            }
        }
        if let Some(error) = refused {
            ledger.syncer().sync()?;
            return Err(error);
        }
        let head = ledger.head();
        (head, ledger.merkle_root(head.size)?)
    };
    let mut appended = Vec::with_capacity(records.len());
    for bytes in &records {
        let fields =
            ledger::record::Fields::decode(bytes).map_err(|error| LedgerError::Corrupt {
                position: head.size,
                detail: format!("an applied record does not decode: {error}"),
            })?;
        let event = Event::from_canonical(fields.event).map_err(|errors| LedgerError::Corrupt {
            position: fields.position,
            detail: format!("the stored event does not parse: {errors:?}"),
        })?;
        appended.push((fields.position, event));
    }
    Ok(Durable {
        appended,
        head,
        tree_root,
    })
}

/// A batch applied and being synced: what it made durable once the sync
/// returns, and where the log stood.
struct Syncing {
    sync: tokio::task::JoinHandle<Result<(), LedgerError>>,
    applied: Durable,
    sequence: u64,
    pending: u64,
}

impl Follower {
    /// Waits for the batch being synced, if any, then records its cursor
    /// and size in the metrics and tells `durable`.
    async fn finish(
        &self,
        syncing: &mut Option<Syncing>,
        durable: &(impl Fn(Durable) + Send + Sync),
    ) -> Result<(), LogError> {
        let Some(batch) = syncing.take() else {
            return Ok(());
        };
        batch
            .sync
            .await
            .map_err(|e| LogError::Task(e.to_string()))??;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.metrics
            .commit_log_pending
            .store(batch.pending, relaxed);
        self.metrics
            .commit_log_sequence
            .store(batch.sequence, relaxed);
        self.metrics
            .ledger_size
            .store(batch.applied.head.size, relaxed);
        if !batch.applied.appended.is_empty() {
            durable(batch.applied);
        }
        Ok(())
    }
}

/// The writer's checkpoints of one ledger, read from `tla.checkpoints`
/// and stored as the ledger reaches their size.
struct Checkpoints {
    /// Off: `store` does nothing.
    enabled: bool,
    /// The next stream sequence of `TLA_CHECKPOINTS` to read.
    next: u64,
    /// Notes of sizes the ledger has not reached yet: (size, note).
    waiting: Vec<(u64, String)>,
    /// When `store` last ran.
    looked: Option<std::time::Instant>,
}

impl Checkpoints {
    fn new(enabled: bool) -> Checkpoints {
        Checkpoints {
            enabled,
            next: 1,
            waiting: Vec::new(),
            looked: None,
        }
    }

    /// Whether `store` is due while the log keeps coming: at most once per
    /// `CHECKPOINT_LOOK_EVERY` (each look is a few JetStream requests).
    fn due(&self) -> bool {
        self.enabled
            && self
                .looked
                .is_none_or(|at| at.elapsed() >= CHECKPOINT_LOOK_EVERY)
    }

    /// Reads the checkpoints published since the last call and stores
    /// every one (of this ledger) the ledger has reached, each checked
    /// against the ledger's own tree.
    async fn store(&mut self, ledger: &SharedLedger, jetstream: &Context) -> Result<(), LogError> {
        if !self.enabled {
            return Ok(());
        }
        self.looked = Some(std::time::Instant::now());
        // Read each time: an empty ledger takes its id from the log.
        let ledger_id = hex::encode(lock(ledger)?.ledger_id()?);
        let subject = nats::CHECKPOINTS_SUBJECT;
        let stream = jetstream
            .get_stream(nats::CHECKPOINTS_STREAM)
            .await
            .map_err(|e| LogError::unavailable(subject, e))?;
        loop {
            let message = match stream.get_raw_message(self.next).await {
                Ok(message) => message,
                Err(error)
                    if error.kind()
                        == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound =>
                {
                    // Past the end, or a gap: look for the next one.
                    let info = stream
                        .get_info()
                        .await
                        .map_err(|e| LogError::unavailable(subject, e))?;
                    if self.next > info.state.last_sequence {
                        break;
                    }
                    self.next += 1;
                    continue;
                }
                Err(error) => return Err(LogError::unavailable(subject, error)),
            };
            self.next = message.sequence + 1;
            let ours = message
                .headers
                .get(LEDGER_ID_HEADER)
                .is_some_and(|id| id.as_str() == ledger_id);
            if !ours {
                continue;
            }
            let Ok(note) = String::from_utf8(message.payload.to_vec()) else {
                continue;
            };
            let size = ledger::checkpoint::read_unverified(&note).map_or(0, |c| c.size);
            self.waiting.push((size, note));
        }
        if self.waiting.is_empty() {
            return Ok(());
        }
        let ledger = std::sync::Arc::clone(ledger);
        let waiting = std::mem::take(&mut self.waiting);
        self.waiting = tokio::task::spawn_blocking(move || -> Result<_, LogError> {
            let ledger = lock(&ledger)?;
            let mut still = Vec::new();
            for (size, note) in waiting {
                match ledger.store_checkpoint(&note, None) {
                    Ok(true) => tracing::debug!(size, "stored the writer's checkpoint"),
                    Ok(false) => still.push((size, note)),
                    Err(source) => return Err(LogError::Checkpoint { size, source }),
                }
            }
            Ok(still)
        })
        .await
        .map_err(|e| LogError::Task(e.to_string()))??;
        Ok(())
    }
}

/// The first pause before a follower that lost NATS tries again; it
/// doubles with each failure in a row, up to `FOLLOW_RETRY_MAX`.
pub const FOLLOW_RETRY: Duration = Duration::from_millis(250);
pub const FOLLOW_RETRY_MAX: Duration = Duration::from_secs(5);

impl Follower {
    /// Follows until `shutdown` (replicas and standbys), starting again
    /// from the ledger's cursor whenever NATS is unreachable or the
    /// consumer ends; a record that does not check ends it with that
    /// error, nothing past the record applied.
    pub async fn follow_until_shutdown(
        &self,
        durable: &(impl Fn(Durable) + Send + Sync),
        shutdown: watch::Receiver<bool>,
    ) -> Result<Followed, LogError> {
        let mut failures: u32 = 0;
        loop {
            let started = std::time::Instant::now();
            match self
                .follow(Until::Shutdown, durable, shutdown.clone())
                .await
            {
                Ok(followed) => return Ok(followed),
                Err(error) if error.is_transient() && !*shutdown.borrow() => {
                    if started.elapsed() > FOLLOW_RETRY_MAX * 2 {
                        failures = 0;
                    }
                    let delay = FOLLOW_RETRY
                        .saturating_mul(1 << failures.min(5))
                        .min(FOLLOW_RETRY_MAX);
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, ?delay, "the commit log is unreachable; following again shortly");
                    let mut stopped = shutdown.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopped.changed() => {}
                    }
                }
                Err(error) if error.is_transient() => {
                    let head = lock(&self.ledger)?.head();
                    let cursor = lock(&self.ledger)?
                        .cursor(&cursor_name(&self.consumer))?
                        .unwrap_or(0);
                    return Ok(Followed { head, cursor });
                }
                Err(error) => return Err(error),
            }
        }
    }
}
