//! Contact roles and their vacancy (SEMANTICS.md sections 9 and 11
//! "Contacts").
//!
//! A role is held from a `contact.assigned` until a `contact.vacated`; a
//! new assignment while held changes the person without a gap. The roles
//! checked in a period are the version's `required_roles` (tenant-wide)
//! and each `per_service_roles` for each of its services.

use schemas::agreement::Agreement;

use crate::interval::IntervalSet;
use crate::projection::{Holding, Projection};

/// A role without a holder for part of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacancy {
    pub role: String,
    /// `None` for a tenant-wide role.
    pub service: Option<String>,
    /// Wall-clock seconds of `[start, end)` without a holder; > 0.
    pub seconds: i64,
}

/// The vacancies of the roles of `agreement` over `[start, end)`.
pub fn vacancies(
    agreement: &Agreement,
    projection: &Projection<'_>,
    start: i64,
    end: i64,
) -> Vec<Vacancy> {
    let Some(contacts) = &agreement.contacts else {
        return Vec::new();
    };
    let tenant_wide = contacts.required_roles.iter().map(|r| (r.as_str(), None));
    let per_service = agreement.services.iter().flat_map(|s| {
        contacts
            .per_service_roles
            .iter()
            .map(move |r| (r.as_str(), Some(s.id.as_str())))
    });
    tenant_wide
        .chain(per_service)
        .filter_map(|key| {
            let held = projection
                .contacts
                .get(&key)
                .map_or_else(IntervalSet::new, |h| held(h, end));
            let seconds = IntervalSet::span(start, end).difference(&held).len();
            (seconds > 0).then(|| Vacancy {
                role: key.0.to_string(),
                service: key.1.map(str::to_string),
                seconds,
            })
        })
        .collect()
}

/// The intervals during which a role is held, up to `end`.
fn held(holding: &Holding, end: i64) -> IntervalSet {
    let mut spans = Vec::new();
    let mut since: Option<i64> = None;
    for &(t, holds) in &holding.changes {
        match (since, holds) {
            (None, true) => since = Some(t),
            (Some(s), false) => {
                spans.push((s, t));
                since = None;
            }
            // A new assignment while held changes the person without a gap.
            _ => {}
        }
    }
    if let Some(s) = since {
        spans.push((s, end.max(s)));
    }
    IntervalSet::from_spans(spans)
}
