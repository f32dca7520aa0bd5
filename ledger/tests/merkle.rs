//! The Merkle tree and its proofs against RFC 6962 reference behaviour.
//!
//! Vectors are data: `vectors/rfc6962.json` holds the reference roots and
//! proofs that Certificate Transparency and transparency-dev/merkle test
//! with, `vectors/tampered.json` malformed and tampered proofs with the
//! `VerifyError` each must give. Beside them, every proof of every tree up
//! to 64 leaves is generated, verified and tampered with, the `Frontier` is
//! compared with the recursive reference root, and a property test changes
//! single bytes of proofs of random trees up to 300 leaves.

use ledger::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, root, root_from_inclusion_proof,
    verify_consistency, verify_inclusion, Digest, Frontier, ProofError, VerifyError,
};
use proptest::prelude::*;
use serde::Deserialize;

/// Largest tree every proof of which the exhaustive tests check.
const EXHAUSTIVE_SIZE_MAX: u64 = 64;

/// Largest tree the `Frontier` is compared with the reference root on.
const FRONTIER_SIZE_MAX: u64 = 300;

#[derive(Deserialize)]
struct Reference {
    empty_root: String,
    leaves: Vec<ReferenceLeaf>,
    roots: Vec<ReferenceRoot>,
    inclusion: Vec<ReferenceInclusion>,
    consistency: Vec<ReferenceConsistency>,
}

#[derive(Deserialize)]
struct ReferenceLeaf {
    description: String,
    data: String,
    leaf_hash: String,
}

#[derive(Deserialize)]
struct ReferenceRoot {
    description: String,
    size: u64,
    root: String,
}

#[derive(Deserialize)]
struct ReferenceInclusion {
    description: String,
    index: u64,
    size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct ReferenceConsistency {
    description: String,
    size1: u64,
    size2: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Tampered {
    inclusion: Vec<InclusionCase>,
    consistency: Vec<ConsistencyCase>,
}

#[derive(Deserialize)]
struct InclusionCase {
    description: String,
    leaf_hash: String,
    index: u64,
    size: u64,
    root: String,
    proof: Vec<String>,
    expected_error: Option<String>,
}

#[derive(Deserialize)]
struct ConsistencyCase {
    description: String,
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Vec<String>,
    expected_error: Option<String>,
}

fn reference() -> Reference {
    let text = include_str!("vectors/rfc6962.json");
    serde_json::from_str(text).expect("vectors/rfc6962.json parses")
}

fn tampered() -> Tampered {
    let text = include_str!("vectors/tampered.json");
    serde_json::from_str(text).expect("vectors/tampered.json parses")
}

fn digest(text: &str) -> Digest {
    let bytes = hex::decode(text).unwrap_or_else(|e| panic!("{text:?} is not hex: {e}"));
    Digest::try_from(bytes.as_slice()).unwrap_or_else(|_| panic!("{text:?} is not 32 bytes"))
}

fn digests(texts: &[String]) -> Vec<Digest> {
    texts.iter().map(|text| digest(text)).collect()
}

/// The vectors' name for a verification outcome.
fn kind(result: &Result<(), VerifyError>) -> Option<&'static str> {
    let error = result.as_ref().err()?;
    Some(match error {
        VerifyError::IndexOutOfRange { .. } => "IndexOutOfRange",
        VerifyError::WrongProofSize { .. } => "WrongProofSize",
        VerifyError::RootMismatch { .. } => "RootMismatch",
        VerifyError::Root1Mismatch { .. } => "Root1Mismatch",
        VerifyError::Size1GreaterThanSize2 { .. } => "Size1GreaterThanSize2",
        VerifyError::Size1Zero => "Size1Zero",
    })
}

/// The reference leaf hashes, checked against their data.
fn reference_leaves(reference: &Reference) -> Vec<Digest> {
    let mut leaves = Vec::new();
    for leaf in &reference.leaves {
        let data = hex::decode(&leaf.data).expect("leaf data is hex");
        let hash = leaf_hash(&data);
        assert_eq!(hash, digest(&leaf.leaf_hash), "{}", leaf.description);
        leaves.push(hash);
    }
    leaves
}

/// Leaf hashes for tests that need many distinct leaves.
fn leaves(size: u64, seed: u64) -> Vec<Digest> {
    (0..size)
        .map(|i| leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

fn flip(proof: &[Digest], hash: usize, byte: usize, mask: u8) -> Vec<Digest> {
    let mut proof = proof.to_vec();
    proof[hash][byte] ^= mask;
    proof
}

#[test]
fn reference_roots() {
    let reference = reference();
    assert_eq!(empty_root(), digest(&reference.empty_root));
    assert_eq!(root(&[]), empty_root());
    assert_eq!(Frontier::new().root(), empty_root());
    let leaves = reference_leaves(&reference);
    for expected in &reference.roots {
        let prefix = &leaves[..expected.size as usize];
        let description = &expected.description;
        assert_eq!(root(prefix), digest(&expected.root), "{description}");
        let frontier = Frontier::from_leaves(prefix);
        assert_eq!(
            frontier.root(),
            digest(&expected.root),
            "{description}: Frontier"
        );
    }
}

#[test]
fn reference_inclusion_proofs() {
    let reference = reference();
    let leaves = reference_leaves(&reference);
    for vector in &reference.inclusion {
        let tree = &leaves[..vector.size as usize];
        let description = &vector.description;
        let expected = digests(&vector.proof);
        let proof = inclusion_proof(tree, vector.index).expect("the index is in the tree");
        assert_eq!(proof, expected, "{description}: generated");
        let leaf = &leaves[vector.index as usize];
        let result = verify_inclusion(leaf, vector.index, vector.size, &proof, &root(tree));
        assert_eq!(result, Ok(()), "{description}: verified");
        let computed = root_from_inclusion_proof(leaf, vector.index, vector.size, &proof);
        assert_eq!(computed, Ok(root(tree)), "{description}: root from proof");
    }
}

#[test]
fn reference_consistency_proofs() {
    let reference = reference();
    let leaves = reference_leaves(&reference);
    for vector in &reference.consistency {
        let (size1, size2) = (vector.size1, vector.size2);
        let tree = &leaves[..size2 as usize];
        let description = &vector.description;
        let proof = consistency_proof(tree, size1).expect("0 < size1 <= size2");
        assert_eq!(proof, digests(&vector.proof), "{description}: generated");
        let root1 = root(&leaves[..size1 as usize]);
        let result = verify_consistency(size1, size2, &root1, &root(tree), &proof);
        assert_eq!(result, Ok(()), "{description}: verified");
    }
}

#[test]
fn tampered_inclusion_vectors() {
    let mut wrong = Vec::new();
    for case in &tampered().inclusion {
        let proof = digests(&case.proof);
        let (leaf, root) = (digest(&case.leaf_hash), digest(&case.root));
        let result = verify_inclusion(&leaf, case.index, case.size, &proof, &root);
        if kind(&result) != case.expected_error.as_deref() {
            let expected = &case.expected_error;
            wrong.push(format!(
                "{}: {result:?}, expected {expected:?}",
                case.description
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn tampered_consistency_vectors() {
    let mut wrong = Vec::new();
    for case in &tampered().consistency {
        let proof = digests(&case.proof);
        let (root1, root2) = (digest(&case.root1), digest(&case.root2));
        let result = verify_consistency(case.size1, case.size2, &root1, &root2, &proof);
        if kind(&result) != case.expected_error.as_deref() {
            let expected = &case.expected_error;
            wrong.push(format!(
                "{}: {result:?}, expected {expected:?}",
                case.description
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn every_inclusion_proof_up_to_64_leaves() {
    for size in 1..=EXHAUSTIVE_SIZE_MAX {
        let tree = leaves(size, 0);
        let tree_root = root(&tree);
        for index in 0..size {
            let proof = inclusion_proof(&tree, index).expect("index < size");
            check_inclusion(&tree[index as usize], index, size, &proof, &tree_root);
        }
        let error = inclusion_proof(&tree, size);
        assert_eq!(
            error,
            Err(ProofError::IndexOutOfRange { index: size, size })
        );
    }
}

/// `proof` proves `leaf`; every tampered variant of it fails as it should.
fn check_inclusion(leaf: &Digest, index: u64, size: u64, proof: &[Digest], root: &Digest) {
    let at = format!("leaf {index} of {size}");
    let verify = |index, size, proof: &[Digest], root: &Digest| {
        verify_inclusion(leaf, index, size, proof, root)
    };
    assert_eq!(verify(index, size, proof, root), Ok(()), "{at}");
    let len = proof.len();

    let longer = [proof, &[*root]].concat();
    let error = VerifyError::WrongProofSize {
        expected: len,
        got: len + 1,
    };
    assert_eq!(
        verify(index, size, &longer, root),
        Err(error),
        "{at}: hash added"
    );
    if len > 0 {
        let shorter = &proof[..len - 1];
        let got = len - 1;
        let error = VerifyError::WrongProofSize { expected: len, got };
        assert_eq!(
            verify(index, size, shorter, root),
            Err(error),
            "{at}: hash removed"
        );
    }
    for hash in 0..len {
        let flipped = flip(proof, hash, 31, 0x01);
        let result = verify(index, size, &flipped, root);
        assert_eq!(
            kind(&result),
            Some("RootMismatch"),
            "{at}: proof[{hash}] flipped"
        );
    }
    for first in 0..len.saturating_sub(1) {
        let mut swapped = proof.to_vec();
        swapped.swap(first, first + 1);
        let result = verify(index, size, &swapped, root);
        assert_eq!(
            kind(&result),
            Some("RootMismatch"),
            "{at}: swapped at {first}"
        );
    }

    let wrong_root = leaf_hash(b"another tree");
    let error = VerifyError::RootMismatch {
        expected: wrong_root,
        computed: *root,
    };
    assert_eq!(
        verify(index, size, proof, &wrong_root),
        Err(error),
        "{at}: wrong root"
    );
    let other_leaf = leaf_hash(b"another leaf");
    let result = verify_inclusion(&other_leaf, index, size, proof, root);
    assert_eq!(kind(&result), Some("RootMismatch"), "{at}: wrong leaf");

    let error = VerifyError::IndexOutOfRange { index: size, size };
    assert_eq!(
        verify(size, size, proof, root),
        Err(error),
        "{at}: index = size"
    );
    let wrong_indices = [index.wrapping_sub(1), index + 1, index ^ 2];
    for wrong in wrong_indices.into_iter().filter(|&wrong| wrong != index) {
        let result = verify(wrong, size, proof, root);
        assert!(result.is_err(), "{at}: verified as leaf {wrong}");
    }
    for wrong in [size * 2, size / 2] {
        let result = verify(index, wrong, proof, root);
        assert!(result.is_err(), "{at}: verified in a tree of size {wrong}");
    }
}

#[test]
fn every_consistency_proof_up_to_64_leaves() {
    for size2 in 1..=EXHAUSTIVE_SIZE_MAX {
        let tree = leaves(size2, 1);
        let root2 = root(&tree);
        for size1 in 1..=size2 {
            let root1 = root(&tree[..size1 as usize]);
            let proof = consistency_proof(&tree, size1).expect("0 < size1 <= size2");
            check_consistency(size1, size2, &root1, &root2, &proof);
        }
        let error = |size1| Err(ProofError::SizeOutOfRange { size1, size: size2 });
        assert_eq!(consistency_proof(&tree, 0), error(0));
        assert_eq!(consistency_proof(&tree, size2 + 1), error(size2 + 1));
    }
}

/// `proof` proves that the tree of `size1` is a prefix of that of `size2`;
/// every tampered variant of it fails as it should.
fn check_consistency(size1: u64, size2: u64, root1: &Digest, root2: &Digest, proof: &[Digest]) {
    let at = format!("size {size1} to {size2}");
    let verify = verify_consistency;
    assert_eq!(verify(size1, size2, root1, root2, proof), Ok(()), "{at}");
    let len = proof.len();
    let either_root = [Some("Root1Mismatch"), Some("RootMismatch")];

    let longer = [proof, &[*root1]].concat();
    let error = VerifyError::WrongProofSize {
        expected: len,
        got: len + 1,
    };
    let result = verify(size1, size2, root1, root2, &longer);
    assert_eq!(result, Err(error), "{at}: hash added");
    if len > 0 {
        let got = len - 1;
        let error = VerifyError::WrongProofSize { expected: len, got };
        let result = verify(size1, size2, root1, root2, &proof[..got]);
        assert_eq!(result, Err(error), "{at}: hash removed");
    }
    for hash in 0..len {
        let flipped = flip(proof, hash, 0, 0x80);
        let result = verify(size1, size2, root1, root2, &flipped);
        assert!(
            either_root.contains(&kind(&result)),
            "{at}: proof[{hash}]: {result:?}"
        );
    }
    for first in 0..len.saturating_sub(1) {
        let mut swapped = proof.to_vec();
        swapped.swap(first, first + 1);
        let result = verify(size1, size2, root1, root2, &swapped);
        assert!(
            either_root.contains(&kind(&result)),
            "{at}: swap {first}: {result:?}"
        );
    }

    let wrong = leaf_hash(b"another tree");
    let result = verify(size1, size2, &wrong, root2, proof);
    assert!(
        either_root.contains(&kind(&result)),
        "{at}: wrong root1: {result:?}"
    );
    let error = VerifyError::RootMismatch {
        expected: wrong,
        computed: *root2,
    };
    let result = verify(size1, size2, root1, &wrong, proof);
    assert_eq!(result, Err(error), "{at}: wrong root2");

    let result = verify(size2 + 1, size2, root1, root2, proof);
    let error = VerifyError::Size1GreaterThanSize2 {
        size1: size2 + 1,
        size2,
    };
    assert_eq!(result, Err(error), "{at}: size1 > size2");
    let result = verify(0, size2, root1, root2, proof);
    assert_eq!(result, Err(VerifyError::Size1Zero), "{at}: size1 0");
    if size1 < size2 {
        for wrong in [size1 - 1, size1 + 1, size1 ^ 2] {
            let result = verify(wrong, size2, root1, root2, proof);
            assert!(result.is_err(), "{at}: verified from size {wrong}");
        }
        // As in transparency-dev's tests: not size2 + 1, whose proof can have
        // the same shape (1 to 3 and 1 to 4); checkpoints bind size to root.
        for wrong in [size2 * 2, size2 / 2] {
            let result = verify(size1, wrong, root1, root2, proof);
            assert!(result.is_err(), "{at}: verified to size {wrong}");
        }
        let result = verify(size1, size2, root2, root1, proof);
        assert!(result.is_err(), "{at}: verified with the roots swapped");
    }
}

#[test]
fn frontier_matches_the_reference_root_for_every_prefix() {
    let tree = leaves(FRONTIER_SIZE_MAX, 2);
    let mut frontier = Frontier::new();
    for size in 1..=FRONTIER_SIZE_MAX {
        frontier.push(tree[size as usize - 1]);
        assert_eq!(frontier.size(), size);
        assert_eq!(frontier.peaks().len(), size.count_ones() as usize);
        assert_eq!(frontier.root(), root(&tree[..size as usize]), "size {size}");
        let stored = Frontier::from_bytes(&frontier.to_bytes());
        assert_eq!(stored.as_ref(), Ok(&frontier), "size {size}: bytes");
    }
}

/// An inclusion proof alone does not fix the tree's size: leaf 0 has proofs
/// of the same shape in trees of 3 and 4 leaves. That is why a checkpoint
/// signs the size and the root together, and a verifier takes both from it.
#[test]
fn inclusion_proof_alone_does_not_fix_the_size() {
    let tree = leaves(4, 3);
    let proof = inclusion_proof(&tree[..3], 0).expect("index < size");
    let root3 = root(&tree[..3]);
    assert_eq!(verify_inclusion(&tree[0], 0, 4, &proof, &root3), Ok(()));
    let result = verify_inclusion(&tree[0], 0, 4, &proof, &root(&tree));
    assert_eq!(kind(&result), Some("RootMismatch"));
}

proptest! {
    /// A proof from a random tree and index verifies; a proof with any one
    /// byte changed does not. On a failure proptest prints the shrunk case
    /// and saves its seed in `merkle.proptest-regressions` beside this file.
    #[test]
    fn inclusion_proof_bytes_are_all_checked(
        size in 1u64..=FRONTIER_SIZE_MAX,
        index_seed in any::<u64>(),
        leaf_seed in any::<u64>(),
        position in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let tree = leaves(size, leaf_seed);
        let index = index_seed % size;
        let tree_root = root(&tree);
        let leaf = &tree[index as usize];
        let proof = inclusion_proof(&tree, index).expect("index < size");
        prop_assert_eq!(verify_inclusion(leaf, index, size, &proof, &tree_root), Ok(()));
        prop_assume!(!proof.is_empty());
        let position = position % (proof.len() * 32);
        let altered = flip(&proof, position / 32, position % 32, mask);
        let result = verify_inclusion(leaf, index, size, &altered, &tree_root);
        prop_assert_eq!(kind(&result), Some("RootMismatch"));
    }

    /// The same for consistency proofs between random sizes.
    #[test]
    fn consistency_proof_bytes_are_all_checked(
        size2 in 2u64..=FRONTIER_SIZE_MAX,
        size1_seed in any::<u64>(),
        leaf_seed in any::<u64>(),
        position in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let tree = leaves(size2, leaf_seed);
        let size1 = 1 + size1_seed % (size2 - 1);
        let (root1, root2) = (root(&tree[..size1 as usize]), root(&tree));
        let proof = consistency_proof(&tree, size1).expect("0 < size1 < size2");
        prop_assert_eq!(verify_consistency(size1, size2, &root1, &root2, &proof), Ok(()));
        let position = position % (proof.len() * 32);
        let altered = flip(&proof, position / 32, position % 32, mask);
        let result = verify_consistency(size1, size2, &root1, &root2, &altered);
        let either_root = [Some("Root1Mismatch"), Some("RootMismatch")];
        prop_assert!(either_root.contains(&kind(&result)), "{:?}", result);
    }
}
