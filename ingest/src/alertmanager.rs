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

use std::collections::BTreeMap;

use schemas::input::InputEvent;
use schemas::{Event, FieldError};
use serde::Deserialize;
use serde_json::json;

/// The payload version this receiver reads.
pub const PAYLOAD_VERSION: &str = "4";

/// The time Alertmanager puts in `endsAt` of a firing alert.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

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
    if started.is_none() {
        problems.push(FieldError::new(at("startsAt"), "not an RFC 3339 instant"));
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
                format!("{other:?}: expected \"firing\" or \"resolved\""),
            ));
            false
        }
    };
    let ends_at = alert.ends_at.as_deref().filter(|t| *t != ZERO_TIME);
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
}
