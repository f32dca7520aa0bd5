//! `tla view`: the web report viewer over the ledger in `--data-dir`,
//! read through `service::source::LedgerSource`. While it runs, the read
//! commands work on a copy through it (its holder file names it).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use service::source::{self, LedgerSource, LISTEN_DEFAULT};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = LISTEN_DEFAULT, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The public key (its text, or a file holding it) to check the
    /// signature of the ledger's latest checkpoint with.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// A tokens file: readers then sign in with a token and see only the
    /// tenants it may read (without it, whoever reaches the port reads all).
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<std::path::PathBuf>,
}

/// `tla view`.
pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let verifier = args
        .key
        .as_deref()
        .map(service::keys::load_verifier)
        .transpose()?;
    let ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    let source = LedgerSource::owning(ledger)?.with_verifier(verifier);
    source::serve_viewer(
        Arc::new(source),
        args.listen,
        args.tokens.as_deref(),
        (data_dir, "tla view"),
    )?;
    Ok(ExitCode::SUCCESS)
}
