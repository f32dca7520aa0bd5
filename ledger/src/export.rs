//! The export format (`docs/FORMAT.md`): JSON Lines that carry every field
//! of every record, so a third party can rebuild each hash preimage and
//! verify the chain without this code. Writing and verifying both live
//! here; verification reuses the pure `chain::Verifier`.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::chain::{Failure, Summary, Verifier};
use crate::record::{self, Hash, Record, ZERO_HASH};
use crate::{Ledger, LedgerError};

/// The `format` value of the header line.
pub const FORMAT: &str = "tla-export/1";

/// The longest line an export verifier reads: an event is at most 1 MiB
/// of canonical JSON, which JSON string escaping can at most sextuple.
pub const LINE_BYTES_MAX: usize = 8 << 20;

/// First line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
/// JSON string that was hashed, and the entry hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The record this line describes (field errors name the field).
    pub fn to_record(&self) -> Result<(Record, Hash), String> {
        let hash_field = |name: &str, text: &str| {
            Hash::from_hex(text).ok_or_else(|| format!("field {name} is not 64 hex characters"))
        };
        if self.tenant.len() > record::TENANT_LEN_MAX {
            return Err("field tenant is longer than 63 bytes".into());
        }
        if self.event.len() > record::EVENT_LEN_MAX {
            return Err("field event is too long".into());
        }
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
    #[error("reading the export failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Verifies an export: every hash recomputed from the fields, the chain
/// (whole-ledger scope) or the tenant chain (tenant scope), and the header.
pub fn verify(input: &mut dyn BufRead) -> Result<(Header, Summary), ExportCheckError> {
    let mut lines = input.lines();
    let first = lines
        .next()
        .transpose()?
        .ok_or_else(|| malformed(1, "the file is empty"))?;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| malformed(1, &format!("not an export header: {e}")))?;
    if header.format != FORMAT {
        return Err(malformed(
            1,
            &format!("format {:?} is not {FORMAT:?}", header.format),
        ));
    }
    let claimed_head = Hash::from_hex(&header.head)
        .ok_or_else(|| malformed(1, "field head is not 64 hex characters"))?;
    let mut check = match header.scope.as_str() {
        "ledger" => Scope::Ledger(Box::default()),
        "tenant" => match &header.tenant {
            Some(tenant) => Scope::Tenant(TenantVerifier::new(tenant.clone())),
            None => return Err(malformed(1, "scope tenant without a tenant")),
        },
        other => return Err(malformed(1, &format!("unknown scope {other:?}"))),
    };
    let mut number = 1;
    for line in lines {
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
    }
    let summary = match check {
        Scope::Ledger(verifier) => verifier.finish(Some((header.entries, claimed_head))),
        Scope::Tenant(verifier) => verifier.finish(header.entries, claimed_head),
    };
    let summary = summary.map_err(|failure| ExportCheckError::Chain {
        line: number,
        failure,
    })?;
    Ok((header, summary))
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
    next_seq: u64,
    last_hash: Hash,
    last_position: Option<u64>,
    last_record_time: Option<i64>,
    foreign_issuances: crate::chain::ForeignIssuances,
}

impl TenantVerifier {
    fn new(tenant: String) -> TenantVerifier {
        TenantVerifier {
            tenant,
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
