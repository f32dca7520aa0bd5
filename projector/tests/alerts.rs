//! The alerts of `projector::alert`: one test per alert kind at its
//! threshold instant: one second before it nothing, at it the alert (the
//! state at t is after every event with `time <= t`), and what ends it.

use projector::alert::{alerts, summary, Alert, Kind, Severity};
use projector::LedgerEvent;
use schemas::Event;
use serde_json::{json, Value};

const AGREEMENT_TIME: &str = "2026-01-01T00:00:00Z";

fn t(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

/// A tenant's history: the agreement (with `extra` merged into it) and
/// `(type, time, data)` events after it.
struct History(Vec<LedgerEvent>);

/// The workspace's test agreement (tests/common's `AGREEMENT`).
const AGREEMENT: &str = include_str!("../../tests/fixtures/agreement.json");

impl History {
    fn new(extra: Value) -> History {
        // The workspace's one test agreement, in UTC from AGREEMENT_TIME,
        // with 48 hours of maintenance notice.
        let mut agreement: Value = serde_json::from_str(AGREEMENT).expect("the fixture");
        agreement["version"] = json!("1");
        agreement["effective_from"] = json!(AGREEMENT_TIME);
        agreement["timezone"] = json!("UTC");
        agreement["services"][0]["maintenance_notice_hours"] = json!(48);
        if let (Some(a), Some(e)) = (agreement.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        let mut h = History(Vec::new());
        h.add(
            "agreement.published",
            AGREEMENT_TIME,
            json!({"agreement": agreement}),
        );
        h
    }

    fn add(&mut self, kind: &str, time: &str, data: Value) -> &mut History {
        let position = self.0.len() as u64;
        let value = json!({"specversion": "1.0", "id": format!("e{position}"), "source": "t",
            "type": kind, "time": time, "tenant": "alver", "data": data});
        let event = Event::from_json(&value).unwrap_or_else(|e| panic!("{e:?}"));
        self.0.push(LedgerEvent { position, event });
        self
    }

    fn at(&self, now: &str) -> Vec<Alert> {
        alerts("alver", &self.0, t(now), 0).alerts
    }

    /// `(kind, at, ends)` of the alerts of `kinds` at `now`.
    fn check(&self, now: &str, kinds: &[Kind], expect: &[(&str, &str, Option<&str>)]) {
        let got: Vec<(&str, String, Option<String>)> = self
            .at(now)
            .into_iter()
            .filter(|a| kinds.contains(&a.kind))
            .map(|a| (a.kind.as_str(), a.at, a.ends))
            .collect();
        let expect: Vec<(&str, String, Option<String>)> = expect
            .iter()
            .map(|&(k, at, ends)| (k, at.to_owned(), ends.map(str::to_owned)))
            .collect();
        assert_eq!(got, expect, "at {now}");
    }
}

fn opened(h: &mut History, time: &str) {
    h.add(
        "incident.opened",
        time,
        json!({"incident_id": "INC-1", "service": "epost", "priority": "P1"}),
    );
}

const INCIDENT: [Kind; 4] = [
    Kind::ResponseWarning,
    Kind::ResolutionWarning,
    Kind::ResponseBreach,
    Kind::ResolutionBreach,
];

#[test]
fn incident_warnings_at_three_quarters_then_breaches_as_they_happen() {
    let mut h = History::new(json!({}));
    opened(&mut h, "2026-01-05T10:00:00Z");
    // P1: response 30 min (75%: 22.5 min), resolution 240 min (75%: 180 min).
    h.check("2026-01-05T10:22:29Z", &INCIDENT, &[]);
    let warned = ("response_warning", "2026-01-05T10:22:30Z", None);
    h.check("2026-01-05T10:22:30Z", &INCIDENT, &[warned]);
    h.check("2026-01-05T10:29:59Z", &INCIDENT, &[warned]);
    let breached = ("response_breach", "2026-01-05T10:30:00Z", None);
    h.check("2026-01-05T10:30:00Z", &INCIDENT, &[warned, breached]);
    let resolution = ("resolution_warning", "2026-01-05T13:00:00Z", None);
    h.check("2026-01-05T12:59:59Z", &INCIDENT, &[warned, breached]);
    h.check(
        "2026-01-05T13:00:00Z",
        &INCIDENT,
        &[warned, breached, resolution],
    );
    let breach = ("resolution_breach", "2026-01-05T14:00:00Z", None);
    h.check(
        "2026-01-06T00:00:00Z",
        &INCIDENT,
        &[warned, breached, resolution, breach],
    );
    // Resolving ends every alert of the incident, at the resolve.
    h.add(
        "incident.resolved",
        "2026-01-06T01:00:00Z",
        json!({"incident_id": "INC-1"}),
    );
    let end = Some("2026-01-06T01:00:00Z");
    h.check(
        "2026-01-06T01:00:00Z",
        &INCIDENT,
        &[
            (warned.0, warned.1, end),
            (breached.0, breached.1, end),
            (resolution.0, resolution.1, end),
            (breach.0, breach.1, end),
        ],
    );
}

#[test]
fn a_pause_moves_the_warning_and_resolving_in_time_prevents_it() {
    let mut h = History::new(json!({}));
    opened(&mut h, "2026-01-05T10:00:00Z");
    h.add(
        "incident.responded",
        "2026-01-05T10:10:00Z",
        json!({"incident_id": "INC-1"}),
    );
    h.add(
        "incident.on_hold",
        "2026-01-05T11:00:00Z",
        json!({"incident_id": "INC-1", "reason": "waiting for the vendor"}),
    );
    h.add(
        "incident.resumed",
        "2026-01-05T12:00:00Z",
        json!({"incident_id": "INC-1"}),
    );
    h.check(
        "2026-01-05T14:59:59Z",
        &INCIDENT,
        &[("resolution_warning", "2026-01-05T14:00:00Z", None)],
    );
    let mut h = History::new(json!({}));
    opened(&mut h, "2026-01-05T10:00:00Z");
    h.add(
        "incident.resolved",
        "2026-01-05T10:20:00Z",
        json!({"incident_id": "INC-1"}),
    );
    h.check("2026-01-07T00:00:00Z", &INCIDENT, &[]);
}

fn outage(h: &mut History, id: &str, start: &str, end: Option<&str>) {
    h.add(
        "outage.started",
        start,
        json!({"outage_id": id, "service": "epost", "impact": "full"}),
    );
    if let Some(end) = end {
        h.add(
            "outage.ended",
            end,
            json!({"outage_id": id, "service": "epost"}),
        );
    }
}

const BUDGET: [Kind; 3] = [
    Kind::AvailabilityBudget50,
    Kind::AvailabilityBudget75,
    Kind::AvailabilityBurnRate,
];

#[test]
fn budget_shares_are_crossed_at_the_exact_second() {
    // January: 31 days × 86,400 s = 2,678,400 s; 0.5% of it, 13,392 s,
    // is allowed: 50% is 6,696 s, 75% is 10,044 s. Outages of 500 s two
    // hours apart stay below the fast burn (24 × 558 s >= 13,392 s).
    let mut h = History::new(json!({}));
    for i in 0..30 {
        let start = t("2026-01-02T00:00:00Z") + i * 7200;
        let id = format!("o{i}");
        let (s, e) = (
            schemas::format_instant(start),
            schemas::format_instant(start + 500),
        );
        outage(&mut h, &id, &s, Some(&e));
    }
    // 6,696 s = 13 outages (6,500 s) + 196 s of the 14th (starts 26 h in).
    let half = schemas::format_instant(t("2026-01-02T00:00:00Z") + 13 * 7200 + 196);
    let before = schemas::format_instant(t(&half) - 1);
    h.check(&before, &BUDGET, &[]);
    h.check(&half, &BUDGET, &[("availability_budget_50", &half, None)]);
    // 10,044 s = 20 outages (10,000 s) + 44 s of the 21st.
    let three = schemas::format_instant(t("2026-01-02T00:00:00Z") + 20 * 7200 + 44);
    h.check(
        &three,
        &BUDGET,
        &[
            ("availability_budget_50", &half, None),
            ("availability_budget_75", &three, None),
        ],
    );
    // Both end with the period.
    h.check(
        "2026-02-01T00:00:00Z",
        &BUDGET,
        &[
            (
                "availability_budget_50",
                &half,
                Some("2026-02-01T00:00:00Z"),
            ),
            (
                "availability_budget_75",
                &three,
                Some("2026-02-01T00:00:00Z"),
            ),
        ],
    );
}

#[test]
fn a_fast_burn_fires_when_the_last_hour_would_use_the_budget_in_a_day() {
    // 13,392 s allowed in January; 24 × w >= 13,392 at w = 558 s.
    let mut h = History::new(json!({}));
    outage(
        &mut h,
        "o1",
        "2026-01-10T12:00:00Z",
        Some("2026-01-10T12:20:00Z"),
    );
    h.check("2026-01-10T12:09:17Z", &BUDGET, &[]);
    h.check(
        "2026-01-10T12:09:18Z",
        &BUDGET,
        &[("availability_burn_rate", "2026-01-10T12:09:18Z", None)],
    );
    // The hour [t-1h, t) holds 1,200 s until 13:00, then loses a second a
    // second: below 558 s once 643 s are gone, at 13:10:43.
    h.check(
        "2026-01-10T13:10:42Z",
        &BUDGET,
        &[("availability_burn_rate", "2026-01-10T12:09:18Z", None)],
    );
    h.check(
        "2026-01-10T13:10:43Z",
        &BUDGET,
        &[(
            "availability_burn_rate",
            "2026-01-10T12:09:18Z",
            Some("2026-01-10T13:10:43Z"),
        )],
    );
}

#[test]
fn an_open_outage_burns_until_now() {
    let mut h = History::new(json!({}));
    outage(&mut h, "o1", "2026-01-10T12:00:00Z", None);
    h.check(
        "2026-01-10T12:09:18Z",
        &[Kind::AvailabilityBurnRate],
        &[("availability_burn_rate", "2026-01-10T12:09:18Z", None)],
    );
    // 50% of 13,392 s is 6,696 s: 1 h 51 min 36 s.
    h.check("2026-01-10T13:51:35Z", &[Kind::AvailabilityBudget50], &[]);
    h.check(
        "2026-01-10T13:51:36Z",
        &[Kind::AvailabilityBudget50],
        &[("availability_budget_50", "2026-01-10T13:51:36Z", None)],
    );
}

fn schedule(h: &mut History, time: &str, start: &str, end: &str) {
    h.add(
        "maintenance.scheduled",
        time,
        json!({"window_id": "W1", "service": "epost", "start": start, "end": end}),
    );
}

#[test]
fn maintenance_with_too_little_notice_is_warned_when_scheduled() {
    let kinds = [Kind::MaintenanceShortNotice];
    // 48 hours' notice: exactly 48 h is enough.
    let mut h = History::new(json!({}));
    schedule(
        &mut h,
        "2026-01-10T12:00:00Z",
        "2026-01-12T12:00:00Z",
        "2026-01-12T14:00:00Z",
    );
    h.check("2026-01-13T00:00:00Z", &kinds, &[]);
    let mut h = History::new(json!({}));
    schedule(
        &mut h,
        "2026-01-10T12:00:01Z",
        "2026-01-12T12:00:00Z",
        "2026-01-12T14:00:00Z",
    );
    h.check("2026-01-10T12:00:00Z", &kinds, &[]);
    h.check(
        "2026-01-10T12:00:01Z",
        &kinds,
        &[("maintenance_short_notice", "2026-01-10T12:00:01Z", None)],
    );
    h.check(
        "2026-01-12T14:00:00Z",
        &kinds,
        &[(
            "maintenance_short_notice",
            "2026-01-10T12:00:01Z",
            Some("2026-01-12T14:00:00Z"),
        )],
    );
}

fn governance() -> Value {
    json!({"governance": {"operations_meeting_every_months": 2,
        "steering_meeting_every_months": 1, "minutes_due_days": 14}})
}

#[test]
fn a_meeting_window_ending_within_14_days_without_a_meeting_is_warned() {
    let kinds = [Kind::OperationsMeetingDue, Kind::SteeringMeetingDue];
    let mut h = History::new(governance());
    // Steering every month: January's window ends 2026-02-01, warned 14
    // days before, at 2026-01-18T00:00:00Z. The operations window of
    // January would start in December, before the agreement: not evaluated.
    h.check("2026-01-17T23:59:59Z", &kinds, &[]);
    h.check(
        "2026-01-18T00:00:00Z",
        &kinds,
        &[("steering_meeting_due", "2026-01-18T00:00:00Z", None)],
    );
    // A steering meeting held ends it.
    h.add(
        "meeting.held",
        "2026-01-20T10:00:00Z",
        json!({"meeting_id": "S1", "kind": "steering"}),
    );
    h.check(
        "2026-01-20T10:00:00Z",
        &kinds,
        &[(
            "steering_meeting_due",
            "2026-01-18T00:00:00Z",
            Some("2026-01-20T10:00:00Z"),
        )],
    );
    // A meeting held exactly at the warning instant prevents it: February's
    // steering warning (2026-02-15) and the operations one of the window
    // January-February.
    h.add(
        "meeting.held",
        "2026-02-15T00:00:00Z",
        json!({"meeting_id": "S2", "kind": "steering"}),
    );
    h.check(
        "2026-02-15T00:00:00Z",
        &kinds,
        &[
            (
                "steering_meeting_due",
                "2026-01-18T00:00:00Z",
                Some("2026-01-20T10:00:00Z"),
            ),
            ("operations_meeting_due", "2026-02-15T00:00:00Z", None),
        ],
    );
}

#[test]
fn minutes_due_within_two_days_and_not_filed_are_warned() {
    let kinds = [Kind::MinutesDue];
    let mut h = History::new(governance());
    h.add(
        "meeting.held",
        "2026-01-05T10:00:00Z",
        json!({"meeting_id": "M1", "kind": "operations"}),
    );
    // Due 14 days later, 2026-01-19T10:00:00Z; warned 2 days before.
    h.check("2026-01-17T09:59:59Z", &kinds, &[]);
    h.check(
        "2026-01-17T10:00:00Z",
        &kinds,
        &[("minutes_due", "2026-01-17T10:00:00Z", None)],
    );
    h.check(
        "2026-01-19T10:00:00Z",
        &kinds,
        &[(
            "minutes_due",
            "2026-01-17T10:00:00Z",
            Some("2026-01-19T10:00:00Z"),
        )],
    );
    // Filed exactly at the warning instant: no warning.
    let mut h = History::new(governance());
    h.add(
        "meeting.held",
        "2026-01-05T10:00:00Z",
        json!({"meeting_id": "M1", "kind": "operations"}),
    );
    h.add(
        "minutes.filed",
        "2026-01-17T10:00:00Z",
        json!({"meeting_id": "M1", "digest": "ab".repeat(32)}),
    );
    h.check("2026-01-20T00:00:00Z", &kinds, &[]);
}

#[test]
fn a_vacant_role_is_warned_at_once_and_again_after_a_day() {
    let kinds = [Kind::ContactVacant, Kind::ContactVacant24h];
    let mut h = History::new(json!({"contacts": {"required_roles": ["tenant_contact"],
        "per_service_roles": ["provider_service_owner"]}}));
    let assign = |h: &mut History, time: &str, role: &str, service: Option<&str>, who: &str| {
        let mut data = json!({"role": role, "person": who,
                   "email": format!("{}@example.no", who.to_lowercase())});
        if let Some(s) = service {
            data["service"] = json!(s);
        }
        h.add("contact.assigned", time, data);
    };
    assign(&mut h, AGREEMENT_TIME, "tenant_contact", None, "Kari");
    assign(
        &mut h,
        AGREEMENT_TIME,
        "provider_service_owner",
        Some("epost"),
        "Ola",
    );
    h.add(
        "contact.vacated",
        "2026-01-10T08:00:00Z",
        json!({"role": "tenant_contact"}),
    );
    h.check("2026-01-10T07:59:59Z", &kinds, &[]);
    let vacant = ("contact_vacant", "2026-01-10T08:00:00Z", None);
    h.check("2026-01-10T08:00:00Z", &kinds, &[vacant]);
    h.check("2026-01-11T07:59:59Z", &kinds, &[vacant]);
    let day = ("contact_vacant_24h", "2026-01-11T08:00:00Z", None);
    h.check("2026-01-11T08:00:00Z", &kinds, &[vacant, day]);
    assign(
        &mut h,
        "2026-01-12T09:00:00Z",
        "tenant_contact",
        None,
        "Per",
    );
    let end = Some("2026-01-12T09:00:00Z");
    h.check(
        "2026-01-12T09:00:00Z",
        &kinds,
        &[(vacant.0, vacant.1, end), (day.0, day.1, end)],
    );
    // The vacancy alert names who is responsible at its instant: the
    // service owner is per service, so a tenant-wide alert names only the
    // tenant's and the provider's tenant-wide roles (nobody holds either).
    let alerts = h.at("2026-01-12T09:00:00Z");
    let vacancy = alerts
        .iter()
        .find(|a| a.kind == Kind::ContactVacant)
        .unwrap();
    assert_eq!(vacancy.role.as_deref(), Some("tenant_contact"));
    assert!(vacancy.contacts.is_empty(), "{:?}", vacancy.contacts);
}

#[test]
fn a_breach_names_the_service_owner_the_tenant_contact_and_the_account_owner() {
    let mut h = History::new(json!({"contacts": {
        "required_roles": ["provider_account_owner", "tenant_contact"],
        "per_service_roles": ["provider_service_owner"]}}));
    for (role, service, who) in [
        ("provider_account_owner", None, "anne"),
        ("tenant_contact", None, "kari"),
        ("provider_service_owner", Some("epost"), "ola"),
    ] {
        let mut data = json!({"role": role, "person": who,
                   "email": format!("{who}@example.no"), "phone": "+47 555 00 000"});
        if let Some(s) = service {
            data["service"] = json!(s);
        }
        h.add("contact.assigned", AGREEMENT_TIME, data);
    }
    opened(&mut h, "2026-01-05T10:00:00Z");
    // The service owner changes after the warning, before the breach.
    h.add(
        "contact.assigned",
        "2026-01-05T10:25:00Z",
        json!({"role": "provider_service_owner", "service": "epost", "person": "per",
               "email": "per@example.no"}),
    );
    let alerts = h.at("2026-01-05T10:30:00Z");
    let emails = |kind: Kind| -> Vec<String> {
        let alert = alerts.iter().find(|a| a.kind == kind).unwrap();
        alert
            .contacts
            .iter()
            .filter_map(|c| c.email.clone())
            .collect()
    };
    assert_eq!(
        emails(Kind::ResponseWarning),
        ["ola@example.no", "kari@example.no"]
    );
    assert_eq!(
        emails(Kind::ResponseBreach),
        ["anne@example.no", "per@example.no", "kari@example.no"]
    );
    let breach = alerts
        .iter()
        .find(|a| a.kind == Kind::ResponseBreach)
        .unwrap();
    assert_eq!(
        breach.id,
        "alver/INC-1/response_breach/2026-01-05T10:30:00Z"
    );
    assert_eq!(breach.severity, Severity::Critical);
    assert_eq!(
        summary(breach, projector::render::Lang::Nn),
        "alver: hending INC-1 (epost, P1) har broten responstida"
    );
    // Derived again later, the same alert has the same id.
    let again = h.at("2026-01-05T11:00:00Z");
    assert!(again.iter().any(|a| a.id == breach.id));
}
