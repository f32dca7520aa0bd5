//! The first page: every tenant of the ledger with how its months went.

use maud::{html, Markup};
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
    let head = [
        w.municipality,
        w.months,
        w.months_all_met,
        w.deviations_total,
        w.month_by_month,
    ];
    let body = html! {
        h1 { (w.tenants_title) } "\n"
        p { (w.tenants_intro) } "\n"
        @if rows.is_empty() {
            p { (w.no_tenants) } "\n"
        } @else {
            table class="cards tenants" {
                "\n"
                caption { (w.tenants_caption) } "\n"
                thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
                tbody {
                    "\n"
                    @for r in rows { (tenant_row(lang, r, &head)) }
                }
                "\n"
            }
            "\n"
        }
    };
    let frame = Frame {
        lang,
        title: w.tenants_title,
        crumbs: vec![page::home(lang)],
        path: "/",
    };
    page::page(&frame, body)
}

/// One tenant: its name and id, its counts of months, and its strip.
fn tenant_row(lang: Lang, r: &TenantRow, head: &[&str; 5]) -> Markup {
    let counts: Vec<usize> = r
        .cells
        .iter()
        .filter_map(|c| match c.state {
            MonthState::Report { deviations, .. } => Some(deviations),
            MonthState::None => None,
        })
        .collect();
    let met = counts.iter().filter(|&&n| n == 0).count();
    let total: usize = counts.iter().sum();
    html! {
        tr {
            th scope="row" data-label=(head[0]) {
                a href=(href(&page::tenant_path(&r.id), lang)) { (r.name) }
                " " span class="note" { "(" (r.id) ")" }
            }
            @for (label, n) in head[1..4].iter().zip([counts.len(), met, total]) {
                td data-label=(label) class="num" { (n) }
            }
            (strip(lang, r, head[4]))
        }
        "\n"
    }
}

/// The tenant's months as a strip of small coloured links, each named by
/// its month and saying its state to assistive technology and on hover.
fn strip(lang: Lang, row: &TenantRow, label: &str) -> Markup {
    html! {
        td data-label=(label) {
            ol class="strip" {
                @for cell in &row.cells {
                    @let period = cell.period.to_string();
                    @let (class, status) = look(lang, &cell.state);
                    @let name = projector::render::period_label(&period, lang);
                    @let short: String = name.chars().take(3).collect();
                    @let said = format!("{name}: {status}");
                    li {
                        a class=(class) href=(href(&page::report_path(&row.id, &period), lang))
                            title=(said) aria-label=(said) { (short) }
                    }
                }
            }
        }
    }
}
