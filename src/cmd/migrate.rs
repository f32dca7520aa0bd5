//! `tla ledger migrate`: converts a ledger of an older store format (the
//! entries kept in sled, before segment files) to the current one, with a
//! progress bar, and says what it found and left. Opening an older ledger
//! for anything else migrates it as well; this does it at a chosen moment
//! and shows how far it is.

use std::path::Path;
use std::process::ExitCode;

/// Migrates the ledger in `data_dir` and prints its head and Merkle root,
/// which migration leaves unchanged.
pub fn run(data_dir: &Path) -> anyhow::Result<ExitCode> {
    let bar = std::cell::OnceCell::new();
    let mut moving = |done: u64, total: u64| {
        let bar = bar.get_or_init(|| super::progress(total, "migrating"));
        bar.set_position(done);
    };
    let migrated = ledger::Ledger::migrate(data_dir, &mut moving);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let migrated = match migrated {
        Err(ledger::LedgerError::Store(ledger::StoreError::NoLedger { .. })) => anyhow::bail!(
            "no ledger in {}: pass --data-dir (or set TLA_DATA_DIR)",
            data_dir.display()
        ),
        Err(ledger::LedgerError::Store(ledger::StoreError::Locked { pid, .. })) => anyhow::bail!(
            "the ledger at {} is held by {}; stop it first (it migrates the ledger itself when \
             it opens it)",
            data_dir.display(),
            service::holder_of(data_dir, pid)
        ),
        other => other?,
    };
    let current = ledger::store::FORMAT_VERSION;
    if migrated.found == current {
        println!(
            "the ledger in {} has store format {current} already: nothing to migrate \
             ({} entries, head {}, Merkle root {})",
            data_dir.display(),
            migrated.head.size,
            migrated.head.hash.to_hex(),
            hex::encode(migrated.root)
        );
    } else {
        println!(
            "migrated the ledger in {} from store format {} to {current} ({} entries into \
             segment files): head {}, Merkle root {}, unchanged",
            data_dir.display(),
            migrated.found,
            migrated.head.size,
            migrated.head.hash.to_hex(),
            hex::encode(migrated.root)
        );
    }
    Ok(ExitCode::SUCCESS)
}
