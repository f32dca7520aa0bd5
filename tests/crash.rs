//! Crash safety: `tla import` of a large file is killed with SIGKILL at
//! random moments, many times; a final import completes it, and then every
//! event is in the ledger exactly once and the chain verifies.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{ndjson, Env};
use rand::{Rng, SeedableRng};

/// Events in the imported file: enough that an import takes a few seconds.
const EVENTS: usize = 60_000;
/// Imports killed before the final, completing one.
const KILLS: usize = 12;

#[test]
fn import_killed_at_random_moments_loses_and_duplicates_nothing() {
    let seed: u64 = std::env::var("TLA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash test seed {seed} (rerun with TLA_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let env = Env::new();
    let file = env.write("large.ndjson", ndjson(EVENTS).as_bytes());
    let file = file.to_str().unwrap();

    // How long one uninterrupted import takes, measured in a scratch ledger.
    let scratch = Env::new();
    let started = Instant::now();
    scratch.run(&["import", file]).assert_code(0);
    let full = started.elapsed();
    println!("an uninterrupted import takes {full:?}");

    let mut killed_midway = 0;
    for round in 0..KILLS {
        let delay = Duration::from_millis(rng.gen_range(20..=full.as_millis().max(40) as u64));
        let mut child = env
            .tla()
            .args(["import", file])
            .spawn()
            .expect("spawn tla import");
        std::thread::sleep(delay);
        let finished = child.try_wait().expect("poll child").is_some();
        if !finished {
            child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
            killed_midway += 1;
        }
        child.wait().expect("reap child");
        println!("round {round}: killed after {delay:?} (finished first: {finished})");
        // After every crash the ledger is a valid chain.
        if env.data_dir().exists() {
            env.run(&["verify"]).assert_code(0);
        }
    }
    assert!(
        killed_midway > 0,
        "no import was interrupted; the file is too small"
    );

    env.run(&["import", file]).assert_code(0);
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("ok: {EVENTS} entries"));
    let events = env.exported_events();
    assert_eq!(events.len(), EVENTS, "every event exactly once");
    let ids: BTreeSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..EVENTS).map(|n| format!("ev-{n}")).collect();
    assert_eq!(ids, expected);
}
