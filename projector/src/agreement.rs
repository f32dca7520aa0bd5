//! Which agreement version is in force when (SEMANTICS.md section 4).
//!
//! The version in force at instant T is, among the tenant's
//! `agreement.published` events in the ledger prefix, the one with the
//! latest `effective_from <= T`, ties going to the later ledger entry. The
//! event's own `time` plays no part, so a version published late with an
//! early `effective_from` applies retroactively to every replay of a prefix
//! that holds it. A version whose agreement `requires_approval` is in
//! force only when the prefix also holds an `agreement.approved` for its
//! version from each party (SEMANTICS.md section 12), whenever written.

use chrono_tz::Tz;
use std::collections::BTreeSet;

use schemas::agreement::Agreement;
use schemas::{EventData, Party};

use crate::LedgerEvent;

/// The tenant's agreement versions, sorted by (`effective_from`, ledger
/// position).
#[derive(Debug, Clone, Default)]
pub struct Versions<'a> {
    list: Vec<(i64, u64, &'a Agreement)>,
    /// Every version label published, also those awaiting approval.
    published: BTreeSet<&'a str>,
}

/// Two versions of one tenant that name different time zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConflict {
    pub first_version: String,
    pub first_zone: Tz,
    pub second_version: String,
    pub second_zone: Tz,
}

impl<'a> Versions<'a> {
    /// The versions published by `events` (any order).
    pub fn from_events(events: &[&'a LedgerEvent]) -> Versions<'a> {
        let approved: BTreeSet<(&str, Party)> = events
            .iter()
            .filter_map(|e| match &e.event.data {
                EventData::AgreementApproved { version, party, .. } => {
                    Some((version.as_str(), *party))
                }
                _ => None,
            })
            .collect();
        let approved_by_both = |a: &Agreement| {
            Party::ALL
                .iter()
                .all(|p| approved.contains(&(a.version.as_str(), *p)))
        };
        let mut list: Vec<(i64, u64, &'a Agreement)> = events
            .iter()
            .filter_map(|e| match &e.event.data {
                EventData::AgreementPublished(a) if !a.requires_approval || approved_by_both(a) => {
                    Some((a.effective_from, e.position, &**a))
                }
                _ => None,
            })
            .collect();
        list.sort_by_key(|&(from, position, _)| (from, position));
        let published = events
            .iter()
            .filter_map(|e| match &e.event.data {
                EventData::AgreementPublished(a) => Some(a.version.as_str()),
                _ => None,
            })
            .collect();
        Versions { list, published }
    }

    /// The version in force at `t`.
    pub fn in_force(&self, t: i64) -> Option<&'a Agreement> {
        let i = self.list.partition_point(|&(from, _, _)| from <= t);
        i.checked_sub(1).map(|i| self.list[i].2)
    }

    /// Every version with its `effective_from`, in that order.
    pub fn all(&self) -> impl Iterator<Item = (i64, &'a Agreement)> + '_ {
        self.list.iter().map(|&(from, _, a)| (from, a))
    }

    /// The earliest `effective_from` of all versions.
    pub fn earliest_effective_from(&self) -> Option<i64> {
        self.list.first().map(|&(from, _, _)| from)
    }

    /// Whether a version labelled `version` was published in the prefix
    /// (approved or not).
    pub fn is_published(&self, version: &str) -> bool {
        self.published.contains(version)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The one time zone of all versions; `None` without versions.
    pub fn timezone(&self) -> Result<Option<Tz>, ZoneConflict> {
        let Some(&(_, _, first)) = self.list.first() else {
            return Ok(None);
        };
        match self
            .list
            .iter()
            .find(|(_, _, a)| a.timezone != first.timezone)
        {
            None => Ok(Some(first.timezone)),
            Some((_, _, other)) => Err(ZoneConflict {
                first_version: first.version.clone(),
                first_zone: first.timezone,
                second_version: other.version.clone(),
                second_zone: other.timezone,
            }),
        }
    }
}

/// One `agreement.approved` of a tenant as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval<'a> {
    pub position: u64,
    /// The event's `time` (Unix seconds); it plays no part in force.
    pub time: i64,
    pub version: &'a str,
    pub party: Party,
    pub person: &'a str,
    /// The event's `source`.
    pub source: &'a str,
    /// The token that sent it over HTTP (its `authid`), if any.
    pub token: Option<String>,
    /// Set aside (SEMANTICS.md section 12): a second approval by the same
    /// party (`duplicate_start`), or one of a version never published
    /// (`unknown_or_closed_id`).
    pub set_aside: Option<crate::quality::Reason>,
}

/// One `agreement.published` of a tenant, with the approvals of its version.
#[derive(Debug, Clone)]
pub struct VersionStory<'a> {
    pub position: u64,
    /// The event's `time` (Unix seconds).
    pub time: i64,
    pub agreement: &'a Agreement,
    pub source: &'a str,
    /// The token that published it over HTTP (its `authid`), if any.
    pub token: Option<String>,
    /// Every approval of its version label, accepted or set aside, in
    /// processing order (`time`, position).
    pub approvals: Vec<Approval<'a>>,
}

impl VersionStory<'_> {
    /// Whether `party` approved this version (an accepted approval).
    pub fn approved_by(&self, party: Party) -> bool {
        self.approvals
            .iter()
            .any(|a| a.party == party && a.set_aside.is_none())
    }

    /// The parties whose approval this version still needs: none when it
    /// does not require approval.
    pub fn waiting_for(&self) -> Vec<Party> {
        if !self.agreement.requires_approval {
            return Vec::new();
        }
        Party::ALL
            .into_iter()
            .filter(|p| !self.approved_by(*p))
            .collect()
    }

    /// Whether the version takes part in deciding what is in force
    /// (section 4): it needs no approval, or both parties gave theirs.
    pub fn in_force(&self) -> bool {
        self.waiting_for().is_empty()
    }
}

/// A tenant's agreement versions and approvals, for `tla agreement log`,
/// the viewer and evidence bundles.
#[derive(Debug, Clone, Default)]
pub struct History<'a> {
    /// In ledger order.
    pub versions: Vec<VersionStory<'a>>,
    /// Approvals of a version label never published (set aside).
    pub stray: Vec<Approval<'a>>,
}

impl<'a> History<'a> {
    /// The history told by `events` (one tenant's, any order).
    pub fn from_events(events: &[&'a LedgerEvent]) -> History<'a> {
        let mut sorted: Vec<&'a LedgerEvent> = events.to_vec();
        sorted.sort_by_key(|e| (e.event.time, e.position));
        let published: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| match &e.event.data {
                EventData::AgreementPublished(a) => Some(a.version.as_str()),
                _ => None,
            })
            .collect();
        let mut approvals: Vec<Approval<'a>> = Vec::new();
        let mut seen: BTreeSet<(&str, Party)> = BTreeSet::new();
        for e in sorted.iter().copied() {
            let EventData::AgreementApproved {
                version,
                party,
                person,
            } = &e.event.data
            else {
                continue;
            };
            let set_aside = if !published.contains(version.as_str()) {
                Some(crate::quality::Reason::UnknownOrClosedId)
            } else if !seen.insert((version.as_str(), *party)) {
                Some(crate::quality::Reason::DuplicateStart)
            } else {
                None
            };
            approvals.push(Approval {
                position: e.position,
                time: e.event.time,
                version,
                party: *party,
                person,
                source: &e.event.source,
                token: e.event.extension(schemas::AUTHID_ATTRIBUTE),
                set_aside,
            });
        }
        let mut by_position: Vec<&'a LedgerEvent> = events.to_vec();
        by_position.sort_by_key(|e| e.position);
        let versions = by_position
            .iter()
            .copied()
            .filter_map(|e| match &e.event.data {
                EventData::AgreementPublished(a) => Some(VersionStory {
                    position: e.position,
                    time: e.event.time,
                    agreement: a,
                    source: &e.event.source,
                    token: e.event.extension(schemas::AUTHID_ATTRIBUTE),
                    approvals: approvals
                        .iter()
                        .filter(|p| p.version == a.version)
                        .cloned()
                        .collect(),
                }),
                _ => None,
            })
            .collect();
        let stray = approvals
            .into_iter()
            .filter(|p| !published.contains(p.version))
            .collect();
        History { versions, stray }
    }

    /// The versions labelled `version`.
    pub fn version(&self, version: &str) -> impl Iterator<Item = &VersionStory<'a>> + '_ {
        let version = version.to_owned();
        self.versions
            .iter()
            .filter(move |v| v.agreement.version == version)
    }
}

/// The ended periods (end <= `now`) a version in force from
/// `effective_from` would be reported under, or change, until the next
/// version takes over at `next_from`: those ending after `effective_from`
/// and starting before `next_from`. What `tla agreement publish` warns of
/// for an `effective_from` in the past.
pub fn ended_periods_changed(
    tz: Tz,
    effective_from: i64,
    next_from: Option<i64>,
    now: i64,
) -> Vec<crate::Period> {
    let mut out = Vec::new();
    let mut p = crate::Period::containing(tz, effective_from);
    while p.is_valid() && p.end(tz) <= now && next_from.is_none_or(|n| p.start(tz) < n) {
        if p.end(tz) > effective_from {
            out.push(p);
        }
        p = p.plus_months(1);
    }
    out
}
