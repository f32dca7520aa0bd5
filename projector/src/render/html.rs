//! The report as one self-contained HTML page: inline CSS, no scripts, no
//! images, fonts or links to anywhere, so it opens offline, can be
//! archived as a single file, and makes no network request (SEMANTICS.md
//! reports are evidence; issue 6 asks for nothing fetched from outside).
//!
//! The page reads on a phone (below 40rem each table row becomes a card,
//! its cells labelled through `data-label`, the label floated beside the
//! value so that a long label wraps and the card grows with it) and prints on A4 (`@page`,
//! repeated table headers, rows kept whole). Tables are semantic:
//! `<caption>`, `<th scope="col">` and a `<th scope="row">` per row.
//! Every string from the report, including those composed into
//! sentences, is escaped by [`escape`]; markup comes only from literals
//! in this file. Met and not met are said in words, not by colour alone.

use super::text::{self, Text};
use super::{AvailabilityRow, DeviationRow, Lang, Report};
use crate::report::{Action, Story, TrendPeriod};

/// The page's style: screen, phone and print (A4, with "page / pages" in
/// the bottom margin where the browser supports page-margin boxes, as
/// Chromium does since version 131). No `url()` anywhere.
/// The Content-Security-Policy a standalone HTML report is served with:
/// nothing may load, and the one inline stylesheet is allowed by its
/// SHA-256 hash (CSP level 2), so no injected style or script would run.
pub fn content_security_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(STYLE.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        )
    })
}

pub const STYLE: &str = r#"
:root{--fg:#1b1b1b;--muted:#555;--line:#c8c8c8;--bad:#a10d0d;--good:#1b6130;--note:#fff3c4;--note-line:#a67c00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0 auto;max-width:64rem;padding:1rem;color:var(--fg);background:#fff;font:1rem/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
h1{font-size:1.6rem;line-height:1.2;margin:0 0 .75rem}
h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-bottom:.2rem;border-bottom:2px solid var(--fg)}
p{margin:.5rem 0}
.preliminary{background:var(--note);border-left:.3rem solid var(--note-line);padding:.5rem .75rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:.9em;overflow-wrap:break-word}
.summary{font-size:1.1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
thead th{border-bottom:2px solid var(--fg)}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.time{white-space:nowrap}
.bad{color:var(--bad);font-weight:600}
.good{color:var(--good)}
.note{color:var(--muted);font-size:.9em}
figure{margin:.5rem 0 1rem}
figcaption{color:var(--muted);font-size:.9em}
svg.trend{display:block;width:100%;max-width:40rem;height:auto}
footer{margin-top:2rem}
@media screen and (max-width:40rem){
body{padding:.75rem}
h1{font-size:1.35rem}
dl{grid-template-columns:1fr}
dd{margin-bottom:.3rem}
table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
table.cards,table.cards tbody,table.cards tr{display:block;width:100%}
table.cards tr{border:1px solid var(--line);border-radius:.3rem;margin:0 0 .75rem;padding:.3rem .6rem}
table.cards caption{display:block}
table.cards th,table.cards td{display:flow-root;border:0;padding:.2rem 0 .2rem 9rem;text-align:left;white-space:normal}
table.cards th::before,table.cards td::before{content:attr(data-label);float:left;width:8.5rem;margin-left:-9rem;font-weight:600;color:var(--muted)}
}
@page{size:A4;margin:16mm 14mm 18mm;@bottom-right{content:counter(page) " / " counter(pages);font:8pt system-ui,sans-serif;color:#555}}
@media print{
body{max-width:none;padding:0;font-size:10pt}
h1{font-size:16pt}
h2{font-size:12.5pt;break-after:avoid;page-break-after:avoid}
table{font-size:9pt}
thead{display:table-header-group}
tr,dl,.preliminary,caption{break-inside:avoid;page-break-inside:avoid}
.preliminary{border:1pt solid #000;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.bad,.good{color:#000}
}
"#;

/// The report as a self-contained HTML page in `lang`.
pub fn html(report: &Report, lang: Lang) -> String {
    let t = lang.text();
    let title = escape(&super::title(report, lang));
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n");
    out.push_str(&format!("<html lang=\"{}\">\n<head>\n", lang.tag()));
    out.push_str("<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    ));
    header(&mut out, report, lang, &title);
    out.push_str("<main>\n");
    deviations(&mut out, report, lang);
    if let Some(story) = &report.story {
        follow_up(&mut out, report, lang);
        actions(&mut out, report, story, lang);
        governance(&mut out, report, story, lang);
        contacts(&mut out, report, story, lang);
        trend(&mut out, story, lang);
    }
    availability(&mut out, report, lang);
    incidents(&mut out, report, t);
    data_quality(&mut out, report, lang);
    out.push_str("</main>\n");
    manifest(&mut out, report, lang);
    out.push_str("</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &Report, lang: Lang, title: &str) {
    let t = lang.text();
    out.push_str(&format!("<header>\n<h1>{title}</h1>\n"));
    if report.preliminary {
        out.push_str(&format!(
            "<p class=\"preliminary\" role=\"note\"><strong>{}.</strong> {}</p>\n",
            t.preliminary,
            escape(&super::preliminary_note(report, lang))
        ));
    }
    let facts = [
        (t.tenant, escape(&report.tenant)),
        (t.period, escape(&super::period_label(&report.period, lang))),
        (t.period_utc, escape(&super::period_utc(report))),
        (t.agreement_version, escape(&report.agreement_version)),
        (t.timezone, escape(&report.timezone)),
    ];
    dl(out, &facts);
    out.push_str(&format!(
        "<p class=\"summary\">{}</p>\n</header>\n",
        escape(&text::summary(lang, &super::summary(report)))
    ));
}

pub fn deviations(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    section_start(out, "deviations", t.deviations);
    if report.deviations.is_empty() {
        out.push_str(&format!("<p>{}</p>\n</section>\n", t.no_deviations));
        return;
    }
    // Six columns rather than the eight of Markdown: the UTC time goes
    // under the local one and the description under the kind, so the
    // table fits an A4 page in portrait.
    let local = format!("{} ({})", t.when_local, report.timezone);
    let head = [
        t.number,
        &local,
        t.deviation,
        t.service,
        t.target,
        t.measured,
    ];
    // Format 2: the provider's deviations apart from the municipality's.
    for (caption, rows) in super::deviation_groups(report, lang, t.caption_deviations) {
        let caption = format!("{caption} ({})", rows.len());
        table_start(out, &caption, &head);
        for r in &rows {
            deviation_row(out, r, &head);
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

fn deviation_row(out: &mut String, r: &DeviationRow, head: &[&str; 6]) {
    out.push_str(&format!(
        "<tr><th scope=\"row\" data-label=\"{}\" class=\"num\">{}</th>",
        escape(head[0]),
        r.number
    ));
    let when = format!(
        "{}<br><span class=\"note\">{}</span>",
        escape(&r.when.local),
        escape(&r.when.utc)
    );
    td(out, head[1], "time", &when);
    let what = format!(
        "<strong class=\"bad\">{}</strong><br>{}",
        escape(r.label),
        escape(&r.description)
    );
    td(out, head[2], "", &what);
    td(out, head[3], "", &escape(&r.service));
    td(out, head[4], "", &escape(&r.target));
    td(out, head[5], "", &escape(&r.measured));
    out.push_str("</tr>\n");
}

pub fn availability(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    section_start(out, "availability", t.availability);
    let rows = super::availability_rows(report, lang);
    if rows.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", t.no_guarantees));
    } else {
        let head = [
            t.service, t.target, t.achieved, t.downtime, t.excluded, t.window, t.result,
        ];
        table_start(out, t.caption_availability, &head);
        for r in &rows {
            availability_row(out, r, &head, t);
        }
        out.push_str("</tbody>\n</table>\n");
        out.push_str(&format!("<p class=\"note\">{}</p>\n", t.achieved_formula));
    }
    let without = super::unguaranteed(report);
    if !without.is_empty() {
        let ids: Vec<String> = without.iter().map(|s| escape(s)).collect();
        out.push_str(&format!(
            "<p>{}: {}.</p>\n",
            t.no_availability,
            ids.join(", ")
        ));
    }
    out.push_str("</section>\n");
}

fn availability_row(out: &mut String, r: &AvailabilityRow<'_>, head: &[&str; 7], t: &Text) {
    out.push_str(&format!(
        "<tr><th scope=\"row\" data-label=\"{}\">{}</th>",
        escape(head[0]),
        escape(r.service)
    ));
    let achieved = if r.measurable {
        escape(&r.achieved)
    } else {
        format!(
            "– <span class=\"note\">({})</span>",
            escape(t.not_measurable)
        )
    };
    td(out, head[1], "num", &escape(&r.target));
    td(out, head[2], "num", &achieved);
    td(out, head[3], "num", &escape(&r.downtime));
    td(out, head[4], "num", &escape(&r.excluded));
    td(out, head[5], "num", &escape(&r.window));
    let class = if r.met { "good" } else { "bad" };
    td(out, head[6], class, &escape(r.result));
    out.push_str("</tr>\n");
}

pub fn incidents(out: &mut String, report: &Report, t: &Text) {
    section_start(out, "incidents", t.incidents);
    let rows = super::incident_rows(report);
    if rows.is_empty() {
        out.push_str(&format!("<p>{}</p>\n</section>\n", t.no_incidents));
        return;
    }
    let head = [
        t.service,
        t.priority,
        t.opened,
        t.response_met,
        t.response_breached,
        t.resolution_met,
        t.resolution_breached,
    ];
    table_start(out, t.caption_incidents, &head);
    for (service, priority, c) in rows {
        out.push_str(&format!(
            "<tr><th scope=\"row\" data-label=\"{}\">{}</th>",
            escape(head[0]),
            escape(service)
        ));
        td(out, head[1], "", &escape(priority));
        let counts = [
            (c.opened, ""),
            (c.response_met, ""),
            (c.response_breached, "bad"),
            (c.resolution_met, ""),
            (c.resolution_breached, "bad"),
        ];
        for ((n, bad), label) in counts.iter().zip(&head[2..]) {
            let class = if *n > 0 && !bad.is_empty() {
                "num bad"
            } else {
                "num"
            };
            td(out, label, class, &n.to_string());
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

pub fn data_quality(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    section_start(out, "data-quality", t.data_quality);
    let q = &report.data_quality;
    if q.set_aside == 0 && q.by_reason.is_empty() {
        out.push_str(&format!("<p>{}</p>\n</section>\n", t.nothing_set_aside));
        return;
    }
    out.push_str(&format!(
        "<p>{}</p>\n",
        escape(&text::set_aside(lang, q.set_aside))
    ));
    let head = [t.reason, t.count, t.description];
    table_start(out, t.caption_set_aside, &head);
    for (code, n) in &q.by_reason {
        out.push_str(&format!(
            "<tr><th scope=\"row\" data-label=\"{}\"><code>{}</code></th>",
            escape(head[0]),
            escape(code)
        ));
        td(out, head[1], "num", &n.to_string());
        td(out, head[2], "", &escape(text::reason(lang, code)));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

pub fn manifest(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    let m = &report.manifest;
    out.push_str(&format!(
        "<footer aria-labelledby=\"manifest\">\n<h2 id=\"manifest\">{}</h2>\n",
        t.manifest
    ));
    let code = |s: &str| format!("<code>{}</code>", escape(super::or_dash(s)));
    let facts = [
        (t.ledger_size, m.ledger_size.to_string()),
        (t.ledger_root, code(&m.ledger_root)),
        (t.tree_root, code(&m.tree_root)),
        (t.report_format, escape(&report.format)),
        (t.engine_version, escape(&m.engine_version)),
        (t.horizon, escape(&super::horizon(report, lang))),
        (t.report_digest, code(&m.report_digest)),
    ];
    // Reports made before the Merkle tree have no tree root to show.
    let facts: Vec<_> = facts
        .into_iter()
        .filter(|(k, _)| *k != t.tree_root || !m.tree_root.is_empty())
        .collect();
    dl(out, &facts);
    let hint = text::verify_hint(lang, m.ledger_size, |c| {
        format!("<code>{}</code>", escape(c))
    });
    out.push_str(&format!("<p>{hint}</p>\n</footer>\n"));
}

/// Local time of an instant of the report, or a dash; HTML.
fn local(report: &Report, at: Option<&str>) -> String {
    at.map_or_else(
        || "–".to_string(),
        |at| escape(&super::when(at, &report.timezone).local),
    )
}

/// An action as one line of HTML: its title and id, its status (overdue
/// in the colour and weight of a deviation) and due date.
fn action_line(report: &Report, a: &Action, lang: Lang) -> String {
    let s = text::story(lang);
    let status = s.status_word(&a.status);
    let status = if a.status == "overdue" {
        format!("<strong class=\"bad\">{}</strong>", escape(status))
    } else {
        escape(status)
    };
    format!(
        "{} <code>{}</code><br><span class=\"note\">{status}, {} {}</span>",
        escape(&a.title),
        escape(&a.action_id),
        escape(s.due),
        local(report, Some(&a.due))
    )
}

/// The follow-up of every deviation of a format-2 report, numbered as in
/// the deviations table: its id, who owes it, the cause and the action
/// (with the action's status when the report lists it), or that it is not
/// explained yet. Nothing for format 1.
pub fn follow_up(out: &mut String, report: &Report, lang: Lang) {
    let (Some(rows), Some(story)) = (&report.follow_up, &report.story) else {
        return;
    };
    let (t, s) = (lang.text(), text::story(lang));
    section_start(out, "follow-up", s.follow_up);
    if rows.is_empty() {
        out.push_str(&format!("<p>{}</p>\n</section>\n", escape(t.no_deviations)));
        return;
    }
    let head = [
        t.number,
        s.deviation_id,
        s.party,
        s.cause,
        s.action,
        s.explained_at,
    ];
    table_start(out, s.follow_up, &head);
    for (i, f) in rows.iter().enumerate() {
        out.push_str(&format!(
            "<tr id=\"deviation-{}\"><th scope=\"row\" data-label=\"{}\" class=\"num\">{}</th>",
            escape(&f.id),
            escape(head[0]),
            i + 1
        ));
        td(out, head[1], "", &format!("<code>{}</code>", escape(&f.id)));
        td(out, head[2], "", &escape(s.party_word(&f.party)));
        let Some(e) = &f.explanation else {
            let missing = format!("<span class=\"note\">{}</span>", escape(s.not_explained));
            td(out, head[3], "", &missing);
            td(out, head[4], "", "–");
            td(out, head[5], "", "–");
            out.push_str("</tr>\n");
            continue;
        };
        td(out, head[3], "", &escape(&e.cause));
        let action = match &e.action_id {
            None => "–".to_string(),
            Some(id) => match story.actions.iter().find(|a| &a.action_id == id) {
                Some(a) => action_line(report, a, lang),
                None => format!("<code>{}</code>", escape(id)),
            },
        };
        td(out, head[4], "", &action);
        td(out, head[5], "time", &local(report, Some(&e.explained_at)));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The corrective actions of a format-2 report: open, overdue, and closed
/// in the period.
pub fn actions(out: &mut String, report: &Report, story: &Story, lang: Lang) {
    let s = text::story(lang);
    section_start(out, "actions", s.actions);
    if story.actions.is_empty() {
        out.push_str(&format!("<p>{}</p>\n</section>\n", escape(s.no_actions)));
        return;
    }
    action_table(out, &report.timezone, &story.actions, lang, s.actions);
    out.push_str("</section>\n");
}

/// A table of actions: title and id, owner, due, status, outcome. The
/// viewer's follow-up page lists a tenant's actions with it too.
/// Times are shown in `timezone`.
pub fn action_table(out: &mut String, timezone: &str, list: &[Action], lang: Lang, caption: &str) {
    let s = text::story(lang);
    let head = [s.title, s.owner, s.due, s.status, s.outcome];
    table_start(out, caption, &head);
    for a in list {
        out.push_str(&format!(
            "<tr data-action=\"{}\" data-status=\"{}\"><th scope=\"row\" data-label=\"{}\">{} <code>{}</code></th>",
            escape(&a.action_id),
            escape(&a.status),
            escape(head[0]),
            escape(&a.title),
            escape(&a.action_id)
        ));
        td(out, head[1], "", &escape(&a.owner));
        let due = escape(&super::when(&a.due, timezone).local);
        td(out, head[2], "time", &due);
        let (class, status) = match a.status.as_str() {
            "overdue" => ("bad", s.overdue),
            "closed" => ("good", s.closed),
            _ => ("", s.open),
        };
        td(out, head[3], class, &escape(status));
        let outcome = a.outcome.as_deref().map_or_else(|| "–".to_string(), escape);
        td(out, head[4], "", &outcome);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// "Styring": the meetings held in the period with their minutes, and
/// the last meeting of each kind. Nothing when the agreement has no
/// governance.
pub fn governance(out: &mut String, report: &Report, story: &Story, lang: Lang) {
    let Some(g) = &story.governance else { return };
    let s = text::story(lang);
    section_start(out, "governance-story", s.governance);
    if g.meetings.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(s.no_meetings)));
    } else {
        let head = s.meeting_head();
        table_start(out, s.governance, &head);
        for m in &g.meetings {
            out.push_str(&format!(
                "<tr><th scope=\"row\" data-label=\"{}\"><code>{}</code></th>",
                escape(head[0]),
                escape(&m.meeting_id)
            ));
            td(out, head[1], "", &escape(s.meeting_kind(&m.kind)));
            td(out, head[2], "time", &local(report, Some(&m.held_at)));
            td(
                out,
                head[3],
                "time",
                &local(report, m.minutes_due.as_deref()),
            );
            td(
                out,
                head[4],
                "time",
                &local(report, m.minutes_filed_at.as_deref()),
            );
            let (class, on_time) = match m.minutes_on_time {
                Some(true) => ("good", s.yes),
                Some(false) => ("bad", s.no),
                None => ("", "–"),
            };
            td(out, head[5], class, &escape(on_time));
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    let last = |at: &Option<String>| {
        at.as_deref()
            .map_or_else(|| escape(s.none_held), |at| local(report, Some(at)))
    };
    dl(
        out,
        &[
            (s.last_operations, last(&g.last_operations_meeting)),
            (s.last_steering, last(&g.last_steering_meeting)),
        ],
    );
    out.push_str("</section>\n");
}

/// "Ansvarlege": who held each role at the end of the period, the vacant
/// roles said in words and marked. Nothing when the agreement has no
/// contacts.
pub fn contacts(out: &mut String, report: &Report, story: &Story, lang: Lang) {
    let Some(rows) = &story.contacts else { return };
    let (t, s) = (lang.text(), text::story(lang));
    section_start(out, "responsible", s.contacts);
    let head = [s.role, t.service, s.person, s.since];
    table_start(out, s.contacts, &head);
    for r in rows {
        let vacant = if r.person.is_none() {
            " data-vacant=\"true\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr{vacant}><th scope=\"row\" data-label=\"{}\"><code>{}</code></th>",
            escape(head[0]),
            escape(&r.role)
        ));
        let service = r.service.as_deref().unwrap_or(t.whole_agreement);
        td(out, head[1], "", &escape(service));
        let person = r.person.as_deref().map_or_else(
            || format!("<strong class=\"bad\">{}</strong>", escape(s.vacant)),
            escape,
        );
        td(out, head[2], "", &person);
        td(out, head[3], "time", &local(report, r.since.as_deref()));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The twelve-month trend as a chart ([`trend_chart`]) with its caption.
pub fn trend(out: &mut String, story: &Story, lang: Lang) {
    let s = text::story(lang);
    section_start(out, "trend", s.trend);
    out.push_str("<figure>\n");
    out.push_str(&trend_chart(&story.trend, lang));
    out.push_str(&format!(
        "<figcaption>{}</figcaption>\n</figure>\n</section>\n",
        escape(s.trend_chart)
    ));
}

/// Layout of the trend chart in SVG user units.
const TREND_COLUMN: u32 = 50;
const TREND_BAR: u32 = 26;
const TREND_PLOT: u32 = 90;
const TREND_TOP: u32 = 18;
const TREND_LABELS: u32 = 34;

/// The trend as a small inline SVG bar chart: one column per period,
/// oldest first, its bar as high as the period's deviations (scaled to
/// the highest, so a year without any shows flat bars), the count above
/// the bar, the month and "met/guaranteed" services below it, and each
/// column's `<title>` saying it all in words for a screen reader. No
/// script, no `style` attribute (the report's Content-Security-Policy
/// allows none), every string escaped: a period that is not `YYYY-MM`
/// is shown as given.
pub fn trend_chart(trend: &[TrendPeriod], lang: Lang) -> String {
    let s = text::story(lang);
    let columns = u32::try_from(trend.len()).unwrap_or(12).max(1);
    let width = TREND_COLUMN * columns;
    let height = TREND_TOP + TREND_PLOT + TREND_LABELS;
    let highest = trend.iter().map(|p| p.deviations).max().unwrap_or(0).max(1);
    let mut svg = format!(
        "<svg class=\"trend\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\n<desc>{}</desc>\n",
        escape(s.trend),
        escape(s.trend_chart)
    );
    let baseline = TREND_TOP + TREND_PLOT;
    svg.push_str(&format!(
        "<line x1=\"0\" y1=\"{baseline}\" x2=\"{width}\" y2=\"{baseline}\" stroke=\"#c8c8c8\"/>\n"
    ));
    for (column, p) in (0..columns).zip(trend) {
        let x = column * TREND_COLUMN;
        let centre = x + TREND_COLUMN / 2;
        let bar = u32::try_from(p.deviations.saturating_mul(u64::from(TREND_PLOT)) / highest)
            .unwrap_or(TREND_PLOT);
        let month = super::period_label(&p.period, lang);
        let words = format!(
            "{month}. {}: {}. {}: {} {} {}.",
            lang.text().deviations,
            p.deviations,
            s.services_met,
            p.services_met,
            s.of,
            p.services_guaranteed
        );
        let fill = if p.deviations > 0 {
            "#a10d0d"
        } else {
            "#1b6130"
        };
        svg.push_str(&format!(
            "<g data-period=\"{}\"><title>{}</title>\n",
            escape(&p.period),
            escape(&words)
        ));
        if bar > 0 {
            svg.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{TREND_BAR}\" height=\"{bar}\" fill=\"{fill}\"/>\n",
                centre - TREND_BAR / 2,
                baseline - bar
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{centre}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n<text x=\"{centre}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n<text x=\"{centre}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}/{}</text>\n</g>\n",
            baseline - bar - 4,
            p.deviations,
            baseline + 14,
            escape(&short_period(&p.period, lang)),
            baseline + 28,
            p.services_met,
            p.services_guaranteed
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// "okt. 26" / "Oct 26" for `2026-10` (a chart column is narrow);
/// anything else as given.
fn short_period(period: &str, lang: Lang) -> String {
    let parsed = period.split_once('-').and_then(|(y, m)| {
        let name = text::month(lang, m.parse().ok()?)?;
        let short: String = name.chars().take(3).collect();
        let year = y
            .get(2..)
            .filter(|_| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))?;
        Some(format!("{short} {year}"))
    });
    parsed.unwrap_or_else(|| period.to_string())
}

/// A definition list; the values are already HTML.
fn dl(out: &mut String, facts: &[(&str, String)]) {
    out.push_str("<dl>\n");
    for (k, v) in facts {
        out.push_str(&format!("<dt>{}</dt><dd>{v}</dd>\n", escape(k)));
    }
    out.push_str("</dl>\n");
}

fn section_start(out: &mut String, id: &str, heading: &str) {
    out.push_str(&format!(
        "<section aria-labelledby=\"{id}\">\n<h2 id=\"{id}\">{}</h2>\n",
        escape(heading)
    ));
}

/// Opens a card table with its caption and column headers, up to
/// `<tbody>`.
fn table_start(out: &mut String, caption: &str, head: &[&str]) {
    out.push_str(&format!(
        "<table class=\"cards\">\n<caption>{}</caption>\n<thead><tr>",
        escape(caption)
    ));
    for h in head {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

/// A cell whose content is already HTML.
fn td(out: &mut String, label: &str, class: &str, html: &str) {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{class}\"")
    };
    out.push_str(&format!(
        "<td data-label=\"{}\"{class}>{html}</td>",
        escape(label)
    ));
}

/// Text as HTML text or attribute value: `&`, `<`, `>`, `"` and `'`
/// become character references.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
