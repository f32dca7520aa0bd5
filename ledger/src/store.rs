//! The only module that touches sled.
//!
//! One sled tree holds everything, under one-byte key prefixes, so that one
//! append is one atomic `apply_batch` followed by one `flush`:
//!
//! | key | value |
//! | --- | --- |
//! | `F` | store format version (u32 BE) |
//! | `H` | the head: size, head hash, last record time (bincode) |
//! | `a` + first position (u64 BE) | the append's layout: its size, the tenants it touched, each entry's tenant (as an index into that list) and key fingerprint (bincode) |
//! | `b` + tenant + `0x00` + first position (u64 BE) | where the block of one tenant's records from one append is (`segment::Location`: segment, offset, length; 16 bytes); the block itself (`block.rs`) lies in a segment file (`segment.rs`) |
//! | `s` + segment (u32 BE) | the segment's committed end (u64 BE): how far the index covers it, written in the same batch as the blocks' locations |
//! | `B` | empty: the blocks live in segment files (format 4; a store of format 2 or 3 held them as sled values, and is migrated on open) |
//! | `t` + tenant | empty: marks that the tenant has entries (written once) |
//! | `m` + level (u8) + index (u64 BE) | a Merkle tile: up to 256 SHA-256 hashes of tree level 8 × level (`tiles.rs`), written in the same batch as the entries it covers |
//! | `n` + tree size (u64 BE) | a signed checkpoint (C2SP signed note, UTF-8) of that size |
//! | `c` + name | a consumer cursor: the last source sequence (u64 BE) whose events an append made durable, written in the same batch as those entries |
//! | `r` + refusal digest (32 bytes) | an event the writer refused, remembered so that a replay refuses it again: the reason (UTF-8), written in the same batch as the append that came with the refusal (`dedup::refusal_digest`) |
//! | `I` | the ledger id: 16 random bytes, written with the format when the ledger is created (or on the first writable open of an older one) |
//! | `o` + consumer name | the stream (UTF-8) of the durable consumer that feeds this ledger, recorded when a writer binds the two |
//!
//! **The entries live outside sled**, in append-only segment files
//! (`segment.rs`); sled is their index. An append writes its blocks to the
//! active segment and `fdatasync`s it, then hands sled one batch (the
//! blocks' locations, the segments' committed ends, layout, head, tiles,
//! cursors), and is acknowledged only after sled's `flush` (`Syncer`). So
//! the data is durable before the index that points at it, and the index
//! before the acknowledgement; on open, a segment's bytes past its
//! committed end (a torn or uncommitted append) are cut off and logged, and
//! a segment shorter than its committed end is corruption, named with the
//! first position whose block it lost (docs/SAFETY.md).
//!
//! Records are grouped by tenant within each append, so a tenant's entries
//! are read from that tenant's blocks alone: the cost of a tenant's history
//! follows its own entries, not the ledger's size. The append layouts give
//! the global order back (the ledger chain), for `verify` and `export`.
//! Layouts, markers and the head are derivable from the blocks; they are
//! stored so that opening, dedup and reads never scan the whole ledger.
//!
//! **The ledger's lock** is sled's own: an exclusive `flock(2)` on the file
//! `DIR/db`, taken by every process that opens the ledger and released when
//! it closes (or dies). `DirLock` takes the same lock without opening sled,
//! for whoever must keep every other process out of a ledger it does not
//! open (`tla demo`, which replaces a ledger). A `flock` belongs to the
//! file, not to its name, so it survives renaming the directory: the demo
//! swaps a new ledger in while it still holds the old one's lock.
//! A ledger exists in `DIR` when sled's files `DIR/db` and `DIR/conf` do
//! and the store holds a format version; `OpenMode::Existing` checks the
//! files before sled could create them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bincode::{Decode, Encode};

use crate::segment::{self, Location, SegmentFs, Segments, Step};

/// A block's bytes as read from its segment.
pub type BlockBytes = Arc<Vec<u8>>;

/// The store layout this build writes and reads. Format 3 added the
/// Merkle tiles and signed checkpoints; format 4 moved the blocks out of
/// sled into segment files. `Store::open` migrates the blocks of a format-2
/// or format-3 store, and `Ledger::open` then computes a format-2 store's
/// tiles from its entries.
pub const FORMAT_VERSION: u32 = 4;

/// The earlier format whose tiles `Ledger::open` computes.
pub const FORMAT_VERSION_UPGRADABLE: u32 = 2;

/// The format before segment files, whose blocks `Store::open` migrates.
pub const FORMAT_VERSION_SLED_BLOCKS: u32 = 3;

/// Blocks migrated per batch (one segment append, one sled batch and
/// flush): bounded memory whatever the ledger's size.
const MIGRATE_BATCH_BYTES: usize = 32 << 20;

const KEY_FORMAT: &[u8] = b"F";
const KEY_HEAD: &[u8] = b"H";
const PREFIX_APPEND: u8 = b'a';
const PREFIX_BLOCK: u8 = b'b';
/// `s` + segment (u32 BE): the segment's committed end (u64 BE).
const PREFIX_SEGMENT_END: u8 = b's';
/// Present once the blocks live in segment files.
const KEY_SEGMENTED: &[u8] = b"B";
const PREFIX_TENANT: u8 = b't';
/// `m` + level (1 byte) + index (8 bytes big-endian): a Merkle tile.
const PREFIX_TILE: u8 = b'm';
/// `n` + tree size (8 bytes big-endian): a signed checkpoint's note.
const PREFIX_CHECKPOINT: u8 = b'n';
const PREFIX_CURSOR: u8 = b'c';
/// `r` + refusal digest (32 bytes): why an event was refused.
const PREFIX_REFUSED: u8 = b'r';
/// The ledger id: 16 random bytes.
const KEY_IDENTITY: &[u8] = b"I";
/// `o` + consumer name: the stream of the consumer the ledger belongs to.
const PREFIX_OWNER: u8 = b'o';

/// Bytes of a ledger id: 128 random bits never collide between ledgers.
pub const LEDGER_ID_BYTES: usize = 16;

/// sled's data file in a store directory, the file sled `flock`s.
const SLED_DB_FILE: &str = "db";
/// sled's configuration file, written when sled creates a store.
const SLED_CONF_FILE: &str = "conf";

/// sled's log segment size, its largest (16 MiB). sled writes anything
/// larger than a quarter segment as a separate blob file that its `flush`
/// never fsyncs; with 16 MiB segments, blocks capped at
/// `block::BLOCK_BYTES_MAX` and leaves of at most 17 values stay below that,
/// so blocks live in the fsynced log. `sync_blobs` covers what remains.
const SEGMENT_BYTES: usize = 16 << 20;

/// How long `reopen` waits for this process's own lock to go: sled's
/// background threads finish within milliseconds, a second is generous.
const REOPEN_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// Between `reopen` attempts.
const REOPEN_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// sled's page cache. The ledger reads mostly sequentially, so a modest
/// cache suffices and keeps `tla` light beside a running service.
const CACHE_BYTES: u64 = 64 << 20;

/// How a ledger directory is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Opens the ledger in the directory, creating an empty one (and the
    /// directory) when there is none: for the commands that write.
    Create,
    /// Opens the ledger that is there: a directory without one is
    /// `StoreError::NoLedger`, and nothing is created in it. For the
    /// commands that read, so a mistyped `--data-dir` is an error rather
    /// than an empty ledger that verifies.
    Existing,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the ledger in {dir} is in use by another process ({}; sled holds a lock on it); \
         stop that process or use its HTTP interface",
        holder_text(.pid)
    )]
    Locked {
        dir: PathBuf,
        /// The process holding the lock, when the system says (Linux).
        pid: Option<u32>,
    },
    #[error("no ledger in {dir}")]
    NoLedger { dir: PathBuf },
    #[error("cannot open the ledger in {dir}: {source}")]
    Open { dir: PathBuf, source: sled::Error },
    #[error(
        "the ledger in {dir} has store format {found}; this build reads format {FORMAT_VERSION}"
    )]
    Format { dir: PathBuf, found: u32 },
    #[error("ledger storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("ledger storage is corrupt: {0}")]
    Corrupt(String),
    #[error("ledger segment storage: {0}")]
    Segment(#[from] segment::SegmentError),
}

fn holder_text(pid: &Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".into(),
    }
}

/// The chain's head as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Head {
    pub size: u64,
    pub hash: [u8; 32],
    /// Microseconds since the Unix epoch; 0 for an empty ledger.
    pub last_record_time: i64,
}

/// One append's layout: which tenant each of its entries belongs to, and
/// each entry's key fingerprint, in position order.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Layout {
    /// The tenants the append touched, in order of first appearance.
    pub tenants: Vec<String>,
    /// Per entry, its tenant as an index into `tenants`.
    pub tenant_of: Vec<u16>,
    /// Per entry, the fingerprint of its (`source`, `id`).
    pub fingerprints: Vec<u64>,
}

impl Layout {
    pub fn len(&self) -> u64 {
        self.tenant_of.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.tenant_of.is_empty()
    }
}

/// Everything one append writes, applied atomically.
#[derive(Debug, Default)]
pub struct Commit {
    /// (tenant, first position, block value)
    pub blocks: Vec<(String, u64, Vec<u8>)>,
    /// (first position of the append, its layout)
    pub layout: Option<(u64, Layout)>,
    /// Tenants whose first entries this commit holds.
    pub new_tenants: Vec<String>,
    pub head: Option<Head>,
    /// Merkle tiles the append changed: (level, index, hashes).
    pub tiles: Vec<crate::tiles::TileWrite>,
    /// Cursors (name, sequence) stored atomically with the append: a
    /// consumer's, and a replicated ledger's position in its commit log.
    pub cursors: Vec<(String, u64)>,
    /// Events refused with this append: (refusal digest, reason).
    pub refused: Vec<([u8; 32], String)>,
}

impl Commit {
    /// Whether applying this commit would write nothing.
    pub fn is_empty(&self) -> bool {
        self.layout.is_none() && self.cursors.is_empty() && self.refused.is_empty()
    }
}

fn refused_key(digest: &[u8; 32]) -> [u8; 33] {
    let mut key = [PREFIX_REFUSED; 33];
    key[1..].copy_from_slice(digest);
    key
}

fn cursor_key(name: &str) -> Vec<u8> {
    prefixed(PREFIX_CURSOR, name)
}

fn prefixed(prefix: u8, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.push(prefix);
    key.extend_from_slice(name.as_bytes());
    key
}

/// Whether sled's files are in `dir`: what `OpenMode::Existing` requires
/// before it lets sled open (and so create anything in) the directory.
pub fn has_store_files(dir: &Path) -> bool {
    dir.join(SLED_DB_FILE).is_file() && dir.join(SLED_CONF_FILE).is_file()
}

pub struct Store {
    db: sled::Db,
    syncer: Syncer,
    /// The format found on disk when opened (after migrating the blocks to
    /// segments: 2 while the tiles are still to be computed).
    format: u32,
    /// The format on disk before this open migrated anything.
    found: u32,
    segments: Segments,
}

/// Makes everything applied to a store durable; cheap to clone and usable
/// from another thread, so a writer can apply the next batch while the
/// previous one is being synced.
#[derive(Clone)]
pub struct Syncer {
    db: sled::Db,
    dir: PathBuf,
    fs: Arc<dyn SegmentFs>,
    /// Highest blob file (by its log sequence number) known to be fsynced.
    blobs_synced: Arc<AtomicU64>,
}

fn append_key(position: u64) -> [u8; 9] {
    let mut key = [PREFIX_APPEND; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

fn tenant_block_prefix(tenant: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 10);
    key.push(PREFIX_BLOCK);
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key
}

fn tenant_block_key(tenant: &str, position: u64) -> Vec<u8> {
    let mut key = tenant_block_prefix(tenant);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn segment_end_key(segment: u32) -> [u8; 5] {
    let mut key = [PREFIX_SEGMENT_END; 5];
    key[1..].copy_from_slice(&segment.to_be_bytes());
    key
}

fn tile_key(level: u8, index: u64) -> [u8; 10] {
    let mut key = [PREFIX_TILE; 10];
    key[1] = level;
    key[2..].copy_from_slice(&index.to_be_bytes());
    key
}

fn checkpoint_key(size: u64) -> [u8; 9] {
    let mut key = [PREFIX_CHECKPOINT; 9];
    key[1..].copy_from_slice(&size.to_be_bytes());
    key
}

fn position_of(key: &[u8]) -> Result<u64, StoreError> {
    let tail = key.len().checked_sub(8).map(|at| &key[at..]);
    tail.and_then(|bytes| bytes.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("key {key:?} has no position")))
}

fn decode<T: Decode<()>>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    bincode::decode_from_slice(bytes, bincode::config::standard())
        .map(|(value, _)| value)
        .map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

fn encode<T: Encode>(value: &T) -> Vec<u8> {
    // Encoding plain integers and byte arrays into a Vec cannot fail.
    bincode::encode_to_vec(value, bincode::config::standard()).expect("bincode encodes to a Vec")
}

impl Store {
    /// Opens the store in `dir`; `mode` says whether one may be created.
    pub fn open(dir: &Path, mode: OpenMode) -> Result<Store, StoreError> {
        Store::open_with(dir, mode, Arc::new(segment::OsFs), &mut |_, _| {})
    }

    /// `open` with the segment files reached through `fs`, and `progress`
    /// told (entries done, entries in all) while the blocks of an older
    /// store are migrated to segment files.
    pub fn open_with(
        dir: &Path,
        mode: OpenMode,
        fs: Arc<dyn SegmentFs>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Store, StoreError> {
        let no_ledger = || StoreError::NoLedger {
            dir: dir.to_owned(),
        };
        if mode == OpenMode::Existing && !has_store_files(dir) {
            return Err(no_ledger());
        }
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            // Durability comes from the explicit flush of every append;
            // a background flush would only add fsyncs.
            .flush_every_ms(None)
            .segment_size(SEGMENT_BYTES);
        let db = config.open().map_err(|source| match &source {
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                StoreError::Locked {
                    dir: dir.to_owned(),
                    pid: lock_holder(&dir.join(SLED_DB_FILE)),
                }
            }
            _ => StoreError::Open {
                dir: dir.to_owned(),
                source,
            },
        })?;
        let format = match db.get(KEY_FORMAT)? {
            // sled's files without a format: not a ledger.
            None if mode == OpenMode::Existing => return Err(no_ledger()),
            None => {
                db.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
                db.insert(KEY_SEGMENTED, &[])?;
                db.insert(KEY_IDENTITY, &new_ledger_id())?;
                db.flush()?;
                FORMAT_VERSION
            }
            Some(bytes) => {
                let found = bytes
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("format version is not 4 bytes".into()))?;
                if !(FORMAT_VERSION_UPGRADABLE..=FORMAT_VERSION).contains(&found) {
                    return Err(StoreError::Format {
                        dir: dir.to_owned(),
                        found,
                    });
                }
                found
            }
        };
        if mode == OpenMode::Create && db.get(KEY_IDENTITY)?.is_none() {
            // A ledger created before ledgers had ids gets one now.
            db.insert(KEY_IDENTITY, &new_ledger_id())?;
            db.flush()?;
        }
        // Blobs left by an earlier process may not be durable either.
        let syncer = Syncer {
            db: db.clone(),
            dir: dir.to_owned(),
            fs: fs.clone(),
            blobs_synced: Arc::new(AtomicU64::new(0)),
        };
        syncer.sync_blobs()?;
        let segments = match Segments::recover(dir, fs, &committed_ends(&db)?) {
            Ok((segments, cuts)) => {
                for (segment, found, end) in cuts {
                    tracing::warn!(
                        segment,
                        found,
                        committed = end,
                        "cut {} bytes past the committed end of segment {segment} in {}: \
                         an append that never reached the index (torn or uncommitted); \
                         nothing acknowledged is affected",
                        found - end,
                        dir.display()
                    );
                }
                segments
            }
            Err(segment::SegmentError::ShortSegment {
                segment,
                path,
                committed,
                found,
            }) => {
                let position = first_lost(&db, segment, found)?;
                return Err(StoreError::Corrupt(format!(
                    "position {}: the index points past the end of segment {segment} ({}): \
                     committed to {committed} bytes, {found} found",
                    position.map_or("unknown".into(), |p| p.to_string()),
                    path.display()
                )));
            }
            Err(error) => return Err(error.into()),
        };
        let mut store = Store {
            db,
            syncer,
            format,
            found: format,
            segments,
        };
        if store.db.get(KEY_SEGMENTED)?.is_none() {
            store.migrate_blocks(progress)?;
        }
        Ok(store)
    }

    /// Moves the blocks of a format-2 or format-3 store (sled values) into
    /// segment files, a bounded batch at a time: each batch's blocks are
    /// written and synced, then their values replaced by their locations in
    /// one sled batch and flushed. A block whose value is already a
    /// location was moved by an interrupted migration and is skipped, so
    /// an interrupted migration resumes where it stopped. Marks the store
    /// segmented (and a format-3 store format 4) at the end.
    fn migrate_blocks(&mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<(), StoreError> {
        let total = self.head()?.map_or(0, |head| head.size);
        let mut done = 0u64;
        progress(done, total);
        let mut from: Vec<u8> = vec![PREFIX_BLOCK];
        loop {
            let mut keys = Vec::new();
            let mut values: Vec<sled::IVec> = Vec::new();
            let mut bytes = 0usize;
            let mut last = None;
            for item in self.db.range(from.clone()..vec![PREFIX_BLOCK + 1]) {
                let (key, value) = item?;
                last = Some(key.to_vec());
                if value.len() != segment::LOCATION_LEN {
                    bytes += value.len();
                    done += u64::from(block_count(&value));
                    keys.push(key);
                    values.push(value);
                }
                if bytes >= MIGRATE_BATCH_BYTES {
                    break;
                }
            }
            let Some(mut last) = last else { break };
            if !keys.is_empty() {
                let blocks: Vec<&[u8]> = values.iter().map(|v| v.as_ref()).collect();
                let (locations, ends) = self.segments.append(&blocks)?;
                let mut batch = sled::Batch::default();
                for (key, location) in keys.iter().zip(&locations) {
                    batch.insert(key.as_ref(), &location.encode());
                }
                for (segment, end) in ends {
                    batch.insert(&segment_end_key(segment), &end.to_be_bytes());
                }
                self.db.apply_batch(batch)?;
                self.db.flush()?;
                progress(done.min(total), total);
            }
            // The next range starts just after the last key seen.
            last.push(0);
            from = last;
        }
        self.db.insert(KEY_SEGMENTED, &[])?;
        if self.format == FORMAT_VERSION_SLED_BLOCKS {
            self.db.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
            self.format = FORMAT_VERSION;
        }
        self.syncer.sync()?;
        progress(total, total);
        Ok(())
    }

    /// Opens a store this process has just closed. sled releases its file
    /// lock only when its last background reference goes, which can lag
    /// the drop by a moment, so a lock still held is retried briefly here
    /// (never in `open`, where a lock means another process).
    pub fn reopen(dir: &Path) -> Result<Store, StoreError> {
        let mut waited = std::time::Duration::ZERO;
        loop {
            match Store::open(dir, OpenMode::Existing) {
                Err(StoreError::Locked { .. }) if waited < REOPEN_WAIT_MAX => {
                    std::thread::sleep(REOPEN_RETRY_INTERVAL);
                    waited += REOPEN_RETRY_INTERVAL;
                }
                result => return result,
            }
        }
    }

    /// The directory the store was opened in.
    pub fn dir(&self) -> &Path {
        &self.syncer.dir
    }

    /// The format found on disk when the store was opened (after the
    /// blocks' migration: 2 until `Ledger::open` has computed the tiles).
    pub fn format(&self) -> u32 {
        self.format
    }

    /// The format on disk before this open migrated anything:
    /// `FORMAT_VERSION` when there was nothing to migrate.
    pub fn found_format(&self) -> u32 {
        self.found
    }

    /// Records that the store now holds format `FORMAT_VERSION`, durably;
    /// for `Ledger::open`'s upgrade, after it wrote the tiles.
    pub fn set_current_format(&mut self) -> Result<(), StoreError> {
        self.db.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
        self.syncer.sync()?;
        self.format = FORMAT_VERSION;
        Ok(())
    }

    /// The stored Merkle tile, if any.
    pub fn tile(&self, level: u8, index: u64) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.db.get(tile_key(level, index))?)
    }

    /// Writes tiles (for the format upgrade; appends write theirs in their
    /// commit).
    pub fn put_tiles(&self, tiles: Vec<crate::tiles::TileWrite>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (level, index, bytes) in tiles {
            batch.insert(&tile_key(level, index), bytes);
        }
        self.db.apply_batch(batch)?;
        Ok(())
    }

    /// Stores a signed checkpoint's note for its tree size and makes it
    /// durable before returning: a checkpoint is published only after this.
    pub fn put_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError> {
        self.put_checkpoint_unsynced(size, note)?;
        self.syncer.sync()
    }

    /// `put_checkpoint` without the sync: durable with the next one.
    pub fn put_checkpoint_unsynced(&self, size: u64, note: &str) -> Result<(), StoreError> {
        self.db.insert(checkpoint_key(size), note.as_bytes())?;
        Ok(())
    }

    /// Every stored checkpoint note, by tree size, from `from` on.
    pub fn checkpoints(
        &self,
        from: u64,
    ) -> impl DoubleEndedIterator<Item = Result<(u64, String), StoreError>> + '_ {
        self.db
            .range(checkpoint_key(from)..=checkpoint_key(u64::MAX))
            .map(|item| {
                let (key, value) = item?;
                let size = position_of(&key)?;
                let note = String::from_utf8(value.to_vec()).map_err(|_| {
                    StoreError::Corrupt(format!("checkpoint of size {size} is not UTF-8"))
                })?;
                Ok((size, note))
            })
    }

    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        self.db
            .get(KEY_HEAD)?
            .map(|bytes| decode("head", &bytes))
            .transpose()
    }

    /// Every tenant that has entries.
    pub fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let mut tenants = Vec::new();
        for item in self.db.scan_prefix([PREFIX_TENANT]) {
            let (key, _) = item?;
            let tenant = String::from_utf8(key[1..].to_vec())
                .map_err(|_| StoreError::Corrupt("tenant key is not UTF-8".into()))?;
            tenants.push(tenant);
        }
        Ok(tenants)
    }

    /// The tenant's last block: (first position, bytes).
    pub fn last_tenant_block(&self, tenant: &str) -> Result<Option<(u64, BlockBytes)>, StoreError> {
        match self.db.scan_prefix(tenant_block_prefix(tenant)).next_back() {
            Some(item) => {
                let (key, value) = item?;
                let first = position_of(&key)?;
                Ok(Some((first, self.block_at(tenant, first, &value)?)))
            }
            None => Ok(None),
        }
    }

    /// Reads the block an index value points at; what is wrong with it is
    /// corruption named with the block's first position.
    fn block_at(&self, tenant: &str, first: u64, value: &[u8]) -> Result<BlockBytes, StoreError> {
        let location = Location::decode(value).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "position {first}: the location of tenant {tenant}'s block is not {} bytes",
                segment::LOCATION_LEN
            ))
        })?;
        self.segments.read(location).map(Arc::new).map_err(|error| {
            StoreError::Corrupt(format!(
                "position {first}: tenant {tenant}'s block: {error}"
            ))
        })
    }

    /// Append layouts in order, starting with the one holding `from`.
    pub fn layouts(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Layout), StoreError>> + '_ {
        let start = match self.layout_start(from) {
            Ok(first) => first.unwrap_or(from),
            Err(error) => {
                return Box::new(std::iter::once(Err(error))) as Box<dyn Iterator<Item = _>>
            }
        };
        Box::new(
            self.db
                .range(append_key(start)..=append_key(u64::MAX))
                .map(|item| {
                    let (key, value) = item?;
                    Ok((position_of(&key)?, decode("append layout", &value)?))
                }),
        )
    }

    /// The first append that starts at or after `position`.
    pub fn next_layout(&self, position: u64) -> Result<Option<(u64, Layout)>, StoreError> {
        match self
            .db
            .range(append_key(position)..=append_key(u64::MAX))
            .next()
        {
            Some(item) => {
                let (key, value) = item?;
                Ok(Some((position_of(&key)?, decode("append layout", &value)?)))
            }
            None => Ok(None),
        }
    }

    /// First position of the append that holds `position`, if any.
    fn layout_start(&self, position: u64) -> Result<Option<u64>, StoreError> {
        match self
            .db
            .range(append_key(0)..=append_key(position))
            .next_back()
        {
            Some(item) => Ok(Some(position_of(&item?.0)?)),
            None => Ok(None),
        }
    }

    /// The tenant's blocks whose first position lies in `range`, in order.
    pub fn tenant_blocks<'a>(
        &'a self,
        tenant: &str,
        range: std::ops::Range<u64>,
    ) -> impl Iterator<Item = Result<(u64, BlockBytes), StoreError>> + 'a {
        let low = tenant_block_key(tenant, range.start);
        let high = tenant_block_key(tenant, range.end);
        let tenant = tenant.to_owned();
        self.db.range(low..high).map(move |item| {
            let (key, value) = item?;
            let first = position_of(&key)?;
            Ok((first, self.block_at(&tenant, first, &value)?))
        })
    }

    /// The first position of the tenant's first block in `range`, without
    /// reading the block.
    pub fn first_tenant_block_in(
        &self,
        tenant: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Option<u64>, StoreError> {
        let low = tenant_block_key(tenant, range.start);
        let high = tenant_block_key(tenant, range.end);
        match self.db.range(low..high).next() {
            Some(item) => Ok(Some(position_of(&item?.0)?)),
            None => Ok(None),
        }
    }

    /// All of the tenant's blocks, in order.
    pub fn all_tenant_blocks<'a>(
        &'a self,
        tenant: &str,
    ) -> impl Iterator<Item = Result<(u64, BlockBytes), StoreError>> + 'a {
        self.tenant_blocks(tenant, 0..u64::MAX)
    }

    /// Applies one append atomically; durable once a `Syncer::sync` that
    /// started after this returned has returned.
    ///
    /// The blocks go to the segment files first, durably (`fdatasync`);
    /// only then does sled get the batch that points at them.
    pub fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        if !commit.blocks.is_empty() {
            let blocks: Vec<&[u8]> = commit.blocks.iter().map(|(_, _, b)| &b[..]).collect();
            let (locations, ends) = self.segments.append(&blocks)?;
            for ((tenant, first, _), location) in commit.blocks.iter().zip(&locations) {
                batch.insert(tenant_block_key(tenant, *first), &location.encode());
            }
            for (segment, end) in ends {
                batch.insert(&segment_end_key(segment), &end.to_be_bytes());
            }
        }
        if let Some((first, layout)) = commit.layout {
            batch.insert(&append_key(first), encode(&layout));
        }
        for tenant in commit.new_tenants {
            let mut key = vec![PREFIX_TENANT];
            key.extend_from_slice(tenant.as_bytes());
            batch.insert(key, &[]);
        }
        if let Some(head) = commit.head {
            batch.insert(KEY_HEAD, encode(&head));
        }
        for (level, index, bytes) in commit.tiles {
            batch.insert(&tile_key(level, index), bytes);
        }
        for (name, sequence) in commit.cursors {
            batch.insert(cursor_key(&name), &sequence.to_be_bytes());
        }
        for (digest, reason) in commit.refused {
            batch.insert(&refused_key(&digest)[..], reason.as_bytes());
        }
        self.db.apply_batch(batch)?;
        self.syncer.fs.note(Step::IndexApplied);
        Ok(())
    }

    pub fn syncer(&self) -> Syncer {
        self.syncer.clone()
    }

    /// The reason a refused event was refused, if it was (by its
    /// `dedup::refusal_digest`).
    pub fn refusal(&self, digest: &[u8; 32]) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .get(refused_key(digest))?
            .map(|reason| String::from_utf8_lossy(&reason).into_owned()))
    }

    /// The digests of every refused event remembered.
    pub fn refusals(&self) -> impl Iterator<Item = Result<[u8; 32], StoreError>> + '_ {
        self.db.scan_prefix([PREFIX_REFUSED]).map(|item| {
            let (key, _) = item?;
            key.get(1..)
                .and_then(|digest| <[u8; 32]>::try_from(digest).ok())
                .ok_or_else(|| StoreError::Corrupt("a refusal key is not 33 bytes".into()))
        })
    }

    /// The ledger id (written when the ledger was created, or on the first
    /// writable open of a ledger older than ids); `None` only for such an
    /// older ledger opened `OpenMode::Existing`.
    pub fn ledger_id(&self) -> Result<Option<[u8; LEDGER_ID_BYTES]>, StoreError> {
        match self.db.get(KEY_IDENTITY)? {
            None => Ok(None),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map(Some)
                .map_err(|_| StoreError::Corrupt("the ledger id is not 16 bytes".into())),
        }
    }

    /// Replaces the ledger id by `id` and syncs: a replica or a restore
    /// takes the id of the ledger it copies. The caller checks that this
    /// ledger is still empty.
    pub fn put_ledger_id(&self, id: [u8; LEDGER_ID_BYTES]) -> Result<(), StoreError> {
        self.db.insert(KEY_IDENTITY, &id)?;
        self.syncer.sync()
    }

    /// Records, durably, that the durable consumer `consumer` of `stream`
    /// feeds this ledger.
    pub fn put_owner(&self, consumer: &str, stream: &str) -> Result<(), StoreError> {
        self.db
            .insert(prefixed(PREFIX_OWNER, consumer), stream.as_bytes())?;
        self.syncer.sync()
    }

    /// The stream of the consumer `consumer`, if it was ever recorded.
    pub fn owner(&self, consumer: &str) -> Result<Option<String>, StoreError> {
        match self.db.get(prefixed(PREFIX_OWNER, consumer))? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| {
                StoreError::Corrupt(format!("the stream of consumer {consumer:?} is not UTF-8"))
            }),
        }
    }

    /// The consumer cursor `name`, if one was ever stored.
    pub fn cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        match self.db.get(cursor_key(name))? {
            None => Ok(None),
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| StoreError::Corrupt(format!("cursor {name:?} is not 8 bytes"))),
        }
    }

    /// Rewrites this store the way the build before segment files kept it
    /// (format 3: each block a sled value, no segment files), from the same
    /// entries, and closes it. For the migration tests (`tla ledger
    /// migrate` and the migration on open), which need a store of the old
    /// format holding a given ledger; nothing else calls it.
    pub fn rewrite_as_format_3(self) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for item in self.db.scan_prefix([PREFIX_BLOCK]) {
            let (key, value) = item?;
            let first = position_of(&key)?;
            let tenant = String::from_utf8_lossy(&key[1..key.len().saturating_sub(9)]).into_owned();
            let block = self.block_at(&tenant, first, &value)?;
            batch.insert(key, block.as_slice());
        }
        for item in self.db.scan_prefix([PREFIX_SEGMENT_END]) {
            batch.remove(item?.0);
        }
        batch.remove(KEY_SEGMENTED);
        batch.insert(KEY_FORMAT, &FORMAT_VERSION_SLED_BLOCKS.to_be_bytes());
        self.db.apply_batch(batch)?;
        self.syncer.sync()?;
        let segments = self.dir().join(segment::SEGMENTS_DIR);
        drop(self);
        std::fs::remove_dir_all(&segments).map_err(|error| StoreError::Sled(error.into()))
    }

    /// The test-only door through which tamper tests change stored blocks
    /// the way an attacker with file access could.
    #[cfg(test)]
    pub fn tamper_put_block(
        &self,
        tenant: &str,
        first: u64,
        block: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let key = tenant_block_key(tenant, first);
        match block {
            Some(bytes) => {
                let (locations, ends) = self.segments.append(&[&bytes[..]])?;
                for (segment, end) in ends {
                    self.db
                        .insert(segment_end_key(segment), &end.to_be_bytes())?;
                }
                let location = locations
                    .first()
                    .ok_or_else(|| StoreError::Corrupt("no location".into()))?;
                self.db.insert(key, &location.encode())?
            }
            None => self.db.remove(key)?,
        };
        self.db.flush()?;
        Ok(())
    }

    #[cfg(test)]
    pub fn tamper_put_head(&self, head: Head) -> Result<(), StoreError> {
        self.db.insert(KEY_HEAD, encode(&head))?;
        Ok(())
    }

    /// Test-only: overwrites a Merkle tile.
    #[cfg(test)]
    pub fn tamper_put_tile(&self, level: u8, index: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.db.insert(tile_key(level, index), bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Test-only: makes the store look like format 2 (no tiles), the way an
    /// older build left it.
    #[cfg(test)]
    pub fn tamper_downgrade(&self) -> Result<(), StoreError> {
        for item in self.db.scan_prefix([PREFIX_TILE]) {
            self.db.remove(item?.0)?;
        }
        self.db
            .insert(KEY_FORMAT, &FORMAT_VERSION_UPGRADABLE.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}

/// Each segment's committed end, as the index says.
fn committed_ends(db: &sled::Db) -> Result<std::collections::BTreeMap<u32, u64>, StoreError> {
    let mut ends = std::collections::BTreeMap::new();
    for item in db.scan_prefix([PREFIX_SEGMENT_END]) {
        let (key, value) = item?;
        let segment = key
            .get(1..)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| StoreError::Corrupt("a segment end key is not 5 bytes".into()))?;
        let end = <[u8; 8]>::try_from(value.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt(format!("segment {segment}'s end is not 8 bytes")))?;
        ends.insert(segment, end);
    }
    Ok(ends)
}

/// The first position whose block the index places in `segment` at or
/// past `found` bytes (the segment's actual length): what a short segment
/// lost. Scans the index (only on this corruption path).
fn first_lost(db: &sled::Db, segment: u32, found: u64) -> Result<Option<u64>, StoreError> {
    let mut first: Option<u64> = None;
    for item in db.scan_prefix([PREFIX_BLOCK]) {
        let (key, value) = item?;
        let Some(location) = Location::decode(&value) else {
            continue;
        };
        if location.segment == segment && location.end() > found {
            let position = position_of(&key)?;
            first = Some(first.map_or(position, |p| p.min(position)));
        }
    }
    Ok(first)
}

/// The record count in a block's header (0 when it has none).
fn block_count(block: &[u8]) -> u32 {
    block
        .get(5..9)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// A fresh random ledger id.
fn new_ledger_id() -> [u8; LEDGER_ID_BYTES] {
    let mut id = [0u8; LEDGER_ID_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
    id
}

/// The ledger's lock (sled's `flock` on `DIR/db`, module doc) held without
/// opening the ledger; released when dropped. It stays with the file when
/// the directory is renamed.
#[derive(Debug)]
pub struct DirLock {
    /// Locked with `File::try_lock`, which is `flock(LOCK_EX | LOCK_NB)`
    /// on Linux: the lock sled takes, so each excludes the other.
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock of the ledger in `dir` if no process holds it;
    /// `Ok(None)` when there is no ledger there (nothing to lock), and
    /// `StoreError::Locked`, naming the holder's pid when the system says,
    /// when one holds it.
    pub fn try_acquire(dir: &Path) -> Result<Option<DirLock>, StoreError> {
        let path = dir.join(SLED_DB_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(StoreError::Sled(error.into())),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(DirLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
                dir: dir.to_owned(),
                pid: lock_holder(&path),
            }),
            Err(std::fs::TryLockError::Error(error)) => Err(StoreError::Sled(error.into())),
        }
    }

    /// `try_acquire` for a ledger this process has just closed, waiting
    /// for sled's background threads to let go of it (see `Store::reopen`).
    pub fn acquire_closed(dir: &Path) -> Result<Option<DirLock>, StoreError> {
        let mut waited = std::time::Duration::ZERO;
        loop {
            match DirLock::try_acquire(dir) {
                Err(StoreError::Locked { .. }) if waited < REOPEN_WAIT_MAX => {
                    std::thread::sleep(REOPEN_RETRY_INTERVAL);
                    waited += REOPEN_RETRY_INTERVAL;
                }
                result => return result,
            }
        }
    }
}

/// The major number of a Linux device id (`st_dev`), as glibc's
/// `gnu_dev_major` splits it: bits 8-19, then bits 44-63 above them.
fn device_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
}

/// The minor number of a Linux device id (`gnu_dev_minor`): bits 0-7,
/// then bits 20-43 above them.
fn device_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
}

/// The pid of the process holding a `flock` on `path`, as `/proc/locks`
/// says (Linux; `None` elsewhere or when it cannot tell). Matched by
/// device and inode; by inode alone when that names one process (on an
/// overlay file system `stat` reports another device than the lock).
fn lock_holder(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let metadata = std::fs::metadata(path).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let device = format!(
        "{:02x}:{:02x}",
        device_major(metadata.dev()),
        device_minor(metadata.dev())
    );
    let inode = metadata.ino().to_string();
    // "1: FLOCK  ADVISORY  WRITE 13237 fe:00:10010670 0 EOF"
    let holders: Vec<(u32, bool)> = locks
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (kind, pid, file) = (fields.get(1)?, fields.get(4)?, fields.get(5)?);
            let (dev, ino) = file.rsplit_once(':')?;
            (*kind == "FLOCK" && ino == inode).then_some((pid.parse().ok()?, dev == device))
        })
        .collect();
    let exact: Vec<u32> = holders.iter().filter(|h| h.1).map(|h| h.0).collect();
    match (exact.as_slice(), holders.as_slice()) {
        ([pid], _) => Some(*pid),
        ([], [(pid, _)]) => Some(*pid),
        _ => None,
    }
}

impl Syncer {
    /// Makes everything applied before the call durable. The blocks are
    /// durable already (`Store::apply` syncs them before it indexes them);
    /// this makes the index durable, after which an append may be
    /// acknowledged.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.sync_blobs()?;
        self.db.flush()?;
        self.fs.note(Step::IndexFlushed);
        // Pages consolidated during the flush may have become blobs too.
        self.sync_blobs()?;
        Ok(())
    }

    /// fsyncs the blob files sled wrote since the last call.
    ///
    /// sled 0.34.7 writes a value (or consolidated page) larger than a
    /// quarter segment to its own file under `blobs/`, and never fsyncs
    /// that file: `flush` makes the log that points to it durable, not the
    /// blob itself. A ledger block is such a value, so without this a power
    /// loss after an acknowledged append could lose the block. SIGKILL
    /// cannot show the gap (the page cache survives); this closes it.
    fn sync_blobs(&self) -> Result<(), StoreError> {
        let dir = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(StoreError::Sled(error.into())),
        };
        let synced = self.blobs_synced.load(Ordering::Acquire);
        let mut newest = synced;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::Sled(e.into()))?;
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if lsn > synced {
                std::fs::File::open(entry.path())
                    .and_then(|file| file.sync_data())
                    .map_err(|e| StoreError::Sled(e.into()))?;
                newest = newest.max(lsn);
            }
        }
        if newest > synced {
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::Sled(e.into()))?;
            self.blobs_synced.fetch_max(newest, Ordering::AcqRel);
        }
        Ok(())
    }
}

/// The stored tiles, as the tree reads them.
impl crate::tiles::TileSource for Store {
    type Error = StoreError;
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(Store::tile(self, level, index)?.map(|bytes| bytes.to_vec()))
    }
}

#[cfg(test)]
mod device_tests {
    use super::{device_major, device_minor};

    /// glibc's `makedev`, the other way round.
    fn makedev(major: u64, minor: u64) -> u64 {
        (minor & 0xff)
            | ((major & 0xfff) << 8)
            | ((minor & 0xffff_ff00) << 12)
            | ((major & 0xffff_f000) << 32)
    }

    #[test]
    fn device_numbers_split_as_glibc_does() {
        // An overlay's device as /proc/locks shows it ("00:2f") and a
        // virtio disk's ("fe:00"), then numbers wider than 8 and 12 bits.
        for (major, minor) in [
            (0, 0x2f),
            (0xfe, 0),
            (0x1234, 0x5_6789),
            (259, 65_536),
            (0xf_ffff, 0xffff_ffff),
        ] {
            let dev = makedev(major, minor);
            assert_eq!((device_major(dev), device_minor(dev)), (major, minor));
        }
        assert_eq!((device_major(0xfe00), device_minor(0xfe00)), (0xfe, 0));
    }
}
