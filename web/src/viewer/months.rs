//! A tenant's page: which months have reports, and a grid of them
//! coloured by whether every guarantee was met (and said in words too).

use chrono_tz::Tz;
use maud::{html, Markup};
use schemas::EventData;

use projector::agreement::Versions;
use projector::render::{period_label, Lang};
use projector::{LedgerEvent, Period};

use super::page::{self, href, Crumb, Frame};
use super::words::{self, words};

/// Most months listed for one tenant: twenty years of monthly reports;
/// an agreement effective far in the past lists only its latest months.
const PERIODS_LISTED_MAX: usize = 240;

/// The months the viewer lists for a tenant, oldest first: every month
/// from the one holding the earliest agreement's `effective_from` through
/// the last issued one, or, when none is issued, through the month of the
/// latest event (in the agreement's time zone); plus every issued month.
/// Empty without an agreement.
pub fn periods_of(events: &[LedgerEvent]) -> Vec<Period> {
    let refs: Vec<&LedgerEvent> = events.iter().collect();
    let versions = Versions::from_events(&refs);
    let (Ok(Some(tz)), Some(first)) = (versions.timezone(), versions.earliest_effective_from())
    else {
        return Vec::new();
    };
    let issued: Vec<Period> = events
        .iter()
        .filter_map(|e| match &e.event.data {
            // Only the ledger's own issuances count (docs/FORMAT.md).
            EventData::ReportIssued { period, .. } if e.event.source == schemas::LEDGER_SOURCE => {
                period.parse().ok()
            }
            _ => None,
        })
        .collect();
    let last = match issued.iter().max() {
        Some(&p) => p,
        None => latest_fact(events, tz).unwrap_or_else(|| Period::containing(tz, first)),
    };
    let mut periods = Vec::new();
    let mut p = last;
    while p >= Period::containing(tz, first) && periods.len() < PERIODS_LISTED_MAX {
        periods.push(p);
        p = p.plus_months(-1);
    }
    periods.extend(issued);
    periods.sort();
    periods.dedup();
    periods
}

/// The month of the latest event that is a fact (not a `report.issued`).
fn latest_fact(events: &[LedgerEvent], tz: Tz) -> Option<Period> {
    let facts = events
        .iter()
        .filter(|e| !matches!(e.event.data, EventData::ReportIssued { .. }));
    facts
        .map(|e| e.event.time)
        .max()
        .map(|t| Period::containing(tz, t))
}

/// One month of the grid.
pub(super) struct MonthCell {
    pub period: Period,
    pub state: MonthState,
}

/// What a month's report says, as far as the grid shows it.
pub(super) enum MonthState {
    Report {
        deviations: usize,
        preliminary: bool,
        issued: bool,
    },
    /// No report (no agreement in force at the month's start).
    None,
}

/// The CSS class and the words of a month's state: "met", "deviating"
/// or "none", and what the reader is told.
pub(super) fn look(lang: Lang, state: &MonthState) -> (&'static str, String) {
    let (w, t) = (words(lang), lang.text());
    match *state {
        MonthState::Report {
            deviations,
            preliminary,
            issued,
        } => {
            let mut status = if deviations == 0 {
                w.all_met.to_string()
            } else {
                words::deviations(lang, deviations)
            };
            if preliminary {
                status.push_str(&format!(" ({})", t.status_preliminary));
            } else if !issued {
                status.push_str(&format!(" ({})", w.not_issued));
            }
            (if deviations == 0 { "met" } else { "deviating" }, status)
        }
        MonthState::None => ("none", w.no_report.to_string()),
    }
}

/// The tenant's page: the month grid and the links to the living
/// documents.
pub(super) fn tenant_page(lang: Lang, tenant: &str, name: &str, cells: &[MonthCell]) -> String {
    let w = words(lang);
    let documents = [
        ("contacts", w.contacts),
        ("meetings", w.meetings),
        ("follow-up", w.follow_up),
        ("alerts", super::alerts::title(lang)),
        (super::agreements::DOC, super::agreements::title(lang)),
    ];
    let body = html! {
        h1 { (name) } "\n"
        nav aria-labelledby="docs" {
            h2 id="docs" { (w.living_documents) } "\n"
            ul class="links" {
                @for (path, label) in documents {
                    li { a href=(href(&format!("{}/{path}", page::tenant_path(tenant)), lang)) { (label) } }
                }
            }
        }
        "\n"
        section aria-labelledby="months" {
            h2 id="months" { (w.month_grid) } "\n"
            p { (w.month_grid_intro) } "\n"
            ol class="months" {
                "\n"
                @for cell in cells {
                    @let period = cell.period.to_string();
                    @let (class, status) = look(lang, &cell.state);
                    li {
                        a class=(class) href=(href(&page::report_path(tenant, &period), lang))
                            data-period=(period) {
                            span class="month-name" { (period_label(&period, lang)) }
                            " " span class="status" { (status) }
                        }
                    }
                    "\n"
                }
            }
            "\n"
        }
        "\n"
    };
    let frame = Frame {
        lang,
        title: name,
        crumbs: vec![page::home(lang), page::tenant_crumb(tenant, name)],
        path: &page::tenant_path(tenant),
    };
    page::page(&frame, body)
}

/// The crumbs down to a tenant page's child.
pub(super) fn crumbs_below(lang: Lang, tenant: &str, name: &str, last: Crumb) -> Vec<Crumb> {
    vec![page::home(lang), page::tenant_crumb(tenant, name), last]
}

/// A page of one of the tenant's living documents (`/tenants/T/{doc}`),
/// its crumb named `label`, in the frame every page shares.
pub(super) fn document_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    (doc, label): (&str, &str),
    title: &str,
    body: Markup,
) -> String {
    let path = format!("{}/{doc}", page::tenant_path(tenant));
    let crumb = Crumb {
        path: path.clone(),
        name: label.to_string(),
    };
    let frame = Frame {
        lang,
        title,
        crumbs: crumbs_below(lang, tenant, name, crumb),
        path: &path,
    };
    page::page(&frame, body)
}
