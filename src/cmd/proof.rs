//! `tla proof verify inclusion|consistency`: check an RFC 6962 / RFC 9162
//! proof someone handed you (SHA-256), without any ledger. Exit 0 when the
//! proof is valid, 1 when it is invalid or malformed.

use std::process::ExitCode;

use ledger::merkle::{self, Digest};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check a proof (no ledger needed).
    #[command(subcommand)]
    Verify(Verify),
}

#[derive(clap::Subcommand)]
pub enum Verify {
    /// An inclusion proof: the leaf at INDEX is in the tree of SIZE leaves with ROOT.
    Inclusion(InclusionArgs),
    /// A consistency proof: the tree of SIZE1 leaves is a prefix of the tree of SIZE2 leaves.
    Consistency(ConsistencyArgs),
}

#[derive(clap::Args)]
pub struct InclusionArgs {
    /// The leaf hash (64 hex characters), SHA-256(0x00 || leaf).
    #[arg(long)]
    leaf_hash: String,
    #[arg(long)]
    index: u64,
    #[arg(long)]
    size: u64,
    /// The tree's root hash (64 hex characters).
    #[arg(long)]
    root: String,
    /// The proof's hashes, comma-separated; "" is an empty proof.
    #[arg(long)]
    proof: String,
}

#[derive(clap::Args)]
pub struct ConsistencyArgs {
    #[arg(long)]
    size1: u64,
    #[arg(long)]
    size2: u64,
    #[arg(long)]
    root1: String,
    #[arg(long)]
    root2: String,
    /// The proof's hashes, comma-separated; "" is an empty proof.
    #[arg(long)]
    proof: String,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Verify(verify) = command;
    let result = match verify {
        Verify::Inclusion(args) => inclusion(&args),
        Verify::Consistency(args) => consistency(&args),
    };
    match result {
        Ok(message) => {
            println!("ok: {message}");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(1))
        }
    }
}

fn inclusion(args: &InclusionArgs) -> Result<String, String> {
    let leaf = digest("--leaf-hash", &args.leaf_hash)?;
    let root = digest("--root", &args.root)?;
    let proof = proof(&args.proof)?;
    merkle::verify_inclusion(&leaf, args.index, args.size, &proof, &root)
        .map_err(|e| format!("invalid inclusion proof: {e}"))?;
    Ok(format!(
        "leaf {} is at index {} of the tree of size {} with root {}",
        args.leaf_hash, args.index, args.size, args.root
    ))
}

fn consistency(args: &ConsistencyArgs) -> Result<String, String> {
    let root1 = digest("--root1", &args.root1)?;
    let root2 = digest("--root2", &args.root2)?;
    let proof = proof(&args.proof)?;
    merkle::verify_consistency(args.size1, args.size2, &root1, &root2, &proof)
        .map_err(|e| format!("invalid consistency proof: {e}"))?;
    Ok(format!(
        "the tree of size {} (root {}) is a prefix of the tree of size {} (root {})",
        args.size1, args.root1, args.size2, args.root2
    ))
}

/// One hash: exactly 64 hex characters.
fn digest(name: &str, text: &str) -> Result<Digest, String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|e| format!("{name} {text:?} is not a 32-byte hash in hex ({e})"))?;
    Ok(out)
}

/// Comma-separated hashes; the empty string is the empty proof.
fn proof(text: &str) -> Result<Vec<Digest>, String> {
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
