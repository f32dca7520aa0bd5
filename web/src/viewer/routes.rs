//! The viewer's HTTP face: [`router`] maps paths to pages, runs every
//! source call on tokio's blocking pool (the ledger is read synchronously),
//! and sets the headers that keep a page from fetching anything from
//! elsewhere. This is the viewer's only I/O, and the only place it reads
//! the clock (for "now": preliminary months, minutes not yet due).
//!
//! Every page but the stylesheet and sign-in is read as the router's
//! [`Access`] allows: a caller not known gets 401 (with the sign-in page
//! when the viewer has sessions), a tenant the caller may not read 403,
//! the tenant list only the readable tenants; every read of a tenant's
//! pages is logged in the access log.
//!
//! Paths (GET unless said; `?lang=en` on any page for English):
//!
//! | path | page |
//! | --- | --- |
//! | `/` | the tenants |
//! | `/tenants/{tenant}` | the month grid |
//! | `/tenants/{tenant}/reports/{YYYY-MM}` | a report |
//! | `/tenants/{tenant}/reports/{YYYY-MM}/verify` | the report, verified |
//! | `/tenants/{tenant}/reports/{YYYY-MM}/{json,csv,md,xlsx}` | downloads |
//! | `/tenants/{tenant}/contacts[?at=RFC3339]` | who is responsible |
//! | `/tenants/{tenant}/meetings` | meetings and minutes |
//! | `/tenants/{tenant}/follow-up` | the corrective actions open now, overdue first |
//! | `/tenants/{tenant}/agreements` | the agreement versions, their publishers and approvals |
//! | `/assets/viewer.css` | the stylesheet |
//! | `/sign-in`, POST `/sign-in` | the token sign-in (with sessions) |
//! | `/sign-in/oidc`, `/sign-in/oidc/callback` | the OpenID Connect sign-in (`oidc`) |
//! | POST `/sign-out` | ends the session |

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Form, OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use governor::middleware::NoOpMiddleware;
use schemas::MeetingKind;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::{GlobalKeyExtractor, KeyExtractor};
use tower_governor::{GovernorError, GovernorLayer};

use projector::agreement::Versions;
use projector::render::{self, Format, Lang};
use projector::report::Deviation;
use projector::{LedgerEvent, Period};

use super::meetings::RhythmGap;
use super::months::{MonthCell, MonthState};
use super::oidc;
use super::page::{self, STYLESHEET_PATH};
use super::report::ReportPage;
use super::signin::{self, OIDC_PATH, SIGN_IN_PATH, SIGN_OUT_PATH};
use super::tenants::TenantRow;
use super::words::words;
use super::{SourceError, ViewerSource};
use crate::access::{self, Access, Caller, Reader};
use crate::signon::CALLBACK_PATH;

/// The Content-Security-Policy of every page: nothing but this origin's
/// stylesheet, no scripts, no frames, forms only to this origin. A page
/// that tried to load anything from elsewhere would be blocked by the
/// browser, and the tests check that no page even names another origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

type Source = Arc<dyn ViewerSource>;

/// What the handlers share: the source, and who may read it.
#[derive(Clone)]
pub(super) struct Viewer {
    source: Source,
    pub(super) access: Access,
    /// Permits for verifications (`VERIFICATIONS_AT_ONCE`).
    verifying: Arc<Semaphore>,
}

/// The viewer's routes over `source`, read as `access` allows, ready to
/// be served or merged into another router (the paths are absolute, so
/// merge, do not nest).
pub fn router(source: Arc<dyn ViewerSource>, access: Access) -> Router {
    Router::new()
        .route("/", get(tenants))
        .route(STYLESHEET_PATH, get(stylesheet))
        .route(SIGN_IN_PATH, get(sign_in_page).post(sign_in))
        .route(SIGN_OUT_PATH, post(sign_out))
        .route(OIDC_PATH, get(oidc::begin))
        .route(CALLBACK_PATH, get(oidc::callback))
        .route("/tenants/{tenant}", get(tenant))
        .route("/tenants/{tenant}/contacts", get(contacts))
        .route("/tenants/{tenant}/meetings", get(meetings))
        .route("/tenants/{tenant}/follow-up", get(follow_up))
        .route("/tenants/{tenant}/alerts", get(alerts))
        .route("/tenants/{tenant}/agreements", get(agreements))
        .route("/tenants/{tenant}/reports/{period}", get(report))
        .route(
            "/tenants/{tenant}/reports/{period}/verify",
            // Per client first, then over all clients.
            get(verify).layer((
                GovernorLayer::new(verify_rate()),
                GovernorLayer::new(verify_rate_overall()),
            )),
        )
        .route("/tenants/{tenant}/reports/{period}/{format}", get(download))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(Viewer {
            source,
            access,
            verifying: Arc::new(Semaphore::new(VERIFICATIONS_AT_ONCE)),
        })
}

/// Verifications a client may start at once; then one more every
/// `VERIFY_REPLENISH`. A verification recomputes the whole chain with the
/// ledger locked (pausing the writer), so a client asking for many is
/// answered 429 with `Retry-After` instead.
pub const VERIFY_BURST_PER_CLIENT: u32 = 2;
pub const VERIFY_REPLENISH: Duration = Duration::from_secs(10);

/// Verifications running at once, over all clients: they would only wait
/// for the same ledger lock, holding the writer off meanwhile, so one
/// more is answered 503 with `Retry-After` at once.
pub const VERIFICATIONS_AT_ONCE: usize = 1;

/// Verifications started per `VERIFY_OVERALL_REPLENISH` over all clients
/// (after a burst of `VERIFY_OVERALL_BURST`): even one at a time, back to
/// back they would keep a core of a small machine busy, beside the writer.
pub const VERIFY_OVERALL_BURST: u32 = 2;
pub const VERIFY_OVERALL_REPLENISH: Duration = Duration::from_secs(1);

/// The service-wide rate of verifications.
fn verify_rate_overall() -> Arc<GovernorConfig<GlobalKeyExtractor, NoOpMiddleware>> {
    verification_rate(
        GlobalKeyExtractor,
        VERIFY_OVERALL_REPLENISH,
        VERIFY_OVERALL_BURST,
    )
}

/// The per-client rate of verifications, keyed by the peer's address.
fn verify_rate() -> Arc<GovernorConfig<ClientKey, NoOpMiddleware>> {
    verification_rate(ClientKey, VERIFY_REPLENISH, VERIFY_BURST_PER_CLIENT)
}

/// A rate of verifications per `key`: `burst`, then one per `period`.
fn verification_rate<K: KeyExtractor>(
    key: K,
    period: Duration,
    burst: u32,
) -> Arc<GovernorConfig<K, NoOpMiddleware>> {
    let config = GovernorConfigBuilder::default()
        .key_extractor(key)
        .period(period)
        .burst_size(burst)
        .finish();
    // `finish` refuses only a zero period or burst; the callers pass
    // non-zero constants, so this arm is never taken.
    match config {
        Some(config) => Arc::new(config),
        None => unreachable!("verification rates are non-zero constants"),
    }
}

/// A client is its peer address (the `ConnectInfo` the server puts on
/// each request); a request without one (a router called in-process)
/// shares the unspecified address's quota.
#[derive(Debug, Clone, Copy)]
struct ClientKey;

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip()))
    }
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
/// A page for `reader` carries the sign-out control when the viewer has
/// sessions.
async fn answer<F>(viewer: &Viewer, reader: &Reader, lang: Lang, path: String, make: F) -> Response
where
    F: FnOnce(&dyn ViewerSource) -> Result<Answer, Failure> + Send + 'static,
{
    let source = Arc::clone(&viewer.source);
    let outcome = tokio::task::spawn_blocking(move || make(&*source)).await;
    let w = words(lang);
    let signed = |html: String| match viewer.access.sessions() {
        Some(_) => signin::with_sign_out(html, lang, &reader.who),
        None => html,
    };
    let (status, title, message) = match outcome {
        Ok(Ok(Answer::Page(html))) => return html_response(StatusCode::OK, signed(html)),
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
    html_response(
        status,
        signed(page::error_page(lang, title, &message, &path)),
    )
}

/// The reader of a page of `tenant` (or of the tenant list, `None`), or
/// the answer refusing the caller (401 with the sign-in page, or 403),
/// logged as a read of `what`.
#[allow(clippy::result_large_err)] // the refusal is the handler's answer, returned at once
fn guard(
    viewer: &Viewer,
    headers: &HeaderMap,
    tenant: Option<&str>,
    (lang, next): (Lang, &str),
    what: &str,
) -> Result<Reader, Response> {
    let caller = viewer.access.caller(headers);
    let refused = match &caller {
        Caller::Known(reader) => match tenant {
            Some(tenant) if !reader.may_read(tenant) => {
                let w = words(lang);
                let html = page::error_page(lang, w.forbidden, w.forbidden_detail, next);
                let html = match viewer.access.sessions() {
                    Some(_) => signin::with_sign_out(html, lang, &reader.who),
                    None => html,
                };
                html_response(StatusCode::FORBIDDEN, html)
            }
            _ => return Ok(reader.clone()),
        },
        Caller::Anonymous => unauthorized(viewer, lang, next, None),
        Caller::Refused(reason) => unauthorized(viewer, lang, next, Some(reason)),
    };
    access::log(
        &access::who(&caller),
        what,
        tenant.unwrap_or(""),
        refused.status(),
    );
    Err(refused)
}

/// 401: the sign-in page when the viewer has sessions, else a page saying
/// to send a bearer token.
fn unauthorized(viewer: &Viewer, lang: Lang, next: &str, reason: Option<&str>) -> Response {
    let html = match viewer.access.sessions() {
        Some(_) => signin::sign_in_page(lang, next, reason, provider_name(viewer)),
        None => {
            let w = words(lang);
            let message = reason.unwrap_or("send Authorization: Bearer <token>");
            page::error_page(lang, w.sign_in, message, next)
        }
    };
    let mut response = html_response(StatusCode::UNAUTHORIZED, html);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The path and query a request asked for, to come back to after signing in.
fn asked(uri: &OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

/// Reads a tenant's page for `what`: the guard, the page, the access log.
async fn tenant_read<F>(
    viewer: &Viewer,
    headers: &HeaderMap,
    (tenant, what): (&str, &str),
    (lang, path, uri): (Lang, String, &OriginalUri),
    make: F,
) -> Response
where
    F: FnOnce(&dyn ViewerSource) -> Result<Answer, Failure> + Send + 'static,
{
    let reader = match guard(viewer, headers, Some(tenant), (lang, &asked(uri)), what) {
        Ok(reader) => reader,
        Err(refused) => return refused,
    };
    let response = answer(viewer, &reader, lang, path, make).await;
    access::log(&reader.who, what, tenant, response.status());
    response
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
struct SignIn {
    token: String,
    next: Option<String>,
    lang: Option<String>,
}

/// `GET /sign-in?next=PATH`: the form (404 without sessions).
async fn sign_in_page(State(viewer): State<Viewer>, Query(params): Query<NextParams>) -> Response {
    if viewer.access.sessions().is_none() {
        return not_found(Query(Params::default())).await;
    }
    let lang = lang_of(params.lang.as_deref());
    let next = signin::local_path(params.next.as_deref().unwrap_or("/"));
    html_response(
        StatusCode::OK,
        signin::sign_in_page(lang, &next, None, provider_name(&viewer)),
    )
}

/// `POST /sign-in`: a known token starts a session and goes on to the
/// page asked for; any other is refused with 401.
async fn sign_in(State(viewer): State<Viewer>, Form(form): Form<SignIn>) -> Response {
    let lang = lang_of(form.lang.as_deref());
    let next = signin::local_path(form.next.as_deref().unwrap_or("/"));
    let (Some(sessions), Some(credentials)) =
        (viewer.access.sessions(), viewer.access.credentials())
    else {
        return not_found(Query(Params::default())).await;
    };
    match credentials.bearer(form.token.trim()) {
        Some(reader) => {
            access::log(&reader.who, "sign-in", "", StatusCode::SEE_OTHER);
            let mut response = see_other(&next);
            response
                .headers_mut()
                .append(header::SET_COOKIE, sessions.start(&reader));
            response
        }
        None => {
            access::log(
                "(refused: unknown token)",
                "sign-in",
                "",
                StatusCode::UNAUTHORIZED,
            );
            let html =
                signin::sign_in_page(lang, &next, Some("unknown token"), provider_name(&viewer));
            html_response(StatusCode::UNAUTHORIZED, html)
        }
    }
}

/// `POST /sign-out`: ends the session and shows the sign-in page.
async fn sign_out(
    State(viewer): State<Viewer>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let Some(sessions) = viewer.access.sessions() else {
        return not_found(Query(Params::default())).await;
    };
    let who = access::who(&viewer.access.caller(&headers));
    access::log(&who, "sign-out", "", StatusCode::SEE_OTHER);
    let mut response = see_other(&page::href(SIGN_IN_PATH, params.lang()));
    response
        .headers_mut()
        .append(header::SET_COOKIE, sessions.end());
    response
}

/// The name of the viewer's identity provider, when it offers one.
pub(super) fn provider_name(viewer: &Viewer) -> Option<&str> {
    viewer.access.sign_on().map(|provider| provider.name())
}

/// 303 to a path of this site.
pub(super) fn see_other(path: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    // A local path checked by `signin::local_path` is a valid header value;
    // anything else goes home.
    let location = HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/"));
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// The query of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NextParams {
    pub(super) next: Option<String>,
    pub(super) lang: Option<String>,
}

pub(super) fn lang_of(lang: Option<&str>) -> Lang {
    match lang {
        Some("en") => Lang::En,
        _ => Lang::Nn,
    }
}

pub(super) fn html_response(status: StatusCode, html: String) -> Response {
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
    not_found_page(params.lang())
}

/// 404.
pub(super) fn not_found_page(lang: Lang) -> Response {
    let w = words(lang);
    let html = page::error_page(lang, w.not_found, w.not_found, "/");
    html_response(StatusCode::NOT_FOUND, html)
}

/// The clock, in unix seconds.
pub(super) use schemas::clock::now_seconds as now;

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

async fn tenants(
    State(viewer): State<Viewer>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> Response {
    let lang = params.lang();
    let reader = match guard(&viewer, &headers, None, (lang, &asked(&uri)), "tenants") {
        Ok(reader) => reader,
        Err(refused) => return refused,
    };
    let readable = reader.tenants.clone();
    let response = answer(&viewer, &reader, lang, "/".to_string(), move |source| {
        let mut rows = Vec::new();
        for id in source
            .tenants()?
            .into_iter()
            .filter(|t| readable.contains(t))
        {
            rows.push(TenantRow {
                name: source.display_name(&id),
                cells: month_cells(source, &id)?,
                id,
            });
        }
        Ok(Answer::Page(super::tenants::tenants_page(lang, &rows)))
    })
    .await;
    access::log(&reader.who, "tenants", "", response.status());
    response
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
    State(viewer): State<Viewer>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    let path = page::tenant_path(&tenant);
    let name = tenant.clone();
    tenant_read(
        &viewer,
        &headers,
        (&name, "months"),
        (lang, path, &uri),
        move |source| {
            known_tenant(source, &tenant)?;
            let cells = month_cells(source, &tenant)?;
            let name = source.display_name(&tenant);
            Ok(Answer::Page(super::months::tenant_page(
                lang, &tenant, &name, &cells,
            )))
        },
    )
    .await
}

async fn report(
    State(viewer): State<Viewer>,
    Path(names): Path<(String, String)>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    report_read(&viewer, names, params.lang(), (&headers, &uri), false).await
}

async fn verify(
    State(viewer): State<Viewer>,
    Path(names): Path<(String, String)>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let Ok(_permit) = Arc::clone(&viewer.verifying).try_acquire_owned() else {
        let lang = params.lang();
        let w = words(lang);
        let message = "another verification is running; try again in a few seconds";
        let mut response = html_response(
            StatusCode::SERVICE_UNAVAILABLE,
            page::error_page(
                lang,
                w.failed,
                message,
                &page::report_path(&names.0, &names.1),
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    report_read(&viewer, names, params.lang(), (&headers, &uri), true).await
}

/// A report page (verified when `verify`) as a read of the tenant.
async fn report_read(
    viewer: &Viewer,
    (tenant, period): (String, String),
    lang: Lang,
    (headers, uri): (&HeaderMap, &OriginalUri),
    verify: bool,
) -> Response {
    let what = format!("{} {period}", if verify { "verify" } else { "report" });
    let (name, path) = (tenant.clone(), page::report_path(&tenant, &period));
    let make = report_or_verify(tenant, period, lang, verify);
    tenant_read(viewer, headers, (&name, &what), (lang, path, uri), make).await
}

/// The page of a report, verified or not.
fn report_or_verify(
    tenant: String,
    period: String,
    lang: Lang,
    verify: bool,
) -> impl FnOnce(&dyn ViewerSource) -> Result<Answer, Failure> + Send + 'static {
    move |source: &dyn ViewerSource| {
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
        let receipt = projector::acknowledgement::receipt(
            &tenant,
            &shown.report.period,
            &shown.report.manifest.report_digest,
            &events,
        );
        let outdated = super::outdated::outdated(&shown, &events);
        let name = source.display_name(&tenant);
        let page = ReportPage {
            lang,
            name: &name,
            shown: &shown,
            roster: &roster,
            previous,
            next,
            verification,
            receipt: &receipt,
            outdated: outdated.as_ref(),
        };
        Ok(Answer::Page(super::report::report_page(&page)))
    }
}

async fn download(
    State(viewer): State<Viewer>,
    Path((tenant, period, format)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    let path = format!("{}/{format}", page::report_path(&tenant, &period));
    let (name, what) = (tenant.clone(), format!("export {period} {format}"));
    tenant_read(
        &viewer,
        &headers,
        (&name, &what),
        (lang, path, &uri),
        move |source| {
            let format = match format.as_str() {
                "json" => Format::Json,
                "csv" => Format::Csv,
                "md" => Format::Markdown,
                "xlsx" => Format::Xlsx,
                other => {
                    return Err(Failure::NotFound(format!(
                        "no download {other:?}: json, csv, md or xlsx"
                    )))
                }
            };
            known_tenant(source, &tenant)?;
            let period = parse_period(&period)?;
            let shown = source.report(&tenant, period)?;
            Ok(Answer::Download {
                bytes: render::render(&shown.report, format, lang)
                    .map_err(|e| Failure::Failed(e.to_string()))?,
                content_type: format.content_type(),
                file: format!("{tenant}-{period}.{}", format.name()),
            })
        },
    )
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
    State(viewer): State<Viewer>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    let path = format!("{}/contacts", page::tenant_path(&tenant));
    let asked = params.at.unwrap_or_default();
    let name = tenant.clone();
    tenant_read(&viewer, &headers, (&name, "contacts"), (lang, path, &uri), move |source| {
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
        let refs: Vec<&LedgerEvent> = events.iter().collect();
        let in_force = Versions::from_events(&refs).in_force(at);
        let service = |id: &str| {
            in_force
                .and_then(|a| a.service(id))
                .map_or_else(|| id.to_string(), |s| s.name.clone())
        };
        Ok(Answer::Page(super::roster::contacts_page(
            lang,
            (&tenant, &name),
            &roster,
            (&timezone_of(&events), &service),
            asked.trim(),
        )))
    })
    .await
}

/// A page of the tenant's living documents at `/tenants/T/{doc}`, read
/// as `doc`: `make` gets the source, the tenant (known to the ledger) and
/// its events.
async fn document_read<F>(
    viewer: &Viewer,
    (tenant, doc): (String, &'static str),
    lang: Lang,
    (headers, uri): (&HeaderMap, &OriginalUri),
    make: F,
) -> Response
where
    F: FnOnce(&dyn ViewerSource, &str, &[LedgerEvent]) -> Result<Answer, Failure> + Send + 'static,
{
    let path = format!("{}/{doc}", page::tenant_path(&tenant));
    let name = tenant.clone();
    let read = move |source: &dyn ViewerSource| {
        known_tenant(source, &tenant)?;
        let events = source.events(&tenant)?;
        make(source, &tenant, &events)
    };
    tenant_read(viewer, headers, (&name, doc), (lang, path, uri), read).await
}

async fn meetings(
    State(viewer): State<Viewer>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    document_read(
        &viewer,
        (tenant, "meetings"),
        lang,
        (&headers, &uri),
        move |source, tenant, events| {
            let list = projector::governance::meetings(tenant, events);
            let mut gaps = Vec::new();
            for period in source.periods(tenant)? {
                let shown = match source.report(tenant, period) {
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
            let name = source.display_name(tenant);
            Ok(Answer::Page(super::meetings::meetings_page(
                lang,
                (tenant, &name),
                &list,
                &gaps,
                (&timezone_of(events), now()),
            )))
        },
    )
    .await
}

/// The tenant's alerts in force and of the last 30 days.
async fn alerts(
    State(viewer): State<Viewer>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    document_read(
        &viewer,
        (tenant, "alerts"),
        lang,
        (&headers, &uri),
        move |source, tenant, events| {
            let at = now();
            // From the start: an alert in force may have fired long ago.
            let scan = projector::alert::alerts(tenant, events, at, i64::MIN);
            let name = source.display_name(tenant);
            Ok(Answer::Page(super::alerts::alerts_page(
                lang,
                (tenant, &name),
                &scan.alerts,
                (&timezone_of(events), at),
            )))
        },
    )
    .await
}

async fn follow_up(
    State(viewer): State<Viewer>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    document_read(
        &viewer,
        (tenant, "follow-up"),
        lang,
        (&headers, &uri),
        move |source, tenant, events| {
            let actions = projector::story::open_actions(tenant, events, now());
            let name = source.display_name(tenant);
            Ok(Answer::Page(super::follow_up::follow_up_page(
                lang,
                (tenant, &name),
                &actions,
                &timezone_of(events),
            )))
        },
    )
    .await
}

/// The tenant's agreement versions with their publishers and approvals.
async fn agreements(
    State(viewer): State<Viewer>,
    Path(tenant): Path<String>,
    Query(params): Query<Params>,
    (headers, uri): (HeaderMap, OriginalUri),
) -> Response {
    let lang = params.lang();
    document_read(
        &viewer,
        (tenant, super::agreements::DOC),
        lang,
        (&headers, &uri),
        move |source, tenant, events| {
            let refs: Vec<&LedgerEvent> = events.iter().collect();
            let history = projector::agreement::History::from_events(&refs);
            let name = source.display_name(tenant);
            Ok(Answer::Page(super::agreements::agreements_page(
                lang,
                (tenant, &name),
                &history,
                &timezone_of(events),
            )))
        },
    )
    .await
}
