//! The contacts page: who is responsible for what, on both sides of the
//! agreement, at any instant (the always-current overview of responsible
//! persons the agreement promises), from `contact::roster`.

use projector::contact::{Roster, Side};
use projector::render::html::escape;
use projector::render::{when, Lang};

use super::page::{self, Crumb, Frame};
use super::words::{role_name, words};

/// The contacts page of `tenant` at `roster.at`; `asked` is the instant
/// as the reader typed it (empty for now).
pub(super) fn contacts_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    roster: &Roster,
    timezone: &str,
    asked: &str,
) -> String {
    let w = words(lang);
    let at = when(&schemas::format_instant(roster.at), timezone);
    let title = format!("{}: {name}", w.contacts);
    let mut body = format!(
        "<h1>{}</h1>\n<p class=\"summary\">{} ({})</p>\n",
        escape(&title),
        escape(&at.local),
        escape(&at.utc)
    );
    let version = roster
        .agreement_version
        .as_deref()
        .unwrap_or(w.no_agreement);
    body.push_str(&format!(
        "<p>{}: {}</p>\n",
        escape(w.agreement_version),
        escape(version)
    ));
    let path = format!("{}/contacts", page::tenant_path(tenant));
    body.push_str(&format!(
        "<form method=\"get\" action=\"{}\"><label for=\"at\">{}</label><input type=\"text\" id=\"at\" name=\"at\" value=\"{}\" aria-describedby=\"at-hint\"> <button type=\"submit\">{}</button><p class=\"note\" id=\"at-hint\">{}</p>",
        escape(&path),
        escape(w.at_label),
        escape(asked),
        escape(w.show),
        escape(w.at_hint)
    ));
    if lang == Lang::En {
        body.push_str("<input type=\"hidden\" name=\"lang\" value=\"en\">");
    }
    body.push_str("</form>\n");
    roster_tables(&mut body, lang, roster, timezone, "");
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
    page::page(&frame, &body)
}

/// One table per side of the agreement; `heading` (when not empty) goes
/// above them.
pub(super) fn roster_tables(
    out: &mut String,
    lang: Lang,
    roster: &Roster,
    timezone: &str,
    heading: &str,
) {
    let w = words(lang);
    if !heading.is_empty() {
        out.push_str(&format!("<h3>{}</h3>\n", escape(heading)));
    }
    for side in [Side::Provider, Side::Tenant, Side::Other] {
        let rows: Vec<_> = roster.roles.iter().filter(|r| r.side == side).collect();
        if rows.is_empty() {
            continue;
        }
        let head = [w.role, w.service, w.person, w.since];
        out.push_str(&format!(
            "<table class=\"cards roster\" data-side=\"{}\">\n<caption>{}</caption>\n<thead><tr>",
            match side {
                Side::Provider => "provider",
                Side::Tenant => "tenant",
                Side::Other => "other",
            },
            escape(super::report::side_name(lang, side))
        ));
        for h in head {
            out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for r in rows {
            let role = match role_name(lang, &r.role) {
                Some(n) => format!("{} <code>{}</code>", escape(n), escape(&r.role)),
                None => format!("<code>{}</code>", escape(&r.role)),
            };
            let role = if r.required {
                role
            } else {
                format!(
                    "{role} <span class=\"note\">({})</span>",
                    escape(w.not_required)
                )
            };
            let service = r.service.as_deref().unwrap_or(w.whole_agreement);
            let person = match &r.person {
                Some(p) => escape(p),
                None => format!("<strong class=\"bad\">{}</strong>", escape(w.vacant)),
            };
            let since = match r.since {
                Some(t) => escape(&when(&schemas::format_instant(t), timezone).local),
                None => escape(w.never_held),
            };
            out.push_str(&format!(
                "<tr><th scope=\"row\" data-label=\"{}\">{role}</th><td data-label=\"{}\">{}</td><td data-label=\"{}\">{person}</td><td data-label=\"{}\" class=\"time\">{since}</td></tr>\n",
                escape(head[0]),
                escape(head[1]),
                escape(service),
                escape(head[2]),
                escape(head[3])
            ));
        }
        out.push_str("</tbody>\n</table>\n");
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
