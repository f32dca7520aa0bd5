//! The file edge of `tla import`: reading the input (a file or stdin),
//! recognising a `tla export` file given instead of events, writing the
//! refused events as received to `--rejects`, and removing a ledger the
//! import created but appended nothing to.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use ingest::import::Refused;

/// Removes the ledger directory this import created, when it appends
/// nothing; under the ledger's lock, so that a process that opened the new
/// ledger in the meantime keeps it.
pub fn discard_if_created(ledger: ledger::Ledger, dir: &Path, created: bool) -> anyhow::Result<()> {
    drop(ledger);
    if created {
        let _lock = ledger::DirLock::acquire_closed(dir).with_context(|| {
            format!(
                "the empty ledger this import created in {} was opened by another process; \
                 it is left in place",
                dir.display()
            )
        })?;
        std::fs::remove_dir_all(dir).with_context(|| {
            format!(
                "cannot remove the empty ledger it created in {}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// The bytes of the import file, with the name messages give it (`-`
/// is stdin).
pub fn read_input(file: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        return Ok(("stdin".into(), bytes));
    }
    let name = file.display().to_string();
    bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
    Ok((name, bytes))
}

/// Whether `bytes` is a `tla export` file (its first line the export
/// header of docs/FORMAT.md) rather than CloudEvents.
pub fn is_export(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXPORT_HEADER_BYTES_MAX)]);
    let first = text.trim_start_matches('\u{feff}').trim_start();
    let Some(line) = first.lines().next() else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|header| {
        header["format"]
            .as_str()
            .is_some_and(|format| format.starts_with("tla-export/"))
            && header.get("scope").is_some()
    })
}

/// How far into a file its export header is looked for (a header is a
/// few hundred bytes).
const EXPORT_HEADER_BYTES_MAX: usize = 64 * 1024;

/// Writes the refused events with their errors as NDJSON to `path` (`-`:
/// stdout): each as it was received in `input` (the JSON value, or the raw
/// line when it is not JSON), so that the producer can correct and resend
/// it: `{"line": N, "errors": [...], "event": {...}}` or
/// `{"line": N, "errors": [...], "raw": "..."}`.
pub fn write_rejects(path: &Path, refused: &[Refused], input: &[u8]) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(input);
    let received = received_by_line(&text);
    let mut lines = Vec::new();
    for event in refused {
        let mut line = serde_json::json!({
            "line": event.line,
            "errors": event.errors,
        });
        let as_received = received.get(&event.line).copied();
        match as_received.map(|raw| (raw, serde_json::from_str::<serde_json::Value>(raw))) {
            Some((_, Ok(value))) => line["event"] = value,
            Some((raw, Err(_))) => line["raw"] = raw.into(),
            // Not found as received (it cannot happen: every refused event
            // starts on a line of the input): its canonical form, if any.
            None => {
                line["event"] = event
                    .event
                    .as_deref()
                    .and_then(|canonical| serde_json::from_str(canonical).ok())
                    .unwrap_or_default()
            }
        }
        lines.push(line);
    }
    if path == Path::new("-") {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for line in &lines {
            if writeln!(out, "{line}").is_err() {
                break;
            }
        }
        return Ok(());
    }
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    for line in &lines {
        writeln!(out, "{line}").with_context(|| format!("writing {}", path.display()))?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The text of each event in an import as received, by the 1-based line
/// it starts on (as `schemas::input` counts): the elements of a JSON
/// array, the one object of a single-object file, or each non-blank line
/// of NDJSON.
fn received_by_line(text: &str) -> std::collections::BTreeMap<usize, &str> {
    use serde_json::value::RawValue;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let line_of = |part: &str| {
        let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        text.get(..offset)
            .map_or(1, |before| before.matches('\n').count() + 1)
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        if let Ok(elements) = serde_json::from_str::<Vec<&RawValue>>(text) {
            return elements
                .into_iter()
                .map(|raw| (line_of(raw.get()), raw.get()))
                .collect();
        }
    }
    if serde_json::from_str::<&RawValue>(text).is_ok() {
        let whole = text.trim();
        return std::iter::once((line_of(whole), whole)).collect();
    }
    text.split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_found_as_received_by_their_first_line() {
        let ndjson = "{\"a\":1}\n\nnot json\n{\"b\":2}\n";
        let found = received_by_line(ndjson);
        assert_eq!(found.get(&1), Some(&"{\"a\":1}"));
        assert_eq!(found.get(&3), Some(&"not json"));
        assert_eq!(found.get(&4), Some(&"{\"b\":2}"));
        let array = "[\n  {\"a\": 1},\n  {\"b\":\n 2}\n]";
        let found = received_by_line(array);
        assert_eq!(found.get(&2), Some(&"{\"a\": 1}"));
        assert_eq!(found.get(&3), Some(&"{\"b\":\n 2}"));
        let single = "\n{\n \"a\": 1\n}\n";
        assert_eq!(received_by_line(single).get(&2), Some(&"{\n \"a\": 1\n}"));
    }

    #[test]
    fn an_export_header_is_recognised() {
        let export = b"{\"format\":\"tla-export/1\",\"scope\":\"ledger\",\"entries\":0}\n";
        assert!(is_export(export));
        assert!(!is_export(b"{\"specversion\":\"1.0\"}\n"));
        assert!(!is_export(b"not json"));
    }
}
