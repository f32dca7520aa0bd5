//! The report page: the municipality's acknowledgement (or that there is
//! none, or that it names an older version of the report), the chart, the
//! report's own tables (shared with `tla report --format html`; a format-2
//! report adds each deviation's follow-up, the corrective actions and the
//! trend), incidents per priority, governance and contacts of the period,
//! downloads, and the verification panel with [`judge`]'s verdict once the
//! reader asked for it.

use maud::{html, Markup};
use projector::acknowledgement::{Acknowledgement, Receipt, Standing};
use projector::contact::{Roster, Side};
use projector::render::html as report_html;
use projector::render::{period_label, Lang};
use projector::report::{Deviation, IncidentCounts, Report};
use projector::Period;

use super::page::{self, href, Crumb, Frame};
use super::words::{self, words};
use super::{ChainCheck, Shown, SignatureCheck, VerificationFacts};

/// Whether a report checked out against the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    NotVerified(Vec<Problem>),
}

/// Why a report is not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No `report.issued` anchors a digest for it.
    NotIssued,
    /// It could not be regenerated.
    Regeneration(String),
    /// The regenerated digest differs from the anchored one.
    AnchorMismatch { anchored: String, computed: String },
    /// The regenerated digest differs from the report the page showed.
    ShownMismatch { shown: String, computed: String },
    /// The regenerated report's digest is not that of its content.
    SelfDigest,
    /// The ledger's hash chain does not verify.
    Chain(String),
    /// The entry that anchors the report lies beyond the verified prefix.
    BeyondVerified { position: u64, verified: u64 },
    /// The latest signed checkpoint does not match the ledger, or its
    /// signature is not valid.
    Checkpoint,
}

/// The verdict on `shown` given what a verification found: verified when
/// the ledger anchors a digest for it, the report regenerated from the
/// anchored prefix has exactly that digest (and it is the digest of its
/// content), the page showed that same report, the hash chain holds, and
/// the latest signed checkpoint (if any) matches the ledger with a
/// signature that is not invalid.
pub fn judge(shown: &Report, facts: &VerificationFacts) -> Verdict {
    let mut problems = Vec::new();
    match (&facts.chain, &facts.anchor) {
        (ChainCheck::Broken { problem }, _) => problems.push(Problem::Chain(problem.clone())),
        (ChainCheck::Verified { entries, .. }, Some(a)) if a.position >= *entries => {
            problems.push(Problem::BeyondVerified {
                position: a.position,
                verified: *entries,
            })
        }
        _ => {}
    }
    if let Some(c) = &facts.ledger.checkpoint {
        if !c.matches_ledger || matches!(c.signature, SignatureCheck::Invalid { .. }) {
            problems.push(Problem::Checkpoint);
        }
    }
    match &facts.regenerated {
        Err(e) => problems.push(Problem::Regeneration(e.clone())),
        Ok(r) => {
            let computed = &r.manifest.report_digest;
            if !r.digest_matches() {
                problems.push(Problem::SelfDigest);
            }
            match &facts.anchor {
                None => problems.push(Problem::NotIssued),
                Some(a) if &a.report_digest != computed => problems.push(Problem::AnchorMismatch {
                    anchored: a.report_digest.clone(),
                    computed: computed.clone(),
                }),
                Some(_) => {}
            }
            if &shown.manifest.report_digest != computed {
                problems.push(Problem::ShownMismatch {
                    shown: shown.manifest.report_digest.clone(),
                    computed: computed.clone(),
                });
            }
        }
    }
    if problems.is_empty() {
        Verdict::Verified
    } else {
        Verdict::NotVerified(problems)
    }
}

/// Everything the report page shows.
pub(super) struct ReportPage<'a> {
    pub lang: Lang,
    pub name: &'a str,
    pub shown: &'a Shown,
    /// The roles and holders at the period's end (bounded by now).
    pub roster: &'a Roster,
    /// The neighbouring months the viewer lists.
    pub previous: Option<Period>,
    pub next: Option<Period>,
    /// The verification, when the reader asked for one.
    pub verification: Option<(&'a VerificationFacts, Verdict)>,
    /// The acknowledgements of the shown report's period.
    pub receipt: &'a Receipt,
    /// The period regenerated now, when it differs from the issued report.
    pub outdated: Option<&'a super::outdated::Outdated>,
}

/// The report page.
pub(super) fn report_page(p: &ReportPage<'_>) -> String {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    let t = lang.text();
    let tenant = report.tenant.as_str();
    let path = page::report_path(tenant, &report.period);
    let month = period_label(&report.period, lang);
    let mut title = format!("{}: {}, {month}", t.title, p.name);
    if report.preliminary {
        title.push_str(&format!(" ({})", t.status_preliminary));
    }
    let (class, badge) = if report.deviations.is_empty() {
        ("good", w.all_met.to_string())
    } else {
        ("bad", words::deviations(lang, report.deviations.len()))
    };
    let summary = projector::render::text::summary(lang, &projector::render::summary(report));
    let body = html! {
        h1 { (title) } "\n"
        @if report.preliminary {
            p class="preliminary" role="note" {
                strong { (t.preliminary) "." } " " (projector::render::preliminary_note(report, lang))
            }
            "\n"
        }
        p class="summary" {
            span class={ "badge " (class) } id="status" { (badge) } " " (summary)
        }
        "\n"
        @if let Some(o) = p.outdated {
            (super::outdated::section(lang, o, report))
        }
        (acknowledgement(p))
        (downloads(lang, &path, report))
        section aria-labelledby="chart" {
            "\n"
            h2 id="chart" { (w.chart_title) } "\n"
            @if let Some(svg) = super::chart::availability_chart(report, lang) {
                (svg)
            }
        }
        "\n"
        (report_html::deviations(report, lang))
        @if let Some(story) = &report.story {
            (report_html::follow_up(report, lang))
            (report_html::actions(report, story, lang))
            (report_html::trend(story, lang))
        }
        (report_html::availability(report, lang))
        (report_html::outages(report, lang))
        (per_priority(report, lang))
        (report_html::incidents(report, t))
        (report_html::open_incidents(report, lang))
        (governance(p))
        (contacts(p))
        (report_html::data_quality(report, lang))
        (verification(p, &path))
        (pager(p, tenant))
    };
    let crumb = Crumb {
        path: path.clone(),
        name: month,
    };
    let frame = Frame {
        lang,
        title: &title,
        crumbs: super::months::crumbs_below(lang, tenant, p.name, crumb),
        path: &path,
    };
    page::page(&frame, body)
}

/// Who acknowledged the report shown, and when, with their comment; or,
/// said plainly, that the acknowledgement names an older version of the
/// month's report, or that there is none (SEMANTICS.md section 12).
fn acknowledgement(p: &ReportPage<'_>) -> Markup {
    let (lang, report, receipt) = (p.lang, &p.shown.report, p.receipt);
    let w = words(lang);
    let superseded = receipt
        .others
        .iter()
        .rev()
        .find(|(_, s)| *s == Standing::Superseded)
        .map(|(a, _)| a);
    let unknown = receipt
        .others
        .iter()
        .any(|(_, s)| *s == Standing::NotIssued);
    let tz = &report.timezone;
    html! {
        section aria-labelledby="acknowledgement" id="acknowledgement-panel" {
            "\n"
            h2 id="acknowledgement" { (w.acknowledgement) } "\n"
            @match (&receipt.current, superseded) {
                (Some(current), older) => {
                    (acknowledgement_facts(lang, tz, current, "acknowledged"))
                    @if older.is_some() {
                        p class="note" { (w.also_older) } "\n"
                    }
                }
                (None, Some(older)) => {
                    p class="bad" id="acknowledged-older" role="status" {
                        strong { (w.acknowledged_older) }
                    }
                    "\n"
                    (acknowledgement_facts(lang, tz, older, "acknowledged-older-facts"))
                }
                (None, None) => {
                    p id="not-acknowledged" { (w.not_acknowledged) } "\n"
                }
            }
            @if unknown {
                p class="note" id="acknowledged-unknown" { (w.acknowledged_unknown) } "\n"
            }
        }
        "\n"
    }
}

/// One acknowledgement as a definition list with the given id.
fn acknowledgement_facts(lang: Lang, timezone: &str, a: &Acknowledgement, id: &str) -> Markup {
    let w = words(lang);
    let at = projector::render::when(&schemas::format_instant(a.time), timezone);
    let mut facts = vec![
        (w.acknowledged_by, html! { (a.person) }),
        (
            w.acknowledged_at,
            html! { (at.local) " " span class="note" { "(" (at.utc) ")" } },
        ),
    ];
    if let Some(comment) = &a.comment {
        facts.push((w.comment, html! { (comment) }));
    }
    facts.push((w.acknowledged_digest, code(&a.report_digest)));
    facts_list(Some(id), &facts)
}

/// A definition list of names and values, with an id when given.
fn facts_list(id: Option<&str>, facts: &[(&str, Markup)]) -> Markup {
    html! {
        dl id=[id] {
            "\n"
            @for (k, v) in facts {
                dt { (k) } dd { (v) } "\n"
            }
        }
        "\n"
    }
}

/// `text` as code.
fn code(text: &str) -> Markup {
    html! { code { (text) } }
}

fn downloads(lang: Lang, path: &str, report: &Report) -> Markup {
    let w = words(lang);
    let formats = [
        ("json", w.download_json),
        ("csv", w.download_csv),
        ("md", w.download_md),
        ("xlsx", w.download_xlsx),
    ];
    html! {
        nav class="no-print" aria-labelledby="downloads" {
            h2 id="downloads" { (w.downloads) } "\n"
            ul class="links" {
                @for (format, label) in formats {
                    li {
                        a href=(href(&format!("{path}/{format}"), lang))
                            download={ (report.tenant) "-" (report.period) "." (format) }
                            data-format=(format) { (label) }
                    }
                }
            }
        }
        "\n"
    }
}

/// Incidents per priority over all services: the period at a glance.
fn per_priority(report: &Report, lang: Lang) -> Markup {
    let (w, t) = (words(lang), lang.text());
    let head = [
        t.priority,
        t.opened,
        t.response_met,
        t.response_breached,
        t.resolution_met,
        t.resolution_breached,
    ];
    html! {
        section aria-labelledby="priorities" {
            "\n"
            h2 id="priorities" { (w.per_priority) } "\n"
            table class="cards" id="per-priority" {
                "\n"
                caption { (w.per_priority_caption) } "\n"
                thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
                tbody {
                    "\n"
                    @for priority in ["P1", "P2", "P3", "P4"] {
                        (priority_row(report, priority, &head))
                    }
                }
                "\n"
            }
            "\n"
        }
        "\n"
    }
}

/// The incidents of one priority, summed over the services.
fn priority_row(report: &Report, priority: &str, head: &[&str; 6]) -> Markup {
    let mut sum = IncidentCounts::default();
    for c in report
        .services
        .iter()
        .filter_map(|s| s.incidents.get(priority))
    {
        sum.opened += c.opened;
        sum.response_met += c.response_met;
        sum.response_breached += c.response_breached;
        sum.resolution_met += c.resolution_met;
        sum.resolution_breached += c.resolution_breached;
    }
    let counts = [
        (sum.opened, false),
        (sum.response_met, false),
        (sum.response_breached, true),
        (sum.resolution_met, false),
        (sum.resolution_breached, true),
    ];
    html! {
        tr data-priority=(priority) {
            th scope="row" data-label=(head[0]) { (priority) }
            @for ((n, bad), label) in counts.iter().zip(&head[1..]) {
                td data-label=(label) class=(if *bad && *n > 0 { "num bad" } else { "num" }) { (n) }
            }
        }
        "\n"
    }
}

/// The governance deviations of the period, and the way to every meeting.
fn governance(p: &ReportPage<'_>) -> Markup {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    let mine: Vec<&Deviation> = report
        .deviations
        .iter()
        .filter(|d| {
            matches!(
                d,
                Deviation::OperationsMeetingMissing { .. }
                    | Deviation::SteeringMeetingMissing { .. }
                    | Deviation::MinutesMissing { .. }
            )
        })
        .collect();
    let meetings = format!("{}/meetings", page::tenant_path(&report.tenant));
    html! {
        section aria-labelledby="governance" {
            "\n"
            h2 id="governance" { (w.governance) } "\n"
            (deviation_list(report, lang, &mine, w.governance_ok))
            p { a href=(href(&meetings, lang)) { (w.see_meetings) } } "\n"
        }
        "\n"
    }
}

/// The contact deviations of the period, who held each role at its end,
/// and the way to the roster at any instant.
fn contacts(p: &ReportPage<'_>) -> Markup {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    let mine: Vec<&Deviation> = report
        .deviations
        .iter()
        .filter(|d| matches!(d, Deviation::ContactVacant { .. }))
        .collect();
    let at = schemas::format_instant(p.roster.at);
    let contacts = format!(
        "{}/contacts?at={}",
        page::tenant_path(&report.tenant),
        super::roster::encode_query(&at)
    );
    html! {
        section aria-labelledby="contacts" {
            "\n"
            h2 id="contacts" { (w.contacts_section) } "\n"
            (deviation_list(report, lang, &mine, w.contacts_ok))
            (super::roster::roster_tables(
                lang,
                p.roster,
                &report.timezone,
                w.contacts_at_end,
                &|id| projector::render::service_name(report, id).to_string(),
            ))
            p { a href=(href(&contacts, lang)) { (w.see_contacts) } } "\n"
        }
        "\n"
    }
}

/// A list of deviations described in words, or `ok` when there are none.
fn deviation_list(report: &Report, lang: Lang, list: &[&Deviation], ok: &str) -> Markup {
    if list.is_empty() {
        return html! { p class="good" { (ok) } "\n" };
    }
    let rows = projector::render::deviation_rows(report, lang);
    let shown = list
        .iter()
        .filter_map(|d| report.deviations.iter().position(|x| x == *d))
        .filter_map(|i| rows.get(i));
    html! {
        ul {
            "\n"
            @for r in shown {
                li {
                    strong class="bad" { (r.label) } ": " (r.description)
                    " " span class="note" { "(" (r.dated) ")" }
                }
                "\n"
            }
        }
        "\n"
    }
}

/// The verification panel: what pins the report, the button, and the
/// verdict once asked.
fn verification(p: &ReportPage<'_>, path: &str) -> Markup {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    let m = &report.manifest;
    let panel_class = match &p.verification {
        Some((_, Verdict::Verified)) => "panel verified",
        Some(_) => "panel refuted",
        None => "panel",
    };
    let issued = match &p.shown.anchor {
        Some(a) => html! { (a.position) },
        None => html! { (w.not_issued) },
    };
    let mut facts = vec![
        (w.digest, code(&m.report_digest)),
        (w.issued_at, issued),
        (w.prefix_size, html! { (m.ledger_size) }),
        (w.prefix_root, code(&m.ledger_root)),
        (w.tree_root, code(projector::render::or_dash(&m.tree_root))),
        (w.engine_version, html! { (m.engine_version) }),
    ];
    if let Some((f, _)) = &p.verification {
        facts.push((w.ledger_now, html! { (f.ledger.size) }));
        facts.push((w.ledger_head, code(&f.ledger.head)));
        facts.push((w.checkpoint, checkpoint(lang, &f.ledger)));
    }
    html! {
        section aria-labelledby="verification" class=(panel_class) id="verification-panel" {
            "\n"
            h2 id="verification" { (w.verification) } "\n"
            p { (w.verification_intro) } "\n"
            @if report.story.is_some() {
                (report_html::proof(report, lang, &format!("{}#verification-panel", href(&format!("{path}/verify"), lang))))
            }
            @if let Some((facts, verdict)) = &p.verification {
                (verdict_block(lang, facts, verdict))
            }
            (facts_list(None, &facts))
            // The fragment brings the reader back to this panel and its verdict.
            form method="get" action={ (path) "/verify#verification-panel" } {
                @if lang == Lang::En {
                    input type="hidden" name="lang" value="en";
                }
                button type="submit" id="verify" { (w.verify_button) }
            }
            "\n"
        }
        "\n"
    }
}

fn verdict_block(lang: Lang, facts: &VerificationFacts, verdict: &Verdict) -> Markup {
    let w = words(lang);
    let (class, label, data) = match verdict {
        Verdict::Verified => ("verdict good", w.verified, "verified"),
        Verdict::NotVerified(_) => ("verdict bad", w.not_verified, "not-verified"),
    };
    let mut rows = Vec::new();
    if let Ok(r) = &facts.regenerated {
        rows.push((w.regenerated_digest, code(&r.manifest.report_digest)));
    }
    if let Some(a) = &facts.anchor {
        rows.push((w.anchored_digest, code(&a.report_digest)));
    }
    match &facts.chain {
        ChainCheck::Verified {
            entries,
            head,
            root,
            at,
            checked_now,
        } => {
            let chain = format!("{} ({entries} {})", w.verified, w.entries);
            rows.push((w.chain, html! { (chain) }));
            rows.push((w.verified_head, code(head)));
            rows.push((w.verified_root, code(root)));
            rows.push((w.verified_at, html! { (at) }));
            rows.push((w.checked_now, html! { (checked_now) }));
        }
        ChainCheck::Broken { problem } => {
            let chain = format!("{}: {problem}", w.not_verified);
            rows.push((w.chain, html! { (chain) }));
        }
    }
    html! {
        div role="status" {
            p class=(class) id="verdict" data-verdict=(data) { (label) } "\n"
            @if let Verdict::NotVerified(problems) = verdict {
                ul {
                    "\n"
                    @for problem in problems {
                        li { (words::problem(lang, problem)) } "\n"
                    }
                }
                "\n"
            }
            (facts_list(None, &rows))
        }
        "\n"
    }
}

fn checkpoint(lang: Lang, ledger: &super::LedgerFacts) -> Markup {
    let w = words(lang);
    let Some(c) = &ledger.checkpoint else {
        return html! { (w.no_checkpoint) };
    };
    let matches = if c.matches_ledger {
        w.checkpoint_matches
    } else {
        w.checkpoint_differs
    };
    html! {
        (c.size) " " (w.entries) " (" (c.origin) "), " (code(&c.root)) "; " (matches) "; "
        @match &c.signature {
            SignatureCheck::NotChecked => { (w.signature_not_checked) }
            SignatureCheck::Valid { key } => { (w.signature_valid) " " (code(key)) }
            SignatureCheck::Invalid { key, problem } => {
                strong class="bad" { (w.signature_invalid) } " " (code(key)) ": " (problem)
            }
        }
    }
}

fn pager(p: &ReportPage<'_>, tenant: &str) -> Markup {
    let w = words(p.lang);
    let link = |period: Option<Period>, rel: &str, label: &str| match period {
        Some(q) => html! {
            a href=(href(&page::report_path(tenant, &q.to_string()), p.lang)) rel=(rel) {
                (label) " (" (period_label(&q.to_string(), p.lang)) ")"
            }
        },
        None => html! { span {} },
    };
    html! {
        nav class="pager" aria-label=(w.month_grid) {
            (link(p.previous, "prev", w.previous_month))
            (link(p.next, "next", w.next_month))
        }
        "\n"
    }
}

/// The side of a roster row, for people.
pub(super) fn side_name(lang: Lang, side: Side) -> &'static str {
    let w = words(lang);
    match side {
        Side::Provider => w.side_provider,
        Side::Tenant => w.side_tenant,
        Side::Other => w.side_other,
    }
}
