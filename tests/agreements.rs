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
