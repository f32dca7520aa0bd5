//! Calendars and calendar clocks (SEMANTICS.md sections 4, 7 and 11).
//!
//! A [`Clock`] is `24x7` or a weekly window in local time: on the listed
//! days, from the instant of `from` to the instant of `to` on that local
//! date (`24:00` is the next local midnight), except on closed dates and,
//! for `"NO"`, Norway's public holidays, Easter included (computed with the
//! Gregorian computus). The windows of consecutive local dates are
//! disjoint and increasing, so a clock is read by walking dates forward
//! once: `clock(a, b)` counts calendar seconds in `[a, b)`, and
//! [`Clock::accrue`] finds the instant at which a number of calendar
//! seconds has accrued, which is what deadlines and breaches are.

use chrono::{Datelike, Days, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use schemas::agreement::{Agreement, Calendar, Holidays, CALENDAR_24X7};

use crate::interval::IntervalSet;
use crate::period::{local_date, local_instant, local_midnight};

/// A calendar bound to its agreement's time zone.
#[derive(Debug, Clone, Copy)]
pub enum Clock<'a> {
    /// `24x7`: every second counts.
    Always,
    /// A named weekly window.
    Weekly { calendar: &'a Calendar, tz: Tz },
}

/// What a stretch `[a, b)` of a clock gives towards a need of `n` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accrual {
    /// The `n`-th calendar second ends at this instant, which is `< b`.
    Reached(i64),
    /// Fewer than `n` seconds, or exactly `n` ending at `b`: the seconds
    /// of `[a, b)`.
    Accrued(i64),
}

impl<'a> Clock<'a> {
    /// The calendar `name` of `agreement` (`24x7` or one of its calendars).
    pub fn named(agreement: &'a Agreement, name: &str) -> Clock<'a> {
        match agreement.calendar(name) {
            Some(calendar) => Clock::Weekly {
                calendar,
                tz: agreement.timezone,
            },
            None => {
                // Validation guarantees every name an agreement uses is
                // defined, so only `24x7` gets here.
                debug_assert_eq!(name, CALENDAR_24X7, "unknown calendar name");
                Clock::Always
            }
        }
    }

    /// The calendar's intervals inside `[a, b)`.
    pub fn windows(&self, a: i64, b: i64) -> IntervalSet {
        match self {
            Clock::Always => IntervalSet::span(a, b),
            Clock::Weekly { calendar, tz } => {
                IntervalSet::from_spans(weekly_windows(calendar, *tz, a, b))
            }
        }
    }

    /// Calendar seconds in `[a, b)`.
    pub fn clock(&self, a: i64, b: i64) -> i64 {
        match self {
            Clock::Always => (b - a).max(0),
            Clock::Weekly { calendar, tz } => weekly_windows(calendar, *tz, a, b)
                .map(|(x, y)| y - x)
                .sum(),
        }
    }

    /// Walks `[a, b)` towards `need` calendar seconds; `need <= 0` is
    /// reached at `a` (when `a < b`).
    pub fn accrue(&self, a: i64, b: i64, need: i64) -> Accrual {
        if need <= 0 && a < b {
            return Accrual::Reached(a);
        }
        let mut acc = 0;
        let mut visit = |(x, y): (i64, i64)| {
            if acc + (y - x) >= need && x + (need - acc) < b {
                return Some(x + (need - acc));
            }
            acc += y - x;
            None
        };
        let reached = match self {
            Clock::Always => visit((a, b.max(a))),
            Clock::Weekly { calendar, tz } => weekly_windows(calendar, *tz, a, b).find_map(visit),
        };
        reached.map_or(Accrual::Accrued(acc), Accrual::Reached)
    }
}

/// The windows of a weekly calendar clipped to `[a, b)`, in order. Walks
/// the local dates from the one before `a` (a window ends by the next
/// local midnight) to the one of `b`.
fn weekly_windows(
    calendar: &Calendar,
    tz: Tz,
    a: i64,
    b: i64,
) -> impl Iterator<Item = (i64, i64)> + '_ {
    let first = local_date(tz, a).pred_opt().unwrap_or(NaiveDate::MIN);
    let last = if a < b {
        local_date(tz, b)
    } else {
        NaiveDate::MIN
    };
    first
        .iter_days()
        .take_while(move |d| *d <= last)
        .filter_map(move |d| day_window(calendar, tz, d))
        .map(move |(x, y)| (x.max(a), y.min(b)))
        .filter(|(x, y)| x < y)
}

/// The window of `date`, if the calendar opens that day and the window is
/// not swallowed by a DST gap.
pub fn day_window(calendar: &Calendar, tz: Tz, date: NaiveDate) -> Option<(i64, i64)> {
    let open = calendar.days.contains(&date.weekday())
        && calendar.closed_dates.binary_search(&date).is_err()
        && !(calendar.holidays == Holidays::Norway && is_norwegian_holiday(date));
    if !open {
        return None;
    }
    let start = local_instant(tz, date.and_time(minutes_time(calendar.from)));
    let end = if calendar.to >= 1440 {
        local_midnight(tz, date.checked_add_days(Days::new(1))?)
    } else {
        local_instant(tz, date.and_time(minutes_time(calendar.to)))
    };
    (start < end).then_some((start, end))
}

/// Minutes after midnight (below 1440) as a time of day.
fn minutes_time(minutes: u16) -> NaiveTime {
    let m = u32::from(minutes);
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or(NaiveTime::MIN)
}

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous
/// Gregorian algorithm of Meeus, Jones and Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// Norway's public holidays (SEMANTICS.md section 4): 1 Jan, Maundy
/// Thursday, Good Friday, Easter Sunday, Easter Monday, 1 May, 17 May,
/// Ascension Day, Whit Sunday, Whit Monday, 25 and 26 Dec.
pub fn is_norwegian_holiday(date: NaiveDate) -> bool {
    const FIXED: [(u32, u32); 5] = [(1, 1), (5, 1), (5, 17), (12, 25), (12, 26)];
    /// Days after Easter Sunday.
    const MOVABLE: [i64; 7] = [-3, -2, 0, 1, 39, 49, 50];
    if FIXED.contains(&(date.month(), date.day())) {
        return true;
    }
    let offset = (date - easter_sunday(date.year())).num_days();
    MOVABLE.contains(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_easter(year: i32, expect: &str) {
        assert_eq!(easter_sunday(year).to_string(), expect);
    }

    #[test]
    fn easter() {
        check_easter(2024, "2024-03-31");
        check_easter(2025, "2025-04-20");
        check_easter(2026, "2026-04-05");
        check_easter(2027, "2027-03-28");
        check_easter(2038, "2038-04-25");
        check_easter(2285, "2285-03-22");
    }

    fn check_holiday(date: &str, expect: bool) {
        let d: NaiveDate = date.parse().expect("date");
        assert_eq!(is_norwegian_holiday(d), expect, "{date}");
    }

    #[test]
    fn holidays_2026() {
        for d in [
            "2026-01-01",
            "2026-04-02",
            "2026-04-03",
            "2026-04-05",
            "2026-04-06",
            "2026-05-01",
            "2026-05-17",
            "2026-05-14",
            "2026-05-24",
            "2026-05-25",
            "2026-12-25",
            "2026-12-26",
        ] {
            check_holiday(d, true);
        }
        for d in [
            "2026-04-04",
            "2026-04-07",
            "2026-12-24",
            "2026-12-31",
            "2026-05-15",
        ] {
            check_holiday(d, false);
        }
    }
}
