//! The first page: every tenant of the ledger with how its months went.

use crate::render::html::escape;
use crate::render::Lang;

use super::page::{self, href, Frame};
use super::words::words;

/// One row of the tenant list.
pub(super) struct TenantRow {
    pub id: String,
    pub name: String,
    pub months: usize,
    pub months_met: usize,
    pub deviations: usize,
}

/// The tenant list.
pub(super) fn tenants_page(lang: Lang, rows: &[TenantRow]) -> String {
    let w = words(lang);
    let mut body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        escape(w.tenants_title),
        escape(w.tenants_intro)
    );
    if rows.is_empty() {
        body.push_str(&format!("<p>{}</p>\n", escape(w.no_tenants)));
    } else {
        let head = [
            w.municipality,
            w.months,
            w.months_all_met,
            w.deviations_total,
        ];
        body.push_str(&format!(
            "<table class=\"cards tenants\">\n<caption>{}</caption>\n<thead><tr>",
            escape(w.tenants_caption)
        ));
        for h in head {
            body.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
        }
        body.push_str("</tr></thead>\n<tbody>\n");
        for r in rows {
            let link = href(&page::tenant_path(&r.id), lang);
            body.push_str(&format!(
                "<tr><th scope=\"row\" data-label=\"{}\"><a href=\"{}\">{}</a> <span class=\"note\">({})</span></th>",
                escape(head[0]),
                escape(&link),
                escape(&r.name),
                escape(&r.id)
            ));
            for (label, n) in head[1..].iter().zip([r.months, r.months_met, r.deviations]) {
                body.push_str(&format!(
                    "<td data-label=\"{}\" class=\"num\">{n}</td>",
                    escape(label)
                ));
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</tbody>\n</table>\n");
    }
    let frame = Frame {
        lang,
        title: w.tenants_title,
        crumbs: vec![page::home(lang)],
        path: "/",
    };
    page::page(&frame, &body)
}
