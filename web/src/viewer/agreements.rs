//! The agreement versions page ("Avtaleversjonar"): every version of a
//! tenant's agreement the ledger holds, in ledger order, with its
//! `effective_from`, whether it requires approval, who published it (the
//! event's `source` and the token name the ingest recorded) and its
//! approvals (party, person, when), from `projector::agreement::History`,
//! the same history `tla agreement log` prints. A version that requires
//! approval and lacks a party's says "venter på godkjenning" and names the
//! party still missing (SEMANTICS.md section 12). Approvers are persons,
//! shown as the contacts page shows contact persons: to whoever may read
//! the tenant, and to nobody else. Its words live here, as only this page
//! uses them.

use maud::{html, Markup};
use projector::agreement::{Approval, History, VersionStory};
use projector::quality::Reason;
use projector::render::{when, Lang};
use schemas::Party;

/// The page's path below a tenant.
pub(super) const DOC: &str = "agreements";

struct Words {
    title: &'static str,
    intro: &'static str,
    none: &'static str,
    version: &'static str,
    effective_from: &'static str,
    requires_approval: &'static str,
    yes: &'static str,
    no: &'static str,
    status: &'static str,
    in_force: &'static str,
    approved_in_force: &'static str,
    awaiting: &'static str,
    awaiting_from: &'static str,
    published: &'static str,
    publisher: &'static str,
    token: &'static str,
    no_token: &'static str,
    approvals: &'static str,
    no_approvals: &'static str,
    party: &'static str,
    person: &'static str,
    at: &'static str,
    note: &'static str,
    provider: &'static str,
    tenant: &'static str,
    duplicate: &'static str,
    unknown: &'static str,
    set_aside: &'static str,
    stray: &'static str,
    stray_intro: &'static str,
}

const NN: Words = Words {
    title: "Avtaleversjonar",
    intro: "Kvar versjon av tenestenivåavtalen som er publisert i loggen, med kven som publiserte han og godkjenningane hans. Ein versjon som krev godkjenning, gjeld først når både leverandøren og kommunen har godkjent han.",
    none: "Loggen har inga avtale for denne kommunen.",
    version: "Versjon",
    effective_from: "Gjeld frå",
    requires_approval: "Krev godkjenning",
    yes: "ja",
    no: "nei",
    status: "Status",
    in_force: "gjeld frå datoen over",
    approved_in_force: "godkjend av begge partar; gjeld frå datoen over",
    awaiting: "venter på godkjenning",
    awaiting_from: "manglar godkjenning frå",
    published: "Publisert",
    publisher: "Publisert av",
    token: "nøkkel",
    no_token: "ingen nøkkel registrert",
    approvals: "Godkjenningar",
    no_approvals: "Ingen godkjenningar.",
    party: "Part",
    person: "Person",
    at: "Tid",
    note: "Merknad",
    provider: "leverandøren",
    tenant: "kommunen",
    duplicate: "sett til side: parten har alt godkjent denne versjonen",
    unknown: "sett til side: ingen versjon med dette namnet er publisert",
    set_aside: "sett til side",
    stray: "Godkjenningar av ukjende versjonar",
    stray_intro: "Desse godkjenningane nemner ein versjon loggen ikkje har, og er sette til side.",
};

const EN: Words = Words {
    title: "Agreement versions",
    intro: "Every version of the service level agreement published in the ledger, with who published it and its approvals. A version that requires approval is in force only once both the provider and the municipality approved it.",
    none: "The ledger has no agreement for this municipality.",
    version: "Version",
    effective_from: "Effective from",
    requires_approval: "Requires approval",
    yes: "yes",
    no: "no",
    status: "Status",
    in_force: "in force from the date above",
    approved_in_force: "approved by both parties; in force from the date above",
    awaiting: "awaiting approval",
    awaiting_from: "missing the approval of",
    published: "Published",
    publisher: "Published by",
    token: "token",
    no_token: "no token recorded",
    approvals: "Approvals",
    no_approvals: "No approvals.",
    party: "Party",
    person: "Person",
    at: "When",
    note: "Note",
    provider: "the provider",
    tenant: "the municipality",
    duplicate: "set aside: the party already approved this version",
    unknown: "set aside: no version of that name was published",
    set_aside: "set aside",
    stray: "Approvals of unknown versions",
    stray_intro: "These approvals name a version the ledger does not hold, and are set aside.",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

/// The page's name, for the tenant page's links.
pub(super) fn title(lang: Lang) -> &'static str {
    words(lang).title
}

/// A party for people.
fn party_name(lang: Lang, party: Party) -> &'static str {
    let w = words(lang);
    match party {
        Party::Provider => w.provider,
        Party::Tenant => w.tenant,
    }
}

/// The agreement versions page of `tenant` from `history`; instants
/// without a version of their own are shown in `timezone`.
pub(super) fn agreements_page(
    lang: Lang,
    (tenant, name): (&str, &str),
    history: &History<'_>,
    timezone: &str,
) -> String {
    let w = words(lang);
    let title = format!("{}: {name}", w.title);
    let body = html! {
        h1 { (title) } "\n"
        p { (w.intro) } "\n"
        @if history.versions.is_empty() {
            p { (w.none) } "\n"
        }
        @for v in &history.versions {
            (version_section(lang, v))
        }
        @if !history.stray.is_empty() {
            section aria-labelledby="stray" id="stray-approvals" {
                "\n"
                h2 id="stray" { (w.stray) } "\n"
                p { (w.stray_intro) } "\n"
                (approval_table(lang, &history.stray, timezone))
            }
            "\n"
        }
    };
    super::months::document_page(lang, (tenant, name), (DOC, w.title), &title, body)
}

/// One version: its facts, its status and its approvals.
fn version_section(lang: Lang, v: &VersionStory<'_>) -> Markup {
    let w = words(lang);
    let a = v.agreement;
    let timezone = a.timezone.name();
    let id = format!("version-{}", v.position);
    let heading = format!("{id}-h");
    let from = when(&schemas::format_instant(a.effective_from), timezone);
    let published = when(&schemas::format_instant(v.time), timezone);
    let waiting = v.waiting_for();
    let missing: Vec<&str> = waiting.iter().map(|p| party_name(lang, *p)).collect();
    html! {
        section aria-labelledby=(heading) id=(id) class="agreement-version"
            data-version=(a.version) data-in-force=(v.in_force()) {
            "\n"
            h2 id=(heading) { (w.version) " " (a.version) } "\n"
            dl class="facts" {
                dt { (w.effective_from) } dd class="time" { (from.local) " (" (from.utc) ")" }
                dt { (w.requires_approval) }
                dd { (if a.requires_approval { w.yes } else { w.no }) }
                dt { (w.status) }
                dd class="status" {
                    @if !waiting.is_empty() {
                        strong class="bad awaiting" { (w.awaiting) }
                        ": " (w.awaiting_from) " " (missing.join(", "))
                    } @else if a.requires_approval {
                        span class="good" { (w.approved_in_force) }
                    } @else {
                        (w.in_force)
                    }
                }
                dt { (w.published) } dd class="time" { (published.local) }
                dt { (w.publisher) }
                dd class="publisher" {
                    code { (v.source) } ", " (w.token) " "
                    @match &v.token {
                        Some(t) => { code { (t) } }
                        None => { span class="note" { (w.no_token) } }
                    }
                }
            }
            "\n"
            h3 { (w.approvals) } "\n"
            @if v.approvals.is_empty() {
                p { (w.no_approvals) } "\n"
            } @else {
                (approval_table(lang, &v.approvals, timezone))
            }
        }
        "\n"
    }
}

/// The approvals as a table: party, person, when, and why one was set aside.
fn approval_table(lang: Lang, approvals: &[Approval<'_>], timezone: &str) -> Markup {
    let w = words(lang);
    let head = [w.party, w.person, w.at, w.note];
    html! {
        table class="cards approvals" {
            "\n"
            thead { tr { @for h in head { th scope="col" { (h) } } } } "\n"
            tbody {
                "\n"
                @for p in approvals {
                    tr data-party=(p.party.as_str()) data-set-aside=(p.set_aside.is_some()) {
                        th scope="row" data-label=(head[0]) { (party_name(lang, p.party)) }
                        td data-label=(head[1]) { (p.person) }
                        td data-label=(head[2]) class="time" {
                            (when(&schemas::format_instant(p.time), timezone).local)
                        }
                        td data-label=(head[3]) {
                            @match p.set_aside {
                                None => {}
                                Some(Reason::DuplicateStart) => { (w.duplicate) }
                                Some(Reason::UnknownOrClosedId) => { (w.unknown) }
                                Some(_) => { (w.set_aside) }
                            }
                        }
                    }
                    "\n"
                }
            }
            "\n"
        }
        "\n"
    }
}
