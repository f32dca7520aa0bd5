//! The report as Markdown, for e-mail, wikis and terminals: a title with
//! the preliminary marker, the facts of the report, a summary line, then
//! the deviations (the heart of the report: what, when, target,
//! measured), availability, incidents, data quality and the manifest with
//! how to check it. A format-2 report shows the provider's deviations
//! apart from the municipality's, and adds, after the deviations, their
//! follow-up (cause and action), the corrective actions, governance
//! (meetings and minutes), the responsible persons and the trend.
//!
//! Every string that comes from the report goes through [`escape`], so a
//! `|` in a role cannot break a table and a `<` cannot become markup in a
//! renderer that passes HTML through. Table rows of incident counts that
//! are all zero are left out; the CSV keeps them.

use super::text::{self, Text};
use super::{Lang, Report};
use crate::report::Story;

/// The report as Markdown in `lang`.
pub fn markdown(report: &Report, lang: Lang) -> String {
    let t = lang.text();
    let mut out = String::new();
    header(&mut out, report, lang);
    line(&mut out, &format!("## {}", t.summary));
    line(
        &mut out,
        &escape(&text::summary(lang, &super::summary(report))),
    );
    deviations(&mut out, report, lang);
    if let Some(story) = &report.story {
        follow_up(&mut out, report, lang);
        actions(&mut out, report, story, lang);
        governance(&mut out, report, story, lang);
        contacts(&mut out, report, story, lang);
        trend(&mut out, story, lang);
    }
    availability(&mut out, report, lang);
    if report.story.is_some() {
        outages(&mut out, report, lang);
    }
    incidents(&mut out, report, t);
    if report.story.is_some() {
        open_incidents(&mut out, report, lang);
    }
    data_quality(&mut out, report, lang);
    manifest(&mut out, report, lang);
    out
}

fn header(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    line(out, &format!("# {}", escape(&super::title(report, lang))));
    if report.preliminary {
        let note = escape(&super::preliminary_note(report, lang));
        line(out, &format!("> **{}.** {note}", t.preliminary));
    }
    let facts = [
        (t.tenant, report.tenant.clone()),
        (t.period, super::period_label(&report.period, lang)),
        (t.period_utc, super::period_utc(report)),
        (t.agreement_version, report.agreement_version.clone()),
        (t.timezone, report.timezone.clone()),
    ];
    let items: Vec<String> = facts
        .iter()
        .map(|(k, v)| format!("- **{k}:** {}", escape(v)))
        .collect();
    line(out, &items.join("\n"));
}

fn deviations(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    line(out, &format!("## {}", t.deviations));
    if report.deviations.is_empty() {
        line(out, t.no_deviations);
        return;
    }
    let local = format!("{} ({})", t.when_local, report.timezone);
    let head = [
        t.number,
        &local,
        t.when_utc,
        t.deviation,
        t.service,
        t.description,
        t.target,
        t.measured,
    ];
    let format2 = report.follow_up.is_some();
    // Format 2: the provider's deviations apart from the municipality's.
    for (caption, rows) in super::deviation_groups(report, lang, t.caption_deviations) {
        if format2 {
            line(out, &format!("**{caption}** ({})", rows.len()));
        }
        let body = rows.iter().map(|r| {
            let description = match &r.period_wide {
                Some(exact) => format!("{} {exact}", r.description),
                None => r.description.clone(),
            };
            vec![
                r.number.to_string(),
                escape(&r.dated),
                escape(&r.when.utc),
                r.label.to_string(),
                escape(&r.service),
                escape(&description),
                escape(&r.target),
                escape(&r.measured),
            ]
        });
        line(out, &table(&head, "--:|---|---|---|---|---|---|---", body));
    }
}

/// Local time of an instant of the report, or a dash.
fn local(report: &Report, at: Option<&str>) -> String {
    at.map_or_else(
        || "–".to_string(),
        |at| escape(&super::when(at, &report.timezone).local),
    )
}

/// Each explained deviation's cause and action (format 2).
fn follow_up(out: &mut String, report: &Report, lang: Lang) {
    let s = text::story(lang);
    line(out, &format!("## {}", s.follow_up));
    let explained = super::explained_rows(report);
    if explained.is_empty() {
        line(out, s.no_explanations);
        return;
    }
    let head = [
        lang.text().number,
        s.deviation_id,
        s.cause,
        s.action,
        s.explained_at,
    ];
    let body = explained.iter().map(|(number, id, e)| {
        vec![
            number.to_string(),
            format!("`{}`", code_span(id)),
            escape(&e.cause),
            e.action_id
                .as_deref()
                .map_or_else(|| "–".to_string(), escape),
            local(report, Some(&e.explained_at)),
        ]
    });
    line(out, &table(&head, "--:|---|---|---|---", body));
}

fn actions(out: &mut String, report: &Report, story: &Story, lang: Lang) {
    let s = text::story(lang);
    line(out, &format!("### {}", s.actions));
    if story.actions.is_empty() {
        line(out, s.no_actions);
        return;
    }
    let head = [s.title, s.owner, s.due, s.status, s.outcome];
    let body = story.actions.iter().map(|a| {
        let status = s.status_word(&a.status);
        let status = if a.status == "overdue" {
            format!("**{status}**")
        } else {
            status.to_string()
        };
        vec![
            format!("{} (`{}`)", escape(&a.title), code_span(&a.action_id)),
            escape(&a.owner),
            local(report, Some(&a.due)),
            status,
            a.outcome.as_deref().map_or_else(|| "–".to_string(), escape),
        ]
    });
    line(out, &table(&head, "---|---|---|---|---", body));
}

fn governance(out: &mut String, report: &Report, story: &Story, lang: Lang) {
    let Some(g) = &story.governance else { return };
    let s = text::story(lang);
    line(out, &format!("## {}", s.governance));
    if g.meetings.is_empty() {
        line(out, s.no_meetings);
    } else {
        let head = s.meeting_head();
        let body = g.meetings.iter().map(|m| {
            let on_time = match m.minutes_on_time {
                Some(true) => s.yes.to_string(),
                Some(false) => format!("**{}**", s.no),
                None => "–".to_string(),
            };
            vec![
                escape(&m.meeting_id),
                s.meeting_kind(&m.kind).to_string(),
                local(report, Some(&m.held_at)),
                local(report, m.minutes_due.as_deref()),
                local(report, m.minutes_filed_at.as_deref()),
                on_time,
            ]
        });
        line(out, &table(&head, "---|---|---|---|---|---", body));
    }
    let last = |at: &Option<String>| {
        at.as_deref()
            .map_or_else(|| s.none_held.to_string(), |at| local(report, Some(at)))
    };
    line(
        out,
        &format!(
            "- **{}:** {}\n- **{}:** {}",
            s.last_operations,
            last(&g.last_operations_meeting),
            s.last_steering,
            last(&g.last_steering_meeting)
        ),
    );
}

fn contacts(out: &mut String, report: &Report, story: &Story, lang: Lang) {
    let Some(rows) = &story.contacts else { return };
    let s = text::story(lang);
    line(out, &format!("## {}", s.contacts));
    let head = [s.role, lang.text().service, s.person, s.since];
    let body = rows.iter().map(|r| {
        let service = r.service.as_deref().map(|s| super::service_name(report, s));
        vec![
            escape(&super::role_for_people(&r.role, lang)),
            escape(service.unwrap_or(lang.text().whole_agreement)),
            r.person
                .as_deref()
                .map_or_else(|| format!("**{}**", s.vacant), escape),
            local(report, r.since.as_deref()),
        ]
    });
    line(out, &table(&head, "---|---|---|---", body));
}

fn trend(out: &mut String, story: &Story, lang: Lang) {
    let s = text::story(lang);
    line(out, &format!("## {}", s.trend));
    let t = lang.text();
    let head = [t.period, t.deviations, s.services_met];
    let body = story.trend.iter().map(|p| {
        vec![
            escape(&super::period_label(&p.period, lang)),
            p.deviations.to_string(),
            format!("{} {} {}", p.services_met, s.of, p.services_guaranteed),
        ]
    });
    line(out, &table(&head, "---|--:|--:", body));
}

fn availability(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    line(out, &format!("## {}", t.availability));
    let rows = super::availability_rows(report, lang);
    if rows.is_empty() {
        line(out, t.no_guarantees);
    } else {
        let head = [
            t.service, t.target, t.achieved, t.downtime, t.excluded, t.window, t.result,
        ];
        let body = rows.iter().map(|r| {
            let result = if r.met {
                r.result.to_string()
            } else {
                format!("**{}**", r.result)
            };
            let achieved = if r.measurable {
                r.achieved.clone()
            } else {
                format!("{} ({})", r.achieved, t.not_measurable)
            };
            vec![
                escape(r.service),
                r.target.clone(),
                achieved,
                r.downtime.clone(),
                r.excluded.clone(),
                r.window.clone(),
                result,
            ]
        });
        line(out, &table(&head, "---|--:|--:|--:|--:|--:|---", body));
        line(out, t.achieved_formula);
    }
    let without = super::unguaranteed(report);
    if !without.is_empty() {
        let ids: Vec<String> = without.iter().map(|s| escape(s)).collect();
        line(out, &format!("{}: {}.", t.no_availability, ids.join(", ")));
    }
}

/// Every outage behind the availability figures, the partial ones
/// marked (format 2).
fn outages(out: &mut String, report: &Report, lang: Lang) {
    let (t, d) = (lang.text(), text::detail(lang));
    line(out, &format!("### {}", d.outages));
    let rows = super::outage_lines(report, lang);
    if rows.is_empty() {
        line(out, d.no_outages);
        return;
    }
    let head = [t.service, d.outage, d.impact, d.start, d.end];
    let body = rows.iter().map(|o| {
        let impact = if o.partial {
            format!("**{}**", o.impact)
        } else {
            o.impact.to_string()
        };
        vec![
            escape(o.service),
            format!("`{}`", code_span(o.outage_id)),
            impact,
            escape(&o.start.local),
            o.end
                .as_ref()
                .map_or_else(|| d.still_open.to_string(), |e| escape(&e.local)),
        ]
    });
    line(out, &table(&head, "---|---|---|---|---", body));
}

/// The incidents still open at the period's end (format 2).
fn open_incidents(out: &mut String, report: &Report, lang: Lang) {
    let (t, d) = (lang.text(), text::detail(lang));
    line(out, &format!("### {}", d.open_incidents));
    let rows = super::open_incident_lines(report, lang);
    if rows.is_empty() {
        line(out, d.no_open_incidents);
        return;
    }
    let head = [t.service, d.incident, t.priority, t.opened, d.detail];
    let body = rows.iter().map(|i| {
        vec![
            escape(i.service),
            format!("`{}`", code_span(i.incident_id)),
            escape(i.priority),
            escape(&i.opened.local),
            i.note.to_string(),
        ]
    });
    line(out, &table(&head, "---|---|---|---|---", body));
}

fn incidents(out: &mut String, report: &Report, t: &Text) {
    line(out, &format!("## {}", t.incidents));
    let rows = super::incident_rows(report);
    if rows.is_empty() {
        line(out, t.no_incidents);
        return;
    }
    let head = [
        t.service,
        t.priority,
        t.opened,
        t.response_met,
        t.response_breached,
        t.resolution_met,
        t.resolution_breached,
    ];
    let body = rows.iter().map(|(service, priority, c)| {
        vec![
            escape(service),
            escape(priority),
            c.opened.to_string(),
            c.response_met.to_string(),
            c.response_breached.to_string(),
            c.resolution_met.to_string(),
            c.resolution_breached.to_string(),
        ]
    });
    line(out, &table(&head, "---|---|--:|--:|--:|--:|--:", body));
}

fn data_quality(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    line(out, &format!("## {}", t.data_quality));
    let q = &report.data_quality;
    if q.set_aside == 0 && q.by_reason.is_empty() {
        line(out, t.nothing_set_aside);
        return;
    }
    let items: Vec<String> = q
        .by_reason
        .iter()
        .map(|(code, n)| format!("- `{}`: {n}. {}", code_span(code), text::reason(lang, code)))
        .collect();
    line(
        out,
        &format!(
            "{}\n\n{}",
            text::set_aside(lang, q.set_aside),
            items.join("\n")
        ),
    );
}

fn manifest(out: &mut String, report: &Report, lang: Lang) {
    let t = lang.text();
    let m = &report.manifest;
    line(out, &format!("## {}", t.manifest));
    let facts = [
        (t.ledger_size, m.ledger_size.to_string()),
        (
            t.ledger_root,
            format!("`{}`", code_span(super::or_dash(&m.ledger_root))),
        ),
        (
            t.tree_root,
            format!("`{}`", code_span(super::or_dash(&m.tree_root))),
        ),
        (t.report_format, escape(&report.format)),
        (t.engine_version, escape(&m.engine_version)),
        (t.horizon, escape(&super::horizon(report, lang))),
        (
            t.report_digest,
            format!("`{}`", code_span(super::or_dash(&m.report_digest))),
        ),
    ];
    // Reports made before the Merkle tree have no tree root to show.
    let items: Vec<String> = facts
        .iter()
        .filter(|(k, _)| *k != t.tree_root || !m.tree_root.is_empty())
        .map(|(k, v)| format!("- **{k}:** {v}"))
        .collect();
    line(out, &items.join("\n"));
    if report.story.is_some() {
        let page = format!(
            "`{}`",
            code_span(&text::verify_page(&report.tenant, &report.period))
        );
        let [log, tree, viewer] = text::proof_sentences(lang, m.ledger_size, &page);
        // Reports made before the Merkle tree have no tree root to explain.
        let tree = (!m.tree_root.is_empty()).then_some(tree);
        for sentence in [Some(log), tree, Some(viewer)].into_iter().flatten() {
            line(out, &sentence);
        }
    }
    let hint = text::verify_hint(lang, m.ledger_size, |c| format!("`{c}`"));
    out.push_str(&hint);
    out.push('\n');
}

/// A pipe table; `align` is the delimiter row without its outer pipes.
fn table(head: &[&str], align: &str, body: impl Iterator<Item = Vec<String>>) -> String {
    let mut rows = vec![format!("| {} |", head.join(" | ")), format!("|{align}|")];
    rows.extend(body.map(|cells| format!("| {} |", cells.join(" | "))));
    rows.join("\n")
}

/// Appends a block and the blank line that ends it.
fn line(out: &mut String, block: &str) {
    out.push_str(block);
    out.push_str("\n\n");
}

/// Report data as Markdown text: characters that could start markup or
/// end a table cell are backslash-escaped, line breaks become spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Report data inside a code span: no escapes work there, so a backtick
/// or line break (never in a hex digest, but ids are data) is replaced.
fn code_span(s: &str) -> String {
    s.replace('`', "'").replace(['\r', '\n'], " ")
}
