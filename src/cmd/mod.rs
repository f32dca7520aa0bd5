//! One module per `tla` subcommand, plus what they share: opening the
//! ledger, the clock, progress bars.

pub mod agreement;
pub mod audit;
pub mod bench;
pub mod checkpoint;
pub mod contacts;
pub mod demo;
pub mod evidence;
pub mod export;
pub mod import;
pub mod key;
pub mod log;
pub mod pdf;
pub mod proof;
pub mod report;
pub mod serve;
pub mod verify;
pub mod view;

use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

pub use service::{now_micros, open_ledger};

/// A progress bar on stderr for `total` items; hidden when stderr is not a
/// terminal, so scripts and logs see only the summary.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
            .expect("the template is valid")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Writes a file whole or not at all: a temporary file in the same
/// directory, synced, then renamed over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    // Not a secret: readable like any file the user writes (the temporary
    // file starts as 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let readable = std::fs::Permissions::from_mode(0o644);
        temp.as_file()
            .set_permissions(readable)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
