//! `tla`: the one command in front of tla-ledger.
//!
//! This binary only parses arguments, sets up logging, shows progress and
//! prints; the work lives in `schemas`, `ledger`, `projector` (the pure
//! engine), `web`, `ingest`, `demo` and `service` (which wires them).
//! Spellings and exit codes follow `docs/CLI.md`: 0 success, 1 the
//! check or command failed, 2 wrong usage.

#[macro_use]
mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// tla-ledger: the tamper-evident compliance ledger behind monthly TLA
/// (tenestenivåavtale, service level agreement) reports.
#[derive(Parser)]
#[command(name = "tla", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    /// Directory of the embedded ledger.
    #[arg(
        long,
        global = true,
        env = "TLA_DATA_DIR",
        default_value = "./tla-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 the check or command failed (broken chain, invalid input); 2 wrong usage.

Start with `tla demo`, then try `tla report --tenant alver --period 2026-01 --format md`,
or `tla demo --serve` for the web report viewer.";

#[derive(Subcommand)]
enum Command {
    /// Build a realistic, seeded year of events for several municipalities
    /// in a fresh ledger, verify it and say what it did (no server needed);
    /// replaces only a ledger it made, whole, and never one in use.
    Demo(cmd::demo::Args),
    /// Append CloudEvents from a file (JSON object, JSON array or NDJSON;
    /// `-` for stdin), all or nothing.
    Import(cmd::import::Args),
    /// Recompute every hash of the ledger (or of an export) and check the chain.
    Verify(cmd::verify::Args),
    /// Write the ledger in the export format of docs/FORMAT.md.
    Export(cmd::export::Args),
    /// Browse ledger entries, filtered by tenant, type and time.
    Log(cmd::log::Args),
    /// The tenants (municipalities) the ledger has entries for, with their
    /// names; every --tenant takes either.
    Tenants(cmd::tenants::Args),
    /// The TLA report of a tenant and period (json is the contract format);
    /// `tla report issue` issues an ended period's report into the ledger,
    /// `tla report acknowledge` records the municipality's receipt of it.
    Report(cmd::report::Args),
    /// Regenerate a report from the ledger prefix its manifest pins and
    /// check that it reproduces byte for byte.
    VerifyReport(cmd::report::VerifyArgs),
    /// RFC 6962 Merkle proofs (SHA-256): make them from the ledger, or check
    /// ones someone handed you.
    #[command(subcommand)]
    Proof(cmd::proof::Command),
    /// Signing keys for checkpoints (Ed25519, C2SP signed-note format).
    #[command(subcommand)]
    Key(cmd::key::Command),
    /// Sign the ledger's current state as a C2SP checkpoint (or print the latest).
    Checkpoint(cmd::checkpoint::Args),
    /// Check that the ledger still extends the signed checkpoint you kept:
    /// catches a truncated or rewritten past.
    Audit(cmd::audit::Args),
    /// Evidence bundles: an issued report with everything needed to check
    /// it offline (entries, proofs, signed checkpoint).
    #[command(subcommand)]
    Evidence(cmd::evidence::Command),
    /// Validate and publish agreements (tenestenivåavtalar).
    #[command(subcommand)]
    Agreement(cmd::agreement::Command),
    /// Who is responsible for what, on both sides of the agreement, at an
    /// instant (default now).
    Contacts(cmd::contacts::Args),
    /// The follow-up of a deviation (avvik): `tla deviation explain`
    /// records its cause and the action that answers it.
    #[command(subcommand)]
    Deviation(cmd::deviation::Command),
    /// Corrective actions: `tla action open` and `tla action close`.
    #[command(subcommand)]
    Action(cmd::action::Command),
    /// Serve the web report viewer over the ledger (default
    /// http://127.0.0.1:8080/); nothing is fetched from elsewhere.
    View(cmd::view::Args),
    /// Run the service: HTTP receivers, ledger writer and live projector
    /// in one process, against NATS JetStream (docs/OPERATIONS.md).
    Serve(cmd::serve::ServeArgs),
    /// The HTTP receivers alone (`tla ingest serve`).
    #[command(subcommand)]
    Ingest(cmd::serve::IngestCommand),
    /// The ledger writer alone (`tla ledger run`).
    #[command(subcommand)]
    Ledger(cmd::serve::LedgerCommand),
    /// The projector's report API alone (`tla projector serve`).
    #[command(subcommand)]
    Projector(cmd::serve::ProjectorCommand),
    /// Measure append, JetStream, verify and report against baselines in the
    /// same run; prints a table and writes bench-results.json
    /// (docs/PERFORMANCE.md). The harness is the `tla-bench` binary beside
    /// this one (`cargo build --release --features bench`); `tla bench
    /// --help` lists its options.
    #[command(disable_help_flag = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// The command line, with `--data-dir` left out of the help of the
/// commands that touch no ledger (`tla key generate`): it is global, so
/// clap lists it everywhere unless told.
fn command_line() -> clap::Command {
    let mut command = Cli::command();
    // Builds every subcommand, global arguments included, so that they can
    // be changed below.
    command.build();
    let hide_data_dir = |command: clap::Command| {
        command.mut_args(|arg| match arg.get_id() == "data_dir" {
            true => arg.hide(true),
            false => arg,
        })
    };
    command.mut_subcommand("key", |key| {
        hide_data_dir(key).mut_subcommand("generate", hide_data_dir)
    })
}

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command_line().get_matches()).unwrap_or_else(|e| e.exit());
    // Services log what they do; one-shot commands only what went wrong.
    let service = matches!(
        cli.command,
        Command::Serve(_) | Command::Ingest(_) | Command::Ledger(_) | Command::Projector(_)
    );
    let level = if service { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TLA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a file or journald gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(&cli.data_dir, args),
        Command::Import(args) => cmd::import::run(&cli.data_dir, args),
        Command::Verify(args) => cmd::verify::run(&cli.data_dir, args),
        Command::Export(args) => cmd::export::run(&cli.data_dir, args),
        Command::Log(args) => cmd::log::run(&cli.data_dir, args),
        Command::Tenants(args) => cmd::tenants::run(&cli.data_dir, args),
        Command::Agreement(command) => cmd::agreement::run(&cli.data_dir, command),
        Command::Report(args) => cmd::report::run(&cli.data_dir, args),
        Command::Proof(command) => cmd::proof::run(&cli.data_dir, command),
        Command::Key(command) => cmd::key::run(command),
        Command::Checkpoint(args) => cmd::checkpoint::run(&cli.data_dir, args),
        Command::Audit(args) => cmd::audit::run(&cli.data_dir, args),
        Command::Evidence(command) => cmd::evidence::run(&cli.data_dir, command),
        Command::VerifyReport(args) => cmd::report::verify(&cli.data_dir, args),
        Command::Contacts(args) => cmd::contacts::run(&cli.data_dir, args),
        Command::Deviation(command) => cmd::deviation::run(&cli.data_dir, command),
        Command::Action(command) => cmd::action::run(&cli.data_dir, command),
        Command::View(args) => cmd::view::run(&cli.data_dir, args),
        Command::Serve(args) => cmd::serve::serve(&cli.data_dir, args),
        Command::Ingest(command) => cmd::serve::ingest_serve(command),
        Command::Ledger(command) => cmd::serve::ledger_run(&cli.data_dir, command),
        Command::Projector(command) => cmd::serve::projector_serve(&cli.data_dir, command),
        Command::Bench { args } => cmd::bench_harness(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tell!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
