//! The Prometheus Alertmanager webhook (payload version 4) as outage
//! events: a firing alert becomes `outage.started`, a resolved one
//! `outage.ended`. Pure: the payload and tenant in, CloudEvents out.
//!
//! The service is the alert's `service` label, the impact its `impact`
//! label (default `full`), and the outage id is made of the alert's
//! fingerprint and start time, so that every notification of the same
//! alert (Alertmanager repeats them) names the same outage and the same
//! event ids: repeats are duplicates, never new outages. A resolved alert
//! also yields its `outage.started`, identical to the one its firing
//! notification gave: a duplicate when that arrived, and the start of the
//! outage when Alertmanager sent only the resolution (an alert that fired
//! and resolved within one group interval).
//!
//! Refused (each a problem naming its field): a payload with a key twice
//! in any object (labels, annotations, an alert, the top level), since
//! JSON parsers disagree on which one wins; and an alert whose `startsAt`
//! is Go's zero time `0001-01-01T00:00:00Z`, which Alertmanager uses for
//! "unset". In `endsAt` that zero time is what a firing alert carries
//! (Alertmanager sends firing alerts with their end unset), so there it
//! means "no end yet".

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use schemas::input::InputEvent;
use schemas::{Event, FieldError};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::json;

/// The payload version this receiver reads.
pub const PAYLOAD_VERSION: &str = "4";

/// The time Alertmanager puts in `endsAt` of a firing alert: Go's zero
/// `time.Time`, its "unset".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `ZERO_TIME` in Unix seconds, however it is written.
const ZERO_UNIX_SECONDS: i64 = -62_135_596_800;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    version: String,
    #[serde(default)]
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    starts_at: String,
    #[serde(default)]
    ends_at: Option<String>,
    fingerprint: String,
}

/// The events of one webhook call for `tenant`, each validated; the error
/// lists every problem of the payload itself, each naming its field.
pub fn events(tenant: &str, payload: &[u8]) -> Result<Vec<InputEvent>, Vec<FieldError>> {
    let duplicates = duplicate_keys(payload);
    if !duplicates.is_empty() {
        return Err(duplicates
            .into_iter()
            .map(|path| {
                FieldError::new(
                    path,
                    "this key appears more than once in its object; send each key once",
                )
            })
            .collect());
    }
    let webhook: Webhook = serde_json::from_slice(payload).map_err(|e| {
        vec![FieldError::new(
            "",
            format!("not an Alertmanager webhook payload: {e}"),
        )]
    })?;
    if webhook.version != PAYLOAD_VERSION {
        return Err(vec![FieldError::new(
            "version",
            format!(
                "payload version {:?}; this receiver reads version {PAYLOAD_VERSION}",
                webhook.version
            ),
        )]);
    }
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (index, alert) in webhook.alerts.iter().enumerate() {
        match alert_events(tenant, index, alert) {
            Ok(values) => out.extend(values.into_iter().map(|value| InputEvent {
                line: index + 1,
                result: Event::from_json(&value).map_err(|errors| {
                    errors
                        .into_iter()
                        .map(|e| {
                            FieldError::new(format!("alerts[{index}] ({})", e.path), e.message)
                        })
                        .collect()
                }),
            })),
            Err(mut more) => problems.append(&mut more),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The CloudEvents of one alert (before validation).
fn alert_events(
    tenant: &str,
    index: usize,
    alert: &Alert,
) -> Result<Vec<serde_json::Value>, Vec<FieldError>> {
    let at = |field: &str| format!("alerts[{index}].{field}");
    let mut problems = Vec::new();
    let service = alert.labels.get("service");
    if service.is_none() {
        problems.push(FieldError::new(
            at("labels.service"),
            "missing: the alert must carry a `service` label naming the agreement's service",
        ));
    }
    let impact = alert.labels.get("impact").map_or("full", String::as_str);
    let started = unix_seconds(&alert.starts_at);
    match started {
        None => problems.push(FieldError::new(at("startsAt"), "not an RFC 3339 instant")),
        Some(ZERO_UNIX_SECONDS) => problems.push(FieldError::new(
            at("startsAt"),
            format!("{ZERO_TIME} is Alertmanager's \"unset\": an alert needs the time it started"),
        )),
        Some(_) => {}
    }
    if alert.fingerprint.is_empty() {
        problems.push(FieldError::new(at("fingerprint"), "empty"));
    }
    let resolved = match alert.status.as_str() {
        "firing" => false,
        "resolved" => true,
        other => {
            problems.push(FieldError::new(
                at("status"),
                format!(
                    "{:?}: expected \"firing\" or \"resolved\"",
                    crate::http::truncated(other)
                ),
            ));
            false
        }
    };
    let ends_at = alert
        .ends_at
        .as_deref()
        .filter(|t| unix_seconds(t) != Some(ZERO_UNIX_SECONDS));
    if resolved && ends_at.and_then(unix_seconds).is_none() {
        problems.push(FieldError::new(
            at("endsAt"),
            "a resolved alert needs an RFC 3339 end time",
        ));
    }
    let (Some(service), Some(started), true) = (service, started, problems.is_empty()) else {
        return Err(problems);
    };
    let outage_id = format!("am-{}-{started}", alert.fingerprint);
    let source = format!("alertmanager/{tenant}");
    let mut events = vec![json!({
        "specversion": "1.0",
        "id": format!("{outage_id}-started"),
        "source": source,
        "type": "outage.started",
        "time": alert.starts_at,
        "tenant": tenant,
        "datacontenttype": "application/json",
        "data": {"service": service, "outage_id": outage_id, "impact": impact},
    })];
    if let (true, Some(ends_at)) = (resolved, ends_at) {
        events.push(json!({
            "specversion": "1.0",
            "id": format!("{outage_id}-ended"),
            "source": source,
            "type": "outage.ended",
            "time": ends_at,
            "tenant": tenant,
            "datacontenttype": "application/json",
            "data": {"service": service, "outage_id": outage_id},
        }));
    }
    Ok(events)
}

/// The path of every key that appears twice in its object, anywhere in
/// the JSON document (`alerts[0].labels.service`); empty when there is
/// none or the payload is not JSON (which the typed parse then reports).
fn duplicate_keys(payload: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut reader = serde_json::Deserializer::from_slice(payload);
    let walk = Walk {
        path: String::new(),
        found: &mut found,
    };
    match walk.deserialize(&mut reader) {
        Ok(()) => found,
        Err(_) => Vec::new(),
    }
}

/// A walk over a JSON value that records duplicate keys' paths.
struct Walk<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                crate::http::truncated(&key).into_owned()
            } else {
                format!("{}.{}", self.path, crate::http::truncated(&key))
            };
            if !seen.insert(key) {
                self.found.push(path.clone());
            }
            map.next_value_seed(Walk {
                path,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Walk {
                path: format!("{}[{index}]", self.path),
                found: &mut *self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

fn unix_seconds(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(alerts: serde_json::Value) -> Vec<u8> {
        json!({"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "tla",
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
               "externalURL": "http://am", "alerts": alerts})
        .to_string()
        .into_bytes()
    }

    fn alert(status: &str, labels: serde_json::Value, ends: &str) -> serde_json::Value {
        json!({"status": status, "labels": labels, "annotations": {},
               "startsAt": "2026-01-10T10:00:00.123Z", "endsAt": ends,
               "generatorURL": "http://prom", "fingerprint": "c0ffee"})
    }

    #[test]
    fn firing_starts_and_resolved_ends_the_same_outage() {
        let firing = alert("firing", json!({"service": "epost"}), ZERO_TIME);
        let resolved = alert(
            "resolved",
            json!({"service": "epost"}),
            "2026-01-10T11:00:00Z",
        );
        let fired = events("alver", &payload(json!([firing]))).unwrap();
        let done = events("alver", &payload(json!([resolved]))).unwrap();
        assert_eq!(fired.len(), 1);
        assert_eq!(done.len(), 2);
        let start = fired[0].result.as_ref().unwrap();
        assert_eq!(start.type_name(), "outage.started");
        // The resolved notification repeats the start byte for byte.
        assert_eq!(start, done[0].result.as_ref().unwrap());
        let end = done[1].result.as_ref().unwrap();
        assert_eq!(end.type_name(), "outage.ended");
        assert_eq!(end.time_rfc3339(), "2026-01-10T11:00:00Z");
        let text = String::from_utf8_lossy(start.canonical()).into_owned();
        assert!(
            text.contains("\"outage_id\":\"am-c0ffee-1768039200\""),
            "{text}"
        );
        assert!(text.contains("\"impact\":\"full\""), "{text}");
    }

    #[test]
    fn problems_name_the_alert_and_field() {
        let bad = alert("firing", json!({"impact": "partial"}), ZERO_TIME);
        let errors = events("alver", &payload(json!([bad]))).unwrap_err();
        assert_eq!(errors[0].path, "alerts[0].labels.service");
        let wrong_version = br#"{"version":"3","alerts":[]}"#;
        assert_eq!(
            events("alver", wrong_version).unwrap_err()[0].path,
            "version"
        );
        let bad_impact = alert(
            "firing",
            json!({"service": "epost", "impact": "some"}),
            ZERO_TIME,
        );
        let out = events("alver", &payload(json!([bad_impact]))).unwrap();
        let errors = out[0].result.as_ref().unwrap_err();
        assert!(errors[0].path.contains("data.impact"), "{errors:?}");
    }

    #[test]
    fn the_zero_time_is_refused_as_a_start_and_means_unset_as_an_end() {
        let mut zero_start = alert("firing", json!({"service": "epost"}), ZERO_TIME);
        zero_start["startsAt"] = json!(ZERO_TIME);
        let errors = events("alver", &payload(json!([zero_start]))).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "alerts[0].startsAt");
        assert!(errors[0].message.contains("unset"), "{errors:?}");
        // The same instant written with fractions is the same zero.
        let mut fractional = alert("firing", json!({"service": "epost"}), ZERO_TIME);
        fractional["startsAt"] = json!("0001-01-01T00:00:00.000Z");
        let errors = events("alver", &payload(json!([fractional]))).unwrap_err();
        assert_eq!(errors[0].path, "alerts[0].startsAt");
        // A resolved alert whose end is the zero time has no end: refused.
        let no_end = alert("resolved", json!({"service": "epost"}), ZERO_TIME);
        let errors = events("alver", &payload(json!([no_end]))).unwrap_err();
        assert_eq!(errors[0].path, "alerts[0].endsAt");
    }

    #[test]
    fn a_key_twice_anywhere_is_refused_naming_it() {
        let good = String::from_utf8(payload(json!([alert(
            "firing",
            json!({"service": "epost"}),
            ZERO_TIME
        )])))
        .unwrap();
        for (from, to, path) in [
            (
                r#""service":"epost""#,
                r#""service":"epost","service":"sak""#,
                "alerts[0].labels.service",
            ),
            (
                r#""annotations":{}"#,
                r#""annotations":{"summary":"a","summary":"b"}"#,
                "alerts[0].annotations.summary",
            ),
            (
                r#""version":"4""#,
                r#""version":"4","version":"4""#,
                "version",
            ),
            (
                r#""status":"firing"}"#,
                r#""status":"resolved","status":"firing"}"#,
                "alerts[0].status",
            ),
        ] {
            assert!(good.contains(from), "{from} in {good}");
            let twice = good.replacen(from, to, 1);
            let errors = events("alver", twice.as_bytes()).unwrap_err();
            let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
            assert_eq!(paths, vec![path], "{twice}");
        }
        assert!(events("alver", good.as_bytes()).is_ok());
    }

    #[test]
    fn echoed_values_are_truncated() {
        let long = "x".repeat(100_000);
        let bad = alert(&long, json!({"service": "epost"}), ZERO_TIME);
        let errors = events("alver", &payload(json!([bad]))).unwrap_err();
        let message = &errors[0].message;
        assert!(message.len() < 400, "{} bytes", message.len());
        assert!(message.contains("… (100000 bytes in all)"), "{message}");
    }
}
