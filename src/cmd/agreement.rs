//! `tla agreement`: validate an agreement file (TOML or JSON) and publish
//! it as an `agreement.published` event.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger::Outcome;
use schemas::{agreement, Event};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate an agreement and append it as `agreement.published` for a tenant.
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
    // The id is derived from the content, so publishing the same agreement
    // twice is recognised as the same event.
    let digest = blake3::hash(value.to_string().as_bytes()).to_hex();
    let id = format!("{}/{}", parsed.version, &digest[..16]);
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Create)?;
    if let Some(position) = ledger.find(&args.tenant, &args.source, &id)? {
        println!(
            "agreement version {} for {} is already published at ledger position {position}",
            parsed.version, args.tenant
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = super::now_micros();
    let time = ledger::rfc3339(now - now.rem_euclid(1_000_000));
    let event_json = agreement::published_event(&value, &args.tenant, &args.source, &id, &time);
    let event = Event::from_json(&event_json).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the agreement.published event is invalid: {}",
            listed.join("; ")
        )
    })?;
    match ledger.append(&[event], now)?[0] {
        Outcome::Appended(position) | Outcome::Duplicate(position) => println!(
            "published agreement version {} for {} at ledger position {position}",
            parsed.version, args.tenant
        ),
    }
    Ok(ExitCode::SUCCESS)
}
