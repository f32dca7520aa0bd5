//! Tenant-scoped reads through `tla serve` against a nats-server of the
//! test's own: the read API and the viewer answer 401 without a token, 403
//! for another tenant, 200 for the caller's own; `/v1/tenants` lists only
//! what the caller may read; the auditor reads every tenant and writes
//! none; the viewer's token sign-in starts an encrypted session cookie
//! that a forged copy cannot replace, and sign-out ends it; every read
//! is in the access log.

mod common;

use common::*;

/// A service with alver's and fedje's agreements and one outage each.
fn start(env: &Env) -> (Nats, Service) {
    let nats = Nats::start(env.path("nats"));
    let service = start_serve(env, &nats, &[]);
    service.seed_alver_and_fedje();
    (nats, service)
}

fn status(service: &Service, token: Option<&str>, path: &str) -> u16 {
    service.status_as(token, path).0
}

#[test]
fn reads_need_a_token_that_may_read_the_tenant() {
    let env = Env::new();
    let (_nats, mut service) = start(&env);
    let report = "/v1/tenants/fedje/reports/2026-01";
    let (code, body) = service.status_as(None, report);
    assert_eq!(code, 401, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).expect("a problem document");
    assert_eq!(problem["status"], 401);
    assert_eq!(status(&service, None, "/v1/tenants"), 401);
    assert_eq!(
        status(&service, Some("not-a-token-0123456789"), report),
        401
    );
    let (code, body) = service.status_as(Some(ALVER_TOKEN), report);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("\"status\":403"), "{body}");
    assert_eq!(
        status(
            &service,
            Some(ALVER_TOKEN),
            "/v1/tenants/alver/reports/2026-01"
        ),
        200
    );
    assert_eq!(status(&service, Some(FEDJE_TOKEN), report), 200);
    // A tenant the caller may not read is refused whether or not it exists.
    let (code, _) = service.status_as(Some(ALVER_TOKEN), "/v1/tenants/nobody/reports/2026-01");
    assert_eq!(code, 403);

    let listed = |token: &str| -> Vec<String> {
        let (code, body) = service.status_as(Some(token), "/v1/tenants");
        assert_eq!(code, 200, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        value["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tenant"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(ALVER_TOKEN), ["alver"]);
    assert_eq!(listed(FEDJE_TOKEN), ["fedje"]);
    assert_eq!(listed(AUDITOR_TOKEN), ["alver", "fedje"]);

    // The viewer: the same rules, as pages.
    for path in [
        "/",
        "/tenants/alver",
        "/tenants/fedje/contacts",
        "/tenants/fedje/meetings",
        "/tenants/fedje/follow-up",
        "/tenants/fedje/alerts",
        "/tenants/fedje/reports/2026-01",
        "/tenants/fedje/reports/2026-01/json",
    ] {
        assert_eq!(status(&service, None, path), 401, "{path} without a token");
    }
    for path in [
        "/tenants/fedje",
        "/tenants/fedje/contacts",
        "/tenants/fedje/meetings",
        "/tenants/fedje/follow-up",
        "/tenants/fedje/alerts",
        "/tenants/fedje/reports/2026-01",
        "/tenants/fedje/reports/2026-01/verify",
        "/tenants/fedje/reports/2026-01/csv",
    ] {
        let (code, body) = service.status_as(Some(ALVER_TOKEN), path);
        assert_eq!(code, 403, "{path} with alver's token");
        assert!(!body.contains("O-1"), "a refusal shows no data: {body}");
    }
    for path in [
        "/tenants/alver/contacts",
        "/tenants/alver/follow-up",
        "/tenants/alver/alerts",
        "/tenants/alver/reports/2026-01",
    ] {
        assert_eq!(status(&service, Some(ALVER_TOKEN), path), 200, "{path}");
    }
    let (_, home) = service.status_as(Some(ALVER_TOKEN), "/");
    assert!(
        home.contains("/tenants/alver") && !home.contains("/tenants/fedje"),
        "{home}"
    );

    // The auditor reads every tenant and writes none.
    for path in [
        "/v1/tenants/alver/reports/2026-01",
        "/v1/tenants/fedje/reports/2026-01",
        "/tenants/fedje/contacts",
    ] {
        assert_eq!(status(&service, Some(AUDITOR_TOKEN), path), 200, "{path}");
    }
    let event = outage_json("alver", "o-2", "O-2", "2026-01-11T10:00:00Z", true);
    let (code, body) = service.post(
        "/v1/events",
        AUDITOR_TOKEN,
        "application/cloudevents+json",
        &[],
        &event,
    );
    assert_eq!(code, 403, "{body}");
    // A writer that may not read does not read: fedje-itsm writes gulen.
    assert_eq!(
        status(
            &service,
            Some(ALVER_TOKEN),
            "/v1/tenants/gulen/reports/2026-01"
        ),
        403
    );
    service.stop();

    // The access log: who, what, which tenant and the result, for reads
    // and refusals alike.
    let log = std::fs::read_to_string(env.path("service.log")).unwrap();
    let logged = |who: &str, what: &str, tenant: &str, status: u16| {
        access_logged(&log, who, what, tenant, status)
    };
    assert!(logged("alver-monitor", "contacts", "fedje", 403), "{log}");
    assert!(logged("alver-monitor", "contacts", "alver", 200), "{log}");
    assert!(logged("alver-monitor", "follow-up", "fedje", 403), "{log}");
    assert!(logged("alver-monitor", "follow-up", "alver", 200), "{log}");
    assert!(logged("alver-monitor", "alerts", "fedje", 403), "{log}");
    assert!(logged("alver-monitor", "alerts", "alver", 200), "{log}");
    assert!(logged("revisor", "report 2026-01", "fedje", 200), "{log}");
    assert!(
        logged("(anonymous)", "report 2026-01", "fedje", 401),
        "{log}"
    );
    assert!(
        logged("alver-monitor", "export 2026-01 csv", "fedje", 403),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "no ANSI escapes in a log file");
}

/// A client that does not follow redirects and keeps no cookies.
fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

/// (status, body, headers) of a request, whatever the status.
fn call(
    request: ureq::Request,
    form: Option<&[(&str, &str)]>,
) -> (u16, String, Vec<(String, String)>) {
    let response = send(request, form);
    let headers = response
        .headers_names()
        .into_iter()
        .flat_map(|name| {
            response
                .all(&name)
                .into_iter()
                .map(|v| (name.clone(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let status = response.status();
    (status, response.into_string().unwrap_or_default(), headers)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_viewer_signs_in_with_a_token_and_out_again() {
    let env = Env::new();
    let (_nats, service) = start(&env);
    let agent = agent();
    // Without a session the page asks to sign in, and comes back after.
    let (code, page, _) = call(agent.get(&service.url("/tenants/alver/contacts")), None);
    assert_eq!(code, 401);
    assert!(page.contains("type=\"password\""), "{page}");
    assert!(page.contains("value=\"/tenants/alver/contacts\""), "{page}");

    let (code, page, _) = call(
        agent.post(&service.url("/sign-in")),
        Some(&[("token", "wrong-token-0123456789"), ("next", "/")]),
    );
    assert_eq!(code, 401);
    assert!(page.contains("unknown token"), "{page}");

    let (code, _, headers) = call(
        agent.post(&service.url("/sign-in")),
        Some(&[("token", ALVER_TOKEN), ("next", "/tenants/alver/contacts")]),
    );
    assert_eq!(code, 303);
    assert_eq!(
        header(&headers, "location"),
        Some("/tenants/alver/contacts")
    );
    let set_cookie = header(&headers, "set-cookie").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "http:// is not https");
    assert!(
        !set_cookie.contains("alver"),
        "the cookie is sealed: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let with = |path: &str| call(agent.get(&service.url(path)).set("Cookie", &cookie), None);

    let (code, page, _) = with("/tenants/alver/contacts");
    assert_eq!(code, 200);
    assert!(
        page.contains("alver-monitor") && page.contains("/sign-out"),
        "{page}"
    );
    assert_eq!(with("/tenants/fedje/contacts").0, 403);
    assert_eq!(with("/v1/tenants/alver/reports/2026-01").0, 200);

    // A forged or altered session is refused.
    let (name, value) = cookie.split_once('=').unwrap();
    let forged = format!("{name}={}", altered_cookie(value));
    let (code, page, _) = call(
        agent
            .get(&service.url("/tenants/alver"))
            .set("Cookie", &forged),
        None,
    );
    assert_eq!(code, 401);
    assert!(page.contains("sign in again"), "{page}");

    // Sign-out removes the cookie and leads to the sign-in page.
    let (code, _, headers) = call(
        agent.post(&service.url("/sign-out")).set("Cookie", &cookie),
        Some(&[]),
    );
    assert_eq!(code, 303);
    assert_eq!(header(&headers, "location"), Some("/sign-in"));
    assert!(header(&headers, "set-cookie")
        .unwrap()
        .contains("Max-Age=0"));
    // Never to another site after signing in.
    let (code, _, headers) = call(
        agent.post(&service.url("/sign-in")),
        Some(&[("token", ALVER_TOKEN), ("next", "//evil.example/")]),
    );
    assert_eq!((code, header(&headers, "location")), (303, Some("/")));
}

#[test]
fn a_session_lasts_at_least_an_hour() {
    // (An expired session is refused: web::session's unit test.)
    let env = Env::new();
    let tokens = write_tokens(&env);
    env.run(&[
        "serve",
        "--nats",
        "nats://127.0.0.1:1",
        "--tokens",
        tokens.to_str().unwrap(),
        "--session-hours",
        "0",
    ])
    .assert_code(1)
    .assert_stderr_contains("--session-hours must be at least 1");
}
