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
    /// With --export: a signed checkpoint (C2SP signed note) the export's
    /// first `size` entries must have the root of.
    #[arg(long, requires_all = ["export", "key"])]
    checkpoint: Option<PathBuf>,
    /// The log's public verifier key (the key text or a file holding it)
    /// that must have signed --checkpoint; its name is the checkpoint's origin.
    #[arg(long, requires = "checkpoint")]
    key: Option<String>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = args.export {
        return verify_export(&path, args.checkpoint.as_deref(), args.key.as_deref());
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
            say!(
                "ok: {} entries verified, {} tenants, head {}, Merkle root {root}",
                summary.size,
                summary.tenants,
                summary.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            tell!("error: {}: {failure}", data_dir.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn verify_export(
    path: &Path,
    checkpoint: Option<&Path>,
    key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let signed = match (checkpoint, key) {
        (Some(checkpoint), Some(key)) => match open_checkpoint(checkpoint, key)? {
            Ok(signed) => Some(signed),
            Err(message) => {
                tell!("error: {message}");
                return Ok(ExitCode::from(1));
            }
        },
        _ => None,
    };
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    match ledger::export::verify_against(&mut reader, signed.as_ref()) {
        Ok((header, summary)) => {
            if !foreign_issuances(&path.display().to_string(), &summary) {
                return Ok(ExitCode::from(1));
            }
            let scope = match &header.tenant {
                Some(tenant) => format!("tenant {tenant}"),
                None => "ledger".to_string(),
            };
            let root = match summary.merkle_root {
                Some(root) => format!("Merkle root {}", hex::encode(root)),
                None => "no Merkle root (a tenant export holds only some of the tree's leaves)"
                    .to_string(),
            };
            say!(
                "ok: export of {scope}: {} entries verified, head {}, {root}",
                summary.size,
                summary.head
            );
            if let Some(signed) = signed {
                say!(
                    "ok: its first {} entries have the root {} that the checkpoint of {} signs",
                    signed.size,
                    hex::encode(signed.root),
                    signed.origin
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            tell!("error: {} {error}", path.display());
            Ok(ExitCode::from(1))
        }
    }
}

/// The checkpoint in `path`, opened with the verifier key `key`: the
/// signature checked and its origin the key's name. A checkpoint that does
/// not verify is the inner `Err` (exit 1); an unreadable file or key is an
/// error of the command.
fn open_checkpoint(
    path: &Path,
    key: &str,
) -> anyhow::Result<Result<ledger::checkpoint::Checkpoint, String>> {
    let verifier = service::keys::load_verifier(key)?;
    let note = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
    Ok(verifier
        .open(&note)
        .map_err(|error| format!("{}: {error}", path.display())))
}

/// Says so on stderr when the chain holds `report.issued` entries that the
/// ledger did not write; returns whether there are none.
fn foreign_issuances(what: &str, summary: &ledger::Summary) -> bool {
    match service::audit::foreign_issuances(what, summary) {
        Some(finding) => {
            tell!("error: {finding}");
            false
        }
        None => true,
    }
}
