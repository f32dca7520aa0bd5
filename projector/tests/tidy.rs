//! Repository rules for the projector and the crates beside it
//! (`CRATES`), as a test: every Rust file opens
//! with a `//!` paragraph; no `dbg!` or `todo!`; no `.unwrap()` or
//! `.expect(` in library code outside its `#[cfg(test)]` module (a library
//! either handles the case or says in a comment why it cannot happen, with
//! a fallback such as `unwrap_or`).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The crates these rules cover, as directories of the workspace: the
/// engine and the library crates that grew out of it.
const CRATES: [&str; 2] = ["projector", "web"];

#[test]
fn tidy() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("projector sits in the workspace");
    let mut problems = Vec::new();
    for krate in CRATES {
        check(&workspace.join(krate), &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rules for one crate at `root`, each broken one added to `problems`.
fn check(root: &Path, problems: &mut Vec<String>) {
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    assert!(!files.is_empty(), "no Rust files under {}", root.display());
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        let name = path
            .strip_prefix(root.parent().unwrap_or(root))
            .unwrap_or(path)
            .display()
            .to_string();
        if !text.starts_with("//!") {
            problems.push(format!("{name}: does not open with a //! paragraph"));
        }
        for bad in [concat!("dbg", "!("), concat!("todo", "!(")] {
            if text.contains(bad) {
                problems.push(format!("{name}: contains {bad}"));
            }
        }
        if path.starts_with(root.join("src")) {
            let library = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in library.lines().enumerate() {
                if line.contains(concat!(".unwrap", "()")) || line.contains(concat!(".expect", "("))
                {
                    problems.push(format!("{name}:{}: unwrap/expect in library code", n + 1));
                }
            }
        }
    }
}
