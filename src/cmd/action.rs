//! `tla action open|close`: record a corrective action (ISO/IEC 27001
//! clause 10.2: reaction, cause, correction, follow-up) as `action.opened`
//! and `action.closed` events (SEMANTICS.md section 12). Opening an id
//! that was opened before, closing one that is not open, and naming a
//! deviation no report shows are refused, as the engine would set the
//! first two aside and an auditor would question the third.

use std::path::Path;
use std::process::ExitCode;

use service::follow_up::{self, ActionState, NewAction, Recorded};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Open a corrective action with an owner and a due date, answering
    /// the deviations named; reports list it (open, then overdue once due)
    /// until it is closed.
    Open(OpenArgs),
    /// Close an open action with its outcome.
    Close(CloseArgs),
}

#[derive(clap::Args, Clone)]
pub struct OpenArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The action's id, chosen by you (like a ticket number: `[a-z0-9][a-z0-9-]*`).
    #[arg(long, value_name = "ID")]
    id: String,
    /// What is to be done.
    #[arg(long, value_name = "TEXT")]
    title: String,
    /// Who is responsible for it (a person or a team).
    #[arg(long, value_name = "TEXT")]
    owner: String,
    /// When it is due: RFC 3339 with an offset (e.g. 2026-03-01T00:00:00+01:00).
    #[arg(long, value_name = "INSTANT")]
    due: String,
    /// A deviation it answers, by the id reports show; repeat for several.
    #[arg(long = "deviation", value_name = "ID")]
    deviations: Vec<String>,
}

#[derive(clap::Args, Clone)]
pub struct CloseArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The action's id.
    #[arg(long, value_name = "ID")]
    id: String,
    /// What was done and what it achieved.
    #[arg(long, value_name = "TEXT")]
    outcome: String,
}

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Open(args) => open(data_dir, &args),
        Command::Close(args) => close(data_dir, &args),
    }
}

fn open(data_dir: &Path, args: &OpenArgs) -> anyhow::Result<ExitCode> {
    let now = super::now_micros();
    let due = service::report::parse_instant(&args.due)
        .map_err(|e| anyhow::anyhow!("--due: {e:#}; write it like 2026-03-01T00:00:00+01:00"))?;
    let action = NewAction {
        action_id: &args.id,
        title: &args.title,
        owner: &args.owner,
        due,
        deviation_ids: &args.deviations,
    };
    let (mut ledger, tenant, event) = super::tenant_event(
        &args.tenant,
        || super::open_ledger(data_dir, ledger::OpenMode::Existing),
        |tenant| follow_up::opened_event(tenant, &action, now),
    )?;
    let args = &OpenArgs {
        tenant,
        ..args.clone()
    };
    let events = follow_up::events_of(&ledger, &args.tenant)?;
    match follow_up::action_state(&events, &args.id) {
        ActionState::Unknown => {}
        ActionState::Open(position) | ActionState::Closed(position)
            if ledger.find(&args.tenant, &event.source, &event.id)? == Some(position) =>
        {
            // This very command ran before (its id names the action).
            say!(
                "action {} of {} was opened at ledger position {position}; nothing appended",
                args.id,
                args.tenant
            );
            return Ok(ExitCode::SUCCESS);
        }
        ActionState::Open(position) | ActionState::Closed(position) => anyhow::bail!(
            "action {} of {} was opened before (ledger position {position}); an action id is \
             opened once (use a new id); nothing appended",
            args.id,
            args.tenant
        ),
    }
    if !args.deviations.is_empty() {
        let known = follow_up::known_deviations(&args.tenant, &events, now.div_euclid(1_000_000));
        let unknown: Vec<&str> = args
            .deviations
            .iter()
            .filter(|id| !known.contains_key(*id))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "no report of {} shows a deviation with id {}; `tla report --tenant {} --period \
                 YYYY-MM` lists each deviation's id; nothing appended",
                args.tenant,
                unknown.join(", "),
                args.tenant
            );
        }
    }
    if due * 1_000_000 < now {
        tell!(
            "note: the action is due {} and so overdue already",
            schemas::format_instant(due)
        );
    }
    match follow_up::record(&mut ledger, event, now)? {
        Recorded::New(position) | Recorded::Before(position) => say!(
            "opened action {} of {} (due {}) at ledger position {position}",
            args.id,
            args.tenant,
            schemas::format_instant(due)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn close(data_dir: &Path, args: &CloseArgs) -> anyhow::Result<ExitCode> {
    let now = super::now_micros();
    let (mut ledger, tenant, event) = super::tenant_event(
        &args.tenant,
        || super::open_ledger(data_dir, ledger::OpenMode::Existing),
        |tenant| follow_up::closed_event(tenant, &args.id, &args.outcome, now),
    )?;
    let args = &CloseArgs {
        tenant,
        ..args.clone()
    };
    let events = follow_up::events_of(&ledger, &args.tenant)?;
    match follow_up::action_state(&events, &args.id) {
        ActionState::Open(_) => {}
        ActionState::Closed(position) => {
            if ledger.find(&args.tenant, &event.source, &event.id)? == Some(position) {
                say!(
                    "action {} of {} was closed at ledger position {position}; nothing appended",
                    args.id,
                    args.tenant
                );
                return Ok(ExitCode::SUCCESS);
            }
            anyhow::bail!(
                "action {} of {} is closed already (ledger position {position}); nothing appended",
                args.id,
                args.tenant
            );
        }
        ActionState::Unknown => anyhow::bail!(
            "{} has no action {} to close; open it first with `tla action open`; nothing appended",
            args.tenant,
            args.id
        ),
    }
    match follow_up::record(&mut ledger, event, now)? {
        Recorded::New(position) | Recorded::Before(position) => say!(
            "closed action {} of {} at ledger position {position}",
            args.id,
            args.tenant
        ),
    }
    Ok(ExitCode::SUCCESS)
}
