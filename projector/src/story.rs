//! What format 2 adds to a report (SEMANTICS.md section 12): each
//! deviation's id, party, explanation and last meeting, and the report's
//! actions, meetings and minutes, responsibility overview and trend.
//!
//! Everything here reads the projection the report's figures come from;
//! the trend computes the figures of its other eleven periods from that
//! same projection (one pass over the prefix), not from eleven reports.
//! "End of P" is the report's end bounded by its horizon, as everywhere in
//! the engine (docs/SEMANTICS.md section 1.5).

use std::collections::BTreeMap;

use schemas::agreement::Agreement;
use schemas::{format_instant, MeetingKind, Party};

use crate::engine::{figures, Context};
use crate::incident::{Change, State};
use crate::projection::{Explained, Holding, Meeting};
use crate::report::{
    Action, ContactRow, Deviation, Explanation, FollowUp, GovernanceStory, LastHeld, MeetingRow,
    OpenIncident, OutageRow, Report, ServiceDetails, Story, TrendPeriod,
};
use crate::LedgerEvent;

/// Seconds in a day of `minutes_due_days` (SEMANTICS.md section 8).
const DAY_SECONDS: i64 = 86_400;

/// Periods in the trend, the report's own included.
pub const TREND_PERIODS: i32 = 12;

/// The follow-up of each of `deviations`, in their order.
pub(crate) fn follow_up(ctx: &Context<'_>, deviations: &[Deviation]) -> Vec<FollowUp> {
    // The last explanation of each id, by (time, position): the
    // projection holds them in that order, so later ones overwrite.
    let explained: BTreeMap<&str, &Explained> = ctx
        .projection
        .explanations
        .iter()
        .map(|e| (e.deviation_id, e))
        .collect();
    deviations
        .iter()
        .map(|d| {
            let id = d.id();
            let explanation = explained.get(id.as_str()).map(|e| Explanation {
                cause: e.cause.to_string(),
                action_id: e.action_id.map(str::to_string),
                explained_at: format_instant(e.time),
            });
            let last_held = match d {
                Deviation::OperationsMeetingMissing { .. } => {
                    held(last_meeting(ctx, MeetingKind::Operations))
                }
                Deviation::SteeringMeetingMissing { .. } => {
                    held(last_meeting(ctx, MeetingKind::Steering))
                }
                _ => LastHeld::Absent,
            };
            FollowUp {
                id,
                party: party(ctx, d).as_str().to_string(),
                explanation,
                last_held,
            }
        })
        .collect()
}

fn held(at: Option<String>) -> LastHeld {
    at.map_or(LastHeld::Never, LastHeld::At)
}

/// Who owes what deviation `d` is about (SEMANTICS.md section 12 "Who
/// owes it").
fn party(ctx: &Context<'_>, d: &Deviation) -> Party {
    match d {
        Deviation::AvailabilityBelowTarget { .. }
        | Deviation::MaintenanceShortNotice { .. }
        | Deviation::ResponseBreach { .. }
        | Deviation::ResolutionBreach { .. } => Party::Provider,
        Deviation::OperationsMeetingMissing { .. } => ctx
            .agreement
            .governance
            .as_ref()
            .map_or(Party::Provider, |g| g.operations_party),
        Deviation::SteeringMeetingMissing { .. } => ctx
            .agreement
            .governance
            .as_ref()
            .map_or(Party::Tenant, |g| g.steering_party),
        Deviation::MinutesMissing { meeting_id, .. } => {
            let meeting = ctx.projection.meetings.iter().find(|m| m.id == meeting_id);
            // A minutes deviation always has its meeting; operations is
            // the provider's default should it not.
            let Some(m) = meeting else {
                return Party::Provider;
            };
            let governance = ctx
                .versions
                .in_force(m.held)
                .and_then(|a| a.governance.as_ref());
            match (m.kind, governance) {
                (MeetingKind::Operations, Some(g)) => g.operations_minutes_party,
                (MeetingKind::Steering, Some(g)) => g.steering_minutes_party,
                (MeetingKind::Operations, None) => Party::Provider,
                (MeetingKind::Steering, None) => Party::Tenant,
            }
        }
        Deviation::ContactVacant { role, .. } => role_party(ctx.agreement, role),
    }
}

/// The side that fills `role`: the agreement's `contacts.parties`, else
/// the role's name.
fn role_party(agreement: &Agreement, role: &str) -> Party {
    let mapped = agreement
        .contacts
        .as_ref()
        .and_then(|c| c.parties.get(role).copied());
    mapped.unwrap_or(if role.starts_with("tenant_") {
        Party::Tenant
    } else {
        Party::Provider
    })
}

/// The latest `held_at` of an accepted meeting of `kind` before the end.
fn last_meeting(ctx: &Context<'_>, kind: MeetingKind) -> Option<String> {
    ctx.projection
        .meetings
        .iter()
        .filter(|m| m.kind == kind && m.held < ctx.end)
        .map(|m| m.held)
        .max()
        .map(format_instant)
}

/// The format-2 sections of `report`, computed for `ctx`.
pub(crate) fn story(ctx: &Context<'_>, report: &Report) -> Story {
    Story {
        actions: actions(ctx),
        governance: ctx.agreement.governance.as_ref().map(|_| governance(ctx)),
        contacts: ctx.agreement.contacts.as_ref().map(|_| contacts(ctx)),
        trend: trend(ctx, report),
    }
}

/// Actions opened before the end and not closed before the start.
fn actions(ctx: &Context<'_>) -> Vec<Action> {
    action_rows(&ctx.projection.actions, ctx.start, ctx.end)
}

/// The actions of `tenant` still open at `at` (unix seconds): those of
/// an accepted `action.opened` with `time <= at` and no accepted
/// `action.closed` with `time <= at`, sorted by (`opened_at`,
/// `action_id`), each `overdue` when its `due` is at or before `at`, else
/// `open`. The viewer's follow-up page lists them (SEMANTICS-NOTES.md
/// "Renderings of format 2"); the state is read like `contact::roster`'s,
/// after every event with `time <= at`.
pub fn open_actions(tenant: &str, events: &[LedgerEvent], at: i64) -> Vec<Action> {
    let mut mine: Vec<&LedgerEvent> = events.iter().filter(|e| e.event.tenant == tenant).collect();
    mine.sort_by_key(|e| (e.event.time, e.position));
    let versions = crate::agreement::Versions::from_events(&mine);
    mine.retain(|e| e.event.time <= at);
    let projection = crate::projection::project(&mine, &versions);
    // As a report whose period starts and ends just after `at`: opened
    // before it, not closed before it, overdue when due before it.
    let after = at.saturating_add(1);
    action_rows(&projection.actions, after, after)
}

/// The rows of the `actions` opened before `end` and not closed before
/// `start`, with their status at `end`.
fn action_rows(actions: &[crate::projection::Action<'_>], start: i64, end: i64) -> Vec<Action> {
    let mut list: Vec<&crate::projection::Action> = actions
        .iter()
        .filter(|a| a.opened < end && a.closed.is_none_or(|(t, _)| t >= start))
        .collect();
    list.sort_by_key(|a| (a.opened, a.id));
    list.into_iter()
        .map(|a| {
            let closed = a.closed.filter(|&(t, _)| t < end);
            let status = match closed {
                Some(_) => "closed",
                None if a.due < end => "overdue",
                None => "open",
            };
            Action {
                action_id: a.id.to_string(),
                title: a.title.to_string(),
                owner: a.owner.to_string(),
                due: format_instant(a.due),
                opened_at: format_instant(a.opened),
                deviation_ids: a.deviation_ids.to_vec(),
                closed_at: closed.map(|(t, _)| format_instant(t)),
                outcome: closed.map(|(_, o)| o.to_string()),
                status: status.to_string(),
            }
        })
        .collect()
}

/// The meetings held in the period with their minutes, and the last
/// meeting of each kind.
fn governance(ctx: &Context<'_>) -> GovernanceStory {
    let mut held: Vec<&Meeting> = ctx
        .projection
        .meetings
        .iter()
        .filter(|m| ctx.start <= m.held && m.held < ctx.end)
        .collect();
    held.sort_by_key(|m| (m.held, m.id));
    GovernanceStory {
        meetings: held.into_iter().map(|m| meeting(ctx, m)).collect(),
        last_operations_meeting: last_meeting(ctx, MeetingKind::Operations),
        last_steering_meeting: last_meeting(ctx, MeetingKind::Steering),
    }
}

fn meeting(ctx: &Context<'_>, m: &Meeting) -> MeetingRow {
    let due = ctx
        .versions
        .in_force(m.held)
        .and_then(|a| a.governance.as_ref()?.minutes_due_days)
        .map(|days| m.held + i64::from(days) * DAY_SECONDS);
    let filed = m.filings.first().copied();
    let on_time = match (filed, due) {
        (Some(f), Some(d)) => Some(f <= d),
        (None, Some(d)) if d < ctx.end => Some(false),
        _ => None,
    };
    MeetingRow {
        meeting_id: m.id.to_string(),
        kind: m.kind.as_str().to_string(),
        held_at: format_instant(m.held),
        minutes_due: due.map(format_instant),
        minutes_filed_at: filed.map(format_instant),
        minutes_digest: m.digests.first().map(|d| d.to_string()),
        minutes_on_time: on_time,
    }
}

/// The responsibility overview after every event before the end: the
/// agreement's roles, and any other role held then.
fn contacts(ctx: &Context<'_>) -> Vec<ContactRow> {
    let mut keys: Vec<(&str, Option<&str>)> = Vec::new();
    if let Some(c) = &ctx.agreement.contacts {
        keys.extend(c.required_roles.iter().map(|r| (r.as_str(), None)));
        for s in &ctx.agreement.services {
            keys.extend(
                c.per_service_roles
                    .iter()
                    .map(|r| (r.as_str(), Some(s.id.as_str()))),
            );
        }
    }
    for (&key, holding) in &ctx.projection.contacts {
        if !keys.contains(&key) && holder_at(holding, ctx.end).is_some() {
            keys.push(key);
        }
    }
    keys.sort();
    keys.into_iter()
        .map(|(role, service)| {
            let holder = ctx
                .projection
                .contacts
                .get(&(role, service))
                .and_then(|h| holder_at(h, ctx.end));
            ContactRow {
                role: role.to_string(),
                service: service.map(str::to_string),
                person: holder.map(|(_, p)| p.to_string()),
                since: holder.map(|(t, _)| format_instant(t)),
            }
        })
        .collect()
}

/// `(since, person)` of the holder of a role after every change before
/// `end`, or `None` when it is vacant then.
fn holder_at<'a>(h: &Holding<'a>, end: i64) -> Option<(i64, &'a str)> {
    let held = h
        .changes
        .iter()
        .rev()
        .find(|&&(t, _)| t < end)
        .is_some_and(|&(_, held)| held);
    let last = h.holders.iter().rev().find(|&&(t, _)| t < end).copied();
    last.filter(|_| held)
}

/// The name, outages and open incidents of `service` for `ctx`.
pub(crate) fn service_details(ctx: &Context<'_>, service: &str) -> ServiceDetails {
    let mut outages: Vec<&crate::projection::Outage> = ctx
        .projection
        .outages
        .iter()
        .filter(|o| o.service == service && o.start < ctx.end)
        .filter(|o| o.end.is_none_or(|end| end > ctx.start))
        .collect();
    outages.sort_by_key(|o| (o.start, o.id));
    let mut open: Vec<OpenIncident> = ctx
        .projection
        .incidents
        .iter()
        .filter(|i| i.service == service && i.timeline.opened < ctx.end)
        .filter_map(|i| {
            // The state and priority after every change before the end.
            let before = i.timeline.changes.iter().filter(|&&(t, _)| t < ctx.end);
            let (state, priority) = before.fold(
                (State::Running, i.timeline.priority),
                |(state, priority), &(_, change)| match change {
                    Change::Priority(p) => (state, p),
                    c => (c.next_state(state), priority),
                },
            );
            (state != State::Resolved).then(|| OpenIncident {
                incident_id: i.id.to_string(),
                priority: priority.as_str().to_string(),
                opened_at: format_instant(i.timeline.opened),
            })
        })
        .collect();
    open.sort_by(|a, b| (&a.opened_at, &a.incident_id).cmp(&(&b.opened_at, &b.incident_id)));
    ServiceDetails {
        name: ctx.agreement.service(service).map(|s| s.name.clone()),
        outages: outages
            .into_iter()
            .map(|o| OutageRow {
                outage_id: o.id.to_string(),
                impact: o.impact.as_str().to_string(),
                start: format_instant(o.start),
                end: o.end.map(format_instant),
            })
            .collect(),
        open_incidents: open,
    }
}

/// The twelve periods ending with the report's, oldest first; a period
/// without a version in force at its start is left out.
fn trend(ctx: &Context<'_>, report: &Report) -> Vec<TrendPeriod> {
    (0..TREND_PERIODS)
        .rev()
        .filter_map(|back| {
            if back == 0 {
                return Some(counts(&report.period, &report.services, &report.deviations));
            }
            let period = ctx.period.plus_months(-back);
            if !period.is_valid() {
                return None;
            }
            let start = period.start(ctx.tz);
            let agreement = ctx.versions.in_force(start)?;
            let earlier = Context {
                period,
                tz: ctx.tz,
                start,
                // An earlier period ended before the report's horizon.
                end: period.end(ctx.tz),
                agreement,
                versions: ctx.versions,
                projection: ctx.projection,
            };
            let (services, deviations, _) = figures(&earlier);
            Some(counts(&period.to_string(), &services, &deviations))
        })
        .collect()
}

fn counts(
    period: &str,
    services: &[crate::report::ServiceReport],
    deviations: &[Deviation],
) -> TrendPeriod {
    let guaranteed = services.iter().filter_map(|s| s.availability.as_ref());
    TrendPeriod {
        period: period.to_string(),
        deviations: deviations.len() as u64,
        services_guaranteed: guaranteed.clone().count() as u64,
        services_met: guaranteed.filter(|a| a.met).count() as u64,
    }
}
