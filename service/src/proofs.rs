//! Reading the hashes and proofs someone hands `tla proof verify`: one
//! 32-byte hash in hex, or a comma-separated list of them.

use ledger::merkle::{self, Digest};

/// One hash: exactly 64 hex characters.
pub fn digest(name: &str, text: &str) -> Result<Digest, String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|e| format!("{name} {text:?} is not a 32-byte hash in hex ({e})"))?;
    Ok(out)
}

/// Comma-separated hashes; the empty string is the empty proof.
pub fn proof(text: &str) -> Result<Vec<Digest>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let count = text.split(',').count();
    let max = merkle::CONSISTENCY_PROOF_HASHES_MAX.max(merkle::INCLUSION_PROOF_HASHES_MAX);
    if count > max {
        return Err(format!(
            "--proof has {count} hashes; no proof has more than {max}"
        ));
    }
    text.split(',')
        .enumerate()
        .map(|(i, part)| digest(&format!("--proof hash {}", i + 1), part))
        .collect()
}
