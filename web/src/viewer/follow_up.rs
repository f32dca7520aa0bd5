//! The follow-up page ("Oppfølging"): a tenant's corrective actions that
//! are open now, the overdue ones first, each with its owner, due date
//! and the deviations it answers (SEMANTICS.md section 12). The actions
//! come from `projector::story::open_actions` over the tenant's events at
//! the page's "now", the same projection as the reports; the table is the
//! report's own (`render::html::action_table`), so an action reads the
//! same on this page, in a report and in its file.

use maud::html;
use projector::render::html as report_html;
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
    let (overdue, open): (Vec<Action>, Vec<Action>) =
        actions.iter().cloned().partition(|a| a.status == "overdue");
    let sections = [
        ("overdue", w.overdue_actions, &overdue, w.no_overdue),
        ("open", w.open_actions, &open, w.no_open),
    ];
    let body = html! {
        h1 { (title) } "\n"
        p { (w.follow_up_intro) } "\n"
        @for (id, heading, list, none) in sections {
            section aria-labelledby=(id) id={ (id) "-actions" } {
                "\n"
                h2 id=(id) { (heading) } "\n"
                @if list.is_empty() {
                    p class=[(id == "overdue").then_some("good")] { (none) } "\n"
                } @else {
                    (report_html::action_table(timezone, list, lang, heading))
                }
            }
            "\n"
        }
    };
    super::months::document_page(
        lang,
        (tenant, name),
        ("follow-up", w.follow_up),
        &title,
        body,
    )
}
