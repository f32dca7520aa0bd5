//! `tla key generate`: an Ed25519 key pair for signing checkpoints, in the
//! C2SP signed-note key formats, so the transparency-log ecosystem's tools
//! read them too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger::checkpoint::Signer;
use rand::RngCore as _;
use service::keys::write_private;

/// The checkpoint origin (and key name) when none is given. Operators pick
/// their own, naming their log, e.g. `ikt.example.no/tla-ledger`.
pub const DEFAULT_ORIGIN: &str = "tla-ledger.local/ledger";

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a signing key (file mode 0600) and print its public verifier key.
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// The key name, which is also the origin line of every checkpoint it
    /// signs: name your log (no spaces or '+').
    #[arg(long, default_value = DEFAULT_ORIGIN)]
    name: String,
    /// Where to write the private key; refuses to overwrite. The public key
    /// goes to FILE.pub as well as to stdout. `-` writes the private key to
    /// stdout (for a secret store) and the public key to stderr, no files.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Generate(args) = command;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let signer = Signer::from_seed(&args.name, seed)?;
    if super::is_stdout(&args.out) {
        tell!("{}", signer.verifier().to_text());
        super::write_stdout(format!("{}\n", signer.to_text()).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    write_private(&args.out, &signer.to_text())?;
    let public = signer.verifier().to_text();
    let pub_path = public_path(&args.out);
    std::fs::write(&pub_path, format!("{public}\n"))
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    tell!(
        "wrote the private key to {} (mode 0600; keep it secret) and the public key to {}",
        args.out.display(),
        pub_path.display()
    );
    tell!("give auditors the public key below; they pass it as --key to `tla audit` and `tla evidence verify`");
    say!("{public}");
    Ok(ExitCode::SUCCESS)
}

fn public_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}
