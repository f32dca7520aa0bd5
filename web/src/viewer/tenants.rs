//! The first page: every tenant of the ledger with how its months went.

use projector::render::html::escape;
use projector::render::Lang;

use super::months::{look, MonthCell, MonthState};
use super::page::{self, href, Frame};
use super::words::words;

/// One row of the tenant list.
pub(super) struct TenantRow {
    pub id: String,
    pub name: String,
    pub cells: Vec<MonthCell>,
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
            w.month_by_month,
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
            let counts: Vec<usize> = r
                .cells
                .iter()
                .filter_map(|c| match c.state {
                    MonthState::Report { deviations, .. } => Some(deviations),
                    MonthState::None => None,
                })
                .collect();
            let met = counts.iter().filter(|&&n| n == 0).count();
            let total = counts.iter().sum();
            for (label, n) in head[1..4].iter().zip([counts.len(), met, total]) {
                body.push_str(&format!(
                    "<td data-label=\"{}\" class=\"num\">{n}</td>",
                    escape(label)
                ));
            }
            strip(&mut body, lang, r, head[4]);
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

/// The tenant's months as a strip of small coloured links, each named by
/// its month and saying its state to assistive technology and on hover.
fn strip(out: &mut String, lang: Lang, row: &TenantRow, label: &str) {
    out.push_str(&format!(
        "<td data-label=\"{}\"><ol class=\"strip\">",
        escape(label)
    ));
    for cell in &row.cells {
        let period = cell.period.to_string();
        let (class, status) = look(lang, &cell.state);
        let name = projector::render::period_label(&period, lang);
        let short: String = name.chars().take(3).collect();
        let path = href(&page::report_path(&row.id, &period), lang);
        out.push_str(&format!(
            "<li><a class=\"{class}\" href=\"{}\" title=\"{name}: {status}\" aria-label=\"{name}: {status}\">{}</a></li>",
            escape(&path),
            escape(&short),
            name = escape(&name),
            status = escape(&status)
        ));
    }
    out.push_str("</ol></td>");
}
