//! The `data` of each event type (SEMANTICS.md section 3): which fields it
//! has, what each must look like, and nothing else (unknown fields are
//! refused, so a misspelt optional field never passes silently).

use serde_json::Value;

use crate::event::{EventData, EventType, Impact, MeetingKind, Party, Priority};
use crate::rules::{self, Fields};
use crate::{agreement, FieldError};

/// Reads `data` of an event of type `t`, pushing every problem.
pub(crate) fn read(t: EventType, data: &Value, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let obj = rules::object(data, "data", errors)?;
    let mut f = Fields::new(obj, "data");
    let typed = read_fields(t, &mut f, errors);
    f.reject_unknown(&format!("{} data", t.as_str()), errors);
    typed
}

fn read_fields(
    t: EventType,
    f: &mut Fields<'_>,
    errors: &mut Vec<FieldError>,
) -> Option<EventData> {
    use EventType as T;
    match t {
        T::AgreementPublished => {
            let v = f.required_value("agreement", errors)?;
            let a = agreement::validate(v, "data.agreement", errors)?;
            Some(EventData::AgreementPublished(Box::new(a)))
        }
        T::OutageStarted | T::OutageEnded => outage(t, f, errors),
        T::MaintenanceScheduled => maintenance_scheduled(f, errors),
        T::MaintenanceCancelled => {
            let service = f.req("service", rules::service, errors);
            let window_id = f.req("window_id", rules::id, errors);
            Some(EventData::MaintenanceCancelled {
                service: service?,
                window_id: window_id?,
            })
        }
        T::IncidentOpened
        | T::IncidentResponded
        | T::IncidentOnHold
        | T::IncidentResumed
        | T::IncidentPriorityChanged
        | T::IncidentResolved
        | T::IncidentReopened => incident(t, f, errors),
        T::MeetingHeld | T::MinutesFiled => meeting(t, f, errors),
        T::ContactAssigned | T::ContactVacated => contact(t, f, errors),
        T::ReportIssued => report_issued(f, errors),
        T::DeviationExplained => {
            let deviation_id = f.req("deviation_id", rules::deviation_id, errors);
            let cause = f.req("cause", rules::text, errors);
            let action_id = f.opt("action_id", rules::service, errors);
            Some(EventData::DeviationExplained {
                deviation_id: deviation_id?,
                cause: cause?,
                action_id: action_id?,
            })
        }
        T::ActionOpened => action_opened(f, errors),
        T::ActionClosed => {
            let action_id = f.req("action_id", rules::service, errors);
            let outcome = f.req("outcome", rules::text, errors);
            Some(EventData::ActionClosed {
                action_id: action_id?,
                outcome: outcome?,
            })
        }
        T::ReportAcknowledged => {
            let period = f.req("period", rules::period, errors);
            let report_digest = f.req("report_digest", rules::digest, errors);
            let person = f.req("person", rules::text, errors);
            let comment = f.opt("comment", rules::text, errors);
            Some(EventData::ReportAcknowledged {
                period: period?,
                report_digest: report_digest?,
                person: person?,
                comment: comment?,
            })
        }
        T::AgreementApproved => {
            let version = f.req("version", agreement::version, errors);
            let party = f.req("party", party, errors);
            let person = f.req("person", rules::text, errors);
            Some(EventData::AgreementApproved {
                version: version?,
                party: party?,
                person: person?,
            })
        }
    }
}

fn outage(t: EventType, f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let service = f.req("service", rules::service, errors);
    let outage_id = f.req("outage_id", rules::id, errors);
    if t == EventType::OutageEnded {
        return Some(EventData::OutageEnded {
            service: service?,
            outage_id: outage_id?,
        });
    }
    let impact = f.req("impact", impact, errors);
    Some(EventData::OutageStarted {
        service: service?,
        outage_id: outage_id?,
        impact: impact?,
    })
}

/// The seven incident types: `incident_id` first, then their own fields.
fn incident(t: EventType, f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    use EventType as T;
    let incident_id = f.req("incident_id", rules::id, errors);
    match t {
        T::IncidentOpened => {
            let service = f.req("service", rules::service, errors);
            let priority = f.req("priority", priority, errors);
            Some(EventData::IncidentOpened {
                incident_id: incident_id?,
                service: service?,
                priority: priority?,
            })
        }
        T::IncidentOnHold => {
            let reason = f.req("reason", rules::reason, errors);
            Some(EventData::IncidentOnHold {
                incident_id: incident_id?,
                reason: reason?,
            })
        }
        T::IncidentPriorityChanged => {
            let priority = f.req("priority", priority, errors);
            Some(EventData::IncidentPriorityChanged {
                incident_id: incident_id?,
                priority: priority?,
            })
        }
        T::IncidentResponded => Some(EventData::IncidentResponded {
            incident_id: incident_id?,
        }),
        T::IncidentResumed => Some(EventData::IncidentResumed {
            incident_id: incident_id?,
        }),
        T::IncidentResolved => Some(EventData::IncidentResolved {
            incident_id: incident_id?,
        }),
        T::IncidentReopened => Some(EventData::IncidentReopened {
            incident_id: incident_id?,
        }),
        _ => unreachable!("incident() is called for incident types only, not {t}"),
    }
}

fn meeting(t: EventType, f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let meeting_id = f.req("meeting_id", rules::id, errors);
    if t == EventType::MeetingHeld {
        let kind = f.req("kind", meeting_kind, errors);
        return Some(EventData::MeetingHeld {
            meeting_id: meeting_id?,
            kind: kind?,
        });
    }
    let digest = f.req("digest", rules::digest, errors);
    Some(EventData::MinutesFiled {
        meeting_id: meeting_id?,
        digest: digest?,
    })
}

fn contact(t: EventType, f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let role = f.req("role", rules::role, errors);
    let service = f.opt("service", rules::service, errors);
    if t == EventType::ContactVacated {
        return Some(EventData::ContactVacated {
            role: role?,
            service: service?,
        });
    }
    let person = f.req("person", rules::person, errors);
    let email = f.opt("email", rules::email, errors);
    let phone = f.opt("phone", rules::phone, errors);
    Some(EventData::ContactAssigned {
        role: role?,
        service: service?,
        person: person?,
        email: email?,
        phone: phone?,
    })
}

fn action_opened(f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let action_id = f.req("action_id", rules::service, errors);
    let title = f.req("title", rules::text, errors);
    let owner = f.req("owner", rules::text, errors);
    let due = f.req("due", rules::instant, errors);
    let deviation_ids = f.req("deviation_ids", deviation_ids, errors);
    Some(EventData::ActionOpened {
        action_id: action_id?,
        title: title?,
        owner: owner?,
        due: due?,
        deviation_ids: deviation_ids?,
    })
}

/// An array of deviation ids (may be empty), each checked at its index.
fn deviation_ids(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let items = rules::array(v, path, errors)?;
    let mut ids = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match rules::deviation_id(item, &rules::index(path, i), errors) {
            Some(id) => ids.push(id),
            None => ok = false,
        }
    }
    ok.then_some(ids)
}

/// `provider` or `tenant`.
pub(crate) fn party(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Party> {
    let choices = Party::ALL.map(|p| (p.as_str(), p));
    rules::one_of(v, path, &choices, errors)
}

fn maintenance_scheduled(f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let service = f.req("service", rules::service, errors);
    let window_id = f.req("window_id", rules::id, errors);
    let start = f.req("start", rules::instant, errors);
    let end = f.req("end", rules::instant, errors);
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            errors.push(FieldError::new(
                "data.end",
                "must be after start (a maintenance window has end > start)",
            ));
            return None;
        }
    }
    Some(EventData::MaintenanceScheduled {
        service: service?,
        window_id: window_id?,
        start: start?,
        end: end?,
    })
}

fn report_issued(f: &mut Fields<'_>, errors: &mut Vec<FieldError>) -> Option<EventData> {
    let period = f.req("period", rules::period, errors);
    let ledger_size = f.req("ledger_size", rules::count, errors);
    let report_digest = f.req("report_digest", rules::digest, errors);
    // `as_of` (the prefix size asked for) may accompany the report; it is
    // checked here and kept in the canonical bytes.
    let as_of = f.opt("as_of", rules::count, errors);
    // The Merkle root of the prefix the report was made from: the root of
    // the checkpoint it was issued against (absent in older events).
    let tree_root = f.opt("tree_root", rules::digest, errors);
    as_of?;
    Some(EventData::ReportIssued {
        period: period?,
        ledger_size: ledger_size?,
        report_digest: report_digest?,
        tree_root: tree_root?,
    })
}

pub(crate) fn priority(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Priority> {
    let choices = Priority::ALL.map(|p| (p.as_str(), p));
    rules::one_of(v, path, &choices, errors)
}

fn impact(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Impact> {
    rules::one_of(
        v,
        path,
        &[("full", Impact::Full), ("partial", Impact::Partial)],
        errors,
    )
}

fn meeting_kind(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<MeetingKind> {
    rules::one_of(
        v,
        path,
        &[
            ("operations", MeetingKind::Operations),
            ("steering", MeetingKind::Steering),
        ],
        errors,
    )
}
