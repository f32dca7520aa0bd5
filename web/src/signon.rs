//! Single sign-on for the viewer: the OpenID Connect authorization code
//! flow with PKCE, as far as the viewer takes part in it.
//!
//! The protocol itself (discovery, the token request, the ID token's
//! signature, issuer, audience, expiry and nonce, and which claims grant
//! which tenants) is the [`Provider`]'s, which the binary implements with
//! the `openidconnect` crate; this crate holds no HTTP client. What is
//! here is the browser's half: a sign-in starts at `/sign-in/oidc`, which
//! asks the provider for its authorization URL and a fresh state, nonce
//! and PKCE verifier ([`Flow`]), seals them in a short-lived private
//! cookie ([`FLOW_COOKIE`], `SameSite=Lax` so that it comes back on the
//! provider's redirect) and sends the browser on; the provider sends it
//! back to [`CALLBACK_PATH`], where the cookie is opened, its `state`
//! compared with the one the provider returned (a callback the browser
//! did not start is refused), and the provider redeems the code. The
//! cookie is removed whatever the outcome: a flow is used once.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::access::Reader;
use crate::session::Sessions;

/// Where the provider sends the browser back (under the public URL).
pub const CALLBACK_PATH: &str = "/sign-in/oidc/callback";

/// The cookie holding a sign-in in progress.
pub const FLOW_COOKIE: &str = "tla_sign_in";

/// How long a sign-in at the provider may take: enough to type a password
/// and a second factor, short enough that a flow cookie left behind is
/// soon worthless.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// What must come back from the provider for a sign-in to finish: the
/// values the authorization request was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The `state` sent to the provider, which it returns unchanged.
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier whose challenge went to the provider.
    pub verifier: String,
}

/// A sign-in begun: where to send the browser, and what to keep.
#[derive(Debug, Clone)]
pub struct Begun {
    pub url: String,
    pub flow: Flow,
}

/// Why a sign-in did not end in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOnError {
    /// The provider signed the person in, but no grant of the
    /// configuration matches their claims (403): `who` names them.
    NoGrant { who: String },
    /// The provider's answer did not verify, or it refused (401).
    Refused(String),
    /// The provider could not be reached or answered nonsense (502).
    Unavailable(String),
}

/// An OpenID Connect provider, as the viewer uses it. Both calls block
/// (they may talk to the provider): run them on the blocking pool.
pub trait Provider: Send + Sync + 'static {
    /// The provider's name, for "Sign in with <name>".
    fn name(&self) -> &str;

    /// A new authorization request: the provider's URL with a fresh
    /// state, nonce and PKCE challenge, and the [`Flow`] to keep.
    fn begin(&self) -> Result<Begun, SignOnError>;

    /// Redeems the authorization `code` with the flow's PKCE verifier,
    /// verifies the ID token (signature, issuer, audience, expiry and the
    /// flow's nonce) and maps its claims to a reader.
    fn finish(&self, code: &str, flow: &Flow) -> Result<Reader, SignOnError>;
}

/// The sealed content of the flow cookie: the flow, the page to go on
/// to, the page's language, and the flow's own expiry (the cookie's
/// `Max-Age` is only advice to the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub flow: Flow,
    pub next: String,
    pub lang: String,
    /// Unix seconds after which the callback is refused.
    pub expires: i64,
}

impl Pending {
    /// `flow` going on to `next`, expiring `FLOW_LIFETIME` after `now`.
    pub fn new(flow: Flow, next: String, lang: String, now: i64) -> Pending {
        let lifetime = i64::try_from(FLOW_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        Pending {
            flow,
            next,
            lang,
            expires: now.saturating_add(lifetime),
        }
    }

    /// The `Set-Cookie` value that keeps this sign-in until the callback.
    pub fn seal(&self, sessions: &Sessions) -> HeaderValue {
        // A struct of strings and a number always serialises.
        let value = serde_json::to_string(self).unwrap_or_default();
        sessions.seal(FLOW_COOKIE, value, FLOW_LIFETIME)
    }

    /// The sign-in a callback request's cookie holds, checked against the
    /// `state` the provider returned, at `now`; the error says why not, in
    /// words for the person signing in.
    pub fn open(
        sessions: &Sessions,
        headers: &HeaderMap,
        state: &str,
        now: i64,
    ) -> Result<Pending, String> {
        let again = "start the sign-in again";
        let pending = match sessions.open(headers, FLOW_COOKIE) {
            None => {
                return Err(format!(
                    "this browser did not start a sign-in here, or it took too long; {again}"
                ))
            }
            Some(None) => return Err(format!("the sign-in is not valid; {again}")),
            Some(Some(value)) => serde_json::from_str::<Pending>(&value)
                .map_err(|_| format!("the sign-in is not valid; {again}"))?,
        };
        if pending.expires <= now {
            return Err(format!("the sign-in took too long; {again}"));
        }
        if !same(pending.flow.state.as_bytes(), state.as_bytes()) {
            return Err(format!(
                "the identity provider's answer belongs to another sign-in; {again}"
            ));
        }
        Ok(pending)
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn flow() -> Flow {
        Flow {
            state: "state-0123".into(),
            nonce: "nonce-0123".into(),
            verifier: "verifier-0123".into(),
        }
    }

    fn request_with(cookie: &HeaderValue) -> HeaderMap {
        let pair = cookie.to_str().unwrap().split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn a_flow_comes_back_only_with_its_state_and_in_time() {
        let sessions = Sessions::new(false, Duration::from_secs(60));
        let pending = Pending::new(flow(), "/tenants/alver".into(), "en".into(), 1_000);
        let cookie = pending.seal(&sessions);
        let text = cookie.to_str().unwrap();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
        assert!(!text.contains("verifier"), "the cookie is sealed: {text}");
        let headers = request_with(&cookie);
        assert_eq!(
            Pending::open(&sessions, &headers, "state-0123", 1_001),
            Ok(pending)
        );
        for (state, now, why) in [
            ("state-0124", 1_001, "another sign-in"),
            ("state-012", 1_001, "another sign-in"),
            ("state-0123", 1_600, "took too long"),
        ] {
            let refused = Pending::open(&sessions, &headers, state, now).unwrap_err();
            assert!(refused.contains(why), "{state} at {now}: {refused}");
        }
        let other = Sessions::new(false, Duration::from_secs(60));
        let refused = Pending::open(&other, &headers, "state-0123", 1_001).unwrap_err();
        assert!(refused.contains("not valid"), "{refused}");
        let none = Pending::open(&sessions, &HeaderMap::new(), "state-0123", 1_001).unwrap_err();
        assert!(none.contains("did not start"), "{none}");
    }
}
