//! The holder file: a service that holds the ledger writes `HOLDER_FILE`
//! into the data directory, so that a read command that finds the ledger
//! locked can say who holds it and where to ask instead (`tla report`
//! then fetches its report from that service, with the holder token the
//! file holds: `crate::access`). The file is readable by its owner only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The file in the data directory naming the process that holds the ledger.
pub const HOLDER_FILE: &str = "holder.json";

/// The holder file of a running service, removed when it stops.
pub struct Holder {
    path: PathBuf,
}

impl Holder {
    /// Writes the holder file of `command` (serving on `listen`, if it
    /// does) into `data_dir`.
    /// `token` is the holder token its API accepts.
    pub fn write(
        data_dir: &Path,
        command: &str,
        listen: Option<SocketAddr>,
        token: &str,
    ) -> anyhow::Result<Holder> {
        Holder::write_with(data_dir, command, listen, token, true)
    }

    /// The holder file of a viewer (`tla view`, `tla demo --serve`): it
    /// serves the copy of the ledger (`crate::snapshot`) but no report API,
    /// so `tla report` computes from a copy instead of asking it.
    pub fn write_viewer(
        data_dir: &Path,
        command: &str,
        listen: SocketAddr,
        token: &str,
    ) -> anyhow::Result<Holder> {
        Holder::write_with(data_dir, command, Some(listen), token, false)
    }

    fn write_with(
        data_dir: &Path,
        command: &str,
        listen: Option<SocketAddr>,
        token: &str,
        reports: bool,
    ) -> anyhow::Result<Holder> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = data_dir.join(HOLDER_FILE);
        let document = serde_json::json!({
            "pid": std::process::id(),
            "command": command,
            "url": listen.map(|l| format!("http://{l}")),
            "token": token,
            "reports": reports,
        });
        // A holder file left by a killed service may be there, with any mode.
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).with_context(|| format!("cannot replace {}", path.display()))
            }
            _ => {}
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(document.to_string().as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Holder { path })
    }

    /// Removes the holder file (the service stopped).
    pub fn remove(self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove the holder file");
        }
    }
}

/// What a holder file says: who holds the ledger, where its API listens
/// (if it serves one) and the holder token that API accepts.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct HolderFile {
    pub pid: u32,
    pub command: String,
    pub url: Option<String>,
    #[serde(default)]
    pub token: String,
    /// Whether it serves the report API (`/v1/tenants/...`); a viewer
    /// serves only the pages and the copy.
    #[serde(default = "serves_reports_default")]
    pub reports: bool,
}

fn serves_reports_default() -> bool {
    true
}

impl HolderFile {
    /// The holder file in `data_dir`, if there is one that reads.
    pub fn read(data_dir: &Path) -> Option<HolderFile> {
        let text = std::fs::read_to_string(data_dir.join(HOLDER_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// "`tla serve` (pid 1234)".
    pub fn describe(&self) -> String {
        format!("`{}` (pid {})", self.command, self.pid)
    }
}

/// Who holds the ledger in `data_dir`, as its holder file says, and where
/// to ask instead (or how to let the read commands ask).
pub fn holder(data_dir: &Path) -> Option<String> {
    let file = HolderFile::read(data_dir)?;
    let mut said = file.describe();
    match &file.url {
        Some(url) if !file.reports => said.push_str(&format!(
            ", the web report viewer at {url}/; the read commands (report, log, export, verify, \
             tenants, contacts, ...) work on a copy through it, the commands that write wait \
             until it stops"
        )),
        Some(url) => said.push_str(&format!("; query it through {url}/v1/tenants/...")),
        None => said.push_str(
            ", which serves no API: start it with --listen ADDR and the read commands \
             (verify, export, log, audit, evidence export) work on a copy through it",
        ),
    }
    Some(said)
}

/// The URL of the service holding the ledger in `data_dir`, if its holder
/// file names one and it serves reports, and its holder token.
fn holder_url(data_dir: &Path) -> Option<(String, String)> {
    let file = HolderFile::read(data_dir)?;
    file.url
        .filter(|_| file.reports)
        .map(|url| (url, file.token))
}

/// Whether the process holding `data_dir` (if any) serves the report API
/// (`tla serve` does; a viewer does not, and `tla report` then reads a
/// copy).
pub fn serves_reports(data_dir: &Path) -> bool {
    HolderFile::read(data_dir).is_none_or(|file| file.reports)
}

/// A report fetched from the service that holds the ledger (for `tla
/// report` while the service runs); `None` when no service holding it
/// names an address.
pub fn report_from_service(
    data_dir: &Path,
    tenant: &str,
    period: projector::Period,
    format: &str,
    lang: &str,
) -> Option<anyhow::Result<Vec<u8>>> {
    let (url, token) = holder_url(data_dir)?;
    let tenant = match service_tenant(data_dir, &url, &token, tenant) {
        Ok(tenant) => tenant,
        Err(error) => return Some(Err(error)),
    };
    let address = format!("{url}/v1/tenants/{tenant}/reports/{period}?format={format}&lang={lang}");
    let fetched = match ureq::get(&address)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(response) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
                .with_context(|| format!("reading {address}"))
                .map(|_| bytes)
        }
        Err(ureq::Error::Status(status, response)) => {
            let problem: serde_json::Value = response.into_json().unwrap_or_default();
            let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
            Err(anyhow::anyhow!(
                "the service holding {} answered {status} for {address}: {detail}",
                data_dir.display()
            ))
        }
        Err(error) => Err(anyhow::anyhow!(
            "the ledger at {} is held by a service at {url}, which did not answer: {error}",
            data_dir.display()
        )),
    };
    Some(fetched)
}

/// The id of the tenant `given` names (an id or a display name, as every
/// `--tenant` takes it) among the tenants the service at `url` holds, so
/// that `tla report --tenant ALVER` through a running service answers as it
/// does on the ledger itself, and an unknown tenant gets the same error
/// naming the known ones.
fn service_tenant(data_dir: &Path, url: &str, token: &str, given: &str) -> anyhow::Result<String> {
    let address = format!("{url}/v1/tenants");
    let unlisted = |error: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "the ledger at {} is held by a service at {url}, which did not list its tenants \
             at {address}: {error}",
            data_dir.display()
        )
    };
    let listed: serde_json::Value = ureq::get(&address)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|error| unlisted(&error))?
        .into_json()
        .map_err(|error| unlisted(&error))?;
    let counts: std::collections::BTreeMap<String, u64> = listed["tenants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tenant| {
            Some((
                tenant["tenant"].as_str()?.to_owned(),
                tenant["entries"].as_u64()?,
            ))
        })
        .collect();
    Ok(crate::tenants::resolve(&counts, given)?)
}
