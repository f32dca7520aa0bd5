//! Report benchmark: one tenant-month report (`tla report`, the release
//! binary, as a user runs it) from a ledger of 1,000,000 entries across 20
//! tenants, against the same report from a ledger holding only that
//! tenant's entries, measured in the same run. Equal times show that the
//! cost follows the tenant's events, not the ledger's size; a full scan of
//! the big ledger is printed for scale. Wall time and peak memory (max RSS)
//! come from `/usr/bin/time`. `tla verify` on both ledgers shows whether
//! verification memory stays flat as the ledger grows.
//!
//! Run with `cargo bench --bench report` (optionally `-- ENTRIES TENANTS`).
//! It prints numbers; it asserts nothing, it is a benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ledger::Ledger;
use schemas::Event;

const ENTRIES_DEFAULT: usize = 1_000_000;
const TENANTS_DEFAULT: usize = 20;
/// Events per append while building the ledgers.
const BATCH: usize = 8192;
/// Runs of each report; the best is printed.
const ROUNDS: usize = 5;
/// 2026-11-28T00:00:00Z, the ledger clock while building.
const NOW_MICROS: i64 = 1_796_256_000_000_000;
/// 2025-11-01T00:00:00Z to 2026-11-01T00:00:00Z: the span of the events.
const SPAN_START: i64 = 1_761_955_200;
const SPAN_SECONDS: i64 = 365 * 86_400;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let entries = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(ENTRIES_DEFAULT);
    let tenants = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(TENANTS_DEFAULT);
    let per_tenant = entries / tenants;
    let tla = tla_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    println!("report benchmark: {entries} entries, {tenants} tenants, {per_tenant} per tenant");

    let big = dir.path().join("big");
    let started = Instant::now();
    build(&big, tenants, per_tenant, None);
    println!(
        "built the {entries}-entry ledger in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let small = dir.path().join("small");
    build(&small, tenants, per_tenant, Some(0));

    let (big_secs, big_kib) = best_report(&tla, &big);
    let (small_secs, small_kib) = best_report(&tla, &small);
    println!(
        "report, {entries}-entry ledger:   {:>8.1} ms, peak {:>7.1} MiB",
        big_secs * 1e3,
        big_kib as f64 / 1024.0
    );
    println!(
        "report, tenant-only ledger ({per_tenant}): {:>8.1} ms, peak {:>7.1} MiB",
        small_secs * 1e3,
        small_kib as f64 / 1024.0
    );
    println!(
        "ratio big/tenant-only:           {:>8.2}x  (1.0 = cost follows the tenant)",
        big_secs / small_secs
    );

    // `tla verify` streams: its peak memory should not grow with the ledger.
    let (big_verify, big_verify_kib) = best_run(&tla, &big, &["verify"]);
    let (small_verify, small_verify_kib) = best_run(&tla, &small, &["verify"]);
    println!(
        "tla verify, {entries} entries: {big_verify:.2} s, peak {:.1} MiB; {per_tenant} entries: {small_verify:.2} s, peak {:.1} MiB",
        big_verify_kib as f64 / 1024.0,
        small_verify_kib as f64 / 1024.0
    );
    let ledger = Ledger::open(&big).expect("open");
    let started = Instant::now();
    let count = ledger.entries(0).filter(|e| e.is_ok()).count();
    println!(
        "for scale, reading all {count} entries: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// The release `tla` next to this benchmark's executable.
fn tla_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target/release");
    let tla = dir.join("tla");
    assert!(
        tla.exists(),
        "{} is missing: run through `cargo bench --bench report`",
        tla.display()
    );
    tla
}

/// The best of ROUNDS runs of one report: (seconds, max RSS in KiB).
fn best_report(tla: &Path, data_dir: &Path) -> (f64, u64) {
    let report = ["report", "--tenant", "kommune-00", "--period", "2026-03"];
    best_run(tla, data_dir, &report)
}

/// The best of ROUNDS runs of `tla ARGS`: (seconds, max RSS in KiB).
fn best_run(tla: &Path, data_dir: &Path, args: &[&str]) -> (f64, u64) {
    let mut best = (f64::MAX, u64::MAX);
    for _ in 0..ROUNDS {
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%e %M"])
            .arg(tla)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .output()
            .expect("run /usr/bin/time tla");
        assert!(
            output.status.success(),
            "tla {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut fields = stderr.lines().last().unwrap_or_default().split_whitespace();
        let secs: f64 = fields.next().and_then(|s| s.parse().ok()).expect("elapsed");
        let kib: u64 = fields.next().and_then(|s| s.parse().ok()).expect("max RSS");
        best = (best.0.min(secs), best.1.min(kib));
    }
    best
}

/// A ledger of `tenants` × `per_tenant` events, interleaved; with `only`,
/// just that tenant's events.
fn build(dir: &Path, tenants: usize, per_tenant: usize, only: Option<usize>) {
    let mut ledger = Ledger::open(dir).expect("open");
    let mut batch = Vec::with_capacity(BATCH);
    for tenant in 0..tenants {
        if only.is_none_or(|o| o == tenant) {
            batch.push(agreement(tenant));
        }
    }
    ledger
        .append(&batch, NOW_MICROS)
        .expect("append agreements");
    batch.clear();
    for n in 0..per_tenant {
        for tenant in 0..tenants {
            if only.is_some_and(|o| o != tenant) {
                continue;
            }
            batch.push(event(tenant, n, per_tenant));
            if batch.len() == BATCH {
                ledger.append(&batch, NOW_MICROS).expect("append");
                batch.clear();
            }
        }
    }
    ledger.append(&batch, NOW_MICROS).expect("append");
}

fn agreement(tenant: usize) -> Event {
    let value = serde_json::json!({
        "specversion": "1.0", "id": format!("agreement-{tenant}"), "source": "bench/agreements",
        "type": "agreement.published", "time": "2025-10-20T10:00:00+02:00",
        "tenant": format!("kommune-{tenant:02}"),
        "data": {"agreement": {
            "version": "2025-1", "effective_from": "2025-11-01T00:00:00+01:00",
            "calendars": {"office": {"days": ["mon","tue","wed","thu","fri"], "from": "07:30", "to": "16:00", "holidays": "NO"}},
            "services": [{"id": "epost", "name": "E-post",
                "availability": {"target_pct": "99.5"},
                "incidents": {"calendar": "office", "targets": {
                    "P1": {"response_min": 30, "resolution_min": 240, "calendar": "24x7"},
                    "P2": {"response_min": 60, "resolution_min": 480},
                    "P3": {"response_min": 240, "resolution_min": 2400},
                    "P4": {"response_min": 480, "resolution_min": 4800}}}}]}}
    });
    Event::from_json(&value).expect("valid agreement")
}

/// The n-th event of a tenant: incidents opened, responded and resolved in
/// turn, and short outages, spread evenly over the year.
fn event(tenant: usize, n: usize, per_tenant: usize) -> Event {
    let time = SPAN_START + (n as i64 * SPAN_SECONDS) / per_tenant as i64;
    let stamp = chrono::DateTime::from_timestamp(time, 0)
        .expect("in range")
        .to_rfc3339();
    let incident = format!("INC-{}", n / 4);
    let (kind, data) = match n % 4 {
        0 => (
            "incident.opened",
            serde_json::json!({"incident_id": incident, "service": "epost", "priority": "P3"}),
        ),
        1 => (
            "incident.responded",
            serde_json::json!({"incident_id": incident}),
        ),
        2 => (
            "outage.started",
            serde_json::json!({"service": "epost", "outage_id": format!("O-{n}"), "impact": "partial"}),
        ),
        _ => (
            "incident.resolved",
            serde_json::json!({"incident_id": incident}),
        ),
    };
    let value = serde_json::json!({
        "specversion": "1.0", "id": format!("ev-{tenant}-{n}"), "source": "bench/producer",
        "type": kind, "time": stamp, "tenant": format!("kommune-{tenant:02}"), "data": data,
    });
    Event::from_json(&value).expect("valid event")
}
