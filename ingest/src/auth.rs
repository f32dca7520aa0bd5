//! Bearer tokens of the HTTP receivers, from a TOML file: each token is
//! allowed a set of tenants, and a request that would write any other
//! tenant is refused whole.
//!
//! ```toml
//! [[token]]
//! name = "zabbix"                  # who holds it; appears in the logs
//! token = "a long random secret"
//! tenants = ["alver", "fedje"]     # or ["*"] for every tenant
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

/// Shortest token accepted: a token is a password, and a short one can be
/// guessed over HTTP.
pub const TOKEN_LEN_MIN: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token: String,
    tenants: Vec<String>,
}

/// Who a token belongs to and what it may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub name: String,
    /// `None`: every tenant.
    pub tenants: Option<BTreeSet<String>>,
}

impl Grant {
    pub fn allows(&self, tenant: &str) -> bool {
        self.tenants.as_ref().is_none_or(|t| t.contains(tenant))
    }
}

/// The tokens of a token file.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(String, Grant)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error("cannot read the token file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("the token file {path}: {detail}")]
    Invalid { path: String, detail: String },
}

impl Tokens {
    /// Reads and checks a token file.
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TokensError::Read {
            path: name.clone(),
            detail: e.to_string(),
        })?;
        Tokens::parse(&text).map_err(|detail| TokensError::Invalid { path: name, detail })
    }

    /// Parses a token file's text; the error names the entry and field.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        for (index, entry) in file.token.into_iter().enumerate() {
            let at = format!("token[{index}] ({:?})", entry.name);
            if entry.token.len() < TOKEN_LEN_MIN {
                return Err(format!(
                    "{at}.token: shorter than {TOKEN_LEN_MIN} characters"
                ));
            }
            if entries.iter().any(|(t, _)| *t == entry.token) {
                return Err(format!("{at}.token: the same token is listed twice"));
            }
            if entry.tenants.is_empty() {
                return Err(format!("{at}.tenants: empty; name tenants or \"*\""));
            }
            let tenants = if entry.tenants.iter().any(|t| t == "*") {
                None
            } else {
                Some(entry.tenants.into_iter().collect())
            };
            let grant = Grant {
                name: entry.name,
                tenants,
            };
            entries.push((entry.token, grant));
        }
        Ok(Tokens { entries })
    }

    /// The grant of a presented token, compared in constant time per entry.
    pub fn grant(&self, presented: &str) -> Option<&Grant> {
        self.entries
            .iter()
            .find(|(token, _)| constant_time_eq(token.as_bytes(), presented.as_bytes()))
            .map(|(_, grant)| grant)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<(), &str>) {
        match (Tokens::parse(text), expect) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(want)) => assert!(e.contains(want), "{e:?} lacks {want:?}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn token_files() {
        let ok = "[[token]]\nname='z'\ntoken='0123456789abcdef'\ntenants=['alver']\n";
        check(ok, Ok(()));
        check(
            "[[token]]\nname='z'\ntoken='short'\ntenants=['alver']\n",
            Err("token[0] (\"z\").token: shorter"),
        );
        check(
            "[[token]]\nname='z'\ntoken='0123456789abcdef'\ntenants=[]\n",
            Err(".tenants: empty"),
        );
        check(
            "[[token]]\nname='z'\ntoken='0123456789abcdef'\ntenants=['a']\nextra=1\n",
            Err("unknown field"),
        );
        let two = format!("{ok}{ok}");
        check(&two, Err("token[1] (\"z\").token: the same token"));
    }

    #[test]
    fn grants_allow_their_tenants_only() {
        let tokens = Tokens::parse(
            "[[token]]\nname='a'\ntoken='0123456789abcdef'\ntenants=['alver']\n\
             [[token]]\nname='all'\ntoken='fedcba9876543210'\ntenants=['*']\n",
        )
        .unwrap();
        let a = tokens.grant("0123456789abcdef").unwrap();
        assert!(a.allows("alver") && !a.allows("fedje"));
        assert!(tokens.grant("fedcba9876543210").unwrap().allows("fedje"));
        assert!(tokens.grant("0123456789abcdeX").is_none());
        assert!(tokens.grant("").is_none());
    }
}
