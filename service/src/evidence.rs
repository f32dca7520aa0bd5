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
//! missing), the `report.issued` entry's digest, the report's tree root,
//! and finally regenerates the report from the bundled events alone.

use std::path::Path;

use anyhow::{bail, Context};
use ledger::checkpoint::{read_unverified, Checkpoint};
use ledger::merkle::{self, Digest};
use ledger::record::{self, Fields, ZERO_HASH};
use ledger::Ledger;
use projector::{Input, LedgerEvent, Period, Report};
use serde::{Deserialize, Serialize};

/// The bundle format this build writes and reads.
pub const FORMAT: &str = "tla-evidence/1";

/// An evidence bundle (`tla-evidence/1`, docs/AUDITING.md).
#[derive(Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub tenant: String,
    pub period: String,
    /// The issued report, as `tla report issue` wrote it.
    pub report: Report,
    /// The signed checkpoint (C2SP signed note) the proofs lead to.
    pub checkpoint: String,
    /// The tenant's entries, in position order, through the `report.issued`
    /// entry that anchors the report.
    pub entries: Vec<BundleEntry>,
    /// Consistency proof from the report's tree (ledger_size, tree_root) to
    /// the checkpoint's tree; empty when they are the same size.
    pub consistency: Vec<String>,
}

/// One of the tenant's entries in a bundle, with its inclusion proof.
#[derive(Serialize, Deserialize)]
pub struct BundleEntry {
    pub position: u64,
    /// The entry's stored record bytes (docs/FORMAT.md), hex.
    pub record: String,
    /// Its inclusion proof in the checkpoint's tree, lowest level first.
    pub inclusion: Vec<String>,
}

/// The evidence bundle of the last report issued for `tenant` and
/// `period`, with the size of the checkpoint its proofs lead to. The
/// checkpoint is the first stored one that covers the `report.issued`
/// entry; when none does and `key` names a signing key, one is signed now.
pub fn build(
    ledger: &mut Ledger,
    tenant: &str,
    period: Period,
    key: Option<&Path>,
) -> anyhow::Result<(Bundle, u64)> {
    let Some((issued_at, report)) = crate::report::last_issued(ledger, tenant, period)? else {
        bail!(
            "no report of {period} for {tenant} was issued; issue it first with `tla report issue --tenant {tenant} --period {period}`"
        );
    };
    if report.manifest.tree_root.is_empty() {
        bail!("the report of {period} for {tenant} was issued before the ledger had a Merkle tree; issue it again");
    }
    let note = match (ledger.checkpoint_covering(issued_at + 1)?, key) {
        (Some((_, note)), _) => note,
        (None, Some(key)) => ledger.sign_checkpoint(&crate::keys::load_signer(key)?)?,
        (None, None) => bail!(
            "no signed checkpoint covers the report.issued entry at position {issued_at}; sign one with `tla checkpoint --key FILE` or pass --key"
        ),
    };
    let checkpoint = read_unverified(&note)?;
    let hexes = |proof: Vec<Digest>| proof.iter().map(hex::encode).collect::<Vec<_>>();
    let mut entries = Vec::new();
    for entry in ledger.tenant_entries(tenant) {
        let entry = entry?;
        let position = entry.record.position;
        if position > issued_at {
            break;
        }
        entries.push(BundleEntry {
            position,
            record: hex::encode(entry.record.encode()),
            inclusion: hexes(ledger.inclusion_proof(position, checkpoint.size)?),
        });
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
        report,
        checkpoint: note,
        entries,
        consistency,
    };
    Ok((bundle, checkpoint.size))
}

/// A bundle as its file holds it: pretty JSON and a newline.
pub fn to_bytes(bundle: &Bundle) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(bundle).context("a bundle is JSON")?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads a bundle from the text of the file `name`, refusing another format.
pub fn parse(name: &str, text: &str) -> anyhow::Result<Bundle> {
    let bundle: Bundle = serde_json::from_str(text)
        .with_context(|| format!("{name} is not an evidence bundle ({FORMAT})"))?;
    if bundle.format != FORMAT {
        bail!(
            "{name}: format {:?}, this build reads {FORMAT}",
            bundle.format
        );
    }
    Ok(bundle)
}

/// Every problem of a bundle whose checkpoint signature verified.
pub fn check(bundle: &Bundle, checkpoint: &Checkpoint) -> Vec<String> {
    let mut problems = Vec::new();
    let report = &bundle.report;
    if report.tenant != bundle.tenant || report.period != bundle.period {
        problems.push(format!(
            "the report is of {} {}, the bundle of {} {}",
            report.tenant, report.period, bundle.tenant, bundle.period
        ));
    }
    if !report.digest_matches() {
        problems.push(format!(
            "the report's content does not match its digest {}: a figure was changed after it was issued",
            report.manifest.report_digest
        ));
    }
    let records = entries(bundle, checkpoint, &mut problems);
    let size = report.manifest.ledger_size;
    chain(bundle, &records, size, &mut problems);
    tree_root(bundle, checkpoint, &mut problems);
    if problems.is_empty() {
        regenerate(bundle, &records, &mut problems);
    }
    problems
}

/// The bundled records, each checked against the checkpoint.
fn entries(bundle: &Bundle, checkpoint: &Checkpoint, problems: &mut Vec<String>) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    for entry in &bundle.entries {
        let position = entry.position;
        let Ok(bytes) = hex::decode(&entry.record) else {
            problems.push(format!(
                "entry at position {position}: the record is not hex"
            ));
            continue;
        };
        let proof: Result<Vec<Digest>, _> =
            entry.inclusion.iter().map(|h| parse_digest(h)).collect();
        let Ok(proof) = proof else {
            problems.push(format!(
                "entry at position {position}: its inclusion proof holds a malformed hash"
            ));
            continue;
        };
        let leaf = merkle::leaf_hash(&bytes);
        if let Err(error) =
            merkle::verify_inclusion(&leaf, position, checkpoint.size, &proof, &checkpoint.root)
        {
            problems.push(format!(
                "entry at position {position} is not in the signed checkpoint of size {} ({error}): the entry was changed",
                checkpoint.size
            ));
        }
        match Fields::decode(&bytes) {
            Ok(fields) if fields.position == position => {}
            Ok(fields) => problems.push(format!(
                "entry listed at position {position} records position {}",
                fields.position
            )),
            Err(error) => problems.push(format!(
                "entry at position {position}: not a record: {error}"
            )),
        }
        records.push(bytes);
    }
    records
}

/// The tenant chain: sequence numbers 0, 1, 2, ... each linked to the
/// one before, every entry before the report's prefix end, then the
/// `report.issued` entry of this report at or after it.
fn chain(bundle: &Bundle, records: &[Vec<u8>], size: u64, problems: &mut Vec<String>) {
    let mut prev = ZERO_HASH;
    let mut last_position = None;
    for (seq, bytes) in records.iter().enumerate() {
        let Ok(fields) = Fields::decode(bytes) else {
            return; // reported by `entries`
        };
        let position = fields.position;
        if fields.tenant != bundle.tenant {
            problems.push(format!(
                "entry at position {position} is of tenant {}, not {}",
                fields.tenant, bundle.tenant
            ));
        }
        if fields.tenant_seq != seq as u64 || fields.tenant_prev_hash != prev {
            problems.push(format!(
                "the tenant chain breaks at entry {seq} of {} (position {position}, tenant sequence {}): an entry before it is missing or was reordered",
                bundle.tenant, fields.tenant_seq
            ));
            return;
        }
        if last_position.is_some_and(|last| position <= last) {
            problems.push(format!("entry at position {position} is out of order"));
        }
        last_position = Some(position);
        prev = record::hash(bytes);
    }
    let Some(last) = records.last().and_then(|bytes| Fields::decode(bytes).ok()) else {
        problems.push("the bundle holds no entries".to_owned());
        return;
    };
    // The last entry anchors the report. With the chain unbroken from
    // sequence 0 up to it, every entry of the tenant before it, and so
    // every one in the report's prefix, is in the bundle.
    if last.position < size || !is_issued_of(&last, bundle) {
        problems.push(format!(
            "the last entry (position {}) is not the report.issued entry of this report after the report's {size} entries, so the bundle cannot show that none of the tenant's entries is missing",
            last.position
        ));
    }
}

/// Whether an entry is the `report.issued` event of the bundle's report.
fn is_issued_of(fields: &Fields<'_>, bundle: &Bundle) -> bool {
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
            let m = &bundle.report.manifest;
            *period == bundle.period
                && *ledger_size == m.ledger_size
                && *report_digest == m.report_digest
                && match tree_root {
                    Some(root) => *root == m.tree_root,
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
        .filter_map(|entry| hex::decode(&entry.record).ok())
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

/// The report's tree (ledger_size, tree_root) is a prefix of the signed one.
fn tree_root(bundle: &Bundle, checkpoint: &Checkpoint, problems: &mut Vec<String>) {
    let m = &bundle.report.manifest;
    let Ok(root) = parse_digest(&m.tree_root) else {
        problems.push("the report has no valid manifest.tree_root".to_owned());
        return;
    };
    let proof: Result<Vec<Digest>, _> =
        bundle.consistency.iter().map(|h| parse_digest(h)).collect();
    let Ok(proof) = proof else {
        problems.push("the consistency proof holds a malformed hash".to_owned());
        return;
    };
    if let Err(error) = merkle::verify_consistency(
        m.ledger_size,
        checkpoint.size,
        &root,
        &checkpoint.root,
        &proof,
    ) {
        problems.push(format!(
            "the report's tree (size {}, root {}) is not a prefix of the signed checkpoint's ({error})",
            m.ledger_size, m.tree_root
        ));
    }
}

/// Regenerates the report from the bundled events in its prefix.
fn regenerate(bundle: &Bundle, records: &[Vec<u8>], problems: &mut Vec<String>) {
    let given = &bundle.report;
    let mut events = Vec::new();
    for bytes in records {
        let Ok(fields) = Fields::decode(bytes) else {
            return;
        };
        if fields.position >= given.manifest.ledger_size {
            continue;
        }
        match schemas::Event::from_canonical(fields.event) {
            Ok(event) => events.push(LedgerEvent {
                position: fields.position,
                event,
            }),
            Err(_) => {
                problems.push(format!(
                    "entry at position {}: its event does not parse",
                    fields.position
                ));
                return;
            }
        }
    }
    let period: Period = match given.period.parse() {
        Ok(period) => period,
        Err(_) => {
            problems.push(format!(
                "the report's period {:?} is not YYYY-MM",
                given.period
            ));
            return;
        }
    };
    let horizon = match given
        .manifest
        .horizon
        .as_deref()
        .map(crate::report::parse_instant)
        .transpose()
    {
        Ok(horizon) => horizon,
        Err(error) => {
            problems.push(format!("the report's horizon: {error}"));
            return;
        }
    };
    let input = Input {
        tenant: &given.tenant,
        period,
        events: &events,
        horizon,
    };
    let Some(format) = projector::Format::parse(&given.format) else {
        problems.push(format!(
            "the report's format {:?} is not one this version knows",
            given.format
        ));
        return;
    };
    let mut regenerated = match projector::compute_as(&input, format) {
        Ok(report) => report,
        Err(error) => {
            problems.push(format!(
                "the report cannot be regenerated from the bundle: {error}"
            ));
            return;
        }
    };
    // The prefix's pins were checked above (tree root) or are the chain
    // head, which needs the entry before the prefix of another tenant.
    regenerated.manifest.ledger_size = given.manifest.ledger_size;
    regenerated.manifest.ledger_root = given.manifest.ledger_root.clone();
    regenerated.manifest.tree_root = given.manifest.tree_root.clone();
    regenerated.seal();
    if regenerated.canonical_bytes() == given.canonical_bytes() {
        return;
    }
    let (Ok(left), Ok(right)) = (
        crate::report::to_value(given),
        crate::report::to_value(&regenerated),
    ) else {
        return;
    };
    for (path, found, expected) in crate::report::differences(&left, &right) {
        problems.push(format!(
            "report {path}: the bundle says {found}, its entries give {expected}"
        ));
    }
}

fn parse_digest(text: &str) -> Result<Digest, ()> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| ())?;
    Ok(out)
}
