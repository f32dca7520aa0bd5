//! Governance: operations and steering meetings and their minutes
//! (SEMANTICS.md sections 8 and 11 "Governance window").
//!
//! A kind of meeting due every k months is missing in period P when none
//! was held in `[00:00 local on the 1st of month P-(k-1), end of P)`; the
//! check waits until that window starts at or after the tenant's earliest
//! `effective_from`. Minutes are due `minutes_due_days` days after the
//! meeting, by the version in force at the meeting's time.

use chrono_tz::Tz;
use schemas::agreement::Governance;
use schemas::MeetingKind;

use crate::agreement::Versions;
use crate::period::Period;
use crate::projection::{Meeting, Projection};

/// Seconds in a day of `minutes_due_days`: days are counted as 86,400 s,
/// not calendar days (SEMANTICS.md section 8).
const DAY_SECONDS: i64 = 86_400;

/// The meeting kinds whose window holds no meeting, given the governance of
/// the version in force at the start of `period`, evaluated up to `end`.
pub fn missing_meetings(
    governance: &Governance,
    projection: &Projection<'_>,
    versions: &Versions<'_>,
    (period, tz): (Period, Tz),
    end: i64,
) -> Vec<MeetingKind> {
    let rhythm = [
        (
            MeetingKind::Operations,
            governance.operations_meeting_every_months,
        ),
        (
            MeetingKind::Steering,
            governance.steering_meeting_every_months,
        ),
    ];
    let earliest = versions.earliest_effective_from();
    rhythm
        .into_iter()
        .filter_map(|(kind, every)| Some((kind, every?)))
        .filter(|&(kind, every)| {
            let back = i64::from(every) - 1;
            if back > MONTHS_BACK_MAX {
                return false;
            }
            // back <= MONTHS_BACK_MAX, which fits an i32.
            let window_start = period.plus_months(-(back as i32)).start(tz);
            let evaluated = earliest.is_some_and(|e| window_start >= e);
            evaluated
                && !projection
                    .meetings
                    .iter()
                    .any(|m| m.kind == kind && window_start <= m.held && m.held < end)
        })
        .map(|(kind, _)| kind)
        .collect()
}

/// Furthest back a governance window is computed, in months. From any
/// period (years up to 9998) a window reaching further starts before the
/// year 0, before every RFC 3339 instant and so before every
/// `effective_from`: it is never evaluated, and the month arithmetic stays
/// in range.
const MONTHS_BACK_MAX: i64 = 12 * 10_000;

/// Meetings whose minutes were due in `[start, end)` and not filed at or
/// before the due instant: `(meeting_id, due)`.
pub fn missing_minutes<'a>(
    projection: &Projection<'a>,
    versions: &Versions<'_>,
    start: i64,
    end: i64,
) -> Vec<(&'a str, i64)> {
    projection
        .meetings
        .iter()
        .filter_map(|m| {
            let due = minutes_due(versions, m)?;
            let late = start <= due && due < end && !m.filings.iter().any(|&f| f <= due);
            late.then_some((m.id, due))
        })
        .collect()
}

/// When the minutes of `meeting` are due: held + `minutes_due_days` of the
/// version in force at the meeting's time; `None` when not evaluated.
pub(crate) fn minutes_due(versions: &Versions<'_>, meeting: &Meeting<'_>) -> Option<i64> {
    let days = versions
        .in_force(meeting.held)?
        .governance
        .as_ref()?
        .minutes_due_days?;
    Some(meeting.held + i64::from(days) * DAY_SECONDS)
}

/// A meeting as the meetings page and `tla` list it: when it was held,
/// when its minutes were due and when (with which digest) they were filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    pub id: String,
    pub kind: MeetingKind,
    /// Unix seconds.
    pub held: i64,
    /// held + `minutes_due_days` of the version in force at `held`; `None`
    /// when that version sets no due days (minutes not evaluated).
    pub due: Option<i64>,
    /// `(time, digest)` of each accepted `minutes.filed`.
    pub filings: Vec<(i64, String)>,
}

/// Whether a meeting's minutes came on time (SEMANTICS.md section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinutesStatus {
    /// Filed at or before the due instant.
    OnTime { filed: i64 },
    /// First filed after the due instant (a `minutes_missing` deviation
    /// all the same).
    Late { filed: i64, due: i64 },
    /// Not filed, and the due instant has passed.
    Missing { due: i64 },
    /// Not filed yet, and not yet due.
    Pending { due: i64 },
    /// No due days in the version in force: not evaluated.
    NotEvaluated,
}

impl MeetingRecord {
    /// The status of the minutes as seen at instant `now`.
    pub fn minutes(&self, now: i64) -> MinutesStatus {
        let first = self.filings.first().map(|&(t, _)| t);
        let Some(due) = self.due else {
            return MinutesStatus::NotEvaluated;
        };
        match self.filings.iter().find(|&&(t, _)| t <= due) {
            Some(&(filed, _)) => MinutesStatus::OnTime { filed },
            None => match first {
                Some(filed) => MinutesStatus::Late { filed, due },
                None if due <= now => MinutesStatus::Missing { due },
                None => MinutesStatus::Pending { due },
            },
        }
    }
}

/// The tenant's accepted meetings in `events` (a ledger prefix), in the
/// order they were held.
pub fn meetings(tenant: &str, events: &[crate::LedgerEvent]) -> Vec<MeetingRecord> {
    let mut mine: Vec<&crate::LedgerEvent> =
        events.iter().filter(|e| e.event.tenant == tenant).collect();
    mine.sort_by_key(|e| (e.event.time, e.position));
    let versions = Versions::from_events(&mine);
    let projection = crate::projection::project(&mine, &versions);
    projection
        .meetings
        .iter()
        .map(|m| MeetingRecord {
            id: m.id.to_string(),
            kind: m.kind,
            held: m.held,
            due: minutes_due(&versions, m),
            filings: m
                .filings
                .iter()
                .zip(&m.digests)
                .map(|(&t, d)| (t, d.to_string()))
                .collect(),
        })
        .collect()
}
