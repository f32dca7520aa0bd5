//! The report page: the municipality's acknowledgement (or that there is
//! none, or that it names an older version of the report), the chart, the
//! report's own tables (shared with `tla report --format html`; a format-2
//! report adds each deviation's follow-up, the corrective actions and the
//! trend), incidents per priority, governance and contacts of the period,
//! downloads, and the verification panel with [`judge`]'s verdict once the
//! reader asked for it.

use projector::acknowledgement::{Acknowledgement, Receipt, Standing};
use projector::contact::{Roster, Side};
use projector::render::html::{self, escape};
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
    let mut body = format!("<h1>{}</h1>\n", escape(&title));
    if report.preliminary {
        body.push_str(&format!(
            "<p class=\"preliminary\" role=\"note\"><strong>{}.</strong> {}</p>\n",
            escape(t.preliminary),
            escape(&projector::render::preliminary_note(report, lang))
        ));
    }
    let (class, badge) = if report.deviations.is_empty() {
        ("good", w.all_met.to_string())
    } else {
        ("bad", words::deviations(lang, report.deviations.len()))
    };
    body.push_str(&format!(
        "<p class=\"summary\"><span class=\"badge {class}\" id=\"status\">{}</span> {}</p>\n",
        escape(&badge),
        escape(&projector::render::text::summary(
            lang,
            &projector::render::summary(report)
        ))
    ));
    acknowledgement(&mut body, p);
    downloads(&mut body, lang, &path, report);
    body.push_str(&format!(
        "<section aria-labelledby=\"chart\">\n<h2 id=\"chart\">{}</h2>\n",
        escape(w.chart_title)
    ));
    if let Some(svg) = super::chart::availability_chart(report, lang) {
        body.push_str(&svg);
    }
    body.push_str("</section>\n");
    html::deviations(&mut body, report, lang);
    if let Some(story) = &report.story {
        html::follow_up(&mut body, report, lang);
        html::actions(&mut body, report, story, lang);
        html::trend(&mut body, story, lang);
    }
    html::availability(&mut body, report, lang);
    per_priority(&mut body, report, lang);
    html::incidents(&mut body, report, t);
    governance(&mut body, p);
    contacts(&mut body, p);
    html::data_quality(&mut body, report, lang);
    verification(&mut body, p, &path);
    pager(&mut body, p, tenant);
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
    page::page(&frame, &body)
}

/// Who acknowledged the report shown, and when, with their comment; or,
/// said plainly, that the acknowledgement names an older version of the
/// month's report, or that there is none (SEMANTICS.md section 12).
fn acknowledgement(out: &mut String, p: &ReportPage<'_>) {
    let (lang, report, receipt) = (p.lang, &p.shown.report, p.receipt);
    let w = words(lang);
    out.push_str(&format!(
        "<section aria-labelledby=\"acknowledgement\" id=\"acknowledgement-panel\">\n<h2 id=\"acknowledgement\">{}</h2>\n",
        escape(w.acknowledgement)
    ));
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
    match (&receipt.current, superseded) {
        (Some(current), older) => {
            acknowledgement_facts(out, lang, &report.timezone, current, "acknowledged");
            if older.is_some() {
                out.push_str(&format!("<p class=\"note\">{}</p>\n", escape(w.also_older)));
            }
        }
        (None, Some(older)) => {
            out.push_str(&format!(
                "<p class=\"bad\" id=\"acknowledged-older\" role=\"status\"><strong>{}</strong></p>\n",
                escape(w.acknowledged_older)
            ));
            acknowledgement_facts(
                out,
                lang,
                &report.timezone,
                older,
                "acknowledged-older-facts",
            );
        }
        (None, None) => out.push_str(&format!(
            "<p id=\"not-acknowledged\">{}</p>\n",
            escape(w.not_acknowledged)
        )),
    }
    if unknown {
        out.push_str(&format!(
            "<p class=\"note\" id=\"acknowledged-unknown\">{}</p>\n",
            escape(w.acknowledged_unknown)
        ));
    }
    out.push_str("</section>\n");
}

/// One acknowledgement as a definition list with the given id.
fn acknowledgement_facts(
    out: &mut String,
    lang: Lang,
    timezone: &str,
    a: &Acknowledgement,
    id: &str,
) {
    let w = words(lang);
    let at = projector::render::when(&schemas::format_instant(a.time), timezone);
    let mut facts = vec![
        (w.acknowledged_by, escape(&a.person)),
        (
            w.acknowledged_at,
            format!(
                "{} <span class=\"note\">({})</span>",
                escape(&at.local),
                escape(&at.utc)
            ),
        ),
    ];
    if let Some(comment) = &a.comment {
        facts.push((w.comment, escape(comment)));
    }
    facts.push((
        w.acknowledged_digest,
        format!("<code>{}</code>", escape(&a.report_digest)),
    ));
    out.push_str(&format!("<dl id=\"{id}\">\n"));
    for (k, v) in facts {
        out.push_str(&format!("<dt>{}</dt><dd>{v}</dd>\n", escape(k)));
    }
    out.push_str("</dl>\n");
}

fn downloads(out: &mut String, lang: Lang, path: &str, report: &Report) {
    let w = words(lang);
    out.push_str(&format!(
        "<nav class=\"no-print\" aria-labelledby=\"downloads\"><h2 id=\"downloads\">{}</h2>\n<ul class=\"links\">",
        escape(w.downloads)
    ));
    for (format, label) in [
        ("json", w.download_json),
        ("csv", w.download_csv),
        ("md", w.download_md),
    ] {
        let file = format!("{}-{}.{format}", report.tenant, report.period);
        out.push_str(&format!(
            "<li><a href=\"{}\" download=\"{}\" data-format=\"{format}\">{}</a></li>",
            escape(&href(&format!("{path}/{format}"), lang)),
            escape(&file),
            escape(label)
        ));
    }
    out.push_str("</ul></nav>\n");
}

/// Incidents per priority over all services: the period at a glance.
fn per_priority(out: &mut String, report: &Report, lang: Lang) {
    let (w, t) = (words(lang), lang.text());
    out.push_str(&format!(
        "<section aria-labelledby=\"priorities\">\n<h2 id=\"priorities\">{}</h2>\n",
        escape(w.per_priority)
    ));
    let head = [
        t.priority,
        t.opened,
        t.response_met,
        t.response_breached,
        t.resolution_met,
        t.resolution_breached,
    ];
    out.push_str(&format!(
        "<table class=\"cards\" id=\"per-priority\">\n<caption>{}</caption>\n<thead><tr>",
        escape(w.per_priority_caption)
    ));
    for h in head {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for priority in ["P1", "P2", "P3", "P4"] {
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
        out.push_str(&format!(
            "<tr data-priority=\"{priority}\"><th scope=\"row\" data-label=\"{}\">{priority}</th>",
            escape(head[0])
        ));
        let counts = [
            (sum.opened, false),
            (sum.response_met, false),
            (sum.response_breached, true),
            (sum.resolution_met, false),
            (sum.resolution_breached, true),
        ];
        for ((n, bad), label) in counts.iter().zip(&head[1..]) {
            let class = if *bad && *n > 0 { "num bad" } else { "num" };
            out.push_str(&format!(
                "<td data-label=\"{}\" class=\"{class}\">{n}</td>",
                escape(label)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The governance deviations of the period, and the way to every meeting.
fn governance(out: &mut String, p: &ReportPage<'_>) {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    out.push_str(&format!(
        "<section aria-labelledby=\"governance\">\n<h2 id=\"governance\">{}</h2>\n",
        escape(w.governance)
    ));
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
    deviation_list(out, report, lang, &mine, w.governance_ok);
    let meetings = format!("{}/meetings", page::tenant_path(&report.tenant));
    out.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n</section>\n",
        escape(&href(&meetings, lang)),
        escape(w.see_meetings)
    ));
}

/// The contact deviations of the period, who held each role at its end,
/// and the way to the roster at any instant.
fn contacts(out: &mut String, p: &ReportPage<'_>) {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    out.push_str(&format!(
        "<section aria-labelledby=\"contacts\">\n<h2 id=\"contacts\">{}</h2>\n",
        escape(w.contacts_section)
    ));
    let mine: Vec<&Deviation> = report
        .deviations
        .iter()
        .filter(|d| matches!(d, Deviation::ContactVacant { .. }))
        .collect();
    deviation_list(out, report, lang, &mine, w.contacts_ok);
    let at = schemas::format_instant(p.roster.at);
    super::roster::roster_tables(out, lang, p.roster, &report.timezone, w.contacts_at_end);
    let contacts = format!(
        "{}/contacts?at={}",
        page::tenant_path(&report.tenant),
        super::roster::encode_query(&at)
    );
    out.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n</section>\n",
        escape(&href(&contacts, lang)),
        escape(w.see_contacts)
    ));
}

/// A list of deviations described in words, or `ok` when there are none.
fn deviation_list(out: &mut String, report: &Report, lang: Lang, list: &[&Deviation], ok: &str) {
    if list.is_empty() {
        out.push_str(&format!("<p class=\"good\">{}</p>\n", escape(ok)));
        return;
    }
    let rows = projector::render::deviation_rows(report, lang);
    out.push_str("<ul>\n");
    for d in list {
        let Some(i) = report.deviations.iter().position(|x| x == *d) else {
            continue;
        };
        let r = &rows[i];
        out.push_str(&format!(
            "<li><strong class=\"bad\">{}</strong>: {} <span class=\"note\">({})</span></li>\n",
            escape(r.label),
            escape(&r.description),
            escape(&r.when.local)
        ));
    }
    out.push_str("</ul>\n");
}

/// The verification panel: what pins the report, the button, and the
/// verdict once asked.
fn verification(out: &mut String, p: &ReportPage<'_>, path: &str) {
    let (lang, report) = (p.lang, &p.shown.report);
    let w = words(lang);
    let m = &report.manifest;
    let panel_class = match &p.verification {
        Some((_, Verdict::Verified)) => " verified",
        Some(_) => " refuted",
        None => "",
    };
    out.push_str(&format!(
        "<section aria-labelledby=\"verification\" class=\"panel{panel_class}\" id=\"verification-panel\">\n<h2 id=\"verification\">{}</h2>\n<p>{}</p>\n",
        escape(w.verification),
        escape(w.verification_intro)
    ));
    if let Some((facts, verdict)) = &p.verification {
        verdict_block(out, lang, facts, verdict);
    }
    let code = |s: &str| format!("<code>{}</code>", escape(s));
    let issued = match &p.shown.anchor {
        Some(a) => a.position.to_string(),
        None => escape(w.not_issued),
    };
    let mut facts = vec![
        (w.digest, code(&m.report_digest)),
        (w.issued_at, issued),
        (w.prefix_size, m.ledger_size.to_string()),
        (w.prefix_root, code(&m.ledger_root)),
        (w.tree_root, code(projector::render::or_dash(&m.tree_root))),
        (w.engine_version, escape(&m.engine_version)),
    ];
    if let Some((f, _)) = &p.verification {
        facts.push((w.ledger_now, f.ledger.size.to_string()));
        facts.push((w.ledger_head, code(&f.ledger.head)));
        facts.push((w.checkpoint, checkpoint(lang, &f.ledger)));
    }
    out.push_str("<dl>\n");
    for (k, v) in facts {
        out.push_str(&format!("<dt>{}</dt><dd>{v}</dd>\n", escape(k)));
    }
    out.push_str("</dl>\n");
    // The fragment brings the reader back to this panel and its verdict.
    let action = format!("{path}/verify#verification-panel");
    out.push_str(&format!(
        "<form method=\"get\" action=\"{}\">",
        escape(&action)
    ));
    if lang == Lang::En {
        out.push_str("<input type=\"hidden\" name=\"lang\" value=\"en\">");
    }
    out.push_str(&format!(
        "<button type=\"submit\" id=\"verify\">{}</button></form>\n</section>\n",
        escape(w.verify_button)
    ));
}

fn verdict_block(out: &mut String, lang: Lang, facts: &VerificationFacts, verdict: &Verdict) {
    let w = words(lang);
    let (class, label) = match verdict {
        Verdict::Verified => ("good", w.verified),
        Verdict::NotVerified(_) => ("bad", w.not_verified),
    };
    out.push_str(&format!(
        "<div role=\"status\"><p class=\"verdict {class}\" id=\"verdict\" data-verdict=\"{}\">{}</p>\n",
        if class == "good" { "verified" } else { "not-verified" },
        escape(label)
    ));
    if let Verdict::NotVerified(problems) = verdict {
        out.push_str("<ul>\n");
        for problem in problems {
            out.push_str(&format!(
                "<li>{}</li>\n",
                escape(&words::problem(lang, problem))
            ));
        }
        out.push_str("</ul>\n");
    }
    let code = |s: &str| format!("<code>{}</code>", escape(s));
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
            rows.push((w.chain, escape(&chain)));
            rows.push((w.verified_head, code(head)));
            rows.push((w.verified_root, code(root)));
            rows.push((w.verified_at, escape(at)));
            rows.push((w.checked_now, checked_now.to_string()));
        }
        ChainCheck::Broken { problem } => {
            let chain = format!("{}: {problem}", w.not_verified);
            rows.push((w.chain, escape(&chain)));
        }
    }
    out.push_str("<dl>\n");
    for (k, v) in rows {
        out.push_str(&format!("<dt>{}</dt><dd>{v}</dd>\n", escape(k)));
    }
    out.push_str("</dl>\n</div>\n");
}

fn checkpoint(lang: Lang, ledger: &super::LedgerFacts) -> String {
    let w = words(lang);
    let Some(c) = &ledger.checkpoint else {
        return escape(w.no_checkpoint);
    };
    let matches = if c.matches_ledger {
        w.checkpoint_matches
    } else {
        w.checkpoint_differs
    };
    let signature = match &c.signature {
        SignatureCheck::NotChecked => escape(w.signature_not_checked),
        SignatureCheck::Valid { key } => {
            format!("{} <code>{}</code>", escape(w.signature_valid), escape(key))
        }
        SignatureCheck::Invalid { key, problem } => format!(
            "<strong class=\"bad\">{}</strong> <code>{}</code>: {}",
            escape(w.signature_invalid),
            escape(key),
            escape(problem)
        ),
    };
    format!(
        "{} {} ({}), <code>{}</code>; {}; {signature}",
        c.size,
        escape(w.entries),
        escape(&c.origin),
        escape(&c.root),
        escape(matches)
    )
}

fn pager(out: &mut String, p: &ReportPage<'_>, tenant: &str) {
    let w = words(p.lang);
    let link = |period: Option<Period>, rel: &str, label: &str| match period {
        Some(q) => format!(
            "<a href=\"{}\" rel=\"{rel}\">{} ({})</a>",
            escape(&href(&page::report_path(tenant, &q.to_string()), p.lang)),
            escape(label),
            escape(&period_label(&q.to_string(), p.lang))
        ),
        None => "<span></span>".to_string(),
    };
    out.push_str(&format!(
        "<nav class=\"pager\" aria-label=\"{}\">{}{}</nav>\n",
        escape(w.month_grid),
        link(p.previous, "prev", w.previous_month),
        link(p.next, "next", w.next_month)
    ));
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
