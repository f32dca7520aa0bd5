//! The availability chart: one horizontal bar per service with an
//! availability guarantee, its target as a black line, drawn on the
//! server as inline SVG (no script, no image request). Colours come with
//! words: each bar is labelled with the figure, the target and whether
//! it was met, and the table below the chart holds the same figures.
//!
//! The figures are the report's strings; they are parsed to numbers only
//! to place the bars, never to compute or round anything a reader is told.

use maud::{html, Markup};
use projector::render::{percent, Lang};
use projector::Report;

use super::words::words;

/// Layout in SVG user units (the chart scales to its box, about as many
/// CSS pixels wide on a phone): each service is a line of words above
/// its bar, so the words stay readable when the chart is narrow.
const WIDTH: u32 = 400;
const MARGIN: u32 = 4;
const ROW_HEIGHT: u32 = 42;
const BAR_HEIGHT: u32 = 14;
const AXIS_HEIGHT: u32 = 20;

/// The lowest percentage the axis ever starts at: below it, a bar of a
/// bad month would dwarf the differences that matter near the targets.
const AXIS_FLOOR_PCT: f64 = 0.0;
/// The highest the axis starts at, so that targets of 99.x show room.
const AXIS_START_MAX_PCT: f64 = 95.0;

/// One service's bar: the report's strings and the numbers that place them.
struct Bar<'a> {
    /// The service's id, for `data-service`.
    service: &'a str,
    /// The service by the agreement's name (its id in format 1), for people.
    name: &'a str,
    target: f64,
    achieved: Option<f64>,
    target_text: &'a str,
    achieved_text: Option<&'a str>,
    met: bool,
}

/// Where bars go: the axis starts at `start` percent.
struct Scale {
    start: f64,
}

impl Scale {
    fn x(&self, pct: f64) -> f64 {
        let plot = f64::from(WIDTH - 2 * MARGIN);
        let share = (pct.clamp(self.start, 100.0) - self.start) / (100.0 - self.start);
        f64::from(MARGIN) + share * plot
    }
}

/// The chart, or `None` when no service has an availability guarantee.
pub(super) fn availability_chart(report: &Report, lang: Lang) -> Option<Markup> {
    let w = words(lang);
    let bars: Vec<Bar<'_>> = report
        .services
        .iter()
        .filter_map(|s| {
            let a = s.availability.as_ref()?;
            Some(Bar {
                service: &s.service,
                name: projector::render::service_name(report, &s.service),
                target: a.target_pct.parse().ok()?,
                achieved: a.achieved_pct.as_deref().and_then(|p| p.parse().ok()),
                target_text: &a.target_pct,
                achieved_text: a.achieved_pct.as_deref(),
                met: a.met,
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let lowest = bars
        .iter()
        .flat_map(|b| [Some(b.target), b.achieved])
        .flatten()
        .fold(f64::INFINITY, f64::min);
    let scale = Scale {
        start: (lowest.floor() - 1.0).clamp(AXIS_FLOOR_PCT, AXIS_START_MAX_PCT),
    };
    let rows = u32::try_from(bars.len()).unwrap_or(u32::MAX / ROW_HEIGHT);
    let height = AXIS_HEIGHT + ROW_HEIGHT * rows + 4;
    let axis = [
        (scale.start, "start"),
        ((scale.start + 100.0) / 2.0, "middle"),
        (100.0, "end"),
    ];
    Some(html! {
        svg class="chart" viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
            aria-labelledby="chart-title chart-desc" font-family="system-ui, sans-serif" font-size="12" {
            "\n"
            title id="chart-title" { (w.chart_title) } "\n"
            desc id="chart-desc" { (w.chart_desc) } "\n"
            // Axis: the start, the middle and 100 %.
            @for (pct, anchor) in axis {
                @let at = format!("{:.1}", scale.x(pct));
                line x1=(at) y1=(AXIS_HEIGHT - 4) x2=(at) y2=(height) stroke="#c8c8c8" {} "\n"
                text x=(at) y="12" text-anchor=(anchor) fill="#555" {
                    (percent(&format!("{pct:.1}"), lang))
                }
                "\n"
            }
            @for (row, b) in (0..rows).zip(&bars) {
                (bar(b, &scale, AXIS_HEIGHT + ROW_HEIGHT * row, lang))
            }
        }
        "\n"
    })
}

/// One row of the chart, its top at `top`: the service and its figures
/// on a line, the bar and the target's line below. SVG elements are
/// closed with an end tag, which HTML parses as it parses `<rect …/>`.
fn bar(b: &Bar<'_>, scale: &Scale, top: u32, lang: Lang) -> Markup {
    let (w, t) = (words(lang), lang.text());
    let (fill, result) = if b.met {
        ("#2e7d43", t.met)
    } else {
        ("#b3261e", t.not_met)
    };
    let achieved = b
        .achieved_text
        .map_or_else(|| "–".to_string(), |p| percent(p, lang));
    let label = format!(
        "{achieved} ({} {}) {result}",
        w.target_short,
        percent(b.target_text, lang)
    );
    let text_y = top + 14;
    let bar_y = top + 20;
    let left = f64::from(MARGIN);
    let tx = format!("{:.1}", scale.x(b.target));
    html! {
        g data-service=(b.service) {
            title { (b.name) ": " (label) } "\n"
            text x=(MARGIN) y=(text_y) font-weight="600" { (b.name) } "\n"
            text x=(WIDTH - MARGIN) y=(text_y) text-anchor="end"
                fill=(if b.met { "#1b1b1b" } else { "#a10d0d" }) { (label) }
            "\n"
            @if let Some(a) = b.achieved {
                rect x=(format!("{left:.1}")) y=(bar_y)
                    width=(format!("{:.1}", (scale.x(a) - left).max(1.0)))
                    height=(BAR_HEIGHT) fill=(fill) {}
                "\n"
            }
            line x1=(tx) y1=(bar_y - 3) x2=(tx) y2=(bar_y + BAR_HEIGHT + 3) stroke="#000" stroke-width="3" {}
            "\n"
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `full` of the projector's render tests: services with and without
    /// an availability guarantee.
    fn report() -> Report {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../projector/tests/render/full.report.json"
        );
        let text = std::fs::read_to_string(path).expect("the fixture");
        serde_json::from_str(&text).expect("a report")
    }

    /// A format-2 report names each service as its agreement does; the
    /// id stays in `data-service` for scripts and tests.
    #[test]
    fn services_are_named_as_the_agreement_names_them() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../projector/tests/render/month.report.json"
        );
        let text = std::fs::read_to_string(path).expect("the fixture");
        let report: Report = serde_json::from_str(&text).expect("a report");
        let svg = availability_chart(&report, Lang::Nn)
            .expect("guarantees")
            .into_string();
        assert!(
            svg.contains("<g data-service=\"epost\"><title>E-post: "),
            "{svg}"
        );
        assert!(svg.contains("font-weight=\"600\">E-post</text>"), "{svg}");
        assert!(!svg.contains(">epost<"), "{svg}");
    }

    #[test]
    fn a_hostile_service_is_text_in_the_chart() {
        let mut report = report();
        for s in &mut report.services {
            s.service = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>".into();
        }
        let shown =
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
        for lang in [Lang::Nn, Lang::En] {
            let svg = availability_chart(&report, lang)
                .expect("a service with a guarantee")
                .into_string();
            assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
            assert!(svg.contains(&format!("data-service=\"{shown}\"")), "{svg}");
            // In the title and in the words above the bar, too.
            assert!(svg.matches(shown).count() >= 3, "{svg}");
        }
    }
}
