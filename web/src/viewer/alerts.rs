//! The alerts page ("Varsel"): a tenant's alerts in force now and every
//! alert of the last 30 days, from `projector::alert`, the same pure
//! function the live projector publishes from. Its words live here (in
//! Nynorsk and English) rather than in `words`, since only this page
//! uses them.

use projector::alert::{summary, Alert};
use projector::render::html::escape;
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
    let mut body = format!("<h1>{}</h1>\n", escape(&title));
    let in_force: Vec<&Alert> = alerts.iter().filter(|a| a.ends.is_none()).collect();
    let since = now - ALERTS_SHOWN_SECONDS;
    let recent =
        |t: &str| chrono::DateTime::parse_from_rfc3339(t).is_ok_and(|t| t.timestamp() >= since);
    let all: Vec<&Alert> = alerts
        .iter()
        .rev()
        .filter(|a| recent(&a.at) || a.ends.as_deref().is_some_and(recent))
        .collect();
    for (id, heading, list, empty) in [
        ("in-force", w.in_force, &in_force, w.none_in_force),
        ("recent", w.recent, &all, w.none_recent),
    ] {
        body.push_str(&format!(
            "<section aria-labelledby=\"{id}\"><h2 id=\"{id}\">{}</h2>\n",
            escape(heading)
        ));
        if list.is_empty() {
            body.push_str(&format!("<p>{}</p>\n", escape(empty)));
        } else {
            table(&mut body, lang, list, timezone);
        }
        body.push_str("</section>\n");
    }
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
    page::page(&frame, &body)
}

fn table(out: &mut String, lang: Lang, alerts: &[&Alert], timezone: &str) {
    let w = words(lang);
    let head = [w.alert, w.severity, w.fired, w.ended, w.responsible];
    out.push_str("<table class=\"cards alerts\">\n<thead><tr>");
    for h in head {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for a in alerts {
        let severity = match a.severity {
            projector::alert::Severity::Critical => {
                format!("<strong class=\"bad\">{}</strong>", escape(w.critical))
            }
            projector::alert::Severity::Warning => escape(w.warning),
        };
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
        out.push_str(&format!(
            "<tr data-kind=\"{}\"><th scope=\"row\" data-label=\"{}\">{}</th><td data-label=\"{}\">{severity}</td><td data-label=\"{}\" class=\"time\">{}</td><td data-label=\"{}\" class=\"time\">{}</td><td data-label=\"{}\">{}</td></tr>\n",
            escape(a.kind.as_str()),
            escape(head[0]),
            escape(&summary(a, lang)),
            escape(head[1]),
            escape(head[2]),
            escape(&fired),
            escape(head[3]),
            escape(&ended),
            escape(head[4]),
            escape(&people),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}
