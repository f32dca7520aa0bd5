//! Import files: bytes in, one validation result per event out, each with
//! the line it starts on.
//!
//! A file holds a single JSON object, a JSON array of objects, or NDJSON
//! (one object per line, blank lines ignored). A file that cannot be read
//! at all (not UTF-8, not JSON) is an [`InputError`] naming line and column;
//! otherwise every event gets its own result, so that one run lists every
//! bad event, and an NDJSON line that is not JSON is an error of that line
//! only.

use serde_json::value::RawValue;

use crate::json::{self, StrictError};
use crate::{fast, rules, Event, FieldError};

/// Most events in one input. An import is one all-or-nothing transaction
/// held in memory; a million events of a few hundred bytes is about 1 GB
/// of validated events, so larger imports must be split.
pub const INPUT_EVENTS_MAX: usize = 1_000_000;

/// One event read from an input: the 1-based line it starts on, and the
/// validation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    pub line: usize,
    pub result: Result<Event, Vec<FieldError>>,
}

/// Why an input could not be read as events at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct InputError {
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    pub message: String,
}

/// Parses a whole import: a single JSON object, a JSON array of objects, or
/// NDJSON. An empty input (or one of only whitespace) has no events. A
/// UTF-8 byte order mark at the start is skipped.
///
/// Each event is first tried by the fast path of the `fast` module; what
/// it is unsure of goes through `serde_json::Value` and
/// [`Event::from_json`], which gives the same result for everything the
/// fast path accepts ([`parse_events_reference`] takes the full path only).
pub fn parse_events(input: &[u8]) -> Result<Vec<InputEvent>, InputError> {
    parse(input, Path::Fast)
}

/// [`parse_events`] without the fast path: the reference it is tested against.
#[doc(hidden)]
pub fn parse_events_reference(input: &[u8]) -> Result<Vec<InputEvent>, InputError> {
    parse(input, Path::Full)
}

/// Which way events are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// The fast path where it applies, the full path for the rest.
    Fast,
    /// Always the full path.
    Full,
}

fn parse(input: &[u8], path: Path) -> Result<Vec<InputEvent>, InputError> {
    let text = std::str::from_utf8(input).map_err(|e| not_utf8(input, &e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first) = text.find(|c| !is_json_whitespace(c)) else {
        return Ok(Vec::new());
    };
    match text.as_bytes()[first] {
        b'[' => parse_array(text, path),
        b'{' => {
            // A text the fast path reads is one JSON object, hence no NDJSON.
            if let Some(event) = read_fast(text, path) {
                let (line, _) = rules::line_column(text, first);
                return Ok(vec![InputEvent {
                    line,
                    result: Ok(event),
                }]);
            }
            if is_ndjson(text, first) {
                parse_ndjson(text, path)
            } else {
                parse_single(text, first)
            }
        }
        _ => parse_single(text, first),
    }
}

/// The event of `text` by the fast path, if `path` allows it and it applies.
fn read_fast(text: &str, path: Path) -> Option<Event> {
    match path {
        Path::Fast => fast::read(text),
        Path::Full => None,
    }
}

fn is_json_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn not_utf8(input: &[u8], e: &std::str::Utf8Error) -> InputError {
    let valid = &input[..e.valid_up_to()];
    // `valid` is UTF-8 by the definition of `valid_up_to`.
    let prefix = std::str::from_utf8(valid).unwrap_or_default();
    let (line, column) = rules::line_column(prefix, prefix.len());
    let message = match e.error_len() {
        Some(_) => format!(
            "not UTF-8: byte 0x{:02x} is not part of a UTF-8 character; save the file as UTF-8",
            input[e.valid_up_to()]
        ),
        None => "not UTF-8: the input ends inside a character; save the file as UTF-8".to_string(),
    };
    InputError {
        line,
        column,
        message,
    }
}

/// An input starting with `{` is NDJSON unless it is one JSON value as a
/// whole; a first line that closes its own object marks NDJSON even when a
/// later line is broken, so that every broken line gets reported. Anything
/// else (a pretty-printed object with a syntax error) is one document.
fn is_ndjson(text: &str, first: usize) -> bool {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        return false;
    }
    let first_line = text[first..].split('\n').next().unwrap_or_default();
    first_line
        .trim_end_matches(is_json_whitespace)
        .ends_with('}')
}

fn syntax_input_error(e: StrictError) -> InputError {
    match e {
        StrictError::Syntax {
            line,
            column,
            message,
        } => InputError {
            line,
            column,
            message: format!("invalid JSON: {message}"),
        },
        // Only the strict parser reports duplicates, and it is never used
        // for a whole array; keep a sensible error all the same.
        StrictError::Duplicate { path } => InputError {
            line: 1,
            column: 1,
            message: format!("duplicate key at {path}"),
        },
    }
}

fn parse_single(text: &str, first: usize) -> Result<Vec<InputEvent>, InputError> {
    let (line, column) = rules::line_column(text, first);
    let result = match json::parse_strict(text) {
        Err(StrictError::Duplicate { path }) => Err(vec![json::duplicate_error(path)]),
        Err(e) => return Err(syntax_input_error(e)),
        Ok(v) if v.is_object() => Event::from_json(&v),
        Ok(v) => {
            return Err(InputError {
                line,
                column,
                message: format!(
                    "expected a JSON object, an array of objects, or NDJSON (one object per line), found {}",
                    rules::kind_of(&v)
                ),
            })
        }
    };
    Ok(vec![InputEvent { line, result }])
}

fn parse_array(text: &str, path: Path) -> Result<Vec<InputEvent>, InputError> {
    let elements: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| syntax_input_error(json::syntax_error(&e)))?;
    if elements.len() > INPUT_EVENTS_MAX {
        return Err(InputError {
            line: 1,
            column: 1,
            message: format!(
                "{} events in one input; at most {INPUT_EVENTS_MAX}, split the file",
                elements.len()
            ),
        });
    }
    let mut lines = LineCounter {
        text,
        offset: 0,
        line: 1,
    };
    let events = elements
        .into_iter()
        .map(|raw| {
            // Borrowed raw values are slices of `text`, so the difference
            // of the pointers is the element's offset in `text`.
            let offset = (raw.get().as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
            let line = lines.line_at(offset);
            InputEvent {
                line,
                result: parse_event(raw.get(), path),
            }
        })
        .collect();
    Ok(events)
}

fn parse_ndjson(text: &str, path: Path) -> Result<Vec<InputEvent>, InputError> {
    let mut events = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.chars().all(is_json_whitespace) {
            continue;
        }
        if events.len() == INPUT_EVENTS_MAX {
            return Err(InputError {
                line: i + 1,
                column: 1,
                message: format!(
                    "more than {INPUT_EVENTS_MAX} events in one input; split the file"
                ),
            });
        }
        events.push(InputEvent {
            line: i + 1,
            result: parse_event(line, path),
        });
    }
    Ok(events)
}

/// One event from its own text (an array element or an NDJSON line).
fn parse_event(text: &str, path: Path) -> Result<Event, Vec<FieldError>> {
    if let Some(event) = read_fast(text, path) {
        return Ok(event);
    }
    match json::parse_strict(text) {
        Ok(v) => Event::from_json(&v),
        Err(StrictError::Syntax {
            column,
            message,
            line,
        }) => {
            let at = if line > 1 {
                format!("line {line} of the event, column {column}")
            } else {
                format!("column {column}")
            };
            Err(vec![FieldError::new(
                "",
                format!("invalid JSON at {at}: {message}"),
            )])
        }
        Err(StrictError::Duplicate { path }) => Err(vec![json::duplicate_error(path)]),
    }
}

/// Line numbers of increasing offsets, counted incrementally so that a
/// large array is scanned once.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            (self.offset, self.line) = (0, 1);
        }
        let between = &self.text.as_bytes()[self.offset..offset];
        self.line += between.iter().filter(|&&b| b == b'\n').count();
        self.offset = offset;
        self.line
    }
}
