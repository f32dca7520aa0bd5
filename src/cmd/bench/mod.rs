//! `tla bench`: the end-to-end benchmarks of docs/PERFORMANCE.md, each
//! measured side by side with its baseline in the same run, so that the
//! ratio holds on a noisy machine even where the absolute figures do not.
//!
//! Every comparison is one row of `bench-results.json`:
//! `{"scenarios": [{"name", "unit", "ours", "baseline", "baseline_name",
//! "ratio", "target_ratio", "met", ...}]}`. `ratio` always reads "times
//! better than the baseline": ours / baseline for rates, baseline / ours
//! for times and memory. A row whose baseline could not run (no
//! PostgreSQL, no nats-server) keeps its place with `baseline`, `ratio`
//! and `met` null and a `note` that says why.

mod append;
mod data;
mod failover;
pub mod fixture;
mod jetstream;
mod measure;
mod postgres;
mod replication;
mod report;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

pub use measure::peak_main;

/// The `tla` binary whose commands are measured: the one beside this
/// harness (`tla-bench`), as cargo builds them both into one directory.
pub fn tla_exe() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let tla = exe.with_file_name(format!("tla{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        tla.is_file(),
        "the tla binary is not beside the harness ({} is missing): build both with \
         `cargo build --release --features bench`",
        tla.display()
    );
    Ok(tla)
}

#[derive(clap::Args)]
pub struct Args {
    /// Small sizes that finish within about two minutes on 2 cores (for a
    /// first look and for CI); the full run builds a 10M-entry ledger.
    #[arg(long)]
    quick: bool,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "bench-results.json")]
    out: PathBuf,
    /// Run only these scenarios (repeatable): append, jetstream,
    /// replication, failover, verify, report.
    #[arg(long, value_name = "SCENARIO", value_parser = ["append", "jetstream", "replication", "failover", "verify", "report"])]
    only: Vec<String>,
    /// The PostgreSQL server of the append baseline (libpq key=value or URL).
    #[arg(
        long,
        env = "TLA_BENCH_POSTGRES",
        default_value = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
    )]
    postgres: String,
    /// Scratch directory for the benchmark's ledgers and stores (the full
    /// run needs about 10 GB); default: a fresh temporary directory under $TMPDIR.
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Events per append (and per flush in the sled and PostgreSQL
    /// baselines); the default is the ledger writer's largest batch, which
    /// it reaches under sustained load.
    #[arg(long, default_value_t = ingest::writer::BATCH_MESSAGES_MAX)]
    batch: usize,
}

/// The sizes of one run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sizes {
    /// Events appended in the append and verify scenarios.
    pub append_events: usize,
    /// Events through JetStream.
    pub jetstream_events: usize,
    /// Events appended with and without the commit log, and followed.
    pub replication_events: usize,
    /// The two ledger sizes of the report scenario.
    pub report_ledgers: [usize; 2],
    /// Entries of the reported tenant (the same in every ledger).
    pub report_tenant_entries: usize,
    /// Best of how many rounds, per measurement.
    pub rounds: usize,
}

impl Sizes {
    /// Scratch space the scenarios need at most: about 720 bytes on disk
    /// per ledger entry (900 with margin); the append scenario keeps one
    /// ledger and writes another and a raw sled store beside it, the
    /// report scenario keeps all its ledgers, the replication scenario
    /// three ledgers and the commit log.
    pub fn scratch_bytes(&self, append: bool, replication: bool, report: bool) -> u64 {
        const BYTES_PER_ENTRY: u64 = 900;
        let append = if append { 3 * self.append_events } else { 0 };
        let replication = if replication {
            4 * self.replication_events
        } else {
            0
        };
        let report = if report {
            self.report_ledgers.iter().sum::<usize>() + self.report_tenant_entries
        } else {
            0
        };
        (append + replication + report) as u64 * BYTES_PER_ENTRY
    }

    pub const QUICK: Sizes = Sizes {
        append_events: 100_000,
        jetstream_events: 50_000,
        replication_events: 100_000,
        report_ledgers: [200_000, 1_000_000],
        report_tenant_entries: 50_000,
        rounds: 2,
    };
    pub const FULL: Sizes = Sizes {
        append_events: 1_000_000,
        jetstream_events: 200_000,
        replication_events: 500_000,
        report_ledgers: [1_000_000, 10_000_000],
        report_tenant_entries: 50_000,
        rounds: 3,
    };
}

/// One comparison: our figure against a baseline measured in the same run.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub ours: f64,
    pub baseline: Option<f64>,
    pub baseline_name: String,
    /// Times better than the baseline (see the module docs).
    pub ratio: Option<f64>,
    /// The issue's target for `ratio`; null where it sets none (the row
    /// then shows a relation, such as cost against ledger size).
    pub target_ratio: Option<f64>,
    /// An absolute bound on `ours` that must hold too (e.g. 1000 ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Whether every target of the row (ratio, limit) holds; null when the
    /// row has no target or its baseline could not run.
    pub met: Option<bool>,
    /// What bounds the figure, or why the baseline did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether more of the unit is better (rates) or worse (times, memory).
#[derive(Clone, Copy)]
pub enum Better {
    Higher,
    Lower,
}

impl Row {
    /// A row whose baseline ran.
    pub fn compared(
        name: impl Into<String>,
        unit: &'static str,
        better: Better,
        (ours, baseline): (f64, f64),
        baseline_name: impl Into<String>,
        target_ratio: Option<f64>,
        limit: Option<f64>,
    ) -> Row {
        let ratio = match better {
            Better::Higher => ours / baseline,
            Better::Lower => baseline / ours,
        };
        let met = (target_ratio.is_some() || limit.is_some()).then(|| {
            target_ratio.is_none_or(|target| ratio >= target)
                && limit.is_none_or(|limit| ours <= limit)
        });
        Row {
            name: name.into(),
            unit,
            ours,
            baseline: Some(baseline),
            baseline_name: baseline_name.into(),
            ratio: Some(ratio),
            target_ratio,
            limit,
            met,
            note: None,
        }
    }

    /// A row whose baseline could not run, saying why.
    pub fn skipped(
        name: impl Into<String>,
        unit: &'static str,
        ours: f64,
        baseline_name: impl Into<String>,
        target_ratio: Option<f64>,
        why: String,
    ) -> Row {
        Row {
            name: name.into(),
            unit,
            ours,
            baseline: None,
            baseline_name: baseline_name.into(),
            ratio: None,
            target_ratio,
            limit: None,
            met: None,
            note: Some(format!("baseline skipped: {why}")),
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Row {
        let note = note.into();
        self.note = Some(match self.note.take() {
            Some(earlier) => format!("{earlier}; {note}"),
            None => note,
        });
        self
    }
}

/// The file `tla bench` writes.
#[derive(Serialize)]
struct Results<'a> {
    tool: &'static str,
    version: &'static str,
    mode: &'static str,
    machine: Machine,
    sizes: Sizes,
    batch: usize,
    seconds: f64,
    scenarios: &'a [Row],
}

/// What the figures were measured on.
#[derive(Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    memory_gib: f64,
    os: String,
}

impl Machine {
    fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| format!("{} {}", std::env::consts::OS, r.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib: (memory_kib / (1 << 20) as f64 * 10.0).round() / 10.0,
            os,
        }
    }
}

/// What every scenario gets.
pub struct Context<'a> {
    pub sizes: Sizes,
    pub batch: usize,
    pub scratch: &'a Path,
    pub postgres: &'a str,
}

impl Context<'_> {
    /// A fresh directory under the scratch directory.
    pub fn dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.scratch.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        Ok(dir)
    }
}

/// Writes every dirty page of the machine to disk (sync(2)), so that a
/// measured run does not pay for the writeback of the one before it: with
/// gigabytes written per round, that writeback otherwise halves the next
/// round's fsync-bound rate at random.
pub fn settle() {
    nix::unistd::sync();
}

/// Prints a progress line on stderr.
pub fn say(what: impl std::fmt::Display) {
    eprintln!("bench: {what}");
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.batch == 0 || args.batch > ledger::APPEND_EVENTS_MAX {
        anyhow::bail!(
            "--batch must be between 1 and {}, got {}",
            ledger::APPEND_EVENTS_MAX,
            args.batch
        );
    }
    let (sizes, mode) = if args.quick {
        (Sizes::QUICK, "quick")
    } else {
        (Sizes::FULL, "full")
    };
    let temp;
    let scratch = match &args.scratch {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("tla-bench-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            temp.path().to_owned()
        }
    };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let needed = sizes.scratch_bytes(
        wanted("append") || wanted("verify"),
        wanted("replication"),
        wanted("report"),
    );
    check_space(&scratch, needed)?;
    if wanted("jetstream") || wanted("replication") || wanted("failover") {
        // Found out now, not after minutes of the other scenarios.
        jetstream::nats_server()?;
    }
    let context = Context {
        sizes,
        batch: args.batch,
        scratch: &scratch,
        postgres: &args.postgres,
    };
    let started = Instant::now();
    say(format_args!(
        "{mode} run in {}; sizes {sizes:?}, {} events per append",
        scratch.display(),
        args.batch
    ));
    let mut rows = Vec::new();
    if wanted("append") || wanted("verify") {
        rows.extend(append::run(&context, wanted("append"), wanted("verify"))?);
    }
    if wanted("jetstream") {
        rows.extend(jetstream::run(&context)?);
    }
    if wanted("replication") {
        rows.extend(replication::run(&context)?);
    }
    if wanted("failover") {
        rows.extend(failover::run(&context)?);
    }
    if wanted("report") {
        rows.extend(report::run(&context)?);
    }
    let seconds = started.elapsed().as_secs_f64();
    print_table(&rows);
    let results = Results {
        tool: "tla bench",
        version: env!("CARGO_PKG_VERSION"),
        mode,
        machine: Machine::read(),
        sizes,
        batch: args.batch,
        seconds,
        scenarios: &rows,
    };
    let mut json = serde_json::to_vec_pretty(&results).context("encoding the results")?;
    json.push(b'\n');
    super::write_atomically(&args.out, &json)?;
    say(format_args!(
        "wrote {} ({} scenarios, {seconds:.0} s)",
        args.out.display(),
        rows.len()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Refuses to start when the scratch directory's file system has less
/// room than the run needs, instead of failing half-way with a full disk.
fn check_space(scratch: &Path, needed: u64) -> anyhow::Result<()> {
    let stats = nix::sys::statvfs::statvfs(scratch)
        .with_context(|| format!("cannot read the free space of {}", scratch.display()))?;
    // Both are u64 on 64-bit Linux, narrower on some other systems.
    #[allow(clippy::useless_conversion)]
    let available = u64::from(stats.blocks_available()) * u64::from(stats.fragment_size());
    let gib = |bytes: u64| bytes as f64 / f64::from(1u32 << 30);
    anyhow::ensure!(
        available >= needed,
        "{} has {:.1} GiB free and this run needs about {:.1} GiB: pass --scratch DIR on a \
         larger file system, or --quick",
        scratch.display(),
        gib(available),
        gib(needed)
    );
    Ok(())
}

/// The results as a Markdown table on stdout.
fn print_table(rows: &[Row]) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let number = |v: f64| {
        if v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    let _ = writeln!(
        out,
        "| scenario | ours | baseline | ratio | target | met |\n| --- | ---: | --- | ---: | ---: | :---: |"
    );
    for row in rows {
        let baseline = match row.baseline {
            Some(b) => format!("{} {} ({})", number(b), row.unit, row.baseline_name),
            None => format!("skipped ({})", row.baseline_name),
        };
        let ratio = row.ratio.map_or("-".into(), |r| format!("{r:.2}×"));
        let target = match (row.target_ratio, row.limit) {
            (Some(ratio), Some(limit)) => format!("≥ {ratio}× and ≤ {limit} {}", row.unit),
            (Some(ratio), None) => format!("≥ {ratio}×"),
            (None, Some(limit)) => format!("≤ {limit} {}", row.unit),
            (None, None) => "-".into(),
        };
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {baseline} | {ratio} | {target} | {met} |",
            row.name,
            number(row.ours),
            row.unit
        );
    }
    for row in rows.iter().filter(|r| r.note.is_some()) {
        let _ = writeln!(
            out,
            "\n- {}: {}",
            row.name,
            row.note.as_deref().unwrap_or("")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(better: Better, figures: (f64, f64), target: Option<f64>, limit: Option<f64>) -> Row {
        Row::compared("r", "u", better, figures, "b", target, limit)
    }

    #[test]
    fn ratios_read_times_better_than_the_baseline() {
        let rate = row(Better::Higher, (300.0, 100.0), Some(3.0), None);
        assert_eq!((rate.ratio, rate.met), (Some(3.0), Some(true)));
        let time = row(Better::Lower, (200.0, 100.0), Some(0.8), None);
        assert_eq!((time.ratio, time.met), (Some(0.5), Some(false)));
        // Within the ratio but over the absolute limit: not met.
        let limited = row(Better::Lower, (1200.0, 1100.0), Some(0.8), Some(1000.0));
        assert_eq!(limited.met, Some(false));
        // Only a limit.
        let bounded = row(Better::Lower, (60.0, 50.0), None, Some(64.0));
        assert_eq!(bounded.met, Some(true));
        // No target at all: a relation, neither met nor missed.
        let relation = row(Better::Lower, (2.0, 1.0), None, None);
        assert_eq!((relation.ratio, relation.met), (Some(0.5), None));
        let skipped = Row::skipped("s", "events/s", 5.0, "b", Some(10.0), "no server".into());
        assert_eq!((skipped.ratio, skipped.met), (None, None));
        assert_eq!(skipped.note.as_deref(), Some("baseline skipped: no server"));
    }

    #[test]
    fn a_run_that_would_fill_the_disk_is_refused_before_it_starts() {
        let dir = tempfile::tempdir().expect("temp dir");
        check_space(dir.path(), 0).expect("nothing needed");
        let error = check_space(dir.path(), u64::MAX).expect_err("more than any disk");
        let message = error.to_string();
        assert!(
            message.contains("--scratch") && message.contains("--quick"),
            "{message}"
        );
        // The report scenario's ledgers dominate the full run's needs.
        let full = Sizes::FULL.scratch_bytes(true, true, true);
        assert!(
            full > Sizes::FULL.scratch_bytes(true, true, false) * 3,
            "{full}"
        );
        assert_eq!(Sizes::QUICK.scratch_bytes(false, false, false), 0);
    }
}
