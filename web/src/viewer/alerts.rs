//! The alerts page ("Varsel"): a tenant's alerts in force now and every
//! alert of the last 30 days, from `projector::alert`, the same pure
//! function the live projector publishes from. Its words live here (in
//! Nynorsk and English) rather than in `words`, since only this page
//! uses them.

use maud::{html, Markup};
use projector::alert::{summary, Alert};
use projector::render::{when, Lang};

use super::page::{self, Crumb, Frame};

/// How far back the page lists alerts.
pub const ALERTS_SHOWN_SECONDS: i64 = 30 * 86_400;

struct Words {
    title: &'static str,
    in_force: &'static str,
    none_in_force: &'static str,
    recent: &'static str,
    none_recent: &'static str,
    alert: &'static str,
    severity: &'static str,
    fired: &'static str,
    ended: &'static str,
    still: &'static str,
    responsible: &'static str,
    nobody: &'static str,
    critical: &'static str,
    warning: &'static str,
}

const NN: Words = Words {
    title: "Varsel",
    in_force: "Varsel i kraft no",
    none_in_force: "Ingen varsel er i kraft.",
    recent: "Varsel dei siste 30 dagane",
    none_recent: "Ingen varsel dei siste 30 dagane.",
    alert: "Varsel",
    severity: "Alvor",
    fired: "Frå",
    ended: "Til",
    still: "framleis i kraft",
    responsible: "Ansvarlege",
    nobody: "ingen namngitt",
    critical: "kritisk",
    warning: "åtvaring",
};

const EN: Words = Words {
    title: "Alerts",
    in_force: "Alerts in force now",
    none_in_force: "No alert is in force.",
    recent: "Alerts of the last 30 days",
    none_recent: "No alerts in the last 30 days.",
    alert: "Alert",
    severity: "Severity",
    fired: "From",
    ended: "Until",
    still: "still in force",
    responsible: "Responsible",
    nobody: "nobody named",
    critical: "critical",
    warning: "warning",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

/// The page's name, for the tenant page's links.
pub(super) fn title(lang: Lang) -> &'static str {
    words(lang).title
}

/// The alerts page of `tenant` at `now`, from `alerts` (every alert by
/// then, sorted by instant): those in force, and those that fired or
/// ended in the last 30 days, latest first.
pub(super) fn alerts_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    alerts: &[Alert],
    (timezone, now): (&str, i64),
) -> String {
    let w = words(lang);
    let title = format!("{}: {name}", w.title);
    let in_force: Vec<&Alert> = alerts.iter().filter(|a| a.ends.is_none()).collect();
    let since = now - ALERTS_SHOWN_SECONDS;
    let recent =
        |t: &str| chrono::DateTime::parse_from_rfc3339(t).is_ok_and(|t| t.timestamp() >= since);
    let all: Vec<&Alert> = alerts
        .iter()
        .rev()
        .filter(|a| recent(&a.at) || a.ends.as_deref().is_some_and(recent))
        .collect();
    let sections = [
        ("in-force", w.in_force, &in_force, w.none_in_force),
        ("recent", w.recent, &all, w.none_recent),
    ];
    let body = html! {
        h1 { (title) } "\n"
        @for (id, heading, list, empty) in sections {
            section aria-labelledby=(id) {
                h2 id=(id) { (heading) } "\n"
                @if list.is_empty() {
                    p { (empty) } "\n"
                } @else {
                    (table(lang, list, timezone))
                }
            }
            "\n"
        }
    };
    let path = format!("{}/alerts", page::tenant_path(tenant));
    let crumb = Crumb {
        path: path.clone(),
        name: w.title.to_string(),
    };
    let frame = Frame {
        lang,
        title: &title,
        crumbs: super::months::crumbs_below(lang, tenant, name, crumb),
        path: &path,
    };
    page::page(&frame, body)
}

fn table(lang: Lang, alerts: &[&Alert], timezone: &str) -> Markup {
    let w = words(lang);
    let head = [w.alert, w.severity, w.fired, w.ended, w.responsible];
    html! {
        table class="cards alerts" {
            "\n"
            thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
            tbody {
                "\n"
                @for a in alerts { (row(lang, a, timezone, &head)) }
            }
            "\n"
        }
        "\n"
    }
}

fn row(lang: Lang, a: &Alert, timezone: &str, head: &[&str; 5]) -> Markup {
    let w = words(lang);
    let fired = when(&a.at, timezone).local;
    let ended = a
        .ends
        .as_deref()
        .map_or_else(|| w.still.to_string(), |e| when(e, timezone).local);
    let people: Vec<String> = a
        .contacts
        .iter()
        .map(|c| match &c.email {
            Some(e) => format!("{} ({}, {e})", c.person, c.role),
            None => format!("{} ({})", c.person, c.role),
        })
        .collect();
    let people = if people.is_empty() {
        w.nobody.to_string()
    } else {
        people.join("; ")
    };
    html! {
        tr data-kind=(a.kind.as_str()) {
            th scope="row" data-label=(head[0]) { (summary(a, lang)) }
            td data-label=(head[1]) {
                @match a.severity {
                    projector::alert::Severity::Critical => { strong class="bad" { (w.critical) } }
                    projector::alert::Severity::Warning => { (w.warning) }
                }
            }
            td data-label=(head[2]) class="time" { (fired) }
            td data-label=(head[3]) class="time" { (ended) }
            td data-label=(head[4]) { (people) }
        }
        "\n"
    }
}
