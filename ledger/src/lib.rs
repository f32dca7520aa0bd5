//! The append-only, BLAKE3 hash-chained ledger.
//!
//! `Ledger` is the one handle on a ledger directory: `append` adds a batch
//! of validated events as one durable group commit (idempotent on
//! (`tenant`, `source`, `id`)), and the readers (`entries`, `tenant_entries`,
//! `verify`, `export`) stream what is stored. The record format is in
//! `record`, the container in `block`, sled only in `store`, chain checking
//! in `chain` (pure, shared with export verification).

pub mod block;
pub mod chain;
pub mod checkpoint;
pub mod dedup;
pub mod export;
pub mod merkle;
pub mod prefix;
mod read;
pub mod record;
pub mod replicate;
pub mod segment;
pub mod store;
pub mod tiles;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use schemas::Event;

pub use chain::{Failure, Summary, Verifier};
pub use record::{Hash, Record, ZERO_HASH};
pub use store::{DirLock, OpenMode, StoreError};

/// Most events one `append` takes. An append is one sled batch held in
/// memory until flushed; 64k events of a few hundred bytes is ~25 MB.
pub const APPEND_EVENTS_MAX: usize = 65_536;

/// Entries `Ledger::verify_dir` checks between reopening the store: some
/// 40 MB of records, which bounds the pages sled holds at once, while the
/// reopening (sled's recovery, about 50 ms) adds a few per cent.
pub const VERIFY_REOPEN_ENTRIES: u64 = 100_000;

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

/// Who a ledger is, for telling ledgers apart (`Ledger::identity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The ledger id in hex: 128 random bits chosen when it was created.
    pub id: String,
    /// The hash of entry 0, once there is one: a copy of a ledger keeps
    /// its id, so the history it starts with tells copies made before
    /// their first entry apart.
    pub first_entry: Option<Hash>,
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
         same tenant, source and id, different content"
    )]
    Conflict {
        producer: String,
        id: String,
        position: u64,
    },
    #[error(
        "event (source {producer:?}, id {id:?}) conflicts with event {other} of the same batch: \
         same tenant, source and id, different content"
    )]
    ConflictInBatch {
        producer: String,
        id: String,
        other: usize,
    },
    #[error(
        "event (source {producer:?}, id {id:?}) has time {time} more than {CLOCK_SKEW_SECONDS_MAX} s \
         after {against} ({now}); check the producer's clock"
    )]
    ClockSkew {
        producer: String,
        id: String,
        time: String,
        now: String,
        /// What the time was judged against (`SkewClock::describe`).
        against: &'static str,
    },
    #[error(
        "event (source {producer:?}, id {id:?}) was refused before, and a refused event stays \
         refused: {reason}"
    )]
    RefusedBefore {
        producer: String,
        id: String,
        reason: String,
    },
}

/// What an event's `time` is judged against for clock skew (SEMANTICS.md
/// section 2: at most `CLOCK_SKEW_SECONDS_MAX` after it).
#[derive(Debug, Clone, Copy)]
pub enum SkewClock<'a> {
    /// The ledger's clock at the append (`tla import`, `tla report issue`).
    Ledger,
    /// Per event, the instant (microseconds since the epoch) its stream
    /// received it: replaying the stream later judges it the same way.
    Received(&'a [i64]),
}

impl SkewClock<'_> {
    /// The reference instant of event `index`.
    fn at(&self, index: usize, now_micros: i64) -> i64 {
        match self {
            SkewClock::Ledger => now_micros,
            SkewClock::Received(times) => times.get(index).copied().unwrap_or(now_micros),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            SkewClock::Ledger => "the ledger's clock",
            SkewClock::Received(_) => "the time the event stream received it",
        }
    }
}

/// How an append judges its events and what it stores beside them.
#[derive(Debug, Clone, Copy)]
pub struct AppendOptions<'a> {
    /// The ledger clock: the record time of the new entries.
    pub now_micros: i64,
    /// What clock skew is judged against.
    pub skew: SkewClock<'a>,
    /// A consumer cursor (name, source sequence) stored in the same
    /// atomic batch; stored even when no event is new.
    pub cursor: Option<(&'a str, u64)>,
    /// Events the caller refused, with the reason, to remember in the same
    /// atomic batch: the same event is then refused again on a replay
    /// (`Rejection::RefusedBefore`).
    pub refused: &'a [(&'a Event, String)],
}

impl AppendOptions<'_> {
    /// Options that judge by the ledger clock and store nothing beside the
    /// entries.
    pub fn at(now_micros: i64) -> AppendOptions<'static> {
        AppendOptions {
            now_micros,
            skew: SkewClock::Ledger,
            cursor: None,
            refused: &[],
        }
    }
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
    #[error("the ledger has {ledger_size} entries; there is no tree of size {size}")]
    BeyondSize { size: u64, ledger_size: u64 },
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(
        "refusing to sign: the stored checkpoint of size {size} has root {stored} but the \
         ledger's tree of that size has root {computed}; the ledger's past was changed \
         (run `tla verify`)"
    )]
    InconsistentCheckpoint {
        size: u64,
        stored: String,
        computed: String,
    },
    #[error(
        "refusing to sign: the latest stored checkpoint has size {stored}, more than the \
         ledger's {size} entries; the ledger was truncated"
    )]
    TruncatedCheckpoint { stored: u64, size: u64 },
}

impl From<tiles::TileError<StoreError>> for LedgerError {
    fn from(error: tiles::TileError<StoreError>) -> LedgerError {
        match error {
            tiles::TileError::Source(error) => LedgerError::Store(error),
            tiles::TileError::Beyond { size, tree_size } => LedgerError::BeyondSize {
                size,
                ledger_size: tree_size,
            },
            tiles::TileError::Missing { level, index, .. }
            | tiles::TileError::Malformed { level, index, .. } => LedgerError::Corrupt {
                position: tile_first_position(level, index),
                detail: format!("{error}; run `tla verify`"),
            },
        }
    }
}

/// The first ledger position a Merkle tile covers.
fn tile_first_position(level: u8, index: u64) -> u64 {
    let shift = (u32::from(level) + 1) * tiles::TILE_HEIGHT;
    index.checked_shl(shift).unwrap_or(u64::MAX)
}

/// What `Ledger::migrate` found and left.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// The store format found (`store::FORMAT_VERSION` when there was
    /// nothing to do).
    pub found: u32,
    pub head: Head,
    pub root: merkle::Digest,
}

/// The handle on one ledger directory.
pub struct Ledger {
    store: store::Store,
    head: Head,
    tenants: HashMap<String, TenantHead>,
    /// Loaded on first use (only writers and `find` need it); an append
    /// that finds it not yet loaded leaves it so, and the load then reads
    /// what the append stored.
    keys: OnceLock<Keys>,
    /// Per tenant looked up, whether an `agreement.published` of it is
    /// stored (`has_agreement`).
    agreements: HashMap<String, bool>,
    /// The Merkle tree's right edge, for the tiles the next append writes.
    edge: tiles::Edge,
    /// Set when a write or sync failed: the state on disk is then unknown
    /// to this process, and appends are refused until the ledger is reopened.
    poisoned: Arc<AtomicBool>,
}

impl Ledger {
    /// Opens the ledger in `dir`, creating an empty one if absent
    /// (`OpenMode::Create`): for writers.
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_in(dir, OpenMode::Create)
    }

    /// Opens the ledger that is in `dir`; `StoreError::NoLedger`, with
    /// nothing created, when there is none (`OpenMode::Existing`): for
    /// readers.
    pub fn open_existing(dir: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_in(dir, OpenMode::Existing)
    }

    /// Opens the ledger that this process has just closed in `dir`. sled
    /// lets go of its lock only when its background threads end, which can
    /// lag the drop by a moment, so a lock still held is waited out briefly
    /// (`store::Store::reopen`); `open` never waits, since there a lock
    /// means another process.
    pub fn reopen(dir: &Path) -> Result<Ledger, LedgerError> {
        Ledger::from_store(store::Store::reopen(dir)?)
    }

    /// Opens the ledger in `dir` as `mode` says.
    pub fn open_in(dir: &Path, mode: OpenMode) -> Result<Ledger, LedgerError> {
        Ledger::from_store(store::Store::open(dir, mode)?)
    }

    /// `open_in` with the segment files reached through `fs` (a test
    /// records the order of the writes and syncs through it) and `progress`
    /// told (entries done, entries in all) while an older store's blocks
    /// are migrated to segment files.
    pub fn open_with(
        dir: &Path,
        mode: OpenMode,
        fs: Arc<dyn segment::SegmentFs>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Ledger, LedgerError> {
        Ledger::from_store(store::Store::open_with(dir, mode, fs, progress)?)
    }

    /// Converts the ledger in `dir` to the current store format (its
    /// blocks into segment files, and the Merkle tiles of a format-2 store)
    /// if it is older, with `progress` told (entries done, entries in all)
    /// as the blocks move. Returns the format found, and the ledger's
    /// head and Merkle root after: the same as before, since no entry's
    /// bytes change.
    pub fn migrate(
        dir: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Migrated, LedgerError> {
        let ledger = Ledger::open_with(dir, OpenMode::Existing, Arc::new(segment::OsFs), progress)?;
        let head = ledger.head();
        let root = ledger.merkle_root(head.size)?;
        let found = ledger.store.found_format();
        Ok(Migrated { found, head, root })
    }

    /// Who this ledger is: its random id and its first entry's hash. `None`
    /// for a ledger from before ledgers had ids that was only opened
    /// `OpenMode::Existing` since (any writable open gives it one).
    pub fn identity(&self) -> Result<Option<Identity>, LedgerError> {
        let Some(id) = self.store.ledger_id()? else {
            return Ok(None);
        };
        let first_entry = self.entry(0)?.map(|entry| entry.hash);
        Ok(Some(Identity {
            id: hex::encode(id),
            first_entry,
        }))
    }

    /// The directory the ledger was opened in.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// Records, durably, that the durable consumer `consumer` of the
    /// stream `stream` feeds this ledger (its cursor is `cursor(consumer)`).
    pub fn record_consumer(&self, consumer: &str, stream: &str) -> Result<(), LedgerError> {
        Ok(self.store.put_owner(consumer, stream)?)
    }

    /// The stream of the consumer `consumer`, if `record_consumer` stored one.
    pub fn consumer_stream(&self, consumer: &str) -> Result<Option<String>, LedgerError> {
        Ok(self.store.owner(consumer)?)
    }

    /// The ledger over an open store, upgrading an older store format.
    fn from_store(store: store::Store) -> Result<Ledger, LedgerError> {
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
        let tenants = tenant_heads(&store)?;
        let mut ledger = Ledger {
            store,
            head,
            tenants,
            keys: OnceLock::new(),
            agreements: HashMap::new(),
            edge: tiles::Edge::new(),
            poisoned: Arc::new(AtomicBool::new(false)),
        };
        if ledger.store.format() == store::FORMAT_VERSION_UPGRADABLE {
            ledger.upgrade_tiles()?;
        }
        ledger.edge = tiles::Edge::load(&ledger.store, ledger.head.size)?;
        Ok(ledger)
    }

    /// Upgrades a format-2 store: computes the Merkle tiles from the
    /// stored entries, writes them, and only then marks the format, so an
    /// interrupted upgrade starts over.
    fn upgrade_tiles(&mut self) -> Result<(), LedgerError> {
        let mut edge = tiles::Edge::new();
        let mut leaves = Vec::with_capacity(tiles::TILE_WIDTH);
        let mut writes = Vec::new();
        for entry in self.entries(0) {
            leaves.push(merkle::leaf_hash(&entry?.record.encode()));
            if leaves.len() == APPEND_EVENTS_MAX {
                writes.extend(edge.push_all(&leaves));
                leaves.clear();
            }
        }
        writes.extend(edge.push_all(&leaves));
        // Later writes of the same tile supersede earlier ones.
        self.store.put_tiles(writes)?;
        self.store.set_current_format()?;
        Ok(())
    }

    /// The dedup index and the refused events, loaded from the append
    /// layouts and the stored refusals on first use: only writers and
    /// `find` need them, so readers (reports, `log`) open a large ledger
    /// without reading every layout.
    fn keys(&self) -> Result<&Keys, LedgerError> {
        if let Some(keys) = self.keys.get() {
            return Ok(keys);
        }
        let mut index = dedup::Index::default();
        for item in self.store.layouts(0) {
            let (first, layout) = item?;
            for (offset, fingerprint) in layout.fingerprints.iter().enumerate() {
                index.insert(*fingerprint, first + offset as u64);
            }
        }
        if index.len() as u64 != self.head.size {
            return Err(LedgerError::Corrupt {
                position: index.len() as u64,
                detail: format!(
                    "the key index holds {} entries but the head says {}; run `tla verify`",
                    index.len(),
                    self.head.size
                ),
            });
        }
        let mut refusals = dedup::Refusals::default();
        for digest in self.store.refusals() {
            refusals.insert(&digest?);
        }
        Ok(self.keys.get_or_init(|| Keys { index, refusals }))
    }

    /// Whether an `agreement.published` of `tenant` is stored. The answer
    /// is remembered per tenant (appends keep it true); finding it reads
    /// the tenant's entries up to its first agreement, which is usually
    /// its first entry.
    pub fn has_agreement(&mut self, tenant: &str) -> Result<bool, LedgerError> {
        if let Some(known) = self.agreements.get(tenant) {
            return Ok(*known);
        }
        let mut found = false;
        if self.tenants.contains_key(tenant) {
            for entry in self.tenant_entries(tenant) {
                let entry = entry?;
                if is_agreement(&entry.record.event, entry.record.position)? {
                    found = true;
                    break;
                }
            }
        }
        self.agreements.insert(tenant.to_owned(), found);
        Ok(found)
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
        self.check_with_fingerprints(events, now_micros, SkewClock::Ledger)
            .map(|(checked, _)| checked)
    }

    /// `check`, also returning each event's key fingerprint for `append`.
    fn check_with_fingerprints(
        &self,
        events: &[Event],
        now_micros: i64,
        skew_clock: SkewClock<'_>,
    ) -> Result<(Vec<Checked>, Vec<u64>), LedgerError> {
        let mut outcomes = Vec::with_capacity(events.len());
        let mut fingerprints = Vec::with_capacity(events.len());
        let mut rejected = Vec::new();
        // Earlier events of the batch by fingerprint (confirmed by key).
        let mut in_batch = dedup::Index::with_capacity(events.len());
        let mut blocks = AppendCache::default();
        let keys = self.keys()?;
        for (index, event) in events.iter().enumerate() {
            let (source, id) = event.key();
            let fingerprint = dedup::fingerprint(source, id);
            fingerprints.push(fingerprint);
            let judged_at = skew_clock.at(index, now_micros);
            if event.time > judged_at.div_euclid(1_000_000) + CLOCK_SKEW_SECONDS_MAX {
                rejected.push((index, skew(event, judged_at, skew_clock.describe())));
                outcomes.push(Checked::New);
                continue;
            }
            if let Some(reason) = self.refused_before(keys, event)? {
                let (producer, id) = (source.to_owned(), id.to_owned());
                let rejection = Rejection::RefusedBefore {
                    producer,
                    id,
                    reason,
                };
                rejected.push((index, rejection));
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
                .find(|&other| {
                    events[other].key() == (source, id) && events[other].tenant == event.tenant
                });
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
        let outcomes = self.append_unsynced(events, now_micros)?;
        self.syncer().sync()?;
        Ok(outcomes)
    }

    /// Applies a batch atomically (all or nothing, like `append`) without
    /// waiting for it to reach the disk: it is durable once a
    /// `Syncer::sync` begun after this call has returned. Acknowledge
    /// nothing before then. This lets a writer apply the next batch while
    /// the previous one is being synced (a pipelined group commit).
    pub fn append_unsynced(
        &mut self,
        events: &[Event],
        now_micros: i64,
    ) -> Result<Vec<Outcome>, LedgerError> {
        self.append_unsynced_with(events, AppendOptions::at(now_micros))
    }

    /// `append_unsynced` with what `options` adds: clock skew judged per
    /// event, a consumer cursor (name, source sequence) and refused events
    /// to remember, stored in the same atomic batch as the entries, so that
    /// the cursor never claims more than what is stored and a refusal is
    /// remembered exactly when the append that came with it is. The cursor
    /// and refusals are stored even when no event is new (or there are none).
    pub fn append_unsynced_with(
        &mut self,
        events: &[Event],
        options: AppendOptions<'_>,
    ) -> Result<Vec<Outcome>, LedgerError> {
        let (prepared, outcomes) = self.build(events, options, false)?;
        self.commit_prepared(prepared, None)?;
        Ok(outcomes)
    }

    /// Builds an append without applying it (`append_unsynced_with` and
    /// `prepare_with`): the checks, the chained records, and what is stored
    /// beside them; with `collect`, a copy of each record's bytes.
    fn build(
        &mut self,
        events: &[Event],
        options: AppendOptions<'_>,
        collect: bool,
    ) -> Result<(replicate::Prepared, Vec<Outcome>), LedgerError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LedgerError::Poisoned);
        }
        if events.len() > APPEND_EVENTS_MAX {
            return Err(LedgerError::TooLarge(events.len()));
        }
        let now_micros = options.now_micros;
        let (checked, fingerprints) =
            self.check_with_fingerprints(events, now_micros, options.skew)?;
        let record_time = now_micros.max(self.head.last_record_time.unwrap_or(i64::MIN));
        let mut pending = writer::Pending::new(&self.tenants, self.head, record_time);
        if collect {
            pending.collect_records();
        }
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
        let records = pending.take_records();
        let (mut commit, new_keys, new_tenants, new_head, leaves) = pending.finish();
        commit.cursors = options
            .cursor
            .map(|(name, sequence)| (name.to_owned(), sequence))
            .into_iter()
            .collect();
        commit.refused = options
            .refused
            .iter()
            .map(|(event, reason)| (dedup::refusal_digest(event.canonical()), reason.clone()))
            .collect();
        let agreed = events
            .iter()
            .filter(|e| e.event_type == schemas::EventType::AgreementPublished)
            .map(|e| e.tenant.clone())
            .collect();
        let prepared = replicate::Prepared {
            base: self.head,
            finished: (commit, new_keys, new_tenants, new_head, leaves),
            agreed,
            records,
        };
        Ok((prepared, outcomes))
    }

    /// Writes a built append (one atomic batch, unsynced) and updates what
    /// this handle knows: keys, refusals, agreements, tenant heads, head,
    /// the Merkle edge. A failed write poisons the ledger.
    fn apply_commit(
        &mut self,
        finished: writer::Finished,
        agreed: Vec<String>,
    ) -> Result<(), LedgerError> {
        let (mut commit, new_keys, new_tenants, new_head, leaves) = finished;
        let mut edge = self.edge.clone();
        commit.tiles = edge.push_all(&leaves);
        let refused: Vec<[u8; 32]> = commit.refused.iter().map(|(d, _)| *d).collect();
        if let Err(error) = self.store.apply(commit) {
            self.poisoned.store(true, Ordering::Release);
            return Err(error.into());
        }
        // An index not loaded yet is loaded from the store, which now holds
        // this append too; one already loaded learns it here.
        if let Some(keys) = self.keys.get_mut() {
            for (fingerprint, position) in new_keys {
                keys.index.insert(fingerprint, position);
            }
            for digest in &refused {
                keys.refusals.insert(digest);
            }
        }
        for tenant in agreed {
            self.agreements.insert(tenant, true);
        }
        self.tenants.extend(new_tenants);
        self.head = new_head;
        self.edge = edge;
        Ok(())
    }

    /// Applies records another ledger made, byte for byte: a replica
    /// following the leader's commit log, or a restore. Each comes with the
    /// hash the leader computed for it, and is checked before it is taken:
    /// that it decodes, is in the one canonical record form, hashes to the
    /// leader's hash (so an altered record is caught at itself, not only
    /// at the next one's link), extends this ledger (position, ledger
    /// chain, tenant chain, record time), and holds an event of its tenant.
    /// The records before the first one that fails are applied (one atomic
    /// batch, unsynced like `append_unsynced`), none from it on, and the
    /// error names its position. Returns the ledger's head after them.
    pub fn apply_records_unsynced<R: AsRef<[u8]>>(
        &mut self,
        records: &[(R, Hash)],
    ) -> Result<Head, ReplicaError> {
        self.apply_records_with(records, Vec::new(), Vec::new())
    }

    /// `apply_records_unsynced` with cursors and refusals stored in the
    /// same batch as the records (`Ledger::apply_segment`), also when no
    /// record is applied.
    pub(crate) fn apply_records_with<R: AsRef<[u8]>>(
        &mut self,
        records: &[(R, Hash)],
        cursors: Vec<(String, u64)>,
        refusals: Vec<([u8; 32], String)>,
    ) -> Result<Head, ReplicaError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(LedgerError::Poisoned.into());
        }
        if records.len() > APPEND_EVENTS_MAX {
            return Err(LedgerError::TooLarge(records.len()).into());
        }
        let mut pending = writer::Pending::new(&self.tenants, self.head, 0);
        let mut agreed = Vec::new();
        let mut refused = None;
        for (offset, (bytes, hash)) in records.iter().enumerate() {
            let bytes = bytes.as_ref();
            let position = self.head.size + offset as u64;
            match check_record(&mut pending, (bytes, *hash), position) {
                Ok(Some(tenant)) => agreed.push(tenant),
                Ok(None) => {}
                Err(detail) => {
                    refused = Some(ReplicaError::Refused { position, detail });
                    break;
                }
            }
        }
        let mut finished = pending.finish();
        if refused.is_none() {
            // Stored only with the whole segment: a refused record stops
            // the replica before its cursor.
            finished.0.cursors = cursors;
            finished.0.refused = refusals;
        }
        if !finished.0.is_empty() {
            self.apply_commit(finished, agreed)?;
        }
        match refused {
            Some(error) => Err(error),
            None => Ok(self.head),
        }
    }
    /// Appends batches in a pipeline: each batch is applied while the one
    /// before it is being synced on a second thread, and `durable` gets
    /// each batch's outcomes, in order, only once that batch is on disk.
    /// Stops at the first error, after reporting the batch whose sync was
    /// under way; batches not reported may or may not be on disk (appends
    /// are idempotent, so the caller retries them).
    pub fn append_pipelined<'e>(
        &mut self,
        batches: impl IntoIterator<Item = &'e [Event]>,
        now_micros: impl Fn() -> i64,
        mut durable: impl FnMut(Vec<Outcome>),
    ) -> Result<(), LedgerError> {
        let syncer = self.syncer();
        let (request, requests) = std::sync::mpsc::sync_channel::<()>(1);
        let (synced, syncs) = std::sync::mpsc::sync_channel::<Result<(), LedgerError>>(1);
        std::thread::scope(move |scope| {
            scope.spawn(move || {
                for () in requests {
                    if synced.send(syncer.sync()).is_err() {
                        break;
                    }
                }
            });
            // Waits for the sync of the batch in flight and reports it.
            let mut wait = |in_flight: &mut Option<Vec<Outcome>>| -> Result<(), LedgerError> {
                if let Some(outcomes) = in_flight.take() {
                    // The sync thread answers every request it receives.
                    syncs.recv().map_err(|_| LedgerError::Poisoned)??;
                    durable(outcomes);
                }
                Ok(())
            };
            let mut in_flight = None;
            let mut result = Ok(());
            for batch in batches {
                let outcomes = match self.append_unsynced(batch, now_micros()) {
                    Ok(outcomes) => outcomes,
                    Err(error) => {
                        // The batch in flight is still made durable and reported.
                        result = wait(&mut in_flight).and(Err(error));
                        break;
                    }
                };
                if let Err(error) = wait(&mut in_flight) {
                    result = Err(error);
                    break;
                }
                // The sync thread runs until `request` is dropped below.
                if request.send(()).is_err() {
                    result = Err(LedgerError::Poisoned);
                    break;
                }
                in_flight = Some(outcomes);
            }
            if result.is_ok() {
                result = wait(&mut in_flight);
            }
            // Ends the sync thread, which the scope then joins.
            drop(request);
            result
        })
    }

    /// The Merkle tree (RFC 6962, SHA-256) of the first `size` entries, read
    /// from the stored tiles.
    fn tree(&self, size: u64) -> Result<tiles::Tree<'_, store::Store>, LedgerError> {
        if size > self.head.size {
            return Err(LedgerError::BeyondSize {
                size,
                ledger_size: self.head.size,
            });
        }
        Ok(tiles::Tree::new(&self.store, size))
    }

    /// The Merkle root of the first `size` entries.
    pub fn merkle_root(&self, size: u64) -> Result<merkle::Digest, LedgerError> {
        Ok(self.tree(size)?.root(size)?)
    }

    /// The Merkle leaf hash of the entry at `position`.
    pub fn leaf_hash(&self, position: u64) -> Result<merkle::Digest, LedgerError> {
        Ok(self.tree(position.saturating_add(1))?.leaf(position)?)
    }

    /// The inclusion proof of entry `index` in the tree of the first `size`
    /// entries. Reads O(log n) tiles.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<merkle::Digest>, LedgerError> {
        let tree = self.tree(size)?;
        if index >= size {
            return Err(LedgerError::BeyondSize {
                size: index + 1,
                ledger_size: size,
            });
        }
        Ok(tree.inclusion_proof(index, size)?)
    }

    /// The consistency proof from the tree of the first `size1` entries to
    /// that of the first `size2`.
    pub fn consistency_proof(
        &self,
        size1: u64,
        size2: u64,
    ) -> Result<Vec<merkle::Digest>, LedgerError> {
        let tree = self.tree(size2)?;
        if size1 == 0 || size1 > size2 {
            return Err(LedgerError::BeyondSize {
                size: size1,
                ledger_size: size2,
            });
        }
        Ok(tree.consistency_proof(size1, size2)?)
    }

    /// Signs a checkpoint of the whole ledger, stores it durably and returns
    /// its note. Refuses when the latest stored checkpoint is not a prefix
    /// of the ledger as it is now: the writer never signs a checkpoint
    /// inconsistent with its previous one. Signing the same size again
    /// returns the stored note.
    pub fn sign_checkpoint(&self, signer: &checkpoint::Signer) -> Result<String, LedgerError> {
        let size = self.head.size;
        let root = self.merkle_root(size)?;
        if let Some((stored_size, note)) = self.latest_checkpoint()? {
            let stored = checkpoint::read_unverified(&note)?;
            if stored_size > size {
                return Err(LedgerError::TruncatedCheckpoint {
                    stored: stored_size,
                    size,
                });
            }
            let computed = self.merkle_root(stored_size)?;
            if computed != stored.root {
                return Err(LedgerError::InconsistentCheckpoint {
                    size: stored_size,
                    stored: hex::encode(stored.root),
                    computed: hex::encode(computed),
                });
            }
            if stored_size == size && stored.origin == signer.name() {
                return Ok(note);
            }
        }
        let note = signer.sign(&checkpoint::Checkpoint::new(signer.name(), size, root));
        self.store.put_checkpoint(size, &note)?;
        Ok(note)
    }

    /// The stored checkpoint of the largest tree size: (size, note).
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, LedgerError> {
        Ok(self.store.checkpoints(0).next_back().transpose()?)
    }

    /// The stored checkpoint of the smallest tree size at least `size`.
    pub fn checkpoint_covering(&self, size: u64) -> Result<Option<(u64, String)>, LedgerError> {
        Ok(self.store.checkpoints(size).next().transpose()?)
    }

    /// A handle that makes what this ledger applied durable, usable from
    /// another thread.
    pub fn syncer(&self) -> Syncer {
        Syncer {
            store: self.store.syncer(),
            poisoned: Arc::clone(&self.poisoned),
        }
    }

    /// Why this very event was refused before, if it was.
    fn refused_before(&self, keys: &Keys, event: &Event) -> Result<Option<String>, LedgerError> {
        if keys.refusals.is_empty() {
            // The common case costs no digest.
            return Ok(None);
        }
        let digest = dedup::refusal_digest(event.canonical());
        if !keys.refusals.may_hold(&digest) {
            return Ok(None);
        }
        Ok(self.store.refusal(&digest)?)
    }

    /// Position of a stored event with the same key and content; a stored
    /// event with the same key (tenant, source, id) and other content is a
    /// conflict.
    fn stored_duplicate(
        &self,
        event: &Event,
        fingerprint: u64,
        blocks: &mut AppendCache,
        index: usize,
        rejected: &mut Vec<(usize, Rejection)>,
    ) -> Result<Option<u64>, LedgerError> {
        let (source, id) = event.key();
        for position in self.keys()?.index.candidates(fingerprint) {
            let stored = blocks.event(&self.store, position)?;
            if stored == event.canonical() {
                return Ok(Some(position));
            }
            let stored_key = StoredKey::parse(&stored, position)?;
            if stored_key.is(&event.tenant, source, id) {
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

    /// The consumer cursor `name` (the last source sequence an append
    /// stored with `append_unsynced_with_cursor`), if any.
    pub fn cursor(&self, name: &str) -> Result<Option<u64>, LedgerError> {
        Ok(self.store.cursor(name)?)
    }

    /// Position of the stored event with this key (`tenant`, `source`,
    /// `id`), if any.
    pub fn find(&self, tenant: &str, source: &str, id: &str) -> Result<Option<u64>, LedgerError> {
        let mut blocks = AppendCache::default();
        for position in self
            .keys()?
            .index
            .candidates(dedup::fingerprint(source, id))
        {
            let stored = blocks.event(&self.store, position)?;
            if StoredKey::parse(&stored, position)?.is(tenant, source, id) {
                return Ok(Some(position));
            }
        }
        Ok(None)
    }

    /// Entries from position `from` on, in order, streaming append by append.
    pub fn entries(&self, from: u64) -> impl Iterator<Item = Result<Entry, LedgerError>> + '_ {
        self.store
            .layouts(from)
            .flat_map(move |item| match item {
                Ok((first, layout)) => match read::append_entries(&self.store, first, &layout) {
                    Ok(entries) => entries.into_iter().map(Ok).collect(),
                    Err(error) => vec![Err(error)],
                },
                Err(error) => vec![Err(error.into())],
            })
            .filter(move |entry| entry.as_ref().map_or(true, |e| e.record.position >= from))
    }

    /// One tenant's entries in position order, read from that tenant's
    /// blocks alone: the cost follows the tenant's entries, not the
    /// ledger's size.
    pub fn tenant_entries<'a>(
        &'a self,
        tenant: &str,
    ) -> impl Iterator<Item = Result<Entry, LedgerError>> + 'a {
        self.store
            .all_tenant_blocks(tenant)
            .flat_map(|item| match item {
                Ok((first, bytes)) => match read::block_entries(first, &bytes) {
                    Ok(entries) => entries.into_iter().map(Ok).collect(),
                    Err(error) => vec![Err(error)],
                },
                Err(error) => vec![Err(error.into())],
            })
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
    /// entries checked so far, once per append. The outer error is a
    /// storage failure; the inner one what is wrong with the chain.
    pub fn verify(
        &self,
        progress: impl FnMut(u64),
    ) -> Result<Result<Summary, Failure>, LedgerError> {
        read::verify(&self.store, (self.head.size, self.head.hash), progress)
    }

    /// `verify` for a ledger no other handle in this process has open,
    /// with memory that stays flat however large the ledger: sled 0.34
    /// keeps every page it reads in memory until the database is closed
    /// (its cache only evicts pages it writes), so this closes and reopens
    /// the store every `VERIFY_REOPEN_ENTRIES` entries, carrying the
    /// verifier's state across.
    pub fn verify_dir(
        dir: &Path,
        progress: impl FnMut(u64),
    ) -> Result<Result<Summary, Failure>, LedgerError> {
        Ledger::verify_dir_reopening(dir, VERIFY_REOPEN_ENTRIES, progress)
    }

    /// `verify_dir`, reopening every `stretch` entries.
    fn verify_dir_reopening(
        dir: &Path,
        stretch: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<Result<Summary, Failure>, LedgerError> {
        let mut store = store::Store::open(dir, OpenMode::Existing)?;
        if store.format() != store::FORMAT_VERSION {
            // The ledger upgrades the store (it computes the tiles); a plain
            // store otherwise keeps verify able to judge a damaged one.
            store = Ledger::from_store(store)?.store;
        }
        let claimed = match store.head()? {
            Some(h) => (h.size, Hash(h.hash)),
            None => (0, ZERO_HASH),
        };
        let mut state = read::VerifyState::new(&store)?;
        let mut store = Some(store);
        loop {
            let open = match store.take() {
                Some(open) => open,
                None => store::Store::reopen(dir)?,
            };
            match state.run(&open, stretch, &mut progress)? {
                Err(failure) => return Ok(Err(failure)),
                Ok(true) => return state.finish(&open, claimed),
                // Dropping `open` closes the store and frees its pages.
                Ok(false) => drop(open),
            }
        }
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

fn skew(event: &Event, judged_at: i64, against: &'static str) -> Rejection {
    let (source, id) = event.key();
    Rejection::ClockSkew {
        producer: source.to_owned(),
        id: id.to_owned(),
        time: rfc3339(event.time * 1_000_000),
        now: rfc3339(judged_at),
        against,
    }
}

/// Why replicated records were not (all) applied.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(
        "the replicated record for ledger position {position} was refused: {detail}; \
         nothing from it on was applied"
    )]
    Refused { position: u64, detail: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Checks one replicated record (`Ledger::apply_records_unsynced`) and
/// adds it to the append being built; returns its tenant when it is an
/// `agreement.published`, or what is wrong with it. A refused record
/// leaves the append as it was.
fn check_record(
    pending: &mut writer::Pending<'_>,
    (bytes, leader_hash): (&[u8], Hash),
    position: u64,
) -> Result<Option<String>, String> {
    let computed = record::hash(bytes);
    if computed != leader_hash {
        return Err(format!(
            "its bytes hash to {computed}, but the leader's hash of it is {leader_hash}: \
             altered on the way"
        ));
    }
    let fields = record::Fields::decode(bytes).map_err(|e| format!("not a record: {e}"))?;
    if fields.tenant.is_empty() || fields.tenant.len() > record::TENANT_LEN_MAX {
        return Err(format!("its tenant is {} bytes long", fields.tenant.len()));
    }
    if fields.event.len() > record::EVENT_LEN_MAX {
        return Err(format!("its event is {} bytes long", fields.event.len()));
    }
    // The bytes stored are the canonical encoding of the fields, so the
    // hash this ledger computes is the one the leader computed.
    let mut canonical = Vec::with_capacity(bytes.len());
    fields.encode_into(&mut canonical);
    if canonical != bytes {
        return Err("its bytes are not the canonical encoding of its fields".into());
    }
    let key = StoredKey::parse(fields.event, position).map_err(|e| e.to_string())?;
    if key.tenant != fields.tenant {
        return Err(format!(
            "the record's tenant is {} but its event's is {}",
            fields.tenant, key.tenant
        ));
    }
    let agreement = is_agreement(fields.event, position).map_err(|e| e.to_string())?;
    pending.add_record(&fields, dedup::fingerprint(&key.source, &key.id))?;
    Ok(agreement.then(|| fields.tenant.to_owned()))
}

/// The dedup index and the refused events' digests (`Ledger::keys`).
struct Keys {
    index: dedup::Index,
    refusals: dedup::Refusals,
}

/// Whether a stored event is an `agreement.published`.
fn is_agreement(stored: &[u8], position: u64) -> Result<bool, LedgerError> {
    #[derive(serde::Deserialize)]
    struct StoredType<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    let stored: StoredType<'_> =
        serde_json::from_slice(stored).map_err(|error| LedgerError::Corrupt {
            position,
            detail: format!("stored event is not JSON: {error}"),
        })?;
    Ok(stored.kind == schemas::EventType::AgreementPublished.as_str())
}

/// Makes a ledger's applied appends durable (see `Ledger::append_unsynced`).
#[derive(Clone)]
pub struct Syncer {
    store: store::Syncer,
    poisoned: Arc<AtomicBool>,
}

impl Syncer {
    /// Makes everything applied before this call durable. A failure poisons
    /// the ledger: nothing applied since the last successful sync may be
    /// acknowledged, and appends are refused until it is reopened.
    pub fn sync(&self) -> Result<(), LedgerError> {
        self.store.sync().map_err(|error| {
            self.poisoned.store(true, Ordering::Release);
            LedgerError::from(error)
        })
    }
}

/// A tenant's head: the sequence number its next entry gets and its last
/// entry's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TenantHead {
    pub next_seq: u64,
    pub last_hash: Hash,
}

/// Every tenant's head, from the last record of its last block.
fn tenant_heads(store: &store::Store) -> Result<HashMap<String, TenantHead>, LedgerError> {
    let mut heads = HashMap::new();
    for tenant in store.tenants()? {
        let Some((first, bytes)) = store.last_tenant_block(&tenant)? else {
            let detail = format!("tenant {tenant} is recorded but has no blocks");
            return Err(LedgerError::Corrupt {
                position: 0,
                detail,
            });
        };
        let Some(last) = read::block_entries(first, &bytes)?.pop() else {
            let detail = format!("the last block of tenant {tenant} is empty");
            return Err(LedgerError::Corrupt {
                position: first,
                detail,
            });
        };
        let head = TenantHead {
            next_seq: last.record.tenant_seq + 1,
            last_hash: last.hash,
        };
        heads.insert(tenant, head);
    }
    Ok(heads)
}

/// Microseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{micros} µs since the epoch"))
}

/// A stored event's idempotency key.
#[derive(serde::Deserialize)]
struct StoredKey {
    tenant: String,
    source: String,
    id: String,
}

impl StoredKey {
    fn parse(stored: &[u8], position: u64) -> Result<StoredKey, LedgerError> {
        serde_json::from_slice(stored).map_err(|error| LedgerError::Corrupt {
            position,
            detail: format!("stored event is not JSON: {error}"),
        })
    }

    fn is(&self, tenant: &str, source: &str, id: &str) -> bool {
        self.tenant == tenant && self.source == source && self.id == id
    }
}

/// Appends read during one `check`, so that re-importing a file of
/// duplicates reads each append once rather than once per event.
#[derive(Default)]
struct AppendCache {
    appends: BTreeMap<u64, Vec<Entry>>,
}

/// Appends an `AppendCache` keeps at most; beyond this it starts afresh.
const APPEND_CACHE_MAX: usize = 16;

impl AppendCache {
    fn event(&mut self, store: &store::Store, position: u64) -> Result<Vec<u8>, LedgerError> {
        let cached = self.appends.range(..=position).next_back();
        if let Some((first, entries)) = cached {
            if let Some(entry) = entries.get((position - first) as usize) {
                return Ok(entry.record.event.clone());
            }
        }
        let Some(layout) = store.layouts(position).next().transpose()? else {
            let detail = "the key index names an entry no append holds".to_string();
            return Err(LedgerError::Corrupt { position, detail });
        };
        let (first, layout) = layout;
        let entries = read::append_entries(store, first, &layout)?;
        let found = entries
            .get((position - first) as usize)
            .map(|e| e.record.event.clone());
        if self.appends.len() >= APPEND_CACHE_MAX {
            self.appends.clear();
        }
        self.appends.insert(first, entries);
        found.ok_or_else(|| LedgerError::Corrupt {
            position,
            detail: "the key index names an entry its append lacks".to_string(),
        })
    }
}
