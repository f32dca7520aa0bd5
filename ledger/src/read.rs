//! Reading entries back: one append at a time in ledger order (its tenant
//! blocks merged through its layout), or one tenant's blocks alone.
//!
//! `verify` uses the same merge, but judges every departure from the stored
//! layout (a record missing, out of order, doubled, or in a block the layout
//! does not know) instead of calling it corruption.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::block;
use crate::chain::{Failure, Summary, Verifier};
use crate::merkle;
use crate::record::{self, Hash, Record};
use crate::store::{Layout, Store};
use crate::tiles::{tile_bytes, Edge, TILE_HEIGHT, TILE_LEVELS_MAX, TILE_WIDTH};
use crate::{Entry, LedgerError};

/// A record as stored: its bytes (within a block value) and stored hash.
struct Stored {
    block: crate::store::BlockBytes,
    range: std::ops::Range<usize>,
    hash: Hash,
    /// The position field, or None when the bytes are not a record.
    position: Option<u64>,
}

impl Stored {
    fn bytes(&self) -> &[u8] {
        &self.block[self.range.clone()]
    }
}

/// What is wrong with the stored layout of an append, in the words of
/// `chain::Failure` (the caller turns it into corruption where it is not
/// verifying).
type Judged<T> = Result<T, Failure>;

/// One tenant's records of one append, in stored order.
fn tenant_run(
    store: &Store,
    tenant: &str,
    first: u64,
    layout: &Layout,
) -> Result<VecDeque<Stored>, LedgerError> {
    let mut run = VecDeque::new();
    for item in store.tenant_blocks(tenant, first..first + layout.len()) {
        let (block_first, bytes) = item?;
        let records = block::records(&bytes).map_err(|error| LedgerError::Corrupt {
            position: block_first,
            detail: format!("block of tenant {tenant}: {error}"),
        })?;
        for record in records {
            let (slice, hash) = record.map_err(|error| LedgerError::Corrupt {
                position: block_first,
                detail: format!("block of tenant {tenant}: {error}"),
            })?;
            let start = slice.as_ptr() as usize - bytes.as_ptr() as usize;
            let position = record::position_of(slice);
            run.push_back(Stored {
                block: bytes.clone(),
                range: start..start + slice.len(),
                hash,
                position,
            });
        }
    }
    Ok(run)
}

/// Checks that a run's positions strictly increase.
fn judge_run(tenant: &str, run: &VecDeque<Stored>) -> Judged<()> {
    let mut last: Option<u64> = None;
    for stored in run {
        let Some(position) = stored.position else {
            continue;
        };
        match last {
            Some(previous) if position == previous => {
                return Err(Failure::Inserted {
                    position,
                    detail: format!("tenant {tenant} has two entries at position {position}"),
                })
            }
            Some(previous) if position < previous => {
                return Err(Failure::Reordered {
                    position,
                    detail: format!(
                        "tenant {tenant} stores entry {position} after entry {previous}"
                    ),
                })
            }
            _ => last = Some(position),
        }
    }
    Ok(())
}

/// The records of one append in ledger order, passed to `each`.
/// Departures from the layout are failures.
fn merge(
    store: &Store,
    first: u64,
    layout: &Layout,
    mut each: impl FnMut(Stored) -> Judged<()>,
) -> Result<Judged<()>, LedgerError> {
    let mut runs = Vec::with_capacity(layout.tenants.len());
    for tenant in &layout.tenants {
        let run = tenant_run(store, tenant, first, layout)?;
        if let Err(failure) = judge_run(tenant, &run) {
            return Ok(Err(failure));
        }
        runs.push(run);
    }
    for (offset, &tenant) in layout.tenant_of.iter().enumerate() {
        let position = first + offset as u64;
        let Some(stored) = runs.get_mut(tenant as usize).and_then(VecDeque::pop_front) else {
            let detail = "its tenant's block holds no entry for it".to_string();
            return Ok(Err(Failure::Missing {
                from: position,
                to: position,
                detail,
            }));
        };
        if let Err(failure) = each(stored) {
            return Ok(Err(failure));
        }
    }
    for (tenant, run) in layout.tenants.iter().zip(&runs) {
        if let Some(extra) = run.front() {
            let position = extra.position.unwrap_or(first + layout.len());
            let detail = format!("tenant {tenant} holds more entries than the append recorded");
            return Ok(Err(Failure::Inserted { position, detail }));
        }
    }
    Ok(Ok(()))
}

/// The entries of the append that starts at `first`, in ledger order.
pub(crate) fn append_entries(
    store: &Store,
    first: u64,
    layout: &Layout,
) -> Result<Vec<Entry>, LedgerError> {
    let mut entries = Vec::with_capacity(layout.tenant_of.len());
    let mut decode_error = None;
    let judged = merge(store, first, layout, |stored| {
        match Record::decode(stored.bytes()) {
            Ok(record) => entries.push(Entry {
                record,
                hash: stored.hash,
            }),
            Err(error) => decode_error = Some(error.to_string()),
        }
        Ok(())
    })?;
    if let Err(failure) = judged {
        return Err(LedgerError::Corrupt {
            position: failure.position(),
            detail: failure.to_string(),
        });
    }
    if let Some(detail) = decode_error {
        return Err(LedgerError::Corrupt {
            position: first,
            detail,
        });
    }
    Ok(entries)
}

/// One tenant's entries from one of its blocks.
pub(crate) fn block_entries(first: u64, bytes: &[u8]) -> Result<Vec<Entry>, LedgerError> {
    let corrupt = |detail: String| LedgerError::Corrupt {
        position: first,
        detail,
    };
    block::records(bytes)
        .map_err(|e| corrupt(e.to_string()))?
        .map(|item| {
            let (bytes, hash) = item.map_err(|e| corrupt(e.to_string()))?;
            let record = Record::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
            Ok(Entry { record, hash })
        })
        .collect()
}

/// Streams every append through the chain verifier. `progress` gets the
/// number of entries checked after each append.
pub(crate) fn verify(
    store: &Store,
    claimed: (u64, Hash),
    mut progress: impl FnMut(u64),
) -> Result<Judged<Summary>, LedgerError> {
    let mut state = VerifyState::new(store)?;
    match state.run(store, u64::MAX, &mut progress)? {
        Err(failure) => Ok(Err(failure)),
        Ok(_) => state.finish(store, claimed),
    }
}

/// Where a verification stands between stretches: the chain verifier and
/// the next append to check. It survives closing and reopening the store.
pub(crate) struct VerifyState {
    pub verifier: Verifier,
    tenants: Vec<String>,
    next: u64,
    checked: u64,
    /// The Merkle tree recomputed from the entries: each tile it completes
    /// must be the stored one.
    edge: Edge,
}

impl VerifyState {
    pub fn new(store: &Store) -> Result<VerifyState, LedgerError> {
        Ok(VerifyState {
            verifier: Verifier::new(),
            tenants: store.tenants()?,
            next: 0,
            checked: 0,
            edge: Edge::new(),
        })
    }

    /// After `run` reached the end: the chain's verdict, then the stored
    /// tree's edge tiles, which must hold exactly the recomputed hashes.
    pub fn finish(
        self,
        store: &Store,
        claimed: (u64, Hash),
    ) -> Result<Judged<Summary>, LedgerError> {
        let mut summary = match self.verifier.finish(Some(claimed)) {
            Ok(summary) => summary,
            Err(failure) => return Ok(Err(failure)),
        };
        let size = self.edge.size();
        for level in 0..TILE_LEVELS_MAX {
            let computed = self.edge.level(level);
            if computed.is_empty() {
                continue;
            }
            let count = size >> (level as u32 * TILE_HEIGHT);
            let index = count / TILE_WIDTH as u64;
            let stored = store.tile(level as u8, index)?.unwrap_or_default();
            if let Err(failure) = judge_tile(level as u8, index, &tile_bytes(computed), &stored) {
                return Ok(Err(failure));
            }
        }
        let tree = crate::tiles::Tree::new(store, size);
        summary.merkle_root = Some(tree.root(size).map_err(LedgerError::from)?);
        Ok(Ok(summary))
    }

    /// Checks appends until at least `budget` more entries are checked or
    /// the ledger ends; Ok(true) when it ended.
    pub fn run(
        &mut self,
        store: &Store,
        budget: u64,
        progress: &mut impl FnMut(u64),
    ) -> Result<Judged<bool>, LedgerError> {
        self.run_to(store, u64::MAX, budget, progress)
    }

    /// `run`, checking no append that ends after entry `limit`: Ok(true)
    /// when the appends up to `limit` (or the ledger's end) are checked.
    ///
    /// Two threads share the work: this one reads each append and checks
    /// its chain (BLAKE3 and links), a second one computes its Merkle
    /// leaves and tiles (SHA-256) and compares them with the stored tiles,
    /// one append behind (`TILE_QUEUE_APPENDS_MAX`). The verdict is the one
    /// a single thread would give: the tile thread takes the appends in
    /// ledger order, and whatever it finds in an append comes before
    /// anything this thread finds in a later one.
    pub fn run_to(
        &mut self,
        store: &Store,
        limit: u64,
        budget: u64,
        progress: &mut impl FnMut(u64),
    ) -> Result<Judged<bool>, LedgerError> {
        let mut edge = std::mem::take(&mut self.edge);
        let stopped = AtomicBool::new(false);
        let (chain, tiles) = std::thread::scope(|scope| {
            let (queue, work) = mpsc::sync_channel(TILE_QUEUE_APPENDS_MAX);
            let (edge, stopped) = (&mut edge, &stopped);
            let tiles = scope.spawn(move || check_tiles(store, edge, work, stopped));
            let chain = self.check_chain(store, (limit, budget), progress, &queue, stopped);
            // Closing the queue lets the tile thread finish what it holds.
            drop(queue);
            let tiles = tiles
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (chain, tiles)
        });
        self.edge = edge;
        match tiles {
            Some(TileVerdict::Failure(failure)) => Ok(Err(failure)),
            Some(TileVerdict::Error(error)) => Err(error),
            None => chain,
        }
    }

    /// `run_to`'s reading and chain checking: hands each append's records,
    /// once its chain holds, to the tile thread through `queue`, and stops
    /// early once that thread has `stopped` (its verdict comes first).
    fn check_chain(
        &mut self,
        store: &Store,
        (limit, budget): (u64, u64),
        progress: &mut impl FnMut(u64),
        queue: &mpsc::SyncSender<TileWork>,
        stopped: &AtomicBool,
    ) -> Result<Judged<bool>, LedgerError> {
        let stop = self.checked.saturating_add(budget);
        while self.checked < stop {
            if stopped.load(Ordering::Relaxed) {
                return Ok(Ok(false));
            }
            let Some((first, layout)) = store.next_layout(self.next)? else {
                return Ok(Ok(true));
            };
            if first >= limit || first.saturating_add(layout.len()) > limit {
                return Ok(Ok(true));
            }
            self.next = first + layout.len().max(1);
            if let Err(failure) = judge_layout(store, &self.tenants, first, &layout)? {
                return Ok(Err(failure));
            }
            let verifier = &mut self.verifier;
            let mut records = Vec::with_capacity(layout.len() as usize);
            let judged = merge(store, first, &layout, |stored| {
                verifier.push(stored.bytes(), Some(stored.hash))?;
                records.push(stored);
                Ok(())
            })?;
            if let Err(failure) = judged {
                return Ok(Err(failure));
            }
            // The stored tiles are read here, on the thread that reads
            // everything else from sled, so that sled's pages are
            // allocated (and freed, at each reopen) by one thread: pulled
            // by the tile thread, they kept about 25 MiB more resident in
            // that thread's own allocator arena at 10M entries.
            let stored_tiles = completed_tiles(self.checked, layout.len())
                .into_iter()
                .map(|(level, index)| (level, index, store.tile(level, index)))
                .collect();
            let work = TileWork {
                records,
                stored_tiles,
            };
            if queue.send(work).is_err() {
                // The tile thread takes every append until the queue is
                // closed, so it can only have ended by panicking, which
                // joining it passes on.
                return Ok(Ok(false));
            }
            self.checked += layout.len();
            progress(self.checked);
        }
        Ok(Ok(false))
    }
}

/// Appends that may wait for the tile thread: none, so an append is handed
/// over only when the tile thread is done with the one before. Both threads
/// still work at once (the chain thread reads and checks append N + 1
/// while the tile thread hashes append N), and verify holds at most two
/// appends' blocks, so its memory stays flat. Each append queued would
/// add one more append's blocks (3 MiB at 8,192 entries).
const TILE_QUEUE_APPENDS_MAX: usize = 0;

/// What the tile thread found first.
enum TileVerdict {
    /// A stored tile differs from the one recomputed.
    Failure(Failure),
    /// A stored tile could not be read.
    Error(LedgerError),
}

/// One append handed to the tile thread: its records in ledger order, and
/// the stored tiles it completes, read by the chain thread (or what went
/// wrong reading each), in `completed_tiles` order.
struct TileWork {
    records: Vec<Stored>,
    stored_tiles: Vec<(u8, u64, StoredTile)>,
}

/// A stored tile as read, or the storage error reading it.
type StoredTile = Result<Option<sled::IVec>, crate::store::StoreError>;

/// The whole tiles that appending `len` leaves to a tree of `size` leaves
/// completes, as (level, index), lowest level first.
fn completed_tiles(size: u64, len: u64) -> Vec<(u8, u64)> {
    let end = size.saturating_add(len);
    let mut tiles = Vec::new();
    for level in 0..TILE_LEVELS_MAX {
        let shift = level as u32 * TILE_HEIGHT;
        let (before, after) = (size >> shift, end >> shift);
        if after == 0 {
            break;
        }
        let width = TILE_WIDTH as u64;
        tiles.extend((before / width..after / width).map(|index| (level as u8, index)));
    }
    tiles
}

/// The tile thread: each append's Merkle leaves (SHA-256 of its records),
/// pushed on the tree's edge, and every tile they complete compared with
/// the stored one, in the order a single pass compares them. Whole tiles
/// are final, so each is compared once; the edge tiles are compared once,
/// at the end (`finish`, `settle`). After a verdict it still pushes the
/// leaves of whatever is handed over, so that the edge stays in step with
/// the entries the chain thread counted, and sets `stopped` so that the
/// chain thread reads no further.
fn check_tiles(
    store: &Store,
    edge: &mut Edge,
    work: mpsc::Receiver<TileWork>,
    stopped: &AtomicBool,
) -> Option<TileVerdict> {
    let mut verdict = None;
    let mut leaves = Vec::new();
    for TileWork {
        records,
        mut stored_tiles,
    } in work
    {
        leaves.clear();
        leaves.extend(
            records
                .iter()
                .map(|stored| merkle::leaf_hash(stored.bytes())),
        );
        drop(records);
        let writes = edge.push_all(&leaves);
        if verdict.is_some() {
            continue;
        }
        verdict = writes
            .iter()
            .filter(|(_, _, bytes)| bytes.len() == TILE_WIDTH * 32)
            .find_map(|(level, index, bytes)| {
                let at = stored_tiles
                    .iter()
                    .position(|(l, i, _)| (l, i) == (level, index));
                debug_assert!(at.is_some(), "tile {level}/{index} was not read ahead");
                // Read here only if `completed_tiles` missed it: correct,
                // only slower.
                let stored = match at {
                    Some(at) => stored_tiles.swap_remove(at).2,
                    None => store.tile(*level, *index),
                };
                match stored {
                    Err(error) => Some(TileVerdict::Error(error.into())),
                    Ok(stored) => judge_tile(*level, *index, bytes, &stored.unwrap_or_default())
                        .err()
                        .map(TileVerdict::Failure),
                }
            });
        if verdict.is_some() {
            stopped.store(true, Ordering::Relaxed);
        }
    }
    verdict
}

impl VerifyState {
    /// Reads the tenants again: a verified prefix that goes on checking
    /// appends made after it was begun must know the tenants they added.
    pub fn refresh_tenants(&mut self, store: &Store) -> Result<(), LedgerError> {
        self.tenants = store.tenants()?;
        Ok(())
    }

    /// Entries checked so far, each once.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Judges everything checked so far as a prefix of the ledger, the
    /// verifier staying usable for more: the record held back for
    /// lookahead, the claimed head when the prefix is the whole ledger,
    /// and the stored edge tiles, which must begin with (or, for the whole
    /// ledger, be) the hashes recomputed from the entries. Gives the
    /// prefix's (size, head, Merkle root).
    pub fn settle(
        &mut self,
        store: &Store,
        claimed: Option<(u64, Hash)>,
    ) -> Result<Judged<(u64, Hash, merkle::Digest)>, LedgerError> {
        if let Err(failure) = self.verifier.settle() {
            return Ok(Err(failure));
        }
        let (size, head) = self.verifier.verified();
        if let Some((claimed_size, claimed_head)) = claimed {
            if let Err(failure) = self.verifier.check_head(claimed_size, claimed_head) {
                return Ok(Err(failure));
            }
        }
        let whole = claimed.is_some();
        for level in 0..TILE_LEVELS_MAX {
            let computed = self.edge.level(level);
            if computed.is_empty() {
                continue;
            }
            let count = self.edge.size() >> (level as u32 * TILE_HEIGHT);
            let index = count / TILE_WIDTH as u64;
            let stored = store.tile(level as u8, index)?.unwrap_or_default();
            let computed = tile_bytes(computed);
            // A ledger longer than the prefix has more hashes in the tile.
            let stored = match stored.get(..computed.len()) {
                Some(start) if !whole => start,
                _ => &stored[..],
            };
            if let Err(failure) = judge_tile(level as u8, index, &computed, stored) {
                return Ok(Err(failure));
            }
        }
        let tree = crate::tiles::Tree::new(store, size);
        let root = tree.root(size).map_err(LedgerError::from)?;
        Ok(Ok((size, head, root)))
    }
}

/// A stored Merkle tile must hold exactly the hashes recomputed from the
/// entries; the first difference names the first position it covers.
fn judge_tile(level: u8, index: u64, computed: &[u8], stored: &[u8]) -> Judged<()> {
    if computed == stored {
        return Ok(());
    }
    let hashes = computed.len().max(stored.len()).div_ceil(32);
    let differs = (0..hashes)
        .find(|&i| computed.get(i * 32..i * 32 + 32) != stored.get(i * 32..i * 32 + 32))
        .unwrap_or(0) as u64;
    let span_shift = u32::from(level) * TILE_HEIGHT;
    let position = ((index * TILE_WIDTH as u64) + differs)
        .checked_shl(span_shift)
        .unwrap_or(u64::MAX);
    let what = if level == 0 {
        format!("the Merkle leaf hash stored for position {position} does not match its entry")
    } else {
        format!(
            "the Merkle node stored for positions {position}..{} does not match the entries",
            position.saturating_add(1 << span_shift)
        )
    };
    Err(Failure::Corrupt {
        position,
        detail: format!(
            "{what} (tile level {level}, index {index}, {} hashes stored, {} expected): the \
             stored tree was altered, so its proofs and checkpoints cannot be trusted",
            stored.len() / 32,
            computed.len() / 32
        ),
    })
}

/// A layout must be well formed, and no tenant outside it may have a block
/// inside its positions.
fn judge_layout(
    store: &Store,
    tenants: &[String],
    first: u64,
    layout: &Layout,
) -> Result<Judged<()>, LedgerError> {
    let well_formed = layout.tenant_of.len() == layout.fingerprints.len()
        && layout
            .tenant_of
            .iter()
            .all(|&t| (t as usize) < layout.tenants.len());
    if !well_formed {
        let detail = "the append's layout is malformed".to_string();
        return Ok(Err(Failure::Corrupt {
            position: first,
            detail,
        }));
    }
    for tenant in tenants.iter().filter(|t| !layout.tenants.contains(t)) {
        if let Some(position) = store.first_tenant_block_in(tenant, first..first + layout.len())? {
            let detail = format!("tenant {tenant} has a block the append did not record");
            return Ok(Err(Failure::Inserted { position, detail }));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `completed_tiles` names exactly the whole tiles `Edge::push_all`
    /// writes, whatever the sizes before and of the append.
    #[test]
    fn completed_tiles_are_the_whole_tiles_an_append_writes() {
        let leaf = merkle::leaf_hash(b"entry");
        let mut edge = Edge::new();
        let mut size = 0u64;
        for len in [
            1u64, 255, 1, 256, 700, 4096, 3, 65_536, 8192, 0, 257, 70_000,
        ] {
            let writes = edge.push_all(&vec![leaf; len as usize]);
            let mut whole: Vec<(u8, u64)> = writes
                .iter()
                .filter(|(_, _, bytes)| bytes.len() == TILE_WIDTH * 32)
                .map(|(level, index, _)| (*level, *index))
                .collect();
            let mut named = completed_tiles(size, len);
            whole.sort_unstable();
            named.sort_unstable();
            assert_eq!(named, whole, "appending {len} to {size} leaves");
            size += len;
        }
    }
}
