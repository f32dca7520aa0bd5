//! Blocks: the unit in which entries are stored, one sled value per block.
//!
//! sled costs about the same per insert whatever the value size, so the
//! ledger stores the records of one append in blocks of up to
//! `BLOCK_ENTRIES_MAX` consecutive entries. A block is a container, not part
//! of what is hashed: each record inside is its exact preimage, followed by
//! the hash it had when appended (so a changed byte is caught even when the
//! chain link after it was rewritten too). Pure: no sled here.

use crate::record::Hash;

/// Entries per block. sled reaches about 220k entries/s with 1,000-entry
/// values on a 2-core machine against about 65k/s with one value per
/// entry; larger values add little and make each read of one entry dearer.
pub const BLOCK_ENTRIES_MAX: usize = 1024;

/// Bytes per block, whatever the entry count, so that a sled leaf of up to
/// 17 blocks stays below sled's blob threshold (a quarter of a 16 MiB
/// segment) and blocks are written to sled's fsynced log (see `store`).
pub const BLOCK_BYTES_MAX: usize = 160 << 10;

/// Magic and container version at the start of every block value.
const MAGIC: &[u8; 4] = b"TLAB";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 4;

/// Why stored bytes are not a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block does not start with the magic bytes TLAB")]
    Magic,
    #[error("block container version {0} is not supported (this build reads version 1)")]
    Version(u8),
    #[error("block is truncated at byte {0}")]
    Truncated(usize),
    #[error("block has {0} bytes after its last record")]
    Trailing(usize),
}

/// Encodes records (preimage and hash) into one block value.
pub fn encode<'a>(records: impl ExactSizeIterator<Item = (&'a [u8], Hash)>) -> Vec<u8> {
    let count = records.len();
    assert!(count > 0, "a block holds at least one record");
    assert!(count <= BLOCK_ENTRIES_MAX, "block holds {count} records");
    let mut out = Vec::with_capacity(HEADER_LEN + count * 400);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(count as u32).to_be_bytes());
    for (record, hash) in records {
        out.extend_from_slice(&(record.len() as u32).to_be_bytes());
        out.extend_from_slice(record);
        out.extend_from_slice(&hash.0);
    }
    out
}

/// Builds one block value record by record, encoding each preimage in
/// place (no intermediate copies on the append path).
pub struct Builder {
    bytes: Vec<u8>,
    count: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let mut bytes = Vec::with_capacity(HEADER_LEN + BLOCK_ENTRIES_MAX * 400);
        bytes.extend_from_slice(MAGIC);
        bytes.push(VERSION);
        bytes.extend_from_slice(&0u32.to_be_bytes());
        Builder { bytes, count: 0 }
    }

    /// Encodes a record into the block and returns its hash.
    /// Adds a record; returns its chain hash and its Merkle leaf hash
    /// (both over the same stored bytes).
    pub fn push(&mut self, fields: &crate::record::Fields<'_>) -> (Hash, crate::merkle::Digest) {
        assert!((self.count as usize) < BLOCK_ENTRIES_MAX, "block is full");
        let len_at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        fields.encode_into(&mut self.bytes);
        let record = &self.bytes[len_at + 4..];
        let hash = crate::record::hash(record);
        let leaf = crate::merkle::leaf_hash(record);
        let len = record.len() as u32;
        self.bytes[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(&hash.0);
        self.count += 1;
        (hash, leaf)
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes so far, to cap a block's size as well as its entry count.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn finish(mut self) -> Vec<u8> {
        assert!(self.count > 0, "a block holds at least one record");
        self.bytes[5..9].copy_from_slice(&self.count.to_be_bytes());
        self.bytes
    }
}

/// Iterates the records of a block in stored order, without copying.
pub struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
    left: u32,
}

/// Opens a block for reading; the iterator then yields each record or the
/// first error.
pub fn records(bytes: &[u8]) -> Result<Records<'_>, BlockError> {
    if bytes.len() < HEADER_LEN {
        return Err(BlockError::Truncated(bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return Err(BlockError::Magic);
    }
    if bytes[4] != VERSION {
        return Err(BlockError::Version(bytes[4]));
    }
    let left = u32::from_be_bytes(bytes[5..9].try_into().expect("4 bytes"));
    Ok(Records {
        bytes,
        at: HEADER_LEN,
        left,
    })
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a [u8], Hash), BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            if self.at != self.bytes.len() {
                let trailing = self.bytes.len() - self.at;
                self.at = self.bytes.len();
                return Some(Err(BlockError::Trailing(trailing)));
            }
            return None;
        }
        self.left -= 1;
        let bytes = self.bytes;
        let at = self.at;
        let Some(len) = bytes.get(at..at + 4) else {
            self.left = 0;
            self.at = bytes.len();
            return Some(Err(BlockError::Truncated(at)));
        };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let end = at + 4 + len;
        let Some(hash) = bytes.get(end..end + 32) else {
            self.left = 0;
            self.at = bytes.len();
            return Some(Err(BlockError::Truncated(at)));
        };
        self.at = end + 32;
        Some(Ok((
            &bytes[at + 4..end],
            Hash(hash.try_into().expect("32 bytes")),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = b"first".to_vec();
        let b = b"second record".to_vec();
        let block = encode([(&a[..], Hash([1; 32])), (&b[..], Hash([2; 32]))].into_iter());
        let read: Vec<_> = records(&block).unwrap().map(Result::unwrap).collect();
        assert_eq!(read, vec![(&a[..], Hash([1; 32])), (&b[..], Hash([2; 32]))]);
    }

    #[test]
    fn truncation_and_trailing_bytes_are_errors() {
        let a = b"first".to_vec();
        let block = encode([(&a[..], Hash([1; 32]))].into_iter());
        for cut in 0..block.len() {
            let read: Result<Vec<_>, _> = match records(&block[..cut]) {
                Ok(iter) => iter.collect(),
                Err(error) => Err(error),
            };
            assert!(read.is_err(), "cut at {cut} accepted");
        }
        let mut longer = block.clone();
        longer.push(0);
        let read: Result<Vec<_>, _> = records(&longer).unwrap().collect();
        assert_eq!(read, Err(BlockError::Trailing(1)));
    }
}
