//! One ledger, one owner (issue 27), through the `tla` binary: read
//! commands never create a ledger; `tla demo` never replaces a ledger a
//! running `tla serve` or `tla view` holds, and swaps a finished one in
//! whole; a second writer on the same durable consumer refuses to start,
//! so the stream is never split between two ledgers.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(30);
const STRUCTURED: &str = "application/cloudevents+json";

/// The entries of the directory, sorted (an absent directory: `None`).
fn listing(dir: &Path) -> Option<Vec<String>> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut names: Vec<String> = entries
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    Some(names)
}

/// `tla --data-dir DIR ARGS`.
fn tla_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_tla"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("TLA_DATA_DIR")
        .output()
        .expect("run tla");
    let code = output.status.code().unwrap_or(-1);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    Run {
        code,
        stdout,
        stderr,
        args: args.join(" "),
    }
}

#[test]
fn read_commands_on_a_directory_without_a_ledger_fail_and_create_nothing() {
    let env = Env::new();
    let key = env.path("audit.key");
    env.run(&["key", "generate", "--out", key.to_str().unwrap()])
        .assert_code(0);
    let public = format!("{}.pub", key.display());
    let trusted = env.path("kept.checkpoint");
    let evidence = env.path("bundle.json");
    let reads: Vec<Vec<&str>> = vec![
        vec!["verify"],
        vec!["export"],
        vec!["log"],
        vec![
            "report", "--tenant", "alver", "--period", "2026-01", "--as-of", "0",
        ],
        vec![
            "report", "issue", "--tenant", "alver", "--period", "2026-01",
        ],
        vec!["contacts", "--tenant", "alver"],
        vec![
            "evidence",
            "export",
            "--tenant",
            "alver",
            "--period",
            "2026-01",
            "--out",
            evidence.to_str().unwrap(),
        ],
        vec![
            "audit",
            "--trusted",
            trusted.to_str().unwrap(),
            "--key",
            &public,
        ],
        vec!["checkpoint", "--latest"],
        vec!["proof", "inclusion", "--seq", "0"],
        vec!["view", "--listen", "127.0.0.1:0"],
        vec!["projector", "serve", "--listen", "127.0.0.1:0"],
    ];
    let empty = env.path("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = env.path("missing");
    for dir in [&empty, &missing] {
        let before = listing(dir);
        for args in &reads {
            tla_in(dir, args)
                .assert_code(1)
                .assert_stderr_contains(&format!("no ledger in {}", dir.display()));
            assert_eq!(
                listing(dir),
                before,
                "tla {} changed {}",
                args.join(" "),
                dir.display()
            );
        }
    }
    assert_eq!(listing(&empty), Some(vec![]));
    assert!(!missing.exists());
    assert!(!trusted.exists() && !evidence.exists());
    // A command that writes still creates one where there is none.
    let file = env.write("one.json", event_json("alver", "e-1", "INC-1").as_bytes());
    tla_in(&empty, &["import", file.to_str().unwrap()]).assert_code(0);
    tla_in(&empty, &["verify"]).assert_stdout_contains("ok: 1 entries verified");
}

/// The ids of the ledger's events, through `tla export`.
fn exported_ids(dir: &Path) -> Vec<String> {
    let run = tla_in(dir, &["export"]);
    run.assert_code(0);
    export_events(&run.stdout)
        .iter()
        .map(|event| event["id"].as_str().expect("id").to_owned())
        .collect()
}

/// POSTs an outage event with id `id` to the service; asserts the 202.
fn post(service: &Service, id: &str) {
    let event = outage_json(
        "alver",
        id,
        &format!("O-{id}"),
        "2026-01-10T10:00:00Z",
        true,
    );
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &event);
    assert_eq!(status, 202, "{body}");
}

/// Leftovers of a demo's staging directory beside `dir`.
fn staging_leftovers(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    listing(dir.parent().unwrap())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&format!(".{name}.demo-")))
        .collect()
}

const SMALL_DEMO: [&str; 5] = ["demo", "--tenants", "1", "--months", "1"];

#[test]
fn demo_refuses_a_ledger_the_service_holds_and_loses_nothing_it_acknowledged() {
    let env = Env::new();
    env.run(&SMALL_DEMO).assert_code(0);
    let demo_size = exported_ids(&env.data_dir()).len() as u64;
    let nats = Nats::start(env.path("nats"));
    let mut service = start_serve(&env, &nats, &[]);
    post(&service, "held-1");
    service.wait_for_size(demo_size + 1, WAIT);
    let pid = service.child.as_ref().unwrap().id();
    env.run(&SMALL_DEMO)
        .assert_code(1)
        .assert_stderr_contains("is held by `tla serve`")
        .assert_stderr_contains(&format!("(pid {pid})"))
        .assert_stderr_contains(&service.url("/v1/tenants"))
        .assert_stderr_contains("nothing was changed");
    assert!(staging_leftovers(&env.data_dir()).is_empty());
    // The service never noticed: it keeps appending to the same ledger.
    post(&service, "held-2");
    service.wait_for_size(demo_size + 2, WAIT);
    service.stop();
    let ids = exported_ids(&env.data_dir());
    assert_eq!(ids.len() as u64, demo_size + 2);
    for id in ["held-1", "held-2"] {
        assert_eq!(ids.iter().filter(|i| *i == id).count(), 1, "{id} once");
    }
    env.run(&["verify"]).assert_code(0);
}

/// `tla view` over `dir` on a free port, running until dropped.
struct Viewer {
    child: std::process::Child,
}

impl Viewer {
    fn start(dir: &Path) -> Viewer {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tla"))
            .arg("--data-dir")
            .arg(dir)
            .args(["view", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tla view");
        wait_for("tla view to listen", WAIT, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Viewer { child }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.child.kill().expect("kill tla view");
        self.child.wait().expect("reap tla view");
    }
}

#[test]
fn demo_refuses_a_ledger_the_viewer_holds_and_swaps_in_a_new_one_when_free() {
    let env = Env::new();
    env.run(&SMALL_DEMO).assert_code(0);
    let first = exported_ids(&env.data_dir());
    let viewer = Viewer::start(&env.data_dir());
    env.run(&[&SMALL_DEMO[..], &["--seed", "7"]].concat())
        .assert_code(1)
        .assert_stderr_contains(&format!("(pid {})", viewer.child.id()))
        // The holder is named as what it is, with the address it serves
        // (issue 23), no longer by its command line.
        .assert_stderr_contains("held by `tla view`")
        .assert_stderr_contains("the web report viewer at http://127.0.0.1:")
        .assert_stderr_contains("nothing was changed");
    drop(viewer);
    assert_eq!(
        exported_ids(&env.data_dir()),
        first,
        "the held ledger is unchanged"
    );
    // Free, the demo replaces its own ledger whole.
    env.run(&[&SMALL_DEMO[..], &["--seed", "7"]].concat())
        .assert_code(0);
    let second = exported_ids(&env.data_dir());
    assert_ne!(second, first, "seed 7 gives another history");
    env.run(&["verify"]).assert_code(0);
    assert!(env.data_dir().join("TLA-DEMO").exists());
    assert!(staging_leftovers(&env.data_dir()).is_empty());
}

/// A `tla serve` over `dir` that is expected to refuse: its process and log.
struct Refused {
    child: std::process::Child,
    log: PathBuf,
}

impl Refused {
    fn spawn(env: &Env, dir: &Path, nats: &Nats) -> Refused {
        let log = env.path(&format!(
            "{}.log",
            dir.file_name().unwrap().to_string_lossy()
        ));
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_tla"))
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--nats", &nats.url(), "--tokens"])
            .arg(env.path("tokens.toml"))
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .env_remove("TLA_DATA_DIR")
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start tla serve");
        Refused { child, log }
    }

    /// Waits for its exit (killing it after `WAIT`): (exit code, log).
    fn wait(mut self) -> (i32, String) {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > WAIT {
                self.child.kill().expect("kill");
                self.child.wait().expect("reap");
                panic!("the second tla serve did not stop within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = std::fs::read_to_string(&self.log).expect("log");
        (status.code().unwrap_or(-1), log)
    }
}

#[test]
fn a_second_writer_on_the_same_consumer_refuses_and_the_first_gets_every_event_once() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let mut first = start_serve(&env, &nats, &[]);
    // Through the stream, so that every ledger fed by it has alver's
    // agreement (the writer refuses a tenant's events before it).
    let agreement = agreement_json("alver");
    let (status, body) = first.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &agreement);
    assert_eq!(status, 202, "{body}");
    first.wait_for_size(1, WAIT);
    for n in 1..=3 {
        post(&first, &format!("e-{n}"));
    }
    first.wait_for_size(4, WAIT);
    // Another data directory, the default consumer name: refused, naming
    // the consumer and both ledgers. Events published meanwhile all land
    // in the first ledger, once.
    let other: PathBuf = env.path("other-ledger");
    let second = Refused::spawn(&env, &other, &nats);
    for n in 4..=6 {
        post(&first, &format!("e-{n}"));
    }
    let (code, log) = second.wait();
    assert_eq!(code, 1, "{log}");
    let first_dir = std::fs::canonicalize(env.data_dir()).unwrap();
    let other_dir = std::fs::canonicalize(&other).unwrap();
    for part in [
        "consumer \"tla-ledger\" feeds another ledger: ledger ".to_string(),
        format!("in {} on ", first_dir.display()),
        "this is ledger ".to_string(),
        format!("in {} on ", other_dir.display()),
        "--consumer NAME".to_string(),
    ] {
        assert!(log.contains(&part), "{part:?} missing from:\n{log}");
    }
    first.wait_for_size(7, WAIT);
    // Refused also while the first writer is stopped: the consumer is its.
    first.stop();
    let (code, log) = Refused::spawn(&env, &other, &nats).wait();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("feeds another ledger"), "{log}");
    let mut ids = exported_ids(&env.data_dir());
    ids.sort();
    let mut expected: Vec<String> = (1..=6).map(|n| format!("e-{n}")).collect();
    expected.insert(0, "agreement-alver".into());
    assert_eq!(ids, expected);
    assert_eq!(exported_ids(&other), Vec::<String>::new());
    // The first writer restarts on its own consumer and carries on.
    let mut first = start_serve(&env, &nats, &[]);
    post(&first, "e-7");
    first.wait_for_size(8, WAIT);
    first.stop();
    // A new ledger on a consumer name of its own replays the whole stream.
    let tokens = env.path("tokens.toml");
    let replay = Service::start_in(
        &env,
        &other,
        &[
            "serve",
            "--nats",
            &nats.url(),
            "--tokens",
            tokens.to_str().unwrap(),
            "--consumer",
            "replica-2",
        ],
    );
    replay.wait_for_size(8, WAIT);
}
