//! Crash safety: `tla import` of a large file is killed with SIGKILL at
//! random moments, many times; a final import completes it, and then every
//! event is in the ledger exactly once and the chain verifies. And torn
//! writes (issue 17): after each SIGKILL, the segment file gets the bytes of
//! a real next append cut at a random offset past its committed end; the
//! ledger opens, cuts them, verifies, and holds every acknowledged event
//! exactly once and none of the torn append's.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{event_json, ndjson, Env};
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

/// Events of the torn-write test's import.
const TORN_EVENTS: usize = 20_000;
/// Rounds of SIGKILL and a torn tail.
const TORN_ROUNDS: usize = 5;

/// The last segment file of a ledger directory.
fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .expect("a segments directory")
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files.pop().expect("a segment file")
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The ids of the ledger's events, in ledger order.
fn ids(env: &Env) -> Vec<String> {
    env.exported_events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_segment_torn_after_sigkill_is_cut_and_every_acknowledged_event_stays_once() {
    let seed: u64 = std::env::var("TLA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("torn-write test seed {seed} (rerun with TLA_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let env = Env::new();
    let file = env.write("large.ndjson", ndjson(TORN_EVENTS).as_bytes());
    let file = file.to_str().unwrap();
    // The torn append: events never acknowledged, so never to be seen.
    let extra: String = (0..400)
        .map(|n| event_json("gulen", &format!("torn-{n}"), &format!("INC-T{n}")) + "\n")
        .collect();
    let extra = env.write("torn.ndjson", extra.as_bytes());
    let extra = extra.to_str().unwrap();
    let started = Instant::now();
    Env::new().run(&["import", file]).assert_code(0);
    let full = started.elapsed();

    let mut torn_rounds = 0;
    let mut early_kills = 0;
    // Late in the import: its first half validates before any append.
    let mut full_ms = full.as_millis().max(40) as u64;
    let mut round = 0;
    while torn_rounds < TORN_ROUNDS {
        round += 1;
        let delay = Duration::from_millis(rng.gen_range(full_ms / 2..=full_ms));
        let mut child = env
            .tla()
            .args(["import", file])
            .spawn()
            .expect("spawn tla import");
        std::thread::sleep(delay);
        if child.try_wait().expect("poll child").is_none() {
            child.kill().expect("SIGKILL");
        }
        child.wait().expect("reap child");
        if !env.data_dir().join("segments").exists() {
            // The calibrating import ran faster than this one (a busy
            // machine, a cold binary): kill later, and do not count it.
            early_kills += 1;
            assert!(
                early_kills <= 20,
                "20 kills landed before the first append; the last after {delay:?}"
            );
            full_ms = full_ms * 3 / 2;
            println!("round {round}: killed after {delay:?} before the first append; waiting up to {full_ms} ms from now on");
            continue;
        }
        // What the ledger holds now is what was acknowledged (opening cuts
        // any tail the kill left).
        env.run(&["verify"]).assert_code(0);
        let acknowledged = ids(&env);
        let segment = last_segment(&env.data_dir());
        let committed = std::fs::read(&segment).unwrap();

        // A real next append's bytes, made in a copy of the ledger.
        let copy = env.path(&format!("copy-{round}"));
        copy_dir(&env.data_dir(), &copy);
        env.run_in(&copy, &["import", extra]).assert_code(0);
        let grown =
            std::fs::read(copy.join("segments").join(segment.file_name().unwrap())).unwrap();
        assert!(grown.len() > committed.len() && grown.starts_with(&committed));
        let tail = &grown[committed.len()..];
        let cut = rng.gen_range(1..=tail.len());
        let mut torn = committed.clone();
        torn.extend_from_slice(&tail[..cut]);
        std::fs::write(&segment, &torn).unwrap();
        println!(
            "round {round}: killed after {delay:?} at {} entries; torn append cut at {cut} of {} bytes",
            acknowledged.len(),
            tail.len()
        );

        env.run(&["verify"])
            .assert_code(0)
            .assert_stdout_contains(&format!("ok: {} entries", acknowledged.len()));
        assert_eq!(
            std::fs::metadata(&segment).unwrap().len(),
            committed.len() as u64,
            "the torn tail is cut off"
        );
        assert_eq!(
            ids(&env),
            acknowledged,
            "every acknowledged event once, no torn one"
        );
        torn_rounds += 1;
    }

    env.run(&["import", file]).assert_code(0);
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("ok: {TORN_EVENTS} entries"));
    let ids: BTreeSet<String> = ids(&env).into_iter().collect();
    let expected: BTreeSet<String> = (0..TORN_EVENTS).map(|n| format!("ev-{n}")).collect();
    assert_eq!(ids, expected);
}
