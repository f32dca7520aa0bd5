//! Canonical JSON: the one byte form of a JSON value that the ledger stores
//! and hashes.
//!
//! The rules, so that anyone can reproduce the bytes without this code:
//! UTF-8; no insignificant whitespace; object keys sorted by the byte order
//! of their UTF-8; arrays in order; strings escaped exactly as `serde_json`
//! writes them (`\"`, `\\`, the short forms `\b \f \n \r \t`, every other
//! control character below U+0020 as `\u00XX` with lowercase hex, everything
//! else, non-ASCII included, written as is); numbers are integers in the
//! i64/u64 range written in plain decimal; `null`, `true`, `false` as
//! literals. A number that is not such an integer (`1.5`, `1e3`, `1.0`) is
//! invalid input, reported with its path, because a float has no single
//! textual form that every implementation agrees on.

use std::io::Write;

use serde_json::Value;

use crate::rules::{index, join};
use crate::FieldError;

/// Deepest nesting of arrays and objects accepted. Events and agreements
/// need eight levels; the limit keeps the recursive writer's stack small
/// whatever value a caller builds.
pub const NESTING_DEPTH_MAX: usize = 64;

/// The canonical bytes of `v`, or every number that is not an integer (and
/// any nesting beyond [`NESTING_DEPTH_MAX`]) with its path.
pub fn to_canonical(v: &Value) -> Result<Vec<u8>, Vec<FieldError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    write_value(v, "", 0, &mut out, &mut errors);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parses `text` as one JSON value the way a verifier must: `serde_json`'s
/// grammar with duplicate keys refused (the path of the repeated key is
/// named). What `tla evidence verify` and `tla verify-report` read a report
/// with before canonicalising it, so that no typed struct drops a field.
pub fn parse_strict(text: &str) -> Result<Value, FieldError> {
    crate::json::parse_strict(text).map_err(|e| e.into_field_error())
}

/// Checks that `text` is exactly the canonical JSON of the value it holds:
/// parsed strictly (duplicate keys refused), written back in canonical
/// form and compared byte for byte. What an export verifier does with each
/// stored event string, so that no non-canonical variant of an event (other
/// key order, whitespace, escapes) passes for the one the ledger hashed.
pub fn check_canonical(text: &str) -> Result<(), FieldError> {
    let value = crate::json::parse_strict(text).map_err(|e| e.into_field_error())?;
    // `to_canonical` fails only with at least one error; the first names it.
    let canonical = to_canonical(&value).map_err(|errors| {
        let first = errors.into_iter().next();
        first.unwrap_or_else(|| FieldError::new("", "not canonical JSON"))
    })?;
    match canonical
        .iter()
        .zip(text.as_bytes())
        .position(|(a, b)| a != b)
    {
        None if canonical.len() == text.len() => Ok(()),
        at => {
            let at = at.unwrap_or(canonical.len().min(text.len()));
            Err(FieldError::new(
                "",
                format!(
                    "not in canonical JSON (docs/FORMAT.md): it differs from its canonical form \
                     at byte {at}"
                ),
            ))
        }
    }
}

fn write_value(
    v: &Value,
    path: &str,
    depth: usize,
    out: &mut Vec<u8>,
    errors: &mut Vec<FieldError>,
) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, path, out, errors),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if too_deep(path, depth, errors) {
                return;
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, &index(path, i), depth + 1, out, errors);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if too_deep(path, depth, errors) {
                return;
            }
            // serde_json's map is sorted already unless some crate turns on
            // `preserve_order`; sorting here keeps the bytes independent of that.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, &join(path, key), depth + 1, out, errors);
            }
            out.push(b'}');
        }
    }
}

fn too_deep(path: &str, depth: usize, errors: &mut Vec<FieldError>) -> bool {
    if depth < NESTING_DEPTH_MAX {
        return false;
    }
    errors.push(FieldError::new(
        path,
        format!("nested deeper than {NESTING_DEPTH_MAX} levels of arrays and objects"),
    ));
    true
}

fn write_number(
    n: &serde_json::Number,
    path: &str,
    out: &mut Vec<u8>,
    errors: &mut Vec<FieldError>,
) {
    // Writing into a Vec cannot fail, so the io::Result is always Ok.
    let written = if let Some(i) = n.as_i64() {
        write!(out, "{i}")
    } else if let Some(u) = n.as_u64() {
        write!(out, "{u}")
    } else {
        errors.push(FieldError::new(
            path,
            format!(
                "not an integer (read as {n}); numbers must be whole, fit in 64 bits and be written \
                 without fraction, exponent or minus sign on zero (write decimals as strings)"
            ),
        ));
        Ok(())
    };
    debug_assert!(written.is_ok());
}

/// Writes `s` as a JSON string literal, escaped exactly as serde_json does.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        // Every escaped byte is ASCII, so `start..i` ends on a char boundary.
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value, expect: &str) {
        let bytes = to_canonical(&v).expect("valid value");
        assert_eq!(String::from_utf8(bytes).expect("UTF-8"), expect);
    }

    fn check_err(v: Value, expect_path: &str) {
        let errors = to_canonical(&v).expect_err("invalid value");
        assert!(errors.iter().any(|e| e.path == expect_path), "{errors:?}");
    }

    #[test]
    fn canonical_forms() {
        check(json!(null), "null");
        check(
            json!({"b": 1, "a": [true, false, null]}),
            r#"{"a":[true,false,null],"b":1}"#,
        );
        check(json!({"é": 1, "z": 2, "Z": 3}), r#"{"Z":3,"z":2,"é":1}"#);
        check(json!(-9223372036854775808i64), "-9223372036854775808");
        check(json!(18446744073709551615u64), "18446744073709551615");
        check(
            json!("a\"b\\c\n\u{1}\u{7f}/ø"),
            "\"a\\\"b\\\\c\\n\\u0001\u{7f}/ø\"",
        );
        check(json!("\u{8}\u{c}\r\t\u{1f}"), r#""\b\f\r\t\u001f""#);
    }

    #[test]
    fn non_integers_are_named() {
        check_err(json!(1.5), "");
        check_err(json!({"a": [1, 2.0]}), "a[1]");
        check_err(json!({"data": {"n": 1e3}}), "data.n");
    }

    #[test]
    fn only_plain_integers_are_numbers() {
        for (text, ok) in [
            ("0", true),
            ("-1", true),
            ("18446744073709551615", true),
            ("-0", false),
            ("1.0", false),
            ("1e3", false),
            ("0.0", false),
            ("18446744073709551616", false),
            ("-9223372036854775809", false),
        ] {
            let v: Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(to_canonical(&v).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn depth_is_limited() {
        let mut v = json!(1);
        for _ in 0..=NESTING_DEPTH_MAX {
            v = json!([v]);
        }
        assert!(to_canonical(&v).is_err());
    }
}
