//! The viewer in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver, with `fantoccini`), over `tla demo --serve` on a
//! small demo ledger. A reader goes tenant → month → report by clicking
//! links, the page's figures are checked against the JSON report, verify
//! is pressed, the keyboard's skip link is used, and each step is saved as
//! a screenshot under `$CARGO_TARGET_TMPDIR/browser-artifacts` (printed).
//! A report with an explanation and an acknowledgement, on a ledger built
//! from imported events and served by `tla view`, shows both; another
//! shows the provider's deviations apart from the municipality's and a
//! partial outage (issue 22); one issued and then outgrown by a
//! retroactive agreement version is marked "utdatert" with the new figures
//! beside, and the agreement versions page shows the version that waits
//! for approval (issue 21). Also `tla report --format pdf`, which prints
//! through the same Chromium.
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

/// Runs `check` in a Chromium session of its own, which is closed
/// whatever the check found; a failed check fails the test as `what`.
async fn in_chromium(what: &str, check: impl AsyncFnOnce(&Client) -> anyhow::Result<()>) {
    let driver = Driver::start();
    let client = browser(&driver).await;
    let checked = check(&client).await;
    let closed = client.close().await;
    if let Err(error) = checked {
        panic!("{what}: {error:?}");
    }
    closed.expect("close the browser");
}

/// `tla view` over a ledger that `build` imports into a fresh
/// `common::Env` (off the async runtime), and what `build` returned.
async fn viewer_over<T: Send + 'static>(
    build: impl FnOnce(&common::Env) -> T + Send + 'static,
) -> (Server, T) {
    tokio::task::spawn_blocking(move || {
        let env = common::Env::new();
        let built = build(&env);
        (Server::view_existing(env.dir), built)
    })
    .await
    .expect("the viewer over the ledger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_goes_from_tenant_to_a_verified_report() {
    let server = tokio::task::spawn_blocking(|| Server::start_signed(2, 2))
        .await
        .expect("the demo server");
    in_chromium("the walk through the viewer", async |client| {
        walk(client, &server).await
    })
    .await;
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
            // The page names a service as the agreement does (issue 22),
            // the JSON by its id and that name.
            .find(|s| {
                s.service == service
                    || s.details.as_ref().and_then(|d| d.name.as_deref()) == Some(service.as_str())
            })
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

/// The cause, the action's title and the person of the ledger that
/// `followed_up_ledger` builds.
const CAUSE: &str = "Straumbrot i serverrommet: UPS-en var ikkje testa";
const ACTION_TITLE: &str = "Test UPS-en kvar månad";
const ACKNOWLEDGED_BY: &str = "Kari Nordmann";
const ACKNOWLEDGED_COMMENT: &str = "Motteke utan merknader";

/// Imports NDJSON `lines` into `env`'s ledger with `tla import`.
fn import(env: &common::Env, name: &str, lines: &[String]) {
    let file = env.write(name, (lines.join("\n") + "\n").as_bytes());
    env.run(&["import", file.to_str().expect("a UTF-8 path")])
        .assert_code(0);
}

fn event(id: &str, kind: &str, time: &str, data: serde_json::Value) -> String {
    serde_json::json!({"specversion": "1.0", "id": id, "source": "test/browser", "type": kind,
                       "time": time, "tenant": "alver", "data": data})
    .to_string()
}

/// A ledger built from imported events only (not the demo's): alver's
/// agreement and a six-hour outage of epost in January 2026 (99.19 % of
/// a 99.5 % target: one deviation); an action opened for it in January
/// and the deviation explained in February, by the id `tla report` gives
/// it, naming the action; January issued
/// (`tla report issue`); then its acknowledgement naming the issued
/// digest. Returns the issued report.
fn followed_up_ledger(env: &common::Env) -> projector::Report {
    import(
        env,
        "base.ndjson",
        &[
            common::agreement_json("alver"),
            common::outage_json("alver", "o-1", "O-1", "2026-01-10T10:00:00Z", true),
            common::outage_json("alver", "o-2", "O-1", "2026-01-10T16:00:00Z", false),
        ],
    );
    let run = env.run(&[
        "report", "--tenant", "alver", "--period", "2026-01", "--format", "json",
    ]);
    run.assert_code(0);
    let report: projector::Report = serde_json::from_str(&run.stdout).expect("a JSON report");
    let follow_up = report.follow_up.expect("a format-2 report");
    assert_eq!(follow_up.len(), 1, "one deviation: {follow_up:?}");
    let id = follow_up[0].id.clone();
    import(
        env,
        "follow-up.ndjson",
        &[
            event(
                "a-1",
                "action.opened",
                "2026-01-12T09:00:00Z",
                serde_json::json!({
                "action_id": "ups-1", "title": ACTION_TITLE, "owner": "Driftsgruppa",
                "due": "2026-03-01T00:00:00Z", "deviation_ids": [id]}),
            ),
            event(
                "e-1",
                "deviation.explained",
                "2026-02-02T10:00:00Z",
                serde_json::json!({
                "deviation_id": id, "cause": CAUSE, "action_id": "ups-1"}),
            ),
        ],
    );
    let out = env.path("issued.json");
    let out_arg = out.to_str().expect("a UTF-8 path");
    env.run(&[
        "report", "issue", "--tenant", "alver", "--period", "2026-01", "--out", out_arg,
    ])
    .assert_code(0);
    let issued: projector::Report =
        serde_json::from_slice(&std::fs::read(&out).expect("the issued report")).expect("JSON");
    import(
        env,
        "acknowledgement.ndjson",
        &[event(
            "k-1",
            "report.acknowledged",
            "2026-02-05T08:30:00Z",
            serde_json::json!({
            "period": "2026-01", "report_digest": issued.manifest.report_digest,
            "person": ACKNOWLEDGED_BY, "comment": ACKNOWLEDGED_COMMENT}),
        )],
    );
    issued
}

/// The headless browser opens a report with an explanation and an
/// acknowledgement (a ledger of imported events, served by `tla view`)
/// and sees both: the cause and action on the deviation's follow-up row,
/// and who acknowledged the report, when, with their comment and digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_shows_its_explanation_and_acknowledgement() {
    let (server, issued) = viewer_over(followed_up_ledger).await;
    in_chromium(
        "the explanation and the acknowledgement shown",
        async |client| explanation_and_acknowledgement(client, &server, &issued).await,
    )
    .await;
}

async fn explanation_and_acknowledgement(
    client: &Client,
    server: &Server,
    issued: &projector::Report,
) -> anyhow::Result<()> {
    let report = "/tenants/alver/reports/2026-01";
    client.goto(&server.url(report)).await?;
    arrived(client, report, "Tenestenivårapport: Alver, januar 2026").await?;
    let id = &issued.follow_up.as_ref().context("format 2")?[0].id;
    let row = client
        .find(Locator::Css(&format!("tr[id=\"deviation-{id}\"]")))
        .await?;
    let cells = row.text().await?;
    ensure!(
        cells.contains(CAUSE),
        "no cause on the deviation's row: {cells}"
    );
    ensure!(
        cells.contains(ACTION_TITLE) && cells.contains("ups-1"),
        "no action: {cells}"
    );
    ensure!(row.is_displayed().await?, "the follow-up row is hidden");
    let panel = client.find(Locator::Id("acknowledged")).await?;
    ensure!(panel.is_displayed().await?, "the acknowledgement is hidden");
    let text = panel.text().await?;
    for shown in [
        ACKNOWLEDGED_BY,
        ACKNOWLEDGED_COMMENT,
        "2026-02-05 09:30 CET",
        issued.manifest.report_digest.as_str(),
    ] {
        ensure!(
            text.contains(shown),
            "{shown:?} not in the acknowledgement: {text}"
        );
    }
    ensure!(
        client
            .find_all(Locator::Id("acknowledged-older"))
            .await?
            .is_empty(),
        "the acknowledgement names this report's digest"
    );
    screenshot(client, "10-report-explained-acknowledged.png").await?;
    client
        .goto(&server.url("/tenants/alver/follow-up?lang=en"))
        .await?;
    arrived(client, "/tenants/alver/follow-up", "Follow-up: Alver").await?;
    // Open until its due date, overdue after it (the viewer's clock runs on).
    let mut listed = String::new();
    for section in ["open-actions", "overdue-actions"] {
        listed.push_str(&client.find(Locator::Id(section)).await?.text().await?);
    }
    ensure!(
        listed.contains(ACTION_TITLE),
        "not on the follow-up page: {listed}"
    );
    screenshot(client, "11-follow-up.png").await?;
    Ok(())
}

/// A month with a deviation of each party and a partial outage (issue
/// 22), from imported events: alver's agreement requiring a
/// `tenant_contact` nobody holds (owed by the municipality, SEMANTICS.md
/// section 12.9), a six-hour full outage of epost (availability below
/// target, owed by the provider) and a partial outage of epost on
/// another day, which counts as no downtime but is listed.
fn two_parties_ledger(env: &common::Env) {
    let agreement = common::agreement_with(serde_json::json!({
        "contacts": {"required_roles": ["tenant_contact"]}
    }));
    import(
        env,
        "month.ndjson",
        &[
            common::agreement_event("alver", agreement),
            common::outage_json("alver", "o-1", "O-1", "2026-01-10T10:00:00Z", true),
            common::outage_json("alver", "o-2", "O-1", "2026-01-10T16:00:00Z", false),
            event(
                "p-1",
                "outage.started",
                "2026-01-20T08:00:00Z",
                serde_json::json!({"service": "epost", "outage_id": "P-1", "impact": "partial"}),
            ),
            event(
                "p-2",
                "outage.ended",
                "2026-01-20T15:48:00Z",
                serde_json::json!({"service": "epost", "outage_id": "P-1"}),
            ),
        ],
    );
}

/// The headless browser opens that month's report page and sees the
/// provider's deviations apart from the municipality's, each in its own
/// table with its caption, and the partial outage among the outages
/// behind the figures, marked as not counted, in both languages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_page_shows_who_owes_what_and_the_partial_outage() {
    let (server, ()) = viewer_over(two_parties_ledger).await;
    in_chromium(
        "the two groups and the partial outage shown",
        async |client| who_owes_what(client, &server).await,
    )
    .await;
}

async fn who_owes_what(client: &Client, server: &Server) -> anyhow::Result<()> {
    let report = "/tenants/alver/reports/2026-01";
    let pages = [
        (
            "",
            "Tenestenivårapport: Alver, januar 2026",
            ["Avvik frå TLA-krava (1)", "Kommunen sine plikter (1)"],
            [
                "Tilgjengelegheit under mål",
                "Kontaktperson i kommunen (tenant_contact)",
            ],
            "delvis utfall (tel ikkje som nedetid)",
        ),
        (
            "?lang=en",
            "Service level report: Alver, January 2026",
            [
                "Deviations from the TLA requirements (1)",
                "What the municipality owes (1)",
            ],
            [
                "Availability below target",
                "Municipal contact (tenant_contact)",
            ],
            "partial outage (not counted as downtime)",
        ),
    ];
    for (query, h1, captions, rows, partial) in pages {
        client
            .goto(&server.url(&format!("{report}{query}")))
            .await?;
        arrived(client, report, h1).await?;
        let section = client
            .find(Locator::Css("section[aria-labelledby=\"deviations\"]"))
            .await?;
        let tables = section.find_all(Locator::Css("table")).await?;
        ensure!(
            tables.len() == 2,
            "{} deviation tables, not 2",
            tables.len()
        );
        for ((table, caption), row) in tables.iter().zip(captions).zip(rows) {
            let shown = table.find(Locator::Css("caption")).await?.text().await?;
            ensure!(shown == caption, "caption {shown:?}, not {caption:?}");
            let text = table.text().await?;
            ensure!(
                text.contains(row),
                "{row:?} not in the table {caption:?}: {text}"
            );
            ensure!(
                table.is_displayed().await?,
                "the table {caption:?} is hidden"
            );
        }
        let outage = client
            .find(Locator::Css(
                "section[aria-labelledby=\"outages\"] tr[data-outage=\"P-1\"]",
            ))
            .await?;
        ensure!(outage.is_displayed().await?, "the partial outage is hidden");
        let text = outage.text().await?;
        ensure!(
            text.contains(partial) && text.contains("E-post"),
            "the outage row: {text}"
        );
        ensure!(
            outage.attr("data-impact").await?.as_deref() == Some("partial"),
            "not marked partial"
        );
        // It is no downtime: epost's only downtime is the full outage.
        let availability = client
            .find(Locator::Css("section[aria-labelledby=\"availability\"]"))
            .await?
            .text()
            .await?;
        ensure!(
            availability.contains("6 t 0 min") || availability.contains("6 h 0 min"),
            "the downtime is not the full outage's: {availability}"
        );
    }
    screenshot(client, "12-report-who-owes-what.png").await?;
    Ok(())
}

/// Alver's agreement version `version` (epost at `target_pct`, from
/// `effective_from`, needing both parties' approval), published at `time`.
fn version_event(version: &str, effective_from: &str, target_pct: &str, time: &str) -> String {
    let agreement = common::agreement_with(serde_json::json!({
        "version": version, "effective_from": effective_from, "requires_approval": true,
        "services": [{"id": "epost", "name": "E-post", "availability": {"target_pct": target_pct}}],
    }));
    event(
        &format!("version-{version}"),
        "agreement.published",
        time,
        serde_json::json!({ "agreement": agreement }),
    )
}

/// A ledger whose issued January 2026 (one availability deviation of
/// epost: 99.193 % of 99.5 %, 6 h of 744 h) a later, retroactive version outgrows:
/// 2026-1, from 2025-12-01 with a 99.0 % target, published in February
/// and approved by both parties, so January regenerated now has no
/// deviation. Version 2026-3 waits for the municipality's approval.
fn outgrown_ledger(env: &common::Env) {
    import(
        env,
        "base.ndjson",
        &[
            common::agreement_json("alver"),
            common::outage_json("alver", "o-1", "O-1", "2026-01-10T10:00:00Z", true),
            common::outage_json("alver", "o-2", "O-1", "2026-01-10T16:00:00Z", false),
        ],
    );
    let out = env.path("issued.json");
    env.run(&[
        "report",
        "issue",
        "--tenant",
        "alver",
        "--period",
        "2026-01",
        "--out",
        out.to_str().expect("a UTF-8 path"),
    ])
    .assert_code(0);
    import(
        env,
        "versions.ndjson",
        &[
            version_event(
                "2026-1",
                "2025-12-01T00:00:00Z",
                "99.0",
                "2026-02-10T09:00:00Z",
            ),
            version_event(
                "2026-3",
                "2026-03-01T00:00:00Z",
                "99.9",
                "2026-02-20T09:00:00Z",
            ),
        ],
    );
    for (version, party, person) in [
        ("2026-1", "provider", "Per Leverandør"),
        ("2026-1", "tenant", "Kari Kommune"),
        ("2026-3", "provider", "Per Leverandør"),
    ] {
        common::approve_agreement(env, "alver", version, party, person).assert_code(0);
    }
}

/// Issue 21 in the browser: the issued January, outgrown by a retroactive
/// version both parties approved, is marked "utdatert" with the new
/// figures beside the issued ones; the tenant page leads to the agreement
/// versions, where the version missing the municipality's approval says
/// "venter på godkjenning".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outgrown_report_is_marked_outdated_and_a_version_awaits_approval() {
    let (server, ()) = viewer_over(outgrown_ledger).await;
    in_chromium(
        "the outdated report and the version awaiting approval",
        async |client| outdated_and_awaiting(client, &server).await,
    )
    .await;
}

async fn outdated_and_awaiting(client: &Client, server: &Server) -> anyhow::Result<()> {
    let report = "/tenants/alver/reports/2026-01";
    client.goto(&server.url(report)).await?;
    arrived(client, report, "Tenestenivårapport: Alver, januar 2026").await?;
    let section = client.find(Locator::Id("outdated-section")).await?;
    ensure!(
        section.is_displayed().await?,
        "the outdated marking is hidden"
    );
    let text = section.text().await?;
    for said in [
        "utdatert",
        "Avtaleversjon 2026-1 gjeld no for perioden i staden for 2025-1",
        "kan framleis verifiserast",
    ] {
        ensure!(text.contains(said), "{said:?} not in the marking: {text}");
    }
    // Issued and now, side by side: the version and the deviations changed,
    // the achieved availability did not.
    for (figure, what, issued, now, changed) in [
        ("version", "Avtaleversjon", "2025-1", "2026-1", "true"),
        ("deviations", "Avvik", "1", "0", "true"),
        (
            "availability-epost",
            "Tilgjengelegheit: E-post",
            "99,193 %",
            "99,193 %",
            "false",
        ),
    ] {
        let row = client
            .find(Locator::Css(&format!("tr[data-figure=\"{figure}\"]")))
            .await
            .with_context(|| format!("no row {figure} in the marking"))?;
        let named = row.find(Locator::Css("th")).await?.text().await?;
        ensure!(named == what, "{figure} is named {named:?}, not {what:?}");
        let was = row.find(Locator::Css("td.issued")).await?.text().await?;
        let is = row.find(Locator::Css("td.now")).await?.text().await?;
        ensure!(
            (was.as_str(), is.as_str()) == (issued, now),
            "{figure}: issued {was:?}, now {is:?}; expected {issued:?}, {now:?}"
        );
        ensure!(
            row.attr("data-changed").await?.as_deref() == Some(changed),
            "{figure}: data-changed is not {changed}"
        );
    }
    screenshot(client, "14-report-outdated.png").await?;
    // From the tenant page to the agreement versions, by the link.
    client.goto(&server.url("/tenants/alver")).await?;
    arrived(client, "/tenants/alver", "Alver").await?;
    client
        .find(Locator::LinkText("Avtaleversjonar"))
        .await?
        .click()
        .await?;
    let versions = "/tenants/alver/agreements";
    arrived(client, versions, "Avtaleversjonar: Alver").await?;
    let status = |version: &'static str| async move {
        let section = client
            .find(Locator::Css(&format!(
                "section[data-version=\"{version}\"]"
            )))
            .await?;
        let status = section
            .find(Locator::Css("dd.status"))
            .await?
            .text()
            .await?;
        anyhow::Ok((section.attr("data-in-force").await?, status))
    };
    let (in_force, said) = status("2026-3").await?;
    ensure!(in_force.as_deref() == Some("false"), "2026-3 in force");
    ensure!(
        said.contains("venter på godkjenning") && said.contains("kommunen"),
        "2026-3: {said}"
    );
    let (in_force, said) = status("2026-1").await?;
    ensure!(
        in_force.as_deref() == Some("true"),
        "2026-1 not in force: {said}"
    );
    ensure!(!said.contains("venter"), "2026-1: {said}");
    screenshot(client, "15-agreement-versions.png").await?;
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
