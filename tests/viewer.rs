//! The viewer end to end over HTTP: `tla demo --serve` on a free port over
//! a small demo ledger, its routes fetched with a plain HTTP client (status,
//! content type, headers, escaping, no external URL), the figures of the
//! page against the JSON download, a verification; and `tla contacts`.

mod common;
mod viewer_support;

use viewer_support::{percent_nn, Server};

/// Every page of the two-tenant, two-month demo the test visits.
const PAGES: [&str; 8] = [
    "/",
    "/tenants/alver",
    "/tenants/austrheim?lang=en",
    "/tenants/alver/reports/2025-12",
    "/tenants/alver/reports/2025-12/verify?lang=en",
    "/tenants/alver/contacts?at=2025-12-01T12:00:00%2B01:00",
    "/tenants/austrheim/meetings",
    "/assets/viewer.css",
];

#[test]
fn the_demo_serves_the_viewer_and_every_page_stays_local() {
    let server = Server::start(2, 2);
    assert!(
        server
            .output
            .contains("Deviations (avvik) per tenant and month"),
        "{}",
        server.output
    );
    // The warnings the demo's history would have sent, per kind and tenant.
    let table = server
        .output
        .split("Alerts (varsel) the year would have sent, per kind and tenant:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no alerts table: {}", server.output));
    for kind in projector::alert::Kind::ALL {
        assert!(
            table.lines().any(|l| l.starts_with(kind.as_str())),
            "{kind:?}: {table}"
        );
    }
    for path in PAGES {
        let got = server.get(path);
        assert_eq!(got.status, 200, "{path}: {}", got.body);
        let css = path.ends_with(".css");
        let expected = if css {
            "text/css; charset=utf-8"
        } else {
            "text/html; charset=utf-8"
        };
        assert_eq!(got.header("content-type"), expected, "{path}");
        assert_eq!(
            got.header("content-security-policy"),
            web::viewer::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(got.header("x-content-type-options"), "nosniff", "{path}");
        assert!(!got.body.contains("http://"), "{path} names an origin");
        assert!(!got.body.contains("https://"), "{path} names an origin");
        assert!(!got.body.contains("<script"), "{path}");
    }
    // The contacts page names services as the agreement in force then
    // does ("E-post"), not by their ids.
    let contacts = server
        .get("/tenants/alver/contacts?at=2025-12-01T12:00:00%2B01:00")
        .body;
    assert!(contacts.contains(">E-post</td>"), "{contacts}");
    assert!(!contacts.contains(">epost</td>"), "{contacts}");
    let home = server.get("/").body;
    assert!(home.contains(">Alver</a>") && home.contains(">Austrheim</a>"));
    let missing = server.get("/tenants/%3Cscript%3E");
    assert_eq!(missing.status, 404);
    assert!(!missing.body.contains("<script>"));
}

#[test]
fn the_report_page_states_the_json_reports_figures_and_verifies() {
    let server = Server::start(1, 2);
    let json = server.get("/tenants/alver/reports/2025-12/json");
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), "application/json");
    assert_eq!(
        json.header("content-disposition"),
        "attachment; filename=\"alver-2025-12.json\""
    );
    let report: projector::Report = serde_json::from_str(&json.body).expect("the JSON report");
    assert!(report.digest_matches());
    let page = server.get("/tenants/alver/reports/2025-12").body;
    for s in &report.services {
        let Some(achieved) = s
            .availability
            .as_ref()
            .and_then(|a| a.achieved_pct.as_ref())
        else {
            continue;
        };
        assert!(page.contains(&percent_nn(achieved)), "{}", s.service);
    }
    assert!(page.contains(&report.manifest.report_digest));
    // One row per deviation, in the group of the party that owes it.
    let follow_up = report.follow_up.as_ref().expect("format 2");
    for party in ["provider", "tenant"] {
        let rows = page
            .matches(&format!(
                "<tr data-party=\"{party}\"><th scope=\"row\" data-label=\"Nr.\""
            ))
            .count();
        let owed = follow_up.iter().filter(|f| f.party == party).count();
        assert_eq!(rows, owed, "{party}");
    }
    assert_eq!(follow_up.len(), report.deviations.len());
    let verified = server.get("/tenants/alver/reports/2025-12/verify").body;
    assert!(
        verified.contains("data-verdict=\"verified\">Verifisert</p>"),
        "{verified}"
    );
    // The demo signed a checkpoint of the whole ledger, and the viewer it
    // serves checks it with the demo's public key.
    assert!(
        verified
            .contains("stemmer med loggen; signaturen stemmer <code>demo.tla-ledger.local/ledger+"),
        "{verified}"
    );
    for format in ["csv", "md"] {
        let got = server.get(&format!("/tenants/alver/reports/2025-12/{format}"));
        assert_eq!(got.status, 200, "{format}");
    }
}

#[test]
fn contacts_lists_who_is_responsible_at_an_instant() {
    let env = common::Env::new();
    env.run(&["demo", "--tenants", "1", "--months", "2"])
        .assert_code(0);
    let run = env.run(&[
        "contacts",
        "--tenant",
        "alver",
        "--at",
        "2025-12-01T12:00:00+01:00",
    ]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(
            "Contact persons of Alver (alver) at 2025-12-01 12:00 CET (2025-12-01 11:00 UTC)"
        ),
        "{}",
        run.stdout
    );
    for expected in [
        "The provider:",
        "The municipality:",
        "provider_account_owner",
        "tenant_contact",
        "provider_service_owner",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    // A date is its midnight UTC, as `tla log --since` reads it (issue 23).
    env.run(&["contacts", "--tenant", "alver", "--at", "2025-12-01"])
        .assert_code(0)
        .assert_stdout_contains("(2025-12-01 00:00 UTC)");
    let bad = env.run(&["contacts", "--tenant", "alver", "--at", "1 December"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("--at"), "{}", bad.stderr);
    let unknown = env.run(&["contacts", "--tenant", "nowhere"]);
    unknown.assert_code(1);
    assert!(unknown.stderr.contains("\"nowhere\""), "{}", unknown.stderr);
}

#[test]
fn tla_view_serves_an_existing_ledger_and_checks_its_checkpoint() {
    let server = Server::view(1, 1, true);
    let grid = server.get("/tenants/alver?lang=en");
    assert_eq!(grid.status, 200);
    assert!(
        grid.body.contains("data-period=\"2025-11\""),
        "{}",
        grid.body
    );
    let verified = server.get("/tenants/alver/reports/2025-11/verify?lang=en");
    assert!(verified
        .body
        .contains("data-verdict=\"verified\">Verified</p>"));
    assert!(
        verified
            .body
            .contains("matches the ledger; signature valid <code>viewer.test/ledger+"),
        "{}",
        verified.body
    );
    let unchecked = Server::view(1, 1, false);
    let verified = unchecked.get("/tenants/alver/reports/2025-11/verify?lang=en");
    assert!(verified
        .body
        .contains("matches the ledger; signature not checked (no public key given)"));
}
