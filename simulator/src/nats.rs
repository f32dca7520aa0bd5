//! The simulated JetStream: the events stream with its duplicate window
//! and the writers' durable consumer (new messages before redeliveries,
//! redelivery after the acknowledgement wait, recreated from the first
//! unacknowledged message), the refusals, the commit log with
//! `Nats-Expected-Last-Subject-Sequence` and its own duplicate window, the
//! checkpoints, and the lease bucket (create, compare-and-set on the
//! revision, `max_age`). NATS itself does not fail here: what fails is the
//! network to it and the nodes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Record, Segment};

pub type Micros = u64;

/// Durations of the simulated world, in microseconds (the real ones
/// scaled down, their proportions kept).
pub const ACK_WAIT: Micros = 30_000;
pub const DUPLICATE_WINDOW: Micros = 60_000;
pub const LEASE_TTL: Micros = 30_000;

/// The writers' durable consumer of the events stream.
#[derive(Debug, Default)]
pub struct Consumer {
    /// Every message up to here is acknowledged or terminated.
    pub floor: u64,
    /// Acknowledged or terminated above the floor.
    done: BTreeSet<u64>,
    /// Delivered and not acknowledged: when last delivered.
    pending: BTreeMap<u64, Micros>,
    /// The next message never delivered by this consumer.
    next_new: u64,
}

/// The lease key of the ledger.
#[derive(Debug, Clone, Copy)]
pub struct LeaseKey {
    pub node: usize,
    pub revision: u64,
    pub written: Micros,
}

#[derive(Debug, Default)]
pub struct Nats {
    /// The events stream: (event, valid) by sequence - 1.
    pub events: Vec<(u64, bool)>,
    events_window: HashMap<u64, (u64, Micros)>,
    pub consumer: Consumer,
    /// Sequences whose refusal was published on `tla.rejected`.
    pub rejected: BTreeSet<u64>,
    /// Messages acknowledged (not terminated), with their event.
    pub acknowledged: Vec<(u64, u64)>,
    /// The commit log: segments by stream sequence - 1.
    pub log: Vec<Segment>,
    /// The log's records, concatenated.
    pub log_records: Vec<Record>,
    log_window: HashMap<u64, (u64, Micros)>,
    /// Published checkpoints: (size, head hash).
    pub checkpoints: Vec<(u64, u64)>,
    pub lease: Option<LeaseKey>,
    lease_revision: u64,
}

/// What publishing to the commit log gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAnswer {
    Stored(u64),
    /// A repeat within the duplicate window: the original's sequence.
    Duplicate(u64),
    /// The expected last sequence was not the last: (the actual last).
    WrongLast(u64),
    /// JetStream answered with an error (a leader election, no quorum):
    /// nothing stored.
    Unavailable,
}

/// What taking or renewing the lease gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAnswer {
    Held(u64),
    /// Held by another (or lapsed, for a renewal).
    Refused,
}

impl Nats {
    /// A producer's publish with `Nats-Msg-Id` = the event; its sequence.
    pub fn publish_event(&mut self, event: u64, valid: bool, now: Micros) -> u64 {
        if let Some(&(sequence, at)) = self.events_window.get(&event) {
            if now < at + DUPLICATE_WINDOW {
                return sequence;
            }
        }
        self.events.push((event, valid));
        let sequence = self.events.len() as u64;
        self.events_window.insert(event, (sequence, now));
        sequence
    }

    /// Up to `max` messages for a pull: new ones first, then those whose
    /// acknowledgement wait ran out.
    pub fn fetch(&mut self, max: usize, now: Micros) -> Vec<(u64, u64, bool)> {
        let c = &mut self.consumer;
        c.next_new = c.next_new.max(c.floor + 1);
        let mut out = Vec::new();
        while out.len() < max && c.next_new <= self.events.len() as u64 {
            let sequence = c.next_new;
            c.next_new += 1;
            if c.done.contains(&sequence) {
                continue;
            }
            c.pending.insert(sequence, now);
            out.push(sequence);
        }
        let expired: Vec<u64> = c
            .pending
            .iter()
            .filter(|(s, at)| now >= *at + ACK_WAIT && !out.contains(s))
            .map(|(s, _)| *s)
            .take(max.saturating_sub(out.len()))
            .collect();
        for sequence in expired {
            c.pending.insert(sequence, now);
            out.push(sequence);
        }
        out.into_iter()
            .map(|s| {
                let (event, valid) = self.events[s as usize - 1];
                (s, event, valid)
            })
            .collect()
    }

    /// An acknowledgement (or termination) of message `sequence`.
    pub fn ack(&mut self, sequence: u64, terminate: bool) {
        let c = &mut self.consumer;
        if sequence <= c.floor || c.done.contains(&sequence) {
            return;
        }
        c.pending.remove(&sequence);
        c.done.insert(sequence);
        while c.done.remove(&(c.floor + 1)) {
            c.floor += 1;
        }
        if !terminate {
            let (event, _) = self.events[sequence as usize - 1];
            self.acknowledged.push((sequence, event));
        }
    }

    /// A writer starting: the consumer recreated from the first
    /// unacknowledged message when it has any pending.
    pub fn reset_consumer(&mut self) {
        let c = &mut self.consumer;
        if !c.pending.is_empty() {
            c.pending.clear();
            c.done.clear();
            c.next_new = c.floor + 1;
        }
    }

    /// The commit log's last message: (sequence, end).
    pub fn log_last(&self) -> Option<(u64, u64)> {
        self.log.last().map(|s| (self.log.len() as u64, s.end()))
    }

    /// A publish to the commit log with the expected last sequence.
    pub fn publish_log(&mut self, segment: &Segment, expected: u64, now: Micros) -> LogAnswer {
        let id = segment.msg_id();
        if let Some(&(sequence, at)) = self.log_window.get(&id) {
            if now < at + DUPLICATE_WINDOW {
                return LogAnswer::Duplicate(sequence);
            }
        }
        let last = self.log.len() as u64;
        if expected != last {
            return LogAnswer::WrongLast(last);
        }
        self.log.push(segment.clone());
        self.log_records.extend_from_slice(&segment.records);
        let sequence = self.log.len() as u64;
        self.log_window.insert(id, (sequence, now));
        LogAnswer::Stored(sequence)
    }

    /// Commit-log messages from `from` on, at most `max`.
    pub fn read_log(&self, from: u64, max: usize) -> Vec<(u64, Segment)> {
        let start = from.max(1);
        (start..=self.log.len() as u64)
            .take(max)
            .map(|s| (s, self.log[s as usize - 1].clone()))
            .collect()
    }

    fn lease_alive(&self, now: Micros) -> Option<LeaseKey> {
        self.lease.filter(|k| now < k.written + LEASE_TTL)
    }

    /// KV create, or the update of our own directory's lease.
    pub fn take_lease(&mut self, node: usize, now: Micros) -> LeaseAnswer {
        match self.lease_alive(now) {
            Some(key) if key.node != node => LeaseAnswer::Refused,
            _ => self.write_lease(node, now),
        }
    }

    /// The compare-and-set renewal on the revision.
    pub fn renew_lease(&mut self, node: usize, revision: u64, now: Micros) -> LeaseAnswer {
        match self.lease_alive(now) {
            Some(key) if key.node == node && key.revision == revision => {
                self.write_lease(node, now)
            }
            _ => LeaseAnswer::Refused,
        }
    }

    pub fn release_lease(&mut self, revision: u64) {
        if self.lease.is_some_and(|k| k.revision == revision) {
            self.lease = None;
        }
    }

    fn write_lease(&mut self, node: usize, now: Micros) -> LeaseAnswer {
        self.lease_revision += 1;
        self.lease = Some(LeaseKey {
            node,
            revision: self.lease_revision,
            written: now,
        });
        LeaseAnswer::Held(self.lease_revision)
    }
}
