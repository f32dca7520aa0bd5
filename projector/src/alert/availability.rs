//! Availability alerts: error-budget burn and maintenance with too little
//! notice.
//!
//! A guaranteed service's budget in a period is its allowed downtime,
//! `measured × (100% - target)`, where `measured` is the calendar less the
//! planned maintenance as known at `now`. The downtime used by instant t
//! is `|D ∩ [start, t)|`, D the counted downtime (full outages in the
//! calendar, outside maintenance; an outage still open runs until `now`).
//! The 50% and 75% alerts fire at the first instant the used downtime
//! reaches that share (at least one second), and end with the period.
//! The burn-rate alert fires at the first instant the last hour's
//! downtime, `|D ∩ [t - 1 h, t)|`, times 24 reaches the whole budget,
//! and ends when it falls below that again (or the period ends); it can
//! fire more than once a period. All in integers: nothing is rounded
//! before the comparison.
//!
//! A maintenance window fires `maintenance_short_notice` at its latest
//! schedule's `time` when it is announced with less notice than
//! `maintenance_notice_hours` of the version in force then (services with
//! an availability guarantee), and ends at the window's end or its cancel.

use chrono_tz::Tz;

use crate::agreement::Versions;
use crate::availability::{budget, notice_seconds, Budget};
use crate::interval::IntervalSet;
use crate::period::Period;
use crate::projection::Projection;

use super::{
    Found, Kind, Subject, BUDGET_SHARES, BURN_HORIZON_SECONDS, BURN_WINDOW_SECONDS, PERIODS_MAX,
};

/// The availability alerts of the periods overlapping `[since, now]`.
pub(super) fn found<'a>(
    projection: &Projection<'a>,
    versions: &Versions<'a>,
    tz: Tz,
    (since, now): (i64, i64),
) -> Vec<Found<'a>> {
    let mut out = short_notices(projection, versions, now);
    for period in periods(versions, tz, since, now) {
        let (start, end) = (period.start(tz), period.end(tz));
        let Some(agreement) = versions.in_force(start) else {
            continue;
        };
        for service in &agreement.services {
            let Some(b) = budget(agreement, service, projection, (start, end), now) else {
                continue;
            };
            if b.measured == 0 {
                continue;
            }
            let ended = (end <= now).then_some(end);
            let mut push = |kind, at, ends: Option<i64>| {
                out.push(Found {
                    kind,
                    service: Some(service.id.as_str()),
                    subject: Subject::Period(period),
                    priority: None,
                    at,
                    ends: ends.or(ended),
                });
            };
            for (num, den, kind) in BUDGET_SHARES {
                if let Some(at) = share_reached(&b, num, den) {
                    push(kind, at, None);
                }
            }
            for (at, ends) in burns(&b, end, now) {
                push(Kind::AvailabilityBurnRate, at, ends);
            }
        }
    }
    out
}

/// The periods (in `tz`) overlapping `[since, now]`, from the first
/// version's start on, at most the last `PERIODS_MAX`.
pub(super) fn periods(versions: &Versions<'_>, tz: Tz, since: i64, now: i64) -> Vec<Period> {
    let Some(earliest) = versions.earliest_effective_from() else {
        return Vec::new();
    };
    let last = Period::containing(tz, now);
    let first = Period::containing(tz, since.max(earliest)).max(last.plus_months(1 - PERIODS_MAX));
    let mut out = Vec::new();
    let mut p = first;
    while p <= last {
        out.push(p);
        p = p.plus_months(1);
    }
    out
}

/// The first instant at which `num/den` of the budget is used (at least
/// one second of downtime).
fn share_reached(b: &Budget, num: i64, den: i64) -> Option<i64> {
    // used × den × 100,000 >= num × allowed_scaled, smallest whole `used`.
    let scale = i128::from(den) * 100_000;
    let need = (i128::from(num) * b.allowed_scaled() + scale - 1) / scale;
    let need = i64::try_from(need.max(1)).ok()?;
    let mut used = 0;
    for &(a, z) in b.downtime.spans() {
        if used + (z - a) >= need {
            return Some(a + (need - used));
        }
        used += z - a;
    }
    None
}

/// The burn-rate episodes: `(fired, ended)`, ended when that happened by
/// `now` (or the period ended).
fn burns(b: &Budget, period_end: i64, now: i64) -> Vec<(i64, Option<i64>)> {
    // w × 24 × 100,000 >= allowed_scaled, with w the last hour's downtime.
    let per_day = i128::from(BURN_HORIZON_SECONDS / BURN_WINDOW_SECONDS) * 100_000;
    let need = ((b.allowed_scaled() + per_day - 1) / per_day).max(1);
    let Ok(need) = i64::try_from(need) else {
        return Vec::new();
    };
    if need > BURN_WINDOW_SECONDS {
        return Vec::new();
    }
    let d = &b.downtime;
    // The last hour's downtime changes slope only where a span of D
    // starts or ends, or did so an hour ago.
    let mut points: Vec<i64> = d
        .spans()
        .iter()
        .flat_map(|&(a, z)| [a, z, a + BURN_WINDOW_SECONDS, z + BURN_WINDOW_SECONDS])
        .collect();
    points.sort_unstable();
    points.dedup();
    let w = |t: i64| windowed(d, t);
    let mut out: Vec<(i64, Option<i64>)> = Vec::new();
    let mut firing = false;
    for pair in points.windows(2) {
        let (p, q) = (pair[0], pair[1]);
        let (wp, wq) = (w(p), w(q));
        if !firing && wp < need && wq >= need {
            // Rising by one a second here: reached `need - wp` after p.
            out.push((p + (need - wp), None));
            firing = true;
        } else if !firing && wp >= need {
            out.push((p, None));
            firing = true;
        }
        if firing && wq < need {
            // Falling by one a second: below `need` once it lost wp-need+1.
            let end = p + (wp - need + 1);
            if let Some(last) = out.last_mut() {
                last.1 = Some(end);
            }
            firing = false;
        }
    }
    out.retain(|&(at, _)| at < period_end && at <= now);
    for episode in &mut out {
        let ends = episode.1.map_or(period_end, |e| e.min(period_end));
        episode.1 = (ends <= now).then_some(ends);
    }
    out
}

/// `|d ∩ [t - window, t)|`.
fn windowed(d: &IntervalSet, t: i64) -> i64 {
    d.intersection(&IntervalSet::span(t - BURN_WINDOW_SECONDS, t))
        .len()
}

/// Maintenance windows announced with too little notice.
fn short_notices<'a>(
    projection: &Projection<'a>,
    versions: &Versions<'a>,
    now: i64,
) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    for (&id, w) in &projection.windows {
        let Some(agreement) = versions.in_force(w.scheduled_at) else {
            continue;
        };
        let Some(service) = agreement.service(w.service) else {
            continue;
        };
        if service.availability.is_none() {
            continue;
        }
        if w.scheduled_at <= w.start - notice_seconds(service) {
            continue;
        }
        let ends = w
            .cancelled_at
            .map_or(w.end, |c| c.min(w.end))
            .max(w.scheduled_at);
        out.push(Found {
            kind: Kind::MaintenanceShortNotice,
            service: Some(w.service),
            subject: Subject::Window(id),
            priority: None,
            at: w.scheduled_at,
            ends: (ends <= now).then_some(ends),
        });
    }
    out
}
