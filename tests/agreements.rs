//! Agreements per tenant (issue 27): the same agreement file published for
//! two tenants is two entries, the same content again is a duplicate of
//! the right tenant's, and other content under a published version label
//! is refused rather than silently replacing the agreement in force.

mod common;

use common::*;

/// The deploy example of Alver's agreement (version 2026-1).
fn alver_toml() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/agreements/alver.toml");
    std::fs::read_to_string(path).expect("deploy/agreements/alver.toml")
}

/// (tenant, version) of every stored `agreement.published`.
fn published(env: &Env) -> Vec<(String, String)> {
    env.exported_events()
        .iter()
        .filter(|e| e["type"] == "agreement.published")
        .map(|e| {
            let tenant = e["tenant"].as_str().expect("tenant").to_owned();
            let version = e["data"]["agreement"]["version"].as_str().expect("version");
            (tenant, version.to_owned())
        })
        .collect()
}

#[test]
fn the_same_agreement_file_is_published_for_each_tenant_and_once_per_tenant() {
    let env = Env::new();
    let file = env.write("alver.toml", alver_toml().as_bytes());
    publish_agreement(&env, &file, "alver")
        .assert_code(0)
        .assert_stdout_contains("for alver at ledger position 0");
    publish_agreement(&env, &file, "fedje")
        .assert_code(0)
        .assert_stdout_contains("for fedje at ledger position 1");
    publish_agreement(&env, &file, "fedje")
        .assert_code(0)
        .assert_stdout_contains(
            "version 2026-1 for fedje is already published at ledger position 1",
        );
    publish_agreement(&env, &file, "alver")
        .assert_code(0)
        .assert_stdout_contains(
            "version 2026-1 for alver is already published at ledger position 0",
        );
    let expected = [("alver", "2026-1"), ("fedje", "2026-1")];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .collect();
    assert_eq!(published(&env), expected);
}

#[test]
fn other_content_under_a_published_version_label_is_refused() {
    let env = Env::new();
    let original = env.write("alver.toml", alver_toml().as_bytes());
    publish_agreement(&env, &original, "alver").assert_code(0);
    let changed_text = alver_toml().replace("target_pct = \"99.5\"", "target_pct = \"99.9\"");
    assert_ne!(
        changed_text,
        alver_toml(),
        "the example has the target this test changes"
    );
    let changed = env.write("alver-changed.toml", changed_text.as_bytes());
    publish_agreement(&env, &changed, "alver")
        .assert_code(1)
        .assert_stderr_contains(
        "version 2026-1 of alver is already published with other content; use a new version label",
    );
    assert_eq!(published(&env).len(), 1, "nothing appended");
    // Under the same label, another tenant may have its own content.
    publish_agreement(&env, &changed, "fedje")
        .assert_code(0)
        .assert_stdout_contains("for fedje at ledger position 1");
    // A new label publishes the change.
    let relabelled = env.write(
        "alver-2.toml",
        changed_text
            .replace("version = \"2026-1\"", "version = \"2026-2\"")
            .as_bytes(),
    );
    publish_agreement(&env, &relabelled, "alver")
        .assert_code(0)
        .assert_stdout_contains(
            "published agreement version 2026-2 for alver at ledger position 2",
        );
}

/// Alver's example agreement as a new version `label` in force from
/// `from`, with `"requires_approval": true` when `approval`.
fn version(env: &Env, label: &str, from: &str, approval: bool) -> std::path::PathBuf {
    let mut text = alver_toml()
        .replace("version = \"2026-1\"", &format!("version = \"{label}\""))
        .replace(
            "effective_from = \"2026-01-01T00:00:00+01:00\"",
            &format!("effective_from = \"{from}\""),
        )
        .replace("target_pct = \"99.5\"", "target_pct = \"99.9\"");
    if approval {
        text = format!("requires_approval = true\n{text}");
    }
    env.write(&format!("{label}.toml"), text.as_bytes())
}

fn approve(env: &Env, label: &str, party: &str, person: &str) -> Run {
    common::approve_agreement(env, "alver", label, party, person)
}

#[test]
fn publish_warns_of_a_version_without_approval_and_of_the_ended_periods_it_changes() {
    let env = Env::new();
    let file = env.write("alver.toml", alver_toml().as_bytes());
    // 2026-1 is in force from January 2026, which has ended.
    publish_agreement(&env, &file, "alver")
        .assert_code(0)
        .assert_stderr_contains("warning: version 2026-1 has no \"requires_approval\": true")
        .assert_stderr_contains("it changes the reports of the ");
    // A January report is issued; then a version with the flag, in force
    // from March 2026, changes March to the last ended month, once both
    // parties approve it, and January's issued report stays out of it.
    env.run(&[
        "report", "issue", "--tenant", "alver", "--period", "2026-01",
    ])
    .assert_code(0);
    let flagged = version(&env, "2026-2", "2026-03-01T00:00:00+01:00", true);
    let run = publish_agreement(&env, &flagged, "alver");
    run.assert_code(0)
        .assert_stderr_contains(
            "version 2026-2 takes effect from 2026-02-28T23:00:00Z, in the past: once both \
             parties approve it, it changes the reports of the ",
        )
        .assert_stderr_contains(" periods 2026-03 to ");
    assert!(!run.stderr.contains("requires_approval"), "{}", run.stderr);
    assert!(!run.stderr.contains("issued reports of"), "{}", run.stderr);
    // A version from January names January's issued report.
    let back = version(&env, "2026-3", "2026-01-15T00:00:00+01:00", true);
    publish_agreement(&env, &back, "alver")
        .assert_code(0)
        .assert_stderr_contains("the 2 periods 2026-01 to 2026-02")
        .assert_stderr_contains("issued reports of 2026-01 keep verifying");
}

#[test]
fn a_version_requiring_approval_is_in_force_once_both_parties_approved_it() {
    let env = Env::new();
    let file = env.write("alver.toml", alver_toml().as_bytes());
    publish_agreement(&env, &file, "alver").assert_code(0);
    let flagged = version(&env, "2026-2", "2026-03-01T00:00:00+01:00", true);
    publish_agreement(&env, &flagged, "alver").assert_code(0);
    let target = |env: &Env| {
        let run = env.run(&["report", "--tenant", "alver", "--period", "2026-03"]);
        run.assert_code(0);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("report");
        (
            report["agreement_version"].as_str().unwrap().to_owned(),
            report["services"][0]["availability"]["target_pct"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    assert_eq!(target(&env), ("2026-1".to_owned(), "99.500".to_owned()));
    // An unknown version and an unknown tenant are refused, nothing appended.
    approve(&env, "2026-9", "provider", "Per Hansen")
        .assert_code(1)
        .assert_stderr_contains("alver has no published agreement version \"2026-9\"");
    approve(&env, "2026-2", "provider", "Per Hansen")
        .assert_code(0)
        .assert_stdout_contains("recorded the provider's approval of version 2026-2 of alver")
        .assert_stdout_contains("waits for the tenant's approval");
    assert_eq!(target(&env).0, "2026-1", "one approval is not enough");
    approve(&env, "2026-2", "provider", "Per Hansen")
        .assert_code(0)
        .assert_stdout_contains("already approved by the provider (Per Hansen");
    approve(&env, "2026-2", "tenant", "Kari Nordmann")
        .assert_code(0)
        .assert_stdout_contains("both parties have approved version 2026-2");
    assert_eq!(target(&env), ("2026-2".to_owned(), "99.900".to_owned()));
    let approvals = env
        .exported_events()
        .into_iter()
        .filter(|e| e["type"] == "agreement.approved")
        .count();
    assert_eq!(approvals, 2, "the repeated approval appended nothing");

    // The log, in both languages.
    let nn = env.run(&["agreement", "log", "--tenant", "alver"]);
    nn.assert_code(0);
    for line in [
        "Versjon 2026-1 (gjeld frå 2025-12-31T23:00:00Z)",
        "utan token (lokalt)",
        "i kraft: krev ikkje godkjenning",
        "Versjon 2026-2 (gjeld frå 2026-02-28T23:00:00Z)",
        "godkjend av leverandøren: Per Hansen",
        "godkjend av kommunen: Kari Nordmann",
        "i kraft: godkjend av begge partar",
    ] {
        assert!(nn.stdout.contains(line), "{line:?} in\n{}", nn.stdout);
    }
    let en = env.run(&["agreement", "log", "--tenant", "alver", "--lang", "en"]);
    en.assert_code(0)
        .assert_stdout_contains("approved by the tenant: Kari Nordmann")
        .assert_stdout_contains("in force: approved by both parties");
}

#[test]
fn the_log_says_which_version_waits_for_whom() {
    let env = Env::new();
    let file = env.write("alver.toml", alver_toml().as_bytes());
    publish_agreement(&env, &file, "alver").assert_code(0);
    let flagged = version(&env, "2026-2", "2026-03-01T00:00:00+01:00", true);
    publish_agreement(&env, &flagged, "alver").assert_code(0);
    approve(&env, "2026-2", "tenant", "Kari Nordmann").assert_code(0);
    env.run(&["agreement", "log", "--tenant", "alver"])
        .assert_code(0)
        .assert_stdout_contains("venter på godkjenning frå leverandøren");
    env.run(&["agreement", "log", "--tenant", "alver", "--lang", "en"])
        .assert_code(0)
        .assert_stdout_contains("waiting for approval by the provider");
    env.run(&["agreement", "log", "--tenant", "nobody"])
        .assert_code(1)
        .assert_stderr_contains("no entries for tenant \"nobody\"");
}
