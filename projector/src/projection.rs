//! The one pass over a tenant's events that builds the state every figure
//! is read from (SEMANTICS.md sections 5 and 11).
//!
//! Events are applied in order of (`time`, ledger position). Each event is
//! either accepted, changing the state, or set aside with a [`Reason`] and
//! changing nothing. What remains is plain data: outages with their
//! intervals, the latest schedule of each maintenance window, incident
//! timelines, meetings with their minutes, and the holding of each contact
//! role. The concerns (`availability`, `incident`, `governance`,
//! `contact`) read it per period.

use std::collections::{BTreeMap, BTreeSet};

use schemas::agreement::Agreement;
use schemas::{Event, EventData, Impact, MeetingKind, Party, Priority};

use crate::agreement::Versions;
use crate::incident::{Change, State, Timeline};
use crate::quality::Reason;
use crate::LedgerEvent;

/// An accepted outage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage<'a> {
    pub service: &'a str,
    pub id: &'a str,
    pub impact: Impact,
    pub start: i64,
    /// `None` while still open in the prefix.
    pub end: Option<i64>,
}

/// The latest schedule of a maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<'a> {
    pub service: &'a str,
    /// `time` of the latest `maintenance.scheduled`.
    pub scheduled_at: i64,
    pub start: i64,
    pub end: i64,
    /// `time` of the accepted cancel since the latest schedule.
    pub cancelled_at: Option<i64>,
}

/// An accepted incident.
#[derive(Debug, Clone)]
pub struct Incident<'a> {
    pub id: &'a str,
    pub service: &'a str,
    /// The version in force at the opening instant.
    pub agreement: &'a Agreement,
    pub timeline: Timeline,
    state: State,
    responded: bool,
}

/// An accepted meeting and its accepted minutes filings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting<'a> {
    pub id: &'a str,
    pub kind: MeetingKind,
    pub held: i64,
    /// `time` of each accepted `minutes.filed`, in processing order.
    pub filings: Vec<i64>,
    /// The minutes' `digest` of each filing, in the order of `filings`.
    pub digests: Vec<&'a str>,
}

/// An accepted corrective action (SEMANTICS.md section 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub owner: &'a str,
    pub due: i64,
    /// `time` of the accepted `action.opened`.
    pub opened: i64,
    pub deviation_ids: &'a [String],
    /// `(time, outcome)` of the accepted `action.closed`.
    pub closed: Option<(i64, &'a str)>,
}

/// A `deviation.explained`: never set aside; the last one of an id wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained<'a> {
    pub time: i64,
    pub deviation_id: &'a str,
    pub cause: &'a str,
    pub action_id: Option<&'a str>,
}

/// A contact role (with its service for per-service roles).
pub type RoleKey<'a> = (&'a str, Option<&'a str>);

/// The holding of a role: `(time, held)` after each accepted change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holding<'a> {
    pub changes: Vec<(i64, bool)>,
    /// `(time, person)` of each accepted assignment, in processing order
    /// (who holds the role is read from here; vacancy from `changes`).
    pub holders: Vec<(i64, &'a str)>,
    /// `(email, phone)` of each assignment, in the order of `holders`:
    /// how alerts reach the holder (SEMANTICS.md section 12).
    pub reach: Vec<(Option<&'a str>, Option<&'a str>)>,
}

impl Holding<'_> {
    /// Whether the role is held after the last accepted change.
    pub fn held(&self) -> bool {
        self.changes.last().is_some_and(|&(_, held)| held)
    }
}

/// The state after every accepted event, and the events set aside.
#[derive(Debug, Clone, Default)]
pub struct Projection<'a> {
    pub outages: Vec<Outage<'a>>,
    open_outages: BTreeMap<&'a str, usize>,
    pub windows: BTreeMap<&'a str, Window<'a>>,
    pub incidents: Vec<Incident<'a>>,
    incident_ids: BTreeMap<&'a str, usize>,
    pub meetings: Vec<Meeting<'a>>,
    meeting_ids: BTreeMap<&'a str, usize>,
    pub contacts: BTreeMap<RoleKey<'a>, Holding<'a>>,
    pub actions: Vec<Action<'a>>,
    action_ids: BTreeMap<&'a str, usize>,
    /// In processing order.
    pub explanations: Vec<Explained<'a>>,
    /// The accepted approvals: (version, party).
    approvals: BTreeSet<(&'a str, Party)>,
    /// `(time, reason)` of every set-aside event, in processing order.
    pub set_aside: Vec<(i64, Reason)>,
}

/// The reason of highest precedence among those whose check holds.
fn verdict(checks: &[(Reason, bool)]) -> Result<(), Reason> {
    match Reason::PRECEDENCE
        .into_iter()
        .find(|r| checks.contains(&(*r, true)))
    {
        Some(r) => Err(r),
        None => Ok(()),
    }
}

/// Applies `events`, already sorted by (`time`, position).
pub fn project<'a>(events: &[&'a LedgerEvent], versions: &Versions<'a>) -> Projection<'a> {
    let mut p = Projection::default();
    for e in events {
        if let Err(reason) = p.apply(&e.event, versions) {
            p.set_aside.push((e.event.time, reason));
        }
    }
    p
}

/// The incident and change of an incident follow-up event.
fn incident_change(data: &EventData) -> Option<(&str, Change)> {
    let (id, change) = match data {
        EventData::IncidentResponded { incident_id } => (incident_id, Change::Responded),
        EventData::IncidentOnHold { incident_id, .. } => (incident_id, Change::OnHold),
        EventData::IncidentResumed { incident_id } => (incident_id, Change::Resumed),
        EventData::IncidentPriorityChanged {
            incident_id,
            priority,
        } => (incident_id, Change::Priority(*priority)),
        EventData::IncidentResolved { incident_id } => (incident_id, Change::Resolved),
        EventData::IncidentReopened { incident_id } => (incident_id, Change::Reopened),
        _ => return None,
    };
    Some((id.as_str(), change))
}

/// Whether `service` is in the version in force at `t`.
fn known_service(versions: &Versions<'_>, t: i64, service: &str) -> bool {
    versions
        .in_force(t)
        .is_some_and(|a| a.service(service).is_some())
}

impl<'a> Projection<'a> {
    fn apply(&mut self, e: &'a Event, versions: &Versions<'a>) -> Result<(), Reason> {
        let t = e.time;
        if let Some((id, change)) = incident_change(&e.data) {
            return self.incident_change(t, id, change);
        }
        match &e.data {
            EventData::OutageStarted {
                service,
                outage_id,
                impact,
            } => self.outage_started(t, service, outage_id, *impact, versions),
            EventData::OutageEnded { service, outage_id } => {
                self.outage_ended(t, service, outage_id)
            }
            EventData::MaintenanceScheduled {
                service,
                window_id,
                start,
                end,
            } => {
                verdict(&[(Reason::UnknownService, !known_service(versions, t, service))])?;
                let window = Window {
                    service,
                    scheduled_at: t,
                    start: *start,
                    end: *end,
                    cancelled_at: None,
                };
                self.windows.insert(window_id, window);
                Ok(())
            }
            EventData::MaintenanceCancelled { service, window_id } => {
                self.maintenance_cancelled(t, service, window_id)
            }
            EventData::IncidentOpened {
                incident_id,
                service,
                priority,
            } => self.incident_opened(t, incident_id, service, *priority, versions),
            EventData::MeetingHeld { meeting_id, kind } => self.meeting_held(t, meeting_id, *kind),
            EventData::MinutesFiled { meeting_id, digest } => {
                self.minutes_filed(t, meeting_id, digest)
            }
            EventData::ContactAssigned {
                role,
                service,
                person,
                email,
                phone,
            } => {
                let unknown = service
                    .as_deref()
                    .is_some_and(|s| !known_service(versions, t, s));
                verdict(&[(Reason::UnknownService, unknown)])?;
                let key = (role.as_str(), service.as_deref());
                let holding = self.contacts.entry(key).or_default();
                holding.changes.push((t, true));
                holding.holders.push((t, person.as_str()));
                holding.reach.push((email.as_deref(), phone.as_deref()));
                Ok(())
            }
            EventData::ContactVacated { role, service } => {
                let key = (role.as_str(), service.as_deref());
                let holding = self.contacts.get_mut(&key).filter(|h| h.held());
                verdict(&[(Reason::UnknownOrClosedId, holding.is_none())])?;
                if let Some(h) = holding {
                    h.changes.push((t, false));
                }
                Ok(())
            }
            // Agreements and issued reports take no part in projection.
            EventData::AgreementPublished(_) | EventData::ReportIssued { .. } => Ok(()),
            // The follow-up of SEMANTICS.md section 12 changes no state of
            // sections 6-9; explanations and acknowledgements are never
            // set aside.
            EventData::DeviationExplained {
                deviation_id,
                cause,
                action_id,
            } => {
                self.explanations.push(Explained {
                    time: t,
                    deviation_id,
                    cause,
                    action_id: action_id.as_deref(),
                });
                Ok(())
            }
            EventData::ActionOpened {
                action_id,
                title,
                owner,
                due,
                deviation_ids,
            } => {
                verdict(&[(
                    Reason::DuplicateStart,
                    self.action_ids.contains_key(action_id.as_str()),
                )])?;
                self.action_ids.insert(action_id, self.actions.len());
                self.actions.push(Action {
                    id: action_id,
                    title,
                    owner,
                    due: *due,
                    opened: t,
                    deviation_ids,
                    closed: None,
                });
                Ok(())
            }
            EventData::ActionClosed { action_id, outcome } => {
                let i = self.action_ids.get(action_id.as_str()).copied();
                let open = i.filter(|&i| self.actions[i].closed.is_none());
                verdict(&[(Reason::UnknownOrClosedId, open.is_none())])?;
                if let Some(i) = open {
                    self.actions[i].closed = Some((t, outcome.as_str()));
                }
                Ok(())
            }
            EventData::ReportAcknowledged { .. } => Ok(()),
            EventData::AgreementApproved { version, party, .. } => {
                let key = (version.as_str(), *party);
                verdict(&[
                    (Reason::UnknownOrClosedId, !versions.is_published(version)),
                    (Reason::DuplicateStart, self.approvals.contains(&key)),
                ])?;
                self.approvals.insert(key);
                Ok(())
            }
            // Handled through `incident_change` above.
            EventData::IncidentResponded { .. }
            | EventData::IncidentOnHold { .. }
            | EventData::IncidentResumed { .. }
            | EventData::IncidentPriorityChanged { .. }
            | EventData::IncidentResolved { .. }
            | EventData::IncidentReopened { .. } => Ok(()),
        }
    }

    fn maintenance_cancelled(&mut self, t: i64, service: &str, id: &str) -> Result<(), Reason> {
        let w = self.windows.get_mut(id);
        let open = w.as_ref().is_some_and(|w| w.cancelled_at.is_none());
        let mismatch = w.as_ref().is_some_and(|w| w.service != service);
        verdict(&[
            (Reason::UnknownOrClosedId, !open),
            (Reason::ServiceMismatch, mismatch),
        ])?;
        if let Some(w) = w {
            w.cancelled_at = Some(t);
        }
        Ok(())
    }

    fn minutes_filed(&mut self, t: i64, meeting_id: &str, digest: &'a str) -> Result<(), Reason> {
        let i = self.meeting_ids.get(meeting_id).copied();
        verdict(&[(Reason::UnknownOrClosedId, i.is_none())])?;
        if let Some(i) = i {
            self.meetings[i].filings.push(t);
            self.meetings[i].digests.push(digest);
        }
        Ok(())
    }

    fn outage_started(
        &mut self,
        t: i64,
        service: &'a str,
        id: &'a str,
        impact: Impact,
        versions: &Versions<'a>,
    ) -> Result<(), Reason> {
        verdict(&[
            (Reason::UnknownService, !known_service(versions, t, service)),
            (Reason::DuplicateStart, self.open_outages.contains_key(id)),
        ])?;
        self.open_outages.insert(id, self.outages.len());
        self.outages.push(Outage {
            service,
            id,
            impact,
            start: t,
            end: None,
        });
        Ok(())
    }

    fn outage_ended(&mut self, t: i64, service: &str, id: &str) -> Result<(), Reason> {
        let open = self.open_outages.get(id).copied();
        let mismatch = open.is_some_and(|i| self.outages[i].service != service);
        verdict(&[
            (Reason::UnknownOrClosedId, open.is_none()),
            (Reason::ServiceMismatch, mismatch),
        ])?;
        if let Some(i) = open {
            self.outages[i].end = Some(t);
            self.open_outages.remove(id);
        }
        Ok(())
    }

    fn incident_opened(
        &mut self,
        t: i64,
        id: &'a str,
        service: &'a str,
        priority: Priority,
        versions: &Versions<'a>,
    ) -> Result<(), Reason> {
        let agreement = versions
            .in_force(t)
            .filter(|a| a.service(service).is_some());
        verdict(&[
            (Reason::UnknownService, agreement.is_none()),
            (Reason::DuplicateStart, self.incident_ids.contains_key(id)),
        ])?;
        let Some(agreement) = agreement else {
            return Err(Reason::UnknownService);
        };
        self.incident_ids.insert(id, self.incidents.len());
        self.incidents.push(Incident {
            id,
            service,
            agreement,
            timeline: Timeline {
                opened: t,
                priority,
                changes: Vec::new(),
            },
            state: State::Running,
            responded: false,
        });
        Ok(())
    }

    fn incident_change(&mut self, t: i64, id: &str, change: Change) -> Result<(), Reason> {
        let Some(&i) = self.incident_ids.get(id) else {
            return Err(Reason::UnknownOrClosedId);
        };
        let incident = &mut self.incidents[i];
        let state = incident.state;
        let allowed = match change {
            Change::Priority(_) => true,
            Change::Responded => {
                verdict(&[(Reason::DuplicateStart, incident.responded)])?;
                true
            }
            Change::OnHold => state == State::Running,
            Change::Resumed => state == State::OnHold,
            Change::Resolved => state != State::Resolved,
            Change::Reopened => state == State::Resolved,
        };
        verdict(&[(Reason::InvalidTransition, !allowed)])?;
        incident.state = change.next_state(state);
        incident.responded |= change == Change::Responded;
        incident.timeline.changes.push((t, change));
        Ok(())
    }

    fn meeting_held(&mut self, t: i64, id: &'a str, kind: MeetingKind) -> Result<(), Reason> {
        verdict(&[(Reason::DuplicateStart, self.meeting_ids.contains_key(id))])?;
        self.meeting_ids.insert(id, self.meetings.len());
        self.meetings.push(Meeting {
            id,
            kind,
            held: t,
            filings: Vec::new(),
            digests: Vec::new(),
        });
        Ok(())
    }
}
