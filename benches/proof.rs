//! Merkle proof benchmark: how long an inclusion or consistency proof
//! takes to make from the stored tree and to verify, on ledgers of 1M and
//! 10M entries (or the sizes given), against a baseline measured in the
//! same run: the SHA-256 node hashes a proof of that depth needs, done in
//! memory (the work no implementation can avoid).
//!
//! Run with `cargo bench --bench proof` (optionally `-- SIZE [SIZE ...]`,
//! e.g. `-- 100000` for a quick run). Building a 10M-entry ledger takes a
//! few minutes and about 4 GB of disk in a temporary directory. It prints
//! times and ratios; it asserts only that every proof verifies.

use std::time::Instant;

use ledger::merkle;
use ledger::Ledger;
use rand::{Rng, SeedableRng};
use schemas::Event;

/// Ledger sizes measured unless given on the command line.
const SIZES_DEFAULT: [u64; 2] = [1_000_000, 10_000_000];
/// Events per append while building.
const BATCH: usize = 10_000;
/// Proofs made and verified per measurement.
const PROOFS: usize = 2_000;
/// 2026-01-01T00:00:00Z: the ledger clock of the benchmark.
const NOW_MICROS: i64 = 1_767_225_600_000_000;
/// The random positions' seed, printed so a run can be repeated.
const SEED: u64 = 6962;

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        SIZES_DEFAULT.to_vec()
    } else {
        sizes
    };
    println!("proof benchmark: sizes {sizes:?}, {PROOFS} proofs each, seed {SEED}");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = Ledger::open(dir.path()).expect("open ledger");
    for size in sizes {
        grow(&mut ledger, size);
        drop(ledger);
        // A fresh handle: the proofs read tiles from disk, not a warm cache.
        ledger = Ledger::open(dir.path()).expect("reopen ledger");
        measure(&ledger, size);
    }
}

/// Appends events until the ledger holds `size` entries.
fn grow(ledger: &mut Ledger, size: u64) {
    let started = Instant::now();
    let from = ledger.size();
    let mut next = from;
    while next < size {
        let count = BATCH.min((size - next) as usize);
        let events: Vec<Event> = (next..next + count as u64).map(event).collect();
        ledger.append(&events, NOW_MICROS).expect("append");
        next += count as u64;
    }
    println!(
        "built {size} entries ({} new in {:.1} s)",
        size - from,
        started.elapsed().as_secs_f64()
    );
}

fn measure(ledger: &Ledger, size: u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
    let root = ledger.merkle_root(size).expect("root");

    // Inclusion: make, then verify, PROOFS random leaves in the whole tree.
    let indexes: Vec<u64> = (0..PROOFS).map(|_| rng.gen_range(0..size)).collect();
    let started = Instant::now();
    let proofs: Vec<(merkle::Digest, Vec<merkle::Digest>)> = indexes
        .iter()
        .map(|&i| {
            let leaf = ledger.leaf_hash(i).expect("leaf");
            (leaf, ledger.inclusion_proof(i, size).expect("proof"))
        })
        .collect();
    let make = started.elapsed().as_secs_f64() / PROOFS as f64;
    let started = Instant::now();
    for (&i, (leaf, proof)) in indexes.iter().zip(&proofs) {
        merkle::verify_inclusion(leaf, i, size, proof, &root).expect("inclusion verifies");
    }
    let check = started.elapsed().as_secs_f64() / PROOFS as f64;
    let depth = proofs[0].1.len();
    let baseline = hashes_baseline(depth);
    println!(
        "size {size:>10}: inclusion  make {:>8.1} µs  verify {:>6.2} µs  ({depth} hashes; raw {depth} SHA-256 nodes {:>5.2} µs; verify/raw {:.2}x)",
        make * 1e6,
        check * 1e6,
        baseline * 1e6,
        baseline / check
    );

    // Consistency: from random older sizes to the whole tree.
    let olds: Vec<u64> = (0..PROOFS).map(|_| rng.gen_range(1..=size)).collect();
    let started = Instant::now();
    let proofs: Vec<(merkle::Digest, Vec<merkle::Digest>)> = olds
        .iter()
        .map(|&old| {
            let old_root = ledger.merkle_root(old).expect("old root");
            (
                old_root,
                ledger.consistency_proof(old, size).expect("proof"),
            )
        })
        .collect();
    let make = started.elapsed().as_secs_f64() / PROOFS as f64;
    let started = Instant::now();
    for (&old, (old_root, proof)) in olds.iter().zip(&proofs) {
        merkle::verify_consistency(old, size, old_root, &root, proof)
            .expect("consistency verifies");
    }
    let check = started.elapsed().as_secs_f64() / PROOFS as f64;
    let mean = proofs.iter().map(|(_, p)| p.len()).sum::<usize>() / PROOFS;
    println!(
        "size {size:>10}: consistency make {:>7.1} µs  verify {:>6.2} µs  (mean {mean} hashes; make includes the old root)",
        make * 1e6,
        check * 1e6,
    );
}

/// Seconds for `depth` chained SHA-256 node hashes in memory, per proof.
fn hashes_baseline(depth: usize) -> f64 {
    let rounds = PROOFS * 10;
    let started = Instant::now();
    let mut hash = [7u8; 32];
    for _ in 0..rounds {
        for _ in 0..depth {
            hash = merkle::node_hash(&hash, &hash);
        }
    }
    std::hint::black_box(hash);
    started.elapsed().as_secs_f64() / rounds as f64
}

/// A realistic event of about 300 bytes (an incident of one of 20 tenants).
fn event(n: u64) -> Event {
    let value = serde_json::json!({
        "specversion": "1.0",
        "id": format!("proof-bench-{n:010}"),
        "source": "topdesk/itsm-bench",
        "type": "incident.opened",
        "time": format!("2025-{:02}-{:02}T{:02}:{:02}:00+01:00", 1 + n % 12, 1 + n % 28, 7 + n % 9, n % 60),
        "tenant": format!("kommune-{:02}", n % 20),
        "datacontenttype": "application/json",
        "data": {"incident_id": format!("INC-{n:010}"), "service": "sak-arkiv", "priority": "P3"},
    });
    Event::from_json(&value).expect("benchmark event is valid")
}
