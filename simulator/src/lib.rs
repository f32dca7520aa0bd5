//! A deterministic simulator of the ledger writer and its replicas, in
//! the manner of TigerBeetle's VOPR: the real decision logic
//! (`protocol::pipeline` and `protocol::supervisor`, the state machines
//! the service's writer runs) driven against a simulated JetStream
//! (`nats`), simulated disks and ledgers (`model`), one clock and a
//! network that delays, drops, duplicates and reorders (`world`), with
//! crashes, restarts, partitions and pauses drawn from a seed. Invariants
//! are checked after every step; a seed replays exactly, and `--seed S
//! --trace` prints what happened (docs/SIMULATION.md).
//!
//! Test-only: the service does not link this crate, and the planted bugs
//! (`Bug`) live here, in the simulator's own shell around the state
//! machines, never in the production path.

pub mod model;
pub mod nats;
pub mod world;

/// A bug planted in the simulator's shell, to show the invariants catch
/// it. None of these exists in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The batch's messages are acknowledged as its flush starts.
    AckBeforeFlush,
    /// The batch is applied locally before the commit log acknowledged it.
    ApplyBeforeLogAck,
    /// A standby that took the lease writes without catching up first.
    StandbyWritesBeforeCaughtUp,
    /// A refusal for a wrong expected last sequence is taken for an
    /// acknowledgement.
    IgnoreRefusedPublish,
    /// The rule the service had before the simulator found it wrong: a
    /// writer that caught up writes when its ledger is not longer than
    /// the log, although the log may have grown since the catch-up
    /// (seeds 61 and 333 fork the log with it).
    WriteAfterStaleCatchUp,
}

impl Bug {
    pub const ALL: [Bug; 5] = [
        Bug::AckBeforeFlush,
        Bug::ApplyBeforeLogAck,
        Bug::StandbyWritesBeforeCaughtUp,
        Bug::IgnoreRefusedPublish,
        Bug::WriteAfterStaleCatchUp,
    ];

    /// The name `scripts/simulate --bug` takes.
    pub fn name(self) -> &'static str {
        match self {
            Bug::AckBeforeFlush => "ack-before-flush",
            Bug::ApplyBeforeLogAck => "apply-before-log-ack",
            Bug::StandbyWritesBeforeCaughtUp => "standby-writes-before-caught-up",
            Bug::IgnoreRefusedPublish => "ignore-refused-publish",
            Bug::WriteAfterStaleCatchUp => "write-after-stale-catch-up",
        }
    }

    pub fn parse(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// What one seed gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seed: u64,
    /// The first broken invariant, if any.
    pub violation: Option<world::Violation>,
    /// Events handled.
    pub steps: u64,
    /// Every step, when asked for.
    pub trace: Vec<String>,
}

/// Runs one seed, with a planted bug or none, keeping the trace if asked.
pub fn run(seed: u64, bug: Option<Bug>, trace: bool) -> Outcome {
    let mut world = world::World::new(seed, bug, trace);
    world.run();
    Outcome {
        seed,
        violation: world.violation.clone(),
        steps: world.steps,
        trace: world.trace.take().unwrap_or_default(),
    }
}

/// The first failing seed of `seeds` (in order), and how many ran.
pub fn first_failure(seeds: impl Iterator<Item = u64>, bug: Option<Bug>) -> (Option<Outcome>, u64) {
    let mut ran = 0;
    for seed in seeds {
        ran += 1;
        let outcome = run(seed, bug, false);
        if outcome.violation.is_some() {
            return (Some(outcome), ran);
        }
    }
    (None, ran)
}
