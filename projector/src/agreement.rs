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
