//! Tenants as people name them: every `--tenant` takes the tenant's id
//! (`osteroy`) or, as the demo's tables and the viewer show it, its display
//! name ("Osterøy", any case), and a tenant the ledger does not have is an
//! error that lists the ones it has, rather than an empty answer or a
//! report that complains about a missing agreement. `tla tenants` lists
//! them.

use std::collections::BTreeMap;

/// A tenant the ledger has entries for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The id events carry (`osteroy`).
    pub id: String,
    /// The name people know it by ("Osterøy"); empty when none is known.
    pub name: String,
    /// Its entries in the ledger.
    pub entries: u64,
}

impl Tenant {
    /// "osteroy (Osterøy)", or the id alone when it has no other name.
    pub fn describe(&self) -> String {
        match self.name.is_empty() || self.name == self.id {
            true => self.id.clone(),
            false => format!("{} ({})", self.id, self.name),
        }
    }
}

/// Why a `--tenant` names no tenant of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantError {
    /// No tenant has that id or name; `known` are the ledger's tenants.
    Unknown { given: String, known: Vec<Tenant> },
    /// The ledger has no tenants at all.
    Empty { given: String },
    /// Several tenants have that name.
    Ambiguous { given: String, matches: Vec<Tenant> },
}

impl std::fmt::Display for TenantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantError::Unknown { given, known } => write!(
                f,
                "unknown tenant {given:?}: the ledger has no entries for tenant {given:?}; it \
                 has {} (pass an id or a name; `tla tenants` lists them)",
                list(known)
            ),
            TenantError::Empty { given } => write!(
                f,
                "unknown tenant {given:?}: the ledger has no tenants yet; import events first"
            ),
            TenantError::Ambiguous { given, matches } => write!(
                f,
                "tenant {given:?} is ambiguous: it names {}; pass the id",
                list(matches)
            ),
        }
    }
}

impl std::error::Error for TenantError {}

fn list(tenants: &[Tenant]) -> String {
    tenants
        .iter()
        .map(Tenant::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The display name of a tenant id: the demo's municipalities have one
/// ("Osterøy" for `osteroy`); other ids are their own name.
pub fn display_name(id: &str) -> String {
    match demo::tenant_display_name(id) {
        "" => String::new(),
        name => name.to_owned(),
    }
}

/// The tenants of `counts` (a ledger's `tenants()`: id and entries), in id
/// order, with their display names.
pub fn known(counts: &BTreeMap<String, u64>) -> Vec<Tenant> {
    counts
        .iter()
        .map(|(id, entries)| Tenant {
            id: id.clone(),
            name: display_name(id),
            entries: *entries,
        })
        .collect()
}

/// The id of the tenant `given` names among `counts` (a ledger's
/// `tenants()`): the id itself, else the one tenant whose id or display
/// name equals it ignoring case.
pub fn resolve(counts: &BTreeMap<String, u64>, given: &str) -> Result<String, TenantError> {
    if counts.contains_key(given) {
        return Ok(given.to_owned());
    }
    let tenants = known(counts);
    if tenants.is_empty() {
        return Err(TenantError::Empty {
            given: given.to_owned(),
        });
    }
    let wanted = given.trim().to_lowercase();
    let matches: Vec<Tenant> = tenants
        .iter()
        .filter(|t| t.id.to_lowercase() == wanted || t.name.to_lowercase() == wanted)
        .cloned()
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(TenantError::Unknown {
            given: given.to_owned(),
            known: tenants,
        }),
        _ => Err(TenantError::Ambiguous {
            given: given.to_owned(),
            matches,
        }),
    }
}

/// Whether `given` is spelled as a tenant id (`[a-z0-9][a-z0-9-]{0,62}`)
/// rather than a display name ("Osterøy").
pub fn is_id(given: &str) -> bool {
    let mut chars = given.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && given.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `resolve` for a command that may also name a tenant the ledger does
/// not have yet (`tla agreement publish` starts a tenant): a known id or
/// name gives its id, anything else is taken as given.
pub fn resolve_or_new(counts: &BTreeMap<String, u64>, given: &str) -> String {
    resolve(counts, given).unwrap_or_else(|_| given.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> BTreeMap<String, u64> {
        [("alver", 10), ("osteroy", 5), ("bergen", 1)]
            .into_iter()
            .map(|(id, n)| (id.to_owned(), n))
            .collect()
    }

    #[test]
    fn ids_and_display_names_in_any_case_name_a_tenant() {
        let counts = counts();
        assert_eq!(resolve(&counts, "osteroy"), Ok("osteroy".to_owned()));
        assert_eq!(resolve(&counts, "Osterøy"), Ok("osteroy".to_owned()));
        assert_eq!(resolve(&counts, "OSTERØY"), Ok("osteroy".to_owned()));
        assert_eq!(resolve(&counts, "Alver"), Ok("alver".to_owned()));
        assert_eq!(resolve(&counts, "Bergen"), Ok("bergen".to_owned()));
    }

    #[test]
    fn an_unknown_tenant_lists_the_known_ones_with_their_names() {
        let error = resolve(&counts(), "alvr").unwrap_err().to_string();
        assert!(
            error.contains("unknown tenant \"alvr\"")
                && error.contains("alver (Alver), bergen, osteroy (Osterøy)"),
            "{error}"
        );
        let empty = resolve(&BTreeMap::new(), "alver").unwrap_err().to_string();
        assert!(empty.contains("no tenants yet"), "{empty}");
        assert_eq!(resolve_or_new(&counts(), "Alver"), "alver");
        assert_eq!(resolve_or_new(&counts(), "fedje"), "fedje");
        assert!(is_id("osteroy") && is_id("a-1") && !is_id("Osterøy") && !is_id("-a"));
    }
}
