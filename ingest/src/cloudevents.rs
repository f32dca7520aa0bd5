//! The HTTP content modes of CloudEvents 1.0, as the SDKs send them, turned
//! into validated events: structured (`application/cloudevents+json`),
//! batch (`application/cloudevents-batch+json`), binary (the attributes in
//! `ce-*` headers, the data as the body), and NDJSON (one structured event
//! per line). Pure: headers and bytes in, per-event results out.

use schemas::input::{parse_events, InputEvent};
use schemas::FieldError;

/// The content mode of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One event as a JSON object.
    Structured,
    /// A JSON array of events.
    Batch,
    /// Attributes in `ce-*` headers, `data` in the body.
    Binary,
    /// One event per line.
    Ndjson,
    /// `application/json` without `ce-*` headers: one object or an array.
    Json,
}

/// Why a request body could not be read as events at all (HTTP 400 or 415).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// 415: a content type this receiver does not take.
    UnsupportedType(String),
    /// 400: the body is not what the content type says.
    Malformed { field: String, detail: String },
}

/// The UTF-8 byte order mark some Windows tools write first.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The `ce-*` headers of a request: (attribute name, value), the name
/// without the prefix and lower case, or why they cannot be read: an
/// attribute given twice (which one would win is a guess), or a value
/// that is not visible ASCII (the HTTP binding percent-encodes the rest).
pub fn ce_headers<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Result<Vec<(String, String)>, BodyError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let Some(attribute) = lower.strip_prefix("ce-") else {
            continue;
        };
        let field = attribute.to_owned();
        if out.iter().any(|(seen, _)| *seen == field) {
            return Err(BodyError::Malformed {
                detail: format!(
                    "the header {name} appears more than once; send each attribute once"
                ),
                field,
            });
        }
        let visible = value
            .iter()
            .all(|b| (0x20..0x7f).contains(b) || *b == b'\t');
        let text = std::str::from_utf8(value).ok().filter(|_| visible);
        let Some(text) = text else {
            return Err(BodyError::Malformed {
                detail: format!(
                    "the header {name} holds bytes that are not visible ASCII; \
                     percent-encode them (CloudEvents HTTP binding, section 3.1.3.2)"
                ),
                field,
            });
        };
        out.push((field, text.to_owned()));
    }
    Ok(out)
}

/// The content type without parameters, lower case.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Which mode a request is in, from its `Content-Type` and whether it has
/// a `ce-specversion` header.
pub fn mode(content_type: Option<&str>, has_ce_headers: bool) -> Result<Mode, BodyError> {
    if has_ce_headers {
        return Ok(Mode::Binary);
    }
    let media = content_type.map(media_type).unwrap_or_default();
    match media.as_str() {
        "application/cloudevents+json" => Ok(Mode::Structured),
        "application/cloudevents-batch+json" => Ok(Mode::Batch),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => Ok(Mode::Ndjson),
        "application/json" => Ok(Mode::Json),
        "" => Err(BodyError::UnsupportedType(
            "no Content-Type: send application/cloudevents+json, \
             application/cloudevents-batch+json, application/x-ndjson, or ce-* headers"
                .into(),
        )),
        other => Err(BodyError::UnsupportedType(format!(
            "Content-Type {other} is not a CloudEvents content mode this receiver takes"
        ))),
    }
}

/// Reads the events of a request in `mode`. `ce_headers` are the `ce-*`
/// headers (name without the prefix, lower case; value as sent).
pub fn read(
    mode: Mode,
    content_type: Option<&str>,
    ce_headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<InputEvent>, BodyError> {
    // A UTF-8 byte order mark is skipped (docs/VALIDATION.md), as
    // `parse_events` does; the mode checks below look past it.
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    let first = body
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let malformed = |detail: &str| BodyError::Malformed {
        field: String::new(),
        detail: detail.to_owned(),
    };
    match mode {
        Mode::Binary => return binary(content_type, ce_headers, body).map(|e| vec![e]),
        Mode::Structured if first != Some(b'{') => {
            return Err(malformed(
                "a structured CloudEvent is one JSON object; send a batch as application/cloudevents-batch+json",
            ))
        }
        Mode::Batch if first != Some(b'[') => {
            return Err(malformed(
                "a CloudEvents batch is a JSON array of events",
            ))
        }
        Mode::Ndjson if first == Some(b'[') => {
            return Err(malformed("NDJSON is one JSON object per line, not an array"))
        }
        _ => {}
    }
    if first.is_none() {
        return Err(malformed("the body holds no event"));
    }
    parse_events(body).map_err(|e| BodyError::Malformed {
        field: String::new(),
        detail: e.to_string(),
    })
}

/// A binary-mode event: the structured object made of the `ce-*`
/// attributes and the body as `data`, then validated like any other.
fn binary(
    content_type: Option<&str>,
    ce_headers: &[(String, String)],
    body: &[u8],
) -> Result<InputEvent, BodyError> {
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(BodyError::Malformed {
            field: "data".into(),
            detail: format!("the body (the event's data) is not JSON: {error}"),
        });
    }
    let mut envelope = serde_json::Map::new();
    for (name, value) in ce_headers {
        let decoded = percent_decode(value).map_err(|detail| BodyError::Malformed {
            field: name.clone(),
            detail,
        })?;
        envelope.insert(name.clone(), serde_json::Value::String(decoded));
    }
    if let Some(content_type) = content_type {
        // The binary mode carries `datacontenttype` as Content-Type; the
        // event rules accept only application/json, so anything else is
        // reported against that attribute.
        let media = media_type(content_type);
        envelope.insert("datacontenttype".into(), serde_json::Value::String(media));
    }
    // The data is spliced in as the bytes received, so that the strict
    // parser of `schemas` sees exactly what the producer sent.
    let mut text = serde_json::to_string(&envelope).map_err(|e| BodyError::Malformed {
        field: String::new(),
        detail: e.to_string(),
    })?;
    text.pop(); // the closing brace
    if !envelope.is_empty() {
        text.push(',');
    }
    text.push_str("\"data\":");
    text.push_str(std::str::from_utf8(body).map_err(|_| BodyError::Malformed {
        field: "data".into(),
        detail: "the body is not UTF-8".into(),
    })?);
    text.push('}');
    let mut events = parse_events(text.as_bytes()).map_err(|e| BodyError::Malformed {
        field: String::new(),
        detail: e.to_string(),
    })?;
    match events.pop() {
        Some(event) if events.is_empty() => Ok(event),
        _ => Err(BodyError::Malformed {
            field: String::new(),
            detail: "a binary-mode request holds exactly one event".into(),
        }),
    }
}

/// Decodes the percent-encoding the CloudEvents HTTP binding applies to
/// header values (space, `"`, `%` and non-ASCII), and that URLs apply to
/// user information. The decoding is `percent-encoding`'s; a `%` that does
/// not begin an escape, which that crate would keep as it is, is refused
/// here, naming where it is.
pub(crate) fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    if let Some(at) = bytes.iter().enumerate().position(|(i, &b)| {
        b == b'%' && !(bytes.get(i + 1..i + 3)).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(format!("bad percent-encoding at character {at}"));
    }
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| "percent-decodes to bytes that are not UTF-8".into())
}

/// Every problem of the events that failed validation: (index in the
/// request, line, field error).
pub fn problems(events: &[InputEvent]) -> Vec<(usize, usize, FieldError)> {
    let mut out = Vec::new();
    for (index, event) in events.iter().enumerate() {
        if let Err(errors) = &event.result {
            for error in errors {
                out.push((index, event.line, error.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_decode_and_a_stray_percent_is_named() {
        assert_eq!(percent_decode("caf%C3%A9 %22x%22").unwrap(), "café \"x\"");
        assert_eq!(percent_decode("plain/text").unwrap(), "plain/text");
        assert_eq!(percent_decode("%4a%4A").unwrap(), "JJ");
        for (bad, at) in [("50%", 2), ("%zz", 0), ("a%2", 1), ("%%41", 0)] {
            assert_eq!(
                percent_decode(bad),
                Err(format!("bad percent-encoding at character {at}")),
                "{bad}"
            );
        }
        assert_eq!(
            percent_decode("%FF").unwrap_err(),
            "percent-decodes to bytes that are not UTF-8"
        );
    }

    const EVENT: &str = r#"{"specversion":"1.0","id":"e1","source":"t/x","type":"outage.ended","time":"2026-01-05T10:00:00Z","tenant":"alver","data":{"service":"epost","outage_id":"O-1"}}"#;

    fn ok_count(mode: Mode, ct: &str, body: &str) -> usize {
        let events = read(mode, Some(ct), &[], body.as_bytes()).expect("readable");
        assert!(problems(&events).is_empty(), "{:?}", problems(&events));
        events.len()
    }

    #[test]
    fn a_byte_order_mark_is_skipped_in_every_mode() {
        let body = format!("\u{feff}{EVENT}");
        assert_eq!(
            ok_count(Mode::Structured, "application/cloudevents+json", &body),
            1
        );
        let batch = format!("\u{feff}[{EVENT}]");
        assert_eq!(
            ok_count(Mode::Batch, "application/cloudevents-batch+json", &batch),
            1
        );
        assert_eq!(ok_count(Mode::Ndjson, "application/x-ndjson", &body), 1);
    }

    #[test]
    fn ce_headers_refuse_repeats_and_raw_non_ascii() {
        let read = |headers: &[(&'static str, &'static [u8])]| ce_headers(headers.iter().copied());
        let ok = read(&[
            ("ce-tenant", b"alver"),
            ("content-type", b"x"),
            ("ce-id", b"e 1"),
        ]);
        assert_eq!(
            ok,
            Ok(vec![
                ("tenant".into(), "alver".into()),
                ("id".into(), "e 1".into())
            ])
        );
        let twice = read(&[("ce-tenant", b"alver"), ("ce-tenant", b"fedje")]);
        assert!(
            matches!(&twice, Err(BodyError::Malformed { field, detail })
                if field == "tenant" && detail.contains("more than once")),
            "{twice:?}"
        );
        let raw = read(&[("ce-subject", "Osterøy".as_bytes())]);
        assert!(
            matches!(&raw, Err(BodyError::Malformed { field, detail })
                if field == "subject" && detail.contains("percent-encode")),
            "{raw:?}"
        );
    }

    #[test]
    fn modes_follow_content_type_and_headers() {
        let m = |ct: &str| mode(Some(ct), false);
        assert_eq!(
            m("application/cloudevents+json; charset=utf-8"),
            Ok(Mode::Structured)
        );
        assert_eq!(m("application/cloudevents-batch+json"), Ok(Mode::Batch));
        assert_eq!(m("application/x-ndjson"), Ok(Mode::Ndjson));
        assert_eq!(mode(Some("application/json"), true), Ok(Mode::Binary));
        assert!(matches!(
            m("text/plain"),
            Err(BodyError::UnsupportedType(_))
        ));
        assert!(matches!(
            mode(None, false),
            Err(BodyError::UnsupportedType(_))
        ));
    }

    #[test]
    fn structured_batch_and_ndjson_read_every_event() {
        assert_eq!(ok_count(Mode::Structured, "", EVENT), 1);
        let batch = format!("[{EVENT},{}]", EVENT.replace("\"e1\"", "\"e2\""));
        assert_eq!(ok_count(Mode::Batch, "", &batch), 2);
        let lines = format!("{EVENT}\n{}\n", EVENT.replace("\"e1\"", "\"e2\""));
        assert_eq!(ok_count(Mode::Ndjson, "", &lines), 2);
        assert!(read(Mode::Batch, None, &[], EVENT.as_bytes()).is_err());
        assert!(read(Mode::Structured, None, &[], batch.as_bytes()).is_err());
    }

    #[test]
    fn binary_mode_builds_the_event_from_headers() {
        let headers: Vec<(String, String)> = [
            ("specversion", "1.0"),
            ("id", "e%201"),
            ("source", "t/x"),
            ("type", "outage.ended"),
            ("time", "2026-01-05T10:00:00Z"),
            ("tenant", "alver"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = br#"{"service":"epost","outage_id":"O-1"}"#;
        let events = read(Mode::Binary, Some("application/json"), &headers, body).unwrap();
        let event = events[0].result.as_ref().expect("valid");
        assert_eq!(event.key(), ("t/x", "e 1"));
        // A missing attribute is named.
        let events = read(Mode::Binary, Some("application/json"), &headers[1..], body).unwrap();
        let problems = problems(&events);
        assert!(
            problems.iter().any(|(_, _, e)| e.path == "specversion"),
            "{problems:?}"
        );
        // A body that is not JSON is a 400 naming data.
        let error = read(Mode::Binary, Some("application/json"), &headers, b"{").unwrap_err();
        assert!(matches!(error, BodyError::Malformed { field, .. } if field == "data"));
    }
}
