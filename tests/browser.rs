//! The viewer in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver, with `fantoccini`), over `tla demo --serve` on a
//! small demo ledger. A reader goes tenant → month → report by clicking
//! links, the page's figures are checked against the JSON report, verify
//! is pressed, the keyboard's skip link is used, and each step is saved as
//! a screenshot under `$CARGO_TARGET_TMPDIR/browser-artifacts` (printed).
//! Also `tla report --format pdf`, which prints through the same Chromium.
//!
//! `scripts/test` installs `chromium` and `chromium-driver` when they are
//! missing; without them these tests fail and say so, they never skip.

mod common;
mod viewer_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use viewer_support::{percent_nn, Server};

/// How long chromedriver may take to accept connections.
const DRIVER_START_SECONDS_MAX: u64 = 30;

/// The first of `candidates` that exists, or a failure that says how to
/// install it.
fn installed(candidates: &[&str], package: &str) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{} is missing: the browser tests need Debian's {package} package; \
                 run scripts/test (it installs it) or `apt-get install chromium chromium-driver`",
                candidates[0]
            )
        })
}

fn chromium() -> PathBuf {
    installed(
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "chromium",
    )
}

fn chromedriver() -> PathBuf {
    installed(&["/usr/bin/chromedriver"], "chromium-driver")
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

/// A running chromedriver on a free port; killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(DRIVER_START_SECONDS_MAX),
                "chromedriver did not listen on port {port} within {DRIVER_START_SECONDS_MAX} s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "binary": chromium(),
            // --no-sandbox: the tests may run as root (CI does), where
            // Chromium refuses its sandbox.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1100"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session through chromedriver")
}

async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    let png = client.screenshot().await.context("screenshot")?;
    ensure!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    let path = artifacts().join(name);
    std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))?;
    println!("screenshot: {}", path.display());
    Ok(())
}

/// How long a page may take to arrive after a click.
const PAGE_SECONDS_MAX: u64 = 20;

/// Waits until the page at `path` is shown with the heading `h1`, so
/// that no check reads the page a click is leaving.
async fn arrived(client: &Client, path: &str, h1: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let url = client.current_url().await?;
        let heading = match url.path() == path {
            true => client.find(Locator::Css("h1")).await.ok(),
            false => None,
        };
        if let Some(heading) = heading {
            if heading.text().await.ok().as_deref() == Some(h1) {
                return Ok(());
            }
        }
        ensure!(
            started.elapsed() < Duration::from_secs(PAGE_SECONDS_MAX),
            "no page {path} with heading {h1:?} within {PAGE_SECONDS_MAX} s (at {url})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_goes_from_tenant_to_a_verified_report() {
    let server = tokio::task::spawn_blocking(|| Server::start_signed(2, 2))
        .await
        .expect("the demo server");
    let driver = Driver::start();
    let client = browser(&driver).await;
    let walked = walk(&client, &server).await;
    let closed = client.close().await;
    walked.expect("the walk through the viewer");
    closed.expect("close the browser");
}

/// Opens the viewer, is shown the sign-in page, and signs in with the
/// server's token by typing it and pressing the button.
async fn sign_in(client: &Client, server: &Server) -> anyhow::Result<()> {
    client.goto(&server.url("/")).await?;
    arrived(client, "/", "Logg inn").await?;
    screenshot(client, "00-sign-in.png").await?;
    let token = server.token.as_deref().context("a server with sign-in")?;
    client
        .find(Locator::Id("token"))
        .await?
        .send_keys(token)
        .await?;
    client
        .find(Locator::Css(
            "form[action=\"/sign-in\"] button[type=\"submit\"]",
        ))
        .await?
        .click()
        .await?;
    Ok(())
}

async fn walk(client: &Client, server: &Server) -> anyhow::Result<()> {
    sign_in(client, server).await?;
    arrived(client, "/", "Kommunar").await?;
    screenshot(client, "01-tenants.png").await?;

    client
        .find(Locator::LinkText("Alver"))
        .await?
        .click()
        .await?;
    arrived(client, "/tenants/alver", "Alver").await?;
    screenshot(client, "02-alver-months.png").await?;
    living_documents(client).await?;

    client
        .find(Locator::Css("a[data-period=\"2025-12\"]"))
        .await?
        .click()
        .await?;
    let report = "/tenants/alver/reports/2025-12";
    arrived(client, report, "Tenestenivårapport: Alver, desember 2025").await?;
    screenshot(client, "03-report.png").await?;
    figures_match_the_json_report(client, server).await?;
    skip_link_works_by_keyboard(client).await?;

    client.find(Locator::Id("verify")).await?.click().await?;
    let verdict = client.wait().for_element(Locator::Id("verdict")).await?;
    ensure!(verdict.text().await? == "Verifisert");
    ensure!(client.current_url().await?.path().ends_with("/verify"));
    screenshot(client, "04-verified.png").await?;

    client
        .find(Locator::LinkText("English"))
        .await?
        .click()
        .await?;
    arrived(client, report, "Service level report: Alver, December 2025").await?;
    screenshot(client, "05-report-en.png").await?;

    client.set_window_size(390, 844).await?;
    client
        .goto(&server.url("/tenants/alver/reports/2025-12"))
        .await?;
    let width: u64 = client
        .execute("return document.documentElement.scrollWidth", vec![])
        .await?
        .as_u64()
        .context("a width")?;
    ensure!(
        width <= 390,
        "the report scrolls sideways on a phone: {width} px"
    );
    screenshot(client, "06-report-phone.png").await?;
    Ok(())
}

/// The contacts and meetings pages, reached from the tenant's page and
/// back by the breadcrumb trail.
async fn living_documents(client: &Client) -> anyhow::Result<()> {
    for (link, path, heading, shot) in [
        (
            "Kontaktpersonar",
            "/tenants/alver/contacts",
            "Kontaktpersonar: Alver",
            "02a-contacts.png",
        ),
        (
            "Møte og referat",
            "/tenants/alver/meetings",
            "Møte og referat: Alver",
            "02b-meetings.png",
        ),
    ] {
        client.find(Locator::LinkText(link)).await?.click().await?;
        arrived(client, path, heading).await?;
        ensure!(
            !client.find_all(Locator::Css("tbody tr")).await?.is_empty(),
            "{path} lists nothing"
        );
        screenshot(client, shot).await?;
        client
            .find(Locator::Css("nav .crumbs a[href=\"/tenants/alver\"]"))
            .await?
            .click()
            .await?;
        arrived(client, "/tenants/alver", "Alver").await?;
    }
    Ok(())
}

/// Availability per service, the deviation count and the digest on the page
/// against the JSON report the page's own download link serves.
async fn figures_match_the_json_report(client: &Client, server: &Server) -> anyhow::Result<()> {
    let link = client
        .find(Locator::Css("a[data-format=\"json\"]"))
        .await?
        .attr("href")
        .await?
        .context("the JSON link has an href")?;
    let json = server.get(&link);
    ensure!(json.status == 200, "{link}: {}", json.status);
    let report: projector::Report = serde_json::from_str(&json.body)?;
    let rows = client
        .find_all(Locator::Css(
            "section[aria-labelledby=\"availability\"] tbody tr",
        ))
        .await?;
    let guaranteed = report
        .services
        .iter()
        .filter(|s| s.availability.is_some())
        .count();
    ensure!(
        rows.len() == guaranteed,
        "{} rows, {guaranteed} guarantees",
        rows.len()
    );
    for row in rows {
        let service = row.find(Locator::Css("th")).await?.text().await?;
        let achieved = row
            .find(Locator::Css("td:nth-of-type(2)"))
            .await?
            .text()
            .await?;
        let figures = report
            .services
            .iter()
            .find(|s| s.service == service)
            .and_then(|s| s.availability.as_ref())
            .with_context(|| format!("{service} is not in the JSON report"))?;
        if let Some(pct) = &figures.achieved_pct {
            ensure!(
                achieved == percent_nn(pct),
                "{service}: page {achieved}, JSON {pct}"
            );
        }
    }
    let deviations = client
        .find_all(Locator::Css(
            "section[aria-labelledby=\"deviations\"] tbody tr",
        ))
        .await?;
    ensure!(deviations.len() == report.deviations.len());
    let page = client.source().await?;
    ensure!(page.contains(&report.manifest.report_digest));
    Ok(())
}

/// The first Tab lands on the skip link, and Enter moves to the content.
async fn skip_link_works_by_keyboard(client: &Client) -> anyhow::Result<()> {
    const TAB: &str = "\u{e004}";
    const ENTER: &str = "\u{e007}";
    client
        .find(Locator::Css("body"))
        .await?
        .send_keys(TAB)
        .await?;
    let focused = client.active_element().await?;
    ensure!(focused.text().await? == "Hopp til innhaldet");
    focused.send_keys(ENTER).await?;
    ensure!(client.current_url().await?.fragment() == Some("main"));
    Ok(())
}

#[test]
fn report_format_pdf_prints_through_chromium() {
    chromium();
    let env = common::Env::new();
    env.run(&["demo", "--tenants", "1", "--months", "1"])
        .assert_code(0);
    let out = env.path("alver-2025-11.pdf");
    let out_arg = out.to_str().expect("a UTF-8 path");
    let args = [
        "report", "--tenant", "alver", "--period", "2025-11", "--format", "pdf", "--out", out_arg,
    ];
    env.run(&args).assert_code(0);
    let pdf = std::fs::read(&out).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(
        pdf.len() > 10_000,
        "a suspiciously small PDF: {} bytes",
        pdf.len()
    );
    let copy = artifacts().join("alver-2025-11.pdf");
    std::fs::copy(&out, &copy).expect("keep the PDF");
    println!("pdf: {}", copy.display());

    let missing = env
        .tla()
        .args(args)
        .env("TLA_CHROMIUM", "/nonexistent/chromium")
        .output()
        .expect("run tla");
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("Chromium"), "{stderr}");
    assert!(stderr.contains("/nonexistent/chromium"), "{stderr}");
}
