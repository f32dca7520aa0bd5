//! Agreements authored as TOML and JSON (vectors/agreement_*.{toml,json}):
//! both spellings of SEMANTICS.md section 4's example give the same value
//! and the same typed `Agreement`, defaults are filled in, and
//! `published_event` yields a valid `agreement.published` event.

use std::path::PathBuf;

use chrono::{NaiveDate, Weekday};
use schemas::agreement::{self, Holidays, TargetPct, CALENDAR_24X7};
use schemas::{Event, EventData, Party, Priority};

fn vector(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn example_as_toml_and_json_agree() {
    let json = agreement::from_json_str(&vector("agreement_example.json")).expect("JSON parses");
    let toml = agreement::from_toml_str(&vector("agreement_example.toml")).expect("TOML parses");
    assert_eq!(toml, json);
    let a = agreement::from_json_value(&json).expect("valid");
    assert_eq!(agreement::from_json_value(&toml).expect("valid"), a);

    assert_eq!(a.version, "2026-1");
    assert_eq!(a.effective_from, 1_767_222_000); // 2025-12-31T23:00:00Z
    assert_eq!(a.timezone, chrono_tz::Europe::Oslo);
    let office = a.calendar("office").expect("office");
    assert_eq!(
        office.days,
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri
        ]
    );
    assert_eq!((office.from, office.to), (7 * 60 + 30, 16 * 60));
    assert_eq!(office.holidays, Holidays::Norway);
    assert_eq!(
        office.closed_dates,
        [NaiveDate::from_ymd_opt(2026, 12, 24).expect("date")]
    );

    let epost = a.service("epost").expect("epost");
    assert_eq!(epost.name, "E-post");
    assert_eq!(epost.maintenance_notice_hours, 120);
    let availability = epost.availability.as_ref().expect("availability");
    assert_eq!(
        (availability.target_pct, availability.calendar.as_str()),
        (TargetPct(99_500), CALENDAR_24X7)
    );
    let incidents = epost.incidents.as_ref().expect("incidents");
    assert_eq!(incidents.targets.len(), 4);
    let p1 = &incidents.targets[&Priority::P1];
    assert_eq!((p1.response_min, p1.resolution_min), (30, 240));
    assert_eq!(incidents.calendar_for(Priority::P1), CALENDAR_24X7);
    assert_eq!(incidents.calendar_for(Priority::P3), "office");

    let governance = a.governance.as_ref().expect("governance");
    assert_eq!(governance.operations_meeting_every_months, Some(2));
    assert_eq!(governance.steering_meeting_every_months, Some(1));
    assert_eq!(governance.minutes_due_days, Some(14));
    let contacts = a.contacts.as_ref().expect("contacts");
    assert_eq!(
        contacts.required_roles,
        ["provider_account_owner", "tenant_contact"]
    );
    assert_eq!(contacts.per_service_roles, ["provider_service_owner"]);
}

#[test]
fn defaults_are_filled_in() {
    let v = agreement::from_toml_str(&vector("agreement_minimal.toml")).expect("TOML parses");
    let a = agreement::from_json_value(&v).expect("valid");
    assert_eq!(a.timezone, chrono_tz::Europe::Oslo);
    assert!(a.calendars.is_empty());
    assert_eq!((a.governance.as_ref(), a.contacts.as_ref()), (None, None));
    let sak = &a.services[0];
    assert_eq!(sak.maintenance_notice_hours, 0);
    assert_eq!(sak.incidents, None);
    let availability = sak.availability.as_ref().expect("availability");
    assert_eq!(
        (availability.target_pct, availability.calendar.as_str()),
        (TargetPct::FULL, CALENDAR_24X7)
    );
}

#[test]
fn published_event_is_a_valid_event() {
    let v = agreement::from_toml_str(&vector("agreement_example.toml")).expect("TOML parses");
    let expected = agreement::from_json_value(&v).expect("valid");
    let cloud_event = agreement::published_event(
        &v,
        "alver",
        "tla/cli",
        "agreement-2026-1",
        "2026-01-02T08:00:00+01:00",
    );
    let event = Event::from_json(&cloud_event).expect("valid event");
    assert_eq!(event.type_name(), "agreement.published");
    assert_eq!(event.tenant, "alver");
    assert_eq!(
        event.data,
        EventData::AgreementPublished(Box::new(expected))
    );
}

#[test]
fn authoring_errors_name_place() {
    for (toml, path, message) in [
        ("version = \"1\"\nversion = \"2\"\n", "", "line 2"),
        ("version = \n", "", "line 1, column"),
        (
            "[x]\ntarget_pct = 99.5\n",
            "x.target_pct",
            "write decimals as strings",
        ),
    ] {
        let errors = agreement::from_toml_str(toml).expect_err(toml);
        assert!(
            errors
                .iter()
                .any(|e| e.path == path && e.message.contains(message)),
            "{toml}: {errors:#?}"
        );
    }
    // A TOML local date-time has no offset: refused by validation.
    let v = agreement::from_toml_str(
        &vector("agreement_minimal.toml")
            .replace("\"2026-01-01T00:00:00Z\"", "2026-01-01T00:00:00"),
    )
    .expect("TOML parses");
    let errors = agreement::from_json_value(&v).expect_err("no offset");
    assert_eq!(errors[0].path, "effective_from");
    assert!(
        errors[0].message.contains("missing UTC offset"),
        "{errors:#?}"
    );

    let errors = agreement::from_json_str("{\"version\": \"1\", \"version\": \"2\"}")
        .expect_err("duplicate");
    assert_eq!(errors[0].path, "version");
    let errors = agreement::from_json_str("{\n\"version\": }").expect_err("syntax");
    assert!(
        errors[0].message.contains("line 2, column 12"),
        "{errors:#?}"
    );
}

#[test]
fn all_problems_of_an_agreement_are_reported() {
    let mut v = agreement::from_json_str(&vector("agreement_example.json")).expect("JSON parses");
    v["timezone"] = "Mars/Olympus".into();
    v["services"][0]["availability"]["target_pct"] = "0".into();
    v["services"][0]["incidents"]["targets"]["P4"]["resolution_min"] = (-5).into();
    v["contacts"]["per_service_roles"] = serde_json::json!(["owner", "owner"]);
    let errors = agreement::from_json_value(&v).expect_err("invalid");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "timezone",
            "services[0].availability.target_pct",
            "services[0].incidents.targets.P4.resolution_min",
            "contacts.per_service_roles[1]",
        ],
        "{errors:#?}"
    );
}

#[test]
fn parties_default_by_the_seed_and_can_be_set() {
    let v = agreement::from_json_str(&vector("agreement_example.json")).expect("JSON parses");
    let a = agreement::from_json_value(&v).expect("valid");
    let g = a.governance.as_ref().expect("governance");
    assert_eq!(
        (
            g.operations_party,
            g.steering_party,
            g.operations_minutes_party,
            g.steering_minutes_party
        ),
        (
            Party::Provider,
            Party::Tenant,
            Party::Provider,
            Party::Tenant
        )
    );
    assert!(a.contacts.as_ref().expect("contacts").parties.is_empty());
    assert!(!a.requires_approval);

    let mut v = v;
    v["governance"]["steering_party"] = "provider".into();
    v["governance"]["operations_minutes_party"] = "tenant".into();
    v["contacts"]["parties"] = serde_json::json!({"it_coordinator": "tenant"});
    v["requires_approval"] = true.into();
    let a = agreement::from_json_value(&v).expect("valid");
    let g = a.governance.as_ref().expect("governance");
    assert_eq!(
        (g.steering_party, g.operations_minutes_party),
        (Party::Provider, Party::Tenant)
    );
    let parties = &a.contacts.as_ref().expect("contacts").parties;
    assert_eq!(parties.get("it_coordinator"), Some(&Party::Tenant));
    assert!(a.requires_approval);
}

#[test]
fn party_fields_must_name_a_party() {
    let mut v = agreement::from_json_str(&vector("agreement_example.json")).expect("JSON parses");
    v["governance"]["operations_party"] = "both".into();
    v["governance"]["steering_minutes_party"] = 1.into();
    v["contacts"]["parties"] = serde_json::json!({"Bad Role": "tenant", "ok_role": "auditor"});
    v["requires_approval"] = "yes".into();
    let errors = agreement::from_json_value(&v).expect_err("invalid");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "governance.operations_party",
            "governance.steering_minutes_party",
            "contacts.parties.Bad Role",
            "contacts.parties.ok_role",
            "requires_approval",
        ],
        "{errors:#?}"
    );
}
