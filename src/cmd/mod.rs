//! One module per `tla` subcommand, plus what they share: progress bars,
//! and (from `service`) opening the ledger, the clock and atomic writes.

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
pub mod proof;
pub mod report;
pub mod serve;
pub mod verify;
pub mod view;

use indicatif::{ProgressBar, ProgressStyle};

pub use service::{now_micros, open_ledger, write_atomically};

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
