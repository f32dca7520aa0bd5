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
    let config = DemoConfig {
        tenants: 2,
        months: 3,
        ..DemoConfig::default()
    };
    let history = demo::generate(&config);
    let mut values = history.events.clone();
    values.push(json!({
        "specversion": "1.0", "id": "hostile-1", "source": "test/viewer",
        "type": "contact.assigned", "time": "2025-12-15T12:00:00Z", "tenant": "alver",
        "data": {"role": "tenant_it_lead", "person": HOSTILE_PERSON},
    }));
    let events: Vec<LedgerEvent> = values
        .iter()
        .enumerate()
        .map(|(i, v)| LedgerEvent {
            position: i as u64,
            event: schemas::Event::from_json(v).expect("demo events are valid"),
        })
        .collect();
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

async fn get(source: &Arc<Memory>, uri: &str) -> Got {
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
    let (content_type, csp) = (
        header(header::CONTENT_TYPE),
        header(header::CONTENT_SECURITY_POLICY),
    );
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Got {
        status,
        content_type,
        csp,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8"),
    }
}

/// Every page of the small history, in both languages.
const PAGES: [&str; 9] = [
    "/",
    "/tenants/alver",
    "/tenants/austrheim",
    "/tenants/alver/reports/2025-12",
    "/tenants/alver/reports/2025-12/verify",
    "/tenants/alver/contacts",
    "/tenants/alver/contacts?at=2026-01-10T12:00:00%2B01:00",
    "/tenants/alver/meetings",
    "/tenants/austrheim/reports/2026-01",
];

/// Every `href`, `src` and `action` value of a page.
fn urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in ["href=\"", "src=\"", "action=\""] {
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
    assert!(home.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
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
