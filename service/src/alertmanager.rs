//! Delivery of alerts to Prometheus Alertmanager (`--alertmanager URL`):
//! every alert in `TLA_ALERTS` is posted to Alertmanager's API v2
//! (`POST /api/v2/alerts`), labelled for routing, and Alertmanager does
//! the rest (grouping, inhibition, silences, e-mail, Teams, Slack).
//!
//! Delivery is at least once. The alerts are read from the stream
//! (`ingest::nats::follow_alerts`, from its start), the latest state of
//! each kept by id, and every firing alert is posted again every
//! [`REPOST_INTERVAL`] with `endsAt` [`FIRING_VALIDITY`] ahead, as
//! Alertmanager expects of a client (it resolves an alert no one re-sends).
//! An ended alert is posted with its `endsAt` for [`ENDED_KEPT`] after
//! its end, so Alertmanager sends the resolved notification. A post that
//! fails (Alertmanager down) is retried sooner, doubling from
//! [`RETRY_FIRST`] up to the re-post interval, so an Alertmanager that
//! comes back gets every alert within seconds; its own grouping and
//! notification log keep a re-posted alert from being notified twice.
//!
//! `payload` (what is posted) is pure; `deliver` is the task.

use std::collections::BTreeMap;
use std::time::Duration;

use projector::alert::{summary, Alert, Responsible};
use projector::render::Lang;
use serde_json::{json, Value};
use tokio::sync::watch;

/// How often every firing alert is posted again (Prometheus re-sends
/// once a minute too).
pub const REPOST_INTERVAL: Duration = Duration::from_secs(60);

/// How far ahead of each post a firing alert's `endsAt` lies: five
/// re-post intervals, so a few failed posts do not resolve it, while an
/// alert nobody re-posts any more (the service stopped) is resolved by
/// Alertmanager after at most this long.
pub const FIRING_VALIDITY: Duration = Duration::from_secs(5 * 60);

/// How long after its end an ended alert is still posted: long enough
/// for an Alertmanager that was down to hear of the end when it returns.
pub const ENDED_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// The first retry after a failed post; doubled up to `REPOST_INTERVAL`.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// How long after a new alert arrives the post waits for more: the
/// stream's backlog at start-up is posted in a few requests, not one
/// per alert.
pub const GATHER: Duration = Duration::from_millis(200);

/// Most alerts in one request (Alertmanager takes any number; this keeps
/// a request's body far below its limits and a failure cheap).
pub const ALERTS_PER_POST_MAX: usize = 500;

/// How long one post may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where alerts go and how their links are written.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Alertmanager's base URL (`http://alertmanager:9093`).
    pub url: String,
    /// The viewer's public base URL, for the link to the report page.
    pub viewer: String,
}

impl Delivery {
    /// The endpoint alerts are posted to.
    pub fn endpoint(&self) -> String {
        format!("{}/api/v2/alerts", self.url.trim_end_matches('/'))
    }
}

/// The alerts of `alerts` that are posted at `now`: every firing one,
/// and each ended one until `ENDED_KEPT` after its end.
pub fn due(alerts: &BTreeMap<String, Alert>, now: i64) -> Vec<&Alert> {
    let kept = i64::try_from(ENDED_KEPT.as_secs()).unwrap_or(i64::MAX);
    alerts
        .values()
        .filter(|a| match &a.ends {
            None => true,
            Some(ends) => instant(ends).is_some_and(|e| now - e <= kept),
        })
        .collect()
}

/// Alertmanager's postable alerts for `alerts` at `now`.
pub fn payload(alerts: &[&Alert], delivery: &Delivery, now: i64) -> Value {
    let validity = i64::try_from(FIRING_VALIDITY.as_secs()).unwrap_or(i64::MAX);
    let valid_until = schemas::format_instant(now.saturating_add(validity));
    Value::Array(
        alerts
            .iter()
            .map(|a| postable(a, delivery, &valid_until))
            .collect(),
    )
}

fn postable(alert: &Alert, delivery: &Delivery, valid_until: &str) -> Value {
    let mut labels = serde_json::Map::new();
    let mut label = |name: &str, value: Option<&str>| {
        // Alertmanager treats an empty label as absent; absent it is.
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            labels.insert(name.to_owned(), Value::String(v.to_owned()));
        }
    };
    label("alertname", Some(alert.kind.as_str()));
    label("tenant", Some(&alert.tenant));
    label("service", alert.service.as_deref());
    label("kind", Some(alert.kind.as_str()));
    label("severity", Some(alert.severity.as_str()));
    label("priority", alert.priority.as_deref());
    // For inhibiting an incident's warning by its breach.
    label("incident_id", alert.incident_id.as_deref());
    // The alert's own id: Alertmanager tells alerts apart by their labels.
    label("alert_id", Some(&alert.id));
    let link = report_link(alert, delivery);
    let emails: Vec<&str> = alert
        .contacts
        .iter()
        .filter_map(|c| c.email.as_deref())
        .collect();
    json!({
        "labels": labels,
        "annotations": {
            "summary": summary(alert, Lang::Nn),
            "report": link,
            "contacts": contacts_text(&alert.contacts),
            "contact_emails": emails.join(","),
        },
        "startsAt": alert.at,
        "endsAt": alert.ends.as_deref().unwrap_or(valid_until),
        "generatorURL": link,
    })
}

/// The viewer's page of the report the alert belongs in: its period, or
/// the month of its instant.
fn report_link(alert: &Alert, delivery: &Delivery) -> String {
    let period = match &alert.period {
        Some(p) => p.clone(),
        None => instant(&alert.at)
            .map(|t| projector::Period::containing(web::service::CURRENT_MONTH_ZONE, t))
            .map_or_else(String::new, |p| p.to_string()),
    };
    format!(
        "{}/tenants/{}/reports/{period}",
        delivery.viewer.trim_end_matches('/'),
        alert.tenant
    )
}

/// `role (service): person <email> phone; ...`.
fn contacts_text(contacts: &[Responsible]) -> String {
    contacts
        .iter()
        .map(|c| {
            let mut line = c.role.clone();
            if let Some(s) = &c.service {
                line.push_str(&format!(" ({s})"));
            }
            line.push_str(&format!(": {}", c.person));
            if let Some(e) = &c.email {
                line.push_str(&format!(" <{e}>"));
            }
            if let Some(p) = &c.phone {
                line.push_str(&format!(" {p}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn instant(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// Posts `body` to Alertmanager (blocking: run on a blocking thread).
fn post(endpoint: &str, body: &Value) -> Result<(), String> {
    let agent = ureq::AgentBuilder::new().timeout(POST_TIMEOUT).build();
    match agent.post(endpoint).send_json(body) {
        Ok(_) => Ok(()),
        Err(ureq::Error::Status(status, response)) => {
            let text = response.into_string().unwrap_or_default();
            Err(format!(
                "Alertmanager at {endpoint} answered {status}: {text}"
            ))
        }
        Err(e) => Err(format!("cannot reach Alertmanager at {endpoint}: {e}")),
    }
}

/// Posts everything due, in requests of at most `ALERTS_PER_POST_MAX`.
async fn post_due(alerts: &BTreeMap<String, Alert>, delivery: &Delivery) -> Result<usize, String> {
    let now = web::service::now_seconds();
    let due = due(alerts, now);
    for chunk in due.chunks(ALERTS_PER_POST_MAX) {
        let body = payload(chunk, delivery, now);
        let endpoint = delivery.endpoint();
        tokio::task::spawn_blocking(move || post(&endpoint, &body))
            .await
            .map_err(|e| e.to_string())??;
    }
    Ok(due.len())
}

/// Follows `TLA_ALERTS` and posts to Alertmanager until `shutdown`.
pub async fn deliver(
    client: async_nats::Client,
    delivery: Delivery,
    mut shutdown: watch::Receiver<bool>,
) {
    use futures::StreamExt as _;
    let jetstream = ingest::nats::jetstream(client);
    let mut alerts: BTreeMap<String, Alert> = BTreeMap::new();
    let mut retry = RETRY_FIRST;
    let mut next_post = tokio::time::Instant::now() + REPOST_INTERVAL;
    loop {
        let mut messages = match ingest::nats::follow_alerts(&jetstream).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "cannot follow the alerts yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_FIRST) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(Ok(payload)) => {
                        match serde_json::from_slice::<Alert>(&payload) {
                            Ok(alert) => {
                                alerts.insert(alert.id.clone(), alert);
                                next_post = next_post.min(tokio::time::Instant::now() + GATHER);
                            }
                            Err(error) => tracing::warn!(%error, "an alert in TLA_ALERTS is not readable; skipped"),
                        }
                        continue;
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "reading the alerts failed; following them again");
                        break;
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(next_post) => {}
                _ = shutdown.changed() => return,
            }
            match post_due(&alerts, &delivery).await {
                Ok(count) => {
                    tracing::debug!(count, "alerts posted to Alertmanager");
                    retry = RETRY_FIRST;
                    next_post = tokio::time::Instant::now() + REPOST_INTERVAL;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?retry, "alerts not posted to Alertmanager");
                    next_post = tokio::time::Instant::now() + retry;
                    retry = (retry * 2).min(REPOST_INTERVAL);
                }
            }
            // Ended alerts past `ENDED_KEPT` are not posted again.
            let now = web::service::now_seconds();
            let kept: std::collections::HashSet<String> =
                due(&alerts, now).iter().map(|a| a.id.clone()).collect();
            alerts.retain(|id, _| kept.contains(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use projector::alert::{Kind, Severity};

    fn alert(ends: Option<&str>) -> Alert {
        Alert {
            id: "alver/INC-1/response_breach/2026-01-05T10:30:00Z".into(),
            tenant: "alver".into(),
            kind: Kind::ResponseBreach,
            severity: Severity::Critical,
            service: Some("epost".into()),
            incident_id: Some("INC-1".into()),
            priority: Some("P1".into()),
            window_id: None,
            meeting_id: None,
            role: None,
            period: None,
            at: "2026-01-05T10:30:00Z".into(),
            ends: ends.map(str::to_owned),
            contacts: vec![Responsible {
                role: "provider_service_owner".into(),
                service: Some("epost".into()),
                person: "Ola Nordmann".into(),
                email: Some("ola@example.no".into()),
                phone: Some("+47 555 00 000".into()),
            }],
        }
    }

    const NOW: i64 = 1_767_609_000; // 2026-01-05T10:30:00Z

    #[test]
    fn a_firing_alert_is_labelled_for_routing_and_valid_for_five_minutes() {
        let delivery = Delivery {
            url: "http://am:9093/".into(),
            viewer: "https://tla.example.no".into(),
        };
        assert_eq!(delivery.endpoint(), "http://am:9093/api/v2/alerts");
        let a = alert(None);
        let body = payload(&[&a], &delivery, NOW);
        assert_eq!(
            body[0]["labels"],
            json!({"alertname": "response_breach", "tenant": "alver", "service": "epost",
                   "kind": "response_breach", "severity": "critical", "priority": "P1",
                   "incident_id": "INC-1", "alert_id": a.id})
        );
        assert_eq!(body[0]["startsAt"], "2026-01-05T10:30:00Z");
        assert_eq!(body[0]["endsAt"], "2026-01-05T10:35:00Z");
        let notes = &body[0]["annotations"];
        assert_eq!(
            notes["summary"],
            "alver: hending INC-1 (epost, P1) har broten responstida"
        );
        assert_eq!(
            notes["report"],
            "https://tla.example.no/tenants/alver/reports/2026-01"
        );
        assert_eq!(notes["contact_emails"], "ola@example.no");
        assert_eq!(
            notes["contacts"],
            "provider_service_owner (epost): Ola Nordmann <ola@example.no> +47 555 00 000"
        );
    }

    #[test]
    fn an_ended_alert_is_posted_with_its_end_for_a_day() {
        let delivery = Delivery {
            url: "http://am:9093".into(),
            viewer: "http://localhost:8080".into(),
        };
        let ended = alert(Some("2026-01-05T11:00:00Z"));
        let body = payload(&[&ended], &delivery, NOW + 3600);
        assert_eq!(body[0]["endsAt"], "2026-01-05T11:00:00Z");
        let alerts = BTreeMap::from([(ended.id.clone(), ended)]);
        let end = NOW + 1800;
        assert_eq!(due(&alerts, end + 86_400).len(), 1);
        assert!(due(&alerts, end + 86_401).is_empty());
    }
}
