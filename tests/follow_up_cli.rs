//! The follow-up commands end to end (`tla deviation explain`, `tla action
//! open|close`, `tla report acknowledge`) over a small demo ledger: what
//! they append is what the next report shows, a rerun appends nothing, and
//! what an auditor would question (an explanation of a deviation no report
//! shows, an action opened twice or closed while not open, an
//! acknowledgement of a report never issued) is refused with nothing
//! appended.

mod common;

use common::Env;
use serde_json::Value;

/// A one-tenant, three-month demo ledger (2025-11 to 2026-01).
fn demo() -> Env {
    let env = Env::new();
    env.run(&["demo", "--tenants", "1", "--months", "3"])
        .assert_code(0);
    env
}

fn report(env: &Env, period: &str) -> Value {
    let run = env.run(&["report", "--tenant", "alver", "--period", period]);
    run.assert_code(0);
    serde_json::from_str(&run.stdout).expect("a JSON report")
}

fn size(env: &Env) -> usize {
    env.exported_events().len()
}

/// The first deviation of 2026-01 without an explanation.
fn unexplained(env: &Env) -> Value {
    let report = report(env, "2026-01");
    report["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["explanation"].is_null())
        .cloned()
        .expect("the demo's 2026-01 has an unexplained deviation")
}

/// Action `id` as the current month's report lists it, once the second
/// of the last command has passed: the preliminary report's end is the
/// moment it is made, and only what happened before it counts.
fn current_action(env: &Env, id: &str) -> Value {
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let now = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Oslo)
        .format("%Y-%m")
        .to_string();
    let current = report(env, &now);
    current["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action_id"] == id)
        .cloned()
        .expect("the current month lists the action")
}

/// Runs `args` twice: the first run appends and says `said`, the second
/// finds the same fact, says so and appends nothing. Returns the first run.
fn twice(env: &Env, args: &[&str], said: &str) -> common::Run {
    let first = env.run(args);
    first.assert_code(0).assert_stdout_contains(said);
    let before = size(env);
    env.run(args)
        .assert_code(0)
        .assert_stdout_contains("nothing appended");
    assert_eq!(size(env), before, "a rerun appended");
    first
}

#[test]
fn an_explanation_and_its_action_show_in_the_report_and_a_rerun_appends_nothing() {
    let env = demo();
    let deviation = unexplained(&env);
    let id = deviation["id"].as_str().unwrap();
    let explain = [
        "deviation",
        "explain",
        "--tenant",
        "alver",
        "--id",
        id,
        "--cause",
        "A disk controller failed in the SAN",
        "--action",
        "act-san",
    ];
    twice(
        &env,
        &explain,
        &format!("explained deviation {id} of alver"),
    )
    .assert_stderr_contains("no action act-san is opened for alver yet");
    let shown = report(&env, "2026-01");
    let shown = shown["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(
        shown["explanation"]["cause"],
        "A disk controller failed in the SAN"
    );
    assert_eq!(shown["explanation"]["action_id"], "act-san");

    let open = [
        "action",
        "open",
        "--tenant",
        "alver",
        "--id",
        "act-san",
        "--title",
        "Replace the controllers",
        "--owner",
        "Drift, IKT Nordhordland",
        "--due",
        "2099-01-01T00:00:00+01:00",
        "--deviation",
        id,
    ];
    twice(
        &env,
        &open,
        "opened action act-san of alver (due 2098-12-31T23:00:00Z)",
    );
    // The action was opened now, so the current month lists it, open.
    let action = current_action(&env, "act-san");
    assert_eq!(action["status"], "open");
    assert_eq!(action["deviation_ids"], serde_json::json!([id]));

    let close = [
        "action",
        "close",
        "--tenant",
        "alver",
        "--id",
        "act-san",
        "--outcome",
        "Both controllers replaced; no fault since",
    ];
    twice(&env, &close, "closed action act-san of alver");
    let action = current_action(&env, "act-san");
    assert_eq!(action["status"], "closed");
    assert_eq!(
        action["outcome"],
        "Both controllers replaced; no fault since"
    );
    env.run(&["verify"]).assert_code(0);
}

/// `tla action open` of alver's action `id` with `title`, due `due`,
/// answering `deviations`.
fn open_action(env: &Env, id: &str, title: &str, due: &str, deviations: &[&str]) -> common::Run {
    let mut args = vec![
        "action", "open", "--tenant", "alver", "--id", id, "--title", title, "--owner", "o",
        "--due", due,
    ];
    for deviation in deviations {
        args.extend(["--deviation", deviation]);
    }
    env.run(&args)
}

/// `tla action close` of alver's action `id` with `outcome`.
fn close_action(env: &Env, id: &str, outcome: &str) -> common::Run {
    env.run(&[
        "action",
        "close",
        "--tenant",
        "alver",
        "--id",
        id,
        "--outcome",
        outcome,
    ])
}

#[test]
fn what_an_auditor_would_question_is_refused_and_nothing_appended() {
    let env = demo();
    let before = size(&env);
    let nothing = "0123456789abcdef";
    let due = "2026-03-01T00:00:00+01:00";
    let explain = |tenant: &str, id: &str| {
        env.run(&[
            "deviation",
            "explain",
            "--tenant",
            tenant,
            "--id",
            id,
            "--cause",
            "x",
        ])
    };
    let unknown = format!("no report of alver shows a deviation with id {nothing}");
    // (what is asked, what the refusal says)
    let cases: [(common::Run, &str); 7] = [
        // An id no report of the tenant shows (well formed, but of nothing).
        (explain("alver", nothing), &unknown),
        // A malformed id is named by its field.
        (explain("alver", "XYZ"), "data.deviation_id"),
        // A tenant the ledger has never seen.
        (explain("alvre", nothing), "no entries for tenant \"alvre\""),
        // An action answering a deviation no report shows.
        (open_action(&env, "act-1", "t", due, &[nothing]), &unknown),
        (open_action(&env, "act-1", "t", "next week", &[]), "--due"),
        // Closing an action that was never opened.
        (
            close_action(&env, "act-9", "done"),
            "alver has no action act-9 to close",
        ),
        // Acknowledging a period that was never issued.
        (
            env.run(&[
                "report",
                "acknowledge",
                "--tenant",
                "alver",
                "--period",
                "2026-06",
                "--person",
                "Kari Nordmann",
            ]),
            "the report of 2026-06 for alver was never issued",
        ),
    ];
    for (run, said) in &cases {
        run.assert_code(1).assert_stderr_contains(said);
    }
    assert_eq!(size(&env), before, "a refused command appended something");

    // Opened once: a second open of the id with other content, and a
    // second close with another outcome, are refused.
    open_action(&env, "act-1", "first", due, &[])
        .assert_code(0)
        .assert_stderr_contains("overdue already");
    open_action(&env, "act-1", "second", due, &[])
        .assert_code(1)
        .assert_stderr_contains("action act-1 of alver was opened before");
    let close = |outcome: &str| close_action(&env, "act-1", outcome);
    close("done").assert_code(0);
    close("done again")
        .assert_code(1)
        .assert_stderr_contains("action act-1 of alver is closed already");
    assert_eq!(size(&env), before + 2);
}

#[test]
fn an_acknowledgement_names_the_digest_of_the_last_issue_of_the_period() {
    let env = demo();
    let issued = |env: &Env| -> Vec<Value> {
        env.exported_events()
            .into_iter()
            .filter(|e| e["type"] == "report.issued" && e["data"]["period"] == "2025-12")
            .collect()
    };
    let first = issued(&env);
    assert_eq!(first.len(), 1);
    let digest = first[0]["data"]["report_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let acknowledge = |comment: &'static str| {
        [
            "report",
            "acknowledge",
            "--tenant",
            "alver",
            "--period",
            "2025-12",
            "--person",
            "Kari Nordmann",
            "--comment",
            comment,
        ]
    };
    twice(
        &env,
        &acknowledge("Motteke utan merknader"),
        &format!("(digest {digest}, issued at ledger position"),
    );
    let acks: Vec<Value> = env
        .exported_events()
        .into_iter()
        .filter(|e| e["type"] == "report.acknowledged")
        .collect();
    // The demo acknowledges most of its reports itself: ours is the last.
    let ours = acks.last().unwrap();
    assert_eq!(ours["data"]["report_digest"], digest.as_str());
    assert_eq!(ours["data"]["person"], "Kari Nordmann");
    assert_eq!(ours["data"]["comment"], "Motteke utan merknader");
    assert_eq!(ours["data"]["period"], "2025-12");

    // A late outage changes 2025-12's figures; the reissue has another
    // digest, and the acknowledgement now names that one.
    let outage = |id: &str, kind: &str, time: &str, data: Value| {
        serde_json::json!({"specversion": "1.0", "id": id, "source": "test/zabbix",
            "type": kind, "time": time, "tenant": "alver", "data": data})
        .to_string()
    };
    let started = serde_json::json!({"service": "epost", "outage_id": "LATE-1", "impact": "full"});
    let ended = serde_json::json!({"service": "epost", "outage_id": "LATE-1"});
    let late = format!(
        "{}\n{}\n",
        outage("late-1", "outage.started", "2025-12-10T10:00:00Z", started),
        outage("late-2", "outage.ended", "2025-12-10T20:00:00Z", ended)
    );
    let file = env.write("late.ndjson", late.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    env.run(&[
        "report", "issue", "--tenant", "alver", "--period", "2025-12",
    ])
    .assert_code(0);
    let second = issued(&env);
    assert_eq!(second.len(), 2);
    let reissued = second[1]["data"]["report_digest"].as_str().unwrap();
    assert_ne!(reissued, digest);
    env.run(&acknowledge("Motteke på nytt"))
        .assert_code(0)
        .assert_stdout_contains(&format!("(digest {reissued}"))
        .assert_stderr_contains("2025-12 was issued 2 times; this acknowledges the last issue");
}
