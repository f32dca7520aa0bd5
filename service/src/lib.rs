//! What the `tla` services and commands wire together, as a library: the
//! I/O edge around the pure engine and the ledger. The binary parses the
//! arguments, shows progress, prints and chooses exit codes; the CLI, the
//! services and the tests share this one copy.
//!
//! `report` reads a tenant's entries of a ledger prefix, runs the engine
//! and seals the report (and issues and regenerates reports);
//! `report_file` reads a report as handed over (a file, a bundle's report)
//! without typed structs and compares it byte for byte; `evidence`
//! builds and checks evidence bundles; `source` is
//! [`source::LedgerSource`], the ledger as the web viewer's source, and
//! the viewer served alone. The commands' checks and texts: `agreement`
//! (the `agreement.published` event and a version label already used),
//! `audit` (a kept checkpoint, forged issuances), `contacts` (the roster as
//! text), `follow_up` (the events of the follow-up commands and what the
//! ledger must hold for them), `proofs` (Merkle proofs made and read), `import` (the file edge
//! of `tla import`), `pdf` (a report printed through the installed
//! Chromium), `keys` (signing keys as files) and `demo_ledger` (the demo's
//! data directory claimed and replaced whole, its reports issued and
//! regenerated, its tables). `access` says who reads through a service
//! (the tokens file's read grants, the holder token, viewer sessions) and
//! `oidc` is the viewer's OpenID Connect sign-in (`--oidc FILE`: the
//! provider, and claims mapped to grants). `holder` is the holder file a
//! running service leaves in its data directory; `snapshot` is the copy of
//! a held ledger through its service's API (`GET /v1/ledger/segments`),
//! which the read commands and `tla ledger snapshot` work on. `tenants`
//! resolves a `--tenant` given by id or display name, and names the known
//! tenants when it names none. `run` is what
//! `tla serve`, `tla ingest serve`, `tla ledger run` and `tla projector
//! serve` wire together: the
//! tokio runtime, signals, the merged router, `/healthz` and `/metrics`,
//! the supervisor that restarts a failed ledger writer over a reopened
//! ledger, and the refresher publishing alerts; `http` is the HTTP server
//! every one of them runs, with its limits.

pub mod access;
pub mod agreement;
pub mod alertmanager;
pub mod audit;
pub mod contacts;
pub mod demo_ledger;
pub mod evidence;
pub mod follow_up;
pub mod holder;
pub mod http;
pub mod import;
pub mod keys;
pub mod oidc;
pub mod pdf;
pub mod proofs;
pub mod report;
pub mod report_file;
pub mod run;
pub mod snapshot;
pub mod source;
pub mod tenants;

use std::path::Path;

use anyhow::Context;
use ledger::{Ledger, OpenMode};

/// The ledger clock: microseconds since the Unix epoch, UTC.
pub use schemas::clock::now_micros;

/// Opens the ledger in `dir` as `mode` says, or says why not: a read
/// command opens `OpenMode::Existing`, so a directory without a ledger is
/// "no ledger in DIR" and stays untouched; only the commands that write
/// (`import`, `agreement publish`, `demo`, `serve`, `ledger run`) create one.
pub fn open_ledger(dir: &Path, mode: OpenMode) -> anyhow::Result<Ledger> {
    match Ledger::open_in(dir, mode) {
        Err(ledger::LedgerError::Store(ledger::StoreError::NoLedger { .. })) => anyhow::bail!(
            "no ledger in {}: pass --data-dir (or set TLA_DATA_DIR), or create one with \
             `tla import`, `tla agreement publish` or `tla demo`",
            dir.display()
        ),
        Err(ledger::LedgerError::Store(ledger::StoreError::Locked { pid, .. })) => {
            anyhow::bail!(
                "the ledger at {} is held by {}; or stop it first",
                dir.display(),
                holder_of(dir, pid)
            )
        }
        opened => opened.with_context(|| format!("cannot open the ledger at {}", dir.display())),
    }
}

/// Who holds the ledger in `dir`: the service its holder file names (pid
/// and where to ask instead), else the process the system names.
pub fn holder_of(dir: &Path, pid: Option<u32>) -> String {
    if let Some(holder) = holder::holder(dir) {
        return holder;
    }
    let command = pid.and_then(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok());
    match (pid, command) {
        (Some(pid), Some(command)) => {
            let words: Vec<String> = command
                .split(|byte| *byte == 0)
                .filter(|word| !word.is_empty())
                .map(|word| String::from_utf8_lossy(word).into_owned())
                .collect();
            format!("`{}` (pid {pid})", words.join(" "))
        }
        (Some(pid), None) => format!("another process (pid {pid})"),
        (None, _) => "another process (a running `tla serve`, `tla view`, `tla ledger run` \
             or import); wait for it"
            .into(),
    }
}

/// Writes a file whole or not at all: a temporary file in the same
/// directory, synced, then renamed over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    // Not a secret: readable like any file the user writes (the temporary
    // file starts as 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let readable = std::fs::Permissions::from_mode(0o644);
        temp.as_file()
            .set_permissions(readable)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
