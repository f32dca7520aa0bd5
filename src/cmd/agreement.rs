//! `tla agreement`: validate an agreement file (TOML or JSON) and publish
//! it as an `agreement.published` event of a tenant. A version label names
//! one agreement per tenant for good: the same agreement again is a
//! duplicate, and other content under a label the tenant already has is
//! refused rather than silently taking its place.
//!
//! A version with `requires_approval` is in force only once both parties
//! approved it (SEMANTICS.md section 12): `tla agreement approve` records
//! one party's approval, `tla agreement log` lists the versions with who
//! published them and who approved them, and `publish` warns of a version
//! without the flag and of one whose `effective_from` lies in the past,
//! naming the ended periods it would change.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger::Outcome;
use schemas::agreement;
use service::agreement::{published_event, published_version, Published};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate an agreement and append it as `agreement.published` for a
    /// tenant; the same agreement again for that tenant is a duplicate, and
    /// another agreement under a version label the tenant already has is
    /// refused (use a new label).
    Publish(PublishArgs),
    /// Validate an agreement file without publishing it.
    Check(CheckArgs),
    /// Record one party's approval of a published agreement version
    /// (`agreement.approved`); a version with `requires_approval` is in
    /// force once the provider and the tenant both approved it.
    Approve(ApproveArgs),
    /// List a tenant's agreement versions: who published each (the event's
    /// source and, when sent over HTTP, the token's name), its approvals,
    /// and whether it is in force or waiting for approval.
    Log(LogArgs),
}

#[derive(clap::Args)]
pub struct ApproveArgs {
    /// The tenant (municipality) whose agreement it is.
    #[arg(long)]
    tenant: String,
    /// The version label, as published (`version` in the agreement).
    #[arg(long)]
    version: String,
    /// Who approves: the provider or the tenant.
    #[arg(long, value_parser = ["provider", "tenant"])]
    party: String,
    /// The person who approved it for that party.
    #[arg(long, value_name = "NAME")]
    person: String,
}

#[derive(clap::Args)]
pub struct LogArgs {
    /// The tenant (municipality).
    #[arg(long)]
    tenant: String,
    /// Language: nn (Nynorsk) or en.
    #[arg(long, default_value = "nn", value_parser = ["nn", "en"])]
    lang: String,
}

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The agreement: `.toml`, or JSON.
    file: PathBuf,
    /// The tenant (municipality) the agreement is with: an id, or the name
    /// of a tenant the ledger has.
    #[arg(long)]
    tenant: String,
    /// CloudEvents `source` of the published event.
    #[arg(long, default_value = "tla/agreements")]
    source: String,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    file: PathBuf,
}

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => {
            let Some((value, parsed)) = load(&args.file)? else {
                return Ok(ExitCode::from(1));
            };
            drop(value);
            let services = parsed.services.len();
            say!(
                "ok: {} is a valid agreement, version {} with {services} {}",
                args.file.display(),
                parsed.version,
                if services == 1 { "service" } else { "services" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish(args) => publish(data_dir, args),
        Command::Approve(args) => approve(data_dir, &args),
        Command::Log(args) => log(data_dir, &args),
    }
}

/// Reads and validates an agreement; prints every problem and returns None
/// when it is invalid.
fn load(file: &Path) -> anyhow::Result<Option<(serde_json::Value, agreement::Agreement)>> {
    let name = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
    let is_toml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let value = if is_toml {
        agreement::from_toml_str(&text)
    } else {
        agreement::from_json_str(&text)
    };
    let checked = value.and_then(|v| agreement::from_json_value(&v).map(|a| (v, a)));
    match checked {
        Ok(pair) => Ok(Some(pair)),
        Err(errors) => {
            for error in &errors {
                tell!("error: {name}: {error}");
            }
            tell!(
                "error: {name}: {} problem(s); the agreement is not valid",
                errors.len()
            );
            Ok(None)
        }
    }
}

fn publish(data_dir: &Path, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let Some((value, parsed)) = load(&args.file)? else {
        return Ok(ExitCode::from(1));
    };
    let now = super::now_micros();
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Create)?;
    // A tenant the ledger has may be named by its display name; any other
    // name starts a new tenant (and must be a valid tenant id).
    let tenant = service::tenants::resolve_or_new(&ledger.tenants(), &args.tenant);
    let args = PublishArgs { tenant, ..args };
    let (id, event) = published_event(&value, &parsed, &args.tenant, &args.source, now)?;
    let same = match ledger.find(&args.tenant, &args.source, &id)? {
        Some(position) => Some(position),
        None => match published_version(&ledger, &args.tenant, &parsed.version, &event)? {
            Some(Published::Same(position)) => Some(position),
            Some(Published::Other(position)) => anyhow::bail!(
                "version {} of {} is already published with other content; use a new version \
                 label (the published one is at ledger position {position}; an agreement in \
                 force is never replaced under the same label)",
                parsed.version,
                args.tenant
            ),
            None => None,
        },
    };
    if let Some(position) = same {
        say!(
            "agreement version {} for {} is already published at ledger position {position}; \
             nothing appended",
            parsed.version,
            args.tenant
        );
        return Ok(ExitCode::SUCCESS);
    }
    let warnings = publish_warnings(&ledger, &args.tenant, &parsed, now.div_euclid(1_000_000))?;
    match ledger.append(&[event], now)?[0] {
        Outcome::Appended(position) | Outcome::Duplicate(position) => say!(
            "published agreement version {} for {} at ledger position {position}",
            parsed.version,
            args.tenant
        ),
    }
    for warning in warnings {
        tell!("warning: {warning}");
    }
    warn_dropped_services(&ledger, &args.tenant, &parsed)?;
    Ok(ExitCode::SUCCESS)
}

/// What `publish` warns of (SEMANTICS.md section 12): a version without
/// `requires_approval` takes effect without either party's approval, and
/// one whose `effective_from` lies in the past changes the reports of
/// periods that have ended (named, with those already issued).
fn publish_warnings(
    ledger: &ledger::Ledger,
    tenant: &str,
    parsed: &agreement::Agreement,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    let mut warnings = Vec::new();
    if !parsed.requires_approval {
        warnings.push(format!(
            "version {} has no \"requires_approval\": true, so it takes effect without the \
             approval of either party; changes to an agreement lie above the operations \
             meeting's authority (SEMANTICS.md section 12): set the flag and record both \
             approvals with `tla agreement approve`",
            parsed.version
        ));
    }
    if parsed.effective_from >= now {
        return Ok(warnings);
    }
    let events = if ledger.tenants().contains_key(tenant) {
        service::report::tenant_events(ledger, tenant, ledger.size())?
    } else {
        Vec::new()
    };
    let next_from = events
        .iter()
        .filter_map(|e| match &e.event.data {
            schemas::EventData::AgreementPublished(a)
                if a.effective_from > parsed.effective_from =>
            {
                Some(a.effective_from)
            }
            _ => None,
        })
        .min();
    let periods = projector::agreement::ended_periods_changed(
        parsed.timezone,
        parsed.effective_from,
        next_from,
        now,
    );
    let Some((first, last)) = periods.first().zip(periods.last()) else {
        return Ok(warnings);
    };
    let issued: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|e| match &e.event.data {
            schemas::EventData::ReportIssued { period, .. } => Some(period.clone()),
            _ => None,
        })
        .filter(|p| periods.iter().any(|q| q.to_string() == *p))
        .collect();
    let span = match periods.len() {
        1 => format!("period {first}"),
        n => format!("the {n} periods {first} to {last}"),
    };
    let when = if parsed.requires_approval {
        "once both parties approve it, "
    } else {
        ""
    };
    let mut warning = format!(
        "version {} takes effect from {}, in the past: {when}it changes the reports of {span}, \
         which have ended (reports regenerated from the ledger after it differ from those made \
         before)",
        parsed.version,
        schemas::format_instant(parsed.effective_from)
    );
    if !issued.is_empty() {
        let list: Vec<String> = issued.into_iter().collect();
        warning.push_str(&format!(
            "; issued reports of {} keep verifying against their own ledger prefix, and the \
             viewer marks them outdated",
            list.join(", ")
        ));
    }
    warnings.push(warning);
    Ok(warnings)
}

fn approve(data_dir: &Path, args: &ApproveArgs) -> anyhow::Result<ExitCode> {
    let party = match args.party.as_str() {
        "provider" => schemas::Party::Provider,
        _ => schemas::Party::Tenant,
    };
    let now = super::now_micros();
    let event =
        service::agreement::approved_event(&args.tenant, &args.version, party, &args.person, now)?;
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Existing)?;
    let events = service::follow_up::events_of(&ledger, &args.tenant)?;
    let refs: Vec<&projector::LedgerEvent> = events.iter().collect();
    let history = projector::agreement::History::from_events(&refs);
    let Some(version) = history.version(&args.version).last() else {
        let known: Vec<&str> = history
            .versions
            .iter()
            .map(|v| v.agreement.version.as_str())
            .collect();
        anyhow::bail!(
            "{} has no published agreement version {:?} (published: {}); nothing appended",
            args.tenant,
            args.version,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    if let Some(given) = version
        .approvals
        .iter()
        .find(|a| a.party == party && a.set_aside.is_none())
    {
        say!(
            "version {} of {} is already approved by the {} ({}, {}, ledger position {}); a \
             second approval by the same party is set aside; nothing appended",
            args.version,
            args.tenant,
            party.as_str(),
            given.person,
            schemas::format_instant(given.time),
            given.position
        );
        return Ok(ExitCode::SUCCESS);
    }
    let requires = version.agreement.requires_approval;
    let effective_from = version.agreement.effective_from;
    let waiting: Vec<schemas::Party> = version
        .waiting_for()
        .into_iter()
        .filter(|p| *p != party)
        .collect();
    match service::follow_up::record(&mut ledger, event, now)? {
        service::follow_up::Recorded::New(position) => say!(
            "recorded the {}'s approval of version {} of {} by {} at ledger position {position}",
            party.as_str(),
            args.version,
            args.tenant,
            args.person
        ),
        service::follow_up::Recorded::Before(position) => {
            say!(
                "the {}'s approval of version {} of {} is recorded at ledger position \
                 {position}; nothing appended",
                party.as_str(),
                args.version,
                args.tenant
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !requires {
        say!(
            "note: version {} does not require approval (no \"requires_approval\": true); it \
             was in force without it",
            args.version
        );
    } else if let Some(other) = waiting.first() {
        say!(
            "version {} is not in force yet: it waits for the {}'s approval",
            args.version,
            other.as_str()
        );
    } else {
        say!(
            "both parties have approved version {}: it is in force from {} (reports regenerated \
             from now on use it)",
            args.version,
            schemas::format_instant(effective_from)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The words of `tla agreement log`, in Nynorsk or English.
struct Words {
    version: &'static str,
    from: &'static str,
    published: &'static str,
    by: &'static str,
    token: &'static str,
    no_token: &'static str,
    in_force: &'static str,
    no_approval_needed: &'static str,
    waiting: &'static str,
    approved: &'static str,
    set_aside: &'static str,
    never_published: &'static str,
    provider: &'static str,
    tenant: &'static str,
    none: &'static str,
}

const NN: Words = Words {
    version: "Versjon",
    from: "gjeld frå",
    published: "publisert",
    by: "av",
    token: "token",
    no_token: "utan token (lokalt)",
    in_force: "i kraft: godkjend av begge partar",
    no_approval_needed: "i kraft: krev ikkje godkjenning",
    waiting: "venter på godkjenning frå",
    approved: "godkjend av",
    set_aside: "sett til sides",
    never_published: "Godkjenningar av versjonar som aldri er publiserte",
    provider: "leverandøren",
    tenant: "kommunen",
    none: "Ingen avtaleversjonar er publiserte for",
};

const EN: Words = Words {
    version: "Version",
    from: "effective from",
    published: "published",
    by: "by",
    token: "token",
    no_token: "no token (local)",
    in_force: "in force: approved by both parties",
    no_approval_needed: "in force: needs no approval",
    waiting: "waiting for approval by",
    approved: "approved by",
    set_aside: "set aside",
    never_published: "Approvals of versions never published",
    provider: "the provider",
    tenant: "the tenant",
    none: "No agreement versions are published for",
};

fn log(data_dir: &Path, args: &LogArgs) -> anyhow::Result<ExitCode> {
    let words = if args.lang == "en" { &EN } else { &NN };
    let read = super::readable(data_dir)?;
    let ledger = super::open_ledger(read.path(), ledger::OpenMode::Existing)?;
    let events = service::follow_up::events_of(&ledger, &args.tenant)?;
    let refs: Vec<&projector::LedgerEvent> = events.iter().collect();
    let history = projector::agreement::History::from_events(&refs);
    put!("{}", log_text(&history, &args.tenant, words));
    Ok(ExitCode::SUCCESS)
}

fn log_text(history: &projector::agreement::History<'_>, tenant: &str, w: &Words) -> String {
    use std::fmt::Write as _;
    let party = |p: schemas::Party| match p {
        schemas::Party::Provider => w.provider,
        schemas::Party::Tenant => w.tenant,
    };
    let who = |source: &str, token: &Option<String>| match token {
        Some(token) => format!("{source}, {} {token}", w.token),
        None => format!("{source}, {}", w.no_token),
    };
    let reason = |r: Option<projector::quality::Reason>| match r {
        Some(r) => format!(" ({}: {})", w.set_aside, r.as_str()),
        None => String::new(),
    };
    let mut out = String::new();
    if history.versions.is_empty() {
        let _ = writeln!(out, "{} {tenant}", w.none);
    }
    for v in &history.versions {
        let a = v.agreement;
        let _ = writeln!(
            out,
            "{} {} ({} {})",
            w.version,
            a.version,
            w.from,
            schemas::format_instant(a.effective_from)
        );
        let _ = writeln!(
            out,
            "  {} {} {} {} [#{}]",
            w.published,
            schemas::format_instant(v.time),
            w.by,
            who(v.source, &v.token),
            v.position
        );
        for p in &v.approvals {
            let _ = writeln!(
                out,
                "  {} {}: {} {} ({}) [#{}]{}",
                w.approved,
                party(p.party),
                p.person,
                schemas::format_instant(p.time),
                who(p.source, &p.token),
                p.position,
                reason(p.set_aside)
            );
        }
        let waiting = v.waiting_for();
        let status = if !a.requires_approval {
            w.no_approval_needed.to_owned()
        } else if waiting.is_empty() {
            w.in_force.to_owned()
        } else {
            let names: Vec<&str> = waiting.into_iter().map(party).collect();
            format!("{} {}", w.waiting, names.join(" + "))
        };
        let _ = writeln!(out, "  {status}");
    }
    if !history.stray.is_empty() {
        let _ = writeln!(out, "{}:", w.never_published);
        for p in &history.stray {
            let _ = writeln!(
                out,
                "  {} {}: {} {} {} ({}) [#{}]{}",
                p.version,
                w.approved,
                party(p.party),
                p.person,
                schemas::format_instant(p.time),
                who(p.source, &p.token),
                p.position,
                reason(p.set_aside)
            );
        }
    }
    out
}

/// Warns when the published version drops services that have events from
/// its `effective_from` on: correct, but every report from then on sets
/// those events aside, and nothing else would say so.
fn warn_dropped_services(
    ledger: &ledger::Ledger,
    tenant: &str,
    parsed: &agreement::Agreement,
) -> anyhow::Result<()> {
    let Some(dropped) = service::agreement::dropped_services(ledger, tenant, parsed)? else {
        return Ok(());
    };
    let services: Vec<String> = dropped
        .services
        .iter()
        .map(|(service, events)| format!("{service} ({events} events)"))
        .collect();
    let from = chrono::DateTime::from_timestamp(parsed.effective_from, 0)
        .map(|t| t.with_timezone(&parsed.timezone).to_rfc3339())
        .unwrap_or_default();
    tell!(
        "warning: version {} of {tenant} has no {}, which an earlier version has and which \
         have events from its effective_from ({from}) on; those events are set aside in the \
         reports of {} (publish a version that keeps the services to count them)",
        parsed.version,
        services.join(", "),
        dropped.periods.join(", ")
    );
    Ok(())
}
