//! Why a report cannot be computed. Each message names the tenant and the
//! period and says what to do.

/// A report that cannot be made from the given prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// SEMANTICS.md section 4: no version in force at the period's start.
    #[error(
        "tenant {tenant:?} has no agreement version in force at the start of {period}; \
         publish an agreement whose effective_from is at or before the period's start, \
         or ask for a later period"
    )]
    NoAgreement { tenant: String, period: String },
    /// SEMANTICS.md section 4: all versions of a tenant must name one time zone.
    #[error(
        "tenant {tenant:?}: agreement versions name different time zones \
         ({versions}), so the period {period} has no single meaning; publish the \
         versions again in the tenant's one time zone"
    )]
    TimezoneMismatch {
        tenant: String,
        period: String,
        /// Two versions that disagree, e.g. `"2026-1" has Europe/Oslo, "2026-2" has UTC`.
        versions: String,
    },
    /// The period's year or month is out of range.
    #[error(
        "period {period} of tenant {tenant:?} is out of range: expected YYYY-MM with a year \
         {}..={} and a month 01..12",
        crate::period::YEAR_MIN,
        crate::period::YEAR_MAX
    )]
    InvalidPeriod { tenant: String, period: String },
    /// A horizon at or before the period's start: nothing of it has happened.
    #[error(
        "period {period} of tenant {tenant:?} has not started at the horizon {horizon}; \
         ask for an earlier period or a later horizon"
    )]
    PeriodNotStarted {
        tenant: String,
        period: String,
        horizon: String,
    },
}
