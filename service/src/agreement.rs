//! Publishing an agreement: the `agreement.published` event of a tenant,
//! with an id derived from its content, and what the ledger already holds
//! under its version label (a label names one agreement per tenant for
//! good).

use anyhow::Context;
use schemas::{agreement, Event};

/// The `agreement.published` event of `value` (the validated agreement
/// `parsed`) for `tenant` from `source` at `now_micros`, with its id.
pub fn published_event(
    value: &serde_json::Value,
    parsed: &agreement::Agreement,
    tenant: &str,
    source: &str,
    now_micros: i64,
) -> anyhow::Result<(String, Event)> {
    // The id is derived from the content, so publishing the same agreement
    // twice is recognised as the same event (per tenant: the ledger's
    // idempotency key is (tenant, source, id)).
    let digest = blake3::hash(value.to_string().as_bytes()).to_hex();
    let id = format!("{}/{}", parsed.version, &digest[..16]);
    let time = ledger::rfc3339(now_micros - now_micros.rem_euclid(1_000_000));
    let event_json = agreement::published_event(value, tenant, source, &id, &time);
    let event = Event::from_json(&event_json).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the agreement.published event is invalid: {}",
            listed.join("; ")
        )
    })?;
    Ok((id, event))
}

/// A version label of a tenant's agreement found in the ledger.
pub enum Published {
    /// Published with the same agreement, at this position.
    Same(u64),
    /// Published with another agreement, at this position.
    Other(u64),
}

/// Whether `tenant` has an agreement with the version label `version` in
/// the ledger (from any source, `tla agreement publish` or the service),
/// and whether it is `event`'s agreement. Reads the tenant's entries only.
pub fn published_version(
    ledger: &ledger::Ledger,
    tenant: &str,
    version: &str,
    event: &Event,
) -> anyhow::Result<Option<Published>> {
    let ours = agreement_of(event.canonical())
        .context("the agreement.published event has no agreement")?;
    let mut other = None;
    for entry in ledger.tenant_entries(tenant) {
        let entry = entry?;
        let position = entry.record.position;
        let Some(stored) = agreement_of(&entry.record.event) else {
            continue;
        };
        if stored["version"].as_str() != Some(version) {
            continue;
        }
        if stored == ours {
            return Ok(Some(Published::Same(position)));
        }
        other.get_or_insert(position);
    }
    Ok(other.map(Published::Other))
}

/// The agreement of a stored `agreement.published` event (canonical JSON),
/// `None` for any other event.
fn agreement_of(canonical: &[u8]) -> Option<serde_json::Value> {
    let mut event: serde_json::Value = serde_json::from_slice(canonical).ok()?;
    if event["type"] != "agreement.published" {
        return None;
    }
    Some(event["data"]["agreement"].take())
}

/// The `source` of the approvals `tla agreement approve` appends.
pub const APPROVAL_SOURCE: &str = "tla/agreements";

/// The `agreement.approved` of `version` by `party` (`provider` or
/// `tenant`), given by `person`, for `tenant` at `now_micros`. Its id is
/// `approve/<version>/<party>`: one approval per party and version, so a
/// rerun is found rather than appended again.
pub fn approved_event(
    tenant: &str,
    version: &str,
    party: schemas::Party,
    person: &str,
    now_micros: i64,
) -> anyhow::Result<Event> {
    let value = serde_json::json!({
        "specversion": "1.0",
        "id": format!("approve/{version}/{}", party.as_str()),
        "source": APPROVAL_SOURCE,
        "type": "agreement.approved",
        "time": ledger::rfc3339(now_micros - now_micros.rem_euclid(1_000_000)),
        "tenant": tenant,
        "datacontenttype": "application/json",
        "data": {"version": version, "party": party.as_str(), "person": person},
    });
    Event::from_json(&value).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the agreement.approved event is invalid: {}",
            listed.join("; ")
        )
    })
}

/// What publishing an agreement drops from a tenant's reports: services
/// an earlier agreement of the tenant had, which the new one lacks, that
/// have events from the new one's `effective_from` on. Those events are
/// set aside in every report from then on (the newcomer's warning of
/// `tla agreement publish`; the change is allowed, only said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Each dropped service with its events from `effective_from` on.
    pub services: Vec<(String, u64)>,
    /// The periods (YYYY-MM in the new agreement's time zone) holding
    /// those events: the reports that change.
    pub periods: Vec<String>,
}

/// The services `new` drops for `tenant` that have events, and the
/// periods that change; `None` when it drops none that has.
pub fn dropped_services(
    ledger: &ledger::Ledger,
    tenant: &str,
    new: &agreement::Agreement,
) -> anyhow::Result<Option<Dropped>> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut earlier: BTreeSet<String> = BTreeSet::new();
    let mut events: Vec<(String, i64)> = Vec::new();
    for entry in ledger.tenant_entries(tenant) {
        let entry = entry?;
        if let Some(stored) = agreement_of(&entry.record.event) {
            let services = stored["services"].as_array().cloned().unwrap_or_default();
            earlier.extend(
                services
                    .iter()
                    .filter_map(|s| s["id"].as_str().map(str::to_owned)),
            );
            continue;
        }
        let Ok(event) = Event::from_canonical(&entry.record.event) else {
            continue;
        };
        if let Some(service) = event.data.service() {
            if event.time >= new.effective_from {
                events.push((service.to_owned(), event.time));
            }
        }
    }
    let dropped: BTreeSet<&String> = earlier
        .iter()
        .filter(|id| new.service(id).is_none())
        .collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut periods: BTreeSet<String> = BTreeSet::new();
    for (service, time) in &events {
        if !dropped.contains(service) {
            continue;
        }
        *counts.entry(service.clone()).or_default() += 1;
        if let Some(instant) = chrono::DateTime::from_timestamp(*time, 0) {
            periods.insert(
                instant
                    .with_timezone(&new.timezone)
                    .format("%Y-%m")
                    .to_string(),
            );
        }
    }
    if counts.is_empty() {
        return Ok(None);
    }
    Ok(Some(Dropped {
        services: counts.into_iter().collect(),
        periods: periods.into_iter().collect(),
    }))
}
