//! `tla tenants`: the tenants (municipalities) the ledger has entries for,
//! with the names people know them by, which every `--tenant` accepts as
//! well as the id (`service::tenants`).

use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct Args {}

pub fn run(data_dir: &Path, _args: Args) -> anyhow::Result<ExitCode> {
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let tenants = service::tenants::known(&ledger.tenants());
    if tenants.is_empty() {
        tell!("the ledger at {} has no tenants yet", data_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let id_width = tenants.iter().map(|t| t.id.len()).max().unwrap_or(0).max(6);
    let name_width = tenants
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    say!(
        "{:<id_width$}  {:<name_width$}  {:>8}",
        "TENANT",
        "NAME",
        "ENTRIES"
    );
    for tenant in &tenants {
        let name = if tenant.name.is_empty() {
            "-"
        } else {
            &tenant.name
        };
        say!(
            "{:<id_width$}  {:<name_width$}  {:>8}",
            tenant.id,
            name,
            tenant.entries
        );
    }
    Ok(ExitCode::SUCCESS)
}
