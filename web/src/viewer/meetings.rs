//! The meetings page: every operations and steering meeting of a tenant,
//! its minutes' digests and whether they came on time, and the months in
//! which the agreement's meeting rhythm was broken (from the reports
//! themselves, so the page and the reports cannot disagree).

use schemas::MeetingKind;

use projector::governance::{MeetingRecord, MinutesStatus};
use projector::render::html::escape;
use projector::render::{period_label, when, Lang};
use projector::Period;

use super::page::{self, href};
use super::words::words;

/// A month whose report has a missing-meeting deviation.
pub(super) struct RhythmGap {
    pub period: Period,
    pub kind: MeetingKind,
}

/// The meetings page.
pub(super) fn meetings_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    meetings: &[MeetingRecord],
    gaps: &[RhythmGap],
    (timezone, now): (&str, i64),
) -> String {
    let w = words(lang);
    let title = format!("{}: {name}", w.meetings);
    let mut body = format!("<h1>{}</h1>\n", escape(&title));
    body.push_str(&format!(
        "<section aria-labelledby=\"rhythm\"><h2 id=\"rhythm\">{}</h2>\n",
        escape(w.rhythm)
    ));
    if gaps.is_empty() {
        body.push_str(&format!("<p class=\"good\">{}</p>\n", escape(w.rhythm_ok)));
    } else {
        body.push_str("<ul>\n");
        for g in gaps {
            let path = page::report_path(tenant, &g.period.to_string());
            body.push_str(&format!(
                "<li><a href=\"{}\">{}</a>: <strong class=\"bad\">{}</strong></li>\n",
                escape(&href(&path, lang)),
                escape(&period_label(&g.period.to_string(), lang)),
                escape(kind_name(lang, g.kind))
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</section>\n");
    body.push_str(&format!(
        "<section aria-labelledby=\"list\"><h2 id=\"list\">{}</h2>\n",
        escape(w.meetings)
    ));
    if meetings.is_empty() {
        body.push_str(&format!("<p>{}</p>\n</section>\n", escape(w.no_meetings)));
    } else {
        table(&mut body, lang, meetings, timezone, now);
    }
    super::months::document_page(
        lang,
        (tenant, name),
        ("meetings", w.meetings),
        &title,
        &body,
    )
}

fn table(out: &mut String, lang: Lang, meetings: &[MeetingRecord], timezone: &str, now: i64) {
    let w = words(lang);
    let head = [
        w.meeting,
        w.kind,
        w.held,
        w.minutes_due,
        w.minutes,
        w.status,
    ];
    out.push_str(&format!(
        "<table class=\"cards meetings\">\n<caption>{}</caption>\n<thead><tr>",
        escape(w.meetings)
    ));
    for h in head {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let local = |t: i64| escape(&when(&schemas::format_instant(t), timezone).local);
    for m in meetings.iter().rev() {
        let due = m.due.map_or_else(|| "–".to_string(), local);
        let minutes = if m.filings.is_empty() {
            "–".to_string()
        } else {
            let filed: Vec<String> = m
                .filings
                .iter()
                .map(|(t, digest)| {
                    format!(
                        "{}<br><code class=\"digest\">{}</code>",
                        local(*t),
                        escape(digest)
                    )
                })
                .collect();
            filed.join("<br>")
        };
        let (class, status) = match m.minutes(now) {
            MinutesStatus::OnTime { .. } => ("good", w.on_time),
            MinutesStatus::Late { .. } => ("bad", w.late),
            MinutesStatus::Missing { .. } => ("bad", w.missing),
            MinutesStatus::Pending { .. } => ("", w.pending),
            MinutesStatus::NotEvaluated => ("", w.not_evaluated),
        };
        out.push_str(&format!(
            "<tr><th scope=\"row\" data-label=\"{}\"><code>{}</code></th><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"time\">{}</td><td data-label=\"{}\" class=\"time\">{due}</td><td data-label=\"{}\">{minutes}</td><td data-label=\"{}\" class=\"{class}\">{}</td></tr>\n",
            escape(head[0]),
            escape(&m.id),
            escape(head[1]),
            escape(kind_name(lang, m.kind)),
            escape(head[2]),
            local(m.held),
            escape(head[3]),
            escape(head[4]),
            escape(head[5]),
            escape(status)
        ));
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn kind_name(lang: Lang, kind: MeetingKind) -> &'static str {
    let w = words(lang);
    match kind {
        MeetingKind::Operations => w.operations_meeting,
        MeetingKind::Steering => w.steering_meeting,
    }
}
