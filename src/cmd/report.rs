//! `tla report`, `tla report issue` and `tla verify-report`: TLA reports
//! computed by the pure engine in `projector` from a ledger prefix, pinned
//! by the prefix's size and head, and checked by regenerating them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use projector::Period;
use service::report::{generate, issue, regenerate, report_bytes, Horizon, Issued};
use service::report_file::Given;

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
    /// Record that the municipality received and accepted the issued
    /// report of a period (`report.acknowledged`, naming the digest of the
    /// last issue of the period).
    Acknowledge(AcknowledgeArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it ("Osterøy" for osteroy).
    #[arg(long, required = true)]
    tenant: Option<String>,
    /// The period, YYYY-MM, a calendar month in the agreement's time zone.
    #[arg(long, required = true)]
    period: Option<Period>,
    /// Use only the first N ledger entries (default: all).
    #[arg(long, value_name = "N")]
    as_of: Option<u64>,
    /// json is the contract format (docs/SEMANTICS.md section 10); md, html,
    /// csv, xlsx (a workbook, one sheet per section) and pdf (printed on A4
    /// by the installed Chromium) are for people.
    #[arg(long, default_value = "json", value_parser = ["json", "md", "html", "csv", "xlsx", "pdf"])]
    format: String,
    /// Language of md, html, csv, xlsx and pdf: nn (Nynorsk) or en.
    #[arg(long, default_value = "nn", value_parser = ["nn", "en"])]
    lang: String,
    /// Write the report to this file instead of stdout (needed for pdf,
    /// so that a PDF is not sent to a terminal by mistake; `-`: stdout).
    #[arg(long, value_name = "FILE", required_if_eq("format", "pdf"))]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct IssueArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The period, YYYY-MM, a calendar month in the agreement's time zone;
    /// it must have ended.
    #[arg(long)]
    period: Period,
    /// Write the report to this file instead of stdout (`-`: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sign a checkpoint of the prefix the report is made from (its
    /// `tree_root`) before issuing, with this key (`tla key generate`).
    #[arg(long, env = "TLA_SIGNING_KEY")]
    key: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct AcknowledgeArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The period, YYYY-MM, whose issued report is acknowledged.
    #[arg(long)]
    period: Period,
    /// Who acknowledges it, for the municipality.
    #[arg(long, value_name = "NAME")]
    person: String,
    /// A remark that goes with the acknowledgement.
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// A report in the JSON contract format, as `tla report` or `tla report issue` wrote it.
    file: PathBuf,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(Command::Issue(issue)) => return run_issue(data_dir, issue),
        Some(Command::Acknowledge(acknowledge)) => return run_acknowledge(data_dir, &acknowledge),
        None => {}
    }
    let args = args.report;
    let (Some(tenant), Some(period)) = (args.tenant, args.period) else {
        bail!("--tenant and --period are required");
    };
    // A report of a prefix reads a copy while a service holds the ledger,
    // and so does any report while a viewer (which serves no reports)
    // holds it.
    let readable = match args.as_of.is_some() || !service::holder::serves_reports(data_dir) {
        true => super::readable(data_dir)?,
        false => service::snapshot::ReadDir::own(data_dir),
    };
    let ledger = match super::open_ledger(readable.path(), ledger::OpenMode::Existing) {
        Ok(ledger) => ledger,
        // A running service holds the ledger: ask it (the whole ledger only).
        Err(error) => match args.as_of.is_none().then(|| {
            service::holder::report_from_service(
                data_dir,
                &tenant,
                period,
                &args.format,
                &args.lang,
            )
        }) {
            Some(Some(fetched)) => {
                tell!("note: {error:#}; this report comes from the running service");
                super::write_stdout(&fetched?)?;
                return Ok(ExitCode::SUCCESS);
            }
            _ => return Err(error),
        },
    };
    let tenant = super::tenant_of(&ledger, &tenant)?;
    let report = generate(&ledger, &tenant, period, args.as_of, Horizon::Now)?;
    let lang = args.lang.parse()?;
    if args.format == "pdf" {
        let out = args.out.context("--format pdf needs --out FILE")?;
        let html = projector::render::html(&report, lang);
        if super::is_stdout(&out) {
            let printed = tempfile::tempdir().context("cannot make a temporary directory")?;
            let pdf = printed.path().join("report.pdf");
            service::pdf::print(&html, &pdf)?;
            let bytes =
                std::fs::read(&pdf).with_context(|| format!("cannot read {}", pdf.display()))?;
            super::write_stdout(&bytes)?;
        } else {
            service::pdf::print(&html, &out)?;
            tell!("wrote {}", out.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let bytes = projector::render::render(&report, args.format.parse()?, lang)?;
    match &args.out {
        Some(path) => super::write_out(path, &bytes)?,
        None => super::write_stdout(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_issue(data_dir: &Path, args: IssueArgs) -> anyhow::Result<ExitCode> {
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    let tenant = super::tenant_of(&ledger, &args.tenant)?;
    let report = match issue(&mut ledger, &tenant, args.period, args.key.as_deref())? {
        Issued::Already { position, report } => {
            tell!(
                "already issued at ledger position {position} with the same figures; \
                 writing that report (digest {})",
                report.manifest.report_digest
            );
            report
        }
        Issued::New {
            position,
            report,
            signed,
            supersedes,
        } => {
            if let Some(size) = signed {
                tell!("signed the checkpoint of the {size} entries the report is issued against");
            }
            let digest = &report.manifest.report_digest;
            tell!("issued: report.issued at ledger position {position} anchors digest {digest}");
            if let Some(earlier) = supersedes {
                tell!("it supersedes the report issued at ledger position {earlier}, whose figures differ");
            }
            report
        }
    };
    let bytes = report_bytes(&report);
    match args.out.as_deref().filter(|out| !super::is_stdout(out)) {
        Some(path) => {
            super::write_out(path, &bytes)?;
            tell!("wrote {}", path.display());
        }
        None => super::write_stdout(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_acknowledge(data_dir: &Path, args: &AcknowledgeArgs) -> anyhow::Result<ExitCode> {
    use service::follow_up::{self, Recorded};
    let now = super::now_micros();
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    let tenant = super::tenant_of(&ledger, &args.tenant)?;
    let args = &AcknowledgeArgs {
        tenant,
        ..args.clone()
    };
    let events = follow_up::events_of(&ledger, &args.tenant)?;
    let issued = follow_up::issued_digests(&events, args.period);
    let Some(last) = issued.last() else {
        bail!(
            "the report of {} for {} was never issued, so there is no digest to acknowledge; \
             issue it first with `tla report issue --tenant {} --period {}`; nothing appended",
            args.period,
            args.tenant,
            args.tenant,
            args.period
        );
    };
    let event = follow_up::acknowledged_event(
        &args.tenant,
        (args.period, &last.digest),
        &args.person,
        args.comment.as_deref(),
        now,
    )?;
    match follow_up::record(&mut ledger, event, now)? {
        Recorded::New(position) => say!(
            "acknowledged the report of {} for {} (digest {}, issued at ledger position {}) \
             for {} at ledger position {position}",
            args.period,
            args.tenant,
            last.digest,
            last.position,
            args.person
        ),
        Recorded::Before(position) => say!(
            "{} acknowledged the report of {} for {} (digest {}) so at ledger position \
             {position}; nothing appended",
            args.person,
            args.period,
            args.tenant,
            last.digest
        ),
    }
    if issued.len() > 1 {
        tell!(
            "note: {} was issued {} times; this acknowledges the last issue (position {}), \
             whose digest is {}",
            args.period,
            issued.len(),
            last.position,
            last.digest
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `tla verify-report FILE`: the file's JSON, read without typed structs,
/// against the report regenerated from the prefix it pins, canonical byte
/// for byte; the digest is recomputed over the JSON as given.
pub fn verify(data_dir: &Path, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
    let given = match Given::parse(&text) {
        Ok(given) => given,
        Err(problem) => {
            tell!("error: {name}: {problem}");
            tell!("error: {name} is not a report in the JSON contract format");
            return Ok(ExitCode::from(1));
        }
    };
    let digest_matches = given.digest_matches();
    if !digest_matches {
        tell!(
            "error: {name}: the report's content does not match its own digest {}: it was changed after it was made",
            given.report_digest
        );
    }
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let size = given.ledger_size;
    let regenerated =
        regenerate(&ledger, &given).with_context(|| format!("{name}: regenerating the report"))?;
    if regenerated.manifest.ledger_root != given.ledger_root {
        tell!(
            "error: {name}: the ledger's first {size} entries end in {}, not in the {} the report was made from: the ledger was rewritten, or this is another ledger",
            regenerated.manifest.ledger_root, given.ledger_root
        );
    }
    if regenerated.manifest.tree_root != given.tree_root {
        tell!(
            "error: {name}: the Merkle root of the ledger's first {size} entries is {}, not the {} the report was made from: the ledger was rewritten, or this is another ledger",
            regenerated.manifest.tree_root, given.tree_root
        );
    }
    let differences = given.differences(&regenerated);
    if differences.is_empty() && digest_matches {
        say!(
            "ok: {name} reproduces from the first {size} ledger entries, byte for byte: digest {}",
            given.report_digest
        );
        return Ok(ExitCode::SUCCESS);
    }
    for difference in differences.iter().take(DIFFERENCES_SHOWN_MAX) {
        let said = difference.describe("the file", "the report the ledger gives");
        tell!("error: {name}: {said}");
    }
    if differences.len() > DIFFERENCES_SHOWN_MAX {
        tell!(
            "error: ... and {} more differences",
            differences.len() - DIFFERENCES_SHOWN_MAX
        );
    }
    tell!(
        "error: {name} does not reproduce from the ledger ({} differences)",
        differences.len()
    );
    Ok(ExitCode::from(1))
}
