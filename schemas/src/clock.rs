//! The one clock of tla-ledger: every "now" in the workspace (the ledger
//! writer's `appended_at`, the receivers' skew check, the live reports'
//! horizon, sessions and the viewer) is read here, so that all agree on
//! how a clock is read and what happens when it is wrong.
//!
//! Reading the clock cannot fail. A system clock set before 1970 gives the
//! negative count it stands for (an instant before the epoch), never a
//! silent 1970 and never a panic: such instants are then judged like any
//! other (events from "the future" refused by the skew check, reports
//! with a horizon before their period refused as not started). A clock
//! past the year 294,247 saturates at `i64::MAX` microseconds.
//! The pure crates (`projector`) never read it: they are given `now`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (UTC), now.
pub fn now_micros() -> i64 {
    micros_of(SystemTime::now())
}

/// Whole seconds since the Unix epoch (UTC), now (rounded down, also
/// before the epoch).
pub fn now_seconds() -> i64 {
    now_micros().div_euclid(1_000_000)
}

/// Microseconds since the epoch of `instant`, negative before it.
fn micros_of(instant: SystemTime) -> i64 {
    match instant.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn instants_before_the_epoch_are_negative_and_seconds_round_down() {
        assert_eq!(micros_of(UNIX_EPOCH), 0);
        assert_eq!(
            micros_of(UNIX_EPOCH + Duration::from_micros(1_500_001)),
            1_500_001
        );
        assert_eq!(
            micros_of(UNIX_EPOCH - Duration::from_micros(1_500_000)),
            -1_500_000
        );
        assert_eq!((-1_500_000_i64).div_euclid(1_000_000), -2);
        // 2026 or later on any machine running this test.
        assert!(now_seconds() > 1_767_225_600, "{}", now_seconds());
        assert_eq!(now_seconds(), now_micros().div_euclid(1_000_000));
    }
}
