//! The auditor's check of a ledger against the checkpoint they kept: the
//! latest signed checkpoint must extend it, by a consistency proof from
//! the ledger (`tla audit`).

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
