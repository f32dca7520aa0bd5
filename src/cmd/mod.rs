//! One module per `tla` subcommand, plus what they share: progress bars,
//! the directory a read command reads (a copy while a service holds the
//! ledger), and (from `service`) opening the ledger, the clock and atomic
//! writes.

pub mod action;
pub mod agreement;
pub mod audit;
pub mod checkpoint;
pub mod contacts;
pub mod demo;
pub mod deviation;
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

use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use service::snapshot::ReadDir;

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

/// The `--help` note of every read command that works on a copy.
pub const HELD_HELP: &str = "While a service that serves an API (`tla serve`, `tla ledger run \
--listen`, `tla ledger follow --listen`, `tla projector serve`) holds --data-dir, this works on a copy of the ledger's durable \
entries fetched through that API, verified as it arrives, and says so on stderr \
(docs/OPERATIONS.md, \"Reading a ledger a service holds\"); `tla ledger snapshot --out DIR` \
keeps such a copy.";

/// The directory a read command reads: `data_dir`, or, while a service
/// that serves an API holds it, a verified copy of its durable entries
/// fetched through that API (said on stderr; removed when the returned
/// value is dropped). Long copies show a progress bar on a terminal.
pub fn readable(data_dir: &Path) -> anyhow::Result<ReadDir> {
    let bar = OnceCell::new();
    let copying = |copied: u64, total: u64| {
        let bar = bar.get_or_init(|| progress(total, "copying"));
        bar.set_position(copied);
    };
    let readable = service::snapshot::readable(data_dir, &copying);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let readable = readable?;
    if let Some(note) = readable.note(data_dir) {
        eprintln!("note: {note}");
    }
    Ok(readable)
}

/// `tla bench ARGS`: hands over to the benchmark harness, the `tla-bench`
/// binary beside this one, which the production build leaves out (it
/// links a PostgreSQL client and more that no service needs).
pub fn bench_harness(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let harness = exe.with_file_name(format!("tla-bench{}", std::env::consts::EXE_SUFFIX));
    if !harness.is_file() {
        anyhow::bail!(
            "the benchmark harness is not built ({} is missing): build it with \
             `cargo build --release --features bench` and run `tla bench` again \
             (docs/PERFORMANCE.md)",
            harness.display()
        );
    }
    let status = std::process::Command::new(&harness)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {}", harness.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}
