//! Availability of one service in one period (SEMANTICS.md sections 6 and
//! 11 "Maintenance" and "Achieved").
//!
//! `C` is the availability calendar inside the period, `M` the planned
//! maintenance windows announced with enough notice and not cancelled
//! before their start, `O` the union of full outages. The figures are
//! `|C|`, `|C ∩ M|` and `|(O ∩ C) − M|`; the achieved level is compared
//! with the target exactly, in integers, and written truncated to three
//! decimals.

use schemas::agreement::{Agreement, Service};
use schemas::Impact;
use serde::{Deserialize, Serialize};

use crate::calendar::Clock;
use crate::interval::IntervalSet;
use crate::projection::{Projection, Window};

/// The availability figures of a service (SEMANTICS.md section 10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Three decimals: `"99.500"`.
    pub target_pct: String,
    pub window_seconds: i64,
    pub excluded_seconds: i64,
    pub downtime_seconds: i64,
    /// Three decimals, truncated; `None` when nothing is left to measure.
    pub achieved_pct: Option<String>,
    pub met: bool,
}

/// A maintenance window of the service that began in the period without
/// enough notice (and was not cancelled before its start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortNotice<'a> {
    pub window_id: &'a str,
    pub start: i64,
    /// `time` of the window's latest `maintenance.scheduled`.
    pub scheduled_at: i64,
    /// The notice the service requires, in seconds.
    pub required: i64,
}

/// The figures of `service` over `[start, end)`; `None` without an
/// availability guarantee.
pub fn figures(
    agreement: &Agreement,
    service: &Service,
    projection: &Projection<'_>,
    start: i64,
    end: i64,
) -> Option<Availability> {
    let (c, m, o) = sets(agreement, service, projection, (start, end), end)?;
    let guarantee = service.availability.as_ref()?;
    let window = c.len();
    let excluded = c.intersection(&m).len();
    let downtime = o.intersection(&c).difference(&m).len();
    let target = i128::from(guarantee.target_pct.thousandths());
    let (measured, up) = (
        i128::from(window - excluded),
        i128::from(window - excluded - downtime),
    );
    // achieved = up / measured >= target / 100_000, in integers.
    let met = measured == 0 || up * 100_000 >= target * measured;
    let achieved_pct = (measured > 0).then(|| {
        let thousandths = up * 100_000 / measured;
        format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
    });
    Some(Availability {
        target_pct: guarantee.target_pct.to_string(),
        window_seconds: window,
        excluded_seconds: excluded,
        downtime_seconds: downtime,
        achieved_pct,
        met,
    })
}

/// `C`, `M` and `O` of `service` over `[start, end)`, with outages still
/// open in the projection running until `open_until`; `None` without an
/// availability guarantee.
fn sets(
    agreement: &Agreement,
    service: &Service,
    projection: &Projection<'_>,
    (start, end): (i64, i64),
    open_until: i64,
) -> Option<(IntervalSet, IntervalSet, IntervalSet)> {
    let guarantee = service.availability.as_ref()?;
    let c = Clock::named(agreement, &guarantee.calendar).windows(start, end);
    let notice = notice_seconds(service);
    let m = IntervalSet::from_spans(
        windows_of(projection, &service.id)
            .filter(|(_, w)| counted(w, notice))
            .map(|(_, w)| (w.start.max(start), w.end.min(end))),
    );
    // Clipped to the period first, so spans of other periods fall away
    // before the sort.
    let o = IntervalSet::from_spans(
        projection
            .outages
            .iter()
            .filter(|o| o.service == service.id && o.impact == Impact::Full)
            .map(|o| (o.start.max(start), o.end.unwrap_or(open_until).min(end))),
    );
    Some((c, m, o))
}

/// A service's error budget in one period, as known at an instant `now`:
/// what the alerts on budget burn (`alert`) are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// `|C| - |C ∩ M|` over the whole period, by the schedule known at `now`.
    pub measured: i64,
    /// The downtime counted so far: `(O ∩ C) - M`, with outages still open
    /// at `now` running until `now`.
    pub downtime: IntervalSet,
    /// `target_pct` in thousandths of a percent.
    pub target: i64,
}

impl Budget {
    /// The allowed downtime times 100,000 (exact, in integers):
    /// `measured × (100% - target)`.
    pub fn allowed_scaled(&self) -> i128 {
        i128::from(self.measured) * i128::from(100_000 - self.target)
    }
}

/// The budget of `service` over the period `[start, end)` as known at
/// `now` (the projection holds the events with `time <= now`).
pub fn budget(
    agreement: &Agreement,
    service: &Service,
    projection: &Projection<'_>,
    (start, end): (i64, i64),
    now: i64,
) -> Option<Budget> {
    let (c, m, o) = sets(agreement, service, projection, (start, end), now)?;
    let guarantee = service.availability.as_ref()?;
    Some(Budget {
        measured: c.len() - c.intersection(&m).len(),
        downtime: o.intersection(&c).difference(&m),
        target: i64::from(guarantee.target_pct.thousandths()),
    })
}

/// Windows of `service` with a start in `[start, end)` that lacked notice
/// and were not cancelled before their start. Judged only for services
/// with an availability guarantee.
pub fn short_notices<'a>(
    service: &Service,
    projection: &Projection<'a>,
    start: i64,
    end: i64,
) -> Vec<ShortNotice<'a>> {
    if service.availability.is_none() {
        return Vec::new();
    }
    let notice = notice_seconds(service);
    windows_of(projection, &service.id)
        .filter(|(_, w)| start <= w.start && w.start < end)
        .filter(|(_, w)| !cancelled_in_time(w) && !enough_notice(w, notice))
        .map(|(id, w)| ShortNotice {
            window_id: id,
            start: w.start,
            scheduled_at: w.scheduled_at,
            required: notice,
        })
        .collect()
}

pub(crate) fn notice_seconds(service: &Service) -> i64 {
    i64::from(service.maintenance_notice_hours) * 3600
}

fn windows_of<'p, 'a>(
    projection: &'p Projection<'a>,
    service: &'p str,
) -> impl Iterator<Item = (&'a str, &'p Window<'a>)> + 'p {
    projection
        .windows
        .iter()
        .filter(move |(_, w)| w.service == service)
        .map(|(id, w)| (*id, w))
}

fn enough_notice(w: &Window<'_>, notice: i64) -> bool {
    w.scheduled_at <= w.start - notice
}

fn cancelled_in_time(w: &Window<'_>) -> bool {
    w.cancelled_at.is_some_and(|c| c < w.start)
}

/// Whether a window is planned maintenance: enough notice, not cancelled
/// before its start.
fn counted(w: &Window<'_>, notice: i64) -> bool {
    enough_notice(w, notice) && !cancelled_in_time(w)
}
