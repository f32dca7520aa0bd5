//! The production deployment as shipped in deploy/: nats-server with
//! deploy/nats/nats-server.conf and auth.conf (only its ports and store
//! directory changed), `tla serve` run the way deploy/systemd/tla-serve.service
//! runs it, and what must hold there: producers cannot read each other's
//! (or the writer's) messages, the service logs in, the HTTP port opens
//! without NATS, the ledger writer is restarted when it panics, a full
//! connection limit leaves /healthz answering, and SIGTERM ends on time.
//! On a nats-server 2.10 or later the config runs as shipped, with
//! `sync_interval: always`, and the ledger writer replicates through it
//! and a lost data directory is restored from it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::*;
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(30);
const STRUCTURED: &str = "application/cloudevents+json";
const NDJSON: &str = "application/x-ndjson";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// nats-server with deploy/nats/nats-server.conf and auth.conf as shipped:
/// auth.conf copied byte for byte, the server config with only its client
/// port, monitoring port and store directory changed (and, on a server
/// older than 2.10, without the `sync_interval` line it does not know).
fn deploy_nats(env: &Env) -> Nats {
    deploy_nats_on(env, nats_server_binary()).0
}

/// `deploy_nats` on the nats-server `binary`; also says whether the config
/// ran with its `sync_interval` line (false: the server predates it).
fn deploy_nats_on(env: &Env, binary: PathBuf) -> (Nats, bool) {
    let dir = env.path("nats-conf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(deploy_dir().join("nats/auth.conf"), dir.join("auth.conf")).unwrap();
    let shipped = std::fs::read_to_string(deploy_dir().join("nats/nats-server.conf")).unwrap();
    let port = free_port();
    let store = env.path("nats-store");
    let mut replaced = 0;
    let config: String = shipped
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let swapped = if trimmed.starts_with("listen:") {
                format!("listen: 127.0.0.1:{port}")
            } else if trimmed.starts_with("http:") {
                format!("http: 127.0.0.1:{}", free_port())
            } else if trimmed.starts_with("store_dir:") {
                format!("  store_dir: {:?}", store.display().to_string())
            } else {
                return format!("{line}\n");
            };
            replaced += 1;
            format!("{swapped}\n")
        })
        .collect();
    assert_eq!(replaced, 3, "listen, http and store_dir in {shipped}");
    assert!(config.contains("include auth.conf"), "{config}");
    let path = dir.join("nats-server.conf");
    std::fs::write(&path, &config).unwrap();
    let checked = Command::new(&binary)
        .arg("-c")
        .arg(&path)
        .arg("-t")
        .output()
        .unwrap();
    let as_shipped = checked.status.success();
    if !as_shipped {
        let said = String::from_utf8_lossy(&checked.stderr).into_owned()
            + &String::from_utf8_lossy(&checked.stdout);
        assert!(said.contains("sync_interval"), "{said}");
        println!("this nats-server predates sync_interval; running the config without it");
        let without: String = config
            .lines()
            .filter(|l| !l.contains("sync_interval"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, without).unwrap();
    }
    (
        Nats::start_binary_with_config(binary, &path, port, store),
        as_shipped,
    )
}

/// The passwords of deploy/nats/auth.conf.
const SERVICE_PASSWORD: &str = "change-me-tla-service";
const ZABBIX_PASSWORD: &str = "change-me-zabbix-nh";
const ITSM_PASSWORD: &str = "change-me-itsm";

/// A NATS client logging in as `user`, with its own inbox prefix, whose
/// server errors (permission violations) are collected in `errors`.
async fn producer(
    url: &str,
    user: &str,
    password: &str,
    errors: Arc<Mutex<Vec<String>>>,
) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(format!("_INBOX.{user}"))
        .event_callback(move |event| {
            let errors = Arc::clone(&errors);
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    errors.lock().unwrap().push(error.to_string());
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
}

/// Publishes `payload` on `subject` through JetStream and waits for the ack.
async fn js_publish(
    client: &async_nats::Client,
    subject: &str,
    payload: String,
) -> Result<(), String> {
    let context = jetstream::new(client.clone());
    let ack = context
        .publish(subject.to_owned(), payload.into())
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(5), ack)
        .await
        .map_err(|_| "no acknowledgement".to_owned())?
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn a_producer_cannot_receive_other_tenants_events_by_any_subscription_it_may_make() {
    let env = Env::new();
    // The agreements come from the operator (`tla agreement publish`): no
    // producer on NATS may publish one.
    seed_agreements(&env, &["alver", "vaksdal"]);
    let nats = deploy_nats(&env);
    // The service logs in with the user and password in the URL.
    let url = format!("nats://tla:{SERVICE_PASSWORD}@127.0.0.1:{}", nats.port);
    let mut service = Service::serve(&env, &url, &[]);
    let rt = runtime();
    let plain = nats.url();
    let zabbix_errors = Arc::new(Mutex::new(Vec::new()));
    let (received, denied_publish, zabbix_ack, consumer_attempt) = rt.block_on(async {
        let zabbix = producer(
            &plain,
            "zabbix-nh",
            ZABBIX_PASSWORD,
            Arc::clone(&zabbix_errors),
        )
        .await;
        // Every subscription a hostile producer might try.
        let subjects = [
            ">",
            "tla.>",
            "tla.events.*",
            "tla.events.vaksdal",
            "_INBOX.>",
            "_INBOX.tla.>",
            "_INBOX.itsm.>",
            "$JS.>",
            "$JS.API.>",
            "_INBOX.zabbix-nh.>",
        ];
        let mut subscriptions = Vec::new();
        for subject in subjects {
            subscriptions.push((subject, zabbix.subscribe(subject).await.expect("subscribe")));
        }
        zabbix.flush().await.expect("flush");
        // Trying to read the events stream through the JetStream API.
        let context = jetstream::new(zabbix.clone());
        let consumer_attempt =
            tokio::time::timeout(Duration::from_secs(5), context.get_stream("TLA_EVENTS"))
                .await
                .map(|r| r.map(|_| ()).map_err(|e| e.to_string()));
        // Meanwhile the ITSM tool publishes vaksdal's incident naming a
        // person, which the writer consumes.
        let itsm = producer(&plain, "itsm", ITSM_PASSWORD, Arc::default()).await;
        js_publish(
            &itsm,
            "tla.events.vaksdal",
            event_json("vaksdal", "vaksdal-secret-1", "INC-V1"),
        )
        .await
        .expect("itsm publishes vaksdal");
        // zabbix may publish its own tenants, not vaksdal; an agreement it
        // publishes there is stored in the stream but refused by the
        // writer, and the agreements' subject is closed to it.
        let zabbix_ack = js_publish(&zabbix, "tla.events.alver", agreement_json("alver")).await;
        let agreements_denied =
            js_publish(&zabbix, "tla.agreements.alver", agreement_json("alver")).await;
        assert!(
            agreements_denied.is_err(),
            "zabbix-nh must not publish on tla.agreements.alver: {agreements_denied:?}"
        );
        let denied_publish = js_publish(
            &zabbix,
            "tla.events.vaksdal",
            event_json("vaksdal", "forged-by-zabbix", "INC-X"),
        )
        .await;
        // Whatever any subscription got over the next two seconds.
        let mut received = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for (subject, subscription) in &mut subscriptions {
            while let Ok(Some(message)) =
                tokio::time::timeout_at(deadline, subscription.next()).await
            {
                // Its own inbox gets the acknowledgements of its own publishes.
                let ack: Option<serde_json::Value> = serde_json::from_slice(&message.payload).ok();
                let own_ack = *subject == "_INBOX.zabbix-nh.>"
                    && ack
                        .is_some_and(|a| a["stream"] == "TLA_EVENTS" && a.get("tenant").is_none());
                if own_ack {
                    continue;
                }
                received.push(format!(
                    "{subject}: {} {}",
                    message.subject,
                    String::from_utf8_lossy(&message.payload)
                ));
            }
        }
        (received, denied_publish, zabbix_ack, consumer_attempt)
    });
    // The ledger holds the two agreements and vaksdal's incident; zabbix's
    // agreement is refused onto tla.rejected.alver.
    service.wait_for_size(3, WAIT);
    let mut refusals = Vec::new();
    wait_for("the refusal of zabbix's agreement", WAIT, || {
        refusals = rt.block_on(rejected_as_service(nats.port));
        !refusals.is_empty()
    });
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].0, "tla.rejected.alver");
    let why = refusals[0].1["errors"][0].as_str().unwrap_or_default();
    assert!(
        why.contains("agreement.published arrived on tla.events.alver")
            && why.contains("tla.agreements.alver"),
        "{why}"
    );
    assert!(
        zabbix_ack.is_ok(),
        "zabbix-nh publishes alver: {zabbix_ack:?}"
    );
    assert!(
        denied_publish.is_err(),
        "zabbix-nh must not publish vaksdal: {denied_publish:?}"
    );
    assert!(
        !matches!(consumer_attempt, Ok(Ok(()))),
        "zabbix-nh must not reach the JetStream API: {consumer_attempt:?}"
    );
    assert!(
        received.is_empty(),
        "zabbix-nh received messages: {received:#?}"
    );
    // And each forbidden subscription was refused by the server, not just quiet.
    let errors = zabbix_errors.lock().unwrap().join("\n").to_lowercase();
    for subject in [
        ">",
        "tla.>",
        "tla.events.*",
        "tla.events.vaksdal",
        "_inbox.>",
        "_inbox.tla.>",
        "_inbox.itsm.>",
        "$js.>",
        "$js.api.>",
    ] {
        assert!(
            errors.contains(&format!("subscription to \"{subject}\"")),
            "no permission violation for {subject}: {errors}"
        );
    }
    assert!(!errors.contains("\"_inbox.zabbix-nh.>\""), "{errors}");
    service.stop();
    let ids: Vec<String> = env
        .exported_events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&"vaksdal-secret-1".to_owned()), "{ids:?}");
    assert!(!ids.contains(&"forged-by-zabbix".to_owned()), "{ids:?}");
    assert!(!ids.contains(&"agreement-alver".to_owned()), "{ids:?}");
}

/// The refusal documents on TLA_REJECTED, read as the service's NATS user
/// (its inbox prefix `_INBOX.tla`): (subject, document).
async fn rejected_as_service(port: u16) -> Vec<(String, serde_json::Value)> {
    let client =
        async_nats::ConnectOptions::with_user_and_password("tla".into(), SERVICE_PASSWORD.into())
            .custom_inbox_prefix("_INBOX.tla")
            .connect(format!("nats://127.0.0.1:{port}"))
            .await
            .expect("the service user logs in");
    let js = jetstream::new(client);
    let stream = js.get_stream("TLA_REJECTED").await.expect("TLA_REJECTED");
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config::default())
        .await
        .expect("an ephemeral consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("fetch");
    let mut out = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("a message");
        let document = serde_json::from_slice(&message.payload).expect("a JSON refusal");
        out.push((message.subject.to_string(), document));
    }
    out
}

/// The `Environment=` settings and `ExecStart=` arguments of a unit, with
/// systemd's `%d` (the credentials directory) replaced.
fn unit_settings(unit: &str, credentials: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let mut environment = Vec::new();
    let mut exec = Vec::new();
    for line in unit.lines() {
        if let Some(setting) = line.strip_prefix("Environment=") {
            let (name, value) = setting.split_once('=').expect("NAME=value");
            let value = value.replace("%d", &credentials.display().to_string());
            environment.push((name.to_owned(), value));
        } else if let Some(command) = line.strip_prefix("ExecStart=") {
            exec = command
                .split_whitespace()
                .skip(1)
                .map(str::to_owned)
                .collect();
        }
    }
    (environment, exec)
}

fn unit_number(unit: &str, key: &str) -> u64 {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key}= in the unit"))
        .parse()
        .unwrap()
}

#[test]
fn the_service_runs_as_its_systemd_unit_against_the_authenticated_deploy_config() {
    let env = Env::new();
    let nats = deploy_nats(&env);
    let unit = std::fs::read_to_string(deploy_dir().join("systemd/tla-serve.service")).unwrap();
    // The unit's limits fit the service's defaults.
    let files = unit_number(&unit, "LimitNOFILE");
    assert!(files >= 1000 + 32 + 512, "LimitNOFILE={files}");
    assert!(unit_number(&unit, "TimeoutStopSec") > 20 + 10, "{unit}");
    // What systemd would hand it: the credential, /etc/tla/tla.env as the
    // unit's comment shows it, and the unit's own Environment= lines.
    let credentials = env.path("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(
        credentials.join("nats-password"),
        format!("{SERVICE_PASSWORD}\n"),
    )
    .unwrap();
    let (environment, exec) = unit_settings(&unit, &credentials);
    assert_eq!(exec, ["serve"], "{unit}");
    let names: Vec<&str> = environment.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"NATS_PASSWORD_FILE"), "{names:?}");
    assert!(
        !environment
            .iter()
            .any(|(_, v)| v.contains(SERVICE_PASSWORD)),
        "no secret in the environment"
    );
    let tokens = write_tokens(&env);
    // ExecStart with EnvironmentFile= and Environment=, as systemd runs it.
    let as_systemd = |environment: Vec<(String, String)>| {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tla"));
        command
            .args(&exec)
            .env("NATS_URL", nats.url())
            .env("TLA_DATA_DIR", env.data_dir())
            .env("TLA_LISTEN", format!("127.0.0.1:{port}"))
            .env("TLA_TOKENS", &tokens)
            .envs(environment);
        Service::spawn(&env, port, command)
    };
    let mut service = as_systemd(environment);
    service.wait_healthy();
    service.accept(ALVER_TOKEN, &agreement_json("alver"));
    let outages = format!(
        "{}\n{}\n",
        outage_json("alver", "o-start", "O-1", "2026-01-10T10:00:00Z", true),
        outage_json("alver", "o-end", "O-1", "2026-01-10T11:00:00Z", false)
    );
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &outages);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(3, WAIT);
    let report: serde_json::Value = service
        .read("/v1/tenants/alver/reports/2026-01")
        .expect("report")
        .into_json()
        .unwrap();
    assert_eq!(
        report["services"][0]["availability"]["downtime_seconds"], 3600,
        "{report}"
    );
    service.stop();

    // A wrong password: the port opens, and /healthz names the refusal.
    std::fs::write(credentials.join("nats-password"), "wrong\n").unwrap();
    let (environment, _) = unit_settings(&unit, &credentials);
    let mut refused = as_systemd(environment);
    let mut health = (0, serde_json::Value::Null);
    wait_for("/healthz naming the authorization error", WAIT, || {
        health = refused.health();
        health.1["detail"]
            .as_str()
            .is_some_and(|d| d.to_lowercase().contains("authorization"))
    });
    assert_eq!(health.0, 503, "{}", health.1);
    refused.stop();
}

/// The settings of a unit's `[Service]` section (`Key=value` lines, no
/// comments), in order.
fn service_settings(unit: &str) -> Vec<String> {
    unit.lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| l.contains('=') && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_standby_unit_runs_the_service_unit_with_standby_and_the_replica_unit_follows() {
    let unit =
        |name: &str| std::fs::read_to_string(deploy_dir().join("systemd").join(name)).unwrap();
    let serve = service_settings(&unit("tla-serve.service"));
    let standby = service_settings(&unit("tla-standby.service"));
    // The same user, environment, credential, limits and sandbox as the
    // writer's unit, and the same command with --standby: a standby that
    // takes over writes exactly as the writer did.
    let expected: Vec<String> = serve
        .iter()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                format!("{l} --standby")
            } else {
                l.clone()
            }
        })
        .collect();
    assert_eq!(standby, expected);
    // The replica: `tla ledger follow` with the NATS URL and the listen
    // address from its environment file, the tla login as a credential,
    // and the same file limit and shutdown budget as the service.
    let replica = unit("tla-replica.service");
    let settings = service_settings(&replica);
    let (environment, exec) = unit_settings(&replica, Path::new("/run/credentials"));
    assert_eq!(
        exec,
        [
            "ledger",
            "follow",
            "--nats",
            "${NATS_URL}",
            "--listen",
            "${TLA_LISTEN}"
        ],
        "{replica}"
    );
    assert!(
        environment.contains(&(
            "NATS_PASSWORD_FILE".into(),
            "/run/credentials/nats-password".into()
        )),
        "{environment:?}"
    );
    for setting in [
        "EnvironmentFile=/etc/tla/replica.env",
        "LoadCredential=nats-password:/etc/tla/nats-password",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "User=tla",
    ] {
        assert!(
            settings.iter().any(|s| s == setting),
            "{setting} in {replica}"
        );
    }
    let files = unit_number(&replica, "LimitNOFILE");
    assert!(files >= 1000 + 32 + 512, "LimitNOFILE={files}");
    assert!(
        unit_number(&replica, "TimeoutStopSec") > 20 + 10,
        "{replica}"
    );
}

/// What `/healthz` says a process is: "writer", "standby", "replica".
fn role(service: &Service) -> String {
    service.health().1["role"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_writer_standby_and_replica_run_as_their_units_and_the_standby_takes_over() {
    let env = Env::new();
    let nats = deploy_nats(&env);
    let credentials = env.path("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(
        credentials.join("nats-password"),
        format!("{SERVICE_PASSWORD}\n"),
    )
    .unwrap();
    let tokens = write_tokens(&env);
    // A unit's ExecStart with its Environment= lines and the settings its
    // comment puts in the environment file, `${NAME}` expanded as systemd
    // does, over the data directory `dir`.
    let start = |unit: &str, dir: &str| {
        let unit = std::fs::read_to_string(deploy_dir().join("systemd").join(unit)).unwrap();
        let (environment, exec) = unit_settings(&unit, &credentials);
        let port = free_port();
        let settings = [
            ("NATS_URL", nats.url()),
            ("TLA_DATA_DIR", env.path(dir).display().to_string()),
            ("TLA_LISTEN", format!("127.0.0.1:{port}")),
            ("TLA_TOKENS", tokens.display().to_string()),
        ];
        let exec: Vec<String> = exec
            .iter()
            .map(|arg| {
                settings.iter().fold(arg.clone(), |arg, (name, value)| {
                    arg.replace(&format!("${{{name}}}"), value)
                })
            })
            .collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tla"));
        command.args(&exec).envs(settings).envs(environment);
        let service = Service::spawn(&env, port, command);
        service.wait_healthy();
        service
    };
    let mut writer = start("tla-serve.service", "writer");
    wait_for("the writer to write", WAIT, || role(&writer) == "writer");
    let mut standby = start("tla-standby.service", "standby");
    let mut replica = start("tla-replica.service", "replica");
    assert_eq!(role(&standby), "standby");
    assert_eq!(role(&replica), "replica");
    writer.accept(ALVER_TOKEN, &agreement_json("alver"));
    let outages = format!(
        "{}\n{}\n",
        outage_json("alver", "o-start", "O-1", "2026-01-10T10:00:00Z", true),
        outage_json("alver", "o-end", "O-1", "2026-01-10T11:00:00Z", false)
    );
    let (status, body) = writer.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &outages);
    assert_eq!(status, 202, "{body}");
    for service in [&writer, &standby, &replica] {
        service.wait_for_size(3, WAIT);
    }
    // The replica serves reports from its copy.
    let report: serde_json::Value = replica
        .read("/v1/tenants/alver/reports/2026-01")
        .expect("report")
        .into_json()
        .unwrap();
    assert_eq!(
        report["services"][0]["availability"]["downtime_seconds"], 3600,
        "{report}"
    );
    // The writer's machine dies: the standby takes over and writes on.
    writer.kill();
    wait_for("the standby to take over", WAIT, || {
        role(&standby) == "writer"
    });
    standby.accept(
        ALVER_TOKEN,
        &outage_json("alver", "o-after", "O-2", "2026-01-12T10:00:00Z", true),
    );
    standby.wait_for_size(4, WAIT);
    replica.wait_for_size(4, WAIT);
    standby.stop();
    replica.stop();
    let verified = |dir: &str| {
        let run = env.run_in(&env.path(dir), &["verify"]);
        run.assert_code(0);
        run.stdout.clone()
    };
    assert!(
        verified("standby").starts_with("ok: 4 entries"),
        "{}",
        verified("standby")
    );
    assert_eq!(verified("replica"), verified("standby"));
}

/// The monitoring address (`http:`) of the config `deploy_nats` wrote.
fn monitoring_address(env: &Env) -> String {
    std::fs::read_to_string(env.path("nats-conf").join("nats-server.conf"))
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("http: "))
        .expect("an http: line")
        .trim()
        .to_owned()
}

#[test]
fn the_deploy_config_with_sync_interval_always_runs_on_nats_server_2_10_writer_and_restore() {
    let env = Env::new();
    let binary = nats_server_2_10();
    let shipped = std::fs::read_to_string(deploy_dir().join("nats/nats-server.conf")).unwrap();
    assert!(
        shipped.contains("\n  sync_interval: always\n"),
        "the deploy config fsyncs every write: {shipped}"
    );
    let (nats, as_shipped) = deploy_nats_on(&env, binary.clone());
    assert!(
        as_shipped,
        "{} refused the deploy config as shipped",
        binary.display()
    );
    // The server took the setting: it fsyncs before every acknowledgement.
    let varz: serde_json::Value = ureq::get(&format!("http://{}/varz", monitoring_address(&env)))
        .call()
        .expect("/varz")
        .into_json()
        .unwrap();
    assert_eq!(
        varz["jetstream"]["config"]["sync_always"], true,
        "{}",
        varz["jetstream"]
    );
    println!("{} ({})", varz["version"], binary.display());
    // The writer replicates through it, logged in as `tla`.
    let url = format!("nats://tla:{SERVICE_PASSWORD}@127.0.0.1:{}", nats.port);
    let mut service = Service::serve(&env, &url, &[]);
    service.accept(ALVER_TOKEN, &agreement_json("alver"));
    let outages: String = (0..50)
        .map(|n| {
            outage_json(
                "alver",
                &format!("o-{n}"),
                &format!("O-{n}"),
                "2026-01-10T10:00:00Z",
                true,
            ) + "\n"
        })
        .collect();
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &outages);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(51, WAIT);
    service.stop();
    let original = env.run(&["verify"]);
    original
        .assert_code(0)
        .assert_stdout_contains("ok: 51 entries verified");
    // A lost directory restored from the commit log, as the same login.
    let restored = env.path("restored");
    env.run_in(&restored, &["ledger", "restore", "--nats", &url])
        .assert_code(0)
        .assert_stdout_contains("restored 51 entries");
    let copy = env.run_in(&restored, &["verify"]);
    copy.assert_code(0);
    assert_eq!(copy.stdout, original.stdout);
}

#[test]
fn without_nats_the_port_opens_at_once_and_everything_works_once_nats_is_there() {
    let env = Env::new();
    let tokens = write_tokens(&env);
    let nats_port = free_port();
    let url = format!("nats://127.0.0.1:{nats_port}");
    let port = free_port();
    let mut command = env.tla();
    command.args([
        "serve",
        "--nats",
        &url,
        "--tokens",
        tokens.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let started = Instant::now();
    let mut service = Service::spawn(&env, port, command);
    let mut health = (0, serde_json::Value::Null);
    wait_for("/healthz to answer", Duration::from_secs(5), || {
        health = service.health();
        health.0 != 0
    });
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(health.0, 503, "{}", health.1);
    assert_eq!(health.1["status"], "nats unavailable", "{}", health.1);
    assert!(
        health.1["detail"].as_str().unwrap().contains("NATS"),
        "{}",
        health.1
    );
    let event = agreement_json("alver");
    let response = ureq::post(&service.url("/v1/events"))
        .set("Authorization", &format!("Bearer {ALVER_TOKEN}"))
        .set("Content-Type", STRUCTURED)
        .send_string(&event);
    let Err(ureq::Error::Status(503, response)) = response else {
        panic!("expected 503: {response:?}");
    };
    assert_eq!(response.header("Retry-After"), Some("5"));
    assert_eq!(response.content_type(), "application/problem+json");
    let problem: serde_json::Value = response.into_json().unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("NATS"),
        "{problem}"
    );
    // The other services open their ports without NATS too.
    for args in [
        vec!["ingest", "serve", "--tokens", tokens.to_str().unwrap()],
        vec!["ledger", "run"],
    ] {
        let other_env = Env::new();
        let port = free_port();
        let mut command = other_env.tla();
        command
            .args(&args)
            .args(["--nats", &url, "--listen", &format!("127.0.0.1:{port}")]);
        let mut other = Service::spawn(&other_env, port, command);
        let mut health = (0, serde_json::Value::Null);
        wait_for("its /healthz to answer", Duration::from_secs(5), || {
            health = other.health();
            health.0 != 0
        });
        assert_eq!(health.0, 503, "{args:?}: {}", health.1);
        assert_eq!(health.1["status"], "nats unavailable", "{args:?}");
        other.stop();
    }
    // NATS comes: everything works.
    let nats = Nats::start_on(nats_port, env.path("nats"));
    service.wait_healthy();
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &event);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(1, WAIT);
    service.stop();
    drop(nats);
    assert_eq!(env.exported_events().len(), 1);
}

#[test]
fn a_panicking_ledger_writer_is_restarted_while_http_answers_503() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let tokens = write_tokens(&env);
    let port = free_port();
    let mut command = env.tla();
    command
        .args([
            "serve",
            "--nats",
            &nats.url(),
            "--tokens",
            tokens.to_str().unwrap(),
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TLA_TEST_SUPERVISOR_PANIC_ON_ID", "boom");
    let mut service = Service::spawn(&env, port, command);
    service.wait_healthy();
    service.accept(ALVER_TOKEN, &agreement_json("alver"));
    service.wait_for_size(1, WAIT);
    let boom = outage_json("alver", "boom", "O-1", "2026-01-10T10:00:00Z", true);
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &boom);
    assert_eq!(status, 202, "{body}");
    let mut health = (0, serde_json::Value::Null);
    wait_for("/healthz saying the writer restarts", WAIT, || {
        health = service.health();
        health.0 == 503
    });
    assert_eq!(
        health.1["status"], "ledger writer restarting",
        "{}",
        health.1
    );
    assert!(
        health.1["detail"]
            .as_str()
            .unwrap()
            .contains("event boom is durable"),
        "{}",
        health.1
    );
    let later = outage_json("alver", "later", "O-2", "2026-01-11T10:00:00Z", true);
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &later);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("ledger writer restarting"), "{body}");
    // The process lives on; the writer comes back over the reopened ledger.
    assert!(service
        .child
        .as_mut()
        .unwrap()
        .try_wait()
        .unwrap()
        .is_none());
    service.wait_healthy();
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], &later);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(3, WAIT);
    let metrics = service.get("/metrics").unwrap().into_string().unwrap();
    assert!(
        metrics.contains("tla_writer_restarts_total 1\n"),
        "{metrics}"
    );
    // The redelivered "boom" is found stored, not appended twice.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(service.ledger_size(), 3);
    service.stop();
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 3 entries");
}

/// Opens `count` TCP connections to `port` that send nothing.
fn idle_connections(port: u16, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|n| {
            TcpStream::connect(("127.0.0.1", port))
                .unwrap_or_else(|e| panic!("connection {n}: {e}"))
        })
        .collect()
}

/// Makes room for `files` open files in this process (its soft limit).
fn allow_open_files(files: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < files {
        assert!(
            hard >= files,
            "the hard open-file limit {hard} is below {files}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, files, hard).unwrap();
    }
}

#[test]
fn two_thousand_idle_connections_against_a_limit_of_a_thousand() {
    allow_open_files(6000);
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let limits = ["--max-connections", "1000", "--header-read-timeout", "120"];
    let service = Service::serve(&env, &nats.url(), &limits);
    let mut idle = idle_connections(service.port, 2000);
    std::thread::sleep(Duration::from_secs(2));
    // A new client is refused at once, with a 503 naming the limit.
    let asked = Instant::now();
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, STRUCTURED, &[], "{}");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("connection limit"), "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // /healthz answers through the reserved slots (held by idle clients
    // for at most a second).
    let mut health = (0, serde_json::Value::Null);
    wait_for("/healthz over the limit", Duration::from_secs(5), || {
        health = service.health();
        health.0 == 200
    });
    assert_eq!(health.1["status"], "ok");
    // Exactly the limit is held open; every other connection was answered
    // 503 or closed.
    let (mut open, mut refused, mut closed) = (0, 0, 0);
    for stream in &mut idle {
        stream.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 512];
        match stream.read(&mut buffer) {
            Ok(0) => closed += 1,
            Ok(n) => {
                assert!(buffer[..n].starts_with(b"HTTP/1.1 503"));
                refused += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            Err(_) => closed += 1,
        }
    }
    assert_eq!(open, 1000, "refused {refused}, closed {closed}");
    assert!(refused > 0, "closed {closed}");
    assert_eq!(refused + closed, 1000);
    // Nothing crashed: once the idle clients go, everything works.
    drop(idle);
    wait_for("a 202 after the flood", WAIT, || {
        service
            .post(
                "/v1/events",
                ALVER_TOKEN,
                STRUCTURED,
                &[],
                &agreement_json("alver"),
            )
            .0
            == 202
    });
    service.wait_for_size(1, WAIT);
    let metrics = service.get("/metrics").unwrap().into_string().unwrap();
    assert!(
        !metrics.contains("tla_http_connections_refused_total 0\n"),
        "{metrics}"
    );
    let mut service = service;
    service.stop();
}

#[test]
fn sigterm_with_five_slow_connections_exits_zero_within_the_deadline() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let mut service = Service::serve(&env, &nats.url(), &["--shutdown-grace", "3"]);
    // Five uploads that trickle: a byte every 200 ms of a 100 kB body.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ALVER_TOKEN}\r\n\
         Content-Type: {NDJSON}\r\nContent-Length: 100000\r\n\r\n"
    );
    let slow: Vec<_> = (0..5)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", service.port)).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            std::thread::spawn(move || {
                let started = Instant::now();
                while stream.write_all(b" ").is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                    if started.elapsed() > Duration::from_secs(60) {
                        return Err("still open after 60 s".to_owned());
                    }
                }
                Ok(started.elapsed())
            })
        })
        .collect();
    let batch = |from: usize| -> String {
        (from..from + 300)
            .map(|n| event_json("alver", &format!("ev-{n}"), &format!("INC-{n}")) + "\n")
            .collect()
    };
    let first = agreement_json("alver") + "\n" + &batch(0);
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &first);
    assert_eq!(status, 202, "{body}");
    service.wait_for_size(301, WAIT);
    // The batch in hand: accepted just before SIGTERM.
    let (status, body) = service.post("/v1/events", ALVER_TOKEN, NDJSON, &[], &batch(300));
    assert_eq!(status, 202, "{body}");
    let mut child = service.child.take().unwrap();
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = signalled.elapsed();
    assert!(status.success(), "exit {status}");
    // The deadline is 3 s; the writer's batch and the exit take little more.
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(
        took >= Duration::from_secs(2),
        "the slow uploads got their grace: {took:?}"
    );
    for upload in slow {
        let ended = upload
            .join()
            .unwrap()
            .expect("the server closed the slow upload");
        assert!(ended < Duration::from_secs(60));
    }
    let log = std::fs::read_to_string(env.path("service.log")).unwrap();
    assert!(
        log.contains("closing connections still open at the shutdown deadline"),
        "{log}"
    );
    env.run(&["verify"]).assert_code(0);
    // Nothing accepted is lost: what the writer had not taken is in the
    // stream, and a restart stores it.
    let stored = env.exported_events().len();
    let mut again = Service::serve(&env, &nats.url(), &[]);
    again.wait_for_size(601, WAIT);
    again.stop();
    println!("{stored} of 601 entries stored before the exit");
    assert!(stored >= 301, "{stored}");
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains("ok: 601 entries");
}
