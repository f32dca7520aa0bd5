//! Wall time and peak memory (maximum resident set size) of one `tla`
//! command, as a user runs it.
//!
//! The kernel reports the peak of *waited-for children* only as a maximum
//! over all of them, so each measured command runs under a fresh
//! intermediate process (`tla bench-peak -- ARGS`) whose only child it is.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context as _;
use nix::sys::resource::{getrusage, UsageWho};

/// What a measured command took.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub secs: f64,
    pub peak_mib: f64,
}

/// Runs `tla --data-dir DIR ARGS` under `tla bench-peak` and returns its
/// wall time and peak memory; its output is discarded, a failure is an
/// error carrying its stderr.
pub fn tla(data_dir: &Path, args: &[&str]) -> anyhow::Result<Measured> {
    // This harness's own `bench-peak`, which runs `tla ARGS`.
    let exe = std::env::current_exe().context("cannot find the harness's path")?;
    let output = Command::new(exe)
        .arg("bench-peak")
        .arg("--")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run tla bench-peak")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "`tla {}` failed: {}",
        args.join(" "),
        stderr.trim()
    );
    let mut fields = stdout.split_whitespace();
    let mut next = |what| -> anyhow::Result<f64> {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("tla bench-peak printed no {what}: {stdout:?}"))
    };
    let secs = next("seconds")?;
    let peak_kib = next("peak")?;
    Ok(Measured {
        secs,
        peak_mib: peak_kib / 1024.0,
    })
}

/// `tla-bench bench-peak -- ARGS`: runs `tla ARGS` (stdout discarded,
/// stderr passed on), then prints its wall seconds and peak resident KiB.
pub fn peak_main(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let exe = super::tla_exe()?;
    let started = Instant::now();
    let status = Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .context("cannot run the measured command")?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        anyhow::bail!("the measured command failed ({status})");
    }
    // This process's only child has been waited for: the children's peak
    // is exactly that command's.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    println!("{secs:.6} {}", usage.max_rss());
    Ok(ExitCode::SUCCESS)
}
