//! Scenarios 1, 2 and 4: durable batched append against raw per-entry
//! sled inserts, in-memory BLAKE3 chaining, the disk's sequential write
//! limit (the same bytes appended to one file, `fdatasync` per batch) and a
//! hash-chained PostgreSQL table; and `verify` against raw hashing of the
//! same bytes.

use std::time::Instant;

use anyhow::Context as _;
use ledger::merkle::{leaf_hash, Frontier};
use ledger::{record, Ledger};
use schemas::Event;

use super::{data, postgres, say, settle, Better, Context, Row};

/// Tenants of the append scenario's events.
const TENANTS: usize = 20;
/// Records the PostgreSQL baselines append (a prefix of the same records).
const POSTGRES_ROWS_MAX: usize = 200_000;

pub fn run(cx: &Context<'_>, append: bool, verify: bool) -> anyhow::Result<Vec<Row>> {
    let count = cx.sizes.append_events;
    say(format_args!("append: generating {count} events"));
    let events = data::mixed(count, TENANTS)?;
    let mean = events.iter().map(|e| e.canonical().len()).sum::<usize>() / count;
    say(format_args!(
        "append: {count} events over {TENANTS} tenants (mean {mean} B canonical), {} per append, best of {}",
        cx.batch, cx.sizes.rounds
    ));
    // Ours and the baselines take turns, round by round, so that a slow
    // spell of the disk or the machine hits both.
    let kept = cx.dir("append-kept")?;
    let rate = |secs: f64| count as f64 / secs;
    let (mut ours, mut sled_secs, mut chain_secs) = (f64::MAX, f64::MAX, f64::MAX);
    let mut disk_secs = f64::MAX;
    let mut records = Vec::new();
    // Verify alone needs one ledger, not the best of several appends.
    let rounds = if append { cx.sizes.rounds } else { 1 };
    for round in 0..rounds {
        let dir = if round == 0 {
            kept.clone()
        } else {
            cx.dir("append")?
        };
        settle();
        let ours_round = durable_append(&dir, &events, cx.batch)?;
        ours = ours.min(ours_round);
        if round == 0 {
            records = stored_records(&kept)?;
        }
        if !append {
            say(format_args!(
                "append: round {round}: {:.0} events/s",
                rate(ours_round)
            ));
            continue;
        }
        let sled_dir = cx.dir("raw-sled")?;
        settle();
        let sled_round = raw_sled(&sled_dir, &records, cx.batch)?;
        let chain_round = blake3_chain(&records);
        let disk_dir = cx.dir("raw-disk")?;
        settle();
        let disk_round = disk_sequential(&disk_dir, &records, cx.batch)?;
        say(format_args!(
            "append: round {round}: {:.0} events/s; raw sled {:.0}/s, BLAKE3 chain {:.0}/s, \
             disk sequential write {:.0}/s",
            rate(ours_round),
            rate(sled_round),
            rate(chain_round),
            rate(disk_round)
        ));
        sled_secs = sled_secs.min(sled_round);
        chain_secs = chain_secs.min(chain_round);
        disk_secs = disk_secs.min(disk_round);
    }
    let mut rows = Vec::new();
    if append {
        rows.push(Row::compared(
            "append, durable, vs raw sled",
            "events/s",
            Better::Higher,
            (rate(ours), rate(sled_secs)),
            "sled insert per entry, same bytes, flush per batch",
            Some(3.0),
            None,
        ));
        rows.push(Row::compared(
            "append, durable, vs BLAKE3 chaining",
            "events/s",
            Better::Higher,
            (rate(ours), rate(chain_secs)),
            "BLAKE3 chaining of the same bytes in memory",
            Some(0.25),
            None,
        ));
        rows.push(Row::compared(
            "append, durable, vs disk sequential write",
            "events/s",
            Better::Higher,
            (rate(ours), rate(disk_secs)),
            "the same record bytes appended to one file, fdatasync per batch",
            Some(0.5),
            None,
        ));
        // PostgreSQL gets a prefix of the same records: its rate per row
        // does not depend on the count, and row by row it is slow.
        let pg_records = &records[..records.len().min(POSTGRES_ROWS_MAX)];
        for (style, name, baseline_name) in [
            (
                postgres::Style::RowByRow,
                "append, durable, vs PostgreSQL",
                "PostgreSQL, hash-chain and append-only triggers, one INSERT per event",
            ),
            (
                postgres::Style::MultiRow,
                "append, durable, vs PostgreSQL multi-row INSERT",
                "PostgreSQL, hash-chain and append-only triggers, one INSERT per batch",
            ),
        ] {
            let row = match postgres::append(cx, pg_records, style) {
                Ok(secs) => Row::compared(
                    name,
                    "events/s",
                    Better::Higher,
                    (rate(ours), pg_records.len() as f64 / secs),
                    baseline_name,
                    Some(10.0),
                    None,
                ),
                Err(why) => {
                    say(format_args!("append: PostgreSQL baseline skipped: {why}"));
                    Row::skipped(name, "events/s", rate(ours), baseline_name, Some(10.0), why)
                }
            };
            rows.push(row.with_note(format!(
                "PostgreSQL appended the first {} of the same records, {} per transaction",
                pg_records.len(),
                cx.batch
            )));
        }
    }
    if verify {
        rows.push(verify_row(cx, &kept, &records)?);
    }
    Ok(rows)
}

/// Seconds to append every event durably in a fresh ledger, the way the
/// ledger writer does: batches pipelined, each reported once on disk.
fn durable_append(dir: &std::path::Path, events: &[Event], batch: usize) -> anyhow::Result<f64> {
    let mut ledger = Ledger::open(dir)?;
    let started = Instant::now();
    let mut durable = 0;
    ledger.append_pipelined(
        events.chunks(batch),
        || data::NOW_MICROS,
        |outcomes| durable += outcomes.len(),
    )?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        durable == events.len(),
        "only {durable} of {} events were reported durable",
        events.len()
    );
    Ok(secs)
}

/// The stored record bytes (the hashed preimages) of every entry.
fn stored_records(dir: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    // Just closed by `durable_append`: wait for sled to let go of it.
    let ledger = Ledger::reopen(dir)?;
    ledger
        .entries(0)
        .map(|entry| Ok(entry?.record.encode()))
        .collect()
}

/// The baseline: one sled insert per entry, keyed by position, the same
/// record bytes, a flush after every `batch` inserts.
fn raw_sled(dir: &std::path::Path, records: &[Vec<u8>], batch: usize) -> anyhow::Result<f64> {
    let db = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .context("opening the raw sled baseline")?;
    let started = Instant::now();
    for (chunk_index, chunk) in records.chunks(batch).enumerate() {
        for (offset, bytes) in chunk.iter().enumerate() {
            let position = (chunk_index * batch + offset) as u64;
            db.insert(position.to_be_bytes(), bytes.as_slice())?;
        }
        db.flush()?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The disk's limit for the same work: the same record bytes appended to
/// one file, a batch per write and an `fdatasync` after each (what `dd`
/// with `oflag=dsync` per batch does).
fn disk_sequential(
    dir: &std::path::Path,
    records: &[Vec<u8>],
    batch: usize,
) -> anyhow::Result<f64> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::File::create(dir.join("sequential"))
        .context("creating the disk baseline's file")?;
    let mut buffer = Vec::new();
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        buffer.clear();
        for bytes in chunk {
            buffer.extend_from_slice(bytes);
        }
        file.write_all(&buffer)?;
        file.sync_data()?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The hashing limit: each record's BLAKE3 over the previous hash and its
/// bytes, in memory.
fn blake3_chain(records: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    let mut previous = [0u8; 32];
    for bytes in records {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&previous);
        hasher.update(bytes);
        previous = *hasher.finalize().as_bytes();
    }
    std::hint::black_box(previous);
    started.elapsed().as_secs_f64()
}

/// `tla verify`'s work (every record hash recomputed and its links checked,
/// every Merkle tile recomputed and compared, streaming from sled) against
/// the hashing it cannot avoid, over the same bytes in memory.
fn verify_row(cx: &Context<'_>, dir: &std::path::Path, records: &[Vec<u8>]) -> anyhow::Result<Row> {
    let count = records.len() as f64;
    let (mut ours, mut raw) = (f64::MAX, f64::MAX);
    for round in 0..cx.sizes.rounds {
        let started = Instant::now();
        let summary = Ledger::verify_dir(dir, |_| {})?
            .map_err(|failure| anyhow::anyhow!("the benchmark ledger fails verify: {failure}"))?;
        ours = ours.min(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            summary.size == records.len() as u64,
            "verify saw {} entries",
            summary.size
        );
        raw = raw.min(raw_hashing(records, summary.merkle_root)?);
        say(format_args!(
            "verify: round {round}: {:.0} entries/s, raw hashing {:.0}/s",
            count / ours,
            count / raw
        ));
    }
    Ok(Row::compared(
        "verify",
        "entries/s",
        Better::Higher,
        (count / ours, count / raw),
        "BLAKE3 of every record + SHA-256 Merkle tree (leaves and nodes), in memory",
        // Issue 17's target (issue 7 set 0.5).
        Some(0.8),
        None,
    ))
}

/// Seconds to hash every record with BLAKE3 and build the Merkle tree of
/// their leaves; checks the root against the one verify computed.
fn raw_hashing(
    records: &[Vec<u8>],
    verified_root: Option<ledger::merkle::Digest>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut frontier = Frontier::new();
    let mut sink = 0u8;
    for bytes in records {
        sink ^= record::hash(bytes).0[0];
        frontier.push(leaf_hash(bytes));
    }
    let root = frontier.root();
    let secs = started.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    anyhow::ensure!(
        verified_root.is_none_or(|r| r == root),
        "the raw Merkle root differs from verify's: the baseline hashes other bytes"
    );
    Ok(secs)
}
