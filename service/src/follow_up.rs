//! The follow-up of deviations and the receipt of reports as the commands
//! record them (`tla deviation explain`, `tla action open|close`, `tla
//! report acknowledge`): their events (SEMANTICS.md section 12) with ids
//! derived from their content, so that running a command again is
//! recognised as the same fact, and what the ledger must already hold for
//! the fact to make sense (docs/SEMANTICS-NOTES.md, "Recording the
//! follow-up"): the deviation an explanation names, in a report of some
//! period; the action a close names, open; the issued report an
//! acknowledgement names.
//!
//! The same facts may arrive over HTTP or NATS like any other event; the
//! service path checks only their form (the engine shows an explanation
//! only where its deviation is), these checks are the commands' own.

use std::collections::BTreeMap;

use anyhow::bail;
use ledger::{Ledger, Outcome};
use projector::{Deviation, Input, LedgerEvent, Period};
use schemas::{Event, EventData};

use crate::report::{parse_instant, tenant_events, ISSUER_SOURCE};

/// The `source` of the explanations and actions the commands record.
pub const FOLLOW_UP_SOURCE: &str = "tla/follow-up";

/// The `source` of the acknowledgements `tla report acknowledge` records.
pub const ACKNOWLEDGEMENT_SOURCE: &str = "tla/acknowledgements";

/// Periods searched for a deviation id, from the month of the tenant's
/// first event: twenty years of monthly reports bounds the work of one
/// command (each period is one report) far beyond any agreement's life.
pub const DEVIATION_PERIODS_MAX: i32 = 240;

/// A deviation some report of the tenant shows, where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDeviation {
    /// The first period whose report shows it.
    pub period: String,
    /// Its kind, instant and subject, for people ("availability_below_target
    /// of epost at 2026-01-31T23:00:00Z").
    pub description: String,
}

/// Every deviation id the tenant's reports show, over the periods from its
/// first event's month to the current one (ended periods as issued, the
/// current one as its preliminary report at `now`), each with the first
/// period that shows it.
pub fn known_deviations(
    tenant: &str,
    events: &[LedgerEvent],
    now: i64,
) -> BTreeMap<String, KnownDeviation> {
    let mut known = BTreeMap::new();
    let Some(first) = events.iter().map(|e| e.event.time).min() else {
        return known;
    };
    // UTC months, one wider on each side: every period of any time zone
    // that holds an event (or now) is among them.
    let (Some(first), Some(last)) = (utc_period(first), utc_period(now)) else {
        return known;
    };
    let last = last.plus_months(1);
    let mut period = first.plus_months(-1);
    for _ in 0..DEVIATION_PERIODS_MAX {
        if period > last {
            break;
        }
        for deviation in deviations_of(tenant, period, events, now) {
            known
                .entry(deviation.id())
                .or_insert_with(|| KnownDeviation {
                    period: period.to_string(),
                    description: describe(&deviation),
                });
        }
        period = period.plus_months(1);
    }
    known
}

/// The UTC calendar month of an instant (unix seconds).
fn utc_period(t: i64) -> Option<Period> {
    use chrono::Datelike as _;
    let date = chrono::DateTime::from_timestamp(t, 0)?.date_naive();
    Period::new(date.year(), date.month())
}

/// The deviations of one period's report: as issued once it ended, as its
/// preliminary report at `now` before; none when no agreement is in force.
fn deviations_of(tenant: &str, period: Period, events: &[LedgerEvent], now: i64) -> Vec<Deviation> {
    let compute = |horizon| {
        projector::compute(&Input {
            tenant,
            period,
            events,
            horizon,
        })
    };
    let Ok(ended) = compute(None) else {
        return Vec::new();
    };
    match parse_instant(&ended.period_end) {
        Ok(end) if now < end => compute(Some(now)).map_or_else(|_| Vec::new(), |r| r.deviations),
        _ => ended.deviations,
    }
}

/// A deviation's kind, subject and instant, as one phrase.
pub fn describe(deviation: &Deviation) -> String {
    let value = serde_json::to_value(deviation).unwrap_or_default();
    let subject: Vec<String> = ["service", "incident_id", "window_id", "meeting_id", "role"]
        .iter()
        .filter_map(|field| value[field].as_str().map(|v| format!("{field} {v}")))
        .collect();
    match subject.is_empty() {
        true => format!("{} at {}", deviation.kind(), deviation.at()),
        false => format!(
            "{} ({}) at {}",
            deviation.kind(),
            subject.join(", "),
            deviation.at()
        ),
    }
}

/// The first 16 hex digits of BLAKE3 over the parts, each ended by a NUL
/// (so that ("ab", "c") and ("a", "bc") differ): the content part of the
/// commands' event ids.
fn content_key(parts: &[&str]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let mut key = hasher.finalize().to_hex().to_string();
    key.truncate(16);
    key
}

/// One of the commands' events: validated like any other, or every
/// problem named.
fn event(
    tenant: &str,
    (source, id): (&str, &str),
    kind: &str,
    now_micros: i64,
    data: serde_json::Value,
) -> anyhow::Result<Event> {
    let value = serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": kind,
        "time": ledger::rfc3339(now_micros - now_micros.rem_euclid(1_000_000)),
        "tenant": tenant,
        "datacontenttype": "application/json",
        "data": data,
    });
    Event::from_json(&value).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the {kind} event is invalid: {}", listed.join("; "))
    })
}

/// The `deviation.explained` event of `deviation_id` with `cause` and
/// the corrective action `action_id`, if one is named.
pub fn explained_event(
    tenant: &str,
    deviation_id: &str,
    cause: &str,
    action_id: Option<&str>,
    now_micros: i64,
) -> anyhow::Result<Event> {
    let id = format!(
        "explain/{deviation_id}/{}",
        content_key(&[cause, action_id.unwrap_or("")])
    );
    let mut data = serde_json::json!({"deviation_id": deviation_id, "cause": cause});
    if let Some(action_id) = action_id {
        data["action_id"] = action_id.into();
    }
    let source_id = (FOLLOW_UP_SOURCE, id.as_str());
    event(tenant, source_id, "deviation.explained", now_micros, data)
}

/// What `tla action open` records.
pub struct NewAction<'a> {
    pub action_id: &'a str,
    pub title: &'a str,
    pub owner: &'a str,
    /// Unix seconds.
    pub due: i64,
    pub deviation_ids: &'a [String],
}

/// The `action.opened` event of an action.
pub fn opened_event(
    tenant: &str,
    action: &NewAction<'_>,
    now_micros: i64,
) -> anyhow::Result<Event> {
    let due = schemas::format_instant(action.due);
    let mut content = vec![action.title, action.owner, due.as_str()];
    content.extend(action.deviation_ids.iter().map(String::as_str));
    let id = format!(
        "action/{}/opened/{}",
        action.action_id,
        content_key(&content)
    );
    let data = serde_json::json!({
        "action_id": action.action_id,
        "title": action.title,
        "owner": action.owner,
        "due": due,
        "deviation_ids": action.deviation_ids,
    });
    let source_id = (FOLLOW_UP_SOURCE, id.as_str());
    event(tenant, source_id, "action.opened", now_micros, data)
}

/// The `action.closed` event of an action with its outcome.
pub fn closed_event(
    tenant: &str,
    action_id: &str,
    outcome: &str,
    now_micros: i64,
) -> anyhow::Result<Event> {
    let id = format!("action/{action_id}/closed/{}", content_key(&[outcome]));
    let data = serde_json::json!({"action_id": action_id, "outcome": outcome});
    let source_id = (FOLLOW_UP_SOURCE, id.as_str());
    event(tenant, source_id, "action.closed", now_micros, data)
}

/// Where an action stands in the ledger, by the engine's rule (SEMANTICS.md
/// section 12: events in (time, position) order; a second open of an id is
/// set aside, and so is a close of an id that is not open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionState {
    /// No accepted `action.opened` of the id.
    Unknown,
    /// Opened by the entry at this position, not closed.
    Open(u64),
    /// Opened, then closed by the entry at this position.
    Closed(u64),
}

/// Where `action_id` stands among the tenant's `events`.
pub fn action_state(events: &[LedgerEvent], action_id: &str) -> ActionState {
    let mut ours: Vec<&LedgerEvent> = events
        .iter()
        .filter(|e| match &e.event.data {
            EventData::ActionOpened { action_id: id, .. }
            | EventData::ActionClosed { action_id: id, .. } => id == action_id,
            _ => false,
        })
        .collect();
    ours.sort_by_key(|e| (e.event.time, e.position));
    let mut state = ActionState::Unknown;
    for e in ours {
        state = match (&e.event.data, state) {
            (EventData::ActionOpened { .. }, ActionState::Unknown) => ActionState::Open(e.position),
            (EventData::ActionClosed { .. }, ActionState::Open(_)) => {
                ActionState::Closed(e.position)
            }
            (_, state) => state,
        };
    }
    state
}

/// The issued report an acknowledgement names: the digest of the last
/// `report.issued` the ledger itself wrote for the period, and its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDigest {
    pub position: u64,
    pub digest: String,
}

/// The last issued digest of `period` among the tenant's `events`, and the
/// digests issued for it before (oldest first).
pub fn issued_digests(events: &[LedgerEvent], period: Period) -> Vec<IssuedDigest> {
    let wanted = period.to_string();
    events
        .iter()
        .filter(|e| e.event.source == ISSUER_SOURCE)
        .filter_map(|e| match &e.event.data {
            EventData::ReportIssued {
                period,
                report_digest,
                ..
            } if *period == wanted => Some(IssuedDigest {
                position: e.position,
                digest: report_digest.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The `report.acknowledged` event of `person` for the report of `period`
/// with `digest`.
pub fn acknowledged_event(
    tenant: &str,
    (period, digest): (Period, &str),
    person: &str,
    comment: Option<&str>,
    now_micros: i64,
) -> anyhow::Result<Event> {
    let id = format!(
        "ack/{period}/{}/{}",
        &digest[..digest.len().min(16)],
        content_key(&[person, comment.unwrap_or("")])
    );
    let mut data = serde_json::json!({
        "period": period.to_string(),
        "report_digest": digest,
        "person": person,
    });
    if let Some(comment) = comment {
        data["comment"] = comment.into();
    }
    let source_id = (ACKNOWLEDGEMENT_SOURCE, id.as_str());
    event(tenant, source_id, "report.acknowledged", now_micros, data)
}

/// What recording one fact did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Appended at this position.
    New(u64),
    /// The same fact (same source and id) was recorded before, at this
    /// position: nothing appended.
    Before(u64),
}

/// Appends `event` unless the ledger holds its (tenant, source, id)
/// already. The event's time is the moment of recording, so a rerun is
/// found by its id, not refused as a conflict of differing content.
pub fn record(ledger: &mut Ledger, event: Event, now_micros: i64) -> anyhow::Result<Recorded> {
    if let Some(position) = ledger.find(&event.tenant, &event.source, &event.id)? {
        return Ok(Recorded::Before(position));
    }
    match ledger.append(&[event], now_micros)?.first() {
        Some(Outcome::Appended(position)) => Ok(Recorded::New(*position)),
        Some(Outcome::Duplicate(position)) => Ok(Recorded::Before(*position)),
        None => bail!("the ledger appended nothing and said nothing of the event"),
    }
}

/// The tenant's events in the whole ledger, refusing a tenant the ledger
/// has never seen (a misspelt tenant would otherwise find nothing).
pub fn events_of(ledger: &Ledger, tenant: &str) -> anyhow::Result<Vec<LedgerEvent>> {
    if !ledger.tenants().contains_key(tenant) {
        bail!(
            "the ledger has no entries for tenant {tenant:?}; `tla log --limit 5` shows which \
             tenants it has"
        );
    }
    tenant_events(ledger, tenant, ledger.size())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(position: u64, time: i64, data: serde_json::Value, kind: &str) -> LedgerEvent {
        let value = serde_json::json!({
            "specversion": "1.0", "id": format!("e{position}"), "source": "test",
            "type": kind, "time": schemas::format_instant(time), "tenant": "alver",
            "data": data,
        });
        LedgerEvent {
            position,
            event: Event::from_json(&value).expect("a valid test event"),
        }
    }

    fn opened(position: u64, time: i64) -> LedgerEvent {
        let data = serde_json::json!({"action_id": "a-1", "title": "t", "owner": "o",
            "due": "2026-03-01T00:00:00Z", "deviation_ids": []});
        at(position, time, data, "action.opened")
    }

    fn closed(position: u64, time: i64) -> LedgerEvent {
        let data = serde_json::json!({"action_id": "a-1", "outcome": "done"});
        at(position, time, data, "action.closed")
    }

    #[test]
    fn an_action_is_open_then_closed_in_time_order_and_early_closes_are_set_aside() {
        let t = 1_767_225_600;
        let check = |events: &[LedgerEvent], expected: ActionState| {
            assert_eq!(action_state(events, "a-1"), expected);
        };
        check(&[], ActionState::Unknown);
        check(&[opened(0, t)], ActionState::Open(0));
        check(&[opened(0, t), closed(1, t + 1)], ActionState::Closed(1));
        // A close timed before the open is set aside, like the engine does.
        check(&[opened(0, t), closed(1, t - 1)], ActionState::Open(0));
        // A second open does not reopen a closed action.
        check(
            &[opened(0, t), closed(1, t + 1), opened(2, t + 2)],
            ActionState::Closed(1),
        );
        check(&[closed(0, t)], ActionState::Unknown);
    }

    #[test]
    fn event_ids_follow_the_content_so_a_rerun_is_the_same_fact() {
        let now = 1_767_225_600_000_000;
        let a = explained_event("alver", "0123456789abcdef", "cause", None, now).unwrap();
        let b = explained_event("alver", "0123456789abcdef", "cause", None, now + 7).unwrap();
        let c = explained_event("alver", "0123456789abcdef", "other", None, now).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(content_key(&["ab", "c"]).len(), 16);
        assert_ne!(content_key(&["ab", "c"]), content_key(&["a", "bc"]));
    }
}
