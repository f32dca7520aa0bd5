//! The service commands: `tla serve` (HTTP receivers, ledger writer and
//! live projector in one process), and each part alone: `tla ingest
//! serve`, `tla ledger run`, `tla projector serve`.
//!
//! Shape of each (mini-redis): parse the arguments, set up, then run until
//! SIGINT or SIGTERM, which stops taking new work and lets the ledger
//! writer finish the batch in hand. A process that holds the ledger writes
//! `HOLDER_FILE` into the data directory, so that a read command that
//! finds the ledger locked can say who holds it and where to ask instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ingest::auth::Tokens;
use ingest::metrics::Metrics;
use ingest::{nats, writer};
use ledger::checkpoint::Verifier;
use ledger::Ledger;
use projector::live::Live;
use projector::LedgerEvent;
use schemas::Event;
use tokio::sync::watch;

/// The file in the data directory naming the process that holds the ledger.
pub const HOLDER_FILE: &str = "holder.json";

/// Entries read between progress logs while the live projection loads.
const LOAD_LOG_ENTRIES: u64 = 100_000;

#[derive(clap::Args, Clone)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Replicas of the JetStream streams created at start-up (3 in a cluster).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

#[derive(clap::Args, Clone)]
pub struct WriterArgs {
    /// The durable consumer's name (one per ledger writer and ledger).
    #[arg(long, default_value = "tla-ledger")]
    consumer: String,
    /// Subjects this writer takes (repeat to partition tenants across
    /// writers, e.g. --subject tla.events.alver --subject tla.events.fedje).
    #[arg(long = "subject", default_value = "tla.events.*")]
    subjects: Vec<String>,
    /// Sign checkpoints with this key (`tla key generate`), store them
    /// beside the ledger and publish them on tla.checkpoints.
    #[arg(long, env = "TLA_SIGNING_KEY")]
    key: Option<PathBuf>,
    /// Sign a checkpoint after this many new entries...
    #[arg(long, default_value_t = writer::CHECKPOINT_ENTRIES_DEFAULT, value_name = "N")]
    checkpoint_entries: u64,
    /// ...or after this many seconds with any new entry.
    #[arg(long, default_value_t = writer::CHECKPOINT_INTERVAL_DEFAULT.as_secs(), value_name = "SECONDS")]
    checkpoint_seconds: u64,
}

/// `tla serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    nats: NatsArgs,
    /// Address of the HTTP API (receivers, reports, /healthz, /metrics).
    #[arg(long, env = "TLA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The bearer token file (TOML; see deploy/tokens.example.toml).
    #[arg(long, env = "TLA_TOKENS")]
    tokens: PathBuf,
    #[command(flatten)]
    writer: WriterArgs,
}

#[derive(clap::Subcommand)]
pub enum IngestCommand {
    /// Run the HTTP receivers alone, publishing to JetStream.
    Serve(IngestArgs),
}

#[derive(clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    nats: NatsArgs,
    #[arg(long, env = "TLA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[arg(long, env = "TLA_TOKENS")]
    tokens: PathBuf,
}

#[derive(clap::Subcommand)]
pub enum LedgerCommand {
    /// Run the ledger writer alone (with the live projector in the same
    /// process, whose API it serves when --listen is given).
    Run(LedgerArgs),
}

#[derive(clap::Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    writer: WriterArgs,
    /// Serve the projector's API, /healthz and /metrics here.
    #[arg(long, env = "TLA_LISTEN")]
    listen: Option<SocketAddr>,
}

#[derive(clap::Subcommand)]
pub enum ProjectorCommand {
    /// Serve reports from a ledger no writer holds (a standby copy, or
    /// while the writer is stopped); alerts go to NATS when --nats is given.
    Serve(ProjectorArgs),
}

#[derive(clap::Args)]
pub struct ProjectorArgs {
    #[arg(long, env = "TLA_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Publish alerts to this NATS server.
    #[arg(long, env = "NATS_URL")]
    nats: Option<String>,
    /// The public verifier key (text or file) the viewer's verification
    /// panel checks the latest checkpoint's signature with.
    #[arg(long)]
    key: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `tla serve`.
pub fn serve(data_dir: &Path, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tokens = Tokens::load(&args.tokens)?;
    let (ledger, live) = open_and_load(data_dir)?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let viewer = viewer(&ledger, signing_verifier(&args.writer)?);
    let holder = Holder::write(data_dir, "tla serve", Some(args.listen))?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let client = connect(&args.nats, "tla-serve", &shutdown).await?;
        let metrics = Arc::new(Metrics::default());
        let app = Router::new()
            .merge(ingest::http::router(ingest_state(
                tokens,
                Some(ingest::http::Agreements::new(agreements(&live))),
                &client,
                &metrics,
            )))
            .merge(projector::service::router(Arc::clone(&live)))
            .merge(viewer)
            .merge(operations(Some(client.clone()), &metrics, Some(&live)));
        let http = spawn_http(app, args.listen, &shutdown);
        let writing = Writing {
            ledger,
            live,
            client,
            metrics,
        };
        writing.run(args.writer, &shutdown, Some(http)).await
    });
    holder.remove();
    result.map(|()| ExitCode::SUCCESS)
}

/// `tla ingest serve`.
pub fn ingest_serve(command: IngestCommand) -> anyhow::Result<ExitCode> {
    let IngestCommand::Serve(args) = command;
    let tokens = Tokens::load(&args.tokens)?;
    runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let client = connect(&args.nats, "tla-ingest", &shutdown).await?;
        let metrics = Arc::new(Metrics::default());
        let ingest = ingest_state(tokens, None, &client, &metrics);
        let app = ingest::http::router(ingest).merge(operations(Some(client), &metrics, None));
        http(app, args.listen, shutdown.receiver()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `tla ledger run`.
pub fn ledger_run(data_dir: &Path, command: LedgerCommand) -> anyhow::Result<ExitCode> {
    let LedgerCommand::Run(args) = command;
    let (ledger, live) = open_and_load(data_dir)?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let viewer = viewer(&ledger, signing_verifier(&args.writer)?);
    let holder = Holder::write(data_dir, "tla ledger run", args.listen)?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let client = connect(&args.nats, "tla-ledger", &shutdown).await?;
        let metrics = Arc::new(Metrics::default());
        let http_task = args.listen.map(|listen| {
            let app = projector::service::router(Arc::clone(&live))
                .merge(viewer)
                .merge(operations(Some(client.clone()), &metrics, Some(&live)));
            spawn_http(app, listen, &shutdown)
        });
        let writing = Writing {
            ledger,
            live,
            client,
            metrics,
        };
        writing.run(args.writer, &shutdown, http_task).await
    });
    holder.remove();
    result.map(|()| ExitCode::SUCCESS)
}

/// `tla projector serve`.
pub fn projector_serve(data_dir: &Path, command: ProjectorCommand) -> anyhow::Result<ExitCode> {
    let ProjectorCommand::Serve(args) = command;
    let (ledger, live) = open_and_load(data_dir)?;
    let size = ledger.size();
    let verifier = args
        .key
        .as_deref()
        .map(super::key::load_verifier)
        .transpose()?;
    let ledger: writer::SharedLedger = Arc::new(std::sync::Mutex::new(ledger));
    let viewer = viewer(&ledger, verifier);
    let holder = Holder::write(data_dir, "tla projector serve", Some(args.listen))?;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let metrics = Arc::new(Metrics::default());
        metrics
            .ledger_size
            .store(size, std::sync::atomic::Ordering::Relaxed);
        let client = match &args.nats {
            Some(url) => {
                let nats = NatsArgs {
                    nats: url.clone(),
                    replicas: 1,
                };
                Some(connect(&nats, "tla-projector", &shutdown).await?)
            }
            None => None,
        };
        let refresher = client
            .clone()
            .map(|c| tokio::spawn(refresh(Arc::clone(&live), c, shutdown.receiver())));
        let app = projector::service::router(Arc::clone(&live))
            .merge(viewer)
            .merge(operations(client, &metrics, Some(&live)));
        let served = http(app, args.listen, shutdown.receiver()).await;
        shutdown.stop();
        if let Some(task) = refresher {
            task.await.context("the refresher failed")?;
        }
        served
    });
    drop(ledger);
    holder.remove();
    result.map(|()| ExitCode::SUCCESS)
}

/// Opens the ledger for a service and loads every entry into a live
/// projection.
fn open_and_load(data_dir: &Path) -> anyhow::Result<(Ledger, Arc<Live>)> {
    let ledger = super::open_ledger(data_dir, true)?;
    let live = Arc::new(Live::new());
    let mut events = Vec::new();
    for entry in ledger.entries(0) {
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
    tracing::info!(entries = head.size, "live projection loaded");
    Ok((ledger, live))
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

/// Connects to NATS and creates (or checks) the streams, retrying until
/// NATS answers or shutdown.
async fn connect(
    args: &NatsArgs,
    name: &str,
    shutdown: &Shutdown,
) -> anyhow::Result<async_nats::Client> {
    let connection = nats::Connection {
        url: args.nats.clone(),
        replicas: args.replicas,
        name: name.to_owned(),
    };
    let client = nats::connect(&connection).await?;
    let jetstream = nats::jetstream(client.clone());
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match nats::ensure_streams(&jetstream, args.replicas).await {
            Ok(()) => return Ok(client),
            Err(error @ nats::NatsError::Stream { .. })
                if error.to_string().contains("refuses to use") =>
            {
                bail!(error)
            }
            Err(error) => {
                tracing::warn!(%error, "JetStream not ready; retrying");
                if *shutdown.receiver().borrow() {
                    bail!("stopped before NATS at {} answered: {error}", args.nats);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
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
    client: &async_nats::Client,
    metrics: &Arc<Metrics>,
) -> Arc<ingest::http::Ingest> {
    Arc::new(ingest::http::Ingest {
        tokens,
        agreements,
        jetstream: nats::jetstream(client.clone()),
        client: client.clone(),
        metrics: Arc::clone(metrics),
    })
}

/// What `tla serve` and `tla ledger run` share: the ledger writer feeding
/// the live projection, and the refresher publishing its alerts.
struct Writing {
    ledger: writer::SharedLedger,
    live: Arc<Live>,
    client: async_nats::Client,
    metrics: Arc<Metrics>,
}

impl Writing {
    /// Runs the writer and the refresher until shutdown (or the writer
    /// fails), then stops everything and waits for the HTTP task, if any.
    async fn run(
        self,
        args: WriterArgs,
        shutdown: &Shutdown,
        http: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    ) -> anyhow::Result<()> {
        let Writing {
            ledger,
            live,
            client,
            metrics,
        } = self;
        let refresher = tokio::spawn(refresh(
            Arc::clone(&live),
            client.clone(),
            shutdown.receiver(),
        ));
        let written = write(ledger, client, args, metrics, live, shutdown.receiver()).await;
        shutdown.stop();
        if let Some(task) = http {
            task.await.context("the HTTP task failed")??;
        }
        refresher.await.context("the refresher failed")?;
        written
    }
}

/// The web report viewer over the ledger this process holds, checking the
/// latest checkpoint's signature with `verifier` when given.
fn viewer(ledger: &writer::SharedLedger, verifier: Option<Verifier>) -> Router {
    let source = super::view::LedgerSource::new(Arc::clone(ledger)).with_verifier(verifier);
    projector::viewer::router(Arc::new(source))
}

/// The public half of the writer's signing key, if it has one.
fn signing_verifier(args: &WriterArgs) -> anyhow::Result<Option<Verifier>> {
    let signer = args
        .key
        .as_deref()
        .map(super::key::load_signer)
        .transpose()?;
    Ok(signer.map(|signer| signer.verifier()))
}

/// The ledger writer, feeding the live projection.
async fn write(
    ledger: writer::SharedLedger,
    client: async_nats::Client,
    args: WriterArgs,
    metrics: Arc<Metrics>,
    live: Arc<Live>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let checkpoints = match &args.key {
        None => None,
        Some(path) => Some(writer::CheckpointPolicy {
            signer: Arc::new(super::key::load_signer(path)?),
            every_entries: args.checkpoint_entries.max(1),
            every: Duration::from_secs(args.checkpoint_seconds.max(1)),
        }),
    };
    let config = writer::Config {
        consumer: args.consumer,
        subjects: args.subjects,
        checkpoints,
    };
    let durable = move |batch: writer::Durable| {
        let appended = batch
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
    };
    writer::run(ledger, client, config, metrics, durable, shutdown)
        .await
        .context("the ledger writer stopped")
}

/// Publishes the projector's alerts to `tla.alerts.<tenant>`.
async fn refresh(live: Arc<Live>, client: async_nats::Client, shutdown: watch::Receiver<bool>) {
    let jetstream = nats::jetstream(client);
    let publish = move |alert: projector::alert::Alert| {
        let jetstream = jetstream.clone();
        async move {
            let subject = format!("{}{}", nats::ALERTS_PREFIX, alert.tenant);
            let payload = serde_json::to_vec(&alert).map_err(|e| e.to_string())?;
            nats::publish_acked(&jetstream, subject, alert.id.clone(), payload.into())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    projector::service::refresh(live, publish, shutdown).await;
}

/// `/healthz` and `/metrics`.
fn operations(
    client: Option<async_nats::Client>,
    metrics: &Arc<Metrics>,
    live: Option<&Arc<Live>>,
) -> Router {
    let metrics = Arc::clone(metrics);
    let live = live.cloned();
    let health_client = client.clone();
    Router::new()
        .route(
            "/healthz",
            get(move || async move {
                let nats = health_client.as_ref().map(|c| c.connection_state());
                let connected = nats
                    .as_ref()
                    .is_none_or(|s| *s == async_nats::connection::State::Connected);
                let status = if connected {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let body = serde_json::json!({
                    "status": if connected { "ok" } else { "nats unreachable" },
                    "nats": nats.map(|s| s.to_string()),
                });
                (status, axum::Json(body))
            }),
        )
        .route(
            "/metrics",
            get(move || async move {
                let mut text = String::new();
                metrics.render(&mut text);
                if let Some(live) = &live {
                    live.render_metrics(&mut text);
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

/// Serves `app` in a task; a server that fails (a port taken) stops the
/// whole service rather than leaving it running without its API.
fn spawn_http(
    app: Router,
    listen: SocketAddr,
    shutdown: &Shutdown,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let served = http(app, listen, shutdown.receiver()).await;
        shutdown.stop();
        served
    })
}

/// Serves `app` on `listen` until shutdown.
async fn http(
    app: Router,
    listen: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, "HTTP API listening");
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
        .context("the HTTP server failed")
}

/// The holder file of a running service, removed when it stops.
struct Holder {
    path: PathBuf,
}

impl Holder {
    fn write(data_dir: &Path, command: &str, listen: Option<SocketAddr>) -> anyhow::Result<Holder> {
        let path = data_dir.join(HOLDER_FILE);
        let document = serde_json::json!({
            "pid": std::process::id(),
            "command": command,
            "url": listen.map(|l| format!("http://{l}")),
        });
        std::fs::write(&path, document.to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Holder { path })
    }

    fn remove(self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove the holder file");
        }
    }
}

/// Who holds the ledger in `data_dir`, as its holder file says.
pub fn holder(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(HOLDER_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let command = value["command"].as_str()?;
    let pid = value["pid"].as_u64()?;
    let mut said = format!("`{command}` (pid {pid})");
    if let Some(url) = value["url"].as_str() {
        said.push_str(&format!("; query it through {url}/v1/tenants/..."));
    }
    Some(said)
}

/// The URL of the service holding the ledger in `data_dir`, if its holder
/// file names one.
fn holder_url(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(HOLDER_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["url"].as_str().map(str::to_owned)
}

/// A report fetched from the service that holds the ledger (for `tla
/// report` while the service runs); `None` when no service holding it
/// names an address.
pub fn report_from_service(
    data_dir: &Path,
    tenant: &str,
    period: projector::Period,
    format: &str,
    lang: &str,
) -> Option<anyhow::Result<Vec<u8>>> {
    let url = holder_url(data_dir)?;
    let address = format!("{url}/v1/tenants/{tenant}/reports/{period}?format={format}&lang={lang}");
    let fetched = match ureq::get(&address).call() {
        Ok(response) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
                .with_context(|| format!("reading {address}"))
                .map(|_| bytes)
        }
        Err(ureq::Error::Status(status, response)) => {
            let problem: serde_json::Value = response.into_json().unwrap_or_default();
            let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
            Err(anyhow::anyhow!(
                "the service holding {} answered {status} for {address}: {detail}",
                data_dir.display()
            ))
        }
        Err(error) => Err(anyhow::anyhow!(
            "the ledger at {} is held by a service at {url}, which did not answer: {error}",
            data_dir.display()
        )),
    };
    Some(fetched)
}
