//! The follow-up page ("Oppfølging"): a tenant's corrective actions that
//! are open now, the overdue ones first, each with its owner, due date
//! and the deviations it answers (SEMANTICS.md section 12). The actions
//! come from `projector::story::open_actions` over the tenant's events at
//! the page's "now", the same projection as the reports; the table is the
//! report's own (`render::html::action_table`), so an action reads the
//! same on this page, in a report and in its file.

use projector::render::html::{self, escape};
use projector::render::Lang;
use projector::report::Action;

use super::words::words;

/// The follow-up page of `tenant` with `actions` open now, times in
/// `timezone`.
pub(super) fn follow_up_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    actions: &[Action],
    timezone: &str,
) -> String {
    let w = words(lang);
    let title = format!("{}: {name}", w.follow_up);
    let mut body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        escape(&title),
        escape(w.follow_up_intro)
    );
    let (overdue, open): (Vec<Action>, Vec<Action>) =
        actions.iter().cloned().partition(|a| a.status == "overdue");
    for (id, heading, list, none) in [
        ("overdue", w.overdue_actions, &overdue, w.no_overdue),
        ("open", w.open_actions, &open, w.no_open),
    ] {
        body.push_str(&format!(
            "<section aria-labelledby=\"{id}\" id=\"{id}-actions\">\n<h2 id=\"{id}\">{}</h2>\n",
            escape(heading)
        ));
        if list.is_empty() {
            let class = if id == "overdue" {
                " class=\"good\""
            } else {
                ""
            };
            body.push_str(&format!("<p{class}>{}</p>\n", escape(none)));
        } else {
            html::action_table(&mut body, timezone, list, lang, heading);
        }
        body.push_str("</section>\n");
    }
    super::months::document_page(
        lang,
        (tenant, name),
        ("follow-up", w.follow_up),
        &title,
        &body,
    )
}
