//! Ledger benchmarks, each against a baseline measured in the same run:
//!
//! 1. durable append throughput (group commit, blocks) against raw sled
//!    inserts of the same record bytes, one insert per entry, with the same
//!    flush cadence (one flush per batch); target at least 3×;
//! 2. `verify` (streaming from sled, every hash recomputed, every link
//!    checked, every Merkle tile recomputed and compared) against raw
//!    hashing of the same bytes held in memory: BLAKE3 (the chain) plus
//!    SHA-256 leaf hashes (the Merkle tree), the work verify cannot avoid;
//!    target at least 0.5×. BLAKE3 alone is printed too.
//!
//! Run with `cargo bench --bench ledger` (optionally `-- EVENTS BATCH`).
//! It prints rates and ratios; it asserts nothing, it is a benchmark.

use std::time::Instant;

use ledger::{record, Ledger};
use schemas::Event;

/// Events appended per run, unless given on the command line.
const EVENTS_DEFAULT: usize = 200_000;
/// Rounds of each measurement; the best of each is reported.
const ROUNDS: usize = 3;
/// Events per append (and per flush in the baseline).
const BATCH_DEFAULT: usize = 1000;
/// 2026-01-01T00:00:00Z: the ledger clock of the benchmark.
const NOW_MICROS: i64 = 1_767_225_600_000_000;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let count = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(EVENTS_DEFAULT);
    let batch = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(BATCH_DEFAULT);
    let events = make_events(count);
    let mean = events.iter().map(|e| e.canonical().len()).sum::<usize>() / count;
    println!("ledger benchmark: {count} events (mean canonical size {mean} B), {batch} per batch");

    // Alternate the two, ROUNDS times each in fresh directories, and keep
    // the best of each: the disk's fsync latency varies from run to run.
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut append_secs, mut raw_secs, mut piped_secs) = (f64::MAX, f64::MAX, f64::MAX);
    let mut records = Vec::new();
    for round in 0..ROUNDS {
        let ledger_dir = dir.path().join(format!("ledger-{round}"));
        let mut ledger = Ledger::open(&ledger_dir).expect("open ledger");
        let started = Instant::now();
        for chunk in events.chunks(batch) {
            ledger.append(chunk, NOW_MICROS).expect("append");
        }
        append_secs = append_secs.min(started.elapsed().as_secs_f64());
        if records.is_empty() {
            records = ledger
                .entries(0)
                .map(|e| e.expect("entry").record.encode())
                .collect();
        }
        let piped_dir = dir.path().join(format!("piped-{round}"));
        piped_secs = piped_secs.min(pipelined(&piped_dir, &events, batch));
        let raw_dir = dir.path().join(format!("raw-{round}"));
        raw_secs = raw_secs.min(raw_sled_inserts(&raw_dir, &records, batch));
    }
    let ledger_dir = dir.path().join("ledger-0");
    let append_rate = count as f64 / append_secs;
    let raw_rate = count as f64 / raw_secs;
    println!(
        "append, durable:     {append_rate:>12.0} events/s  (best of {ROUNDS}: {append_secs:.2} s)"
    );
    println!("raw sled per-entry:  {raw_rate:>12.0} events/s  (best of {ROUNDS}: {raw_secs:.2} s)");
    println!(
        "ratio append/raw:    {:>12.2}x  (target >= 3x)",
        append_rate / raw_rate
    );
    let piped_rate = count as f64 / piped_secs;
    println!(
        "append, pipelined:   {piped_rate:>12.0} events/s  (best of {ROUNDS}: {piped_secs:.2} s; \
         batch N+1 applied while batch N syncs)"
    );
    println!("ratio pipelined/raw: {:>12.2}x", piped_rate / raw_rate);

    let ledger = Ledger::open(&ledger_dir).expect("reopen ledger");
    let started = Instant::now();
    let summary = ledger.verify(|_| {}).expect("storage").expect("chain");
    let verify_secs = started.elapsed().as_secs_f64();
    assert_eq!(summary.size, count as u64);
    let started = Instant::now();
    let mut sink = 0u8;
    for bytes in &records {
        sink ^= record::hash(bytes).0[0];
    }
    let blake3_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for bytes in &records {
        sink ^= record::hash(bytes).0[0] ^ ledger::merkle::leaf_hash(bytes)[0];
    }
    let both_secs = started.elapsed().as_secs_f64();
    let bytes: usize = records.iter().map(Vec::len).sum();
    let mib = bytes as f64 / (1 << 20) as f64;
    println!(
        "verify (from sled):  {:>12.0} entries/s  ({verify_secs:.3} s, {:.0} MiB/s)",
        count as f64 / verify_secs,
        mib / verify_secs
    );
    println!(
        "raw BLAKE3 (memory): {:>12.0} entries/s  ({blake3_secs:.3} s, {:.0} MiB/s) [{sink}]",
        count as f64 / blake3_secs,
        mib / blake3_secs
    );
    println!(
        "raw BLAKE3+SHA-256:  {:>12.0} entries/s  ({both_secs:.3} s, {:.0} MiB/s)",
        count as f64 / both_secs,
        mib / both_secs
    );
    println!("ratio verify/BLAKE3: {:>12.2}x", blake3_secs / verify_secs);
    println!(
        "ratio verify/(BLAKE3+SHA-256): {:>6.2}x  (target >= 0.5x)",
        both_secs / verify_secs
    );
}

/// Durable appends with the sync of each batch overlapping the apply of
/// the next: a batch counts as durable when the sync begun after it
/// returns, and the run ends when the last batch is durable.
fn pipelined(dir: &std::path::Path, events: &[Event], batch: usize) -> f64 {
    let mut ledger = Ledger::open(dir).expect("open ledger");
    let started = Instant::now();
    let mut durable = 0;
    ledger
        .append_pipelined(
            events.chunks(batch),
            || NOW_MICROS,
            |outcomes| durable += outcomes.len(),
        )
        .expect("append");
    assert_eq!(durable, events.len());
    started.elapsed().as_secs_f64()
}

/// The baseline: one sled insert per entry, keyed by position, the same
/// record bytes, a flush after every `batch` inserts.
fn raw_sled_inserts(dir: &std::path::Path, records: &[Vec<u8>], batch: usize) -> f64 {
    let db = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .expect("open sled");
    let started = Instant::now();
    for (chunk_index, chunk) in records.chunks(batch).enumerate() {
        for (offset, bytes) in chunk.iter().enumerate() {
            let position = (chunk_index * batch + offset) as u64;
            db.insert(position.to_be_bytes(), bytes.as_slice())
                .expect("insert");
        }
        db.flush().expect("flush");
    }
    started.elapsed().as_secs_f64()
}

/// Realistic events of about 300 bytes: incidents of 20 tenants.
fn make_events(count: usize) -> Vec<Event> {
    (0..count)
        .map(|n| {
            let value = serde_json::json!({
                "specversion": "1.0",
                "id": format!("bench-{n:09}"),
                "source": "topdesk/itsm-bench",
                "type": "incident.opened",
                "time": format!("2025-{:02}-{:02}T{:02}:{:02}:00+01:00", 1 + n % 12, 1 + n % 28, 7 + n % 9, n % 60),
                "tenant": format!("kommune-{:02}", n % 20),
                "datacontenttype": "application/json",
                "data": {"incident_id": format!("INC-{n:09}"), "service": "sak-arkiv", "priority": "P3"},
            });
            Event::from_json(&value).expect("benchmark event is valid")
        })
        .collect()
}
