//! The export format (`docs/FORMAT.md`): JSON Lines that carry every field
//! of every record, so a third party can rebuild each hash preimage and
//! verify the chain without this code. Writing and verifying both live
//! here; verification reuses the pure `chain::Verifier`.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::chain::{Failure, Summary, Verifier};
use crate::checkpoint::Checkpoint;
use crate::merkle::{self, Digest, Frontier};
use crate::record::{self, Hash, Record, ZERO_HASH};
use crate::{Ledger, LedgerError};

/// The `format` value of the header line.
pub const FORMAT: &str = "tla-export/1";

/// The longest line an export verifier reads: an event is at most 1 MiB
/// of canonical JSON, which JSON string escaping can at most sextuple.
pub const LINE_BYTES_MAX: usize = 8 << 20;

/// First line of an export. Reading refuses unknown fields: an auditor's
/// verifier must not skip what it does not understand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    /// The record tag every preimage starts with (without its NUL byte).
    pub record: String,
    /// `ledger` for a whole ledger, `tenant` for one tenant's entries.
    pub scope: String,
    pub tenant: Option<String>,
    /// Entries in the file.
    pub entries: u64,
    /// Hash of the last entry in the file: the ledger head (scope ledger)
    /// or the tenant's head (scope tenant).
    pub head: String,
    /// The size of the whole ledger when exported.
    pub ledger_size: u64,
    pub ledger_head: String,
}

/// One entry line: the record's fields, the event as the exact canonical
/// JSON string that was hashed, and the entry hash. Unknown fields are
/// refused, as in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub position: u64,
    pub record_time: i64,
    pub prev_hash: String,
    pub tenant: String,
    pub tenant_seq: u64,
    pub tenant_prev_hash: String,
    pub event: String,
    pub hash: String,
}

impl Line {
    pub fn from_entry(record: &Record, hash: Hash) -> Result<Line, std::str::Utf8Error> {
        Ok(Line {
            position: record.position,
            record_time: record.record_time,
            prev_hash: record.prev_hash.to_hex(),
            tenant: record.tenant.clone(),
            tenant_seq: record.tenant_seq,
            tenant_prev_hash: record.tenant_prev_hash.to_hex(),
            event: std::str::from_utf8(&record.event)?.to_owned(),
            hash: hash.to_hex(),
        })
    }

    /// The record this line describes (field errors name the field). The
    /// event must be canonical JSON and every hash lowercase hex, as
    /// docs/FORMAT.md writes them: one entry has exactly one export line.
    pub fn to_record(&self) -> Result<(Record, Hash), String> {
        let hash_field = lower_hex;
        if self.tenant.len() > record::TENANT_LEN_MAX {
            return Err("field tenant is longer than 63 bytes".into());
        }
        if self.event.len() > record::EVENT_LEN_MAX {
            return Err("field event is too long".into());
        }
        schemas::canonical::check_canonical(&self.event)
            .map_err(|error| format!("field event: {error}"))?;
        let record = Record {
            position: self.position,
            record_time: self.record_time,
            prev_hash: hash_field("prev_hash", &self.prev_hash)?,
            tenant_seq: self.tenant_seq,
            tenant_prev_hash: hash_field("tenant_prev_hash", &self.tenant_prev_hash)?,
            tenant: self.tenant.clone(),
            event: self.event.as_bytes().to_vec(),
        };
        Ok((record, hash_field("hash", &self.hash)?))
    }
}

/// A hash field: exactly 64 lowercase hex digits (FORMAT.md), so that no
/// two spellings of one hash exist.
fn lower_hex(name: &str, text: &str) -> Result<Hash, String> {
    let lower = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match Hash::from_hex(text) {
        Some(hash) if lower => Ok(hash),
        _ => Err(format!(
            "field {name} is not 64 lowercase hex characters: {text:?}"
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    pub head: Hash,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("tenant {0:?} has no entries in this ledger")]
    UnknownTenant(String),
}

pub(crate) fn write(
    ledger: &Ledger,
    out: &mut dyn Write,
    tenant: Option<&str>,
) -> Result<ExportSummary, ExportError> {
    let ledger_head = ledger.head();
    let (entries, head) = match tenant {
        None => (ledger_head.size, ledger_head.hash),
        Some(t) => {
            let head = ledger
                .tenants
                .get(t)
                .ok_or_else(|| ExportError::UnknownTenant(t.into()))?;
            (head.next_seq, head.last_hash)
        }
    };
    let header = Header {
        format: FORMAT.into(),
        record: String::from_utf8_lossy(&record::DOMAIN[..19]).into_owned(),
        scope: if tenant.is_some() { "tenant" } else { "ledger" }.into(),
        tenant: tenant.map(str::to_owned),
        entries,
        head: head.to_hex(),
        ledger_size: ledger_head.size,
        ledger_head: ledger_head.hash.to_hex(),
    };
    write_json_line(out, &header)?;
    let stream: Box<dyn Iterator<Item = Result<crate::Entry, LedgerError>>> = match tenant {
        None => Box::new(ledger.entries(0)),
        Some(t) => Box::new(ledger.tenant_entries(t)),
    };
    let mut written = 0;
    for entry in stream.take(entries as usize) {
        let entry = entry?;
        let position = entry.record.position;
        let line =
            Line::from_entry(&entry.record, entry.hash).map_err(|_| LedgerError::Corrupt {
                position,
                detail: "stored event is not UTF-8".into(),
            })?;
        write_json_line(out, &line)?;
        written += 1;
    }
    out.flush()?;
    assert_eq!(
        written, entries,
        "export wrote {written} of {entries} entries"
    );
    Ok(ExportSummary { entries, head })
}

fn write_json_line<T: Serialize>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// What is wrong with an export file.
#[derive(Debug, thiserror::Error)]
pub enum ExportCheckError {
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("line {line}: {failure}")]
    Chain { line: u64, failure: Failure },
    #[error(
        "is an export of tenant {tenant}, but a checkpoint signs the whole ledger's tree: check \
         a whole-ledger export (`tla export` without --tenant) against it"
    )]
    TenantAgainstCheckpoint { tenant: String },
    #[error(
        "holds {entries} entries, but the checkpoint signs a tree of {size}: entries the log \
         signed are missing (the export was truncated, or made before the checkpoint)"
    )]
    ShorterThanCheckpoint { entries: u64, size: u64 },
    #[error(
        "the RFC 6962 root of the export's first {size} entries is {}, but the checkpoint signs \
         {}: these are not the entries the log signed (the export was rewritten)",
        hex::encode(.computed),
        hex::encode(.signed)
    )]
    CheckpointRoot {
        size: u64,
        computed: Digest,
        signed: Digest,
    },
    #[error("reading the export failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Verifies an export: the header's rules, every hash recomputed from the
/// fields, every event canonical, the chain (whole-ledger scope) or the
/// tenant chain (tenant scope). A whole-ledger export's summary carries its
/// RFC 6962 root (`merkle_root`).
pub fn verify(input: &mut dyn BufRead) -> Result<(Header, Summary), ExportCheckError> {
    verify_against(input, None)
}

/// [`verify`], and with a checkpoint (whose signature the caller checked)
/// also that the RFC 6962 root over the export's first `size` entries is
/// the checkpoint's root. Only a whole-ledger export holds the leaves of
/// the tree a checkpoint signs; a shorter one fails.
pub fn verify_against(
    input: &mut dyn BufRead,
    checkpoint: Option<&Checkpoint>,
) -> Result<(Header, Summary), ExportCheckError> {
    let mut lines = input.lines();
    let first = lines
        .next()
        .transpose()?
        .ok_or_else(|| malformed(1, "the file is empty"))?;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| malformed(1, &format!("not an export header: {e}")))?;
    let claimed_head = check_header(&header).map_err(|e| malformed(1, &e))?;
    let mut check = match (header.scope.as_str(), &header.tenant) {
        ("ledger", _) => Scope::Ledger(Box::default()),
        (_, Some(tenant)) => {
            if checkpoint.is_some() {
                let tenant = tenant.clone();
                return Err(ExportCheckError::TenantAgainstCheckpoint { tenant });
            }
            Scope::Tenant(TenantVerifier::new(tenant.clone(), header.ledger_size))
        }
        (_, None) => return Err(malformed(1, "scope tenant without a tenant")),
    };
    let mut tree = Frontier::new();
    let mut signed_root = None;
    let mut number = 1;
    for line in lines {
        if let Some(checkpoint) = checkpoint.filter(|c| c.size == tree.size()) {
            signed_root.get_or_insert((checkpoint.size, tree.root()));
        }
        number += 1;
        let line = line?;
        if line.len() > LINE_BYTES_MAX {
            return Err(malformed(number, "line is longer than the limit"));
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| malformed(number, &format!("not an entry line: {e}")))?;
        let (record, stored) = parsed.to_record().map_err(|e| malformed(number, &e))?;
        let bytes = record.encode();
        let result = match &mut check {
            Scope::Ledger(verifier) => verifier.push(&bytes, Some(stored)),
            Scope::Tenant(verifier) => verifier.push(&record, &bytes, stored),
        };
        result.map_err(|failure| ExportCheckError::Chain {
            line: number,
            failure,
        })?;
        tree.push(merkle::leaf_hash(&bytes));
    }
    let summary = match check {
        Scope::Ledger(verifier) => {
            verifier
                .finish(Some((header.entries, claimed_head)))
                .map(|summary| Summary {
                    merkle_root: Some(tree.root()),
                    ..summary
                })
        }
        Scope::Tenant(verifier) => verifier.finish(header.entries, claimed_head),
    };
    let summary = summary.map_err(|failure| ExportCheckError::Chain {
        line: number,
        failure,
    })?;
    if let Some(checkpoint) = checkpoint {
        if checkpoint.size == tree.size() {
            signed_root.get_or_insert((checkpoint.size, tree.root()));
        }
        let Some((size, computed)) = signed_root else {
            let (entries, size) = (tree.size(), checkpoint.size);
            return Err(ExportCheckError::ShorterThanCheckpoint { entries, size });
        };
        if computed != checkpoint.root {
            let signed = checkpoint.root;
            return Err(ExportCheckError::CheckpointRoot {
                size,
                computed,
                signed,
            });
        }
    }
    Ok((header, summary))
}

/// The header's rules (docs/FORMAT.md, "Header rules"); returns its head.
/// A whole-ledger export describes the whole ledger, so its ledger fields
/// repeat its own; a tenant export's `ledger_size` is checked against its
/// positions as they are read.
fn check_header(header: &Header) -> Result<Hash, String> {
    if header.format != FORMAT {
        return Err(format!("format {:?} is not {FORMAT:?}", header.format));
    }
    if header.record.as_bytes() != &record::DOMAIN[..record::DOMAIN.len() - 1] {
        return Err(format!(
            "record {:?} is not {:?}",
            header.record,
            String::from_utf8_lossy(&record::DOMAIN[..record::DOMAIN.len() - 1])
        ));
    }
    let head = lower_hex("head", &header.head)?;
    let ledger_head = lower_hex("ledger_head", &header.ledger_head)?;
    match (header.scope.as_str(), &header.tenant) {
        ("ledger", Some(tenant)) => Err(format!(
            "scope ledger with tenant {tenant:?}: a whole-ledger export has tenant null"
        )),
        ("ledger", None) if header.ledger_size != header.entries => Err(format!(
            "scope ledger with ledger_size {} but {} entries: a whole-ledger export has both equal",
            header.ledger_size, header.entries
        )),
        ("ledger", None) if ledger_head != head => Err(format!(
            "scope ledger with ledger_head {ledger_head} but head {head}: a whole-ledger export \
             has both equal"
        )),
        ("ledger", None) | ("tenant", _) => Ok(head),
        (other, _) => Err(format!("unknown scope {other:?}")),
    }
}

fn malformed(line: u64, message: &str) -> ExportCheckError {
    ExportCheckError::Malformed {
        line,
        message: message.to_owned(),
    }
}

enum Scope {
    Ledger(Box<Verifier>),
    Tenant(TenantVerifier),
}

/// Checks one tenant's chain: consecutive tenant sequence numbers, each
/// entry linking to the tenant's previous one, positions increasing.
struct TenantVerifier {
    tenant: String,
    /// The header's `ledger_size`: every position must be below it.
    ledger_size: u64,
    next_seq: u64,
    last_hash: Hash,
    last_position: Option<u64>,
    last_record_time: Option<i64>,
    foreign_issuances: crate::chain::ForeignIssuances,
}

impl TenantVerifier {
    fn new(tenant: String, ledger_size: u64) -> TenantVerifier {
        TenantVerifier {
            tenant,
            ledger_size,
            next_seq: 0,
            last_hash: ZERO_HASH,
            last_position: None,
            last_record_time: None,
            foreign_issuances: Default::default(),
        }
    }

    fn push(&mut self, record: &Record, bytes: &[u8], stored: Hash) -> Result<(), Failure> {
        let position = record.position;
        let hash = record::hash(bytes);
        self.foreign_issuances.see(position, &record.event);
        if hash != stored {
            let detail = format!("its fields hash to {hash} but the export says {stored}");
            return Err(Failure::Changed { position, detail });
        }
        if position >= self.ledger_size {
            let detail = format!(
                "position {position} is beyond the header's ledger_size {}",
                self.ledger_size
            );
            return Err(Failure::Inserted { position, detail });
        }
        if record.tenant != self.tenant {
            let detail = format!(
                "tenant {} in an export of tenant {}",
                record.tenant, self.tenant
            );
            return Err(Failure::Inserted { position, detail });
        }
        if record.tenant_seq > self.next_seq {
            let detail = format!(
                "the tenant's entries {}..={} are missing before this one (tenant sequence \
                 jumps to {})",
                self.next_seq,
                record.tenant_seq - 1,
                record.tenant_seq
            );
            return Err(Failure::Missing {
                from: position,
                to: position,
                detail,
            });
        }
        if record.tenant_seq < self.next_seq || self.last_position.is_some_and(|p| p >= position) {
            let detail = format!(
                "tenant sequence {} appears after {}",
                record.tenant_seq,
                self.next_seq - 1
            );
            return Err(Failure::Reordered { position, detail });
        }
        if record.tenant_prev_hash != self.last_hash {
            let detail = format!(
                "the tenant's previous entry hashes to {} but this entry links to {}",
                self.last_hash, record.tenant_prev_hash
            );
            return Err(Failure::Changed { position, detail });
        }
        if self
            .last_record_time
            .is_some_and(|t| record.record_time < t)
        {
            let detail = "record time decreases".to_string();
            return Err(Failure::Changed { position, detail });
        }
        self.next_seq += 1;
        self.last_hash = hash;
        self.last_position = Some(position);
        self.last_record_time = Some(record.record_time);
        Ok(())
    }

    fn finish(self, entries: u64, head: Hash) -> Result<Summary, Failure> {
        let position = self.last_position.map_or(0, |p| p + 1);
        if entries != self.next_seq {
            let detail = format!(
                "the header says {entries} entries, the file holds {}",
                self.next_seq
            );
            return Err(Failure::Missing {
                from: position,
                to: position,
                detail,
            });
        }
        if head != self.last_hash {
            let detail = format!(
                "the header's head {head} is not the last entry's hash {}",
                self.last_hash
            );
            return Err(Failure::Changed {
                position: position.saturating_sub(1),
                detail,
            });
        }
        Ok(Summary {
            size: entries,
            head,
            tenants: 1,
            last_record_time: self.last_record_time,
            merkle_root: None,
            foreign_issuances: self.foreign_issuances,
        })
    }
}
