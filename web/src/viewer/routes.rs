//! The viewer's HTTP face: [`router`] maps paths to pages, runs every
//! source call on tokio's blocking pool (the ledger is read synchronously),
//! and sets the headers that keep a page from fetching anything from
//! elsewhere. This is the viewer's only I/O, and the only place it reads
//! the clock (for "now": preliminary months, minutes not yet due).
//!
//! Paths (all GET; `?lang=en` on any page for English):
//!
//! | path | page |
//! | --- | --- |
//! | `/` | the tenants |
//! | `/tenants/{tenant}` | the month grid |
//! | `/tenants/{tenant}/reports/{YYYY-MM}` | a report |
//! | `/tenants/{tenant}/reports/{YYYY-MM}/verify` | the report, verified |
//! | `/tenants/{tenant}/reports/{YYYY-MM}/{json,csv,md}` | downloads |
//! | `/tenants/{tenant}/contacts[?at=RFC3339]` | who is responsible |
//! | `/tenants/{tenant}/meetings` | meetings and minutes |
//! | `/assets/viewer.css` | the stylesheet |

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use schemas::MeetingKind;
use serde::Deserialize;

use projector::agreement::Versions;
use projector::render::{self, Format, Lang};
use projector::report::Deviation;
use projector::{LedgerEvent, Period};

use super::meetings::RhythmGap;
use super::months::{MonthCell, MonthState};
use super::page::{self, STYLESHEET_PATH};
use super::report::ReportPage;
use super::tenants::TenantRow;
use super::words::words;
use super::{SourceError, ViewerSource};

/// The Content-Security-Policy of every page: nothing but this origin's
/// stylesheet, no scripts, no frames, forms only to this origin. A page
/// that tried to load anything from elsewhere would be blocked by the
/// browser, and the tests check that no page even names another origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

type Source = Arc<dyn ViewerSource>;

/// The viewer's routes over `source`, ready to be served or merged into
/// another router (the paths are absolute, so merge, do not nest).
pub fn router(source: Arc<dyn ViewerSource>) -> Router {
    Router::new()
        .route("/", get(tenants))
        .route(STYLESHEET_PATH, get(stylesheet))
        .route("/tenants/{tenant}", get(tenant))
        .route("/tenants/{tenant}/contacts", get(contacts))
        .route("/tenants/{tenant}/meetings", get(meetings))
        .route("/tenants/{tenant}/reports/{period}", get(report))
        .route("/tenants/{tenant}/reports/{period}/verify", get(verify))
        .route("/tenants/{tenant}/reports/{period}/{format}", get(download))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(source)
}

/// The query parameters any page takes.
#[derive(Debug, Default, Deserialize)]
struct Params {
    lang: Option<String>,
    at: Option<String>,
}

impl Params {
    /// The page's language; anything but `en` is Nynorsk.
    fn lang(&self) -> Lang {
        match self.lang.as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Nn,
        }
    }
}

/// Why a page could not be made.
enum Failure {
    NotFound(String),
    BadRequest(String),
    Failed(String),
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Failure {
        match e {
            SourceError::NotFound(m) => Failure::NotFound(m),
            SourceError::Failed(m) => Failure::Failed(m),
        }
    }
}

/// A rendered answer: a page, or a download with its content type and
/// file name.
enum Answer {
    Page(String),
    Download {
        bytes: Vec<u8>,
        content_type: &'static str,
        file: String,
    },
}

/// Runs `make` on the blocking pool and turns its outcome into a response.
async fn answer<F>(source: Source, lang: Lang, path: String, make: F) -> Response
where
    F: FnOnce(&dyn ViewerSource) -> Result<Answer, Failure> + Send + 'static,
{
    let outcome = tokio::task::spawn_blocking(move || make(&*source)).await;
    let w = words(lang);
    let (status, title, message) = match outcome {
        Ok(Ok(Answer::Page(html))) => return html_response(StatusCode::OK, html),
        Ok(Ok(Answer::Download {
            bytes,
            content_type,
            file,
        })) => {
            let disposition = format!("attachment; filename=\"{file}\"");
            return (
                [
                    (header::CONTENT_TYPE, content_type.to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response();
        }
        Ok(Err(Failure::NotFound(m))) => (StatusCode::NOT_FOUND, w.not_found, m),
        Ok(Err(Failure::BadRequest(m))) => (StatusCode::BAD_REQUEST, w.failed, m),
        Ok(Err(Failure::Failed(m))) => (StatusCode::INTERNAL_SERVER_ERROR, w.failed, m),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, w.failed, e.to_string()),
    };
    html_response(status, page::error_page(lang, title, &message, &path))
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        page::stylesheet(),
    )
        .into_response()
}

async fn not_found(Query(params): Query<Params>) -> Response {
    let lang = params.lang();
    let w = words(lang);
    let html = page::error_page(lang, w.not_found, w.not_found, "/");
    html_response(StatusCode::NOT_FOUND, html)
}

/// The clock, in unix seconds.
fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(since).unwrap_or(i64::MAX)
}

/// The tenant named in a path, when it follows the tenant rule and the
/// ledger has it.
fn known_tenant(source: &dyn ViewerSource, tenant: &str) -> Result<(), Failure> {
    // The tenant rule of SEMANTICS.md section 2, checked before the
    // ledger is asked.
    let valid = tenant.len() <= 63
        && tenant
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && b == b'-'));
    if valid && !tenant.is_empty() && source.tenants()?.iter().any(|t| t == tenant) {
        Ok(())
    } else {
        Err(Failure::NotFound(format!(
            "the ledger has no tenant {tenant:?}"
        )))
    }
}

fn parse_period(text: &str) -> Result<Period, Failure> {
    text.parse()
        .map_err(|e: projector::PeriodError| Failure::NotFound(e.to_string()))
}

async fn tenants(State(source): State<Source>, Query(params): Query<Params>) -> Response {
    let lang = params.lang();
    answer(source, lang, "/".to_string(), move |source| {
        let mut rows = Vec::new();
        for id in source.tenants()? {
            rows.push(TenantRow {
                name: source.display_name(&id),
                cells: month_cells(source, &id)?,
                id,
            });
        }
        Ok(Answer::Page(super::tenants::tenants_page(lang, &rows)))
    })
    .await
}

/// The grid cells of a tenant's months.
fn month_cells(source: &dyn ViewerSource, tenant: &str) -> Result<Vec<MonthCell>, Failure> {
    let mut cells = Vec::new();
    for period in source.periods(tenant)? {
        let state = match source.report(tenant, period) {
            Ok(shown) => MonthState::Report {
                deviations: shown.report.deviations.len(),
                preliminary: shown.report.preliminary,
                issued: shown.anchor.is_some(),
            },
            Err(SourceError::NotFound(_)) => MonthState::None,
            Err(e) => return Err(e.into()),
        };
        cells.push(MonthCell { period, state });
    }
    Ok(cells)
}

async fn tenant(
    State(source): State<Source>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let lang = params.lang();
    let path = page::tenant_path(&tenant);
    answer(source, lang, path, move |source| {
        known_tenant(source, &tenant)?;
        let cells = month_cells(source, &tenant)?;
        let name = source.display_name(&tenant);
        Ok(Answer::Page(super::months::tenant_page(
            lang, &tenant, &name, &cells,
        )))
    })
    .await
}

async fn report(
    State(source): State<Source>,
    Path((tenant, period)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    report_or_verify(source, tenant, period, params.lang(), false).await
}

async fn verify(
    State(source): State<Source>,
    Path((tenant, period)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    report_or_verify(source, tenant, period, params.lang(), true).await
}

async fn report_or_verify(
    source: Source,
    tenant: String,
    period: String,
    lang: Lang,
    verify: bool,
) -> Response {
    let path = page::report_path(&tenant, &period);
    answer(source, lang, path, move |source| {
        known_tenant(source, &tenant)?;
        let period = parse_period(&period)?;
        let shown = source.report(&tenant, period)?;
        let periods = source.periods(&tenant)?;
        let previous = periods.iter().rev().find(|&&p| p < period).copied();
        let next = periods.iter().find(|&&p| p > period).copied();
        let events = source.events(&tenant)?;
        let end = chrono::DateTime::parse_from_rfc3339(&shown.report.period_end)
            .map_or(i64::MAX, |t| t.timestamp());
        // The roster "at the end of the period" is the state just before
        // its end, bounded by now for a running month.
        let roster = projector::contact::roster(&tenant, &events, (end - 1).min(now()));
        let facts = if verify {
            Some(source.verify(&tenant, period)?)
        } else {
            None
        };
        let verification = facts.as_ref().map(|f| (f, super::judge(&shown.report, f)));
        let name = source.display_name(&tenant);
        let page = ReportPage {
            lang,
            name: &name,
            shown: &shown,
            roster: &roster,
            previous,
            next,
            verification,
        };
        Ok(Answer::Page(super::report::report_page(&page)))
    })
    .await
}

async fn download(
    State(source): State<Source>,
    Path((tenant, period, format)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let lang = params.lang();
    let path = format!("{}/{format}", page::report_path(&tenant, &period));
    answer(source, lang, path, move |source| {
        let format = match format.as_str() {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "md" => Format::Markdown,
            other => {
                return Err(Failure::NotFound(format!(
                    "no download {other:?}: json, csv or md"
                )))
            }
        };
        known_tenant(source, &tenant)?;
        let period = parse_period(&period)?;
        let shown = source.report(&tenant, period)?;
        Ok(Answer::Download {
            bytes: render::render(&shown.report, format, lang),
            content_type: format.content_type(),
            file: format!("{tenant}-{period}.{}", format.name()),
        })
    })
    .await
}

/// The agreement's time zone name, for showing instants; UTC when the
/// tenant has no agreement or its versions disagree.
fn timezone_of(events: &[LedgerEvent]) -> String {
    let refs: Vec<&LedgerEvent> = events.iter().collect();
    match Versions::from_events(&refs).timezone() {
        Ok(Some(tz)) => tz.name().to_string(),
        _ => "UTC".to_string(),
    }
}

async fn contacts(
    State(source): State<Source>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let lang = params.lang();
    let path = format!("{}/contacts", page::tenant_path(&tenant));
    let asked = params.at.unwrap_or_default();
    answer(source, lang, path, move |source| {
        known_tenant(source, &tenant)?;
        let at = match asked.trim() {
            "" => now(),
            text => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp())
                .map_err(|e| {
                    Failure::BadRequest(format!(
                        "{text:?} is not an RFC 3339 instant with an offset ({e}); for example 2026-03-01T12:00:00+01:00"
                    ))
                })?,
        };
        let events = source.events(&tenant)?;
        let roster = projector::contact::roster(&tenant, &events, at);
        let name = source.display_name(&tenant);
        Ok(Answer::Page(super::roster::contacts_page(
            lang,
            (&tenant, &name),
            &roster,
            &timezone_of(&events),
            asked.trim(),
        )))
    })
    .await
}

async fn meetings(
    State(source): State<Source>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let lang = params.lang();
    let path = format!("{}/meetings", page::tenant_path(&tenant));
    answer(source, lang, path, move |source| {
        known_tenant(source, &tenant)?;
        let events = source.events(&tenant)?;
        let list = projector::governance::meetings(&tenant, &events);
        let mut gaps = Vec::new();
        for period in source.periods(&tenant)? {
            let shown = match source.report(&tenant, period) {
                Ok(shown) => shown,
                Err(SourceError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            for d in &shown.report.deviations {
                let kind = match d {
                    Deviation::OperationsMeetingMissing { .. } => MeetingKind::Operations,
                    Deviation::SteeringMeetingMissing { .. } => MeetingKind::Steering,
                    _ => continue,
                };
                gaps.push(RhythmGap { period, kind });
            }
        }
        let name = source.display_name(&tenant);
        Ok(Answer::Page(super::meetings::meetings_page(
            lang,
            (&tenant, &name),
            &list,
            &gaps,
            (&timezone_of(&events), now()),
        )))
    })
    .await
}
