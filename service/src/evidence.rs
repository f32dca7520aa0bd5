//! Evidence bundles: one self-contained file that lets an
//! auditor check an issued report offline, without our ledger and without
//! trusting us beyond the public key.
//!
//! The bundle (format `tla-evidence/1`, docs/AUDITING.md) holds the issued
//! report, the tenant's entries up to and including the `report.issued`
//! entry (their exact stored record bytes), each entry's inclusion proof in
//! a signed checkpoint, and the consistency proof from the report's
//! `tree_root` to that checkpoint. [`build`] makes one from the ledger;
//! [`check`] (after the signature verified) checks the signature, every
//! inclusion proof, the tenant chain (sequence numbers from 0 without a gap,
//! each entry linked to the one before, so none of the tenant's entries is
//! missing), the `report.issued` entry's digest, the report's tree root
//! (and its `ledger_root` when the bundle holds the entry it names), and
//! finally regenerates the report from the bundled events alone and
//! compares it with the bundle's report JSON byte for byte (canonical
//! form, read without typed structs: `report_file`). [`parse`] refuses a
//! field the format does not have, at the top level and in entries: a
//! future format gets a new `format` string, never silent extra fields.
//!
//! Format `tla-evidence/2` (what [`build`] writes) adds one field,
//! `acknowledgement`: the municipality's acknowledgement of the report
//! when the ledger holds one (SEMANTICS.md section 12, "Acknowledgement"),
//! the entry of the last `report.acknowledged` naming the report's digest,
//! else the last one of the period naming another digest, with its
//! inclusion proof in the same checkpoint; null when there is none.
//! [`acknowledgement`] reads it back for `tla evidence verify` to report
//! (who, when, which digest). `tla-evidence/1` bundles (without the field)
//! are still read and checked.

use std::path::Path;

use anyhow::{bail, Context};
use ledger::checkpoint::{read_unverified, Checkpoint};
use ledger::merkle::{self, Digest};
use ledger::record::{self, Fields, ZERO_HASH};
use ledger::Ledger;
use projector::{LedgerEvent, Period};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report_file::Given;

/// The bundle format this build writes.
pub const FORMAT: &str = "tla-evidence/2";

/// The format before the acknowledgement, which this build still reads.
pub const FORMAT_1: &str = "tla-evidence/1";

/// Every field of a `tla-evidence/1` bundle's top level, and no other
/// (docs/FORMAT.md).
pub const BUNDLE_FIELDS: &[&str] = &[
    "format",
    "tenant",
    "period",
    "report",
    "checkpoint",
    "entries",
    "consistency",
];

/// The field `tla-evidence/2` adds at the top level (null when the bundle
/// carries no acknowledgement).
pub const BUNDLE_2_ADDED: &str = "acknowledgement";

/// Every field of a bundle's entry, and no other.
pub const ENTRY_FIELDS: &[&str] = &["position", "record", "inclusion"];

/// An evidence bundle (`tla-evidence/2` or `/1`, docs/AUDITING.md).
#[derive(Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub tenant: String,
    pub period: String,
    /// The issued report, as `tla report issue` wrote it: kept as JSON so
    /// that what is checked is every field the file holds.
    pub report: Value,
    /// The signed checkpoint (C2SP signed note) the proofs lead to.
    pub checkpoint: String,
    /// The tenant's entries, in position order, through the `report.issued`
    /// entry that anchors the report.
    pub entries: Vec<BundleEntry>,
    /// Consistency proof from the report's tree (ledger_size, tree_root) to
    /// the checkpoint's tree; empty when they are the same size.
    pub consistency: Vec<String>,
    /// Format 2: the acknowledgement's entry (`report.acknowledged` of the
    /// tenant and period), with its inclusion proof in the checkpoint; null
    /// when the ledger held none the checkpoint covers. Format 1 has no
    /// such field (`parse` keeps the two apart).
    #[serde(default, skip_serializing_if = "is_format_1")]
    pub acknowledgement: Acknowledgement,
}

/// The `acknowledgement` field: absent in format 1, an entry or null in 2.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Acknowledgement(pub Option<Option<BundleEntry>>);

impl Acknowledgement {
    /// The entry, if the bundle carries one.
    pub fn entry(&self) -> Option<&BundleEntry> {
        self.0.as_ref().and_then(Option::as_ref)
    }
}

fn is_format_1(acknowledgement: &Acknowledgement) -> bool {
    acknowledgement.0.is_none()
}

/// One of the tenant's entries in a bundle, with its inclusion proof.
#[derive(Clone, Serialize, Deserialize)]
pub struct BundleEntry {
    pub position: u64,
    /// The entry's stored record bytes (docs/FORMAT.md), hex.
    pub record: String,
    /// Its inclusion proof in the checkpoint's tree, lowest level first.
    pub inclusion: Vec<String>,
}

/// An evidence bundle as [`build`] made it.
pub struct Built {
    pub bundle: Bundle,
    /// The size of the checkpoint its proofs lead to.
    pub checkpoint_size: u64,
    /// The position of an acknowledgement of the period that no stored
    /// checkpoint covers yet (and no key was given to sign one): left out.
    pub acknowledgement_uncovered: Option<u64>,
}

/// The evidence bundle of the last report issued for `tenant` and
/// `period`. The checkpoint is the first stored one that covers the
/// `report.issued` entry and the acknowledgement's entry (else the one
/// covering the `report.issued` entry, without the acknowledgement); when
/// none covers both and `key` names a signing key, one is signed now.
pub fn build(
    ledger: &mut Ledger,
    tenant: &str,
    period: Period,
    key: Option<&Path>,
) -> anyhow::Result<Built> {
    let Some((issued_at, report)) = crate::report::last_issued(ledger, tenant, period)? else {
        bail!(
            "no report of {period} for {tenant} was issued; issue it first with `tla report issue --tenant {tenant} --period {period}`"
        );
    };
    if report.manifest.tree_root.is_empty() {
        bail!("the report of {period} for {tenant} was issued before the ledger had a Merkle tree; issue it again");
    }
    let acknowledged = acknowledgement_entry(ledger, tenant, period, &report)?;
    let covered = acknowledged.map_or(issued_at, |at| at.max(issued_at)) + 1;
    let note = match (ledger.checkpoint_covering(covered)?, key) {
        (Some((_, note)), _) => note,
        (None, Some(key)) => ledger.sign_checkpoint(&crate::keys::load_signer(key)?)?,
        (None, None) => match ledger.checkpoint_covering(issued_at + 1)? {
            Some((_, note)) => note,
            None => bail!(
                "no signed checkpoint covers the report.issued entry at position {issued_at}; sign one with `tla checkpoint --key FILE` or pass --key"
            ),
        },
    };
    let checkpoint = read_unverified(&note)?;
    let (acknowledged, uncovered) = match acknowledged {
        Some(at) if at >= checkpoint.size => (None, Some(at)),
        other => (other, None),
    };
    let hexes = |proof: Vec<Digest>| proof.iter().map(hex::encode).collect::<Vec<_>>();
    let mut entries = Vec::new();
    let mut acknowledgement = None;
    for entry in ledger.tenant_entries(tenant) {
        let entry = entry?;
        let position = entry.record.position;
        let bundled = BundleEntry {
            position,
            record: hex::encode(entry.record.encode()),
            inclusion: hexes(ledger.inclusion_proof(position, checkpoint.size)?),
        };
        // An acknowledgement of an older issue may lie inside the chain.
        if Some(position) == acknowledged {
            acknowledgement = Some(bundled.clone());
        }
        if position <= issued_at {
            entries.push(bundled);
        }
        if position >= issued_at && acknowledged.is_none_or(|at| position >= at) {
            break;
        }
    }
    let size = report.manifest.ledger_size;
    let consistency = match size < checkpoint.size {
        true => hexes(ledger.consistency_proof(size, checkpoint.size)?),
        false => Vec::new(),
    };
    let bundle = Bundle {
        format: FORMAT.to_owned(),
        tenant: tenant.to_owned(),
        period: period.to_string(),
        report: crate::report::to_value(&report)?,
        checkpoint: note,
        entries,
        consistency,
        acknowledgement: Acknowledgement(Some(acknowledgement)),
    };
    Ok(Built {
        bundle,
        checkpoint_size: checkpoint.size,
        acknowledgement_uncovered: uncovered,
    })
}

/// The position of the acknowledgement a bundle of `report` carries: the
/// last `report.acknowledged` of the period naming its digest, else the
/// last naming another digest (so that the bundle shows it was not this
/// report that was acknowledged).
fn acknowledgement_entry(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
    report: &projector::Report,
) -> anyhow::Result<Option<u64>> {
    let events = crate::report::tenant_events(ledger, tenant, ledger.size())?;
    let period = period.to_string();
    let digest = &report.manifest.report_digest;
    let receipt = projector::acknowledgement::receipt(tenant, &period, digest, &events);
    let last_other = receipt.others.last().map(|(a, _)| a.position);
    Ok(receipt.current.map(|a| a.position).or(last_other))
}

/// A bundle as its file holds it: pretty JSON and a newline.
pub fn to_bytes(bundle: &Bundle) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(bundle).context("a bundle is JSON")?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads a bundle from the text of the file `name`, strictly: another
/// format, a repeated key, a field the format does not have (top level or
/// entry) and a report without the manifest it needs are refused, each
/// named by its path.
pub fn parse(name: &str, text: &str) -> anyhow::Result<Bundle> {
    let value = schemas::canonical::parse_strict(text).map_err(|problem| {
        anyhow::anyhow!("{name} is not an evidence bundle ({FORMAT}): {problem}")
    })?;
    let format = match value.get("format") {
        Some(format) if *format == FORMAT => FORMAT,
        Some(format) if *format == FORMAT_1 => FORMAT_1,
        Some(format) => bail!("{name}: format {format}, this build reads {FORMAT} and {FORMAT_1}"),
        None => FORMAT,
    };
    if let Some(path) = unknown_field(&value, format) {
        bail!(
            "{name}: {path}: a field {format} does not have (a bundle carries exactly the fields of docs/FORMAT.md; a new format gets a new format string)"
        );
    }
    if format == FORMAT && value.get(BUNDLE_2_ADDED).is_none() {
        bail!(
            "{name}: acknowledgement: missing ({FORMAT} has it, null when the bundle carries none)"
        );
    }
    let bundle: Bundle = serde_json::from_value(value)
        .with_context(|| format!("{name} is not an evidence bundle ({FORMAT})"))?;
    if let Err(problem) = bundle.given() {
        bail!("{name}: report.{problem}");
    }
    Ok(bundle)
}

/// The path of the first field a bundle of `format` must not have.
fn unknown_field(value: &Value, format: &str) -> Option<String> {
    let unknown = |object: &serde_json::Map<String, Value>, known: &[&str]| {
        object
            .keys()
            .find(|key| !known.contains(&key.as_str()))
            .cloned()
    };
    let top = value.as_object()?;
    let known =
        |key: &str| BUNDLE_FIELDS.contains(&key) || (format == FORMAT && key == BUNDLE_2_ADDED);
    if let Some(key) = top.keys().find(|key| !known(key)) {
        return Some(key.clone());
    }
    let acknowledged = top.get(BUNDLE_2_ADDED).and_then(Value::as_object);
    if let Some(key) = acknowledged.and_then(|entry| unknown(entry, ENTRY_FIELDS)) {
        return Some(format!("acknowledgement.{key}"));
    }
    let entries = top.get("entries").and_then(Value::as_array)?;
    entries.iter().enumerate().find_map(|(i, entry)| {
        let key = unknown(entry.as_object()?, ENTRY_FIELDS)?;
        Some(format!("entries[{i}].{key}"))
    })
}

/// One reason a bundle does not verify ([`check`]). Each names what an
/// auditor needs to find it; `Display` is the sentence `tla evidence
/// verify` prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The report JSON lacks or mistypes what its manifest pins.
    #[error("report.{0}")]
    Malformed(schemas::FieldError),
    /// The report is of another tenant or period than the bundle says.
    #[error("the report is of {report_tenant} {report_period}, the bundle of {bundle_tenant} {bundle_period}")]
    Subject {
        report_tenant: String,
        report_period: String,
        bundle_tenant: String,
        bundle_period: String,
    },
    /// The report's content does not hash to the digest it states.
    #[error("the report's content does not match its digest {digest}: it was changed after it was issued")]
    Digest { digest: String },
    /// A bundled entry (or the acknowledgement's entry) is unsound.
    #[error("{entry}{problem}")]
    Entry {
        entry: EntryRef,
        problem: EntryProblem,
    },
    /// The tenant chain does not run from sequence 0 without a gap.
    #[error("the tenant chain breaks at entry {seq} of {tenant} (position {position}, tenant sequence {tenant_seq}): an entry before it is missing or was reordered")]
    ChainBreak {
        seq: u64,
        tenant: String,
        position: u64,
        tenant_seq: u64,
    },
    #[error("the bundle holds no entries")]
    NoEntries,
    /// The last entry is not this report's `report.issued`, so the bundle
    /// cannot show that none of the tenant's entries is missing.
    #[error("the last entry (position {position}) is not the report.issued entry of this report after the report's {size} entries, so the bundle cannot show that none of the tenant's entries is missing")]
    NotAnchored { position: u64, size: u64 },
    /// `manifest.ledger_root` is not the hash of the entry it names.
    #[error("the report's manifest.ledger_root {given} is not the hash {expected} of the entry before its prefix end (position {position}), which the bundle holds")]
    LedgerRoot {
        given: String,
        expected: String,
        position: u64,
    },
    #[error("the report's manifest.ledger_root is not 64 lowercase hex digits")]
    LedgerRootNotHex,
    #[error("the report has no valid manifest.tree_root")]
    TreeRootNotHex,
    #[error("the consistency proof holds a malformed hash")]
    MalformedConsistency,
    /// The report's tree is not a prefix of the checkpoint's.
    #[error("the report's tree (size {size}, root {root}) is not a prefix of the signed checkpoint's ({error})")]
    NotPrefix {
        size: u64,
        root: String,
        error: String,
    },
    /// The bundled events do not make a report at all.
    #[error("the report cannot be regenerated from the bundle: {0}")]
    NotRegenerated(String),
    /// The report as given differs from the one regenerated from the
    /// bundled events, at a JSON path.
    #[error("report {}", .0.describe("the bundle", "the issued report"))]
    Differs(crate::report_file::Difference),
}

/// Which bundled entry a [`Problem::Entry`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRef {
    /// One of `entries`, by the position it is listed at.
    Listed(u64),
    /// The `acknowledgement` entry, by the position it is listed at.
    Acknowledgement(u64),
}

impl std::fmt::Display for EntryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryRef::Listed(position) => write!(f, "entry at position {position}"),
            EntryRef::Acknowledgement(position) => {
                write!(f, "the acknowledgement entry at position {position}")
            }
        }
    }
}

/// What is wrong with one entry; `Display` continues the sentence the
/// [`EntryRef`] begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryProblem {
    NotHex,
    MalformedProof,
    /// Its inclusion proof does not lead to the checkpoint's root.
    NotIncluded {
        size: u64,
        error: String,
    },
    NotARecord(String),
    /// The record states another position than the one it is listed at.
    RecordsPosition(u64),
    OtherTenant {
        tenant: String,
        expected: String,
    },
    OutOfOrder,
    EventDoesNotParse,
    /// The acknowledgement entry is not one of the bundle's tenant and
    /// period.
    NotAcknowledgement {
        tenant: String,
        period: String,
    },
}

impl std::fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryProblem::NotHex => f.write_str(": the record is not lowercase hex"),
            EntryProblem::MalformedProof => {
                f.write_str(": its inclusion proof holds a malformed hash")
            }
            EntryProblem::NotIncluded { size, error } => write!(
                f,
                " is not in the signed checkpoint of size {size} ({error}): the entry was changed"
            ),
            EntryProblem::NotARecord(error) => write!(f, ": not a record: {error}"),
            EntryProblem::RecordsPosition(recorded) => {
                write!(f, " records position {recorded}")
            }
            EntryProblem::OtherTenant { tenant, expected } => {
                write!(f, " is of tenant {tenant}, not {expected}")
            }
            EntryProblem::OutOfOrder => f.write_str(" is out of order"),
            EntryProblem::EventDoesNotParse => f.write_str(": its event does not parse"),
            EntryProblem::NotAcknowledgement { tenant, period } => {
                write!(f, " is not a report.acknowledged of {tenant} for {period}")
            }
        }
    }
}

impl Bundle {
    /// The bundle's report as given, with what its manifest pins.
    pub fn given(&self) -> Result<Given, schemas::FieldError> {
        Given::from_value(self.report.clone())
    }
}

/// Every problem of a bundle whose checkpoint signature verified.
pub fn check(bundle: &Bundle, checkpoint: &Checkpoint) -> Vec<Problem> {
    let mut problems = Vec::new();
    let report = match bundle.given() {
        Ok(report) => report,
        Err(problem) => return vec![Problem::Malformed(problem)],
    };
    if report.tenant != bundle.tenant || report.period != bundle.period {
        problems.push(Problem::Subject {
            report_tenant: report.tenant.clone(),
            report_period: report.period.clone(),
            bundle_tenant: bundle.tenant.clone(),
            bundle_period: bundle.period.clone(),
        });
    }
    if !report.digest_matches() {
        problems.push(Problem::Digest {
            digest: report.report_digest.clone(),
        });
    }
    let before = problems.len();
    let records = entries(bundle, checkpoint, &mut problems);
    chain(bundle, &report, &records, &mut problems);
    acknowledgement_problems(bundle, checkpoint, &mut problems);
    ledger_root(&report, &records, &mut problems);
    tree_root(bundle, &report, checkpoint, &mut problems);
    // The entries, their chain and the prefix are sound: regenerate (a
    // report whose JSON was changed is named field by field).
    if problems.len() == before && !records.is_empty() {
        regenerate(&report, &records, &mut problems);
    }
    problems
}

/// The bundled records, each checked against the checkpoint.
fn entries(bundle: &Bundle, checkpoint: &Checkpoint, problems: &mut Vec<Problem>) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    for entry in &bundle.entries {
        let position = entry.position;
        let what = EntryRef::Listed(position);
        let Some(bytes) = included(entry, what, checkpoint, problems) else {
            continue;
        };
        let problem = match Fields::decode(&bytes) {
            Ok(fields) if fields.position == position => None,
            Ok(fields) => Some(EntryProblem::RecordsPosition(fields.position)),
            Err(error) => Some(EntryProblem::NotARecord(error.to_string())),
        };
        if let Some(problem) = problem {
            problems.push(Problem::Entry {
                entry: what,
                problem,
            });
        }
        records.push(bytes);
    }
    records
}

/// A bundled entry's record bytes, its inclusion proof checked against the
/// checkpoint (a failure is a problem of `what`, the bytes still
/// returned); `None` when the record or the proof is not even hex.
fn included(
    entry: &BundleEntry,
    what: EntryRef,
    checkpoint: &Checkpoint,
    problems: &mut Vec<Problem>,
) -> Option<Vec<u8>> {
    let Some(bytes) = lower_hex(&entry.record) else {
        problems.push(Problem::Entry {
            entry: what,
            problem: EntryProblem::NotHex,
        });
        return None;
    };
    let proof: Result<Vec<Digest>, _> = entry.inclusion.iter().map(|h| parse_digest(h)).collect();
    let Ok(proof) = proof else {
        problems.push(Problem::Entry {
            entry: what,
            problem: EntryProblem::MalformedProof,
        });
        return None;
    };
    let leaf = merkle::leaf_hash(&bytes);
    let position = entry.position;
    if let Err(error) =
        merkle::verify_inclusion(&leaf, position, checkpoint.size, &proof, &checkpoint.root)
    {
        problems.push(Problem::Entry {
            entry: what,
            problem: EntryProblem::NotIncluded {
                size: checkpoint.size,
                error: error.to_string(),
            },
        });
    }
    Some(bytes)
}

/// The agreement version a bundle's report used and its approvals, as
/// `tla evidence verify` reports them (SEMANTICS.md section 12). The
/// approvals that put a version in force lie in the report's prefix, so
/// they are among the bundle's entries (each with its inclusion proof),
/// and the regeneration in [`check`] already depends on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionUsed {
    pub version: String,
    pub requires_approval: bool,
    /// (party, person, time RFC 3339, position) of each accepted approval
    /// in the report's prefix.
    pub approvals: Vec<(schemas::Party, String, String, u64)>,
}

/// The version named by the report's `agreement_version`, read from the
/// bundled entries of its prefix (after [`check`] found no problem);
/// `None` when the report names none or no entry publishes it.
pub fn version_used(bundle: &Bundle) -> Option<VersionUsed> {
    let label = bundle.report["agreement_version"].as_str()?;
    let size = bundle.report["manifest"]["ledger_size"].as_u64()?;
    let mut events = Vec::new();
    for entry in &bundle.entries {
        let bytes = lower_hex(&entry.record)?;
        let fields = Fields::decode(&bytes).ok()?;
        if fields.position >= size {
            continue;
        }
        let event = schemas::Event::from_canonical(fields.event).ok()?;
        events.push(LedgerEvent {
            position: fields.position,
            event,
        });
    }
    let refs: Vec<&LedgerEvent> = events.iter().collect();
    let history = projector::agreement::History::from_events(&refs);
    let story = history.version(label).last()?;
    Some(VersionUsed {
        version: label.to_owned(),
        requires_approval: story.agreement.requires_approval,
        approvals: story
            .approvals
            .iter()
            .filter(|a| a.set_aside.is_none())
            .map(|a| {
                (
                    a.party,
                    a.person.to_owned(),
                    schemas::format_instant(a.time),
                    a.position,
                )
            })
            .collect(),
    })
}

/// The acknowledgement a bundle carries, as `tla evidence verify` reports
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    pub position: u64,
    /// The event's `time`, RFC 3339 as stored.
    pub time: String,
    pub person: String,
    pub comment: Option<String>,
    /// The digest it names.
    pub report_digest: String,
    /// Where that digest stands against the bundle's report.
    pub standing: projector::acknowledgement::Standing,
}

/// The bundle's acknowledgement, read from its record (after [`check`]
/// found no problem): `None` when the bundle carries none.
pub fn acknowledgement(bundle: &Bundle) -> Option<Acknowledged> {
    use projector::acknowledgement::Standing;
    let entry = bundle.acknowledgement.entry()?;
    let bytes = lower_hex(&entry.record)?;
    let fields = Fields::decode(&bytes).ok()?;
    let event = schemas::Event::from_canonical(fields.event).ok()?;
    let schemas::EventData::ReportAcknowledged {
        report_digest,
        person,
        comment,
        ..
    } = event.data
    else {
        return None;
    };
    let time: serde_json::Value = serde_json::from_slice(fields.event).ok()?;
    let digest = bundle.report["manifest"]["report_digest"].as_str();
    let standing = if Some(report_digest.as_str()) == digest {
        Standing::Current
    } else if issued_digests(bundle).contains(&report_digest) {
        Standing::Superseded
    } else {
        Standing::NotIssued
    };
    Some(Acknowledged {
        position: entry.position,
        time: time["time"].as_str().unwrap_or_default().to_owned(),
        person,
        comment,
        report_digest,
        standing,
    })
}

/// The digests of the ledger's own `report.issued` entries of the bundle's
/// period in its tenant chain.
fn issued_digests(bundle: &Bundle) -> Vec<String> {
    bundle
        .entries
        .iter()
        .filter_map(|entry| lower_hex(&entry.record))
        .filter_map(|bytes| {
            let fields = Fields::decode(&bytes).ok()?;
            let event = schemas::Event::from_canonical(fields.event).ok()?;
            match event.data {
                schemas::EventData::ReportIssued {
                    period,
                    report_digest,
                    ..
                } if event.source == schemas::LEDGER_SOURCE && period == bundle.period => {
                    Some(report_digest)
                }
                _ => None,
            }
        })
        .collect()
}

/// The acknowledgement's entry: in the signed checkpoint, at its position,
/// and a `report.acknowledged` of the bundle's tenant and period.
fn acknowledgement_problems(bundle: &Bundle, checkpoint: &Checkpoint, problems: &mut Vec<Problem>) {
    let Some(entry) = bundle.acknowledgement.entry() else {
        return;
    };
    let position = entry.position;
    let what = EntryRef::Acknowledgement(position);
    let Some(bytes) = included(entry, what, checkpoint, problems) else {
        return;
    };
    let mut problem = |problem| {
        problems.push(Problem::Entry {
            entry: what,
            problem,
        })
    };
    let fields = match Fields::decode(&bytes) {
        Ok(fields) => fields,
        Err(error) => {
            problem(EntryProblem::NotARecord(error.to_string()));
            return;
        }
    };
    if fields.position != position {
        problem(EntryProblem::RecordsPosition(fields.position));
    }
    let is_ours = fields.tenant == bundle.tenant
        && match schemas::Event::from_canonical(fields.event).map(|e| e.data) {
            Ok(schemas::EventData::ReportAcknowledged { period, .. }) => period == bundle.period,
            _ => false,
        };
    if !is_ours {
        problem(EntryProblem::NotAcknowledgement {
            tenant: bundle.tenant.clone(),
            period: bundle.period.clone(),
        });
    }
}

/// The tenant chain: sequence numbers 0, 1, 2, ... each linked to the
/// one before, every entry before the report's prefix end, then the
/// `report.issued` entry of this report at or after it.
fn chain(bundle: &Bundle, report: &Given, records: &[Vec<u8>], problems: &mut Vec<Problem>) {
    let size = report.ledger_size;
    let mut prev = ZERO_HASH;
    let mut last_position = None;
    for (seq, bytes) in records.iter().enumerate() {
        let Ok(fields) = Fields::decode(bytes) else {
            return; // reported by `entries`
        };
        let position = fields.position;
        if fields.tenant != bundle.tenant {
            problems.push(Problem::Entry {
                entry: EntryRef::Listed(position),
                problem: EntryProblem::OtherTenant {
                    tenant: fields.tenant.to_owned(),
                    expected: bundle.tenant.clone(),
                },
            });
        }
        if fields.tenant_seq != seq as u64 || fields.tenant_prev_hash != prev {
            problems.push(Problem::ChainBreak {
                seq: seq as u64,
                tenant: bundle.tenant.clone(),
                position,
                tenant_seq: fields.tenant_seq,
            });
            return;
        }
        if last_position.is_some_and(|last| position <= last) {
            problems.push(Problem::Entry {
                entry: EntryRef::Listed(position),
                problem: EntryProblem::OutOfOrder,
            });
        }
        last_position = Some(position);
        prev = record::hash(bytes);
    }
    let Some(last) = records.last().and_then(|bytes| Fields::decode(bytes).ok()) else {
        problems.push(Problem::NoEntries);
        return;
    };
    // The last entry anchors the report. With the chain unbroken from
    // sequence 0 up to it, every entry of the tenant before it, and so
    // every one in the report's prefix, is in the bundle.
    if last.position < size || !is_issued_of(&last, bundle, report) {
        problems.push(Problem::NotAnchored {
            position: last.position,
            size,
        });
    }
}

/// Whether an entry is the `report.issued` event of the bundle's report.
fn is_issued_of(fields: &Fields<'_>, bundle: &Bundle, report: &Given) -> bool {
    let Ok(event) = schemas::Event::from_canonical(fields.event) else {
        return false;
    };
    if event.source != schemas::LEDGER_SOURCE {
        return false;
    }
    match &event.data {
        schemas::EventData::ReportIssued {
            period,
            ledger_size,
            report_digest,
            tree_root,
        } => {
            *period == bundle.period
                && *ledger_size == report.ledger_size
                && *report_digest == report.report_digest
                && match tree_root {
                    Some(root) => *root == report.tree_root,
                    None => true,
                }
        }
        _ => false,
    }
}

/// Positions of the ledger's own `report.issued` entries of the bundle's
/// period that come before the last entry (the one anchoring this report):
/// when there are any, this report is a reissue of that period. A bundle
/// ends at its report's issuance, so it cannot show a later reissue.
pub fn earlier_issuances(bundle: &Bundle) -> Vec<u64> {
    let records: Vec<Vec<u8>> = bundle
        .entries
        .iter()
        .filter_map(|entry| lower_hex(&entry.record))
        .collect();
    let Some((_, earlier)) = records.split_last() else {
        return Vec::new();
    };
    earlier
        .iter()
        .filter_map(|bytes| Fields::decode(bytes).ok())
        .filter(|fields| issued_period(fields).is_some_and(|period| period == bundle.period))
        .map(|fields| fields.position)
        .collect()
}

/// The period of a `report.issued` entry the ledger itself wrote.
fn issued_period(fields: &Fields<'_>) -> Option<String> {
    let event = schemas::Event::from_canonical(fields.event).ok()?;
    if event.source != schemas::LEDGER_SOURCE {
        return None;
    }
    match event.data {
        schemas::EventData::ReportIssued { period, .. } => Some(period),
        _ => None,
    }
}

/// The report's `ledger_root` is the hash of entry `ledger_size - 1` (32
/// zero bytes for an empty prefix): checked when that entry is the
/// tenant's own and so in the bundle. Usually it is another tenant's, and
/// the tree root (checked against the checkpoint) pins the same prefix.
fn ledger_root(report: &Given, records: &[Vec<u8>], problems: &mut Vec<Problem>) {
    let expected = match report.ledger_size.checked_sub(1) {
        None => ZERO_HASH,
        Some(last) => {
            let held = records
                .iter()
                .find(|bytes| Fields::decode(bytes).is_ok_and(|f| f.position == last));
            match held {
                Some(bytes) => record::hash(bytes),
                None => return,
            }
        }
    };
    if report.ledger_root != expected.to_hex() {
        problems.push(Problem::LedgerRoot {
            given: report.ledger_root.clone(),
            expected: expected.to_hex(),
            position: report.ledger_size.saturating_sub(1),
        });
    }
}

/// The report's tree (ledger_size, tree_root) is a prefix of the signed one.
fn tree_root(
    bundle: &Bundle,
    report: &Given,
    checkpoint: &Checkpoint,
    problems: &mut Vec<Problem>,
) {
    let Ok(root) = parse_digest(&report.tree_root) else {
        problems.push(Problem::TreeRootNotHex);
        return;
    };
    let proof: Result<Vec<Digest>, _> =
        bundle.consistency.iter().map(|h| parse_digest(h)).collect();
    let Ok(proof) = proof else {
        problems.push(Problem::MalformedConsistency);
        return;
    };
    if let Err(error) = merkle::verify_consistency(
        report.ledger_size,
        checkpoint.size,
        &root,
        &checkpoint.root,
        &proof,
    ) {
        problems.push(Problem::NotPrefix {
            size: report.ledger_size,
            root: report.tree_root.clone(),
            error: error.to_string(),
        });
    }
}

/// Regenerates the report from the bundled events in its prefix and
/// compares it with the bundle's report JSON, canonical byte for byte.
fn regenerate(given: &Given, records: &[Vec<u8>], problems: &mut Vec<Problem>) {
    let mut events = Vec::new();
    for bytes in records {
        let Ok(fields) = Fields::decode(bytes) else {
            return;
        };
        if fields.position >= given.ledger_size {
            continue;
        }
        match schemas::Event::from_canonical(fields.event) {
            Ok(event) => events.push(LedgerEvent {
                position: fields.position,
                event,
            }),
            Err(_) => {
                problems.push(Problem::Entry {
                    entry: EntryRef::Listed(fields.position),
                    problem: EntryProblem::EventDoesNotParse,
                });
                return;
            }
        }
    }
    // The prefix's pins are the report's own: the tree root was checked
    // against the checkpoint, and the chain head (usually another
    // tenant's entry) is what the report states.
    let (Some(root), Ok(tree_root)) = (
        ledger::Hash::from_hex(&given.ledger_root),
        parse_digest(&given.tree_root),
    ) else {
        problems.push(Problem::LedgerRootNotHex);
        return;
    };
    let pins = crate::report::Pins { root, tree_root };
    let regenerated =
        match crate::report::regenerate_from(given, (given.ledger_size, &events), &pins) {
            Ok(report) => report,
            Err(error) => {
                problems.push(Problem::NotRegenerated(format!("{error:#}")));
                return;
            }
        };
    problems.extend(
        given
            .differences(&regenerated)
            .into_iter()
            .map(Problem::Differs),
    );
}

/// Lowercase hex (docs/FORMAT.md) as bytes; uppercase is refused.
fn lower_hex(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

fn parse_digest(text: &str) -> Result<Digest, ()> {
    let bytes = lower_hex(text).ok_or(())?;
    bytes.try_into().map_err(|_| ())
}
