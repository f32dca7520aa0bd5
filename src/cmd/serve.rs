//! The service commands' arguments: `tla serve`, `tla ingest serve`,
//! `tla ledger run`, `restore` and `snapshot`, and `tla projector serve`. The services themselves
//! (runtime, signals, the writer's supervision, the refresher, the holder
//! file, the HTTP server and its limits) are `service::run`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ingest::{nats, writer};
use service::http::HttpLimits;
use service::run;

/// How to log in to NATS: shared by every command that connects.
#[derive(clap::Args, Clone, Default)]
pub struct NatsLogin {
    /// NATS user (with --nats-password-file). A user and password in the
    /// URL (nats://user:password@host:4222) work too, but then the
    /// password is in the environment or on the command line: prefer a file.
    #[arg(long, env = "NATS_USER")]
    nats_user: Option<String>,
    /// File holding the NATS user's password (first line).
    #[arg(long, env = "NATS_PASSWORD_FILE", value_name = "FILE")]
    nats_password_file: Option<PathBuf>,
    /// NATS credentials file (user JWT and nkey seed, from `nsc`); the
    /// preferred login where NATS runs with accounts.
    #[arg(long, env = "NATS_CREDS", value_name = "FILE")]
    nats_creds: Option<PathBuf>,
    /// File holding the nkey seed (SU...) of a user listed by its public
    /// key in the server's authorization block.
    #[arg(long, env = "NATS_NKEY", value_name = "FILE")]
    nats_nkey: Option<PathBuf>,
    /// Prefix of this process's reply subjects; default _INBOX.<user>
    /// when the user is known (what deploy/nats/auth.conf allows it to
    /// subscribe to), else _INBOX.
    #[arg(long, env = "NATS_INBOX_PREFIX", value_name = "PREFIX")]
    nats_inbox_prefix: Option<String>,
}

#[derive(clap::Args, Clone)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    #[command(flatten)]
    login: NatsLogin,
    /// Replicas of the JetStream streams created at start-up (3 in a cluster).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

impl NatsArgs {
    fn connection(&self, name: &str) -> nats::Connection {
        nats::Connection {
            url: self.nats.clone(),
            replicas: self.replicas,
            name: name.to_owned(),
            user: self.login.nats_user.clone(),
            password_file: self.login.nats_password_file.clone(),
            creds: self.login.nats_creds.clone(),
            nkey: self.login.nats_nkey.clone(),
            inbox_prefix: self.login.nats_inbox_prefix.clone(),
        }
    }
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
    /// Start as a standby: follow the ledger's commit log (serving reads)
    /// until the active writer's lease lapses, then take over writing.
    /// Without it, the process writes when no other holds the lease, and
    /// stands by (warning) when one does: never two writers.
    #[arg(long)]
    standby: bool,
    /// Lifetime of the writer's lease, in seconds, when this process
    /// creates the lease bucket: a standby takes over at most this long
    /// after the writer dies (a clean stop hands over at once).
    #[arg(long, default_value_t = ingest::lease::LEASE_TTL_DEFAULT.as_secs(), value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    lease_seconds: u64,
}

/// `tla serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    nats: NatsArgs,
    /// Address of the HTTP API (receivers, reports, /healthz, /metrics).
    #[arg(long, env = "TLA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    http: HttpArgs,
    /// The bearer token file (TOML; see deploy/tokens.example.toml):
    /// who may write and read which tenants.
    #[arg(long, env = "TLA_TOKENS")]
    tokens: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    writer: WriterArgs,
    #[command(flatten)]
    alerts: AlertArgs,
}

/// Where alerts are delivered besides `tla.alerts.<tenant>`.
#[derive(clap::Args, Clone, Debug)]
pub struct AlertArgs {
    /// Post every alert (warnings, breaches, governance warnings) to the
    /// Prometheus Alertmanager at this URL (its API v2), labelled for
    /// routing to the named contacts (docs/OPERATIONS.md, "Varsling").
    #[arg(long, env = "TLA_ALERTMANAGER", value_name = "URL")]
    alertmanager: Option<String>,
}

/// How people sign in to the viewer.
#[derive(clap::Args, Clone, Debug)]
pub struct ReadArgs {
    /// The address people reach the service at (behind a proxy, its
    /// https:// address): an https URL makes the session cookie Secure.
    #[arg(long, env = "TLA_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Hours a viewer session lasts before signing in again.
    #[arg(long, default_value_t = web::session::SESSION_HOURS_DEFAULT, value_name = "HOURS")]
    session_hours: u64,
    /// Offer single sign-on in the viewer through the OpenID Connect
    /// provider this TOML file names, with its claims mapped to grants
    /// (docs/OPERATIONS.md); needs --public-url.
    #[arg(long, env = "TLA_OIDC", value_name = "FILE")]
    oidc: Option<PathBuf>,
}

impl ReadArgs {
    fn config(&self, tokens: Option<PathBuf>) -> service::access::ReadConfig {
        service::access::ReadConfig {
            tokens,
            public_url: self.public_url.clone(),
            session_hours: self.session_hours,
            oidc: self.oidc.clone(),
        }
    }
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
    #[command(flatten)]
    http: HttpArgs,
    #[arg(long, env = "TLA_TOKENS")]
    tokens: PathBuf,
}

// Parsed once at start and moved on: the size of the larger variant
// costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(clap::Subcommand)]
pub enum LedgerCommand {
    /// Run the ledger writer alone (with the live projector in the same
    /// process, whose API it serves when --listen is given).
    Run(LedgerArgs),
    /// Rebuild an empty --data-dir from the ledger's replicated commit log
    /// (the TLA_LEDGER stream) and the checkpoints on tla.checkpoints;
    /// exits when caught up. The result verifies and has the writer's
    /// head and Merkle root.
    Restore(RestoreArgs),
    /// Run a read replica: apply the ledger's commit log (TLA_LEDGER) into
    /// --data-dir byte for byte, checking every record as it applies it,
    /// and serve the read API and viewer with --listen. A record that does
    /// not check stops the replica (exit 1) with its position named;
    /// nothing past it is applied. Its lag is in /metrics.
    Follow(FollowArgs),
    /// Copy the ledger in --data-dir into a new or empty directory, verified
    /// as it is copied: through the API of the service holding it (the
    /// entries durable when the copy began), or read directly when none
    /// does. Read commands make such a copy by themselves while a service
    /// holds the ledger; this keeps one.
    Snapshot(SnapshotArgs),
    /// Convert a ledger of an older store format (its entries kept in sled)
    /// to the current one (the entries in segment files, sled as their
    /// index), showing a progress bar. The head, the Merkle root and every
    /// report digest stay the same. Any command that opens an older ledger
    /// migrates it too; this does it at a moment you choose.
    Migrate,
}

#[derive(clap::Args)]
pub struct FollowArgs {
    #[command(flatten)]
    nats: NatsArgs,
    /// The durable consumer of the ledger's writer: its commit log is
    /// tla.ledger.<consumer>.
    #[arg(long, default_value = "tla-ledger")]
    consumer: String,
    #[command(flatten)]
    serving: ReadServing,
    /// The public verifier key (text or file) the viewer's verification
    /// panel checks the latest checkpoint's signature with.
    #[arg(long, env = "TLA_VERIFIER_KEY")]
    key: Option<String>,
}

#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// The directory to copy into: absent or empty (made readable by you
    /// only: the ledger holds personal data).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    nats: NatsArgs,
    /// The durable consumer of the ledger's writer: its commit log is
    /// tla.ledger.<consumer>.
    #[arg(long, default_value = "tla-ledger")]
    consumer: String,
}

#[derive(clap::Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    writer: WriterArgs,
    #[command(flatten)]
    serving: ReadServing,
    #[command(flatten)]
    alerts: AlertArgs,
}

/// Where a process holding a ledger (`tla ledger run`, `tla ledger
/// follow`) serves reads, and who reads.
#[derive(clap::Args)]
pub struct ReadServing {
    /// Serve the read API, the viewer, /healthz and /metrics here.
    #[arg(long, env = "TLA_LISTEN")]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    http: HttpArgs,
    /// The bearer token file whose read grants say who reads reports;
    /// without one, nobody does.
    #[arg(long, env = "TLA_TOKENS")]
    tokens: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
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
    #[command(flatten)]
    http: HttpArgs,
    /// Publish alerts to this NATS server.
    #[arg(long, env = "NATS_URL")]
    nats: Option<String>,
    #[command(flatten)]
    login: NatsLogin,
    /// The public verifier key (text or file) the viewer's verification
    /// panel checks the latest checkpoint's signature with.
    #[arg(long)]
    key: Option<String>,
    /// The bearer token file whose read grants say who reads reports;
    /// without one, nobody does.
    #[arg(long, env = "TLA_TOKENS")]
    tokens: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    alerts: AlertArgs,
}

/// The HTTP server's limits, from the command line.
#[derive(clap::Args, Clone, Debug)]
pub struct HttpArgs {
    /// Most HTTP connections open at once; more are refused with 503
    /// (health checks keep a small reserve of their own). With systemd's
    /// LimitNOFILE this must fit the open-file limit.
    #[arg(
        long,
        env = "TLA_MAX_CONNECTIONS",
        default_value_t = 1000,
        value_name = "N"
    )]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's head, and to start
    /// the next one on a kept-alive connection.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub header_read_timeout: u64,
    /// Seconds a connection may stay open with no byte moving either way
    /// (a stalled upload, a client not reading its answer). Keep it above
    /// the slowest answer (a publish waits up to 10 s for JetStream).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Seconds open connections get after SIGTERM to finish their request
    /// before they are closed (below systemd's TimeoutStopSec). The ledger
    /// writer finishes its batch in hand meanwhile.
    #[arg(
        long,
        env = "TLA_SHUTDOWN_GRACE",
        default_value_t = 20,
        value_name = "SECONDS"
    )]
    pub shutdown_grace: u64,
    /// Seconds a request may take from its head to its answer; a request
    /// still running then is answered 503.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub request_timeout: u64,
    /// Requests in progress at once over all connections; more are
    /// answered 503 at once rather than queued.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_requests: usize,
}

impl HttpArgs {
    fn limits(&self) -> HttpLimits {
        HttpLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            shutdown_grace: self.shutdown_grace,
            request_timeout: self.request_timeout,
            max_requests: self.max_requests,
        }
    }
}

impl WriterArgs {
    fn config(&self) -> run::WriterConfig {
        run::WriterConfig {
            consumer: self.consumer.clone(),
            subjects: self.subjects.clone(),
            key: self.key.clone(),
            checkpoint_entries: self.checkpoint_entries,
            checkpoint_seconds: self.checkpoint_seconds,
            standby: self.standby,
            lease: std::time::Duration::from_secs(self.lease_seconds),
        }
    }
}

/// `tla serve`.
pub fn serve(data_dir: &Path, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = run::ServeConfig {
        nats: args.nats.connection("tla-serve"),
        replicas: args.nats.replicas,
        listen: args.listen,
        http: args.http.limits(),
        read: args.read.config(None),
        tokens: args.tokens,
        writer: args.writer.config(),
        alertmanager: args.alerts.alertmanager,
    };
    run::serve(data_dir, config).map(|()| ExitCode::SUCCESS)
}

/// `tla ingest serve`.
pub fn ingest_serve(command: IngestCommand) -> anyhow::Result<ExitCode> {
    let IngestCommand::Serve(args) = command;
    let config = run::IngestConfig {
        nats: args.nats.connection("tla-ingest"),
        replicas: args.nats.replicas,
        listen: args.listen,
        http: args.http.limits(),
        tokens: args.tokens,
    };
    run::ingest_serve(config).map(|()| ExitCode::SUCCESS)
}

/// `tla ledger migrate`: converts a ledger of an older store format (the
/// entries kept in sled, before segment files) to the current one, with a
/// progress bar, and prints its head and Merkle root, which migration leaves
/// unchanged.
fn migrate(data_dir: &Path) -> anyhow::Result<ExitCode> {
    let bar = std::cell::OnceCell::new();
    let mut moving = |done: u64, total: u64| {
        let bar = bar.get_or_init(|| super::progress(total, "migrating"));
        bar.set_position(done);
    };
    let migrated = ledger::Ledger::migrate(data_dir, &mut moving);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let migrated = match migrated {
        Err(ledger::LedgerError::Store(ledger::StoreError::NoLedger { .. })) => anyhow::bail!(
            "no ledger in {}: pass --data-dir (or set TLA_DATA_DIR)",
            data_dir.display()
        ),
        Err(ledger::LedgerError::Store(ledger::StoreError::Locked { pid, .. })) => anyhow::bail!(
            "the ledger at {} is held by {}; stop it first (it migrates the ledger itself when \
             it opens it)",
            data_dir.display(),
            service::holder_of(data_dir, pid)
        ),
        other => other?,
    };
    let current = ledger::store::FORMAT_VERSION;
    if migrated.found == current {
        println!(
            "the ledger in {} has store format {current} already: nothing to migrate \
             ({} entries, head {}, Merkle root {})",
            data_dir.display(),
            migrated.head.size,
            migrated.head.hash.to_hex(),
            hex::encode(migrated.root)
        );
    } else {
        println!(
            "migrated the ledger in {} from store format {} to {current} ({} entries into \
             segment files): head {}, Merkle root {}, unchanged",
            data_dir.display(),
            migrated.found,
            migrated.head.size,
            migrated.head.hash.to_hex(),
            hex::encode(migrated.root)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tla ledger snapshot`.
fn snapshot(data_dir: &Path, args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let bar = std::cell::OnceCell::new();
    let copying = |copied: u64, total: u64| {
        let bar = bar.get_or_init(|| super::progress(total, "copying"));
        bar.set_position(copied);
    };
    let made = service::snapshot::snapshot(data_dir, &args.out, &copying);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let made = made?;
    let from = match &made.holder {
        Some(holder) => format!(" (held by {holder}, copied through its API)"),
        None => String::new(),
    };
    say!(
        "copied the first {} entries of the ledger at {}{from} into {}: head {}, Merkle root {}, \
         {} checkpoint(s)",
        made.copied.size,
        data_dir.display(),
        args.out.display(),
        made.copied.head,
        made.copied.root,
        made.copied.checkpoints
    );
    Ok(ExitCode::SUCCESS)
}

/// `tla ledger run`.
pub fn ledger_run(data_dir: &Path, command: LedgerCommand) -> anyhow::Result<ExitCode> {
    let args = match command {
        LedgerCommand::Run(args) => args,
        LedgerCommand::Snapshot(args) => return snapshot(data_dir, &args),
        LedgerCommand::Migrate => return migrate(data_dir),
        LedgerCommand::Restore(args) => {
            let config = run::RestoreConfig {
                nats: args.nats.connection("tla-restore"),
                consumer: args.consumer,
            };
            let restored = run::ledger_restore(data_dir, config)?;
            say!(
                "restored {} entries into {} from the commit log tla.ledger.{}: head {}, \
                 Merkle root {}, {} checkpoint(s) stored",
                restored.head.size,
                data_dir.display(),
                restored.consumer,
                restored.head.hash.to_hex(),
                restored.root,
                restored.checkpoints
            );
            return Ok(ExitCode::SUCCESS);
        }
        LedgerCommand::Follow(args) => {
            let config = run::FollowConfig {
                nats: args.nats.connection("tla-replica"),
                replicas: args.nats.replicas,
                consumer: args.consumer,
                listen: args.serving.listen,
                http: args.serving.http.limits(),
                key: args.key,
                read: args.serving.read.config(args.serving.tokens),
            };
            return run::ledger_follow(data_dir, config).map(|()| ExitCode::SUCCESS);
        }
    };
    let config = run::LedgerConfig {
        nats: args.nats.connection("tla-ledger"),
        replicas: args.nats.replicas,
        writer: args.writer.config(),
        listen: args.serving.listen,
        http: args.serving.http.limits(),
        read: args.serving.read.config(args.serving.tokens),
        alertmanager: args.alerts.alertmanager,
    };
    run::ledger_run(data_dir, config).map(|()| ExitCode::SUCCESS)
}

/// `tla projector serve`.
pub fn projector_serve(data_dir: &Path, command: ProjectorCommand) -> anyhow::Result<ExitCode> {
    let ProjectorCommand::Serve(args) = command;
    let nats = args.nats.map(|url| {
        NatsArgs {
            nats: url,
            login: args.login.clone(),
            replicas: 1,
        }
        .connection("tla-projector")
    });
    let config = run::ProjectorConfig {
        listen: args.listen,
        http: args.http.limits(),
        nats,
        key: args.key,
        read: args.read.config(args.tokens),
        alertmanager: args.alerts.alertmanager,
    };
    run::projector_serve(data_dir, config).map(|()| ExitCode::SUCCESS)
}
