//! What the viewer's end-to-end tests share: a `tla demo --serve` over a
//! small demo ledger on a free port, and a GET through `ureq`.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the demo may take to build its ledger and start serving, in
/// a debug build on a busy two-core machine.
const START_SECONDS_MAX: u64 = 240;

/// A running `tla demo --serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    /// Everything the demo printed before the viewer's URL.
    pub output: String,
    /// The bearer token `get` sends, for a viewer that needs sign-in.
    pub token: Option<String>,
    _dir: tempfile::TempDir,
}

/// The token of `Server::start_signed`'s tokens file: an auditor, who
/// reads every tenant.
pub const READER_TOKEN: &str = "browser-reader-0123456789";

impl Server {
    /// `tla demo --serve` over `tenants` municipalities and `months` months.
    pub fn start(tenants: u32, months: u32) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = tla(dir.path());
        command.args(["demo", "--serve", "--listen", "127.0.0.1:0"]);
        command.args(demo_size(tenants, months));
        Server::spawn(command, dir)
    }

    /// `start`, with sign-in: a tokens file holding `READER_TOKEN`.
    pub fn start_signed(tenants: u32, months: u32) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let tokens = dir.path().join("tokens.toml");
        let file = format!(
            "[[token]]\nname = \"revisor\"\ntoken = \"{READER_TOKEN}\"\nrole = \"auditor\"\n"
        );
        std::fs::write(&tokens, file).expect("write the tokens file");
        let mut command = tla(dir.path());
        command.args(["demo", "--serve", "--listen", "127.0.0.1:0"]);
        command.args(demo_size(tenants, months));
        command.arg("--tokens").arg(&tokens);
        let mut server = Server::spawn(command, dir);
        server.token = Some(READER_TOKEN.to_owned());
        server
    }

    /// `tla demo` over `tenants` municipalities and `months` months, a
    /// checkpoint signed with a new key (`tla key generate`, `tla
    /// checkpoint`), then `tla view` over the ledger, given the public key
    /// when `with_key`.
    pub fn view(tenants: u32, months: u32, with_key: bool) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("signing.key");
        let key = key.to_str().expect("a UTF-8 path");
        let run = |args: &[&str]| -> String {
            let output = tla(dir.path()).args(args).output().expect("run tla");
            assert!(output.status.success(), "tla {args:?} failed: {output:?}");
            String::from_utf8(output.stdout).expect("UTF-8 output")
        };
        let size = demo_size(tenants, months);
        let mut demo = vec!["demo"];
        demo.extend(size.iter().map(String::as_str));
        run(&demo);
        let public = run(&[
            "key",
            "generate",
            "--name",
            "viewer.test/ledger",
            "--out",
            key,
        ]);
        run(&["checkpoint", "--key", key]);
        let mut command = tla(dir.path());
        command.args(["view", "--listen", "127.0.0.1:0"]);
        if with_key {
            command.args(["--key", public.trim()]);
        }
        Server::spawn(command, dir)
    }

    /// `tla view` over the ledger already in `DIR/ledger` (a
    /// `common::Env`'s directory), without sign-in.
    pub fn view_existing(dir: tempfile::TempDir) -> Server {
        let mut command = tla(dir.path());
        command.args(["view", "--listen", "127.0.0.1:0"]);
        Server::spawn(command, dir)
    }

    fn spawn(mut command: Command, dir: tempfile::TempDir) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tla");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut output = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                output.push_str(&line);
                output.push('\n');
                if let Some(rest) = line.split("http://").nth(1) {
                    let address = rest.split('/').next().unwrap_or_default().to_string();
                    let _ = sender.send((address, output.clone()));
                }
            }
        });
        let (address, output) = receiver
            .recv_timeout(Duration::from_secs(START_SECONDS_MAX))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("tla printed no viewer URL within {START_SECONDS_MAX} s")
            });
        Server {
            child,
            base: format!("http://{address}"),
            output,
            token: None,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Response {
        get_with(&self.url(path), self.token.as_deref())
    }
}

/// `tla --data-dir DIR/ledger`.
fn tla(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tla"));
    command
        .arg("--data-dir")
        .arg(dir.join("ledger"))
        .env_remove("TLA_DATA_DIR");
    command
}

fn demo_size(tenants: u32, months: u32) -> [String; 4] {
    [
        "--tenants".to_string(),
        tenants.to_string(),
        "--months".to_string(),
        months.to_string(),
    ]
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// GET `url` through `ureq`, the tests' one HTTP client: redirects not
/// followed (the sign-in's 303s are what some tests look at), any status
/// returned rather than raised, every header value kept.
pub fn get(url: &str) -> Response {
    get_with(url, None)
}

/// `get`, with `token` as the bearer token when given.
pub fn get_with(url: &str, token: Option<&str>) -> Response {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(120))
        .build();
    let mut request = agent.get(url);
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = match request.call() {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("GET {url}: {error}"),
    };
    let status = response.status();
    let mut names = response.headers_names();
    // Each name once, in the order first seen; `all` gives its values.
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.to_ascii_lowercase()));
    let headers = names
        .iter()
        .flat_map(|name| {
            response
                .all(name)
                .into_iter()
                .map(|value| (name.to_ascii_lowercase(), value.to_string()))
        })
        .collect();
    let body = response.into_string().expect("a UTF-8 body");
    Response {
        status,
        headers,
        body,
    }
}

/// A report percentage as the Nynorsk pages write it: "99,932 %".
pub fn percent_nn(pct: &str) -> String {
    format!("{} %", pct.replace('.', ","))
}
