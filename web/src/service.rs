//! The projector's HTTP API over the live projection, and the refresher
//! that keeps each tenant's current month computed and hands out alerts.
//!
//! Routes (`router`): `GET /v1/tenants`, and
//! `GET /v1/tenants/{tenant}/reports/{YYYY-MM}` in json (the contract
//! format, the default), html, csv or md, chosen by `?format=` or else the
//! `Accept` header, in `?lang=nn|en`. Errors are RFC 9457 problem
//! documents. Every read is authorised by the router's [`Access`] (401
//! without a known token, 403 for a tenant the caller may not read;
//! `/v1/tenants` lists only what the caller may read) and logged in the
//! access log. The router is a plain `axum::Router`, so the binary can
//! merge it with the receivers' routes and the viewer's pages.
//!
//! The projector knows nothing of NATS: `refresh` hands each new alert to
//! a publish function the binary gives it, and marks it sent only when
//! that returned `Ok`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono_tz::Tz;
use serde::Deserialize;
use tokio::sync::watch;

use crate::access::{self, Access, Caller};
use crate::live::{Live, LiveError};
use projector::alert::Alert;
use projector::render::{Format, Lang};
use projector::{Period, ReportError};

/// How often the refresher recomputes current months and scans for alerts.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The time zone in which "the current month" of the refresher is taken
/// (the agreements' default; a tenant in another zone gets its current
/// month computed on request).
pub const CURRENT_MONTH_ZONE: Tz = chrono_tz::Europe::Oslo;

/// What the API's handlers share.
#[derive(Clone)]
struct Api {
    live: Arc<Live>,
    access: Access,
}

/// The projector's routes, readable as `access` allows.
pub fn router(live: Arc<Live>, access: Access) -> Router {
    Router::new()
        .route("/v1/tenants", get(tenants))
        .route("/v1/tenants/{tenant}/reports/{period}", get(report))
        .with_state(Api { live, access })
        .layer(axum::middleware::map_response(no_sniffing))
}

/// Every answer's type is what its Content-Type says: no browser guesses.
async fn no_sniffing(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Unix seconds now.
pub use schemas::clock::now_seconds;

/// Every `REFRESH_INTERVAL` until `shutdown`: recomputes each tenant's
/// current month (so a request finds it ready) and publishes due alerts
/// through `publish`.
pub async fn refresh<F, Fut>(live: Arc<Live>, publish: F, mut shutdown: watch::Receiver<bool>)
where
    F: Fn(Alert) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let mut tick = tokio::time::interval(REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = now_seconds();
        let scan = Arc::clone(&live);
        let due = match tokio::task::spawn_blocking(move || {
            let period = Period::containing(CURRENT_MONTH_ZONE, now);
            for (tenant, _) in scan.tenants() {
                // A tenant without an agreement has no report; that is
                // said when the report is asked for.
                let _ = scan.report(&tenant, period, now);
            }
            scan.due_alerts(now)
        })
        .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "projector refresh failed");
                continue;
            }
        };
        for alert in due {
            match publish(alert.clone()).await {
                Ok(()) => {
                    tracing::info!(id = %alert.id, "alert published");
                    live.sent(&alert);
                }
                Err(error) => {
                    tracing::warn!(id = %alert.id, %error, "alert not published; retrying");
                    break;
                }
            }
        }
    }
}

async fn tenants(State(api): State<Api>, headers: HeaderMap) -> Response {
    let reader = match api.access.caller(&headers) {
        Caller::Known(reader) => reader,
        refused => {
            let who = access::who(&refused);
            access::log(&who, "tenants", "", StatusCode::UNAUTHORIZED);
            return access::refusal(&refused, "")
                .unwrap_or_else(|| StatusCode::UNAUTHORIZED.into_response());
        }
    };
    access::log(&reader.who, "tenants", "", StatusCode::OK);
    let live = api.live;
    let tenants: Vec<serde_json::Value> = live
        .tenants()
        .into_iter()
        .filter(|(tenant, _)| reader.may_read(tenant))
        .map(|(tenant, entries)| serde_json::json!({"tenant": tenant, "entries": entries}))
        .collect();
    axum::Json(serde_json::json!({"ledger_size": live.size(), "tenants": tenants})).into_response()
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    format: Option<String>,
    lang: Option<String>,
}

async fn report(
    State(api): State<Api>,
    Path((tenant, period)): Path<(String, String)>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = api.access.caller(&headers);
    let (who, what) = (access::who(&caller), format!("report {period}"));
    if let Some(refused) = access::refusal(&caller, &tenant) {
        access::log(&who, &what, &tenant, refused.status());
        return refused;
    }
    let response = report_of(api.live, tenant.clone(), period, query, &headers).await;
    access::log(&who, &what, &tenant, response.status());
    response
}

/// The report of `tenant` and `period`, for a caller who may read it.
async fn report_of(
    live: Arc<Live>,
    tenant: String,
    period: String,
    query: ReportQuery,
    headers: &HeaderMap,
) -> Response {
    let format = match query.format.as_deref() {
        Some(name) => match name.parse::<Format>() {
            Ok(format) => format,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "format", e.to_string()),
        },
        None => from_accept(headers),
    };
    let lang = match query.lang.as_deref().unwrap_or("nn").parse::<Lang>() {
        Ok(lang) => lang,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "lang", e.to_string()),
    };
    let period: Period = match period.parse() {
        Ok(period) => period,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "period", format!("{e}")),
    };
    let now = now_seconds();
    let computed = tokio::task::spawn_blocking(move || live.report(&tenant, period, now)).await;
    match computed {
        Ok(Ok(report)) => {
            let bytes = match projector::render::render(&report, format, lang) {
                Ok(bytes) => bytes,
                Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string()),
            };
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            if format == Format::Html {
                let policy = projector::render::html::content_security_policy();
                // The policy is ASCII built from a base64 hash.
                if let Ok(policy) = HeaderValue::from_str(policy) {
                    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
                }
            }
            response
        }
        Ok(Err(LiveError::UnknownTenant(t))) => problem(
            StatusCode::NOT_FOUND,
            "tenant",
            format!("the ledger holds no events of tenant {t:?}"),
        ),
        Ok(Err(LiveError::Report(e @ ReportError::NoAgreement { .. }))) => {
            problem(StatusCode::NOT_FOUND, "period", e.to_string())
        }
        Ok(Err(LiveError::Report(e))) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, "period", e.to_string())
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string()),
    }
}

/// The format an `Accept` header asks for (json unless it prefers another).
fn from_accept(headers: &HeaderMap) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for media in accept.split(',') {
        match media.split(';').next().unwrap_or("").trim() {
            "application/json" => return Format::Json,
            "text/html" => return Format::Html,
            "text/csv" => return Format::Csv,
            "text/markdown" => return Format::Markdown,
            _ => {}
        }
    }
    Format::Json
}

/// An RFC 9457 problem document naming the offending field.
fn problem(status: StatusCode, field: &str, detail: String) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "errors": [{"field": field, "detail": detail}],
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
