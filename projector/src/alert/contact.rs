//! Contact alerts: a required role without a holder.
//!
//! The roles watched are those any version in force by `now` requires
//! (each `required_roles` tenant-wide, each `per_service_roles` for each of
//! that version's services), each from the `effective_from` of the first
//! version that requires it. A role is vacant at t when no assignment
//! holds it after every event with `time <= t`. Each vacancy fires
//! `contact_vacant` at its first instant and, when it lasts, a critical
//! `contact_vacant_24h` 24 hours later; both end when the role is
//! assigned.

use std::collections::BTreeMap;

use crate::agreement::Versions;
use crate::contact::{held, required};
use crate::interval::IntervalSet;
use crate::projection::{Projection, RoleKey};

use super::{Found, Kind, Subject, VACANCY_REMINDER_SECONDS};

/// The contact alerts up to `now`.
pub(super) fn found<'a>(
    projection: &Projection<'a>,
    versions: &Versions<'a>,
    now: i64,
) -> Vec<Found<'a>> {
    let limit = now.saturating_add(1);
    let mut watched: BTreeMap<RoleKey<'a>, i64> = BTreeMap::new();
    for (from, agreement) in versions.all().filter(|&(from, _)| from <= now) {
        for key in required(agreement) {
            watched.entry(key).or_insert(from);
        }
    }
    let mut out = Vec::new();
    for ((role, service), from) in watched {
        let holding = projection.contacts.get(&(role, service));
        let held = holding.map_or_else(IntervalSet::new, |h| held(h, limit));
        let vacant = IntervalSet::span(from, limit).difference(&held);
        for &(start, end) in vacant.spans() {
            let ends = (end < limit).then_some(end);
            let mut push = |kind, at| {
                out.push(Found {
                    kind,
                    service,
                    subject: Subject::Role(role),
                    priority: None,
                    at,
                    ends,
                });
            };
            push(Kind::ContactVacant, start);
            let reminder = start + VACANCY_REMINDER_SECONDS;
            if reminder < end {
                push(Kind::ContactVacant24h, reminder);
            }
        }
    }
    out
}
