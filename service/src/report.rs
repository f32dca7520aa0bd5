//! The report I/O edge: reads a tenant's entries of a ledger prefix,
//! runs the pure engine (`projector::compute`) over them, fills in the
//! manifest's `ledger_size`, `ledger_root` and `tree_root`, and seals.
//! Also what issuing and checking a report need: the `report.issued`
//! event that anchors a digest, the last issued report of a period
//! regenerated from the prefix it pinned, and a report regenerated from
//! what a report as given pins (`report_file` compares them). `tla report`, `tla verify-report`, `tla evidence`, `tla demo`
//! and the viewer's [`crate::source::LedgerSource`] share this one copy.

use anyhow::{bail, Context};
use ledger::{Ledger, Outcome, ZERO_HASH};
use projector::{Format, Input, LedgerEvent, Period, Report, ReportError};
use schemas::Event;

/// Why a report could not be generated: the engine refused it (no
/// agreement in force, a period not begun: such a report cannot exist),
/// or reading the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Ledger(#[from] anyhow::Error),
}

/// The `source` of the `report.issued` events the ledger itself appends;
/// only those anchor a report (docs/FORMAT.md).
pub const ISSUER_SOURCE: &str = schemas::LEDGER_SOURCE;

/// Which horizon a report is computed with.
#[derive(Debug, Clone, Copy)]
pub enum Horizon {
    /// The period's end when it has ended, else now (a preliminary report).
    Now,
    /// Exactly this one (regenerating a report), or none.
    Pinned(Option<i64>),
}

/// Computes and seals the report of `tenant` and `period` over the first
/// `as_of` entries (default: all).
pub fn generate(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
    as_of: Option<u64>,
    horizon: Horizon,
) -> anyhow::Result<Report> {
    let how = (horizon, Format::default());
    generate_as(ledger, tenant, period, as_of, how)
}

/// [`generate`] with the horizon and in a given format.
pub fn generate_as(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
    as_of: Option<u64>,
    (horizon, format): (Horizon, Format),
) -> anyhow::Result<Report> {
    let size = ledger.size();
    let prefix = as_of.unwrap_or(size);
    if prefix > size {
        bail!("--as-of {prefix} is beyond the ledger, which holds {size} entries");
    }
    let events = tenant_events(ledger, tenant, prefix)?;
    let pins = Pins::of(ledger, prefix)?;
    Ok(generate_pinned_as(
        tenant,
        period,
        (prefix, &events),
        &pins,
        horizon,
        format,
    )?)
}

/// [`generate`] from the tenant's events already read: those of `events`
/// before position `prefix` count (`events` in ledger order, as
/// [`tenant_events`] returns them, possibly beyond the prefix).
pub fn generate_from(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
    (prefix, events): (u64, &[LedgerEvent]),
    horizon: Horizon,
) -> anyhow::Result<Report> {
    let pins = Pins::of(ledger, prefix)?;
    Ok(generate_pinned(
        tenant,
        period,
        (prefix, events),
        &pins,
        horizon,
    )?)
}

/// What a report's manifest pins of the ledger prefix it was computed
/// from: the chain's head and the Merkle root at that size.
#[derive(Debug, Clone)]
pub struct Pins {
    pub root: ledger::Hash,
    pub tree_root: ledger::merkle::Digest,
}

impl Pins {
    /// The pins of the first `prefix` entries.
    pub fn of(ledger: &Ledger, prefix: u64) -> anyhow::Result<Pins> {
        let root = match prefix {
            0 => ZERO_HASH,
            n => {
                ledger
                    .entry(n - 1)?
                    .context("the ledger lost an entry; run `tla verify`")?
                    .hash
            }
        };
        Ok(Pins {
            root,
            tree_root: ledger.merkle_root(prefix)?,
        })
    }
}

/// [`generate_from`] with the ledger's pins read beforehand, so that the
/// computation needs no ledger (nor its lock).
pub fn generate_pinned(
    tenant: &str,
    period: Period,
    (prefix, events): (u64, &[LedgerEvent]),
    pins: &Pins,
    horizon: Horizon,
) -> Result<Report, GenerateError> {
    let prefix_events = (prefix, events);
    generate_pinned_as(
        tenant,
        period,
        prefix_events,
        pins,
        horizon,
        Format::default(),
    )
}

/// The report whose digest an issuance anchored, from its pinned prefix:
/// in the format whose digest was issued, the current one tried first,
/// then each older one (SEMANTICS.md section 12, "Compatibility"; the
/// `report.issued` event names the digest, not the format). When none
/// matches, the current format's report (which then fails its check).
pub fn generate_issued(
    tenant: &str,
    period: Period,
    (prefix, events): (u64, &[LedgerEvent]),
    pins: &Pins,
    digest: &str,
) -> Result<Report, GenerateError> {
    let horizon = Horizon::Pinned(None);
    let report = generate_pinned(tenant, period, (prefix, events), pins, horizon)?;
    if report.manifest.report_digest == digest {
        return Ok(report);
    }
    for format in Format::ALL
        .into_iter()
        .rev()
        .filter(|&f| f != Format::default())
    {
        let older = generate_pinned_as(tenant, period, (prefix, events), pins, horizon, format)?;
        if older.manifest.report_digest == digest {
            return Ok(older);
        }
    }
    Ok(report)
}

/// [`generate_pinned`] in `format`.
pub fn generate_pinned_as(
    tenant: &str,
    period: Period,
    (prefix, events): (u64, &[LedgerEvent]),
    pins: &Pins,
    horizon: Horizon,
    format: Format,
) -> Result<Report, GenerateError> {
    let events = &events[..events.partition_point(|e| e.position < prefix)];
    let compute = |horizon| {
        let input = Input {
            tenant,
            period,
            events,
            horizon,
        };
        projector::compute_as(&input, format).map_err(GenerateError::from)
    };
    let mut report = match horizon {
        Horizon::Pinned(horizon) => compute(horizon)?,
        Horizon::Now => {
            let ended = compute(None)?;
            let now = crate::now_micros().div_euclid(1_000_000);
            if now < parse_instant(&ended.period_end)? {
                compute(Some(now))?
            } else {
                ended
            }
        }
    };
    report.manifest.ledger_size = prefix;
    report.manifest.ledger_root = pins.root.to_hex();
    report.manifest.tree_root = hex::encode(pins.tree_root);
    report.seal();
    Ok(report)
}

/// The tenant's events among the first `prefix` entries.
pub fn tenant_events(
    ledger: &Ledger,
    tenant: &str,
    prefix: u64,
) -> anyhow::Result<Vec<LedgerEvent>> {
    let mut events = Vec::new();
    for entry in ledger.tenant_entries(tenant) {
        let entry = entry?;
        let position = entry.record.position;
        if position >= prefix {
            break;
        }
        let event = Event::from_canonical(&entry.record.event).map_err(|errors| {
            let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "ledger position {position}: the stored event does not parse: {}",
                listed.join("; ")
            )
        })?;
        events.push(LedgerEvent { position, event });
    }
    Ok(events)
}

/// The unix seconds of an RFC 3339 instant.
pub fn parse_instant(text: &str) -> anyhow::Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .with_context(|| format!("{text:?} is not an RFC 3339 instant"))
}

/// A report's canonical bytes and a newline: what `tla report issue`
/// writes, and what a report file holds.
pub fn report_bytes(report: &Report) -> Vec<u8> {
    let mut bytes = report.canonical_bytes();
    bytes.push(b'\n');
    bytes
}

/// What issuing a period's report did.
pub enum Issued {
    /// The period was issued before with the same figures, at `position`:
    /// that report, and nothing appended.
    Already { position: u64, report: Report },
    /// Issued now: the `report.issued` entry at `position`; `signed` is the
    /// size of the checkpoint signed first (with a key), and `supersedes`
    /// the position of an earlier issue whose figures differ.
    New {
        position: u64,
        report: Report,
        signed: Option<u64>,
        supersedes: Option<u64>,
    },
}

/// Issues the report of an ended period into the ledger (`tla report
/// issue`): the same figures as the last issue are not issued again; with
/// `key`, the checkpoint of exactly the report's prefix is signed first.
pub fn issue(
    ledger: &mut Ledger,
    tenant: &str,
    period: Period,
    key: Option<&std::path::Path>,
) -> anyhow::Result<Issued> {
    let report = generate(ledger, tenant, period, None, Horizon::Now)?;
    if report.preliminary {
        bail!(
            "{period} has not ended for {tenant} (it ends at {}); only ended periods are issued",
            report.period_end
        );
    }
    let earlier = match last_issued(ledger, tenant, period)? {
        Some((position, issued)) if same_figures(&issued, &report)? => {
            return Ok(Issued::Already {
                position,
                report: issued,
            })
        }
        earlier => earlier.map(|(position, _)| position),
    };
    let mut signed = None;
    if let Some(key) = key {
        // The ledger holds exactly the report's prefix now, so this
        // checkpoint's root is the report's tree_root.
        let note = ledger.sign_checkpoint(&crate::keys::load_signer(key)?)?;
        let checkpoint = ledger::checkpoint::read_unverified(&note)?;
        if checkpoint.size != report.manifest.ledger_size
            || hex::encode(checkpoint.root) != report.manifest.tree_root
        {
            bail!("the ledger changed while the report was issued; issue it again");
        }
        signed = Some(checkpoint.size);
    }
    let position = append_issued(ledger, &report, &issued_id(&report))?;
    Ok(Issued::New {
        position,
        report,
        signed,
        supersedes: earlier,
    })
}

/// The last report issued for the tenant and period, regenerated from the
/// prefix it pinned, with the position of its `report.issued` entry.
pub fn last_issued(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
) -> anyhow::Result<Option<(u64, Report)>> {
    let wanted = period.to_string();
    let mut last = None;
    let events = tenant_events(ledger, tenant, ledger.size())?;
    for event in &events {
        if let schemas::EventData::ReportIssued {
            period,
            ledger_size,
            report_digest,
            ..
        } = &event.event.data
        {
            // Only the ledger's own issuances are trusted (docs/FORMAT.md).
            if *period == wanted && event.event.source == ISSUER_SOURCE {
                last = Some((event.position, *ledger_size, report_digest));
            }
        }
    }
    let Some((position, size, digest)) = last else {
        return Ok(None);
    };
    let pins = Pins::of(ledger, size)?;
    let report = generate_issued(tenant, period, (size, &events), &pins, digest)?;
    Ok(Some((position, report)))
}

/// Whether two reports state the same figures (everything but the manifest).
pub fn same_figures(a: &Report, b: &Report) -> anyhow::Result<bool> {
    let body = |report: &Report| -> anyhow::Result<serde_json::Value> {
        let mut value = to_value(report)?;
        if let Some(object) = value.as_object_mut() {
            object.remove("manifest");
        }
        Ok(value)
    };
    Ok(body(a)? == body(b)?)
}

/// Appends the `report.issued` event of `report` with `id`; returns its
/// ledger position (that of the earlier one when it was issued before).
pub fn append_issued(ledger: &mut Ledger, report: &Report, id: &str) -> anyhow::Result<u64> {
    let now = crate::now_micros();
    let event = issued_event(report, id, now)?;
    match ledger.append(&[event], now)?[0] {
        Outcome::Appended(position) | Outcome::Duplicate(position) => Ok(position),
    }
}

/// The `report.issued` event that anchors a report's digest in the ledger.
pub fn issued_event(report: &Report, id: &str, now_micros: i64) -> anyhow::Result<Event> {
    let value = serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": ISSUER_SOURCE,
        "type": "report.issued",
        "time": ledger::rfc3339(now_micros - now_micros.rem_euclid(1_000_000)),
        "tenant": report.tenant,
        "datacontenttype": "application/json",
        "data": {
            "period": report.period,
            "ledger_size": report.manifest.ledger_size,
            "report_digest": report.manifest.report_digest,
        },
    });
    let mut value = value;
    if !report.manifest.tree_root.is_empty() {
        value["data"]["tree_root"] = report.manifest.tree_root.clone().into();
    }
    Event::from_json(&value).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the report.issued event is invalid: {}", listed.join("; "))
    })
}

/// The id of the `report.issued` event of a report.
pub fn issued_id(report: &Report) -> String {
    let digest = &report.manifest.report_digest;
    format!("{}/{}/{}", report.tenant, report.period, &digest[..32])
}

/// Regenerates a report from the prefix, horizon and format its manifest
/// pins, read from the report as given.
pub fn regenerate(ledger: &Ledger, report: &crate::report_file::Given) -> anyhow::Result<Report> {
    let size = report.ledger_size;
    let prefix = ledger.size();
    if size > prefix {
        bail!("the report pins the first {size} entries, and the ledger holds {prefix}");
    }
    let events = tenant_events(ledger, &report.tenant, size)?;
    let pins = Pins::of(ledger, size)?;
    regenerate_from(report, (size, &events), &pins)
}

/// [`regenerate`] from the tenant's events of the report's prefix and
/// the prefix's pins: what an evidence bundle holds.
pub fn regenerate_from(
    report: &crate::report_file::Given,
    (prefix, events): (u64, &[LedgerEvent]),
    pins: &Pins,
) -> anyhow::Result<Report> {
    let period: Period = report
        .period
        .parse()
        .map_err(|e| anyhow::anyhow!("period: {e}"))?;
    let horizon = report.horizon.as_deref().map(parse_instant).transpose()?;
    let Some(format) = Format::parse(&report.format) else {
        bail!(
            "the report's format {:?} is not one this version knows ({})",
            report.format,
            Format::known()
        );
    };
    let mut regenerated = generate_pinned_as(
        &report.tenant,
        period,
        (prefix, events),
        pins,
        Horizon::Pinned(horizon),
        format,
    )?;
    // A report made before the ledger had a Merkle tree pins its prefix by
    // the chain head alone; it is regenerated the way it was made.
    if report.tree_root.is_empty() {
        regenerated.manifest.tree_root.clear();
        regenerated.seal();
    }
    Ok(regenerated)
}

/// A report as a JSON value.
pub fn to_value(report: &Report) -> anyhow::Result<serde_json::Value> {
    serde_json::to_value(report).context("a report is always JSON")
}
