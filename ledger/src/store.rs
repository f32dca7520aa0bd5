//! The only module that touches sled.
//!
//! One sled tree holds everything, under one-byte key prefixes, so that one
//! append is one atomic `apply_batch` followed by one `flush`:
//!
//! | key | value |
//! | --- | --- |
//! | `F` | store format version (u32 BE) |
//! | `H` | the head: size, head hash, last record time (bincode) |
//! | `b` + first position (u64 BE) | a block of records (`block.rs`) |
//! | `k` + first position (u64 BE) | the block's dedup fingerprints, 8 bytes per entry |
//! | `i` + tenant + `0x00` + first position | the tenant's head after that block (next sequence number u64 BE, last hash), then its positions in the block (u64 BE each) |
//! | `t` + tenant | empty: marks that the tenant has entries (written once) |
//!
//! Everything but the blocks can be rebuilt from the blocks; it is stored so
//! that opening, dedup and per-tenant reads never scan the whole ledger.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bincode::{Decode, Encode};

/// The store layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const KEY_FORMAT: &[u8] = b"F";
const KEY_HEAD: &[u8] = b"H";
const PREFIX_BLOCK: u8 = b'b';
const PREFIX_KEYS: u8 = b'k';
const PREFIX_TENANT_INDEX: u8 = b'i';
const PREFIX_TENANT_HEAD: u8 = b't';

/// sled's log segment size, its largest (16 MiB). sled writes anything
/// larger than a quarter segment as a separate blob file that its `flush`
/// never fsyncs; with 16 MiB segments, blocks capped at
/// `block::BLOCK_BYTES_MAX` and leaves of at most 17 values stay below that,
/// so blocks live in the fsynced log. `sync_blobs` covers what remains.
const SEGMENT_BYTES: usize = 16 << 20;

/// sled's page cache. The ledger reads mostly sequentially, so a modest
/// cache suffices and keeps `tla` light beside a running service.
const CACHE_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the ledger in {dir} is in use by another process (sled holds a lock on it); \
         stop that process or use its HTTP interface"
    )]
    Locked { dir: PathBuf },
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
}

/// The chain's head as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Head {
    pub size: u64,
    pub hash: [u8; 32],
    /// Microseconds since the Unix epoch; 0 for an empty ledger.
    pub last_record_time: i64,
}

/// One tenant's head: stored at the start of each of its index values, so
/// the last one gives the head without a write per tenant per append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantHead {
    /// The sequence number the tenant's next entry gets (= its entry count).
    pub next_seq: u64,
    pub last_hash: [u8; 32],
}

/// Everything one append writes, applied atomically.
#[derive(Debug, Default)]
pub struct Commit {
    /// (first position, block value)
    pub blocks: Vec<(u64, Vec<u8>)>,
    /// (first position, fingerprints of the block's entries)
    pub fingerprints: Vec<(u64, Vec<u64>)>,
    /// (tenant, first position of the block, the tenant's positions in it,
    /// the tenant's head after the block)
    pub tenant_index: Vec<(String, u64, Vec<u64>, TenantHead)>,
    /// Tenants whose first entries this commit holds.
    pub new_tenants: Vec<String>,
    pub head: Option<Head>,
}

pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    /// Highest blob file (by its log sequence number) known to be fsynced.
    blobs_synced: AtomicU64,
}

fn block_key(prefix: u8, position: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

fn tenant_index_prefix(tenant: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 10);
    key.push(PREFIX_TENANT_INDEX);
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key
}

/// Bytes of the tenant head at the start of a tenant index value.
const INDEX_HEAD_LEN: usize = 8 + 32;

fn decode_index_head(value: &[u8]) -> Result<TenantHead, StoreError> {
    let head = value
        .get(..INDEX_HEAD_LEN)
        .ok_or_else(|| StoreError::Corrupt("a tenant index value is truncated".into()))?;
    Ok(TenantHead {
        next_seq: u64::from_be_bytes(head[..8].try_into().expect("8 bytes")),
        last_hash: head[8..].try_into().expect("32 bytes"),
    })
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
    /// Opens (creating if absent) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            // Durability comes from the explicit flush of every append;
            // a background flush would only add fsyncs.
            .flush_every_ms(None)
            .segment_size(SEGMENT_BYTES);
        let db = config.open().map_err(|source| match &source {
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                StoreError::Locked {
                    dir: dir.to_owned(),
                }
            }
            sled::Error::Io(io) if io.to_string().contains("lock") => StoreError::Locked {
                dir: dir.to_owned(),
            },
            _ => StoreError::Open {
                dir: dir.to_owned(),
                source,
            },
        })?;
        match db.get(KEY_FORMAT)? {
            None => {
                db.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            Some(bytes) => {
                let found = bytes
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("format version is not 4 bytes".into()))?;
                if found != FORMAT_VERSION {
                    return Err(StoreError::Format {
                        dir: dir.to_owned(),
                        found,
                    });
                }
            }
        }
        // Blobs left by an earlier process may not be durable either.
        let store = Store {
            db,
            dir: dir.to_owned(),
            blobs_synced: AtomicU64::new(0),
        };
        store.sync_blobs()?;
        Ok(store)
    }

    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        self.db
            .get(KEY_HEAD)?
            .map(|bytes| decode("head", &bytes))
            .transpose()
    }

    /// Every tenant's head, from the last index value of each tenant.
    pub fn tenant_heads(&self) -> Result<Vec<(String, TenantHead)>, StoreError> {
        let mut heads = Vec::new();
        for item in self.db.scan_prefix([PREFIX_TENANT_HEAD]) {
            let (key, _) = item?;
            let tenant = String::from_utf8(key[1..].to_vec())
                .map_err(|_| StoreError::Corrupt("tenant key is not UTF-8".into()))?;
            let last = self
                .db
                .scan_prefix(tenant_index_prefix(&tenant))
                .next_back();
            let Some(last) = last.transpose()? else {
                return Err(StoreError::Corrupt(format!("tenant {tenant} has no index")));
            };
            heads.push((tenant, decode_index_head(&last.1)?));
        }
        Ok(heads)
    }

    /// Calls `each(position, fingerprint)` for every entry, in order.
    pub fn fingerprints(&self, mut each: impl FnMut(u64, u64)) -> Result<(), StoreError> {
        for item in self.db.scan_prefix([PREFIX_KEYS]) {
            let (key, value) = item?;
            let first = position_of(&key)?;
            if value.len() % 8 != 0 {
                return Err(StoreError::Corrupt(format!(
                    "fingerprints at {first} are ragged"
                )));
            }
            for (offset, chunk) in value.chunks_exact(8).enumerate() {
                each(
                    first + offset as u64,
                    u64::from_be_bytes(chunk.try_into().expect("8")),
                );
            }
        }
        Ok(())
    }

    /// Applies one append atomically and makes it durable.
    pub fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (first, block) in commit.blocks {
            batch.insert(&block_key(PREFIX_BLOCK, first), block);
        }
        for (first, fingerprints) in commit.fingerprints {
            let bytes: Vec<u8> = fingerprints
                .iter()
                .flat_map(|fp| fp.to_be_bytes())
                .collect();
            batch.insert(&block_key(PREFIX_KEYS, first), bytes);
        }
        for (tenant, first, positions, head) in commit.tenant_index {
            let mut key = tenant_index_prefix(&tenant);
            key.extend_from_slice(&first.to_be_bytes());
            let mut bytes = Vec::with_capacity(INDEX_HEAD_LEN + positions.len() * 8);
            bytes.extend_from_slice(&head.next_seq.to_be_bytes());
            bytes.extend_from_slice(&head.last_hash);
            bytes.extend(positions.iter().flat_map(|p| p.to_be_bytes()));
            batch.insert(key, bytes);
        }
        for tenant in commit.new_tenants {
            let mut key = vec![PREFIX_TENANT_HEAD];
            key.extend_from_slice(tenant.as_bytes());
            batch.insert(key, &[]);
        }
        if let Some(head) = commit.head {
            batch.insert(KEY_HEAD, encode(&head));
        }
        self.db.apply_batch(batch)?;
        self.sync_blobs()?;
        self.db.flush()?;
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

    /// Blocks in position order, starting with the one holding `from`.
    pub fn blocks(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        let start = match self.block_start(from) {
            Ok(Some(first)) => first,
            Ok(None) => from,
            Err(error) => {
                return Box::new(std::iter::once(Err(error))) as Box<dyn Iterator<Item = _>>
            }
        };
        let end = block_key(PREFIX_BLOCK, u64::MAX);
        Box::new(
            self.db
                .range(block_key(PREFIX_BLOCK, start)..=end)
                .map(|item| {
                    let (key, value) = item?;
                    Ok((position_of(&key)?, value))
                }),
        )
    }

    /// First position of the block that holds `position`, if any.
    fn block_start(&self, position: u64) -> Result<Option<u64>, StoreError> {
        let low = block_key(PREFIX_BLOCK, 0);
        match self
            .db
            .range(low..=block_key(PREFIX_BLOCK, position))
            .next_back()
        {
            Some(item) => Ok(Some(position_of(&item?.0)?)),
            None => Ok(None),
        }
    }

    /// The block holding `position`: (first position, bytes).
    pub fn block_containing(&self, position: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        let Some(first) = self.block_start(position)? else {
            return Ok(None);
        };
        Ok(self
            .db
            .get(block_key(PREFIX_BLOCK, first))?
            .map(|bytes| (first, bytes)))
    }

    /// The tenant's positions, in order, block by block.
    pub fn tenant_positions<'a>(
        &'a self,
        tenant: &str,
    ) -> impl Iterator<Item = Result<Vec<u64>, StoreError>> + 'a {
        self.db
            .scan_prefix(tenant_index_prefix(tenant))
            .map(|item| {
                let (_, value) = item?;
                let Some(positions) = value.get(INDEX_HEAD_LEN..) else {
                    return Err(StoreError::Corrupt(
                        "a tenant index value is truncated".into(),
                    ));
                };
                Ok(positions
                    .chunks_exact(8)
                    .map(|c| u64::from_be_bytes(c.try_into().expect("8")))
                    .collect())
            })
    }

    /// The test-only door through which tamper tests change stored blocks
    /// the way an attacker with file access could.
    #[cfg(test)]
    pub fn tamper_put_block(&self, first: u64, block: Option<Vec<u8>>) -> Result<(), StoreError> {
        match block {
            Some(bytes) => self.db.insert(block_key(PREFIX_BLOCK, first), bytes)?,
            None => self.db.remove(block_key(PREFIX_BLOCK, first))?,
        };
        self.db.flush()?;
        Ok(())
    }

    #[cfg(test)]
    pub fn tamper_put_head(&self, head: Head) -> Result<(), StoreError> {
        self.db.insert(KEY_HEAD, encode(&head))?;
        Ok(())
    }
}
