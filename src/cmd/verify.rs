//! `tla verify`: recompute every hash and check the chain, of the ledger
//! or of an export file. While a service holds the ledger, it verifies a
//! copy fetched through the service's API (`super::readable`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct Args {
    /// Verify this export file (docs/FORMAT.md) instead of the ledger.
    #[arg(long)]
    export: Option<PathBuf>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = args.export {
        return verify_export(&path);
    }
    let readable = super::readable(data_dir)?;
    let size = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?.size();
    let bar = super::progress(size, "verifying");
    let result = ledger::Ledger::verify_dir(readable.path(), |n| bar.set_position(n))?;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            let root = summary.merkle_root.map(hex::encode).unwrap_or_default();
            if !foreign_issuances(&data_dir.display().to_string(), &summary) {
                return Ok(ExitCode::from(1));
            }
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
            if !foreign_issuances(&path.display().to_string(), &summary) {
                return Ok(ExitCode::from(1));
            }
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

/// Says so on stderr when the chain holds `report.issued` entries that the
/// ledger did not write; returns whether there are none.
fn foreign_issuances(what: &str, summary: &ledger::Summary) -> bool {
    match service::audit::foreign_issuances(what, summary) {
        Some(finding) => {
            eprintln!("error: {finding}");
            false
        }
        None => true,
    }
}
