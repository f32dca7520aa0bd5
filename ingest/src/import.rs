//! File import: a whole file of CloudEvents validated, then appended in
//! durable batches, all or nothing.
//!
//! Every event is validated and checked against the ledger (duplicates,
//! conflicts, clock skew) before the first batch is written, so invalid
//! input appends nothing. The appends themselves are idempotent, so an
//! import killed midway is completed by running it again.

use ledger::{Checked, Ledger, LedgerError, Outcome, Rejection};
use schemas::input::{parse_events, InputError};
use schemas::{Event, FieldError};

/// Events per append: one group commit (one flush) each. Larger batches
/// amortise the flush better; 8,192 events of a few hundred bytes keep one
/// batch near 3 MB.
pub const IMPORT_BATCH_EVENTS_MAX: usize = 8192;

/// An event of the file that will not be appended, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// 1-based line of the file where the event starts.
    pub line: usize,
    pub errors: Vec<String>,
    /// The event's canonical JSON, when it got that far.
    pub event: Option<String>,
}

/// A file read and checked, ready to append.
#[derive(Debug, Default)]
pub struct Plan {
    /// Valid events, in file order.
    pub events: Vec<Event>,
    /// The line of each of `events`.
    pub lines: Vec<usize>,
    pub refused: Vec<Refused>,
    /// Events already in the ledger (or repeated in the file).
    pub duplicates: u64,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub appended: u64,
    pub duplicates: u64,
    pub refused: u64,
}

/// Parses and validates `bytes`, then checks the valid events against the
/// ledger with clock `now_micros`. Nothing is written.
pub fn plan(ledger: &Ledger, bytes: &[u8], now_micros: i64) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    for input in parse_events(bytes).map_err(PlanError::Input)? {
        match input.result {
            Ok(event) if event.event_type.is_system_only() => plan.refused.push(Refused {
                line: input.line,
                errors: vec![format!(
                    "type: {} is written only by the ledger itself (`tla report issue`); \
                     an import may not carry it",
                    event.type_name()
                )],
                event: Some(String::from_utf8_lossy(event.canonical()).into_owned()),
            }),
            Ok(event) => {
                plan.events.push(event);
                plan.lines.push(input.line);
            }
            Err(errors) => plan.refused.push(Refused {
                line: input.line,
                errors: errors.iter().map(FieldError::to_string).collect(),
                event: None,
            }),
        }
    }
    // Refusals by the ledger (conflicts, skew) move to `refused`; checking
    // again after removing them settles the rest (a conflict's first copy
    // stays valid).
    loop {
        match ledger.check(&plan.events, now_micros) {
            Ok(checked) => {
                plan.duplicates = checked.iter().filter(|c| **c != Checked::New).count() as u64;
                return Ok(plan);
            }
            Err(LedgerError::Rejected(rejected)) => plan.move_rejected(rejected),
            Err(error) => return Err(PlanError::Ledger(error)),
        }
    }
}

impl Plan {
    fn move_rejected(&mut self, rejected: Vec<(usize, Rejection)>) {
        let mut drop = vec![false; self.events.len()];
        for (index, rejection) in rejected {
            let (line, event) = (self.lines[index], &self.events[index]);
            drop[index] = true;
            self.refused.push(Refused {
                line,
                errors: vec![rejection.to_string()],
                event: Some(String::from_utf8_lossy(event.canonical()).into_owned()),
            });
        }
        let mut index = 0;
        self.events.retain(|_| {
            index += 1;
            !drop[index - 1]
        });
        let mut index = 0;
        self.lines.retain(|_| {
            index += 1;
            !drop[index - 1]
        });
        self.refused.sort_by_key(|r| r.line);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Input(InputError),
    #[error(transparent)]
    Ledger(LedgerError),
}

/// Appends the plan's events in batches, each applied while the one before
/// it is synced (`Ledger::append_pipelined`); `progress(done)` after each
/// batch is durable. Call only for a plan whose refusals the caller accepted.
pub fn run(
    ledger: &mut Ledger,
    plan: &Plan,
    now_micros: impl Fn() -> i64,
    mut progress: impl FnMut(u64),
) -> Result<Imported, LedgerError> {
    let mut imported = Imported {
        refused: plan.refused.len() as u64,
        ..Imported::default()
    };
    let mut done = 0;
    ledger.append_pipelined(
        plan.events.chunks(IMPORT_BATCH_EVENTS_MAX),
        now_micros,
        |outcomes| {
            done += outcomes.len() as u64;
            for outcome in outcomes {
                match outcome {
                    Outcome::Appended(_) => imported.appended += 1,
                    Outcome::Duplicate(_) => imported.duplicates += 1,
                }
            }
            progress(done);
        },
    )?;
    Ok(imported)
}
