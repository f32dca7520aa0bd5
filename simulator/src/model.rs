//! The simulated ledger: records chained by a hash, as a node holds them
//! applied (in memory) and durable (on its disk), and the commit log's
//! segments that carry them. A record's "bytes" are (position, event,
//! hash); two ledgers agree on a prefix when their records there are
//! equal, and the hash chains every record to all before it.

use std::collections::HashSet;

/// One entry: its position, the event it stores and its chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub position: u64,
    pub event: u64,
    pub hash: u64,
}

/// The chain hash of a record at `position` storing `event` after `prev`
/// (splitmix64 over the three: enough to tell histories apart here).
pub fn chain(prev: u64, position: u64, event: u64) -> u64 {
    let mut x = prev ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ event.rotate_left(17);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One commit-log message: records extending the head `base_hash` at
/// position `first`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub first: u64,
    pub base_hash: u64,
    pub records: Vec<Record>,
}

impl Segment {
    pub fn end(&self) -> u64 {
        self.first + self.records.len() as u64
    }

    /// Its `Nats-Msg-Id`: a digest of its content.
    pub fn msg_id(&self) -> u64 {
        self.records
            .iter()
            .fold(chain(self.base_hash, self.first, 0), |h, r| {
                chain(h, r.position, r.hash)
            })
    }
}

/// A node's ledger, as applied or as durable.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub records: Vec<Record>,
    pub events: HashSet<u64>,
    /// The commit log's stream sequence applied (the log cursor).
    pub log_cursor: u64,
    /// The events stream's highest sequence held (the consumer cursor).
    pub consumer_cursor: u64,
    /// Signed checkpoints stored: (size, head hash).
    pub checkpoints: Vec<(u64, u64)>,
}

impl Ledger {
    pub fn size(&self) -> u64 {
        self.records.len() as u64
    }

    /// The head hash (0 when empty): what a checkpoint of this size signs.
    pub fn head(&self) -> u64 {
        self.records.last().map_or(0, |r| r.hash)
    }

    /// The head hash of the first `size` records.
    pub fn root(&self, size: u64) -> Option<u64> {
        match size {
            0 => Some(0),
            _ => self.records.get(size as usize - 1).map(|r| r.hash),
        }
    }

    /// The records `events` would append (duplicates of stored events and
    /// of each other skipped).
    pub fn prepare(&self, events: &[u64]) -> Vec<Record> {
        let mut records: Vec<Record> = Vec::new();
        let mut hash = self.head();
        for &event in events {
            if self.events.contains(&event) || records.iter().any(|r| r.event == event) {
                continue;
            }
            let position = self.size() + records.len() as u64;
            hash = chain(hash, position, event);
            records.push(Record {
                position,
                event,
                hash,
            });
        }
        records
    }

    /// Appends records that extend this ledger exactly.
    pub fn append(&mut self, records: &[Record]) -> Result<(), String> {
        for r in records {
            let expected = chain(self.head(), self.size(), r.event);
            if r.position != self.size() || r.hash != expected {
                return Err(format!(
                    "record {} (event {}) does not extend the head at size {}",
                    r.position,
                    r.event,
                    self.size()
                ));
            }
            self.records.push(*r);
            self.events.insert(r.event);
        }
        Ok(())
    }

    /// Applies a commit-log segment as `Ledger::apply_segment` does:
    /// records held already must be identical and are skipped, the rest
    /// must extend the head; a gap or a different record is refused.
    pub fn apply_segment(&mut self, sequence: u64, segment: &Segment) -> Result<u64, String> {
        if segment.first > self.size() {
            return Err(format!(
                "segment at {} leaves a gap after size {}",
                segment.first,
                self.size()
            ));
        }
        let mut applied = 0;
        for r in &segment.records {
            match self.records.get(r.position as usize) {
                Some(held) if held == r => {}
                Some(held) => {
                    return Err(format!(
                        "record {} differs from the one held (event {} against {})",
                        r.position, r.event, held.event
                    ))
                }
                None => {
                    self.append(std::slice::from_ref(r))?;
                    applied += 1;
                }
            }
        }
        self.log_cursor = self.log_cursor.max(sequence);
        Ok(applied)
    }
}
