//! ARCHITECTURE.md's invariants that a machine can check, as a test (in
//! the spirit of rust-analyzer's tidy tests): which crate of the
//! workspace may depend on which (read from `cargo metadata`), which
//! crates may use sled, NATS and the web stack, that every Rust file opens
//! with a `//!` paragraph, that library code neither `unwrap`s nor
//! panics outside its tests, that only `schemas::clock` reads the
//! clock, and that no string literal outside the `maud` templates holds
//! an HTML tag. Each rule names the file and line that break
//! it. A line that must break a rule on purpose says so with a
//! `tidy: allow` comment on it or on the line above, and why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace crates each crate may depend on (normal dependencies),
/// as ARCHITECTURE.md's "dependencies point one way" has them.
const LAYERS: &[(&str, &[&str])] = &[
    ("schemas", &[]),
    ("ledger", &["schemas"]),
    ("projector", &["schemas"]),
    ("web", &["schemas", "projector"]),
    ("ingest", &["schemas", "ledger", "protocol"]),
    ("demo", &[]),
    // The writer's and replicas' decisions, pure: no crate at all.
    ("protocol", &[]),
    // Test-only: the protocol against simulated parts.
    ("simulator", &["protocol"]),
    // The wiring and the binary: any library crate.
    ("service", LIBRARIES),
    ("tla", LIBRARIES),
];

/// The outside crates only some of ours may use, and which: the store, the
/// message bus, the web stack and the async runtime. The `tla` package
/// has sled, async-nats and postgres as optional dependencies of its
/// `bench` feature, for the `tla-bench` harness only, which
/// `binary_uses_them_only_in_its_benchmarks` holds it to.
const CONFINED: &[(&str, &[&str])] = &[
    ("sled", &["ledger", "tla"]),
    ("async-nats", &["ingest", "service", "tla"]),
    ("postgres", &["tla"]),
    ("axum", &["web", "ingest", "service"]),
    ("hyper", &["service"]),
    ("tower", &["service"]),
    ("tokio", &["web", "ingest", "service", "tla"]),
];

/// What the benchmark harness (`src/cmd/bench/`, the `tla-bench` binary)
/// may use and the `tla` binary may not.
const BENCH_ONLY: &[&str] = &["sled", "async_nats", "postgres", "nix"];

/// The library crates, whose `src/` the code rules cover.
const LIBRARIES: &[&str] = &[
    "schemas",
    "ledger",
    "projector",
    "web",
    "ingest",
    "demo",
    "service",
    "protocol",
];

/// Test-only crates: held to the code rules, and linked by nothing.
const TEST_ONLY: &[&str] = &["simulator"];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Each workspace package and its normal (not dev, not build) dependencies.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("a name").to_owned();
            let normal = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().expect("a name").to_owned())
                .collect();
            (name, normal)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn name(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Whether line `n` (0-based) of `lines`, or the one above it, carries a
/// `tidy: allow` comment.
fn allowed(lines: &[&str], n: usize) -> bool {
    let marked = |i: usize| lines.get(i).is_some_and(|l| l.contains("tidy: allow"));
    marked(n) || (n > 0 && marked(n - 1))
}

/// The library part of a source file: all of it up to its `#[cfg(test)]`
/// module, nothing of a file that is itself a test module.
fn library_part(path: &Path, text: &str) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    if file == "tests.rs" || path.components().any(|c| c.as_os_str() == "tests") {
        return None;
    }
    Some(text.split("#[cfg(test)]").next().unwrap_or("").to_owned())
}

/// The protocol's state machines depend on nothing (no runtime, no NATS,
/// no store, no clock crate): what makes them simulable. The simulator is
/// linked by nothing, so no planted bug reaches a build of the service.
#[test]
fn the_protocol_is_pure_and_the_simulator_test_only() {
    let packages = dependencies();
    let protocol = packages.get("protocol").expect("the protocol crate");
    assert!(protocol.is_empty(), "protocol depends on {protocol:?}");
    for (package, deps) in &packages {
        assert!(
            !deps.contains("simulator"),
            "{package} depends on the simulator"
        );
    }
    let mut files = Vec::new();
    rust_files(&workspace().join("protocol/src"), &mut files);
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        for read in [concat!("Instant::", "now"), concat!("SystemTime::", "now")] {
            assert!(!text.contains(read), "{}: reads the clock", name(path));
        }
    }
}

#[test]
fn dependencies_point_one_way() {
    let packages = dependencies();
    let ours: BTreeSet<&str> = packages.keys().map(String::as_str).collect();
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut problems = Vec::new();
    for (package, deps) in &packages {
        let Some(allowed) = layers.get(package.as_str()) else {
            problems.push(format!(
                "{package}: a crate ARCHITECTURE.md does not place (add it to LAYERS and the map)"
            ));
            continue;
        };
        for dep in deps.iter().filter(|d| ours.contains(d.as_str())) {
            if !allowed.contains(&dep.as_str()) {
                problems.push(format!("{package} depends on {dep}, against the layering"));
            }
        }
    }
    for (outside, users) in CONFINED {
        for (package, deps) in &packages {
            if deps.contains(*outside) && !users.contains(&package.as_str()) {
                problems.push(format!(
                    "{package} depends on {outside}, which only {users:?} may use"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn binary_uses_them_only_in_its_benchmarks() {
    let mut files = Vec::new();
    rust_files(&workspace().join("src"), &mut files);
    let bench = workspace().join("src/cmd/bench");
    let mut problems = Vec::new();
    for path in files.iter().filter(|p| !p.starts_with(&bench)) {
        let text = std::fs::read_to_string(path).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut words = code.split(|c: char| !(c.is_alphanumeric() || c == '_'));
            let words: BTreeSet<&str> = words.by_ref().collect();
            for used in BENCH_ONLY.iter().filter(|u| words.contains(**u)) {
                problems.push(format!(
                    "{}:{}: uses {used} outside the benchmark harness",
                    name(path),
                    n + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What `cargo tree -p tla -e normal` (the release binary, default
/// features) must not hold: the benchmark's database client and nix (the
/// ledger's lock is std's `File::try_lock`, the service's system calls
/// rustix's).
const NOT_IN_THE_BINARY: &[&str] = &["postgres", "tokio-postgres", "nix"];

#[test]
fn the_production_binary_links_no_benchmark_only_crate() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "tla",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
            "--locked",
        ])
        .current_dir(workspace())
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: BTreeSet<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(crates.contains("tokio"), "not the tla tree: {tree}");
    let found: Vec<&&str> = NOT_IN_THE_BINARY
        .iter()
        .filter(|c| crates.contains(**c))
        .collect();
    assert!(found.is_empty(), "the tla binary links {found:?}");
}

#[test]
fn every_rust_file_opens_with_a_doc_paragraph() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        rust_files(&workspace().join(dir), &mut files);
    }
    for krate in LIBRARIES.iter().chain(TEST_ONLY) {
        for dir in ["src", "tests", "benches", "fuzz"] {
            rust_files(&workspace().join(krate).join(dir), &mut files);
        }
    }
    assert!(files.len() > 100, "only {} Rust files found", files.len());
    let problems: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("read");
            !text.starts_with("//!")
        })
        .map(|path| format!("{}: does not open with a //! paragraph", name(path)))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn library_code_does_not_unwrap_or_panic() {
    let forbidden = [
        concat!(".unwrap", "()"),
        concat!("panic", "!("),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let mut problems = Vec::new();
    for krate in LIBRARIES.iter().chain(TEST_ONLY) {
        let mut files = Vec::new();
        rust_files(&workspace().join(krate).join("src"), &mut files);
        assert!(!files.is_empty(), "no sources in {krate}");
        for path in &files {
            let text = std::fs::read_to_string(path).expect("read");
            let Some(library) = library_part(path, &text) else {
                continue;
            };
            let lines: Vec<&str> = library.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for bad in forbidden.iter().filter(|b| code.contains(**b)) {
                    if !allowed(&lines, n) {
                        problems.push(format!(
                            "{}:{}: {bad} in library code (handle the case, or `expect` with the reason it cannot happen)",
                            name(path),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_clock_is_read_in_one_place() {
    let clock = workspace().join("schemas/src/clock.rs");
    let reads = [concat!("SystemTime::", "now"), concat!("Utc::", "now")];
    let mut problems = Vec::new();
    let mut files = Vec::new();
    rust_files(&workspace().join("src"), &mut files);
    for krate in LIBRARIES.iter().chain(TEST_ONLY) {
        rust_files(&workspace().join(krate).join("src"), &mut files);
    }
    for path in files.iter().filter(|p| **p != clock) {
        let text = std::fs::read_to_string(path).expect("read");
        let Some(library) = library_part(path, &text) else {
            continue;
        };
        for (n, line) in library.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if reads.iter().any(|r| code.contains(r)) {
                problems.push(format!(
                    "{}:{}: reads the clock itself; use schemas::clock",
                    name(path),
                    n + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rules above catch what they are meant to: each one fed a planted
/// violation.
#[test]
fn the_rules_catch_planted_violations() {
    let planted = "//! x\nfn f() { let v: Option<u8> = None; v.unwrap(); }\n";
    let library = library_part(Path::new("ledger/src/x.rs"), planted).expect("library code");
    assert!(library.contains(concat!(".unwrap", "()")));
    // A test module is not library code.
    assert!(library_part(Path::new("ledger/src/tests.rs"), planted).is_none());
    let lines = ["// tidy: allow (a test hook)", concat!("panic", "!(\"x\")")];
    assert!(allowed(&lines, 1));
    assert!(!allowed(&["", concat!("panic", "!(\"x\")")], 1));
    let after_tests = "//! x\n#[cfg(test)]\nmod tests { fn t() { None::<u8>.unwrap(); } }\n";
    let library = library_part(Path::new("web/src/x.rs"), after_tests).expect("library code");
    assert!(!library.contains(concat!(".unwrap", "()")));
}

/// HTML and SVG elements: a string literal holding one of these as a tag
/// (`<td`, `</td>`) is markup written by hand.
const ELEMENTS: &[&str] = &[
    "a",
    "body",
    "br",
    "button",
    "caption",
    "code",
    "dd",
    "desc",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "form",
    "g",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "html",
    "iframe",
    "img",
    "input",
    "label",
    "li",
    "line",
    "link",
    "main",
    "meta",
    "nav",
    "ol",
    "p",
    "pre",
    "rect",
    "script",
    "section",
    "span",
    "strong",
    "style",
    "svg",
    "table",
    "tbody",
    "td",
    "text",
    "th",
    "thead",
    "title",
    "tr",
    "ul",
];

/// Whether `text` holds an HTML tag: `<` or `</`, an element's name, then
/// a space, `>` or `/`.
fn holds_a_tag(text: &str) -> bool {
    text.match_indices('<').any(|(i, _)| {
        let rest = &text[i + 1..];
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        ELEMENTS.iter().any(|e| {
            rest.strip_prefix(e)
                .and_then(|after| after.chars().next())
                .is_some_and(|c| c == ' ' || c == '>' || c == '/')
        })
    })
}

/// The string literals of Rust source `code` with the line each starts
/// on (1-based): plain, byte and raw strings; comments, char literals and
/// lifetimes skipped. A lexer just good enough for this tree, not Rust's.
fn string_literals(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && at(i + 1) == '/') {
                line += usize::from(chars[i] == '\n');
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == '\'' {
            // 'x' and '\n' are chars; 'a (a lifetime) has no closing quote.
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
            } else if at(i + 2) == '\'' {
                i += 2;
            }
            i += 1;
            continue;
        }
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == 'r' && !ident_before && (at(i + 1) == '"' || at(i + 1) == '#') {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if at(i + 1 + hashes) == '"' {
                let start = line;
                let close: String = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                let body_start = i + 2 + hashes;
                let rest: String = chars[body_start..].iter().collect();
                let end = rest.find(&close).unwrap_or(rest.len());
                let body = &rest[..end];
                line += body.matches('\n').count();
                out.push((start, body.to_string()));
                i = body_start + body.chars().count() + close.chars().count();
                continue;
            }
        }
        if c == '"' {
            let (start, mut body) = (line, String::new());
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    body.push(chars[i]);
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                body.push(at(i));
                i += 1;
            }
            out.push((start, body));
        }
        i += 1;
    }
    out
}

/// The string literals of library `code` that hold an HTML tag, by line,
/// less those a `tidy: allow` comment excuses.
fn hand_written_html(code: &str) -> Vec<usize> {
    let lines: Vec<&str> = code.lines().collect();
    string_literals(code)
        .into_iter()
        .filter(|(_, text)| holds_a_tag(text))
        .map(|(line, _)| line)
        .filter(|line| !allowed(&lines, line - 1))
        .collect()
}

/// HTML is built by `maud` templates only (`projector::render::html`, the
/// viewer's pages), where tags are checked when the crate compiles and
/// every spliced string is escaped: no `format!`, `write!` or `push_str`
/// of a literal tag anywhere in library or binary code.
#[test]
fn html_is_built_by_templates_only() {
    let mut files = Vec::new();
    rust_files(&workspace().join("src"), &mut files);
    for krate in LIBRARIES {
        rust_files(&workspace().join(krate).join("src"), &mut files);
    }
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        let Some(library) = library_part(path, &text) else {
            continue;
        };
        for line in hand_written_html(&library) {
            problems.push(format!(
                "{}:{line}: a string literal holds an HTML tag; build the markup with a maud template",
                name(path)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The HTML rule catches markup written by hand, and only that.
#[test]
fn the_html_rule_catches_planted_markup() {
    let planted = [
        "//! x\nfn f(x: &str) -> String { format!(\"<td class=\\\"num\\\">{x}</td>\") }\n",
        "//! x\nfn f(out: &mut String) { out.push_str(\"</tbody>\\n\"); }\n",
        "//! x\nfn f() -> &'static str { r#\"<p class=\"x\">\"# }\n",
        "//! x\nfn f(o: &mut String) -> std::fmt::Result {\n    write!(o, \"a\\\n     <br>\")\n}\n",
    ];
    for code in planted {
        assert!(!hand_written_html(code).is_empty(), "not caught: {code}");
    }
    assert_eq!(hand_written_html(planted[3]), vec![3]);
    let innocent = [
        // A template, a comment, a doc, a command's placeholder, a lifetime.
        "//! <td> in a doc\nfn f<'a>(x: &'a str) -> Markup { html! { td { (x) } } }\n",
        "// format!(\"<td>\")\nfn f() -> char { '\"' }\n",
        "fn f() -> &'static str { \"run tla verify-report <file.json> or send Bearer <token>\" }\n",
        "fn f() -> &'static str { \"a < b and b > c\" }\n",
        // tidy: allow on the line above excuses a literal.
        "// tidy: allow (the splice point)\nconst END: &str = \"</header>\";\n",
    ];
    for code in innocent {
        assert!(
            hand_written_html(code).is_empty(),
            "taken for markup: {code}"
        );
    }
}
