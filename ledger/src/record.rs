//! The entry record: the exact bytes that are hashed and stored.
//!
//! One record per ledger entry. Its byte layout is the hash preimage and is
//! documented for auditors in `docs/FORMAT.md`; changing it means a new
//! `DOMAIN` (a new format version), never an edit of this one. Everything
//! here is pure: no sled, no clock.

use std::fmt;

/// Domain separation tag and format version of an entry record: the first
/// bytes of every preimage, so an entry hash can never be confused with a
/// hash of anything else (a Merkle node, an event, a checkpoint).
pub const DOMAIN: &[u8; 20] = b"tla-ledger/entry/v1\0";

/// The hash chained into the first entry (and into each tenant's first).
pub const ZERO_HASH: Hash = Hash([0; 32]);

/// Tenants are `[a-z0-9][a-z0-9-]{0,62}`, so one length byte suffices.
pub const TENANT_LEN_MAX: usize = 63;

/// The largest event a record can carry. Validation limits events far below
/// this; the bound keeps a corrupt length field from allocating gigabytes.
pub const EVENT_LEN_MAX: usize = 4 << 20;

/// Fixed-size part of the preimage: domain, position, record time, prev
/// hash, tenant sequence, tenant prev hash, tenant length, event length.
pub const FIXED_LEN: usize = 20 + 8 + 8 + 32 + 8 + 32 + 1 + 4;

/// A BLAKE3 hash of a record preimage.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Hash(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

/// A decoded entry record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Ledger position, counting from 0 in append order.
    pub position: u64,
    /// Record time: microseconds since the Unix epoch (UTC) at which the
    /// ledger appended the entry; never decreases along the chain.
    pub record_time: i64,
    /// Hash of the entry at `position - 1` (`ZERO_HASH` for position 0).
    pub prev_hash: Hash,
    /// This entry's sequence number among its tenant's entries, from 0.
    pub tenant_seq: u64,
    /// Hash of the tenant's previous entry (`ZERO_HASH` for its first).
    pub tenant_prev_hash: Hash,
    pub tenant: String,
    /// The event in canonical JSON, exactly as hashed.
    pub event: Vec<u8>,
}

/// Why a byte string is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record is {0} bytes, shorter than its fixed part")]
    Short(usize),
    #[error(
        "record does not start with the tag {:?}",
        String::from_utf8_lossy(DOMAIN)
    )]
    Domain,
    #[error("record length fields say {expected} bytes but it has {actual}")]
    Length { expected: usize, actual: usize },
    #[error("record tenant is not UTF-8")]
    Tenant,
}

impl Record {
    /// The preimage: the bytes that are hashed and stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.tenant.len() + self.event.len());
        self.fields().encode_into(&mut out);
        out
    }

    /// The record's fields, borrowed.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            position: self.position,
            record_time: self.record_time,
            prev_hash: self.prev_hash,
            tenant_seq: self.tenant_seq,
            tenant_prev_hash: self.tenant_prev_hash,
            tenant: &self.tenant,
            event: &self.event,
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        Fields::decode(bytes).map(|fields| fields.to_record())
    }
}

/// A record's fields, borrowed: what appends encode straight into a block
/// without building an owned `Record` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub position: u64,
    pub record_time: i64,
    pub prev_hash: Hash,
    pub tenant_seq: u64,
    pub tenant_prev_hash: Hash,
    pub tenant: &'a str,
    pub event: &'a [u8],
}

impl Fields<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            position: self.position,
            record_time: self.record_time,
            prev_hash: self.prev_hash,
            tenant_seq: self.tenant_seq,
            tenant_prev_hash: self.tenant_prev_hash,
            tenant: self.tenant.to_owned(),
            event: self.event.to_vec(),
        }
    }

    /// Appends the preimage to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        assert!(
            self.tenant.len() <= TENANT_LEN_MAX,
            "tenant too long for a record"
        );
        assert!(
            self.event.len() <= EVENT_LEN_MAX,
            "event too long for a record"
        );
        out.reserve(FIXED_LEN + self.tenant.len() + self.event.len());
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.record_time.to_be_bytes());
        out.extend_from_slice(&self.prev_hash.0);
        out.extend_from_slice(&self.tenant_seq.to_be_bytes());
        out.extend_from_slice(&self.tenant_prev_hash.0);
        // Cannot truncate: asserted above.
        out.push(self.tenant.len() as u8);
        out.extend_from_slice(self.tenant.as_bytes());
        out.extend_from_slice(&(self.event.len() as u32).to_be_bytes());
        out.extend_from_slice(self.event);
    }
}

impl<'a> Fields<'a> {
    /// Decodes a record without copying: the fields borrow the stored bytes.
    pub fn decode(bytes: &'a [u8]) -> Result<Fields<'a>, DecodeError> {
        if bytes.len() < FIXED_LEN {
            return Err(DecodeError::Short(bytes.len()));
        }
        if &bytes[..20] != DOMAIN {
            return Err(DecodeError::Domain);
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let hash_at = |at: usize| Hash(bytes[at..at + 32].try_into().expect("32 bytes"));
        let tenant_len = bytes[108] as usize;
        let event_len_at = 109 + tenant_len;
        if bytes.len() < event_len_at + 4 {
            return Err(DecodeError::Short(bytes.len()));
        }
        let event_len = u32::from_be_bytes(
            bytes[event_len_at..event_len_at + 4]
                .try_into()
                .expect("4 bytes"),
        );
        let event_offset = event_len_at + 4;
        let expected = event_offset + event_len as usize;
        if expected != bytes.len() {
            return Err(DecodeError::Length {
                expected,
                actual: bytes.len(),
            });
        }
        let tenant =
            std::str::from_utf8(&bytes[109..event_len_at]).map_err(|_| DecodeError::Tenant)?;
        Ok(Fields {
            position: u64_at(20),
            record_time: u64_at(28) as i64,
            prev_hash: hash_at(36),
            tenant_seq: u64_at(68),
            tenant_prev_hash: hash_at(76),
            tenant,
            event: &bytes[event_offset..],
        })
    }
}

/// The position field of a record, read without decoding the rest; None
/// when the bytes are too short or lack the tag.
pub fn position_of(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < FIXED_LEN || &bytes[..20] != DOMAIN {
        return None;
    }
    bytes[20..28].try_into().ok().map(u64::from_be_bytes)
}

/// The entry hash: BLAKE3 of the whole record preimage.
pub fn hash(preimage: &[u8]) -> Hash {
    Hash(*blake3::hash(preimage).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            position: 7,
            record_time: 1_700_000_000_000_000,
            prev_hash: Hash([1; 32]),
            tenant_seq: 3,
            tenant_prev_hash: Hash([2; 32]),
            tenant: "alver".into(),
            event: br#"{"id":"1"}"#.to_vec(),
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let record = sample();
        let bytes = record.encode();
        assert_eq!(bytes.len(), FIXED_LEN + 5 + 10);
        assert_eq!(Record::decode(&bytes).unwrap(), record);
    }

    #[test]
    fn decode_rejects_truncation_and_extension() {
        let bytes = sample().encode();
        for cut in [0, 10, FIXED_LEN, bytes.len() - 1] {
            assert!(Record::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(b' ');
        assert!(matches!(
            Record::decode(&longer),
            Err(DecodeError::Length { .. })
        ));
        let mut retagged = bytes;
        retagged[0] = b'X';
        assert_eq!(Record::decode(&retagged), Err(DecodeError::Domain));
    }

    #[test]
    fn hash_covers_every_byte() {
        let bytes = sample().encode();
        let base = hash(&bytes);
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 1;
            assert_ne!(hash(&changed), base, "byte {i} not covered");
        }
    }
}
