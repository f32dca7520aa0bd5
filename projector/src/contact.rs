//! Contact roles and their vacancy (SEMANTICS.md sections 9 and 11
//! "Contacts").
//!
//! A role is held from a `contact.assigned` until a `contact.vacated`; a
//! new assignment while held changes the person without a gap. The roles
//! checked in a period are the version's `required_roles` (tenant-wide)
//! and each `per_service_roles` for each of its services.

use schemas::agreement::Agreement;

use crate::interval::IntervalSet;
use crate::projection::{Holding, Projection, RoleKey};

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
    required(agreement)
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

/// The roles `agreement` requires: each of `required_roles` (tenant-wide)
/// and each of `per_service_roles` for each of its services.
pub(crate) fn required(agreement: &Agreement) -> impl Iterator<Item = RoleKey<'_>> {
    let (tenant_wide, per_service) = match &agreement.contacts {
        Some(c) => (&c.required_roles[..], &c.per_service_roles[..]),
        None => (&[][..], &[][..]),
    };
    let tenant_wide = tenant_wide.iter().map(|r| (r.as_str(), None));
    let per_service = agreement.services.iter().flat_map(move |s| {
        per_service
            .iter()
            .map(move |r| (r.as_str(), Some(s.id.as_str())))
    });
    tenant_wide.chain(per_service)
}

/// The intervals during which a role is held, up to `end`.
pub(crate) fn held(holding: &Holding, end: i64) -> IntervalSet {
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

/// Which side of the agreement a role belongs to, read from its name:
/// `provider_…` roles are the provider's, `tenant_…` roles the
/// municipality's. Agreements name roles freely (SEMANTICS.md section 3),
/// so any other role is shown as [`Side::Other`] rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Provider,
    Tenant,
    Other,
}

impl Side {
    pub fn of(role: &str) -> Side {
        if role.starts_with("provider_") {
            Side::Provider
        } else if role.starts_with("tenant_") {
            Side::Tenant
        } else {
            Side::Other
        }
    }
}

/// Who holds each role of a tenant at one instant: the agreement's
/// always-current list of responsible persons, from the same projection
/// the reports use (so a set-aside assignment names nobody here either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    /// The instant (unix seconds) the roster describes.
    pub at: i64,
    /// The version in force at `at`, if any.
    pub agreement_version: Option<String>,
    /// Sorted by (side, service, role), tenant-wide roles first.
    pub roles: Vec<RoleHolder>,
}

/// One role and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    pub role: String,
    /// `None` for a tenant-wide role.
    pub service: Option<String>,
    pub side: Side,
    /// Whether the agreement in force at the instant requires the role
    /// (held roles it does not name are listed too).
    pub required: bool,
    /// The holder, `None` when the role is vacant.
    pub person: Option<String>,
    /// When the holder was assigned, or since when the role has been
    /// vacant (`None`: never held).
    pub since: Option<i64>,
}

/// The roster of `tenant` at instant `at` over `events` (the tenant's
/// events of a ledger prefix; others are ignored). Pure, like the engine.
pub fn roster(tenant: &str, events: &[crate::LedgerEvent], at: i64) -> Roster {
    let mut mine: Vec<&crate::LedgerEvent> =
        events.iter().filter(|e| e.event.tenant == tenant).collect();
    mine.sort_by_key(|e| (e.event.time, e.position));
    let versions = crate::agreement::Versions::from_events(&mine);
    mine.retain(|e| e.event.time <= at);
    let projection = crate::projection::project(&mine, &versions);
    let agreement = versions.in_force(at);
    let mut required: Vec<(String, Option<String>)> = Vec::new();
    if let Some(contacts) = agreement.and_then(|a| a.contacts.as_ref()) {
        required.extend(contacts.required_roles.iter().map(|r| (r.clone(), None)));
        for s in agreement.map_or(&[][..], |a| &a.services[..]) {
            let per_service = contacts.per_service_roles.iter();
            required.extend(per_service.map(|r| (r.clone(), Some(s.id.clone()))));
        }
    }
    let mut roles: Vec<RoleHolder> = required
        .iter()
        .map(|(role, service)| {
            let holding = projection
                .contacts
                .get(&(role.as_str(), service.as_deref()));
            holder(role, service.as_deref(), holding, true)
        })
        .collect();
    for (&(role, service), holding) in &projection.contacts {
        let listed = required
            .iter()
            .any(|(r, s)| r == role && s.as_deref() == service);
        if !listed && holding.held() {
            roles.push(holder(role, service, Some(holding), false));
        }
    }
    roles.sort_by(|a, b| {
        let key = |h: &RoleHolder| (h.side, h.service.clone(), h.role.clone());
        key(a).cmp(&key(b))
    });
    Roster {
        at,
        agreement_version: agreement.map(|a| a.version.clone()),
        roles,
    }
}

fn holder(role: &str, service: Option<&str>, h: Option<&Holding>, required: bool) -> RoleHolder {
    let held = h.is_some_and(Holding::held);
    let (person, since) = match h {
        Some(h) if held => {
            let last = h.holders.last();
            (last.map(|&(_, p)| p.to_string()), last.map(|&(t, _)| t))
        }
        Some(h) => (None, h.changes.last().map(|&(t, _)| t)),
        None => (None, None),
    };
    RoleHolder {
        role: role.to_string(),
        service: service.map(str::to_string),
        side: Side::of(role),
        required,
        person,
        since,
    }
}
