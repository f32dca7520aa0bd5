//! Verification without stopping the writer: `tla serve` over a ledger of
//! some size keeps its verified prefix up to date as batches become
//! durable (each entry checked once), `/healthz` reports it, and the
//! viewer's verify requests, one after another at a reader's pace, leave
//! the writer's append rate near what it is without them.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::*;

const WAIT: Duration = Duration::from_secs(120);

/// Entries the ledger holds before the service starts: what a
/// whole-chain pass per verify request would have to read.
const INITIAL: usize = 100_000;

/// Events published in each phase, and the rounds of two phases each.
const PHASE: usize = 15_000;
const ROUNDS: usize = 3;
const WARM_UP: usize = 2_000;

/// The pause between one verify request's answer and the next request.
const PACE: Duration = Duration::from_millis(100);

/// The verify page of a report whose tenant's events are few: a request
/// that costs little besides the chain.
const VERIFY_PATH: &str = "/tenants/alver/reports/2025-11/verify?lang=en";

/// Publishes `count` events of tenant `fedje` numbered from `from`,
/// awaiting every acknowledgement.
fn publish(rt: &tokio::runtime::Runtime, url: &str, from: usize, count: usize) {
    rt.block_on(async {
        let client = async_nats::connect(url).await.expect("connect");
        let js = jetstream::new(client);
        // Acknowledgements are awaited a window at a time: async-nats holds
        // at most 5,000 unacknowledged publishes per context and makes the
        // next publish wait for a slot, so holding more futures unawaited
        // would wait forever.
        let mut acks = Vec::with_capacity(PUBLISH_WINDOW);
        for n in from..from + count {
            let event = event_json("fedje", &format!("live-{n}"), &format!("LIVE-{n}"));
            acks.push(
                js.publish("tla.events.fedje", event.into())
                    .await
                    .expect("publish"),
            );
            if acks.len() == PUBLISH_WINDOW {
                for ack in acks.drain(..) {
                    ack.await.expect("ack");
                }
            }
        }
        for ack in acks {
            ack.await.expect("ack");
        }
    });
}

/// The `verified` object of /healthz.
fn verified(service: &Service) -> serde_json::Value {
    let (status, health) = service.health();
    assert_eq!(status, 200, "{health}");
    health["verified"].clone()
}

/// Publishes a phase of events numbered from `from` and returns how long
/// the ledger took to append them, from the first publish until all are in.
fn phase(rt: &tokio::runtime::Runtime, nats: &Nats, service: &Service, from: usize) -> Duration {
    let before = service.ledger_size();
    let started = Instant::now();
    publish(rt, &nats.url(), from, PHASE);
    service.wait_for_size(before + PHASE as u64, WAIT);
    started.elapsed()
}

#[test]
fn verify_requests_do_not_stop_the_writer_and_each_entry_is_checked_once() {
    let env = Env::new();
    seed_agreements(&env, &["alver", "fedje", "gulen"]);
    // A ledger of INITIAL entries, few of them alver's.
    let ndjson: String = (0..INITIAL)
        .map(|n| {
            let tenant = if n % 1000 == 0 { "alver" } else { "gulen" };
            event_json(tenant, &format!("ev-{n}"), &format!("INC-{n}")) + "\n"
        })
        .collect();
    let file = env.write("events.ndjson", ndjson.as_bytes());
    env.run(&["import", file.to_str().unwrap()]).assert_code(0);
    let initial = (INITIAL + 3) as u64;
    let nats = Nats::start(env.path("nats"));
    let mut service = start_serve(&env, &nats, &[]);
    // The verifier thread checks what the ledger held at start-up.
    wait_for("the start-up verification", WAIT, || {
        verified(&service)["size"].as_u64() == Some(initial)
    });
    let rt = runtime();

    // Warming up (connections, caches).
    publish(&rt, &nats.url(), 0, WARM_UP);
    service.wait_for_size(initial + WARM_UP as u64, WAIT);

    // Phases alone and with verify requests, interleaved so that whatever
    // else the machine runs weighs on both alike.
    let active = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let reader = {
        let (active, stop, requests) = (
            Arc::clone(&active),
            Arc::clone(&stop),
            Arc::clone(&requests),
        );
        let url = service.url(VERIFY_PATH);
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            let mut last_page = String::new();
            while !stop.load(Ordering::Relaxed) {
                if !active.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let started = Instant::now();
                let response = ureq::get(&url)
                    .set("Authorization", &format!("Bearer {AUDITOR_TOKEN}"))
                    .call();
                let page = match response {
                    Ok(response) => response.into_string().expect("HTML"),
                    // The viewer's rate limit on verifications (one per
                    // client every 10 s after a burst): refused cheaply,
                    // tried again at the reader's pace.
                    Err(ureq::Error::Status(429, _)) => {
                        std::thread::sleep(PACE);
                        continue;
                    }
                    Err(error) => panic!("the verify page: {error}"),
                };
                slowest = slowest.max(started.elapsed());
                requests.fetch_add(1, Ordering::Relaxed);
                last_page = page;
                // A reader's pace, not a flood: on two shared cores a
                // flood of page renders would compete with the writer
                // for the CPU, whatever the locking.
                std::thread::sleep(PACE);
            }
            (slowest, last_page)
        })
    };
    // The fastest phase of each kind: other load on the machine slows
    // some phases of either kind, while a verify request that held the
    // writer's lock (for a whole-chain pass) would slow every phase of its
    // kind.
    let (mut alone, mut verifying) = (Duration::MAX, Duration::MAX);
    let mut from = WARM_UP;
    for _ in 0..ROUNDS {
        alone = alone.min(phase(&rt, &nats, &service, from));
        from += PHASE;
        active.store(true, Ordering::Relaxed);
        let before = requests.load(Ordering::Relaxed);
        wait_for("a verify request", WAIT, || {
            requests.load(Ordering::Relaxed) > before
        });
        verifying = verifying.min(phase(&rt, &nats, &service, from));
        from += PHASE;
        active.store(false, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let (slowest, page) = reader.join().expect("the verify requests");
    let done = requests.load(Ordering::Relaxed);
    let rate = |time: Duration| PHASE as f64 / time.as_secs_f64();
    let ratio = rate(verifying) / rate(alone);
    println!(
        "append rate alone {:.0}/s, with verify requests {:.0}/s ({ratio:.2}x); \
         {done} verify requests, the slowest {slowest:?}",
        rate(alone),
        rate(verifying)
    );
    assert!(
        done >= ROUNDS as u64,
        "only {done} verify requests completed"
    );
    assert!(
        ratio >= 0.7,
        "verify requests slowed the writer to {ratio:.2}x of its rate alone"
    );
    assert!(page.contains("Hash chain"), "{page}");
    assert!(page.contains("Verified ("), "{page}");
    assert!(page.contains("New entries checked now"), "{page}");

    // Every entry verified, each exactly once.
    let size = (initial as usize + WARM_UP + 2 * ROUNDS * PHASE) as u64;
    wait_for("the verified prefix to reach the head", WAIT, || {
        verified(&service)["size"].as_u64() == Some(size)
    });
    let prefix = verified(&service);
    assert_eq!(prefix["checked"].as_u64(), Some(size), "{prefix}");
    assert_eq!(prefix["first_bad_position"], serde_json::Value::Null);
    let metrics = service.get("/metrics").unwrap().into_string().unwrap();
    assert!(
        metrics.contains(&format!("tla_ledger_verified_entries {size}\n")),
        "{metrics}"
    );
    service.stop();
    // The offline whole-chain pass agrees with the prefix.
    let run = env.run(&["verify"]);
    run.assert_code(0);
    let expected = format!(
        "ok: {size} entries verified, 3 tenants, head {}, Merkle root {}",
        prefix["head"].as_str().unwrap(),
        prefix["root"].as_str().unwrap()
    );
    run.assert_stdout_contains(&expected);
}
