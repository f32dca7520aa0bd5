//! The simulated world: three ledger processes (two that may write, `A`
//! and `B`, and a read replica `R`), a producer, the simulated JetStream
//! (`nats`), every node's disk, one clock and the network between the
//! nodes and NATS, driven by one queue of timed events. Each writing
//! process runs the real state machines (`protocol::supervisor` and
//! `protocol::pipeline`); this module is their shell, as
//! `ingest::writer` and `service::run` are in the service. Every random
//! draw (latencies, losses, faults) comes from the seed's ChaCha8 stream,
//! so a seed replays exactly.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use protocol::pipeline::{self, Pipeline, Stopped};
use protocol::supervisor::{self, Supervisor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{Ledger, Record, Segment};
use crate::nats::{LeaseAnswer, LogAnswer, Micros, Nats, LEASE_TTL};
use crate::Bug;

/// Events the producer publishes.
pub const EVENTS: u64 = 40;
/// Faults are drawn until then; afterwards the world heals.
pub const FAULTS_UNTIL: Micros = 600_000;
/// The run ends then; everything acknowledged must be committed by then.
pub const RUN_UNTIL: Micros = 2_500_000;
/// A request with no answer after this long failed.
const RPC_TIMEOUT: Micros = 20_000;
/// While faults are drawn, how often JetStream answers a commit-log
/// publish with an error (nothing stored).
const LOG_ERROR_P: f64 = 0.01;
/// While faults are drawn, how often a commit-log publish reaches
/// JetStream only after the writer's request timed out (stored late).
const LOG_LATE_P: f64 = 0.01;
/// Messages per batch.
const BATCH_MAX: usize = 4;
/// Commit-log messages a follower reads at once.
const FOLLOW_MAX: usize = 4;
/// How long an idle writer or follower waits before pulling again.
const IDLE: Micros = 2_000;
/// The writer's restart backoff after a failure.
const BACKOFF: Micros = 10_000;
/// Checkpoints: every this many entries, or this long.
const CHECKPOINT_RULE: pipeline::CheckpointRule = pipeline::CheckpointRule {
    every_entries: 7,
    every: std::time::Duration::from_millis(20),
};
/// Steps at most (a guard against a livelock in the simulator itself).
const STEPS_MAX: u64 = 2_000_000;

pub const NODES: usize = 3;
const REPLICA: usize = 2;
const NAMES: [&str; NODES] = ["A", "B", "R"];

/// A request to NATS.
#[derive(Debug, Clone)]
enum Request {
    Publish { event: u64, valid: bool },
    Fetch,
    PublishLog { segment: Segment, expected: u64 },
    ReadLog { from: u64 },
    LogLast,
    Reject { sequence: u64 },
    Ack { sequence: u64, terminate: bool },
    ResetConsumer,
    TakeLease,
    RenewLease { revision: u64 },
    ReleaseLease { revision: u64 },
    Checkpoint { size: u64, root: u64 },
}

/// NATS's answer.
#[derive(Debug, Clone)]
enum Answer {
    Done,
    Published,
    Messages(Vec<(u64, u64, bool)>),
    Log(LogAnswer),
    Segments(Vec<(u64, Segment)>),
    Last(Option<(u64, u64)>),
    Lease(LeaseAnswer),
}

/// Who sent a request: a node (in one incarnation) or the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Node(usize, u32),
    Producer,
}

/// What a node waits for an answer for.
#[derive(Debug, Clone)]
enum Purpose {
    Fetch,
    Log { batch: u64 },
    Follow,
    CatchUpTarget,
    ReadLogEnd,
    Reject { batch: u64 },
    FinalAck { batch: u64 },
    ResetConsumer { log_last: u64 },
    TakeLease,
    RenewLease,
}

/// Local work finishing on a node.
#[derive(Debug, Clone)]
enum Work {
    Prepared {
        batch: u64,
    },
    Applied {
        batch: u64,
        log_sequence: Option<u64>,
    },
    Flushed {
        batch: u64,
        snapshot: Box<Ledger>,
    },
    CheckpointStored {
        size: u64,
    },
    FollowFlushed {
        snapshot: Box<Ledger>,
    },
    Pull,
    Poll,
    Renew,
    Follow,
    BackedOff,
}

#[derive(Debug, Clone)]
enum Fault {
    Crash(usize),
    /// A clean stop (SIGTERM): the writer finishes the batch in hand.
    Stop(usize),
    Partition(usize, Micros),
    Pause(usize, Micros),
}

#[derive(Debug, Clone)]
enum Event {
    ToNats {
        from: Peer,
        rpc: u64,
        request: Request,
    },
    Answer {
        to: Peer,
        rpc: u64,
        answer: Answer,
    },
    Timeout {
        to: Peer,
        rpc: u64,
    },
    Local {
        node: usize,
        incarnation: u32,
        work: Work,
    },
    Produce {
        event: u64,
    },
    Fault(Fault),
    Restart(usize),
}

/// A batch as the writer's shell holds it.
#[derive(Debug, Clone, Default)]
struct Batch {
    messages: Vec<(u64, u64, bool)>,
    records: Vec<Record>,
    refused: Vec<usize>,
    applied: bool,
    /// Refusals not yet acknowledged by JetStream.
    rejecting: usize,
    /// The acknowledgement waiting for the refusals.
    terminate: Option<Vec<bool>>,
    /// Publishing a refusal failed (reported once).
    failed: bool,
}

#[derive(Debug, Default)]
struct Node {
    alive: bool,
    incarnation: u32,
    paused_until: Micros,
    link_down_until: Micros,
    disk_free_at: Micros,
    durable: Ledger,
    applied: Ledger,
    supervisor: Supervisor,
    pipeline: Option<Pipeline>,
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    pulling: bool,
    following: bool,
    follow_busy: bool,
    catch_up: Option<u64>,
    lease: Option<u64>,
    /// The commit log refused this incarnation's publish: it must append
    /// nothing more until it is reopened.
    fenced: bool,
    /// Why the supervisor asked this incarnation's writer to stop before
    /// its pipeline ran (the service's stop signal, seen as it starts).
    term: Option<Stopped>,
    rpcs: HashMap<u64, Purpose>,
    halted: bool,
}

impl Node {
    /// A new incarnation of the node's work: whatever it had in flight
    /// (the writer, its start, the follower) is dropped.
    fn drop_in_flight(&mut self) {
        self.incarnation += 1;
        self.pipeline = None;
        self.batches.clear();
        self.rpcs.clear();
        self.pulling = false;
        self.follow_busy = false;
        self.catch_up = None;
        self.term = None;
    }
}

/// A broken invariant: when, and what.
#[derive(Debug, Clone)]
pub struct Violation {
    pub at: Micros,
    pub what: String,
}

pub struct World {
    rng: ChaCha8Rng,
    bug: Option<Bug>,
    now: Micros,
    queue: BinaryHeap<Reverse<(Micros, u64, usize)>>,
    events: Vec<Option<Event>>,
    order: u64,
    next_rpc: u64,
    nats: Nats,
    nodes: Vec<Node>,
    producer_rpcs: HashMap<u64, u64>,
    /// Events JetStream acknowledged to the producer, and their validity.
    produced: BTreeSet<(u64, bool)>,
    pub violation: Option<Violation>,
    pub trace: Option<Vec<String>>,
    pub steps: u64,
}

impl World {
    pub fn new(seed: u64, bug: Option<Bug>, trace: bool) -> World {
        let mut world = World {
            rng: ChaCha8Rng::seed_from_u64(seed),
            bug,
            now: 0,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            order: 0,
            next_rpc: 0,
            nats: Nats::default(),
            nodes: (0..NODES).map(|_| Node::default()).collect(),
            producer_rpcs: HashMap::new(),
            produced: BTreeSet::new(),
            violation: None,
            trace: trace.then(Vec::new),
            steps: 0,
        };
        for event in 1..=EVENTS {
            let at = world.rng.gen_range(0..FAULTS_UNTIL);
            world.at(at, Event::Produce { event });
        }
        let mut t = world.rng.gen_range(0..20_000);
        while t < FAULTS_UNTIL {
            let fault = world.draw_fault();
            world.at(t, Event::Fault(fault));
            t += world.rng.gen_range(5_000..40_000);
        }
        for node in 0..NODES {
            let at = world.rng.gen_range(0..5_000);
            world.at(at, Event::Restart(node));
        }
        world
    }

    fn draw_fault(&mut self) -> Fault {
        let node = self.rng.gen_range(0..NODES);
        match self.rng.gen_range(0..4) {
            0 => Fault::Crash(node),
            3 => Fault::Stop(node),
            1 => Fault::Partition(node, self.rng.gen_range(5_000..60_000)),
            _ => Fault::Pause(node, self.rng.gen_range(5_000..80_000)),
        }
    }

    /// Runs to the end, or to the first broken invariant.
    pub fn run(&mut self) {
        while let Some(Reverse((at, _, index))) = self.queue.pop() {
            if at > RUN_UNTIL || self.violation.is_some() || self.steps >= STEPS_MAX {
                break;
            }
            self.now = at;
            self.steps += 1;
            if let Some(event) = self.events[index].take() {
                self.step(event);
            }
        }
        if self.violation.is_none() {
            self.check_end();
        }
    }

    fn at(&mut self, at: Micros, event: Event) {
        self.events.push(Some(event));
        self.order += 1;
        self.queue
            .push(Reverse((at, self.order, self.events.len() - 1)));
    }

    /// Local work on `node`, in its current incarnation, `delay` from now.
    fn later(&mut self, node: usize, delay: Micros, work: Work) {
        let incarnation = self.nodes[node].incarnation;
        self.after(
            delay,
            Event::Local {
                node,
                incarnation,
                work,
            },
        );
    }

    fn after(&mut self, delay: Micros, event: Event) {
        let at = self.now + delay;
        self.at(at, event);
    }

    fn note(&mut self, text: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            trace.push(format!("{:>9} {}", self.now, text()));
        }
    }

    fn violated(&mut self, what: String) {
        self.note(|| format!("VIOLATION {what}"));
        if self.violation.is_none() {
            self.violation = Some(Violation { at: self.now, what });
        }
    }

    fn faults_on(&self) -> bool {
        self.now < FAULTS_UNTIL
    }

    // ---- the network -------------------------------------------------

    fn link_down(&self, peer: Peer) -> bool {
        match peer {
            Peer::Node(n, _) => self.now < self.nodes[n].link_down_until,
            Peer::Producer => false,
        }
    }

    /// One leg of the network: `None` when lost, else its delay.
    fn leg(&mut self, peer: Peer) -> Option<Micros> {
        if self.link_down(peer) {
            return None;
        }
        if self.faults_on() && self.rng.gen_bool(0.02) {
            return None;
        }
        Some(self.rng.gen_range(100..2_000))
    }

    /// Sends a request; the answer (or a timeout) comes back to `from`.
    fn send(&mut self, from: Peer, request: Request) -> u64 {
        self.next_rpc += 1;
        let rpc = self.next_rpc;
        if let Some(mut delay) = self.leg(from) {
            let publish = matches!(request, Request::PublishLog { .. });
            if publish && self.faults_on() && self.rng.gen_bool(LOG_LATE_P) {
                // JetStream takes it after the writer gave up waiting.
                delay += self.rng.gen_range(RPC_TIMEOUT..3 * RPC_TIMEOUT);
            }
            let copies = if self.faults_on() && self.rng.gen_bool(0.01) {
                2
            } else {
                1
            };
            for copy in 0..copies {
                let extra = copy * self.rng.gen_range(0..3_000);
                let request = request.clone();
                self.after(delay + extra, Event::ToNats { from, rpc, request });
            }
        }
        self.after(RPC_TIMEOUT, Event::Timeout { to: from, rpc });
        rpc
    }

    fn node_send(&mut self, node: usize, purpose: Purpose, request: Request) {
        let peer = Peer::Node(node, self.nodes[node].incarnation);
        let rpc = self.send(peer, request);
        self.nodes[node].rpcs.insert(rpc, purpose);
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::ToNats { from, rpc, request } => self.serve(from, rpc, request),
            Event::Answer { to, rpc, answer } => self.answer(to, rpc, Some(answer)),
            Event::Timeout { to, rpc } => self.answer(to, rpc, None),
            Event::Local {
                node,
                incarnation,
                work,
            } => {
                let n = &self.nodes[node];
                if !n.alive || n.incarnation != incarnation {
                    return;
                }
                if self.now < n.paused_until {
                    let at = n.paused_until;
                    self.at(
                        at,
                        Event::Local {
                            node,
                            incarnation,
                            work,
                        },
                    );
                    return;
                }
                self.work(node, work);
            }
            Event::Produce { event } => {
                let valid = event % 10 != 3;
                let rpc = self.send(Peer::Producer, Request::Publish { event, valid });
                self.producer_rpcs.insert(rpc, event);
            }
            Event::Fault(fault) => self.fault(fault),
            Event::Restart(node) => self.restart(node),
        }
    }

    // ---- NATS ---------------------------------------------------------

    fn serve(&mut self, from: Peer, rpc: u64, request: Request) {
        let now = self.now;
        let node = match from {
            Peer::Node(n, _) => n,
            Peer::Producer => usize::MAX,
        };
        let answer = match request {
            Request::Publish { event, valid } => {
                self.nats.publish_event(event, valid, now);
                Some(Answer::Published)
            }
            Request::Fetch => Some(Answer::Messages(self.nats.fetch(BATCH_MAX, now))),
            Request::PublishLog { .. } if self.faults_on() && self.rng.gen_bool(LOG_ERROR_P) => {
                Some(Answer::Log(LogAnswer::Unavailable))
            }
            Request::PublishLog { segment, expected } => {
                let answer = self.nats.publish_log(&segment, expected, now);
                if let LogAnswer::Stored(sequence) = answer {
                    self.note(|| format!("NATS log {sequence} <- {} {segment:?}", NAMES[node]));
                    self.check_log_append(&segment);
                }
                Some(Answer::Log(answer))
            }
            Request::ReadLog { from } => {
                Some(Answer::Segments(self.nats.read_log(from, FOLLOW_MAX)))
            }
            Request::LogLast => Some(Answer::Last(self.nats.log_last())),
            Request::Reject { sequence } => {
                self.nats.rejected.insert(sequence);
                Some(Answer::Done)
            }
            Request::Ack {
                sequence,
                terminate,
            } => {
                self.check_ack_at_nats(sequence, terminate);
                self.nats.ack(sequence, terminate);
                Some(Answer::Done)
            }
            Request::ResetConsumer => {
                self.nats.reset_consumer();
                Some(Answer::Done)
            }
            Request::TakeLease => Some(Answer::Lease(self.nats.take_lease(node, now))),
            Request::RenewLease { revision } => {
                Some(Answer::Lease(self.nats.renew_lease(node, revision, now)))
            }
            Request::ReleaseLease { revision } => {
                self.nats.release_lease(revision);
                None
            }
            Request::Checkpoint { size, root } => {
                self.nats.checkpoints.push((size, root));
                self.check_checkpoint_against_log(size, root, "published");
                None
            }
        };
        if let Some(answer) = answer {
            if let Some(delay) = self.leg(from) {
                self.after(
                    delay,
                    Event::Answer {
                        to: from,
                        rpc,
                        answer,
                    },
                );
            }
        }
    }

    // ---- answers ------------------------------------------------------

    fn answer(&mut self, to: Peer, rpc: u64, answer: Option<Answer>) {
        let (node, incarnation) = match to {
            Peer::Producer => {
                if let Some(event) = self.producer_rpcs.remove(&rpc) {
                    match answer {
                        Some(_) => {
                            self.produced.insert((event, event % 10 != 3));
                        }
                        None => self.after(10_000, Event::Produce { event }),
                    }
                }
                return;
            }
            Peer::Node(node, incarnation) => (node, incarnation),
        };
        let n = &self.nodes[node];
        if !n.alive || n.incarnation != incarnation || !n.rpcs.contains_key(&rpc) {
            return;
        }
        if self.now < n.paused_until {
            // A paused process reads its socket when it wakes up.
            let at = n.paused_until;
            let event = match answer {
                Some(answer) => Event::Answer { to, rpc, answer },
                None => Event::Timeout { to, rpc },
            };
            self.at(at, event);
            return;
        }
        let Some(purpose) = self.nodes[node].rpcs.remove(&rpc) else {
            return;
        };
        self.answered(node, purpose, answer);
    }

    fn answered(&mut self, node: usize, purpose: Purpose, answer: Option<Answer>) {
        match (purpose, answer) {
            (Purpose::Fetch, answer) => self.pulled(node, answer),
            (Purpose::Log { batch }, Some(Answer::Log(answer))) => self.logged(node, batch, answer),
            (Purpose::Log { batch }, _) => self.feed(node, pipeline::Input::LogFailed { batch }),
            (Purpose::Follow, answer) => self.followed(node, answer),
            (Purpose::CatchUpTarget, Some(Answer::Last(last))) => {
                self.nodes[node].catch_up = Some(last.map_or(0, |(s, _)| s));
                self.follow_step(node);
            }
            (Purpose::ReadLogEnd, Some(Answer::Last(last))) => {
                let size = self.nodes[node].applied.size();
                self.supervise(node, supervisor::Input::LogEnd { size, last });
            }
            (Purpose::CatchUpTarget | Purpose::ReadLogEnd, _) => {
                // The writer fails to start; the supervisor tries again.
                self.writer_stopped(node, Stopped::Failed);
            }
            (Purpose::Reject { batch }, Some(_)) => self.rejected(node, batch),
            (Purpose::Reject { batch } | Purpose::FinalAck { batch }, None) => {
                let first = match self.nodes[node].batches.get_mut(&batch) {
                    Some(b) => !std::mem::replace(&mut b.failed, true),
                    None => true,
                };
                if first {
                    self.feed(node, pipeline::Input::AckFailed { batch })
                }
            }
            (Purpose::FinalAck { batch }, Some(_)) => {
                self.feed(node, pipeline::Input::Acknowledged { batch })
            }
            (Purpose::ResetConsumer { log_last }, Some(_)) => self.start_pipeline(node, log_last),
            (Purpose::ResetConsumer { .. }, None) => {
                self.writer_stopped(node, Stopped::Failed);
            }
            (Purpose::TakeLease, Some(Answer::Lease(LeaseAnswer::Held(revision)))) => {
                self.nodes[node].lease = Some(revision);
                self.later(node, LEASE_TTL / 6, Work::Renew);
                let empty = self.nodes[node].applied.size() == 0;
                self.supervise(node, supervisor::Input::LeaseTaken { empty });
            }
            (Purpose::TakeLease, _) => {
                self.later(node, LEASE_TTL / 3, Work::Poll);
                self.supervise(node, supervisor::Input::LeaseHeld);
            }
            (Purpose::RenewLease, Some(Answer::Lease(LeaseAnswer::Held(revision)))) => {
                self.nodes[node].lease = Some(revision);
            }
            (Purpose::RenewLease, Some(_)) => {
                self.note(|| format!("{} lost the lease", NAMES[node]));
                self.nodes[node].lease = None;
                self.supervise(node, supervisor::Input::LeaseLost);
            }
            // Tried again at the next renewal.
            (Purpose::RenewLease, None) => {}
        }
    }

    // ---- the supervisor's shell ----------------------------------------

    fn supervise(&mut self, node: usize, input: supervisor::Input) {
        let mut input = input;
        let stale = [
            Bug::StandbyWritesBeforeCaughtUp,
            Bug::WriteAfterStaleCatchUp,
        ];
        if self.bug.is_some_and(|b| stale.contains(&b)) {
            // Planted: the log's end taken as reached when the ledger is
            // not longer than it (the old `start_log`).
            if let supervisor::Input::LogEnd { size, last } = input {
                let end = last.map_or(0, |(_, end)| end);
                input = supervisor::Input::LogEnd {
                    size: size.max(end),
                    last,
                };
            }
        }
        self.note(|| format!("{} supervisor <- {input:?}", NAMES[node]));
        let actions = self.nodes[node].supervisor.handle(input);
        for action in actions {
            self.supervisor_action(node, action);
        }
    }

    fn supervisor_action(&mut self, node: usize, action: supervisor::Action) {
        use supervisor::Action as A;
        self.note(|| format!("{} supervisor -> {action:?}", NAMES[node]));
        match action {
            A::Follow => {
                self.nodes[node].following = true;
                self.follow_step(node);
            }
            A::StopFollowing => self.nodes[node].following = false,
            // The simulator has one ledger per consumer: the binding never
            // refuses, and claiming it needs nothing from NATS.
            A::CheckBinding => {}
            A::Claim => self.supervise(node, supervisor::Input::Claimed),
            A::TryLease => self.node_send(node, Purpose::TakeLease, Request::TakeLease),
            A::RenewLease => {
                if let Some(revision) = self.nodes[node].lease {
                    self.node_send(node, Purpose::RenewLease, Request::RenewLease { revision });
                }
            }
            A::StopWriting(reason) => {
                if self.nodes[node].pipeline.is_some() {
                    let input = match reason {
                        Stopped::Shutdown => pipeline::Input::Shutdown,
                        _ => pipeline::Input::LeaseLost,
                    };
                    self.feed(node, input);
                } else {
                    // The step of the start in hand comes back as usual;
                    // a writer about to start sees its stop signal.
                    self.nodes[node].term = Some(reason);
                }
            }
            A::CatchUp => {
                if self.bug == Some(Bug::StandbyWritesBeforeCaughtUp) {
                    // Planted: no catch-up at all.
                    self.supervise(node, supervisor::Input::CaughtUp);
                    return;
                }
                self.node_send(node, Purpose::CatchUpTarget, Request::LogLast);
            }
            A::ReadLogEnd => self.node_send(node, Purpose::ReadLogEnd, Request::LogLast),
            A::PublishBacklog { from, .. } => {
                self.violated(format!(
                    "{} holds entries from {from} on that the commit log lacks",
                    NAMES[node]
                ));
            }
            A::Write { log_last } => self.node_send(
                node,
                Purpose::ResetConsumer { log_last },
                Request::ResetConsumer,
            ),
            A::ReleaseLease => {
                if let Some(revision) = self.nodes[node].lease.take() {
                    let peer = Peer::Node(node, self.nodes[node].incarnation);
                    self.send(peer, Request::ReleaseLease { revision });
                }
            }
            A::Reopen => {
                self.reopen(node);
                let empty = self.nodes[node].applied.size() == 0;
                self.supervise(node, supervisor::Input::Opened { empty });
            }
            A::Backoff => self.later(node, BACKOFF, Work::BackedOff),
            A::Exit => {
                self.note(|| format!("{} exits", NAMES[node]));
                let n = &mut self.nodes[node];
                n.alive = false;
                n.incarnation += 1;
                let delay = self.rng.gen_range(2_000..50_000);
                self.after(delay, Event::Restart(node));
            }
        }
    }

    /// The writer (or the step of its start in hand) has ended: what it
    /// had in flight is dropped, as the service's writer task is joined
    /// before its stop is told (its lease stays, for `ReleaseLease`).
    fn end_writer(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.drop_in_flight();
        if n.lease.is_some() {
            self.later(node, LEASE_TTL / 6, Work::Renew);
        }
    }

    /// Tells the supervisor the writer stopped, once it has ended.
    fn writer_stopped(&mut self, node: usize, stopped: Stopped) {
        self.end_writer(node);
        self.supervise(node, supervisor::Input::WriterStopped(stopped));
    }

    /// Drops the in-memory state and opens the ledger from disk.
    fn reopen(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.drop_in_flight();
        n.applied = n.durable.clone();
        n.fenced = false;
        // The lease is no longer renewed (the shell dropped it); its key
        // stays until it lapses or this directory takes it again.
        n.lease = None;
    }

    // ---- following the commit log -------------------------------------

    fn follow_step(&mut self, node: usize) {
        let n = &self.nodes[node];
        let reading = n.following || n.catch_up.is_some();
        if !n.alive || n.halted || n.follow_busy || !reading || n.pipeline.is_some() {
            return;
        }
        if let Some(target) = n.catch_up {
            if n.applied.log_cursor >= target {
                self.nodes[node].catch_up = None;
                self.supervise(node, supervisor::Input::CaughtUp);
                return;
            }
        }
        let from = n.applied.log_cursor + 1;
        self.nodes[node].follow_busy = true;
        self.node_send(node, Purpose::Follow, Request::ReadLog { from });
    }

    fn followed(&mut self, node: usize, answer: Option<Answer>) {
        let segments = match answer {
            Some(Answer::Segments(segments)) if !segments.is_empty() => segments,
            _ => {
                self.nodes[node].follow_busy = false;
                self.later(node, IDLE, Work::Follow);
                return;
            }
        };
        if self.nodes[node].pipeline.is_some() {
            self.nodes[node].follow_busy = false;
            return;
        }
        for (sequence, segment) in &segments {
            let result = self.nodes[node].applied.apply_segment(*sequence, segment);
            if let Err(error) = result {
                self.violated(format!(
                    "{} refused commit-log message {sequence}: {error}",
                    NAMES[node]
                ));
                self.nodes[node].halted = true;
                return;
            }
        }
        self.check_prefix(node);
        let snapshot = Box::new(self.nodes[node].applied.clone());
        let delay = self.disk(node);
        self.later(node, delay, Work::FollowFlushed { snapshot });
    }

    /// A disk operation's completion delay (one at a time per disk).
    fn disk(&mut self, node: usize) -> Micros {
        let took = self.rng.gen_range(200..3_000);
        let start = self.nodes[node].disk_free_at.max(self.now);
        self.nodes[node].disk_free_at = start + took;
        start + took - self.now
    }

    fn cpu(&mut self) -> Micros {
        self.rng.gen_range(10..300)
    }

    // ---- local work ---------------------------------------------------

    fn work(&mut self, node: usize, work: Work) {
        match work {
            Work::Prepared { batch } => self.prepared(node, batch),
            Work::Applied {
                batch,
                log_sequence,
            } => self.applied(node, batch, log_sequence),
            Work::Flushed { batch, snapshot } => {
                self.make_durable(node, *snapshot);
                self.feed(node, pipeline::Input::Flushed { batch });
            }
            Work::CheckpointStored { size } => self.checkpoint_stored(node, size),
            Work::FollowFlushed { snapshot } => {
                self.make_durable(node, *snapshot);
                self.store_published_checkpoints(node);
                self.nodes[node].follow_busy = false;
                self.follow_step(node);
            }
            Work::Pull => {
                self.nodes[node].pulling = false;
                self.pull(node);
            }
            Work::Poll => self.supervise(node, supervisor::Input::Poll),
            Work::Renew => {
                // Renewed while held (`hold_lease`'s timer).
                if self.nodes[node].lease.is_some() {
                    self.later(node, LEASE_TTL / 6, Work::Renew);
                    self.supervise(node, supervisor::Input::RenewDue);
                }
            }
            Work::Follow => self.follow_step(node),
            Work::BackedOff => self.supervise(node, supervisor::Input::BackedOff),
        }
    }

    fn make_durable(&mut self, node: usize, snapshot: Ledger) {
        let n = &mut self.nodes[node];
        let checkpoints = std::mem::take(&mut n.durable.checkpoints);
        n.durable = snapshot;
        if checkpoints.len() > n.durable.checkpoints.len() {
            n.durable.checkpoints = checkpoints;
        }
        self.check_prefix(node);
    }

    /// A replica (or standby) stores the writer's checkpoints its ledger
    /// reached, each checked against its own tree.
    fn store_published_checkpoints(&mut self, node: usize) {
        let published = self.nats.checkpoints.clone();
        for (size, root) in published {
            let n = &self.nodes[node];
            if size > n.durable.size() || n.durable.checkpoints.contains(&(size, root)) {
                continue;
            }
            if n.durable.root(size) != Some(root) {
                self.violated(format!(
                    "{}: the writer's checkpoint of size {size} does not match its tree",
                    NAMES[node]
                ));
                return;
            }
            self.store_checkpoint(node, size, root, false);
        }
    }

    // ---- the writer's shell --------------------------------------------

    fn start_pipeline(&mut self, node: usize, log_last: u64) {
        if self.nodes[node].supervisor.role() != supervisor::Role::Writing {
            return;
        }
        let l = &self.nodes[node].applied;
        let signed = l.checkpoints.iter().map(|c| c.0).max().unwrap_or(0);
        let pipeline = Pipeline::new(
            l.consumer_cursor,
            log_last,
            l.size(),
            signed,
            Some(CHECKPOINT_RULE),
            self.now,
        );
        self.note(|| {
            format!(
                "{} writes, expecting log {log_last}, size {}",
                NAMES[node],
                pipeline.size()
            )
        });
        self.nodes[node].pipeline = Some(pipeline);
        self.nodes[node].following = false;
        if let Some(reason) = self.nodes[node].term.take() {
            // Asked to stop while starting: the writer sees its stop
            // signal before it consumes anything.
            let input = match reason {
                Stopped::Shutdown => pipeline::Input::Shutdown,
                _ => pipeline::Input::LeaseLost,
            };
            self.feed(node, input);
        }
        self.pull(node);
    }

    fn pull(&mut self, node: usize) {
        let n = &self.nodes[node];
        let may = n.pipeline.as_ref().is_some_and(Pipeline::may_gather);
        if !may || n.pulling {
            return;
        }
        self.nodes[node].pulling = true;
        self.node_send(node, Purpose::Fetch, Request::Fetch);
    }

    fn pulled(&mut self, node: usize, answer: Option<Answer>) {
        self.nodes[node].pulling = false;
        let messages = match answer {
            Some(Answer::Messages(messages)) if !messages.is_empty() => messages,
            _ => {
                // One pull loop: the next pull is the timer's.
                self.nodes[node].pulling = true;
                self.later(node, IDLE, Work::Pull);
                self.feed(
                    node,
                    pipeline::Input::Tick {
                        now_micros: self.now,
                    },
                );
                return;
            }
        };
        let may = self.nodes[node]
            .pipeline
            .as_ref()
            .is_some_and(Pipeline::may_gather);
        if !may {
            // Stopping meanwhile: they come again after the wait.
            return;
        }
        let n = &mut self.nodes[node];
        n.next_batch += 1;
        let batch = n.next_batch;
        let sequences = messages.iter().map(|m| m.0).collect();
        n.batches.insert(
            batch,
            Batch {
                messages,
                ..Batch::default()
            },
        );
        self.feed(node, pipeline::Input::Gathered { batch, sequences });
    }

    /// Feeds the pipeline and carries out its actions.
    fn feed(&mut self, node: usize, input: pipeline::Input) {
        let mut input = input;
        if let pipeline::Input::LogRefused { batch } = input {
            self.nodes[node].fenced = true;
            if self.bug == Some(Bug::IgnoreRefusedPublish) {
                // Planted: the refusal taken for an acknowledgement.
                let sequence = self.nats.log.len() as u64;
                input = pipeline::Input::LogAcked { batch, sequence };
            }
        }
        let Some(pipeline) = self.nodes[node].pipeline.as_mut() else {
            return;
        };
        let actions = pipeline.handle(input.clone());
        self.note(|| format!("{} pipeline <- {input:?} -> {actions:?}", NAMES[node]));
        for action in actions {
            self.pipeline_action(node, action);
        }
        self.pull(node);
    }

    fn pipeline_action(&mut self, node: usize, action: pipeline::Action) {
        use pipeline::Action as A;
        match action {
            A::Prepare { batch, .. } => {
                let delay = self.cpu();
                self.later(node, delay, Work::Prepared { batch });
            }
            A::PublishLog {
                batch,
                expected_last,
            } => {
                if self.bug == Some(Bug::ApplyBeforeLogAck) {
                    // Planted: applied before the log took it.
                    self.apply_batch(node, batch, None);
                }
                let segment = self.segment(node, batch);
                let request = Request::PublishLog {
                    segment,
                    expected: expected_last,
                };
                self.node_send(node, Purpose::Log { batch }, request);
            }
            A::Apply {
                batch,
                log_sequence,
            } => {
                let delay = self.cpu();
                let work = Work::Applied {
                    batch,
                    log_sequence,
                };
                self.later(node, delay, work);
            }
            A::SignCheckpoint { size } => {
                let delay = self.disk(node);
                self.later(node, delay, Work::CheckpointStored { size });
            }
            A::Flush { batch } => {
                if self.bug == Some(Bug::AckBeforeFlush) {
                    // Planted: acknowledged as the flush starts.
                    let terminate = self.terminations(node, batch);
                    self.send_acks(node, batch, &terminate, false);
                }
                let snapshot = Box::new(self.nodes[node].applied.clone());
                let delay = self.disk(node);
                self.later(node, delay, Work::Flushed { batch, snapshot });
            }
            A::Durable { .. } => {}
            A::PublishRefusals { batch, refused } => {
                let sequences: Vec<u64> = match self.nodes[node].batches.get(&batch) {
                    Some(b) => refused.iter().map(|&i| b.messages[i].0).collect(),
                    None => Vec::new(),
                };
                if let Some(b) = self.nodes[node].batches.get_mut(&batch) {
                    b.rejecting = sequences.len();
                }
                for sequence in sequences {
                    self.node_send(
                        node,
                        Purpose::Reject { batch },
                        Request::Reject { sequence },
                    );
                }
            }
            A::Acknowledge { batch, terminate } => {
                let waiting = self.nodes[node]
                    .batches
                    .get(&batch)
                    .is_some_and(|b| b.rejecting > 0);
                if waiting {
                    if let Some(b) = self.nodes[node].batches.get_mut(&batch) {
                        b.terminate = Some(terminate);
                    }
                } else {
                    self.send_acks(node, batch, &terminate, true);
                }
            }
            A::Stop(reason) => {
                self.note(|| format!("{} stops writing: {reason:?}", NAMES[node]));
                self.writer_stopped(node, reason);
            }
        }
    }

    fn terminations(&self, node: usize, batch: u64) -> Vec<bool> {
        match self.nodes[node].batches.get(&batch) {
            Some(b) => (0..b.messages.len())
                .map(|i| b.refused.contains(&i))
                .collect(),
            None => Vec::new(),
        }
    }

    fn prepared(&mut self, node: usize, batch: u64) {
        let Some(b) = self.nodes[node].batches.get(&batch) else {
            return;
        };
        let valid: Vec<u64> = b.messages.iter().filter(|m| m.2).map(|m| m.1).collect();
        let refused: Vec<usize> = (0..b.messages.len())
            .filter(|&i| !b.messages[i].2)
            .collect();
        let records = self.nodes[node].applied.prepare(&valid);
        let has_records = !records.is_empty();
        if let Some(b) = self.nodes[node].batches.get_mut(&batch) {
            b.records = records;
            b.refused = refused.clone();
        }
        self.feed(
            node,
            pipeline::Input::Prepared {
                batch,
                records: has_records,
                refused,
            },
        );
    }

    fn segment(&self, node: usize, batch: u64) -> Segment {
        let records = self.nodes[node]
            .batches
            .get(&batch)
            .map(|b| b.records.clone())
            .unwrap_or_default();
        let first = records.first().map_or(0, |r| r.position);
        let base_hash = match first {
            0 => 0,
            p => self.nodes[node].applied.root(p).unwrap_or(0),
        };
        Segment {
            first,
            base_hash,
            records,
        }
    }

    fn logged(&mut self, node: usize, batch: u64, answer: LogAnswer) {
        match answer {
            LogAnswer::Stored(sequence) | LogAnswer::Duplicate(sequence) => {
                self.feed(node, pipeline::Input::LogAcked { batch, sequence })
            }
            LogAnswer::WrongLast(_) => self.feed(node, pipeline::Input::LogRefused { batch }),
            LogAnswer::Unavailable => self.feed(node, pipeline::Input::LogFailed { batch }),
        }
    }

    /// Applies a prepared batch to the node's ledger (unsynced).
    fn apply_batch(&mut self, node: usize, batch: u64, log_sequence: Option<u64>) {
        if self.nodes[node].fenced {
            self.violated(format!(
                "{} applied batch {batch} after the commit log fenced it",
                NAMES[node]
            ));
        }
        let n = &mut self.nodes[node];
        let Some(b) = n.batches.get_mut(&batch) else {
            return;
        };
        if b.applied {
            return;
        }
        b.applied = true;
        let records = b.records.clone();
        let highest = b.messages.iter().map(|m| m.0).max().unwrap_or(0);
        let result = n.applied.append(&records);
        n.applied.consumer_cursor = n.applied.consumer_cursor.max(highest);
        if let Some(sequence) = log_sequence {
            n.applied.log_cursor = sequence;
        }
        if let Err(error) = result {
            self.violated(format!("{}: {error}", NAMES[node]));
        }
        self.check_prefix(node);
    }

    fn applied(&mut self, node: usize, batch: u64, log_sequence: Option<u64>) {
        self.apply_batch(node, batch, log_sequence);
        let size = self.nodes[node].applied.size();
        self.feed(node, pipeline::Input::Applied { batch, size });
    }

    fn checkpoint_stored(&mut self, node: usize, size: u64) {
        let snapshot = self.nodes[node].applied.clone();
        self.make_durable(node, snapshot);
        let root = self.nodes[node].applied.root(size).unwrap_or(0);
        self.store_checkpoint(node, size, root, true);
        self.note(|| format!("{} signed a checkpoint of {size}", NAMES[node]));
        let peer = Peer::Node(node, self.nodes[node].incarnation);
        self.send(peer, Request::Checkpoint { size, root });
        self.feed(node, pipeline::Input::CheckpointStored { size });
    }

    /// Stores a checkpoint durably (by size, as the store keys them); one
    /// this node `signed` must extend the latest it stored.
    fn store_checkpoint(&mut self, node: usize, size: u64, root: u64, signed: bool) {
        let n = &self.nodes[node];
        let latest = n.durable.checkpoints.iter().max().copied();
        if let (true, Some((previous, previous_root))) = (signed, latest) {
            let extends = previous <= size && n.durable.root(previous) == Some(previous_root);
            if !extends {
                self.violated(format!(
                    "{}: the checkpoint of size {size} does not extend the one of size {previous}",
                    NAMES[node]
                ));
            }
        }
        self.check_checkpoint_against_log(size, root, NAMES[node]);
        let n = &mut self.nodes[node];
        if !n.durable.checkpoints.contains(&(size, root)) {
            n.durable.checkpoints.push((size, root));
        }
        n.applied.checkpoints = n.durable.checkpoints.clone();
    }

    fn rejected(&mut self, node: usize, batch: u64) {
        let Some(b) = self.nodes[node].batches.get_mut(&batch) else {
            return;
        };
        b.rejecting = b.rejecting.saturating_sub(1);
        if b.rejecting == 0 && !b.failed {
            if let Some(terminate) = b.terminate.take() {
                self.send_acks(node, batch, &terminate, true);
            }
        }
    }

    /// Acknowledges a batch's messages, the last with a confirmation.
    fn send_acks(&mut self, node: usize, batch: u64, terminate: &[bool], confirm: bool) {
        let messages = match self.nodes[node].batches.get(&batch) {
            Some(b) => b.messages.clone(),
            None => return,
        };
        for (i, &(sequence, event, _)) in messages.iter().enumerate() {
            let term = terminate.get(i).copied().unwrap_or(false);
            if !term && !self.nodes[node].durable.events.contains(&event) {
                self.violated(format!(
                    "{} acknowledged message {sequence} (event {event}) before it was durable",
                    NAMES[node]
                ));
            }
            let request = Request::Ack {
                sequence,
                terminate: term,
            };
            if confirm && i + 1 == messages.len() {
                self.node_send(node, Purpose::FinalAck { batch }, request);
            } else {
                let peer = Peer::Node(node, self.nodes[node].incarnation);
                self.send(peer, request);
            }
        }
    }

    // ---- faults ---------------------------------------------------------

    fn fault(&mut self, fault: Fault) {
        self.note(|| format!("FAULT {fault:?}"));
        match fault {
            Fault::Crash(node) => {
                self.nodes[node].alive = false;
                self.nodes[node].incarnation += 1;
                let delay = self.rng.gen_range(2_000..50_000);
                self.after(delay, Event::Restart(node));
            }
            Fault::Stop(node) => {
                if self.nodes[node].alive && node != REPLICA {
                    self.supervise(node, supervisor::Input::Shutdown);
                }
            }
            Fault::Partition(node, long) => {
                self.nodes[node].link_down_until = self.now + long;
            }
            Fault::Pause(node, long) => {
                // A pause during a pause ends no earlier than the first.
                let until = self.nodes[node].paused_until.max(self.now + long);
                self.nodes[node].paused_until = until;
            }
        }
    }

    /// A node's process starting (again) over its disk.
    fn restart(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        if n.alive {
            return;
        }
        n.alive = true;
        n.following = false;
        n.halted = false;
        // B runs with --standby: an empty ledger copies the log first.
        n.supervisor = Supervisor::new(node == 1);
        self.reopen(node);
        let size = self.nodes[node].durable.size();
        self.note(|| format!("{} starts, durable size {size}", NAMES[node]));
        if node == REPLICA {
            self.nodes[node].following = true;
            self.follow_step(node);
            return;
        }
        let empty = self.nodes[node].applied.size() == 0;
        self.supervise(node, supervisor::Input::Opened { empty });
    }

    // ---- invariants ------------------------------------------------------

    /// The commit log never forks: each message extends the one before.
    fn check_log_append(&mut self, segment: &Segment) {
        let before = self.nats.log_records.len() - segment.records.len();
        let head = match before {
            0 => 0,
            n => self.nats.log_records[n - 1].hash,
        };
        if segment.first != before as u64 || segment.base_hash != head {
            self.violated(format!(
                "the commit log forks: message {} starts at position {} over head {:x}, the log \
                 holds {before} entries with head {head:x}",
                self.nats.log.len(),
                segment.first,
                segment.base_hash
            ));
            return;
        }
        let mut seen = BTreeSet::new();
        for r in &self.nats.log_records[..before] {
            seen.insert(r.event);
        }
        for r in &segment.records {
            if !seen.insert(r.event) {
                self.violated(format!(
                    "event {} is stored twice in the commit log",
                    r.event
                ));
            }
        }
    }

    /// Every ledger, applied and durable, is a prefix of the commit log,
    /// record for record.
    fn check_prefix(&mut self, node: usize) {
        if let Some(what) = self.prefix_problem(node) {
            self.violated(what);
        }
    }

    fn prefix_problem(&self, node: usize) -> Option<String> {
        let log = &self.nats.log_records;
        let n = &self.nodes[node];
        for (what, ledger) in [("applied", &n.applied), ("durable", &n.durable)] {
            if ledger.records.len() > log.len() {
                return Some(format!(
                    "{}'s {what} ledger holds {} entries, the commit log {}",
                    NAMES[node],
                    ledger.records.len(),
                    log.len()
                ));
            }
            if let Some(p) = (0..ledger.records.len()).find(|&p| ledger.records[p] != log[p]) {
                return Some(format!(
                    "{}'s {what} ledger differs from the commit log at {p}",
                    NAMES[node]
                ));
            }
        }
        None
    }

    fn check_checkpoint_against_log(&mut self, size: u64, root: u64, by: &str) {
        let log_root = match size {
            0 => Some(0),
            s => self.nats.log_records.get(s as usize - 1).map(|r| r.hash),
        };
        if log_root != Some(root) {
            self.violated(format!(
                "checkpoint of size {size} ({by}) is not a prefix of the commit log"
            ));
        }
    }

    /// A message is acknowledged only once its event is in the commit log.
    fn check_ack_at_nats(&mut self, sequence: u64, terminate: bool) {
        let (event, _) = self.nats.events[sequence as usize - 1];
        if terminate {
            if !self.nats.rejected.contains(&sequence) {
                self.violated(format!(
                    "message {sequence} terminated without its refusal published"
                ));
            }
            return;
        }
        if !self.nats.log_records.iter().any(|r| r.event == event) {
            self.violated(format!(
                "message {sequence} (event {event}) acknowledged but not in the commit log"
            ));
        }
    }

    /// At the end: every event acknowledged to the producer is committed,
    /// once (after the faults stopped, the writers had time to catch up).
    fn check_end(&mut self) {
        let committed: BTreeSet<u64> = self.nats.log_records.iter().map(|r| r.event).collect();
        let lost: Vec<u64> = self
            .produced
            .iter()
            .filter(|(e, valid)| *valid && !committed.contains(e))
            .map(|(e, _)| *e)
            .collect();
        if !lost.is_empty() {
            self.violated(format!(
                "events acknowledged to the producer never committed: {lost:?} (log {} entries)",
                committed.len()
            ));
        }
        for node in 0..NODES {
            self.check_prefix(node);
        }
    }
}
