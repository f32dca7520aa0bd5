//! An alert's one-line summary in Nynorsk (the agreements' language, and
//! what Alertmanager's notifications carry) or English (the viewer's
//! other language).

use crate::render::Lang;

use super::{Alert, Kind};

/// The summary of `alert` in `lang`.
pub fn summary(alert: &Alert, lang: Lang) -> String {
    let service = alert.service.as_deref().unwrap_or("-");
    let incident = alert.incident_id.as_deref().unwrap_or("-");
    let priority = alert.priority.as_deref().unwrap_or("-");
    let period = alert.period.as_deref().unwrap_or("-");
    let window = alert.window_id.as_deref().unwrap_or("-");
    let meeting = alert.meeting_id.as_deref().unwrap_or("-");
    let role = alert.role.as_deref().unwrap_or("-");
    let tenant = &alert.tenant;
    match lang {
        Lang::Nn => match alert.kind {
            Kind::ResponseWarning => format!("{tenant}: hending {incident} ({service}, {priority}) har brukt 75 % av responstida"),
            Kind::ResolutionWarning => format!("{tenant}: hending {incident} ({service}, {priority}) har brukt 75 % av løysingstida"),
            Kind::ResponseBreach => format!("{tenant}: hending {incident} ({service}, {priority}) har broten responstida"),
            Kind::ResolutionBreach => format!("{tenant}: hending {incident} ({service}, {priority}) har broten løysingstida"),
            Kind::AvailabilityBudget50 => format!("{tenant}: {service} har brukt 50 % av tillaten nedetid i {period}"),
            Kind::AvailabilityBudget75 => format!("{tenant}: {service} har brukt 75 % av tillaten nedetid i {period}"),
            Kind::AvailabilityBurnRate => format!("{tenant}: {service} brenn nedetid så fort at heile budsjettet for {period} er brukt innan eit døgn"),
            Kind::MaintenanceShortNotice => format!("{tenant}: vedlikehald {window} på {service} er varsla for seint"),
            Kind::OperationsMeetingDue => format!("{tenant}: driftsmøte manglar, og perioden som endar med {period} sluttar om under 14 dagar"),
            Kind::SteeringMeetingDue => format!("{tenant}: styringsgruppemøte manglar, og perioden som endar med {period} sluttar om under 14 dagar"),
            Kind::MinutesDue => format!("{tenant}: referat frå møte {meeting} skal vere levert innan 2 dagar"),
            Kind::ContactVacant => format!("{tenant}: rolla {role} ({service}) står utan kontaktperson"),
            Kind::ContactVacant24h => format!("{tenant}: rolla {role} ({service}) har stått utan kontaktperson i 24 timar"),
        },
        Lang::En => match alert.kind {
            Kind::ResponseWarning => format!("{tenant}: incident {incident} ({service}, {priority}) has used 75% of its response time"),
            Kind::ResolutionWarning => format!("{tenant}: incident {incident} ({service}, {priority}) has used 75% of its resolution time"),
            Kind::ResponseBreach => format!("{tenant}: incident {incident} ({service}, {priority}) breached its response time"),
            Kind::ResolutionBreach => format!("{tenant}: incident {incident} ({service}, {priority}) breached its resolution time"),
            Kind::AvailabilityBudget50 => format!("{tenant}: {service} has used 50% of its allowed downtime in {period}"),
            Kind::AvailabilityBudget75 => format!("{tenant}: {service} has used 75% of its allowed downtime in {period}"),
            Kind::AvailabilityBurnRate => format!("{tenant}: {service} burns downtime fast enough to use the whole budget of {period} within a day"),
            Kind::MaintenanceShortNotice => format!("{tenant}: maintenance {window} on {service} was announced with too little notice"),
            Kind::OperationsMeetingDue => format!("{tenant}: no operations meeting yet, and the window ending with {period} closes within 14 days"),
            Kind::SteeringMeetingDue => format!("{tenant}: no steering meeting yet, and the window ending with {period} closes within 14 days"),
            Kind::MinutesDue => format!("{tenant}: the minutes of meeting {meeting} are due within 2 days"),
            Kind::ContactVacant => format!("{tenant}: the role {role} ({service}) has no contact person"),
            Kind::ContactVacant24h => format!("{tenant}: the role {role} ({service}) has had no contact person for 24 hours"),
        },
    }
}
