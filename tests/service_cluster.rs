//! A three-node NATS cluster on loopback with the streams replicated three
//! ways (R3): one node is SIGKILLed while events are being posted, and
//! every event the service accepted (202) is in the ledger exactly once.
//! When the node killed leads the ledger's commit log (`TLA_LEDGER`), the
//! writer carries on through the new leader, and `tla ledger restore`
//! from a surviving node gives the writer's ledger (same head and root).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

const EVENTS: usize = 2400;
const WAIT: Duration = Duration::from_secs(90);

/// The config of node `i` of a cluster whose client ports are `ports` and
/// route ports `routes` (what deploy/nats/cluster/*.conf says, on loopback,
/// without `sync_interval`, which the Debian nats-server 2.9 lacks).
fn node_config(i: usize, ports: &[u16], routes: &[u16], store: &std::path::Path) -> String {
    let others: Vec<String> = routes
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, p)| format!("\"nats-route://127.0.0.1:{p}\""))
        .collect();
    format!(
        "server_name: n{i}\nlisten: 127.0.0.1:{}\n\
         jetstream {{ store_dir: \"{}\" }}\n\
         cluster {{ name: tla-test, listen: 127.0.0.1:{}, routes: [{}] }}\n",
        ports[i],
        store.display(),
        routes[i],
        others.join(", ")
    )
}

/// Three nats-servers clustered on loopback, each storing in `env`.
fn cluster(env: &Env) -> Vec<Nats> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    (0..3)
        .map(|i| {
            let store = env.path(&format!("n{i}"));
            let config = env.write(
                &format!("n{i}.conf"),
                node_config(i, &ports, &routes, &store).as_bytes(),
            );
            Nats::start_with_config(&config, ports[i], store)
        })
        .collect()
}

/// `tla serve` against every node of `nodes`, with streams created R3.
fn serve_r3(env: &Env, nodes: &[Nats]) -> Service {
    let urls: Vec<String> = nodes.iter().map(Nats::url).collect();
    let tokens = write_tokens(env);
    Service::start(
        env,
        &[
            "serve",
            "--nats",
            &urls.join(","),
            "--replicas",
            "3",
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    )
}

/// `stream`'s info as node `nats` gives it.
fn stream_info(nats: &Nats, stream: &str) -> async_nats::jetstream::stream::Info {
    runtime().block_on(async {
        let client = async_nats::connect(nats.url()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(stream).await.expect("stream");
        stream.info().await.expect("stream info").clone()
    })
}

/// Posts `EVENTS` outage events of alver to the service on `port`, 40 per
/// request, retrying a request that is refused while the cluster recovers
/// (503, or no answer) until it is accepted (202); returns how many
/// attempts were refused.
fn post_events(port: u16) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let service = Service { port, child: None };
        let mut refused = 0;
        let numbers: Vec<usize> = (0..EVENTS).collect();
        for chunk in numbers.chunks(40) {
            let body: String = chunk
                .iter()
                .map(|&n| {
                    outage_json(
                        "alver",
                        &format!("ev-{n}"),
                        &format!("O-{n}"),
                        "2026-01-10T10:00:00Z",
                        true,
                    ) + "\n"
                })
                .collect();
            loop {
                let (status, text) = service.post(
                    "/v1/events",
                    ALVER_TOKEN,
                    "application/x-ndjson",
                    &[],
                    &body,
                );
                match status {
                    202 => break,
                    503 | 0 => {
                        refused += 1;
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    other => panic!("unexpected {other}: {text}"),
                }
            }
            // Paced, so that ingest outlasts the kill below on an idle
            // machine too (60 requests, at least 2.4 s), also when the
            // writer's start on the R3 cluster (binding, consumer) takes
            // a second and it then catches up in one large batch.
            std::thread::sleep(Duration::from_millis(40));
        }
        refused
    })
}

/// Every accepted event is in `env`'s ledger exactly once, after the
/// agreement, and it verifies; returns `tla verify`'s line.
fn assert_exactly_once(env: &Env) -> String {
    let run = env.run(&["verify"]);
    run.assert_code(0)
        .assert_stdout_contains(&format!("ok: {} entries", EVENTS + 1));
    let events: Vec<String> = env
        .exported_events()
        .iter()
        .filter(|e| e["type"] != "agreement.published")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let ids: BTreeSet<&String> = events.iter().collect();
    assert_eq!(events.len(), EVENTS, "no event twice");
    assert_eq!(ids.len(), EVENTS, "every event");
    run.stdout.clone()
}

#[test]
fn a_node_killed_during_ingest_loses_nothing_accepted() {
    let env = Env::new();
    // The ledger's first entry; the events follow it.
    seed_agreements(&env, &["alver"]);
    let mut nodes = cluster(&env);
    let mut service = serve_r3(&env, &nodes);
    let replicas = stream_info(&nodes[1], "TLA_EVENTS").config.num_replicas;
    assert_eq!(replicas, 3, "the events stream is replicated on every node");
    let poster = post_events(service.port);
    // Kill a node once ingest is under way.
    wait_for("ingest to be under way", WAIT, || {
        service.ledger_size() >= 400
    });
    let at = service.ledger_size();
    nodes[0].kill();
    println!("node n0 SIGKILLed at ledger size {at}");
    let refused = poster.join().expect("poster");
    println!("{refused} requests refused while the cluster recovered");
    service.wait_for_size(EVENTS as u64 + 1, WAIT);
    service.stop();
    assert_exactly_once(&env);
    assert!(at < EVENTS as u64 + 1, "the node died after ingest ended");
}

#[test]
fn the_commit_log_leader_killed_during_ingest_loses_nothing_and_a_survivor_restores_the_ledger() {
    let env = Env::new();
    seed_agreements(&env, &["alver"]);
    let mut nodes = cluster(&env);
    let mut service = serve_r3(&env, &nodes);
    let poster = post_events(service.port);
    wait_for("ingest to be under way", WAIT, || {
        service.ledger_size() >= 400
    });
    // The node leading the commit log's Raft group (the one taking the
    // writer's publishes) dies.
    let info = stream_info(&nodes[0], "TLA_LEDGER");
    assert_eq!(info.config.num_replicas, 3, "the commit log is R3");
    let leader = info
        .cluster
        .and_then(|c| c.leader)
        .expect("the commit log has a leader");
    let dead: usize = leader
        .strip_prefix('n')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("leader {leader:?} is not a node of this cluster"));
    let at = service.ledger_size();
    nodes[dead].kill();
    println!("commit-log leader {leader} SIGKILLed at ledger size {at}");
    let refused = poster.join().expect("poster");
    println!("{refused} requests refused while the cluster recovered");
    service.wait_for_size(EVENTS as u64 + 1, WAIT);
    assert!(at < EVENTS as u64 + 1, "the leader died after ingest ended");
    // Another node leads the commit log now.
    let survivor = &nodes[(dead + 1) % 3];
    let now = stream_info(survivor, "TLA_LEDGER")
        .cluster
        .and_then(|c| c.leader);
    assert!(now.is_some() && now != Some(leader.clone()), "{now:?}");
    service.stop();
    let original = assert_exactly_once(&env);

    // A restore from a surviving node is the writer's ledger.
    let restored = env.path("restored");
    env.run_in(&restored, &["ledger", "restore", "--nats", &survivor.url()])
        .assert_code(0)
        .assert_stdout_contains(&format!("restored {} entries", EVENTS + 1));
    let copy = env.run_in(&restored, &["verify"]);
    copy.assert_code(0);
    assert_eq!(copy.stdout, original, "the same entries, head and root");
}
