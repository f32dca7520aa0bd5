//! Reporting periods and local time (SEMANTICS.md sections 1 and 4).
//!
//! A period is a calendar month in the agreement's time zone, from the
//! first day's local midnight to the next month's. Local wall times become
//! instants by the agreement's rule: a time that does not exist (spring
//! forward) is the first instant after the gap, an ambiguous one (fall
//! back) the earlier instant. Everything here is arithmetic on its
//! arguments; nothing reads a clock.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;

/// Earliest year of a period. Four-digit years keep `YYYY-MM` and the
/// `Z` instants of a report the same length, so their byte order is
/// their time order (the deviation sort key relies on it).
pub const YEAR_MIN: i32 = 1000;

/// Latest year of a period, for the same reason as [`YEAR_MIN`].
pub const YEAR_MAX: i32 = 9998;

/// How far (seconds) around a nonexistent local time the end of its gap is
/// searched. Real gaps are an hour or less; the largest in the IANA
/// database (a skipped calendar day) is 24 hours.
const GAP_SEARCH_SECONDS_MAX: i64 = 2 * 86_400;

/// A calendar month, written `YYYY-MM`. Orders by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub year: i32,
    /// 1..=12.
    pub month: u32,
}

/// Why a text is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a period: expected YYYY-MM with a year {YEAR_MIN}..={YEAR_MAX} and a month 01..12, e.g. 2026-10")]
pub struct PeriodError {
    pub text: String,
}

impl Period {
    /// The period of `year`-`month`, when both are in range.
    pub fn new(year: i32, month: u32) -> Option<Period> {
        let p = Period { year, month };
        p.is_valid().then_some(p)
    }

    /// Month 1..=12 and a year [`YEAR_MIN`]..=[`YEAR_MAX`].
    pub fn is_valid(self) -> bool {
        (1..=12).contains(&self.month) && (YEAR_MIN..=YEAR_MAX).contains(&self.year)
    }

    /// The period `n` months later (earlier when `n < 0`).
    pub fn plus_months(self, n: i32) -> Period {
        let index = self.year * 12 + self.month as i32 - 1 + n;
        Period {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// The first local date of the period.
    pub fn first_day(self) -> NaiveDate {
        // Valid periods (checked by `engine::compute` before any use) have
        // a month 1..=12 and a year far inside chrono's range.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The period's first instant: local midnight of its first day.
    pub fn start(self, tz: Tz) -> i64 {
        local_instant(tz, self.first_day().and_time(NaiveTime::MIN))
    }

    /// The period's end: the next period's start (exclusive).
    pub fn end(self, tz: Tz) -> i64 {
        self.plus_months(1).start(tz)
    }

    /// The period holding instant `t` in time zone `tz`.
    pub fn containing(tz: Tz, t: i64) -> Period {
        use chrono::Datelike;
        let d = local_date(tz, t);
        Period {
            year: d.year(),
            month: d.month(),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let err = || PeriodError {
            text: s.to_string(),
        };
        let b = s.as_bytes();
        let shape = b.len() == 7
            && b[4] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit());
        if !shape {
            return Err(err());
        }
        let year: i32 = s[..4].parse().map_err(|_| err())?;
        let month: u32 = s[5..].parse().map_err(|_| err())?;
        Period::new(year, month).ok_or_else(err)
    }
}

/// The instant of local wall time `t` in `tz`: the earlier instant when
/// ambiguous, the first instant after the gap when it does not exist.
pub fn local_instant(tz: Tz, t: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(x) => x.timestamp(),
        LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
        LocalResult::None => gap_end(tz, t),
    }
}

/// The first instant whose local time is at or after `t`, for a `t` inside
/// a spring-forward gap: the instant of the transition. Local time is
/// increasing across a gap, so a binary search over UTC instants finds it.
fn gap_end(tz: Tz, t: NaiveDateTime) -> i64 {
    let naive = t.and_utc().timestamp();
    let local = |u: i64| u + offset_seconds(tz, u);
    let (mut lo, mut hi) = (
        naive - GAP_SEARCH_SECONDS_MAX,
        naive + GAP_SEARCH_SECONDS_MAX,
    );
    // Invariant: local(lo) < naive <= local(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local(mid) >= naive {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// UTC offset of `tz` at instant `u`, in seconds.
fn offset_seconds(tz: Tz, u: i64) -> i64 {
    match DateTime::from_timestamp(u, 0) {
        Some(d) => i64::from(
            tz.offset_from_utc_datetime(&d.naive_utc())
                .fix()
                .local_minus_utc(),
        ),
        // Beyond chrono's range (±262,000 years): never a validated instant.
        None => 0,
    }
}

/// The local date of instant `t` in `tz`.
pub fn local_date(tz: Tz, t: i64) -> NaiveDate {
    match DateTime::from_timestamp(t, 0) {
        Some(d) => d.with_timezone(&tz).date_naive(),
        // Beyond chrono's range: never a validated instant.
        None => NaiveDate::MIN,
    }
}

/// The instant of local midnight starting `date`.
pub fn local_midnight(tz: Tz, date: NaiveDate) -> i64 {
    local_instant(tz, date.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Oslo;

    fn check(period: &str, expect_hours: i64) {
        let p: Period = period.parse().expect("valid period");
        assert_eq!(p.to_string(), period);
        assert_eq!(
            (p.end(Oslo) - p.start(Oslo)) / 3600,
            expect_hours,
            "{period}"
        );
    }

    #[test]
    fn period_lengths_in_oslo() {
        check("2026-10", 745);
        check("2026-03", 743);
        check("2026-02", 672);
        check("2026-04", 720);
        check("2024-02", 696);
        check("2025-12", 744);
    }

    #[test]
    fn parsing() {
        for bad in [
            "2026-13", "2026-00", "26-10", "2026/10", "2026-1", "+026-10", "0999-01",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
        let p: Period = "2026-12".parse().expect("valid");
        assert_eq!(p.plus_months(1).to_string(), "2027-01");
        assert_eq!(p.plus_months(-12).to_string(), "2025-12");
        assert_eq!(p.plus_months(-13).to_string(), "2025-11");
    }

    #[test]
    fn gaps_and_folds() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        // 02:30 on 2026-03-29 does not exist in Oslo: the gap ends at 01:00Z.
        assert_eq!(
            schemas::format_instant(local_instant(Oslo, at("2026-03-29 02:30"))),
            "2026-03-29T01:00:00Z"
        );
        // 02:30 on 2026-10-25 happens twice: the earlier is 00:30Z.
        assert_eq!(
            schemas::format_instant(local_instant(Oslo, at("2026-10-25 02:30"))),
            "2026-10-25T00:30:00Z"
        );
    }
}
