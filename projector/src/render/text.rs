//! Every word a reader sees, in Nynorsk and English, kept in one place so
//! that the Markdown, HTML and CSV renderers say the same thing in the
//! same words and a translator reviews one file.
//!
//! Fixed labels live in a [`Text`] table per language; phrases built
//! around report data (deviation descriptions, targets, plurals) are
//! small functions taking the data as plain strings, so the renderers
//! escape the finished phrase once. The Nynorsk follows the project's
//! glossary: tenestenivåavtale, avvik, driftsmøte, styringsgruppemøte,
//! referat, kontaktperson, teneste, tilgjengelegheit, responstid,
//! løysingstid, hendingar (incidents), planlagt vedlikehald, varsel.
//! Ledger events are "meldingar" in Nynorsk, so that "hendingar" always
//! means incidents.

use super::Lang;

/// The fixed labels of one language.
pub struct Text {
    pub title: &'static str,
    pub preliminary: &'static str,
    pub tenant: &'static str,
    pub period: &'static str,
    pub period_utc: &'static str,
    pub agreement_version: &'static str,
    pub timezone: &'static str,
    pub summary: &'static str,
    pub deviations: &'static str,
    pub no_deviations: &'static str,
    pub number: &'static str,
    pub when_local: &'static str,
    pub when_utc: &'static str,
    pub deviation: &'static str,
    pub service: &'static str,
    pub description: &'static str,
    pub target: &'static str,
    pub measured: &'static str,
    pub availability: &'static str,
    pub achieved: &'static str,
    pub downtime: &'static str,
    pub excluded: &'static str,
    pub window: &'static str,
    pub result: &'static str,
    pub met: &'static str,
    pub not_met: &'static str,
    pub not_measurable: &'static str,
    pub achieved_formula: &'static str,
    pub no_availability: &'static str,
    pub no_guarantees: &'static str,
    pub incidents: &'static str,
    pub no_incidents: &'static str,
    pub priority: &'static str,
    pub opened: &'static str,
    pub response_met: &'static str,
    pub response_breached: &'static str,
    pub resolution_met: &'static str,
    pub resolution_breached: &'static str,
    pub data_quality: &'static str,
    pub nothing_set_aside: &'static str,
    /// Table captions (HTML), more than the section heading says.
    pub caption_deviations: &'static str,
    pub caption_availability: &'static str,
    pub caption_incidents: &'static str,
    pub caption_set_aside: &'static str,
    pub set_aside_total: &'static str,
    pub reason: &'static str,
    pub count: &'static str,
    pub manifest: &'static str,
    pub ledger_size: &'static str,
    pub ledger_root: &'static str,
    pub tree_root: &'static str,
    pub report_format: &'static str,
    pub engine_version: &'static str,
    pub horizon: &'static str,
    pub no_horizon: &'static str,
    pub report_digest: &'static str,
    pub whole_agreement: &'static str,
    pub status_preliminary: &'static str,
    pub status_final: &'static str,
    pub unit_count: &'static str,
    pub day_unit: &'static str,
    pub hour_unit: &'static str,
    /// CSV `section` values.
    pub section_availability: &'static str,
    pub section_incidents: &'static str,
    pub section_deviations: &'static str,
    pub section_data_quality: &'static str,
    /// The CSV header row, in column order (see `csv.rs`).
    pub csv_header: [&'static str; 18],
}

pub const NN: Text = Text {
    title: "Tenestenivårapport",
    preliminary: "Førebels",
    tenant: "Kunde",
    period: "Periode",
    period_utc: "Periode (UTC)",
    agreement_version: "Avtaleversjon",
    timezone: "Tidssone",
    summary: "Samandrag",
    deviations: "Avvik",
    no_deviations: "Ingen avvik i perioden.",
    number: "Nr.",
    when_local: "Når",
    when_utc: "Når (UTC)",
    deviation: "Avvik",
    service: "Teneste",
    description: "Skildring",
    target: "Mål",
    measured: "Målt",
    availability: "Tilgjengelegheit",
    achieved: "Oppnådd",
    downtime: "Nedetid",
    excluded: "Planlagt vedlikehald",
    window: "Kalendertid",
    result: "Resultat",
    met: "Oppfylt",
    not_met: "Ikkje oppfylt",
    not_measurable: "ingen målbar tid i perioden",
    achieved_formula: "Oppnådd = (kalendertid − planlagt vedlikehald − nedetid) / (kalendertid − planlagt vedlikehald), avkorta til tre desimalar. Planlagt vedlikehald tel berre når det er varsla i tide.",
    no_availability: "Utan tilgjengelegheitsgaranti",
    no_guarantees: "Ingen teneste har tilgjengelegheitsgaranti i perioden.",
    incidents: "Hendingar",
    no_incidents: "Ingen hendingar i perioden.",
    priority: "Prioritet",
    opened: "Oppretta",
    response_met: "Responstid oppfylt",
    response_breached: "Responstid ikkje oppfylt",
    resolution_met: "Løysingstid oppfylt",
    resolution_breached: "Løysingstid ikkje oppfylt",
    data_quality: "Datakvalitet",
    nothing_set_aside: "Ingen meldingar vart sette til side.",
    caption_deviations: "Avvik i perioden",
    caption_availability: "Tilgjengelegheit per teneste",
    caption_incidents: "Hendingar per teneste og prioritet (rader med berre null er utelatne)",
    caption_set_aside: "Meldingar sette til side, etter grunn",
    set_aside_total: "Meldingar sette til side, i alt",
    reason: "Grunn",
    count: "Tal",
    manifest: "Stadfesting",
    ledger_size: "Loggstorleik (oppføringar)",
    ledger_root: "Loggrot",
    tree_root: "Merkle-rot (kontrollpunkt)",
    report_format: "Rapportformat",
    engine_version: "Motorversjon",
    horizon: "Horisont",
    no_horizon: "– (perioden var slutt)",
    report_digest: "Kontrollsum (BLAKE3)",
    whole_agreement: "heile avtalen",
    status_preliminary: "førebels",
    status_final: "endeleg",
    unit_count: "tal",
    day_unit: "døgn",
    hour_unit: "t",
    section_availability: "tilgjengelegheit",
    section_incidents: "hendingar",
    section_deviations: "avvik",
    section_data_quality: "datakvalitet",
    csv_header: [
        "kunde",
        "periode",
        "status",
        "del",
        "teneste",
        "prioritet",
        "kode",
        "skildring",
        "verdi",
        "eining",
        "mål",
        "resultat",
        "tid_utc",
        "tid_lokal",
        "hending",
        "vedlikehaldsvindauge",
        "møte",
        "rolle",
    ],
};

pub const EN: Text = Text {
    title: "Service level report",
    preliminary: "Preliminary",
    tenant: "Tenant",
    period: "Period",
    period_utc: "Period (UTC)",
    agreement_version: "Agreement version",
    timezone: "Time zone",
    summary: "Summary",
    deviations: "Deviations",
    no_deviations: "No deviations in the period.",
    number: "No.",
    when_local: "When",
    when_utc: "When (UTC)",
    deviation: "Deviation",
    service: "Service",
    description: "Description",
    target: "Target",
    measured: "Measured",
    availability: "Availability",
    achieved: "Achieved",
    downtime: "Downtime",
    excluded: "Planned maintenance",
    window: "Calendar time",
    result: "Result",
    met: "Met",
    not_met: "Not met",
    not_measurable: "no measurable time in the period",
    achieved_formula: "Achieved = (calendar time − planned maintenance − downtime) / (calendar time − planned maintenance), truncated to three decimals. Planned maintenance counts only when announced with enough notice.",
    no_availability: "Without an availability guarantee",
    no_guarantees: "No service has an availability guarantee in the period.",
    incidents: "Incidents",
    no_incidents: "No incidents in the period.",
    priority: "Priority",
    opened: "Opened",
    response_met: "Response met",
    response_breached: "Response breached",
    resolution_met: "Resolution met",
    resolution_breached: "Resolution breached",
    data_quality: "Data quality",
    nothing_set_aside: "No events were set aside.",
    caption_deviations: "Deviations in the period",
    caption_availability: "Availability per service",
    caption_incidents: "Incidents per service and priority (rows of zeros left out)",
    caption_set_aside: "Events set aside, by reason",
    set_aside_total: "Events set aside, in all",
    reason: "Reason",
    count: "Count",
    manifest: "Manifest",
    ledger_size: "Ledger size (entries)",
    ledger_root: "Ledger root",
    tree_root: "Merkle root (checkpoint)",
    report_format: "Report format",
    engine_version: "Engine version",
    horizon: "Horizon",
    no_horizon: "– (period ended)",
    report_digest: "Report digest (BLAKE3)",
    whole_agreement: "whole agreement",
    status_preliminary: "preliminary",
    status_final: "final",
    unit_count: "count",
    day_unit: "d",
    hour_unit: "h",
    section_availability: "availability",
    section_incidents: "incidents",
    section_deviations: "deviations",
    section_data_quality: "data_quality",
    csv_header: [
        "tenant",
        "period",
        "status",
        "section",
        "service",
        "priority",
        "code",
        "description",
        "value",
        "unit",
        "target",
        "result",
        "at_utc",
        "at_local",
        "incident_id",
        "window_id",
        "meeting_id",
        "role",
    ],
};

impl Lang {
    pub fn text(self) -> &'static Text {
        match self {
            Lang::Nn => &NN,
            Lang::En => &EN,
        }
    }
}

/// The name of month `m` (1-12), Nynorsk in lower case as written in
/// running text, English capitalised.
pub fn month(lang: Lang, m: u32) -> Option<&'static str> {
    const NN_MONTHS: [&str; 12] = [
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ];
    const EN_MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let i = usize::try_from(m.checked_sub(1)?).ok()?;
    match lang {
        Lang::Nn => NN_MONTHS.get(i).copied(),
        Lang::En => EN_MONTHS.get(i).copied(),
    }
}

/// "1 teneste" / "3 tenester"; "1 service" / "3 services".
pub fn services(lang: Lang, n: usize) -> String {
    match (lang, n) {
        (Lang::Nn, 1) => "1 teneste".to_string(),
        (Lang::Nn, n) => format!("{n} tenester"),
        (Lang::En, 1) => "1 service".to_string(),
        (Lang::En, n) => format!("{n} services"),
    }
}

/// The summary sentence of the report.
pub fn summary(lang: Lang, s: &super::Summary) -> String {
    let services = services(lang, s.services);
    let deviations = match (lang, s.deviations) {
        (Lang::Nn, n) => format!("{n} avvik"),
        (Lang::En, 1) => "1 deviation".to_string(),
        (Lang::En, n) => format!("{n} deviations"),
    };
    match (lang, s.guarantees) {
        (Lang::Nn, 0) => format!("{services}, ingen med tilgjengelegheitsgaranti. {deviations}."),
        (Lang::En, 0) => format!("{services}, none with an availability guarantee. {deviations}."),
        (Lang::Nn, n) => format!(
            "{services}, {n} med tilgjengelegheitsgaranti: {} oppfylt, {} ikkje oppfylt. {deviations}.",
            s.met, s.not_met
        ),
        (Lang::En, n) => format!(
            "{services}, {n} with an availability guarantee: {} met, {} not met. {deviations}.",
            s.met, s.not_met
        ),
    }
}

/// The note under the title of a preliminary report; `horizon` is the
/// generation instant, already formatted (local and UTC).
pub fn preliminary_note(lang: Lang, horizon: Option<&str>) -> String {
    match (lang, horizon) {
        (Lang::Nn, Some(h)) => format!(
            "Rapporten er rekna ut før perioden var slutt, med det som var kjent per {h}. Tala kan endre seg."
        ),
        (Lang::Nn, None) => {
            "Rapporten er rekna ut før perioden var slutt. Tala kan endre seg.".to_string()
        }
        (Lang::En, Some(h)) => format!(
            "This report was computed before the period ended, from what was known at {h}. Figures may change."
        ),
        (Lang::En, None) => {
            "This report was computed before the period ended. Figures may change.".to_string()
        }
    }
}

/// The short name of a deviation kind, as in the report's `kind`.
pub fn kind_label(lang: Lang, kind: &str) -> &'static str {
    let (nn, en) = match kind {
        "availability_below_target" => ("Tilgjengelegheit under mål", "Availability below target"),
        "maintenance_short_notice" => (
            "For kort varsel om vedlikehald",
            "Maintenance with short notice",
        ),
        "response_breach" => ("Responstid ikkje oppfylt", "Response time breached"),
        "resolution_breach" => ("Løysingstid ikkje oppfylt", "Resolution time breached"),
        "operations_meeting_missing" => ("Driftsmøte manglar", "Operations meeting missing"),
        "steering_meeting_missing" => ("Styringsgruppemøte manglar", "Steering meeting missing"),
        "minutes_missing" => ("Referat manglar", "Minutes missing"),
        "contact_vacant" => ("Kontaktperson manglar", "Contact vacant"),
        _ => ("Avvik", "Deviation"),
    };
    pick(lang, nn, en)
}

/// The data a deviation's phrases are built from, as plain strings.
pub struct Subject<'a> {
    pub service: &'a str,
    pub id: &'a str,
    pub priority: &'a str,
    /// For `contact_vacant`: "service epost" or "whole agreement".
    pub scope: &'a str,
    /// For `contact_vacant`: the vacant time, already formatted.
    pub duration: &'a str,
}

/// One sentence saying what happened.
pub fn describe(lang: Lang, kind: &str, s: &Subject<'_>) -> String {
    let Subject {
        service,
        id,
        priority: p,
        scope,
        duration,
    } = s;
    match (lang, kind) {
        (Lang::Nn, "availability_below_target") => {
            format!("Tilgjengelegheita for {service} var under målet i perioden.")
        }
        (Lang::En, "availability_below_target") => {
            format!("Availability of {service} was below target in the period.")
        }
        (Lang::Nn, "maintenance_short_notice") => format!(
            "Planlagt vedlikehald {id} på {service} vart varsla for seint og blir ikkje trekt frå i tilgjengelegheita."
        ),
        (Lang::En, "maintenance_short_notice") => format!(
            "Maintenance window {id} on {service} was announced too late and is not excluded from availability."
        ),
        (Lang::Nn, "response_breach") => {
            format!("Hending {id} ({p}) på {service} fekk ikkje respons innan responstida.")
        }
        (Lang::En, "response_breach") => format!(
            "Incident {id} ({p}) on {service} was not responded to within the response time."
        ),
        (Lang::Nn, "resolution_breach") => {
            format!("Hending {id} ({p}) på {service} vart ikkje løyst innan løysingstida.")
        }
        (Lang::En, "resolution_breach") => format!(
            "Incident {id} ({p}) on {service} was not resolved within the resolution time."
        ),
        (Lang::Nn, "operations_meeting_missing") => {
            "Det er ikkje halde driftsmøte så ofte som avtalen krev.".to_string()
        }
        (Lang::En, "operations_meeting_missing") => {
            "No operations meeting was held as often as the agreement requires.".to_string()
        }
        (Lang::Nn, "steering_meeting_missing") => {
            "Det er ikkje halde styringsgruppemøte så ofte som avtalen krev.".to_string()
        }
        (Lang::En, "steering_meeting_missing") => {
            "No steering group meeting was held as often as the agreement requires.".to_string()
        }
        (Lang::Nn, "minutes_missing") => {
            format!("Referatet frå møte {id} var ikkje levert innan fristen.")
        }
        (Lang::En, "minutes_missing") => {
            format!("The minutes of meeting {id} were not filed by the due date.")
        }
        (Lang::Nn, "contact_vacant") => format!(
            "Rolla «{id}» ({scope}) hadde ingen kontaktperson i {duration} av perioden."
        ),
        (Lang::En, "contact_vacant") => format!(
            "Role “{id}” ({scope}) had no contact person for {duration} of the period."
        ),
        (_, other) => other.to_string(),
    }
}

/// What the agreement asks for, for deviations whose target is not a
/// figure of the report (availability shows its percentages instead).
pub fn target(lang: Lang, kind: &str, priority: &str) -> String {
    let (nn, en) = match kind {
        "maintenance_short_notice" => ("Varsel i tide", "Notice in time"),
        "response_breach" => return pick_owned(lang, "Responstid", "response time", priority),
        "resolution_breach" => return pick_owned(lang, "Løysingstid", "resolution time", priority),
        "operations_meeting_missing" => ("Driftsmøte som avtalt", "Operations meeting as agreed"),
        "steering_meeting_missing" => (
            "Styringsgruppemøte som avtalt",
            "Steering meeting as agreed",
        ),
        "minutes_missing" => ("Referat innan fristen", "Minutes by the due date"),
        "contact_vacant" => ("Kontaktperson heile tida", "Contact at all times"),
        _ => ("–", "–"),
    };
    pick(lang, nn, en).to_string()
}

/// What was measured, for deviations whose measure is not a figure of
/// the report; `duration` is the formatted vacant time of a contact.
pub fn measured(lang: Lang, kind: &str, duration: &str) -> String {
    let (nn, en) = match kind {
        "maintenance_short_notice" => ("For seint varsla", "Announced too late"),
        "response_breach" | "resolution_breach" => ("Overskriden", "Exceeded"),
        "operations_meeting_missing" | "steering_meeting_missing" => ("Ikkje halde", "Not held"),
        "minutes_missing" => ("Ikkje levert", "Not filed"),
        "contact_vacant" => {
            return match lang {
                Lang::Nn => format!("Ledig i {duration}"),
                Lang::En => format!("Vacant for {duration}"),
            }
        }
        _ => ("–", "–"),
    };
    pick(lang, nn, en).to_string()
}

/// A contact role for people: the Nynorsk or English label of the roles
/// the agreements use; `None` for another role, shown by its id.
pub fn role_label(lang: Lang, role: &str) -> Option<&'static str> {
    let (nn, en) = match role {
        "provider_account_owner" => ("Kundeansvarleg", "Account owner"),
        "provider_service_owner" => ("Tenesteansvarleg", "Service owner"),
        "tenant_contact" => ("Kontaktperson i kommunen", "Municipal contact"),
        "it_coordinator" => ("IT-koordinator", "IT coordinator"),
        _ => return None,
    };
    Some(pick(lang, nn, en))
}

/// The exact instant of a period-wide deviation, for its detail:
/// "registrert ved periodeslutt, 2026-09-01 00:00 CEST".
pub fn at_period_end(lang: Lang, local: &str) -> String {
    match lang {
        Lang::Nn => format!("Gjeld heile månaden; registrert ved periodeslutt, {local}."),
        Lang::En => format!("Covers the whole month; recorded at the period's end, {local}."),
    }
}

/// A breach's measure: when the deadline passed, and whether the
/// incident was still open at the period's end.
pub fn deadline_passed(lang: Lang, response: bool, local: &str, open: bool) -> String {
    let first = match (lang, response) {
        (Lang::Nn, true) => format!("Responsfristen gjekk ut {local} før hendinga fekk respons"),
        (Lang::Nn, false) => format!("Løysingsfristen gjekk ut {local} før hendinga var løyst"),
        (Lang::En, true) => format!("The response deadline passed at {local} before any response"),
        (Lang::En, false) => {
            format!("The resolution deadline passed at {local} before the incident was resolved")
        }
    };
    let rest = match (lang, open) {
        (Lang::Nn, true) => "; hendinga var framleis open ved utgangen av månaden.",
        (Lang::En, true) => "; the incident was still open at the end of the month.",
        (_, false) => ".",
    };
    first + rest
}

/// A late response's measure in format 3: how long the response took
/// (`took`, on the response clock) against the requirement, or that none
/// came, and when the deadline passed.
pub fn response_took(lang: Lang, took: Option<&str>, required: &str, local: &str) -> String {
    match (lang, took) {
        (Lang::Nn, Some(took)) => {
            format!("Respons etter {took}; kravet er {required}. Fristen gjekk ut {local}.")
        }
        (Lang::Nn, None) => {
            format!("Ingen respons; kravet er {required}. Fristen gjekk ut {local}.")
        }
        (Lang::En, Some(took)) => format!(
            "Response after {took}; the requirement is {required}. The deadline passed at {local}."
        ),
        (Lang::En, None) => {
            format!("No response; the requirement is {required}. The deadline passed at {local}.")
        }
    }
}

/// A late resolution's measure in format 3: the resolution clock when
/// the incident was resolved, or at the report's end while it is not,
/// against the requirement.
pub fn resolution_took(lang: Lang, clock: &str, resolved: bool, required: &str) -> String {
    match (lang, resolved) {
        (Lang::Nn, true) => format!("Løyst etter {clock}; kravet er {required}."),
        (Lang::Nn, false) => {
            format!("Ikkje løyst: {clock} på løysingsklokka; kravet er {required}.")
        }
        (Lang::En, true) => format!("Resolved after {clock}; the requirement is {required}."),
        (Lang::En, false) => {
            format!("Not resolved: {clock} on the resolution clock; the requirement is {required}.")
        }
    }
}

/// The CSV header of format 3's three columns (docs/FORMAT.md's CSV).
pub fn measure_csv_header(lang: Lang) -> [&'static str; 3] {
    match lang {
        Lang::Nn => ["målt", "målt_s", "krav_s"],
        Lang::En => ["measured", "measured_s", "required_s"],
    }
}

/// A short notice's measure in format 3: the notice given against the
/// notice the agreement requires (`late`: announced only after the
/// window's start), and when the window started.
pub fn notice_given(lang: Lang, given: &str, late: bool, required: &str, local: &str) -> String {
    match (lang, late) {
        (Lang::Nn, false) => format!(
            "Varsla {given} før; avtalen krev {required}. Vindauget starta {local}."
        ),
        (Lang::Nn, true) => format!(
            "Varsla {given} etter start; avtalen krev {required}. Vindauget starta {local}."
        ),
        (Lang::En, false) => format!(
            "Announced {given} ahead; the agreement requires {required}. The window started at {local}."
        ),
        (Lang::En, true) => format!(
            "Announced {given} after the start; the agreement requires {required}. The window started at {local}."
        ),
    }
}

/// A short-notice window's measure: when it started.
pub fn window_started(lang: Lang, local: &str) -> String {
    match lang {
        Lang::Nn => format!("Vindauget starta {local}, utan varsel i tide."),
        Lang::En => format!("The window started at {local} without notice in time."),
    }
}

/// A missing meeting's measure: the last one held ("19. mai 2026"), or
/// none at all; so one lapse over several months reads as one.
pub fn last_meeting(lang: Lang, steering: bool, day: Option<&str>) -> String {
    let what = match (lang, steering) {
        (Lang::Nn, false) => "driftsmøte",
        (Lang::Nn, true) => "styringsgruppemøte",
        (Lang::En, false) => "operations meeting",
        (Lang::En, true) => "steering group meeting",
    };
    match (lang, day) {
        (Lang::Nn, Some(day)) => format!("Siste {what} vart halde {day}."),
        (Lang::Nn, None) => format!("Det er ikkje halde noko {what} enno."),
        (Lang::En, Some(day)) => format!("The last {what} was held on {day}."),
        (Lang::En, None) => format!("No {what} has been held yet."),
    }
}

/// Missing minutes' measure: when the meeting was held and the due date.
pub fn minutes_not_filed(lang: Lang, held: &str, due: Option<&str>) -> String {
    match (lang, due) {
        (Lang::Nn, Some(due)) => {
            format!("Møtet vart halde {held}; referatet skulle vore levert {due}.")
        }
        (Lang::Nn, None) => format!("Møtet vart halde {held}; referatet er ikkje levert."),
        (Lang::En, Some(due)) => format!("The meeting was held on {held}; minutes were due {due}."),
        (Lang::En, None) => format!("The meeting was held on {held}; no minutes were filed."),
    }
}

/// An availability deviation's measure: "99,100 % (nedetid 6 t 30 min)".
pub fn achieved_with_downtime(lang: Lang, achieved: &str, downtime: &str) -> String {
    match lang {
        Lang::Nn => format!("{achieved} (nedetid {downtime})"),
        Lang::En => format!("{achieved} (downtime {downtime})"),
    }
}

/// "teneste epost" / "service epost".
pub fn service_scope(lang: Lang, service: &str) -> String {
    match lang {
        Lang::Nn => format!("teneste {service}"),
        Lang::En => format!("service {service}"),
    }
}

/// One line explaining a set-aside reason of SEMANTICS.md section 11.
pub fn reason(lang: Lang, code: &str) -> &'static str {
    let (nn, en) = match code {
        "unknown_service" => (
            "Gjeld ei teneste som ikkje var med i avtalen som galdt då.",
            "Refers to a service that was not in the agreement in force at the time.",
        ),
        "duplicate_start" => (
            "Ein ny start for noko som alt var starta: utfall, hending, respons eller møte med same id.",
            "A second start of something already started: an outage, incident, response or meeting with the same id.",
        ),
        "unknown_or_closed_id" => (
            "Ei oppfølging for ein id som ikkje var open då (ukjend eller alt avslutta).",
            "A follow-up for an id that was not open at that point (unknown or already closed).",
        ),
        "invalid_transition" => (
            "Ei endring av ei hending som ikkje er lov i tilstanden hendinga var i.",
            "An incident update that is not allowed in the state the incident was in.",
        ),
        "service_mismatch" => (
            "Ei avslutning eller avlysing som nemner ei anna teneste enn den id-en høyrer til.",
            "An end or cancellation naming another service than the one its id belongs to.",
        ),
        _ => (
            "Ein grunn denne versjonen av rapporten ikkje kjenner.",
            "A reason this version of the renderer does not know.",
        ),
    };
    pick(lang, nn, en)
}

/// The sentence above the set-aside list.
pub fn set_aside(lang: Lang, n: u64) -> String {
    match (lang, n) {
        (Lang::Nn, 1) => {
            "1 melding vart sett til side. Ho står i loggen, men tel ikkje med i tala:".to_string()
        }
        (Lang::Nn, n) => format!(
            "{n} meldingar vart sette til side. Dei står i loggen, men tel ikkje med i tala:"
        ),
        (Lang::En, 1) => {
            "1 event was set aside. It stays in the ledger but counts in no figure:".to_string()
        }
        (Lang::En, n) => {
            format!("{n} events were set aside. They stay in the ledger but count in no figure:")
        }
    }
}

/// A piece of a sentence that names commands: words, or a command to be
/// shown as code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Words(String),
    Code(&'static str),
}

/// How to check the report, in pieces, so that each format shows the
/// commands its own way (backticks in Markdown, `<code>` in HTML) and
/// HTML escapes the words and the commands alike.
pub fn verify_hint_pieces(lang: Lang, size: u64) -> [Piece; 5] {
    let (json, run, file, end) = match lang {
        Lang::Nn => (
            "Slik kontrollerer du rapporten: lagre JSON-utgåva av han (",
            ") og køyr ",
            "tla verify-report <fil.json>",
            format!(". Rapporten blir då rekna ut på nytt frå dei same {size} oppføringane i loggen og må gje same kontrollsum."),
        ),
        Lang::En => (
            "To check this report, save its JSON form (",
            ") and run ",
            "tla verify-report <file.json>",
            format!(". The report is then recomputed from the same {size} ledger entries and must give the same digest."),
        ),
    };
    [
        Piece::Words(json.to_string()),
        Piece::Code("--format json"),
        Piece::Words(run.to_string()),
        Piece::Code(file),
        Piece::Words(end),
    ]
}

/// How to check the report as one string; `code` wraps each command
/// for the format (backticks in Markdown).
pub fn verify_hint(lang: Lang, size: u64, code: fn(&str) -> String) -> String {
    verify_hint_pieces(lang, size)
        .iter()
        .map(|piece| match piece {
            Piece::Words(words) => words.clone(),
            Piece::Code(command) => code(command),
        })
        .collect()
}

fn pick(lang: Lang, nn: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Nn => nn,
        Lang::En => en,
    }
}

/// "Responstid P1" / "P1 response time".
fn pick_owned(lang: Lang, nn: &str, en: &str, priority: &str) -> String {
    match lang {
        Lang::Nn => format!("{nn} {priority}"),
        Lang::En => format!("{priority} {en}"),
    }
}

/// The labels of format 2's sections (SEMANTICS.md section 12): the
/// follow-up, actions, governance, responsibility overview and trend.
pub struct StoryText {
    pub follow_up: &'static str,
    pub no_explanations: &'static str,
    pub deviation_id: &'static str,
    pub cause: &'static str,
    pub action: &'static str,
    pub explained_at: &'static str,
    pub actions: &'static str,
    pub no_actions: &'static str,
    pub title: &'static str,
    pub owner: &'static str,
    pub due: &'static str,
    pub status: &'static str,
    pub outcome: &'static str,
    pub open: &'static str,
    pub overdue: &'static str,
    pub closed: &'static str,
    pub governance: &'static str,
    pub no_meetings: &'static str,
    pub meeting: &'static str,
    pub kind: &'static str,
    pub held: &'static str,
    pub minutes_due: &'static str,
    pub minutes_filed: &'static str,
    pub on_time: &'static str,
    pub operations_meeting: &'static str,
    pub steering_meeting: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub last_operations: &'static str,
    pub last_steering: &'static str,
    pub none_held: &'static str,
    pub contacts: &'static str,
    pub role: &'static str,
    pub person: &'static str,
    pub since: &'static str,
    pub vacant: &'static str,
    pub trend: &'static str,
    pub services_met: &'static str,
    pub of: &'static str,
    /// A deviation without an explanation yet (html and csv list every
    /// deviation in the follow-up).
    pub not_explained: &'static str,
    pub party: &'static str,
    /// `party` "provider" and "tenant" in words.
    pub party_provider: &'static str,
    pub party_tenant: &'static str,
    /// The trend chart's description (its `<desc>` and figure caption).
    pub trend_chart: &'static str,
    pub services_guaranteed: &'static str,
    /// The deviations table of each party (SEMANTICS.md section 12 "Who
    /// owes it": the provider's deviations from the guaranteed levels
    /// apart from what the municipality owes).
    pub deviations_provider: &'static str,
    pub deviations_tenant: &'static str,
    /// The CSV's `del`/`section` values of the format-2 rows.
    pub section_actions: &'static str,
    pub section_governance: &'static str,
    pub section_contacts: &'static str,
    pub section_trend: &'static str,
    /// The ten columns a format-2 CSV has after the eighteen of format 1
    /// (docs/FORMAT.md "Renderings").
    pub csv_header: [&'static str; 10],
}

const STORY_NN: StoryText = StoryText {
    follow_up: "Oppfølging av avvik",
    no_explanations: "Ingen avvik har fått årsak og tiltak enno.",
    deviation_id: "Avvik-id",
    cause: "Årsak",
    action: "Tiltak",
    explained_at: "Forklart",
    actions: "Korrigerande tiltak",
    no_actions: "Ingen opne tiltak, og ingen lukka i perioden.",
    title: "Tiltak",
    owner: "Ansvarleg",
    due: "Frist",
    status: "Status",
    outcome: "Resultat",
    open: "ope",
    overdue: "over fristen",
    closed: "lukka",
    governance: "Styring",
    no_meetings: "Ingen møte vart haldne i perioden.",
    meeting: "Møte",
    kind: "Type",
    held: "Halde",
    minutes_due: "Referatfrist",
    minutes_filed: "Referat levert",
    on_time: "I tide",
    operations_meeting: "driftsmøte",
    steering_meeting: "styringsgruppemøte",
    yes: "ja",
    no: "nei",
    last_operations: "Siste driftsmøte",
    last_steering: "Siste styringsgruppemøte",
    none_held: "ingen",
    contacts: "Ansvarlege",
    role: "Rolle",
    person: "Person",
    since: "Sidan",
    vacant: "ledig",
    trend: "Utvikling over tolv månader",
    services_met: "Tenester med oppfylt tilgjengelegheit",
    of: "av",
    not_explained: "ikkje forklart enno",
    party: "Part",
    party_provider: "leverandøren",
    party_tenant: "kommunen",
    trend_chart: "Tal avvik per månad dei siste tolv månadene. Under kvar månad: tenester som oppfylte kravet til tilgjengelegheit / tenester med slikt krav.",
    services_guaranteed: "Tenester med krav til tilgjengelegheit",
    deviations_provider: "Avvik frå TLA-krava",
    deviations_tenant: "Kommunen sine plikter",
    section_actions: "tiltak",
    section_governance: "styring",
    section_contacts: "ansvarlege",
    section_trend: "utvikling",
    csv_header: [
        "id",
        "part",
        "årsak",
        "kopla_id",
        "forklart_utc",
        "person",
        "frist_utc",
        "utført_utc",
        "utfall",
        "trendperiode",
    ],
};

const STORY_EN: StoryText = StoryText {
    follow_up: "Deviation follow-up",
    no_explanations: "No deviation has a cause and action yet.",
    deviation_id: "Deviation id",
    cause: "Cause",
    action: "Action",
    explained_at: "Explained",
    actions: "Corrective actions",
    no_actions: "No open actions, and none closed in the period.",
    title: "Action",
    owner: "Owner",
    due: "Due",
    status: "Status",
    outcome: "Outcome",
    open: "open",
    overdue: "overdue",
    closed: "closed",
    governance: "Governance",
    no_meetings: "No meetings were held in the period.",
    meeting: "Meeting",
    kind: "Kind",
    held: "Held",
    minutes_due: "Minutes due",
    minutes_filed: "Minutes filed",
    on_time: "On time",
    operations_meeting: "operations meeting",
    steering_meeting: "steering group meeting",
    yes: "yes",
    no: "no",
    last_operations: "Last operations meeting",
    last_steering: "Last steering group meeting",
    none_held: "none",
    contacts: "Responsible persons",
    role: "Role",
    person: "Person",
    since: "Since",
    vacant: "vacant",
    trend: "Twelve-month trend",
    services_met: "Services meeting availability",
    of: "of",
    not_explained: "not explained yet",
    party: "Party",
    party_provider: "provider",
    party_tenant: "municipality",
    trend_chart: "Deviations per month over the last twelve months. Below each month: services that met their availability target / services with a target.",
    services_guaranteed: "Services with an availability target",
    deviations_provider: "Deviations from the TLA requirements",
    deviations_tenant: "What the municipality owes",
    section_actions: "actions",
    section_governance: "governance",
    section_contacts: "contacts",
    section_trend: "trend",
    csv_header: [
        "id",
        "party",
        "cause",
        "linked_ids",
        "explained_at_utc",
        "person",
        "due_utc",
        "done_utc",
        "outcome",
        "trend_period",
    ],
};

/// The format-2 labels of `lang`.
pub fn story(lang: Lang) -> &'static StoryText {
    match lang {
        Lang::Nn => &STORY_NN,
        Lang::En => &STORY_EN,
    }
}

impl StoryText {
    /// An action's `status` in words.
    pub fn status_word(&self, status: &str) -> &'static str {
        match status {
            "closed" => self.closed,
            "overdue" => self.overdue,
            _ => self.open,
        }
    }

    /// A deviation's `party` in words.
    pub fn party_word(&self, party: &str) -> &'static str {
        if party == "tenant" {
            self.party_tenant
        } else {
            self.party_provider
        }
    }

    /// The column heads of a table of meetings.
    pub fn meeting_head(&self) -> [&'static str; 6] {
        [
            self.meeting,
            self.kind,
            self.held,
            self.minutes_due,
            self.minutes_filed,
            self.on_time,
        ]
    }

    /// A meeting's `kind` in words.
    pub fn meeting_kind(&self, kind: &str) -> &'static str {
        if kind == "steering" {
            self.steering_meeting
        } else {
            self.operations_meeting
        }
    }
}

/// The labels of what lies behind the figures (SEMANTICS.md section 12):
/// each service's outages and open incidents, and the proof in plain
/// words.
pub struct DetailText {
    pub outages: &'static str,
    pub no_outages: &'static str,
    pub outage: &'static str,
    pub impact: &'static str,
    pub start: &'static str,
    pub end: &'static str,
    pub full: &'static str,
    /// A partial outage, marked: it counts as no downtime.
    pub partial: &'static str,
    pub still_open: &'static str,
    pub open_incidents: &'static str,
    pub no_open_incidents: &'static str,
    pub incident: &'static str,
    /// An open incident opened before the period's start.
    pub earlier_month: &'static str,
    pub this_month: &'static str,
    pub detail: &'static str,
    /// The CSV's `del`/`section` values of the detail rows.
    pub section_outages: &'static str,
    pub section_open_incidents: &'static str,
}

const DETAIL_NN: DetailText = DetailText {
    outages: "Utfall bak tala",
    no_outages: "Ingen utfall i perioden.",
    outage: "Utfall",
    impact: "Type",
    start: "Start",
    end: "Slutt",
    full: "fullt utfall",
    partial: "delvis utfall (tel ikkje som nedetid)",
    still_open: "framleis ope",
    open_incidents: "Opne hendingar ved utgangen av månaden",
    no_open_incidents: "Ingen hendingar var opne ved utgangen av månaden.",
    incident: "Hending",
    earlier_month: "oppretta i ein tidlegare månad",
    this_month: "oppretta denne månaden",
    detail: "Merknad",
    section_outages: "utfall",
    section_open_incidents: "opne_hendingar",
};

const DETAIL_EN: DetailText = DetailText {
    outages: "Outages behind the figures",
    no_outages: "No outages in the period.",
    outage: "Outage",
    impact: "Kind",
    start: "Start",
    end: "End",
    full: "full outage",
    partial: "partial outage (not counted as downtime)",
    still_open: "still open",
    open_incidents: "Incidents open at the end of the month",
    no_open_incidents: "No incident was open at the end of the month.",
    incident: "Incident",
    earlier_month: "opened in an earlier month",
    this_month: "opened this month",
    detail: "Note",
    section_outages: "outages",
    section_open_incidents: "open_incidents",
};

/// The detail labels of `lang`.
pub fn detail(lang: Lang) -> &'static DetailText {
    match lang {
        Lang::Nn => &DETAIL_NN,
        Lang::En => &DETAIL_EN,
    }
}

impl DetailText {
    /// An outage's `impact` in words, the partial one marked.
    pub fn impact_word(&self, impact: &str) -> &'static str {
        if impact == "partial" {
            self.partial
        } else {
            self.full
        }
    }
}

/// The proof in plain words: what the log root and the Merkle root let a
/// reader check, one sentence each, and where the verification page is
/// (`page`, already wrapped for the format).
pub fn proof_sentences(lang: Lang, size: u64, page: &str) -> [String; 3] {
    match lang {
        Lang::Nn => [
            format!("Loggrota er kontrollsummen av den siste av dei {size} oppføringane rapporten byggjer på, og kvar oppføring held kontrollsummen av den før: med ho kan du sjå at rapporten er rekna ut frå nett desse oppføringane, og at ingen av dei er endra etterpå."),
            "Merkle-rota er rota i hashtreet over dei same oppføringane: med ho og eit kontrollpunkt som loggen har signert seinare, kan du sjå at nett desse oppføringane framleis står først i loggen, utan at nokon er fjerna eller bytte ut.".to_string(),
            viewer_sentence(lang, page),
        ],
        Lang::En => [
            format!("The log root is the digest of the last of the {size} entries the report is built on, and each entry holds the digest of the one before: with it you can see that the report was computed from exactly these entries and that none of them was changed afterwards."),
            "The Merkle root is the root of the hash tree over the same entries: with it and a checkpoint the log signed later, you can see that exactly these entries still stand first in the log, none removed or replaced.".to_string(),
            viewer_sentence(lang, page),
        ],
    }
}

/// The third sentence of [`proof_sentences`] around the page: the words
/// before and after it, so that HTML can make the page a link.
pub fn viewer_sentence_pieces(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::Nn => (
            "Rapportvisaren kontrollerer rapporten for deg på kontrollsida ",
            ".",
        ),
        Lang::En => (
            "The report viewer checks the report for you on its verification page ",
            ".",
        ),
    }
}

fn viewer_sentence(lang: Lang, page: &str) -> String {
    let (before, after) = viewer_sentence_pieces(lang);
    format!("{before}{page}{after}")
}

/// The viewer's verification page of a report, a path on the viewer.
pub fn verify_page(tenant: &str, period: &str) -> String {
    format!("/tenants/{tenant}/reports/{period}/verify")
}
