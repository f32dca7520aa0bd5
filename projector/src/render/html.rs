//! The report as one self-contained HTML page: inline CSS, no scripts, no
//! images or fonts, so it opens offline, can be archived as a single
//! file, and makes no network request (SEMANTICS.md reports are evidence;
//! issue 6 asks for nothing fetched from outside). Its one link is to
//! the viewer's verification page of the report, a path on the viewer
//! shown as text too, so a printed copy still says where to check it.
//!
//! A format-2 report shows the provider's deviations apart from the
//! municipality's, period-wide ones dated as the month (the exact instant
//! under the description), the outages behind the availability figures
//! (a partial one marked as not counted), the incidents open at the
//! month's end, roles by their label with the id in small print, and the
//! proof in plain words ([`proof`]). The words come from `text` and the
//! rows from the parent module, as for Markdown, CSV and the workbook.
//!
//! The page reads on a phone (below 40rem each table row becomes a card,
//! its cells labelled through `data-label`, the label floated beside the
//! value so that a long label wraps and the card grows with it) and prints on A4 (`@page`,
//! repeated table headers, rows kept whole). Tables are semantic:
//! `<caption>`, `<th scope="col">` and a `<th scope="row">` per row.
//! The page is a `maud` template: markup is checked when this file
//! compiles, and every string spliced into it, from the report or from
//! the texts, is escaped by construction. The one piece of raw markup is
//! the stylesheet ([`style_element`]), a constant. Met and not met are
//! said in words, not by colour alone.

use maud::{html as markup, Markup, PreEscaped, Render, DOCTYPE};

use super::text::{self, Piece, Text};
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
    page(report, lang).into_string()
}

/// The whole page. The `"\n"` literals keep one element a line, so the
/// page reads as source and its snapshots diff line by line.
fn page(report: &Report, lang: Lang) -> Markup {
    let title = super::title(report, lang);
    let story = report.story.as_ref();
    markup! {
        (DOCTYPE) "\n"
        html lang=(lang.tag()) {
            "\n"
            head {
                "\n"
                meta charset="utf-8"; "\n"
                meta name="viewport" content="width=device-width, initial-scale=1"; "\n"
                title { (title) } "\n"
                (style_element()) "\n"
            }
            "\n"
            body {
                "\n"
                (header(report, lang, &title))
                main {
                    "\n"
                    (deviations(report, lang))
                    @if let Some(story) = story {
                        (follow_up(report, lang))
                        (actions(report, story, lang))
                        (governance(report, story, lang))
                        (contacts(report, story, lang))
                        (trend(story, lang))
                    }
                    (availability(report, lang))
                    (outages(report, lang))
                    (incidents(report, lang.text()))
                    (open_incidents(report, lang))
                    (data_quality(report, lang))
                }
                "\n"
                (manifest(report, lang))
            }
            "\n"
        }
        "\n"
    }
}

/// The `<style>` element with [`STYLE`], the page's one piece of raw
/// markup: CSS is not HTML text (`"` in a font name must stay `"`), and
/// the Content-Security-Policy allows exactly these bytes by their hash.
/// [`STYLE`] is a constant with no `<`, so it cannot end the element.
fn style_element() -> Markup {
    markup! { style { (PreEscaped(STYLE)) } }
}

fn header(report: &Report, lang: Lang, title: &str) -> Markup {
    let t = lang.text();
    let facts = [
        (t.tenant, text_of(&report.tenant)),
        (t.period, text_of(super::period_label(&report.period, lang))),
        (t.period_utc, text_of(super::period_utc(report))),
        (t.agreement_version, text_of(&report.agreement_version)),
        (t.timezone, text_of(&report.timezone)),
    ];
    markup! {
        header {
            "\n"
            h1 { (title) } "\n"
            @if report.preliminary {
                p class="preliminary" role="note" {
                    strong { (t.preliminary) "." } " " (super::preliminary_note(report, lang))
                }
                "\n"
            }
            (dl(&facts))
            p class="summary" { (text::summary(lang, &super::summary(report))) } "\n"
        }
        "\n"
    }
}

/// Text as markup (escaped), for the values of [`dl`] and cells.
fn text_of(s: impl Render) -> Markup {
    markup! { (s) }
}

pub fn deviations(report: &Report, lang: Lang) -> Markup {
    let t = lang.text();
    if report.deviations.is_empty() {
        return section(
            "deviations",
            t.deviations,
            markup! { p { (t.no_deviations) } "\n" },
        );
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
    let groups = super::deviation_groups(report, lang, t.caption_deviations);
    let tables = markup! {
        @for (caption, rows) in &groups {
            (table(&format!("{caption} ({})", rows.len()), &head, markup! {
                @for r in rows { (deviation_row(r, &head)) }
            }))
        }
    };
    section("deviations", t.deviations, tables)
}

/// One deviation: a period-wide one dated as the month, its exact
/// instant in the detail under the description.
fn deviation_row(r: &DeviationRow, head: &[&str; 6]) -> Markup {
    let when = markup! {
        @if r.period_wide.is_some() {
            (r.dated)
        } @else {
            (r.when.local) br; span class="note" { (r.when.utc) }
        }
    };
    let what = markup! {
        strong class="bad" { (r.label) } br; (r.description)
        @if let Some(exact) = &r.period_wide {
            br; span class="note" { (exact) }
        }
    };
    markup! {
        tr data-party=[r.party.as_deref()] {
            th scope="row" data-label=(head[0]) class="num" { (r.number) }
            (td(head[1], "time", when))
            (td(head[2], "", what))
            (td(head[3], "", &r.service))
            (td(head[4], "", &r.target))
            (td(head[5], "", &r.measured))
        }
        "\n"
    }
}

pub fn availability(report: &Report, lang: Lang) -> Markup {
    let t = lang.text();
    let rows = super::availability_rows(report, lang);
    let head = [
        t.service, t.target, t.achieved, t.downtime, t.excluded, t.window, t.result,
    ];
    let without = super::unguaranteed(report);
    let body = markup! {
        @if rows.is_empty() {
            p { (t.no_guarantees) } "\n"
        } @else {
            (table(t.caption_availability, &head, markup! {
                @for r in &rows { (availability_row(r, &head, t)) }
            }))
            p class="note" { (t.achieved_formula) } "\n"
        }
        @if !without.is_empty() {
            p { (t.no_availability) ": " (without.join(", ")) "." } "\n"
        }
    };
    section("availability", t.availability, body)
}

fn availability_row(r: &AvailabilityRow<'_>, head: &[&str; 7], t: &Text) -> Markup {
    let achieved = markup! {
        @if r.measurable {
            (r.achieved)
        } @else {
            "– " span class="note" { "(" (t.not_measurable) ")" }
        }
    };
    let class = if r.met { "good" } else { "bad" };
    markup! {
        tr {
            th scope="row" data-label=(head[0]) { (r.service) }
            (td(head[1], "num", &r.target))
            (td(head[2], "num", achieved))
            (td(head[3], "num", &r.downtime))
            (td(head[4], "num", &r.excluded))
            (td(head[5], "num", &r.window))
            (td(head[6], class, r.result))
        }
        "\n"
    }
}

/// Every outage behind the availability figures, service by service, a
/// partial one marked "delvis utfall (tel ikkje som nedetid)" (format 2;
/// nothing for format 1, whose report does not list them).
pub fn outages(report: &Report, lang: Lang) -> Markup {
    if report.story.is_none() {
        return markup! {};
    }
    let (t, d) = (lang.text(), text::detail(lang));
    let rows = super::outage_lines(report, lang);
    if rows.is_empty() {
        return section("outages", d.outages, markup! { p { (d.no_outages) } "\n" });
    }
    let head = [t.service, d.outage, d.impact, d.start, d.end];
    let body = markup! {
        @for o in &rows {
            tr data-outage=(o.outage_id) data-impact=(if o.partial { "partial" } else { "full" }) {
                th scope="row" data-label=(head[0]) { (o.service) }
                (td(head[1], "", markup! { code { (o.outage_id) } }))
                @if o.partial {
                    (td(head[2], "", markup! { strong { (o.impact) } }))
                } @else {
                    (td(head[2], "", o.impact))
                }
                (td(head[3], "time", &o.start.local))
                (td(head[4], "time", o.end.as_ref().map_or(d.still_open, |e| e.local.as_str())))
            }
            "\n"
        }
    };
    section("outages", d.outages, table(d.outages, &head, body))
}

/// The incidents still open at the period's end, each marked opened this
/// month or earlier (format 2; nothing for format 1).
pub fn open_incidents(report: &Report, lang: Lang) -> Markup {
    if report.story.is_none() {
        return markup! {};
    }
    let (t, d) = (lang.text(), text::detail(lang));
    let rows = super::open_incident_lines(report, lang);
    if rows.is_empty() {
        return section(
            "open-incidents",
            d.open_incidents,
            markup! { p { (d.no_open_incidents) } "\n" },
        );
    }
    let head = [t.service, d.incident, t.priority, t.opened, d.detail];
    let body = markup! {
        @for i in &rows {
            tr data-incident=(i.incident_id) data-earlier=(i.earlier) {
                th scope="row" data-label=(head[0]) { (i.service) }
                (td(head[1], "", markup! { code { (i.incident_id) } }))
                (td(head[2], "", i.priority))
                (td(head[3], "time", &i.opened.local))
                (td(head[4], "", i.note))
            }
            "\n"
        }
    };
    let caption = d.open_incidents;
    section("open-incidents", caption, table(caption, &head, body))
}

pub fn incidents(report: &Report, t: &Text) -> Markup {
    let rows = super::incident_rows(report);
    if rows.is_empty() {
        return section(
            "incidents",
            t.incidents,
            markup! { p { (t.no_incidents) } "\n" },
        );
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
    let body = markup! {
        @for (service, priority, c) in &rows {
            tr {
                th scope="row" data-label=(head[0]) { (service) }
                (td(head[1], "", priority))
                @for ((n, bad), label) in [
                    (c.opened, false),
                    (c.response_met, false),
                    (c.response_breached, true),
                    (c.resolution_met, false),
                    (c.resolution_breached, true),
                ].iter().zip(&head[2..]) {
                    (td(label, if *n > 0 && *bad { "num bad" } else { "num" }, n))
                }
            }
            "\n"
        }
    };
    section(
        "incidents",
        t.incidents,
        table(t.caption_incidents, &head, body),
    )
}

pub fn data_quality(report: &Report, lang: Lang) -> Markup {
    let t = lang.text();
    let q = &report.data_quality;
    if q.set_aside == 0 && q.by_reason.is_empty() {
        return section(
            "data-quality",
            t.data_quality,
            markup! { p { (t.nothing_set_aside) } "\n" },
        );
    }
    let head = [t.reason, t.count, t.description];
    let rows = markup! {
        @for (code, n) in &q.by_reason {
            tr {
                th scope="row" data-label=(head[0]) { code { (code) } }
                (td(head[1], "num", n))
                (td(head[2], "", text::reason(lang, code)))
            }
            "\n"
        }
    };
    let body = markup! {
        p { (text::set_aside(lang, q.set_aside)) } "\n"
        (table(t.caption_set_aside, &head, rows))
    };
    section("data-quality", t.data_quality, body)
}

pub fn manifest(report: &Report, lang: Lang) -> Markup {
    let t = lang.text();
    let m = &report.manifest;
    let code = |s: &str| markup! { code { (super::or_dash(s)) } };
    let facts = [
        (t.ledger_size, text_of(m.ledger_size)),
        (t.ledger_root, code(&m.ledger_root)),
        (t.tree_root, code(&m.tree_root)),
        (t.report_format, text_of(&report.format)),
        (t.engine_version, text_of(&m.engine_version)),
        (t.horizon, text_of(super::horizon(report, lang))),
        (t.report_digest, code(&m.report_digest)),
    ];
    // Reports made before the Merkle tree have no tree root to show.
    let facts: Vec<_> = facts
        .into_iter()
        .filter(|(k, _)| *k != t.tree_root || !m.tree_root.is_empty())
        .collect();
    markup! {
        footer aria-labelledby="manifest" {
            "\n"
            h2 id="manifest" { (t.manifest) } "\n"
            (dl(&facts))
            @if report.story.is_some() {
                (proof(report, lang, &text::verify_page(&report.tenant, &report.period)))
            }
            p {
                @for piece in &text::verify_hint_pieces(lang, m.ledger_size) {
                    @match piece {
                        Piece::Words(words) => { (words) }
                        Piece::Code(command) => { code { (command) } }
                    }
                }
            }
            "\n"
        }
        "\n"
    }
}

/// The proof in plain words (format 2): what the log root and, when the
/// report has one, the Merkle root let a reader check, one paragraph
/// each, and a link to the viewer's verification page `page` (its path
/// shown too, for a reader of a printed or archived copy). The viewer's
/// report page shows the same paragraphs with its own link.
pub fn proof(report: &Report, lang: Lang, page: &str) -> Markup {
    let m = &report.manifest;
    let path = text::verify_page(&report.tenant, &report.period);
    let [log, tree, _] = text::proof_sentences(lang, m.ledger_size, &path);
    let (before, after) = text::viewer_sentence_pieces(lang);
    markup! {
        p class="proof" data-proof="log-root" { (log) } "\n"
        // Reports made before the Merkle tree have no tree root to explain.
        @if !m.tree_root.is_empty() {
            p class="proof" data-proof="tree-root" { (tree) } "\n"
        }
        p class="proof" data-proof="verify-page" {
            (before) a href=(page) { code { (path) } } (after)
        }
        "\n"
    }
}

/// Local time of an instant of the report, or a dash.
fn local(report: &Report, at: Option<&str>) -> String {
    at.map_or_else(
        || "–".to_string(),
        |at| super::when(at, &report.timezone).local,
    )
}

/// An action as one line: its title and id, its status (overdue in the
/// colour and weight of a deviation) and due date.
fn action_line(report: &Report, a: &Action, lang: Lang) -> Markup {
    let s = text::story(lang);
    let status = s.status_word(&a.status);
    markup! {
        (a.title) " " code { (a.action_id) } br;
        span class="note" {
            @if a.status == "overdue" {
                strong class="bad" { (status) }
            } @else {
                (status)
            }
            ", " (s.due) " " (local(report, Some(&a.due)))
        }
    }
}

/// The follow-up of every deviation of a format-2 report, numbered as in
/// the deviations table: its id, who owes it, the cause and the action
/// (with the action's status when the report lists it), or that it is not
/// explained yet. Nothing for format 1.
pub fn follow_up(report: &Report, lang: Lang) -> Markup {
    let (Some(rows), Some(story)) = (&report.follow_up, &report.story) else {
        return markup! {};
    };
    let (t, s) = (lang.text(), text::story(lang));
    if rows.is_empty() {
        return section(
            "follow-up",
            s.follow_up,
            markup! { p { (t.no_deviations) } "\n" },
        );
    }
    let head = [
        t.number,
        s.deviation_id,
        s.party,
        s.cause,
        s.action,
        s.explained_at,
    ];
    let body = markup! {
        @for (i, f) in rows.iter().enumerate() {
            tr id={ "deviation-" (f.id) } {
                th scope="row" data-label=(head[0]) class="num" { (i + 1) }
                (td(head[1], "", markup! { code { (f.id) } }))
                (td(head[2], "", s.party_word(&f.party)))
                @if let Some(e) = &f.explanation {
                    (td(head[3], "", &e.cause))
                    (td(head[4], "", match &e.action_id {
                        None => text_of("–"),
                        Some(id) => match story.actions.iter().find(|a| &a.action_id == id) {
                            Some(a) => action_line(report, a, lang),
                            None => markup! { code { (id) } },
                        },
                    }))
                    (td(head[5], "time", local(report, Some(&e.explained_at))))
                } @else {
                    (td(head[3], "", markup! { span class="note" { (s.not_explained) } }))
                    (td(head[4], "", "–"))
                    (td(head[5], "", "–"))
                }
            }
            "\n"
        }
    };
    section("follow-up", s.follow_up, table(s.follow_up, &head, body))
}

/// The corrective actions of a format-2 report: open, overdue, and closed
/// in the period.
pub fn actions(report: &Report, story: &Story, lang: Lang) -> Markup {
    let s = text::story(lang);
    let body = if story.actions.is_empty() {
        markup! { p { (s.no_actions) } "\n" }
    } else {
        action_table(&report.timezone, &story.actions, lang, s.actions)
    };
    section("actions", s.actions, body)
}

/// A table of actions: title and id, owner, due, status, outcome. The
/// viewer's follow-up page lists a tenant's actions with it too.
/// Times are shown in `timezone`.
pub fn action_table(timezone: &str, list: &[Action], lang: Lang, caption: &str) -> Markup {
    let s = text::story(lang);
    let head = [s.title, s.owner, s.due, s.status, s.outcome];
    let rows = markup! {
        @for a in list {
            @let (class, status) = match a.status.as_str() {
                "overdue" => ("bad", s.overdue),
                "closed" => ("good", s.closed),
                _ => ("", s.open),
            };
            tr data-action=(a.action_id) data-status=(a.status) {
                th scope="row" data-label=(head[0]) { (a.title) " " code { (a.action_id) } }
                (td(head[1], "", &a.owner))
                (td(head[2], "time", super::when(&a.due, timezone).local))
                (td(head[3], class, status))
                (td(head[4], "", a.outcome.as_deref().unwrap_or("–")))
            }
            "\n"
        }
    };
    table(caption, &head, rows)
}

/// "Styring": the meetings held in the period with their minutes, and
/// the last meeting of each kind. Nothing when the agreement has no
/// governance.
pub fn governance(report: &Report, story: &Story, lang: Lang) -> Markup {
    let Some(g) = &story.governance else {
        return markup! {};
    };
    let s = text::story(lang);
    let head = s.meeting_head();
    let rows = markup! {
        @for m in &g.meetings {
            @let (class, on_time) = match m.minutes_on_time {
                Some(true) => ("good", s.yes),
                Some(false) => ("bad", s.no),
                None => ("", "–"),
            };
            tr {
                th scope="row" data-label=(head[0]) { code { (m.meeting_id) } }
                (td(head[1], "", s.meeting_kind(&m.kind)))
                (td(head[2], "time", local(report, Some(&m.held_at))))
                (td(head[3], "time", local(report, m.minutes_due.as_deref())))
                (td(head[4], "time", local(report, m.minutes_filed_at.as_deref())))
                (td(head[5], class, on_time))
            }
            "\n"
        }
    };
    let last = |at: &Option<String>| {
        text_of(
            at.as_deref()
                .map_or_else(|| s.none_held.to_string(), |at| local(report, Some(at))),
        )
    };
    let body = markup! {
        @if g.meetings.is_empty() {
            p { (s.no_meetings) } "\n"
        } @else {
            (table(s.governance, &head, rows))
        }
        (dl(&[
            (s.last_operations, last(&g.last_operations_meeting)),
            (s.last_steering, last(&g.last_steering_meeting)),
        ]))
    };
    section("governance-story", s.governance, body)
}

/// "Ansvarlege": who held each role at the end of the period, the vacant
/// roles said in words and marked. Nothing when the agreement has no
/// contacts.
pub fn contacts(report: &Report, story: &Story, lang: Lang) -> Markup {
    let Some(rows) = &story.contacts else {
        return markup! {};
    };
    let (t, s) = (lang.text(), text::story(lang));
    let head = [s.role, t.service, s.person, s.since];
    let body = markup! {
        @for r in rows {
            tr data-vacant=[r.person.is_none().then_some("true")] {
                th scope="row" data-label=(head[0]) { (role(&r.role, lang)) }
                (td(head[1], "", r.service.as_deref().map_or(t.whole_agreement, |s| super::service_name(report, s))))
                (td(head[2], "", match &r.person {
                    Some(person) => text_of(person),
                    None => markup! { strong class="bad" { (s.vacant) } },
                }))
                (td(head[3], "time", local(report, r.since.as_deref())))
            }
            "\n"
        }
    };
    section("responsible", s.contacts, table(s.contacts, &head, body))
}

/// A role for people: its translated label with the id in small print
/// under it, or the id alone for a role without a label. The viewer's
/// contact tables use it too.
pub fn role(id: &str, lang: Lang) -> Markup {
    markup! {
        @if let Some(label) = text::role_label(lang, id) {
            (label) " " small class="note" { code { (id) } }
        } @else {
            code { (id) }
        }
    }
}

/// The twelve-month trend as a chart ([`trend_chart`]) with its caption.
pub fn trend(story: &Story, lang: Lang) -> Markup {
    let s = text::story(lang);
    let body = markup! {
        figure {
            "\n"
            (trend_chart(&story.trend, lang))
            figcaption { (s.trend_chart) } "\n"
        }
        "\n"
    };
    section("trend", s.trend, body)
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
/// allows none), every string escaped by the template: a period that is
/// not `YYYY-MM` is shown as given. SVG elements are closed with an end
/// tag (`<rect …></rect>`), which HTML parses as it parses `<rect …/>`.
pub fn trend_chart(trend: &[TrendPeriod], lang: Lang) -> Markup {
    let s = text::story(lang);
    let columns = u32::try_from(trend.len()).unwrap_or(12).max(1);
    let width = TREND_COLUMN * columns;
    let height = TREND_TOP + TREND_PLOT + TREND_LABELS;
    let highest = trend.iter().map(|p| p.deviations).max().unwrap_or(0).max(1);
    let baseline = TREND_TOP + TREND_PLOT;
    markup! {
        svg class="trend" viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(s.trend)
            font-family="system-ui, sans-serif" font-size="11" {
            "\n"
            desc { (s.trend_chart) } "\n"
            line x1="0" y1=(baseline) x2=(width) y2=(baseline) stroke="#c8c8c8" {} "\n"
            @for (column, p) in (0..columns).zip(trend) {
                (trend_column(column * TREND_COLUMN, highest, p, lang))
            }
        }
        "\n"
    }
}

/// One column of [`trend_chart`], starting at `x`.
fn trend_column(x: u32, highest: u64, p: &TrendPeriod, lang: Lang) -> Markup {
    let s = text::story(lang);
    let baseline = TREND_TOP + TREND_PLOT;
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
    markup! {
        g data-period=(p.period) {
            title { (words) } "\n"
            @if bar > 0 {
                rect x=(centre - TREND_BAR / 2) y=(baseline - bar) width=(TREND_BAR) height=(bar) fill=(fill) {} "\n"
            }
            text x=(centre) y=(baseline - bar - 4) text-anchor="middle" { (p.deviations) } "\n"
            text x=(centre) y=(baseline + 14) text-anchor="middle" fill="#555" { (short_period(&p.period, lang)) } "\n"
            text x=(centre) y=(baseline + 28) text-anchor="middle" fill="#555" { (p.services_met) "/" (p.services_guaranteed) } "\n"
        }
        "\n"
    }
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

/// A definition list of names and values.
fn dl(facts: &[(&str, Markup)]) -> Markup {
    markup! {
        dl {
            "\n"
            @for (k, v) in facts {
                dt { (k) } dd { (v) } "\n"
            }
        }
        "\n"
    }
}

/// A section with its heading, labelled by it.
fn section(id: &str, heading: &str, body: Markup) -> Markup {
    markup! {
        section aria-labelledby=(id) {
            "\n"
            h2 id=(id) { (heading) } "\n"
            (body)
        }
        "\n"
    }
}

/// A card table with its caption, column headers and rows.
fn table(caption: &str, head: &[&str], rows: Markup) -> Markup {
    markup! {
        table class="cards" {
            "\n"
            caption { (caption) } "\n"
            thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
            tbody { "\n" (rows) }
            "\n"
        }
        "\n"
    }
}

/// A cell labelled for the phone layout, with an optional class.
fn td(label: &str, class: &str, content: impl Render) -> Markup {
    markup! {
        td data-label=(label) class=[(!class.is_empty()).then_some(class)] { (content) }
    }
}
