//! One module per `tla` subcommand, plus what they share: opening the
//! ledger, the clock, progress bars.

pub mod agreement;
pub mod contacts;
pub mod demo;
pub mod export;
pub mod import;
pub mod log;
pub mod pdf;
pub mod proof;
pub mod report;
pub mod verify;
pub mod view;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ledger::Ledger;

/// The ledger clock: microseconds since the Unix epoch, UTC.
pub fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_micros()).expect("the clock is before the year 294,000")
}

/// Opens the ledger in `dir` (creating it when `create`), or says why not.
pub fn open_ledger(dir: &Path, create: bool) -> anyhow::Result<Ledger> {
    if !create && !dir.exists() {
        anyhow::bail!(
            "no ledger at {}: pass --data-dir (or set TLA_DATA_DIR), or create one with `tla import`",
            dir.display()
        );
    }
    Ledger::open(dir).with_context(|| format!("cannot open the ledger at {}", dir.display()))
}

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
