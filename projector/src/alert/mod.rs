//! Alerts (varsling): the provider's duty to warn before a deviation and
//! to tell when one happened. Every kind of deviation has a warning ahead
//! of it, each with its threshold from the agreement or a documented
//! default (docs/SEMANTICS-NOTES.md, "Alerts"):
//!
//! - incidents (`incident`): 75% of the response and of the resolution
//!   target, and the breaches themselves;
//! - availability (`availability`): 50% and 75% of the month's error
//!   budget used, and a one-hour burn rate that would use the whole budget
//!   within a day; a maintenance window scheduled with too little notice;
//! - governance (`governance`): a meeting window ending within 14 days
//!   with no meeting held, minutes due within 2 days and not filed;
//! - contacts (`contact`): a required role vacant, and still vacant a day
//!   later.
//!
//! Pure, like the engine: the tenant's events and the moment `now` in,
//! the alerts that fired or ended in `[since, now]` out. The state at an
//! instant t is the state after every event with `time <= t`
//! (SEMANTICS.md section 11), so an alert fires at the first instant its
//! condition holds, and ends (`ends`) at the first instant it no longer
//! does, when that has happened by `now`. An alert's id is derived from
//! what it says (tenant, kind, subject and instant or period), so the same
//! alert derived again (next tick, after a restart) has the same id and is
//! not sent twice. Each alert names the contacts responsible at its
//! instant from the living roster (section 9), with the e-mail and phone
//! of their `contact.assigned`.

mod availability;
mod contact;
mod governance;
mod incident;
mod text;

use serde::{Deserialize, Serialize};

use crate::agreement::Versions;
use crate::contact::Side;
use crate::projection::{project, Holding, Projection};
use crate::LedgerEvent;

pub use text::summary;

/// The share of a response or resolution target at which the warning is
/// raised, as (numerator, denominator): 75%.
pub const WARNING_SHARE: (i64, i64) = (3, 4);

/// A day in seconds, as the thresholds below count it (wall clock).
pub const DAY_SECONDS: i64 = 86_400;

/// How long before a governance window ends the meeting warning fires
/// when no meeting of that kind is held in it (the 14 days).
pub const MEETING_WARNING_SECONDS: i64 = 14 * DAY_SECONDS;

/// How long before the minutes are due the minutes warning fires when
/// they are not filed (the 2 days).
pub const MINUTES_WARNING_SECONDS: i64 = 2 * DAY_SECONDS;

/// How long a required role stays vacant before the second, critical
/// contact alert (the 24 hours).
pub const VACANCY_REMINDER_SECONDS: i64 = DAY_SECONDS;

/// The error-budget shares at which a guaranteed service is warned, as
/// (numerator, denominator, kind).
pub const BUDGET_SHARES: [(i64, i64, Kind); 2] = [
    (1, 2, Kind::AvailabilityBudget50),
    (3, 4, Kind::AvailabilityBudget75),
];

/// The burn-rate window: the downtime of the last hour...
pub const BURN_WINDOW_SECONDS: i64 = 3600;

/// ...which, kept up, would use the month's whole budget within a day
/// (the fast-burn alert of the SRE book's multi-window practice: a burn
/// rate of 24 budgets per day).
pub const BURN_HORIZON_SECONDS: i64 = DAY_SECONDS;

/// Most periods scanned for period-bound alerts (budgets, meetings) in
/// one call: a year and a half covers `tla demo`'s year and every live
/// look-back, and bounds the work of a call with a far `since`.
pub const PERIODS_MAX: i32 = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The response clock reached 75% of the target.
    ResponseWarning,
    /// The resolution clock reached 75% of the target.
    ResolutionWarning,
    ResponseBreach,
    ResolutionBreach,
    /// Half the month's allowed downtime is used.
    #[serde(rename = "availability_budget_50")]
    AvailabilityBudget50,
    /// Three quarters of the month's allowed downtime are used.
    #[serde(rename = "availability_budget_75")]
    AvailabilityBudget75,
    /// The last hour's downtime, kept up, would use the month's budget
    /// within a day.
    AvailabilityBurnRate,
    /// A maintenance window scheduled with less notice than the agreement's.
    MaintenanceShortNotice,
    /// The operations meeting window ends within 14 days, no meeting held.
    OperationsMeetingDue,
    /// The same for the steering group.
    SteeringMeetingDue,
    /// Minutes due within 2 days and not filed.
    MinutesDue,
    /// A required role has no holder.
    ContactVacant,
    /// A required role has had no holder for 24 hours.
    #[serde(rename = "contact_vacant_24h")]
    ContactVacant24h,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::ResponseWarning,
        Kind::ResolutionWarning,
        Kind::ResponseBreach,
        Kind::ResolutionBreach,
        Kind::AvailabilityBudget50,
        Kind::AvailabilityBudget75,
        Kind::AvailabilityBurnRate,
        Kind::MaintenanceShortNotice,
        Kind::OperationsMeetingDue,
        Kind::SteeringMeetingDue,
        Kind::MinutesDue,
        Kind::ContactVacant,
        Kind::ContactVacant24h,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ResponseWarning => "response_warning",
            Kind::ResolutionWarning => "resolution_warning",
            Kind::ResponseBreach => "response_breach",
            Kind::ResolutionBreach => "resolution_breach",
            Kind::AvailabilityBudget50 => "availability_budget_50",
            Kind::AvailabilityBudget75 => "availability_budget_75",
            Kind::AvailabilityBurnRate => "availability_burn_rate",
            Kind::MaintenanceShortNotice => "maintenance_short_notice",
            Kind::OperationsMeetingDue => "operations_meeting_due",
            Kind::SteeringMeetingDue => "steering_meeting_due",
            Kind::MinutesDue => "minutes_due",
            Kind::ContactVacant => "contact_vacant",
            Kind::ContactVacant24h => "contact_vacant_24h",
        }
    }

    /// `critical` for what has happened or is about to page everyone (a
    /// breach, a fast burn, a role vacant for a day), `warning` for the rest.
    pub fn severity(self) -> Severity {
        match self {
            Kind::ResponseBreach
            | Kind::ResolutionBreach
            | Kind::AvailabilityBurnRate
            | Kind::ContactVacant24h => Severity::Critical,
            _ => Severity::Warning,
        }
    }
}

/// How urgent an alert is: Alertmanager routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A person responsible for what an alert is about, at its instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responsible {
    pub role: String,
    /// `None` for a tenant-wide role.
    pub service: Option<String>,
    pub person: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One alert, as published on `tla.alerts.<tenant>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Derived from the content (tenant, subject, kind, instant or
    /// period): the same alert always has the same id.
    pub id: String,
    pub tenant: String,
    pub kind: Kind,
    pub severity: Severity,
    /// `None` for tenant-wide alerts (meetings, minutes, tenant roles).
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// The priority in force at `at` (incident alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The period (`YYYY-MM`) of period-bound alerts (budgets, meetings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// When the alert fired (UTC `Z`).
    pub at: String,
    /// When it stopped being in force (UTC `Z`), once that happened:
    /// the incident resolved, the role filled, the meeting held, the
    /// period over.
    #[serde(default)]
    pub ends: Option<String>,
    /// Who is responsible at `at`: the service's owners, the tenant's
    /// contacts, and the provider's tenant-wide roles (the account owner)
    /// for critical and tenant-wide alerts.
    #[serde(default)]
    pub contacts: Vec<Responsible>,
}

impl Alert {
    /// The key one state of this alert is published under: the id while
    /// it fires, and the id with its end once ended, so the end is a
    /// message of its own.
    pub fn message_id(&self) -> String {
        match &self.ends {
            None => self.id.clone(),
            Some(ends) => format!("{}/ended/{ends}", self.id),
        }
    }
}

/// An alert before it is written: instants as unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found<'a> {
    kind: Kind,
    service: Option<&'a str>,
    /// The subject that tells alerts of one kind apart: incident, window,
    /// meeting, role, or the period.
    subject: Subject<'a>,
    priority: Option<&'static str>,
    at: i64,
    ends: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject<'a> {
    Incident(&'a str),
    Window(&'a str),
    Meeting(&'a str),
    Role(&'a str),
    Period(crate::Period),
}

/// What `alerts` found for a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Sorted by (`at`, id).
    pub alerts: Vec<Alert>,
    /// Whether the tenant has an agreement: clocks then keep running (an
    /// incident's, a budget's, a meeting window's), so a later scan may
    /// find more even without new events.
    pub clocks_running: bool,
}

/// The tenant's alerts that fired or ended in `[since, now]` (fired at or
/// before `now`).
pub fn alerts(tenant: &str, events: &[LedgerEvent], now: i64, since: i64) -> Scan {
    let mut mine: Vec<&LedgerEvent> = events
        .iter()
        .filter(|e| e.event.tenant == tenant && e.event.time <= now)
        .collect();
    mine.sort_by_key(|e| (e.event.time, e.position));
    let versions = Versions::from_events(&mine);
    let projection = project(&mine, &versions);
    let mut found = incident::found(&projection, now);
    let window = (since, now);
    if let Ok(Some(tz)) = versions.timezone() {
        found.extend(availability::found(&projection, &versions, tz, window));
        found.extend(governance::found(&projection, &versions, tz, window));
    }
    found.extend(contact::found(&projection, &versions, now));
    let mut scan = Scan {
        alerts: Vec::new(),
        clocks_running: !versions.is_empty(),
    };
    for f in found {
        let recent = |t: i64| since <= t && t <= now;
        if f.at > now || !(recent(f.at) || f.ends.is_some_and(recent)) {
            continue;
        }
        scan.alerts.push(written(tenant, &projection, f));
    }
    scan.alerts
        .sort_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)));
    scan
}

/// The alert `f` of `tenant`, with its id and the contacts responsible.
fn written(tenant: &str, projection: &Projection<'_>, f: Found<'_>) -> Alert {
    use schemas::format_instant;
    let at = format_instant(f.at);
    let kind = f.kind.as_str();
    let service = f.service.unwrap_or("-");
    let id = match &f.subject {
        // The incident alerts keep the ids they always had.
        Subject::Incident(i) => format!("{tenant}/{i}/{kind}/{at}"),
        Subject::Window(w) => format!("{tenant}/{service}/{w}/{kind}/{at}"),
        Subject::Meeting(m) => format!("{tenant}/{m}/{kind}"),
        Subject::Role(r) => format!("{tenant}/{r}/{service}/{kind}/{at}"),
        Subject::Period(p) => format!("{tenant}/{service}/{kind}/{p}/{at}"),
    };
    let mut parts: [Option<String>; 5] = Default::default();
    let (slot, value) = match &f.subject {
        Subject::Incident(i) => (0, i.to_string()),
        Subject::Window(w) => (1, w.to_string()),
        Subject::Meeting(m) => (2, m.to_string()),
        Subject::Role(r) => (3, r.to_string()),
        Subject::Period(p) => (4, p.to_string()),
    };
    parts[slot] = Some(value);
    let [incident_id, window_id, meeting_id, role, period] = parts;
    Alert {
        id,
        tenant: tenant.to_owned(),
        kind: f.kind,
        severity: f.kind.severity(),
        service: f.service.map(str::to_owned),
        incident_id,
        priority: f.priority.map(str::to_owned),
        window_id,
        meeting_id,
        role,
        period,
        at,
        ends: f.ends.map(format_instant),
        contacts: responsible(projection, f.kind, f.service, f.at),
    }
}

/// The holders at `at` of the roles answerable for an alert: every role of
/// its service, the tenant's own tenant-wide roles, and the provider's
/// tenant-wide roles (the account owner) when it is critical or concerns
/// no single service. Sorted by (role, service).
fn responsible(
    projection: &Projection<'_>,
    kind: Kind,
    service: Option<&str>,
    at: i64,
) -> Vec<Responsible> {
    let provider_too = kind.severity() == Severity::Critical || service.is_none();
    projection
        .contacts
        .iter()
        .filter(|((role, s), _)| match s {
            Some(s) => Some(*s) == service,
            None => match Side::of(role) {
                Side::Tenant => true,
                Side::Provider => provider_too,
                Side::Other => false,
            },
        })
        .filter_map(|(&(role, s), holding)| {
            let (person, email, phone) = holder_at(holding, at)?;
            Some(Responsible {
                role: role.to_owned(),
                service: s.map(str::to_owned),
                person: person.to_owned(),
                email: email.map(str::to_owned),
                phone: phone.map(str::to_owned),
            })
        })
        .collect()
}

/// The holder of a role at instant `at` (after every change with time
/// `<= at`), with the e-mail and phone of their assignment.
type Holder<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

fn holder_at<'a>(h: &Holding<'a>, at: i64) -> Option<Holder<'a>> {
    let held = h
        .changes
        .iter()
        .rev()
        .find(|&&(t, _)| t <= at)
        .is_some_and(|&(_, held)| held);
    let i = h.holders.iter().rposition(|&(t, _)| t <= at)?;
    let (email, phone) = h.reach.get(i).copied().unwrap_or((None, None));
    held.then_some((h.holders[i].1, email, phone))
}
