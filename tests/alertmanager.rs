//! Varsling end to end with the real Prometheus Alertmanager (the Debian
//! package `prometheus-alertmanager`; scripts/test installs it): `tla
//! serve --alertmanager` posts its alerts to an Alertmanager of the
//! test's own (free port, temporary storage), configured with a webhook
//! receiver the test listens on, a stand-in for e-mail. A response breach
//! and an availability budget crossing 75% reach the receiver with their
//! tenant, service, kind and the right contacts' e-mail; resolving the
//! incident sends the resolved notification; an Alertmanager stopped
//! during a breach and started again still gets the alert, notified once.
//! The example deploy/alertmanager/alertmanager.yml passes `amtool
//! check-config`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
const NDJSON: &str = "application/x-ndjson";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// The alerts of every notification the webhook received, each with the
/// notification's status of it (`firing` or `resolved`).
#[derive(Clone, Default)]
struct Receiver {
    alerts: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Listens on a free port; answers every request 200.
    fn start() -> (Receiver, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook");
        let port = listener.local_addr().expect("address").port();
        let receiver = Receiver::default();
        let alerts = Arc::clone(&receiver.alerts);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let alerts = Arc::clone(&alerts);
                std::thread::spawn(move || {
                    if let Some(body) = read_request(&stream) {
                        if let Ok(Value::Object(n)) = serde_json::from_slice::<Value>(&body) {
                            if let Some(Value::Array(list)) = n.get("alerts") {
                                alerts.lock().unwrap().extend(list.iter().cloned());
                            }
                        }
                    }
                    let mut stream = stream;
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        (receiver, port)
    }

    /// The notified alerts whose label `name` is `value`, with `status`.
    fn with(&self, name: &str, value: &str, status: &str) -> Vec<Value> {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a["labels"][name] == value && a["status"] == status)
            .cloned()
            .collect()
    }

    fn wait(&self, what: &str, name: &str, value: &str, status: &str) -> Value {
        wait_for(what, WAIT, || !self.with(name, value, status).is_empty());
        self.with(name, value, status).remove(0)
    }
}

/// One HTTP/1.1 request's body (by its content-length).
fn read_request(stream: &std::net::TcpStream) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// An Alertmanager of the test's own, sending every alert of its own
/// group to the webhook at once (group_wait and group_interval of one
/// second, so the test takes seconds).
struct Alertmanager {
    port: u16,
    config: PathBuf,
    storage: PathBuf,
    child: Option<Child>,
}

impl Alertmanager {
    fn start(env: &Env, webhook: u16) -> Alertmanager {
        assert!(
            Path::new(ALERTMANAGER).is_file(),
            "{ALERTMANAGER} is missing: this test needs the real Prometheus Alertmanager; \
             install it (`apt-get install prometheus-alertmanager`, or run scripts/test)"
        );
        let config = env.write(
            "alertmanager.yml",
            format!(
                "route:\n  receiver: webhook\n  group_by: [tenant, alert_id]\n  \
                 group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 4h\n\
                 receivers:\n- name: webhook\n  webhook_configs:\n  \
                 - url: http://127.0.0.1:{webhook}/hook\n    send_resolved: true\n"
            )
            .as_bytes(),
        );
        let mut am = Alertmanager {
            port: free_port(),
            config,
            storage: env.path("alertmanager"),
            child: None,
        };
        am.spawn(env);
        am
    }

    fn spawn(&mut self, env: &Env) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(env.path("alertmanager.log"))
            .expect("alertmanager log");
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", self.config.display()))
            .arg(format!("--storage.path={}", self.storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start prometheus-alertmanager");
        self.child = Some(child);
        let ready = format!("http://127.0.0.1:{}/-/ready", self.port);
        wait_for("Alertmanager ready", WAIT, || {
            ureq::get(&ready).call().is_ok()
        });
    }

    /// Stops it with SIGTERM, so it keeps its notification log.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let stopped = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill -TERM");
            assert!(stopped.success(), "kill -TERM alertmanager: {stopped}");
            child.wait().expect("reap alertmanager");
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn at(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn event(id: &str, kind: &str, time: i64, data: Value) -> String {
    json!({"specversion": "1.0", "id": id, "source": "test/itsm", "type": kind,
           "time": at(time), "tenant": "alver", "data": data})
    .to_string()
}

/// Alver's agreement (a 99.99% availability target: a budget of about
/// 260 seconds a month) and its three contacts, with e-mail.
fn agreement_and_contacts() -> String {
    let mut agreement = common::agreement_with(json!({
        "contacts": {"required_roles": ["provider_account_owner", "tenant_contact"],
                     "per_service_roles": ["provider_service_owner"]}}));
    agreement["services"][0]["availability"]["target_pct"] = json!("99.99");
    let agreement = common::agreement_event("alver", agreement);
    let mut lines = vec![agreement];
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .unwrap()
        .timestamp();
    for (role, service, who) in [
        ("provider_account_owner", None, "anne"),
        ("tenant_contact", None, "kari"),
        ("provider_service_owner", Some("epost"), "ola"),
    ] {
        let mut data = json!({"role": role, "person": who, "email": format!("{who}@example.no")});
        if let Some(s) = service {
            data["service"] = json!(s);
        }
        lines.push(event(
            &format!("contact-{role}"),
            "contact.assigned",
            start,
            data,
        ));
    }
    lines.join("\n") + "\n"
}

fn emails(alert: &Value) -> Vec<String> {
    let mut list: Vec<String> = alert["annotations"]["contact_emails"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .map(str::to_owned)
        .collect();
    list.sort();
    list
}

fn opened(id: &str, incident: &str, time: i64) -> String {
    event(
        id,
        "incident.opened",
        time,
        json!({"incident_id": incident, "service": "epost", "priority": "P1"}),
    )
}

#[test]
fn breaches_and_budget_warnings_reach_the_contacts_through_alertmanager() {
    let env = Env::new();
    let (receiver, webhook) = Receiver::start();
    let mut alertmanager = Alertmanager::start(&env, webhook);
    let nats = Nats::start(env.path("nats"));
    let service = Service::serve(&env, &nats.url(), &["--alertmanager", &alertmanager.url()]);
    let now = chrono::Utc::now().timestamp();
    // An incident opened 31 minutes ago and never answered (P1: response
    // 30 min), and an outage that started ten minutes ago and still runs
    // (75% of a 99.99% month is about 200 s of downtime).
    let lines = format!(
        "{}{}\n{}\n",
        agreement_and_contacts(),
        opened("inc-1", "INC-1", now - 31 * 60),
        event(
            "outage-1",
            "outage.started",
            now - 600,
            json!({"service": "epost", "outage_id": "O-1", "impact": "full"})
        ),
    );
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &lines);
    assert_eq!(status, 202, "{body}");

    // The breach: tenant, service, kind, and the service owner, the
    // tenant contact and (a breach) the account owner.
    let breach = receiver.wait("the response breach", "kind", "response_breach", "firing");
    assert_eq!(breach["labels"]["tenant"], "alver");
    assert_eq!(breach["labels"]["service"], "epost");
    assert_eq!(breach["labels"]["severity"], "critical");
    assert_eq!(breach["labels"]["priority"], "P1");
    assert_eq!(
        emails(&breach),
        ["anne@example.no", "kari@example.no", "ola@example.no"]
    );
    let summary = breach["annotations"]["summary"].as_str().unwrap();
    assert!(summary.contains("har broten responstida"), "{summary}");
    assert!(breach["annotations"]["report"]
        .as_str()
        .unwrap()
        .contains("/tenants/alver/reports/"));

    // The budget: a warning, so no account owner.
    let budget = receiver.wait(
        "the availability budget at 75%",
        "kind",
        "availability_budget_75",
        "firing",
    );
    assert_eq!(budget["labels"]["tenant"], "alver");
    assert_eq!(budget["labels"]["service"], "epost");
    assert_eq!(budget["labels"]["severity"], "warning");
    assert_eq!(emails(&budget), ["kari@example.no", "ola@example.no"]);

    // Resolving the incident sends the resolved notification.
    let breach_id = breach["labels"]["alert_id"].as_str().unwrap().to_owned();
    let resolved = format!(
        "{}\n",
        event(
            "inc-1-resolved",
            "incident.resolved",
            now,
            json!({"incident_id": "INC-1"})
        )
    );
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &resolved);
    assert_eq!(status, 202, "{body}");
    let ended = receiver.wait(
        "the resolved notification",
        "alert_id",
        &breach_id,
        "resolved",
    );
    assert_eq!(ended["labels"]["kind"], "response_breach");

    // Alertmanager stopped, a second incident breaches meanwhile, and
    // Alertmanager comes back: the breach arrives once.
    alertmanager.stop();
    let later = chrono::Utc::now().timestamp();
    let (status, body) = service.post(
        "/v1/events",
        ALVER_TOKEN,
        NDJSON,
        &[],
        &format!("{}\n", opened("inc-2", "INC-2", later - 31 * 60)),
    );
    assert_eq!(status, 202, "{body}");
    wait_for("a failed post while Alertmanager is down", WAIT, || {
        std::fs::read_to_string(env.path("service.log"))
            .is_ok_and(|log| log.contains("alerts not posted to Alertmanager"))
    });
    alertmanager.spawn(&env);
    let second = receiver.wait(
        "the breach of INC-2 after Alertmanager returned",
        "alert_id",
        &format!(
            "alver/INC-2/response_breach/{}",
            at(later - 31 * 60 + 30 * 60)
        ),
        "firing",
    );
    assert_eq!(second["labels"]["kind"], "response_breach");
    // Re-posts (after a failure every second or two, then every minute)
    // do not notify it again.
    std::thread::sleep(Duration::from_secs(5));
    let id = second["labels"]["alert_id"].as_str().unwrap();
    assert_eq!(receiver.with("alert_id", id, "firing").len(), 1);
    // Nor was the first breach notified again after the restart.
    assert_eq!(receiver.with("alert_id", &breach_id, "firing").len(), 1);
}

#[test]
fn the_example_alertmanager_config_is_valid() {
    let amtool = "/usr/bin/amtool";
    assert!(
        Path::new(amtool).is_file(),
        "{amtool} is missing: install prometheus-alertmanager (or run scripts/test)"
    );
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/alertmanager/alertmanager.yml");
    let out = Command::new(amtool)
        .arg("check-config")
        .arg(&config)
        .output()
        .expect("run amtool");
    assert!(
        out.status.success(),
        "amtool check-config {}: {}{}",
        config.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
