//! The file edge of `tla import`: reading the input (a file or stdin),
//! writing the refused events to `--rejects`, and removing a ledger the
//! import created but appended nothing to.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use ingest::import::Refused;

/// Removes the ledger directory this import created, when it appends
/// nothing; under the ledger's lock, so that a process that opened the new
/// ledger in the meantime keeps it.
pub fn discard_if_created(ledger: ledger::Ledger, dir: &Path, created: bool) -> anyhow::Result<()> {
    drop(ledger);
    if created {
        let _lock = ledger::DirLock::acquire_closed(dir).with_context(|| {
            format!(
                "the empty ledger this import created in {} was opened by another process; \
                 it is left in place",
                dir.display()
            )
        })?;
        std::fs::remove_dir_all(dir).with_context(|| {
            format!(
                "cannot remove the empty ledger it created in {}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// The bytes of the import file, with the name messages give it (`-`
/// is stdin).
pub fn read_input(file: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        return Ok(("stdin".into(), bytes));
    }
    let name = file.display().to_string();
    bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
    Ok((name, bytes))
}

/// Writes the refused events with their errors as NDJSON to `path`.
pub fn write_rejects(path: &Path, refused: &[Refused]) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    for event in refused {
        let line = serde_json::json!({
            "line": event.line,
            "errors": event.errors,
            "event": event.event,
        });
        writeln!(out, "{line}").with_context(|| format!("writing {}", path.display()))?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
