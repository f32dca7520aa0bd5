//! End-to-end tests of the `tla` command: import, verify, export, log,
//! agreement publish, and their exit codes (docs/CLI.md).

mod common;

use common::{event_json, ndjson, Env};

#[test]
fn import_then_verify_export_and_verify_the_export() {
    let env = Env::new();
    let file = env.write("events.ndjson", ndjson(2500).as_bytes());
    env.run(&["import", file.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains("2500 appended, 0 duplicate, 0 rejected; ledger size 2500");
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 2500 entries verified, 3 tenants");
    let export = env.path("ledger.jsonl");
    env.run(&["export", "--out", export.to_str().unwrap()])
        .assert_code(0);
    env.run(&["verify", "--export", export.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains("2500 entries verified");
    let events = env.exported_events();
    assert_eq!(events.len(), 2500);
    assert_eq!(events[17]["id"], "ev-17");
    // A second import of the same file appends nothing.
    env.run(&["import", file.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains("0 appended, 2500 duplicate, 0 rejected; ledger size 2500");
}

#[test]
fn a_tenant_export_verifies_on_its_own() {
    let env = Env::new();
    let file = env.write("events.ndjson", ndjson(300).as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let export = env.path("fedje.jsonl");
    env.run(&[
        "export",
        "--tenant",
        "fedje",
        "--out",
        export.to_str().unwrap(),
    ])
    .assert_code(0);
    let text = std::fs::read_to_string(&export).unwrap();
    assert_eq!(text.lines().count(), 101, "header and 100 entries");
    env.run(&["verify", "--export", export.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains("export of tenant fedje: 100 entries verified");
    // Dropping one of the tenant's entries is caught.
    let dropped: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(n, _)| *n != 40)
        .map(|(_, l)| l)
        .collect();
    let broken = env.write("dropped.jsonl", (dropped.join("\n") + "\n").as_bytes());
    env.run(&["verify", "--export", broken.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("line 41")
        .assert_stderr_contains("entries 39..=39 are missing");
}

/// Edits one export line's event and expects `verify --export` to fail at
/// that line, naming the position.
#[test]
fn an_edited_export_fails_at_the_edited_entry() {
    let env = Env::new();
    let file = env.write("events.ndjson", ndjson(50).as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let export = env.run(&["export"]).stdout.clone();
    let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
    // Line 1 is the header; the entry at position 20 is on line 22.
    lines[21] = lines[21].replace("\\\"P2\\\"", "\\\"P4\\\"");
    let edited = env.write("edited.jsonl", (lines.join("\n") + "\n").as_bytes());
    env.run(&["verify", "--export", edited.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("line 22: ledger position 20: entry was changed");
    // Swapping two entry lines is caught as a reordering.
    let mut swapped = export.lines().map(str::to_owned).collect::<Vec<_>>();
    swapped.swap(31, 32);
    let swapped_file = env.write("swapped.jsonl", (swapped.join("\n") + "\n").as_bytes());
    env.run(&["verify", "--export", swapped_file.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("ledger position 30: entries were reordered");
}

#[test]
fn invalid_input_appends_nothing_and_lists_every_error() {
    let env = Env::new();
    let mut text = ndjson(5);
    text.push_str("{\"specversion\":\"1.0\",\"id\":\"x\"}\n");
    text.push_str(&event_json("alver", "ok-6", "INC-6"));
    text.push('\n');
    text.push_str(&event_json("Alver", "bad-tenant", "INC-7"));
    text.push('\n');
    let file = env.write("mixed.ndjson", text.as_bytes());
    env.run(&["import", file.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("line 6")
        .assert_stderr_contains("line 8")
        .assert_stderr_contains("tenant")
        .assert_stderr_contains("nothing was appended");
    // Nothing at all was stored: not even an empty ledger was created.
    assert!(
        !env.data_dir().exists(),
        "a refused import created the ledger directory"
    );

    let rejects = env.path("rejects.ndjson");
    env.run(&[
        "import",
        file.to_str().unwrap(),
        "--skip-invalid",
        "--rejects",
        rejects.to_str().unwrap(),
    ])
    .assert_code(0)
    .assert_stdout_contains("6 appended, 0 duplicate, 2 rejected");
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(rejected.lines().count(), 2);
    assert!(rejected.contains("\"line\":6"), "{rejected}");
}

#[test]
fn a_conflicting_event_is_refused_with_its_position() {
    let env = Env::new();
    let first = env.write("a.json", event_json("alver", "ev-1", "INC-1").as_bytes());
    env.run(&["import", first.to_str().unwrap()]).assert_code(0);
    let conflict = env.write(
        "b.json",
        event_json("alver", "ev-1", "INC-CHANGED").as_bytes(),
    );
    env.run(&["import", conflict.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("conflicts with ledger position 0");
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 1 entries");
}

#[test]
fn usage_errors_exit_2_and_missing_ledgers_exit_1() {
    let env = Env::new();
    env.run(&["import"]).assert_code(2);
    env.run(&["frobnicate"]).assert_code(2);
    env.run(&["log", "--type", "outage.begun"])
        .assert_code(2)
        .assert_stderr_contains("unknown event type");
    env.run(&["verify"])
        .assert_code(1)
        .assert_stderr_contains("no ledger in");
    env.run(&["import", "/nonexistent/file.json"])
        .assert_code(1)
        .assert_stderr_contains("/nonexistent/file.json");
}

#[test]
fn log_filters_by_tenant_type_and_time() {
    let env = Env::new();
    let mut text = ndjson(30);
    let resolved = serde_json::json!({
        "specversion": "1.0", "id": "res-1", "source": "test/e2e", "type": "incident.resolved",
        "time": "2025-11-20T12:00:00Z", "tenant": "fedje", "data": {"incident_id": "INC-1"}
    });
    text.push_str(&resolved.to_string());
    text.push('\n');
    let file = env.write("events.ndjson", text.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let fedje = env.run(&["log", "--tenant", "fedje"]);
    assert_eq!(fedje.assert_code(0).stdout.lines().count(), 11);
    let resolved = env.run(&["log", "--type", "incident.resolved"]);
    assert_eq!(resolved.stdout.lines().count(), 1, "{}", resolved.stdout);
    assert!(resolved.stdout.contains("res-1"));
    let since = env.run(&["log", "--since", "2025-11-10"]);
    assert_eq!(since.stdout.lines().count(), 1);
    let limited = env.run(&["log", "--limit", "4", "--json"]);
    assert_eq!(limited.stdout.lines().count(), 4);
    let line: serde_json::Value =
        serde_json::from_str(limited.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["position"], 0);
}

const AGREEMENT_TOML: &str = r#"
version = "2026-1"
effective_from = "2026-01-01T00:00:00+01:00"
timezone = "Europe/Oslo"

[calendars.office]
days = ["mon", "tue", "wed", "thu", "fri"]
from = "07:30"
to = "16:00"
holidays = "NO"

[[services]]
id = "epost"
name = "E-post"
maintenance_notice_hours = 120
availability = { target_pct = "99.5", calendar = "24x7" }

[services.incidents]
calendar = "office"
targets.P1 = { response_min = 30, resolution_min = 240, calendar = "24x7" }
targets.P2 = { response_min = 60, resolution_min = 480 }
targets.P3 = { response_min = 240, resolution_min = 2400 }
targets.P4 = { response_min = 480, resolution_min = 4800 }
"#;

#[test]
fn agreement_publish_validates_and_is_idempotent() {
    let env = Env::new();
    let file = env.write("alver.toml", AGREEMENT_TOML.as_bytes());
    let path = file.to_str().unwrap();
    env.run(&["agreement", "check", path])
        .assert_code(0)
        .assert_stdout_contains("version 2026-1");
    env.run(&["agreement", "publish", path, "--tenant", "alver"])
        .assert_code(0)
        .assert_stdout_contains("at ledger position 0");
    env.run(&["agreement", "publish", path, "--tenant", "alver"])
        .assert_code(0)
        .assert_stdout_contains("already published at ledger position 0");
    let log = env.run(&["log", "--type", "agreement.published"]);
    assert_eq!(log.stdout.lines().count(), 1);

    let broken = AGREEMENT_TOML
        .replace("calendar = \"office\"", "calendar = \"kontor\"")
        .replace("Europe/Oslo", "Europe/Atlantis")
        .replace(
            "targets.P3 = { response_min = 240, resolution_min = 2400 }\n",
            "",
        )
        .replace("to = \"16:00\"", "to = \"07:00\"");
    let bad = env.write("bad.toml", broken.as_bytes());
    let run = env.run(&[
        "agreement",
        "publish",
        bad.to_str().unwrap(),
        "--tenant",
        "alver",
    ]);
    run.assert_code(1)
        .assert_stderr_contains("kontor")
        .assert_stderr_contains("Europe/Atlantis")
        .assert_stderr_contains("P3")
        .assert_stderr_contains("calendars.office");
    assert_eq!(
        env.run(&["log"]).stdout.lines().count(),
        1,
        "nothing more appended"
    );
}

#[test]
fn demo_builds_and_verifies_a_ledger_and_says_what_next() {
    let env = Env::new();
    let run = env.run(&["demo", "--tenants", "3"]);
    run.assert_code(0)
        .assert_stdout_contains("Verified every hash")
        .assert_stdout_contains("tla log");
    env.run(&["verify"]).assert_code(0);
    // A rerun replaces the demo's own ledger with the same history.
    let again = env.run(&["demo", "--tenants", "3"]);
    again.assert_code(0);
    let events = |run: &common::Run| run.stdout.lines().next().map(str::to_owned);
    assert_eq!(events(&run), events(&again));
    // It refuses a directory it did not make.
    let other = Env::new();
    std::fs::create_dir_all(other.data_dir()).unwrap();
    std::fs::write(other.data_dir().join("precious"), b"x").unwrap();
    other
        .run(&["demo"])
        .assert_code(1)
        .assert_stderr_contains("did not create");
}

/// docs/verify_export.py, the auditor's verifier in another language,
/// accepts what `tla export` writes and rejects an edited export.
#[test]
fn the_python_reference_verifier_agrees() {
    common::require_python("blake3");
    let env = Env::new();
    let file = env.write("events.ndjson", ndjson(200).as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify_export.py");
    for tenant in [None, Some("gulen")] {
        let export = env.path("export.jsonl");
        let mut args = vec!["export", "--out", export.to_str().unwrap()];
        args.extend(tenant.iter().flat_map(|t| ["--tenant", *t]));
        env.run(&args).assert_code(0);
        let run = std::process::Command::new("python3")
            .arg(script)
            .arg(&export)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success() && stdout.starts_with("ok:"),
            "{tenant:?}: {stdout}"
        );
        let text = std::fs::read_to_string(&export)
            .unwrap()
            .replacen("INC-", "INK-", 1);
        let edited = env.write("edited.jsonl", text.as_bytes());
        let run = std::process::Command::new("python3")
            .arg(script)
            .arg(&edited)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            run.status.code(),
            Some(1),
            "{tenant:?}: edited export accepted: {stdout}"
        );
        assert!(stdout.contains("entry changed"), "{stdout}");
    }
}
