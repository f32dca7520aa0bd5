//! Printing a report to PDF through the locally installed Chromium
//! (`tla report --format pdf --out FILE`): the report's own HTML page,
//! whose print stylesheet lays it out on A4, written to a temporary file
//! and printed by `chromium --headless --print-to-pdf`. No crate renders
//! HTML and CSS to PDF as faithfully, and the browser is one the operator
//! already trusts; without it the error says what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The variable that names the Chromium binary to use.
const CHROMIUM_ENV: &str = "TLA_CHROMIUM";

/// Names Chromium goes by on `PATH` (Debian's first).
const CHROMIUM_NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// How long one page may take to print: a report is a few pages, printed
/// in a second or two; a Chromium that hangs is stopped.
const PRINT_SECONDS_MAX: u64 = 120;

/// Prints `html` (a self-contained page) to the PDF file `out`.
pub fn print(html: &str, out: &Path) -> anyhow::Result<()> {
    let chromium = chromium()?;
    let dir = tempfile::tempdir().context("cannot make a temporary directory for printing")?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).with_context(|| format!("cannot write {}", page.display()))?;
    let pdf = dir.path().join("report.pdf");
    let mut child = Command::new(&chromium)
        .arg("--headless")
        // The page is this program's own static HTML, without scripts or
        // links; the sandbox is off so that it prints as root too (as CI
        // runs), where Chromium refuses to start with it.
        .arg("--no-sandbox")
        .args(["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--disable-extensions", "--no-pdf-header-footer"])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start Chromium ({})", chromium.display()))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for Chromium")? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(PRINT_SECONDS_MAX) {
            // Killing a child that just exited fails harmlessly.
            let _ = child.kill();
            bail!(
                "Chromium ({}) did not print the report within {PRINT_SECONDS_MAX} s",
                chromium.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let printed = std::fs::read(&pdf).unwrap_or_default();
    if !status.success() || !printed.starts_with(b"%PDF-") {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            // What Chromium said is only shown; a failure to read it leaves
            // the message without it.
            let _ = pipe.read_to_string(&mut stderr);
        }
        bail!(
            "Chromium ({}) did not print the report ({status}): {}",
            chromium.display(),
            stderr.trim()
        );
    }
    std::fs::write(out, printed).with_context(|| format!("cannot write {}", out.display()))
}

/// The Chromium to print with: `$TLA_CHROMIUM`, else the first of
/// [`CHROMIUM_NAMES`] on `PATH`.
fn chromium() -> anyhow::Result<PathBuf> {
    if let Some(named) = std::env::var_os(CHROMIUM_ENV) {
        let path = PathBuf::from(named);
        if !path.is_file() {
            bail!(
                "Chromium is not at {} (named by {CHROMIUM_ENV}); --format pdf prints through Chromium: \
                 point {CHROMIUM_ENV} at it, or use --format html and print that page from a browser",
                path.display()
            );
        }
        return Ok(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in CHROMIUM_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "Chromium is not installed (looked for {} on PATH); --format pdf prints through it: \
         install it (Debian: apt-get install chromium) or set {CHROMIUM_ENV} to its path, \
         or use --format html and print that page from a browser",
        CHROMIUM_NAMES.join(", ")
    )
}
