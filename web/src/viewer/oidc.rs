//! The OpenID Connect sign-in's two routes (`crate::signon` has the
//! flow): `GET /sign-in/oidc?next=PATH` asks the provider for an
//! authorization request, seals its state, nonce and PKCE verifier in the
//! flow cookie and sends the browser to the provider; `GET
//! /sign-in/oidc/callback` is where the provider sends it back: the flow
//! cookie must open and hold the `state` returned, the provider redeems
//! the code and verifies the ID token, and a reader whose claims map to a
//! grant gets the same session as the token sign-in. Someone the provider
//! knows but whose claims map to nothing is refused with 403 and gets no
//! session; every outcome is in the access log.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use projector::render::Lang;

use super::page;
use super::routes::{self, html_response, lang_of, see_other, NextParams, Viewer};
use super::signin;
use super::words::words;
use crate::access;
use crate::signon::{Pending, Provider, SignOnError, FLOW_COOKIE};

/// What the access log calls these sign-ins.
const WHAT: &str = "sign-in oidc";

/// `GET /sign-in/oidc`: off to the identity provider (404 without one).
pub(super) async fn begin(
    State(viewer): State<Viewer>,
    Query(params): Query<NextParams>,
) -> Response {
    let (Some(sessions), Some(provider)) = (viewer.access.sessions(), viewer.access.sign_on())
    else {
        return routes::not_found_page(Lang::Nn);
    };
    let lang = lang_of(params.lang.as_deref());
    let next = signin::local_path(params.next.as_deref().unwrap_or("/"));
    let provider = Arc::clone(provider);
    let begun = match tokio::task::spawn_blocking(move || provider.begin()).await {
        Ok(Ok(begun)) => begun,
        Ok(Err(error)) => return failed(&viewer, lang, &next, error),
        Err(error) => return unavailable(lang, &error.to_string()),
    };
    // The provider's URL, made by the `openidconnect` crate from its
    // discovery document, is a valid header value unless the document
    // is nonsense.
    let Ok(location) = HeaderValue::from_str(&begun.url) else {
        return unavailable(
            lang,
            "the identity provider's authorization URL is not valid",
        );
    };
    let pending = Pending::new(begun.flow, next, lang.tag().to_owned(), routes::now());
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.append(header::SET_COOKIE, pending.seal(sessions));
    response
}

/// The query the provider sends the browser back with (RFC 6749, 4.1.2).
#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sign-in/oidc/callback`: the provider's answer.
pub(super) async fn callback(
    State(viewer): State<Viewer>,
    Query(answer): Query<Callback>,
    headers: HeaderMap,
) -> Response {
    let (Some(sessions), Some(provider)) = (viewer.access.sessions(), viewer.access.sign_on())
    else {
        return routes::not_found_page(Lang::Nn);
    };
    let state = answer.state.as_deref().unwrap_or("");
    let mut response = match Pending::open(sessions, &headers, state, routes::now()) {
        Ok(pending) => finish(&viewer, Arc::clone(provider), pending, answer).await,
        Err(problem) => {
            let error = SignOnError::Refused(problem);
            failed(&viewer, Lang::Nn, "/", error)
        }
    };
    // A flow is used once, whatever its outcome.
    response
        .headers_mut()
        .append(header::SET_COOKIE, sessions.remove(FLOW_COOKIE));
    response
}

/// The end of a sign-in whose flow cookie came back with its state.
async fn finish(
    viewer: &Viewer,
    provider: Arc<dyn Provider>,
    pending: Pending,
    answer: Callback,
) -> Response {
    let lang = lang_of(Some(&pending.lang));
    if let Some(error) = answer.error {
        let detail = answer
            .error_description
            .map_or_else(String::new, |d| format!(": {d}"));
        let problem = format!("the identity provider answered {error}{detail}");
        return failed(viewer, lang, &pending.next, SignOnError::Refused(problem));
    }
    let Some(code) = answer.code else {
        let problem = "the identity provider's answer has no authorization code".to_owned();
        return failed(viewer, lang, &pending.next, SignOnError::Refused(problem));
    };
    let flow = pending.flow.clone();
    let outcome = tokio::task::spawn_blocking(move || provider.finish(&code, &flow)).await;
    let reader = match outcome {
        Ok(Ok(reader)) => reader,
        Ok(Err(error)) => return failed(viewer, lang, &pending.next, error),
        Err(error) => return unavailable(lang, &error.to_string()),
    };
    let Some(sessions) = viewer.access.sessions() else {
        return routes::not_found_page(lang);
    };
    access::log(&reader.who, WHAT, "", StatusCode::SEE_OTHER);
    let mut response = see_other(&pending.next);
    response
        .headers_mut()
        .append(header::SET_COOKIE, sessions.start(&reader));
    response
}

/// The answer to a sign-in that did not end in a session, logged: 403
/// for someone whose claims grant nothing, the sign-in page (401) saying
/// why for a refused answer, 502 when the provider did not answer.
fn failed(viewer: &Viewer, lang: Lang, next: &str, error: SignOnError) -> Response {
    let (who, response) = match error {
        SignOnError::NoGrant { who } => {
            let page = signin::no_grant_page(lang, &who);
            (who, html_response(StatusCode::FORBIDDEN, page))
        }
        SignOnError::Refused(problem) => {
            let provider = routes::provider_name(viewer);
            let page = signin::sign_in_page(lang, next, Some(&problem), provider);
            let who = format!("(refused: {problem})");
            (who, html_response(StatusCode::UNAUTHORIZED, page))
        }
        SignOnError::Unavailable(problem) => {
            (format!("(refused: {problem})"), unavailable(lang, &problem))
        }
    };
    access::log(&who, WHAT, "", response.status());
    response
}

/// 502: the identity provider did not answer as it should.
fn unavailable(lang: Lang, problem: &str) -> Response {
    let w = words(lang);
    let page = page::error_page(lang, w.sign_in_unavailable, problem, signin::SIGN_IN_PATH);
    html_response(StatusCode::BAD_GATEWAY, page)
}
