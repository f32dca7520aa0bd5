//! `tla export`: the ledger in the documented export format.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger::export::ExportError;

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct Args {
    /// Write to this file instead of stdout (written to a temporary file
    /// first, so a failed export leaves no partial file); `-` is stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Export only this tenant's entries (verifiable by its tenant chain):
    /// its id, or its name as `tla tenants` lists it.
    #[arg(long)]
    tenant: Option<String>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let tenant = match &args.tenant {
        Some(given) => Some(super::tenant_of(&ledger, given)?),
        None => None,
    };
    let tenant = tenant.as_deref();
    let Some(path) = args.out.filter(|path| !super::is_stdout(path)) else {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let written = ledger
            .export(&mut out, tenant)
            .and_then(|_| out.flush().map_err(ExportError::Io));
        return match written {
            // A reader that closed the pipe (`tla export | head -1`) took
            // what it wanted: that is no failure of the export.
            Err(ExportError::Io(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Err(error.into()),
            Ok(()) => Ok(ExitCode::SUCCESS),
        };
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(temp);
    let summary = ledger.export(&mut out, tenant)?;
    let temp = out.into_inner().context("writing the export")?;
    temp.as_file().sync_all().context("syncing the export")?;
    temp.persist(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tell!(
        "wrote {} entries to {}, head {}",
        summary.entries,
        path.display(),
        summary.head
    );
    Ok(ExitCode::SUCCESS)
}
