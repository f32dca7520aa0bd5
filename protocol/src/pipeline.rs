//! One ledger writer's batches, from gathered to acknowledged, as a pure
//! state machine (`Pipeline`): the order `ingest::writer` keeps, so that a
//! crash at any point loses nothing and duplicates nothing.
//!
//! For each batch: **prepare** it against the ledger's head (validate,
//! refuse, build the records; nothing applied); once the batch before is
//! flushed and its acknowledgements are under way, **publish** its records
//! to the commit log with the last sequence this writer knows as the
//! expected one; once the log acknowledged them, **apply** them locally
//! (a refusal for a wrong last sequence means another writer extended the
//! log: this one is fenced and stops, having applied nothing); sign a
//! checkpoint when one is due; **flush**; once flushed, tell the readers
//! (**durable**), **publish the refusals** and then **acknowledge** the
//! messages (terminating the refused ones), after the acknowledgements of
//! the batch before. A batch is prepared while the one before is flushed
//! (pipelining), never published before it.
//!
//! The actions of one call are started in order. Each is answered by an
//! input before the pipeline emits anything that depends on it, but two:
//! `Acknowledge` is sent once the `PublishRefusals` before it (same batch)
//! was acknowledged, and `Flush` once the `SignCheckpoint` before it
//! returned. A failure comes back as an input (`LogFailed`, `AckFailed`).

use std::time::Duration;

/// A batch's name, given by whoever gathered it (any increasing number).
pub type BatchId = u64;

/// What happened, for the pipeline to decide what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A batch of messages was gathered from the stream: each message's
    /// stream sequence (0 for a message without JetStream metadata).
    /// Only when `may_gather` says so.
    Gathered { batch: BatchId, sequences: Vec<u64> },
    /// The batch was prepared against the head: whether it has records
    /// for the commit log, and the indexes (in the batch) of the messages
    /// it refuses.
    Prepared {
        batch: BatchId,
        records: bool,
        refused: Vec<usize>,
    },
    /// The commit log took the batch's records; the stream sequence of its
    /// last message.
    LogAcked { batch: BatchId, sequence: u64 },
    /// The commit log refused the batch: its last sequence was not the
    /// one this writer expected, so another writer extended it.
    LogRefused { batch: BatchId },
    /// The commit log could not be reached (or another failure of the
    /// batch before it was applied).
    LogFailed { batch: BatchId },
    /// The batch was applied locally (not yet durable); the ledger's size
    /// after it.
    Applied { batch: BatchId, size: u64 },
    /// A checkpoint of `size` entries was signed and stored (durably,
    /// with everything applied before it).
    CheckpointStored { size: u64 },
    /// The batch's flush returned: it is durable.
    Flushed { batch: BatchId },
    /// The batch's refusals were published and its messages acknowledged.
    Acknowledged { batch: BatchId },
    /// Publishing the refusals or acknowledging failed: the messages not
    /// acknowledged come again after the stream's acknowledgement wait,
    /// and so do those of the flushed batch waiting behind it, which are
    /// not acknowledged either (the shell's consumer stream ends).
    AckFailed { batch: BatchId },
    /// The time now (for a checkpoint due by time), in microseconds of
    /// whatever clock the shell keeps.
    Tick { now_micros: u64 },
    /// The writer lost its lease: it finishes the batch in hand and stops.
    LeaseLost,
    /// Shutdown: it finishes the batch in hand and stops.
    Shutdown,
}

/// What to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Validate the batch and prepare it against the head, with this
    /// consumer cursor (the highest stream sequence it holds); nothing
    /// is applied yet. Answered by `Prepared`.
    Prepare { batch: BatchId, cursor: u64 },
    /// Publish the batch's records to the commit log, expecting its last
    /// message at `expected_last` (0: none). Answered by `LogAcked`,
    /// `LogRefused` or `LogFailed`.
    PublishLog { batch: BatchId, expected_last: u64 },
    /// Apply the prepared batch locally (unsynced), with the commit log's
    /// sequence as the ledger's log cursor when it published any records.
    /// Answered by `Applied`.
    Apply {
        batch: BatchId,
        log_sequence: Option<u64>,
    },
    /// Sign and store a checkpoint of the ledger as applied (which syncs
    /// it). Answered by `CheckpointStored`.
    SignCheckpoint { size: u64 },
    /// Make the applied batch durable. Answered by `Flushed`.
    Flush { batch: BatchId },
    /// Tell the readers (live projector, verification) of the durable
    /// batch.
    Durable { batch: BatchId },
    /// Publish the batch's refused messages (their indexes) on
    /// `tla.rejected.<tenant>`, each acknowledged by JetStream.
    PublishRefusals { batch: BatchId, refused: Vec<usize> },
    /// Acknowledge the batch's messages, terminating those marked (the
    /// refused ones). Answered, with the publish before it, by
    /// `Acknowledged` or `AckFailed`.
    Acknowledge {
        batch: BatchId,
        terminate: Vec<bool>,
    },
    /// Stop writing, for this reason.
    Stop(Stopped),
}

/// Why a writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Shutdown,
    LeaseLost,
    /// Another writer extended the commit log past `expected`.
    Fenced {
        expected: u64,
    },
    /// The commit log failed; the supervisor starts the writer again.
    Failed,
}

/// When to sign checkpoints: every `every_entries` entries, or after
/// `every` with any entry appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointRule {
    pub every_entries: u64,
    pub every: Duration,
}

impl CheckpointRule {
    /// Whether a checkpoint is due at ledger size `size`, the last one
    /// having been signed at `signed` entries `since` ago.
    pub fn due(&self, size: u64, signed: u64, since: Duration) -> bool {
        size > signed && (size - signed >= self.every_entries || since >= self.every)
    }
}

/// What the pipeline knows of one batch.
#[derive(Debug, Clone)]
struct Batch {
    id: BatchId,
    messages: usize,
    /// The highest stream sequence of the batch (or the cursor before).
    last_sequence: u64,
    refused: Vec<usize>,
    records: bool,
}

/// One writer's pipeline of batches.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The highest stream sequence the ledger holds durably.
    cursor: u64,
    /// The commit log's last stream sequence as this writer knows it.
    log_last: u64,
    /// The ledger's size after the last apply.
    size: u64,
    checkpoints: Option<CheckpointRule>,
    /// The size of the last checkpoint, and when (microseconds).
    checkpointed: (u64, u64),
    /// A checkpoint asked for and not yet stored: no other is asked for
    /// meanwhile.
    signing: bool,
    now_micros: u64,
    /// Gathered, being prepared.
    preparing: Option<Batch>,
    /// Prepared, waiting for the batch before to be flushed.
    ready: Option<Batch>,
    /// Being published to the commit log or applied.
    committing: Option<Batch>,
    /// Applied, being flushed (with a checkpoint first, when one is due).
    syncing: Option<Batch>,
    /// Flushed, waiting for the acknowledgements of the batch before.
    flushed: Option<Batch>,
    /// Refusals being published and messages acknowledged.
    acking: Option<BatchId>,
    /// Finishing the batch in hand, then stopping for this reason.
    stopping: Option<Stopped>,
    stopped: Option<Stopped>,
}

impl Pipeline {
    /// A writer over a ledger of `size` entries holding the stream up to
    /// `cursor`, whose commit log ends at `log_last`, with a checkpoint of
    /// `signed` entries, starting at `now_micros`.
    pub fn new(
        cursor: u64,
        log_last: u64,
        size: u64,
        signed: u64,
        checkpoints: Option<CheckpointRule>,
        now_micros: u64,
    ) -> Pipeline {
        Pipeline {
            cursor,
            log_last,
            size,
            checkpoints,
            checkpointed: (signed, now_micros),
            signing: false,
            now_micros,
            preparing: None,
            ready: None,
            committing: None,
            syncing: None,
            flushed: None,
            acking: None,
            stopping: None,
            stopped: None,
        }
    }

    /// The highest stream sequence the ledger holds durably.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The ledger's size after the last apply.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The commit log's last sequence as this writer knows it.
    pub fn log_last(&self) -> u64 {
        self.log_last
    }

    /// Why it stopped, once it did.
    pub fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    /// Whether a new batch may be gathered now: one batch is prepared or
    /// published at a time, and none once stopping.
    pub fn may_gather(&self) -> bool {
        self.stopping.is_none()
            && self.stopped.is_none()
            && self.preparing.is_none()
            && self.ready.is_none()
            && self.committing.is_none()
    }

    /// Whether a batch is anywhere in the pipeline.
    pub fn idle(&self) -> bool {
        self.quiet() && self.acking.is_none()
    }

    /// Whether no batch is being prepared, published, applied or flushed
    /// (acknowledgements may be under way): when an idle writer signs a
    /// checkpoint due by time.
    fn quiet(&self) -> bool {
        self.preparing.is_none()
            && self.ready.is_none()
            && self.committing.is_none()
            && self.syncing.is_none()
            && self.flushed.is_none()
    }

    /// Forgets every batch in hand (the shell's consumer stream ended
    /// and it pulls anew): their messages come again. What is applied
    /// stays applied, and is made durable by the next flush.
    pub fn abandon(&mut self) {
        self.preparing = None;
        self.ready = None;
        self.committing = None;
        self.syncing = None;
        self.flushed = None;
        self.acking = None;
    }

    /// Feeds one input; returns the actions to carry out, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.stopped.is_some() {
            // A stopped writer does nothing more; acknowledgements it left
            // under way may still report back.
            if let Input::Acknowledged { batch } | Input::AckFailed { batch } = input {
                if self.acking == Some(batch) {
                    self.acking = None;
                }
            }
            return actions;
        }
        match input {
            Input::Gathered { batch, sequences } => {
                assert!(
                    self.may_gather(),
                    "a batch gathered while another is prepared"
                );
                let highest = sequences.iter().copied().max().unwrap_or(self.cursor);
                let last_sequence = highest.max(self.cursor);
                self.preparing = Some(Batch {
                    id: batch,
                    messages: sequences.len(),
                    last_sequence,
                    refused: Vec::new(),
                    records: false,
                });
                actions.push(Action::Prepare {
                    batch,
                    cursor: last_sequence,
                });
            }
            Input::Prepared {
                batch,
                records,
                refused,
            } => {
                let mut prepared = take(&mut self.preparing, batch, "prepared");
                prepared.records = records;
                prepared.refused = refused;
                self.ready = Some(prepared);
                self.advance(&mut actions);
            }
            Input::LogAcked { batch, sequence } => {
                let committing = self.committing.as_ref();
                assert!(committing.is_some_and(|b| b.id == batch && b.records));
                self.log_last = sequence;
                actions.push(Action::Apply {
                    batch,
                    log_sequence: Some(sequence),
                });
            }
            Input::LogRefused { batch } => {
                take(&mut self.committing, batch, "refused");
                // Fenced: nothing of this batch is applied or acknowledged
                // (another writer takes its messages again), and nothing
                // after it is published.
                let stopped = Stopped::Fenced {
                    expected: self.log_last,
                };
                self.stop(stopped, &mut actions);
            }
            Input::LogFailed { batch } => {
                take(&mut self.committing, batch, "failed");
                self.stop(Stopped::Failed, &mut actions);
            }
            Input::Applied { batch, size } => {
                let applied = take(&mut self.committing, batch, "applied");
                self.size = size;
                if let Some(size) = self.checkpoint_due() {
                    self.signing = true;
                    actions.push(Action::SignCheckpoint { size });
                }
                actions.push(Action::Flush { batch });
                self.syncing = Some(applied);
            }
            Input::CheckpointStored { size } => {
                self.checkpointed = (size, self.now_micros);
                self.signing = false;
            }
            Input::Flushed { batch } => {
                let flushed = take(&mut self.syncing, batch, "flushed");
                self.cursor = self.cursor.max(flushed.last_sequence);
                actions.push(Action::Durable { batch });
                self.flushed = Some(flushed);
                self.start_acking(&mut actions);
                self.advance(&mut actions);
            }
            Input::Acknowledged { batch } => {
                assert_eq!(self.acking, Some(batch), "an acknowledgement not under way");
                self.acking = None;
                self.start_acking(&mut actions);
                self.advance(&mut actions);
            }
            Input::AckFailed { batch } => {
                assert_eq!(self.acking, Some(batch), "an acknowledgement not under way");
                self.acking = None;
                self.flushed = None;
                self.advance(&mut actions);
            }
            Input::Tick { now_micros } => {
                self.now_micros = self.now_micros.max(now_micros);
                if self.quiet() {
                    if let Some(size) = self.checkpoint_due() {
                        self.signing = true;
                        actions.push(Action::SignCheckpoint { size });
                    }
                }
            }
            Input::LeaseLost => self.stopping = Some(Stopped::LeaseLost),
            Input::Shutdown => self.stopping = Some(Stopped::Shutdown),
        }
        if let Some(reason) = self.stopping {
            if self.idle() && self.stopped.is_none() {
                self.stop(reason, &mut actions);
            }
        }
        actions
    }

    /// Publishes (or, with no records, applies) the prepared batch once the
    /// batch before is flushed and its acknowledgements are under way.
    fn advance(&mut self, actions: &mut Vec<Action>) {
        if self.syncing.is_some() || self.flushed.is_some() || self.committing.is_some() {
            return;
        }
        let Some(batch) = self.ready.take() else {
            return;
        };
        let id = batch.id;
        if batch.records {
            actions.push(Action::PublishLog {
                batch: id,
                expected_last: self.log_last,
            });
        } else {
            actions.push(Action::Apply {
                batch: id,
                log_sequence: None,
            });
        }
        self.committing = Some(batch);
    }

    /// The flushed batch's refusals and acknowledgements, once those of
    /// the batch before are done.
    fn start_acking(&mut self, actions: &mut Vec<Action>) {
        if self.acking.is_some() {
            return;
        }
        let Some(batch) = self.flushed.take() else {
            return;
        };
        if !batch.refused.is_empty() {
            actions.push(Action::PublishRefusals {
                batch: batch.id,
                refused: batch.refused.clone(),
            });
        }
        let mut terminate = vec![false; batch.messages];
        for &index in &batch.refused {
            if let Some(t) = terminate.get_mut(index) {
                *t = true;
            }
        }
        actions.push(Action::Acknowledge {
            batch: batch.id,
            terminate,
        });
        self.acking = Some(batch.id);
    }

    /// The size to sign a checkpoint of, when one is due.
    fn checkpoint_due(&self) -> Option<u64> {
        let rule = self.checkpoints?;
        if self.signing {
            return None;
        }
        let (signed, at) = self.checkpointed;
        let since = Duration::from_micros(self.now_micros.saturating_sub(at));
        rule.due(self.size, signed, since).then_some(self.size)
    }

    fn stop(&mut self, reason: Stopped, actions: &mut Vec<Action>) {
        self.stopped = Some(reason);
        self.preparing = None;
        self.ready = None;
        self.committing = None;
        actions.push(Action::Stop(reason));
    }
}

/// Takes the batch out of `slot`, which must hold it (the shell feeds
/// inputs only for the actions it was given).
fn take(slot: &mut Option<Batch>, batch: BatchId, what: &str) -> Batch {
    match slot.take() {
        Some(b) if b.id == batch => b,
        other => panic!("batch {batch} {what}, but the pipeline holds {other:?} there"), // tidy: allow (a shell feeding an input it was not asked for is a programmer error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathered(batch: BatchId, sequences: Vec<u64>) -> Input {
        Input::Gathered { batch, sequences }
    }

    fn prepared(batch: BatchId, records: bool, refused: Vec<usize>) -> Input {
        Input::Prepared {
            batch,
            records,
            refused,
        }
    }

    #[test]
    fn a_batch_goes_through_log_apply_flush_then_acknowledgement() {
        let mut p = Pipeline::new(0, 7, 10, 0, None, 0);
        let gathered = Input::Gathered {
            batch: 1,
            sequences: vec![3, 4, 5],
        };
        assert_eq!(
            p.handle(gathered),
            vec![Action::Prepare {
                batch: 1,
                cursor: 5
            }]
        );
        let publish = Action::PublishLog {
            batch: 1,
            expected_last: 7,
        };
        assert_eq!(p.handle(prepared(1, true, vec![1])), vec![publish]);
        let ack = Input::LogAcked {
            batch: 1,
            sequence: 8,
        };
        let apply = Action::Apply {
            batch: 1,
            log_sequence: Some(8),
        };
        assert_eq!(p.handle(ack), vec![apply]);
        let applied = Input::Applied { batch: 1, size: 12 };
        assert_eq!(p.handle(applied), vec![Action::Flush { batch: 1 }]);
        assert_eq!(p.cursor(), 0, "the cursor moves only once durable");
        let finished = p.handle(Input::Flushed { batch: 1 });
        assert_eq!(
            finished,
            vec![
                Action::Durable { batch: 1 },
                Action::PublishRefusals {
                    batch: 1,
                    refused: vec![1]
                },
                Action::Acknowledge {
                    batch: 1,
                    terminate: vec![false, true, false]
                },
            ]
        );
        assert_eq!((p.cursor(), p.log_last()), (5, 8));
        assert!(p.handle(Input::Acknowledged { batch: 1 }).is_empty());
        assert!(p.idle());
    }

    #[test]
    fn the_next_batch_is_published_only_after_the_one_before_is_flushed() {
        let mut p = Pipeline::new(0, 0, 0, 0, None, 0);
        p.handle(gathered(1, vec![1]));
        p.handle(prepared(1, true, vec![]));
        p.handle(Input::LogAcked {
            batch: 1,
            sequence: 1,
        });
        p.handle(Input::Applied { batch: 1, size: 1 });
        assert!(
            p.may_gather(),
            "the next batch is prepared during the flush"
        );
        p.handle(gathered(2, vec![2]));
        assert!(p.handle(prepared(2, true, vec![])).is_empty());
        let flushed = p.handle(Input::Flushed { batch: 1 });
        assert_eq!(
            flushed.last(),
            Some(&Action::PublishLog {
                batch: 2,
                expected_last: 1
            })
        );
    }

    #[test]
    fn a_refused_publish_fences_the_writer_before_it_applies() {
        let mut p = Pipeline::new(0, 4, 3, 0, None, 0);
        p.handle(gathered(1, vec![9]));
        p.handle(prepared(1, true, vec![]));
        let stop = p.handle(Input::LogRefused { batch: 1 });
        assert_eq!(stop, vec![Action::Stop(Stopped::Fenced { expected: 4 })]);
        assert!(!p.may_gather());
        assert_eq!(p.cursor(), 0);
    }

    #[test]
    fn a_lost_lease_finishes_the_batch_in_hand_then_stops() {
        let mut p = Pipeline::new(0, 0, 0, 0, None, 0);
        p.handle(gathered(1, vec![1]));
        assert!(p.handle(Input::LeaseLost).is_empty());
        assert!(!p.may_gather());
        p.handle(prepared(1, false, vec![0]));
        p.handle(Input::Applied { batch: 1, size: 0 });
        p.handle(Input::Flushed { batch: 1 });
        let last = p.handle(Input::Acknowledged { batch: 1 });
        assert_eq!(last, vec![Action::Stop(Stopped::LeaseLost)]);
    }

    #[test]
    fn checkpoints_by_entries_and_by_time() {
        let rule = CheckpointRule {
            every_entries: 10,
            every: Duration::from_secs(60),
        };
        let mut p = Pipeline::new(0, 0, 0, 0, Some(rule), 0);
        p.handle(gathered(1, vec![1]));
        p.handle(prepared(1, true, vec![]));
        p.handle(Input::LogAcked {
            batch: 1,
            sequence: 1,
        });
        let applied = p.handle(Input::Applied { batch: 1, size: 3 });
        assert_eq!(applied, vec![Action::Flush { batch: 1 }]);
        p.handle(Input::Flushed { batch: 1 });
        p.handle(Input::Acknowledged { batch: 1 });
        assert!(p.handle(Input::Tick { now_micros: 1 }).is_empty());
        let due = p.handle(Input::Tick {
            now_micros: 60_000_000,
        });
        assert_eq!(due, vec![Action::SignCheckpoint { size: 3 }]);
        let later = Input::Tick {
            now_micros: 120_000_000,
        };
        assert!(p.handle(later.clone()).is_empty(), "one is being signed");
        assert!(p.handle(Input::CheckpointStored { size: 3 }).is_empty());
        assert!(p.handle(later).is_empty(), "none due at the same size");
    }
}
