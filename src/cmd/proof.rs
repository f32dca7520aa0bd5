//! `tla proof inclusion|consistency`: make RFC 6962 / RFC 9162 proofs
//! (SHA-256) from the ledger's stored tree; `tla proof verify
//! inclusion|consistency`: check a proof someone handed you, without any
//! ledger. Verification exits 0 when the proof is valid, 1 when it is
//! invalid or malformed.

use std::path::Path;
use std::process::ExitCode;

use ledger::merkle;
use service::proofs::{self, digest, proof};

#[derive(clap::Subcommand)]
pub enum Command {
    /// The inclusion proof of the entry at a ledger position.
    Inclusion(MakeInclusionArgs),
    /// The consistency proof between two ledger sizes.
    Consistency(MakeConsistencyArgs),
    /// Check a proof (no ledger needed).
    #[command(subcommand)]
    Verify(Verify),
}

#[derive(clap::Args)]
pub struct MakeInclusionArgs {
    /// The entry's ledger position.
    #[arg(long)]
    seq: u64,
    /// The tree size to prove against (default: the whole ledger).
    #[arg(long)]
    size: Option<u64>,
    /// Print JSON instead of `name: value` lines.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct MakeConsistencyArgs {
    /// The older tree size.
    #[arg(long)]
    from: u64,
    /// The newer tree size (default: the whole ledger).
    #[arg(long)]
    to: Option<u64>,
    /// Print JSON instead of `name: value` lines.
    #[arg(long)]
    json: bool,
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

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    let verify = match command {
        Command::Inclusion(args) => return make_inclusion(data_dir, &args),
        Command::Consistency(args) => return make_consistency(data_dir, &args),
        Command::Verify(verify) => verify,
    };
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

/// Prints (name, value) pairs as lines or as one JSON object, then the
/// command that checks the proof.
fn print_proof(fields: &[(&str, serde_json::Value)], json: bool, check: String) {
    if json {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        println!("{}", serde_json::Value::Object(object));
        return;
    }
    for (name, value) in fields {
        match value {
            serde_json::Value::String(text) => println!("{name}: {text}"),
            serde_json::Value::Array(items) => {
                let items: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
                println!("{name}: {}", items.join(","));
            }
            other => println!("{name}: {other}"),
        }
    }
    eprintln!("check it with: {check}");
}

fn make_inclusion(data_dir: &Path, args: &MakeInclusionArgs) -> anyhow::Result<ExitCode> {
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let (fields, check) = proofs::inclusion_of(&ledger, args.seq, args.size)?;
    print_proof(&fields, args.json, check);
    Ok(ExitCode::SUCCESS)
}

fn make_consistency(data_dir: &Path, args: &MakeConsistencyArgs) -> anyhow::Result<ExitCode> {
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let (fields, check) = proofs::consistency_of(&ledger, args.from, args.to)?;
    print_proof(&fields, args.json, check);
    Ok(ExitCode::SUCCESS)
}
