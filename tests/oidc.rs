//! The viewer's OpenID Connect sign-in through `tla serve` against a real
//! provider: oidc-provider-mock (PyPI; scripts/test installs it), started
//! by the test on a free port, with a nats-server of the test's own. A
//! browser is played by an HTTP client that keeps cookies per origin and
//! follows redirects: it signs in by way of the provider's authorize
//! form, reads its own tenant, is refused another, is refused a callback
//! it did not start and one of another sign-in, is refused with a forged
//! session and after signing out; someone the provider knows but whose
//! claims grant nothing is refused with 403 and no session; and a session
//! is refused once it has expired, which the test sees by moving the
//! service's wall clock nine hours on with libfaketime (Debian's
//! `faketime`, also installed by scripts/test).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(20);

/// Someone in the group that grants alver.
const KARI: &str =
    r#"{"sub": "kari", "email": "kari@alver.kommune.no", "groups": ["alver-tla", "staff"]}"#;
/// Someone the provider knows whose claims grant nothing.
const OLA: &str = r#"{"sub": "ola", "email": "ola@example.no", "groups": ["staff"]}"#;

/// oidc-provider-mock on a free port; killed on drop.
struct Provider {
    port: u16,
    child: Child,
}

impl Provider {
    /// Starts the provider with Kari and Ola as its users, requiring a
    /// nonce in every authorization request.
    fn start(env: &Env) -> Provider {
        let installed = Command::new("python3")
            .args(["-c", "import oidc_provider_mock"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            installed,
            "oidc-provider-mock is not installed for python3: this test needs a real OpenID \
             Connect provider; run scripts/test, or `python3 -m pip install oidc-provider-mock`"
        );
        let port = free_port();
        let log = std::fs::File::create(env.path("oidc-provider.log")).expect("provider log");
        let child = Command::new("python3")
            .args(["-m", "oidc_provider_mock", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--require-nonce", "true"])
            .args(["--user-claims", KARI, "--user-claims", OLA])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start oidc-provider-mock");
        let provider = Provider { port, child };
        let discovery = format!("{}/.well-known/openid-configuration", provider.issuer());
        wait_for("the OpenID Connect provider's discovery", WAIT, || {
            ureq::get(&discovery).call().is_ok()
        });
        provider
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // Best effort: the provider may have died already, and a test
        // that failed must still report its own failure.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// libfaketime's preload library (Debian's `libfaketime`).
fn libfaketime() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libfaketime is not installed (looked at {candidates:?}): this test moves the \
                 service's clock to see a session expire; run scripts/test, or \
                 `apt-get install faketime`"
            )
        })
}

/// `tla serve` with the OpenID Connect file, its wall clock shifted by
/// what `clock` holds (libfaketime re-reads it at most once a second).
fn start_service(env: &Env, nats: &Nats, provider: &Provider, clock: &PathBuf) -> Service {
    std::fs::write(clock, "+0").expect("clock file");
    env.write("oidc-client-secret", b"client-secret-0123456789\n");
    let oidc = env.write(
        "oidc.toml",
        format!(
            "[oidc]\nname = \"Testkommune ID\"\nissuer = \"{}\"\nclient_id = \"tla-viewer\"\n\
             client_secret_file = \"oidc-client-secret\"\nscopes = [\"email\", \"profile\"]\n\n\
             [[oidc.grant]]\nclaim = \"groups\"\nvalue = \"alver-tla\"\nread = [\"alver\"]\n\n\
             [[oidc.grant]]\nclaim = \"email\"\nvalue = \"revisor@example.no\"\nrole = \"auditor\"\n",
            provider.issuer()
        )
        .as_bytes(),
    );
    let tokens = write_tokens(env);
    let port = free_port();
    let mut command = env.tla();
    command
        .args(["serve", "--nats", &nats.url()])
        .arg("--tokens")
        .arg(&tokens)
        .arg("--oidc")
        .arg(&oidc)
        .args(["--public-url", &format!("http://127.0.0.1:{port}")])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME_TIMESTAMP_FILE", clock)
        .env("FAKETIME_CACHE_DURATION", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    let service = Service::spawn(env, port, command);
    service.wait_healthy();
    service.seed_alver_and_fedje();
    service
}

/// One answer as the browser saw it.
#[derive(Debug)]
struct Answer {
    url: String,
    status: u16,
    body: String,
    location: Option<String>,
    set_cookies: Vec<String>,
}

/// A browser: cookies kept per origin (name → value; a `Max-Age=0`
/// removes one), redirects followed on request.
struct Browser {
    agent: ureq::Agent,
    cookies: BTreeMap<String, BTreeMap<String, String>>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookies: BTreeMap::new(),
        }
    }

    fn origin(url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let host = rest.split('/').next().unwrap_or(rest);
        format!("http://{host}")
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        let jar = self.cookies.get(&Browser::origin(url))?;
        let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// GET (or POST `form`) `url` once, cookies in and out.
    fn request(&mut self, url: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let method = if form.is_some() { "POST" } else { "GET" };
        let mut request = self.agent.request(method, url);
        if let Some(cookies) = self.cookie_header(url) {
            request = request.set("Cookie", &cookies);
        }
        let response = send(request, form);
        let set_cookies: Vec<String> = response
            .all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect();
        let jar = self.cookies.entry(Browser::origin(url)).or_default();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap_or("");
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if cookie.contains("Max-Age=0") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let location = response.header("location").map(|l| match l {
            l if l.starts_with('/') => format!("{}{l}", Browser::origin(url)),
            l => l.to_owned(),
        });
        Answer {
            url: url.to_owned(),
            status: response.status(),
            location,
            set_cookies,
            body: response.into_string().unwrap_or_default(),
        }
    }

    /// GET `url` and follow redirects: every answer on the way.
    fn follow(&mut self, url: &str) -> Vec<Answer> {
        let mut answers = vec![self.request(url, None)];
        while let Some(next) = answers.last().and_then(|a| a.location.clone()) {
            assert!(answers.len() < 10, "a redirect loop: {answers:#?}");
            answers.push(self.request(&next, None));
        }
        answers
    }

    /// Signs in as the provider's user `sub`, from the sign-in link of the
    /// page `start` answered 401 with: the answers from the provider's
    /// redirect back on.
    fn sign_in(&mut self, service: &Service, start: &str, sub: &str) -> Vec<Answer> {
        let page = self.request(&service.url(start), None);
        assert_eq!(page.status, 401, "{page:#?}");
        assert!(
            page.body.contains("Logg inn med Testkommune ID"),
            "{}",
            page.body
        );
        let link = page
            .body
            .split("href=\"")
            .filter_map(|s| s.split('"').next())
            .find(|href| href.starts_with("/sign-in/oidc?"))
            .expect("the sign-in page links to the provider")
            .replace("&amp;", "&");
        let to_provider = self.request(&service.url(&link), None);
        assert_eq!(to_provider.status, 303, "{to_provider:#?}");
        let flow = &to_provider.set_cookies;
        assert!(
            flow.iter().any(|c| c.starts_with("tla_sign_in=")
                && c.contains("HttpOnly")
                && c.contains("SameSite=Lax")),
            "{flow:?}"
        );
        let authorize = to_provider.location.expect("off to the provider");
        for part in [
            "response_type=code",
            "client_id=tla-viewer",
            "code_challenge_method=S256",
            "code_challenge=",
            "nonce=",
            "state=",
            "redirect_uri=http%3A%2F%2F127.0.0.1",
            "scope=openid+email+profile",
        ] {
            assert!(authorize.contains(part), "{authorize} lacks {part}");
        }
        // The provider's authorize form posts back to its own URL.
        let form = self.request(&authorize, None);
        assert_eq!(form.status, 200, "{form:#?}");
        assert!(form.body.contains("name=\"sub\""), "{}", form.body);
        let back = self.request(&authorize, Some(&[("sub", sub)]));
        let callback = back.location.clone().expect("back to the service");
        assert!(
            callback.starts_with(&service.url("/sign-in/oidc/callback?")),
            "{back:#?}"
        );
        let mut answers = vec![back];
        answers.extend(self.follow(&callback));
        answers
    }

    fn get(&mut self, service: &Service, path: &str) -> Answer {
        self.request(&service.url(path), None)
    }
}

#[test]
fn the_viewer_signs_in_through_an_openid_connect_provider() {
    let env = Env::new();
    let provider = Provider::start(&env);
    let nats = Nats::start(env.path("nats"));
    let clock = env.path("clock");
    let mut service = start_service(&env, &nats, &provider, &clock);

    // Kari signs in and comes back to the page she asked for.
    let mut kari = Browser::new();
    let answers = kari.sign_in(&service, "/tenants/alver/contacts", "kari");
    let callback = &answers[1];
    assert_eq!(callback.status, 303, "{answers:#?}");
    assert!(
        callback
            .set_cookies
            .iter()
            .any(|c| c.starts_with("tla_session=")),
        "{callback:#?}"
    );
    assert!(
        callback
            .set_cookies
            .iter()
            .any(|c| c.starts_with("tla_sign_in=") && c.contains("Max-Age=0")),
        "the flow is used once: {callback:#?}"
    );
    let page = answers.last().unwrap();
    assert_eq!(page.url, service.url("/tenants/alver/contacts"));
    assert_eq!(page.status, 200, "{page:#?}");
    assert!(
        page.body.contains("oidc:kari (kari@alver.kommune.no)"),
        "{}",
        page.body
    );

    // Her own tenant, and no other.
    assert_eq!(kari.get(&service, "/tenants/alver").status, 200);
    assert_eq!(
        kari.get(&service, "/v1/tenants/alver/reports/2026-01")
            .status,
        200
    );
    let home = kari.get(&service, "/");
    assert!(
        home.body.contains("/tenants/alver") && !home.body.contains("/tenants/fedje"),
        "{}",
        home.body
    );
    for path in ["/tenants/fedje/contacts", "/tenants/fedje/reports/2026-01"] {
        let refused = kari.get(&service, path);
        assert_eq!(refused.status, 403, "{path}");
        assert!(!refused.body.contains("O-1"), "{}", refused.body);
    }

    // The callback again (a replay, the flow cookie gone) is refused, and
    // so is a callback of another sign-in than the browser's.
    let replay = kari.request(&callback.url, None);
    assert_eq!(replay.status, 401, "{replay:#?}");
    assert!(
        replay.body.contains("did not start a sign-in"),
        "{}",
        replay.body
    );
    let started = kari.request(&service.url("/sign-in/oidc?next=/"), None);
    assert_eq!(started.status, 303);
    let crossed = callback.url.replace("state=", "state=x");
    let crossed = kari.request(&crossed, None);
    assert_eq!(crossed.status, 401, "{crossed:#?}");
    assert!(crossed.body.contains("another sign-in"), "{}", crossed.body);
    assert_eq!(kari.get(&service, "/tenants/alver").status, 200);

    // A forged session is refused.
    let mut forger = Browser::new();
    let session = &kari.cookies[&Browser::origin(&service.url("/"))]["tla_session"];
    let forged = altered_cookie(session);
    forger
        .cookies
        .entry(Browser::origin(&service.url("/")))
        .or_default()
        .insert("tla_session".into(), forged);
    let refused = forger.get(&service, "/tenants/alver");
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("sign in again"), "{}", refused.body);

    // Sign-out ends the session: the next read asks to sign in.
    let out = kari.request(&service.url("/sign-out"), Some(&[]));
    assert_eq!(out.status, 303);
    assert_eq!(out.location, Some(service.url("/sign-in")));
    let after = kari.get(&service, "/tenants/alver");
    assert_eq!(after.status, 401);
    assert!(after.body.contains("/sign-in/oidc?"), "{}", after.body);

    // Ola is known to the provider, but no grant matches his claims.
    let mut ola = Browser::new();
    let answers = ola.sign_in(&service, "/", "ola");
    let refused = answers.last().unwrap();
    assert_eq!(refused.status, 403, "{answers:#?}");
    assert!(
        refused.body.contains("oidc:ola (ola@example.no)"),
        "{}",
        refused.body
    );
    assert!(
        !refused
            .set_cookies
            .iter()
            .any(|c| c.starts_with("tla_session=")),
        "no session for him: {refused:#?}"
    );
    assert_eq!(ola.get(&service, "/").status, 401);

    // A session is refused once it has expired: nine hours on (a session
    // lasts eight), Kari's new session no longer opens.
    let mut kari = Browser::new();
    let answers = kari.sign_in(&service, "/tenants/alver", "kari");
    assert_eq!(answers.last().unwrap().status, 200, "{answers:#?}");
    std::fs::write(&clock, "+9h").expect("move the clock");
    std::thread::sleep(Duration::from_millis(2500));
    let expired = kari.get(&service, "/tenants/alver");
    assert_eq!(expired.status, 401, "{expired:#?}");
    assert!(expired.body.contains("expired"), "{}", expired.body);
    service.stop();

    // The access log names the OIDC subject for reads and sign-ins.
    let log = std::fs::read_to_string(env.path("service.log")).unwrap();
    let logged = |who: &str, what: &str, tenant: &str, status: u16| {
        access_logged(&log, who, what, tenant, status)
    };
    let kari = "oidc:kari (kari@alver.kommune.no)";
    assert!(logged(kari, "sign-in oidc", "", 303), "{log}");
    assert!(logged(kari, "contacts", "alver", 200), "{log}");
    assert!(logged(kari, "contacts", "fedje", 403), "{log}");
    assert!(
        logged("oidc:ola (ola@example.no)", "sign-in oidc", "", 403),
        "{log}"
    );
}

#[test]
fn oidc_needs_a_public_url_and_a_readable_secret() {
    let env = Env::new();
    let tokens = write_tokens(&env);
    let oidc = env.write(
        "oidc.toml",
        b"[oidc]\nissuer = \"https://idp.example.no\"\nclient_id = \"tla\"\n\
          client_secret_file = \"missing-secret\"\n\
          [[oidc.grant]]\nclaim = \"groups\"\nvalue = \"g\"\nread = [\"alver\"]\n",
    );
    let base = [
        "serve",
        "--nats",
        "nats://127.0.0.1:1",
        "--tokens",
        tokens.to_str().unwrap(),
        "--oidc",
        oidc.to_str().unwrap(),
    ];
    env.run(&base)
        .assert_code(1)
        .assert_stderr_contains("needs --public-url");
    env.run(&[&base[..], &["--public-url", "https://tla.example.no"]].concat())
        .assert_code(1)
        .assert_stderr_contains("oidc.client_secret_file: cannot read");
}
