//! A ledger process's role as a pure state machine (`Supervisor`): what
//! `service::run`'s `Writing::supervise` decides. A process stands by
//! (follows the commit log, tries the lease every poll) until it holds the
//! ledger's lease; then it catches up with the log, reads the log's last
//! message, and writes (`start::decide`); when its writer stops it stands
//! by again: over a ledger opened afresh when it was fenced or lost the
//! lease, after giving the lease up and a backoff when it failed. The
//! lease only decides who *tries* to write; what is committed is the
//! commit log's compare-and-set (`pipeline`).

use crate::pipeline::Stopped;
use crate::start::{self, LogEnd, Start};

/// What the process does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Following the commit log, trying the lease.
    Standby,
    /// Holding the lease, catching up with the log before writing.
    Starting,
    /// Writing.
    Writing,
    /// Stopped for good (shutdown).
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Time to try the lease again (every third of its lifetime).
    Poll,
    /// The lease was taken.
    LeaseTaken,
    /// Another process holds it.
    LeaseHeld,
    /// The catch-up reached the log's last message as of its start.
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
    /// The writer stopped.
    WriterStopped(Stopped),
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Follow the commit log (as a standby), until `StopFollowing`.
    Follow,
    StopFollowing,
    /// Try to take the lease (KV create, or our own directory's).
    TryLease,
    /// Apply the log up to its last message as of now.
    CatchUp,
    /// Read the log's last message.
    ReadLogEnd,
    /// Publish the ledger's entries from `from` the log lacks.
    PublishBacklog {
        from: u64,
        log_last: u64,
    },
    /// Run the writer (`pipeline::Pipeline`), expecting the log's last
    /// message at `log_last`.
    Write {
        log_last: u64,
    },
    /// Give the lease up (a clean stop or a failure).
    ReleaseLease,
    /// Drop the in-memory state and open the ledger afresh from disk.
    Reopen,
    /// Wait the writer's restart backoff.
    Backoff,
    /// End the process.
    Exit,
}

/// A ledger process's role.
#[derive(Debug, Clone)]
pub struct Supervisor {
    role: Role,
}

impl Default for Supervisor {
    fn default() -> Supervisor {
        Supervisor::new()
    }
}

impl Supervisor {
    /// A process starting: it tries the lease at once, and follows while
    /// another holds it.
    pub fn new() -> Supervisor {
        Supervisor {
            role: Role::Standby,
        }
    }

    /// The first actions: try the lease.
    pub fn start(&mut self) -> Vec<Action> {
        vec![Action::TryLease]
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Feeds one input; returns the actions, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        use Action as A;
        match (self.role, input) {
            (Role::Done, _) => Vec::new(),
            (_, Input::Shutdown) => {
                let was = self.role;
                self.role = Role::Done;
                match was {
                    Role::Standby => vec![A::StopFollowing, A::Exit],
                    // The writer's own stop comes back as `WriterStopped`.
                    _ => vec![A::ReleaseLease, A::Exit],
                }
            }
            (Role::Standby, Input::Poll) => vec![A::TryLease],
            (Role::Standby, Input::LeaseTaken) => {
                self.role = Role::Starting;
                vec![A::StopFollowing, A::CatchUp]
            }
            (Role::Standby, Input::LeaseHeld) => vec![A::Follow],
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
            (Role::Writing | Role::Starting, Input::WriterStopped(stopped)) => {
                self.role = Role::Standby;
                match stopped {
                    Stopped::Shutdown => {
                        self.role = Role::Done;
                        vec![A::ReleaseLease, A::Exit]
                    }
                    // Replaced: its memory is not trusted; it follows.
                    Stopped::LeaseLost | Stopped::Fenced { .. } => {
                        vec![A::Reopen, A::TryLease]
                    }
                    Stopped::Failed => vec![A::ReleaseLease, A::Backoff, A::Reopen, A::TryLease],
                }
            }
            // Anything else is late news of a role left behind.
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_catches_up_before_it_writes() {
        let mut s = Supervisor::new();
        assert_eq!(s.start(), vec![Action::TryLease]);
        assert_eq!(s.handle(Input::LeaseHeld), vec![Action::Follow]);
        assert_eq!(s.handle(Input::Poll), vec![Action::TryLease]);
        let taken = s.handle(Input::LeaseTaken);
        assert_eq!(taken, vec![Action::StopFollowing, Action::CatchUp]);
        assert_eq!(s.handle(Input::CaughtUp), vec![Action::ReadLogEnd]);
        let end = Input::LogEnd {
            size: 5,
            last: Some((3, 5)),
        };
        assert_eq!(s.handle(end), vec![Action::Write { log_last: 3 }]);
        assert_eq!(s.role(), Role::Writing);
    }

    #[test]
    fn a_failed_writer_gives_the_lease_up_backs_off_and_reopens() {
        let mut s = Supervisor::new();
        s.handle(Input::LeaseTaken);
        let failed = s.handle(Input::WriterStopped(Stopped::Failed));
        let expected = [
            Action::ReleaseLease,
            Action::Backoff,
            Action::Reopen,
            Action::TryLease,
        ];
        assert_eq!(failed, expected);
        assert_eq!(s.role(), Role::Standby);
    }

    #[test]
    fn a_writer_stopped_by_shutdown_gives_the_lease_up_and_exits() {
        let mut s = Supervisor::new();
        s.handle(Input::LeaseTaken);
        let stopped = s.handle(Input::WriterStopped(Stopped::Shutdown));
        assert_eq!(stopped, vec![Action::ReleaseLease, Action::Exit]);
        assert_eq!(s.role(), Role::Done);
        assert!(s.handle(Input::Poll).is_empty());
    }

    #[test]
    fn a_fenced_writer_reopens_and_stands_by() {
        let mut s = Supervisor::new();
        s.handle(Input::LeaseTaken);
        s.handle(Input::LogEnd {
            size: 0,
            last: None,
        });
        let fenced = Input::WriterStopped(Stopped::Fenced { expected: 2 });
        assert_eq!(s.handle(fenced), vec![Action::Reopen, Action::TryLease]);
        assert_eq!(s.role(), Role::Standby);
    }
}
