//! `tla contacts --tenant T [--at INSTANT]`: who is responsible for what,
//! on both sides of the agreement, at an instant (default now), read from
//! the ledger with the projector's own contact logic (`contact::roster`),
//! so it names exactly the holders the reports count.

use std::path::Path;
use std::process::ExitCode;

use projector::contact::{Roster, Side};
use projector::LedgerEvent;

use service::report;

#[derive(clap::Args)]
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
    let ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    if !ledger.tenants().contains_key(&args.tenant) {
        anyhow::bail!(
            "the ledger has no entries for tenant {:?}; `tla log --limit 5` shows which tenants it has",
            args.tenant
        );
    }
    let events = report::tenant_events(&ledger, &args.tenant, ledger.size())?;
    let roster = projector::contact::roster(&args.tenant, &events, at);
    print!("{}", render(&args.tenant, &roster, &timezone(&events)));
    Ok(ExitCode::SUCCESS)
}

/// The agreement's time zone, UTC without one.
fn timezone(events: &[LedgerEvent]) -> String {
    let refs: Vec<&LedgerEvent> = events.iter().collect();
    match projector::agreement::Versions::from_events(&refs).timezone() {
        Ok(Some(tz)) => tz.name().to_string(),
        _ => "UTC".to_string(),
    }
}

/// The roster as a plain table per side.
fn render(tenant: &str, roster: &Roster, timezone: &str) -> String {
    let at = projector::render::when(&schemas::format_instant(roster.at), timezone);
    let name = match demo::tenant_display_name(tenant) {
        "" => tenant.to_string(),
        name => format!("{name} ({tenant})"),
    };
    let mut out = format!(
        "Contact persons of {name} at {} ({}), agreement version {}\n",
        at.local,
        at.utc,
        roster
            .agreement_version
            .as_deref()
            .unwrap_or("none in force")
    );
    for (side, title) in [
        (Side::Provider, "The provider"),
        (Side::Tenant, "The municipality"),
        (Side::Other, "Other roles"),
    ] {
        let rows: Vec<_> = roster.roles.iter().filter(|r| r.side == side).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{title}:\n  {:<26} {:<20} {:<24} since\n",
            "role", "service", "person"
        ));
        for r in rows {
            let since = r.since.map_or_else(
                || "never held".to_string(),
                |t| projector::render::when(&schemas::format_instant(t), timezone).local,
            );
            let role = if r.required {
                r.role.clone()
            } else {
                format!("{} (not required)", r.role)
            };
            out.push_str(&format!(
                "  {:<26} {:<20} {:<24} {since}\n",
                role,
                r.service.as_deref().unwrap_or("(whole agreement)"),
                r.person.as_deref().unwrap_or("VACANT"),
            ));
        }
    }
    out
}
