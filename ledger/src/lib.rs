//! The append-only, BLAKE3 hash-chained ledger.
//!
//! `Ledger` is the one handle on a ledger directory: `append` adds a batch
//! of validated events as one durable group commit (idempotent on
//! (`source`, `id`)), and the readers (`entries`, `tenant_entries`,
//! `verify`, `export`) stream what is stored. The record format is in
//! `record`, the container in `block`, sled only in `store`, chain checking
//! in `chain` (pure, shared with export verification).

pub mod block;
pub mod chain;
pub mod dedup;
pub mod export;
pub mod record;
pub mod store;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use schemas::Event;

pub use chain::{Failure, Summary, Verifier};
pub use record::{Hash, Record, ZERO_HASH};
pub use store::StoreError;

/// Most events one `append` takes. An append is one sled batch held in
/// memory until flushed; 64k events of a few hundred bytes is ~25 MB.
pub const APPEND_EVENTS_MAX: usize = 65_536;

/// How far an event's `time` may lie after the moment it is appended
/// (SEMANTICS.md section 2).
pub const CLOCK_SKEW_SECONDS_MAX: i64 = 300;

/// The ledger's head: how many entries and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub hash: Hash,
    /// Record time of the last entry (microseconds since the epoch, UTC).
    pub last_record_time: Option<i64>,
}

/// One stored entry: its record and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub record: Record,
    pub hash: Hash,
}

/// What became of one event of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored at this position.
    Appended(u64),
    /// Already stored at this position with identical content; not stored again.
    Duplicate(u64),
}

/// How `check` classifies one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Not stored yet: `append` stores it.
    New,
    /// Already stored at this position with identical content.
    Stored(u64),
    /// Identical to an earlier event of the same batch (its index).
    RepeatOf(usize),
}

/// Why an event of an append was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(
        "event (source {producer:?}, id {id:?}) conflicts with ledger position {position}: \
         same source and id, different content"
    )]
    Conflict {
        producer: String,
        id: String,
        position: u64,
    },
    #[error(
        "event (source {producer:?}, id {id:?}) conflicts with event {other} of the same batch: \
         same source and id, different content"
    )]
    ConflictInBatch {
        producer: String,
        id: String,
        other: usize,
    },
    #[error(
        "event (source {producer:?}, id {id:?}) has time {time} more than {CLOCK_SKEW_SECONDS_MAX} s \
         after the ledger's clock ({now}); check the producer's clock"
    )]
    ClockSkew {
        producer: String,
        id: String,
        time: String,
        now: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Nothing was appended: these events (index in the batch, reason) were refused.
    #[error("{} event(s) refused, nothing appended; first: event {}: {}", .0.len(), .0[0].0, .0[0].1)]
    Rejected(Vec<(usize, Rejection)>),
    #[error("an append of {0} events exceeds the limit of {APPEND_EVENTS_MAX}; split it")]
    TooLarge(usize),
    #[error(
        "an earlier write to this ledger failed; its state on disk is unknown to this \
         process, so reopen the ledger before appending"
    )]
    Poisoned,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger position {position}: {detail}")]
    Corrupt { position: u64, detail: String },
}

/// The handle on one ledger directory.
pub struct Ledger {
    store: store::Store,
    head: Head,
    tenants: HashMap<String, store::TenantHead>,
    keys: dedup::Index,
    poisoned: bool,
}

impl Ledger {
    /// Opens the ledger in `dir`, creating an empty one if absent.
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        let store = store::Store::open(dir)?;
        let head = match store.head()? {
            Some(h) => Head {
                size: h.size,
                hash: Hash(h.hash),
                last_record_time: (h.size > 0).then_some(h.last_record_time),
            },
            None => Head {
                size: 0,
                hash: ZERO_HASH,
                last_record_time: None,
            },
        };
        let tenants = store.tenant_heads()?.into_iter().collect();
        let mut keys = dedup::Index::default();
        store.fingerprints(|position, fingerprint| keys.insert(fingerprint, position))?;
        if keys.len() as u64 != head.size {
            return Err(LedgerError::Corrupt {
                position: keys.len() as u64,
                detail: format!(
                    "the key index holds {} entries but the head says {}; run `tla verify`",
                    keys.len(),
                    head.size
                ),
            });
        }
        Ok(Ledger {
            store,
            head,
            tenants,
            keys,
            poisoned: false,
        })
    }

    pub fn head(&self) -> Head {
        self.head
    }

    pub fn size(&self) -> u64 {
        self.head.size
    }

    /// Tenants with at least one entry, and their entry counts.
    pub fn tenants(&self) -> BTreeMap<String, u64> {
        self.tenants
            .iter()
            .map(|(t, h)| (t.clone(), h.next_seq))
            .collect()
    }

    /// Classifies a batch without writing: each event new, duplicate, or
    /// refused. `now_micros` is the ledger clock for the skew check.
    pub fn check(&self, events: &[Event], now_micros: i64) -> Result<Vec<Checked>, LedgerError> {
        self.check_with_fingerprints(events, now_micros)
            .map(|(checked, _)| checked)
    }

    /// `check`, also returning each event's key fingerprint for `append`.
    fn check_with_fingerprints(
        &self,
        events: &[Event],
        now_micros: i64,
    ) -> Result<(Vec<Checked>, Vec<u64>), LedgerError> {
        let mut outcomes = Vec::with_capacity(events.len());
        let mut fingerprints = Vec::with_capacity(events.len());
        let mut rejected = Vec::new();
        // Earlier events of the batch by fingerprint (confirmed by key).
        let mut in_batch = dedup::Index::default();
        let mut blocks = BlockCache::default();
        let now_seconds = now_micros.div_euclid(1_000_000);
        for (index, event) in events.iter().enumerate() {
            let (source, id) = event.key();
            let fingerprint = dedup::fingerprint(source, id);
            fingerprints.push(fingerprint);
            if event.time > now_seconds + CLOCK_SKEW_SECONDS_MAX {
                rejected.push((index, skew(event, now_micros)));
                outcomes.push(Checked::New);
                continue;
            }
            if let Some(position) =
                self.stored_duplicate(event, fingerprint, &mut blocks, index, &mut rejected)?
            {
                outcomes.push(Checked::Stored(position));
                continue;
            }
            let earlier = in_batch
                .candidates(fingerprint)
                .map(|other| other as usize)
                .find(|&other| events[other].key() == (source, id));
            match earlier {
                Some(other) if events[other].canonical() == event.canonical() => {
                    outcomes.push(Checked::RepeatOf(other));
                }
                Some(other) => {
                    let (producer, id) = (source.to_owned(), id.to_owned());
                    rejected.push((
                        index,
                        Rejection::ConflictInBatch {
                            producer,
                            id,
                            other,
                        },
                    ));
                    outcomes.push(Checked::New);
                }
                None => {
                    in_batch.insert(fingerprint, index as u64);
                    outcomes.push(Checked::New);
                }
            }
        }
        if !rejected.is_empty() {
            return Err(LedgerError::Rejected(rejected));
        }
        Ok((outcomes, fingerprints))
    }

    /// Appends a batch as one durable group commit: all of it or, if any
    /// event is refused, none of it. Returns each event's outcome once the
    /// entries are flushed to disk.
    pub fn append(
        &mut self,
        events: &[Event],
        now_micros: i64,
    ) -> Result<Vec<Outcome>, LedgerError> {
        if self.poisoned {
            return Err(LedgerError::Poisoned);
        }
        if events.len() > APPEND_EVENTS_MAX {
            return Err(LedgerError::TooLarge(events.len()));
        }
        let (checked, fingerprints) = self.check_with_fingerprints(events, now_micros)?;
        let record_time = now_micros.max(self.head.last_record_time.unwrap_or(i64::MIN));
        let mut pending = Pending::new(self, record_time);
        let mut outcomes = Vec::with_capacity(events.len());
        for ((event, outcome), fingerprint) in events.iter().zip(checked).zip(fingerprints) {
            outcomes.push(match outcome {
                Checked::New => Outcome::Appended(pending.add(event, fingerprint)),
                Checked::Stored(position) => Outcome::Duplicate(position),
                Checked::RepeatOf(earlier) => match outcomes[earlier] {
                    Outcome::Appended(p) | Outcome::Duplicate(p) => Outcome::Duplicate(p),
                },
            });
        }
        let (commit, new_keys, new_tenants, new_head) = pending.finish();
        if commit.blocks.is_empty() {
            return Ok(outcomes);
        }
        if let Err(error) = self.store.commit(commit) {
            self.poisoned = true;
            return Err(error.into());
        }
        for (fingerprint, position) in new_keys {
            self.keys.insert(fingerprint, position);
        }
        self.tenants.extend(new_tenants);
        self.head = new_head;
        Ok(outcomes)
    }

    /// Position of a stored event with the same key and content; a stored
    /// event with the same key and other content is a conflict.
    fn stored_duplicate(
        &self,
        event: &Event,
        fingerprint: u64,
        blocks: &mut BlockCache,
        index: usize,
        rejected: &mut Vec<(usize, Rejection)>,
    ) -> Result<Option<u64>, LedgerError> {
        let (source, id) = event.key();
        for position in self.keys.candidates(fingerprint) {
            let stored = blocks.event(&self.store, position)?;
            if stored == event.canonical() {
                return Ok(Some(position));
            }
            let stored_key: StoredKey =
                serde_json::from_slice(&stored).map_err(|error| LedgerError::Corrupt {
                    position,
                    detail: format!("stored event is not JSON: {error}"),
                })?;
            if stored_key.source == source && stored_key.id == id {
                let (source, id) = (source.to_owned(), id.to_owned());
                rejected.push((
                    index,
                    Rejection::Conflict {
                        producer: source,
                        id,
                        position,
                    },
                ));
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Position of the stored event with this (`source`, `id`), if any.
    pub fn find(&self, source: &str, id: &str) -> Result<Option<u64>, LedgerError> {
        let mut blocks = BlockCache::default();
        for position in self.keys.candidates(dedup::fingerprint(source, id)) {
            let stored = blocks.event(&self.store, position)?;
            let key: StoredKey =
                serde_json::from_slice(&stored).map_err(|error| LedgerError::Corrupt {
                    position,
                    detail: format!("stored event is not JSON: {error}"),
                })?;
            if key.source == source && key.id == id {
                return Ok(Some(position));
            }
        }
        Ok(None)
    }

    /// Entries from position `from` on, in order, streaming block by block.
    pub fn entries(&self, from: u64) -> impl Iterator<Item = Result<Entry, LedgerError>> + '_ {
        self.store
            .blocks(from)
            .flat_map(move |item| match item {
                Ok((first, bytes)) => decode_block(first, &bytes),
                Err(error) => vec![Err(error.into())],
            })
            .filter(move |entry| entry.as_ref().map_or(true, |e| e.record.position >= from))
    }

    /// One tenant's entries in position order, read through the tenant
    /// index: the cost follows the tenant's entries, not the ledger's size.
    pub fn tenant_entries<'a>(
        &'a self,
        tenant: &str,
    ) -> impl Iterator<Item = Result<Entry, LedgerError>> + 'a {
        self.store
            .tenant_positions(tenant)
            .flat_map(move |item| match item {
                Ok(positions) => self.entries_at(&positions),
                Err(error) => vec![Err(error.into())],
            })
    }

    /// The entries at `positions` (increasing), block by block.
    fn entries_at(&self, positions: &[u64]) -> Vec<Result<Entry, LedgerError>> {
        let mut out = Vec::with_capacity(positions.len());
        let mut block: Vec<Entry> = Vec::new();
        for &wanted in positions {
            let in_block = |b: &Vec<Entry>| {
                b.first().is_some_and(|e| e.record.position <= wanted)
                    && b.last().is_some_and(|e| e.record.position >= wanted)
            };
            if !in_block(&block) {
                match self.block_entries(wanted) {
                    Ok(entries) => block = entries,
                    Err(error) => {
                        out.push(Err(error));
                        return out;
                    }
                }
            }
            let found = block.iter().find(|e| e.record.position == wanted).cloned();
            out.push(found.ok_or_else(|| LedgerError::Corrupt {
                position: wanted,
                detail: "the tenant index names an entry no block holds".to_string(),
            }));
        }
        out
    }

    /// The decoded entries of the block holding `position`.
    fn block_entries(&self, position: u64) -> Result<Vec<Entry>, LedgerError> {
        let Some((first, bytes)) = self.store.block_containing(position)? else {
            let detail = "the tenant index names an entry no block holds".to_string();
            return Err(LedgerError::Corrupt { position, detail });
        };
        decode_block(first, &bytes).into_iter().collect()
    }

    /// The entry at `position`.
    pub fn entry(&self, position: u64) -> Result<Option<Entry>, LedgerError> {
        if position >= self.head.size {
            return Ok(None);
        }
        self.entries(position).next().transpose()
    }

    /// Recomputes every hash from the stored bytes and checks the chain
    /// against the stored head. `progress` is called with the number of
    /// entries checked so far, once per block. The outer error is a storage
    /// failure; the inner one what is wrong with the chain.
    pub fn verify(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<Result<Summary, Failure>, LedgerError> {
        let mut verifier = Verifier::new();
        let mut seen = 0u64;
        for item in self.store.blocks(0) {
            let (first, bytes) = item?;
            let records = match block::records(&bytes) {
                Ok(records) => records,
                Err(error) => return Ok(Err(corrupt_block(seen, first, error))),
            };
            for record in records {
                let (bytes, stored_hash) = match record {
                    Ok(found) => found,
                    Err(error) => return Ok(Err(corrupt_block(seen, first, error))),
                };
                if let Err(failure) = verifier.push(bytes, Some(stored_hash)) {
                    return Ok(Err(failure));
                }
                seen += 1;
            }
            progress(seen);
        }
        Ok(verifier.finish(Some((self.head.size, self.head.hash))))
    }

    /// Writes the export format of `docs/FORMAT.md`.
    pub fn export(
        &self,
        out: &mut dyn std::io::Write,
        tenant: Option<&str>,
    ) -> Result<export::ExportSummary, export::ExportError> {
        export::write(self, out, tenant)
    }

    #[cfg(test)]
    pub(crate) fn store(&self) -> &store::Store {
        &self.store
    }
}

fn corrupt_block(seen: u64, first: u64, error: block::BlockError) -> Failure {
    Failure::Corrupt {
        position: seen,
        detail: format!("block starting at {first}: {error}"),
    }
}

fn skew(event: &Event, now_micros: i64) -> Rejection {
    let (source, id) = event.key();
    Rejection::ClockSkew {
        producer: source.to_owned(),
        id: id.to_owned(),
        time: rfc3339(event.time * 1_000_000),
        now: rfc3339(now_micros),
    }
}

/// Microseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{micros} µs since the epoch"))
}

#[derive(serde::Deserialize)]
struct StoredKey {
    source: String,
    id: String,
}

fn decode_block(first: u64, bytes: &[u8]) -> Vec<Result<Entry, LedgerError>> {
    let corrupt = |detail: String| LedgerError::Corrupt {
        position: first,
        detail,
    };
    let records = match block::records(bytes) {
        Ok(records) => records,
        Err(error) => return vec![Err(corrupt(error.to_string()))],
    };
    records
        .map(|item| {
            let (bytes, hash) = item.map_err(|e| corrupt(e.to_string()))?;
            let record = Record::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
            Ok(Entry { record, hash })
        })
        .collect()
}

/// Decoded blocks read during one `check`, so that re-importing a file of
/// duplicates reads each block once rather than once per event.
#[derive(Default)]
struct BlockCache {
    blocks: BTreeMap<u64, Vec<Entry>>,
}

/// Blocks a `BlockCache` keeps at most; beyond this it starts afresh.
const BLOCK_CACHE_MAX: usize = 64;

impl BlockCache {
    fn event(&mut self, store: &store::Store, position: u64) -> Result<Vec<u8>, LedgerError> {
        let cached = self.blocks.range(..=position).next_back();
        if let Some((_, entries)) = cached {
            if let Some(entry) = entries.iter().find(|e| e.record.position == position) {
                return Ok(entry.record.event.clone());
            }
        }
        let Some((first, bytes)) = store.block_containing(position)? else {
            let detail = "the key index names an entry no block holds".to_string();
            return Err(LedgerError::Corrupt { position, detail });
        };
        let entries = decode_block(first, &bytes)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let found = entries
            .iter()
            .find(|e| e.record.position == position)
            .map(|e| e.record.event.clone());
        if self.blocks.len() >= BLOCK_CACHE_MAX {
            self.blocks.clear();
        }
        self.blocks.insert(first, entries);
        found.ok_or_else(|| LedgerError::Corrupt {
            position,
            detail: "the key index names an entry its block lacks".to_string(),
        })
    }
}

/// The records of one append being built, before they are committed.
struct Pending<'a> {
    committed: &'a HashMap<String, store::TenantHead>,
    record_time: i64,
    head: Head,
    /// Heads of the tenants this append touched.
    tenants: HashMap<String, store::TenantHead>,
    /// Position of the append's first entry.
    first: u64,
    /// The block being filled; per tenant its positions in this append.
    block: block::Builder,
    block_tenants: BTreeMap<String, Vec<u64>>,
    block_fingerprints: Vec<u64>,
    commit: store::Commit,
    new_keys: Vec<(u64, u64)>,
}

type Finished = (
    store::Commit,
    Vec<(u64, u64)>,
    HashMap<String, store::TenantHead>,
    Head,
);

impl<'a> Pending<'a> {
    fn new(ledger: &'a Ledger, record_time: i64) -> Pending<'a> {
        Pending {
            committed: &ledger.tenants,
            record_time,
            head: ledger.head,
            first: ledger.head.size,
            tenants: HashMap::new(),
            block: block::Builder::new(),
            block_tenants: BTreeMap::new(),
            block_fingerprints: Vec::new(),
            commit: store::Commit::default(),
            new_keys: Vec::new(),
        }
    }

    /// The tenant's head as of this append, inserted on first touch.
    fn tenant_head(&mut self, tenant: &str) -> &mut store::TenantHead {
        if !self.tenants.contains_key(tenant) {
            let committed = self.committed.get(tenant).copied();
            let head = committed.unwrap_or(store::TenantHead {
                next_seq: 0,
                last_hash: ZERO_HASH.0,
            });
            self.tenants.insert(tenant.to_owned(), head);
        }
        self.tenants.get_mut(tenant).expect("inserted above")
    }

    /// Chains one event; returns its position.
    fn add(&mut self, event: &Event, fingerprint: u64) -> u64 {
        let position = self.head.size;
        let (record_time, prev_hash) = (self.record_time, self.head.hash);
        let tenant_head = *self.tenant_head(&event.tenant);
        let fields = record::Fields {
            position,
            record_time,
            prev_hash,
            tenant_seq: tenant_head.next_seq,
            tenant_prev_hash: Hash(tenant_head.last_hash),
            tenant: &event.tenant,
            event: event.canonical(),
        };
        let hash = self.block.push(&fields);
        *self.tenant_head(&event.tenant) = store::TenantHead {
            next_seq: tenant_head.next_seq + 1,
            last_hash: hash.0,
        };
        match self.block_tenants.get_mut(event.tenant.as_str()) {
            Some(positions) => positions.push(position),
            None => {
                self.block_tenants
                    .insert(event.tenant.clone(), vec![position]);
            }
        }
        self.head = Head {
            size: position + 1,
            hash,
            last_record_time: Some(record_time),
        };
        self.new_keys.push((fingerprint, position));
        self.block_fingerprints.push(fingerprint);
        if self.block.len() == block::BLOCK_ENTRIES_MAX
            || self.block.bytes_len() >= block::BLOCK_BYTES_MAX
        {
            self.seal();
        }
        position
    }

    /// Closes the block being filled.
    fn seal(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let first = self.head.size - self.block.len() as u64;
        let value = std::mem::take(&mut self.block).finish();
        self.commit.blocks.push((first, value));
    }

    fn finish(mut self) -> Finished {
        self.seal();
        let head = self.head;
        let first = self.first;
        // One index value per tenant and one fingerprint value per append,
        // however many blocks it filled: sled costs per insert.
        for (tenant, positions) in std::mem::take(&mut self.block_tenants) {
            let tenant_head = self.tenants[&tenant];
            if !self.committed.contains_key(&tenant) {
                self.commit.new_tenants.push(tenant.clone());
            }
            self.commit
                .tenant_index
                .push((tenant, first, positions, tenant_head));
        }
        if !self.block_fingerprints.is_empty() {
            let fingerprints = std::mem::take(&mut self.block_fingerprints);
            self.commit.fingerprints.push((first, fingerprints));
        }
        self.commit.head = Some(store::Head {
            size: head.size,
            hash: head.hash.0,
            last_record_time: head.last_record_time.unwrap_or(0),
        });
        (self.commit, self.new_keys, self.tenants, head)
    }
}
