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
//!
//! The connection logs in with a credentials file, an nkey seed file, or
//! a user and password (from a file, or from the URL, whose user
//! information the NATS client itself ignores), and takes its replies on
//! its own inbox prefix (`_INBOX.<user>`), the only one deploy/nats/auth.conf
//! lets that user subscribe to.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
/// The ledger's commit log (`replica`): one subject per ledger writer's
/// consumer, `tla.ledger.<consumer>`.
pub const LEDGER_STREAM: &str = "TLA_LEDGER";
pub const LEDGER_PREFIX: &str = "tla.ledger.";

pub const EVENTS_PREFIX: &str = "tla.events.";
/// The agreement events of a tenant (`agreement.published`,
/// `agreement.approved`), in the events stream beside `tla.events.*`:
/// only the service publishes here (deploy/nats/auth.conf), after the HTTP
/// receiver checked the token's `types`, and the ledger writer refuses an
/// agreement event that arrives on `tla.events.<tenant>`, the producers'
/// subject.
pub const AGREEMENTS_PREFIX: &str = "tla.agreements.";
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

/// The subject `event` travels on: `tla.agreements.<tenant>` for the
/// agreement events, `tla.events.<tenant>` for the rest.
pub fn subject_of(event: &schemas::Event) -> String {
    match event.event_type.changes_agreement() {
        true => format!("{AGREEMENTS_PREFIX}{}", event.tenant),
        false => events_subject(&event.tenant),
    }
}

/// The agreement subjects that go with the events subject `subject` (a
/// writer's filter, `tla.events.*` or a partition `tla.events.alver`), so
/// that a writer takes its tenants' agreements too; `None` for another
/// subject.
pub fn agreements_counterpart(subject: &str) -> Option<String> {
    subject
        .strip_prefix(EVENTS_PREFIX)
        .map(|rest| format!("{AGREEMENTS_PREFIX}{rest}"))
}

/// The tenant named by a subject with `prefix`, if it is one.
pub fn tenant_of<'a>(subject: &'a str, prefix: &str) -> Option<&'a str> {
    subject.strip_prefix(prefix).filter(|t| !t.contains('.'))
}

/// How to reach NATS, and as whom.
///
/// Secrets come from files (`password_file`, `creds`, `nkey`) or from the
/// URL's user information (`nats://user:password@host:4222`, which the NATS
/// client itself ignores: it is taken out here and passed as options).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// One or more server URLs, comma-separated (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Replicas of the streams this process creates (1, or 3 in a cluster).
    pub replicas: usize,
    /// A name for the connection, shown by the server (`tla-ingest`).
    pub name: String,
    /// The NATS user (with `password_file`), unless the URL names it.
    pub user: Option<String>,
    /// A file holding the user's password (its first line).
    pub password_file: Option<PathBuf>,
    /// A NATS credentials file (a user JWT and its nkey seed).
    pub creds: Option<PathBuf>,
    /// A file holding an nkey seed (`SU...`) of a user in the server's
    /// configuration.
    pub nkey: Option<PathBuf>,
    /// The prefix of this client's reply subjects. `None`: `_INBOX.<user>`
    /// when the user is known, else NATS's shared `_INBOX`.
    pub inbox_prefix: Option<String>,
}

/// The inbox prefix every tla process uses unless told otherwise: the
/// service's NATS user in deploy/nats/auth.conf may subscribe only to it.
pub const DEFAULT_INBOX_ROOT: &str = "_INBOX";

/// The longest secret file read (a credentials file is about 1 KiB): a
/// path pointing at something else is refused rather than read whole.
pub const SECRET_FILE_BYTES_MAX: u64 = 64 << 10;

impl Connection {
    /// The URL(s) with any password replaced by `***`, for messages.
    pub fn redacted_url(&self) -> String {
        split_servers(&self.url)
            .map(|servers| {
                servers
                    .iter()
                    .map(|s| match &s.user {
                        Some(user) if s.password.is_some() => {
                            format!("{}{user}:***@{}", s.scheme, s.rest)
                        }
                        Some(user) => format!("{}{user}@{}", s.scheme, s.rest),
                        None => format!("{}{}", s.scheme, s.rest),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|_| "(an unreadable NATS URL)".to_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("JetStream stream {stream}: {detail}")]
    Stream { stream: String, detail: String },
    /// The stream exists with a configuration that would break the
    /// service's guarantees; no retry changes that.
    #[error("JetStream stream {stream}: exists with a configuration this service refuses to use: {}", problems.join("; "))]
    Refused {
        stream: String,
        problems: Vec<&'static str>,
    },
    #[error("NATS credentials: {0}")]
    Credentials(String),
}

/// One server of a NATS URL list, its user information taken out.
#[derive(Debug, Clone, PartialEq)]
struct Server {
    /// `nats://` (or empty when the URL has no scheme).
    scheme: String,
    /// Host, port and anything after them.
    rest: String,
    user: Option<String>,
    password: Option<String>,
}

/// Splits `nats://u:p@a:4222,nats://b:4222` into servers, taking the user
/// information out of each (percent-decoded).
fn split_servers(url: &str) -> Result<Vec<Server>, NatsError> {
    let mut servers = Vec::new();
    for part in url.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(NatsError::Credentials(
                "an empty server in the NATS URL list (two commas, or a trailing one)".into(),
            ));
        }
        let (scheme, rest) = match part.find("://") {
            Some(at) => part.split_at(at + 3),
            None => ("", part),
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (user, password, rest) = match rest[..authority_end].rfind('@') {
            Some(at) => {
                let info = &rest[..at];
                let (user, password) = match info.split_once(':') {
                    Some((user, password)) => (user, Some(percent_decode(password)?)),
                    None => (info, None),
                };
                (Some(percent_decode(user)?), password, &rest[at + 1..])
            }
            None => (None, None, rest),
        };
        servers.push(Server {
            scheme: scheme.to_owned(),
            rest: rest.to_owned(),
            user,
            password,
        });
    }
    Ok(servers)
}

/// `%XX` escapes decoded (user information may escape `:`, `@`, `/`).
fn percent_decode(text: &str) -> Result<String, NatsError> {
    crate::cloudevents::percent_decode(text).map_err(|problem| {
        NatsError::Credentials(format!("the NATS URL's user information: {problem}"))
    })
}

/// Reads a secret file: bounded, and its first line only (what a password
/// file holds; an nkey seed file the same), trimmed.
fn read_secret(path: &Path, what: &str) -> Result<String, NatsError> {
    let unreadable =
        |detail: String| NatsError::Credentials(format!("{what} {}: {detail}", path.display()));
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if metadata.len() > SECRET_FILE_BYTES_MAX {
        return Err(unreadable(format!(
            "{} bytes; a secret file holds at most {SECRET_FILE_BYTES_MAX}",
            metadata.len()
        )));
    }
    warn_if_readable_by_others(path, &metadata);
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    let secret = text.lines().next().unwrap_or("").trim().to_owned();
    if secret.is_empty() {
        return Err(unreadable("empty".into()));
    }
    Ok(secret)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, metadata: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            "a NATS secret file is readable by its group or others; make it 0600"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path, _: &std::fs::Metadata) {}

/// Checks an inbox prefix: NATS subject tokens, no wildcards.
fn check_inbox_prefix(prefix: &str) -> Result<(), NatsError> {
    let bad = prefix.is_empty()
        || prefix
            .split('.')
            .any(|t| t.is_empty() || t.contains(['*', '>']) || t.contains(char::is_whitespace));
    if bad {
        return Err(NatsError::Credentials(format!(
            "inbox prefix {:?}: dot-separated subject tokens without wildcards or spaces, \
             e.g. _INBOX.tla",
            crate::http::truncated(prefix)
        )));
    }
    Ok(())
}

/// How a connection logs in: the client options, the servers to dial
/// (their user information taken out) and the inbox prefix.
struct Login {
    options: async_nats::ConnectOptions,
    servers: Vec<String>,
    inbox_prefix: Option<String>,
}

/// Reads the connection's secrets and checks that they fit together.
async fn login(connection: &Connection) -> Result<Login, NatsError> {
    let servers = split_servers(&connection.url)?;
    let mut url_user: Option<(String, Option<String>)> = None;
    for server in &servers {
        if let Some(user) = &server.user {
            let this = (user.clone(), server.password.clone());
            match &url_user {
                Some(first) if *first != this => {
                    return Err(NatsError::Credentials(
                        "the NATS URLs name different users or passwords; name one \
                         (or use --nats-user and --nats-password-file)"
                            .into(),
                    ))
                }
                _ => url_user = Some(this),
            }
        }
    }
    let addresses = servers
        .iter()
        .map(|s| format!("{}{}", s.scheme, s.rest))
        .collect();
    let conflict = |a: &str, b: &str| {
        NatsError::Credentials(format!("{a} and {b} are two ways to log in; give one"))
    };
    let user_given = connection.user.is_some() || connection.password_file.is_some();
    let url_given = url_user.is_some();
    let mut options = async_nats::ConnectOptions::new();
    let mut user_name = None;
    match (&connection.creds, &connection.nkey) {
        (Some(_), Some(_)) => return Err(conflict("--nats-creds", "--nats-nkey")),
        (Some(_), None) | (None, Some(_)) if user_given => {
            return Err(conflict("--nats-creds/--nats-nkey", "--nats-user"))
        }
        (Some(_), None) | (None, Some(_)) if url_given => {
            return Err(conflict(
                "--nats-creds/--nats-nkey",
                "a user in the NATS URL",
            ))
        }
        (Some(creds), None) => {
            warn_if_readable_by_others_path(creds);
            options = options.credentials_file(creds).await.map_err(|e| {
                NatsError::Credentials(format!("credentials file {}: {e}", creds.display()))
            })?;
        }
        (None, Some(seed_file)) => {
            let seed = read_secret(seed_file, "nkey seed file")?;
            if !seed.starts_with("SU") {
                return Err(NatsError::Credentials(format!(
                    "nkey seed file {}: not a user seed (it starts with SU)",
                    seed_file.display()
                )));
            }
            options = options.nkey(seed);
        }
        (None, None) => {
            let user = match (&connection.user, &url_user) {
                (Some(flag), Some((url, _))) if flag != url => {
                    return Err(NatsError::Credentials(format!(
                        "--nats-user {flag:?} but the NATS URL names user {url:?}"
                    )))
                }
                (Some(flag), _) => Some(flag.clone()),
                (None, Some((url, _))) => Some(url.clone()),
                (None, None) => None,
            };
            let password = match (&connection.password_file, &url_user) {
                (Some(_), Some((_, Some(_)))) => {
                    return Err(conflict(
                        "--nats-password-file",
                        "a password in the NATS URL",
                    ))
                }
                (Some(file), _) => Some(read_secret(file, "password file")?),
                (None, Some((_, password))) => password.clone(),
                (None, None) => None,
            };
            match (user, password) {
                (Some(user), Some(password)) => {
                    options = options.user_and_password(user.clone(), password);
                    user_name = Some(user);
                }
                // `nats://token@host`: the URL's one word is a token.
                (Some(token), None) if url_given && connection.user.is_none() => {
                    options = options.token(token);
                }
                (Some(user), None) => {
                    return Err(NatsError::Credentials(format!(
                        "user {user:?} has no password: give --nats-password-file"
                    )))
                }
                (None, Some(_)) => {
                    return Err(NatsError::Credentials(
                        "--nats-password-file needs --nats-user".into(),
                    ))
                }
                (None, None) => {}
            }
        }
    }
    let prefix = match (&connection.inbox_prefix, &user_name) {
        (Some(prefix), _) => Some(prefix.clone()),
        (None, Some(user)) => Some(format!("{DEFAULT_INBOX_ROOT}.{user}")),
        (None, None) => None,
    };
    if let Some(prefix) = &prefix {
        check_inbox_prefix(prefix)?;
    }
    Ok(Login {
        options,
        servers: addresses,
        inbox_prefix: prefix,
    })
}

fn warn_if_readable_by_others_path(path: &Path) {
    if let Ok(metadata) = std::fs::metadata(path) {
        warn_if_readable_by_others(path, &metadata);
    }
}

/// What this process knows of its NATS link beyond the client's state:
/// whether the streams were created or checked, and the last error the
/// server or client reported (an authorization violation, say), for
/// `/healthz` and the receivers' 503s.
#[derive(Debug, Default)]
pub struct Status {
    streams_ready: AtomicBool,
    last_error: std::sync::Mutex<Option<String>>,
    /// Why the receivers refuse events although NATS is fine: the ledger
    /// writer of the same process restarting.
    held: std::sync::Mutex<Option<String>>,
}

impl Status {
    /// Whether the streams exist and were checked.
    pub fn streams_ready(&self) -> bool {
        self.streams_ready.load(Ordering::Acquire)
    }

    pub fn set_streams_ready(&self) {
        self.streams_ready.store(true, Ordering::Release);
    }

    /// The last error NATS reported since the last successful connect.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Records an error (`Some`) or clears it (`None`, on connect).
    pub fn set_last_error(&self, error: Option<String>) {
        let mut slot = self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = error;
    }

    /// Holds publishing with a reason (`Some`), or lets it go (`None`).
    pub fn hold(&self, reason: Option<String>) {
        let mut slot = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = reason;
    }

    /// Why NATS cannot take a publish now, or `None` when it can.
    pub fn unavailable(&self, client: &async_nats::Client) -> Option<String> {
        let held = self
            .held
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
        if held.is_some() {
            return held;
        }
        let state = client.connection_state();
        let detail = self
            .last_error()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        if state != async_nats::connection::State::Connected {
            Some(format!("NATS is unreachable: {state}{detail}"))
        } else if !self.streams_ready() {
            Some(format!(
                "NATS is connected but the JetStream streams are not yet created or checked{detail}"
            ))
        } else {
            None
        }
    }
}

/// Connects (retrying in the background while NATS is down: a client that
/// reconnects forever, so a restart of NATS is ridden out). Returns at
/// once; `status` hears of errors. Fails only on credentials that cannot
/// be read or do not fit together.
pub async fn connect(
    connection: &Connection,
    status: Arc<Status>,
) -> Result<async_nats::Client, NatsError> {
    let Login {
        mut options,
        servers,
        inbox_prefix,
    } = login(connection).await?;
    if let Some(prefix) = inbox_prefix {
        options = options.custom_inbox_prefix(prefix);
    }
    let options = options
        .name(&connection.name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .request_timeout(Some(REQUEST_TIMEOUT))
        .reconnect_delay_callback(|attempts| {
            // 50 ms, doubling, at most 2 s between attempts.
            Duration::from_millis((50u64 << attempts.min(6)).min(2_000))
        })
        .event_callback(move |event| {
            let status = Arc::clone(&status);
            async move {
                match &event {
                    async_nats::Event::Connected => status.set_last_error(None),
                    async_nats::Event::ServerError(_) | async_nats::Event::ClientError(_) => {
                        tracing::warn!(%event, "nats connection");
                        status.set_last_error(Some(event.to_string()));
                        return;
                    }
                    _ => {}
                }
                tracing::info!(%event, "nats connection");
            }
        });
    options
        .connect(servers.as_slice())
        .await
        .map_err(|error| NatsError::Connect {
            url: connection.redacted_url(),
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
    let (subjects, window) = match name {
        EVENTS_STREAM => (
            vec![format!("{EVENTS_PREFIX}*"), format!("{AGREEMENTS_PREFIX}*")],
            DUPLICATE_WINDOW,
        ),
        REJECTED_STREAM => (vec![format!("{REJECTED_PREFIX}*")], DUPLICATE_WINDOW),
        CHECKPOINTS_STREAM => (vec![CHECKPOINTS_SUBJECT.to_owned()], DUPLICATE_WINDOW),
        LEDGER_STREAM => (vec![format!("{LEDGER_PREFIX}*")], DUPLICATE_WINDOW),
        _ => (vec![format!("{ALERTS_PREFIX}*")], ALERTS_DUPLICATE_WINDOW),
    };
    stream::Config {
        name: name.to_owned(),
        subjects,
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
        LEDGER_STREAM,
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
    let mut found = info.config.clone();
    if name == EVENTS_STREAM && found.subjects == [format!("{EVENTS_PREFIX}*")] {
        // A stream made before agreements had their own subject: add it.
        let mut updated = found.clone();
        updated.subjects = wanted.subjects.clone();
        let info = context
            .update_stream(updated)
            .await
            .map_err(|e| error(format!("cannot add the subject {AGREEMENTS_PREFIX}*: {e}")))?;
        tracing::info!(stream = %name, "added the subject {AGREEMENTS_PREFIX}* to the stream");
        found = info.config;
    }
    let found = &found;
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
        Err(NatsError::Refused {
            stream: name,
            problems,
        })
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
    publish_acked_with(context, subject, msg_id, HeaderMap::new(), payload).await
}

/// `publish_acked` with more headers.
pub async fn publish_acked_with(
    context: &Context,
    subject: String,
    msg_id: String,
    mut headers: HeaderMap,
    payload: Bytes,
) -> Result<bool, PublishError> {
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

/// Every alert stored in `TLA_ALERTS`, oldest first, then each new one as
/// it is published: the payloads of an ordered consumer (ephemeral, no
/// acknowledgements, recreated by the client when it misses a message).
/// What delivers alerts onwards (to Alertmanager) reads them from here,
/// so an alert stays deliverable for as long as the stream keeps it.
pub async fn follow_alerts(
    context: &Context,
) -> Result<futures::stream::BoxStream<'static, Result<Bytes, String>>, NatsError> {
    use futures::StreamExt as _;
    let error = |detail: String| NatsError::Stream {
        stream: ALERTS_STREAM.to_owned(),
        detail,
    };
    let stream = context
        .get_stream(ALERTS_STREAM)
        .await
        .map_err(|e| error(format!("cannot look it up: {e}")))?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| error(format!("cannot create a consumer to read it: {e}")))?;
    let messages = consumer
        .messages()
        .await
        .map_err(|e| error(format!("cannot read it: {e}")))?;
    Ok(messages
        .map(|m| m.map(|m| m.payload.clone()).map_err(|e| e.to_string()))
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str) -> Connection {
        Connection {
            url: url.into(),
            replicas: 1,
            name: "test".into(),
            ..Connection::default()
        }
    }

    fn refused(connection: &Connection) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        match runtime.block_on(login(connection)) {
            Ok(_) => panic!("{connection:?} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    fn prefix(connection: &Connection) -> Option<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(login(connection))
            .expect("a login")
            .inbox_prefix
    }

    #[test]
    fn the_urls_user_information_is_taken_out_and_decoded() {
        let servers = split_servers(
            "nats://tla:p%40ss%3Aw@10.0.0.1:4222, nats://tla:p%40ss%3Aw@b:4222/x,c:4222",
        )
        .unwrap();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[0].user.as_deref(), Some("tla"));
        assert_eq!(servers[0].password.as_deref(), Some("p@ss:w"));
        assert_eq!(servers[0].rest, "10.0.0.1:4222");
        assert_eq!(servers[1].rest, "b:4222/x");
        assert_eq!(servers[2].scheme, "");
        assert_eq!(servers[2].user, None);
        let url = connection("nats://tla:secret@127.0.0.1:4222,nats://tla:secret@b:4222");
        assert_eq!(
            url.redacted_url(),
            "nats://tla:***@127.0.0.1:4222,nats://tla:***@b:4222"
        );
        assert!(split_servers("nats://a:%zz@h:1").is_err());
        assert!(split_servers("nats://h:1,,nats://g:1").is_err());
    }

    #[test]
    fn the_inbox_prefix_follows_the_user_unless_given() {
        assert_eq!(
            prefix(&connection("nats://tla:secret@127.0.0.1:4222")).as_deref(),
            Some("_INBOX.tla")
        );
        assert_eq!(prefix(&connection("nats://127.0.0.1:4222")), None);
        let mut given = connection("nats://tla:secret@127.0.0.1:4222");
        given.inbox_prefix = Some("_INBOX.tla-serve".into());
        assert_eq!(prefix(&given).as_deref(), Some("_INBOX.tla-serve"));
        given.inbox_prefix = Some("_INBOX.>".into());
        assert!(refused(&given).contains("inbox prefix"));
    }

    #[test]
    fn password_files_are_read_and_logins_that_do_not_fit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, "from-the-file\nignored\n").unwrap();
        assert_eq!(
            read_secret(&password, "password file").unwrap(),
            "from-the-file"
        );
        let mut by_file = connection("nats://127.0.0.1:4222");
        by_file.user = Some("zabbix-nh".into());
        by_file.password_file = Some(password.clone());
        assert_eq!(prefix(&by_file).as_deref(), Some("_INBOX.zabbix-nh"));

        let mut no_password = connection("nats://127.0.0.1:4222");
        no_password.user = Some("tla".into());
        assert!(refused(&no_password).contains("has no password"));
        let mut no_user = connection("nats://127.0.0.1:4222");
        no_user.password_file = Some(password.clone());
        assert!(refused(&no_user).contains("needs --nats-user"));
        let mut twice = connection("nats://tla:secret@127.0.0.1:4222");
        twice.password_file = Some(password.clone());
        assert!(refused(&twice).contains("two ways"));
        let mut other_user = connection("nats://tla:secret@127.0.0.1:4222");
        other_user.user = Some("itsm".into());
        assert!(refused(&other_user).contains("\"itsm\""));
        let mut both = connection("nats://127.0.0.1:4222");
        both.creds = Some(password.clone());
        both.nkey = Some(password.clone());
        assert!(refused(&both).contains("--nats-creds and --nats-nkey"));
        let mut not_a_seed = connection("nats://127.0.0.1:4222");
        not_a_seed.nkey = Some(password.clone());
        assert!(refused(&not_a_seed).contains("not a user seed"));
        let mut missing = connection("nats://127.0.0.1:4222");
        missing.creds = Some(dir.path().join("absent.creds"));
        let said = refused(&missing);
        assert!(said.contains("absent.creds"), "{said}");
        let differ = connection("nats://tla:a@h:1,nats://tla:b@g:1");
        assert!(refused(&differ).contains("different users"));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let mut empty_file = connection("nats://127.0.0.1:4222");
        empty_file.user = Some("tla".into());
        empty_file.password_file = Some(empty);
        assert!(refused(&empty_file).contains("empty"));
    }
}
