//! `tla audit --trusted FILE --key PUB`: the auditor's check that the
//! ledger's past was not rewritten since the checkpoint they kept.
//!
//! The auditor keeps a signed checkpoint (FILE). The ledger's latest signed
//! checkpoint must be signed by the key they trust, must match the ledger
//! as stored, and must extend the kept one: a consistency proof from the
//! ledger has to lead from the kept root to the current root. A ledger
//! shorter than the kept checkpoint was truncated; one whose proof does not
//! lead there was rewritten. Both are loud, distinct failures (exit 1).
//! On success FILE is replaced by the current checkpoint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use service::audit::{self, Finding};

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct Args {
    /// The signed checkpoint you kept from your last audit; created (trust
    /// on first use) when it does not exist yet.
    #[arg(long)]
    trusted: PathBuf,
    /// The log's public verifier key (the key text or a file holding it).
    #[arg(long)]
    key: String,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let verifier = service::keys::load_verifier(&args.key)?;
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let Some((_, note)) = ledger.latest_checkpoint()? else {
        anyhow::bail!(
            "the ledger at {} has no signed checkpoint; the operator signs one with `tla checkpoint --key FILE`",
            data_dir.display()
        );
    };
    let current = verifier
        .open(&note)
        .context("the ledger's latest checkpoint does not verify with --key")?;
    // The checkpoint must describe the ledger as it is stored now.
    let stored_root = ledger.merkle_root(current.size).with_context(|| {
        format!(
            "the ledger cannot give the root of its own checkpoint of size {}",
            current.size
        )
    })?;
    if stored_root != current.root {
        tell!(
            "FAILED: the ledger no longer matches its latest signed checkpoint: size {} was signed with root {} but the stored tree gives {}; the stored entries or tree were altered (run `tla verify`)",
            current.size,
            hex::encode(current.root),
            hex::encode(stored_root)
        );
        return Ok(ExitCode::from(1));
    }
    if !args.trusted.exists() {
        super::write_atomically(&args.trusted, note.as_bytes())?;
        say!(
            "no kept checkpoint at {}: now trusting size {} root {} (trust on first use); keep this file for the next audit",
            args.trusted.display(),
            current.size,
            hex::encode(current.root)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let kept_note = std::fs::read_to_string(&args.trusted)
        .with_context(|| format!("cannot read {}", args.trusted.display()))?;
    let kept = verifier.open(&kept_note).with_context(|| {
        format!(
            "{}: the kept checkpoint does not verify with --key",
            args.trusted.display()
        )
    })?;
    if kept.origin != current.origin {
        anyhow::bail!(
            "the kept checkpoint is of log {:?} but the ledger's is of {:?}; compare checkpoints of the same log",
            kept.origin,
            current.origin
        );
    }
    match audit::check(&ledger, &kept, &current)? {
        None => {
            super::write_atomically(&args.trusted, note.as_bytes())?;
            say!(
                "ok: the checkpoint you kept (size {}) is a prefix of the current one (size {}, root {}); {} updated",
                kept.size,
                current.size,
                hex::encode(current.root),
                args.trusted.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Finding::Truncated { kept, now }) => {
            tell!(
                "FAILED: the ledger was TRUNCATED: you kept a signed checkpoint of {kept} entries, but its latest signed checkpoint has only {now}; entries you saw are gone. {} was left as it was.",
                args.trusted.display()
            );
            Ok(ExitCode::from(1))
        }
        Some(Finding::Rewritten { kept, now, why }) => {
            tell!(
                "FAILED: the ledger's history was REWRITTEN: the checkpoint you kept (size {}, root {}) is not a prefix of the current one (size {}, root {}): {why}. Entries before position {} were changed after you saw them; reports issued from them cannot be trusted. {} was left as it was.",
                kept.size,
                hex::encode(kept.root),
                now.size,
                hex::encode(now.root),
                kept.size,
                args.trusted.display()
            );
            Ok(ExitCode::from(1))
        }
    }
}
