//! `tla evidence export|verify`: one self-contained file that lets an
//! auditor check an issued report offline, without our ledger and without
//! trusting us beyond the public key. The bundle and its checks are
//! `service::evidence`'s; this module reads the arguments and says what
//! it found.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use projector::Period;
use service::evidence;

/// Problems `verify` lists before it summarises the rest.
const PROBLEMS_SHOWN_MAX: usize = 20;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write the evidence bundle of an issued report.
    Export(ExportArgs),
    /// Check an evidence bundle offline; exit 0 valid, 1 invalid.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct ExportArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The period, YYYY-MM, of an issued report.
    #[arg(long)]
    period: Period,
    /// Where to write the bundle (`-`: stdout).
    #[arg(long)]
    out: PathBuf,
    /// Sign a checkpoint with this key when none covers the report yet.
    #[arg(long, env = "TLA_SIGNING_KEY")]
    key: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    file: PathBuf,
    /// The log's public verifier key (the key text or a file holding it).
    #[arg(long)]
    key: String,
}

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export(args) => export(data_dir, &args),
        Command::Verify(args) => verify(&args),
    }
}

fn export(data_dir: &Path, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let readable = super::readable(data_dir)?;
    let mut ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let tenant = super::tenant_of(&ledger, &args.tenant)?;
    let built = evidence::build(&mut ledger, &tenant, args.period, args.key.as_deref())?;
    let bundle = &built.bundle;
    super::write_out(&args.out, &evidence::to_bytes(bundle)?)?;
    let acknowledged = match bundle.acknowledgement.entry() {
        Some(entry) => format!(", the acknowledgement at position {}", entry.position),
        None => String::new(),
    };
    tell!(
        "wrote {}: the report, {} entries of {} with their proofs{acknowledged}, and the checkpoint of size {}",
        super::out_name(&args.out),
        bundle.entries.len(),
        tenant,
        built.checkpoint_size
    );
    if let Some(position) = built.acknowledgement_uncovered {
        tell!(
            "note: the acknowledgement of {} at ledger position {position} is left out: no signed \
             checkpoint covers it yet; sign one (`tla checkpoint --key FILE`, or pass --key) and \
             export again",
            args.period
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let verifier = service::keys::load_verifier(&args.key)?;
    let name = args.file.display().to_string();
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {name}"))?;
    let bundle = evidence::parse(&name, &text)?;
    // `parse` refused a bundle whose report lacks what its manifest pins.
    let report = bundle
        .given()
        .map_err(|e| anyhow::anyhow!("{name}: report.{e}"))?;
    let checkpoint = match verifier.open(&bundle.checkpoint) {
        Ok(checkpoint) => checkpoint,
        Err(error) => {
            tell!("error: {name}: the checkpoint: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    let problems = evidence::check(&bundle, &checkpoint);
    if problems.is_empty() {
        say!(
            "ok: {name}: the report of {} for {} (digest {}) reproduces from its {} bundled entries byte for byte, every entry is in the checkpoint of size {} signed by {}, and none of the tenant's entries before position {} is missing",
            bundle.tenant,
            bundle.period,
            report.report_digest,
            bundle.entries.len(),
            checkpoint.size,
            verifier.name(),
            report.ledger_size
        );
        let earlier = evidence::earlier_issuances(&bundle);
        if !earlier.is_empty() {
            let positions: Vec<String> = earlier.iter().map(u64::to_string).collect();
            say!(
                "note: this report is a REISSUE: the tenant's chain in the bundle holds an earlier report.issued of {} at position {}, which this report replaces",
                bundle.period,
                positions.join(", ")
            );
        }
        say!(
            "note: a bundle ends at its report's issuance, so it cannot show whether the period was reissued later; compare with the latest bundle or the ledger (docs/AUDITING.md)"
        );
        say!("{}", acknowledgement_line(&bundle));
        if let Some(line) = version_line(&bundle) {
            say!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    for problem in problems.iter().take(PROBLEMS_SHOWN_MAX) {
        tell!("error: {name}: {problem}");
    }
    if problems.len() > PROBLEMS_SHOWN_MAX {
        tell!(
            "error: ... and {} more problems",
            problems.len() - PROBLEMS_SHOWN_MAX
        );
    }
    tell!(
        "error: {name} does not verify ({} problems)",
        problems.len()
    );
    Ok(ExitCode::from(1))
}

/// What `verify` says of the agreement version the report used: that it
/// needed no approval, or who approved it for each party (their entries
/// are among the bundled ones, proven in the checkpoint).
fn version_line(bundle: &evidence::Bundle) -> Option<String> {
    let used = evidence::version_used(bundle)?;
    if !used.requires_approval {
        return Some(format!(
            "agreement: the report used version {}, which requires no approval",
            used.version
        ));
    }
    let approvals: Vec<String> = used
        .approvals
        .iter()
        .map(|(party, person, time, position)| {
            format!(
                "the {} by {person} at {time} (ledger position {position})",
                party.as_str()
            )
        })
        .collect();
    Some(format!(
        "agreement: the report used version {}, approved by {}; those entries are in the bundle \
         and in the signed checkpoint",
        used.version,
        approvals.join(" and ")
    ))
}

/// What `verify` says of the bundle's acknowledgement: who acknowledged
/// which digest when, and plainly when it is not this report's.
fn acknowledgement_line(bundle: &evidence::Bundle) -> String {
    use projector::acknowledgement::Standing;
    let Some(a) = evidence::acknowledgement(bundle) else {
        return format!(
            "note: the bundle carries no acknowledgement of {} for {}: none was in the ledger \
             (or signed) when it was exported",
            bundle.period, bundle.tenant
        );
    };
    let comment = match &a.comment {
        Some(comment) => format!(", comment {comment:?}"),
        None => String::new(),
    };
    let who = format!(
        "{} at {} (ledger position {}{comment})",
        a.person, a.time, a.position
    );
    match a.standing {
        Standing::Current => format!(
            "acknowledged: by {who}, naming this report's digest {}; its entry is in the signed checkpoint",
            a.report_digest
        ),
        Standing::Superseded => format!(
            "note: NOT ACKNOWLEDGED AS ISSUED: the acknowledgement by {who} names digest {}, an OLDER issue of {} that this report replaces, not this report's digest {}",
            a.report_digest, bundle.period, bundle.report["manifest"]["report_digest"].as_str().unwrap_or_default()
        ),
        Standing::NotIssued => format!(
            "note: NOT ACKNOWLEDGED AS ISSUED: the acknowledgement by {who} names digest {}, which no report.issued of {} in the bundle anchors (an older issue, or a digest of no issued report), not this report's digest {}",
            a.report_digest, bundle.period, bundle.report["manifest"]["report_digest"].as_str().unwrap_or_default()
        ),
    }
}
