//! Field rules shared by the envelope, event data and agreements: how a
//! tenant, service, role, id, instant or digest must look, and `Fields`, the
//! reader that walks one JSON object, reports missing, ill-typed and unknown
//! fields with their paths, and never stops at the first problem.
//!
//! Every check has the shape of [`Check`]: it takes the value and its path,
//! pushes what is wrong, and returns the typed value only when it is valid.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use crate::FieldError;

/// Longest tenant, service or role name: 63 characters, the length of a
/// DNS label, so that names fit in subjects, paths and file names.
pub const NAME_LEN_MAX: usize = 63;

/// Longest id (`id`, `outage_id`, `incident_id`, `window_id`, `meeting_id`):
/// SEMANTICS.md section 2 says 1..128 printable ASCII characters.
pub const ID_LEN_MAX: usize = 128;

/// Longest `source`. A producer name, not a document; 1024 bytes is far
/// beyond any URI a monitoring system uses.
pub const SOURCE_LEN_MAX: usize = 1024;

/// Longest free text `reason` of `incident.on_hold`, in characters.
pub const REASON_LEN_MAX: usize = 1024;

/// Longest `person` of `contact.assigned` and service `name`, in characters.
pub const PERSON_LEN_MAX: usize = 256;

/// Longest free text of the follow-up events (`cause`, `title`, `owner`,
/// `outcome`, `comment`, and the `person` of `report.acknowledged` and
/// `agreement.approved`), in characters: SEMANTICS.md section 12.
pub const TEXT_LEN_MAX: usize = 2000;

/// Length of a deviation id: the first 16 hex digits of a BLAKE3 digest
/// (SEMANTICS.md section 12).
pub const DEVIATION_ID_LEN: usize = 16;

/// Longest `phone` of `contact.assigned`, in characters (SEMANTICS.md
/// section 12).
pub const PHONE_LEN_MAX: usize = 32;

/// A validator of one JSON value at a path.
pub(crate) type Check<T> = fn(&Value, &str, &mut Vec<FieldError>) -> Option<T>;

/// `path.name`, or `name` at the top.
pub(crate) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The JSON type of `v`, for messages ("found a number").
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(path: &str, what: &str, v: &Value) -> FieldError {
    FieldError::new(path, format!("expected {what}, found {}", kind_of(v)))
}

/// Reads the fields of one JSON object, remembering which names are known
/// so that the rest can be reported as unknown.
pub(crate) struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: String,
    known: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(obj: &'a Map<String, Value>, path: &str) -> Self {
        Fields {
            obj,
            path: path.to_string(),
            known: Vec::new(),
        }
    }

    /// The path of field `name` of this object.
    pub(crate) fn path(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// The raw value of an optional field.
    pub(crate) fn value(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.obj.get(name)
    }

    /// The raw value of a required field; "missing" when absent.
    pub(crate) fn required_value(
        &mut self,
        name: &'static str,
        errors: &mut Vec<FieldError>,
    ) -> Option<&'a Value> {
        let v = self.value(name);
        if v.is_none() {
            errors.push(FieldError::new(self.path(name), "missing"));
        }
        v
    }

    /// A required field checked by `check`.
    pub(crate) fn req<T>(
        &mut self,
        name: &'static str,
        check: Check<T>,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        let v = self.required_value(name, errors)?;
        check(v, &self.path(name), errors)
    }

    /// An optional field checked by `check`: `Some(None)` when absent,
    /// `None` when present and invalid.
    pub(crate) fn opt<T>(
        &mut self,
        name: &'static str,
        check: Check<T>,
        errors: &mut Vec<FieldError>,
    ) -> Option<Option<T>> {
        match self.value(name) {
            None => Some(None),
            Some(v) => check(v, &self.path(name), errors).map(Some),
        }
    }

    /// Names present in the object that no reader asked for.
    pub(crate) fn unknown(&self) -> impl Iterator<Item = &'a String> + '_ {
        self.obj
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
    }

    /// Reports every unknown field of the object; `what` names the object
    /// in the message ("outage.started data").
    pub(crate) fn reject_unknown(&self, what: &str, errors: &mut Vec<FieldError>) {
        for name in self.unknown() {
            errors.push(FieldError::new(
                self.path(name),
                format!("unknown field; {what} has only: {}", self.known.join(", ")),
            ));
        }
    }
}

/// The object at `path`, or an error.
pub(crate) fn object<'a>(
    v: &'a Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a Map<String, Value>> {
    let obj = v.as_object();
    if obj.is_none() {
        errors.push(expected(path, "an object", v));
    }
    obj
}

/// The array at `path`, or an error.
pub(crate) fn array<'a>(
    v: &'a Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a Vec<Value>> {
    let items = v.as_array();
    if items.is_none() {
        errors.push(expected(path, "an array", v));
    }
    items
}

/// The string at `path`, or an error.
pub(crate) fn str_at<'a>(
    v: &'a Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    let s = v.as_str();
    if s.is_none() {
        errors.push(expected(path, "a string", v));
    }
    s
}

/// Runs a string rule that returns a message when the string is invalid.
fn string_rule(
    v: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
    rule: fn(&str) -> Result<(), String>,
) -> Option<String> {
    let s = str_at(v, path, errors)?;
    match rule(s) {
        Ok(()) => Some(s.to_string()),
        Err(message) => {
            errors.push(FieldError::new(path, message));
            None
        }
    }
}

fn name_rule(s: &str, underscore: bool) -> bool {
    let b = s.as_bytes();
    let first_ok = b
        .first()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = b.iter().skip(1).all(|&c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || (underscore && c == b'_')
    });
    first_ok && rest_ok && b.len() <= NAME_LEN_MAX
}

/// `[a-z0-9][a-z0-9-]{0,62}`: the rule for tenants and services.
pub(crate) fn tenant_rule(s: &str) -> Result<(), String> {
    if name_rule(s, false) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} must match [a-z0-9][a-z0-9-]{{0,62}}: lowercase letters, digits and '-', \
             starting with a letter or digit, at most {NAME_LEN_MAX} characters"
        ))
    }
}

/// `[a-z0-9][a-z0-9_-]{0,62}`: the rule for roles and calendar names.
pub(crate) fn role_rule(s: &str) -> Result<(), String> {
    if name_rule(s, true) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} must match [a-z0-9][a-z0-9_-]{{0,62}}: lowercase letters, digits, '-' and '_', \
             starting with a letter or digit, at most {NAME_LEN_MAX} characters"
        ))
    }
}

/// 1..=128 printable ASCII characters (U+0020..U+007E), no leading or
/// trailing space.
pub(crate) fn id_rule(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some((i, c)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| !(' '..='~').contains(c))
    {
        return Err(format!(
            "character {} ({c:?}) is not printable ASCII; ids are 1 to {ID_LEN_MAX} printable ASCII characters",
            i + 1
        ));
    }
    if s.len() > ID_LEN_MAX {
        return Err(format!(
            "is {} characters long; at most {ID_LEN_MAX} allowed",
            s.len()
        ));
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err("must not begin or end with a space".into());
    }
    Ok(())
}

/// A URI-reference (RFC 3986): non-empty, only the characters a URI may
/// hold, and `%` followed by two hex digits.
pub(crate) fn source_rule(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty; name the producer, e.g. zabbix/nh-1".into());
    }
    if s.len() > SOURCE_LEN_MAX {
        return Err(format!(
            "is {} bytes long; at most {SOURCE_LEN_MAX} allowed",
            s.len()
        ));
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c);
        let escape_ok = c == b'%'
            && b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if !ok && !escape_ok {
            let shown = s[i..].chars().next().unwrap_or(' ');
            return Err(format!(
                "is not a URI-reference: character {shown:?} at byte {} is not allowed (no spaces, control \
                 or non-ASCII characters; percent-encode them)",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Parses an RFC 3339 instant with offset to Unix seconds, fractions
/// truncated toward the past.
pub(crate) fn parse_instant(s: &str) -> Result<i64, String> {
    match DateTime::parse_from_rfc3339(s) {
        // chrono keeps a non-negative fraction beside whole seconds, so
        // `timestamp()` is the floor, also before 1970.
        Ok(t) => Ok(t.timestamp()),
        Err(e) => {
            let local = [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .any(|f| NaiveDateTime::parse_from_str(s, f).is_ok());
            if local {
                Err(format!(
                    "{s:?} is missing UTC offset; write Z or an offset such as +01:00 (RFC 3339)"
                ))
            } else if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
                Err(format!("{s:?} is a date without time of day; write an RFC 3339 instant such as 2026-10-01T08:00:00+02:00"))
            } else {
                Err(format!("{s:?} is not an RFC 3339 date-time ({e}); write e.g. 2026-10-01T08:00:00+02:00"))
            }
        }
    }
}

/// An RFC 3339 instant with offset, as Unix seconds.
pub(crate) fn instant(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let s = str_at(v, path, errors)?;
    match parse_instant(s) {
        Ok(t) => Some(t),
        Err(message) => {
            errors.push(FieldError::new(path, message));
            None
        }
    }
}

/// Any string.
pub(crate) fn string(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    str_at(v, path, errors).map(str::to_string)
}

/// A tenant or service name.
pub(crate) fn service(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, tenant_rule)
}

/// A URI-reference naming the producer.
pub(crate) fn source(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, source_rule)
}

/// A role name (or calendar name).
pub(crate) fn role(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, role_rule)
}

/// An id: 1..=128 printable ASCII.
pub(crate) fn id(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, id_rule)
}

/// Whether `s` is exactly `len` lowercase hex digits.
fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// 64 lowercase hex characters (a BLAKE3 digest).
pub(crate) fn digest_rule(s: &str) -> Result<(), String> {
    if lower_hex(s, 64) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a digest: expected 64 lowercase hexadecimal characters"
        ))
    }
}

/// 64 lowercase hex characters (a BLAKE3 digest).
pub(crate) fn digest(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, digest_rule)
}

/// Free text of 1..=`max` characters without control characters
/// (`allow_lines` permits newline and tab).
fn text_rule(s: &str, max: usize, allow_lines: bool) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let chars = s.chars().count();
    if chars > max {
        return Err(format!("is {chars} characters long; at most {max} allowed"));
    }
    let bad = s
        .chars()
        .find(|c| c.is_control() && !(allow_lines && (*c == '\n' || *c == '\t')));
    match bad {
        Some(c) => Err(format!("contains the control character {c:?}")),
        None => Ok(()),
    }
}

/// The rule of the `reason` of `incident.on_hold`.
pub(crate) fn reason_rule(s: &str) -> Result<(), String> {
    text_rule(s, REASON_LEN_MAX, true)
}

/// The `reason` of `incident.on_hold`.
pub(crate) fn reason(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, reason_rule)
}

/// The rule of a person's name, or a service's display name.
pub(crate) fn person_rule(s: &str) -> Result<(), String> {
    text_rule(s, PERSON_LEN_MAX, false)
}

/// A person's name, or a service's display name.
pub(crate) fn person(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, person_rule)
}

/// The rule of the free texts of section 12 (see [`TEXT_LEN_MAX`]):
/// newlines and tabs allowed, like `reason`.
pub(crate) fn text_2000_rule(s: &str) -> Result<(), String> {
    text_rule(s, TEXT_LEN_MAX, true)
}

/// A free text of section 12.
pub(crate) fn text(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, text_2000_rule)
}

/// 16 lowercase hex digits: a deviation id.
pub(crate) fn deviation_id_rule(s: &str) -> Result<(), String> {
    if lower_hex(s, DEVIATION_ID_LEN) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a deviation id: expected {DEVIATION_ID_LEN} lowercase hexadecimal characters \
             (the `id` of a deviation in a report of format tla-report/2 or later)"
        ))
    }
}

/// A deviation id.
pub(crate) fn deviation_id(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, deviation_id_rule)
}

/// An e-mail address as section 12 asks: a string with exactly one `@`.
pub(crate) fn email_rule(s: &str) -> Result<(), String> {
    if s.matches('@').count() == 1 {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an e-mail address: expected exactly one '@'"
        ))
    }
}

/// An e-mail address.
pub(crate) fn email(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, email_rule)
}

/// A telephone number: at most [`PHONE_LEN_MAX`] characters.
pub(crate) fn phone_rule(s: &str) -> Result<(), String> {
    let chars = s.chars().count();
    if chars <= PHONE_LEN_MAX {
        Ok(())
    } else {
        Err(format!(
            "is {chars} characters long; at most {PHONE_LEN_MAX} allowed"
        ))
    }
}

/// A telephone number.
pub(crate) fn phone(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, phone_rule)
}

/// A reporting period `YYYY-MM`.
pub(crate) fn period_rule(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() == 7 && digits(0..4) && b[4] == b'-' && digits(5..7);
    let month_ok = shape
        && matches!(
            &s[5..7],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        );
    if month_ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a period: expected YYYY-MM, e.g. 2026-10"
        ))
    }
}

/// A reporting period `YYYY-MM`.
pub(crate) fn period(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    string_rule(v, path, errors, period_rule)
}

/// A non-negative integer that fits in u64.
pub(crate) fn count(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<u64> {
    match v {
        Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
        Value::Number(n) if n.as_i64().is_some() => {
            errors.push(FieldError::new(
                path,
                format!("must not be negative, found {n}"),
            ));
            None
        }
        _ => {
            errors.push(expected(path, "a non-negative integer", v));
            None
        }
    }
}

/// An integer in `min..=u32::MAX`.
pub(crate) fn uint32_from(
    v: &Value,
    path: &str,
    min: u32,
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    let n = count(v, path, errors)?;
    match u32::try_from(n) {
        Ok(n) if n >= min => Some(n),
        Ok(_) => {
            errors.push(FieldError::new(
                path,
                format!("must be at least {min}, found {n}"),
            ));
            None
        }
        Err(_) => {
            errors.push(FieldError::new(
                path,
                format!("must be at most {}, found {n}", u32::MAX),
            ));
            None
        }
    }
}

/// An integer `>= 1` that fits in u32.
pub(crate) fn positive(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
    uint32_from(v, path, 1, errors)
}

/// An integer `>= 0` that fits in u32.
pub(crate) fn non_negative(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
    uint32_from(v, path, 0, errors)
}

/// One of a fixed set of strings.
pub(crate) fn one_of<T: Copy>(
    v: &Value,
    path: &str,
    choices: &[(&str, T)],
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let s = str_at(v, path, errors)?;
    let found = choices.iter().find(|(name, _)| *name == s).map(|(_, t)| *t);
    if found.is_none() {
        let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
        errors.push(FieldError::new(
            path,
            format!("{s:?} is not one of {}", names.join(", ")),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (s, tenant, role) in [
            ("alver", true, true),
            ("0", true, true),
            ("a-b", true, true),
            ("a_b", false, true),
            ("-a", false, false),
            ("_a", false, false),
            ("Alver", false, false),
            ("", false, false),
            ("æ", false, false),
            (&"a".repeat(63), true, true),
            (&"a".repeat(64), false, false),
        ] {
            assert_eq!(tenant_rule(s).is_ok(), tenant, "tenant {s:?}");
            assert_eq!(role_rule(s).is_ok(), role, "role {s:?}");
        }
    }

    #[test]
    fn ids_and_sources() {
        for (s, ok) in [
            ("a", true),
            ("a b", true),
            (" a", false),
            ("a ", false),
            ("a\tb", false),
            ("ø", false),
            ("", false),
        ] {
            assert_eq!(id_rule(s).is_ok(), ok, "id {s:?}");
        }
        assert!(id_rule(&"x".repeat(128)).is_ok());
        assert!(id_rule(&"x".repeat(129)).is_err());
        for (s, ok) in [
            ("zabbix/nh-1", true),
            ("https://x.example/a?b=c#d", true),
            ("urn:uuid:1234", true),
            ("a%20b", true),
            ("a%2", false),
            ("a b", false),
            ("", false),
            ("a\"b", false),
            ("ø", false),
        ] {
            assert_eq!(source_rule(s).is_ok(), ok, "source {s:?}");
        }
    }

    #[test]
    fn instants() {
        for (s, expect) in [
            ("1970-01-01T00:00:00Z", Ok(0)),
            ("1970-01-01T01:00:00+01:00", Ok(0)),
            ("1970-01-01T00:00:00.999Z", Ok(0)),
            ("1969-12-31T23:59:59.5Z", Ok(-1)),
        ] {
            assert_eq!(parse_instant(s), expect, "{s}");
        }
        for (s, expect) in [
            ("2026-01-01T00:00:00", "missing UTC offset"),
            ("2026-01-01", "date without time"),
            ("yesterday", "not an RFC 3339"),
            ("2026-02-30T00:00:00Z", "not an RFC 3339"),
        ] {
            let message = parse_instant(s).expect_err(s);
            assert!(message.contains(expect), "{s}: {message}");
        }
    }
}
