//! The Merkle tree as it is stored: tiles of 256 hashes, and proofs computed
//! from them without reading the ledger's entries. Pure: tiles come in
//! through `TileSource`, and what an append changes comes out of `Edge`.
//!
//! The layout is C2SP tlog-tiles' with height 8: the tile at level `L` and
//! index `k` holds the hashes of the tree nodes of height `8 L` with indexes
//! `256 k .. 256 k + 256` (level 0: the leaf hashes). A tile at the tree's
//! right edge holds fewer hashes and grows; the hashes it holds never change.
//! Any perfect subtree's hash is then at most 127 node hashes away from one
//! stored tile, so the root of any earlier size, an inclusion proof and a
//! consistency proof each read O(log n) tiles (at most three per level),
//! never the whole ledger. An append changes one tile per level of the edge.

use std::collections::HashMap;

use crate::merkle::{self, Digest};

/// Tree levels per tile level: a tile holds `2^8` hashes.
pub const TILE_HEIGHT: u32 = 8;

/// Hashes in a full tile (8 KiB), small enough that rewriting the edge tile
/// on every append costs little and that sled keeps it in its fsynced log.
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;

/// A tile level above every tree of at most `u64::MAX` leaves (64 / 8).
pub const TILE_LEVELS_MAX: usize = 8;

/// A tile the tree needs that its source does not have (or has too short).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError<E> {
    #[error("Merkle tile (level {level}, index {index}) is missing or holds {got} of the {needed} hashes needed")]
    Missing {
        level: u8,
        index: u64,
        needed: usize,
        got: usize,
    },
    #[error("Merkle tile (level {level}, index {index}) is {len} bytes, not a whole number of 32-byte hashes")]
    Malformed { level: u8, index: u64, len: usize },
    #[error("size {size} is beyond the tree's {tree_size} leaves")]
    Beyond { size: u64, tree_size: u64 },
    #[error(transparent)]
    Source(E),
}

/// Where stored tiles come from: the tile's bytes (concatenated hashes), or
/// `None` when it was never written.
pub trait TileSource {
    type Error;
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Tiles as `(level, index) -> bytes` in memory; for tests and for
/// rebuilding.
impl TileSource for HashMap<(u8, u64), Vec<u8>> {
    type Error = std::convert::Infallible;
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.get(&(level, index)).cloned())
    }
}

/// The bytes of a tile of these hashes.
pub fn tile_bytes(hashes: &[Digest]) -> Vec<u8> {
    hashes.concat()
}

/// The tree of the first `size` leaves of a tiled tree, read through a
/// source; caches the tiles it reads.
pub struct Tree<'s, S: TileSource> {
    source: &'s S,
    size: u64,
    cache: std::cell::RefCell<HashMap<(u8, u64), Vec<Digest>>>,
}

type Result_<T, E> = Result<T, TileError<E>>;

impl<'s, S: TileSource> Tree<'s, S> {
    /// The tree whose stored tiles cover `size` leaves.
    pub fn new(source: &'s S, size: u64) -> Tree<'s, S> {
        Tree {
            source,
            size,
            cache: Default::default(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of the first `size` leaves (RFC 9162 MTH).
    pub fn root(&self, size: u64) -> Result_<Digest, S::Error> {
        self.within(size)?;
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        self.range(0, size)
    }

    /// Hash of leaf `index`.
    pub fn leaf(&self, index: u64) -> Result_<Digest, S::Error> {
        self.within(index + 1)?;
        self.node(0, index)
    }

    /// RFC 9162 2.1.3.1: the inclusion proof of leaf `index` in the tree
    /// of `size` leaves, lowest level first.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result_<Vec<Digest>, S::Error> {
        self.within(size)?;
        assert!(index < size, "the caller checks the index against the size");
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof)?;
        Ok(proof)
    }

    /// RFC 9162 2.1.4.1: the consistency proof from the tree of `size1`
    /// leaves to that of `size2`.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result_<Vec<Digest>, S::Error> {
        self.within(size2)?;
        assert!(
            0 < size1 && size1 <= size2,
            "the caller checks 0 < size1 <= size2"
        );
        let mut proof = Vec::new();
        self.subproof(size1, 0, size2, true, &mut proof)?;
        Ok(proof)
    }

    fn within(&self, size: u64) -> Result_<(), S::Error> {
        if size > self.size {
            return Err(TileError::Beyond {
                size,
                tree_size: self.size,
            });
        }
        Ok(())
    }

    /// PATH(m, D[start..end]).
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Digest>) -> Result_<(), S::Error> {
        let n = end - start;
        if n == 1 {
            return Ok(());
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, out)?;
            out.push(self.range(start + k, end)?);
        } else {
            self.path(m - k, start + k, end, out)?;
            out.push(self.range(start, start + k)?);
        }
        Ok(())
    }

    /// SUBPROOF(m, D[start..end], b).
    fn subproof(
        &self,
        m: u64,
        start: u64,
        end: u64,
        whole: bool,
        out: &mut Vec<Digest>,
    ) -> Result_<(), S::Error> {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.range(start, end)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out)?;
            out.push(self.range(start + k, end)?);
        } else {
            self.subproof(m - k, start + k, end, false, out)?;
            out.push(self.range(start, start + k)?);
        }
        Ok(())
    }

    /// MTH(D[start..end]) for a range the RFC's recursion produces: `start`
    /// is a multiple of the largest power of two not above `end - start`.
    fn range(&self, start: u64, end: u64) -> Result_<Digest, S::Error> {
        let n = end - start;
        if n.is_power_of_two() {
            let height = n.trailing_zeros();
            assert_eq!(start % n, 0, "a perfect subtree is aligned");
            return self.node(height, start >> height);
        }
        let k = split(n);
        let left = self.range(start, start + k)?;
        let right = self.range(start + k, end)?;
        Ok(merkle::node_hash(&left, &right))
    }

    /// The hash of the perfect subtree of this height and index: read from
    /// the tile level at or below it and hashed up at most 7 levels.
    fn node(&self, height: u32, index: u64) -> Result_<Digest, S::Error> {
        let level = height / TILE_HEIGHT;
        let below = height % TILE_HEIGHT;
        let first = index << below;
        let count = 1usize << below;
        let tile = first / TILE_WIDTH as u64;
        let offset = (first % TILE_WIDTH as u64) as usize;
        // Fewer than 8 tile levels exist for u64 sizes.
        let level = u8::try_from(level).expect("at most 8 tile levels");
        let mut cache = self.cache.borrow_mut();
        let hashes = match cache.entry((level, tile)) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(self.read(level, tile)?)
            }
        };
        let Some(slice) = hashes.get(offset..offset + count) else {
            return Err(TileError::Missing {
                level,
                index: tile,
                needed: offset + count,
                got: hashes.len(),
            });
        };
        Ok(merkle::root(slice))
    }

    fn read(&self, level: u8, index: u64) -> Result_<Vec<Digest>, S::Error> {
        let bytes = self
            .source
            .tile(level, index)
            .map_err(TileError::Source)?
            .unwrap_or_default();
        parse_tile(level, index, &bytes)
    }
}

/// A tile's bytes as hashes.
pub fn parse_tile<E>(level: u8, index: u64, bytes: &[u8]) -> Result<Vec<Digest>, TileError<E>> {
    if !bytes.len().is_multiple_of(32) || bytes.len() > 32 * TILE_WIDTH {
        let len = bytes.len();
        return Err(TileError::Malformed { level, index, len });
    }
    Ok(bytes
        .chunks_exact(32)
        // `chunks_exact(32)` yields 32-byte slices only.
        .map(|chunk| Digest::try_from(chunk).expect("a 32-byte chunk"))
        .collect())
}

/// The largest power of two smaller than `n` (n > 1): where RFC 6962 splits.
fn split(n: u64) -> u64 {
    assert!(n > 1, "only ranges of two or more leaves split");
    1 << (63 - (n - 1).leading_zeros())
}

/// The tree's right edge: per tile level, the hashes of its partial tile.
/// Enough to append leaves and to say which tiles an append writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    size: u64,
    /// `levels[L]`: the hashes of level `L`'s edge tile, fewer than 256.
    levels: Vec<Vec<Digest>>,
}

/// A tile an append writes: (level, index, bytes).
pub type TileWrite = (u8, u64, Vec<u8>);

impl Edge {
    pub fn new() -> Edge {
        Edge::default()
    }

    /// The edge of the tree of `size` leaves whose tiles `source` holds.
    pub fn load<S: TileSource>(source: &S, size: u64) -> Result<Edge, TileError<S::Error>> {
        let mut levels = Vec::new();
        for level in 0..TILE_LEVELS_MAX as u8 {
            let count = size >> (u32::from(level) * TILE_HEIGHT);
            if count == 0 {
                break;
            }
            let index = count / TILE_WIDTH as u64;
            let partial = (count % TILE_WIDTH as u64) as usize;
            let mut hashes = Vec::new();
            if partial > 0 {
                let bytes = source.tile(level, index).map_err(TileError::Source)?;
                hashes = parse_tile(level, index, &bytes.unwrap_or_default())?;
                if hashes.len() < partial {
                    let got = hashes.len();
                    return Err(TileError::Missing {
                        level,
                        index,
                        needed: partial,
                        got,
                    });
                }
                hashes.truncate(partial);
            }
            levels.push(hashes);
        }
        Ok(Edge { size, levels })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends leaf hashes; returns every tile they changed, each once, with
    /// its bytes after the append (full tiles whole, the edge partial).
    pub fn push_all(&mut self, leaves: &[Digest]) -> Vec<TileWrite> {
        let mut writes = Vec::new();
        let mut reached = 0;
        for leaf in leaves {
            reached = reached.max(self.push(*leaf, &mut writes));
        }
        if leaves.is_empty() {
            return writes;
        }
        // The edge tiles the leaves reached, partial after the append.
        for (level, hashes) in self.levels.iter().enumerate().take(reached + 1) {
            if !hashes.is_empty() {
                let count = self.size >> (level as u32 * TILE_HEIGHT);
                writes.push((level as u8, count / TILE_WIDTH as u64, tile_bytes(hashes)));
            }
        }
        writes
    }

    /// Appends one leaf; returns the highest level it added a hash to.
    fn push(&mut self, leaf: Digest, writes: &mut Vec<TileWrite>) -> usize {
        self.size = self
            .size
            .checked_add(1)
            .expect("a Merkle tree of 2^64 - 1 leaves is full");
        let mut hash = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let hashes = &mut self.levels[level];
            hashes.push(hash);
            if hashes.len() < TILE_WIDTH {
                return level;
            }
            // The tile is full: write it whole, and its root goes one level up.
            let count = self.size >> (level as u32 * TILE_HEIGHT);
            let index = count / TILE_WIDTH as u64 - 1;
            hash = merkle::root(hashes);
            writes.push((level as u8, index, tile_bytes(hashes)));
            hashes.clear();
            level += 1;
        }
    }

    /// The hashes of level `level`'s edge tile.
    pub fn level(&self, level: usize) -> &[Digest] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Digest> {
        (0..n)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    fn tiles_of(leaves: &[Digest], batch: usize) -> HashMap<(u8, u64), Vec<u8>> {
        let mut tiles = HashMap::new();
        let mut edge = Edge::new();
        for chunk in leaves.chunks(batch.max(1)) {
            for (level, index, bytes) in edge.push_all(chunk) {
                tiles.insert((level, index), bytes);
            }
        }
        tiles
    }

    #[test]
    fn roots_and_proofs_match_the_reference_for_every_small_size() {
        let all = leaves(300);
        let tiles = tiles_of(&all, 7);
        let tree = Tree::new(&tiles, 300);
        for size in 1..=300u64 {
            let prefix = &all[..size as usize];
            assert_eq!(
                tree.root(size).unwrap(),
                merkle::root(prefix),
                "size {size}"
            );
            for index in [0, size / 2, size - 1] {
                assert_eq!(
                    tree.inclusion_proof(index, size).unwrap(),
                    merkle::inclusion_proof(prefix, index).unwrap(),
                    "inclusion {index} in {size}"
                );
            }
            for size1 in [1, size / 3 + 1, size] {
                assert_eq!(
                    tree.consistency_proof(size1, size).unwrap(),
                    merkle::consistency_proof(prefix, size1).unwrap(),
                    "consistency {size1} -> {size}"
                );
            }
        }
    }

    #[test]
    fn batching_does_not_change_the_tiles() {
        let all = leaves(70_000);
        let one = tiles_of(&all, 1);
        assert_eq!(one, tiles_of(&all, 1000));
        assert_eq!(one, tiles_of(&all, 65_536));
        // 70,000 leaves: 274 level-0 tiles, 2 level-1 tiles, 1 level-2 tile.
        assert_eq!(one.len(), 274 + 2 + 1);
        let tree = Tree::new(&one, 70_000);
        assert_eq!(tree.root(70_000).unwrap(), merkle::root(&all));
        assert_eq!(tree.root(65_536).unwrap(), merkle::root(&all[..65_536]));
        let proof = tree.inclusion_proof(12_345, 70_000).unwrap();
        merkle::verify_inclusion(&all[12_345], 12_345, 70_000, &proof, &merkle::root(&all))
            .unwrap();
    }

    #[test]
    fn an_edge_loaded_from_tiles_continues_like_the_original() {
        let all = leaves(1000);
        for cut in [0u64, 1, 255, 256, 257, 511, 512, 999] {
            let mut tiles = tiles_of(&all[..cut as usize], 10);
            let mut edge = Edge::load(&tiles, cut).unwrap();
            for (level, index, bytes) in edge.push_all(&all[cut as usize..]) {
                tiles.insert((level, index), bytes);
            }
            assert_eq!(tiles, tiles_of(&all, 10), "cut at {cut}");
        }
    }

    #[test]
    fn a_missing_or_short_tile_is_an_error_not_a_wrong_root() {
        let all = leaves(600);
        let mut tiles = tiles_of(&all, 50);
        // The root of 600 = 512 + 88 leaves reads level 1 for the first
        // 512 and level-0 tile 2 for the rest.
        tiles.remove(&(0, 2));
        let tree = Tree::new(&tiles, 600);
        assert!(matches!(
            tree.root(600),
            Err(TileError::Missing {
                level: 0,
                index: 2,
                ..
            })
        ));
        assert!(tree.root(512).is_ok());
        assert!(matches!(tree.root(700), Err(TileError::Beyond { .. })));
        let mut tiles = tiles_of(&all, 50);
        tiles.insert((0, 2), vec![0; 31]);
        assert!(matches!(
            Tree::new(&tiles, 600).root(600),
            Err(TileError::Malformed { .. })
        ));
    }
}
