//! `acknowledgement::receipt`: the last acknowledgement naming a report's
//! digest, and the ones of the same period that name an older issue or a
//! digest never issued, whatever order the ledger holds them in.

mod common;

use common::{instant, ledger, TENANT};
use projector::acknowledgement::{acknowledgements, receipt, Standing};
use serde_json::{json, Value};

fn digest(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn issued(time: &str, period: &str, d: &str) -> Value {
    json!({"time": time, "type": "report.issued",
           "data": {"period": period, "ledger_size": 3, "report_digest": d}})
}

fn ack(time: &str, period: &str, d: &str, person: &str, comment: Option<&str>) -> Value {
    let mut data = json!({"period": period, "report_digest": d, "person": person});
    if let Some(c) = comment {
        data["comment"] = json!(c);
    }
    json!({"time": time, "type": "report.acknowledged", "data": data})
}

#[test]
fn the_last_acknowledgement_of_the_digest_is_the_current_one() {
    let (old, new) = (digest('a'), digest('b'));
    let events = ledger(
        &[
            issued("2026-11-02T08:00:00Z", "2026-10", &old),
            ack("2026-11-03T09:00:00Z", "2026-10", &old, "Kari", None),
            issued("2026-11-10T08:00:00Z", "2026-10", &new),
            // Written later in the ledger but earlier in time: ordered by time.
            ack(
                "2026-11-12T10:00:00Z",
                "2026-10",
                &new,
                "Ola",
                Some("Sett."),
            ),
            ack("2026-11-11T10:00:00Z", "2026-10", &new, "Per", None),
            ack(
                "2026-11-12T10:00:00Z",
                "2026-09",
                &new,
                "Other period",
                None,
            ),
            ack(
                "2026-11-13T10:00:00Z",
                "2026-10",
                &digest('c'),
                "Nobody issued",
                None,
            ),
        ],
        TENANT,
    );
    let r = receipt(TENANT, "2026-10", &new, &events);
    let current = r.current.as_ref().expect("acknowledged");
    assert_eq!(current.person, "Ola");
    assert_eq!(current.comment.as_deref(), Some("Sett."));
    assert_eq!(current.time, instant("2026-11-12T10:00:00Z"));
    assert_eq!(current.position, 3);
    let others: Vec<(&str, Standing)> = r
        .others
        .iter()
        .map(|(a, s)| (a.person.as_str(), *s))
        .collect();
    assert_eq!(
        others,
        [
            ("Kari", Standing::Superseded),
            ("Nobody issued", Standing::NotIssued)
        ]
    );
    assert!(!r.only_older());
    assert_eq!(acknowledgements(TENANT, "2026-09", &events).len(), 1);
    assert_eq!(acknowledgements("other", "2026-10", &events).len(), 0);
}

#[test]
fn an_acknowledgement_of_an_older_issue_only_is_said_to_be_so() {
    let (old, new) = (digest('a'), digest('b'));
    let events = ledger(
        &[
            issued("2026-11-02T08:00:00Z", "2026-10", &old),
            ack("2026-11-03T09:00:00Z", "2026-10", &old, "Kari", None),
            issued("2026-11-10T08:00:00Z", "2026-10", &new),
        ],
        TENANT,
    );
    let r = receipt(TENANT, "2026-10", &new, &events);
    assert_eq!(r.current, None);
    assert!(r.only_older());
    assert_eq!(r.others[0].1, Standing::Superseded);
    // The older report itself is acknowledged.
    let r = receipt(TENANT, "2026-10", &old, &events);
    assert_eq!(r.current.map(|a| a.person), Some("Kari".to_string()));
    assert!(r.others.is_empty());
}

#[test]
fn a_report_nobody_acknowledged_has_an_empty_receipt() {
    let events = ledger(
        &[issued("2026-11-02T08:00:00Z", "2026-10", &digest('a'))],
        TENANT,
    );
    let r = receipt(TENANT, "2026-10", &digest('a'), &events);
    assert_eq!(r, Default::default());
    assert!(!r.only_older());
}
