//! Inputs for measurements outside `tla bench` (scripts/migrate-1m): the
//! benchmark's events as NDJSON, and a ledger rewritten in the store format
//! before segment files (format 3) for `tla ledger migrate` to convert.
//! Internal subcommands of `tla-bench`, like `bench-peak`.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::data;

/// Tenants of `bench-events` when none are given: the append scenario's.
const TENANTS_DEFAULT: usize = 20;

/// `tla-bench bench-events COUNT [TENANTS]`: the benchmark's `COUNT`
/// events over `TENANTS` tenants (each tenant's agreement first), one
/// canonical event per line on stdout, for `tla import`.
pub fn events_main(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let number = |arg: Option<&OsString>, what: &str| -> anyhow::Result<Option<usize>> {
        arg.map(|a| {
            a.to_str()
                .and_then(|a| a.parse().ok())
                .with_context(|| format!("{what} must be a number, got {a:?}"))
        })
        .transpose()
    };
    let count =
        number(args.first(), "COUNT")?.context("usage: tla-bench bench-events COUNT [TENANTS]")?;
    let tenants = number(args.get(1), "TENANTS")?.unwrap_or(TENANTS_DEFAULT);
    anyhow::ensure!(tenants > 0, "TENANTS must be at least 1");
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::new(stdout);
    for event in data::mixed(count, tenants)? {
        out.write_all(event.canonical())?;
        out.write_all(b"\n")?;
    }
    out.flush().context("writing the events")?;
    Ok(ExitCode::SUCCESS)
}

/// `tla-bench bench-format-3 DIR`: rewrites the ledger in `DIR` the way
/// the build before segment files kept it (store format 3: every block a
/// sled value, no segment files), from the same entries.
pub fn format3_main(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let [dir] = &args[..] else {
        anyhow::bail!("usage: tla-bench bench-format-3 DIR");
    };
    let dir = PathBuf::from(dir);
    let store = ledger::store::Store::open(&dir, ledger::OpenMode::Existing)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    anyhow::ensure!(
        store.format() == ledger::store::FORMAT_VERSION,
        "the ledger in {} has store format {}, not {}",
        dir.display(),
        store.format(),
        ledger::store::FORMAT_VERSION
    );
    store
        .rewrite_as_format_3()
        .with_context(|| format!("rewriting {} as format 3", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
