//! One consumer, one ledger: the check a ledger writer makes before it
//! consumes anything, so that two ledgers never split one durable
//! consumer's events between them (events 1, 3, 5 in one ledger and 2, 4,
//! 6 in the other, each acknowledged, neither ledger whole).
//!
//! Each durable consumer of `TLA_EVENTS` is bound to one ledger in the
//! JetStream key-value bucket `BINDINGS_BUCKET`: key the consumer's name,
//! value a `Binding` (the ledger's id and first entry hash, and where it
//! lives). The ledger records the other half: the consumer's stream beside
//! its cursor (`Ledger::record_consumer`). A KV bucket rather than consumer
//! metadata, which needs nats-server 2.10.
//!
//! A writer refuses to start when
//! - its consumer is bound to another ledger (another id, or the same id
//!   with another first entry: a copy of the directory that has since
//!   diverged), also when the consumer does not exist (yet, or any more):
//!   two writers starting at once on a new consumer both find it absent,
//!   and the second must not overwrite the first one's binding. Retiring a
//!   ledger releases its binding explicitly (`nats kv del`,
//!   docs/OPERATIONS.md); or
//! - its consumer's *acknowledgement floor* is ahead of the ledger's cursor.
//!
//! Why the acknowledgement floor and not the delivered sequence: a writer
//! acknowledges a message only after the append holding it (and the cursor,
//! the batch's highest stream sequence, in the same atomic batch) is
//! durable, and every batch stores the cursor, even one of refused or
//! duplicate messages only. So every message this ledger's writer ever
//! acknowledged has a stream sequence at most the ledger's cursor, and so
//! has the floor below which everything is acknowledged. A floor above the
//! cursor means someone else acknowledged events this ledger does not
//! hold: another ledger consumed them, or this ledger is an older copy
//! (a backup restored). The delivered sequence is ahead of the cursor after
//! every ordinary restart (messages delivered, not yet durable, when the
//! writer stopped: they are redelivered), so comparing it would refuse the
//! normal case.
//!
//! What keeps working: the same writer restarting (its own binding, floor
//! at most its cursor); a fresh ledger on a fresh consumer (no consumer, no
//! binding: it binds); a new ledger on a new consumer name, which replays
//! the stream from the start. Bindings are written with compare-and-set on
//! the key's revision, so of two writers binding at once one wins and the
//! other, judging again, is refused.

use std::path::Path;

use async_nats::jetstream::context::{ConsumerInfoErrorKind, Context};
use async_nats::jetstream::kv;
use bytes::Bytes;
use ledger::{Identity, LedgerError};
use serde::{Deserialize, Serialize};

use crate::nats;
use crate::writer::SharedLedger;

/// The KV bucket of bindings: consumer name → `Binding` (JSON).
pub const BINDINGS_BUCKET: &str = "TLA_LEDGER_BINDINGS";

/// Values kept per consumer: the current binding and the ones it
/// replaced, so an operator can see which ledgers a consumer fed.
pub const BINDING_HISTORY: i64 = 5;

/// Attempts at binding when another writer changes the same key between
/// our read and our write (a compare-and-set that lost): one more read
/// then sees that writer's binding and decides on it.
pub const BINDING_ATTEMPTS_MAX: usize = 3;

/// Which ledger a durable consumer feeds, as stored in `BINDINGS_BUCKET`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The ledger id (`ledger::Identity::id`).
    pub ledger_id: String,
    /// The hash of the ledger's entry 0 when bound (hex), none while empty.
    pub first_entry: Option<String>,
    /// The ledger's directory, for the operator who must find it.
    pub data_dir: String,
    /// The host the writer ran on.
    pub host: String,
    /// The stream the consumer reads.
    pub stream: String,
}

impl Binding {
    /// Whether `self` and `other` name the same ledger: the same id, and
    /// not two different first entries.
    fn same_ledger(&self, other: &Binding) -> bool {
        let diverged = matches!(
            (&self.first_entry, &other.first_entry),
            (Some(a), Some(b)) if a != b
        );
        self.ledger_id == other.ledger_id && !diverged
    }
}

impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ledger {} in {} on {} ({})",
            self.ledger_id,
            self.data_dir,
            self.host,
            match &self.first_entry {
                Some(hash) => format!("first entry {hash}"),
                None => "no entries when bound".into(),
            }
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error(
        "consumer {consumer:?} feeds another ledger: {other}; this is {ours}. Two ledgers on \
         one consumer would each get part of the events. Run this writer with its own \
         --consumer NAME (a new consumer replays the whole stream into this ledger){}; see \
         \"One consumer, one ledger\" in docs/OPERATIONS.md",
        release_hint(.consumer, *.consumer_exists)
    )]
    BoundElsewhere {
        consumer: String,
        other: Box<Binding>,
        ours: Box<Binding>,
        /// Whether the consumer exists (else the other ledger may be
        /// retired, or its writer about to create the consumer).
        consumer_exists: bool,
    },
    #[error(
        "consumer {consumer:?} has acknowledged every event up to stream sequence {ack_floor}, \
         but this {ours} holds events only up to sequence {cursor}; another ledger took the \
         rest{}, or this ledger is an older copy. Starting would skip those events. Use the \
         ledger that holds them, or give this one its own --consumer NAME to replay the \
         stream; see \"One consumer, one ledger\" in docs/OPERATIONS.md",
         .bound.as_ref().map(|b| format!(" (the consumer is bound to {b})")).unwrap_or_default()
    )]
    Behind {
        consumer: String,
        ack_floor: u64,
        cursor: u64,
        ours: Box<Binding>,
        bound: Option<Box<Binding>>,
    },
    #[error(
        "the consumer name {0:?} cannot be a key of the {BINDINGS_BUCKET} bucket; use letters, \
         digits, '-', '_' and '='"
    )]
    Name(String),
    #[error("the ledger in {0} has no id (it was opened read-only); a writer opens it writable")]
    NoIdentity(String),
    #[error("binding the consumer {consumer:?} in JetStream: {detail}")]
    Nats { consumer: String, detail: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger task failed: {0}")]
    Task(String),
}

impl BindingError {
    /// Whether this is a refusal (the consumer is another ledger's, the
    /// name cannot be bound), which stays until an operator acts, rather
    /// than a failure to reach JetStream or the ledger, which a retry may
    /// get past.
    pub fn is_refusal(&self) -> bool {
        match self {
            BindingError::BoundElsewhere { .. }
            | BindingError::Behind { .. }
            | BindingError::Name(_)
            | BindingError::NoIdentity(_) => true,
            BindingError::Nats { .. } | BindingError::Ledger(_) | BindingError::Task(_) => false,
        }
    }
}

/// How to release a binding whose consumer no longer exists.
fn release_hint(consumer: &str, exists: bool) -> String {
    if exists {
        return String::new();
    }
    format!(
        ", or, if that ledger is retired for good, release the binding with \
         `nats kv del {BINDINGS_BUCKET} {consumer}`"
    )
}

/// What the consumer says about itself, if it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerState {
    /// The stream sequence up to which every message is acknowledged.
    pub ack_floor: u64,
}

/// What to do with the bucket after judging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The binding already says what it should.
    Keep,
    /// Write our binding: over `revision` (0: the key must be new).
    Write { revision: u64 },
}

/// The decision (pure): `ours` is this ledger (with its `cursor` for
/// `consumer`), `state` the consumer if it exists, `bound` the binding
/// stored at `revision`, if any.
pub fn judge(
    consumer: &str,
    ours: &Binding,
    cursor: u64,
    state: Option<ConsumerState>,
    bound: Option<(&Binding, u64)>,
) -> Result<Action, BindingError> {
    if let Some((other, _)) = bound {
        if !other.same_ledger(ours) {
            return Err(BindingError::BoundElsewhere {
                consumer: consumer.to_owned(),
                other: Box::new(other.clone()),
                ours: Box::new(ours.clone()),
                consumer_exists: state.is_some(),
            });
        }
    }
    if let Some(state) = state {
        if state.ack_floor > cursor {
            return Err(BindingError::Behind {
                consumer: consumer.to_owned(),
                ack_floor: state.ack_floor,
                cursor,
                ours: Box::new(ours.clone()),
                bound: bound.map(|(b, _)| Box::new(b.clone())),
            });
        }
    }
    Ok(match bound {
        Some((other, _)) if other == ours => Action::Keep,
        Some((_, revision)) => Action::Write { revision },
        None => Action::Write { revision: 0 },
    })
}

/// The binding of `consumer` as stored: its entry (also a deleted one),
/// and the binding with its revision when the key holds one.
async fn read_binding(
    bucket: &kv::Store,
    consumer: &str,
) -> Result<(Option<kv::Entry>, Option<(Binding, u64)>), String> {
    let entry = bucket
        .entry(consumer)
        .await
        .map_err(|e| format!("reading {BINDINGS_BUCKET}: {e}"))?;
    let bound = entry
        .as_ref()
        .filter(|e| e.operation == kv::Operation::Put)
        .map(|e| {
            serde_json::from_slice::<Binding>(&e.value)
                .map(|b| (b, e.revision))
                .map_err(|error| format!("the stored binding is not readable: {error}"))
        })
        .transpose()?;
    Ok((entry, bound))
}

/// Whether `consumer` may feed this ledger, judged without binding it:
/// refused when it is bound to another ledger. A process that stands by
/// checks this before it follows the commit log, so that a directory of
/// another ledger (or an empty one, without `--standby`) is refused as a
/// writer would be. Its cursor is not judged: a standby is behind the
/// writer by nature, and catches up before it claims the consumer.
pub async fn check(
    jetstream: &Context,
    ledger: &SharedLedger,
    consumer: &str,
) -> Result<(), BindingError> {
    let (ours, _) = ledger_facts(ledger, consumer).await?;
    let failed = |detail: String| BindingError::Nats {
        consumer: consumer.to_owned(),
        detail,
    };
    let bucket = bucket(jetstream).await.map_err(failed)?;
    let state = consumer_state(jetstream, consumer).await.map_err(failed)?;
    let (_, bound) = read_binding(&bucket, consumer).await.map_err(failed)?;
    judge(
        consumer,
        &ours,
        u64::MAX,
        state,
        bound.as_ref().map(|(b, r)| (b, *r)),
    )
    .map(|_| ())
}

/// Binds `consumer` to the ledger, or refuses (module doc). Called by the
/// writer before it creates or reads its consumer.
pub async fn claim(
    jetstream: &Context,
    ledger: &SharedLedger,
    consumer: &str,
) -> Result<(), BindingError> {
    if !consumer
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_=".contains(c))
        || consumer.is_empty()
    {
        return Err(BindingError::Name(consumer.to_owned()));
    }
    let (ours, cursor) = ledger_facts(ledger, consumer).await?;
    let failed = |detail: String| BindingError::Nats {
        consumer: consumer.to_owned(),
        detail,
    };
    let bucket = bucket(jetstream).await.map_err(failed)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let state = consumer_state(jetstream, consumer).await.map_err(failed)?;
        let (entry, bound) = read_binding(&bucket, consumer).await.map_err(failed)?;
        let action = judge(
            consumer,
            &ours,
            cursor,
            state,
            bound.as_ref().map(|(b, r)| (b, *r)),
        )?;
        let revision = match action {
            Action::Keep => break,
            Action::Write { revision } => revision,
        };
        // A deleted key keeps its revision: writing over it is an update.
        let revision = match (&bound, &entry) {
            (None, Some(deleted)) => deleted.revision,
            _ => revision,
        };
        let value = Bytes::from(serde_json::to_vec(&ours).map_err(|e| failed(e.to_string()))?);
        match bucket.update(consumer, value, revision).await {
            Ok(_) => break,
            Err(error) if attempts < BINDING_ATTEMPTS_MAX => {
                tracing::info!(%error, %consumer, "the binding changed meanwhile; judging again");
            }
            Err(error) => return Err(failed(format!("writing {BINDINGS_BUCKET}: {error}"))),
        }
    }
    record_stream(ledger, consumer).await?;
    tracing::info!(%consumer, ledger = %ours, cursor, "consumer bound to this ledger");
    Ok(())
}

/// This ledger as a binding, and its cursor for `consumer`.
async fn ledger_facts(
    ledger: &SharedLedger,
    consumer: &str,
) -> Result<(Binding, u64), BindingError> {
    let consumer = consumer.to_owned();
    with_ledger(ledger, move |ledger| {
        let dir = absolute(ledger.dir());
        let Some(Identity { id, first_entry }) = ledger.identity()? else {
            return Err(BindingError::NoIdentity(dir));
        };
        let cursor = ledger.cursor(&consumer)?.unwrap_or(0);
        let binding = Binding {
            ledger_id: id,
            first_entry: first_entry.map(|hash| hash.to_hex()),
            data_dir: dir,
            host: host_name(),
            stream: nats::EVENTS_STREAM.to_owned(),
        };
        Ok((binding, cursor))
    })
    .await
}

/// Records the consumer's stream in the ledger (once).
async fn record_stream(ledger: &SharedLedger, consumer: &str) -> Result<(), BindingError> {
    let consumer = consumer.to_owned();
    with_ledger(ledger, move |ledger| {
        if ledger.consumer_stream(&consumer)?.as_deref() != Some(nats::EVENTS_STREAM) {
            ledger.record_consumer(&consumer, nats::EVENTS_STREAM)?;
        }
        Ok(())
    })
    .await
}

/// Runs `work` on the ledger on a blocking thread (the ledger's lock is
/// never held on the runtime's threads).
async fn with_ledger<T: Send + 'static>(
    ledger: &SharedLedger,
    work: impl FnOnce(&ledger::Ledger) -> Result<T, BindingError> + Send + 'static,
) -> Result<T, BindingError> {
    let ledger = std::sync::Arc::clone(ledger);
    tokio::task::spawn_blocking(move || {
        let ledger = ledger
            .lock()
            .map_err(|_| BindingError::Task("a reader panicked holding the ledger".into()))?;
        work(&ledger)
    })
    .await
    .map_err(|e| BindingError::Task(e.to_string()))?
}

/// The bindings bucket, created with as many replicas as the events
/// stream when it does not exist yet.
async fn bucket(jetstream: &Context) -> Result<kv::Store, String> {
    if let Ok(store) = jetstream.get_key_value(BINDINGS_BUCKET).await {
        return Ok(store);
    }
    let stream = jetstream
        .get_stream(nats::EVENTS_STREAM)
        .await
        .map_err(|e| format!("stream {}: {e}", nats::EVENTS_STREAM))?;
    let config = kv::Config {
        bucket: BINDINGS_BUCKET.to_owned(),
        description: "which ledger each durable consumer of TLA_EVENTS feeds".to_owned(),
        history: BINDING_HISTORY,
        num_replicas: stream.cached_info().config.num_replicas,
        ..Default::default()
    };
    jetstream
        .create_key_value(config)
        .await
        .map_err(|e| format!("creating the bucket {BINDINGS_BUCKET}: {e}"))
}

/// The consumer's acknowledgement floor, `None` when it does not exist.
async fn consumer_state(
    jetstream: &Context,
    consumer: &str,
) -> Result<Option<ConsumerState>, String> {
    let stream = jetstream
        .get_stream(nats::EVENTS_STREAM)
        .await
        .map_err(|e| format!("stream {}: {e}", nats::EVENTS_STREAM))?;
    match stream.consumer_info(consumer).await {
        Ok(info) => Ok(Some(ConsumerState {
            ack_floor: info.ack_floor.stream_sequence,
        })),
        Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("consumer {consumer}: {error}")),
    }
}

/// `dir` made absolute, so the operator can find it from anywhere.
fn absolute(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .display()
        .to_string()
}

/// This machine's name (Linux), for the operator looking for a ledger.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "an unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(id: &str, first: Option<&str>) -> Binding {
        Binding {
            ledger_id: id.into(),
            first_entry: first.map(Into::into),
            data_dir: format!("/srv/{id}"),
            host: "h".into(),
            stream: nats::EVENTS_STREAM.into(),
        }
    }

    /// (ours, cursor, consumer's floor, stored binding) → the verdict, as
    /// "keep", "write@REVISION", or the refusal's kind.
    fn check(
        ours: &Binding,
        cursor: u64,
        floor: Option<u64>,
        bound: Option<(&Binding, u64)>,
        expect: &str,
    ) {
        let state = floor.map(|ack_floor| ConsumerState { ack_floor });
        let got = match judge("tla-ledger", ours, cursor, state, bound) {
            Ok(Action::Keep) => "keep".to_string(),
            Ok(Action::Write { revision }) => format!("write@{revision}"),
            Err(BindingError::BoundElsewhere { .. }) => "bound elsewhere".into(),
            Err(BindingError::Behind { .. }) => "behind".into(),
            Err(other) => format!("{other}"),
        };
        assert_eq!(
            got, expect,
            "cursor {cursor}, floor {floor:?}, bound {bound:?}"
        );
    }

    #[test]
    fn the_legitimate_cases_start_and_the_splits_are_refused() {
        let a = ledger("a", Some("aa"));
        let a_empty = ledger("a", None);
        let a_copy = ledger("a", Some("bb"));
        let b = ledger("b", None);
        // A fresh ledger on a fresh consumer binds it.
        check(&b, 0, None, None, "write@0");
        // A consumer created but nothing acknowledged yet.
        check(&b, 0, Some(0), None, "write@0");
        // The same writer restarting, caught up or with messages delivered
        // but not acknowledged (the floor stays at most the cursor).
        check(&a, 120, Some(120), Some((&a, 7)), "keep");
        check(&a, 120, Some(100), Some((&a, 7)), "keep");
        // A binding made while the ledger was empty is brought up to date.
        check(&a, 5, Some(5), Some((&a_empty, 7)), "write@7");
        // A second ledger on a consumer bound to the first.
        check(&b, 0, Some(0), Some((&a, 7)), "bound elsewhere");
        check(&b, 500, Some(120), Some((&a, 7)), "bound elsewhere");
        // A copy of the ledger that has since diverged.
        check(&a_copy, 120, Some(120), Some((&a, 7)), "bound elsewhere");
        // The consumer does not exist: deleted since it fed ledger a, or a
        // writer about to create it after binding: either way not b's.
        check(&b, 0, None, Some((&a, 7)), "bound elsewhere");
        // The consumer acknowledged events this ledger does not hold: an
        // unbound one (made by an older build), or this ledger restored
        // from an older copy.
        check(&b, 0, Some(3), None, "behind");
        check(&a, 100, Some(120), Some((&a, 7)), "behind");
    }

    #[test]
    fn the_refusals_name_the_consumer_and_both_ledgers() {
        let a = ledger("a", Some("aa"));
        let b = ledger("b", None);
        let refused = judge(
            "orders",
            &b,
            0,
            Some(ConsumerState { ack_floor: 0 }),
            Some((&a, 1)),
        )
        .expect_err("refused")
        .to_string();
        for part in [
            "\"orders\"",
            "ledger a in /srv/a",
            "ledger b in /srv/b",
            "--consumer",
        ] {
            assert!(refused.contains(part), "{part:?} missing from: {refused}");
        }
        assert!(
            !refused.contains("nats kv del"),
            "the consumer exists: {refused}"
        );
        let retired = judge("orders", &b, 0, None, Some((&a, 1)))
            .expect_err("refused")
            .to_string();
        let release = "release the binding with `nats kv del TLA_LEDGER_BINDINGS orders`";
        assert!(retired.contains(release), "{retired}");
        let behind = judge("orders", &b, 4, Some(ConsumerState { ack_floor: 9 }), None)
            .expect_err("refused")
            .to_string();
        for part in ["\"orders\"", "sequence 9", "up to sequence 4", "ledger b"] {
            assert!(behind.contains(part), "{part:?} missing from: {behind}");
        }
    }
}
