//! The workspace's rooms, as a test: the engine crate (`projector`) has no
//! async runtime and serves nothing (no tokio, axum, hyper, tower or
//! async-nats, directly or through another crate of the workspace), and
//! the event transport crate (`ingest`) does not carry the demo history,
//! and no subcommand module of the binary (`src/cmd/`) imports another.
//!
//! It reads the members' `Cargo.toml` files, so it needs no network and no
//! `cargo metadata`; a dependency that enters through a crate of the
//! workspace is followed into that crate's manifest.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the engine must not depend on: an async runtime, a web framework
/// or server, or the NATS client. These belong to `web`, `service` and
/// `ingest`.
const FORBIDDEN_IN_ENGINE: [&str; 5] = ["tokio", "axum", "hyper", "tower", "async-nats"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("projector sits in the workspace")
        .to_path_buf()
}

/// The dependency names of a member's manifest: those of its
/// `[dependencies]` (also per target) when `normal_only`, else of every
/// dependency section (dev and build too).
fn dependencies(member: &str, normal_only: bool) -> BTreeSet<String> {
    let path = workspace().join(member).join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut names = BTreeSet::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = if normal_only {
                line == "[dependencies]" || line.ends_with(".dependencies]")
            } else {
                line.ends_with("dependencies]")
            };
            continue;
        }
        if !inside || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line
            .split(['=', '.'])
            .next()
            .map(str::trim)
            .unwrap_or_default();
        if !key.is_empty() {
            names.insert(key.to_owned());
        }
    }
    names
}

/// Every dependency `member` builds with (normal dependencies only),
/// following the workspace's own crates into their manifests.
fn closure(member: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![member.to_owned()];
    while let Some(next) = todo.pop() {
        for name in dependencies(&next, true) {
            if seen.insert(name.clone()) && workspace().join(&name).join("Cargo.toml").is_file() {
                todo.push(name);
            }
        }
    }
    seen
}

#[test]
fn the_engine_has_no_async_runtime_and_serves_nothing() {
    let built = closure("projector");
    let direct = dependencies("projector", false);
    assert!(
        built.contains("schemas") && direct.contains("chrono"),
        "the manifest reader found none of projector's known dependencies: {direct:?}"
    );
    let found: Vec<&str> = FORBIDDEN_IN_ENGINE
        .into_iter()
        .filter(|name| built.contains(*name) || direct.contains(*name))
        .collect();
    assert!(
        found.is_empty(),
        "projector (the pure engine) depends on {found:?}; serving and async I/O belong in \
         the web or service crate"
    );
}
#[test]
fn ingest_does_not_carry_the_demo() {
    let all = dependencies("ingest", false);
    assert!(
        all.contains("async-nats"),
        "the manifest reader found none of ingest's known dependencies: {all:?}"
    );
    assert!(
        !all.contains("demo") && !closure("ingest").contains("demo"),
        "ingest depends on the demo crate; the seeded history lives in `demo`"
    );
    assert!(
        !workspace().join("ingest/src/demo.rs").exists(),
        "ingest/src/demo.rs is back; the seeded history lives in the `demo` crate"
    );
}

#[test]
fn no_subcommand_module_imports_another() {
    let cmd = workspace().join("src/cmd");
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(&cmd).expect("src/cmd is readable") {
        let path = entry.expect("a directory entry").path();
        let name = match path.file_stem().and_then(|stem| stem.to_str()) {
            Some(name) if name != "mod" => name.to_owned(),
            _ => continue,
        };
        modules.push((name, path));
    }
    assert!(
        modules.iter().any(|(name, _)| name == "report"),
        "src/cmd/report.rs not found among {modules:?}"
    );
    let mut found = Vec::new();
    for (name, path) in modules.iter().filter(|(_, path)| path.is_file()) {
        let text = std::fs::read_to_string(path).expect("a readable module");
        for (other, _) in modules.iter().filter(|(other, _)| other != name) {
            for import in [format!("super::{other}"), format!("crate::cmd::{other}")] {
                let uses = text.match_indices(&import).any(|(at, _)| {
                    let rest = &text[at + import.len()..];
                    !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if uses {
                    found.push(format!("src/cmd/{name}.rs uses {import}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "subcommand modules import each other (shared code goes to src/cmd/mod.rs or a \
         library crate):\n{}",
        found.join("\n")
    );
}
