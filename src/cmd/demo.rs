//! `tla demo`: the tour of the product on the embedded default. Builds a
//! seeded, realistic year of events for the municipalities of a regional IT
//! cooperation in a fresh ledger, verifies it, and says what to try next.
//!
//! The ledger is built in a staging directory beside `--data-dir` and
//! swapped in whole (`service::demo_ledger::Target`); this module prints
//! what it did and shows the progress.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use demo::{self, DemoConfig};
use ledger::checkpoint::Verifier;
use ledger::Outcome;
use web::viewer::Anchor;

use service::demo_ledger::{self, Target, DEMO_KEY_FILE};
use service::source::{self, LedgerSource};

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
    /// Number of monthly reporting periods, from November 2025 (1 to 12).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=12))]
    months: u32,
    /// Then serve the web report viewer over the demo ledger until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Where the viewer listens with --serve (port 0: any free port).
    #[arg(long, default_value = source::LISTEN_DEFAULT, value_name = "ADDR", requires = "serve")]
    listen: std::net::SocketAddr,
    /// Replace a demo ledger even when it holds entries the demo did not
    /// write (events imported or agreements published into it since).
    #[arg(long)]
    force: bool,
    /// With --serve: a tokens file; readers then sign in with a token and
    /// see only the tenants it may read.
    #[arg(long, value_name = "FILE", requires = "serve")]
    tokens: Option<std::path::PathBuf>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Refuse before any work when the directory is held or not the demo's.
    let target = Target::claim(data_dir, args.force)?;
    let config = DemoConfig {
        seed: args.seed,
        tenants: args.tenants as usize,
        scale: args.scale,
        months: args.months,
        ..DemoConfig::default()
    };
    let history = demo::generate(&config);
    let events = demo_ledger::validate(&history.events)?;
    say!(
        "Generated {} events for {} municipalities over {} months ({} to {}), seed {}.",
        events.len(),
        history.tenants.len(),
        history.periods.len(),
        history.periods.first().map_or("", String::as_str),
        history.periods.last().map_or("", String::as_str),
        args.seed
    );
    match target.replaced {
        demo_ledger::Replaced::Demo { entries, added: 0 } => say!(
            "Replacing the demo ledger in {} ({entries} entries, all written by the demo).",
            data_dir.display()
        ),
        demo_ledger::Replaced::Demo { entries, added } => say!(
            "Replacing the demo ledger in {} ({entries} entries, {added} of them not written \
             by the demo: --force).",
            data_dir.display()
        ),
        demo_ledger::Replaced::Nothing => {}
    }
    // Built beside the target and swapped in whole: until then the
    // previous demo (if any) stays as it was, and a failure or a crash
    // leaves it so.
    let staging = target.staging()?;
    let mut ledger = super::open_ledger(staging.path(), ledger::OpenMode::Create)?;
    // Marked at once (a staging directory a crash leaves is the demo's);
    // the entries it wrote are recorded once it verified.
    demo_ledger::write_marker(staging.path(), 0)?;
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
    say!(
        "Appended {appended} entries to a new ledger for {} (one durable group commit per {} events).",
        data_dir.display(),
        DEMO_BATCH_EVENTS_MAX
    );
    let (reports, anchors) = issue_reports(&mut ledger, &history.tenants, &history.periods)?;
    let acknowledged = demo_ledger::acknowledge_reports(&mut ledger, &reports)?;
    say!(
        "Acknowledged {acknowledged} of them as the municipalities' contacts would (not each \
         tenant's last month, just sent, nor a month that ended without a contact)."
    );
    let verifier = sign_checkpoint(staging.path(), &ledger)?;
    if !verify_all(&ledger, &reports)? {
        return Ok(ExitCode::from(1));
    }
    demo_ledger::write_marker(staging.path(), ledger.size())?;
    drop(ledger);
    target.swap_in(staging)?;
    say!();
    put!("{}", demo_ledger::events_table(&events));
    put!(
        "{}",
        demo_ledger::deviations_table(&reports, &history.periods)
    );
    let year_end = history
        .periods
        .last()
        .and_then(|p| p.parse::<projector::Period>().ok())
        .map_or(0, |p| p.end(web::service::CURRENT_MONTH_ZONE));
    put!(
        "{}",
        demo_ledger::alerts_table(&events, &history.tenants, year_end)
    );
    // The example report: the first month of the first tenant with a
    // deviation to see, else its last month.
    let example = reports
        .iter()
        .take_while(|r| r.tenant == reports[0].tenant)
        .find(|r| !r.deviations.is_empty())
        .or(reports
            .iter()
            .take_while(|r| r.tenant == reports[0].tenant)
            .last())
        .map(|r| (r.tenant.clone(), r.period.clone()))
        .unwrap_or_default();
    print_next_steps(data_dir, &args, started, &example);
    if args.serve {
        let ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
        let source = Arc::new(LedgerSource::owning(ledger)?.with_verifier(Some(verifier)));
        let issued: Vec<_> = reports.into_iter().zip(anchors).collect();
        source
            .remember(&issued)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        say!();
        source::serve_viewer(
            source,
            args.listen,
            args.tokens.as_deref(),
            (data_dir, "tla demo --serve"),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs a checkpoint of the demo ledger with the demo's key and says so;
/// returns the public key that checks it.
fn sign_checkpoint(data_dir: &Path, ledger: &ledger::Ledger) -> anyhow::Result<Verifier> {
    let (verifier, checkpoint) = demo_ledger::sign_checkpoint(data_dir, ledger)?;
    say!(
        "Signed a checkpoint: {} entries, Merkle root {} (key {}).",
        checkpoint.size,
        hex::encode(checkpoint.root),
        verifier.to_text()
    );
    Ok(verifier)
}

/// Computes and issues every report of the demo, with a progress bar.
fn issue_reports(
    ledger: &mut ledger::Ledger,
    tenants: &[String],
    periods: &[String],
) -> anyhow::Result<(Vec<projector::Report>, Vec<Anchor>)> {
    let bar = super::progress((tenants.len() * periods.len()) as u64, "reports");
    let first = ledger.size();
    let issued = demo_ledger::issue_reports(ledger, tenants, periods, || bar.inc(1))?;
    bar.finish_and_clear();
    say!(
        "Issued {} monthly reports: report.issued entries at ledger positions {first}..{} anchor their digests.",
        issued.0.len(),
        ledger.size() - 1,
    );
    Ok(issued)
}

/// Verifies everything: every hash of the ledger, and every issued report
/// regenerated byte for byte from the prefix it pins. False (after saying
/// what failed) when anything does not verify.
fn verify_all(ledger: &ledger::Ledger, reports: &[projector::Report]) -> anyhow::Result<bool> {
    let bar = super::progress(ledger.size(), "verifying");
    let verified = ledger.verify(|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let summary = match verified {
        Ok(summary) => summary,
        Err(failure) => {
            tell!("error: the demo ledger does not verify: {failure}");
            return Ok(false);
        }
    };
    say!(
        "Verified every hash: {} entries, head {}.",
        summary.size,
        summary.head
    );
    let bar = super::progress(reports.len() as u64, "regenerating");
    let unreproduced = demo_ledger::first_unreproduced(ledger, reports, || bar.inc(1))?;
    if let Some((tenant, period)) = unreproduced {
        tell!("error: the report of {tenant} {period} does not reproduce from the ledger");
        return Ok(false);
    }
    bar.finish_and_clear();
    say!(
        "Regenerated each of the {} reports byte for byte from the ledger prefix it pins: every digest matches.",
        reports.len()
    );
    Ok(true)
}

fn print_next_steps(
    data_dir: &Path,
    args: &Args,
    started: Instant,
    (tenant, period): &(String, String),
) {
    let dir = data_dir.display();
    let flag = if data_dir == Path::new("./tla-data") {
        String::new()
    } else {
        format!(" --data-dir {dir}")
    };
    say!(
        "Done in {:.1} s. Next (`tla` is `cargo run --` until you `cargo install --path .`):",
        started.elapsed().as_secs_f64()
    );
    if !args.serve {
        say!(
            "  tla view{flag}    (the web report viewer at http://{}/; or run the demo with --serve)",
            source::LISTEN_DEFAULT
        );
    }
    let report = format!("tla report{flag} --tenant {tenant} --period {period}");
    say!("  {report} --format md    (a report for people)");
    say!("  {report} > {tenant}-{period}.json    (the contract format)");
    say!("  tla verify-report{flag} {tenant}-{period}.json    (regenerate it and compare)");
    say!("  {report} --format pdf --out {tenant}-{period}.pdf    (A4, printed by Chromium)");
    say!(
        "  tla contacts{flag} --tenant {tenant} --at {period}-15T12:00:00+01:00    (who was responsible then)"
    );
    say!("  tla log{flag} --tenant {tenant} --limit 20    (browse the entries)");
    say!("  tla verify{flag}    (recompute every hash again)");
    say!(
        "  tla audit{flag} --trusted kept.checkpoint --key {dir}/{DEMO_KEY_FILE}.pub    (what an auditor runs at every visit, docs/AUDITING.md)"
    );
    say!(
        "  tla evidence export{flag} --tenant {tenant} --period {period} --out {tenant}-{period}.evidence.json    (check it offline with tla evidence verify {tenant}-{period}.evidence.json --key {dir}/{DEMO_KEY_FILE}.pub)"
    );
    say!("  tla tenants{flag}    (the municipalities: --tenant takes an id or a name)");
    say!(
        "  tla export{flag} --out ledger.jsonl    (the ledger for an auditor, docs/FORMAT.md; check it with tla verify --export ledger.jsonl)"
    );
    if args.serve {
        say!(
            "While the viewer below serves, every command above works from another terminal \
             (each reads a verified copy of the ledger through the viewer and says so); the \
             commands that write (`tla import`, `tla agreement publish`, `tla report issue`, \
             `tla demo`) wait until you stop it with Ctrl-C."
        );
    }
}
