//! Shared helpers of the end-to-end tests: run the `tla` binary in a
//! temporary data directory and look at what it did.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `tla` command with `--data-dir` set to this environment's ledger.
    pub fn tla(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tla"));
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .env_remove("TLA_DATA_DIR");
        command
    }

    /// Runs `tla ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.tla().args(args).output().expect("run tla");
        Run::from(output, args)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }

    /// The ledger's events as canonical JSON values, through `tla export`.
    pub fn exported_events(&self) -> Vec<serde_json::Value> {
        let run = self.run(&["export"]);
        run.assert_code(0);
        run.stdout
            .lines()
            .skip(1)
            .map(|line| {
                let line: serde_json::Value = serde_json::from_str(line).expect("export line");
                serde_json::from_str(line["event"].as_str().expect("event string")).expect("event")
            })
            .collect()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "tla {} exited {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn assert_stderr_contains(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "tla {}: stderr lacks {text:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    pub fn assert_stdout_contains(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "tla {}: stdout lacks {text:?}:\n{}",
            self.args,
            self.stdout
        );
        self
    }
}

/// A valid event as JSON text: tenant, id, and an incident id.
pub fn event_json(tenant: &str, id: &str, incident: &str) -> String {
    serde_json::json!({
        "specversion": "1.0", "id": id, "source": "test/e2e",
        "type": "incident.opened", "time": "2025-11-03T09:15:00+01:00",
        "tenant": tenant, "datacontenttype": "application/json",
        "data": {"incident_id": incident, "service": "epost", "priority": "P2"}
    })
    .to_string()
}

/// `count` valid events as NDJSON over three tenants.
pub fn ndjson(count: usize) -> String {
    let tenants = ["alver", "fedje", "gulen"];
    (0..count)
        .map(|n| event_json(tenants[n % 3], &format!("ev-{n}"), &format!("INC-{n}")) + "\n")
        .collect()
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
