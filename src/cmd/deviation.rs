//! `tla deviation explain`: record the cause of a deviation (avvik) and the
//! corrective action that answers it, as a `deviation.explained` event
//! (SEMANTICS.md section 12). The deviation is named by the id reports
//! show; an id that no report of the tenant shows is refused, since an
//! explanation of nothing is what an auditor would question
//! (docs/SEMANTICS-NOTES.md, "Recording the follow-up").

use std::path::Path;
use std::process::ExitCode;

use service::follow_up::{self, ActionState, Recorded};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Record why a deviation happened (and the action that answers it);
    /// the report of its period then shows the explanation. The last
    /// explanation of a deviation is the one shown.
    Explain(ExplainArgs),
}

#[derive(clap::Args, Clone)]
pub struct ExplainArgs {
    /// The tenant (municipality): its id, or its name as `tla tenants`
    /// lists it.
    #[arg(long)]
    tenant: String,
    /// The deviation's id: 16 hex digits, as `tla report` shows it
    /// (`deviations[].id` in json).
    #[arg(long, value_name = "ID")]
    id: String,
    /// What caused it, in a sentence or two (at most 2,000 characters).
    #[arg(long, value_name = "TEXT")]
    cause: String,
    /// The corrective action that answers it (`tla action open`).
    #[arg(long, value_name = "ID")]
    action: Option<String>,
}

pub fn run(data_dir: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Explain(args) => explain(data_dir, &args),
    }
}

fn explain(data_dir: &Path, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let now = super::now_micros();
    // The event is checked before the ledger is opened: a malformed id or
    // cause is named even when the ledger is held or missing.
    let (mut ledger, tenant, event) = super::tenant_event(
        &args.tenant,
        || super::open_ledger(data_dir, ledger::OpenMode::Existing),
        |tenant| {
            follow_up::explained_event(tenant, &args.id, &args.cause, args.action.as_deref(), now)
        },
    )?;
    let args = &ExplainArgs {
        tenant,
        ..args.clone()
    };
    let events = follow_up::events_of(&ledger, &args.tenant)?;
    let known = follow_up::known_deviations(&args.tenant, &events, now.div_euclid(1_000_000));
    let Some(deviation) = known.get(&args.id) else {
        anyhow::bail!(
            "no report of {} shows a deviation with id {}; `tla report --tenant {} --period \
             YYYY-MM` lists each deviation's id (deviations[].id in json); nothing appended",
            args.tenant,
            args.id,
            args.tenant
        );
    };
    if let Some(action) = &args.action {
        if follow_up::action_state(&events, action) == ActionState::Unknown {
            tell!(
                "note: no action {action} is opened for {} yet; open it with `tla action open \
                 --tenant {} --id {action} ...` so that reports list it",
                args.tenant,
                args.tenant
            );
        }
    }
    match follow_up::record(&mut ledger, event, now)? {
        Recorded::New(position) => say!(
            "explained deviation {} of {} ({}) at ledger position {position}",
            args.id,
            args.tenant,
            deviation.description
        ),
        Recorded::Before(position) => say!(
            "deviation {} of {} was explained so at ledger position {position}; nothing appended",
            args.id,
            args.tenant
        ),
    }
    Ok(ExitCode::SUCCESS)
}
