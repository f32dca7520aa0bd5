//! `tla report`, `tla report issue` and `tla verify-report`: TLA reports
//! computed by the pure engine in `projector` from a ledger prefix, pinned
//! by the prefix's size and head, and checked by regenerating them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use ledger::{Ledger, Outcome, ZERO_HASH};
use projector::{Input, LedgerEvent, Period, Report};
use schemas::Event;

/// The `source` of the `report.issued` events this command appends.
const ISSUER_SOURCE: &str = schemas::LEDGER_SOURCE;

/// Differing fields `verify-report` prints before it summarises the rest.
const DIFFERENCES_SHOWN_MAX: usize = 40;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Compute the report of an ended period, append a `report.issued`
    /// event that anchors its digest, and write the report (JSON).
    Issue(IssueArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// The tenant (municipality).
    #[arg(long, required = true)]
    tenant: Option<String>,
    /// The period, YYYY-MM, a calendar month in the agreement's time zone.
    #[arg(long, required = true)]
    period: Option<Period>,
    /// Use only the first N ledger entries (default: all).
    #[arg(long, value_name = "N")]
    as_of: Option<u64>,
    /// json is the contract format (SEMANTICS.md section 10); md, html,
    /// csv and pdf (printed on A4 by the installed Chromium) are for people.
    #[arg(long, default_value = "json", value_parser = ["json", "md", "html", "csv", "pdf"])]
    format: String,
    /// Language of md, html, csv and pdf: nn (Nynorsk) or en.
    #[arg(long, default_value = "nn", value_parser = ["nn", "en"])]
    lang: String,
    /// Write the report to this file instead of stdout (needed for pdf).
    #[arg(long, value_name = "FILE", required_if_eq("format", "pdf"))]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct IssueArgs {
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    period: Period,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sign a checkpoint of the prefix the report is made from (its
    /// `tree_root`) before issuing, with this key (`tla key generate`).
    #[arg(long, env = "TLA_SIGNING_KEY")]
    key: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// A report in the JSON contract format, as `tla report` or `tla report issue` wrote it.
    file: PathBuf,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Command::Issue(issue)) = args.command {
        return run_issue(data_dir, issue);
    }
    let args = args.report;
    let (Some(tenant), Some(period)) = (args.tenant, args.period) else {
        bail!("--tenant and --period are required");
    };
    let ledger = match super::open_ledger(data_dir, ledger::OpenMode::Existing) {
        Ok(ledger) => ledger,
        // A running service holds the ledger: ask it (the whole ledger only).
        Err(error) => match args.as_of.is_none().then(|| {
            super::serve::report_from_service(data_dir, &tenant, period, &args.format, &args.lang)
        }) {
            Some(Some(fetched)) => {
                eprintln!("note: {error:#}; this report comes from the running service");
                write_stdout(&fetched?)?;
                return Ok(ExitCode::SUCCESS);
            }
            _ => return Err(error),
        },
    };
    let report = generate(&ledger, &tenant, period, args.as_of, Horizon::Now)?;
    let lang = args.lang.parse()?;
    if args.format == "pdf" {
        let out = args.out.context("--format pdf needs --out FILE")?;
        super::pdf::print(&projector::render::html(&report, lang), &out)?;
        eprintln!("wrote {}", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let bytes = projector::render::render(&report, args.format.parse()?, lang);
    match &args.out {
        Some(path) => std::fs::write(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => write_stdout(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Which horizon a report is computed with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Horizon {
    /// The period's end when it has ended, else now (a preliminary report).
    Now,
    /// Exactly this one (regenerating a report), or none.
    Pinned(Option<i64>),
}

/// Computes and seals the report of `tenant` and `period` over the first
/// `as_of` entries (default: all).
pub(crate) fn generate(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
    as_of: Option<u64>,
    horizon: Horizon,
) -> anyhow::Result<Report> {
    let size = ledger.size();
    let prefix = as_of.unwrap_or(size);
    if prefix > size {
        bail!("--as-of {prefix} is beyond the ledger, which holds {size} entries");
    }
    let events = tenant_events(ledger, tenant, prefix)?;
    generate_from(ledger, tenant, period, (prefix, &events), horizon)
}

/// [`generate`] from the tenant's events already read: those of `events`
/// before position `prefix` count (`events` in ledger order, as
/// [`tenant_events`] returns them, possibly beyond the prefix).
pub(crate) fn generate_from(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
    (prefix, events): (u64, &[LedgerEvent]),
    horizon: Horizon,
) -> anyhow::Result<Report> {
    let events = &events[..events.partition_point(|e| e.position < prefix)];
    let root = match prefix {
        0 => ZERO_HASH,
        n => {
            ledger
                .entry(n - 1)?
                .context("the ledger lost an entry; run `tla verify`")?
                .hash
        }
    };
    let compute = |horizon| {
        let input = Input {
            tenant,
            period,
            events,
            horizon,
        };
        projector::compute(&input).map_err(anyhow::Error::from)
    };
    let mut report = match horizon {
        Horizon::Pinned(horizon) => compute(horizon)?,
        Horizon::Now => {
            let ended = compute(None)?;
            let now = super::now_micros().div_euclid(1_000_000);
            if now < parse_instant(&ended.period_end)? {
                compute(Some(now))?
            } else {
                ended
            }
        }
    };
    report.manifest.ledger_size = prefix;
    report.manifest.ledger_root = root.to_hex();
    report.manifest.tree_root = hex::encode(ledger.merkle_root(prefix)?);
    report.seal();
    Ok(report)
}

/// The tenant's events among the first `prefix` entries.
pub(crate) fn tenant_events(
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

pub(crate) fn parse_instant(text: &str) -> anyhow::Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .with_context(|| format!("{text:?} is not an RFC 3339 instant"))
}

fn report_bytes(report: &Report) -> Vec<u8> {
    let mut bytes = report.canonical_bytes();
    bytes.push(b'\n');
    bytes
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

fn run_issue(data_dir: &Path, args: IssueArgs) -> anyhow::Result<ExitCode> {
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    let report = generate(&ledger, &args.tenant, args.period, None, Horizon::Now)?;
    if report.preliminary {
        bail!(
            "{} has not ended for {} (it ends at {}); only ended periods are issued",
            args.period,
            args.tenant,
            report.period_end
        );
    }
    let report = match last_issued(&ledger, &args.tenant, args.period)? {
        Some((position, issued)) if same_figures(&issued, &report)? => {
            eprintln!(
                "already issued at ledger position {position} with the same figures; \
                 writing that report (digest {})",
                issued.manifest.report_digest
            );
            issued
        }
        earlier => {
            if let Some(key) = &args.key {
                // The ledger holds exactly the report's prefix now, so this
                // checkpoint's root is the report's tree_root.
                let note = ledger.sign_checkpoint(&super::key::load_signer(key)?)?;
                let signed = ledger::checkpoint::read_unverified(&note)?;
                if signed.size != report.manifest.ledger_size
                    || hex::encode(signed.root) != report.manifest.tree_root
                {
                    bail!("the ledger changed while the report was issued; issue it again");
                }
                eprintln!(
                    "signed the checkpoint of the {} entries the report is issued against",
                    signed.size
                );
            }
            let digest = report.manifest.report_digest.clone();
            let position = append_issued(&mut ledger, &report, &issued_id(&report))?;
            eprintln!(
                "issued: report.issued at ledger position {position} anchors digest {digest}"
            );
            if let Some((earlier, _)) = earlier {
                eprintln!("it supersedes the report issued at ledger position {earlier}, whose figures differ");
            }
            report
        }
    };
    let bytes = report_bytes(&report);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => write_stdout(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The last report issued for the tenant and period, regenerated from the
/// prefix it pinned, with the position of its `report.issued` entry.
pub(crate) fn last_issued(
    ledger: &Ledger,
    tenant: &str,
    period: Period,
) -> anyhow::Result<Option<(u64, Report)>> {
    let wanted = period.to_string();
    let mut last = None;
    for event in tenant_events(ledger, tenant, ledger.size())? {
        if let schemas::EventData::ReportIssued {
            period,
            ledger_size,
            ..
        } = &event.event.data
        {
            // Only the ledger's own issuances are trusted (docs/FORMAT.md).
            if *period == wanted && event.event.source == ISSUER_SOURCE {
                last = Some((event.position, *ledger_size));
            }
        }
    }
    let Some((position, size)) = last else {
        return Ok(None);
    };
    let report = generate(ledger, tenant, period, Some(size), Horizon::Pinned(None))?;
    Ok(Some((position, report)))
}

/// Whether two reports state the same figures (everything but the manifest).
fn same_figures(a: &Report, b: &Report) -> anyhow::Result<bool> {
    let body = |report: &Report| -> anyhow::Result<serde_json::Value> {
        let mut value = to_value(report)?;
        if let Some(object) = value.as_object_mut() {
            object.remove("manifest");
        }
        Ok(value)
    };
    Ok(body(a)? == body(b)?)
}

fn append_issued(ledger: &mut Ledger, report: &Report, id: &str) -> anyhow::Result<u64> {
    let now = super::now_micros();
    let event = issued_event(report, id, now)?;
    match ledger.append(&[event], now)?[0] {
        Outcome::Appended(position) | Outcome::Duplicate(position) => Ok(position),
    }
}

/// The `report.issued` event that anchors a report's digest in the ledger.
pub(crate) fn issued_event(report: &Report, id: &str, now_micros: i64) -> anyhow::Result<Event> {
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
pub(crate) fn issued_id(report: &Report) -> String {
    let digest = &report.manifest.report_digest;
    format!("{}/{}/{}", report.tenant, report.period, &digest[..32])
}

/// Regenerates a report from the prefix and horizon its manifest pins.
pub(crate) fn regenerate(ledger: &Ledger, report: &Report) -> anyhow::Result<Report> {
    let period: Period = report
        .period
        .parse()
        .map_err(|e| anyhow::anyhow!("period: {e}"))?;
    let horizon = report
        .manifest
        .horizon
        .as_deref()
        .map(parse_instant)
        .transpose()?;
    let size = report.manifest.ledger_size;
    let mut regenerated = generate(
        ledger,
        &report.tenant,
        period,
        Some(size),
        Horizon::Pinned(horizon),
    )?;
    // A report made before the ledger had a Merkle tree pins its prefix by
    // the chain head alone; it is regenerated the way it was made.
    if report.manifest.tree_root.is_empty() {
        regenerated.manifest.tree_root.clear();
        regenerated.seal();
    }
    Ok(regenerated)
}

/// `tla verify-report FILE`.
pub fn verify(data_dir: &Path, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
    let given: Report = serde_json::from_str(&text)
        .with_context(|| format!("{name} is not a report in the JSON contract format"))?;
    if !given.digest_matches() {
        eprintln!(
            "error: {name}: the report's content does not match its own digest {}: it was changed after it was made",
            given.manifest.report_digest
        );
    }
    let ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    let size = given.manifest.ledger_size;
    let regenerated =
        regenerate(&ledger, &given).with_context(|| format!("{name}: regenerating the report"))?;
    if regenerated.manifest.ledger_root != given.manifest.ledger_root {
        eprintln!(
            "error: {name}: the ledger's first {size} entries end in {}, not in the {} the report was made from: the ledger was rewritten, or this is another ledger",
            regenerated.manifest.ledger_root, given.manifest.ledger_root
        );
    }
    if regenerated.manifest.tree_root != given.manifest.tree_root {
        eprintln!(
            "error: {name}: the Merkle root of the ledger's first {size} entries is {}, not the {} the report was made from: the ledger was rewritten, or this is another ledger",
            regenerated.manifest.tree_root, given.manifest.tree_root
        );
    }
    if regenerated.canonical_bytes() == given.canonical_bytes() && given.digest_matches() {
        println!(
            "ok: {name} reproduces from the first {size} ledger entries: digest {}",
            given.manifest.report_digest
        );
        return Ok(ExitCode::SUCCESS);
    }
    let differences = differences(&to_value(&given)?, &to_value(&regenerated)?);
    for (path, found, expected) in differences.iter().take(DIFFERENCES_SHOWN_MAX) {
        eprintln!("error: {name}: {path}: the file says {found}, the ledger gives {expected}");
    }
    if differences.len() > DIFFERENCES_SHOWN_MAX {
        eprintln!(
            "error: ... and {} more differences",
            differences.len() - DIFFERENCES_SHOWN_MAX
        );
    }
    eprintln!(
        "error: {name} does not reproduce from the ledger ({} differing fields)",
        differences.len()
    );
    Ok(ExitCode::from(1))
}

pub(crate) fn to_value(report: &Report) -> anyhow::Result<serde_json::Value> {
    serde_json::to_value(report).context("a report is always JSON")
}

/// Every leaf where two JSON documents differ: (path, left, right).
pub(crate) fn differences(
    left: &serde_json::Value,
    right: &serde_json::Value,
) -> Vec<(String, String, String)> {
    use serde_json::Value;
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), left, right)];
    while let Some((path, l, r)) = stack.pop() {
        match (l, r) {
            (Value::Object(a), Value::Object(b)) => {
                let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys.into_iter().rev() {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    stack.push((
                        child,
                        a.get(key).unwrap_or(&Value::Null),
                        b.get(key).unwrap_or(&Value::Null),
                    ));
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (x, y)) in a.iter().zip(b).enumerate().rev() {
                    stack.push((format!("{path}[{i}]"), x, y));
                }
            }
            _ if l != r => out.push((path, l.to_string(), r.to_string())),
            _ => {}
        }
    }
    out
}
