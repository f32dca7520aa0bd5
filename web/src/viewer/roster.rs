//! The contacts page: who is responsible for what, on both sides of the
//! agreement, at any instant (the always-current overview of responsible
//! persons the agreement promises), from `contact::roster`.

use maud::{html, Markup};
use projector::contact::{RoleHolder, Roster, Side};
use projector::render::{when, Lang};

use super::page::{self, Crumb, Frame};
use super::words::words;

/// The contacts page of `tenant` at `roster.at`; `asked` is the instant
/// as the reader typed it (empty for now). `services` maps a service id
/// to its name in the agreement in force then (the id itself for a
/// service that version does not name), as the report page does.
pub(super) fn contacts_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    roster: &Roster,
    (timezone, services): (&str, &dyn Fn(&str) -> String),
    asked: &str,
) -> String {
    let w = words(lang);
    let at = when(&schemas::format_instant(roster.at), timezone);
    let title = format!("{}: {name}", w.contacts);
    let version = roster
        .agreement_version
        .as_deref()
        .unwrap_or(w.no_agreement);
    let path = format!("{}/contacts", page::tenant_path(tenant));
    let body = html! {
        h1 { (title) } "\n"
        p class="summary" { (at.local) " (" (at.utc) ")" } "\n"
        p { (w.agreement_version) ": " (version) } "\n"
        form method="get" action=(path) {
            label for="at" { (w.at_label) }
            input type="text" id="at" name="at" value=(asked) aria-describedby="at-hint";
            " " button type="submit" { (w.show) }
            p class="note" id="at-hint" { (w.at_hint) }
            @if lang == Lang::En {
                input type="hidden" name="lang" value="en";
            }
        }
        "\n"
        (roster_tables(lang, roster, timezone, "", services))
    };
    let toggle = if asked.is_empty() {
        path.clone()
    } else {
        format!("{path}?at={}", encode_query(asked))
    };
    let crumb = Crumb {
        path: path.clone(),
        name: w.contacts.to_string(),
    };
    let frame = Frame {
        lang,
        title: &title,
        crumbs: super::months::crumbs_below(lang, tenant, name, crumb),
        path: &toggle,
    };
    page::page(&frame, body)
}

/// One table per side of the agreement; `heading` (when not empty) goes
/// above them. `service` names a service id for people (the report page
/// names them as its report does; the contacts page as the agreement in
/// force at the roster's instant does).
pub(super) fn roster_tables(
    lang: Lang,
    roster: &Roster,
    timezone: &str,
    heading: &str,
    service: &dyn Fn(&str) -> String,
) -> Markup {
    let w = words(lang);
    let head = [w.role, w.service, w.person, w.since];
    html! {
        @if !heading.is_empty() {
            h3 { (heading) } "\n"
        }
        @for side in [Side::Provider, Side::Tenant, Side::Other] {
            @let rows: Vec<&RoleHolder> = roster.roles.iter().filter(|r| r.side == side).collect();
            @if !rows.is_empty() {
                table class="cards roster" data-side=(side_id(side)) {
                    "\n"
                    caption { (super::report::side_name(lang, side)) } "\n"
                    thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
                    tbody {
                        "\n"
                        @for r in rows { (role_row(lang, r, (timezone, service), &head)) }
                    }
                    "\n"
                }
                "\n"
            }
        }
    }
}

/// The `data-side` of a side's table.
fn side_id(side: Side) -> &'static str {
    match side {
        Side::Provider => "provider",
        Side::Tenant => "tenant",
        Side::Other => "other",
    }
}

/// One role: its label with the id in small print (as the report shows
/// it), the service, who holds it and since when.
fn role_row(
    lang: Lang,
    r: &RoleHolder,
    (timezone, service): (&str, &dyn Fn(&str) -> String),
    head: &[&str; 4],
) -> Markup {
    let w = words(lang);
    html! {
        tr {
            th scope="row" data-label=(head[0]) {
                (projector::render::html::role(&r.role, lang))
                @if !r.required {
                    " " span class="note" { "(" (w.not_required) ")" }
                }
            }
            td data-label=(head[1]) { (r.service.as_deref().map_or_else(|| w.whole_agreement.to_string(), service)) }
            td data-label=(head[2]) {
                @match &r.person {
                    Some(p) => { (p) }
                    None => { strong class="bad" { (w.vacant) } }
                }
            }
            td data-label=(head[3]) class="time" {
                @match r.since {
                    Some(t) => { (when(&schemas::format_instant(t), timezone).local) }
                    None => { (w.never_held) }
                }
            }
        }
        "\n"
    }
}

/// `value` percent-encoded for a URL query (everything but unreserved
/// characters), so that the `+` of an offset survives.
pub(super) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
