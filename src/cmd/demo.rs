//! `tla demo`: the tour of the product on the embedded default. Builds a
//! seeded, realistic year of events for the municipalities of a regional IT
//! cooperation in a fresh ledger, verifies it, and says what to try next.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use ingest::demo::{self, DemoConfig};
use ledger::Outcome;
use schemas::Event;

use super::report;

/// The file that marks a data directory as made by `tla demo`, so a rerun
/// may replace it and nothing else is ever deleted.
const DEMO_MARKER: &str = "TLA-DEMO";

/// Events per append in the demo: one durable group commit each.
const DEMO_BATCH_EVENTS_MAX: usize = 4096;

#[derive(clap::Args)]
pub struct Args {
    /// Seed of the generated history: the same seed gives the same events.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of municipalities (1 to 8).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=8))]
    tenants: u32,
    /// Multiplies the number of outages and incidents.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    scale: u32,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    prepare_dir(data_dir)?;
    let config = DemoConfig {
        seed: args.seed,
        tenants: args.tenants as usize,
        scale: args.scale,
        ..DemoConfig::default()
    };
    let history = demo::generate(&config);
    let events = validate(&history.events)?;
    println!(
        "Generated {} events for {} municipalities over {} months ({} to {}), seed {}.",
        events.len(),
        history.tenants.len(),
        history.periods.len(),
        history.periods.first().map_or("", String::as_str),
        history.periods.last().map_or("", String::as_str),
        args.seed
    );
    let mut ledger = super::open_ledger(data_dir, true)?;
    let bar = super::progress(events.len() as u64, "appending");
    let mut appended = 0u64;
    for batch in events.chunks(DEMO_BATCH_EVENTS_MAX) {
        let outcomes = ledger.append(batch, super::now_micros())?;
        appended += outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Appended(_)))
            .count() as u64;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "Appended {appended} entries to the ledger in {} (one durable group commit per {} events).",
        data_dir.display(),
        DEMO_BATCH_EVENTS_MAX
    );
    let bar = super::progress(ledger.size(), "verifying");
    let verified = ledger.verify(|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let summary = match verified {
        Ok(summary) => summary,
        Err(failure) => {
            eprintln!("error: the demo ledger does not verify: {failure}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "Verified every hash: {} entries, head {}.",
        summary.size, summary.head
    );
    let reports = issue_reports(&mut ledger, &history.tenants, &history.periods)?;
    println!();
    print_table(&events);
    print_deviations(&reports, &history.periods);
    print_next_steps(data_dir, started);
    Ok(ExitCode::SUCCESS)
}

/// Makes `dir` an empty directory for the demo, refusing to touch a ledger
/// the demo did not make.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let is_demo = dir.join(DEMO_MARKER).exists();
        let is_empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
        if !is_demo && !is_empty {
            anyhow::bail!(
                "{} holds data that `tla demo` did not create; the demo needs a fresh ledger, \
                 so pass another --data-dir (for example --data-dir tla-demo)",
                dir.display()
            );
        }
        if is_demo {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove the previous demo in {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join(DEMO_MARKER),
        "This ledger was made by `tla demo`; running the demo again replaces it.\n",
    )
    .with_context(|| format!("cannot write to {}", dir.display()))?;
    Ok(())
}

fn validate(values: &[serde_json::Value]) -> anyhow::Result<Vec<Event>> {
    values
        .iter()
        .enumerate()
        .map(|(n, value)| {
            Event::from_json(value).map_err(|errors| {
                let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "demo event {n} is invalid (a bug in the demo): {}",
                    listed.join("; ")
                )
            })
        })
        .collect()
}

/// Computes every tenant's report of every period against the imported
/// ledger, issues them all in one append, and checks that each one
/// regenerates byte for byte from the prefix its manifest pins.
fn issue_reports(
    ledger: &mut ledger::Ledger,
    tenants: &[String],
    periods: &[String],
) -> anyhow::Result<Vec<projector::Report>> {
    let bar = super::progress((tenants.len() * periods.len()) as u64, "reports");
    let mut reports = Vec::new();
    for tenant in tenants {
        for period in periods {
            let period = period
                .parse()
                .map_err(|e| anyhow::anyhow!("demo period: {e}"))?;
            reports.push(report::generate(
                ledger,
                tenant,
                period,
                None,
                report::Horizon::Now,
            )?);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let now = super::now_micros();
    let issued = reports
        .iter()
        .map(|r| report::issued_event(r, &report::issued_id(r), now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = ledger.size();
    ledger.append(&issued, now)?;
    let mut reproduced = 0;
    for r in &reports {
        if report::regenerate(ledger, r)?.canonical_bytes() != r.canonical_bytes() {
            anyhow::bail!("the report of {} {} does not reproduce", r.tenant, r.period);
        }
        reproduced += 1;
    }
    println!(
        "Issued {} monthly reports (report.issued at ledger positions {first}..{}) and regenerated \
         each one byte for byte from the ledger prefix it pins ({reproduced} of {}).",
        reports.len(),
        ledger.size() - 1,
        reports.len()
    );
    Ok(reports)
}

/// Deviations (avvik) per tenant and month.
fn print_deviations(reports: &[projector::Report], periods: &[String]) {
    println!("Deviations (avvik) per month:");
    print!("{:<14}", "tenant");
    for period in periods {
        print!("{:>8}", &period[2..]);
    }
    println!("{:>8}", "total");
    let mut tenants: Vec<&str> = reports.iter().map(|r| r.tenant.as_str()).collect();
    tenants.dedup();
    for tenant in tenants {
        print!("{:<14}", demo::tenant_display_name(tenant));
        let mut total = 0;
        for period in periods {
            let count = reports
                .iter()
                .find(|r| r.tenant == tenant && r.period == *period)
                .map_or(0, |r| r.deviations.len());
            total += count;
            let cell = if count == 0 {
                ".".to_string()
            } else {
                count.to_string()
            };
            print!("{cell:>8}");
        }
        println!("{total:>8}");
    }
    println!();
}

/// Events per tenant and kind of fact.
fn print_table(events: &[Event]) {
    const COLUMNS: [(&str, &str); 6] = [
        ("outage", "outages"),
        ("maintenance", "maint."),
        ("incident", "incidents"),
        ("meeting", "meetings"),
        ("minutes", "minutes"),
        ("contact", "contacts"),
    ];
    let mut counts: BTreeMap<&str, [u64; 7]> = BTreeMap::new();
    for event in events {
        let row = counts.entry(event.tenant.as_str()).or_default();
        let prefix = event
            .event_type
            .as_str()
            .split('.')
            .next()
            .unwrap_or_default();
        if let Some(column) = COLUMNS.iter().position(|(p, _)| *p == prefix) {
            row[column] += 1;
        }
        row[6] += 1;
    }
    print!("{:<14}", "tenant");
    for (_, title) in COLUMNS {
        print!("{title:>10}");
    }
    println!("{:>10}", "events");
    for (tenant, row) in &counts {
        let name = demo::tenant_display_name(tenant);
        print!("{name:<14}");
        for value in row {
            print!("{value:>10}");
        }
        println!();
    }
    println!();
}

fn print_next_steps(data_dir: &Path, started: Instant) {
    let dir = data_dir.display();
    let flag = if data_dir == Path::new("./tla-data") {
        String::new()
    } else {
        format!(" --data-dir {dir}")
    };
    println!("Done in {:.1} s. Next:", started.elapsed().as_secs_f64());
    println!("  tla log{flag} --tenant alver --limit 20    (browse the entries)");
    println!("  tla verify{flag}    (recompute every hash again)");
    println!(
        "  tla export{flag} --out ledger.jsonl    (the ledger for an auditor, docs/FORMAT.md)"
    );
    println!("  tla verify --export ledger.jsonl    (check that export without the ledger)");
    println!(
        "  tla report{flag} --tenant alver --period 2026-01 > alver-2026-01.json    (a report)"
    );
    println!("  tla verify-report{flag} alver-2026-01.json    (regenerate it and compare)");
}
