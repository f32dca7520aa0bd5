//! Duplicate detection on (`tenant`, `source`, `id`) without a sled insert
//! per event, and the memory of refused events.
//!
//! The idempotency key is (`tenant`, `source`, `id`): two municipalities'
//! systems may well use the same source and id, and neither may suppress
//! the other's event. Every entry's (`source`, `id`) is reduced to a
//! 64-bit fingerprint (BLAKE3 of the length-prefixed pair). The
//! fingerprints are stored compactly, one sled value per append, and held
//! in memory in a hash map from fingerprint to position, loaded on first
//! use. A fingerprint match is only a candidate: the caller confirms it
//! against the stored event, tenant included, so a collision can never turn
//! a new event into a "duplicate". The fingerprint leaves the tenant out
//! on purpose: it is the stored format of every existing ledger, and a
//! (`source`, `id`) shared by tenants only adds a candidate per tenant.
//!
//! A refused event is remembered by its `refusal_digest` (BLAKE3 of its
//! canonical bytes, which hold tenant, source, id and content), so that
//! replaying the stream refuses it again instead of appending it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Fingerprint of an idempotency key.
pub fn fingerprint(source: &str, id: &str) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tla-ledger/key/v1\0");
    hasher.update(&(source.len() as u64).to_be_bytes());
    hasher.update(source.as_bytes());
    hasher.update(id.as_bytes());
    let bytes = hasher.finalize();
    u64::from_be_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Fingerprints are already uniformly distributed; hashing them again
/// (SipHash) would only cost time.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// The digest an event is remembered by once refused: BLAKE3 of its
/// canonical bytes. The same event (same bytes) is refused again; a
/// corrected one (other content under the same key) is judged afresh.
pub fn refusal_digest(canonical: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tla-ledger/refused/v1\0");
    hasher.update(canonical);
    *hasher.finalize().as_bytes()
}

/// The refused events' digests, by their first 8 bytes (a candidate set:
/// a hit is confirmed against the store, which keeps all 32).
#[derive(Default)]
pub struct Refusals {
    prefixes: std::collections::HashSet<u64, BuildHasherDefault<IdentityHasher>>,
}

impl Refusals {
    pub fn insert(&mut self, digest: &[u8; 32]) {
        self.prefixes.insert(prefix(digest));
    }

    /// Whether an event with this digest may have been refused.
    pub fn may_hold(&self, digest: &[u8; 32]) -> bool {
        self.prefixes.contains(&prefix(digest))
    }

    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}

fn prefix(digest: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

type FingerprintMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Fingerprint → positions of the entries that have it.
#[derive(Default)]
pub struct Index {
    first: FingerprintMap<u64>,
    /// Further positions sharing a fingerprint: empty unless two keys ever
    /// collide in 64 bits.
    more: FingerprintMap<Vec<u64>>,
}

impl Index {
    /// An empty index with room for `capacity` fingerprints before it
    /// grows (an append's in-batch index knows its size up front).
    pub fn with_capacity(capacity: usize) -> Index {
        Index {
            first: FingerprintMap::with_capacity_and_hasher(capacity, Default::default()),
            more: FingerprintMap::default(),
        }
    }

    pub fn insert(&mut self, fingerprint: u64, position: u64) {
        if let Some(existing) = self.first.insert(fingerprint, position) {
            // Keep the earliest in `first`, the rest in `more`.
            self.first.insert(fingerprint, existing);
            self.more.entry(fingerprint).or_default().push(position);
        }
    }

    /// Positions whose key may equal one with this fingerprint.
    pub fn candidates(&self, fingerprint: u64) -> impl Iterator<Item = u64> + '_ {
        let more = self
            .more
            .get(&fingerprint)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        self.first
            .get(&fingerprint)
            .copied()
            .into_iter()
            .chain(more.iter().copied())
    }

    pub fn len(&self) -> usize {
        self.first.len() + self.more.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions_keep_every_position() {
        let mut index = Index::default();
        index.insert(7, 1);
        index.insert(7, 5);
        index.insert(8, 2);
        assert_eq!(index.candidates(7).collect::<Vec<_>>(), vec![1, 5]);
        assert_eq!(index.candidates(8).collect::<Vec<_>>(), vec![2]);
        assert_eq!(index.candidates(9).count(), 0);
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn fingerprint_separates_source_and_id() {
        assert_ne!(fingerprint("ab", "c"), fingerprint("a", "bc"));
        assert_eq!(fingerprint("a", "b"), fingerprint("a", "b"));
    }
}
