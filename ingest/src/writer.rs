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
//! 2. the refused ones are published to `tla.rejected.<tenant>` with their
//!    errors, and JetStream's acknowledgement awaited (the `Nats-Msg-Id`
//!    is the stream sequence, so a repeat after a crash is dropped);
//! 3. the rest is appended as one group commit with one flush, together
//!    with the consumer cursor (the batch's last stream sequence), in the
//!    same sled batch;
//! 4. the refused messages are terminated (`AckKind::Term`: never
//!    redelivered), every other one acknowledged, the last with a double
//!    acknowledgement that waits for the server's confirmation.
//!
//! A crash before 4 means redelivery: the messages are appended again,
//! which the ledger's idempotency on (`source`, `id`) turns into
//! duplicates. The cursor records the highest stream sequence made
//! durable (for lag and for operators); it is not used to skip
//! redeliveries, because after a restart JetStream may deliver new
//! messages before it redelivers older unacknowledged ones, so a sequence
//! below the cursor is not proof of durability. NATS going away (a restart) makes the consumer
//! stream fail; the writer recreates it with backoff. A ledger failure is
//! fatal: the writer stops, and whoever supervises it restarts it.

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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            consumer: "tla-ledger".into(),
            subjects: vec![format!("{}*", nats::EVENTS_PREFIX)],
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
}

/// A failure that ends the current consumer stream but not the writer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transient(String);

/// Runs the writer until `shutdown` turns true (finishing the batch in
/// hand) or the ledger fails. `durable` hears of every durable batch.
pub async fn run(
    ledger: Ledger,
    client: async_nats::Client,
    config: Config,
    metrics: Arc<Metrics>,
    durable: impl Fn(Durable) + Send + Sync + 'static,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WriterError> {
    metrics.ledger_size.store(ledger.size(), Ordering::Relaxed);
    let mut writer = Writer {
        cursor: ledger.cursor(&config.consumer)?.unwrap_or(0),
        ledger: Some(ledger),
        jetstream: nats::jetstream(client.clone()),
        client,
        config,
        metrics,
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
    /// Taken while an append runs on a blocking thread.
    ledger: Option<Ledger>,
    client: async_nats::Client,
    jetstream: Context,
    config: Config,
    metrics: Arc<Metrics>,
    /// The last stream sequence the ledger holds durably.
    cursor: u64,
}

/// One refused message and why.
struct Refused {
    index: usize,
    tenant: String,
    errors: Vec<String>,
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

    /// Consumes until shutdown (Ok) or a failure.
    async fn consume(
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
            let first = tokio::select! {
                next = tokio::time::timeout(IDLE_POLL, messages.next()) => next,
                _ = shutdown.changed() => return Ok(()),
            };
            let first = match first {
                Err(_) => continue, // idle
                Ok(None) => return Err(Transient("the consumer stream ended".into()).into()),
                Ok(Some(Err(e))) => return Err(Transient(format!("receiving: {e}")).into()),
                Ok(Some(Ok(message))) => message,
            };
            let mut batch = vec![first];
            // Whatever else is ready joins the batch, without waiting.
            while batch.len() < BATCH_MESSAGES_MAX {
                match messages.next().now_or_never() {
                    Some(Some(Ok(message))) => batch.push(message),
                    Some(Some(Err(e))) => {
                        tracing::warn!(error = %e, "receiving; handling the batch in hand first");
                        break;
                    }
                    _ => break,
                }
            }
            self.handle(batch, durable).await?;
        }
    }

    /// Steps 1-4 of the module doc for one batch.
    async fn handle(
        &mut self,
        batch: Vec<Message>,
        durable: &(impl Fn(Durable) + Send + Sync),
    ) -> Result<(), Stop> {
        let mut sequences = Vec::with_capacity(batch.len());
        for message in &batch {
            let info = message
                .info()
                .map_err(|e| Transient(format!("message metadata: {e}")))?;
            sequences.push((info.stream_sequence, info.pending));
        }
        let last_sequence = sequences.iter().map(|s| s.0).max().unwrap_or(self.cursor);
        let mut refused = Vec::new();
        let mut events = Vec::new();
        let mut indexes = Vec::new();
        for (index, message) in batch.iter().enumerate() {
            match validate(&message.subject, &message.payload) {
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
        let events = self.check(events, indexes, &mut refused).await?;
        self.publish_refused(&batch, &sequences, &refused).await?;
        let outcomes = self.append(&events, last_sequence).await?;
        let head = self.ledger.as_ref().map(Ledger::head);
        self.count(batch.len(), &outcomes, &refused, sequences.last(), head);
        let appended: Vec<(u64, Event)> = outcomes
            .iter()
            .zip(events)
            .filter_map(|(outcome, event)| match outcome {
                Outcome::Appended(position) => Some((*position, event)),
                Outcome::Duplicate(_) => None,
            })
            .collect();
        if let (false, Some(head)) = (appended.is_empty(), head) {
            let ledger = self.ledger.as_ref().ok_or_else(|| {
                WriterError::Task("the ledger is not back from its append".into())
            })?;
            let tree_root = ledger.merkle_root(head.size).map_err(WriterError::from)?;
            durable(Durable {
                appended,
                head,
                tree_root,
            });
        }
        self.acknowledge(&batch, &refused).await?;
        Ok(())
    }

    /// Checks the valid events against the ledger; moves refused ones
    /// (conflicts, clock skew) to `refused`. Returns the events to append.
    async fn check(
        &mut self,
        mut events: Vec<Event>,
        mut indexes: Vec<usize>,
        refused: &mut Vec<Refused>,
    ) -> Result<Vec<Event>, Stop> {
        loop {
            let ledger = self
                .ledger
                .as_ref()
                .expect("the ledger is back after each append");
            match ledger.check(&events, now_micros()) {
                Ok(_) => return Ok(events),
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
                Err(error) => return Err(WriterError::from(error).into()),
            }
        }
    }

    /// Appends with the cursor, as one group commit with one flush, on a
    /// blocking thread.
    async fn append(&mut self, events: &[Event], sequence: u64) -> Result<Vec<Outcome>, Stop> {
        let mut ledger = self.ledger.take().expect("one append at a time");
        let name = self.config.consumer.clone();
        let events = events.to_vec();
        let (ledger, result) = tokio::task::spawn_blocking(move || {
            let result = ledger
                .append_unsynced_with_cursor(&events, now_micros(), Some((&name, sequence)))
                .and_then(|outcomes| ledger.syncer().sync().map(|()| outcomes));
            (ledger, result)
        })
        .await
        .map_err(|e| WriterError::Task(e.to_string()))?;
        self.ledger = Some(ledger);
        let outcomes = result.map_err(WriterError::from)?;
        self.cursor = self.cursor.max(sequence);
        Ok(outcomes)
    }

    fn count(
        &self,
        messages: usize,
        outcomes: &[Outcome],
        refused: &[Refused],
        last: Option<&(u64, u64)>,
        head: Option<Head>,
    ) {
        let m = &self.metrics;
        let appended = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Appended(_)))
            .count() as u64;
        m.events_appended.fetch_add(appended, Ordering::Relaxed);
        m.events_duplicate
            .fetch_add(outcomes.len() as u64 - appended, Ordering::Relaxed);
        m.events_rejected
            .fetch_add(refused.len() as u64, Ordering::Relaxed);
        m.observe_batch(messages);
        m.durable_sequence.store(self.cursor, Ordering::Relaxed);
        if let Some((_, pending)) = last {
            m.consumer_pending.store(*pending, Ordering::Relaxed);
        }
        if let Some(head) = head {
            m.ledger_size.store(head.size, Ordering::Relaxed);
        }
    }

    /// Publishes each refused message to `tla.rejected.<tenant>` and waits
    /// for every acknowledgement.
    async fn publish_refused(
        &self,
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
            nats::publish_acked(&self.jetstream, subject, msg_id, payload)
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
    async fn acknowledge(&self, batch: &[Message], refused: &[Refused]) -> Result<(), Transient> {
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
            self.client
                .flush()
                .await
                .map_err(|e| Transient(format!("flushing acknowledgements: {e}")))?;
        } else {
            last.double_ack().await.map_err(failed)?;
        }
        Ok(())
    }
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
