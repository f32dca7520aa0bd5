//! The ledger replicated through a commit log (docs/OPERATIONS.md, "The
//! replicated ledger"): the writer *prepares* an append (the records it
//! would add, chained to its head, with what is stored beside them), has
//! the commit log accept them, and only then *commits* the same append
//! locally; replicas apply the commit log's records byte for byte,
//! checking each. Pure but for the ledger: the transport (JetStream) lives
//! in `ingest::replica`.
//!
//! A `Segment` is one commit-log message: the records of (part of) one
//! append, each with the hash its writer computed, the ledger's position
//! and head hash they extend, and, on an append's last segment, the
//! cursors and refusals stored with it. Segments are bincode (format
//! `SEGMENT_FORMAT`), so a replica stores exactly what the writer stored.

use bincode::{Decode, Encode};

use crate::record::Hash;
use crate::store::LEDGER_ID_BYTES;
use crate::{writer, Head, Ledger, LedgerError, ReplicaError};

/// The segment format this code writes and reads.
pub const SEGMENT_FORMAT: u32 = 1;

/// An append built against the ledger's head but not applied
/// (`Ledger::prepare_with`); `Ledger::commit_prepared` applies it.
pub struct Prepared {
    pub(crate) base: Head,
    pub(crate) finished: writer::Finished,
    pub(crate) agreed: Vec<String>,
    pub(crate) records: Vec<(Vec<u8>, Hash)>,
}

impl Prepared {
    /// The head this append extends.
    pub fn base(&self) -> Head {
        self.base
    }

    /// The head after it.
    pub fn head(&self) -> Head {
        self.finished.3
    }

    /// The new records (bytes and hash), in position order; empty unless
    /// prepared by `prepare_with`.
    pub fn records(&self) -> &[(Vec<u8>, Hash)] {
        &self.records
    }

    /// Whether committing it would write nothing.
    pub fn is_empty(&self) -> bool {
        self.finished.0.is_empty()
    }

    /// The append as commit-log segments of at most about `max_bytes`
    /// each (a record larger than that gets a segment of its own), the
    /// cursors and refusals on the last. `writer` names the writer process
    /// that made them. Empty when the append writes nothing.
    pub fn segments(
        &self,
        ledger_id: [u8; LEDGER_ID_BYTES],
        writer: [u8; 16],
        max_bytes: usize,
    ) -> Vec<Segment> {
        if self.is_empty() {
            return Vec::new();
        }
        let commit = &self.finished.0;
        let mut segments = Vec::new();
        let mut current = Segment {
            format: SEGMENT_FORMAT,
            ledger_id,
            writer,
            first: self.base.size,
            base_hash: self.base.hash.0,
            records: Vec::new(),
            cursors: Vec::new(),
            refused: Vec::new(),
        };
        let mut bytes = 0;
        for (record, hash) in &self.records {
            if !current.records.is_empty() && bytes + record.len() + 48 > max_bytes {
                let first = current.first + current.records.len() as u64;
                let base_hash = current.records.last().map_or(current.base_hash, |r| r.1);
                let next = Segment {
                    first,
                    base_hash,
                    records: Vec::new(),
                    ..current.clone()
                };
                segments.push(std::mem::replace(&mut current, next));
                bytes = 0;
            }
            bytes += record.len() + 48;
            current.records.push((record.clone(), hash.0));
        }
        current.cursors = commit.cursors.clone();
        current.refused = commit.refused.clone();
        segments.push(current);
        segments
    }
}

/// One commit-log message (module doc).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Segment {
    /// `SEGMENT_FORMAT`.
    pub format: u32,
    /// The ledger's id (`Identity::id`): a replica copies one ledger only.
    pub ledger_id: [u8; LEDGER_ID_BYTES],
    /// A random id of the writer process that published it.
    pub writer: [u8; 16],
    /// The position of its first record: the ledger's size before it.
    pub first: u64,
    /// The ledger's head hash before it.
    pub base_hash: [u8; 32],
    /// Each record's bytes (docs/FORMAT.md) and the hash its writer computed.
    pub records: Vec<(Vec<u8>, [u8; 32])>,
    /// Cursors stored with the append (name, sequence).
    pub cursors: Vec<(String, u64)>,
    /// Refusals remembered with the append (digest, reason).
    pub refused: Vec<([u8; 32], String)>,
}

impl Segment {
    pub fn encode(&self) -> Vec<u8> {
        bincode::encode_to_vec(self, bincode::config::standard()).expect("bincode encodes to a Vec")
    }

    /// Reads a segment; refuses trailing bytes and other formats.
    pub fn decode(bytes: &[u8]) -> Result<Segment, String> {
        let config = bincode::config::standard().with_limit::<{ 64 << 20 }>();
        let (segment, read): (Segment, usize) = bincode::decode_from_slice(bytes, config)
            .map_err(|e| format!("not a ledger segment: {e}"))?;
        if read != bytes.len() {
            return Err(format!(
                "not a ledger segment: {} bytes after its end",
                bytes.len() - read
            ));
        }
        if segment.format != SEGMENT_FORMAT {
            return Err(format!(
                "segment format {} is not {SEGMENT_FORMAT}",
                segment.format
            ));
        }
        Ok(segment)
    }

    /// The position after its last record.
    pub fn end(&self) -> u64 {
        self.first + self.records.len() as u64
    }
}

/// What applying a segment did (`Ledger::apply_segment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Records this ledger held already (identical), skipped.
    pub held: u64,
    /// Records applied.
    pub applied: u64,
    pub head: Head,
}

impl Ledger {
    /// Builds an append like `append_unsynced_with` but applies nothing:
    /// the records it would add (bytes and hashes, `Prepared::records`)
    /// can be replicated first, and `commit_prepared` then applies exactly
    /// them. Prepare the next append only after committing this one.
    pub fn prepare_with(
        &mut self,
        events: &[schemas::Event],
        options: crate::AppendOptions<'_>,
    ) -> Result<(Prepared, Vec<crate::Outcome>), LedgerError> {
        self.build(events, options, true)
    }

    /// Applies a prepared append (unsynced, like `append_unsynced`), with
    /// `cursor` stored in the same batch; refuses one prepared against
    /// another head. Returns the head after it.
    pub fn commit_prepared(
        &mut self,
        prepared: Prepared,
        cursor: Option<(&str, u64)>,
    ) -> Result<Head, LedgerError> {
        if self.poisoned.load(std::sync::atomic::Ordering::Acquire) {
            return Err(LedgerError::Poisoned);
        }
        if prepared.base != self.head {
            return Err(LedgerError::Corrupt {
                position: self.head.size,
                detail: format!(
                    "an append prepared at size {} is committed at size {}",
                    prepared.base.size, self.head.size
                ),
            });
        }
        let Prepared {
            mut finished,
            agreed,
            ..
        } = prepared;
        if let Some((name, sequence)) = cursor {
            finished.0.cursors.push((name.to_owned(), sequence));
        }
        if !finished.0.is_empty() {
            self.apply_commit(finished, agreed)?;
        }
        Ok(self.head)
    }

    /// Applies a commit-log segment, checking it (`apply_records_unsynced`
    /// for each record) and storing `cursor` (the commit log's sequence of
    /// it) with it, unsynced. Records this ledger holds already must be
    /// identical (same hash at the same position) and are skipped, so a
    /// segment seen twice changes nothing. An empty ledger takes the
    /// segment's ledger id; any other refuses a segment of another ledger.
    pub fn apply_segment(
        &mut self,
        segment: &Segment,
        cursor: (&str, u64),
    ) -> Result<Applied, ReplicaError> {
        let refuse = |position: u64, detail: String| ReplicaError::Refused { position, detail };
        let own = self.store.ledger_id().map_err(LedgerError::from)?;
        if own != Some(segment.ledger_id) {
            if self.head.size == 0
                && self
                    .store
                    .cursor(cursor.0)
                    .map_err(LedgerError::from)?
                    .is_none()
            {
                self.store
                    .put_ledger_id(segment.ledger_id)
                    .map_err(LedgerError::from)?;
            } else {
                return Err(refuse(
                    segment.first,
                    format!(
                        "it belongs to ledger {}, not to this ledger {}",
                        hex::encode(segment.ledger_id),
                        own.map_or_else(|| "(no id)".into(), hex::encode)
                    ),
                ));
            }
        }
        let size = self.head.size;
        if segment.first > size {
            return Err(refuse(
                size,
                format!(
                    "the next segment starts at position {}, after this ledger's {size} \
                     entries: records are missing from the commit log",
                    segment.first
                ),
            ));
        }
        let held = (size - segment.first).min(segment.records.len() as u64);
        for (offset, (_, hash)) in segment.records.iter().take(held as usize).enumerate() {
            let position = segment.first + offset as u64;
            let ours = self.leaf_record_hash(position)?;
            if ours.0 != *hash {
                return Err(refuse(
                    position,
                    format!(
                        "the commit log's record hashes to {} but this ledger's entry there \
                         hashes to {ours}: the histories differ",
                        Hash(*hash)
                    ),
                ));
            }
        }
        if held == 0 && segment.base_hash != self.head.hash.0 && segment.first == size {
            return Err(refuse(
                size,
                format!(
                    "the segment extends head {} but this ledger's head is {}",
                    Hash(segment.base_hash),
                    self.head.hash
                ),
            ));
        }
        let records: Vec<(&[u8], Hash)> = segment.records[held as usize..]
            .iter()
            .map(|(bytes, hash)| (bytes.as_slice(), Hash(*hash)))
            .collect();
        let mut cursors = segment.cursors.clone();
        cursors.push((cursor.0.to_owned(), cursor.1));
        let refused: Vec<([u8; 32], String)> = segment.refused.clone();
        let head = self.apply_records_with(&records, cursors, refused)?;
        Ok(Applied {
            held,
            applied: records.len() as u64,
            head,
        })
    }

    /// This ledger's stored entries from `from` on as commit-log segments
    /// of at most about `max_bytes` each, no cursors or refusals: what a
    /// writer publishes when it starts replicating a ledger that has
    /// entries the commit log lacks (a ledger from before replication).
    pub fn stored_segments(
        &self,
        from: u64,
        writer: [u8; 16],
        max_bytes: usize,
    ) -> Result<Vec<Segment>, LedgerError> {
        self.stored_segments_until(from, u64::MAX, writer, max_bytes)
    }

    /// `stored_segments` of the entries from `from` up to (not including)
    /// position `to` only: a copy read a bounded stretch at a time
    /// (`service::snapshot`), each stretch under the ledger's lock.
    pub fn stored_segments_until(
        &self,
        from: u64,
        to: u64,
        writer: [u8; 16],
        max_bytes: usize,
    ) -> Result<Vec<Segment>, LedgerError> {
        let ledger_id = self.ledger_id()?;
        let mut segments = Vec::new();
        let mut current: Option<(Segment, usize)> = None;
        let mut base_hash = match from {
            0 => crate::ZERO_HASH,
            _ => self.leaf_record_hash(from - 1)?,
        };
        let until = |entry: &Result<crate::Entry, LedgerError>| {
            entry.as_ref().map_or(true, |e| e.record.position < to)
        };
        for entry in self.entries(from).take_while(until) {
            let entry = entry?;
            let bytes = entry.record.encode();
            let full = current
                .as_ref()
                .is_some_and(|(s, n)| !s.records.is_empty() && n + bytes.len() + 48 > max_bytes);
            if full {
                segments.extend(current.take().map(|(s, _)| s));
            }
            let (segment, n) = current.get_or_insert_with(|| {
                (
                    Segment {
                        format: SEGMENT_FORMAT,
                        ledger_id,
                        writer,
                        first: entry.record.position,
                        base_hash: base_hash.0,
                        records: Vec::new(),
                        cursors: Vec::new(),
                        refused: Vec::new(),
                    },
                    0,
                )
            });
            *n += bytes.len() + 48;
            segment.records.push((bytes, entry.hash.0));
            base_hash = entry.hash;
        }
        segments.extend(current.map(|(s, _)| s));
        Ok(segments)
    }

    /// The stored hash of the entry at `position` (below the head).
    fn leaf_record_hash(&self, position: u64) -> Result<Hash, LedgerError> {
        match self.entry(position)? {
            Some(entry) => Ok(entry.hash),
            None => Err(LedgerError::BeyondSize {
                size: position + 1,
                ledger_size: self.head.size,
            }),
        }
    }

    /// Stores a checkpoint signed by the writer (a replica storing what
    /// the writer published) once this ledger has as many entries, after
    /// checking that its root is this ledger's tree root of that size and,
    /// with `verifier`, its signature. `Ok(false)`: not stored yet, the
    /// ledger is smaller than the checkpoint.
    pub fn store_checkpoint(
        &self,
        note: &str,
        verifier: Option<&crate::checkpoint::Verifier>,
    ) -> Result<bool, LedgerError> {
        self.check_and_store_checkpoint(note, verifier, true)
    }

    /// `store_checkpoint`, applied but not made durable (like
    /// `apply_segment`): for a copy that stores many and syncs once, where
    /// a flush each would cost a millisecond per checkpoint.
    pub fn store_checkpoint_unsynced(
        &self,
        note: &str,
        verifier: Option<&crate::checkpoint::Verifier>,
    ) -> Result<bool, LedgerError> {
        self.check_and_store_checkpoint(note, verifier, false)
    }

    fn check_and_store_checkpoint(
        &self,
        note: &str,
        verifier: Option<&crate::checkpoint::Verifier>,
        sync: bool,
    ) -> Result<bool, LedgerError> {
        let checkpoint = match verifier {
            Some(verifier) => verifier.open(note)?,
            None => crate::checkpoint::read_unverified(note)?,
        };
        if checkpoint.size > self.head.size {
            return Ok(false);
        }
        let computed = self.merkle_root(checkpoint.size)?;
        if computed != checkpoint.root {
            return Err(LedgerError::InconsistentCheckpoint {
                size: checkpoint.size,
                stored: hex::encode(checkpoint.root),
                computed: hex::encode(computed),
            });
        }
        match sync {
            true => self.store.put_checkpoint(checkpoint.size, note)?,
            false => self.store.put_checkpoint_unsynced(checkpoint.size, note)?,
        }
        Ok(true)
    }

    /// The stored checkpoints (tree size, signed note) of tree sizes from
    /// `from` up to `to` inclusive, at most `max` of them, by size.
    pub fn stored_checkpoints(
        &self,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<Vec<(u64, String)>, LedgerError> {
        let mut found = Vec::new();
        for checkpoint in self.store.checkpoints(from).take(max) {
            let (size, note) = checkpoint?;
            if size > to {
                break;
            }
            found.push((size, note));
        }
        Ok(found)
    }

    /// How many checkpoints are stored.
    pub fn checkpoints_stored(&self) -> Result<usize, LedgerError> {
        let mut count = 0;
        for checkpoint in self.store.checkpoints(0) {
            checkpoint?;
            count += 1;
        }
        Ok(count)
    }

    /// The ledger id, in bytes.
    pub fn ledger_id(&self) -> Result<[u8; LEDGER_ID_BYTES], LedgerError> {
        self.store.ledger_id()?.ok_or_else(|| LedgerError::Corrupt {
            position: 0,
            detail: "the ledger has no id (open it for writing once to give it one)".into(),
        })
    }
}
