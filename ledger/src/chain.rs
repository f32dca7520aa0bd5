//! Chain verification: a streaming check of records in stored order.
//!
//! `Verifier` is fed each stored record (and, where the store keeps one,
//! the hash stored beside it) in physical order. It recomputes every hash
//! from the bytes, checks the global chain, each tenant's chain, positions
//! and record times, and names the first bad position and what is wrong.
//! Beside the chain it notes every `report.issued` entry whose source is
//! not the ledger's own (`schemas::LEDGER_SOURCE`): the chain may be
//! intact, but such an issuance was forged by a producer, and nothing may
//! trust it (`ForeignIssuances`).
//! Memory is one record of lookahead plus one head per tenant, whatever the
//! ledger's size. Pure: used by `tla verify` on the store and on exports.

use std::collections::HashMap;
use std::fmt;

use crate::record::{self, Fields, Hash, ZERO_HASH};

/// What is wrong with a ledger, at its first bad position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The bytes at `position` are not a record at all.
    Corrupt { position: u64, detail: String },
    /// The entry at `position` changed after it was appended.
    Changed { position: u64, detail: String },
    /// Entries `from..=to` are missing.
    Missing { from: u64, to: u64, detail: String },
    /// Entry `position` is stored out of order.
    Reordered { position: u64, detail: String },
    /// An entry was inserted at `position`.
    Inserted { position: u64, detail: String },
}

impl Failure {
    /// The first bad ledger position.
    pub fn position(&self) -> u64 {
        match self {
            Failure::Corrupt { position, .. }
            | Failure::Changed { position, .. }
            | Failure::Reordered { position, .. }
            | Failure::Inserted { position, .. } => *position,
            Failure::Missing { from, .. } => *from,
        }
    }

    /// One word for what is wrong: corrupt, changed, missing, reordered, inserted.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Corrupt { .. } => "corrupt",
            Failure::Changed { .. } => "changed",
            Failure::Missing { .. } => "missing",
            Failure::Reordered { .. } => "reordered",
            Failure::Inserted { .. } => "inserted",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Corrupt { position, detail } => {
                write!(f, "ledger position {position}: entry is corrupt: {detail}")
            }
            Failure::Changed { position, detail } => {
                write!(f, "ledger position {position}: entry was changed: {detail}")
            }
            Failure::Missing { from, to, detail } if from == to => {
                write!(f, "ledger position {from}: entry is missing: {detail}")
            }
            Failure::Missing { from, to, detail } => {
                write!(
                    f,
                    "ledger positions {from}..={to}: entries are missing: {detail}"
                )
            }
            Failure::Reordered { position, detail } => {
                write!(
                    f,
                    "ledger position {position}: entries were reordered: {detail}"
                )
            }
            Failure::Inserted { position, detail } => {
                write!(
                    f,
                    "ledger position {position}: an entry was inserted: {detail}"
                )
            }
        }
    }
}

/// A successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub size: u64,
    /// Hash of the last entry (`ZERO_HASH` for an empty ledger).
    pub head: Hash,
    pub tenants: u64,
    pub last_record_time: Option<i64>,
    /// The Merkle root of all entries, once the stored tree was checked
    /// against them (`None` where only the chain was checked).
    pub merkle_root: Option<crate::merkle::Digest>,
    /// `report.issued` entries not written by the ledger itself.
    pub foreign_issuances: ForeignIssuances,
}

/// Positions listed of `report.issued` entries from a foreign source; the
/// rest are counted.
pub const FOREIGN_ISSUANCES_LISTED_MAX: usize = 100;

/// The `report.issued` entries whose source is not the ledger's own
/// (`schemas::LEDGER_SOURCE`): forged issuances, which reports, the viewer
/// and evidence bundles never trust, and which `tla verify` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForeignIssuances {
    /// Their positions, the first `FOREIGN_ISSUANCES_LISTED_MAX`.
    pub positions: Vec<u64>,
    /// How many there are in all.
    pub total: u64,
}

impl ForeignIssuances {
    /// Looks at the stored event of the entry at `position`. A cheap
    /// search for the type's spelling comes first, so that the events of
    /// every other type cost one scan of their bytes.
    pub fn see(&mut self, position: u64, event: &[u8]) {
        static NEEDLE: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
            std::sync::OnceLock::new();
        let needle = NEEDLE.get_or_init(|| memchr::memmem::Finder::new(b"\"report.issued\""));
        if needle.find(event).is_none() || !is_foreign_issuance(event) {
            return;
        }
        self.total += 1;
        if self.positions.len() < FOREIGN_ISSUANCES_LISTED_MAX {
            self.positions.push(position);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// Whether stored event bytes are a `report.issued` of a foreign source.
/// Bytes that are not an event are the chain check's business, not this.
fn is_foreign_issuance(event: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Stored<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        source: std::borrow::Cow<'a, str>,
    }
    match serde_json::from_slice::<Stored<'_>>(event) {
        Ok(stored) => {
            stored.kind == schemas::EventType::ReportIssued.as_str()
                && stored.source != schemas::LEDGER_SOURCE
        }
        Err(_) => false,
    }
}

/// One record seen but not yet judged (judging needs the next record).
struct Seen {
    index: u64,
    hash: Hash,
    position: u64,
    prev_hash: Hash,
    tenant_seq: u64,
    tenant_prev_hash: Hash,
    /// Index into `Verifier::tenant_names`.
    tenant: usize,
    record_time: i64,
}

/// The streaming chain checker. Feed with `push`, end with `finish`.
pub struct Verifier {
    /// Physical index of the next record pushed.
    index: u64,
    /// Position the next accepted entry must carry.
    expected: u64,
    prev_hash: Hash,
    /// The previous hash carried by the last accepted entry: a second copy
    /// of that entry's position that carries it too is an insertion.
    last_prev_hash: Hash,
    last_record_time: Option<i64>,
    /// Tenants seen, interned: name → index into `tenant_names` and `tenants`.
    tenant_ids: HashMap<String, usize>,
    tenant_names: Vec<String>,
    /// Per tenant: the next sequence number and the last entry's hash.
    tenants: Vec<(u64, Hash)>,
    pending: Option<Seen>,
    foreign_issuances: ForeignIssuances,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier {
            index: 0,
            expected: 0,
            prev_hash: ZERO_HASH,
            last_prev_hash: ZERO_HASH,
            last_record_time: None,
            tenant_ids: HashMap::new(),
            tenant_names: Vec::new(),
            tenants: Vec::new(),
            pending: None,
            foreign_issuances: ForeignIssuances::default(),
        }
    }

    /// Checks the next stored record. `stored_hash` is the hash kept beside
    /// the record, if the medium keeps one.
    pub fn push(&mut self, record: &[u8], stored_hash: Option<Hash>) -> Result<(), Failure> {
        let index = self.index;
        self.index += 1;
        let header = Fields::decode(record).map_err(|error| Failure::Corrupt {
            position: index,
            detail: error.to_string(),
        })?;
        let hash = record::hash(record);
        self.foreign_issuances.see(header.position, header.event);
        if let Some(stored) = stored_hash {
            if stored != hash {
                return Err(Failure::Changed {
                    position: index,
                    detail: format!("its bytes hash to {hash} but {stored} was stored"),
                });
            }
        }
        let seen = Seen {
            index,
            hash,
            position: header.position,
            prev_hash: header.prev_hash,
            tenant_seq: header.tenant_seq,
            tenant_prev_hash: header.tenant_prev_hash,
            tenant: self.tenant_id(header.tenant),
            record_time: header.record_time,
        };
        if let Some(previous) = self.pending.take() {
            self.judge(previous, Some(&seen))?;
        }
        self.pending = Some(seen);
        Ok(())
    }

    /// The interned index of a tenant, added on first sight.
    fn tenant_id(&mut self, tenant: &str) -> usize {
        if let Some(&id) = self.tenant_ids.get(tenant) {
            return id;
        }
        let id = self.tenant_names.len();
        self.tenant_ids.insert(tenant.to_owned(), id);
        self.tenant_names.push(tenant.to_owned());
        self.tenants.push((0, ZERO_HASH));
        id
    }

    /// Ends the stream. `claimed` is the (size, head) the medium says it
    /// holds, checked against what the chain shows.
    pub fn finish(mut self, claimed: Option<(u64, Hash)>) -> Result<Summary, Failure> {
        if let Some(last) = self.pending.take() {
            self.judge(last, None)?;
        }
        if let Some((size, head)) = claimed {
            self.check_claim(size, head)?;
        }
        Ok(Summary {
            size: self.expected,
            head: self.prev_hash,
            tenants: self.tenants.len() as u64,
            last_record_time: self.last_record_time,
            merkle_root: None,
            foreign_issuances: self.foreign_issuances,
        })
    }

    /// Judges the record held back for lookahead now, as `finish` would,
    /// so that every record pushed so far is judged and the verifier can
    /// still be fed more: what a verified prefix does at the end of each
    /// step. A record judged here without the one after it is named the
    /// way `finish` names the last record of a ledger.
    pub fn settle(&mut self) -> Result<(), Failure> {
        match self.pending.take() {
            Some(last) => self.judge(last, None),
            None => Ok(()),
        }
    }

    /// The entries judged good so far and the last one's hash
    /// (`ZERO_HASH` before any).
    pub fn verified(&self) -> (u64, Hash) {
        (self.expected, self.prev_hash)
    }

    /// The `report.issued` entries of a foreign source seen so far.
    pub fn foreign_issuances(&self) -> &ForeignIssuances {
        &self.foreign_issuances
    }

    /// Checks that the medium's claimed (size, head) is what the judged
    /// chain shows (after `settle`).
    pub fn check_head(&self, size: u64, head: Hash) -> Result<(), Failure> {
        self.check_claim(size, head)
    }

    fn check_claim(&self, size: u64, head: Hash) -> Result<(), Failure> {
        if size > self.expected {
            return Err(Failure::Missing {
                from: self.expected,
                to: size - 1,
                detail: format!(
                    "the ledger records {size} entries but its chain ends after {}",
                    self.expected
                ),
            });
        }
        if size < self.expected {
            return Err(Failure::Inserted {
                position: size,
                detail: format!(
                    "the ledger records {size} entries but its chain holds {}",
                    self.expected
                ),
            });
        }
        if head != self.prev_hash {
            return Err(Failure::Changed {
                position: size.saturating_sub(1),
                detail: format!(
                    "the recorded head is {head} but the chain ends in {}",
                    self.prev_hash
                ),
            });
        }
        Ok(())
    }

    fn judge(&mut self, seen: Seen, next: Option<&Seen>) -> Result<(), Failure> {
        let expected = self.expected;
        if seen.position != expected || seen.prev_hash != self.prev_hash {
            return Err(self.diagnose(&seen, next));
        }
        let (tenant_seq, tenant_prev) = self.tenants[seen.tenant];
        if seen.tenant_seq != tenant_seq || seen.tenant_prev_hash != tenant_prev {
            return Err(Failure::Changed {
                position: expected,
                detail: format!(
                    "tenant {} chain broken: entry has tenant sequence {} and tenant prev hash {}, \
                     expected {} and {}",
                    self.tenant_names[seen.tenant], seen.tenant_seq, seen.tenant_prev_hash, tenant_seq, tenant_prev
                ),
            });
        }
        if let Some(last) = self.last_record_time {
            if seen.record_time < last {
                return Err(Failure::Changed {
                    position: expected,
                    detail: format!(
                        "record time {} is before the previous entry's {last}",
                        seen.record_time
                    ),
                });
            }
        }
        self.tenants[seen.tenant] = (tenant_seq + 1, seen.hash);
        self.last_record_time = Some(seen.record_time);
        self.last_prev_hash = self.prev_hash;
        self.prev_hash = seen.hash;
        self.expected += 1;
        Ok(())
    }

    /// Names what is wrong with a record that does not continue the chain,
    /// using the record after it to tell the cases apart.
    fn diagnose(&self, seen: &Seen, next: Option<&Seen>) -> Failure {
        let expected = self.expected;
        let next_continues =
            next.is_some_and(|n| n.position == expected && n.prev_hash == self.prev_hash);
        if seen.position == expected {
            if next_continues {
                return Failure::Inserted {
                    position: expected,
                    detail: format!(
                        "stored entry {} does not link to entry {}, but the entry after it does",
                        seen.index,
                        expected.wrapping_sub(1)
                    ),
                };
            }
            return Failure::Changed {
                position: expected.saturating_sub(1),
                detail: if expected == 0 {
                    "the first entry does not start from the zero hash".to_string()
                } else {
                    format!(
                        "its hash {} is not the previous hash {} recorded by entry {expected}",
                        self.prev_hash, seen.prev_hash
                    )
                },
            };
        }
        if seen.position > expected {
            if next_continues || next.is_some_and(|n| n.position == expected) {
                return Failure::Reordered {
                    position: expected,
                    detail: format!("entry {} is stored before entry {expected}", seen.position),
                };
            }
            return Failure::Missing {
                from: expected,
                to: seen.position - 1,
                detail: format!(
                    "entry {} follows entry {}",
                    seen.position,
                    expected.wrapping_sub(1)
                ),
            };
        }
        // A position already passed: either a second copy (inserted) or an
        // earlier entry stored late (reordered).
        if seen.position + 1 == expected && seen.prev_hash == self.last_prev_hash {
            return Failure::Inserted {
                position: seen.position,
                detail: format!("position {} appears twice", seen.position),
            };
        }
        Failure::Reordered {
            position: seen.position,
            detail: format!(
                "entry {} is stored after entry {}",
                seen.position,
                expected - 1
            ),
        }
    }
}
