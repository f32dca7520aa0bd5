//! Merkle proofs on the command line: reading the hashes and proofs
//! someone hands `tla proof verify` (one 32-byte hash in hex, or a
//! comma-separated list of them), and making the proofs `tla proof
//! inclusion|consistency` prints.

use ledger::merkle::{self, Digest};
use ledger::Ledger;

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

/// A proof's fields as `tla proof inclusion|consistency` prints them
/// (name, value), with the command that checks it.
pub type Made = (Vec<(&'static str, serde_json::Value)>, String);

fn hex_list(proof: &[Digest]) -> Vec<String> {
    proof.iter().map(hex::encode).collect()
}

/// The inclusion proof of the entry at `seq` in the tree of `size`
/// entries (default: the whole ledger).
pub fn inclusion_of(ledger: &Ledger, seq: u64, size: Option<u64>) -> anyhow::Result<Made> {
    let size = size.unwrap_or(ledger.size());
    if seq >= size {
        anyhow::bail!(
            "--seq {seq} is not an entry of the tree of size {size} (the ledger holds {} entries)",
            ledger.size()
        );
    }
    let leaf = ledger.leaf_hash(seq)?;
    let root = ledger.merkle_root(size)?;
    let proof = ledger.inclusion_proof(seq, size)?;
    let (leaf, root, proof) = (hex::encode(leaf), hex::encode(root), hex_list(&proof));
    let check = format!(
        "tla proof verify inclusion --leaf-hash {leaf} --index {seq} --size {size} --root {root} --proof \"{}\"",
        proof.join(",")
    );
    let fields = vec![
        ("leaf_hash", leaf.into()),
        ("index", seq.into()),
        ("size", size.into()),
        ("root", root.into()),
        ("proof", proof.into()),
    ];
    Ok((fields, check))
}

/// The consistency proof from the tree of `from` entries to that of `to`
/// (default: the whole ledger).
pub fn consistency_of(ledger: &Ledger, from: u64, to: Option<u64>) -> anyhow::Result<Made> {
    let to = to.unwrap_or(ledger.size());
    if from == 0 || from > to || to > ledger.size() {
        anyhow::bail!(
            "need 0 < --from ({from}) <= --to ({to}) <= the ledger's size ({})",
            ledger.size()
        );
    }
    let root1 = hex::encode(ledger.merkle_root(from)?);
    let root2 = hex::encode(ledger.merkle_root(to)?);
    let proof = hex_list(&ledger.consistency_proof(from, to)?);
    let check = format!(
        "tla proof verify consistency --size1 {from} --size2 {to} --root1 {root1} --root2 {root2} --proof \"{}\"",
        proof.join(",")
    );
    let fields = vec![
        ("size1", from.into()),
        ("size2", to.into()),
        ("root1", root1.into()),
        ("root2", root2.into()),
        ("proof", proof.into()),
    ];
    Ok((fields, check))
}
