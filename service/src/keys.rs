//! Reading and writing the checkpoint signing keys (Ed25519, C2SP signed
//! note format) as files: what `tla key`, `tla checkpoint`, the ledger
//! writer and the evidence bundles share.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use ledger::checkpoint::{Signer, Verifier};

/// Creates the key file with mode 0600 from the start (no window in which
/// another user could read it), refusing to replace an existing key.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create the key file {} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a signing key file.
pub fn load_signer(path: &Path) -> anyhow::Result<Signer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    Signer::parse(&text).with_context(|| format!("{}: not a signing key", path.display()))
}

/// A verifier key given as the key text itself or as a file holding it.
pub fn load_verifier(given: &str) -> anyhow::Result<Verifier> {
    if let Ok(verifier) = Verifier::parse(given) {
        return Ok(verifier);
    }
    let path = Path::new(given);
    if !path.exists() {
        // Report the parse error of the text, the likelier intent.
        return Verifier::parse(given)
            .map_err(|error| anyhow::anyhow!("--key {given:?}: {error} (and no such file)"));
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))?;
    Verifier::parse(&text).with_context(|| format!("{}: not a public verifier key", path.display()))
}
