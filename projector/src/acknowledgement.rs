//! The municipality's acknowledgements of issued reports (SEMANTICS.md
//! section 12, "Acknowledgement"): which `report.acknowledged` names the
//! report shown, and whether one names another digest of the same period.
//!
//! An acknowledgement is not part of the report (it cannot change the
//! digest it acknowledges), so it is found here from the tenant's events,
//! a pure function like `contact::roster` and `governance::meetings`: the
//! viewer's report page and evidence bundles read the same answer. An
//! acknowledgement is never set aside (SEMANTICS.md section 12.2), so
//! every `report.acknowledged` of the tenant counts, in (`time`, position)
//! order. Whether another digest is *older* is read from the period's
//! `report.issued` entries: one issued before is an older report; a digest
//! no `report.issued` of the period anchors is named as such.

use schemas::EventData;

use crate::LedgerEvent;

/// One `report.acknowledged` event of a tenant and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// Ledger position of the entry.
    pub position: u64,
    /// The event's `time`, unix seconds.
    pub time: i64,
    /// The digest of the report it acknowledges (64 hex).
    pub report_digest: String,
    pub person: String,
    pub comment: Option<String>,
}

/// Where an acknowledgement's digest stands against the period's issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It names the digest asked about.
    Current,
    /// It names a digest a `report.issued` of the period anchors, other
    /// than the one asked about: an older (superseded) issue.
    Superseded,
    /// It names a digest no `report.issued` of the period anchors.
    NotIssued,
}

/// The acknowledgements of one report: the last one naming its digest,
/// and every one of the same period that names another digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// The last acknowledgement (by `time`, then position) naming the
    /// report's digest.
    pub current: Option<Acknowledgement>,
    /// The acknowledgements of the period naming other digests, each with
    /// its standing ([`Standing::Superseded`] or [`Standing::NotIssued`]),
    /// in (`time`, position) order.
    pub others: Vec<(Acknowledgement, Standing)>,
}

impl Receipt {
    /// Whether an acknowledgement names an older issue of the period and
    /// none names the report asked about: the reader must be told the
    /// report shown was not the one acknowledged.
    pub fn only_older(&self) -> bool {
        self.current.is_none() && !self.others.is_empty()
    }
}

/// Every `report.acknowledged` of `tenant` for `period` (`YYYY-MM`) in
/// `events`, in (`time`, position) order.
pub fn acknowledgements(
    tenant: &str,
    period: &str,
    events: &[LedgerEvent],
) -> Vec<Acknowledgement> {
    let mut found: Vec<Acknowledgement> = events
        .iter()
        .filter(|e| e.event.tenant == tenant)
        .filter_map(|e| match &e.event.data {
            EventData::ReportAcknowledged {
                period: p,
                report_digest,
                person,
                comment,
            } if p == period => Some(Acknowledgement {
                position: e.position,
                time: e.event.time,
                report_digest: report_digest.clone(),
                person: person.clone(),
                comment: comment.clone(),
            }),
            _ => None,
        })
        .collect();
    found.sort_by_key(|a| (a.time, a.position));
    found
}

/// The acknowledgements of the report of `tenant` and `period` whose
/// digest is `digest`, judged against the period's `report.issued`
/// entries in `events`.
pub fn receipt(tenant: &str, period: &str, digest: &str, events: &[LedgerEvent]) -> Receipt {
    let issued: Vec<&str> = events
        .iter()
        .filter(|e| e.event.tenant == tenant)
        .filter_map(|e| match &e.event.data {
            EventData::ReportIssued {
                period: p,
                report_digest,
                ..
            } if p == period => Some(report_digest.as_str()),
            _ => None,
        })
        .collect();
    let mut receipt = Receipt::default();
    for a in acknowledgements(tenant, period, events) {
        if a.report_digest == digest {
            receipt.current = Some(a);
        } else {
            let standing = if issued.contains(&a.report_digest.as_str()) {
                Standing::Superseded
            } else {
                Standing::NotIssued
            };
            receipt.others.push((a, standing));
        }
    }
    receipt
}
