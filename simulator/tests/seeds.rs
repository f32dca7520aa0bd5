//! The simulator as the test command runs it: 200 seeds clean, the
//! seeds that found a real bug kept as regression tests, every planted
//! bug caught within the default 10,000 seeds by the invariant meant to
//! catch it, and a seed replaying exactly.

use simulator::{first_failure, run, Bug};

/// Seeds the test command runs (`scripts/simulate` runs 10,000).
const SEEDS: u64 = 200;

/// The default seeds of `scripts/simulate`: each planted bug must be
/// caught within them.
const SEEDS_DEFAULT: u64 = 10_000;

#[test]
fn two_hundred_seeds_run_clean() {
    let (failed, ran) = first_failure(0..SEEDS, None);
    if let Some(outcome) = failed {
        let violation = outcome.violation.expect("a failure has a violation");
        panic!(
            "seed {} failed at {} µs: {}\nreplay: scripts/simulate --seed {} --trace",
            outcome.seed, violation.at, violation.what, outcome.seed
        );
    }
    assert_eq!(ran, SEEDS);
}

/// The old start rule forked the commit log when the log grew during the
/// catch-up (the writer being replaced finished its batch in hand after
/// its lease lapsed): found on seeds 61 and 333 before the supervisor
/// decided the lease, the standby and the shutdown too, and before the
/// commit log's publishes could fail; with the world as it is since, the
/// old rule, planted, forks the log first on seeds 13 and 154. They run
/// clean with `protocol::start`, and still reach the race.
#[test]
fn the_seeds_that_forked_the_log_on_start_run_clean() {
    for seed in [13, 154] {
        let outcome = run(seed, None, false);
        assert!(
            outcome.violation.is_none(),
            "seed {seed}: {:?}",
            outcome.violation
        );
        let old = run(seed, Some(Bug::WriteAfterStaleCatchUp), false);
        let violation = old.violation.expect("the old start rule forks the log");
        assert!(
            violation.what.contains("the commit log forks"),
            "seed {seed}: {}",
            violation.what
        );
    }
}

/// Seed 45779 (found in the first 100,000-seed run) had a writer sign a
/// checkpoint of 32 entries after one of 36: a second checkpoint was asked
/// for while the first was being signed (the pipeline now asks for one at
/// a time), and a pause during a pause cut the first short, so the node's
/// own work ran out of order (a pause now ends no earlier than the first).
#[test]
fn the_seed_that_signed_a_checkpoint_twice_runs_clean() {
    let outcome = run(45779, None, false);
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
}

#[test]
fn every_planted_bug_is_caught_within_the_default_seeds() {
    let expected = [
        (Bug::AckBeforeFlush, "before it was durable"),
        (Bug::ApplyBeforeLogAck, "the commit log"),
        (Bug::StandbyWritesBeforeCaughtUp, "the commit log forks"),
        (Bug::IgnoreRefusedPublish, "after the commit log fenced it"),
        (Bug::WriteAfterStaleCatchUp, "the commit log forks"),
    ];
    for (bug, what) in expected {
        let (failed, ran) = first_failure(0..SEEDS_DEFAULT, Some(bug));
        let outcome = failed.unwrap_or_else(|| panic!("{bug:?} not caught in {ran} seeds"));
        let violation = outcome.violation.expect("a failure has a violation");
        assert!(
            violation.what.contains(what),
            "{bug:?} caught by seed {} but as {:?}, not {what:?}",
            outcome.seed,
            violation.what
        );
        println!(
            "{}: seed {} after {ran} seeds: {}",
            bug.name(),
            outcome.seed,
            violation.what
        );
    }
}

#[test]
fn a_seed_replays_exactly() {
    let first = run(97, None, true);
    let again = run(97, None, true);
    assert!(
        first.trace.len() > 100,
        "a trace of {} lines",
        first.trace.len()
    );
    assert_eq!(first.trace, again.trace);
    assert_eq!(first.steps, again.steps);
    let other = run(98, None, true);
    assert_ne!(first.trace, other.trace, "another seed, another run");
}
