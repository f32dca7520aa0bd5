//! `tla contacts --tenant T [--at INSTANT]`: who is responsible for what,
//! on both sides of the agreement, at an instant (default now), read from
//! the ledger with the projector's own contact logic (`contact::roster`),
//! so it names exactly the holders the reports count.

use std::path::Path;
use std::process::ExitCode;

use service::contacts;

use service::report;

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct Args {
    /// The tenant (municipality).
    #[arg(long)]
    tenant: String,
    /// The instant, RFC 3339 with an offset (e.g. 2026-03-01T12:00:00+01:00);
    /// default now.
    #[arg(long, value_name = "INSTANT")]
    at: Option<String>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let at = match &args.at {
        Some(text) => report::parse_instant(text)
            .map_err(|e| anyhow::anyhow!("--at: {e:#}; write it like 2026-03-01T12:00:00+01:00"))?,
        None => super::now_micros().div_euclid(1_000_000),
    };
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    if !ledger.tenants().contains_key(&args.tenant) {
        anyhow::bail!(
            "the ledger has no entries for tenant {:?}; `tla log --limit 5` shows which tenants it has",
            args.tenant
        );
    }
    let events = report::tenant_events(&ledger, &args.tenant, ledger.size())?;
    let roster = projector::contact::roster(&args.tenant, &events, at);
    print!(
        "{}",
        contacts::render(&args.tenant, &roster, &contacts::timezone(&events))
    );
    Ok(ExitCode::SUCCESS)
}
