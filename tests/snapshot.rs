//! Reading a ledger a running service holds (`service::snapshot`, issue
//! 13): while `tla serve` runs and ingests, `tla verify`, `export`, `log`,
//! `audit` and `evidence export` on its data directory work on a copy
//! fetched through its API and agree with the same commands once it
//! stopped; the copy endpoint answers only tokens that read every tenant,
//! one copy at a time, and the writer keeps appending while a copy is
//! being sent. Real nats-server and `tla serve` processes throughout.

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Env, Nats, Run, Service, ALVER_TOKEN, AUDITOR_TOKEN};

const WAIT: Duration = Duration::from_secs(60);
const SEGMENTS: &str = "/v1/ledger/segments";

/// A ledger of `count` imported events over alver, fedje and gulen (with
/// their agreements), an issued report of alver for 2025-11 with a signed
/// checkpoint, and that checkpoint kept by an auditor. Returns the
/// signing key's file and its public key.
fn seeded(env: &Env, count: usize) -> (String, String) {
    common::seed_agreements(env, &["alver", "fedje", "gulen"]);
    let events = env.write("events.ndjson", common::ndjson(count).as_bytes());
    env.run(&["import", events.to_str().unwrap()])
        .assert_code(0);
    let key = env.path("signing.key").to_str().unwrap().to_owned();
    let generated = env.run(&[
        "key",
        "generate",
        "--name",
        "tla.example/copy",
        "--out",
        &key,
    ]);
    generated.assert_code(0);
    let public = generated.stdout.trim().to_owned();
    env.run(&[
        "report", "issue", "--tenant", "alver", "--period", "2025-11", "--key", &key,
    ])
    .assert_code(0);
    audit(env, env.path("kept.checkpoint").to_str().unwrap(), &public)
        .assert_code(0)
        .assert_stdout_contains("trust on first use");
    (key, public)
}

/// `tla audit` against the checkpoint kept in `kept`.
fn audit(env: &Env, kept: &str, public: &str) -> Run {
    env.run(&["audit", "--trusted", kept, "--key", public])
}

/// `tla evidence export` of alver's issued report of 2025-11 into `out`.
fn evidence_export(env: &Env, out: &str) -> Run {
    let period = ["--tenant", "alver", "--period", "2025-11"];
    env.run(&[&["evidence", "export"][..], &period, &["--out", out]].concat())
}

/// Posts alver's events to the service until stopped; counts the 202s.
struct Producer {
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Producer {
    fn start(port: u16) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let thread = std::thread::spawn({
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            move || {
                let url = format!("http://127.0.0.1:{port}/v1/events");
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let event = common::event_json("alver", &format!("live-{n}"), "INC-LIVE");
                    let answer = ureq::post(&url)
                        .set("Authorization", &format!("Bearer {ALVER_TOKEN}"))
                        .set("Content-Type", "application/cloudevents+json")
                        .send_string(&event);
                    assert_eq!(answer.map(|r| r.status()).ok(), Some(202), "live-{n}");
                    accepted.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        Producer {
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// Stops and returns how many events were accepted.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the producer");
        }
        self.accepted.load(Ordering::Relaxed)
    }
}

/// `tla verify`'s "ok: N entries verified, T tenants, head H, Merkle root R".
fn verified(run: &Run) -> (u64, String, String) {
    let line = run.stdout.trim();
    let size = line
        .strip_prefix("ok: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a verify summary: {line}"));
    let head = line
        .split("head ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let root = line.split("Merkle root ").nth(1).unwrap();
    (size, head.to_owned(), root.to_owned())
}

/// `run`, which must have worked on a copy of the first N entries of a
/// ledger `tla serve` holds; N.
fn on_a_copy(run: &Run) -> u64 {
    on_a_copy_from(run, "tla serve")
}

/// `on_a_copy` of a ledger `holder` holds.
fn on_a_copy_from(run: &Run, holder: &str) -> u64 {
    run.assert_code(0)
        .assert_stderr_contains(&format!("is held by `{holder}` (pid"))
        .assert_stderr_contains("working on a copy of its first");
    run.stderr
        .split("working on a copy of its first ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no copy size in: {}", run.stderr))
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn read_commands_work_on_a_copy_while_tla_serve_ingests_and_agree_after_it_stops() {
    let env = Env::new();
    let (key, public) = seeded(&env, 3_000);
    let kept = env.path("kept.checkpoint");
    let kept = kept.to_str().unwrap();
    let nats = Nats::start(env.path("nats"));
    let mut service =
        common::start_serve(&env, &nats, &["--key", &key, "--checkpoint-entries", "40"]);
    let base = service.ledger_size();
    let producer = Producer::start(service.port);
    common::wait_for("the first live entries", WAIT, || {
        service.ledger_size() > base + 20
    });

    // While it ingests: each command works on a copy of what was durable.
    let verify = env.run(&["verify"]);
    let copied = on_a_copy(&verify);
    let (size, head, root) = verified(&verify);
    assert_eq!(size, copied);
    assert!(size > base + 20, "{size}");
    let export = env.run(&["export"]);
    let exported = on_a_copy(&export);
    let log = env.run(&["log"]);
    let logged = on_a_copy(&log);
    assert_eq!(lines(&log.stdout).len() as u64, logged);
    on_a_copy(&audit(&env, kept, &public));
    let bundle = env.path("running.bundle");
    let bundle = bundle.to_str().unwrap();
    on_a_copy(&evidence_export(&env, bundle));
    env.run(&["evidence", "verify", bundle, "--key", &public])
        .assert_code(0);
    // The writer went on meanwhile.
    assert!(service.ledger_size() > logged, "the writer kept appending");

    // Quiet, still running: the copy is the whole ledger.
    let accepted = producer.stop();
    assert!(accepted > 20);
    service.wait_for_size(base + accepted, WAIT);
    let quiet_verify = env.run(&["verify"]);
    assert_eq!(on_a_copy(&quiet_verify), base + accepted);
    let quiet_export = env.run(&["export"]);
    on_a_copy(&quiet_export);
    let quiet_log = env.run(&["log", "--json"]);
    on_a_copy(&quiet_log);
    service.stop();

    // Stopped: the same commands on the directory itself agree.
    let stopped_verify = env.run(&["verify"]);
    stopped_verify.assert_code(0);
    assert!(
        !stopped_verify.stderr.contains("copy"),
        "{}",
        stopped_verify.stderr
    );
    assert_eq!(stopped_verify.stdout, quiet_verify.stdout);
    let stopped_export = env.run(&["export"]);
    assert_eq!(stopped_export.stdout, quiet_export.stdout);
    let stopped_log = env.run(&["log", "--json"]);
    assert_eq!(stopped_log.stdout, quiet_log.stdout);
    // What was read while it ingested is a prefix of the stopped ledger,
    // with the head and root of that prefix.
    let all = lines(&stopped_export.stdout);
    let running = lines(&export.stdout);
    assert_eq!(
        running.len() as u64,
        exported + 1,
        "a header and the entries"
    );
    assert_eq!(running[1..], all[1..running.len()]);
    let at_size: serde_json::Value = serde_json::from_str(all[size as usize]).unwrap();
    assert_eq!(at_size["position"], size - 1);
    assert_eq!(
        at_size["hash"],
        head.as_str(),
        "the head of the copy verified"
    );
    let proof = env.run(&[
        "proof",
        "consistency",
        "--from",
        &size.to_string(),
        "--json",
    ]);
    proof.assert_code(0);
    let proof: serde_json::Value = serde_json::from_str(&proof.stdout).unwrap();
    assert_eq!(
        proof["root1"],
        root.as_str(),
        "the root of the copy verified"
    );
    let stopped_log_rows = env.run(&["log"]);
    assert_eq!(
        lines(&log.stdout),
        lines(&stopped_log_rows.stdout)[..logged as usize]
    );
    audit(&env, kept, &public)
        .assert_code(0)
        .assert_stdout_contains("ok: the checkpoint you kept");
    let stopped_bundle = env.path("stopped.bundle");
    evidence_export(&env, stopped_bundle.to_str().unwrap()).assert_code(0);
    assert_eq!(
        std::fs::read(bundle).unwrap(),
        std::fs::read(&stopped_bundle).unwrap(),
        "the same evidence bundle from the copy and from the ledger"
    );

    // A read replica serving an API is read the same way while it runs.
    let replica = env.path("replica");
    let follow = ["ledger", "follow", "--nats", &nats.url()];
    let mut follower = Service::start_in(&env, &replica, &follow);
    follower.wait_for_size(base + accepted, WAIT);
    let replica_verify = env.run_in(&replica, &["verify"]);
    assert_eq!(
        on_a_copy_from(&replica_verify, "tla ledger follow"),
        base + accepted
    );
    assert_eq!(replica_verify.stdout, stopped_verify.stdout);
    follower.stop();
}

/// One frame of the copy: its kind and payload; `None` at the end.
fn frame(reader: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    if reader.read(&mut head[..1]).unwrap() == 0 {
        return None;
    }
    reader.read_exact(&mut head[1..]).unwrap();
    let length = u32::from_be_bytes(head[1..].try_into().unwrap());
    let mut payload = vec![0u8; length as usize];
    reader.read_exact(&mut payload).unwrap();
    Some((head[0], payload))
}

/// Reads the rest of a copy: (entries in its segments, checkpoints, end).
fn rest_of_copy(reader: &mut impl Read) -> (u64, u64, serde_json::Value) {
    let (mut entries, mut checkpoints) = (0, 0);
    while let Some((kind, payload)) = frame(reader) {
        match kind {
            b'S' => {
                let segment = ledger::replicate::Segment::decode(&payload).unwrap();
                entries += segment.records.len() as u64;
            }
            b'C' => checkpoints += 1,
            b'E' => {
                return (
                    entries,
                    checkpoints,
                    serde_json::from_slice(&payload).unwrap(),
                )
            }
            other => panic!("frame {other}: {}", String::from_utf8_lossy(&payload)),
        }
    }
    panic!("the copy ended without its end frame");
}

#[test]
fn the_copy_needs_a_token_that_reads_every_tenant_runs_one_at_a_time_and_never_stops_the_writer() {
    let env = Env::new();
    // Large enough that the copy does not fit in the sockets' buffers.
    let (key, _) = seeded(&env, 60_000);
    let nats = Nats::start(env.path("nats"));
    let mut service = common::start_serve(&env, &nats, &["--key", &key]);
    let base = service.ledger_size();

    let (status, body) = service.status_as(None, SEGMENTS);
    assert_eq!(status, 401, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 401);
    let (status, _) = service.status_as(Some("not-a-token-0123456789"), SEGMENTS);
    assert_eq!(status, 401);
    let (status, body) = service.status_as(Some(ALVER_TOKEN), SEGMENTS);
    assert_eq!(status, 403, "a municipality's token: {body}");
    assert!(body.contains("may not copy the ledger"), "{body}");

    // A copy begun: its first frame read, then the client stops reading.
    let response = service.get_as(AUDITOR_TOKEN, SEGMENTS).unwrap();
    assert_eq!(
        response.content_type(),
        "application/vnd.tla-ledger.segments"
    );
    let size: u64 = response.header("tla-ledger-size").unwrap().parse().unwrap();
    assert_eq!(size, base);
    let mut reader = response.into_reader();
    let (kind, first) = frame(&mut reader).unwrap();
    assert_eq!(kind, b'S');
    let first = ledger::replicate::Segment::decode(&first).unwrap();
    assert_eq!(first.first, 0);
    // Meanwhile a second copy is refused at once, and the writer appends.
    let (status, body) = service.status_as(Some(AUDITOR_TOKEN), SEGMENTS);
    assert_eq!(status, 503, "{body}");
    for i in 0..30 {
        service.accept(
            ALVER_TOKEN,
            &common::event_json("alver", &format!("during-{i}"), "INC-D"),
        );
    }
    service.wait_for_size(base + 30, WAIT);
    // The copy goes on to the entries durable when it began, no further.
    let (entries, checkpoints, end) = rest_of_copy(&mut reader);
    assert_eq!(first.records.len() as u64 + entries, base);
    assert_eq!(end["size"], base);
    assert_eq!(end["checkpoints"], checkpoints);
    assert!(checkpoints >= 1, "the issued report's checkpoint");
    drop(reader);

    // A copy from a later position, and one past the durable entries.
    common::wait_for("the copy's slot free again", WAIT, || {
        service
            .status_as(Some(AUDITOR_TOKEN), "/v1/ledger/segments?from=99999999")
            .0
            == 400
    });
    let tail = service
        .get_as(AUDITOR_TOKEN, &format!("{SEGMENTS}?from={base}"))
        .unwrap();
    let (entries, _, end) = rest_of_copy(&mut tail.into_reader());
    assert_eq!((entries, end["size"].as_u64()), (30, Some(base + 30)));

    // `tla ledger snapshot` keeps a copy; it refuses a non-empty directory.
    let out = env.path("snapshot");
    let out = out.to_str().unwrap();
    env.run(&["ledger", "snapshot", "--out", out])
        .assert_code(0)
        .assert_stdout_contains(&format!("copied the first {} entries", base + 30))
        .assert_stdout_contains("held by `tla serve` (pid");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(out).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o700,
        "the copy is readable by its owner only"
    );
    env.run(&["ledger", "snapshot", "--out", out])
        .assert_code(1)
        .assert_stderr_contains("is not empty");
    let copy_verified = env.run_in(std::path::Path::new(out), &["verify"]);
    copy_verified.assert_code(0);

    // The access log names who copied and who was refused.
    service.stop();
    let log = std::fs::read_to_string(env.path("service.log")).unwrap();
    for (who, status) in [
        ("(anonymous)", 401),
        ("alver-monitor", 403),
        ("revisor", 200),
        ("revisor", 503),
        ("tla (holder file)", 200),
    ] {
        let line = format!(
            "who=\"{who}\" what=\"ledger copy from position 0\" tenant=\"*\" status={status}"
        );
        assert!(log.contains(&line), "no access log line {line}");
    }
    assert_eq!(env.run(&["verify"]).stdout, copy_verified.stdout);
    // Nobody holds it now: the snapshot reads the directory itself.
    let local = env.path("local-snapshot");
    env.run(&["ledger", "snapshot", "--out", local.to_str().unwrap()])
        .assert_code(0)
        .assert_stdout_contains(&format!("copied the first {} entries", base + 30));
    let local_verified = env.run_in(&local, &["verify"]);
    assert_eq!(local_verified.stdout, copy_verified.stdout);

    // Without an API, the holder's error names --listen as the way out.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tla"));
    command
        .arg("--data-dir")
        .arg(env.data_dir())
        .args(["ledger", "run", "--nats", &nats.url()]);
    let _writer = Service::spawn(&env, 0, command);
    common::wait_for("the holder file", WAIT, || {
        env.data_dir().join("holder.json").exists()
    });
    env.run(&["verify"])
        .assert_code(1)
        .assert_stderr_contains("is held by `tla ledger run` (pid")
        .assert_stderr_contains("--listen ADDR");
}
