//! Who may read which tenant, and the access log.
//!
//! Every read of the service (the `/v1/...` API and the viewer's pages)
//! goes through an [`Access`]: it names the caller from a bearer token
//! (`Authorization: Bearer ...`, looked up through the [`Credentials`]
//! the binary gives it, over the tokens file) or from a viewer session
//! cookie (`session`; a session starts with a token or through the
//! OpenID Connect provider of `signon`), and says which tenants that
//! caller may read. A caller who is not known is answered 401, one who
//! may not read the tenant 403; neither learns anything of the tenant.
//!
//! The access log (ISO/IEC 27001 A.8.15) is [`log`]: one structured
//! `tracing` event with the target [`ACCESS_LOG_TARGET`] per read of a
//! tenant's data, saying who, what, which tenant and the HTTP status;
//! refusals are logged as well. `docs/OPERATIONS.md` says where it goes.
//!
//! This crate does not read the tokens file (that is `ingest::auth`, and
//! `web` does not depend on `ingest`): the binary implements
//! [`Credentials`] over it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::session::Sessions;
use crate::signon::Provider;

/// The `tracing` target of the access log: filter or route on it
/// (`TLA_LOG=info,tla::access=info`).
pub const ACCESS_LOG_TARGET: &str = "tla::access";

/// The tenants a reader may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readable {
    /// Every tenant (the provider's staff, auditors).
    All,
    /// These tenants only (none when empty).
    Tenants(BTreeSet<String>),
}

impl Readable {
    pub fn contains(&self, tenant: &str) -> bool {
        match self {
            Readable::All => true,
            Readable::Tenants(tenants) => tenants.contains(tenant),
        }
    }
}

/// A caller the service knows, and what it may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reader {
    /// Who: a token's name, or an OpenID Connect subject; it is what the
    /// access log says.
    pub who: String,
    pub tenants: Readable,
}

impl Reader {
    pub fn may_read(&self, tenant: &str) -> bool {
        self.tenants.contains(tenant)
    }
}

/// What the service knows of bearer tokens (implemented by the binary
/// over the tokens file).
pub trait Credentials: Send + Sync + 'static {
    /// The reader a presented token names, `None` when no token matches.
    fn bearer(&self, token: &str) -> Option<Reader>;
}

/// Who called, as far as the request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Known(Reader),
    /// No credentials at all.
    Anonymous,
    /// Credentials that were refused (an unknown token, a malformed
    /// header); the reason is for the answer and the log.
    Refused(String),
}

/// How the service decides who reads.
#[derive(Clone)]
pub struct Access {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// Everyone reads everything as `who`: the local viewers (`tla view`,
    /// `tla demo --serve`) over a ledger file the user can read anyway.
    Open { who: String },
    Guarded {
        credentials: Arc<dyn Credentials>,
        sessions: Option<Arc<Sessions>>,
        /// The OpenID Connect provider the viewer's sign-in offers.
        sign_on: Option<Arc<dyn Provider>>,
    },
}

impl Access {
    /// No sign-in: every caller reads every tenant, logged as `who`.
    pub fn open(who: &str) -> Access {
        Access {
            kind: Kind::Open {
                who: who.to_owned(),
            },
        }
    }

    /// Callers name themselves with a bearer token, or with a session
    /// cookie when `sessions` is given (the viewer's sign-in).
    pub fn guarded(credentials: Arc<dyn Credentials>, sessions: Option<Arc<Sessions>>) -> Access {
        Access {
            kind: Kind::Guarded {
                credentials,
                sessions,
                sign_on: None,
            },
        }
    }

    /// This access, with the viewer's sign-in also offering `provider`
    /// (single sign-on; it needs sessions, and the open access has no
    /// sign-in to offer it on).
    pub fn with_sign_on(mut self, provider: Arc<dyn Provider>) -> Access {
        if let Kind::Guarded { sign_on, .. } = &mut self.kind {
            *sign_on = Some(provider);
        }
        self
    }

    /// The OpenID Connect provider of the viewer's sign-in, if it has one.
    pub fn sign_on(&self) -> Option<&Arc<dyn Provider>> {
        match &self.kind {
            Kind::Open { .. } => None,
            Kind::Guarded { sign_on, .. } => sign_on.as_ref(),
        }
    }

    /// The sessions of the viewer's sign-in, if it has them.
    pub fn sessions(&self) -> Option<&Arc<Sessions>> {
        match &self.kind {
            Kind::Open { .. } => None,
            Kind::Guarded { sessions, .. } => sessions.as_ref(),
        }
    }

    pub fn credentials(&self) -> Option<&Arc<dyn Credentials>> {
        match &self.kind {
            Kind::Open { .. } => None,
            Kind::Guarded { credentials, .. } => Some(credentials),
        }
    }

    /// Whether a caller must name itself (false for the local viewers).
    pub fn is_guarded(&self) -> bool {
        matches!(self.kind, Kind::Guarded { .. })
    }

    /// Who calls: a bearer token wins over a session cookie.
    pub fn caller(&self, headers: &HeaderMap) -> Caller {
        let (credentials, sessions) = match &self.kind {
            Kind::Open { who } => {
                return Caller::Known(Reader {
                    who: who.clone(),
                    tenants: Readable::All,
                })
            }
            Kind::Guarded {
                credentials,
                sessions,
                ..
            } => (credentials, sessions),
        };
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            return match bearer_token(value) {
                Some(token) => credentials
                    .bearer(token)
                    .map_or_else(|| Caller::Refused("unknown token".into()), Caller::Known),
                None => Caller::Refused("the Authorization header is not `Bearer <token>`".into()),
            };
        }
        match sessions {
            Some(sessions) => sessions.caller(headers),
            None => Caller::Anonymous,
        }
    }
}

/// The token of `Authorization: Bearer <token>`; the scheme is
/// case-insensitive (RFC 9110, section 11.1).
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
}

/// One line of the access log: `who` read (or was refused) `what` of
/// `tenant`, answered with `status`.
pub fn log(who: &str, what: &str, tenant: &str, status: StatusCode) {
    tracing::info!(
        target: ACCESS_LOG_TARGET,
        who,
        what,
        tenant,
        status = status.as_u16(),
        "read"
    );
}

/// The name a caller is logged under.
pub fn who(caller: &Caller) -> String {
    match caller {
        Caller::Known(reader) => reader.who.clone(),
        Caller::Anonymous => "(anonymous)".to_owned(),
        Caller::Refused(reason) => format!("(refused: {reason})"),
    }
}

/// An RFC 9457 problem document, in the shape the receivers use.
pub fn problem(status: StatusCode, slug: &str, field: &str, detail: String) -> Response {
    let body = serde_json::json!({
        "type": format!("https://tla-ledger.invalid/problems/{slug}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "errors": [{"field": field, "detail": detail}],
    });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The API's answer to a caller who may not read `tenant`: 401 for one
/// not known, 403 for one who is; `None` when the caller may read it.
pub fn refusal(caller: &Caller, tenant: &str) -> Option<Response> {
    match caller {
        Caller::Known(reader) if reader.may_read(tenant) => None,
        Caller::Known(reader) => Some(problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "tenant",
            format!("{:?} may not read tenant {tenant:?}", reader.who),
        )),
        Caller::Anonymous => Some(problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authorization",
            "send Authorization: Bearer <token> with a token that may read the tenant".into(),
        )),
        Caller::Refused(reason) => Some(problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authorization",
            reason.clone(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One;

    impl Credentials for One {
        fn bearer(&self, token: &str) -> Option<Reader> {
            (token == "alver-reader-0123").then(|| Reader {
                who: "alver".into(),
                tenants: Readable::Tenants(["alver".to_owned()].into()),
            })
        }
    }

    fn caller(access: &Access, authorization: Option<&str>) -> Caller {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        access.caller(&headers)
    }

    #[test]
    fn callers_and_refusals() {
        let access = Access::guarded(Arc::new(One), None);
        assert_eq!(caller(&access, None), Caller::Anonymous);
        let known = caller(&access, Some("bearer alver-reader-0123"));
        assert!(matches!(&known, Caller::Known(r) if r.who == "alver"));
        assert!(refusal(&known, "alver").is_none());
        let other = refusal(&known, "fedje").unwrap();
        assert_eq!(other.status(), StatusCode::FORBIDDEN);
        let wrong = caller(&access, Some("Bearer nope"));
        assert_eq!(wrong, Caller::Refused("unknown token".into()));
        assert_eq!(
            refusal(&wrong, "alver").unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let basic = caller(&access, Some("Basic YWxhZGRpbjpvcGVu"));
        assert!(matches!(basic, Caller::Refused(_)));
        let anonymous = refusal(&Caller::Anonymous, "alver").unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn open_access_reads_everything() {
        let open = Access::open("local viewer");
        let Caller::Known(reader) = caller(&open, None) else {
            panic!("the open viewer knows every caller")
        };
        assert!(reader.may_read("fedje") && reader.who == "local viewer");
    }
}
