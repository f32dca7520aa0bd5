//! A three-node NATS cluster on loopback with the streams replicated three
//! ways (R3): one node is SIGKILLed while events are being posted, and
//! every event the service accepted (202) is in the ledger exactly once.

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

#[test]
fn a_node_killed_during_ingest_loses_nothing_accepted() {
    let env = Env::new();
    // The ledger's first entry; the events follow it.
    seed_agreements(&env, &["alver"]);
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes: Vec<Nats> = (0..3)
        .map(|i| {
            let store = env.path(&format!("n{i}"));
            let config = env.write(
                &format!("n{i}.conf"),
                node_config(i, &ports, &routes, &store).as_bytes(),
            );
            Nats::start_with_config(&config, ports[i], store)
        })
        .collect();
    let urls: Vec<String> = nodes.iter().map(Nats::url).collect();
    let urls = urls.join(",");
    let tokens = write_tokens(&env);
    let mut service = Service::start(
        &env,
        &[
            "serve",
            "--nats",
            &urls,
            "--replicas",
            "3",
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    let replicas = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let client = async_nats::connect(nodes[1].url()).await.expect("connect");
            let js = async_nats::jetstream::new(client);
            let mut stream = js.get_stream("TLA_EVENTS").await.expect("stream");
            stream
                .info()
                .await
                .expect("stream info")
                .config
                .num_replicas
        });
    assert_eq!(replicas, 3, "the events stream is replicated on every node");
    let port = service.port;
    let poster = std::thread::spawn(move || {
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
    });
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
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("ok: {} entries", EVENTS + 1));
    let ids: BTreeSet<String> = env
        .exported_events()
        .iter()
        .filter(|e| e["type"] != "agreement.published")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), EVENTS);
    assert!(at < EVENTS as u64 + 1, "the node died after ingest ended");
}
