//! Scenarios 5 and 6: one tenant-month report from ledgers of growing size
//! in which the reported tenant always has the same entries, against the
//! same report from a ledger holding that tenant's entries only; and the
//! peak memory of `tla report` and `tla verify` on the largest ledger.
//!
//! The report is the current format (`tla-report/3`), whose twelve-period
//! trend (format 2 on) the engine
//! computes in the same pass over the tenant's events as the figures; the
//! scenario checks that the measured report's trend holds twelve periods,
//! and compares that one pass (in process, on the tenant's events) with
//! the twelve format-1 reports a trend would otherwise take.
//!
//! Both commands run as a user runs them (the `tla` binary, a fresh
//! process, reading sled from disk), timed and measured by
//! `measure::tla`. The reported tenant's entries are spread evenly through
//! the whole ledger, the worst case for reading them back.

use std::path::Path;

use anyhow::Context as _;

use ledger::Ledger;
use schemas::Event;

use super::measure::{self, Measured};
use super::{data, say, Better, Context, Row};

/// The reported tenant is tenant 0; the other entries belong to these many
/// other tenants.
const OTHER_TENANTS: usize = 19;
/// Events per append while building.
const BUILD_BATCH: usize = 8192;
/// Appends between syncs while building (the build is not measured).
const BUILD_SYNC_EVERY: usize = 64;
/// The bound on a tenant-month report at 10M entries.
const REPORT_MS_MAX: f64 = 1000.0;
/// The bound on verify's peak memory at 10M entries.
const VERIFY_MIB_MAX: f64 = 64.0;
/// Periods in a report's trend (SEMANTICS.md section 12), its own included.
const TREND_PERIODS: usize = projector::story::TREND_PERIODS as usize;

pub fn run(cx: &Context<'_>) -> anyhow::Result<Vec<Row>> {
    let tenant_entries = cx.sizes.report_tenant_entries;
    let [small, large] = cx.sizes.report_ledgers;
    let only = cx.dir("report-tenant-only")?;
    build(&only, tenant_entries, tenant_entries)?;
    let small_dir = cx.dir("report-small")?;
    build(&small_dir, small, tenant_entries)?;
    let large_dir = cx.dir("report-large")?;
    build(&large_dir, large, tenant_entries)?;

    let tenant = data::tenant(0);
    let report = [
        "report",
        "--tenant",
        &tenant,
        "--period",
        data::REPORT_PERIOD,
    ];
    let rounds = cx.sizes.rounds;
    let only_report = best(rounds, &only, &report)?;
    let small_report = best(rounds, &small_dir, &report)?;
    let large_report = best(rounds, &large_dir, &report)?;
    let periods = trend_periods(&large_dir, &report)?;
    anyhow::ensure!(
        periods == TREND_PERIODS,
        "the measured report's trend holds {periods} periods, want {TREND_PERIODS}"
    );
    let (one_pass, twelve) = trend_cost(&only, rounds)?;
    let only_verify = best(1, &only, &["verify"])?;
    let large_verify = best(1, &large_dir, &["verify"])?;
    for (what, m) in [
        ("report, tenant only", only_report),
        ("report, small ledger", small_report),
        ("report, large ledger", large_report),
        ("verify, tenant only", only_verify),
        ("verify, large ledger", large_verify),
    ] {
        say(format_args!(
            "report: {what}: {:.0} ms, peak {:.1} MiB",
            m.secs * 1e3,
            m.peak_mib
        ));
    }
    let baseline_name =
        format!("the same report from a ledger of the tenant's {tenant_entries} entries only");
    let growth = large as f64 / small as f64;
    let report_row = |size: usize, m: Measured, limit: Option<f64>| {
        Row::compared(
            format!("report, tenant-month, {}-entry ledger", short(size)),
            "ms",
            Better::Lower,
            (m.secs * 1e3, only_report.secs * 1e3),
            baseline_name.clone(),
            None,
            limit,
        )
        .with_note(format!(
            "the tenant has {tenant_entries} of the {size} entries; 1.0 would be no cost at all \
             for the other tenants' entries"
        ))
    };
    say(format_args!(
        "report: trend of {TREND_PERIODS} periods in one pass: {:.0} ms; {TREND_PERIODS} format-1 reports: {:.0} ms",
        one_pass * 1e3,
        twelve * 1e3
    ));
    let ten_million = large >= 10_000_000;
    Ok(vec![
        report_row(small, small_report, None),
        report_row(large, large_report, ten_million.then_some(REPORT_MS_MAX)).with_note(format!(
            "{growth:.0}x the entries of the {}-entry ledger, {:.2}x its report time; \
             {} with its trend of {periods} periods",
            short(small),
            large_report.secs / small_report.secs,
            projector::REPORT_FORMAT,
        )),
        Row::compared(
            format!("report with a {TREND_PERIODS}-period trend, one pass"),
            "ms",
            Better::Lower,
            (one_pass * 1e3, twelve * 1e3),
            format!(
                "{TREND_PERIODS} format-1 reports of the trend's periods (figures only), same events"
            ),
            None,
            None,
        )
        .with_note(format!(
            "in process, on the tenant's {tenant_entries} events read once; the engine alone, \
             no ledger reads"
        )),
        Row::compared(
            format!("report, peak memory, {}-entry ledger", short(large)),
            "MiB",
            Better::Lower,
            (large_report.peak_mib, only_report.peak_mib),
            baseline_name.clone(),
            None,
            None,
        )
        .with_note(format!(
            "{:.1} MiB on the {}-entry ledger",
            small_report.peak_mib,
            short(small)
        )),
        Row::compared(
            format!("verify, peak memory, {}-entry ledger", short(large)),
            "MiB",
            Better::Lower,
            (large_verify.peak_mib, only_verify.peak_mib),
            format!("tla verify of a {tenant_entries}-entry ledger"),
            None,
            ten_million.then_some(VERIFY_MIB_MAX),
        )
        .with_note(format!(
            "tla verify of {large} entries took {:.1} s",
            large_verify.secs
        )),
    ])
}

/// How many periods the trend of the report `tla ARGS` writes holds (its
/// JSON read back): proof that the measured report carries its trend.
fn trend_periods(dir: &Path, args: &[&str]) -> anyhow::Result<usize> {
    let output = std::process::Command::new(super::tla_exe()?)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run tla report")?;
    anyhow::ensure!(
        output.status.success(),
        "`tla {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("tla report wrote no JSON report")?;
    anyhow::ensure!(
        report["format"] == projector::REPORT_FORMAT,
        "tla report wrote format {}, want {}",
        report["format"],
        projector::REPORT_FORMAT
    );
    Ok(report["trend"].as_array().map_or(0, Vec::len))
}

/// The best seconds, over `rounds`, of the tenant-month report with its
/// trend (one pass), and of the twelve format-1 reports of the trend's
/// periods, computed from the tenant's events in the ledger in `dir`.
fn trend_cost(dir: &Path, rounds: usize) -> anyhow::Result<(f64, f64)> {
    let ledger = Ledger::open_in(dir, ledger::OpenMode::Existing)?;
    let tenant = data::tenant(0);
    let events = service::report::tenant_events(&ledger, &tenant, ledger.size())?;
    drop(ledger);
    let period: projector::Period = data::REPORT_PERIOD
        .parse()
        .map_err(|e| anyhow::anyhow!("the benchmark period: {e}"))?;
    let input = |period| projector::Input {
        tenant: &tenant,
        period,
        events: &events,
        horizon: None,
    };
    let time = |work: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..rounds.max(1) {
            let started = std::time::Instant::now();
            work()?;
            best = best.min(started.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let one_pass = time(&|| {
        let report = projector::compute(&input(period))?;
        let periods = report.story.map_or(0, |story| story.trend.len());
        anyhow::ensure!(periods == TREND_PERIODS, "a trend of {periods} periods");
        Ok(())
    })?;
    let twelve = time(&|| {
        for back in 0..TREND_PERIODS {
            let earlier = period.plus_months(-(back as i32));
            projector::compute_as(&input(earlier), projector::Format::V1)?;
        }
        Ok(())
    })?;
    Ok((one_pass, twelve))
}

/// The best (least) time and peak of `rounds` runs of `tla ARGS`.
fn best(rounds: usize, dir: &Path, args: &[&str]) -> anyhow::Result<Measured> {
    let mut best = Measured {
        secs: f64::MAX,
        peak_mib: f64::MAX,
    };
    for _ in 0..rounds.max(1) {
        let m = measure::tla(dir, args)?;
        best.secs = best.secs.min(m.secs);
        best.peak_mib = best.peak_mib.min(m.peak_mib);
    }
    Ok(best)
}

/// 10000000 as "10M", 200000 as "200k".
fn short(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// A ledger of `total` entries in which tenant 0 has `tenant_entries`
/// (its agreement included), spread evenly; the rest belong to
/// `OTHER_TENANTS` other tenants in turn. Events are generated on a
/// second thread while the first appends.
fn build(dir: &Path, total: usize, tenant_entries: usize) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let others = if total > tenant_entries {
        OTHER_TENANTS
    } else {
        0
    };
    let mut ledger = Ledger::open(dir)?;
    let agreements: Vec<Event> = (0..=others)
        .map(|t| data::agreement(&data::tenant(t)))
        .collect::<anyhow::Result<_>>()?;
    ledger.append(&agreements, data::NOW_MICROS)?;
    let slots = total.saturating_sub(agreements.len());
    let mine = tenant_entries.saturating_sub(1).min(slots);
    let per_other = (slots - mine).div_ceil(others.max(1));
    let (sender, batches) = std::sync::mpsc::sync_channel::<anyhow::Result<Vec<Event>>>(4);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let (mut n_mine, mut n_other) = (0usize, 0usize);
            let mut batch = Vec::with_capacity(BUILD_BATCH);
            for slot in 0..slots {
                // Slot `slot` is the tenant's when the even spacing of its
                // `mine` events steps past it.
                let is_mine = mine > 0 && (slot + 1) * mine / slots > slot * mine / slots;
                let event = if is_mine {
                    n_mine += 1;
                    data::event(&data::tenant(0), n_mine - 1, mine)
                } else {
                    n_other += 1;
                    let t = 1 + (n_other - 1) % others;
                    data::event(&data::tenant(t), (n_other - 1) / others, per_other)
                };
                match event {
                    Ok(event) => batch.push(event),
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                }
                if batch.len() == BUILD_BATCH || slot + 1 == slots {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BUILD_BATCH));
                    if sender.send(Ok(full)).is_err() {
                        return;
                    }
                }
            }
        });
        for (index, batch) in batches.into_iter().enumerate() {
            ledger.append_unsynced(&batch?, data::NOW_MICROS)?;
            if (index + 1) % BUILD_SYNC_EVERY == 0 {
                ledger.syncer().sync()?;
                say(format_args!(
                    "report: building {}: {} of {total} entries",
                    dir.display(),
                    ledger.size()
                ));
            }
        }
        anyhow::Ok(())
    })?;
    ledger.syncer().sync()?;
    let size = ledger.size();
    anyhow::ensure!(size == total as u64, "built {size} entries, wanted {total}");
    let tenant_size = ledger.tenants().get(&data::tenant(0)).copied().unwrap_or(0);
    anyhow::ensure!(
        tenant_size == tenant_entries.min(total) as u64,
        "the reported tenant has {tenant_size} entries, wanted {tenant_entries}"
    );
    // sled lets go of its lock only when its background threads end,
    // which can lag the drop: wait for it (as `Ledger::reopen` does), so
    // the ledger just built opens at once (the unit test below found it
    // locked once).
    drop(ledger);
    drop(ledger::DirLock::acquire_closed(dir)?);
    say(format_args!(
        "report: built {} ({total} entries, {tenant_size} of the reported tenant) in {:.0} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_named_short() {
        assert_eq!(short(10_000_000), "10M");
        assert_eq!(short(200_000), "200k");
        assert_eq!(short(1_234), "1234");
    }

    #[test]
    fn a_built_ledger_has_the_tenant_entries_spread_through_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        build(dir.path(), 2_000, 100).expect("build");
        let ledger = Ledger::open(dir.path()).expect("open");
        assert_eq!(ledger.size(), 2_000);
        let positions: Vec<u64> = ledger
            .tenant_entries(&data::tenant(0))
            .map(|e| e.expect("entry").record.position)
            .collect();
        assert_eq!(positions.len(), 100);
        // Spread: the tenant's last entry is near the end of the ledger.
        assert!(*positions.last().expect("some") > 1_900, "{positions:?}");
    }

    #[test]
    fn the_benchmark_report_has_a_trend_of_twelve_periods_in_one_pass() {
        let dir = tempfile::tempdir().expect("temp dir");
        build(dir.path(), 1_000, 1_000).expect("build");
        // trend_cost itself refuses a report whose trend is not twelve long.
        let (one_pass, twelve) = trend_cost(dir.path(), 1).expect("trend");
        assert!(one_pass > 0.0 && twelve > 0.0, "{one_pass} {twelve}");
    }
}
