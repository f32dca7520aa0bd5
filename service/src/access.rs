//! Who reads through a service: the tokens file's read grants (and the
//! auditor role) as the read side's [`Credentials`], the holder file's
//! local token, and the viewer's sessions.
//!
//! The holder token lets `tla report` on the same machine fetch a report
//! from the service that holds the ledger: it is made at start, written
//! only into the holder file (mode 0600, in the data directory, whose
//! reader can read the ledger anyway) and reads every tenant as
//! `HOLDER_READER`. With `--oidc FILE` the viewer's sign-in also offers
//! the OpenID Connect provider of `crate::oidc`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ingest::auth::{Tenants, Tokens};
use web::access::{Access, Credentials, Readable, Reader};
use web::session::Sessions;

use crate::oidc::{Oidc, OidcConfig};

/// The name the holder token reads under, in the access log.
pub const HOLDER_READER: &str = "tla (holder file)";

/// How a service lets people read (`--tokens`, `--public-url`,
/// `--session-hours`, `--oidc`).
#[derive(Clone, Debug, Default)]
pub struct ReadConfig {
    /// The tokens file of `tla ledger run` and `tla projector serve`
    /// (`tla serve` and `tla ingest serve` name theirs anyway); without
    /// one nobody but the holder token reads.
    pub tokens: Option<PathBuf>,
    /// The address people reach the service at; `https://...` makes the
    /// session cookie `Secure`.
    pub public_url: Option<String>,
    /// How long a viewer session lasts.
    pub session_hours: u64,
    /// The OpenID Connect configuration file (`crate::oidc`): single
    /// sign-on for the viewer.
    pub oidc: Option<PathBuf>,
}

impl ReadConfig {
    /// The configured tokens, or none.
    pub fn load_tokens(&self) -> anyhow::Result<Tokens> {
        match &self.tokens {
            Some(path) => Ok(Tokens::load(path)?),
            None => Ok(Tokens::default()),
        }
    }

    /// The read side's access over `tokens` and the holder token, with
    /// the viewer's sign-in sessions.
    pub fn access(&self, tokens: Tokens, holder_token: String) -> anyhow::Result<Access> {
        if let Some(url) = &self.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                anyhow::bail!("--public-url {url:?} is not an http:// or https:// URL");
            }
        }
        if self.session_hours == 0 {
            anyhow::bail!("--session-hours must be at least 1");
        }
        let secure = self
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let lifetime = Duration::from_secs(self.session_hours.saturating_mul(3600));
        let credentials = TokenReaders {
            tokens,
            holder_token,
        };
        let access = Access::guarded(
            Arc::new(credentials),
            Some(Arc::new(Sessions::new(secure, lifetime))),
        );
        match &self.oidc {
            Some(path) => {
                let config = OidcConfig::load(path, self.public_url.as_deref())?;
                Ok(access.with_sign_on(Arc::new(Oidc::new(config))))
            }
            None => Ok(access),
        }
    }
}

/// A fresh random holder token.
pub fn holder_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes)
        .context("cannot draw a random holder token")?;
    Ok(hex::encode(bytes))
}

/// The tokens file's read grants and the holder token.
struct TokenReaders {
    tokens: Tokens,
    holder_token: String,
}

impl Credentials for TokenReaders {
    fn bearer(&self, token: &str) -> Option<Reader> {
        if ingest::auth::secret_matches(&self.holder_token, token) {
            return Some(Reader {
                who: HOLDER_READER.to_owned(),
                tenants: Readable::All,
            });
        }
        let grant = self.tokens.grant(token)?;
        let tenants = match &grant.read {
            Tenants::None => Readable::Tenants(Default::default()),
            Tenants::Some(tenants) => Readable::Tenants(tenants.clone()),
            Tenants::All => Readable::All,
        };
        Some(Reader {
            who: grant.name.clone(),
            tenants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_become_readers() {
        let tokens = Tokens::parse(
            "[[token]]\nname='a'\ntoken='0123456789abcdef'\nwrite=['alver']\nread=['alver']\n\
             [[token]]\nname='w'\ntoken='fedcba9876543210'\nwrite=['fedje']\n\
             [[token]]\nname='r'\ntoken='auditor-0123456789'\nrole='auditor'\n",
        )
        .unwrap();
        let readers = TokenReaders {
            tokens,
            holder_token: "holder-0123456789abcdef".into(),
        };
        let a = readers.bearer("0123456789abcdef").unwrap();
        assert!(a.may_read("alver") && !a.may_read("fedje") && a.who == "a");
        let writer = readers.bearer("fedcba9876543210").unwrap();
        assert!(!writer.may_read("fedje"), "writing does not imply reading");
        assert!(readers.bearer("auditor-0123456789").unwrap().may_read("x"));
        let holder = readers.bearer("holder-0123456789abcdef").unwrap();
        assert_eq!(
            (holder.who.as_str(), holder.tenants),
            (HOLDER_READER, Readable::All)
        );
        assert!(readers.bearer("holder-0123456789abcdeX").is_none());
    }
}
