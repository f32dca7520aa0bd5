//! The viewer's routes over an in-memory source (a small demo history
//! plus a few hostile strings): status, content type, security headers,
//! escaping, no external URL in any page, downloads, verification.
//! Requests go straight to the router (`tower::ServiceExt::oneshot`), no
//! socket; `tests/viewer.rs` at the root does the same through `tla`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use demo::{self, DemoConfig};
use http_body_util::BodyExt;
use projector::render::{self, Format, Lang};
use projector::{Input, LedgerEvent, Period, Report};
use serde_json::json;
use tower::ServiceExt;
use web::viewer::{
    self, Anchor, ChainCheck, CheckpointFacts, LedgerFacts, Shown, SignatureCheck, SourceError,
    VerificationFacts, ViewerSource,
};

/// A person's name with markup, assigned in alver, to see it escaped.
const HOSTILE_PERSON: &str = "<b>Eve & \"Mallory\"</b>";
/// A display name with markup, for austrheim.
const HOSTILE_NAME: &str = "<script>alert('x')</script>";

/// A ledger in memory: the demo's events, and each (tenant, period)
/// report issued over all of them.
struct Memory {
    events: Vec<LedgerEvent>,
    issued: BTreeMap<(String, Period), (Report, Anchor)>,
    /// Digests the "ledger" anchors in place of the true ones.
    tampered: bool,
    /// Whether the reports were issued (anchored) at all.
    issued_in_ledger: bool,
}

fn memory(tampered: bool) -> Memory {
    memory_of(history_values(), tampered)
}

/// The two-tenant, three-month demo.
fn history() -> demo::DemoHistory {
    let config = DemoConfig {
        tenants: 2,
        months: 3,
        ..DemoConfig::default()
    };
    demo::generate(&config)
}

/// The demo's events and the hostile assignment.
fn history_values() -> Vec<serde_json::Value> {
    let mut values = history().events.clone();
    values.push(json!({
        "specversion": "1.0", "id": "hostile-1", "source": "test/viewer",
        "type": "contact.assigned", "time": "2025-12-15T12:00:00Z", "tenant": "alver",
        "data": {"role": "tenant_it_lead", "person": HOSTILE_PERSON},
    }));
    values
}

fn ledger_events(values: &[serde_json::Value]) -> Vec<LedgerEvent> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| LedgerEvent {
            position: i as u64,
            event: schemas::Event::from_json(v).expect("demo events are valid"),
        })
        .collect()
}

/// A ledger of `values`, each tenant's months issued over all of them.
fn memory_of(values: Vec<serde_json::Value>, tampered: bool) -> Memory {
    let history = history();
    let events = ledger_events(&values);
    let size = events.len() as u64;
    let mut issued = BTreeMap::new();
    for tenant in &history.tenants {
        for period in &history.periods {
            let period: Period = period.parse().expect("period");
            let report = compute(&events, tenant, period, size);
            let digest = if tampered {
                "0".repeat(64)
            } else {
                report.manifest.report_digest.clone()
            };
            let anchor = Anchor {
                position: size + issued.len() as u64,
                ledger_size: size,
                report_digest: digest,
            };
            issued.insert((tenant.clone(), period), (report, anchor));
        }
    }
    Memory {
        events,
        issued,
        tampered,
        issued_in_ledger: true,
    }
}

fn compute(events: &[LedgerEvent], tenant: &str, period: Period, size: u64) -> Report {
    let input = Input {
        tenant,
        period,
        events: &events[..size as usize],
        horizon: None,
    };
    let mut report = projector::compute(&input).expect("a report");
    report.manifest.ledger_size = size;
    report.manifest.ledger_root = "ab".repeat(32);
    report.seal();
    report
}

impl ViewerSource for Memory {
    fn ledger(&self) -> Result<LedgerFacts, SourceError> {
        Ok(LedgerFacts {
            size: self.events.len() as u64 + self.issued.len() as u64,
            head: "cd".repeat(32),
            checkpoint: None,
        })
    }

    fn tenants(&self) -> Result<Vec<String>, SourceError> {
        let mut tenants: Vec<String> = self.issued.keys().map(|(t, _)| t.clone()).collect();
        tenants.dedup();
        Ok(tenants)
    }

    fn display_name(&self, tenant: &str) -> String {
        match tenant {
            "austrheim" => HOSTILE_NAME.to_string(),
            _ => demo::tenant_display_name(tenant).to_string(),
        }
    }

    fn events(&self, tenant: &str) -> Result<Arc<Vec<LedgerEvent>>, SourceError> {
        let mine = self.events.iter().filter(|e| e.event.tenant == tenant);
        Ok(Arc::new(mine.cloned().collect()))
    }

    fn periods(&self, tenant: &str) -> Result<Vec<Period>, SourceError> {
        let mine = self.issued.keys().filter(|(t, _)| t == tenant);
        Ok(mine.map(|&(_, p)| p).collect())
    }

    fn report(&self, tenant: &str, period: Period) -> Result<Arc<Shown>, SourceError> {
        let (report, anchor) = self
            .issued
            .get(&(tenant.to_string(), period))
            .ok_or_else(|| SourceError::NotFound(format!("no report of {tenant} {period}")))?;
        Ok(Arc::new(Shown {
            report: report.clone(),
            anchor: self.issued_in_ledger.then(|| anchor.clone()),
        }))
    }

    fn verify(&self, tenant: &str, period: Period) -> Result<VerificationFacts, SourceError> {
        let shown = self.report(tenant, period)?;
        let size = self.events.len() as u64;
        Ok(VerificationFacts {
            anchor: shown.anchor.clone(),
            regenerated: Ok(compute(&self.events, tenant, period, size)),
            ledger: self.ledger()?,
            chain: ChainCheck::Verified {
                // The whole ledger: the events and the issuances after them.
                entries: self.ledger()?.size + self.tampered as u64,
                head: "ab".repeat(32),
                root: "cd".repeat(32),
                at: "2026-01-01T00:00:00Z".to_string(),
                checked_now: 0,
            },
        })
    }
}

struct Got {
    status: StatusCode,
    content_type: String,
    csp: String,
    body: String,
}

/// A response as bytes: a download that is no text (the workbook).
struct GotBytes {
    status: StatusCode,
    content_type: String,
    disposition: String,
    csp: String,
    bytes: Vec<u8>,
}

async fn get<S: ViewerSource>(source: &Arc<S>, uri: &str) -> Got {
    let got = get_bytes(source, uri).await;
    Got {
        status: got.status,
        content_type: got.content_type,
        csp: got.csp,
        body: String::from_utf8(got.bytes).expect("utf-8"),
    }
}

async fn get_bytes<S: ViewerSource>(source: &Arc<S>, uri: &str) -> GotBytes {
    let app = viewer::router(
        Arc::clone(source) as Arc<dyn ViewerSource>,
        web::access::Access::open("test"),
    );
    let request = Request::get(uri).body(Body::empty()).expect("request");
    let response = app.oneshot(request).await.expect("the router answers");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_string())
            .unwrap_or_default()
    };
    let (content_type, disposition, csp) = (
        header(header::CONTENT_TYPE),
        header(header::CONTENT_DISPOSITION),
        header(header::CONTENT_SECURITY_POLICY),
    );
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    GotBytes {
        status,
        content_type,
        disposition,
        csp,
        bytes: bytes.to_vec(),
    }
}

/// Every page of the small history, in both languages.
const PAGES: [&str; 12] = [
    "/tenants/alver/agreements",
    "/tenants/alver/follow-up",
    "/",
    "/tenants/alver",
    "/tenants/austrheim",
    "/tenants/alver/reports/2025-12",
    "/tenants/alver/reports/2025-12/verify",
    "/tenants/alver/contacts",
    "/tenants/alver/contacts?at=2026-01-10T12:00:00%2B01:00",
    "/tenants/alver/meetings",
    "/tenants/alver/alerts",
    "/tenants/austrheim/reports/2026-01",
];

/// Every `href`, `src` and `action` value of a page (whole attribute
/// names: `data-action="..."` on a row of actions is no URL).
fn urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in [" href=\"", " src=\"", " action=\""] {
        for (i, _) in html.match_indices(attribute) {
            let rest = &html[i + attribute.len()..];
            out.push(rest[..rest.find('"').expect("closed attribute")].to_string());
        }
    }
    out
}

#[tokio::test]
async fn every_page_is_html_with_the_policy_and_names_no_other_origin() {
    let source = Arc::new(memory(false));
    for page in PAGES {
        for uri in [page.to_string(), with_lang(page)] {
            let got = get(&source, &uri).await;
            assert_eq!(got.status, StatusCode::OK, "{uri}: {}", got.body);
            assert_eq!(got.content_type, "text/html; charset=utf-8", "{uri}");
            assert_eq!(got.csp, viewer::CONTENT_SECURITY_POLICY, "{uri}");
            assert!(got.body.starts_with("<!DOCTYPE html>"), "{uri}");
            assert!(!got.body.contains("http://"), "{uri} names an origin");
            assert!(!got.body.contains("https://"), "{uri} names an origin");
            assert!(!got.body.contains("<script"), "{uri} has a script");
            assert!(!got.body.contains("style=\""), "{uri} has inline style");
            for url in urls(&got.body) {
                let local = url.starts_with('/') && !url.starts_with("//") || url.starts_with('#');
                assert!(local, "{uri}: {url} is not a local link");
            }
            assert!(got.body.contains("class=\"skip\" href=\"#main\""), "{uri}");
        }
    }
}

fn with_lang(uri: &str) -> String {
    if uri.contains('?') {
        format!("{uri}&lang=en")
    } else {
        format!("{uri}?lang=en")
    }
}

#[tokio::test]
async fn english_is_a_toggle_and_links_keep_it() {
    let source = Arc::new(memory(false));
    let nn = get(&source, "/tenants/alver").await.body;
    assert!(nn.contains("<html lang=\"nn\">"));
    assert!(nn.contains("Månadsrapportar"));
    assert!(nn.contains("href=\"/tenants/alver?lang=en\""), "the toggle");
    let en = get(&source, "/tenants/alver?lang=en").await.body;
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("Monthly reports"));
    assert!(en.contains("href=\"/tenants/alver/reports/2025-11?lang=en\""));
    assert!(
        en.contains("href=\"/tenants/alver\" hreflang=\"nn\""),
        "the toggle back"
    );
}

#[tokio::test]
async fn markup_from_the_ledger_is_escaped_everywhere() {
    let source = Arc::new(memory(false));
    let home = get(&source, "/").await.body;
    assert!(!home.contains(HOSTILE_NAME));
    assert!(home.contains("&lt;script&gt;alert('x')&lt;/script&gt;"));
    let grid = get(&source, "/tenants/austrheim").await.body;
    assert!(!grid.contains(HOSTILE_NAME));
    for uri in ["/tenants/alver/contacts", "/tenants/alver/reports/2026-01"] {
        let body = get(&source, uri).await.body;
        assert!(!body.contains(HOSTILE_PERSON), "{uri}");
        assert!(
            body.contains("&lt;b&gt;Eve &amp; &quot;Mallory&quot;&lt;/b&gt;"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn the_month_grid_colours_each_month_by_its_deviations() {
    let source = Arc::new(memory(false));
    let body = get(&source, "/tenants/alver").await.body;
    for ((tenant, period), (report, _)) in &source.issued {
        if tenant != "alver" {
            continue;
        }
        let class = if report.deviations.is_empty() {
            "met"
        } else {
            "deviating"
        };
        let cell = format!("<a class=\"{class}\" href=\"/tenants/alver/reports/{period}\"");
        assert!(body.contains(&cell), "{period}: {cell}");
    }
    assert_eq!(body.matches("data-period=").count(), 3);
}

#[tokio::test]
async fn the_report_page_shows_the_figures_chart_and_sections() {
    let source = Arc::new(memory(false));
    let (report, _) = &source.issued[&("alver".to_string(), "2026-01".parse().unwrap())];
    let body = get(&source, "/tenants/alver/reports/2026-01?lang=en")
        .await
        .body;
    assert!(body.contains("<svg class=\"chart\""));
    for s in &report.services {
        if let Some(a) = &s.availability {
            if let Some(p) = &a.achieved_pct {
                assert!(body.contains(&format!("{p}%")), "{}: {p}", s.service);
            }
            assert!(body.contains(&format!("data-service=\"{}\"", s.service)));
        }
    }
    for section in [
        "id=\"deviations\"",
        "id=\"availability\"",
        "id=\"per-priority\"",
        "id=\"incidents\"",
        "id=\"governance\"",
        "id=\"contacts\"",
        "id=\"verification\"",
        "data-format=\"json\"",
        "data-format=\"csv\"",
        "data-format=\"md\"",
        "<button type=\"submit\" id=\"verify\">",
    ] {
        assert!(body.contains(section), "{section}");
    }
    // Format 3: each measured deviation says its measure in words, as the
    // report's renderings do ("Response after 1 h 12 min; …").
    let lang = projector::render::Lang::En;
    let rows = projector::render::deviation_rows(report, lang);
    let measured: Vec<usize> = (0..rows.len())
        .filter(|&i| projector::render::measured(report, i).is_some())
        .collect();
    assert!(
        !measured.is_empty(),
        "alver's January has a measured deviation"
    );
    for i in measured {
        assert!(body.contains(&rows[i].measured), "{}", rows[i].measured);
    }
    assert!(body.contains(&report.manifest.report_digest));
    assert!(!body.contains("id=\"verdict\""), "no verdict before asked");
}

#[tokio::test]
async fn verify_says_verified_or_not_verified_and_why() {
    let good = Arc::new(memory(false));
    let body = get(&good, "/tenants/alver/reports/2025-12/verify?lang=en")
        .await
        .body;
    assert!(
        body.contains("data-verdict=\"verified\">Verified</p>"),
        "{body}"
    );
    let bad = Arc::new(memory(true));
    let body = get(&bad, "/tenants/alver/reports/2025-12/verify?lang=en")
        .await
        .body;
    assert!(body.contains("data-verdict=\"not-verified\">Not verified</p>"));
    assert!(body.contains("The ledger anchored digest 0000"));
    let nn = get(&good, "/tenants/alver/reports/2025-12/verify")
        .await
        .body;
    assert!(nn.contains(">Verifisert</p>"));
}

#[tokio::test]
async fn downloads_are_the_report_in_each_format() {
    let source = Arc::new(memory(false));
    let (report, _) = &source.issued[&("alver".to_string(), "2025-11".parse().unwrap())];
    let json = get(&source, "/tenants/alver/reports/2025-11/json").await;
    assert_eq!(json.status, StatusCode::OK);
    assert_eq!(json.content_type, "application/json");
    let mut expected = report.canonical_bytes();
    expected.push(b'\n');
    assert_eq!(json.body.as_bytes(), &expected[..]);
    let csv = get(&source, "/tenants/alver/reports/2025-11/csv?lang=en").await;
    assert_eq!(csv.content_type, "text/csv; charset=utf-8; header=present");
    assert!(csv.body.starts_with("tenant,"), "{}", &csv.body[..40]);
    let md = get(&source, "/tenants/alver/reports/2025-11/md").await;
    assert_eq!(md.content_type, "text/markdown; charset=utf-8");
    assert!(md.body.starts_with("# Tenestenivårapport"));
    // The workbook: the bytes `tla report --format xlsx` writes.
    for (uri, lang) in [
        ("/tenants/alver/reports/2025-11/xlsx", Lang::Nn),
        ("/tenants/alver/reports/2025-11/xlsx?lang=en", Lang::En),
    ] {
        let xlsx = get_bytes(&source, uri).await;
        assert_eq!(xlsx.status, StatusCode::OK);
        assert_eq!(
            xlsx.content_type,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(
            xlsx.disposition,
            "attachment; filename=\"alver-2025-11.xlsx\""
        );
        assert!(xlsx.bytes.starts_with(b"PK\x03\x04"), "not a zip");
        let expected = render::render(report, Format::Xlsx, lang).expect("a workbook");
        assert!(xlsx.bytes == expected, "{uri}: not the report's workbook");
    }
}

/// The workbook download is read as the other formats are: a reader of
/// alver gets alver's, and is refused austrheim's (403) and told to sign
/// in without a token (401); the report page links it beside the others.
#[tokio::test]
async fn the_workbook_download_is_tenant_scoped() {
    let app = viewer::router(
        Arc::new(memory(false)) as Arc<dyn ViewerSource>,
        web::access::Access::guarded(Arc::new(AlverOnly), None),
    );
    let own = read_bytes_as(
        app.clone(),
        "/tenants/alver/reports/2026-01/xlsx",
        Some("alver-token"),
    )
    .await;
    assert_eq!(own.0, StatusCode::OK);
    assert!(own.1.starts_with(b"PK\x03\x04"), "not a zip");
    for (format, status) in [
        ("xlsx", StatusCode::FORBIDDEN),
        ("csv", StatusCode::FORBIDDEN),
    ] {
        let uri = format!("/tenants/austrheim/reports/2026-01/{format}");
        let other = read_bytes_as(app.clone(), &uri, Some("alver-token")).await;
        assert_eq!(other.0, status, "{uri}");
        assert!(!other.1.starts_with(b"PK"), "{uri}: a workbook served");
    }
    let anonymous = read_bytes_as(app.clone(), "/tenants/alver/reports/2026-01/xlsx", None).await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    let page = read_as(
        app,
        "/tenants/alver/reports/2026-01?lang=en",
        Some("alver-token"),
    )
    .await
    .1;
    assert!(
        page.contains("href=\"/tenants/alver/reports/2026-01/xlsx?lang=en\" download=\"alver-2026-01.xlsx\" data-format=\"xlsx\">Excel workbook (xlsx)</a>"),
        "{page}"
    );
}

#[tokio::test]
async fn wrong_paths_are_pages_that_say_so() {
    let source = Arc::new(memory(false));
    for (uri, status) in [
        ("/tenants/nowhere", StatusCode::NOT_FOUND),
        ("/tenants/%3Cb%3E", StatusCode::NOT_FOUND),
        ("/tenants/alver/reports/2025-13", StatusCode::NOT_FOUND),
        ("/tenants/alver/reports/2024-01", StatusCode::NOT_FOUND),
        ("/tenants/alver/reports/2025-11/pdf", StatusCode::NOT_FOUND),
        ("/no/such/page", StatusCode::NOT_FOUND),
        (
            "/tenants/alver/contacts?at=yesterday",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let got = get(&source, uri).await;
        assert_eq!(got.status, status, "{uri}");
        assert_eq!(got.content_type, "text/html; charset=utf-8", "{uri}");
        assert_eq!(got.csp, viewer::CONTENT_SECURITY_POLICY, "{uri}");
        assert!(!got.body.contains("<b>"), "{uri} echoes markup");
    }
}

#[tokio::test]
async fn the_stylesheet_is_served_here_and_loads_nothing() {
    let source = Arc::new(memory(false));
    let css = get(&source, "/assets/viewer.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.content_type, "text/css; charset=utf-8");
    assert!(!css.body.contains("url("));
    assert!(!css.body.contains("@import"));
    assert!(css.body.contains("@media print"));
    assert!(css.body.contains(":focus-visible"));
}

#[tokio::test]
async fn contacts_and_meetings_come_from_the_ledger() {
    let source = Arc::new(memory(false));
    let before = get(
        &source,
        "/tenants/alver/contacts?at=2025-12-15T11:59:59Z&lang=en",
    )
    .await
    .body;
    assert!(!before.contains("Mallory"), "assigned only at 12:00");
    let after = get(
        &source,
        "/tenants/alver/contacts?at=2025-12-15T12:00:00Z&lang=en",
    )
    .await
    .body;
    assert!(after.contains("Mallory"));
    assert!(after.contains("not required by the agreement"));
    let meetings = get(&source, "/tenants/alver/meetings?lang=en").await.body;
    let records = projector::governance::meetings("alver", &source.events);
    assert!(!records.is_empty());
    for m in &records {
        assert!(
            meetings.contains(&format!("<code>{}</code>", m.id)),
            "{}",
            m.id
        );
        for (_, digest) in &m.filings {
            assert!(meetings.contains(digest.as_str()));
        }
    }
}

#[test]
fn the_months_listed_run_to_the_last_issued_or_the_last_fact() {
    let source = memory(false);
    let alver: Vec<LedgerEvent> = source
        .events
        .iter()
        .filter(|e| e.event.tenant == "alver")
        .cloned()
        .collect();
    let months = |events: &[LedgerEvent]| -> Vec<String> {
        let periods = viewer::periods_of(events);
        periods.iter().map(ToString::to_string).collect()
    };
    // The demo's last facts (minutes, handovers) reach into February.
    assert_eq!(months(&alver), ["2025-11", "2025-12", "2026-01", "2026-02"]);
    let mut issued = alver.clone();
    issued.push(LedgerEvent {
        position: 1_000_000,
        event: schemas::Event::from_json(&json!({
            "specversion": "1.0", "id": "r1", "source": "tla/reports",
            "type": "report.issued", "time": "2026-03-01T00:00:00Z", "tenant": "alver",
            "data": {"period": "2025-12", "ledger_size": 10, "report_digest": "ab".repeat(32)},
        }))
        .expect("a report.issued event"),
    });
    assert_eq!(months(&issued), ["2025-11", "2025-12"]);
    assert!(months(&[]).is_empty());
}

#[test]
fn judge_names_every_problem() {
    use web::viewer::{judge, Verdict};
    let source = memory(false);
    let period: Period = "2025-12".parse().unwrap();
    let (report, anchor) = &source.issued[&("alver".to_string(), period)];
    let facts = source.verify("alver", period).expect("facts");
    assert_eq!(judge(report, &facts), Verdict::Verified);
    let broken = VerificationFacts {
        chain: ChainCheck::Broken {
            problem: "position 7: hash mismatch".to_string(),
        },
        ..facts.clone()
    };
    let Verdict::NotVerified(problems) = judge(report, &broken) else {
        panic!("a broken chain verifies nothing");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    // The verified prefix must reach the entry that anchors the report.
    let short = VerificationFacts {
        chain: ChainCheck::Verified {
            entries: anchor.position,
            head: "ab".repeat(32),
            root: "cd".repeat(32),
            at: "2026-01-01T00:00:00Z".to_string(),
            checked_now: 0,
        },
        ..facts.clone()
    };
    let Verdict::NotVerified(problems) = judge(report, &short) else {
        panic!("an anchor beyond the verified prefix is not verified");
    };
    assert_eq!(
        problems,
        [web::viewer::Problem::BeyondVerified {
            position: anchor.position,
            verified: anchor.position,
        }]
    );
    let mut other = report.clone();
    other.manifest.ledger_size += 1;
    other.seal();
    let Verdict::NotVerified(problems) = judge(&other, &facts) else {
        panic!("a page that showed another report is not verified");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    let mut mismatched = facts.clone();
    mismatched.ledger.checkpoint = Some(CheckpointFacts {
        size: 10,
        root: "ef".repeat(32),
        origin: "tla-test".to_string(),
        matches_ledger: false,
        signature: SignatureCheck::NotChecked,
    });
    assert!(matches!(
        judge(report, &mismatched),
        Verdict::NotVerified(_)
    ));
    let mut signed = mismatched.clone();
    if let Some(c) = signed.ledger.checkpoint.as_mut() {
        c.matches_ledger = true;
    }
    assert_eq!(
        judge(report, &signed),
        Verdict::Verified,
        "not checked is no problem"
    );
    if let Some(c) = signed.ledger.checkpoint.as_mut() {
        c.signature = SignatureCheck::Invalid {
            key: "tla-test+00+AA".to_string(),
            problem: "no signature by this key".to_string(),
        };
    }
    assert!(matches!(judge(report, &signed), Verdict::NotVerified(_)));
    let failed = VerificationFacts {
        regenerated: Err("no agreement".to_string()),
        anchor: Some(anchor.clone()),
        ..facts
    };
    assert!(matches!(judge(report, &failed), Verdict::NotVerified(_)));
}

/// A cause, title and person with markup, to see them escaped.
const HOSTILE_CAUSE: &str = "<script>alert('cause')</script>";
const HOSTILE_ACK: &str = "<i>Kari & \"Nordmann\"</i>";

fn event(
    id: &str,
    kind: &str,
    time: &str,
    tenant: &str,
    data: serde_json::Value,
) -> serde_json::Value {
    json!({"specversion": "1.0", "id": id, "source": "test/viewer", "type": kind,
           "time": time, "tenant": tenant, "data": data})
}

/// The small history with a follow-up: alver's first deviation of
/// 2026-01 explained (a hostile cause) with an action, an overdue and an
/// open action; and, after the reports were issued, alver's 2026-01
/// acknowledged and austrheim's 2026-01 acknowledged only in an older
/// issue. Returns the ledger and the explained deviation's id.
fn followed_up() -> (Memory, String) {
    let mut values = history_values();
    let plain = memory_of(values.clone(), false);
    let january: Period = "2026-01".parse().expect("period");
    let (report, _) = &plain.issued[&("alver".to_string(), january)];
    let id = report.follow_up.as_ref().expect("format 2")[0].id.clone();
    values.push(event(
        "x-1",
        "deviation.explained",
        "2026-02-03T09:00:00Z",
        "alver",
        json!({"deviation_id": id, "cause": HOSTILE_CAUSE, "action_id": "fix-1"}),
    ));
    values.push(event(
        "x-2",
        "action.opened",
        "2026-01-20T09:00:00Z",
        "alver",
        json!({"action_id": "fix-1", "title": "Replace the <b>UPS</b>", "owner": "Drift",
               "due": "2026-01-25T00:00:00Z", "deviation_ids": [id]}),
    ));
    values.push(event(
        "x-3",
        "action.opened",
        "2026-01-21T09:00:00Z",
        "alver",
        json!({"action_id": "fix-2", "title": "Review the runbook", "owner": "Per",
               "due": "2099-01-01T00:00:00Z", "deviation_ids": []}),
    ));
    let mut memory = memory_of(values, false);
    let digest = |tenant: &str| {
        memory.issued[&(tenant.to_string(), january)]
            .0
            .manifest
            .report_digest
            .clone()
    };
    let older = "e".repeat(64);
    let after = [
        event(
            "x-4",
            "report.acknowledged",
            "2026-02-10T10:00:00Z",
            "alver",
            json!({"period": "2026-01", "report_digest": digest("alver"), "person": HOSTILE_ACK,
                   "comment": "Motteke <ok>"}),
        ),
        event(
            "x-5",
            "report.issued",
            "2026-02-02T10:00:00Z",
            "austrheim",
            json!({"period": "2026-01", "ledger_size": 3, "report_digest": older}),
        ),
        event(
            "x-6",
            "report.acknowledged",
            "2026-02-04T10:00:00Z",
            "austrheim",
            json!({"period": "2026-01", "report_digest": older, "person": "Ola"}),
        ),
    ];
    let size = memory.events.len() as u64;
    for (i, v) in after.iter().enumerate() {
        memory.events.push(LedgerEvent {
            position: size + i as u64,
            event: schemas::Event::from_json(v).expect("valid"),
        });
    }
    (memory, id)
}

#[tokio::test]
async fn each_deviation_shows_its_explanation_and_action() {
    let (memory, id) = followed_up();
    let source = Arc::new(memory);
    for (lang, cause, overdue) in [
        ("", "Årsak", "over fristen"),
        ("?lang=en", "Cause", "overdue"),
    ] {
        let body = get(&source, &format!("/tenants/alver/reports/2026-01{lang}"))
            .await
            .body;
        assert!(
            body.contains(&format!("<tr id=\"deviation-{id}\">")),
            "{body}"
        );
        assert!(
            body.contains(&format!(
                "<td data-label=\"{cause}\">&lt;script&gt;alert('cause')&lt;/script&gt;</td>"
            )),
            "{lang}: {body}"
        );
        assert!(!body.contains(HOSTILE_CAUSE) && !body.contains("<b>UPS"));
        // The explanation's action, by title, id and status.
        assert!(
            body.contains("Replace the &lt;b&gt;UPS&lt;/b&gt; <code>fix-1</code>"),
            "{body}"
        );
        assert!(
            body.contains(&format!("<strong class=\"bad\">{overdue}</strong>")),
            "{body}"
        );
        assert!(body.contains("<svg class=\"trend\""));
    }
}

#[tokio::test]
async fn the_report_page_shows_the_acknowledgement_or_says_it_names_an_older_report() {
    let (memory, _) = followed_up();
    let source = Arc::new(memory);
    let body = get(&source, "/tenants/alver/reports/2026-01?lang=en")
        .await
        .body;
    let panel = &body[body
        .find("id=\"acknowledgement-panel\"")
        .expect("the panel")..];
    let panel = &panel[..panel.find("</section>").expect("closed")];
    assert!(panel.contains("<dl id=\"acknowledged\">"), "{panel}");
    assert!(
        panel.contains("<dd>&lt;i&gt;Kari &amp; &quot;Nordmann&quot;&lt;/i&gt;</dd>"),
        "{panel}"
    );
    assert!(panel.contains("<dd>Motteke &lt;ok&gt;</dd>"), "{panel}");
    assert!(panel.contains("2026-02-10 11:00 CET"), "{panel}");
    assert!(!panel.contains("older"), "{panel}");
    // austrheim's only acknowledgement names an older issue.
    let body = get(&source, "/tenants/austrheim/reports/2026-01?lang=en")
        .await
        .body;
    assert!(body.contains("id=\"acknowledged-older\""), "{body}");
    assert!(body.contains("acknowledged an older version of this month's report, not this one"));
    assert!(body.contains(&"e".repeat(64)));
    let nn = get(&source, "/tenants/austrheim/reports/2026-01")
        .await
        .body;
    assert!(nn.contains("kvittert for ein eldre versjon"), "{nn}");
    // A month nobody acknowledged says so.
    let body = get(&source, "/tenants/alver/reports/2025-12?lang=en")
        .await
        .body;
    assert!(body.contains(
        "<p id=\"not-acknowledged\">The municipality has not acknowledged this report.</p>"
    ));
}

#[tokio::test]
async fn the_follow_up_page_lists_the_open_and_overdue_actions() {
    let (memory, _) = followed_up();
    let source = Arc::new(memory);
    let tenant = get(&source, "/tenants/alver?lang=en").await.body;
    assert!(
        tenant.contains("href=\"/tenants/alver/follow-up?lang=en\""),
        "{tenant}"
    );
    for (lang, heading) in [("", "Tiltak over fristen"), ("?lang=en", "Overdue actions")] {
        let got = get(&source, &format!("/tenants/alver/follow-up{lang}")).await;
        assert_eq!(got.status, StatusCode::OK);
        let body = got.body;
        let overdue = &body[body.find("id=\"overdue-actions\"").expect("overdue")..];
        let (overdue, open) = overdue.split_at(overdue.find("id=\"open-actions\"").expect("open"));
        assert!(overdue.contains(heading), "{overdue}");
        assert!(
            overdue.contains("data-action=\"fix-1\" data-status=\"overdue\""),
            "{overdue}"
        );
        assert!(
            overdue.contains("Replace the &lt;b&gt;UPS&lt;/b&gt;"),
            "{overdue}"
        );
        assert!(
            open.contains("data-action=\"fix-2\" data-status=\"open\""),
            "{open}"
        );
        assert!(!open.contains("fix-1"), "{open}");
    }
    // austrheim has none.
    let body = get(&source, "/tenants/austrheim/follow-up?lang=en")
        .await
        .body;
    assert!(body.contains("No action is overdue.") && body.contains("No other action is open."));
}

/// Credentials for the guarded viewer: `alver-token` reads alver only.
struct AlverOnly;

impl web::access::Credentials for AlverOnly {
    fn bearer(&self, token: &str) -> Option<web::access::Reader> {
        (token == "alver-token").then(|| web::access::Reader {
            who: "alver-reader".to_string(),
            tenants: web::access::Readable::Tenants(["alver".to_string()].into()),
        })
    }
}

/// `uri` of `app` with `token` as the bearer (none without): the status
/// and the body.
async fn read_as(app: axum::Router, uri: &str, token: Option<&str>) -> (StatusCode, String) {
    let (status, bytes) = read_bytes_as(app, uri, token).await;
    (status, String::from_utf8(bytes).expect("utf-8"))
}

/// [`read_as`] for a download that is no text.
async fn read_bytes_as(app: axum::Router, uri: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, bytes.to_vec())
}

#[tokio::test]
async fn the_follow_up_page_is_tenant_scoped() {
    let (memory, _) = followed_up();
    let app = viewer::router(
        Arc::new(memory) as Arc<dyn ViewerSource>,
        web::access::Access::guarded(Arc::new(AlverOnly), None),
    );
    let status = |uri: &'static str, token: Option<&'static str>| {
        let app = app.clone();
        async move { read_as(app, uri, token).await.0 }
    };
    assert_eq!(
        status("/tenants/alver/follow-up", Some("alver-token")).await,
        StatusCode::OK
    );
    assert_eq!(
        status("/tenants/austrheim/follow-up", Some("alver-token")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status("/tenants/alver/follow-up", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status("/tenants/alver/reports/2026-01", Some("alver-token")).await,
        StatusCode::OK
    );
    assert_eq!(
        status("/tenants/austrheim/reports/2026-01", Some("alver-token")).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_alerts_page_lists_the_alerts_in_force_in_both_languages() {
    let source = Arc::new(memory(false));
    let now = chrono::Utc::now().timestamp();
    let alerts = projector::alert::alerts("alver", &source.events, now, i64::MIN).alerts;
    let in_force: Vec<_> = alerts.iter().filter(|a| a.ends.is_none()).collect();
    let nn = get(&source, "/tenants/alver/alerts").await.body;
    assert!(nn.contains("<h1>Varsel: Alver</h1>"), "{nn}");
    assert!(!nn.contains(HOSTILE_PERSON), "escaped");
    let en = get(&source, "/tenants/alver/alerts?lang=en").await.body;
    assert!(en.contains("Alerts in force now"));
    for a in &in_force {
        let text = projector::alert::summary(a, projector::render::Lang::En);
        let shown = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(en.contains(&shown), "{text} is in force: {en}");
    }
    if in_force.is_empty() {
        assert!(en.contains("No alert is in force."), "{en}");
    }
    let tenant = get(&source, "/tenants/alver").await.body;
    assert!(
        tenant.contains("href=\"/tenants/alver/alerts\""),
        "{tenant}"
    );
}

/// The payloads of the XSS test: a script element, a break-out of a
/// quoted attribute into an element with an event handler, and a script
/// URL (harmless as text, dangerous only as a link's target).
const XSS: [&str; 3] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
];

/// The two markup payloads as text (escaped), as every page must show them.
const XSS_SHOWN: [&str; 2] = [
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
];

/// The small history with [`XSS`] in every free text a person types and
/// every id the rules allow it in: the agreement's service names, the
/// explanation of a deviation, actions (title, owner, outcome), a
/// contact (name and e-mail), a meeting's id, an incident's id (still
/// open at January's end) and its reason for being on hold, a partial
/// outage's id, and an acknowledgement (name and comment).
fn hostile_values() -> Vec<serde_json::Value> {
    let mut values = history_values();
    for v in values
        .iter_mut()
        .filter(|v| v["type"] == "agreement.published")
    {
        for (i, s) in v["data"]["agreement"]["services"]
            .as_array_mut()
            .expect("services")
            .iter_mut()
            .enumerate()
        {
            s["name"] = json!(XSS[i % 2]);
        }
    }
    let plain = memory_of(values.clone(), false);
    let january: Period = "2026-01".parse().expect("period");
    let (report, _) = &plain.issued[&("alver".to_string(), january)];
    let deviation = report.follow_up.as_ref().expect("format 2")[0].id.clone();
    let service = report.services[0].service.clone();
    let meeting = format!("m{}", XSS[0]);
    let incident = format!("i{}", XSS[1]);
    let outage = format!("o{}", XSS[0]);
    values.extend([
        event(
            "h-1",
            "deviation.explained",
            "2026-02-03T09:00:00Z",
            "alver",
            json!({"deviation_id": deviation, "cause": XSS[0], "action_id": "xss-1"}),
        ),
        event(
            "h-2",
            "action.opened",
            "2026-01-20T09:00:00Z",
            "alver",
            json!({"action_id": "xss-1", "title": XSS[0], "owner": XSS[2],
                     "due": "2099-01-25T00:00:00Z", "deviation_ids": [deviation]}),
        ),
        event(
            "h-3",
            "action.opened",
            "2026-01-21T09:00:00Z",
            "alver",
            json!({"action_id": "xss-2", "title": XSS[1], "owner": XSS[0],
                     "due": "2026-01-22T00:00:00Z", "deviation_ids": []}),
        ),
        event(
            "h-4",
            "action.closed",
            "2026-01-23T09:00:00Z",
            "alver",
            json!({"action_id": "xss-2", "outcome": XSS[1]}),
        ),
        event(
            "h-5",
            "contact.assigned",
            "2026-01-02T12:00:00Z",
            "alver",
            json!({"role": "tenant_it_lead", "person": XSS[1],
                     "email": format!("{}@x", XSS[2])}),
        ),
        event(
            "h-6",
            "meeting.held",
            "2026-01-12T12:00:00Z",
            "alver",
            json!({"meeting_id": meeting, "kind": "operations"}),
        ),
        event(
            "h-7",
            "incident.opened",
            "2026-01-13T12:00:00Z",
            "alver",
            json!({"incident_id": incident, "service": service, "priority": "P1"}),
        ),
        event(
            "h-8",
            "incident.on_hold",
            "2026-01-13T13:00:00Z",
            "alver",
            json!({"incident_id": incident, "reason": XSS[0]}),
        ),
        event(
            "h-10",
            "outage.started",
            "2026-01-14T08:00:00Z",
            "alver",
            json!({"service": service, "outage_id": outage, "impact": "partial"}),
        ),
        event(
            "h-11",
            "outage.ended",
            "2026-01-14T09:00:00Z",
            "alver",
            json!({"service": service, "outage_id": outage}),
        ),
    ]);
    values
}

/// The hostile history, its reports issued, then alver's 2026-01
/// acknowledged by a hostile name with a hostile comment.
fn hostile_memory() -> Memory {
    let mut memory = memory_of(hostile_values(), false);
    let january: Period = "2026-01".parse().expect("period");
    let digest = memory.issued[&("alver".to_string(), january)]
        .0
        .manifest
        .report_digest
        .clone();
    let ack = event(
        "h-9",
        "report.acknowledged",
        "2026-02-10T10:00:00Z",
        "alver",
        json!({"period": "2026-01", "report_digest": digest, "person": XSS[0],
               "comment": format!("{} {}", XSS[1], XSS[2])}),
    );
    memory.events.push(LedgerEvent {
        position: memory.events.len() as u64,
        event: schemas::Event::from_json(&ack).expect("valid"),
    });
    memory
}

/// [`hostile_memory`] seen through a source whose tenants are called by
/// hostile names and whose reports carry hostile strings where no event
/// can put them (the tenant and the services' ids are validated ids).
struct HostileSource(Memory);

impl ViewerSource for HostileSource {
    fn ledger(&self) -> Result<LedgerFacts, SourceError> {
        self.0.ledger()
    }
    fn tenants(&self) -> Result<Vec<String>, SourceError> {
        self.0.tenants()
    }
    fn display_name(&self, tenant: &str) -> String {
        format!("{tenant} {} {}", XSS[0], XSS[1])
    }
    fn events(&self, tenant: &str) -> Result<Arc<Vec<LedgerEvent>>, SourceError> {
        self.0.events(tenant)
    }
    fn periods(&self, tenant: &str) -> Result<Vec<Period>, SourceError> {
        self.0.periods(tenant)
    }
    fn report(&self, tenant: &str, period: Period) -> Result<Arc<Shown>, SourceError> {
        let shown = self.0.report(tenant, period)?;
        Ok(Arc::new(Shown {
            report: hostile_report(shown.report.clone()),
            anchor: shown.anchor.clone(),
        }))
    }
    fn verify(&self, tenant: &str, period: Period) -> Result<VerificationFacts, SourceError> {
        let mut facts = self.0.verify(tenant, period)?;
        facts.regenerated = Err(XSS[0].to_string());
        facts.chain = ChainCheck::Broken {
            problem: XSS[1].to_string(),
        };
        facts.ledger.checkpoint = Some(CheckpointFacts {
            size: 1,
            root: XSS[0].to_string(),
            origin: XSS[1].to_string(),
            matches_ledger: false,
            signature: SignatureCheck::Invalid {
                key: XSS[0].to_string(),
                problem: XSS[1].to_string(),
            },
        });
        Ok(facts)
    }
}

/// `report` with hostile strings in the fields no event can reach (ids
/// of tenants, services and actions are names: lowercase, digits, `-`).
fn hostile_report(mut report: Report) -> Report {
    let hostile_id = |id: &str| format!("{id}{}", XSS[1]);
    if let Some(story) = &mut report.story {
        for a in &mut story.actions {
            a.action_id = hostile_id(&a.action_id);
        }
    }
    for f in report.follow_up.iter_mut().flatten() {
        if let Some(e) = &mut f.explanation {
            e.action_id = e.action_id.as_deref().map(hostile_id);
        }
    }
    for (i, s) in report.services.iter_mut().enumerate() {
        s.service = format!("{}{i}", XSS[i % 2]);
    }
    report.agreement_version = XSS[1].to_string();
    report.timezone = format!("Europe/Oslo {}", XSS[0]);
    report
}

/// The section of `html` headed `<h2 id="{id}">`, to its end.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let heading = format!("<h2 id=\"{id}\">");
    let Some(start) = html.find(&heading) else {
        return "";
    };
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// Every page of the viewer over [`HostileSource`], and the error pages
/// that repeat what was asked.
const HOSTILE_PAGES: [&str; 12] = [
    "/",
    "/tenants/alver",
    "/tenants/alver/reports/2026-01",
    "/tenants/alver/reports/2026-01/verify",
    "/tenants/alver/contacts",
    "/tenants/alver/contacts?at=2026-01-10T12:00:00%2B01:00",
    "/tenants/alver/meetings",
    "/tenants/alver/alerts",
    "/tenants/alver/follow-up",
    "/tenants/alver/contacts?at=%3Cscript%3Ealert(1)%3C/script%3E",
    "/tenants/%3Cscript%3Ealert(1)%3C%2Fscript%3E/reports/2026-01",
    "/sign-in?next=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
];

/// Why `html` is not safe: a payload's markup as markup, or a link,
/// form or image to a script URL.
fn unsafe_markup(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for raw in ["<script", "<img", "onerror=alert(1)>"] {
        if html.contains(raw) {
            found.push(format!("raw {raw:?}"));
        }
    }
    for url in urls(html) {
        if !(url.starts_with('/') && !url.starts_with("//") || url.starts_with('#')) {
            found.push(format!("link to {url:?}"));
        }
    }
    found
}

/// XSS: an agreement (its service names, the tenant's name), events
/// (explanations, actions, a meeting, an incident) and contact names
/// carrying `<script>`, `"><img onerror>` and `javascript:` reach every
/// page of the viewer and the HTML report as text, never as markup or a
/// link.
#[tokio::test]
async fn hostile_strings_are_text_on_every_page_and_in_the_report() {
    let source = Arc::new(HostileSource(hostile_memory()));
    let mut problems = Vec::new();
    for page in HOSTILE_PAGES {
        for uri in [page.to_string(), with_lang(page)] {
            let got = get(&source, &uri).await;
            let body = &got.body;
            problems.extend(
                unsafe_markup(body)
                    .into_iter()
                    .map(|p| format!("{uri}: {p}")),
            );
            if !page.starts_with("/sign-in") && !body.contains(XSS_SHOWN[0]) {
                problems.push(format!("{uri}: the script shown as text is missing"));
            }
        }
    }
    // The report page shows every planted string.
    let report = get(&source, "/tenants/alver/reports/2026-01").await.body;
    for shown in XSS_SHOWN {
        let n = report.matches(shown).count();
        if n < 10 {
            problems.push(format!(
                "the report page shows {shown:?} {n} times, not 10 or more"
            ));
        }
    }
    // The sections of format 2's detail show the planted ids as text: the
    // partial outage behind the figures, the incident open at month end.
    for (uri, html) in [
        ("report page", report.clone()),
        (
            "HTML report",
            projector::render::html(
                &hostile_report(
                    source.0.issued[&("alver".to_string(), "2026-01".parse().expect("period"))]
                        .0
                        .clone(),
                ),
                Lang::Nn,
            ),
        ),
    ] {
        for (id, planted) in [
            ("outages", format!("o{}", XSS_SHOWN[0])),
            ("open-incidents", format!("i{}", XSS_SHOWN[1])),
        ] {
            if !section(&html, id).contains(&planted) {
                problems.push(format!("{uri}: {planted:?} not in section {id}"));
            }
        }
    }
    // The HTML report of every month, in both languages.
    for ((tenant, period), (report, _)) in &source.0.issued {
        for lang in [projector::render::Lang::Nn, projector::render::Lang::En] {
            let html = projector::render::html(&hostile_report(report.clone()), lang);
            problems.extend(
                unsafe_markup(&html)
                    .into_iter()
                    .map(|p| format!("report {tenant} {period} {lang:?}: {p}")),
            );
            if !html.contains(XSS_SHOWN[1]) {
                problems.push(format!(
                    "report {tenant} {period} {lang:?}: no shown payload"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// alver's first `agreement.published` among `values`.
fn alver_agreement(values: &[serde_json::Value]) -> serde_json::Value {
    values
        .iter()
        .find(|v| v["type"] == "agreement.published" && v["tenant"] == "alver")
        .expect("alver has an agreement")
        .clone()
}

/// An approver's name with markup, to see it escaped and kept to alver.
const APPROVER: &str = "<u>Kari</u> Vitnesen";

/// The small history with alver's agreement republished as version
/// `2026-9`, requiring approval, from the token `avtale-token`: approved by
/// the municipality (twice: the second set aside), not by the provider;
/// and an approval of a version never published.
fn awaiting_approval() -> Memory {
    let mut values = history_values();
    let mut published = alver_agreement(&values);
    published["id"] = json!("republish-2026-9");
    published["time"] = json!("2026-02-02T09:00:00Z");
    published["source"] = json!("test/avtale");
    published["authtype"] = json!("api_key");
    published["authid"] = json!("avtale-token");
    published["data"]["agreement"]["version"] = json!("2026-9");
    published["data"]["agreement"]["requires_approval"] = json!(true);
    values.push(published);
    let approve = |id: &str, time: &str, version: &str, person: &str| {
        event(
            id,
            "agreement.approved",
            time,
            "alver",
            json!({"version": version, "party": "tenant", "person": person}),
        )
    };
    values.push(approve("a1", "2026-02-03T10:00:00Z", "2026-9", APPROVER));
    values.push(approve("a2", "2026-02-04T10:00:00Z", "2026-9", "Per Igjen"));
    values.push(approve(
        "a3",
        "2026-02-05T10:00:00Z",
        "2099-1",
        "Ola Ukjend",
    ));
    memory_of(values, false)
}

#[tokio::test]
async fn the_agreement_versions_page_shows_versions_approvals_and_what_awaits() {
    let source = Arc::new(awaiting_approval());
    let tenant = get(&source, "/tenants/alver").await.body;
    assert!(
        tenant.contains("href=\"/tenants/alver/agreements\""),
        "the tenant page links the versions"
    );
    let nn = get(&source, "/tenants/alver/agreements").await;
    assert_eq!(nn.status, StatusCode::OK, "{}", nn.body);
    let html = &nn.body;
    assert!(html.contains("Avtaleversjonar"), "{html}");
    // The demo's own version, in force without approval.
    assert!(
        html.contains("data-version=\"2025-1\" data-in-force=\"true\""),
        "{html}"
    );
    // The republished one, awaiting the provider.
    let v9 = &html[html
        .find("data-version=\"2026-9\"")
        .expect("version 2026-9")..];
    assert!(v9.starts_with("data-version=\"2026-9\" data-in-force=\"false\""));
    assert!(v9.contains("venter på godkjenning"), "{v9}");
    assert!(v9.contains("manglar godkjenning frå leverandøren"), "{v9}");
    assert!(
        v9.contains("<code>test/avtale</code>, nøkkel <code>avtale-token</code>"),
        "{v9}"
    );
    assert!(
        v9.contains("&lt;u&gt;Kari&lt;/u&gt; Vitnesen"),
        "the approver, escaped"
    );
    assert!(!html.contains(APPROVER), "the approver unescaped");
    assert!(
        v9.contains("parten har alt godkjent"),
        "the second one set aside"
    );
    assert!(html.contains("Ola Ukjend") && html.contains("ingen versjon med dette namnet"));
    let en = get(&source, "/tenants/alver/agreements?lang=en").await.body;
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("Agreement versions"));
    assert!(en.contains("awaiting approval"), "{en}");
    assert!(en.contains("missing the approval of the provider"), "{en}");
    assert!(en.contains("the party already approved this version"));
    assert!(en.contains("Approvals of unknown versions"));
    // A tenant without approvals has the page too, with its versions.
    let other = get(&source, "/tenants/austrheim/agreements").await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(
        !other.body.contains("Vitnesen"),
        "alver's approver on austrheim's page"
    );
}

#[tokio::test]
async fn the_agreement_versions_page_is_tenant_scoped_and_names_persons_only_there() {
    let app = viewer::router(
        Arc::new(awaiting_approval()) as Arc<dyn ViewerSource>,
        web::access::Access::guarded(Arc::new(AlverOnly), None),
    );
    let read = |uri: &'static str, token: Option<&'static str>| read_as(app.clone(), uri, token);
    let (status, own) = read("/tenants/alver/agreements", Some("alver-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        own.contains("Vitnesen"),
        "alver's reader sees alver's approvers"
    );
    for (uri, token, expected) in [
        (
            "/tenants/austrheim/agreements",
            Some("alver-token"),
            StatusCode::FORBIDDEN,
        ),
        ("/tenants/alver/agreements", None, StatusCode::UNAUTHORIZED),
        (
            "/tenants/alver/agreements",
            Some("wrong"),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let (status, body) = read(uri, token).await;
        assert_eq!(status, expected, "{uri} {token:?}");
        assert!(
            !body.contains("Vitnesen") && !body.contains("2026-9"),
            "{uri} {token:?}"
        );
    }
    // The tenant list names no approver.
    let (status, home) = read("/", Some("alver-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!home.contains("Vitnesen"));
}

/// alver's agreement republished as `version`, in force from the same
/// instant (the later entry wins the tie), every availability target
/// 99.999, requiring approval, with both parties' approvals.
fn retroactive_version(values: &[serde_json::Value], version: &str) -> Vec<serde_json::Value> {
    let mut published = alver_agreement(values);
    published["id"] = json!(format!("retro-{version}"));
    published["time"] = json!("2026-02-10T09:00:00Z");
    let agreement = &mut published["data"]["agreement"];
    agreement["version"] = json!(version);
    agreement["requires_approval"] = json!(true);
    for service in agreement["services"].as_array_mut().expect("services") {
        if let Some(availability) = service.get_mut("availability") {
            availability["target_pct"] = json!("99.999");
        }
    }
    let mut out = vec![published];
    for (i, party) in ["provider", "tenant"].into_iter().enumerate() {
        out.push(event(
            &format!("retro-approve-{i}"),
            "agreement.approved",
            "2026-02-11T09:00:00Z",
            "alver",
            json!({"version": version, "party": party, "person": format!("Person {i}")}),
        ));
    }
    out
}

#[tokio::test]
async fn an_issued_report_the_ledger_has_outgrown_is_marked_outdated_with_the_new_figures() {
    let values = history_values();
    let mut memory = memory_of(values.clone(), false);
    let unchanged = Arc::new(memory_of(values.clone(), false));
    // Written after the issues: a retroactive version, approved by both.
    let later = ledger_events(&[values.clone(), retroactive_version(&values, "2025-9")].concat());
    memory.events = later;
    let revised = memory.issued.iter().any(|((t, p), (r, _))| {
        t == "alver" && p.to_string() == "2025-12" && r.agreement_version != "2025-1"
    });
    assert!(revised, "the demo revises alver's agreement from December");
    let source = Arc::new(memory);
    // December on has its own version still; its reports keep their figures.
    for period in ["2025-12", "2026-01"] {
        let html = get(&source, &format!("/tenants/alver/reports/{period}"))
            .await
            .body;
        assert!(
            !html.contains("class=\"outdated\""),
            "alver {period}: {html}"
        );
    }
    for period in ["2025-11"] {
        let uri = format!("/tenants/alver/reports/{period}");
        let html = get(&source, &uri).await.body;
        assert!(
            html.contains("class=\"outdated\""),
            "{uri} is outdated: {html}"
        );
        assert!(html.contains(">utdatert<"), "{uri}");
        assert!(
            html.contains("Avtaleversjon 2025-9 gjeld no for perioden i staden for 2025-1"),
            "{uri}"
        );
        let row = &html[html
            .find("data-figure=\"version\"")
            .expect("the version row")..];
        assert!(
            row.starts_with("data-figure=\"version\" data-changed=\"true\""),
            "{row}"
        );
        assert!(row.contains("class=\"issued\">2025-1<") && row.contains("class=\"now\">2025-9<"));
        // The issued report is still the one shown and verifies.
        assert!(html.contains("2025-1"), "{uri}");
        let en = get(&source, &with_lang(&uri)).await.body;
        assert!(
            en.contains(">outdated<") && en.contains("Agreement version 2025-9 is now in force")
        );
        // Austrheim's reports did not change, nor did alver's on the old ledger.
        let other = get(&source, &format!("/tenants/austrheim/reports/{period}"))
            .await
            .body;
        assert!(!other.contains("class=\"outdated\""), "austrheim {period}");
        let same = get(&unchanged, &uri).await.body;
        assert!(!same.contains("class=\"outdated\""), "{uri} unchanged");
    }
}
