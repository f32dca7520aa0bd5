//! `tla log`: browse ledger entries, filtered by tenant, type and time.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use ledger::{Entry, LedgerError};
use schemas::{Event, EventType};

#[derive(clap::Args)]
#[command(after_help = super::HELD_HELP)]
pub struct Args {
    /// Only this tenant's entries (read through the tenant index): its id,
    /// or its name as `tla tenants` lists it.
    #[arg(long)]
    tenant: Option<String>,
    /// Only events of this type, e.g. `outage.started` (repeatable).
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
    types: Vec<EventType>,
    /// Only events whose `time` is at or after this instant (RFC 3339, or a date YYYY-MM-DD in UTC).
    #[arg(long, value_parser = super::parse_instant)]
    since: Option<i64>,
    /// Only events whose `time` is before this instant (RFC 3339, or a date YYYY-MM-DD in UTC).
    #[arg(long, value_parser = super::parse_instant)]
    until: Option<i64>,
    /// Start at this ledger position.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Show at most this many entries.
    #[arg(long)]
    limit: Option<usize>,
    /// Print each entry as its export line (docs/FORMAT.md) instead of a table row.
    #[arg(long)]
    json: bool,
}

fn parse_type(text: &str) -> Result<EventType, String> {
    EventType::parse(text).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "unknown event type {text:?}; known types: {}",
            known.join(", ")
        )
    })
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let readable = super::readable(data_dir)?;
    let ledger = super::open_ledger(readable.path(), ledger::OpenMode::Existing)?;
    let tenant = match &args.tenant {
        Some(given) => Some(super::tenant_of(&ledger, given)?),
        None => None,
    };
    let entries: Box<dyn Iterator<Item = Result<Entry, LedgerError>>> = match &tenant {
        Some(tenant) => Box::new(ledger.tenant_entries(tenant)),
        None => Box::new(ledger.entries(args.from)),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut shown = 0;
    // People get a header over the table; scripts (a pipe or a file) get
    // the rows alone, one per entry.
    let header = !args.json && std::io::IsTerminal::is_terminal(&std::io::stdout());
    for entry in entries {
        let entry = entry?;
        if entry.record.position < args.from {
            continue;
        }
        let position = entry.record.position;
        let event = Event::from_canonical(&entry.record.event).map_err(|errors| {
            anyhow::anyhow!("ledger position {position}: stored event does not parse: {errors:?}")
        })?;
        if !args.matches(&event) {
            continue;
        }
        if args.limit.is_some_and(|limit| shown >= limit) {
            break;
        }
        shown += 1;
        let written = if args.json {
            let line = ledger::export::Line::from_entry(&entry.record, entry.hash)?;
            serde_json::to_writer(&mut out, &line)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(out))
        } else if header && shown == 1 {
            write_header(&mut out).and_then(|()| write_row(&mut out, &entry, &event))
        } else {
            write_row(&mut out, &entry, &event)
        };
        if let Err(error) = written {
            // A closed pipe (`tla log | head`) ends the listing quietly.
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(error).context("writing to stdout");
        }
    }
    out.flush().ok();
    Ok(ExitCode::SUCCESS)
}

impl Args {
    fn matches(&self, event: &Event) -> bool {
        (self.types.is_empty() || self.types.contains(&event.event_type))
            && self.since.is_none_or(|since| event.time >= since)
            && self.until.is_none_or(|until| event.time < until)
    }
}

/// The table's header, above its first row on a terminal.
fn write_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>8}  {:<12}  {:<26}  {:<20}  SOURCE ID",
        "POSITION", "TENANT", "TYPE", "TIME (UTC)"
    )
}

fn write_row(out: &mut impl Write, entry: &Entry, event: &Event) -> std::io::Result<()> {
    let time = chrono::DateTime::from_timestamp(event.time, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let (source, id) = event.key();
    writeln!(
        out,
        "{:>8}  {:<12}  {:<26}  {:<20}  {source} {id}",
        entry.record.position,
        event.tenant,
        event.event_type.as_str(),
        time,
    )
}
