//! `tla agreement`: validate an agreement file (TOML or JSON) and publish
//! it as an `agreement.published` event of a tenant. A version label names
//! one agreement per tenant for good: the same agreement again is a
//! duplicate, and other content under a label the tenant already has is
//! refused rather than silently taking its place.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger::Outcome;
use schemas::agreement;
use service::agreement::{published_event, published_version, Published};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate an agreement and append it as `agreement.published` for a
    /// tenant; the same agreement again for that tenant is a duplicate, and
    /// another agreement under a version label the tenant already has is
    /// refused (use a new label).
    Publish(PublishArgs),
    /// Validate an agreement file without publishing it.
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The agreement: `.toml`, or JSON.
    file: PathBuf,
    /// The tenant (municipality) the agreement is with.
    #[arg(long)]
    tenant: String,
    /// CloudEvents `source` of the published event.
    #[arg(long, default_value = "tla/agreements")]
    source: String,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    file: PathBuf,
}

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => {
            let Some((value, parsed)) = load(&args.file)? else {
                return Ok(ExitCode::from(1));
            };
            drop(value);
            println!(
                "ok: {} is a valid agreement, version {} with {} services",
                args.file.display(),
                parsed.version,
                parsed.services.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish(args) => publish(data_dir, args),
    }
}

/// Reads and validates an agreement; prints every problem and returns None
/// when it is invalid.
fn load(file: &Path) -> anyhow::Result<Option<(serde_json::Value, agreement::Agreement)>> {
    let name = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
    let is_toml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let value = if is_toml {
        agreement::from_toml_str(&text)
    } else {
        agreement::from_json_str(&text)
    };
    let checked = value.and_then(|v| agreement::from_json_value(&v).map(|a| (v, a)));
    match checked {
        Ok(pair) => Ok(Some(pair)),
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {name}: {error}");
            }
            eprintln!(
                "error: {name}: {} problem(s); the agreement is not valid",
                errors.len()
            );
            Ok(None)
        }
    }
}

fn publish(data_dir: &Path, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let Some((value, parsed)) = load(&args.file)? else {
        return Ok(ExitCode::from(1));
    };
    let now = super::now_micros();
    let (id, event) = published_event(&value, &parsed, &args.tenant, &args.source, now)?;
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Create)?;
    let same = match ledger.find(&args.tenant, &args.source, &id)? {
        Some(position) => Some(position),
        None => match published_version(&ledger, &args.tenant, &parsed.version, &event)? {
            Some(Published::Same(position)) => Some(position),
            Some(Published::Other(position)) => anyhow::bail!(
                "version {} of {} is already published with other content; use a new version \
                 label (the published one is at ledger position {position}; an agreement in \
                 force is never replaced under the same label)",
                parsed.version,
                args.tenant
            ),
            None => None,
        },
    };
    if let Some(position) = same {
        println!(
            "agreement version {} for {} is already published at ledger position {position}; \
             nothing appended",
            parsed.version, args.tenant
        );
        return Ok(ExitCode::SUCCESS);
    }
    match ledger.append(&[event], now)?[0] {
        Outcome::Appended(position) | Outcome::Duplicate(position) => println!(
            "published agreement version {} for {} at ledger position {position}",
            parsed.version, args.tenant
        ),
    }
    Ok(ExitCode::SUCCESS)
}
