//! Incident response and resolution clocks, deadlines and breaches
//! (SEMANTICS.md sections 7 and 11).
//!
//! An incident's accepted events form a [`Timeline`]. Grouped by instant,
//! they become [`Step`]s: the priority and state in force from that instant
//! on (the state at t is the state after every event with `time <= t`).
//! Between steps a clock accrues in the calendar of the priority in force,
//! so both clocks are sums of calendar stretches, and a crossing is found
//! either at a step (a raise past the accrued clock) or inside the stretch
//! after it (through [`Clock::accrue`]). Everything is evaluated up to a
//! limit, the end of the period bounded by the horizon: an evaluation
//! instant at or after it never counts in the period, so nothing later is
//! ever computed, however long the targets.

use schemas::agreement::Agreement;
use schemas::Priority;

use crate::calendar::{Accrual, Clock};

/// An incident state for the resolution clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Open and not on hold: the resolution clock runs.
    Running,
    OnHold,
    Resolved,
}

/// An accepted incident event after the opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Priority(Priority),
    Responded,
    OnHold,
    Resumed,
    Resolved,
    Reopened,
}

impl Change {
    /// The state after this change (which the projection has accepted).
    pub fn next_state(self, state: State) -> State {
        match self {
            Change::Priority(_) | Change::Responded => state,
            Change::OnHold => State::OnHold,
            Change::Resumed | Change::Reopened => State::Running,
            Change::Resolved => State::Resolved,
        }
    }
}

/// An incident's opening and its accepted changes, in processing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub opened: i64,
    /// The priority of `incident.opened`.
    pub priority: Priority,
    /// Non-decreasing in time, none before `opened`.
    pub changes: Vec<(i64, Change)>,
}

/// The priority and state in force from `at` until the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub at: i64,
    pub priority: Priority,
    pub state: State,
}

/// Targets and clocks of one priority.
#[derive(Debug, Clone, Copy)]
pub struct Term<'a> {
    pub clock: Clock<'a>,
    /// Seconds.
    pub response: i64,
    /// Seconds.
    pub resolution: i64,
}

/// The terms of P1..P4 for one service of one agreement version.
#[derive(Debug, Clone, Copy)]
pub struct Terms<'a> {
    pub by_priority: [Term<'a>; 4],
}

impl<'a> Terms<'a> {
    /// The terms of `service` in `agreement`; `None` without `incidents`.
    pub fn of(agreement: &'a Agreement, service: &str) -> Option<Terms<'a>> {
        let incidents = agreement.service(service)?.incidents.as_ref()?;
        let term = |p: Priority| {
            let target = incidents.targets.get(&p);
            Term {
                clock: Clock::named(agreement, incidents.calendar_for(p)),
                response: target.map_or(0, |t| i64::from(t.response_min) * 60),
                resolution: target.map_or(0, |t| i64::from(t.resolution_min) * 60),
            }
        };
        Some(Terms {
            by_priority: Priority::ALL.map(term),
        })
    }

    pub fn get(&self, p: Priority) -> &Term<'a> {
        &self.by_priority[p as usize]
    }
}

/// The outcome of a clock at its evaluation instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The evaluation instant.
    pub at: i64,
    pub met: bool,
    /// The priority in force at `at`.
    pub priority: Priority,
}

/// Response and resolution verdicts whose evaluation instant lies before
/// the limit; `None` when evaluated later or not yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub response: Option<Verdict>,
    pub resolution: Option<Verdict>,
}

/// The steps of a timeline: one per distinct instant, holding the state
/// after every change at that instant.
pub fn steps(timeline: &Timeline) -> Vec<Step> {
    let mut out = vec![Step {
        at: timeline.opened,
        priority: timeline.priority,
        state: State::Running,
    }];
    for &(at, change) in &timeline.changes {
        // Changes are in processing order; `out` is never empty.
        let last = out[out.len() - 1];
        let mut next = Step {
            at,
            priority: last.priority,
            state: change.next_state(last.state),
        };
        if let Change::Priority(p) = change {
            next.priority = p;
        }
        if at == last.at {
            out.pop();
        }
        out.push(next);
    }
    out
}

/// The priority in force at `t` (at or after the opening).
fn priority_at(steps: &[Step], t: i64) -> Priority {
    let i = steps.partition_point(|s| s.at <= t);
    steps[i.saturating_sub(1)].priority
}

/// Which clock a crossing search walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Response,
    Resolution,
}

/// The first instant before `bound` at which the accrued clock of `kind`
/// is at least the target in force, while a crossing can count.
fn first_crossing(steps: &[Step], terms: &Terms<'_>, kind: Kind, bound: i64) -> Option<i64> {
    let mut acc = 0;
    for (i, step) in steps.iter().enumerate() {
        if step.at >= bound {
            break;
        }
        let end = steps.get(i + 1).map_or(bound, |n| n.at.min(bound));
        let term = terms.get(step.priority);
        let (target, armed, runs) = match kind {
            Kind::Response => (term.response, true, true),
            Kind::Resolution => (
                term.resolution,
                step.state != State::Resolved,
                step.state == State::Running,
            ),
        };
        if armed && acc >= target {
            return Some(step.at);
        }
        if runs {
            match term.clock.accrue(step.at, end, target - acc) {
                Accrual::Reached(t) => return Some(t),
                Accrual::Accrued(n) => acc += n,
            }
        }
    }
    None
}

/// The clock of `kind` accrued from the opening up to `until`: each
/// stretch in the calendar of the priority in force during it (section
/// 7), the resolution clock only while running.
fn accrued(steps: &[Step], terms: &Terms<'_>, kind: Kind, until: i64) -> i64 {
    let mut acc = 0;
    for (i, step) in steps.iter().enumerate() {
        if step.at >= until {
            break;
        }
        let end = steps.get(i + 1).map_or(until, |n| n.at.min(until));
        if kind == Kind::Response || step.state == State::Running {
            acc += terms.get(step.priority).clock.clock(step.at, end);
        }
    }
    acc
}

/// The response instant R: the first `incident.responded`, or the first
/// `incident.resolved` if that comes earlier.
fn response_instant(timeline: &Timeline) -> Option<i64> {
    timeline
        .changes
        .iter()
        .find(|(_, c)| matches!(c, Change::Responded | Change::Resolved))
        .map(|&(t, _)| t)
}

/// What a late response measured (report format 3): the target of the
/// priority in force at the verdict, R in the timeline (if any) and the
/// response clock from the opening to R.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseMeasured {
    pub target: i64,
    pub responded: Option<i64>,
    pub seconds: Option<i64>,
}

/// What a late resolution measured (report format 3): the target of the
/// priority in force at the verdict, the last resolution when the
/// timeline ends resolved, and the resolution clock up to it (else up to
/// `limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolutionMeasured {
    pub target: i64,
    pub resolved: Option<i64>,
    pub clock: i64,
}

/// The measure of a response verdict `v` of `timeline`.
pub fn response_measured(timeline: &Timeline, terms: &Terms<'_>, v: &Verdict) -> ResponseMeasured {
    let steps = steps(timeline);
    let responded = response_instant(timeline);
    ResponseMeasured {
        target: terms.get(v.priority).response,
        responded,
        seconds: responded.map(|r| accrued(&steps, terms, Kind::Response, r)),
    }
}

/// The measure of a resolution verdict `v` of `timeline`, the clock
/// counted up to `limit` while the incident is not resolved.
pub fn resolution_measured(
    timeline: &Timeline,
    terms: &Terms<'_>,
    v: &Verdict,
    limit: i64,
) -> ResolutionMeasured {
    let steps = steps(timeline);
    let resolved = last_resolution(timeline, &steps);
    ResolutionMeasured {
        target: terms.get(v.priority).resolution,
        resolved,
        clock: accrued(&steps, terms, Kind::Resolution, resolved.unwrap_or(limit)),
    }
}

/// Evaluates an incident up to `limit` (exclusive).
pub fn evaluate(timeline: &Timeline, terms: &Terms<'_>, limit: i64) -> Evaluation {
    let steps = steps(timeline);
    let verdict = |at: i64, met: bool| Verdict {
        at,
        met,
        priority: priority_at(&steps, at),
    };
    let responded = response_instant(timeline);
    let bound = responded.map_or(limit, |r| r.min(limit));
    let response = match first_crossing(&steps, terms, Kind::Response, bound) {
        Some(d) => Some(verdict(d, false)),
        None => responded.filter(|&r| r < limit).map(|r| verdict(r, true)),
    };
    let resolution = match first_crossing(&steps, terms, Kind::Resolution, limit) {
        Some(b) => Some(verdict(b, false)),
        None => last_resolution(timeline, &steps)
            .filter(|&r| r < limit)
            .map(|r| verdict(r, true)),
    };
    Evaluation {
        response,
        resolution,
    }
}

/// The last resolution, when the incident ends the timeline resolved.
pub(crate) fn last_resolution(timeline: &Timeline, steps: &[Step]) -> Option<i64> {
    let resolved = steps.last().is_some_and(|s| s.state == State::Resolved);
    let last = timeline
        .changes
        .iter()
        .rev()
        .find(|(_, c)| *c == Change::Resolved)
        .map(|&(t, _)| t);
    last.filter(|_| resolved)
}

/// Whether the incident can have an evaluation instant at or after
/// `start`: not when it ended resolved before `start` (every evaluation
/// instant lies at or before its last event then).
pub fn may_evaluate_from(timeline: &Timeline, start: i64) -> bool {
    let last = timeline.changes.last().map_or(timeline.opened, |&(t, _)| t);
    let resolved = steps(timeline)
        .last()
        .is_some_and(|s| s.state == State::Resolved);
    !(resolved && last < start)
}
