//! One module per `tla` subcommand, plus what they share: printing that
//! survives a closed pipe (`say!`, `put!`, `tell!`), progress bars, the
//! directory a read command reads (a copy while a service holds the
//! ledger), and (from `service`) opening the ledger, the clock and atomic
//! writes.

/// `println!` that never panics: once stdout is closed (`tla demo | head
/// -1`) the rest of what a command says is dropped and the command goes
/// on, so it finishes its work (or undoes it) as it would on a terminal.
macro_rules! say {
    () => { $crate::cmd::print_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cmd::print_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that never panics (`say!` without the newline).
macro_rules! put {
    ($($arg:tt)*) => { $crate::cmd::print_out(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics: a closed stderr (`2>&1 | head -1`)
/// drops the message instead of aborting the command halfway.
macro_rules! tell {
    () => { $crate::cmd::print_err(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cmd::print_err(format_args!("{}\n", format_args!($($arg)*))) };
}

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
pub mod tenants;
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

/// Writes to stdout, dropping what a closed stdout cannot take (`say!`).
pub fn print_out(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _dropped_when_closed = std::io::stdout().lock().write_fmt(text);
}

/// Writes to stderr, dropping what a closed stderr cannot take (`tell!`).
pub fn print_err(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _dropped_when_closed = std::io::stderr().lock().write_fmt(text);
}

/// Writes `bytes` to stdout as the command's output; a reader that
/// closed the pipe early (`tla export | head -1`) took what it wanted, so
/// that ends the output quietly rather than as an error.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("writing to stdout")
        }
        _ => Ok(()),
    }
}

/// Whether an `--out` path is `-`, which means stdout for every `--out`
/// (as `tla import -` reads stdin).
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

/// Writes a command's `--out`: whole or not at all to a file, or to
/// stdout for `-`.
pub fn write_out(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if is_stdout(path) {
        return write_stdout(bytes);
    }
    write_atomically(path, bytes)
}

/// How messages name an `--out` path: "stdout" for `-`.
pub fn out_name(path: &Path) -> String {
    match is_stdout(path) {
        true => "stdout".into(),
        false => path.display().to_string(),
    }
}

/// The unix seconds of an instant given on the command line: RFC 3339
/// with an offset, or a date YYYY-MM-DD meaning its midnight UTC (`tla log
/// --since`, `tla contacts --at`).
pub fn parse_instant(text: &str) -> Result<i64, String> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc().timestamp())
        .ok_or_else(|| {
            format!(
                "{text:?} is neither RFC 3339 with an offset (2026-03-01T12:00:00+01:00) nor \
                 a date YYYY-MM-DD"
            )
        })
}

/// The id of the tenant a `--tenant` names in `ledger` (its id, or its
/// display name in any case), or an error naming the tenants it has.
pub fn tenant_of(ledger: &ledger::Ledger, given: &str) -> anyhow::Result<String> {
    Ok(service::tenants::resolve(&ledger.tenants(), given)?)
}

/// The event a follow-up command records (`build` for a tenant id) and
/// the tenant id `given` names. A given id is checked with its event
/// before the ledger is opened, so that a malformed field is named even
/// when the ledger is held or missing; a name ("Alver") needs `open`ed
/// ledger first. Returns the ledger, the tenant and the event.
pub fn tenant_event<T>(
    given: &str,
    open: impl FnOnce() -> anyhow::Result<ledger::Ledger>,
    build: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<(ledger::Ledger, String, T)> {
    let early = match service::tenants::is_id(given) {
        true => Some(build(given)?),
        false => None,
    };
    let ledger = open()?;
    let tenant = tenant_of(&ledger, given)?;
    let event = match early {
        Some(event) if tenant == given => event,
        _ => build(&tenant)?,
    };
    Ok((ledger, tenant, event))
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

/// The `--help` note of every read command that works on a copy.
pub const HELD_HELP: &str = "While a service that serves an API (`tla serve`, `tla ledger run \
--listen`, `tla ledger follow --listen`, `tla projector serve`) or the viewer (`tla view`, `tla demo \
--serve`) holds --data-dir, this works on a copy of the ledger's durable \
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
        tell!("note: {note}");
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
