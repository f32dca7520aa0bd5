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
    #[command(flatten)]
    signed: SignedArgs,
}

/// A signed checkpoint that binds a proof's tree size and root; without
/// one they are whatever the caller was told.
#[derive(clap::Args)]
pub struct SignedArgs {
    /// A signed checkpoint (C2SP signed note) whose size and root the
    /// proof's tree must have.
    #[arg(long, requires = "key")]
    checkpoint: Option<std::path::PathBuf>,
    /// The log's public verifier key (the key text or a file holding it)
    /// that must have signed --checkpoint.
    #[arg(long, requires = "checkpoint")]
    key: Option<String>,
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
    #[command(flatten)]
    signed: SignedArgs,
}

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    let verify = match command {
        Command::Inclusion(args) => return make_inclusion(data_dir, &args),
        Command::Consistency(args) => return make_consistency(data_dir, &args),
        Command::Verify(verify) => verify,
    };
    let result = match verify {
        Verify::Inclusion(args) => inclusion(&args).and_then(|message| {
            let tree = [(args.size, args.root.as_str())];
            bind(&args.signed, &tree).map(|bound| format!("{message}; {bound}"))
        }),
        Verify::Consistency(args) => consistency(&args).and_then(|message| {
            let trees = [
                (args.size1, args.root1.as_str()),
                (args.size2, args.root2.as_str()),
            ];
            bind(&args.signed, &trees).map(|bound| format!("{message}; {bound}"))
        }),
    };
    match result {
        Ok(message) => {
            say!("ok: {message}");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            tell!("error: {message}");
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

/// Binds a proven tree (size, root hex) to the signed checkpoint: the
/// checkpoint signs one of `trees` (the one of its size), or the proof is
/// refused. Says which trees were bound and which taken on trust.
fn bind(signed: &SignedArgs, trees: &[(u64, &str)]) -> Result<String, String> {
    let on_trust = |trees: &[(u64, &str)]| {
        let trees: Vec<String> = trees
            .iter()
            .map(|(size, root)| format!("size {size} and root {root}"))
            .collect();
        format!(
            "{} taken on trust (no signed checkpoint binds them; pass --checkpoint FILE --key PUB)",
            trees.join(", ")
        )
    };
    let (Some(path), Some(key)) = (&signed.checkpoint, &signed.key) else {
        return Ok(on_trust(trees));
    };
    let verifier = service::keys::load_verifier(key).map_err(|e| format!("{e:#}"))?;
    let note = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the checkpoint {}: {e}", path.display()))?;
    let checkpoint = verifier
        .open(&note)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(at) = trees.iter().position(|(size, _)| *size == checkpoint.size) else {
        let sizes: Vec<String> = trees.iter().map(|(size, _)| size.to_string()).collect();
        return Err(format!(
            "the checkpoint {} signs a tree of size {}, but the proof is about size {}: it does not bind this proof",
            path.display(),
            checkpoint.size,
            sizes.join(" and ")
        ));
    };
    let root = digest("--root", trees[at].1)?;
    if root != checkpoint.root {
        return Err(format!(
            "the checkpoint {} signs root {} for size {}, but the proof is against root {}: the root was not the log's",
            path.display(),
            hex::encode(checkpoint.root),
            checkpoint.size,
            trees[at].1
        ));
    }
    let mut message = format!(
        "size {} and root {} are signed by the checkpoint of {}",
        checkpoint.size, trees[at].1, checkpoint.origin
    );
    let rest: Vec<(u64, &str)> = trees
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, tree)| *tree)
        .collect();
    if !rest.is_empty() {
        message.push_str("; ");
        message.push_str(&on_trust(&rest));
    }
    Ok(message)
}

/// Prints (name, value) pairs as lines or as one JSON object, then the
/// command that checks the proof.
fn print_proof(fields: &[(&str, serde_json::Value)], json: bool, check: String) {
    if json {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        say!("{}", serde_json::Value::Object(object));
        return;
    }
    for (name, value) in fields {
        match value {
            serde_json::Value::String(text) => say!("{name}: {text}"),
            serde_json::Value::Array(items) => {
                let items: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
                say!("{name}: {}", items.join(","));
            }
            other => say!("{name}: {other}"),
        }
    }
    tell!("check it with: {check}");
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
