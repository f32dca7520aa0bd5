//! [`compute`]: one tenant-month report from a ledger prefix.
//!
//! The tenant's events are sorted once by (`time`, ledger position) and
//! projected in one pass; each concern then reads the projection for the
//! period `[start, end)`, where `end` is the period's end bounded by the
//! horizon of a preliminary report. The manifest's ledger fields are left
//! for the caller, who knows the prefix. Format 2's parts (`story`) read
//! the same projection, the trend's twelve periods included.

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;
use schemas::agreement::Agreement;
use schemas::{format_instant, MeetingKind, Priority};

use crate::agreement::Versions;
use crate::incident::{
    evaluate, may_evaluate_from, resolution_measured, response_measured, Terms, Timeline, Verdict,
};
use crate::projection::{project, Projection};
use crate::report::{
    DataQuality, Deviation, Format, IncidentCounts, Manifest, Measure, NoticeMeasure, Report,
    ResolutionMeasure, ResponseMeasure, ServiceReport,
};
use crate::{availability, contact, governance, quality, story};
use crate::{Input, LedgerEvent, Period, ReportError, ENGINE_VERSION};

/// Everything the concerns of one report read.
pub(crate) struct Context<'a> {
    pub(crate) period: Period,
    pub(crate) tz: Tz,
    pub(crate) start: i64,
    /// The period's end, bounded by the horizon.
    pub(crate) end: i64,
    pub(crate) agreement: &'a Agreement,
    pub(crate) versions: &'a Versions<'a>,
    pub(crate) projection: &'a Projection<'a>,
}

/// Incident counts of one service, indexed by priority (P1 first).
type Counts = [IncidentCounts; 4];

/// The deviations found, each with what format 3 measured of it.
type Found = Vec<(Deviation, Option<Measure>)>;

/// The report of `input.tenant` for `input.period` in the current format,
/// `tla-report/3` (pure; see [`Input`]).
pub fn compute(input: &Input) -> Result<Report, ReportError> {
    compute_as(input, Format::default())
}

/// The report of `input.tenant` for `input.period` in `format`: what
/// regenerating a report issued or saved in an older format calls.
pub fn compute_as(input: &Input, format: Format) -> Result<Report, ReportError> {
    let mut mine: Vec<&LedgerEvent> = input
        .events
        .iter()
        .filter(|e| e.event.tenant == input.tenant)
        .collect();
    mine.sort_by_key(|e| (e.event.time, e.position));
    let versions = Versions::from_events(&mine);
    let (tz, start, agreement) = scope(input, &versions)?;
    let horizon = input.horizon;
    mine.retain(|e| horizon.is_none_or(|h| e.event.time <= h));
    let projection = project(&mine, &versions);
    let period_end = input.period.end(tz);
    let end = horizon.map_or(period_end, |h| h.min(period_end));
    let ctx = Context {
        period: input.period,
        tz,
        start,
        end,
        agreement,
        versions: &versions,
        projection: &projection,
    };
    let (services, deviations, measures) = figures(&ctx);
    let (set_aside, by_reason) = quality::count(&ctx.projection.set_aside, start, end);
    let mut report = Report {
        format: format.as_str().to_string(),
        tenant: input.tenant.to_string(),
        period: input.period.to_string(),
        timezone: tz.name().to_string(),
        period_start: format_instant(start),
        period_end: format_instant(period_end),
        agreement_version: agreement.version.clone(),
        preliminary: end < period_end,
        services,
        deviations,
        follow_up: None,
        story: None,
        measures: None,
        data_quality: DataQuality {
            set_aside,
            by_reason,
        },
        manifest: Manifest {
            ledger_size: 0,
            ledger_root: String::new(),
            tree_root: String::new(),
            engine_version: ENGINE_VERSION.to_string(),
            horizon: horizon.map(format_instant),
            report_digest: String::new(),
        },
    };
    if format >= Format::V2 {
        for s in &mut report.services {
            s.details = Some(story::service_details(&ctx, &s.service));
        }
        report.follow_up = Some(story::follow_up(&ctx, &report.deviations));
        report.story = Some(story::story(&ctx, &report));
    }
    if format >= Format::V3 {
        report.measures = Some(measures);
    }
    Ok(report)
}

/// The services and the sorted deviations of the period of `ctx`, with
/// what was measured of each deviation (format 3) in the same order.
pub(crate) fn figures(
    ctx: &Context<'_>,
) -> (Vec<ServiceReport>, Vec<Deviation>, Vec<Option<Measure>>) {
    let mut found = Found::new();
    let services = services(ctx, &mut found);
    {
        let mut deviations = Vec::new();
        governance_deviations(ctx, &mut deviations);
        contact_deviations(ctx, &mut deviations);
        found.extend(deviations.into_iter().map(|d| (d, None)));
    }
    found.sort_by(|a, b| a.0.sort_key().cmp(&b.0.sort_key()));
    let (deviations, measures) = found.into_iter().unzip();
    (services, deviations, measures)
}

/// The time zone, the period's start and the version in force then, or
/// why there is no report.
fn scope<'a>(
    input: &Input,
    versions: &Versions<'a>,
) -> Result<(Tz, i64, &'a Agreement), ReportError> {
    let tenant = input.tenant.to_string();
    let period = input.period.to_string();
    if !input.period.is_valid() {
        return Err(ReportError::InvalidPeriod { tenant, period });
    }
    let tz = match versions.timezone() {
        Ok(Some(tz)) => tz,
        Ok(None) => return Err(ReportError::NoAgreement { tenant, period }),
        Err(c) => {
            let versions = format!(
                "{:?} has {}, {:?} has {}",
                c.first_version,
                c.first_zone.name(),
                c.second_version,
                c.second_zone.name()
            );
            return Err(ReportError::TimezoneMismatch {
                tenant,
                period,
                versions,
            });
        }
    };
    let start = input.period.start(tz);
    let Some(agreement) = versions.in_force(start) else {
        return Err(ReportError::NoAgreement { tenant, period });
    };
    if let Some(h) = input.horizon.filter(|&h| h <= start) {
        let horizon = format_instant(h);
        return Err(ReportError::PeriodNotStarted {
            tenant,
            period,
            horizon,
        });
    }
    Ok((tz, start, agreement))
}

/// Every service of the agreement in force at the start, plus any with
/// incident counts, sorted by id; availability and incident deviations.
fn services(ctx: &Context<'_>, deviations: &mut Found) -> Vec<ServiceReport> {
    let counts = incident_counts(ctx, deviations);
    let ids: BTreeSet<&str> = ctx
        .agreement
        .services
        .iter()
        .map(|s| s.id.as_str())
        .chain(counts.keys().copied())
        .collect();
    let at = format_instant(ctx.end);
    ids.into_iter()
        .map(|id| {
            let service = ctx.agreement.service(id);
            let availability = service.and_then(|s| {
                availability::figures(ctx.agreement, s, ctx.projection, ctx.start, ctx.end)
            });
            if availability.as_ref().is_some_and(|a| !a.met) {
                let d = Deviation::AvailabilityBelowTarget {
                    at: at.clone(),
                    service: id.to_string(),
                };
                deviations.push((d, None));
            }
            if let Some(s) = service {
                for w in availability::short_notices(s, ctx.projection, ctx.start, ctx.end) {
                    let d = Deviation::MaintenanceShortNotice {
                        at: format_instant(w.start),
                        service: id.to_string(),
                        window_id: w.window_id.to_string(),
                    };
                    let measure = Measure::Notice(NoticeMeasure {
                        scheduled_at: format_instant(w.scheduled_at),
                        notice_seconds: w.start - w.scheduled_at,
                        notice_required_seconds: w.required,
                    });
                    deviations.push((d, Some(measure)));
                }
            }
            let by_priority = counts.get(id).copied().unwrap_or_default();
            ServiceReport {
                service: id.to_string(),
                availability,
                incidents: Priority::ALL
                    .iter()
                    .map(|p| (p.as_str().to_string(), by_priority[*p as usize]))
                    .collect(),
                details: None,
            }
        })
        .collect()
}

/// Incident counts per service (only services with a non-zero count), and
/// the breach deviations of the period.
fn incident_counts<'a>(ctx: &Context<'a>, deviations: &mut Found) -> BTreeMap<&'a str, Counts> {
    let mut counts: BTreeMap<&'a str, Counts> = BTreeMap::new();
    for incident in &ctx.projection.incidents {
        let timeline = &incident.timeline;
        if timeline.opened >= ctx.end {
            // Incidents are in processing order: every later one opens later.
            break;
        }
        let mut mine = Counts::default();
        if timeline.opened >= ctx.start {
            mine[timeline.priority as usize].opened += 1;
        }
        let terms = Terms::of(incident.agreement, incident.service);
        if let Some(terms) = terms.filter(|_| may_evaluate_from(timeline, ctx.start)) {
            let evaluation = evaluate(timeline, &terms, ctx.end);
            let in_period = |v: Option<Verdict>| v.filter(|v| v.at >= ctx.start);
            if let Some(v) = in_period(evaluation.response) {
                let c = &mut mine[v.priority as usize];
                *(if v.met {
                    &mut c.response_met
                } else {
                    &mut c.response_breached
                }) += 1;
                if !v.met {
                    let d = breach(incident.service, incident.id, v, true);
                    let m = response_measure(timeline, &terms, &v);
                    deviations.push((d, Some(m)));
                }
            }
            if let Some(v) = in_period(evaluation.resolution) {
                let c = &mut mine[v.priority as usize];
                *(if v.met {
                    &mut c.resolution_met
                } else {
                    &mut c.resolution_breached
                }) += 1;
                if !v.met {
                    let d = breach(incident.service, incident.id, v, false);
                    let m = resolution_measured(timeline, &terms, &v, ctx.end);
                    let m = Measure::Resolution(ResolutionMeasure {
                        target_seconds: m.target,
                        resolved_at: m.resolved.map(format_instant),
                        clock_seconds: m.clock,
                    });
                    deviations.push((d, Some(m)));
                }
            }
        }
        if mine.iter().any(|c| !c.is_zero()) {
            let total = counts.entry(incident.service).or_default();
            for (t, m) in total.iter_mut().zip(mine) {
                add(t, m);
            }
        }
    }
    counts
}

fn add(total: &mut IncidentCounts, more: IncidentCounts) {
    total.opened += more.opened;
    total.response_met += more.response_met;
    total.response_breached += more.response_breached;
    total.resolution_met += more.resolution_met;
    total.resolution_breached += more.resolution_breached;
}

/// What a late response measured, as format 3 writes it.
fn response_measure(timeline: &Timeline, terms: &Terms<'_>, v: &Verdict) -> Measure {
    let m = response_measured(timeline, terms, v);
    Measure::Response(ResponseMeasure {
        opened_at: format_instant(timeline.opened),
        target_seconds: m.target,
        responded_at: m.responded.map(format_instant),
        response_seconds: m.seconds,
    })
}

fn breach(service: &str, incident_id: &str, v: Verdict, response: bool) -> Deviation {
    let (at, service, incident_id, priority) = (
        format_instant(v.at),
        service.to_string(),
        incident_id.to_string(),
        v.priority.as_str().to_string(),
    );
    if response {
        Deviation::ResponseBreach {
            at,
            service,
            incident_id,
            priority,
        }
    } else {
        Deviation::ResolutionBreach {
            at,
            service,
            incident_id,
            priority,
        }
    }
}

fn governance_deviations(ctx: &Context<'_>, deviations: &mut Vec<Deviation>) {
    if let Some(g) = &ctx.agreement.governance {
        let at = format_instant(ctx.end);
        let scope = (ctx.period, ctx.tz);
        for kind in governance::missing_meetings(g, ctx.projection, ctx.versions, scope, ctx.end) {
            deviations.push(match kind {
                MeetingKind::Operations => Deviation::OperationsMeetingMissing { at: at.clone() },
                MeetingKind::Steering => Deviation::SteeringMeetingMissing { at: at.clone() },
            });
        }
    }
    for (meeting_id, due) in
        governance::missing_minutes(ctx.projection, ctx.versions, ctx.start, ctx.end)
    {
        deviations.push(Deviation::MinutesMissing {
            at: format_instant(due),
            meeting_id: meeting_id.to_string(),
        });
    }
}

fn contact_deviations(ctx: &Context<'_>, deviations: &mut Vec<Deviation>) {
    let at = format_instant(ctx.end);
    for v in contact::vacancies(ctx.agreement, ctx.projection, ctx.start, ctx.end) {
        deviations.push(Deviation::ContactVacant {
            at: at.clone(),
            role: v.role,
            service: v.service,
            vacant_seconds: v.seconds,
        });
    }
}
