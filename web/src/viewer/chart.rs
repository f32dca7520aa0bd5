//! The availability chart: one horizontal bar per service with an
//! availability guarantee, its target as a black line, drawn on the
//! server as inline SVG (no script, no image request). Colours come with
//! words: each bar is labelled with the figure, the target and whether
//! it was met, and the table below the chart holds the same figures.
//!
//! The figures are the report's strings; they are parsed to numbers only
//! to place the bars, never to compute or round anything a reader is told.

use projector::render::html::escape;
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
    service: &'a str,
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
pub(super) fn availability_chart(report: &Report, lang: Lang) -> Option<String> {
    let w = words(lang);
    let bars: Vec<Bar<'_>> = report
        .services
        .iter()
        .filter_map(|s| {
            let a = s.availability.as_ref()?;
            Some(Bar {
                service: &s.service,
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
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\n<title id=\"chart-title\">{}</title>\n<desc id=\"chart-desc\">{}</desc>\n",
        escape(w.chart_title),
        escape(w.chart_desc)
    );
    // Axis: the start, the middle and 100 %.
    for (pct, anchor) in [
        (scale.start, "start"),
        ((scale.start + 100.0) / 2.0, "middle"),
        (100.0, "end"),
    ] {
        let at = scale.x(pct);
        svg.push_str(&format!(
            "<line x1=\"{at:.1}\" y1=\"{}\" x2=\"{at:.1}\" y2=\"{height}\" stroke=\"#c8c8c8\"/>\n<text x=\"{at:.1}\" y=\"12\" text-anchor=\"{anchor}\" fill=\"#555\">{}</text>\n",
            AXIS_HEIGHT - 4,
            escape(&percent(&format!("{pct:.1}"), lang))
        ));
    }
    for (row, b) in (0..rows).zip(&bars) {
        bar(&mut svg, b, &scale, AXIS_HEIGHT + ROW_HEIGHT * row, lang);
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

/// One row of the chart, its top at `top`: the service and its figures
/// on a line, the bar and the target's line below.
fn bar(svg: &mut String, b: &Bar<'_>, scale: &Scale, top: u32, lang: Lang) {
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
    svg.push_str(&format!(
        "<g data-service=\"{}\"><title>{}: {}</title>\n<text x=\"{MARGIN}\" y=\"{text_y}\" font-weight=\"600\">{}</text>\n<text x=\"{}\" y=\"{text_y}\" text-anchor=\"end\" fill=\"{}\">{}</text>\n",
        escape(b.service),
        escape(b.service),
        escape(&label),
        escape(b.service),
        WIDTH - MARGIN,
        if b.met { "#1b1b1b" } else { "#a10d0d" },
        escape(&label)
    ));
    let bar_y = top + 20;
    if let Some(a) = b.achieved {
        let left = f64::from(MARGIN);
        svg.push_str(&format!(
            "<rect x=\"{left:.1}\" y=\"{bar_y}\" width=\"{:.1}\" height=\"{BAR_HEIGHT}\" fill=\"{fill}\"/>\n",
            (scale.x(a) - left).max(1.0),
        ));
    }
    let tx = scale.x(b.target);
    svg.push_str(&format!(
        "<line x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#000\" stroke-width=\"3\"/>\n</g>\n",
        bar_y - 3,
        bar_y + BAR_HEIGHT + 3
    ));
}
