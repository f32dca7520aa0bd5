//! A ledger process's role as a pure state machine (`Supervisor`): every
//! decision of `service::run`'s `Writing::supervise` about the lease, the
//! standby and the takeover. A process opens its ledger; an empty one of
//! a standby first copies the commit log (`Role::Copying`); then it
//! stands by (follows the commit log, tries the lease every poll) until it
//! holds the ledger's lease. Holding it, it renews it, claims the
//! consumer, catches up with the log, reads the log's last message, and
//! writes (`start::decide`). Losing the lease or shutdown asks the writer
//! (or its start) to stop at the end of the step in hand; when its writer
//! stops it stands by again: over a ledger opened afresh when it was
//! fenced or lost the lease, after giving the lease up and a backoff when
//! it failed. The lease only decides who *tries* to write; what is
//! committed is the commit log's compare-and-set (`pipeline`).
//!
//! The shells (the service's and the simulator's) only carry inputs and
//! actions: each action is answered by the input named on it, and the
//! shells feed the timers (`Poll`, `RenewDue`) and `Shutdown`.

use crate::pipeline::Stopped;
use crate::start::{self, LogEnd, Start};

/// What the process does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A standby's empty ledger copying the commit log, before it tries
    /// the lease.
    Copying,
    /// Following the commit log, trying the lease.
    Standby,
    /// Holding the lease, claiming the consumer and catching up with the
    /// log before writing.
    Starting,
    /// Writing.
    Writing,
    /// The writer failed: waiting its restart backoff, the lease given up.
    Backoff,
    /// Stopped for good (shutdown).
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The ledger was opened (at start, and after each `Reopen`); whether
    /// it is empty.
    Opened {
        empty: bool,
    },
    /// Time to try the lease again (every third of its lifetime).
    Poll,
    /// The lease was taken; whether the ledger is empty now.
    LeaseTaken {
        empty: bool,
    },
    /// Another process holds it (or it could not be read).
    LeaseHeld,
    /// Time to renew the lease.
    RenewDue,
    /// Renewing found the lease lapsed and taken (or deleted).
    LeaseLost,
    /// The consumer is bound to this ledger.
    Claimed,
    /// The catch-up reached the log's last message as of its start, or
    /// was stopped (`StopWriting`).
    CaughtUp,
    /// The log's last message, read after the catch-up, and the ledger's
    /// size then.
    LogEnd {
        size: u64,
        last: LogEnd,
    },
    /// The ledger's backlog was published; the log's last sequence.
    BacklogPublished {
        sequence: u64,
    },
    /// The writer (or a step of its start) stopped for this reason.
    WriterStopped(Stopped),
    /// The writer stopped as `StopWriting` asked it to, without saying
    /// why (the service's writer, which only sees its stop signal).
    WriterEnded,
    /// The restart backoff is over.
    BackedOff,
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Follow the commit log (as a standby), until `StopFollowing`.
    Follow,
    StopFollowing,
    /// Check that the consumer is not bound to another ledger (a refusal
    /// ends the process; nothing is answered).
    CheckBinding,
    /// Try to take the lease (KV create, or our own directory's).
    /// Answered by `LeaseTaken` or `LeaseHeld`, and from then on, while
    /// the lease is held, the shell feeds `RenewDue` on its timer.
    TryLease,
    /// Renew the lease. Answered by `LeaseLost` when it was lost, by
    /// nothing otherwise (a failed renewal is tried at the next).
    RenewLease,
    /// Bind the consumer to this ledger. Answered by `Claimed`, or by
    /// `WriterStopped(Failed)`.
    Claim,
    /// Apply the log up to its last message as of now. Answered by
    /// `CaughtUp`, or by `WriterStopped(Failed)`.
    CatchUp,
    /// Read the log's last message. Answered by `LogEnd`.
    ReadLogEnd,
    /// Publish the ledger's entries from `from` the log lacks. Answered by
    /// `BacklogPublished`.
    PublishBacklog {
        from: u64,
        log_last: u64,
    },
    /// Run the writer (`pipeline::Pipeline`), expecting the log's last
    /// message at `log_last`. Answered by `WriterStopped` or
    /// `WriterEnded` when it stops.
    Write {
        log_last: u64,
    },
    /// Ask the writer, or the step of its start in hand, to stop (for
    /// this reason: `LeaseLost` or `Shutdown`) once the batch in hand is
    /// done; its stop is answered as always.
    StopWriting(Stopped),
    /// Give the lease up (a clean stop or a failure).
    ReleaseLease,
    /// Drop the in-memory state and open the ledger afresh from disk.
    /// Answered by `Opened`.
    Reopen,
    /// Wait the writer's restart backoff. Answered by `BackedOff`.
    Backoff,
    /// End the process.
    Exit,
}

/// A ledger process's role.
#[derive(Debug, Clone)]
pub struct Supervisor {
    role: Role,
    /// Whether an empty ledger copies the log before it tries the lease:
    /// a process started as a standby, or one that has held the lease.
    standby: bool,
    /// Whether it follows the commit log now.
    following: bool,
    /// Whether the consumer was claimed since the lease was taken.
    claimed: bool,
    /// Why the writer was asked to stop, once it was.
    stopping: Option<Stopped>,
}

impl Default for Supervisor {
    fn default() -> Supervisor {
        Supervisor::new(false)
    }
}

impl Supervisor {
    /// A process starting, as a standby (`--standby`) or not: it is fed
    /// `Opened` first.
    pub fn new(standby: bool) -> Supervisor {
        Supervisor {
            role: Role::Standby,
            standby,
            following: false,
            claimed: false,
            stopping: None,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Feeds one input; returns the actions, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        use Action as A;
        match (self.role, input) {
            (Role::Done, _) => Vec::new(),
            (Role::Copying | Role::Backoff, Input::Shutdown) => {
                // A copy in hand is stopped by the shutdown itself.
                self.role = Role::Done;
                vec![A::Exit]
            }
            (Role::Standby, Input::Shutdown) => {
                self.role = Role::Done;
                let mut actions = self.stop_following();
                actions.push(A::Exit);
                actions
            }
            (Role::Starting | Role::Writing, Input::Shutdown) => self.stop(Stopped::Shutdown),
            (Role::Standby, Input::Opened { empty }) => {
                if self.standby && empty {
                    // It becomes a copy of the log's ledger first,
                    // whoever writes.
                    self.role = Role::Copying;
                    vec![A::CatchUp]
                } else {
                    // A directory of another ledger, or an empty one
                    // without --standby, is refused as its writer would be
                    // (one consumer, one ledger).
                    vec![A::CheckBinding, A::TryLease]
                }
            }
            // A first copy that fails ends the process (its error says
            // why); nothing was written.
            (Role::Copying, Input::WriterStopped(_)) => {
                self.role = Role::Done;
                vec![A::Exit]
            }
            (Role::Copying, Input::CaughtUp) => {
                self.role = Role::Standby;
                vec![A::TryLease]
            }
            (Role::Standby, Input::Poll) => vec![A::TryLease],
            (Role::Standby, Input::LeaseTaken { empty }) => {
                self.role = Role::Starting;
                self.standby = true;
                self.claimed = false;
                self.stopping = None;
                let mut actions = self.stop_following();
                // A ledger with entries catches up before its binding is
                // judged (a standby taking over is often a batch behind
                // the writer that died, whose events are acknowledged up
                // to that batch); an empty one is judged before it takes
                // anything from the log (it is another ledger).
                actions.push(if empty { A::Claim } else { A::CatchUp });
                actions
            }
            (Role::Standby, Input::LeaseHeld) if !self.following => {
                self.following = true;
                vec![A::Follow]
            }
            (Role::Starting | Role::Writing, Input::RenewDue) => vec![A::RenewLease],
            (Role::Starting | Role::Writing, Input::LeaseLost) => self.stop(Stopped::LeaseLost),
            (Role::Starting, Input::WriterStopped(stopped)) => self.stopped(stopped),
            // Asked to stop: the step in hand came back; it goes no further.
            (Role::Starting, Input::Claimed | Input::CaughtUp | Input::LogEnd { .. })
            | (Role::Starting, Input::BacklogPublished { .. })
                if self.stopping.is_some() =>
            {
                self.stopped(self.stopping.unwrap_or(Stopped::Failed))
            }
            (Role::Starting, Input::Claimed) => {
                self.claimed = true;
                vec![A::CatchUp]
            }
            (Role::Starting, Input::CaughtUp) if !self.claimed => vec![A::Claim],
            (Role::Starting, Input::CaughtUp) => vec![A::ReadLogEnd],
            (Role::Starting, Input::LogEnd { size, last }) => match start::decide(size, last) {
                Start::Write { log_last } => {
                    self.role = Role::Writing;
                    vec![A::Write { log_last }]
                }
                Start::CatchUp => vec![A::CatchUp],
                Start::PublishBacklog { from, log_last } => {
                    vec![A::PublishBacklog { from, log_last }]
                }
            },
            (Role::Starting, Input::BacklogPublished { sequence }) => {
                self.role = Role::Writing;
                vec![A::Write { log_last: sequence }]
            }
            (Role::Writing, Input::WriterStopped(stopped)) => self.stopped(stopped),
            (Role::Starting | Role::Writing, Input::WriterEnded) => {
                // Not asked to stop, it stopped: a failure.
                self.stopped(self.stopping.unwrap_or(Stopped::Failed))
            }
            (Role::Backoff, Input::BackedOff) => {
                self.role = Role::Standby;
                vec![A::Reopen]
            }
            // Anything else is late news of a role left behind.
            _ => Vec::new(),
        }
    }

    fn stop_following(&mut self) -> Vec<Action> {
        if std::mem::take(&mut self.following) {
            vec![Action::StopFollowing]
        } else {
            Vec::new()
        }
    }

    /// Asks the writer to stop, once: shutdown wins over a lost lease.
    fn stop(&mut self, why: Stopped) -> Vec<Action> {
        match self.stopping {
            Some(Stopped::Shutdown) => Vec::new(),
            Some(_) if why != Stopped::Shutdown => Vec::new(),
            _ => {
                self.stopping = Some(why);
                vec![Action::StopWriting(why)]
            }
        }
    }

    /// The writer (or its start) stopped.
    fn stopped(&mut self, stopped: Stopped) -> Vec<Action> {
        use Action as A;
        // Whatever stopped it last, a process asked to shut down ends.
        let stopped = match self.stopping.take() {
            Some(Stopped::Shutdown) => Stopped::Shutdown,
            _ => stopped,
        };
        match stopped {
            // A lease lost or taken over is not deleted by the release
            // (it expects its revision).
            Stopped::Shutdown => {
                self.role = Role::Done;
                vec![A::ReleaseLease, A::Exit]
            }
            // Replaced: its memory is not trusted; it follows.
            Stopped::LeaseLost | Stopped::Fenced { .. } => {
                self.role = Role::Standby;
                vec![A::Reopen]
            }
            // Given up first: a standby elsewhere may take over while
            // this one waits out its backoff.
            Stopped::Failed => {
                self.role = Role::Backoff;
                vec![A::ReleaseLease, A::Backoff]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writing(s: &mut Supervisor) {
        s.handle(Input::Opened { empty: false });
        s.handle(Input::LeaseTaken { empty: false });
        s.handle(Input::CaughtUp);
        s.handle(Input::Claimed);
        s.handle(Input::CaughtUp);
        s.handle(Input::LogEnd {
            size: 0,
            last: None,
        });
        assert_eq!(s.role(), Role::Writing);
    }

    #[test]
    fn a_standby_catches_up_claims_and_catches_up_again_before_it_writes() {
        let mut s = Supervisor::new(false);
        let opened = s.handle(Input::Opened { empty: false });
        assert_eq!(opened, vec![Action::CheckBinding, Action::TryLease]);
        assert_eq!(s.handle(Input::LeaseHeld), vec![Action::Follow]);
        assert_eq!(s.handle(Input::Poll), vec![Action::TryLease]);
        assert!(s.handle(Input::LeaseHeld).is_empty(), "already following");
        let taken = s.handle(Input::LeaseTaken { empty: false });
        assert_eq!(taken, vec![Action::StopFollowing, Action::CatchUp]);
        assert_eq!(s.handle(Input::RenewDue), vec![Action::RenewLease]);
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::Claim]);
        assert_eq!(s.handle(Input::Claimed), vec![Action::CatchUp]);
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::ReadLogEnd]);
        let grown = Input::LogEnd {
            size: 5,
            last: Some((4, 7)),
        };
        assert_eq!(s.handle(grown), vec![Action::CatchUp]);
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::ReadLogEnd]);
        let end = Input::LogEnd {
            size: 7,
            last: Some((4, 7)),
        };
        assert_eq!(s.handle(end), vec![Action::Write { log_last: 4 }]);
        assert_eq!(s.role(), Role::Writing);
        assert_eq!(s.handle(Input::RenewDue), vec![Action::RenewLease]);
    }

    #[test]
    fn an_empty_ledger_is_claimed_before_it_takes_anything_from_the_log() {
        let mut s = Supervisor::new(false);
        s.handle(Input::Opened { empty: true });
        assert_eq!(s.handle(Input::LeaseTaken { empty: true }), [Action::Claim]);
        assert_eq!(s.handle(Input::Claimed), vec![Action::CatchUp]);
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::ReadLogEnd]);
    }

    #[test]
    fn an_empty_standby_copies_the_log_before_it_tries_the_lease() {
        let mut s = Supervisor::new(true);
        assert_eq!(s.handle(Input::Opened { empty: true }), [Action::CatchUp]);
        assert_eq!(s.role(), Role::Copying);
        assert!(s.handle(Input::Poll).is_empty());
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::TryLease]);
        assert_eq!(s.role(), Role::Standby);
        let mut s = Supervisor::new(true);
        s.handle(Input::Opened { empty: true });
        let failed = s.handle(Input::WriterStopped(Stopped::Failed));
        assert_eq!(failed, vec![Action::Exit]);
        let mut s = Supervisor::new(true);
        let opened = s.handle(Input::Opened { empty: false });
        assert_eq!(opened, vec![Action::CheckBinding, Action::TryLease]);
    }

    #[test]
    fn a_lease_lost_while_starting_stops_the_start_at_its_next_step() {
        let mut s = Supervisor::new(false);
        s.handle(Input::Opened { empty: false });
        s.handle(Input::LeaseTaken { empty: false });
        let lost = s.handle(Input::LeaseLost);
        assert_eq!(lost, vec![Action::StopWriting(Stopped::LeaseLost)]);
        assert!(s.handle(Input::LeaseLost).is_empty(), "asked once");
        assert!(s.handle(Input::RenewDue) == vec![Action::RenewLease]);
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::Reopen]);
        assert_eq!(s.role(), Role::Standby);
        let opened = s.handle(Input::Opened { empty: false });
        assert_eq!(opened, vec![Action::CheckBinding, Action::TryLease]);
    }

    #[test]
    fn a_writer_that_lost_its_lease_is_asked_to_stop_then_reopens() {
        let mut s = Supervisor::new(false);
        writing(&mut s);
        let lost = s.handle(Input::LeaseLost);
        assert_eq!(lost, vec![Action::StopWriting(Stopped::LeaseLost)]);
        assert_eq!(s.role(), Role::Writing, "until the writer stops");
        assert_eq!(s.handle(Input::WriterEnded), vec![Action::Reopen]);
        assert_eq!(s.role(), Role::Standby);
    }

    #[test]
    fn a_failed_writer_gives_the_lease_up_backs_off_and_reopens() {
        let mut s = Supervisor::new(false);
        writing(&mut s);
        let failed = s.handle(Input::WriterStopped(Stopped::Failed));
        assert_eq!(failed, vec![Action::ReleaseLease, Action::Backoff]);
        assert_eq!(s.role(), Role::Backoff);
        assert!(s.handle(Input::Poll).is_empty());
        assert_eq!(s.handle(Input::BackedOff), vec![Action::Reopen]);
        assert_eq!(s.role(), Role::Standby);
    }

    #[test]
    fn a_writer_that_ends_unasked_failed() {
        let mut s = Supervisor::new(false);
        writing(&mut s);
        let ended = s.handle(Input::WriterEnded);
        assert_eq!(ended, vec![Action::ReleaseLease, Action::Backoff]);
    }

    #[test]
    fn shutdown_stops_the_writer_then_gives_the_lease_up_and_exits() {
        let mut s = Supervisor::new(false);
        writing(&mut s);
        let shutdown = s.handle(Input::Shutdown);
        assert_eq!(shutdown, vec![Action::StopWriting(Stopped::Shutdown)]);
        assert!(s.handle(Input::LeaseLost).is_empty(), "shutdown wins");
        let stopped = s.handle(Input::WriterEnded);
        assert_eq!(stopped, vec![Action::ReleaseLease, Action::Exit]);
        assert_eq!(s.role(), Role::Done);
        assert!(s.handle(Input::Poll).is_empty());
    }

    #[test]
    fn shutdown_after_a_lost_lease_still_exits() {
        let mut s = Supervisor::new(false);
        writing(&mut s);
        s.handle(Input::LeaseLost);
        let shutdown = s.handle(Input::Shutdown);
        assert_eq!(shutdown, vec![Action::StopWriting(Stopped::Shutdown)]);
        let stopped = s.handle(Input::WriterStopped(Stopped::LeaseLost));
        assert_eq!(stopped, vec![Action::ReleaseLease, Action::Exit]);
    }

    #[test]
    fn a_standby_stops_following_on_shutdown() {
        let mut s = Supervisor::new(false);
        s.handle(Input::Opened { empty: false });
        s.handle(Input::LeaseHeld);
        let shutdown = s.handle(Input::Shutdown);
        assert_eq!(shutdown, vec![Action::StopFollowing, Action::Exit]);
    }

    #[test]
    fn a_fenced_writer_reopens_and_stands_by() {
        let mut s = Supervisor::new(false);
        writing(&mut s);
        let fenced = Input::WriterStopped(Stopped::Fenced { expected: 2 });
        assert_eq!(s.handle(fenced), vec![Action::Reopen]);
        assert_eq!(s.role(), Role::Standby);
        // It has written: an empty ledger now copies the log first.
        assert_eq!(s.handle(Input::Opened { empty: true }), [Action::CatchUp]);
    }
}
