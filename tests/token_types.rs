//! Who may say what (issue 21): each token's `types` against a real
//! nats-server and `tla serve`. A token without `types` writes every type
//! but the agreement events; a refused type is a 403 naming the type and
//! the token, and a request with one refused event stores nothing. The
//! agreement events a token may write are stored with its name in
//! `authid` (CloudEvents `authcontext`).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

const OUTAGE_TOKEN: &str = "outage-token-0123456789";
const ITSM_TOKEN: &str = "itsm-token-0123456789";
const STEWARD_TOKEN: &str = "steward-token-0123456789";
const PLAIN_TOKEN: &str = "plain-token-0123456789";

/// nats-server and `tla serve` with four writers of alver: `zabbix`
/// (`outage.*`), `itsm` (`incident.*`), `avtaleforvaltar` (`agreement.*`)
/// and `plain` (no `types`); alver's agreement published by the steward.
fn started(env: &Env) -> (Nats, Service) {
    let nats = Nats::start(env.path("nats"));
    let tokens = env.write(
        "tokens.toml",
        format!(
            "[[token]]\nname = \"zabbix\"\ntoken = \"{OUTAGE_TOKEN}\"\nwrite = [\"alver\"]\ntypes = [\"outage.*\"]\n\n\
             [[token]]\nname = \"itsm\"\ntoken = \"{ITSM_TOKEN}\"\nwrite = [\"alver\"]\ntypes = [\"incident.*\"]\n\n\
             [[token]]\nname = \"avtaleforvaltar\"\ntoken = \"{STEWARD_TOKEN}\"\nwrite = [\"alver\"]\ntypes = [\"agreement.*\"]\n\n\
             [[token]]\nname = \"plain\"\ntoken = \"{PLAIN_TOKEN}\"\nwrite = [\"alver\"]\n"
        )
        .as_bytes(),
    );
    let service = Service::serve_with_tokens(env, &nats.url(), &tokens, &[]);
    service.agree(STEWARD_TOKEN, &["alver"]);
    service.wait_for_size(1, WAIT);
    (nats, service)
}

fn event(id: &str, kind: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "test/producer", "type": kind,
           "time": "2026-01-10T10:00:00Z", "tenant": "alver", "data": data})
}

fn incident(id: &str) -> Value {
    event(
        id,
        "incident.opened",
        json!({"incident_id": id, "service": "epost", "priority": "P2"}),
    )
}

fn outage(id: &str) -> Value {
    event(
        id,
        "outage.started",
        json!({"service": "epost", "outage_id": id, "impact": "full"}),
    )
}

/// A second version of alver's agreement, in force from 2025-06-01.
fn new_version(id: &str) -> Value {
    let mut v: Value = serde_json::from_str(&agreement_json("alver")).unwrap();
    v["id"] = id.into();
    v["data"]["agreement"]["version"] = "2025-2".into();
    v["data"]["agreement"]["effective_from"] = "2025-06-01T00:00:00Z".into();
    v
}

/// Asserts a 403 problem document whose detail names `event_type` and the
/// token `name`; returns the document.
fn forbidden(status: u16, body: &str, event_type: &str, name: &str) -> Value {
    assert_eq!(status, 403, "{body}");
    let problem: Value = serde_json::from_str(body).expect("a problem document");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("token \"{name}\" may not write type {event_type}")),
        "{detail}"
    );
    assert!(detail.contains("nothing was published"), "{detail}");
    problem
}

fn stored_ids(env: &Env) -> Vec<String> {
    env.exported_events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_outage_only_token_posting_an_agreement_gets_403_and_nothing_is_stored() {
    let env = Env::new();
    let (_nats, mut service) = started(&env);
    for token in [OUTAGE_TOKEN, PLAIN_TOKEN] {
        let (status, body) = service.post(
            "/v1/events",
            token,
            STRUCTURED,
            &[],
            &new_version("forged-version").to_string(),
        );
        let name = if token == OUTAGE_TOKEN {
            "zabbix"
        } else {
            "plain"
        };
        let problem = forbidden(status, &body, "agreement.published", name);
        assert_eq!(problem["errors"][0]["field"], "type", "{problem}");
        // Nor an approval.
        let approval = event(
            "forged-approval",
            "agreement.approved",
            json!({"version": "2025-1", "party": "tenant", "person": "Kari"}),
        );
        let (status, body) =
            service.post("/v1/events", token, STRUCTURED, &[], &approval.to_string());
        forbidden(status, &body, "agreement.approved", name);
    }
    // What the outage token may write still goes through, after which
    // the ledger holds the agreement and the outage only.
    service.accept(OUTAGE_TOKEN, &outage("O-1").to_string());
    // The plain token (no `types`) writes every other type.
    service.accept(PLAIN_TOKEN, &incident("INC-P").to_string());
    service.wait_for_size(3, WAIT);
    // The steward's version is stored, signed with its token's name.
    service.accept(STEWARD_TOKEN, &new_version("steward-version").to_string());
    service.wait_for_size(4, WAIT);
    service.stop();
    let events = env.exported_events();
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["agreement-alver", "O-1", "INC-P", "steward-version"],
        "nothing of the refused requests"
    );
    for agreement in [&events[0], &events[3]] {
        assert_eq!(agreement["authid"], "avtaleforvaltar", "{agreement}");
        assert_eq!(agreement["authtype"], "api_key", "{agreement}");
    }
    assert!(events[1].get("authid").is_none(), "{}", events[1]);
}

#[test]
fn an_itsm_token_with_incident_types_writes_incidents_and_nothing_else() {
    let env = Env::new();
    let (_nats, mut service) = started(&env);
    service.accept(ITSM_TOKEN, &incident("INC-1").to_string());
    let responded = event(
        "INC-1-responded",
        "incident.responded",
        json!({"incident_id": "INC-1"}),
    );
    service.accept(ITSM_TOKEN, &responded.to_string());
    let refused = [
        (outage("O-9"), "outage.started"),
        (
            event(
                "C-1",
                "contact.assigned",
                json!({"role": "tenant_contact", "person": "Kari"}),
            ),
            "contact.assigned",
        ),
        (new_version("itsm-version"), "agreement.published"),
    ];
    for (body, kind) in &refused {
        let (status, answer) =
            service.post("/v1/events", ITSM_TOKEN, STRUCTURED, &[], &body.to_string());
        forbidden(status, &answer, kind, "itsm");
    }
    service.wait_for_size(3, WAIT);
    service.stop();
    assert_eq!(
        stored_ids(&env),
        ["agreement-alver", "INC-1", "INC-1-responded"]
    );
}

#[test]
fn a_batch_mixing_allowed_and_refused_types_is_refused_whole() {
    let env = Env::new();
    let (_nats, mut service) = started(&env);
    let batch = json!([incident("INC-2"), outage("O-2"), incident("INC-3")]);
    let (status, body) = service.post("/v1/events", ITSM_TOKEN, BATCH, &[], &batch.to_string());
    let problem = forbidden(status, &body, "outage.started", "itsm");
    // One problem, the outage (index 1); the incidents were allowed but
    // went nowhere.
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["index"], 1, "{problem}");
    // A later allowed request is stored, and only it.
    service.accept(ITSM_TOKEN, &incident("INC-4").to_string());
    service.wait_for_size(2, WAIT);
    service.stop();
    assert_eq!(stored_ids(&env), ["agreement-alver", "INC-4"]);
}

#[test]
fn a_producer_may_not_claim_the_token_of_an_agreement_event() {
    let env = Env::new();
    let (_nats, mut service) = started(&env);
    let mut claimed = new_version("claimed-version");
    claimed["authid"] = "someone-else".into();
    let (status, body) = service.post(
        "/v1/events",
        STEWARD_TOKEN,
        STRUCTURED,
        &[],
        &claimed.to_string(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("authid on agreement.published is set by this receiver from the token"),
        "{body}"
    );
    // On any other type the attribute is the producer's own business.
    let mut outage = outage("O-3");
    outage["authid"] = "zabbix-host-7".into();
    service.accept(OUTAGE_TOKEN, &outage.to_string());
    service.wait_for_size(2, WAIT);
    service.stop();
    let events = env.exported_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["authid"], "zabbix-host-7");
}

/// A deployment from before agreements had their own subject: its
/// `TLA_EVENTS` captures `tla.events.*` only and the writer's durable
/// consumer filters on it. The service adds `tla.agreements.*` to both at
/// start, and an agreement event sent over HTTP reaches the ledger.
#[test]
fn a_stream_and_consumer_from_before_the_agreements_subject_are_brought_up_to_date() {
    let env = Env::new();
    let (nats, mut service) = started(&env);
    service.stop();
    let url = nats.url();
    let subjects = |stream: &str| {
        let url = url.clone();
        let stream = stream.to_owned();
        runtime().block_on(async move {
            let client = async_nats::connect(url).await.expect("connect");
            let js = async_nats::jetstream::new(client);
            let mut s = js.get_stream(&stream).await.expect("stream");
            let stream_subjects = s.info().await.expect("info").config.subjects.clone();
            let consumer: async_nats::jetstream::consumer::PullConsumer = s
                .get_consumer("tla-ledger")
                .await
                .expect("the writer's consumer");
            let filter = consumer.cached_info().config.filter_subjects.clone();
            (stream_subjects, filter)
        })
    };
    assert_eq!(
        subjects("TLA_EVENTS"),
        (
            vec!["tla.events.*".to_owned(), "tla.agreements.*".to_owned()],
            vec!["tla.events.*".to_owned(), "tla.agreements.*".to_owned()]
        )
    );
    // Back to the old configuration, consumer first.
    runtime().block_on(async {
        let client = async_nats::connect(nats.url()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("TLA_EVENTS").await.expect("stream");
        let consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("tla-ledger").await.expect("consumer");
        let mut old = consumer.cached_info().config.clone();
        old.filter_subjects = vec!["tla.events.*".into()];
        stream.update_consumer(old).await.expect("the old filter");
        let mut config = stream.cached_info().config.clone();
        config.subjects = vec!["tla.events.*".into()];
        js.update_stream(config).await.expect("the old subjects");
    });
    assert_eq!(subjects("TLA_EVENTS").0, ["tla.events.*"]);
    let tokens = env.path("tokens.toml");
    let mut service = Service::serve_with_tokens(&env, &nats.url(), &tokens, &[]);
    let approval = event(
        "approval-1",
        "agreement.approved",
        json!({"version": "2025-1", "party": "tenant", "person": "Kari"}),
    );
    service.accept(STEWARD_TOKEN, &approval.to_string());
    service.wait_for_size(2, WAIT);
    service.stop();
    assert_eq!(
        subjects("TLA_EVENTS"),
        (
            vec!["tla.events.*".to_owned(), "tla.agreements.*".to_owned()],
            vec!["tla.events.*".to_owned(), "tla.agreements.*".to_owned()]
        )
    );
    let events = env.exported_events();
    assert_eq!(events[1]["id"], "approval-1");
    assert_eq!(events[1]["authid"], "avtaleforvaltar");
}
