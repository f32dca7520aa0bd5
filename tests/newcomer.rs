//! A newcomer's path past the demo (issue 23): the README's "Using it"
//! commands run verbatim from README.md on a fresh data directory with the
//! files of examples/; closed pipes end no command with a panic and leave
//! a ledger that verifies or none; the mistakes a newcomer makes (a wrong
//! tenant, an export given to import, a ledger the viewer holds, a demo
//! rerun over imported data) are answered in one clear sentence.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{free_port, wait_for, Env, Service};

/// The repository's root (where README.md and examples/ are).
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The commands of the README's "Using it" section: its first two `sh`
/// blocks (a ledger of one's own, then a new agreement version approved by
/// both parties), with `\`-continued lines joined and comment lines left
/// out.
fn using_it_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Using it\n")
        .nth(1)
        .expect("README.md has a \"## Using it\" section");
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .take(2)
        .filter_map(|rest| rest.split("\n```").next())
        .collect();
    assert_eq!(
        blocks.len(),
        2,
        "the \"Using it\" section has two ```sh blocks"
    );
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in blocks.iter().flat_map(|block| block.lines()) {
        if line.trim_start().starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                if !pending.trim().is_empty() {
                    commands.push(std::mem::take(&mut pending));
                }
                pending.clear();
            }
        }
    }
    commands
}

/// A shell whose `tla` is the binary under test, in `dir`, with the
/// default data directory (`./tla-data`).
fn shell(dir: &Path, script: &str) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_tla"))
        .parent()
        .expect("the binary's directory")
        .to_owned();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("TLA_DATA_DIR")
        .env_remove("TLA_SIGNING_KEY")
        .output()
        .expect("run bash")
}

fn copy_examples(to: &Path) {
    let examples = to.join("examples");
    std::fs::create_dir_all(&examples).expect("examples dir");
    for entry in std::fs::read_dir(repository().join("examples")).expect("examples/") {
        let entry = entry.expect("examples entry");
        std::fs::copy(entry.path(), examples.join(entry.file_name())).expect("copy example");
    }
}

#[test]
fn the_readme_using_it_commands_run_verbatim_on_a_fresh_data_dir() {
    let commands = using_it_commands();
    assert!(
        commands.len() >= 20,
        "the Using it block has {} commands",
        commands.len()
    );
    let env = Env::new();
    let dir = env.dir.path();
    copy_examples(dir);
    for command in &commands {
        assert!(command.starts_with("tla "), "not a tla command: {command}");
        let output = shell(dir, command);
        assert!(
            output.status.success(),
            "README command failed ({:?}): {command}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The mistake in examples/events.json is in rejects.ndjson as sent.
    let rejects = std::fs::read_to_string(dir.join("rejects.ndjson")).expect("rejects.ndjson");
    let reject: serde_json::Value =
        serde_json::from_str(rejects.lines().next().expect("one reject")).expect("JSON");
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    assert_eq!(reject["event"]["data"]["priority"], "P5", "{reject}");
    assert_eq!(reject["event"]["id"], "tdx-2026-0016", "{reject}");
    assert!(
        reject["errors"][0].as_str().unwrap().contains("priority"),
        "{reject}"
    );
    // The new version the README approves is in force: both parties said so.
    let log = shell(dir, "tla agreement log --tenant alver --lang en");
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("2026-2") && log.contains("in force: approved by both parties"),
        "{log}"
    );
    // Everything the commands did is in one ledger that verifies.
    let verify = shell(dir, "tla verify");
    assert!(verify.status.success(), "{verify:?}");
    // The examples' own checks: the Alertmanager config is one Alertmanager reads.
    let amtool = "/usr/bin/amtool";
    assert!(
        Path::new(amtool).is_file(),
        "{amtool} is missing: install prometheus-alertmanager (or run scripts/test)"
    );
    let checked = Command::new(amtool)
        .args(["check-config", "examples/alertmanager.yml"])
        .current_dir(dir)
        .output()
        .expect("run amtool");
    assert!(checked.status.success(), "{checked:?}");
}

/// Runs `script` (in which `tla` is the binary under test, with
/// `--data-dir` the environment's) and returns tla's exit code (written by
/// the script to `status`), its stderr, and the output.
fn piped(env: &Env, script: &str) -> (i32, String) {
    let script = script.replace(
        "tla ",
        &format!("tla --data-dir {} ", env.data_dir().display()),
    );
    let output = shell(env.dir.path(), &script);
    assert!(output.status.success(), "{script}: {output:?}");
    let status = std::fs::read_to_string(env.path("status")).expect("status file");
    let stderr = std::fs::read_to_string(env.path("stderr")).unwrap_or_default();
    (status.trim().parse().expect("a status"), stderr)
}

fn assert_no_panic(what: &str, (code, stderr): &(i32, String)) {
    assert_ne!(*code, 101, "{what} panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}:\n{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{what}:\n{stderr}");
}

/// The ledger verifies completely, or there is none.
fn verifies_or_absent(env: &Env) {
    if env.data_dir().exists() {
        env.run(&["verify"]).assert_code(0);
    }
}

#[test]
fn closed_pipes_end_no_command_with_a_panic() {
    let env = Env::new();
    // `| head -1` as a user types it; then a reader gone before the
    // command writes anything, so that every write meets a closed pipe.
    let demo = "tla demo --tenants 1 --months 2";
    for script in [
        format!("{demo} 2>stderr | head -1; echo ${{PIPESTATUS[0]}} >status"),
        format!("{{ sleep 0.5; {demo} 2>stderr; echo $? >status; }} | true"),
    ] {
        let ran = piped(&env, &script);
        assert_no_panic(&script, &ran);
        assert_eq!(ran.0, 0, "{script}: {}", ran.1);
        verifies_or_absent(&env);
    }
    // The demo finished though nobody read it: its reports are issued.
    env.run(&["log", "--type", "report.issued", "--limit", "1"])
        .assert_code(0)
        .assert_stdout_contains("report.issued");
    for script in [
        "tla export 2>stderr | head -1; echo ${PIPESTATUS[0]} >status",
        "{ sleep 0.5; tla export 2>stderr; echo $? >status; } | true",
        "tla log 2>stderr | head -1; echo ${PIPESTATUS[0]} >status",
        "tla report --tenant alver --period 2025-12 --format md 2>stderr | head -1; echo ${PIPESTATUS[0]} >status",
    ] {
        let ran = piped(&env, script);
        assert_no_panic(script, &ran);
        assert_eq!(ran.0, 0, "{script}: {}", ran.1);
    }
    verifies_or_absent(&env);

    // A refused import whose errors nobody reads leaves no directory.
    let fresh = Env::new();
    let bad: String = (0..300)
        .map(|n| format!("{{\"specversion\":\"1.0\",\"id\":\"bad-{n}\"}}\n"))
        .collect();
    fresh.write("bad.ndjson", bad.as_bytes());
    for script in [
        "tla import bad.ndjson 2>&1 | head -1; echo ${PIPESTATUS[0]} >status",
        "{ sleep 0.5; tla import bad.ndjson 2>&1; echo $? >status; } | true",
    ] {
        let ran = piped(&fresh, script);
        assert_no_panic(script, &ran);
        assert_eq!(ran.0, 1, "{script}");
        assert!(
            !fresh.data_dir().exists(),
            "{script} left a ledger directory behind"
        );
    }
}

#[test]
fn a_wrong_tenant_is_an_error_naming_the_known_ones() {
    let env = Env::new();
    env.run(&["demo", "--tenants", "7", "--months", "1"])
        .assert_code(0);
    for args in [
        ["report", "--tenant", "alvr", "--period", "2025-11"].as_slice(),
        &["log", "--tenant", "alvr"],
        &["export", "--tenant", "alvr"],
        &["contacts", "--tenant", "alvr"],
    ] {
        env.run(args)
            .assert_code(1)
            .assert_stderr_contains("unknown tenant \"alvr\"")
            .assert_stderr_contains("alver (Alver)")
            .assert_stderr_contains("osteroy (Osterøy)")
            .assert_stderr_contains("`tla tenants` lists them");
    }
    env.run(&["tenants"])
        .assert_code(0)
        .assert_stdout_contains("TENANT")
        .assert_stdout_contains("osteroy     Osterøy");
    // A display name in any case names the tenant, as the id does.
    let by_id = env.run(&["report", "--tenant", "osteroy", "--period", "2025-11"]);
    by_id.assert_code(0);
    for name in ["Osterøy", "OSTERØY", "Alver"] {
        let run = env.run(&["report", "--tenant", name, "--period", "2025-11"]);
        run.assert_code(0);
        if name != "Alver" {
            assert_eq!(run.stdout, by_id.stdout, "{name}");
        }
    }
    let rows = env.run(&["log", "--tenant", "Alver", "--limit", "2"]);
    rows.assert_code(0).assert_stdout_contains(" alver ");
    assert_eq!(rows.stdout.lines().count(), 2, "rows alone in a pipe");
}

#[test]
fn an_export_given_to_import_is_recognised() {
    let env = Env::new();
    env.write("events.ndjson", common::ndjson(20).as_bytes());
    env.run(&["import", env.path("events.ndjson").to_str().unwrap()])
        .assert_code(0);
    let export = env.path("ledger.jsonl");
    env.run(&["export", "--out", export.to_str().unwrap()])
        .assert_code(0);
    let fresh = env.path("fresh");
    let run = env.run_in(&fresh, &["import", export.to_str().unwrap()]);
    run.assert_code(1)
        .assert_stderr_contains("is a `tla export` file")
        .assert_stderr_contains("tla verify --export");
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one line, not an error per entry:\n{}",
        run.stderr
    );
    assert!(!fresh.exists(), "the refused import created {fresh:?}");
}

#[test]
fn a_held_ledger_is_read_through_the_viewer_and_named_to_writers() {
    let env = Env::new();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tla"));
    command
        .arg("--data-dir")
        .arg(env.data_dir())
        .env_remove("TLA_DATA_DIR")
        .args(["demo", "--tenants", "1", "--months", "2", "--serve"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    let viewer = Service::spawn(&env, port, command);
    wait_for("the demo's viewer", Duration::from_secs(120), || {
        viewer.get("/").is_ok_and(|r| r.status() == 200)
    });
    let said = std::fs::read_to_string(env.path("service.log")).expect("demo output");
    assert!(
        said.contains("every command above works from another terminal"),
        "{said}"
    );
    // The read commands of the demo's "Next:" list work while it serves.
    let copy_note = "a copy";
    env.run(&[
        "report", "--tenant", "alver", "--period", "2025-12", "--format", "md",
    ])
    .assert_code(0)
    .assert_stderr_contains(copy_note)
    .assert_stdout_contains("Tenestenivårapport: alver");
    env.run(&["log", "--tenant", "alver", "--limit", "3"])
        .assert_code(0);
    env.run(&["verify"]).assert_code(0);
    env.run(&["tenants"])
        .assert_code(0)
        .assert_stdout_contains("alver");
    // A command that writes names the process and the URL.
    let event = common::event_json("alver", "held-1", "INC-HELD");
    let file = env.write("event.json", event.as_bytes());
    let pid = viewer.child.as_ref().map(std::process::Child::id).unwrap();
    env.run(&["import", file.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains(&format!("`tla demo --serve` (pid {pid})"))
        .assert_stderr_contains(&format!("http://127.0.0.1:{port}/"));
    env.run(&["demo", "--tenants", "1", "--months", "1"])
        .assert_code(1)
        .assert_stderr_contains(&format!("(pid {pid})"));
}

#[test]
fn a_demo_rerun_says_it_replaces_and_keeps_what_was_imported() {
    let env = Env::new();
    env.run(&["demo", "--tenants", "1", "--months", "1"])
        .assert_code(0);
    env.run(&["demo", "--tenants", "1", "--months", "1"])
        .assert_code(0)
        .assert_stdout_contains("Replacing the demo ledger")
        .assert_stdout_contains("all written by the demo");
    let event = common::event_json("alver", "mine-1", "INC-MINE");
    let file = env.write("mine.json", event.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    env.run(&["demo", "--tenants", "1", "--months", "1"])
        .assert_code(1)
        .assert_stderr_contains("1 entries the demo did not write")
        .assert_stderr_contains("--force")
        .assert_stderr_contains("nothing was changed");
    env.run(&["log", "--tenant", "alver"])
        .assert_code(0)
        .assert_stdout_contains("mine-1");
    env.run(&["demo", "--tenants", "1", "--months", "1", "--force"])
        .assert_code(0)
        .assert_stdout_contains("1 of them not written by the demo");
    let log = env.run(&["log", "--tenant", "alver"]);
    log.assert_code(0);
    assert!(!log.stdout.contains("mine-1"), "{}", log.stdout);
}

#[test]
fn rejects_hold_each_event_as_received() {
    let env = Env::new();
    let good = common::event_json("alver", "ok-1", "INC-1");
    // Keys in another order than canonical, a bad priority, and a line
    // that is not JSON at all.
    let bad = r#"{"type":"incident.opened","id":"bad-1","specversion":"1.0","source":"test/e2e","time":"2025-11-03T09:15:00+01:00","tenant":"alver","data":{"incident_id":"INC-2","service":"epost","priority":"P9"}}"#;
    let text = format!("{good}\n{bad}\nthis is not json\n");
    let file = env.write("mixed.ndjson", text.as_bytes());
    let rejects = env.path("rejects.ndjson");
    env.run(&[
        "import",
        file.to_str().unwrap(),
        "--skip-invalid",
        "--rejects",
        rejects.to_str().unwrap(),
    ])
    .assert_code(0)
    .assert_stdout_contains("1 appended, 0 duplicate, 2 rejected");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 2);
    let received: serde_json::Value = serde_json::from_str(bad).unwrap();
    assert_eq!(lines[0]["event"], received, "the event as sent");
    assert!(lines[0]["errors"][0].as_str().unwrap().contains("priority"));
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[1]["raw"], "this is not json");
    assert!(lines[1].get("event").is_none());
    // `--rejects -` writes them to stdout.
    let again = env.run(&[
        "import",
        file.to_str().unwrap(),
        "--skip-invalid",
        "--rejects",
        "-",
    ]);
    again
        .assert_code(0)
        .assert_stdout_contains("\"raw\":\"this is not json\"");
}

#[test]
fn dash_means_stdout_for_every_out() {
    let env = Env::new();
    env.run(&["demo", "--tenants", "1", "--months", "2"])
        .assert_code(0);
    // The commands run in the test's directory: a file named `-` would be
    // written there.
    let export = env.run(&["export", "--out", "-"]);
    export.assert_code(0);
    assert!(export.stdout.starts_with("{\"format\":\"tla-export/1\""));
    let report = env.run(&[
        "report", "--tenant", "alver", "--period", "2025-11", "--out", "-",
    ]);
    report
        .assert_code(0)
        .assert_stdout_contains("\"report_digest\"");
    let issued = env.run(&[
        "report", "issue", "--tenant", "alver", "--period", "2025-11", "--out", "-",
    ]);
    issued
        .assert_code(0)
        .assert_stdout_contains("\"report_digest\"");
    let bundle = env.run(&[
        "evidence", "export", "--tenant", "alver", "--period", "2025-11", "--out", "-",
    ]);
    bundle
        .assert_code(0)
        .assert_stdout_contains("\"checkpoint\"");
    let checkpoint = env.run(&["checkpoint", "--latest", "--out", "-"]);
    checkpoint
        .assert_code(0)
        .assert_stdout_contains("demo.tla-ledger.local/ledger");
    assert!(!Path::new("-").exists(), "a file named - was written");
}

#[test]
fn publishing_an_agreement_that_drops_services_with_events_warns() {
    let env = Env::new();
    // November 2025 to January 2026: alver's demo agreement has ten
    // services; examples/alver.toml (from 2026-01-01) has two.
    env.run(&["demo", "--tenants", "1", "--months", "3"])
        .assert_code(0);
    let agreement = repository().join("examples/alver.toml");
    env.run(&[
        "agreement",
        "publish",
        agreement.to_str().unwrap(),
        "--tenant",
        "Alver",
    ])
    .assert_code(0)
    .assert_stdout_contains("for alver at ledger position")
    .assert_stderr_contains("warning: version 2026-1 of alver has no ")
    .assert_stderr_contains("set aside in the reports of 2026-01");
    // The same again is a duplicate, and warns of nothing new.
    env.run(&[
        "agreement",
        "publish",
        agreement.to_str().unwrap(),
        "--tenant",
        "alver",
    ])
    .assert_code(0)
    .assert_stdout_contains("already published");
}

#[test]
fn the_small_things() {
    let env = Env::new();
    let key_help = env.run(&["key", "generate", "--help"]);
    key_help.assert_code(0);
    assert!(
        !key_help.stdout.contains("--data-dir"),
        "{}",
        key_help.stdout
    );
    let issue_help = env.run(&["report", "issue", "--help"]);
    issue_help
        .assert_code(0)
        .assert_stdout_contains("The tenant (municipality)")
        .assert_stdout_contains("The period, YYYY-MM");
    let agreement = repository().join("examples/alver.toml");
    env.run(&["agreement", "check", agreement.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains("with 2 services");
    env.run(&["demo", "--tenants", "1", "--months", "2"])
        .assert_code(0);
    // A date is an instant to `contacts --at` as to `log --since`.
    env.run(&["contacts", "--tenant", "alver", "--at", "2025-12-15"])
        .assert_code(0)
        .assert_stdout_contains("Contact persons of Alver (alver)");
    // On a terminal (script(1) gives it one) the log's table has a header.
    let script = format!(
        "{} --data-dir {} log --since 2025-12-15 --limit 1",
        env!("CARGO_BIN_EXE_tla"),
        env.data_dir().display()
    );
    let on_terminal = Command::new("script")
        .args(["-qec", &script, "/dev/null"])
        .env_remove("TLA_DATA_DIR")
        .output()
        .expect("run script(1) from util-linux");
    let table = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{on_terminal:?}");
    assert!(
        table.contains("POSITION  TENANT        TYPE") && table.contains("TIME (UTC)"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 2, "the header and one row:\n{table}");
}
