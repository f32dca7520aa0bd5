//! NATS JetStream: the subjects and streams of the service path, the
//! connection, and the acknowledged publish that HTTP ingest and the
//! ledger writer share.
//!
//! Events travel on `tla.events.<tenant>` in the `TLA_EVENTS` stream (file
//! storage, no delete, no purge, a duplicate window keyed on
//! `Nats-Msg-Id`); events the ledger writer refuses go to
//! `tla.rejected.<tenant>` and the projector's alerts to
//! `tla.alerts.<tenant>`, and the writer's signed checkpoints to
//! `tla.checkpoints`, each in its own stream, so that neither is lost
//! when nobody listens at the moment it is published. Every stream is
//! created at start-up, or checked when it exists: a stream someone made
//! with delete or purge allowed is refused rather than used.

use std::time::Duration;

use async_nats::jetstream::{self, context::Context, stream};
use async_nats::HeaderMap;
use bytes::Bytes;

/// The stream of events, subjects `tla.events.<tenant>`.
pub const EVENTS_STREAM: &str = "TLA_EVENTS";
/// The stream of refused events, subjects `tla.rejected.<tenant>`.
pub const REJECTED_STREAM: &str = "TLA_REJECTED";
/// The stream of alerts, subjects `tla.alerts.<tenant>`.
pub const ALERTS_STREAM: &str = "TLA_ALERTS";
/// The stream of signed checkpoints, subject `tla.checkpoints`.
pub const CHECKPOINTS_STREAM: &str = "TLA_CHECKPOINTS";
/// The subject the ledger writer publishes each signed checkpoint on.
pub const CHECKPOINTS_SUBJECT: &str = "tla.checkpoints";

pub const EVENTS_PREFIX: &str = "tla.events.";
pub const REJECTED_PREFIX: &str = "tla.rejected.";
pub const ALERTS_PREFIX: &str = "tla.alerts.";

/// How long JetStream remembers a `Nats-Msg-Id` and drops a second publish
/// of it. Two hours covers a producer retrying through a long outage of
/// its own link; redeliveries past it are still caught by the ledger's
/// idempotency on (`source`, `id`), so the window only saves work.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60 * 60);

/// How long alerts' ids are remembered: a restarted projector re-derives
/// the alerts of the last day and must not publish them again.
pub const ALERTS_DUPLICATE_WINDOW: Duration = Duration::from_secs(26 * 60 * 60);

/// How long one JetStream request (a publish's acknowledgement, a stream
/// look-up) may take before it counts as failed. Long enough for a
/// clustered stream to elect a new leader after a node dies.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The subject of a tenant's events.
pub fn events_subject(tenant: &str) -> String {
    format!("{EVENTS_PREFIX}{tenant}")
}

/// The tenant named by a subject with `prefix`, if it is one.
pub fn tenant_of<'a>(subject: &'a str, prefix: &str) -> Option<&'a str> {
    subject.strip_prefix(prefix).filter(|t| !t.contains('.'))
}

/// How to reach NATS.
#[derive(Debug, Clone)]
pub struct Connection {
    /// One or more server URLs, comma-separated (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Replicas of the streams this process creates (1, or 3 in a cluster).
    pub replicas: usize,
    /// A name for the connection, shown by the server (`tla-ingest`).
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("JetStream stream {stream}: {detail}")]
    Stream { stream: String, detail: String },
}

/// Connects (retrying in the background while NATS is down: a client that
/// reconnects forever, so a restart of NATS is ridden out).
pub async fn connect(connection: &Connection) -> Result<async_nats::Client, NatsError> {
    let servers: Vec<&str> = connection.url.split(',').map(str::trim).collect();
    let options = async_nats::ConnectOptions::new()
        .name(&connection.name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .request_timeout(Some(REQUEST_TIMEOUT))
        .reconnect_delay_callback(|attempts| {
            // 50 ms, doubling, at most 2 s between attempts.
            Duration::from_millis((50u64 << attempts.min(6)).min(2_000))
        })
        .event_callback(|event| async move {
            tracing::info!(%event, "nats connection");
        });
    options
        .connect(servers.as_slice())
        .await
        .map_err(|error| NatsError::Connect {
            url: connection.url.clone(),
            detail: error.to_string(),
        })
}

/// A JetStream context whose requests time out after `REQUEST_TIMEOUT`.
pub fn jetstream(client: async_nats::Client) -> Context {
    let mut context = jetstream::new(client);
    context.set_timeout(REQUEST_TIMEOUT);
    context
}

/// The configuration of one of the streams.
pub fn stream_config(name: &str, replicas: usize) -> stream::Config {
    let (subject, window) = match name {
        EVENTS_STREAM => (format!("{EVENTS_PREFIX}*"), DUPLICATE_WINDOW),
        REJECTED_STREAM => (format!("{REJECTED_PREFIX}*"), DUPLICATE_WINDOW),
        CHECKPOINTS_STREAM => (CHECKPOINTS_SUBJECT.to_owned(), DUPLICATE_WINDOW),
        _ => (format!("{ALERTS_PREFIX}*"), ALERTS_DUPLICATE_WINDOW),
    };
    stream::Config {
        name: name.to_owned(),
        subjects: vec![subject],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: window,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// Creates the streams, or checks the ones that exist.
pub async fn ensure_streams(context: &Context, replicas: usize) -> Result<(), NatsError> {
    for name in [
        EVENTS_STREAM,
        REJECTED_STREAM,
        ALERTS_STREAM,
        CHECKPOINTS_STREAM,
    ] {
        ensure_stream(context, stream_config(name, replicas)).await?;
    }
    Ok(())
}

async fn ensure_stream(context: &Context, wanted: stream::Config) -> Result<(), NatsError> {
    let name = wanted.name.clone();
    let error = |detail: String| NatsError::Stream {
        stream: name.clone(),
        detail,
    };
    let mut stream = context
        .get_or_create_stream(wanted.clone())
        .await
        .map_err(|e| error(format!("cannot create or look it up: {e}")))?;
    let info = stream
        .info()
        .await
        .map_err(|e| error(format!("cannot read its configuration: {e}")))?;
    let found = &info.config;
    let mut problems = Vec::new();
    if !found.deny_delete || !found.deny_purge {
        problems.push("it allows deleting or purging messages (set deny_delete and deny_purge)");
    }
    if found.storage != stream::StorageType::File {
        problems.push("it is not stored in files");
    }
    if found.subjects != wanted.subjects {
        problems.push("it does not capture exactly the expected subjects");
    }
    if found.duplicate_window.is_zero() {
        problems.push("it has no duplicate window");
    }
    if found.num_replicas < wanted.num_replicas {
        tracing::warn!(
            stream = %name,
            replicas = found.num_replicas,
            wanted = wanted.num_replicas,
            "the stream exists with fewer replicas than asked; raise them with `nats stream edit`"
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(error(format!(
            "exists with a configuration this service refuses to use: {}",
            problems.join("; ")
        )))
    }
}

/// Why a publish was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("NATS is not connected")]
    Disconnected,
    #[error("JetStream did not acknowledge the publish to {subject}: {detail}")]
    NotAcknowledged { subject: String, detail: String },
}

/// Publishes with a `Nats-Msg-Id` and waits for JetStream's acknowledgement
/// (the message is then stored by the stream). Returns whether JetStream
/// saw the id before (a duplicate it dropped).
pub async fn publish_acked(
    context: &Context,
    subject: String,
    msg_id: String,
    payload: Bytes,
) -> Result<bool, PublishError> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id.as_str());
    let failed = |detail: String| PublishError::NotAcknowledged {
        subject: subject.clone(),
        detail,
    };
    let ack = context
        .publish_with_headers(subject.clone(), headers, payload)
        .await
        .map_err(|e| failed(e.to_string()))?
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(ack.duplicate)
}

/// The `Nats-Msg-Id` of an event: its tenant, then BLAKE3 of its
/// (`source`, `id`) and of its canonical bytes. JetStream's duplicate
/// window is one for the whole stream, so the tenant comes first: one
/// tenant's ids never drop another's events (direct producers prefix their
/// own ids the same way, docs/OPERATIONS.md). The key part makes a
/// producer's retry a duplicate JetStream drops; the content part lets a
/// *conflicting* event (same key, other content) through to the ledger
/// writer, which refuses it onto `tla.rejected.<tenant>`, instead of
/// JetStream dropping it silently while the producer is told 202.
pub fn event_msg_id(tenant: &str, source: &str, id: &str, canonical: &[u8]) -> String {
    let mut key = blake3::Hasher::new();
    key.update(&(source.len() as u64).to_be_bytes());
    key.update(source.as_bytes());
    key.update(id.as_bytes());
    let content = blake3::hash(canonical);
    format!(
        "{tenant}/{}-{}",
        &key.finalize().to_hex()[..32],
        &content.to_hex()[..16]
    )
}
