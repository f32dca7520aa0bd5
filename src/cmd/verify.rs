//! `tla verify`: recompute every hash and check the chain, of the ledger
//! or of an export file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Verify this export file (docs/FORMAT.md) instead of the ledger.
    #[arg(long)]
    export: Option<PathBuf>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = args.export {
        return verify_export(&path);
    }
    let size = super::open_ledger(data_dir, false)?.size();
    let bar = super::progress(size, "verifying");
    let result = ledger::Ledger::verify_dir(data_dir, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            let root = summary.merkle_root.map(hex::encode).unwrap_or_default();
            println!(
                "ok: {} entries verified, {} tenants, head {}, Merkle root {root}",
                summary.size, summary.tenants, summary.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!("error: {}: {failure}", data_dir.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn verify_export(path: &Path) -> anyhow::Result<ExitCode> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    match ledger::export::verify(&mut reader) {
        Ok((header, summary)) => {
            let scope = match &header.tenant {
                Some(tenant) => format!("tenant {tenant}"),
                None => "ledger".to_string(),
            };
            println!(
                "ok: export of {scope}: {} entries verified, head {}",
                summary.size, summary.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {} {error}", path.display());
            Ok(ExitCode::from(1))
        }
    }
}
