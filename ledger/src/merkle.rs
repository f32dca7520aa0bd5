//! The Merkle tree of RFC 6962 / RFC 9162 section 2.1 and its proofs, pure.
//!
//! Auditors check our proofs with the transparency-log ecosystem's tools, so
//! this follows the RFC exactly: SHA-256, a leaf hashed as
//! `SHA-256(0x00 || data)`, a node as `SHA-256(0x01 || left || right)`, the
//! empty tree's root `SHA-256("")`, and a tree of `n` leaves split at the
//! largest power of two smaller than `n`. Everything here takes hashes and
//! returns hashes or a typed reason; nothing reads the store. `root`,
//! `inclusion_proof` and `consistency_proof` are the RFC's recursive
//! definitions over all leaf hashes, the reference model; `Frontier` keeps
//! the O(log n) state an append needs; `verify_inclusion` and
//! `verify_consistency` check a proof someone hands us and say what does not
//! match (after transparency-dev/merkle's `proof/verify.go`).

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash: a leaf hash, a node hash or a root.
pub type Digest = [u8; 32];

/// Prefix of a leaf's hash input (RFC 6962 section 2.1), so that no leaf can
/// pass for an inner node (second-preimage resistance).
pub const LEAF_PREFIX: u8 = 0x00;

/// Prefix of an inner node's hash input (RFC 6962 section 2.1).
pub const NODE_PREFIX: u8 = 0x01;

/// Most hashes an inclusion proof has: a tree of at most `u64::MAX` leaves is
/// at most 64 levels high, and the proof holds one hash per level at most.
/// Parsers of untrusted proofs can refuse anything longer before decoding it.
pub const INCLUSION_PROOF_HASHES_MAX: usize = 64;

/// Most hashes a consistency proof has: one per level of the larger tree
/// (64, as above) plus the older tree's own subtree root when its size is not
/// a power of two (e.g. size 3 to size 2^63 + 1 takes 65).
pub const CONSISTENCY_PROOF_HASHES_MAX: usize = 65;

/// Version byte that opens `Frontier::to_bytes`, so that the stored format
/// can change without old bytes being misread.
pub const FRONTIER_FORMAT_VERSION: u8 = 1;

/// Why a proof does not prove what it is offered for. Every variant carries
/// the numbers or hashes that disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// An inclusion proof for a leaf the tree does not have.
    #[error("leaf index {index} is not in a tree of size {size} (indices run from 0 to size - 1)")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The sizes fix a proof's length; this proof has another. An empty
    /// proof between different sizes and a non-empty one between equal
    /// sizes are this error too.
    #[error(
        "the proof has {got} hashes, but a proof for these sizes and index has exactly {expected}: \
         check the index and sizes, or the proof was cut or padded"
    )]
    WrongProofSize { expected: usize, got: usize },
    /// The proof, with the leaf (inclusion) or the older root (consistency),
    /// leads to another root than the one expected: the root of the tree of
    /// `size` (inclusion) or of `size2` (consistency).
    #[error(
        "the proof leads to root {}, not the expected root {}: the leaf, index, sizes or a proof hash \
         is wrong, or the root is from another log",
        hex::encode(.computed),
        hex::encode(.expected)
    )]
    RootMismatch { expected: Digest, computed: Digest },
    /// A consistency proof that does not lead back to the older tree's root
    /// (`root1`): it was not made for the tree the verifier kept.
    #[error(
        "the consistency proof leads back to older root {}, not the kept root1 {}: \
         the proof or size1 is wrong, or the log's past was rewritten",
        hex::encode(.computed),
        hex::encode(.expected)
    )]
    Root1Mismatch { expected: Digest, computed: Digest },
    /// A consistency proof from a larger tree to a smaller one: a log only
    /// grows, so a smaller later size means it was truncated or the sizes
    /// are swapped.
    #[error("size1 {size1} is greater than size2 {size2}: a log only grows (truncated, or sizes swapped?)")]
    Size1GreaterThanSize2 { size1: u64, size2: u64 },
    /// A consistency proof from the empty tree. Every tree extends the empty
    /// tree, so RFC 9162 defines no such proof and transparency-dev/merkle
    /// rejects it ("meaningless"); we do the same so that our verdicts match
    /// theirs. A caller that kept no checkpoint (size 0) needs no proof and
    /// should not ask for one.
    #[error(
        "a consistency proof from the empty tree (size1 0) is meaningless: every tree extends it, \
         so there is nothing to check"
    )]
    Size1Zero,
}

/// Why a proof cannot be made from these leaves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size} (indices run from 0 to size - 1)")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof needs `1 <= size1 <= size`.
    #[error("no consistency proof from size {size1} to a tree of size {size}: size1 must be 1 to {size}")]
    SizeOutOfRange { size1: u64, size: u64 },
}

/// Why bytes are not a `Frontier`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    #[error(
        "frontier is {got} bytes, shorter than its 9-byte header (version and size): truncated"
    )]
    TooShort { got: usize },
    #[error(
        "frontier format version {version} is unknown (this build reads version \
         {FRONTIER_FORMAT_VERSION}): written by a newer tla, or damaged"
    )]
    UnknownVersion { version: u8 },
    #[error("frontier of size {size} must be {expected} bytes, not {got}: truncated or damaged")]
    WrongLength {
        size: u64,
        expected: usize,
        got: usize,
    },
}

/// The hash of one leaf's data: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The empty tree's root: SHA-256 of the empty string.
pub fn empty_root() -> Digest {
    Sha256::digest(b"").into()
}

/// Root of the tree over these leaf hashes (reference implementation, the
/// recursive MTH of RFC 9162 section 2.1.1). O(n).
pub fn root(leaves: &[Digest]) -> Digest {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// RFC 9162 2.1.3.1 PATH(m, D\[n\]) over leaf hashes: the inclusion proof of
/// leaf `index`, lowest level first. Reads every leaf: the reference model.
pub fn inclusion_proof(leaves: &[Digest], index: u64) -> Result<Vec<Digest>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    // `index < size`, and `size` came from a `usize`.
    path(index as usize, leaves, &mut proof);
    Ok(proof)
}

/// RFC 9162 2.1.4.1 PROOF(m, D\[n\]): the consistency proof from the tree of
/// the first `size1` leaves to the tree of all of them. Empty when `size1`
/// is all of them. Reads every leaf: the reference model.
pub fn consistency_proof(leaves: &[Digest], size1: u64) -> Result<Vec<Digest>, ProofError> {
    let size = leaves.len() as u64;
    if size1 == 0 || size1 > size {
        return Err(ProofError::SizeOutOfRange { size1, size });
    }
    let mut proof = Vec::new();
    // `size1 <= size`, and `size` came from a `usize`.
    subproof(size1 as usize, leaves, true, &mut proof);
    Ok(proof)
}

/// RFC 9162 2.1.3.2 verification: `Ok(())` when `proof` shows that `leaf` is
/// leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof(leaf, index, size, proof)?;
    check_root(root, computed, |expected, computed| {
        VerifyError::RootMismatch { expected, computed }
    })
}

/// RFC 9162 2.1.4.2 verification: `Ok(())` when `proof` shows that the tree
/// of `size1` leaves with root `root1` is a prefix of the tree of `size2`
/// leaves with root `root2`. `size1 == size2` needs an empty proof and equal
/// roots; `size1 == 0` is refused (`VerifyError::Size1Zero`).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Digest,
    root2: &Digest,
    proof: &[Digest],
) -> Result<(), VerifyError> {
    if size1 > size2 {
        return Err(VerifyError::Size1GreaterThanSize2 { size1, size2 });
    }
    if size1 == 0 {
        return Err(VerifyError::Size1Zero);
    }
    if size1 == size2 {
        let got = proof.len();
        if got != 0 {
            return Err(VerifyError::WrongProofSize { expected: 0, got });
        }
        return check_root(root2, *root1, |expected, computed| {
            VerifyError::RootMismatch { expected, computed }
        });
    }
    let (old, new) = roots_from_consistency_proof(size1, size2, root1, proof)?;
    check_root(root1, old, |expected, computed| {
        VerifyError::Root1Mismatch { expected, computed }
    })?;
    check_root(root2, new, |expected, computed| VerifyError::RootMismatch {
        expected,
        computed,
    })
}

/// The root computed from an inclusion proof (for messages, and for callers
/// that compare with several roots). Checks the index and the proof's length.
pub fn root_from_inclusion_proof(
    leaf: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
) -> Result<Digest, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    let expected = inner + border;
    if proof.len() != expected {
        let got = proof.len();
        return Err(VerifyError::WrongProofSize { expected, got });
    }
    let (inner_hashes, border_hashes) = proof.split_at(inner);
    let below = chain_inner(*leaf, inner_hashes, index);
    Ok(chain_border_right(below, border_hashes))
}

/// The roots of the older and of the newer tree that a consistency proof
/// leads to, for `0 < size1 < size2`; checks the proof's length.
fn roots_from_consistency_proof(
    size1: u64,
    size2: u64,
    root1: &Digest,
    proof: &[Digest],
) -> Result<(Digest, Digest), VerifyError> {
    assert!(size1 > 0, "the caller refuses size1 0");
    assert!(size1 < size2, "the caller handles size1 >= size2");
    // The proof is, but for its seed, the upper part of the inclusion proof
    // of leaf size1 - 1 in the newer tree, from the level of the largest
    // complete subtree that ends at size1 (2^shift leaves) upwards.
    let (inner, border) = decompose(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // size1 - 1 ends in `shift` one bits, so size2 - 1 > size1 - 1 must
    // differ from it above them: the paths part above level `shift`.
    assert!(
        shift < inner,
        "size1 < size2 puts the split above level shift"
    );
    let inner = inner - shift;
    // That subtree's root is root1 itself when size1 is a power of two, and
    // the proof's first hash otherwise.
    let seeded_by_root1 = size1 == 1 << shift;
    let start = usize::from(!seeded_by_root1);
    let expected = start + inner + border;
    if proof.len() != expected {
        let got = proof.len();
        return Err(VerifyError::WrongProofSize { expected, got });
    }
    let (seed, rest) = if seeded_by_root1 {
        (*root1, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (inner_hashes, border_hashes) = rest.split_at(inner);
    let mask = (size1 - 1) >> shift;
    let old = chain_border_right(chain_inner_right(seed, inner_hashes, mask), border_hashes);
    let new = chain_border_right(chain_inner(seed, inner_hashes, mask), border_hashes);
    Ok((old, new))
}

/// The O(log n) state of a growing tree: its size and the roots of its
/// perfect subtrees ("peaks"), largest (leftmost) first, one per one bit of
/// the size. Enough to append and to compute the root, like
/// transparency-dev/merkle's `compact.Range` from index 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Digest>,
}

impl Frontier {
    /// The empty tree's frontier.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The frontier of the tree over these leaf hashes.
    pub fn from_leaves(leaves: &[Digest]) -> Frontier {
        let mut frontier = Frontier::new();
        for leaf in leaves {
            frontier.push(*leaf);
        }
        frontier
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees' roots, largest (leftmost) first.
    pub fn peaks(&self) -> &[Digest] {
        &self.peaks
    }

    /// Appends a leaf hash: merges the peaks it completes, O(log n).
    pub fn push(&mut self, leaf: Digest) {
        // A ledger of 2^64 - 1 entries cannot exist; reaching it is a bug.
        let size = self
            .size
            .checked_add(1)
            .expect("a Merkle tree of 2^64 - 1 leaves is full");
        let mut hash = leaf;
        // Each trailing one bit of the old size is a peak of the same height
        // as the subtree being built, which it completes.
        for _ in 0..self.size.trailing_ones() {
            // There is one peak per one bit of the size.
            let left = self.peaks.pop().expect("one peak per one bit of the size");
            hash = node_hash(&left, &hash);
        }
        self.peaks.push(hash);
        self.size = size;
        assert_eq!(self.peaks.len(), self.size.count_ones() as usize);
    }

    /// The tree's root: the peaks hashed together from the right, which is
    /// what the MTH split at the largest power of two gives.
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }

    /// Stored form: the version byte, the size as 8 bytes big-endian, then
    /// the peaks, largest first (`1 + 8 + 32 * popcount(size)` bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(Self::encoded_len(self.size));
        bytes.push(FRONTIER_FORMAT_VERSION);
        bytes.extend_from_slice(&self.size.to_be_bytes());
        for peak in &self.peaks {
            bytes.extend_from_slice(peak);
        }
        bytes
    }

    /// Reads `to_bytes`' form back, checking its version and length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Frontier, FrontierError> {
        let got = bytes.len();
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(FrontierError::TooShort { got });
        };
        if version != FRONTIER_FORMAT_VERSION {
            return Err(FrontierError::UnknownVersion { version });
        }
        let Some((size, peaks)) = rest.split_first_chunk::<8>() else {
            return Err(FrontierError::TooShort { got });
        };
        let size = u64::from_be_bytes(*size);
        let expected = Self::encoded_len(size);
        if got != expected {
            return Err(FrontierError::WrongLength {
                size,
                expected,
                got,
            });
        }
        let peaks = peaks
            .chunks_exact(32)
            // `chunks_exact(32)` yields 32-byte slices only.
            .map(|peak| Digest::try_from(peak).expect("a 32-byte chunk"))
            .collect();
        Ok(Frontier { size, peaks })
    }

    fn encoded_len(size: u64) -> usize {
        1 + 8 + 32 * size.count_ones() as usize
    }
}

/// `Ok` when `computed` is `expected`, else the error `mismatch` makes.
fn check_root(
    expected: &Digest,
    computed: Digest,
    mismatch: impl FnOnce(Digest, Digest) -> VerifyError,
) -> Result<(), VerifyError> {
    if computed == *expected {
        Ok(())
    } else {
        Err(mismatch(*expected, computed))
    }
}

/// The largest power of two smaller than `n`, for `n >= 2`: where MTH splits.
fn split(n: usize) -> usize {
    assert!(n >= 2, "only a tree of two or more leaves splits");
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// PATH(m, D\[n\]), appended to `proof` lowest level first.
fn path(m: usize, leaves: &[Digest], proof: &mut Vec<Digest>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        path(m, left, proof);
        proof.push(root(right));
    } else {
        path(m - k, right, proof);
        proof.push(root(left));
    }
}

/// SUBPROOF(m, D\[n\], b), appended to `proof` lowest level first; `whole`
/// is the RFC's `b`: whether `leaves` starts as the older tree itself.
fn subproof(m: usize, leaves: &[Digest], whole: bool, proof: &mut Vec<Digest>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    // Here 1 <= m < n, so n >= 2.
    let k = split(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof(m, left, whole, proof);
        proof.push(root(right));
    } else {
        subproof(m - k, right, false, proof);
        proof.push(root(left));
    }
}

/// Splits the inclusion proof of leaf `index` in a tree of `size` leaves at
/// the level where the paths to `index` and to the last leaf part: the
/// number of hashes below it (`inner`, siblings on either side) and above it
/// (`border`, all left siblings). Their sum is the proof's length.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    assert!(index < size, "callers check the index");
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    // `inner` can be 64, where a plain shift would overflow.
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner as usize, border as usize)
}

/// Hashes `seed`, the node at `index` on its level, up through `proof`, one
/// sibling per level: a left sibling where `index`'s bit is 1.
fn chain_inner(seed: Digest, proof: &[Digest], index: u64) -> Digest {
    proof
        .iter()
        .enumerate()
        .fold(seed, |hash, (level, sibling)| {
            if (index >> level) & 1 == 0 {
                node_hash(&hash, sibling)
            } else {
                node_hash(sibling, &hash)
            }
        })
}

/// Like `chain_inner`, but only with the left siblings: the same subtree as
/// it was before the leaves right of the path were appended.
fn chain_inner_right(seed: Digest, proof: &[Digest], index: u64) -> Digest {
    proof
        .iter()
        .enumerate()
        .fold(seed, |hash, (level, sibling)| {
            if (index >> level) & 1 == 1 {
                node_hash(sibling, &hash)
            } else {
                hash
            }
        })
}

/// Hashes `seed` up the tree's right border, where every sibling is a left one.
fn chain_border_right(seed: Digest, proof: &[Digest]) -> Digest {
    proof
        .iter()
        .fold(seed, |hash, sibling| node_hash(sibling, &hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Digest> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn hashes_are_rfc6962() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(hex::encode(empty_root()), empty);
        assert_eq!(root(&[]), empty_root());
        let leaf = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d";
        assert_eq!(hex::encode(leaf_hash(b"")), leaf);
        // The prefixes keep a leaf from passing for the node over its halves.
        let (a, b) = ([1; 32], [2; 32]);
        let mut concatenated = a.to_vec();
        concatenated.extend_from_slice(&b);
        assert_ne!(leaf_hash(&concatenated), node_hash(&a, &b));
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        let cases = [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (65, 64)];
        for (n, k) in cases {
            assert_eq!(split(n), k, "n = {n}");
        }
    }

    #[test]
    fn decompose_gives_the_generated_proof_length() {
        for size in 1..=70 {
            let tree = leaves(size);
            for index in 0..size {
                let (inner, border) = decompose(index, size);
                let proof = inclusion_proof(&tree, index).expect("index < size");
                assert_eq!(inner + border, proof.len(), "index {index}, size {size}");
            }
        }
    }

    #[test]
    fn largest_trees_do_not_overflow() {
        // Index 0 of a tree of u64::MAX leaves: 64 levels, `inner` is 64.
        let proof = vec![[7; 32]; INCLUSION_PROOF_HASHES_MAX];
        let error = verify_inclusion(&[1; 32], 0, u64::MAX, &proof, &[0; 32]);
        assert!(matches!(error, Err(VerifyError::RootMismatch { .. })));
        let longer = vec![[7; 32]; INCLUSION_PROOF_HASHES_MAX + 1];
        let error = verify_inclusion(&[1; 32], 0, u64::MAX, &longer, &[0; 32]);
        let expected = INCLUSION_PROOF_HASHES_MAX;
        let got = expected + 1;
        assert_eq!(error, Err(VerifyError::WrongProofSize { expected, got }));
        // The longest consistency proof: size 3 to 2^63 + 1.
        let proof = vec![[7; 32]; CONSISTENCY_PROOF_HASHES_MAX];
        let error = verify_consistency(3, (1 << 63) + 1, &[1; 32], &[2; 32], &proof);
        assert!(matches!(error, Err(VerifyError::Root1Mismatch { .. })));
        let error = verify_consistency(u64::MAX - 1, u64::MAX, &[1; 32], &[2; 32], &[]);
        assert!(matches!(
            error,
            Err(VerifyError::WrongProofSize { got: 0, .. })
        ));
    }

    #[test]
    fn messages_show_both_hashes_in_hex() {
        let error = VerifyError::RootMismatch {
            expected: [0xab; 32],
            computed: [0xcd; 32],
        };
        let message = error.to_string();
        assert!(message.contains(&"ab".repeat(32)), "{message}");
        assert!(message.contains(&"cd".repeat(32)), "{message}");
    }

    #[test]
    fn frontier_bytes_round_trip_and_reject_damage() {
        for size in [0, 1, 2, 3, 7, 8, 13] {
            let frontier = Frontier::from_leaves(&leaves(size));
            let bytes = frontier.to_bytes();
            assert_eq!(Frontier::from_bytes(&bytes), Ok(frontier));
            let cut = &bytes[..bytes.len() - 1];
            assert!(Frontier::from_bytes(cut).is_err(), "size {size}");
        }
        assert_eq!(
            Frontier::from_bytes(&[]),
            Err(FrontierError::TooShort { got: 0 })
        );
        let mut bytes = Frontier::new().to_bytes();
        bytes[0] = 2;
        assert_eq!(
            Frontier::from_bytes(&bytes),
            Err(FrontierError::UnknownVersion { version: 2 })
        );
    }
}
