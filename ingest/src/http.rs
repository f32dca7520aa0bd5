//! The HTTP receivers: `POST /v1/events` (every CloudEvents content mode,
//! and NDJSON) and `POST /v1/alertmanager/{tenant}` (the Alertmanager
//! webhook), publishing to JetStream.
//!
//! A request is all or nothing up to the publish: it is authenticated
//! (bearer token), read within `REQUEST_BYTES_MAX`, every event validated
//! (422 listing every problem), every event's tenant and type checked
//! against the token's `write` and `types` and the system-only types (403,
//! naming the type and the token), and what the
//! ledger writer would refuse and can be known here refused first (422:
//! a time too far ahead of this receiver's clock, a tenant without an
//! agreement), before the first event is published. It is answered
//! 202 only once JetStream acknowledged every event (each stored in the
//! stream), and 503 when NATS is unreachable or an acknowledgement does not
//! come: then some events may be stored and some not, and the producer
//! retries the whole request, which the `Nats-Msg-Id` of each event and
//! the ledger's idempotency make safe. Errors are RFC 9457 problem
//! documents (`application/problem+json`) naming each field.
//!
//! The agreement events a request carries (`agreement.published`,
//! `agreement.approved`) are recorded with who sent them: the receiver sets
//! the CloudEvents `authcontext` attributes `authtype = "api_key"` and
//! `authid` = the token's name (a producer's own `authtype` or `authid` on
//! them is refused), and publishes them on `tla.agreements.<tenant>`, the
//! subject only the service may publish, where the ledger writer takes
//! them (docs/OPERATIONS.md).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_nats::jetstream::context::Context;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use schemas::input::InputEvent;
use schemas::{Event, FieldError};
use serde::Serialize;

use crate::auth::{Grant, Tokens};
use crate::cloudevents::{self, BodyError};
use crate::metrics::Metrics;
use crate::nats;

/// Largest request body: 4 MiB holds some ten thousand events of a few
/// hundred bytes, more than a monitoring system sends at once, while
/// bounding what one request holds in memory.
pub const REQUEST_BYTES_MAX: usize = 4 << 20;

/// Most events in one request: each is published and acknowledged before
/// the answer, so this bounds how long a request can take.
pub const REQUEST_EVENTS_MAX: usize = 10_000;

/// Problems listed in one problem document; the rest are counted.
pub const PROBLEMS_LISTED_MAX: usize = 1_000;

/// Whether the service knows an agreement of a tenant (the live
/// projection of the ledger this process holds).
pub type AgreementCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Tenants remembered as having had an agreement published through this
/// receiver, at most: a bound on memory that a token for every tenant
/// could otherwise grow; past it, only the ledger's knowledge counts.
pub const PUBLISHED_AGREEMENTS_MAX: usize = 10_000;

/// Which tenants have an agreement: those the ledger holds, and those
/// whose `agreement.published` this receiver saw JetStream store. The
/// ledger writer handles the stream in order, so it stores such an
/// agreement before any event published after it.
pub struct Agreements {
    stored: AgreementCheck,
    published: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Agreements {
    pub fn new(stored: AgreementCheck) -> Agreements {
        Agreements {
            stored,
            published: Default::default(),
        }
    }

    fn known(&self, tenant: &str) -> bool {
        (self.stored)(tenant) || self.published_set().contains(tenant)
    }

    fn published_set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        // A set of names stays usable after a panic elsewhere.
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn published(&self, tenant: &str) {
        let mut set = self.published_set();
        if set.len() < PUBLISHED_AGREEMENTS_MAX {
            set.insert(tenant.to_owned());
        }
    }
}

/// Longest piece of a request's input (a tenant name, a field's value)
/// echoed in a problem document: enough to recognise it, while a 100 KB
/// tenant name does not come back 100 KB long.
pub const ECHO_CHARS_MAX: usize = 120;

/// Longest text of any one string in a problem document (its detail, an
/// item's field or detail): the backstop for messages that echo input
/// without `truncated`, bounding a document to about
/// `PROBLEMS_LISTED_MAX` times this.
pub const PROBLEM_TEXT_CHARS_MAX: usize = 600;

/// What the receivers share.
pub struct Ingest {
    pub tokens: Tokens,
    /// When set, events of a tenant without an agreement are refused at
    /// the door (422) but for its `agreement.published`; the receivers
    /// alone (`tla ingest serve`) leave that to the ledger writer.
    pub agreements: Option<Agreements>,
    pub jetstream: Context,
    pub client: async_nats::Client,
    /// Whether the streams are ready, and NATS's last error.
    pub nats: Arc<nats::Status>,
    pub metrics: Arc<Metrics>,
}

/// `text` as echoed in a problem document: at most `ECHO_CHARS_MAX`
/// characters, and when cut, an ellipsis and the original length.
pub fn truncated(text: &str) -> std::borrow::Cow<'_, str> {
    bounded(text, ECHO_CHARS_MAX)
}

/// `text` cut to `max` characters, with an ellipsis and its length in
/// bytes when it was longer.
fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => {
            std::borrow::Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len()))
        }
    }
}

/// The receivers' routes.
pub fn router(ingest: Arc<Ingest>) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/alertmanager/{tenant}", post(post_alertmanager))
        .with_state(ingest)
}

/// One problem of a problem document: the event (index in the request
/// and line of the body, when the body has lines) and the field.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub field: String,
    pub detail: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors_not_listed: Option<usize>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://tla-ledger.invalid/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            errors_not_listed: None,
        }
    }

    fn with_errors(mut self, mut errors: Vec<Item>) -> Problem {
        if errors.len() > PROBLEMS_LISTED_MAX {
            self.errors_not_listed = Some(errors.len() - PROBLEMS_LISTED_MAX);
            errors.truncate(PROBLEMS_LISTED_MAX);
        }
        self.errors = errors;
        self
    }
}

impl Problem {
    /// The document with every string bounded to `PROBLEM_TEXT_CHARS_MAX`.
    fn bounded(mut self) -> Problem {
        let cut = |text: &mut String| {
            if let std::borrow::Cow::Owned(short) = bounded(text, PROBLEM_TEXT_CHARS_MAX) {
                *text = short;
            }
        };
        cut(&mut self.detail);
        for item in &mut self.errors {
            cut(&mut item.field);
            cut(&mut item.detail);
        }
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let problem = self.bounded();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A problem document of strings and numbers always serialises.
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

/// The answer to an accepted request.
#[derive(Debug, Serialize)]
struct Accepted {
    /// Events stored in the stream by this request.
    accepted: usize,
    /// Events JetStream already held (a retry): not stored again.
    duplicates: usize,
}

async fn post_events(
    State(ingest): State<Arc<Ingest>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let grant = authenticate(&ingest.tokens, &headers)?;
        let body = read_body(body).await?;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let ce_headers = cloudevents::ce_headers(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        )
        .map_err(body_problem)?;
        let mode = cloudevents::mode(content_type, !ce_headers.is_empty()).map_err(body_problem)?;
        let events =
            cloudevents::read(mode, content_type, &ce_headers, &body).map_err(body_problem)?;
        let events = validated(events)?;
        at_the_door(&ingest, grant, &events, now_seconds())?;
        let events = signed_by(grant, events)?;
        publish(&ingest, events).await
    }
    .await;
    respond(&ingest, result)
}

async fn post_alertmanager(
    State(ingest): State<Arc<Ingest>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let grant = authenticate(&ingest.tokens, &headers)?;
        let body = read_body(body).await?;
        let events = crate::alertmanager::events(&tenant, &body).map_err(|errors| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-alerts",
                "Invalid Alertmanager payload",
                format!("{} problem(s); nothing was published", errors.len()),
            )
            .with_errors(
                errors
                    .into_iter()
                    .map(|e| field_item(None, None, e))
                    .collect(),
            )
        })?;
        let events = validated(events)?;
        at_the_door(&ingest, grant, &events, now_seconds())?;
        let events = signed_by(grant, events)?;
        publish(&ingest, events).await
    }
    .await;
    respond(&ingest, result)
}

fn respond(ingest: &Ingest, result: Result<Accepted, Problem>) -> Response {
    match result {
        Ok(accepted) => {
            let published = (accepted.accepted + accepted.duplicates) as u64;
            ingest
                .metrics
                .http_events_published
                .fetch_add(published, Ordering::Relaxed);
            (StatusCode::ACCEPTED, axum::Json(accepted)).into_response()
        }
        Err(problem) => {
            ingest
                .metrics
                .http_requests_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(status = problem.status, detail = %problem.detail, "request refused");
            problem.into_response()
        }
    }
}

/// The grant of the request's bearer token, or 401.
pub fn authenticate<'t>(tokens: &'t Tokens, headers: &HeaderMap) -> Result<&'t Grant, Problem> {
    let unauthorized = |detail: &str| {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("send Authorization: Bearer <token>"))?;
    // The scheme is case-insensitive (RFC 9110, section 11.1).
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?;
    tokens
        .grant(token)
        .ok_or_else(|| unauthorized("unknown token"))
}

async fn read_body(body: Body) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, REQUEST_BYTES_MAX)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request too large",
                format!(
                    "the body exceeds {REQUEST_BYTES_MAX} bytes (or could not be read); split it"
                ),
            )
        })
}

fn body_problem(error: BodyError) -> Problem {
    match error {
        BodyError::UnsupportedType(detail) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported content type",
            detail,
        ),
        BodyError::Malformed { field, detail } => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "Malformed request body",
            detail.clone(),
        )
        .with_errors(vec![Item {
            index: None,
            line: None,
            field,
            detail,
        }]),
    }
}

fn field_item(index: Option<usize>, line: Option<usize>, error: FieldError) -> Item {
    Item {
        index,
        line,
        field: error.path,
        detail: error.message,
    }
}

/// The events, or a 422 listing every problem of every invalid event.
fn validated(events: Vec<InputEvent>) -> Result<Vec<Event>, Problem> {
    if events.len() > REQUEST_EVENTS_MAX {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-events",
            "Too many events",
            format!(
                "{} events in one request; at most {REQUEST_EVENTS_MAX}",
                events.len()
            ),
        ));
    }
    let problems = cloudevents::problems(&events);
    if !problems.is_empty() {
        let invalid = events.iter().filter(|e| e.result.is_err()).count();
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-events",
            "Invalid events",
            format!(
                "{invalid} of {} event(s) are invalid; nothing was published",
                events.len()
            ),
        )
        .with_errors(
            problems
                .into_iter()
                .map(|(index, line, e)| field_item(Some(index), Some(line), e))
                .collect(),
        ));
    }
    Ok(events.into_iter().filter_map(|e| e.result.ok()).collect())
}

use schemas::clock::now_seconds;

/// Refuses, before anything is published, what this request may not do
/// (403: a tenant the token may not write, a type only the ledger writes)
/// and what the ledger writer would refuse and can be known here (422: a
/// time more than `CLOCK_SKEW_SECONDS_MAX` after `now`, a tenant without
/// an agreement). The writer checks everything again.
fn at_the_door(ingest: &Ingest, grant: &Grant, events: &[Event], now: i64) -> Result<(), Problem> {
    let item = |index: usize, field: &str, detail: String| Item {
        index: Some(index),
        line: None,
        field: field.into(),
        detail,
    };
    let mut forbidden = Vec::new();
    for (index, event) in events.iter().enumerate() {
        if !grant.may_write(&event.tenant) {
            let detail = format!(
                "token {:?} may not write tenant {:?}",
                grant.name, event.tenant
            );
            forbidden.push(item(index, "tenant", detail));
        }
        if event.event_type.is_system_only() {
            let detail = format!(
                "{} is written only by the ledger itself (`tla report issue`); no producer may send it",
                event.type_name()
            );
            forbidden.push(item(index, "type", detail));
        } else if !grant.may_send(event.event_type) {
            let why = if event.event_type.changes_agreement() {
                "; agreement events need a token whose `types` name them (docs/OPERATIONS.md)"
            } else {
                " (its `types` in the token file do not cover it)"
            };
            let detail = format!(
                "token {:?} may not write type {}{why}",
                grant.name,
                event.type_name()
            );
            forbidden.push(item(index, "type", detail));
        }
        if event.event_type.changes_agreement() {
            for attribute in [schemas::AUTHTYPE_ATTRIBUTE, schemas::AUTHID_ATTRIBUTE] {
                if event.extension(attribute).is_some() {
                    let detail = format!(
                        "{attribute} on {} is set by this receiver from the token; leave it out",
                        event.type_name()
                    );
                    forbidden.push(item(index, attribute, detail));
                }
            }
        }
    }
    if let Some(first) = forbidden.first() {
        let detail = format!(
            "{} problem(s), the first: event {}: {}; nothing was published",
            forbidden.len(),
            first.index.unwrap_or(0),
            first.detail
        );
        return Err(
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
                .with_errors(forbidden),
        );
    }
    let mut refused = Vec::new();
    let latest = now.saturating_add(ledger::CLOCK_SKEW_SECONDS_MAX);
    for (index, event) in events.iter().enumerate() {
        if event.time > latest {
            let detail = format!(
                "{} is more than {} s after this receiver's clock ({}); check the producer's clock",
                ledger::rfc3339(event.time.saturating_mul(1_000_000)),
                ledger::CLOCK_SKEW_SECONDS_MAX,
                ledger::rfc3339(now.saturating_mul(1_000_000)),
            );
            refused.push(item(index, "time", detail));
        }
    }
    if let Some(agreements) = &ingest.agreements {
        // An agreement in the same request counts: `publish` stores the
        // request's agreements before its other events.
        let in_request: std::collections::HashSet<&str> = events
            .iter()
            .filter(|e| e.event_type == schemas::EventType::AgreementPublished)
            .map(|e| e.tenant.as_str())
            .collect();
        for (index, event) in events.iter().enumerate() {
            if !in_request.contains(event.tenant.as_str()) && !agreements.known(&event.tenant) {
                let detail = format!(
                    "tenant {:?} has no agreement; publish its agreement.published first",
                    event.tenant
                );
                refused.push(item(index, "tenant", detail));
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused-events",
        "Events the ledger would refuse",
        format!(
            "{} problem(s) the ledger would refuse; nothing was published",
            refused.len()
        ),
    )
    .with_errors(refused))
}

/// The events with each agreement event given `authtype` and `authid`
/// (the token's name): who published or approved a version.
fn signed_by(grant: &Grant, events: Vec<Event>) -> Result<Vec<Event>, Problem> {
    let attributes = [
        (schemas::AUTHTYPE_ATTRIBUTE, schemas::AUTHTYPE_API_KEY),
        (schemas::AUTHID_ATTRIBUTE, grant.name.as_str()),
    ];
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        if !event.event_type.changes_agreement() {
            out.push(event);
            continue;
        }
        match event.with_extensions(&attributes) {
            Ok(signed) => out.push(signed),
            Err(errors) => {
                problems.extend(errors.into_iter().map(|e| field_item(Some(index), None, e)))
            }
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    // Only a token name the attribute cannot hold, or an event grown past
    // its size limit by it, comes here.
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-events",
        "Invalid events",
        format!(
            "{} problem(s) recording the token on agreement events; nothing was published",
            problems.len()
        ),
    )
    .with_errors(problems))
}

/// Publishes every event and waits for every acknowledgement.
async fn publish(ingest: &Ingest, events: Vec<Event>) -> Result<Accepted, Problem> {
    let unavailable = |detail: String| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Event stream unavailable",
            detail,
        )
    };
    if let Some(reason) = ingest.nats.unavailable(&ingest.client) {
        return Err(unavailable(format!(
            "{reason}; nothing was published; retry later"
        )));
    }
    let publish = |event: &Event| {
        let (source, id) = event.key();
        let msg_id = nats::event_msg_id(&event.tenant, source, id, event.canonical());
        let subject = nats::subject_of(event);
        let payload = Bytes::copy_from_slice(event.canonical());
        nats::publish_acked(&ingest.jetstream, subject, msg_id, payload)
    };
    // Agreements first, stored before the request's other events, so that
    // the ledger writer, which handles the stream in order, knows them by
    // the time it meets those events. Within each group the publishes are
    // sent at once and their acknowledgements awaited together: one round
    // trip, not one per event.
    let is_agreement = |e: &Event| e.event_type.changes_agreement();
    type Group<'e> = Vec<(usize, &'e Event)>;
    let (agreements, others): (Group<'_>, Group<'_>) = events
        .iter()
        .enumerate()
        .partition(|(_, e)| is_agreement(e));
    let mut results: Vec<(usize, Result<bool, nats::PublishError>)> = Vec::new();
    for group in [agreements, others] {
        let published = futures::future::join_all(group.iter().map(|(_, e)| publish(e))).await;
        let failed = published.iter().any(Result::is_err);
        for ((index, event), result) in group.iter().zip(published) {
            let published = event.event_type == schemas::EventType::AgreementPublished;
            if let (Some(known), true, Ok(_)) = (&ingest.agreements, published, &result) {
                known.published(&event.tenant);
            }
            results.push((*index, result));
        }
        if failed {
            break;
        }
    }
    results.sort_by_key(|(index, _)| *index);
    let mut accepted = Accepted {
        accepted: 0,
        duplicates: 0,
    };
    let mut failed = Vec::new();
    let unpublished = events.len() - results.len();
    for (index, result) in results {
        match result {
            Ok(false) => accepted.accepted += 1,
            Ok(true) => accepted.duplicates += 1,
            Err(error) => failed.push((index, error)),
        }
    }
    if let Some((index, error)) = failed.first() {
        tracing::warn!(%error, failed = failed.len(), "publish not acknowledged");
        return Err(unavailable(format!(
            "{} of {} event(s) were not acknowledged by JetStream (first: event {index}: {error}), \
             and {unpublished} not sent after the request's agreements failed; retry the whole \
             request: events already stored are deduplicated",
            failed.len(),
            events.len()
        )));
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_bound_echoed_input() {
        let tenant = "a".repeat(100_000);
        assert_eq!(truncated("alver"), "alver");
        let short = truncated(&tenant);
        assert_eq!(
            short.chars().count(),
            ECHO_CHARS_MAX + "… (100000 bytes in all)".chars().count()
        );
        assert!(short.ends_with("… (100000 bytes in all)"), "{short}");
        // Cut on a character boundary, counting characters, not bytes.
        let norsk = "æ".repeat(ECHO_CHARS_MAX + 1);
        assert!(truncated(&norsk).starts_with(&"æ".repeat(ECHO_CHARS_MAX)));

        let problem = Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden-tenant",
            "Tenant not allowed",
            format!("token \"x\" may not write tenant {tenant:?}"),
        )
        .with_errors(vec![Item {
            index: Some(0),
            line: None,
            field: format!("data.{tenant}"),
            detail: tenant.clone(),
        }]);
        let response = problem.into_response();
        let body =
            futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                .unwrap();
        assert!(
            body.len() < 3 * PROBLEM_TEXT_CHARS_MAX + 500,
            "{} bytes",
            body.len()
        );
        let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let detail = document["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("token \"x\" may not write tenant \"aaa"),
            "{detail}"
        );
        assert!(detail.contains("bytes in all)"), "{detail}");
        assert!(document["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .ends_with("(100000 bytes in all)"));
    }
}
