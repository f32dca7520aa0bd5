//! A report as someone handed it over: the JSON of a report file (`tla
//! verify-report FILE`) or of a bundle's `report` (`tla evidence verify`),
//! read without typed structs so that nothing in it is dropped or
//! defaulted. [`Given`] keeps the JSON as given, with what its manifest
//! pins read out (tenant, period, format, horizon, prefix size and roots,
//! digest); its digest is recomputed over exactly that JSON (docs/FORMAT.md,
//! "The report digest"), and [`Given::differences`] compares its
//! canonical bytes with the regenerated report's, naming the JSON path of
//! each difference in canonical order, the first difference first: a field
//! the issued report never had (`deviations[0].waived`), one it had that is
//! missing (`manifest.horizon`), an array of another length, a changed value.

use std::fmt;

use projector::Report;
use schemas::FieldError;
use serde_json::{Map, Value};

/// Longest rendering of a value in a difference's message, in characters;
/// an added or changed object is named by its path, not printed whole.
const VALUE_SHOWN_MAX: usize = 120;

/// A report's JSON as given, and what its manifest pins.
#[derive(Debug, Clone)]
pub struct Given {
    /// The JSON exactly as given (parsed strictly: a repeated key refused).
    pub value: Value,
    pub tenant: String,
    pub period: String,
    /// `tla-report/1`, `tla-report/2` or `tla-report/3`.
    pub format: String,
    /// `manifest.horizon`: the instant a preliminary report was computed.
    pub horizon: Option<String>,
    pub ledger_size: u64,
    pub ledger_root: String,
    /// `manifest.tree_root`; "" when absent (a report from before the
    /// ledger had a Merkle tree).
    pub tree_root: String,
    pub report_digest: String,
}

impl Given {
    /// Reads the report from JSON text (strictly: a repeated key is refused).
    pub fn parse(text: &str) -> Result<Given, FieldError> {
        Given::from_value(schemas::canonical::parse_strict(text)?)
    }

    /// Reads what the manifest pins from a report's JSON value; the
    /// problem names the field's path.
    pub fn from_value(value: Value) -> Result<Given, FieldError> {
        let Some(top) = value.as_object() else {
            return Err(FieldError::new("", "a report is a JSON object"));
        };
        let Some(manifest) = top.get("manifest").and_then(Value::as_object) else {
            return Err(FieldError::new(
                "manifest",
                "missing or not an object; every report has one",
            ));
        };
        let horizon = match manifest.get("horizon") {
            Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                return Err(FieldError::new(
                    "manifest.horizon",
                    "neither null nor an RFC 3339 instant",
                ))
            }
            None => {
                return Err(FieldError::new(
                    "manifest.horizon",
                    "missing; it is null in an ended period's report",
                ))
            }
        };
        let tree_root = match manifest.get("tree_root") {
            None => String::new(),
            Some(_) => text(manifest, "manifest.", "tree_root")?,
        };
        let ledger_size = manifest
            .get("ledger_size")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                FieldError::new("manifest.ledger_size", "missing or not a whole number")
            })?;
        Ok(Given {
            tenant: text(top, "", "tenant")?,
            period: text(top, "", "period")?,
            format: text(top, "", "format")?,
            horizon,
            ledger_size,
            ledger_root: text(manifest, "manifest.", "ledger_root")?,
            tree_root,
            report_digest: text(manifest, "manifest.", "report_digest")?,
            value,
        })
    }

    /// The canonical bytes of the JSON as given (docs/FORMAT.md).
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, FieldError> {
        canonical(&self.value)
    }

    /// The digest of the JSON as given: BLAKE3 over its canonical form
    /// with `manifest.report_digest` removed (not nulled), lowercase hex.
    pub fn computed_digest(&self) -> Result<String, FieldError> {
        let mut content = self.value.clone();
        if let Some(manifest) = content.get_mut("manifest").and_then(Value::as_object_mut) {
            manifest.remove("report_digest");
        }
        Ok(hex::encode(blake3::hash(&canonical(&content)?).as_bytes()))
    }

    /// Whether `manifest.report_digest` is the digest of the rest as given.
    pub fn digest_matches(&self) -> bool {
        self.computed_digest()
            .is_ok_and(|digest| digest == self.report_digest)
    }

    /// Every difference between the report as given and `expected` (the
    /// regenerated report), in canonical order; empty exactly when their
    /// canonical bytes are equal.
    pub fn differences(&self, expected: &Report) -> Vec<Difference> {
        if self.canonical_bytes().ok() == Some(expected.canonical_bytes()) {
            return Vec::new();
        }
        let Ok(expected) = serde_json::to_value(expected) else {
            // A report always serialises (strings, integers, objects).
            return vec![Difference {
                path: String::new(),
                kind: Kind::Changed {
                    given: String::new(),
                    expected: "a report".to_owned(),
                },
            }];
        };
        let mut out = Vec::new();
        walk(String::new(), &self.value, &expected, &mut out);
        if out.is_empty() {
            // Equal values whose canonical forms differ: a number that is
            // not an integer, which canonical JSON has no form for.
            if let Err(problem) = self.canonical_bytes() {
                out.push(Difference {
                    path: problem.path,
                    kind: Kind::NotCanonical(problem.message),
                });
            }
        }
        out
    }
}

fn text(object: &Map<String, Value>, prefix: &str, key: &str) -> Result<String, FieldError> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(FieldError::new(format!("{prefix}{key}"), "not a string")),
        None => Err(FieldError::new(format!("{prefix}{key}"), "missing")),
    }
}

fn canonical(value: &Value) -> Result<Vec<u8>, FieldError> {
    schemas::canonical::to_canonical(value).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldError::new("", "has no canonical JSON form"))
    })
}

/// One place where a report as given differs from the regenerated one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The JSON path: `deviations[0].waived`, `manifest.horizon`; "" for
    /// the report as a whole.
    pub path: String,
    pub kind: Kind,
}

/// How a report as given differs at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Given, but the regenerated report has nothing there.
    Added { given: String },
    /// In the regenerated report, missing from the one given.
    Missing { expected: String },
    /// Both have a value there, and they differ.
    Changed { given: String, expected: String },
    /// The value as given has no canonical form (a fraction).
    NotCanonical(String),
}

impl Difference {
    /// The difference in words: `holder` names what was given ("the
    /// file"), `reference` the report it should be ("the issued report").
    pub fn describe(&self, holder: &str, reference: &str) -> String {
        let path = match self.path.as_str() {
            "" => "the report",
            path => path,
        };
        match &self.kind {
            Kind::Added { given } => format!("{path}: not in {reference} ({holder} adds {given})"),
            Kind::Missing { expected } => {
                format!("{path}: missing from {holder}; {reference} has {expected}")
            }
            Kind::Changed { given, expected } => {
                format!("{path}: {holder} says {given}, {reference} has {expected}")
            }
            Kind::NotCanonical(problem) => format!("{path}: {problem}"),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("the report given", "the regenerated report"))
    }
}

/// A value as a difference's message shows it, cut at [`VALUE_SHOWN_MAX`].
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(VALUE_SHOWN_MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

/// The path of `key` under `path`.
fn child(path: &str, key: &str) -> String {
    match path {
        "" => key.to_owned(),
        _ => format!("{path}.{key}"),
    }
}

/// Collects the differences below `path`, keys in canonical (byte) order.
fn walk(path: String, given: &Value, expected: &Value, out: &mut Vec<Difference>) {
    match (given, expected) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
            keys.dedup();
            for key in keys {
                either(child(&path, key), a.get(key), b.get(key), out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                either(format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (x, y) if x != y => out.push(Difference {
            path,
            kind: Kind::Changed {
                given: shown(x),
                expected: shown(y),
            },
        }),
        _ => {}
    }
}

/// A key or an item that either side may lack.
fn either(
    path: String,
    given: Option<&Value>,
    expected: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    let kind = match (given, expected) {
        (Some(x), Some(y)) => return walk(path, x, y, out),
        (Some(x), None) => Kind::Added { given: shown(x) },
        (None, Some(y)) => Kind::Missing { expected: shown(y) },
        (None, None) => return,
    };
    out.push(Difference { path, kind });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(given: &str, expected: &str) -> Vec<String> {
        let mut out = Vec::new();
        let given: Value = serde_json::from_str(given).unwrap();
        let expected: Value = serde_json::from_str(expected).unwrap();
        walk(String::new(), &given, &expected, &mut out);
        out.iter()
            .map(|d| d.describe("the file", "the issued report"))
            .collect()
    }

    #[test]
    fn differences_name_their_paths_in_canonical_order() {
        assert_eq!(
            paths(
                r#"{"b":[{"k":1,"waived":true}],"a":2}"#,
                r#"{"a":2,"b":[{"k":1}]}"#
            ),
            ["b[0].waived: not in the issued report (the file adds true)"]
        );
        assert_eq!(
            paths(r#"{"m":{}}"#, r#"{"m":{"horizon":null}}"#),
            ["m.horizon: missing from the file; the issued report has null"]
        );
        assert_eq!(
            paths(r#"{"z":[2,1],"a":"x"}"#, r#"{"z":[1,2],"a":"y"}"#),
            [
                r#"a: the file says "x", the issued report has "y""#,
                "z[0]: the file says 2, the issued report has 1",
                "z[1]: the file says 1, the issued report has 2",
            ]
        );
        assert_eq!(
            paths(r#"[1]"#, r#"[1,{"a":1}]"#),
            [r#"[1]: missing from the file; the issued report has {"a":1}"#]
        );
    }

    #[test]
    fn a_report_is_read_with_every_field_it_holds() {
        let text = r#"{"tenant":"t","period":"2026-01","format":"tla-report/2",
            "manifest":{"ledger_size":3,"ledger_root":"aa","horizon":null,"report_digest":"d"},
            "extra":{"waived":true}}"#;
        let given = Given::parse(text).unwrap();
        assert_eq!(given.ledger_size, 3);
        assert_eq!(given.tree_root, "");
        assert_eq!(given.value["extra"]["waived"], true);
        let repeated = Given::parse(r#"{"tenant":"t","tenant":"u"}"#).unwrap_err();
        assert_eq!(repeated.path, "tenant");
        let no_horizon = text.replace(r#""horizon":null,"#, "");
        assert_eq!(
            Given::parse(&no_horizon).unwrap_err().path,
            "manifest.horizon"
        );
    }
}
