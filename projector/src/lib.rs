//! The pure TLA report engine: from a tenant's events in a ledger prefix
//! to the monthly report of SEMANTICS.md, byte for byte.
//!
//! [`compute`] is a function of its [`Input`] alone: no I/O, no clock
//! reads, no hash-map order reaching the output. The caller (the `tla`
//! binary) reads the tenant's entries from the ledger, calls `compute`,
//! fills in the manifest's `ledger_size` and `ledger_root`, and
//! [`Report::seal`]s the result. The modules follow the concerns of
//! SEMANTICS.md: `period` and `calendar` for time, `interval` for interval
//! sets, `agreement` for the version in force, `projection` for the one
//! pass over the events (with `quality` for what is set aside), then
//! `availability`, `incident`, `governance` and `contact` per period,
//! `story` for what format 2 adds (follow-up, actions, meetings,
//! responsibility overview, trend), and `report` for the document and its
//! digest; `engine` ties them together.
//! `render` turns a report into documents for people (Markdown, HTML,
//! CSV), and `alert` finds the 75% warnings and breaches an incident has
//! had by a given moment. `acknowledgement` finds the municipality's
//! acknowledgements of a period's issued reports (not part of any report).
//!
//! The crate does no I/O and has no async runtime: the web viewer, the
//! live projection and the HTTP API that serve these reports live in the
//! `web` crate.

pub mod acknowledgement;
pub mod agreement;
pub mod alert;
pub mod availability;
pub mod calendar;
pub mod contact;
pub mod engine;
pub mod error;
pub mod governance;
pub mod incident;
pub mod interval;
pub mod period;
pub mod projection;
pub mod quality;
pub mod render;
pub mod report;
pub mod story;

pub use engine::{compute, compute_as};
pub use error::ReportError;
pub use period::{Period, PeriodError};
pub use report::{
    DataQuality, Deviation, Format, IncidentCounts, Manifest, Measure, Report, ServiceReport,
    ENGINE_VERSION, REPORT_FORMAT,
};

/// An event of the ledger prefix with its ledger position (which breaks
/// ties between events of the same `time`, and between agreement versions
/// of the same `effective_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEvent {
    pub position: u64,
    pub event: schemas::Event,
}

/// What a report is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub tenant: &'a str,
    pub period: Period,
    /// The tenant's events in the ledger prefix, in ledger position order
    /// (the engine sorts by (time, position) itself; events of other
    /// tenants are ignored).
    pub events: &'a [LedgerEvent],
    /// `None`: the period is treated as ended (deadlines and breaches are
    /// extrapolated). `Some(t)`: the generation instant t (unix seconds) of
    /// a preliminary report; every "end of P" and evaluation instant is
    /// bounded by t, and events with a `time` after t are not yet facts.
    pub horizon: Option<i64>,
}
