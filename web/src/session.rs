//! Viewer sessions: who signed in, kept in an encrypted and authenticated
//! cookie (the `cookie` crate's private jar: AES-256-GCM under a key held
//! only by this process), with its expiry inside the sealed value, so a
//! session cannot be forged, read, altered or extended by the browser.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Lax` (not sent
//! on cross-site subrequests or form posts, but sent when the identity
//! provider sends the browser back), `Path=/`, and `Secure` when the
//! service's public URL is https. The key is made afresh at every start:
//! restarting the service signs everyone out, and no key file needs
//! guarding. Sign-out removes the cookie; a copy kept elsewhere stays
//! valid until its expiry, which is why sessions are short
//! (`SESSION_HOURS_DEFAULT`).

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};

use crate::access::{Caller, Reader};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tla_session";

/// A working day: long enough not to sign people out at lunch, short
/// enough that a forgotten session on a shared computer lapses overnight.
pub const SESSION_HOURS_DEFAULT: u64 = 8;

/// The sealed content of a session cookie.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    reader: Reader,
    /// Unix seconds after which the session is refused.
    expires: i64,
}

/// The sessions of one service process.
pub struct Sessions {
    key: Key,
    secure: bool,
    lifetime: Duration,
}

impl Sessions {
    /// Sessions lasting `lifetime`, under a key made now; `secure` when
    /// the public URL is https.
    pub fn new(secure: bool, lifetime: Duration) -> Sessions {
        Sessions {
            key: Key::generate(),
            secure,
            lifetime,
        }
    }

    /// The caller a request's session cookie names: `Anonymous` without
    /// one, `Refused` for one that does not open under the key (forged,
    /// or from before a restart) or has expired.
    pub fn caller(&self, headers: &HeaderMap) -> Caller {
        match self.open(headers, SESSION_COOKIE) {
            None => Caller::Anonymous,
            Some(None) => Caller::Refused("the session is not valid; sign in again".into()),
            Some(Some(value)) => match serde_json::from_str::<Sealed>(&value) {
                Ok(sealed) if sealed.expires > now() => Caller::Known(sealed.reader),
                Ok(_) => Caller::Refused("the session has expired; sign in again".into()),
                Err(_) => Caller::Refused("the session is not valid; sign in again".into()),
            },
        }
    }

    /// The `Set-Cookie` value that starts a session for `reader`.
    pub fn start(&self, reader: &Reader) -> HeaderValue {
        let seconds = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let sealed = Sealed {
            reader: reader.clone(),
            expires: now().saturating_add(seconds),
        };
        // A struct of strings and numbers always serialises.
        let value = serde_json::to_string(&sealed).unwrap_or_default();
        self.seal(SESSION_COOKIE, value, self.lifetime)
    }

    /// The `Set-Cookie` value that ends the session.
    pub fn end(&self) -> HeaderValue {
        self.remove(SESSION_COOKIE)
    }

    /// A `Set-Cookie` value holding `value` encrypted under `name`, for
    /// `lifetime` (also used for the sign-in flow's short-lived state).
    pub fn seal(&self, name: &'static str, value: String, lifetime: Duration) -> HeaderValue {
        let mut jar = CookieJar::new();
        let max_age = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let cookie = Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        jar.private_mut(&self.key).add(cookie);
        header_value(jar.get(name))
    }

    /// A `Set-Cookie` value that removes the cookie `name`.
    pub fn remove(&self, name: &'static str) -> HeaderValue {
        let cookie = Cookie::build((name, ""))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(cookie::time::Duration::ZERO)
            .build();
        header_value(Some(&cookie))
    }

    /// The decrypted value of the cookie `name`: `None` when the request
    /// has none, `Some(None)` when it does not open under the key.
    pub fn open(&self, headers: &HeaderMap, name: &str) -> Option<Option<String>> {
        let mut jar = CookieJar::new();
        let mut present = false;
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(text.to_owned()).flatten() {
                if cookie.name() == name {
                    present = true;
                    jar.add_original(cookie);
                }
            }
        }
        if !present {
            return None;
        }
        Some(
            jar.private(&self.key)
                .get(name)
                .map(|c| c.value().to_owned()),
        )
    }
}

/// A cookie as a header value; cookies built here are ASCII (the private
/// jar base64-encodes its value), so the conversion cannot fail.
fn header_value(cookie: Option<&Cookie<'_>>) -> HeaderValue {
    cookie
        .and_then(|c| HeaderValue::from_str(&c.to_string()).ok())
        .unwrap_or_else(|| HeaderValue::from_static(""))
}

use schemas::clock::now_seconds as now;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Readable;

    fn request_with(cookie: &HeaderValue) -> HeaderMap {
        // Set-Cookie's first attribute is the name=value pair a browser
        // sends back.
        let pair = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        headers
    }

    fn reader() -> Reader {
        Reader {
            who: "alver-reader".into(),
            tenants: Readable::Tenants(["alver".to_owned()].into()),
        }
    }

    #[test]
    fn a_session_opens_under_its_key_only() {
        let sessions = Sessions::new(true, Duration::from_secs(60));
        let cookie = sessions.start(&reader());
        let text = cookie.to_str().unwrap();
        for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=60"] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
        assert!(!text.contains("alver"), "the cookie is encrypted: {text}");
        assert_eq!(
            sessions.caller(&request_with(&cookie)),
            Caller::Known(reader())
        );
        let other = Sessions::new(false, Duration::from_secs(60));
        assert!(matches!(
            other.caller(&request_with(&cookie)),
            Caller::Refused(_)
        ));
        assert!(!other.start(&reader()).to_str().unwrap().contains("Secure"));
        assert_eq!(sessions.caller(&HeaderMap::new()), Caller::Anonymous);
    }

    #[test]
    fn an_expired_session_is_refused() {
        let sessions = Sessions::new(false, Duration::ZERO);
        let cookie = sessions.start(&reader());
        assert_eq!(
            sessions.caller(&request_with(&cookie)),
            Caller::Refused("the session has expired; sign in again".into())
        );
        let ended = sessions.end();
        assert!(ended.to_str().unwrap().contains("Max-Age=0"));
    }
}
