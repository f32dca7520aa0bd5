//! `tla contacts` as text: who holds each role of a tenant's agreement at
//! an instant, one plain table per side, in the agreement's time zone.

use projector::contact::{Roster, Side};
use projector::LedgerEvent;

/// The agreement's time zone, UTC without one.
pub fn timezone(events: &[LedgerEvent]) -> String {
    let refs: Vec<&LedgerEvent> = events.iter().collect();
    match projector::agreement::Versions::from_events(&refs).timezone() {
        Ok(Some(tz)) => tz.name().to_string(),
        _ => "UTC".to_string(),
    }
}

/// The roster as a plain table per side.
pub fn render(tenant: &str, roster: &Roster, timezone: &str) -> String {
    let at = projector::render::when(&schemas::format_instant(roster.at), timezone);
    let name = match demo::tenant_display_name(tenant) {
        "" => tenant.to_string(),
        name => format!("{name} ({tenant})"),
    };
    let mut out = format!(
        "Contact persons of {name} at {} ({}), agreement version {}\n",
        at.local,
        at.utc,
        roster
            .agreement_version
            .as_deref()
            .unwrap_or("none in force")
    );
    for (side, title) in [
        (Side::Provider, "The provider"),
        (Side::Tenant, "The municipality"),
        (Side::Other, "Other roles"),
    ] {
        let rows: Vec<_> = roster.roles.iter().filter(|r| r.side == side).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{title}:\n  {:<26} {:<20} {:<24} since\n",
            "role", "service", "person"
        ));
        for r in rows {
            let since = r.since.map_or_else(
                || "never held".to_string(),
                |t| projector::render::when(&schemas::format_instant(t), timezone).local,
            );
            let role = if r.required {
                r.role.clone()
            } else {
                format!("{} (not required)", r.role)
            };
            out.push_str(&format!(
                "  {:<26} {:<20} {:<24} {since}\n",
                role,
                r.service.as_deref().unwrap_or("(whole agreement)"),
                r.person.as_deref().unwrap_or("VACANT"),
            ));
        }
    }
    out
}
