//! Faults on the service path, each against the test's own nats-server:
//! the ledger writer SIGKILLed mid-stream and restarted, nats-server
//! restarted mid-stream, every event published twice. In each case every
//! accepted event (202 from HTTP, or acknowledged by JetStream) is in the
//! ledger exactly once, and `tla verify` passes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::HeaderMap;
use common::*;
use rand::{Rng, SeedableRng};

const WAIT: Duration = Duration::from_secs(60);
const NDJSON: &str = "application/x-ndjson";

fn event(n: usize) -> String {
    outage_json(
        tenant(n),
        &format!("ev-{n}"),
        &format!("O-{n}"),
        "2026-01-10T10:00:00Z",
        true,
    )
}

fn tenant(n: usize) -> &'static str {
    TENANTS[n % 3]
}

fn seeded() -> rand::rngs::StdRng {
    let seed: u64 = std::env::var("TLA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("fault test seed {seed} (rerun with TLA_TEST_SEED={seed})");
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// Publishes events `range` straight to JetStream, 250 at a time with
/// `pause` between chunks, each with a `Nats-Msg-Id` of `prefix` and its
/// number; waits for every acknowledgement.
async fn publish(url: &str, range: std::ops::Range<usize>, prefix: &str, pause: Duration) {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client);
    let numbers: Vec<usize> = range.collect();
    for chunk in numbers.chunks(250) {
        let mut acks = Vec::new();
        for &n in chunk {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{prefix}-{n}").as_str());
            let subject = format!("tla.events.{}", tenant(n));
            let ack = js
                .publish_with_headers(subject, headers, event(n).into())
                .await
                .expect("publish");
            acks.push(ack);
        }
        for ack in acks {
            ack.await.expect("JetStream acknowledged");
        }
        tokio::time::sleep(pause).await;
    }
}

/// The tenants of `event`, whose agreements `seed_agreements` publishes
/// first: the ledger's first `TENANTS.len()` entries.
const TENANTS: [&str; 3] = ["alver", "fedje", "gulen"];

/// The ledger size once events 0..count are in, after the agreements.
fn size_with(count: usize) -> u64 {
    (count + TENANTS.len()) as u64
}

/// The ledger holds the agreements and events 0..count, each exactly
/// once, and verifies.
fn assert_exactly_once(env: &Env, count: usize) {
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("ok: {} entries", size_with(count)));
    let events = env.exported_events();
    let events: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] != "agreement.published")
        .collect();
    assert_eq!(events.len(), count, "every event exactly once");
    let ids: BTreeSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..count).map(|n| format!("ev-{n}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn the_ledger_writer_killed_mid_stream_loses_and_duplicates_nothing() {
    const EVENTS: usize = 6000;
    const KILLS: usize = 4;
    let mut rng = seeded();
    let env = Env::new();
    seed_agreements(&env, &TENANTS);
    let nats = Nats::start(env.path("nats"));
    let url = nats.url();
    let writer_args = ["ledger", "run", "--nats", &url];
    let mut writer = Service::start(&env, &writer_args);
    let publisher = {
        let url = url.clone();
        // Paced (24 chunks, 50 ms apart) so that the stream outlasts the
        // first kills on an idle machine too, where the writer keeps up.
        let pause = Duration::from_millis(50);
        std::thread::spawn(move || runtime().block_on(publish(&url, 0..EVENTS, "m", pause)))
    };
    let mut killed_with = Vec::new();
    for _ in 0..KILLS {
        // Each kill comes once the (restarted) writer has made progress,
        // at a random moment after.
        let before = killed_with.last().copied().unwrap_or(0);
        wait_for("the writer to append", WAIT, || {
            writer.ledger_size() > before.max(size_with(0))
                || writer.ledger_size() >= size_with(EVENTS)
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
        let size = writer.ledger_size();
        writer.kill();
        killed_with.push(size);
        writer = Service::start(&env, &writer_args);
    }
    println!("writer SIGKILLed at ledger sizes {killed_with:?}");
    publisher.join().expect("publisher");
    assert!(
        killed_with
            .iter()
            .any(|&s| s > size_with(0) && s < size_with(EVENTS)),
        "no kill landed mid-stream: {killed_with:?}"
    );
    writer.wait_for_size(size_with(EVENTS), WAIT);
    writer.stop();
    assert_exactly_once(&env, EVENTS);
}

/// Posts events `range` over HTTP in NDJSON batches, retrying a batch
/// until it is accepted (202); returns how many attempts were refused.
fn post_until_accepted(service_port: u16, range: std::ops::Range<usize>, batch: usize) -> usize {
    let service = Service {
        port: service_port,
        child: None,
    };
    let numbers: Vec<usize> = range.collect();
    let mut refused = 0;
    for chunk in numbers.chunks(batch) {
        // One token per tenant: post each tenant's events with its token.
        for (tenant, token) in [
            ("alver", ALVER_TOKEN),
            ("fedje", FEDJE_TOKEN),
            ("gulen", FEDJE_TOKEN),
        ] {
            let body: String = chunk
                .iter()
                .filter(|&&n| self::tenant(n) == tenant)
                .map(|&n| event(n) + "\n")
                .collect();
            if body.is_empty() {
                continue;
            }
            loop {
                let (status, text) = service.post("/v1/events", token, NDJSON, &[], &body);
                match status {
                    202 => break,
                    503 | 0 => {
                        refused += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    other => panic!("unexpected {other}: {text}"),
                }
            }
        }
    }
    refused
}

#[test]
fn nats_restarted_mid_stream_loses_and_duplicates_nothing() {
    const EVENTS: usize = 3000;
    let mut rng = seeded();
    let env = Env::new();
    seed_agreements(&env, &TENANTS);
    let mut nats = Nats::start(env.path("nats"));
    let tokens = write_tokens(&env);
    let url = nats.url();
    let mut service = Service::start(
        &env,
        &[
            "serve",
            "--nats",
            &url,
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    let port = service.port;
    let poster = std::thread::spawn(move || post_until_accepted(port, 0..EVENTS, 60));
    let mut sizes = Vec::new();
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..700)));
        sizes.push(service.ledger_size());
        nats.restart();
    }
    println!("nats-server restarted at ledger sizes {sizes:?}");
    let refused = poster.join().expect("poster");
    println!("{refused} requests refused with 503 while NATS was away");
    service.wait_for_size(size_with(EVENTS), WAIT);
    service.stop();
    assert_exactly_once(&env, EVENTS);
}

#[test]
fn every_event_published_twice_is_stored_once() {
    const EVENTS: usize = 1500;
    let env = Env::new();
    seed_agreements(&env, &TENANTS);
    let nats = Nats::start(env.path("nats"));
    let tokens = write_tokens(&env);
    let url = nats.url();
    let mut service = Service::start(
        &env,
        &[
            "serve",
            "--nats",
            &url,
            "--tokens",
            tokens.to_str().unwrap(),
        ],
    );
    // Over HTTP twice: the second time JetStream drops them by Nats-Msg-Id.
    post_until_accepted(service.port, 0..EVENTS, 100);
    post_until_accepted(service.port, 0..EVENTS, 100);
    // Straight to JetStream under other message ids: JetStream stores them
    // again, and the ledger finds them stored.
    runtime().block_on(publish(&url, 0..EVENTS, "again", Duration::ZERO));
    service.wait_for_size(size_with(EVENTS), WAIT);
    let mut duplicates = 0;
    wait_for("the writer to see every second copy", WAIT, || {
        let metrics = service.get("/metrics").unwrap().into_string().unwrap();
        duplicates = metrics
            .lines()
            .find_map(|l| l.strip_prefix("tla_events_duplicate_total "))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        duplicates >= EVENTS
    });
    assert_eq!(duplicates, EVENTS);
    service.stop();
    assert_exactly_once(&env, EVENTS);
}
