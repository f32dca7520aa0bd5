//! The services: `tla serve` (HTTP receivers, ledger writer and live
//! projector in one process), and each part alone: `tla ingest serve`,
//! `tla ledger run`, `tla projector serve`; each entry point takes its
//! configuration from the binary's arguments and runs until stopped.
//!
//! Shape of each (mini-redis): parse the arguments, set up, then run until
//! SIGINT or SIGTERM, which stops taking new work and lets the ledger
//! writer finish the batch in hand. A process that holds the ledger writes
//! `HOLDER_FILE` into the data directory, so that a read command that
//! finds the ledger locked can say who holds it and where to ask instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use crate::access::ReadConfig;
use crate::holder::Holder;
use crate::http::{self, HttpLimits};
use anyhow::{bail, Context};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ingest::auth::Tokens;
use ingest::lease::{Lease, LeaseError, Leases, Owner, Taken};
use ingest::metrics::Metrics;
use ingest::{nats, writer};
use ledger::checkpoint::Verifier;
use ledger::prefix::{Reach, Verification};
use ledger::Ledger;
use projector::LedgerEvent;
use protocol::pipeline::Stopped;
use protocol::supervisor::{self, Supervisor};
use schemas::Event;
use tokio::sync::watch;
use web::live::Live;

/// Entries read between progress logs while the live projection loads.
const LOAD_LOG_ENTRIES: u64 = 100_000;

/// The first pause before a failed ledger writer is started again; it
/// doubles with each failure in a row, up to `WRITER_RESTART_DELAY_MAX`.
const WRITER_RESTART_DELAY: Duration = Duration::from_secs(1);

/// The longest pause between restarts of a writer that keeps failing:
/// long enough not to flood the logs, short enough to recover promptly
/// once the cause (a full disk, say) is gone.
const WRITER_RESTART_DELAY_MAX: Duration = Duration::from_secs(30);

/// A writer that ran this long before failing starts its backoff afresh.
const WRITER_HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Attempts to reopen the ledger after the writer failed, `REOPEN_DELAY`
/// apart: the failed writer's last sync may still hold the store's lock
/// for a moment. A ledger that does not reopen within them is fatal.
const REOPEN_ATTEMPTS: u32 = 50;
const REOPEN_DELAY: Duration = Duration::from_millis(200);

/// TEST ONLY: when this environment variable names an event id, the
/// service panics inside the ledger writer once a batch holding that event
/// is durable, so that tests can show the writer's supervision
/// (tests/deploy.rs). Unset in production; it changes nothing else.
const TEST_PANIC_ENV: &str = "TLA_TEST_SUPERVISOR_PANIC_ON_ID";

/// What the ledger writer is given (`--consumer`, `--subject`, `--key`,
/// `--checkpoint-entries`, `--checkpoint-seconds`).
#[derive(Clone)]
pub struct WriterConfig {
    /// The durable consumer's name (one per ledger writer and ledger).
    pub consumer: String,
    /// The subjects this writer takes.
    pub subjects: Vec<String>,
    /// The signing key file of its checkpoints, if it signs them.
    pub key: Option<PathBuf>,
    /// Sign a checkpoint after this many new entries...
    pub checkpoint_entries: u64,
    /// ...or after this many seconds with any new entry.
    pub checkpoint_seconds: u64,
    /// Start as a standby (`--standby`): follow until the writer's lease
    /// lapses. Without it the process writes at once when nobody holds
    /// the lease, and stands by (with a warning) when someone does.
    pub standby: bool,
    /// The lease's lifetime, when this process creates the lease bucket.
    pub lease: Duration,
}

/// `tla serve`: the HTTP receivers, the ledger writer and the live
/// projector in one process.
pub struct ServeConfig {
    /// The NATS connection, and the replicas of the streams it creates.
    pub nats: nats::Connection,
    pub replicas: usize,
    /// Address of the HTTP API (receivers, reports, /healthz, /metrics).
    pub listen: SocketAddr,
    pub http: HttpLimits,
    /// The bearer token file.
    pub tokens: PathBuf,
    pub writer: WriterConfig,
    /// Who reads (its `tokens` is unused: `tokens` above serves both).
    pub read: ReadConfig,
    /// Alertmanager's URL, when alerts are posted there too.
    pub alertmanager: Option<String>,
}

/// `tla ingest serve`: the HTTP receivers alone.
pub struct IngestConfig {
    pub nats: nats::Connection,
    pub replicas: usize,
    pub listen: SocketAddr,
    pub http: HttpLimits,
    pub tokens: PathBuf,
}

/// `tla ledger run`: the ledger writer, with the live projector whose API
/// it serves when `listen` is given.
pub struct LedgerConfig {
    pub nats: nats::Connection,
    pub replicas: usize,
    pub writer: WriterConfig,
    pub listen: Option<SocketAddr>,
    pub http: HttpLimits,
    pub read: ReadConfig,
    /// Alertmanager's URL, when alerts are posted there too.
    pub alertmanager: Option<String>,
}

/// `tla ledger follow`: a read replica of the ledger fed by `consumer`,
/// serving reads on `listen` when given.
pub struct FollowConfig {
    pub nats: nats::Connection,
    pub replicas: usize,
    pub consumer: String,
    pub listen: Option<SocketAddr>,
    pub http: HttpLimits,
    /// The public verifier key (text or file) of the writer's checkpoints.
    pub key: Option<String>,
    pub read: ReadConfig,
}

/// `tla projector serve`: reports from a ledger no writer holds; alerts
/// go to NATS when `nats` is given.
pub struct ProjectorConfig {
    pub listen: SocketAddr,
    pub http: HttpLimits,
    pub nats: Option<nats::Connection>,
    /// The public verifier key (text or file) the viewer's verification
    /// panel checks the latest checkpoint's signature with.
    pub key: Option<String>,
    pub read: ReadConfig,
    /// Alertmanager's URL, when alerts are posted there too (needs `nats`:
    /// they are delivered from `TLA_ALERTS`).
    pub alertmanager: Option<String>,
}

/// Where alerts are delivered: Alertmanager at `url`, with links to the
/// viewer at the public URL, or else at the address it listens on.
fn delivery(
    url: Option<&String>,
    read: &ReadConfig,
    listen: Option<SocketAddr>,
) -> Option<crate::alertmanager::Delivery> {
    let viewer = match (&read.public_url, listen) {
        (Some(public), _) => public.clone(),
        (None, Some(listen)) => format!("http://{listen}"),
        (None, None) => String::new(),
    };
    url.map(|url| crate::alertmanager::Delivery {
        url: url.clone(),
        viewer,
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `tla serve`.
pub fn serve(data_dir: &Path, args: ServeConfig) -> anyhow::Result<()> {
    args.http.check()?;
    let tokens = Tokens::load(&args.tokens)?;
    let holder_token = crate::access::holder_token()?;
    let access = args.read.access(tokens.clone(), holder_token.clone())?;
    let scrapers = tokens.clone();
    let (ledger, live) = open_and_load(data_dir, ledger::OpenMode::Create)?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let verifying = Verifying::start(&ledger, Reach::Durable)?;
    let viewer = viewer(
        &ledger,
        signing_verifier(&args.writer)?,
        &verifying,
        &access,
    )?;
    let copies = crate::snapshot::router(&ledger, &verifying.verification, &access);
    let holder = Holder::write(data_dir, "tla serve", Some(args.listen), &holder_token)?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let link = Link::connect(&args.nats).await?;
        let listener = http::bind(args.listen).await?;
        let metrics = Arc::new(Metrics::default());
        let writer_state = Arc::new(WriterState::default());
        let health = Health {
            link: Some(link.clone()),
            writer: Some(Arc::clone(&writer_state)),
            verification: Some(Arc::clone(&verifying.verification)),
            replica: false,
        };
        let app = Router::new()
            .merge(ingest::http::router(ingest_state(
                tokens,
                Some(ingest::http::Agreements::new(agreements(&live))),
                &link,
                &metrics,
            )))
            .merge(web::service::router(Arc::clone(&live), access))
            .merge(viewer)
            .merge(copies)
            .merge(operations(&health, &metrics, Some(&live), scrapers));
        let http = spawn_http(listener, app, &health, &args.http, &metrics, &shutdown);
        let writing = Writing {
            ledger,
            data_dir: data_dir.to_owned(),
            live,
            link,
            replicas: args.replicas,
            metrics,
            state: writer_state,
            verification: Arc::clone(&verifying.verification),
            alertmanager: delivery(args.alertmanager.as_ref(), &args.read, Some(args.listen)),
        };
        writing.run(args.writer, &shutdown, Some(http)).await
    });
    drop(verifying);
    holder.remove();
    result
}

/// `tla ingest serve`.
pub fn ingest_serve(args: IngestConfig) -> anyhow::Result<()> {
    args.http.check()?;
    let tokens = Tokens::load(&args.tokens)?;
    runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let link = Link::connect(&args.nats).await?;
        let listener = http::bind(args.listen).await?;
        let metrics = Arc::new(Metrics::default());
        let health = Health {
            link: Some(link.clone()),
            writer: None,
            verification: None,
            replica: false,
        };
        let scrapers = tokens.clone();
        let app = ingest::http::router(ingest_state(tokens, None, &link, &metrics))
            .merge(operations(&health, &metrics, None, scrapers));
        let http = spawn_http(listener, app, &health, &args.http, &metrics, &shutdown);
        let prepared = link.prepare(args.replicas, &shutdown).await;
        if prepared.is_err() {
            shutdown.stop();
        }
        http.await.context("the HTTP task failed")??;
        prepared.map(|_| ())
    })
}

/// `tla ledger run`.
pub fn ledger_run(data_dir: &Path, args: LedgerConfig) -> anyhow::Result<()> {
    if args.listen.is_some() {
        args.http.check()?;
    }
    let holder_token = crate::access::holder_token()?;
    let scrapers = args.read.load_tokens()?;
    let access = args.read.access(scrapers.clone(), holder_token.clone())?;
    let (ledger, live) = open_and_load(data_dir, ledger::OpenMode::Create)?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let verifying = Verifying::start(&ledger, Reach::Durable)?;
    let viewer = viewer(
        &ledger,
        signing_verifier(&args.writer)?,
        &verifying,
        &access,
    )?;
    let copies = crate::snapshot::router(&ledger, &verifying.verification, &access);
    let holder = Holder::write(data_dir, "tla ledger run", args.listen, &holder_token)?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let link = Link::connect(&args.nats).await?;
        let metrics = Arc::new(Metrics::default());
        let writer_state = Arc::new(WriterState::default());
        let health = Health {
            link: Some(link.clone()),
            writer: Some(Arc::clone(&writer_state)),
            verification: Some(Arc::clone(&verifying.verification)),
            replica: false,
        };
        let reads = web::service::router(Arc::clone(&live), access)
            .merge(viewer)
            .merge(copies);
        let http_task = spawn_reads(
            args.listen,
            &health,
            reads,
            &live,
            scrapers,
            &args.http,
            &metrics,
            &shutdown,
        )
        .await?;
        let writing = Writing {
            ledger,
            data_dir: data_dir.to_owned(),
            live,
            link,
            replicas: args.replicas,
            metrics,
            state: writer_state,
            verification: Arc::clone(&verifying.verification),
            alertmanager: delivery(args.alertmanager.as_ref(), &args.read, args.listen),
        };
        writing.run(args.writer, &shutdown, http_task).await
    });
    drop(verifying);
    holder.remove();
    result
}

/// `tla ledger restore`: what to restore from.
pub struct RestoreConfig {
    pub nats: nats::Connection,
    pub consumer: String,
}

/// What `tla ledger restore` restored.
pub struct Restored {
    pub head: ledger::Head,
    /// The Merkle root (hex).
    pub root: String,
    pub checkpoints: usize,
    pub consumer: String,
}

/// How long a restore tries to reach NATS before it gives up.
const RESTORE_ATTEMPTS: u32 = 20;

/// `tla ledger restore`: follows the commit log into an empty data
/// directory until it holds the log's last message, then syncs.
pub fn ledger_restore(data_dir: &Path, args: RestoreConfig) -> anyhow::Result<Restored> {
    if ledger::store::has_store_files(data_dir) {
        let existing = crate::open_ledger(data_dir, ledger::OpenMode::Existing)?;
        let cursor = existing.cursor(&ingest::replica::cursor_name(&args.consumer))?;
        if existing.size() > 0 || cursor.is_some() {
            bail!(
                "{} already holds a ledger of {} entries; restore into an empty directory \
                 (a replica that is behind catches up by itself when its writer or \
                 `tla serve --standby` starts)",
                data_dir.display(),
                existing.size()
            );
        }
    }
    let ledger = crate::open_ledger(data_dir, ledger::OpenMode::Create)?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let followed = runtime()?.block_on(async {
        let link = Link::connect(&args.nats).await?;
        let follower = ingest::replica::Follower {
            ledger: Arc::clone(&ledger),
            jetstream: nats::jetstream(link.client.clone()),
            consumer: args.consumer.clone(),
            metrics: Arc::new(Metrics::default()),
            checkpoints: true,
        };
        let (_stop, never) = watch::channel(false);
        let mut attempt = 0;
        loop {
            match follower
                .follow(ingest::replica::Until::CaughtUp, &|_| (), never.clone())
                .await
            {
                Ok(followed) => return anyhow::Ok(followed),
                Err(error) if error.is_transient() && attempt < RESTORE_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, url = %link.url, "commit log not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => return Err(error).context("restoring from the commit log"),
            }
        }
    })?;
    let ledger = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    ledger.syncer().sync()?;
    let checkpoints = ledger.checkpoints_stored()?;
    Ok(Restored {
        head: followed.head,
        root: hex::encode(ledger.merkle_root(followed.head.size)?),
        checkpoints,
        consumer: args.consumer,
    })
}

/// `tla ledger follow`: applies the commit log until shutdown, serving
/// reads meanwhile; a record that does not check ends it with an error.
pub fn ledger_follow(data_dir: &Path, args: FollowConfig) -> anyhow::Result<()> {
    if args.listen.is_some() {
        args.http.check()?;
    }
    let holder_token = crate::access::holder_token()?;
    let scrapers = args.read.load_tokens()?;
    let access = args.read.access(scrapers.clone(), holder_token.clone())?;
    let verifier = args
        .key
        .as_deref()
        .map(crate::keys::load_verifier)
        .transpose()?;
    let (ledger, live) = open_and_load(data_dir, ledger::OpenMode::Create)?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let verifying = Verifying::start(&ledger, Reach::Durable)?;
    let viewer = viewer(&ledger, verifier, &verifying, &access)?;
    let copies = crate::snapshot::router(&ledger, &verifying.verification, &access);
    let holder = Holder::write(data_dir, "tla ledger follow", args.listen, &holder_token)?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let link = Link::connect(&args.nats).await?;
        let metrics = Arc::new(Metrics::default());
        let health = Health {
            link: Some(link.clone()),
            writer: None,
            verification: Some(Arc::clone(&verifying.verification)),
            replica: true,
        };
        let reads = web::service::router(Arc::clone(&live), access)
            .merge(viewer)
            .merge(copies);
        let http_task = spawn_reads(
            args.listen,
            &health,
            reads,
            &live,
            scrapers,
            &args.http,
            &metrics,
            &shutdown,
        )
        .await?;
        let followed = match link.prepare(args.replicas, &shutdown).await {
            Ok(true) => {
                let follower = ingest::replica::Follower {
                    ledger: Arc::clone(&ledger),
                    jetstream: nats::jetstream(link.client.clone()),
                    consumer: args.consumer.clone(),
                    metrics: Arc::clone(&metrics),
                    checkpoints: true,
                };
                tracing::info!(consumer = %args.consumer, url = %link.url, "following the ledger's commit log");
                let feed = feed(&live, &verifying.verification);
                let durable = move |batch: writer::Durable| feed(batch);
                follower
                    .follow_until_shutdown(&durable, shutdown.receiver())
                    .await
                    .map(|followed| {
                        tracing::info!(size = followed.head.size, cursor = followed.cursor, "replica stopped");
                    })
                    .context("the replica stopped following the commit log")
            }
            Ok(false) => Ok(()),
            Err(error) => Err(error),
        };
        shutdown.stop();
        if let Some(task) = http_task {
            task.await.context("the HTTP task failed")??;
        }
        followed
    });
    drop(verifying);
    holder.remove();
    result
}

/// `tla projector serve`.
pub fn projector_serve(data_dir: &Path, args: ProjectorConfig) -> anyhow::Result<()> {
    args.http.check()?;
    if args.alertmanager.is_some() && args.nats.is_none() {
        anyhow::bail!(
            "--alertmanager needs --nats: alerts are delivered to Alertmanager from the \
             TLA_ALERTS stream, so that none is lost while Alertmanager is down"
        );
    }
    // Serves a ledger that exists; it never creates one.
    let (ledger, live) = open_and_load(data_dir, ledger::OpenMode::Existing)?;
    let size = ledger.size();
    let verifier = args
        .key
        .as_deref()
        .map(crate::keys::load_verifier)
        .transpose()?;
    let holder_token = crate::access::holder_token()?;
    let scrapers = args.read.load_tokens()?;
    let access = args.read.access(scrapers.clone(), holder_token.clone())?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let verifying = Verifying::start(&ledger, Reach::Head)?;
    let viewer = viewer(&ledger, verifier, &verifying, &access)?;
    let copies = crate::snapshot::router(&ledger, &verifying.verification, &access);
    let holder = Holder::write(
        data_dir,
        "tla projector serve",
        Some(args.listen),
        &holder_token,
    )?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let metrics = Arc::new(Metrics::default());
        metrics
            .ledger_size
            .store(size, std::sync::atomic::Ordering::Relaxed);
        let link = match &args.nats {
            Some(connection) => Some(Link::connect(connection).await?),
            None => None,
        };
        let listener = http::bind(args.listen).await?;
        let health = Health {
            link: link.clone(),
            writer: None,
            verification: Some(Arc::clone(&verifying.verification)),
            replica: false,
        };
        let app = web::service::router(Arc::clone(&live), access)
            .merge(viewer)
            .merge(copies)
            .merge(operations(&health, &metrics, Some(&live), scrapers));
        let http = spawn_http(listener, app, &health, &args.http, &metrics, &shutdown);
        let mut prepared = Ok(());
        if let Some(link) = &link {
            match link.prepare(1, &shutdown).await {
                Ok(true) => {
                    let alerts =
                        delivery(args.alertmanager.as_ref(), &args.read, Some(args.listen));
                    refresh(
                        Arc::clone(&live),
                        link.client.clone(),
                        alerts,
                        shutdown.receiver(),
                    )
                    .await
                }
                Ok(false) => {}
                Err(error) => {
                    shutdown.stop();
                    prepared = Err(error);
                }
            }
        }
        http.await.context("the HTTP task failed")??;
        prepared
    });
    drop(verifying);
    drop(ledger);
    holder.remove();
    result
}

/// Opens the ledger for a service (`mode`: whether it may create one) and
/// loads every entry into a live projection.
fn open_and_load(data_dir: &Path, mode: ledger::OpenMode) -> anyhow::Result<(Ledger, Arc<Live>)> {
    let ledger = crate::open_ledger(data_dir, mode)?;
    let live = Arc::new(Live::new());
    follow_from(&live, &ledger, 0)?;
    tracing::info!(entries = ledger.size(), "live projection loaded");
    Ok((ledger, live))
}

/// Feeds `live` the ledger's entries from position `from` on.
fn follow_from(live: &Live, ledger: &Ledger, from: u64) -> anyhow::Result<()> {
    let mut events = Vec::new();
    for entry in ledger.entries(from) {
        let entry = entry?;
        let position = entry.record.position;
        let event = Event::from_canonical(&entry.record.event).map_err(|errors| {
            anyhow::anyhow!(
                "ledger position {position}: the stored event does not parse: {errors:?}"
            )
        })?;
        events.push(LedgerEvent { position, event });
        if (position + 1) % LOAD_LOG_ENTRIES == 0 {
            tracing::info!(entries = position + 1, "loading the live projection");
        }
    }
    let head = ledger.head();
    let tree_root = hex::encode(ledger.merkle_root(head.size)?);
    live.follow(events, head.size, head.hash.to_hex(), tree_root);
    Ok(())
}

/// The shutdown signal: a watch that turns true on SIGINT, SIGTERM, or
/// when a part of the service stops on its own.
#[derive(Clone)]
struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Shutdown {
    fn receiver(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }

    fn stop(&self) {
        self.sender.send_replace(true);
    }

    fn stopped(&self) -> bool {
        *self.sender.borrow()
    }
}

/// Starts listening for SIGINT and SIGTERM.
fn shutdown_signal() -> Shutdown {
    let shutdown = Shutdown {
        sender: Arc::new(watch::channel(false).0),
    };
    let signalled = shutdown.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down: finishing the batch in hand");
        signalled.stop();
    });
    shutdown
}

/// The NATS client of a service and what it knows of the link.
#[derive(Clone)]
struct Link {
    client: async_nats::Client,
    status: Arc<nats::Status>,
    /// The URL without its password, for messages.
    url: String,
}

impl Link {
    /// Starts connecting (in the background: this returns at once, so the
    /// HTTP port opens while NATS is still down). Fails only on
    /// credentials that cannot be read or do not fit together.
    async fn connect(connection: &nats::Connection) -> anyhow::Result<Link> {
        let status = Arc::new(nats::Status::default());
        let client = nats::connect(connection, Arc::clone(&status)).await?;
        Ok(Link {
            client,
            status,
            url: connection.redacted_url(),
        })
    }

    /// Creates (or checks) the streams, retrying until NATS answers:
    /// `Ok(true)` once they are ready, `Ok(false)` on shutdown first, and
    /// an error for streams this service refuses to use.
    async fn prepare(&self, replicas: usize, shutdown: &Shutdown) -> anyhow::Result<bool> {
        let jetstream = nats::jetstream(self.client.clone());
        let mut stopped = shutdown.receiver();
        let mut delay = Duration::from_millis(100);
        loop {
            match nats::ensure_streams(&jetstream, replicas).await {
                Ok(()) => {
                    self.status.set_streams_ready();
                    tracing::info!(url = %self.url, "JetStream streams ready");
                    return Ok(true);
                }
                Err(error @ nats::NatsError::Refused { .. }) => bail!(error),
                Err(error) => {
                    tracing::warn!(%error, url = %self.url, "JetStream not ready; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopped.changed() => {}
                    }
                    if shutdown.stopped() {
                        tracing::info!(url = %self.url, "stopped before NATS answered");
                        return Ok(false);
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// The tenants with an agreement, as the live projection knows them.
fn agreements(live: &Arc<Live>) -> ingest::http::AgreementCheck {
    let live = Arc::clone(live);
    Arc::new(move |tenant: &str| live.has_agreement(tenant))
}

/// The HTTP receivers' shared state over one NATS connection.
fn ingest_state(
    tokens: Tokens,
    agreements: Option<ingest::http::Agreements>,
    link: &Link,
    metrics: &Arc<Metrics>,
) -> Arc<ingest::http::Ingest> {
    Arc::new(ingest::http::Ingest {
        tokens,
        agreements,
        jetstream: nats::jetstream(link.client.clone()),
        client: link.client.clone(),
        nats: Arc::clone(&link.status),
        metrics: Arc::clone(metrics),
    })
}

/// What `/healthz` says of the ledger writer: `Some(error)` while it is
/// restarting after that error.
#[derive(Default)]
struct WriterState {
    restarting: std::sync::Mutex<Option<String>>,
    /// What the process does now ("starting", "standby", "writer"), and
    /// who holds the lease while it stands by.
    role: std::sync::Mutex<(&'static str, Option<String>)>,
}

impl WriterState {
    fn set_role(&self, role: &'static str, holder: Option<String>) {
        *self.role.lock().unwrap_or_else(PoisonError::into_inner) = (role, holder);
    }

    fn role(&self) -> (&'static str, Option<String>) {
        let role = self.role.lock().unwrap_or_else(PoisonError::into_inner);
        (
            if role.0.is_empty() {
                "starting"
            } else {
                role.0
            },
            role.1.clone(),
        )
    }

    fn set(&self, restarting: Option<String>) {
        *self
            .restarting
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = restarting;
    }

    fn restarting(&self) -> Option<String> {
        self.restarting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What `tla serve` and `tla ledger run` share: the ledger writer feeding
/// the live projection, and the refresher publishing its alerts.
struct Writing {
    ledger: writer::SharedLedger,
    data_dir: PathBuf,
    live: Arc<Live>,
    link: Link,
    replicas: usize,
    metrics: Arc<Metrics>,
    state: Arc<WriterState>,
    /// The verified prefix, told of each durable batch.
    verification: Arc<Verification>,
    /// Where the refresher's alerts are delivered besides NATS.
    alertmanager: Option<crate::alertmanager::Delivery>,
}

impl Writing {
    /// Waits for the streams, then runs the writer (restarted when it
    /// fails) and the refresher until shutdown, then stops everything and
    /// waits for the HTTP task, if any.
    async fn run(
        self,
        args: WriterConfig,
        shutdown: &Shutdown,
        http: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    ) -> anyhow::Result<()> {
        let written = match self.link.prepare(self.replicas, shutdown).await {
            Ok(true) => {
                let refresher = tokio::spawn(refresh(
                    Arc::clone(&self.live),
                    self.link.client.clone(),
                    self.alertmanager.clone(),
                    shutdown.receiver(),
                ));
                let written = self.supervise(args, shutdown).await;
                shutdown.stop();
                refresher.await.context("the refresher failed")?;
                written
            }
            Ok(false) => Ok(()),
            Err(error) => Err(error),
        };
        shutdown.stop();
        if let Some(task) = http {
            task.await.context("the HTTP task failed")??;
        }
        written
    }

    /// Runs the ledger writer while this process holds the ledger's lease
    /// (`ingest::lease`), and follows the commit log as a standby while
    /// another process does, until shutdown. A writer replaced by another
    /// (fenced by the commit log, or its lease lost) and a writer that
    /// fails or panics become standbys over a ledger opened afresh; a
    /// failed one waits a backoff first, while `/healthz` and the receivers
    /// answer 503 naming the error, so that a healthy standby elsewhere
    /// takes over. A ledger that cannot be reopened ends the service.
    /// Every one of these decisions is `protocol::supervisor`'s; this is
    /// its shell (`Shell`), the same machine the simulator runs.
    async fn supervise(&self, args: WriterConfig, shutdown: &Shutdown) -> anyhow::Result<()> {
        let jetstream = nats::jetstream(self.link.client.clone());
        let mut delay = Duration::from_millis(100);
        let leases = loop {
            match Leases::open(&jetstream, &args.consumer, args.lease, self.replicas).await {
                Ok(leases) => break leases,
                Err(error) => {
                    tracing::warn!(%error, "cannot open the ledger's lease yet; retrying");
                    let mut stopped = shutdown.receiver();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stopped.changed() => {}
                    }
                    if shutdown.stopped() {
                        return Ok(());
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        };
        let owner = Owner::this_process(&self.data_dir);
        let mut shell = Shell {
            writing: self,
            args,
            shutdown,
            jetstream,
            leases,
            owner,
            lease: None,
            term: None,
            job: None,
            following: None,
            poll_at: None,
            renew_at: None,
            holder: None,
            started: Instant::now(),
            failures: 0,
            failure: None,
            copy_failed: None,
            told_shutdown: false,
        };
        // Every decision is the supervisor's; the shell carries inputs and
        // actions.
        let mut role = Supervisor::new(shell.args.standby);
        let mut inputs = std::collections::VecDeque::new();
        inputs.push_back(supervisor::Input::Opened {
            empty: self.size() == 0,
        });
        loop {
            let input = match inputs.pop_front() {
                Some(input) => input,
                None => shell.next_input().await?,
            };
            tracing::debug!(?input, role = ?role.role(), "supervisor input");
            let copying = role.role() == supervisor::Role::Copying;
            for action in role.handle(input) {
                tracing::debug!(?action, "supervisor action");
                match shell.act(action, copying).await? {
                    Acted::Next(Some(input)) => inputs.push_back(input),
                    Acted::Next(None) => {}
                    Acted::Exit => return shell.exit().await,
                }
            }
        }
    }

    /// The ledger's size now.
    fn size(&self) -> u64 {
        self.ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size()
    }

    /// The writer failed with `error`: says so on `/healthz` and the
    /// receivers, counts the restart, and waits the backoff (doubling while
    /// it keeps failing); `true` when shutdown came meanwhile.
    async fn back_off(
        &self,
        error: &str,
        started: Instant,
        failures: &mut u32,
        shutdown: &Shutdown,
    ) -> bool {
        let reason = format!("ledger writer restarting: {error}");
        tracing::error!(%error, "the ledger writer failed; restarting it");
        self.state.set(Some(reason.clone()));
        self.link.status.hold(Some(reason));
        self.metrics
            .writer_restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if started.elapsed() >= WRITER_HEALTHY_AFTER {
            *failures = 0;
        }
        let delay = WRITER_RESTART_DELAY
            .saturating_mul(1 << (*failures).min(5))
            .min(WRITER_RESTART_DELAY_MAX);
        *failures = failures.saturating_add(1);
        let mut stopped = shutdown.receiver();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped.changed() => {}
        }
        if shutdown.stopped() {
            tracing::warn!(%error, "stopping with the ledger writer failed; unacknowledged messages are redelivered at the next start");
            return true;
        }
        false
    }

    /// Opens the ledger afresh (the writer stopped: its in-memory state is
    /// not trusted), on a blocking thread.
    async fn reopen(&self) -> anyhow::Result<()> {
        let (ledger, data_dir, live) = (
            Arc::clone(&self.ledger),
            self.data_dir.clone(),
            Arc::clone(&self.live),
        );
        tokio::task::spawn_blocking(move || reopen(&ledger, &data_dir, &live))
            .await
            .context("reopening the ledger failed")?
            .context("the ledger cannot be reopened")
    }
}

/// What the supervisor's shell did with an action.
enum Acted {
    /// Done; its answer, if it has one now.
    Next(Option<supervisor::Input>),
    /// The process ends.
    Exit,
}

/// The async shell of `protocol::supervisor` in `Writing::supervise`: it
/// carries the supervisor's actions to NATS (the lease, the commit log,
/// the consumer's binding) and the ledger, runs the long ones (a
/// follower, a catch-up, the writer) as tasks, and feeds back their ends,
/// the lease's answers, its timers and shutdown. It decides nothing.
struct Shell<'a> {
    writing: &'a Writing,
    args: WriterConfig,
    shutdown: &'a Shutdown,
    jetstream: async_nats::jetstream::Context,
    leases: Leases,
    owner: Owner,
    /// The lease, while this process holds it.
    lease: Option<Lease>,
    /// The stop signal of the writer and its start, for the lease held.
    term: Option<watch::Sender<bool>>,
    /// The step in hand (a claim, a catch-up, the log's end, a backlog,
    /// the writer): its end is the next input.
    job: Option<tokio::task::JoinHandle<anyhow::Result<supervisor::Input>>>,
    /// The standby's follower and its stop signal.
    following: Option<(watch::Sender<bool>, Following)>,
    /// When to feed `Poll` (a standby) and `RenewDue` (the lease held).
    poll_at: Option<tokio::time::Instant>,
    renew_at: Option<tokio::time::Instant>,
    /// Who holds the lease, as last read.
    holder: Option<String>,
    /// When the lease was last taken (a writer failing long after is not
    /// failing in a row).
    started: Instant,
    failures: u32,
    /// Why the writer failed, until the ledger is reopened.
    failure: Option<String>,
    /// The standby's first copy of the log failed: the process ends with it.
    copy_failed: Option<anyhow::Error>,
    told_shutdown: bool,
}

type Following =
    tokio::task::JoinHandle<Result<ingest::replica::Followed, ingest::replica::LogError>>;

/// What woke the shell.
enum Woke {
    Shutdown,
    Poll,
    Renew,
    Job(Result<anyhow::Result<supervisor::Input>, tokio::task::JoinError>),
    Followed(
        Result<
            Result<ingest::replica::Followed, ingest::replica::LogError>,
            tokio::task::JoinError,
        >,
    ),
}

impl Shell<'_> {
    /// Waits for the next input: the step in hand ending, a timer,
    /// shutdown, or (an error) the standby's follower refusing a record.
    async fn next_input(&mut self) -> anyhow::Result<supervisor::Input> {
        if !self.told_shutdown && self.shutdown.stopped() {
            // A receiver made after the stop never sees it change.
            self.told_shutdown = true;
            return Ok(supervisor::Input::Shutdown);
        }
        let mut ended = self.shutdown.receiver();
        let (poll_at, renew_at, told) = (self.poll_at, self.renew_at, self.told_shutdown);
        let (job, following) = (&mut self.job, &mut self.following);
        let woke = tokio::select! {
            _ = ended.changed(), if !told => Woke::Shutdown,
            _ = at(poll_at) => Woke::Poll,
            _ = at(renew_at) => Woke::Renew,
            joined = join(job) => Woke::Job(joined),
            followed = async {
                match following {
                    Some((_, task)) => task.await,
                    None => std::future::pending().await,
                }
            } => Woke::Followed(followed),
        };
        match woke {
            Woke::Shutdown => {
                self.told_shutdown = true;
                Ok(supervisor::Input::Shutdown)
            }
            Woke::Poll => {
                self.poll_at = None;
                Ok(supervisor::Input::Poll)
            }
            Woke::Renew => {
                self.renew_at = Some(tokio::time::Instant::now() + self.leases.renew_every());
                Ok(supervisor::Input::RenewDue)
            }
            Woke::Job(joined) => {
                self.job = None;
                self.ended(joined)
            }
            Woke::Followed(followed) => {
                // Only a refusal ends it before `StopFollowing`.
                self.following = None;
                followed
                    .context("the standby's follower task failed")?
                    .context("the standby stopped following the commit log")?;
                bail!("the standby stopped following the commit log")
            }
        }
    }

    /// The step in hand ended: its answer, or the writer's stop.
    fn ended(
        &mut self,
        joined: Result<anyhow::Result<supervisor::Input>, tokio::task::JoinError>,
    ) -> anyhow::Result<supervisor::Input> {
        let error = match joined {
            Ok(Ok(input)) => return Ok(input),
            Ok(Err(error)) => error,
            Err(joined) => match joined.try_into_panic() {
                Ok(panic) => anyhow::anyhow!("panicked: {}", panic_message(panic.as_ref())),
                Err(joined) => anyhow::anyhow!("its task ended: {joined}"),
            },
        };
        if self.copy_failed.is_none() && error.downcast_ref::<FirstCopy>().is_some() {
            self.copy_failed = Some(error);
            return Ok(supervisor::Input::WriterStopped(Stopped::Failed));
        }
        // Refused its consumer (one consumer, one ledger): a restart
        // would be refused again, so the service stops instead.
        if refused_consumer(&error) {
            return Err(error);
        }
        // Another writer extended the commit log: this one was replaced;
        // it follows from now on.
        if fenced(&error) {
            tracing::error!(error = %format!("{error:#}"), "this writer was replaced by another; following as a standby");
            return Ok(supervisor::Input::WriterStopped(Stopped::Fenced {
                expected: 0,
            }));
        }
        self.failure = Some(format!("{error:#}"));
        Ok(supervisor::Input::WriterStopped(Stopped::Failed))
    }

    /// Carries out one action (`copying`: the supervisor was copying the
    /// log when it asked).
    async fn act(&mut self, action: supervisor::Action, copying: bool) -> anyhow::Result<Acted> {
        use supervisor::{Action as A, Input};
        let w = self.writing;
        let input = match action {
            A::CheckBinding => {
                // A directory of another ledger, or an empty one without
                // --standby, is refused as its writer would be, also while
                // another process writes.
                match ingest::binding::check(&self.jetstream, &w.ledger, &self.args.consumer).await
                {
                    Ok(()) => {}
                    Err(error) if error.is_refusal() => {
                        return Err(writer::WriterError::Binding(error))
                            .context("the ledger writer stopped")
                    }
                    Err(error) => tracing::warn!(%error, "cannot check the consumer's binding yet"),
                }
                None
            }
            A::TryLease => Some(self.try_lease().await),
            A::Follow => {
                let holder = self.holder.as_deref().unwrap_or("(unknown)");
                if self.args.standby {
                    tracing::info!(%holder, "standing by: following the commit log until the writer's lease lapses");
                } else {
                    tracing::warn!(%holder, "another process holds the ledger's lease: following the commit log as a standby until it lapses (never two writers)");
                }
                let follower = self.follower(true);
                let feed = feed(&w.live, &w.verification);
                let (stop, stopped) = watch::channel(false);
                let task = tokio::spawn(async move {
                    let durable = move |batch: writer::Durable| feed(batch);
                    follower.follow_until_shutdown(&durable, stopped).await
                });
                self.following = Some((stop, task));
                None
            }
            A::StopFollowing => {
                if let Some((stop, task)) = self.following.take() {
                    stop.send_replace(true);
                    task.await
                        .context("the standby's follower task failed")?
                        .context("the standby stopped following the commit log")?;
                }
                None
            }
            A::RenewLease => self.renew().await,
            A::Claim => {
                let (jetstream, ledger) = (self.jetstream.clone(), Arc::clone(&w.ledger));
                let consumer = self.args.consumer.clone();
                self.spawn(async move {
                    ingest::binding::claim(&jetstream, &ledger, &consumer)
                        .await
                        .map_err(writer::WriterError::Binding)
                        .context("the ledger writer stopped")?;
                    Ok(Input::Claimed)
                });
                None
            }
            A::CatchUp if copying => {
                // --standby on an empty directory: it becomes a copy of
                // the log's ledger first, whoever writes.
                let follower = self.follower(true);
                let feed = feed(&w.live, &w.verification);
                let stop = self.shutdown.receiver();
                self.spawn(async move {
                    let durable = move |batch: writer::Durable| feed(batch);
                    follower
                        .follow(ingest::replica::Until::CaughtUp, &durable, stop)
                        .await
                        .context(FirstCopy)?;
                    Ok(Input::CaughtUp)
                });
                None
            }
            A::CatchUp => {
                let (jetstream, ledger) = (self.jetstream.clone(), Arc::clone(&w.ledger));
                let (consumer, metrics) = (self.args.consumer.clone(), Arc::clone(&w.metrics));
                let feed = feed(&w.live, &w.verification);
                let stop = self.term_receiver();
                self.spawn(async move {
                    let durable = move |batch: writer::Durable| feed(batch);
                    writer::catch_up(&ledger, &jetstream, &consumer, &metrics, &durable, stop)
                        .await
                        .context("the ledger writer stopped")?;
                    Ok(Input::CaughtUp)
                });
                None
            }
            A::ReadLogEnd => {
                let (jetstream, ledger) = (self.jetstream.clone(), Arc::clone(&w.ledger));
                let consumer = self.args.consumer.clone();
                self.spawn(async move {
                    let (size, last) = writer::log_end(&ledger, &jetstream, &consumer)
                        .await
                        .context("the ledger writer stopped")?;
                    if matches!(last, Some((_, covered)) if covered > size) {
                        tracing::info!(
                            "the commit log grew during the catch-up; catching up again"
                        );
                    }
                    Ok(Input::LogEnd { size, last })
                });
                None
            }
            A::PublishBacklog { from, log_last } => {
                let (jetstream, ledger) = (self.jetstream.clone(), Arc::clone(&w.ledger));
                let consumer = self.args.consumer.clone();
                self.spawn(async move {
                    let sequence =
                        writer::publish_backlog(&ledger, &jetstream, &consumer, from, log_last)
                            .await
                            .context("the ledger writer stopped")?;
                    Ok(Input::BacklogPublished { sequence })
                });
                None
            }
            A::Write { log_last } => {
                let task = write(
                    Arc::clone(&w.ledger),
                    w.link.client.clone(),
                    self.args.clone(),
                    Arc::clone(&w.metrics),
                    feed(&w.live, &w.verification),
                    self.term_receiver(),
                    log_last,
                );
                self.spawn(async move {
                    task.await?;
                    Ok(Input::WriterEnded)
                });
                None
            }
            A::StopWriting(why) => {
                tracing::debug!(?why, "asking the ledger writer to stop");
                if let Some(term) = &self.term {
                    term.send_replace(true);
                }
                None
            }
            A::ReleaseLease => {
                self.renew_at = None;
                if let Some(lease) = self.lease.take() {
                    lease.release().await;
                }
                None
            }
            A::Backoff => {
                let error = self
                    .failure
                    .get_or_insert_with(|| "it stopped without being asked to".to_owned())
                    .clone();
                if w.back_off(&error, self.started, &mut self.failures, self.shutdown)
                    .await
                {
                    self.told_shutdown = true;
                    Some(Input::Shutdown)
                } else {
                    Some(Input::BackedOff)
                }
            }
            A::Reopen => {
                // Not renewed any more; its key stays until it lapses or
                // this directory takes it again.
                self.lease = None;
                self.renew_at = None;
                self.term = None;
                match self.failure.take() {
                    Some(error) => {
                        w.reopen()
                            .await
                            .with_context(|| format!("the ledger writer failed ({error})"))?;
                        w.state.set(None);
                        w.link.status.hold(None);
                        tracing::info!("ledger reopened; restarting the ledger writer");
                    }
                    None => w.reopen().await?,
                }
                Some(Input::Opened {
                    empty: w.size() == 0,
                })
            }
            A::Exit => return Ok(Acted::Exit),
        };
        Ok(Acted::Next(input))
    }

    /// Tries to take the lease: `LeaseTaken` or `LeaseHeld`.
    async fn try_lease(&mut self) -> supervisor::Input {
        let w = self.writing;
        let other = match self.leases.take(&self.owner).await {
            Ok(Taken::Held(lease)) => {
                tracing::info!("took the ledger's lease: catching up and writing");
                self.lease = Some(*lease);
                self.poll_at = None;
                self.renew_at = Some(tokio::time::Instant::now() + self.leases.renew_every());
                self.term = Some(watch::channel(false).0);
                self.started = Instant::now();
                w.state.set_role("writer", None);
                return supervisor::Input::LeaseTaken {
                    empty: w.size() == 0,
                };
            }
            Ok(Taken::By(other)) => other,
            Err(error) => {
                tracing::warn!(%error, "cannot read the ledger's lease");
                Owner::unknown(&format!("(unknown: {error})"))
            }
        };
        w.state.set_role("standby", Some(other.to_string()));
        self.holder = Some(other.to_string());
        self.poll_at = Some(tokio::time::Instant::now() + self.leases.poll_every());
        supervisor::Input::LeaseHeld
    }

    /// Renews the lease: `LeaseLost` when it lapsed and another took it.
    async fn renew(&mut self) -> Option<supervisor::Input> {
        let lease = self.lease.as_mut()?;
        let asked = Instant::now();
        let renewed = lease.renew().await;
        // Slow renewals are what lose a healthy writer its lease: say so
        // before it happens, with how long the last one took.
        let every = self.leases.renew_every();
        if asked.elapsed() > every {
            tracing::warn!(took = ?asked.elapsed(), lifetime = ?self.leases.ttl(), "renewing the ledger's lease was slow");
        }
        match renewed {
            Ok(()) => None,
            Err(error @ LeaseError::Lost { .. }) => {
                tracing::warn!(why = %error, "this writer lost the ledger's lease and stops writing; following as a standby");
                self.lease = None;
                self.renew_at = None;
                Some(supervisor::Input::LeaseLost)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot renew the ledger's lease; trying again");
                None
            }
        }
    }

    /// The process ends: the step in hand (a first copy stopped by the
    /// shutdown) and the follower are awaited first.
    async fn exit(mut self) -> anyhow::Result<()> {
        if let Some((stop, task)) = self.following.take() {
            stop.send_replace(true);
            task.await
                .context("the standby's follower task failed")?
                .context("the standby stopped following the commit log")?;
        }
        if let Some(job) = self.job.take() {
            if let Ok(Err(error)) = job.await {
                tracing::debug!(error = %format!("{error:#}"), "the step in hand ended with the process");
            }
        }
        match self.copy_failed.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn follower(&self, checkpoints: bool) -> ingest::replica::Follower {
        let w = self.writing;
        ingest::replica::Follower {
            ledger: Arc::clone(&w.ledger),
            jetstream: self.jetstream.clone(),
            consumer: self.args.consumer.clone(),
            metrics: Arc::clone(&w.metrics),
            checkpoints,
        }
    }

    /// The writer's stop signal for the lease held (one already on when
    /// no lease is: the step stops at once).
    fn term_receiver(&mut self) -> watch::Receiver<bool> {
        self.term
            .get_or_insert_with(|| watch::channel(true).0)
            .subscribe()
    }

    fn spawn(
        &mut self,
        step: impl std::future::Future<Output = anyhow::Result<supervisor::Input>> + Send + 'static,
    ) {
        self.job = Some(tokio::spawn(step));
    }
}

/// The error of a standby's first copy of the commit log, which ends the
/// process.
#[derive(Debug, thiserror::Error)]
#[error("the standby's first copy of the commit log failed")]
struct FirstCopy;

/// Waits until `when`, or for ever.
async fn at(when: Option<tokio::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

/// Joins the task in `slot`, or waits for ever when there is none.
async fn join<T>(
    slot: &mut Option<tokio::task::JoinHandle<T>>,
) -> Result<T, tokio::task::JoinError> {
    match slot {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}
/// Whether the writer stopped because its consumer belongs to another
/// ledger (`ingest::binding`), which no restart changes.
fn refused_consumer(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<writer::WriterError>(),
            Some(writer::WriterError::Binding(refusal)) if refusal.is_refusal()
        )
    })
}

/// Whether the writer stopped because another writer extended the
/// ledger's commit log (`ingest::replica`, fencing).
fn fenced(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<writer::WriterError>()
            .is_some_and(writer::WriterError::is_fenced)
    })
}

/// The text of a panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

/// Replaces the shared ledger by a fresh open of `data_dir` (the writer
/// failed: its in-memory state is not trusted), and brings the live
/// projection up to what the reopened ledger holds.
fn reopen(ledger: &writer::SharedLedger, data_dir: &Path, live: &Live) -> anyhow::Result<()> {
    let mut guard = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    // The store allows one open at a time: the old ledger is closed first,
    // with an empty one of a scratch directory standing in meanwhile.
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let stand_in = Ledger::open(scratch.path()).context("cannot open a stand-in ledger")?;
    drop(std::mem::replace(&mut *guard, stand_in));
    let mut attempt = 0;
    let fresh = loop {
        match Ledger::open(data_dir) {
            Ok(fresh) => break fresh,
            Err(error) if attempt < REOPEN_ATTEMPTS => {
                attempt += 1;
                tracing::debug!(%error, attempt, "the ledger does not reopen yet");
                std::thread::sleep(REOPEN_DELAY);
            }
            Err(error) => {
                return Err(error).with_context(|| format!("opening {}", data_dir.display()))
            }
        }
    };
    let from = live.size();
    follow_from(live, &fresh, from)?;
    *guard = fresh;
    drop(guard);
    ledger.clear_poison();
    Ok(())
}

/// The web report viewer over the ledger this process holds, checking the
/// latest checkpoint's signature with `verifier` when given, reporting
/// the verified prefix `verifying` advances, read as `access` allows.
fn viewer(
    ledger: &writer::SharedLedger,
    verifier: Option<Verifier>,
    verifying: &Verifying,
    access: &web::access::Access,
) -> anyhow::Result<Router> {
    let source = crate::source::LedgerSource::new(Arc::clone(ledger))?
        .with_verifier(verifier)
        .with_verification(Arc::clone(&verifying.verification));
    Ok(web::viewer::router(Arc::new(source), access.clone()))
}

/// The ledger's verified prefix (`ledger::prefix`) and the thread that
/// advances it: from start-up over what the ledger holds, then over each
/// batch reported durable. Dropping it stops the thread.
struct Verifying {
    verification: Arc<Verification>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Verifying {
    fn start(ledger: &writer::SharedLedger, reach: Reach) -> anyhow::Result<Verifying> {
        let verification = {
            let held = ledger.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::new(Verification::new(&held, reach).context("cannot begin verifying the ledger")?)
        };
        let thread = std::thread::Builder::new()
            .name("tla-verify".into())
            .spawn({
                let (verification, ledger) = (Arc::clone(&verification), Arc::clone(ledger));
                move || verification.run(&ledger)
            })
            .context("cannot start the ledger's verifier thread")?;
        Ok(Verifying {
            verification,
            thread: Some(thread),
        })
    }
}

impl Drop for Verifying {
    fn drop(&mut self) {
        self.verification.stop();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the ledger's verifier thread panicked");
            }
        }
    }
}

/// The public half of the writer's signing key, if it has one.
fn signing_verifier(args: &WriterConfig) -> anyhow::Result<Option<Verifier>> {
    let signer = args
        .key
        .as_deref()
        .map(crate::keys::load_signer)
        .transpose()?;
    Ok(signer.map(|signer| signer.verifier()))
}

/// What hears of each durable batch, whoever applied it (the writer, or
/// a standby or replica following the commit log).
type Feed = Arc<dyn Fn(writer::Durable) + Send + Sync>;

/// Feeds each durable batch to the verified prefix and the live
/// projection.
fn feed(live: &Arc<Live>, verification: &Arc<Verification>) -> Feed {
    let (live, verification) = (Arc::clone(live), Arc::clone(verification));
    Arc::new(move |batch: writer::Durable| {
        verification.durable(batch.head.size);
        let appended: Vec<LedgerEvent> = batch
            .appended
            .into_iter()
            .map(|(position, event)| LedgerEvent { position, event })
            .collect();
        live.follow(
            appended,
            batch.head.size,
            batch.head.hash.to_hex(),
            hex::encode(batch.tree_root),
        );
    })
}

/// The ledger writer, the commit log's last message at `log_last`,
/// telling `feed` of each durable batch.
async fn write(
    ledger: writer::SharedLedger,
    client: async_nats::Client,
    args: WriterConfig,
    metrics: Arc<Metrics>,
    feed: Feed,
    shutdown: watch::Receiver<bool>,
    log_last: u64,
) -> anyhow::Result<()> {
    let checkpoints = match &args.key {
        None => None,
        Some(path) => Some(writer::CheckpointPolicy {
            signer: Arc::new(crate::keys::load_signer(path)?),
            every_entries: args.checkpoint_entries.max(1),
            every: Duration::from_secs(args.checkpoint_seconds.max(1)),
        }),
    };
    let config = writer::Config {
        consumer: args.consumer,
        subjects: args.subjects,
        checkpoints,
    };
    let panic_on = std::env::var(TEST_PANIC_ENV).ok();
    let durable = move |batch: writer::Durable| {
        if let Some(id) = &panic_on {
            // TEST ONLY (TEST_PANIC_ENV): a writer that panics mid-stream.
            if batch.appended.iter().any(|(_, e)| e.key().1 == id) {
                // tidy: allow (the panic a test asks for)
                panic!("{TEST_PANIC_ENV}: event {id} is durable");
            }
        }
        feed(batch);
    };
    writer::write(ledger, client, config, metrics, durable, shutdown, log_last)
        .await
        .context("the ledger writer stopped")
}

/// Publishes the projector's alerts to `tla.alerts.<tenant>`, and
/// delivers them from there to Alertmanager when `alertmanager` is given.
async fn refresh(
    live: Arc<Live>,
    client: async_nats::Client,
    alertmanager: Option<crate::alertmanager::Delivery>,
    shutdown: watch::Receiver<bool>,
) {
    let delivering = alertmanager.map(|delivery| {
        tokio::spawn(crate::alertmanager::deliver(
            client.clone(),
            delivery,
            shutdown.clone(),
        ))
    });
    let jetstream = nats::jetstream(client);
    let publish = move |alert: projector::alert::Alert| {
        let jetstream = jetstream.clone();
        async move {
            let subject = format!("{}{}", nats::ALERTS_PREFIX, alert.tenant);
            let payload = serde_json::to_vec(&alert).map_err(|e| e.to_string())?;
            nats::publish_acked(&jetstream, subject, alert.message_id(), payload.into())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    web::service::refresh(live, publish, shutdown).await;
    if let Some(task) = delivering {
        if let Err(error) = task.await {
            tracing::error!(%error, "the delivery to Alertmanager failed");
        }
    }
}

/// What `/healthz` looks at.
#[derive(Clone)]
struct Health {
    link: Option<Link>,
    writer: Option<Arc<WriterState>>,
    /// The ledger's verified prefix, where the process holds a ledger.
    verification: Option<Arc<Verification>>,
    /// A read replica (`tla ledger follow`).
    replica: bool,
}

impl Health {
    /// 200 when NATS is connected with its streams ready and the writer
    /// (if any) runs; 503 naming what is not.
    fn answer(&self) -> (StatusCode, axum::Json<serde_json::Value>) {
        let nats_state = self
            .link
            .as_ref()
            .map(|link| link.client.connection_state().to_string());
        let nats_down = self
            .link
            .as_ref()
            .and_then(|link| link.status.unavailable(&link.client));
        let writer_down = self.writer.as_ref().and_then(|w| w.restarting());
        let verified = self.verification.as_ref().map(|v| v.status());
        let broken = verified
            .as_ref()
            .and_then(|v| v.failure.as_ref())
            .map(ToString::to_string);
        let (status, text, detail) = match (broken, writer_down, nats_down) {
            (Some(failure), _, _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger does not verify",
                Some(failure),
            ),
            (None, Some(error), _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger writer restarting",
                Some(error),
            ),
            (None, None, Some(reason)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "nats unavailable",
                Some(reason),
            ),
            (None, None, None) => (StatusCode::OK, "ok", None),
        };
        let (role, lease_holder) = match (&self.writer, self.replica) {
            (Some(writer), _) => {
                let (role, holder) = writer.role();
                (Some(role), holder)
            }
            (None, true) => (Some("replica"), None),
            (None, false) => (None, None),
        };
        let body = serde_json::json!({
            "status": text,
            "detail": detail,
            "role": role,
            "lease_holder": lease_holder,
            "nats": nats_state,
            "verified": verified.as_ref().map(verified_json),
        });
        (status, axum::Json(body))
    }

    /// The `/healthz` route alone.
    fn router(&self) -> Router {
        let health = self.clone();
        Router::new().route(
            "/healthz",
            get(move || {
                let health = health.clone();
                async move { health.answer() }
            }),
        )
    }
}

/// The verified prefix as `/healthz` reports it.
fn verified_json(status: &ledger::prefix::PrefixStatus) -> serde_json::Value {
    serde_json::json!({
        "size": status.size,
        "head": status.head.to_hex(),
        "root": hex::encode(status.root),
        "at": status.at_micros.map(ledger::rfc3339),
        "checked": status.checked,
        "first_bad_position": status.failure.as_ref().map(ledger::Failure::position),
        "problem": status.failure.as_ref().map(ToString::to_string),
    })
}

/// The verified prefix in the Prometheus text format.
fn render_verified(status: &ledger::prefix::PrefixStatus, out: &mut String) {
    use std::fmt::Write;
    let failed = u8::from(status.failure.is_some());
    let _ = write!(
        out,
        "# HELP tla_ledger_verified_entries Entries of the ledger verified, each checked once after it was applied.\n\
         # TYPE tla_ledger_verified_entries gauge\n\
         tla_ledger_verified_entries {}\n\
         # HELP tla_ledger_verify_failed 1 when the ledger's verified prefix found a bad entry.\n\
         # TYPE tla_ledger_verify_failed gauge\n\
         tla_ledger_verify_failed {failed}\n",
        status.size
    );
}

/// `/healthz` and `/metrics`; `/metrics` needs a `metrics` token of
/// `scrapers` when the tokens file lists one. Neither says anything of a
/// tenant or a person.
fn operations(
    health: &Health,
    metrics: &Arc<Metrics>,
    live: Option<&Arc<Live>>,
    scrapers: Tokens,
) -> Router {
    let metrics = Arc::clone(metrics);
    let live = live.cloned();
    let scrapers = Arc::new(scrapers);
    let verification = health.verification.clone();
    health.router().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| async move {
            if scrapers.guards_metrics() {
                match ingest::http::authenticate(&scrapers, &headers) {
                    Ok(grant) if grant.metrics => {}
                    Ok(grant) => {
                        return ingest::http::Problem::new(
                            StatusCode::FORBIDDEN,
                            "forbidden",
                            "Forbidden",
                            format!(
                                "{:?} may not scrape /metrics (role = \"metrics\")",
                                grant.name
                            ),
                        )
                        .into_response()
                    }
                    Err(problem) => return problem.into_response(),
                }
            }
            let mut text = String::new();
            metrics.render(&mut text);
            if let Some(live) = &live {
                live.render_metrics(&mut text);
            }
            if let Some(verification) = &verification {
                render_verified(&verification.status(), &mut text);
            }
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
                .into_response()
        }),
    )
}

/// The HTTP task of a process that holds a ledger and serves `reads`
/// (the read API and viewer) with `/healthz` and `/metrics` on `listen`,
/// if given.
#[allow(clippy::too_many_arguments)] // the parts of one server, named
async fn spawn_reads(
    listen: Option<SocketAddr>,
    health: &Health,
    reads: Router,
    live: &Arc<Live>,
    scrapers: Tokens,
    limits: &HttpLimits,
    metrics: &Arc<Metrics>,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<tokio::task::JoinHandle<anyhow::Result<()>>>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let listener = http::bind(listen).await?;
    let app = reads.merge(operations(health, metrics, Some(live), scrapers));
    Ok(Some(spawn_http(
        listener, app, health, limits, metrics, shutdown,
    )))
}

/// Serves `app` in a task, within the limits; a server that fails stops
/// the whole service rather than leaving it running without its API.
fn spawn_http(
    listener: tokio::net::TcpListener,
    app: Router,
    health: &Health,
    limits: &HttpLimits,
    metrics: &Arc<Metrics>,
    shutdown: &Shutdown,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let shutdown = shutdown.clone();
    let reserved = http::reserved(health.router());
    let served = http::serve(
        listener,
        app,
        reserved,
        limits.clone(),
        Arc::clone(metrics),
        shutdown.receiver(),
    );
    tokio::spawn(async move {
        let served = served.await;
        shutdown.stop();
        served
    })
}
