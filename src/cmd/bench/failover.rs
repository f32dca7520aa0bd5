//! Scenario: failover. How long from a writer's SIGKILL to the first new
//! entry appended by a standby (`tla ledger run --standby` in a directory
//! of its own), against the same writer restarted in place after the kill
//! (what systemd does where no standby runs), in the same run, on a
//! nats-server of the benchmark's own.
//!
//! Both are measured from the kill to the moment the new writer's
//! `/metrics` shows the entry of an event published right after the kill.
//! The standby's time is bounded below by the rest of the dead writer's
//! lease (`--lease-seconds`, 3 s) plus the standby's next try (a third of
//! that); the restart's by the process start and the ledger's load, since
//! a writer restarted in its own directory takes its old lease at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ingest::nats;

use super::{data, jetstream, say, Better, Context, Row};

/// Tenants of the events.
const TENANTS: usize = 3;
/// Events in the ledger before the first kill.
const BEFORE: usize = 2_000;
/// How long a writer gets to start, catch up or take over.
const READY_MAX: Duration = Duration::from_secs(60);
/// How often the new writer's size is read.
const POLL: Duration = Duration::from_millis(5);

/// A `tla ledger run` process of the benchmark, killed when dropped.
struct Node {
    child: Child,
    dir: PathBuf,
    port: u16,
    standby: bool,
}

impl Node {
    fn spawn(dir: &Path, url: &str, standby: bool) -> anyhow::Result<Node> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("no free port")?
            .port();
        let mut command = Command::new(super::tla_exe()?);
        command
            .arg("--data-dir")
            .arg(dir)
            .args(["ledger", "run", "--nats", url, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("TLA_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if standby {
            command.arg("--standby");
        }
        let child = command.spawn().context("cannot start tla ledger run")?;
        Ok(Node {
            child,
            dir: dir.to_owned(),
            port,
            standby,
        })
    }

    /// /healthz's "role" and /metrics' `tla_ledger_entries`; `None` while
    /// the process does not answer.
    fn state(&self) -> Option<(String, u64)> {
        let base = format!("http://127.0.0.1:{}", self.port);
        let health: serde_json::Value = match ureq::get(&format!("{base}/healthz")).call() {
            Ok(r) => r.into_json().ok()?,
            Err(ureq::Error::Status(_, r)) => r.into_json().ok()?,
            Err(_) => return None,
        };
        let metrics = ureq::get(&format!("{base}/metrics"))
            .call()
            .ok()?
            .into_string()
            .ok()?;
        let size = metrics
            .lines()
            .find_map(|l| l.strip_prefix("tla_ledger_entries "))?
            .trim()
            .parse()
            .ok()?;
        Some((health["role"].as_str()?.to_owned(), size))
    }

    /// Waits until the process is `role` with at least `size` entries.
    fn wait(&self, role: &str, size: u64) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some((now, held)) = self.state() {
                if now == role && held >= size {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                started.elapsed() < READY_MAX,
                "the {} in {} was not {role} with {size} entries within {READY_MAX:?}",
                if self.standby { "standby" } else { "writer" },
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Unacknowledged publishes at most, below async-nats's bound of 5,000.
const PUBLISH_WINDOW: usize = 2_000;

/// Publishes `events` to TLA_EVENTS and waits for every acknowledgement.
fn publish(
    runtime: &tokio::runtime::Runtime,
    js: &async_nats::jetstream::Context,
    events: &[schemas::Event],
) -> anyhow::Result<()> {
    runtime.block_on(async {
        // A window of acknowledgements at a time: async-nats lets at most
        // 5,000 publishes wait for theirs, and makes the next one wait.
        for window in events.chunks(PUBLISH_WINDOW) {
            let mut acks = Vec::with_capacity(window.len());
            for event in window {
                let subject = nats::subject_of(event);
                acks.push(
                    js.publish(subject, event.canonical().to_vec().into())
                        .await?,
                );
            }
            for ack in acks {
                ack.await?;
            }
        }
        anyhow::Ok(())
    })
}

/// Kills `writer`, publishes `event`, and times until `next` (which
/// must become the writer) holds `size` entries.
fn time_takeover(
    runtime: &tokio::runtime::Runtime,
    js: &async_nats::jetstream::Context,
    writer: &mut Node,
    next: impl FnOnce() -> anyhow::Result<Node>,
    event: &schemas::Event,
    size: u64,
) -> anyhow::Result<(f64, Node)> {
    writer.kill();
    let killed = Instant::now();
    let next = next()?;
    publish(runtime, js, std::slice::from_ref(event))?;
    loop {
        if let Some((role, held)) = next.state() {
            if role == "writer" && held >= size {
                return Ok((killed.elapsed().as_secs_f64(), next));
            }
        }
        anyhow::ensure!(
            killed.elapsed() < READY_MAX,
            "no writer appended within {READY_MAX:?} of the kill"
        );
        std::thread::sleep(POLL);
    }
}

pub fn run(cx: &Context<'_>) -> anyhow::Result<Vec<Row>> {
    let binary = jetstream::nats_server()?;
    let rounds = cx.sizes.rounds.max(2);
    let events = data::mixed(BEFORE + 2 * rounds, TENANTS)?;
    let (_server, url) = jetstream::start_nats(&binary, &cx.dir("failover-nats")?)?;
    say(format_args!(
        "failover: {rounds} standby takeovers and {rounds} restarts in place on {url}"
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let js = runtime.block_on(async {
        let client = async_nats::connect(&url).await?;
        anyhow::Ok(nats::jetstream(client))
    })?;
    let dirs = [cx.dir("failover-a")?, cx.dir("failover-b")?];
    let mut writer = Node::spawn(&dirs[0], &url, false)?;
    writer.wait("writer", 0)?;
    let mut standby = Node::spawn(&dirs[1], &url, true)?;
    publish(&runtime, &js, &events[..BEFORE])?;
    let mut size = BEFORE as u64;
    writer.wait("writer", size)?;
    standby.wait("standby", size)?;
    let mut next_event = BEFORE;

    let mut takeovers = Vec::new();
    for _ in 0..rounds {
        size += 1;
        let (seconds, new_writer) = time_takeover(
            &runtime,
            &js,
            &mut writer,
            || Ok(standby),
            &events[next_event],
            size,
        )?;
        next_event += 1;
        takeovers.push(seconds);
        // The killed writer's machine comes back, as the standby now.
        standby = Node::spawn(&writer.dir, &url, true)?;
        writer = new_writer;
        standby.wait("standby", size)?;
        say(format_args!(
            "failover: standby took over in {seconds:.2} s"
        ));
    }
    // The baseline: no standby; the killed writer restarted in place.
    standby.kill();
    let mut restarts = Vec::new();
    for _ in 0..rounds {
        size += 1;
        let dir = writer.dir.clone();
        let (seconds, restarted) = time_takeover(
            &runtime,
            &js,
            &mut writer,
            || Node::spawn(&dir, &url, false),
            &events[next_event],
            size,
        )?;
        next_event += 1;
        restarts.push(seconds);
        writer = restarted;
        say(format_args!(
            "failover: restart in place wrote in {seconds:.2} s"
        ));
    }
    let best = |times: &[f64]| times.iter().copied().fold(f64::MAX, f64::min);
    let worst = |times: &[f64]| times.iter().copied().fold(0.0, f64::max);
    Ok(vec![Row::compared(
        "Writer killed: first new entry by the standby",
        "s",
        Better::Lower,
        (best(&takeovers), best(&restarts)),
        "the killed writer restarted in place (no standby)",
        None,
        None,
    )
    .with_note(format!(
        "worst of {rounds}: standby {:.2} s, restart {:.2} s; the standby waits out the \
         dead writer's lease (3 s) and its next try; its gain is that it needs no \
         working machine where the writer was",
        worst(&takeovers),
        worst(&restarts)
    ))])
}
