//! `tla import FILE`: append CloudEvents from a file, all or nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ingest::import::{self, Refused};
use service::import::{discard_if_created, is_export, read_input, write_rejects};

#[derive(clap::Args)]
pub struct Args {
    /// File of CloudEvents: a JSON object, a JSON array, or NDJSON; `-` reads stdin.
    file: PathBuf,
    /// Append the valid events and write the invalid ones to --rejects.
    #[arg(long, requires = "rejects")]
    skip_invalid: bool,
    /// Where --skip-invalid writes each refused event as received (the raw
    /// line when it is not JSON) with its errors, as NDJSON; `-`: stdout.
    #[arg(long, requires = "skip_invalid")]
    rejects: Option<PathBuf>,
}

/// Errors printed per refused event before the rest are summarised.
const ERRORS_SHOWN_MAX: usize = 100;

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let (name, bytes) = read_input(&args.file)?;
    if is_export(&bytes) {
        anyhow::bail!(
            "{name} is a `tla export` file (docs/FORMAT.md), not CloudEvents: check it with \
             `tla verify --export {name}`; `tla import` reads events as producers send them \
             (examples/events.ndjson); nothing was appended"
        );
    }
    // A refused import leaves no trace, not even an empty ledger.
    let created = !data_dir.exists();
    let mut ledger = super::open_ledger(data_dir, ledger::OpenMode::Create)?;
    let plan = match import::plan(&ledger, &bytes, super::now_micros()) {
        Ok(plan) => plan,
        Err(error) => {
            discard_if_created(ledger, data_dir, created)?;
            anyhow::bail!("{name}: {error}");
        }
    };
    if !plan.refused.is_empty() {
        match &args.rejects {
            Some(path) => write_rejects(path, &plan.refused, &bytes)?,
            None => {
                print_refused(&name, &plan.refused);
                tell!(
                    "error: {name}: {} of {} events are invalid; nothing was appended \
                     (fix them, or pass --skip-invalid --rejects FILE)",
                    plan.refused.len(),
                    plan.refused.len() + plan.events.len()
                );
                discard_if_created(ledger, data_dir, created)?;
                return Ok(ExitCode::from(1));
            }
        }
    }
    let bar = super::progress(plan.events.len() as u64, "importing");
    let done = import::run(&mut ledger, &plan, super::now_micros, |n| {
        bar.set_position(n)
    })
    .with_context(|| format!("importing {name}"))?;
    bar.finish_and_clear();
    // With `--rejects -` the refused events have stdout: the summary goes
    // to stderr.
    let rejects_on_stdout = args.rejects.as_deref().is_some_and(super::is_stdout);
    let summary = format!(
        "{name}: {} appended, {} duplicate, {} rejected; ledger size {}, head {}",
        done.appended,
        done.duplicates,
        done.refused,
        ledger.size(),
        ledger.head().hash
    );
    match rejects_on_stdout {
        true => tell!("{summary}"),
        false => say!("{summary}"),
    }
    if let Some(path) = args
        .rejects
        .as_deref()
        .filter(|path| !super::is_stdout(path))
    {
        if done.refused > 0 {
            say!("rejected events and their errors are in {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_refused(name: &str, refused: &[Refused]) {
    let mut shown = 0;
    for event in refused {
        for error in &event.errors {
            if shown < ERRORS_SHOWN_MAX {
                tell!("error: {name} line {}: {error}", event.line);
            }
            shown += 1;
        }
    }
    if shown > ERRORS_SHOWN_MAX {
        tell!("error: ... and {} more errors", shown - ERRORS_SHOWN_MAX);
    }
}
