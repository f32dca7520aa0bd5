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
        .map(|c| {
            // The role by its label, as the contacts page names it; an
            // unknown role by its id.
            let role = projector::render::text::role_label(lang, &c.role).unwrap_or(&c.role);
            match &c.email {
                Some(e) => format!("{} ({role}, {e})", c.person),
                None => format!("{} ({role})", c.person),
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use projector::alert::{Kind, Responsible, Severity};

    fn breach(contacts: Vec<Responsible>) -> Alert {
        Alert {
            id: "a1".into(),
            tenant: "alver".into(),
            kind: Kind::ResponseBreach,
            severity: Severity::Critical,
            service: Some("epost".into()),
            incident_id: Some("INC-1".into()),
            priority: Some("P1".into()),
            window_id: None,
            meeting_id: None,
            role: None,
            period: None,
            at: "2026-12-01T08:00:00Z".into(),
            ends: None,
            contacts,
        }
    }

    fn owner(role: &str, email: Option<&str>) -> Responsible {
        Responsible {
            role: role.into(),
            service: Some("epost".into()),
            person: "Kari Nordmann".into(),
            email: email.map(str::to_string),
            phone: None,
        }
    }

    #[test]
    fn the_responsible_are_named_with_their_role_label_not_its_id() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T00:00:00Z")
            .unwrap()
            .timestamp();
        let alerts = [breach(vec![
            owner("provider_service_owner", Some("kari@example.no")),
            owner("driftsvakt", None),
        ])];
        let nn = alerts_page(Lang::Nn, ("alver", "Alver"), &alerts, ("Europe/Oslo", now));
        assert!(
            nn.contains("Kari Nordmann (Tenesteansvarleg, kari@example.no)"),
            "{nn}"
        );
        assert!(!nn.contains("(provider_service_owner"), "{nn}");
        // A role the agreements do not label keeps its id.
        assert!(nn.contains("Kari Nordmann (driftsvakt)"), "{nn}");
        let en = alerts_page(Lang::En, ("alver", "Alver"), &alerts, ("Europe/Oslo", now));
        assert!(
            en.contains("Kari Nordmann (Service owner, kari@example.no)"),
            "{en}"
        );
    }
}
