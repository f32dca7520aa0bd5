//! Set-aside events and their reasons (SEMANTICS.md sections 5 and 11).
//!
//! Events that do not fit the state built so far stay in the ledger but
//! change no state; the report counts those whose `time` lies in the period,
//! by reason. When several reasons apply, the projection checks them in the
//! order of [`Reason::PRECEDENCE`], so the first that applies is the one
//! counted.

use std::collections::BTreeMap;

/// Why an event was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A start (or a service-bound assignment) for a service not in the
    /// version in force at the event's time, or with no version in force.
    UnknownService,
    /// A second start of an open outage id, a second `incident.opened` or
    /// `incident.responded`, a second `meeting.held` or `action.opened`
    /// with the same id, a second approval of a version by one party.
    DuplicateStart,
    /// An end or follow-up for an id not open at that point (also an
    /// `action.closed` for an action not open, an approval of a version
    /// never published).
    UnknownOrClosedId,
    /// An incident event not allowed in the incident's state.
    InvalidTransition,
    /// An `outage.ended` or `maintenance.cancelled` for another service
    /// than the id it closes.
    ServiceMismatch,
}

impl Reason {
    /// Which reason wins when several apply: earlier wins.
    /// `duplicate_start`, `unknown_or_closed_id` and `invalid_transition`
    /// never apply to the same event.
    pub const PRECEDENCE: [Reason; 5] = [
        Reason::UnknownService,
        Reason::DuplicateStart,
        Reason::UnknownOrClosedId,
        Reason::InvalidTransition,
        Reason::ServiceMismatch,
    ];

    /// The name in `data_quality.by_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownService => "unknown_service",
            Reason::DuplicateStart => "duplicate_start",
            Reason::UnknownOrClosedId => "unknown_or_closed_id",
            Reason::InvalidTransition => "invalid_transition",
            Reason::ServiceMismatch => "service_mismatch",
        }
    }
}

/// Set-aside events with `time` in `[start, end)`: the total and the
/// non-zero counts by reason name.
pub fn count(set_aside: &[(i64, Reason)], start: i64, end: i64) -> (u64, BTreeMap<String, u64>) {
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for (_, reason) in set_aside.iter().filter(|(t, _)| start <= *t && *t < end) {
        *by_reason.entry(reason.as_str().to_string()).or_default() += 1;
        total += 1;
    }
    (total, by_reason)
}
