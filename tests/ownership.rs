//! One ledger, one owner (issue 27), through the `tla` binary: read
//! commands never create a ledger; `tla demo` never replaces a ledger a
//! running `tla serve` or `tla view` holds, and swaps a finished one in
//! whole.

mod common;

use std::path::Path;
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
        .assert_stderr_contains(" view --listen 127.0.0.1:")
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
