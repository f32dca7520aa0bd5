//! The frame every viewer page shares: the document head, a skip link,
//! the breadcrumb trail, the language toggle and the footer, and the one
//! stylesheet (the report's own style plus the viewer's), served at
//! [`STYLESHEET_PATH`] so that the pages need no inline style and the
//! Content-Security-Policy can forbid everything but this origin.
//! Pages are `maud` templates: every string spliced into them is escaped
//! by construction.

use maud::{html, Markup, DOCTYPE};
use projector::render::html::STYLE;
use projector::render::Lang;

use super::words::words;

/// Where the router serves [`stylesheet`].
pub(super) const STYLESHEET_PATH: &str = "/assets/viewer.css";

/// The viewer's additions to the report's style: the frame, focus
/// styles, the month grid, the chart, the verification panel; and for
/// print, everything that is navigation hidden.
const VIEWER_STYLE: &str = r#"
a{color:#0b4fa8}
dd code,code.digest{overflow-wrap:anywhere}
a:visited{color:#5b2a86}
:focus-visible{outline:3px solid #0b4fa8;outline-offset:2px}
.skip{position:absolute;left:-999rem;top:0;background:#fff;padding:.5rem 1rem;z-index:1}
.skip:focus{left:1rem}
header.site{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;border-bottom:1px solid var(--line);margin-bottom:1rem;padding-bottom:.5rem}
.crumbs{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;margin:0;padding:0}
.crumbs li+li::before{content:"›";margin-right:.25rem;color:var(--muted)}
.lang{font-weight:600}
main:focus{outline:none}
footer.site{margin-top:3rem;border-top:1px solid var(--line);padding-top:.5rem;color:var(--muted);font-size:.9rem}
.meetings th code{white-space:nowrap}
.months{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.5rem}
.months a{display:block;padding:.6rem .75rem;border-radius:.3rem;border:2px solid var(--line);text-decoration:none;color:var(--fg);min-height:4.2rem}
.months a:hover{border-color:var(--fg)}
.months .month-name{display:block;font-weight:600}
.months .met{background:#e3f2e6;border-color:#1b6130}
.months .deviating{background:#fbe4e4;border-color:#a10d0d}
.months .none{background:#f1f1f1}
.strip{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.2rem}
.strip a{display:block;min-width:2.4rem;padding:.15rem .25rem;text-align:center;font-size:.8rem;text-decoration:none;color:var(--fg);border:1px solid var(--line);border-radius:.2rem}
.strip .met{background:#e3f2e6;border-color:#1b6130}
.strip .deviating{background:#fbe4e4;border-color:#a10d0d;font-weight:700}
.strip .none{background:#f1f1f1}
.badge{display:inline-block;padding:.15rem .5rem;border-radius:1rem;font-weight:600;border:1px solid currentColor}
.badge.good{color:var(--good)}
.badge.bad{color:var(--bad)}
.links{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1.25rem}
.chart{max-width:34rem;width:100%;height:auto;display:block}
.panel{border:2px solid var(--line);border-radius:.4rem;padding:.75rem 1rem;margin:1rem 0}
.verdict{font-size:1.3rem;font-weight:700;margin:.25rem 0 .5rem}
.verdict.good{color:var(--good)}
.verdict.bad{color:var(--bad)}
.panel.verified{border-color:var(--good)}
.panel h2{margin-top:0}
.panel.refuted{border-color:var(--bad)}
button,input[type=submit]{font:inherit;padding:.45rem .9rem;border-radius:.3rem;border:2px solid #0b4fa8;background:#0b4fa8;color:#fff;cursor:pointer}
button:hover{background:#083a7c}
a.button{display:inline-block;font-weight:600;padding:.45rem .9rem;border-radius:.3rem;border:2px solid #0b4fa8;background:#0b4fa8;color:#fff;text-decoration:none}
a.button:hover{background:#083a7c}
input[type=text],input[type=password]{font:inherit;padding:.4rem;border:1px solid var(--fg);border-radius:.2rem;width:100%;max-width:24rem}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}
form{margin:.5rem 0}
.pager{display:flex;justify-content:space-between;gap:1rem;margin:1.5rem 0}
@media print{
.skip,header.site,footer.site,.no-print,form,.pager{display:none}
.panel{border:1pt solid #000}
.months a{border:1pt solid #000}
a{color:#000;text-decoration:none}
.chart{max-width:13cm}
}
"#;

/// The stylesheet at [`STYLESHEET_PATH`].
pub(super) fn stylesheet() -> String {
    format!("{STYLE}{VIEWER_STYLE}")
}

/// `path` with the language kept: Nynorsk is the default and adds
/// nothing; English adds `lang=en`.
pub(super) fn href(path: &str, lang: Lang) -> String {
    match lang {
        Lang::Nn => path.to_string(),
        Lang::En if path.contains('?') => format!("{path}&lang=en"),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// The other language, for the toggle.
fn other(lang: Lang) -> Lang {
    match lang {
        Lang::Nn => Lang::En,
        Lang::En => Lang::Nn,
    }
}

/// One step of the breadcrumb trail: the page's path (without the
/// language) and its name.
pub(super) struct Crumb {
    pub path: String,
    pub name: String,
}

/// What the frame needs to know of a page.
pub(super) struct Frame<'a> {
    pub lang: Lang,
    /// The document title (plain text).
    pub title: &'a str,
    /// From the tenant list down to this page, which is the last.
    pub crumbs: Vec<Crumb>,
    /// This page's path and query without the language, for the toggle.
    pub path: &'a str,
}

/// A whole page around `body`.
pub(super) fn page(frame: &Frame<'_>, body: Markup) -> String {
    let w = words(frame.lang);
    let last = frame.crumbs.len().saturating_sub(1);
    let page = html! {
        (DOCTYPE) "\n"
        html lang=(frame.lang.tag()) {
            "\n"
            head {
                "\n"
                meta charset="utf-8"; "\n"
                meta name="viewport" content="width=device-width, initial-scale=1"; "\n"
                title { (frame.title) " – " (w.site) } "\n"
                link rel="stylesheet" href=(STYLESHEET_PATH); "\n"
            }
            "\n"
            body {
                "\n"
                a class="skip" href="#main" { (w.skip) } "\n"
                header class="site" {
                    "\n"
                    nav aria-label=(w.breadcrumbs) {
                        ol class="crumbs" {
                            @for (i, c) in frame.crumbs.iter().enumerate() {
                                li {
                                    a href=(href(&c.path, frame.lang))
                                        aria-current=[(i == last).then_some("page")] { (c.name) }
                                }
                            }
                        }
                    }
                    "\n"
                    a class="lang" href=(href(frame.path, other(frame.lang)))
                        hreflang=(w.other_lang_tag) lang=(w.other_lang_tag) { (w.other_lang) }
                    "\n"
                }
                "\n"
                main id="main" tabindex="-1" { "\n" (body) }
                "\n"
                footer class="site" { p { (w.footer) } } "\n"
            }
            "\n"
        }
        "\n"
    };
    page.into_string()
}

/// The first crumb: the tenant list.
pub(super) fn home(lang: Lang) -> Crumb {
    Crumb {
        path: "/".to_string(),
        name: words(lang).site.to_string(),
    }
}

/// The crumb of a tenant's month grid.
pub(super) fn tenant_crumb(tenant: &str, name: &str) -> Crumb {
    Crumb {
        path: tenant_path(tenant),
        name: name.to_string(),
    }
}

pub(super) fn tenant_path(tenant: &str) -> String {
    format!("/tenants/{tenant}")
}

pub(super) fn report_path(tenant: &str, period: &str) -> String {
    format!("/tenants/{tenant}/reports/{period}")
}

/// A page for an error: what went wrong and the way home.
pub(super) fn error_page(lang: Lang, title: &str, message: &str, path: &str) -> String {
    let w = words(lang);
    let body = html! {
        h1 { (title) } "\n"
        p { (message) } "\n"
        p { a href=(href("/", lang)) { (w.back_home) } } "\n"
    };
    let frame = Frame {
        lang,
        title,
        crumbs: vec![home(lang)],
        path,
    };
    page(&frame, body)
}
