//! Strict JSON parsing: `serde_json`'s grammar, plus refusal of duplicate
//! keys in an object. Plain `serde_json` keeps the last of two equal keys,
//! so `{"priority":"P4","priority":"P1"}` would be read as P1 while a
//! reader of the file sees P4 first; an auditor must not have to guess.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::rules::{index, join};
use crate::FieldError;

/// Why text is not strict JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrictError {
    /// Not JSON: position (1-based line, column as serde_json counts) and message.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A key repeated in one object; the path of the repeated key.
    Duplicate { path: String },
}

impl StrictError {
    /// The error as a field error of the document as a whole.
    pub(crate) fn into_field_error(self) -> FieldError {
        match self {
            StrictError::Syntax {
                line,
                column,
                message,
            } => FieldError::new(
                "",
                format!("invalid JSON at line {line}, column {column}: {message}"),
            ),
            StrictError::Duplicate { path } => duplicate_error(path),
        }
    }
}

pub(crate) fn duplicate_error(path: String) -> FieldError {
    FieldError::new(
        path,
        "duplicate key; each key may appear only once in an object",
    )
}

/// Parses `text` as one JSON value, refusing duplicate keys.
pub(crate) fn parse_strict(text: &str) -> Result<Value, StrictError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Seed {
        at: At::Root,
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| match duplicate.into_inner() {
        Some(path) => StrictError::Duplicate { path },
        None => syntax_error(&e),
    })
}

/// A serde_json error as a position and a message without the position.
pub(crate) fn syntax_error(e: &serde_json::Error) -> StrictError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    // serde_json says column 0 for an error at a line's very start (EOF
    // after a newline); people count from 1.
    StrictError::Syntax {
        line: e.line().max(1),
        column: e.column().max(1),
        message,
    }
}

/// Where a value sits in the document: a chain of keys and indexes back
/// to the root, borrowed from the parser's stack and rendered as a path
/// only when a duplicate key must be named.
#[derive(Clone, Copy)]
enum At<'p> {
    Root,
    Key(&'p At<'p>, &'p str),
    Index(&'p At<'p>, usize),
}

impl At<'_> {
    /// The dotted path, e.g. `data.y[0].k`.
    fn path(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => join(&parent.path(), key),
            At::Index(parent, i) => index(&parent.path(), *i),
        }
    }
}

/// Deserializes one value at `at`; records the path of a duplicate key
/// in `duplicate` before failing, since serde errors carry only text.
struct Seed<'p, 'd> {
    at: At<'p>,
    duplicate: &'d RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        // JSON text never holds NaN or infinity, so this is always Some;
        // null would only stand in for a value the grammar cannot produce.
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = Seed {
                at: At::Index(&self.at, items.len()),
                duplicate: self.duplicate,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = At::Key(&self.at, &key);
            if obj.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(at.path());
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(Seed {
                at,
                duplicate: self.duplicate,
            })?;
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_parsing() {
        assert_eq!(
            parse_strict(r#"{"a":[1,{"b":null}],"c":-2}"#),
            Ok(json!({"a":[1,{"b":null}],"c":-2}))
        );
        for (text, path) in [
            (r#"{"a":1,"a":2}"#, "a"),
            (r#"{"data":{"x":1,"y":[{"k":1,"k":1}]}}"#, "data.y[0].k"),
            (r#"[0,[{"a":{"b":1},"a":2}]]"#, "[1][0].a"),
            (r#"{"a":{"b":[1,{}],"c":{"d":1,"d":1}}}"#, "a.c.d"),
        ] {
            assert_eq!(
                parse_strict(text),
                Err(StrictError::Duplicate { path: path.into() }),
                "{text}"
            );
        }
        for (text, line, column) in [("{\n\"a\":}", 2, 5), ("[1,2", 1, 4), ("{} x", 1, 4)] {
            match parse_strict(text) {
                Err(StrictError::Syntax {
                    line: l, column: c, ..
                }) => assert_eq!((l, c), (line, column), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
