//! The meetings page: every operations and steering meeting of a tenant,
//! its minutes' digests and whether they came on time, and the months in
//! which the agreement's meeting rhythm was broken (from the reports
//! themselves, so the page and the reports cannot disagree).

use maud::{html, Markup};
use schemas::MeetingKind;

use projector::governance::{MeetingRecord, MinutesStatus};
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
    let body = html! {
        h1 { (title) } "\n"
        section aria-labelledby="rhythm" {
            h2 id="rhythm" { (w.rhythm) } "\n"
            @if gaps.is_empty() {
                p class="good" { (w.rhythm_ok) } "\n"
            } @else {
                ul {
                    "\n"
                    @for g in gaps {
                        @let period = g.period.to_string();
                        li {
                            a href=(href(&page::report_path(tenant, &period), lang)) {
                                (period_label(&period, lang))
                            }
                            ": " strong class="bad" { (kind_name(lang, g.kind)) }
                        }
                        "\n"
                    }
                }
                "\n"
            }
        }
        "\n"
        section aria-labelledby="list" {
            h2 id="list" { (w.meetings) } "\n"
            @if meetings.is_empty() {
                p { (w.no_meetings) } "\n"
            } @else {
                (table(lang, meetings, timezone, now))
            }
        }
        "\n"
    };
    super::months::document_page(lang, (tenant, name), ("meetings", w.meetings), &title, body)
}

fn table(lang: Lang, meetings: &[MeetingRecord], timezone: &str, now: i64) -> Markup {
    let w = words(lang);
    let head = [
        w.meeting,
        w.kind,
        w.held,
        w.minutes_due,
        w.minutes,
        w.status,
    ];
    html! {
        table class="cards meetings" {
            "\n"
            caption { (w.meetings) } "\n"
            thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
            tbody {
                "\n"
                @for m in meetings.iter().rev() { (row(lang, m, (timezone, now), &head)) }
            }
            "\n"
        }
        "\n"
    }
}

fn row(lang: Lang, m: &MeetingRecord, (timezone, now): (&str, i64), head: &[&str; 6]) -> Markup {
    let w = words(lang);
    let local = |t: i64| when(&schemas::format_instant(t), timezone).local;
    let (class, status) = match m.minutes(now) {
        MinutesStatus::OnTime { .. } => ("good", w.on_time),
        MinutesStatus::Late { .. } => ("bad", w.late),
        MinutesStatus::Missing { .. } => ("bad", w.missing),
        MinutesStatus::Pending { .. } => ("", w.pending),
        MinutesStatus::NotEvaluated => ("", w.not_evaluated),
    };
    html! {
        tr {
            th scope="row" data-label=(head[0]) { code { (m.id) } }
            td data-label=(head[1]) { (kind_name(lang, m.kind)) }
            td data-label=(head[2]) class="time" { (local(m.held)) }
            td data-label=(head[3]) class="time" { (m.due.map_or_else(|| "–".to_string(), local)) }
            td data-label=(head[4]) {
                @if m.filings.is_empty() {
                    "–"
                }
                @for (i, (t, digest)) in m.filings.iter().enumerate() {
                    @if i > 0 { br; }
                    (local(*t)) br; code class="digest" { (digest) }
                }
            }
            td data-label=(head[5]) class=(class) { (status) }
        }
        "\n"
    }
}

fn kind_name(lang: Lang, kind: MeetingKind) -> &'static str {
    let w = words(lang);
    match kind {
        MeetingKind::Operations => w.operations_meeting,
        MeetingKind::Steering => w.steering_meeting,
    }
}
