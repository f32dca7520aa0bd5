//! The agreement's living documents: `contact::roster` (who holds each
//! role at an instant) and `governance::meetings` (meetings and whether
//! their minutes came on time), one `check` per case, each expected line
//! written out as a reader would say it.

mod common;

use common::{instant, ledger, TENANT};
use projector::contact::Side;
use projector::governance::MinutesStatus;
use serde_json::{json, Value};

/// The base agreement with contacts and governance.
fn agreement() -> Value {
    json!({"time": "2025-12-20T00:00:00Z", "type": "agreement.published", "data": {"agreement": {
        "$base": "base",
        "governance": {"operations_meeting_every_months": 2, "steering_meeting_every_months": 1,
                       "minutes_due_days": 14},
        "contacts": {"required_roles": ["provider_account_owner", "tenant_contact"],
                     "per_service_roles": ["provider_service_owner"]}}}})
}

fn assign(time: &str, role: &str, service: Option<&str>, person: &str) -> Value {
    let mut data = json!({"role": role, "person": person});
    if let Some(s) = service {
        data["service"] = json!(s);
    }
    json!({"time": time, "type": "contact.assigned", "data": data})
}

fn vacate(time: &str, role: &str) -> Value {
    json!({"time": time, "type": "contact.vacated", "data": {"role": role}})
}

/// Each role as "side role service: person since" at `at`.
fn check_roster(events: &[Value], at: &str, expect: &[&str]) {
    let mut all = vec![agreement()];
    all.extend_from_slice(events);
    let roster = projector::contact::roster(TENANT, &ledger(&all, TENANT), instant(at));
    let lines: Vec<String> = roster
        .roles
        .iter()
        .map(|r| {
            let side = match r.side {
                Side::Provider => "provider",
                Side::Tenant => "tenant",
                Side::Other => "other",
            };
            let since = r.since.map_or("never".to_string(), schemas::format_instant);
            let required = if r.required { "" } else { " (not required)" };
            format!(
                "{side} {}{required} {}: {} since {since}",
                r.role,
                r.service.as_deref().unwrap_or("-"),
                r.person.as_deref().unwrap_or("VACANT"),
            )
        })
        .collect();
    assert_eq!(lines, expect, "at {at}");
}

#[test]
fn roster_names_the_holder_of_each_required_role() {
    let events = [
        assign(
            "2026-01-01T00:00:00Z",
            "provider_account_owner",
            None,
            "Kari",
        ),
        assign("2026-01-01T00:00:00Z", "tenant_contact", None, "Ragnhild"),
        assign(
            "2026-01-01T00:00:00Z",
            "provider_service_owner",
            Some("epost"),
            "Ola",
        ),
        assign(
            "2026-02-10T08:00:00Z",
            "provider_account_owner",
            None,
            "Ingrid",
        ),
        vacate("2026-03-01T12:00:00Z", "tenant_contact"),
        assign("2026-03-02T00:00:00Z", "tenant_it_lead", None, "Knut"),
        // A service the agreement does not have: set aside, names nobody.
        assign(
            "2026-03-03T00:00:00Z",
            "provider_service_owner",
            Some("gis"),
            "Lars",
        ),
    ];
    check_roster(
        &events,
        "2025-12-31T23:59:59Z",
        &[
            "provider provider_account_owner -: VACANT since never",
            "provider provider_service_owner epost: VACANT since never",
            "provider provider_service_owner nett: VACANT since never",
            "provider provider_service_owner web: VACANT since never",
            "tenant tenant_contact -: VACANT since never",
        ],
    );
    check_roster(
        &events,
        "2026-02-10T08:00:00Z",
        &[
            "provider provider_account_owner -: Ingrid since 2026-02-10T08:00:00Z",
            "provider provider_service_owner epost: Ola since 2026-01-01T00:00:00Z",
            "provider provider_service_owner nett: VACANT since never",
            "provider provider_service_owner web: VACANT since never",
            "tenant tenant_contact -: Ragnhild since 2026-01-01T00:00:00Z",
        ],
    );
    check_roster(
        &events,
        "2026-03-05T00:00:00Z",
        &[
            "provider provider_account_owner -: Ingrid since 2026-02-10T08:00:00Z",
            "provider provider_service_owner epost: Ola since 2026-01-01T00:00:00Z",
            "provider provider_service_owner nett: VACANT since never",
            "provider provider_service_owner web: VACANT since never",
            "tenant tenant_contact -: VACANT since 2026-03-01T12:00:00Z",
            "tenant tenant_it_lead (not required) -: Knut since 2026-03-02T00:00:00Z",
        ],
    );
}

#[test]
fn roster_without_an_agreement_lists_only_held_roles() {
    let events = ledger(
        &[assign(
            "2026-01-01T00:00:00Z",
            "provider_account_owner",
            None,
            "Kari",
        )],
        TENANT,
    );
    let roster = projector::contact::roster(TENANT, &events, instant("2026-02-01T00:00:00Z"));
    assert_eq!(roster.agreement_version, None);
    assert_eq!(roster.roles.len(), 1);
    assert!(!roster.roles[0].required);
}

fn held(time: &str, id: &str, kind: &str) -> Value {
    json!({"time": time, "type": "meeting.held", "data": {"meeting_id": id, "kind": kind}})
}

fn filed(time: &str, id: &str, digest: char) -> Value {
    let digest: String = std::iter::repeat_n(digest, 64).collect();
    json!({"time": time, "type": "minutes.filed", "data": {"meeting_id": id, "digest": digest}})
}

/// Each meeting as "id kind: status" at `now`.
fn check_meetings(events: &[Value], now: &str, expect: &[&str]) {
    let mut all = vec![agreement()];
    all.extend_from_slice(events);
    let meetings = projector::governance::meetings(TENANT, &ledger(&all, TENANT));
    let lines: Vec<String> = meetings
        .iter()
        .map(|m| {
            let status = match m.minutes(instant(now)) {
                MinutesStatus::OnTime { .. } => "on time".to_string(),
                MinutesStatus::Late { filed, due } => {
                    format!("late by {} s", filed - due)
                }
                MinutesStatus::Missing { .. } => "missing".to_string(),
                MinutesStatus::Pending { .. } => "pending".to_string(),
                MinutesStatus::NotEvaluated => "not evaluated".to_string(),
            };
            format!(
                "{} {}: {status}, {} filings",
                m.id,
                m.kind.as_str(),
                m.filings.len()
            )
        })
        .collect();
    assert_eq!(lines, expect);
}

#[test]
fn meetings_say_whether_minutes_came_on_time() {
    let events = [
        held("2026-01-10T10:00:00Z", "drift-1", "operations"),
        filed("2026-01-24T10:00:00Z", "drift-1", 'a'),
        held("2026-01-20T10:00:00Z", "styring-1", "steering"),
        filed("2026-02-03T10:00:01Z", "styring-1", 'b'),
        filed("2026-02-05T10:00:00Z", "styring-1", 'c'),
        held("2026-02-10T10:00:00Z", "styring-2", "steering"),
        held("2026-03-01T10:00:00Z", "styring-3", "steering"),
        // Minutes for a meeting never held: set aside.
        filed("2026-03-02T10:00:00Z", "nowhere", 'd'),
    ];
    check_meetings(
        &events,
        "2026-03-05T00:00:00Z",
        &[
            "drift-1 operations: on time, 1 filings",
            "styring-1 steering: late by 1 s, 2 filings",
            "styring-2 steering: missing, 0 filings",
            "styring-3 steering: pending, 0 filings",
        ],
    );
    let meetings = projector::governance::meetings(TENANT, &ledger(&events, TENANT));
    assert!(
        meetings
            .iter()
            .all(|m| m.minutes(0) == MinutesStatus::NotEvaluated),
        "without an agreement no minutes are due"
    );
}

fn open_action(time: &str, id: &str, due: &str) -> Value {
    json!({"time": time, "type": "action.opened", "data": {"action_id": id, "title": format!("Fix {id}"),
           "owner": "Ola", "due": due, "deviation_ids": ["0123456789abcdef"]}})
}

fn close_action(time: &str, id: &str) -> Value {
    json!({"time": time, "type": "action.closed", "data": {"action_id": id, "outcome": "Done"}})
}

/// `story::open_actions`: the actions open at an instant, overdue once
/// their due instant has come; a close or an open after the instant is
/// not yet a fact, and a second open of an id is set aside.
#[test]
fn open_actions_at_an_instant() {
    let events = ledger(
        &[
            agreement(),
            open_action("2026-01-10T10:00:00Z", "a", "2026-02-01T00:00:00Z"),
            open_action("2026-01-05T10:00:00Z", "b", "2026-03-01T00:00:00Z"),
            open_action("2026-01-12T10:00:00Z", "c", "2026-04-01T00:00:00Z"),
            close_action("2026-01-20T10:00:00Z", "c"),
            open_action("2026-01-25T10:00:00Z", "c", "2026-05-01T00:00:00Z"),
            open_action("2026-02-15T10:00:00Z", "d", "2026-02-20T00:00:00Z"),
        ],
        TENANT,
    );
    let at = |t: &str| -> Vec<String> {
        projector::story::open_actions(TENANT, &events, instant(t))
            .iter()
            .map(|a| format!("{} {} {}", a.action_id, a.status, a.due))
            .collect()
    };
    assert_eq!(
        at("2026-01-15T00:00:00Z"),
        [
            "b open 2026-03-01T00:00:00Z",
            "a open 2026-02-01T00:00:00Z",
            "c open 2026-04-01T00:00:00Z"
        ]
    );
    // c closed; its second open is set aside (duplicate_start); a is due
    // at this very instant.
    assert_eq!(
        at("2026-02-01T00:00:00Z"),
        [
            "b open 2026-03-01T00:00:00Z",
            "a overdue 2026-02-01T00:00:00Z"
        ]
    );
    assert_eq!(
        at("2026-03-02T00:00:00Z"),
        [
            "b overdue 2026-03-01T00:00:00Z",
            "a overdue 2026-02-01T00:00:00Z",
            "d overdue 2026-02-20T00:00:00Z"
        ]
    );
    assert!(
        projector::story::open_actions("other", &events, instant("2026-03-02T00:00:00Z"))
            .is_empty()
    );
}
