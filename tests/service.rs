//! End to end through the service path: `tla serve` against a nats-server
//! of the test's own (JetStream in a temp dir, a free port). HTTP in every
//! content mode and Alertmanager webhooks reach the ledger and the live
//! report; a token for one tenant cannot write another; direct NATS
//! publishes of invalid events land in `tla.rejected.<tenant>`; alerts
//! reach `tla.alerts.<tenant>`.

mod common;

use std::time::Duration;

use async_nats::jetstream;
use common::*;

const WAIT: Duration = Duration::from_secs(20);
const NDJSON: &str = "application/x-ndjson";
const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

fn start(env: &Env) -> (Nats, Service) {
    let nats = Nats::start(env.path("nats"));
    let tokens = write_tokens(env);
    let service = Service::start(
        env,
        &[
            "serve",
            "--nats",
            &nats.url(),
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    (nats, service)
}

/// Every message of a stream, as JSON.
async fn read_stream(url: &str, stream: &str, count: usize) -> Vec<(String, serde_json::Value)> {
    stream_messages(url, stream, count + 10)
        .await
        .into_iter()
        .map(|(subject, payload)| {
            let value = serde_json::from_slice(&payload).expect("JSON payload");
            (subject, value)
        })
        .collect()
}

#[test]
fn every_content_mode_and_alertmanager_reach_the_ledger_and_the_live_report() {
    let env = Env::new();
    let (_nats, mut service) = start(&env);
    let t = ALVER_TOKEN;
    // Structured: the agreement.
    let (status, body) = service.post("/v1/events", t, STRUCTURED, &[], &agreement_json("alver"));
    assert_eq!(status, 202, "{body}");
    // Batch: an outage of one hour.
    let batch = format!(
        "[{},{}]",
        outage_json("alver", "o1-start", "O-1", "2026-01-10T10:00:00Z", true),
        outage_json("alver", "o1-end", "O-1", "2026-01-10T11:00:00Z", false)
    );
    let (status, body) = service.post("/v1/events", t, BATCH, &[], &batch);
    assert_eq!(
        (status, body.as_str()),
        (202, r#"{"accepted":2,"duplicates":0}"#)
    );
    // Binary: an incident opened and resolved.
    let ce = |id: &str, kind: &str, time: &str| {
        vec![
            ("ce-specversion", "1.0".to_owned()),
            ("ce-id", id.to_owned()),
            ("ce-source", "test/itsm".to_owned()),
            ("ce-type", kind.to_owned()),
            ("ce-time", time.to_owned()),
            ("ce-tenant", "alver".to_owned()),
        ]
    };
    for (id, kind, time, data) in [
        (
            "inc-1-open",
            "incident.opened",
            "2026-01-12T09:00:00+01:00",
            r#"{"incident_id":"INC-1","service":"epost","priority":"P1"}"#,
        ),
        (
            "inc-1-resolved",
            "incident.resolved",
            "2026-01-12T09:20:00+01:00",
            r#"{"incident_id":"INC-1"}"#,
        ),
    ] {
        let headers = ce(id, kind, time);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = service.post("/v1/events", t, "application/json", &headers, data);
        assert_eq!(status, 202, "{body}");
    }
    // NDJSON: a second outage, 30 minutes.
    let lines = format!(
        "{}\n{}\n",
        outage_json("alver", "o2-start", "O-2", "2026-01-20T10:00:00Z", true),
        outage_json("alver", "o2-end", "O-2", "2026-01-20T10:30:00Z", false)
    );
    let (status, body) = service.post("/v1/events", t, NDJSON, &[], &lines);
    assert_eq!(status, 202, "{body}");
    // Alertmanager: firing, then resolved (30 minutes).
    let alert = |status: &str, ends: &str| {
        serde_json::json!({"version": "4", "groupKey": "{}", "status": status, "receiver": "tla",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": status, "labels": {"alertname": "EpostDown", "service": "epost"},
                "annotations": {}, "startsAt": "2026-01-25T08:00:00Z", "endsAt": ends,
                "generatorURL": "http://prom", "fingerprint": "4f2a"}]})
        .to_string()
    };
    let path = "/v1/alertmanager/alver";
    let firing = alert("firing", "0001-01-01T00:00:00Z");
    let (status, body) = service.post(path, t, "application/json", &[], &firing);
    assert_eq!(status, 202, "{body}");
    let resolved = alert("resolved", "2026-01-25T08:30:00Z");
    let (status, body) = service.post(path, t, "application/json", &[], &resolved);
    // The start is repeated in the resolved notification: a duplicate.
    assert_eq!(
        (status, body.as_str()),
        (202, r#"{"accepted":1,"duplicates":1}"#)
    );

    // 1 agreement + 2 + 2 + 2 + 2 (Alertmanager) entries.
    service.wait_for_size(9, WAIT);
    let report: serde_json::Value = service
        .read("/v1/tenants/alver/reports/2026-01")
        .expect("report")
        .into_json()
        .expect("JSON report");
    let epost = &report["services"][0];
    assert_eq!(epost["service"], "epost");
    assert_eq!(epost["availability"]["downtime_seconds"], 2 * 3600);
    assert_eq!(epost["incidents"]["P1"]["opened"], 1);
    assert_eq!(epost["incidents"]["P1"]["resolution_met"], 1);
    assert_eq!(report["manifest"]["ledger_size"], 9);
    for (query, accept, wanted) in [
        ("?format=html", "", "text/html"),
        ("?format=csv", "", "text/csv"),
        ("", "text/csv", "text/csv"),
        ("", "", "application/json"),
    ] {
        let mut request =
            ureq::get(&service.url(&format!("/v1/tenants/alver/reports/2026-01{query}")))
                .set("Authorization", &format!("Bearer {ALVER_TOKEN}"));
        if !accept.is_empty() {
            request = request.set("Accept", accept);
        }
        let response = request.call().expect("report");
        assert!(
            response.content_type().starts_with(wanted),
            "{query} {accept}: {}",
            response.content_type()
        );
    }
    let missing = service.read("/v1/tenants/nobody/reports/2026-01");
    assert!(matches!(missing, Err(ureq::Error::Status(404, _))));
    // The web report viewer is served by the same process, over the same
    // ledger: the tenant list, and the month's report page with its figure.
    let home = service
        .read("/")
        .expect("viewer home")
        .into_string()
        .unwrap();
    assert!(home.contains("/tenants/alver"), "{home}");
    let page = service
        .read("/tenants/alver/reports/2026-01")
        .expect("viewer report page")
        .into_string()
        .unwrap();
    assert!(page.contains("99,731") || page.contains("99.731"), "{page}");
    let metrics = service.get("/metrics").unwrap().into_string().unwrap();
    assert!(
        metrics.contains("tla_events_appended_total 9\n"),
        "{metrics}"
    );

    // The live report is the one `tla report` makes of the same prefix.
    service.stop();
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 9 entries");
    let cli = env.run(&["report", "--tenant", "alver", "--period", "2026-01"]);
    cli.assert_code(0);
    let cli: serde_json::Value = serde_json::from_str(&cli.stdout).unwrap();
    assert_eq!(cli, report);
}

/// One event of the follow-up (SEMANTICS.md section 12) as JSON text.
fn follow_up_json(id: &str, kind: &str, time: &str, data: serde_json::Value) -> String {
    serde_json::json!({
        "specversion": "1.0", "id": id, "source": "test/follow-up", "type": kind,
        "time": time, "tenant": "alver", "data": data
    })
    .to_string()
}

#[test]
fn the_follow_up_and_an_acknowledgement_arrive_over_http_like_any_event() {
    let env = Env::new();
    let (_nats, mut service) = start(&env);
    let t = ALVER_TOKEN;
    // Ten hours of outage in January: availability below 99.5 %.
    let batch = format!(
        "[{},{},{}]",
        agreement_json("alver"),
        outage_json("alver", "o1-start", "O-1", "2026-01-10T10:00:00Z", true),
        outage_json("alver", "o1-end", "O-1", "2026-01-10T20:00:00Z", false)
    );
    let (status, body) = service.post("/v1/events", t, BATCH, &[], &batch);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(3, WAIT);
    let path = "/v1/tenants/alver/reports/2026-01";
    let report: serde_json::Value = service.read(path).unwrap().into_json().unwrap();
    let deviation = &report["deviations"][0];
    assert_eq!(deviation["kind"], "availability_below_target", "{report}");
    let id = deviation["id"].as_str().unwrap().to_owned();
    let digest = "ab".repeat(32);
    let lines = [
        follow_up_json(
            "f-1",
            "deviation.explained",
            "2026-02-02T09:00:00Z",
            serde_json::json!({"deviation_id": id, "cause": "A failed disk in the SAN",
                "action_id": "act-1"}),
        ),
        follow_up_json(
            "f-2",
            "action.opened",
            "2026-01-12T09:00:00Z",
            serde_json::json!({"action_id": "act-1", "title": "Replace the SAN disks",
                "owner": "Drift", "due": "2026-01-20T00:00:00Z", "deviation_ids": [id]}),
        ),
        follow_up_json(
            "f-3",
            "action.closed",
            "2026-01-25T09:00:00Z",
            serde_json::json!({"action_id": "act-1", "outcome": "Replaced"}),
        ),
        follow_up_json(
            "f-4",
            "report.acknowledged",
            "2026-02-05T09:00:00Z",
            serde_json::json!({"period": "2026-01", "report_digest": digest,
                "person": "Kari Nordmann", "comment": "Motteke"}),
        ),
    ];
    let (status, body) = service.post("/v1/events", t, NDJSON, &[], &lines.join("\n"));
    assert_eq!(
        (status, body.as_str()),
        (202, r#"{"accepted":4,"duplicates":0}"#)
    );
    service.wait_for_size(7, WAIT);
    let report: serde_json::Value = service.read(path).unwrap().into_json().unwrap();
    let explanation = &report["deviations"][0]["explanation"];
    assert_eq!(explanation["cause"], "A failed disk in the SAN", "{report}");
    assert_eq!(explanation["action_id"], "act-1");
    assert_eq!(explanation["explained_at"], "2026-02-02T09:00:00Z");
    let action = &report["actions"][0];
    assert_eq!(action["action_id"], "act-1", "{report}");
    assert_eq!(action["status"], "closed");
    assert_eq!(action["closed_at"], "2026-01-25T09:00:00Z");
    assert_eq!(action["deviation_ids"], serde_json::json!([id]));
    // The commands that record the same facts name the service that holds
    // the ledger, like every command that writes.
    env.run(&[
        "deviation",
        "explain",
        "--tenant",
        "alver",
        "--id",
        &id,
        "--cause",
        "x",
    ])
    .assert_code(1)
    .assert_stderr_contains("is held by `tla serve` (pid");
    service.stop();
    // The acknowledgement is stored as sent.
    let acks: Vec<serde_json::Value> = env
        .exported_events()
        .into_iter()
        .filter(|e| e["type"] == "report.acknowledged")
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["data"]["person"], "Kari Nordmann");
    assert_eq!(acks[0]["data"]["report_digest"], digest.as_str());
    env.run(&["verify"]).assert_code(0);
}

#[test]
fn a_token_for_one_tenant_cannot_write_another_and_invalid_events_are_all_listed() {
    let env = Env::new();
    let (_nats, mut service) = start(&env);
    // alver's token, fedje's event (and one of alver's beside it): 403, nothing published.
    let batch = format!(
        "[{},{}]",
        outage_json("alver", "a1", "O-1", "2026-01-10T10:00:00Z", true),
        outage_json("fedje", "f1", "O-1", "2026-01-10T10:00:00Z", true)
    );
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, BATCH, &[], &batch);
    assert_eq!(status, 403, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["errors"][0]["index"], 1);
    assert_eq!(problem["errors"][0]["field"], "tenant");
    // No token, an unknown token: 401.
    let (status, _) = service.post("/v1/events", "not-a-token-at-all", BATCH, &[], &batch);
    assert_eq!(status, 401);
    // Every problem of every event, each naming its field: 422.
    let bad = format!(
        "{}\n{}\n",
        outage_json("alver", "a2", "O-2", "2026-01-10T10:00:00+01:00", true)
            .replace("\"full\"", "\"most\""),
        outage_json("alver", "a3", "O-3", "2026-01-10T10:00:00", true)
    );
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &bad);
    assert_eq!(status, 422, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    let fields: Vec<(u64, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(fields, vec![(0, "data.impact"), (1, "time")], "{body}");
    // Malformed and unsupported bodies.
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, BATCH, &[], "[{");
    assert_eq!(status, 400, "{body}");
    let (status, _) = service.post("/v1/events", ALVER_TOKEN, "text/plain", &[], "hello");
    assert_eq!(status, 415);
    // A request over the size limit is answered 413 from its declared
    // length, before its body is sent (tests/hardening.rs: 100 MB).
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", service.port)).unwrap();
        let head = format!(
            "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ALVER_TOKEN}\r\n\
             Content-Type: {NDJSON}\r\nContent-Length: {}\r\n\r\n",
            ingest::http::REQUEST_BYTES_MAX + 1
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = [0u8; 64];
        let read = stream.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }

    // Then fedje's agreement and one allowed event; once they are in,
    // nothing else is.
    service.agree(FEDJE_TOKEN, &["fedje"]);
    let ok = outage_json("fedje", "f2", "O-9", "2026-01-10T10:00:00Z", true);
    let (status, _) = service.post("/v1/events", FEDJE_TOKEN, STRUCTURED, &[], &ok);
    assert_eq!(status, 202);
    service.wait_for_size(2, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    service.stop();
    let events = env.exported_events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["id"], "f2");
}

#[test]
fn direct_nats_publishes_of_invalid_events_land_in_rejected() {
    let env = Env::new();
    let (nats, mut service) = start(&env);
    let valid = outage_json("alver", "v1", "O-1", "2026-01-10T10:00:00Z", true);
    let conflicting = outage_json("alver", "v1", "O-1", "2026-01-10T10:05:00Z", true);
    let wrong_tenant = outage_json("fedje", "w1", "O-1", "2026-01-10T10:00:00Z", true);
    let invalid = outage_json("alver", "i1", "O-1", "2026-01-10T10:00:00Z", true)
        .replace(",\"service\":\"epost\"", "");
    assert!(!invalid.contains("epost"), "{invalid}");
    service.agree(ALVER_TOKEN, &["alver"]);
    let rt = runtime();
    rt.block_on(async {
        let client = async_nats::connect(nats.url()).await.expect("connect");
        let js = jetstream::new(client);
        for payload in [valid.as_str(), "not json", &invalid, &wrong_tenant] {
            js.publish("tla.events.alver", payload.to_owned().into())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
        // After the valid one is stored: same key, other content.
        tokio::time::sleep(Duration::from_millis(500)).await;
        js.publish("tla.events.alver", conflicting.clone().into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    });
    service.wait_for_size(2, WAIT);
    let mut rejected = Vec::new();
    wait_for("four refused events on tla.rejected.alver", WAIT, || {
        rejected = rt.block_on(read_stream(&nats.url(), "TLA_REJECTED", 4));
        rejected.len() >= 4
    });
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    let errors: Vec<String> = rejected
        .iter()
        .map(|(subject, doc)| {
            assert_eq!(subject, "tla.rejected.alver");
            doc["errors"].to_string()
        })
        .collect();
    let has = |text: &str| errors.iter().filter(|e| e.contains(text)).count() == 1;
    assert!(has("line 1"), "not JSON: {errors:?}");
    assert!(has("data.service"), "invalid: {errors:?}");
    assert!(
        has("published on tla.events.alver"),
        "wrong tenant: {errors:?}"
    );
    assert!(has("conflicts"), "conflict: {errors:?}");
    // Terminated, not redelivered: the writer's consumer has nothing pending.
    std::thread::sleep(Duration::from_millis(300));
    let metrics = service.get("/metrics").unwrap().into_string().unwrap();
    assert!(
        metrics.contains("tla_events_rejected_total 4\n"),
        "{metrics}"
    );
    service.stop();
    let events = env.exported_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["time"], "2026-01-10T10:00:00Z");
}

#[test]
fn incidents_are_warned_at_three_quarters_and_breaches_published_as_they_happen() {
    let env = Env::new();
    let (nats, mut service) = start(&env);
    let now = chrono::Utc::now().timestamp();
    let at = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    // P1: response 30 min, resolution 240 min. Opened 200 minutes ago and
    // never answered: the response warning (at 22.5 min), the response
    // breach (at 30 min) and the resolution warning (at 180 min) have
    // happened, the resolution breach (240 min) has not.
    let opened = now - 200 * 60;
    let incident = serde_json::json!({
        "specversion": "1.0", "id": "inc-live", "source": "test/itsm", "type": "incident.opened",
        "time": at(opened), "tenant": "alver",
        "data": {"incident_id": "INC-LIVE", "service": "epost", "priority": "P1"}
    })
    .to_string();
    let lines = format!("{}\n{incident}\n", agreement_json("alver"));
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &lines);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(2, WAIT);
    let rt = runtime();
    let mut alerts = Vec::new();
    wait_for("three alerts on tla.alerts.alver", WAIT, || {
        alerts = rt.block_on(read_stream(&nats.url(), "TLA_ALERTS", 3));
        alerts.len() >= 3
    });
    let kinds: Vec<(&str, &str)> = alerts
        .iter()
        .map(|(subject, a)| {
            assert_eq!(subject, "tla.alerts.alver");
            (a["kind"].as_str().unwrap(), a["at"].as_str().unwrap())
        })
        .collect();
    let (early, breach, warning) = (
        at(opened + 22 * 60 + 30),
        at(opened + 30 * 60),
        at(opened + 180 * 60),
    );
    assert_eq!(
        kinds,
        vec![
            ("response_warning", early.as_str()),
            ("response_breach", breach.as_str()),
            ("resolution_warning", warning.as_str())
        ]
    );
    // The current month's live report shows the open incident.
    let period = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Oslo)
        .format("%Y-%m")
        .to_string();
    let report: serde_json::Value = service
        .read(&format!("/v1/tenants/alver/reports/{period}"))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(report["preliminary"], true);
    let p1 = &report["services"][0]["incidents"]["P1"];
    if at(opened).starts_with(&period) {
        assert_eq!(p1["response_breached"], 1, "{report}");
    }
    service.stop();
}

/// `nats-server -t` on a config; a server older than 2.10 lacks
/// `sync_interval`, so it is then checked without that one line (and the
/// test says so) rather than not at all.
fn check_nats_config(root: &std::path::Path, relative: &str, copy: &std::path::Path) {
    let text = std::fs::read_to_string(root.join(relative)).expect("read config");
    assert!(
        text.contains("sync_interval: always"),
        "{relative} must fsync every write"
    );
    let run = |dir: &std::path::Path| {
        std::process::Command::new(nats_server_binary())
            .arg("-c")
            .arg(dir.join(relative))
            .arg("-t")
            .output()
            .expect("nats-server -t")
    };
    let output = run(root);
    if output.status.success() {
        return;
    }
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(stderr.contains("sync_interval"), "{relative}: {stderr}");
    println!("{relative}: this nats-server predates sync_interval; checked without it");
    let path = copy.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let stripped: String = text
        .lines()
        .filter(|l| !l.contains("sync_interval"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, stripped).unwrap();
    std::fs::copy(root.join("nats/auth.conf"), copy.join("nats/auth.conf")).unwrap();
    let output = run(copy);
    assert!(
        output.status.success(),
        "{relative}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_deploy_files_are_valid() {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let env = Env::new();
    for config in [
        "nats/nats-server.conf",
        "nats/cluster/nats-1.conf",
        "nats/cluster/nats-2.conf",
        "nats/cluster/nats-3.conf",
    ] {
        check_nats_config(&deploy, config, &env.path("deploy"));
    }
    ingest::auth::Tokens::load(&deploy.join("tokens.example.toml")).expect("token file");
    for tenant in ["alver", "fedje"] {
        let file = deploy.join(format!("agreements/{tenant}.toml"));
        env.run(&["agreement", "check", file.to_str().unwrap()])
            .assert_code(0);
    }
}

#[test]
fn read_commands_on_a_ledger_held_by_the_service_work_on_a_copy() {
    let env = Env::new();
    let (_nats, mut service) = start(&env);
    let (status, body) = service.post(
        "/v1/events",
        ALVER_TOKEN,
        STRUCTURED,
        &[],
        &agreement_json("alver"),
    );
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(1, WAIT);
    for args in [
        &["verify"][..],
        &["export"],
        &["log"],
        &[
            "report", "--tenant", "alver", "--period", "2026-01", "--as-of", "1",
        ],
    ] {
        env.run(args)
            .assert_code(0)
            .assert_stderr_contains("is held by `tla serve` (pid")
            .assert_stderr_contains("working on a copy of its first 1 entries");
    }
    // A command that writes names the holder and where to ask instead.
    let one = env.write("one.ndjson", ndjson(1).as_bytes());
    env.run(&["import", one.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("is held by `tla serve` (pid")
        .assert_stderr_contains(&service.url("/v1/tenants"));
    // `tla report` of the whole ledger asks the running service instead.
    let report = ["report", "--tenant", "alver", "--period", "2026-01"];
    let live = env.run(&report);
    live.assert_code(0)
        .assert_stderr_contains("this report comes from the running service");
    // A tenant by its display name, as on the ledger itself; an unknown
    // one gets the same error, naming the tenants the service holds.
    let by_name = env.run(&["report", "--tenant", "ALVER", "--period", "2026-01"]);
    by_name.assert_code(0);
    assert_eq!(by_name.stdout, live.stdout);
    env.run(&["report", "--tenant", "Nowhere", "--period", "2026-01"])
        .assert_code(1)
        .assert_stderr_contains("unknown tenant \"Nowhere\"")
        .assert_stderr_contains("alver (Alver)");
    service.stop();
    env.run(&["verify"]).assert_code(0);
    let offline = env.run(&report);
    offline.assert_code(0);
    assert_eq!(live.stdout, offline.stdout);
}

#[test]
fn nats_unreachable_is_503_and_nothing_is_lost_once_it_is_back() {
    let env = Env::new();
    let (mut nats, mut service) = start(&env);
    service.agree(ALVER_TOKEN, &["alver"]);
    service.wait_for_size(1, WAIT);
    nats.kill();
    let event = outage_json("alver", "during", "O-1", "2026-01-10T10:00:00Z", true);
    let mut answer = (0, String::new());
    wait_for("a 503 while NATS is down", WAIT, || {
        answer = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &event);
        answer.0 == 503
    });
    let problem: serde_json::Value = serde_json::from_str(&answer.1).unwrap();
    assert_eq!(problem["status"], 503, "{}", answer.1);
    assert!(service.get("/healthz").is_err(), "healthz says unhealthy");
    nats.restart();
    wait_for("a 202 once NATS is back", WAIT, || {
        service
            .post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &event)
            .0
            == 202
    });
    service.wait_for_size(2, WAIT);
    service.stop();
    assert_eq!(env.exported_events().len(), 2);
}

/// Every payload on a stream, as text.
async fn read_texts(url: &str, stream: &str) -> Vec<String> {
    stream_messages(url, stream, 100)
        .await
        .into_iter()
        .map(|(_, payload)| String::from_utf8(payload).expect("UTF-8 note"))
        .collect()
}

#[test]
fn the_writer_signs_checkpoints_and_publishes_them_on_tla_checkpoints() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let tokens = write_tokens(&env);
    let key = env.path("signing.key");
    let key = key.to_str().unwrap();
    let generated = env.run(&[
        "key",
        "generate",
        "--name",
        "test.example/ledger",
        "--out",
        key,
    ]);
    generated.assert_code(0);
    let public = generated.stdout.trim().to_owned();
    let mut service = Service::start(
        &env,
        &[
            "serve",
            "--nats",
            &nats.url(),
            "--tokens",
            tokens.to_str().unwrap(),
            "--key",
            key,
            "--checkpoint-entries",
            "3",
            "--checkpoint-seconds",
            "1",
        ],
    );
    service.agree(ALVER_TOKEN, &["alver"]);
    let lines: String = (0..5)
        .map(|n| event_json("alver", &format!("cp-{n}"), &format!("INC-{n}")) + "\n")
        .collect();
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &lines);
    assert_eq!(status, 202, "{body}");
    let rt = runtime();
    let mut notes = Vec::new();
    wait_for(
        "a checkpoint of all 6 entries on tla.checkpoints",
        WAIT,
        || {
            notes = rt.block_on(read_texts(&nats.url(), "TLA_CHECKPOINTS"));
            notes.iter().any(|note| note.contains("\n6\n"))
        },
    );
    assert!(notes[0].starts_with("test.example/ledger\n"), "{notes:?}");
    service.stop();
    // The published checkpoint is the one stored beside the ledger, and an
    // auditor who kept the first one published finds the ledger extends it.
    let latest = env.run(&["checkpoint", "--latest"]);
    latest.assert_code(0);
    assert_eq!(&latest.stdout, notes.last().unwrap());
    let kept = env.write("kept.checkpoint", notes[0].as_bytes());
    env.run(&[
        "audit",
        "--trusted",
        kept.to_str().unwrap(),
        "--key",
        &public,
    ])
    .assert_code(0)
    .assert_stdout_contains("is a prefix of the current one (size 6");
}

/// A stream made beforehand with a configuration that breaks the ledger's
/// guarantees (kept in memory only, deletes allowed) ends `tla serve` at
/// once, naming the stream and every problem, instead of being retried.
#[test]
fn a_stream_the_service_refuses_ends_it_naming_the_problems() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    runtime().block_on(async {
        let client = async_nats::connect(nats.url()).await.expect("connect");
        jetstream::new(client)
            .create_stream(jetstream::stream::Config {
                name: "TLA_EVENTS".into(),
                subjects: vec!["tla.events.>".into()],
                storage: jetstream::stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .expect("a stream made by hand");
    });
    let tokens = write_tokens(&env);
    let listen = format!("127.0.0.1:{}", free_port());
    let run = env.run(&[
        "serve",
        "--nats",
        &nats.url(),
        "--tokens",
        tokens.to_str().unwrap(),
        "--listen",
        &listen,
    ]);
    run.assert_code(1).assert_stderr_contains(
        "JetStream stream TLA_EVENTS: exists with a configuration this service refuses to use",
    );
    run.assert_stderr_contains("it allows deleting or purging messages")
        .assert_stderr_contains("it is not stored in files");
}
