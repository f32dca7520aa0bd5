//! Bearer tokens, from a TOML file: each token may write some tenants and
//! read some tenants (`docs/OPERATIONS.md`, pinned in `docs/CLI.md`).
//! A request that would write a tenant its token may not write is refused
//! whole; reads are checked per tenant by the read side.
//!
//! ```toml
//! [[token]]
//! name = "zabbix"                  # who holds it; appears in the logs
//! token = "a long random secret"
//! write = ["alver", "fedje"]       # or ["*"] for every tenant; `tenants` is a synonym
//! read = ["alver"]                 # tenants whose reports it may read
//! types = ["outage.*"]             # event types it may write (trailing `*`)
//!
//! [[token]]
//! name = "revisor"
//! token = "another long random secret"
//! role = "auditor"                 # reads every tenant, writes none
//!
//! [[token]]
//! name = "prometheus"
//! token = "a third long random secret"
//! role = "metrics"                 # scrapes /metrics, reads and writes nothing
//! ```
//!
//! While the file lists a `metrics` token, `/metrics` needs one.
//!
//! Writing a tenant does not imply reading it: a monitoring system sends
//! events but has no business reading reports. A token with neither list
//! (and no role) may do nothing.
//!
//! `types` lists the event types a token may write, each a type's name or a
//! prefix ending in `*` (`outage.*`, `incident.*`, `*`). Without `types` a
//! token may write every type but `agreement.published` and
//! `agreement.approved`: those change which agreement is in force
//! (SEMANTICS.md section 12), so a token writes them only when its `types`
//! name them (`agreement.*`, `agreement.approved`, `*`). `report.issued` no
//! token writes. A request with one type its token may not write is
//! refused whole (403).

use std::collections::BTreeSet;
use std::path::Path;

use schemas::EventType;
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
    write: Option<Vec<String>>,
    /// The earlier spelling of `write`.
    tenants: Option<Vec<String>>,
    read: Option<Vec<String>>,
    types: Option<Vec<String>>,
    role: Option<Role>,
}

/// A role that sets both lists at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every tenant, writes none: an auditor, inside or outside.
    Auditor,
    /// Scrapes `/metrics`; reads and writes no tenant.
    Metrics,
}

/// Which tenants a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    None,
    Some(BTreeSet<String>),
    /// `"*"`: every tenant.
    All,
}

impl Tenants {
    pub fn contains(&self, tenant: &str) -> bool {
        match self {
            Tenants::None => false,
            Tenants::Some(tenants) => tenants.contains(tenant),
            Tenants::All => true,
        }
    }

    /// The list of a token file's entry; an empty list is a mistake rather
    /// than a way to say "none" (leave the key out for that).
    fn from_list(list: Option<Vec<String>>, at: &str) -> Result<Tenants, String> {
        match list {
            None => Ok(Tenants::None),
            Some(list) if list.is_empty() => Err(format!(
                "{at}: empty; name tenants or \"*\", or leave it out"
            )),
            Some(list) if list.iter().any(|t| t == "*") => Ok(Tenants::All),
            Some(list) => Ok(Tenants::Some(list.into_iter().collect())),
        }
    }
}

/// Which event types a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Types {
    /// No `types` in the entry: every type but those that change the
    /// agreement ([`EventType::changes_agreement`]).
    Default,
    /// The entry's `types`: names and prefixes ending in `*`.
    Listed(Vec<String>),
}

impl Types {
    /// Whether the grant covers `event_type` (never a system-only type).
    pub fn contains(&self, event_type: EventType) -> bool {
        if event_type.is_system_only() {
            return false;
        }
        match self {
            Types::Default => !event_type.changes_agreement(),
            Types::Listed(patterns) => patterns
                .iter()
                .any(|p| type_matches(p, event_type.as_str())),
        }
    }

    /// The list of a token file's entry: each entry must match at least
    /// one type, so that a misspelt `incdent.*` is an error, not a grant
    /// of nothing.
    fn from_list(list: Option<Vec<String>>, at: &str) -> Result<Types, String> {
        let Some(list) = list else {
            return Ok(Types::Default);
        };
        if list.is_empty() {
            return Err(format!(
                "{at}: empty; name event types (`outage.*`, `incident.opened`), or leave it out"
            ));
        }
        for (i, pattern) in list.iter().enumerate() {
            let star = pattern.find('*');
            if star.is_some_and(|at| at + 1 != pattern.len()) {
                return Err(format!(
                    "{at}[{i}]: {pattern:?}: `*` may only end a pattern (`outage.*`)"
                ));
            }
            let matches_any = EventType::ALL
                .iter()
                .any(|t| !t.is_system_only() && type_matches(pattern, t.as_str()));
            if !matches_any {
                return Err(format!(
                    "{at}[{i}]: {pattern:?} names no event type a producer may write                      (types: docs/SEMANTICS.md section 3)"
                ));
            }
        }
        Ok(Types::Listed(list))
    }
}

/// Whether `pattern` (a type's name, or a prefix ending in `*`) matches
/// the type named `name`.
fn type_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Who a token belongs to and what it may write and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub name: String,
    pub write: Tenants,
    pub read: Tenants,
    /// The event types it may write (for the tenants of `write`).
    pub types: Types,
    /// May scrape `/metrics` (the `metrics` role).
    pub metrics: bool,
}

impl Grant {
    pub fn may_write(&self, tenant: &str) -> bool {
        self.write.contains(tenant)
    }

    /// Whether the token may write events of `event_type`.
    pub fn may_send(&self, event_type: EventType) -> bool {
        self.types.contains(event_type)
    }

    pub fn may_read(&self, tenant: &str) -> bool {
        self.read.contains(tenant)
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
        let mut entries: Vec<(String, Grant)> = Vec::new();
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
            entries.push((entry.token.clone(), grant(entry, &at)?));
        }
        Ok(Tokens { entries })
    }

    /// The grant of a presented token, compared in constant time per entry.
    pub fn grant(&self, presented: &str) -> Option<&Grant> {
        self.entries
            .iter()
            .find(|(token, _)| secret_matches(token, presented))
            .map(|(_, grant)| grant)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `/metrics` needs a token: the file lists a `metrics` one.
    pub fn guards_metrics(&self) -> bool {
        self.entries.iter().any(|(_, grant)| grant.metrics)
    }
}

/// The grant of one entry of a token file.
fn grant(entry: Entry, at: &str) -> Result<Grant, String> {
    let write = match (entry.write, entry.tenants) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{at}: both `write` and `tenants` (its earlier spelling); keep `write`"
            ))
        }
        (Some(list), None) => Tenants::from_list(Some(list), &format!("{at}.write"))?,
        (None, list) => Tenants::from_list(list, &format!("{at}.tenants"))?,
    };
    let read = Tenants::from_list(entry.read, &format!("{at}.read"))?;
    let listed_types = entry.types.is_some();
    let types = Types::from_list(entry.types, &format!("{at}.types"))?;
    match entry.role {
        None => Ok(Grant {
            name: entry.name,
            write,
            read,
            types,
            metrics: false,
        }),
        Some(_) if listed_types => Err(format!(
            "{at}.types: a token with a role writes nothing; drop `types`"
        )),
        Some(role) if write != Tenants::None || read != Tenants::None => Err(match role {
            Role::Auditor => format!(
                "{at}.role: an auditor reads every tenant and writes none; drop `write` and `read`"
            ),
            Role::Metrics => format!(
                "{at}.role: a metrics token reads and writes no tenant; drop `write` and `read`"
            ),
        }),
        Some(Role::Auditor) => Ok(Grant {
            name: entry.name,
            write: Tenants::None,
            read: Tenants::All,
            types: Types::Default,
            metrics: false,
        }),
        Some(Role::Metrics) => Ok(Grant {
            name: entry.name,
            write: Tenants::None,
            read: Tenants::None,
            types: Types::Default,
            metrics: true,
        }),
    }
}

/// Whether a presented secret equals a known one, in a time that does not
/// depend on where they differ (`subtle`; only their lengths may show).
pub fn secret_matches(known: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(known.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(secret_matches("0123456789abcdef", "0123456789abcdef"));
        for other in [
            "0123456789abcdeF",
            "0123456789abcde",
            "0123456789abcdef0",
            "",
        ] {
            assert!(!secret_matches("0123456789abcdef", other), "{other:?}");
        }
    }

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
        assert!(a.may_write("alver") && !a.may_write("fedje"));
        assert!(!a.may_read("alver"), "writing does not imply reading");
        assert!(tokens.grant("fedcba9876543210").unwrap().may_write("fedje"));
        assert!(tokens.grant("0123456789abcdeX").is_none());
        assert!(tokens.grant("").is_none());
    }

    #[test]
    fn types_limit_what_a_token_writes() {
        let grant = |body: &str| {
            let text =
                format!("[[token]]\nname='t'\ntoken='0123456789abcdef'\nwrite=['*']\n{body}\n");
            let tokens = Tokens::parse(&text).unwrap_or_else(|e| panic!("{body}: {e}"));
            tokens.grant("0123456789abcdef").unwrap().clone()
        };
        use EventType as T;
        let default = grant("");
        assert!(default.may_send(T::OutageStarted) && default.may_send(T::ReportAcknowledged));
        assert!(
            !default.may_send(T::AgreementPublished) && !default.may_send(T::AgreementApproved)
        );
        assert!(!default.may_send(T::ReportIssued));
        let itsm = grant("types=['incident.*']");
        let allowed: Vec<_> = T::ALL.into_iter().filter(|t| itsm.may_send(*t)).collect();
        assert_eq!(allowed.len(), 7, "{allowed:?}");
        assert!(allowed.iter().all(|t| t.as_str().starts_with("incident.")));
        let steward = grant("types=['agreement.*', 'outage.started']");
        assert!(steward.may_send(T::AgreementPublished) && steward.may_send(T::AgreementApproved));
        assert!(steward.may_send(T::OutageStarted) && !steward.may_send(T::OutageEnded));
        let everything = grant("types=['*']");
        assert!(
            everything.may_send(T::AgreementPublished) && !everything.may_send(T::ReportIssued)
        );
        let entry = |body: &str| format!("[[token]]\nname='t'\ntoken='0123456789abcdef'\n{body}\n");
        check(&entry("write=['a']\ntypes=[]"), Err(".types: empty"));
        check(
            &entry("write=['a']\ntypes=['incdent.*']"),
            Err(".types[0]: \"incdent.*\" names no event type"),
        );
        check(
            &entry("write=['a']\ntypes=['report.issued']"),
            Err("names no event type"),
        );
        check(
            &entry("write=['a']\ntypes=['inc*.opened']"),
            Err("`*` may only end"),
        );
        check(
            &entry("role='auditor'\ntypes=['*']"),
            Err("a token with a role writes nothing"),
        );
    }

    #[test]
    fn write_read_and_the_auditor_role() {
        let entry = |body: &str| format!("[[token]]\nname='t'\ntoken='0123456789abcdef'\n{body}\n");
        let grant = |body: &str| {
            let tokens = Tokens::parse(&entry(body)).unwrap_or_else(|e| panic!("{body}: {e}"));
            tokens.grant("0123456789abcdef").unwrap().clone()
        };
        let both = grant("write=['alver']\nread=['alver','fedje']");
        assert_eq!(both.write, Tenants::Some(["alver".to_owned()].into()));
        assert!(both.may_read("fedje") && !both.may_write("fedje"));
        let auditor = grant("role='auditor'");
        assert_eq!((auditor.write, auditor.read), (Tenants::None, Tenants::All));
        let nothing = grant("");
        assert_eq!(
            (nothing.write, nothing.read),
            (Tenants::None, Tenants::None)
        );
        check(
            &entry("write=['a']\ntenants=['a']"),
            Err("both `write` and `tenants`"),
        );
        check(&entry("read=[]"), Err(".read: empty"));
        check(
            &entry("role='auditor'\nwrite=['a']"),
            Err("an auditor reads every tenant"),
        );
        check(&entry("role='admin'"), Err("unknown variant"));
        let scraper = grant("role='metrics'");
        assert!(scraper.metrics && scraper.read == Tenants::None && scraper.write == Tenants::None);
        check(
            &entry("role='metrics'\nread=['a']"),
            Err("a metrics token reads and writes no tenant"),
        );
    }
}
