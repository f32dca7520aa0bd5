//! `tla checkpoint`: sign the ledger's current state as a C2SP checkpoint
//! (or print the latest signed one), the statement auditors keep.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The signing key file (from `tla key generate`).
    #[arg(long, env = "TLA_SIGNING_KEY", required_unless_present = "latest")]
    key: Option<PathBuf>,
    /// Print the latest stored signed checkpoint instead of signing (also
    /// when TLA_SIGNING_KEY is set in the environment).
    #[arg(long)]
    latest: bool,
    /// Also write the signed note to this file (`-`: stdout, where it is
    /// printed anyway).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    // Signing stores the checkpoint beside the ledger: only the ledger
    // itself will do. Printing the latest one reads a copy while a
    // service holds it.
    let signing = args.key.is_some() && !args.latest;
    let readable = match signing {
        true => service::snapshot::ReadDir::own(data_dir),
        false => super::readable(data_dir)?,
    };
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let note = match &args.key {
        Some(path) if !args.latest => {
            let signer = service::keys::load_signer(path)?;
            let note = ledger.sign_checkpoint(&signer)?;
            tell!(
                "signed a checkpoint of {} entries as {} (stored beside the ledger)",
                ledger.size(),
                signer.name()
            );
            note
        }
        _ => match ledger.latest_checkpoint()? {
            Some((_, note)) => note,
            None => anyhow::bail!(
                "the ledger at {} has no signed checkpoint yet; sign one with `tla checkpoint --key FILE`",
                data_dir.display()
            ),
        },
    };
    if let Some(out) = args.out.as_deref().filter(|out| !super::is_stdout(out)) {
        super::write_atomically(out, note.as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    put!("{note}");
    Ok(ExitCode::SUCCESS)
}
