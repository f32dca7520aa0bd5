//! The auditor's checks: a ledger against the checkpoint they kept (the
//! latest signed checkpoint must extend it, by a consistency proof from
//! the ledger: `tla audit`), and the forged issuances `tla verify` finds.

use ledger::checkpoint::Checkpoint;
use ledger::merkle;

/// How an audit can fail, each with its own message.
pub enum Finding {
    /// The latest checkpoint is smaller than the one kept.
    Truncated { kept: u64, now: u64 },
    /// The kept checkpoint is not a prefix of the latest one.
    Rewritten {
        kept: Checkpoint,
        now: Checkpoint,
        why: String,
    },
}

/// Whether `current` extends `kept`, by a consistency proof from the ledger.
pub fn check(
    ledger: &ledger::Ledger,
    kept: &Checkpoint,
    current: &Checkpoint,
) -> anyhow::Result<Option<Finding>> {
    if current.size < kept.size {
        return Ok(Some(Finding::Truncated {
            kept: kept.size,
            now: current.size,
        }));
    }
    if kept.size == 0 {
        return Ok(None);
    }
    let proof = ledger.consistency_proof(kept.size, current.size)?;
    match merkle::verify_consistency(kept.size, current.size, &kept.root, &current.root, &proof) {
        Ok(()) => Ok(None),
        Err(error) => Ok(Some(Finding::Rewritten {
            kept: kept.clone(),
            now: current.clone(),
            why: error.to_string(),
        })),
    }
}

/// The finding when the chain holds `report.issued` entries that the
/// ledger did not write (docs/FORMAT.md), `None` when there are none.
/// The chain may be intact, but a forged issuance is an integrity finding
/// an auditor must see, so verification fails.
pub fn foreign_issuances(what: &str, summary: &ledger::Summary) -> Option<String> {
    let found = &summary.foreign_issuances;
    if found.is_empty() {
        return None;
    }
    let listed: Vec<String> = found.positions.iter().map(u64::to_string).collect();
    let more = found.total - found.positions.len() as u64;
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Some(format!(
        "{what}: the chain is intact ({} entries), but {} report.issued entr{} at ledger \
         position{} {}{more} did not come from the ledger itself (source {:?}): forged \
         issuances, which no report, viewer or evidence bundle trusts",
        summary.size,
        found.total,
        if found.total == 1 { "y" } else { "ies" },
        if found.total == 1 { "" } else { "s" },
        listed.join(", "),
        schemas::LEDGER_SOURCE,
    ))
}
