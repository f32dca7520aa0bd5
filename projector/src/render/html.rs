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
    let rows = super::deviation_rows(report, lang);
    if rows.is_empty() {
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
    let caption = format!("{} ({})", t.caption_deviations, rows.len());
    table_start(out, &caption, &head);
    for r in &rows {
        deviation_row(out, r, &head);
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
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
