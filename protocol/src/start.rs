//! Whether a writer that has caught up with the commit log may write
//! (`decide`): what `supervisor` does with the log's last message, read
//! after the catch-up.
//!
//! The writer publishes each batch expecting the log's last message to be
//! the one it read here. That is only sound if its ledger holds exactly
//! what the log holds up to that message: its next batch is prepared
//! against its head, and the log accepts it after that message whatever
//! positions its records have. The log may have grown since the catch-up
//! (the writer this one replaces finishing the batch in hand after its
//! lease lapsed): then it catches up again. Writing on would fork the
//! log, the next batch's records taking positions the log already gave
//! out; the simulator found this (seeds 61 and 333,
//! `simulator/tests/seeds.rs`, now
//! seeds 13 and 154).

/// What a writer does after its catch-up, given its ledger's size and the
/// log's last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Write, expecting the log's last message at `log_last` (0: none).
    Write { log_last: u64 },
    /// The log holds more than the ledger: catch up again, then decide.
    CatchUp,
    /// The ledger holds entries the log lacks (a ledger from before
    /// replication): publish them from position `from` first, expecting
    /// the log's last message at `log_last`.
    PublishBacklog { from: u64, log_last: u64 },
}

/// The log's last message: its stream sequence and the ledger size after
/// it (the end of its segment).
pub type LogEnd = Option<(u64, u64)>;

/// What a writer whose ledger holds `size` entries does when the log's
/// last message is `last`.
pub fn decide(size: u64, last: LogEnd) -> Start {
    let (sequence, covered) = last.unwrap_or((0, 0));
    if size < covered {
        Start::CatchUp
    } else if size == covered {
        Start::Write { log_last: sequence }
    } else {
        Start::PublishBacklog {
            from: covered,
            log_last: sequence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_as_long_as_the_log_writes_after_its_last_message() {
        assert_eq!(decide(10, Some((4, 10))), Start::Write { log_last: 4 });
        assert_eq!(decide(0, None), Start::Write { log_last: 0 });
    }

    #[test]
    fn a_ledger_behind_the_log_catches_up_again() {
        assert_eq!(decide(12, Some((5, 16))), Start::CatchUp);
        assert_eq!(decide(0, Some((1, 3))), Start::CatchUp);
    }

    #[test]
    fn a_ledger_longer_than_the_log_publishes_what_it_lacks() {
        let start = decide(12, Some((4, 10)));
        let backlog = Start::PublishBacklog {
            from: 10,
            log_last: 4,
        };
        assert_eq!(start, backlog);
    }
}
