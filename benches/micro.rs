//! Micro-benchmarks (criterion) of the per-event costs behind the
//! end-to-end figures of `tla bench` (docs/PERFORMANCE.md), each beside the
//! limit it is measured against:
//!
//! - parse: a stored event back into an `Event` (report, verify-report)
//!   and untrusted bytes into a validated `Event` (ingest, ledger writer),
//!   against a bare `serde_json::Value` parse of the same bytes;
//! - hash: the BLAKE3 record hash and the SHA-256 Merkle leaf of one record;
//! - append: one batch of 1,000 events applied to the ledger (no fsync),
//!   against 1,000 raw sled inserts of the same record bytes (no flush);
//! - proof: checking an inclusion proof of a 1M-leaf tree.
//!
//! Run with `cargo bench --bench micro` (`-- parse` for one group).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledger::merkle::{self, Digest};
use ledger::{record, Ledger};
use schemas::Event;

/// 2026-11-28T00:00:00Z, after every event time below.
const NOW_MICROS: i64 = 1_796_256_000_000_000;

/// A typical event of about 270 bytes in canonical form.
fn event(n: usize) -> Event {
    let value = serde_json::json!({
        "specversion": "1.0", "id": format!("bench-{n:09}"), "source": "topdesk/itsm-bench",
        "type": "incident.opened", "time": "2026-03-04T09:15:00+01:00",
        "tenant": format!("kommune-{:02}", n % 20), "datacontenttype": "application/json",
        "data": {"incident_id": format!("INC-{n:09}"), "service": "sak-arkiv", "priority": "P3"},
    });
    Event::from_json(&value).expect("benchmark event is valid")
}

fn parse(c: &mut Criterion) {
    let stored = event(7).canonical().to_vec();
    // What a producer sends: the same event, keys in another order.
    let sent = serde_json::to_vec(&serde_json::json!({
        "type": "incident.opened", "specversion": "1.0", "source": "topdesk/itsm-bench",
        "id": "bench-000000007", "time": "2026-03-04T09:15:00+01:00", "tenant": "kommune-07",
        "data": {"priority": "P3", "service": "sak-arkiv", "incident_id": "INC-000000007"},
    }))
    .expect("JSON");
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("serde_json Value (limit)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&stored)).expect("JSON"))
    });
    group.bench_function("Event::from_canonical (stored)", |b| {
        b.iter(|| Event::from_canonical(black_box(&stored)).expect("valid"))
    });
    group.bench_function("parse_events (untrusted)", |b| {
        b.iter(|| schemas::input::parse_events(black_box(&sent)).expect("JSON"))
    });
    group.finish();
}

fn hash(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = Ledger::open(dir.path()).expect("open");
    ledger.append(&[event(1)], NOW_MICROS).expect("append");
    let bytes = ledger
        .entry(0)
        .expect("read")
        .expect("entry")
        .record
        .encode();
    drop(ledger);
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("BLAKE3 record hash", |b| {
        b.iter(|| record::hash(black_box(&bytes)))
    });
    group.bench_function("SHA-256 Merkle leaf", |b| {
        b.iter(|| merkle::leaf_hash(black_box(&bytes)))
    });
    group.finish();
}

fn append(c: &mut Criterion) {
    const BATCH: usize = 1_000;
    let events: Vec<Event> = (0..BATCH).map(event).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let records: Vec<Vec<u8>> = {
        let mut ledger = Ledger::open(&dir.path().join("records")).expect("open");
        ledger.append(&events, NOW_MICROS).expect("append");
        ledger
            .entries(0)
            .map(|e| e.expect("entry").record.encode())
            .collect()
    };
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("ledger batch of 1000, unsynced", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let ledger = Ledger::open(dir.path()).expect("open");
                (dir, ledger)
            },
            |(dir, mut ledger)| {
                ledger
                    .append_unsynced(black_box(&events), NOW_MICROS)
                    .expect("append");
                (dir, ledger)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("raw sled, 1000 inserts of the same bytes", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let db = sled::Config::new()
                    .path(dir.path())
                    .flush_every_ms(None)
                    .open()
                    .expect("sled");
                (dir, db)
            },
            |(dir, db)| {
                for (position, bytes) in records.iter().enumerate() {
                    db.insert((position as u64).to_be_bytes(), bytes.as_slice())
                        .expect("insert");
                }
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn proof(c: &mut Criterion) {
    const LEAVES: u64 = 1 << 20;
    let leaves: Vec<Digest> = (0..LEAVES)
        .map(|n| merkle::leaf_hash(&n.to_be_bytes()))
        .collect();
    let root = merkle::root(&leaves);
    let index = LEAVES / 3;
    let proof = merkle::inclusion_proof(&leaves, index).expect("proof");
    let mut group = c.benchmark_group("proof");
    group.bench_function("verify inclusion, 1M leaves", |b| {
        b.iter(|| {
            merkle::verify_inclusion(
                &leaves[index as usize],
                index,
                LEAVES,
                black_box(&proof),
                &root,
            )
            .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, parse, hash, append, proof);
criterion_main!(benches);
