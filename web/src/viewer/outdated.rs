//! "Utdatert": an issued report whose period, regenerated now from the
//! tenant's whole ledger, has other figures (issue 21). The issued report
//! keeps verifying against its own prefix; the report page says it is
//! outdated, why in one sentence, and shows the new figures beside the
//! old. The figures are the version in force at the period's start, each
//! service's availability and incident counts, the deviations and (format
//! 3) what was measured of them; the follow-up, the story and the data quality grow after an issue by design
//! (explanations, acknowledgements) and do not make a report outdated.
//! One regeneration per view of an issued report, in the issued report's
//! own format (a report issued as `tla-report/2` is compared with the
//! period in format 2, never with a newer format's extra fields), none
//! for a preliminary one or on list pages.

use maud::{html, Markup};
use projector::render::{percent, Lang};
use projector::{Input, LedgerEvent, Report};
use schemas::EventData;

use super::Shown;

/// The period regenerated now, and why it differs from the issued report.
pub(super) struct Outdated {
    pub current: Report,
    why: Why,
}

enum Why {
    /// Another version is in force at the period's start now.
    Version { issued: String, now: String },
    /// An agreement version or approval was written after the issue.
    AgreementChanged,
    /// Other events written after the issue.
    LaterEvents,
}

/// Whether `shown`, issued, is outdated by the tenant's `events` (the
/// whole ledger now, in ledger order): `None` when it was not issued, is
/// preliminary, could not be regenerated, or has the same figures.
pub(super) fn outdated(shown: &Shown, events: &[LedgerEvent]) -> Option<Outdated> {
    let anchor = shown.anchor.as_ref()?;
    let issued = &shown.report;
    if issued.preliminary {
        return None;
    }
    let input = Input {
        tenant: &issued.tenant,
        period: issued.period.parse().ok()?,
        events,
        horizon: None,
    };
    // In the issued report's own format: a newer format's extra parts
    // are not other figures.
    let format = projector::Format::parse(&issued.format)?;
    let current = projector::compute_as(&input, format).ok()?;
    let figures = |r: &Report| {
        (
            r.agreement_version.clone(),
            r.services.clone(),
            r.deviations.clone(),
            r.measures.clone(),
        )
    };
    if figures(&current) == figures(issued) {
        return None;
    }
    let agreement_later = events.iter().any(|e| {
        e.position >= anchor.ledger_size
            && matches!(
                e.event.data,
                EventData::AgreementPublished(_) | EventData::AgreementApproved { .. }
            )
    });
    let why = if current.agreement_version != issued.agreement_version {
        Why::Version {
            issued: issued.agreement_version.clone(),
            now: current.agreement_version.clone(),
        }
    } else if agreement_later {
        Why::AgreementChanged
    } else {
        Why::LaterEvents
    };
    Some(Outdated { current, why })
}

struct Words {
    badge: &'static str,
    heading: &'static str,
    still_verifies: &'static str,
    agreement_changed: &'static str,
    later_events: &'static str,
    new_figures: &'static str,
    what: &'static str,
    issued: &'static str,
    now: &'static str,
    version: &'static str,
    deviations: &'static str,
    availability: &'static str,
    no_guarantee: &'static str,
    nothing_measurable: &'static str,
}

const NN: Words = Words {
    badge: "utdatert",
    heading: "Utdatert: perioden gjev andre tal no",
    still_verifies: "Den utferda rapporten står som han er og kan framleis verifiserast mot loggen slik han var då.",
    agreement_changed: "Ein avtaleversjon eller ei godkjenning er skriven i loggen etter at rapporten vart utferda, og han endrar tala for perioden.",
    later_events: "Hendingar skrivne i loggen etter at rapporten vart utferda endrar tala for perioden.",
    new_figures: "Tala for perioden rekna ut på nytt frå heile loggen no, ved sida av dei utferda.",
    what: "Tal",
    issued: "Utferda",
    now: "No",
    version: "Avtaleversjon",
    deviations: "Avvik",
    availability: "Tilgjengelegheit",
    no_guarantee: "ikkje noko krav",
    nothing_measurable: "–",
};

const EN: Words = Words {
    badge: "outdated",
    heading: "Outdated: the period gives other figures now",
    still_verifies: "The issued report stands as it is and still verifies against the ledger as it was then.",
    agreement_changed: "An agreement version or approval was written to the ledger after the report was issued, and it changes the period's figures.",
    later_events: "Events written to the ledger after the report was issued change the period's figures.",
    new_figures: "The period's figures computed again from the whole ledger now, beside the issued ones.",
    what: "Figure",
    issued: "Issued",
    now: "Now",
    version: "Agreement version",
    deviations: "Deviations",
    availability: "Availability",
    no_guarantee: "no guarantee",
    nothing_measurable: "–",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

/// The one sentence saying why.
fn why(lang: Lang, why: &Why) -> String {
    let w = words(lang);
    match (lang, why) {
        (Lang::Nn, Why::Version { issued, now }) => format!(
            "Avtaleversjon {now} gjeld no for perioden i staden for {issued}: han vart publisert eller godkjend etter at rapporten vart utferda."
        ),
        (Lang::En, Why::Version { issued, now }) => format!(
            "Agreement version {now} is now in force for the period instead of {issued}: it was published or approved after the report was issued."
        ),
        (_, Why::AgreementChanged) => w.agreement_changed.to_string(),
        (_, Why::LaterEvents) => w.later_events.to_string(),
    }
}

/// A service by the agreement's name: the version in force now names it,
/// else the issued one did, else its id.
fn service_name<'a>(current: &'a Report, issued: &'a Report, service: &'a str) -> &'a str {
    match projector::render::service_name(current, service) {
        name if name != service => name,
        _ => projector::render::service_name(issued, service),
    }
}

/// A service's achieved availability for people.
fn achieved(lang: Lang, report: &Report, service: &str) -> String {
    let w = words(lang);
    match report.services.iter().find(|s| s.service == service) {
        Some(s) => match &s.availability {
            Some(a) => a
                .achieved_pct
                .as_deref()
                .map_or_else(|| w.nothing_measurable.to_string(), |p| percent(p, lang)),
            None => w.no_guarantee.to_string(),
        },
        None => w.nothing_measurable.to_string(),
    }
}

/// The marking's section: why, and the new figures beside the old.
pub(super) fn section(lang: Lang, o: &Outdated, issued: &Report) -> Markup {
    let w = words(lang);
    let mut services: Vec<&str> = issued
        .services
        .iter()
        .chain(&o.current.services)
        .map(|s| s.service.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    let head = [w.what, w.issued, w.now];
    html! {
        section aria-labelledby="outdated" id="outdated-section" class="outdated" role="note" {
            "\n"
            h2 id="outdated" { span class="badge bad" { (w.badge) } " " (w.heading) } "\n"
            p class="outdated-why" { (why(lang, &o.why)) " " (w.still_verifies) } "\n"
            table class="cards outdated-figures" {
                "\n"
                caption { (w.new_figures) } "\n"
                thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
                tbody {
                    "\n"
                    (row(&head, w.version, &issued.agreement_version, &o.current.agreement_version, "version"))
                    (row(&head, w.deviations, &issued.deviations.len().to_string(),
                        &o.current.deviations.len().to_string(), "deviations"))
                    @for s in &services {
                        (row(&head, &format!("{}: {}", w.availability, service_name(&o.current, issued, s)),
                            &achieved(lang, issued, s),
                            &achieved(lang, &o.current, s), &format!("availability-{s}")))
                    }
                }
                "\n"
            }
            "\n"
        }
        "\n"
    }
}

fn row(head: &[&str; 3], what: &str, issued: &str, now: &str, key: &str) -> Markup {
    html! {
        tr data-figure=(key) data-changed=(issued != now) {
            th scope="row" data-label=(head[0]) { (what) }
            td data-label=(head[1]) class="issued" { (issued) }
            td data-label=(head[2]) class="now" { (now) }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::Anchor;
    use projector::{Format, Period};

    /// The events of `tests/fixtures/format2/`: a late response, one that
    /// never came, late resolutions and a short notice in April 2026.
    fn events() -> Vec<LedgerEvent> {
        let text = include_bytes!("../../../tests/fixtures/format2/events.json");
        schemas::input::parse_events(text)
            .expect("events")
            .into_iter()
            .zip(0..)
            .map(|(e, position)| LedgerEvent {
                position,
                event: e.result.expect("a valid event"),
            })
            .collect()
    }

    /// The period issued in `format` from `events`, as the viewer shows it.
    fn issued(events: &[LedgerEvent], format: Format) -> Shown {
        let input = Input {
            tenant: "alver",
            period: "2026-04".parse::<Period>().expect("period"),
            events,
            horizon: None,
        };
        let mut report = projector::compute_as(&input, format).expect("a report");
        report.seal();
        let anchor = Anchor {
            position: events.len() as u64,
            ledger_size: events.len() as u64,
            report_digest: report.manifest.report_digest.clone(),
        };
        Shown {
            report,
            anchor: Some(anchor),
        }
    }

    /// A report issued in an older format is compared with the period in
    /// that format: the newer format's fields are not other figures. In
    /// format 3 a measure is a figure: a response recorded after the issue
    /// outdates it.
    #[test]
    fn an_older_format_is_not_outdated_by_a_newer_one_and_a_measure_is_a_figure() {
        let events = events();
        for format in Format::ALL {
            let shown = issued(&events, format);
            assert!(outdated(&shown, &events).is_none(), "{format:?}");
        }
        let shown = issued(&events, Format::V3);
        let text =
            br#"{"specversion":"1.0","id":"late-1","source":"test","type":"incident.responded",
            "time":"2026-05-02T08:00:00Z","tenant":"alver","data":{"incident_id":"INC-3"}}"#;
        let responded = schemas::input::parse_events(text).expect("event");
        let mut later = events.clone();
        later.push(LedgerEvent {
            position: events.len() as u64 + 1,
            event: responded
                .into_iter()
                .next()
                .expect("one")
                .result
                .expect("valid"),
        });
        let o = outdated(&shown, &later).expect("outdated by the response");
        assert!(matches!(o.why, Why::LaterEvents));
        assert_eq!(o.current.deviations, shown.report.deviations);
        let v2 = issued(&events, Format::V2);
        assert!(outdated(&v2, &later).is_none(), "format 2 measures nothing");
    }
}
