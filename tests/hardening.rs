//! Hostile clients against `tla serve` (with a nats-server of the test's
//! own): slow clients sending their headers a byte a second are cut off at
//! the header-read timeout while a normal client is served; 200
//! concurrent verification requests from 200 addresses leave the append
//! rate at least 0.8 of what it was without them (per-client rate limit
//! and one verification at a time); a 100 MB body is refused with 413
//! before it is sent; `/metrics` needs a `metrics` token when the tokens
//! file has one.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const WAIT: Duration = Duration::from_secs(20);
const NDJSON: &str = "application/x-ndjson";

fn start(env: &Env, extra: &[&str]) -> (Nats, Service) {
    let nats = Nats::start(env.path("nats"));
    let service = start_serve(env, &nats, extra);
    service.agree(ALVER_TOKEN, &["alver"]);
    service.wait_for_size(1, WAIT);
    (nats, service)
}

#[test]
fn slow_clients_are_cut_off_and_a_normal_client_is_served() {
    const SLOW: usize = 50;
    let env = Env::new();
    let (_nats, service) = start(&env, &["--header-read-timeout", "3"]);
    let port = service.port;
    let started = Instant::now();
    // Each slow client sends a request head a byte a second, and notes
    // when the server closed its connection.
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            std::thread::spawn(move || -> Option<Duration> {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream
                    .set_read_timeout(Some(Duration::from_millis(1000)))
                    .unwrap();
                let head =
                    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n\r\n";
                for byte in head {
                    if stream.write_all(&[*byte]).is_err() {
                        return Some(started.elapsed());
                    }
                    let mut buffer = [0u8; 256];
                    match stream.read(&mut buffer) {
                        // Closed, or answered (408) and closed.
                        Ok(_) => return Some(started.elapsed()),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => return Some(started.elapsed()),
                    }
                }
                None
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // A normal client meanwhile: every request answered within 2 s.
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    let mut served = 0;
    while started.elapsed() < Duration::from_secs(7) {
        let asked = Instant::now();
        let response = agent
            .get(&service.url("/v1/tenants"))
            .set("Authorization", &format!("Bearer {AUDITOR_TOKEN}"))
            .call()
            .expect("the normal client is served while slow clients hold connections");
        assert_eq!(response.status(), 200);
        assert!(asked.elapsed() < Duration::from_secs(2));
        served += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(served >= 15, "only {served} requests served");
    for (n, client) in slow.into_iter().enumerate() {
        let closed = client.join().unwrap();
        let closed = closed.unwrap_or_else(|| panic!("slow client {n} was never cut off"));
        assert!(
            closed < Duration::from_secs(3 + 3),
            "slow client {n} cut off only after {closed:?}"
        );
    }
}

/// One GET of `path` with the auditor's token from the local address
/// `from`; the status (0 when the connection failed).
async fn get_from(from: Ipv4Addr, port: u16, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).is_err() {
        return 0;
    }
    let Ok(mut stream) = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
    else {
        return 0;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {AUDITOR_TOKEN}\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Entries appended during `window`.
fn appended_during(service: &Service, window: Duration) -> u64 {
    let before = service.ledger_size();
    std::thread::sleep(window);
    service.ledger_size() - before
}

#[test]
fn two_hundred_concurrent_verifications_do_not_pause_ingestion() {
    const WINDOW: Duration = Duration::from_secs(4);
    let env = Env::new();
    let (_nats, service) = start(&env, &[]);
    // The report verified is alver's (a few events); the producer writes
    // fedje, so what is measured is the verification's hold on the
    // writer, not the cost of one large report on a two-core machine.
    service.accept(ALVER_TOKEN, &event_json("alver", "a-1", "INC-A1"));
    service.agree(FEDJE_TOKEN, &["fedje"]);
    // A producer posting batches of 25 events at a steady 1,000 events a
    // second: a writer held off by verifications falls behind it.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (stop, url) = (Arc::clone(&stop), service.url("/v1/events"));
        std::thread::spawn(move || {
            let mut n = 0usize;
            let (begun, every) = (Instant::now(), Duration::from_millis(25));
            while !stop.load(Ordering::Relaxed) {
                let due = begun + every * u32::try_from(n / 25).unwrap();
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let batch: String = (n..n + 25)
                    .map(|i| event_json("fedje", &format!("ev-{i}"), &format!("INC-{i}")) + "\n")
                    .collect();
                n += 25;
                let response = ureq::post(&url)
                    .set("Authorization", &format!("Bearer {FEDJE_TOKEN}"))
                    .set("Content-Type", NDJSON)
                    .send_string(&batch);
                assert!(response.is_ok(), "the producer was refused: {response:?}");
            }
        })
    };
    wait_for("a thousand entries", WAIT, || service.ledger_size() >= 1001);
    // Settled: the first window starts after the ledger caught up.
    std::thread::sleep(Duration::from_secs(1));
    let without = appended_during(&service, WINDOW);

    // 200 concurrent verification requests, inside the second window.
    let statuses = Arc::new([(); 4].map(|_| AtomicUsize::new(0)));
    let (before, started) = (service.ledger_size(), Instant::now());
    let burst = {
        let (statuses, port) = (Arc::clone(&statuses), service.port);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // 200 clients, each from its own address, at once.
                let clients: Vec<_> = (0..200u8)
                    .map(|i| {
                        let statuses = Arc::clone(&statuses);
                        tokio::spawn(async move {
                            let from = Ipv4Addr::new(127, 0, 1, i);
                            let path = "/tenants/alver/reports/2025-11/verify";
                            let slot = match get_from(from, port, path).await {
                                200 => 0,
                                429 => 1,
                                503 => 2,
                                _ => 3,
                            };
                            statuses[slot].fetch_add(1, Ordering::Relaxed);
                        })
                    })
                    .collect();
                for client in clients {
                    client.await.unwrap();
                }
            });
        })
    };
    std::thread::sleep(WINDOW.saturating_sub(started.elapsed()));
    let with = service.ledger_size() - before;
    burst.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    let [ok, limited, busy, other] = [0, 1, 2, 3].map(|i| statuses[i].load(Ordering::Relaxed));
    println!(
        "appended in {WINDOW:?}: {without} without verifications, {with} with them \
         (ratio {:.2}); verifications: {ok} done, {limited} rate-limited (429), \
         {busy} refused while another ran (503), {other} other",
        with as f64 / without as f64
    );
    assert!(ok >= 1, "some verifications ran");
    assert_eq!(ok + limited + busy, 200, "every request was answered");
    assert_eq!(other, 0, "every verification answered 200, 429 or 503");
    // One client asking four times at once gets its burst of two.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let one = Ipv4Addr::new(127, 0, 2, 1);
    let path = "/tenants/alver/reports/2025-11/verify";
    let port = service.port;
    let mut again: Vec<u16> = runtime.block_on(async {
        let asked: Vec<_> = (0..4)
            .map(|_| tokio::spawn(get_from(one, port, path)))
            .collect();
        let mut statuses = Vec::new();
        for request in asked {
            statuses.push(request.await.unwrap());
        }
        statuses
    });
    again.sort_unstable();
    assert_eq!(
        again.iter().filter(|&&s| s == 429).count(),
        2,
        "a burst of two, then 429: {again:?}"
    );
    assert!(
        with as f64 >= 0.8 * without as f64,
        "the append rate fell from {without} to {with} per {WINDOW:?}"
    );
}

#[test]
fn a_hundred_megabyte_body_is_refused_before_it_is_sent() {
    let env = Env::new();
    let (_nats, service) = start(&env, &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", service.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {ALVER_TOKEN}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\n\r\n",
        100 << 20
    );
    stream.write_all(head.as_bytes()).unwrap();
    // A kilobyte of the hundred megabytes, then nothing: the answer comes
    // without the rest.
    stream.write_all(&[b'x'; 1024]).unwrap();
    let mut answer = [0u8; 512];
    let read = stream.read(&mut answer).expect("an answer before the body");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[test]
fn metrics_need_a_metrics_token_when_the_file_has_one() {
    let env = Env::new();
    let nats = Nats::start(env.path("nats"));
    let tokens = env.write(
        "tokens.toml",
        format!(
            "[[token]]\nname = \"alver-monitor\"\ntoken = \"{ALVER_TOKEN}\"\nwrite = [\"alver\"]\n\n\
             [[token]]\nname = \"prometheus\"\ntoken = \"metrics-token-0123456789\"\nrole = \"metrics\"\n"
        )
        .as_bytes(),
    );
    let service = Service::serve_with_tokens(&env, &nats.url(), &tokens, &[]);
    assert_eq!(service.status_as(None, "/metrics").0, 401);
    assert_eq!(service.status_as(Some(ALVER_TOKEN), "/metrics").0, 403);
    let (code, text) = service.status_as(Some("metrics-token-0123456789"), "/metrics");
    assert_eq!(code, 200);
    assert!(text.contains("tla_projector_ledger_entries"), "{text}");
    // The metrics token reads no tenant.
    assert_eq!(
        service
            .status_as(
                Some("metrics-token-0123456789"),
                "/v1/tenants/alver/reports/2026-01"
            )
            .0,
        403
    );
    // /healthz stays open for health checks.
    assert_eq!(service.status_as(None, "/healthz").0, 200);
}
