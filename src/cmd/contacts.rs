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
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The instant, RFC 3339 with an offset (e.g. 2026-03-01T12:00:00+01:00),
    /// or a date YYYY-MM-DD (its midnight UTC, as `tla log --since` reads
    /// it); default now.
    #[arg(long, value_name = "INSTANT", value_parser = super::parse_instant)]
    at: Option<i64>,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let at = args
        .at
        .unwrap_or_else(|| super::now_micros().div_euclid(1_000_000));
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let tenant = super::tenant_of(&ledger, &args.tenant)?;
    let events = report::tenant_events(&ledger, &tenant, ledger.size())?;
    let roster = projector::contact::roster(&tenant, &events, at);
    put!(
        "{}",
        contacts::render(&tenant, &roster, &contacts::timezone(&events))
    );
    Ok(ExitCode::SUCCESS)
}
