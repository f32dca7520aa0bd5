//! The report as a spreadsheet (`tla report --format xlsx`): an Office
//! Open XML workbook with one sheet per section of the report, in the
//! language of the rendering, written by `rust_xlsxwriter` to a buffer.
//!
//! Sheets, in order (Nynorsk / English names): `Samandrag` / `Summary`
//! (the facts and the summary line); the deviations, in a format-2 report
//! as two sheets, `Avvik frå TLA-krava` / `TLA deviations` (the
//! provider's) and `Kommunen sine plikter` / `Municipality` (what the
//! municipality owes), in format 1 one `Avvik` / `Deviations`;
//! `Tilgjengelegheit` / `Availability`; in format 2 `Utfall` / `Outages`
//! (every outage behind the figures, the partial ones marked);
//! `Hendingar` / `Incidents` (every service and priority, zeros
//! included, as the CSV); in format 2 `Opne hendingar` / `Open
//! incidents`, `Oppfølging` / `Follow-up`, `Tiltak` / `Actions`,
//! `Styring` / `Governance`, `Ansvarlege` / `Contacts` and `Utvikling` /
//! `Trend`; `Datakvalitet` / `Data quality`; `Stadfesting` /
//! `Verification` (the manifest and the proof in plain words).
//!
//! Each sheet has one bold header row, frozen, then one row per item.
//! Figures are numbers (percentages as written in the report, "99.5"
//! with the number format `0.000`, seconds and counts as integers), so a
//! spreadsheet can sum and compare them; instants are text in the
//! report's time zone beside the UTC instant the JSON report holds.
//! Every string from the report is written as a string cell, never as a
//! formula, so a tenant named `=HYPERLINK(...)` stays text (the CSV's
//! guard, by the format's own types). Like every renderer this is a pure
//! function of the report and the language: the workbook's creation time
//! is fixed, so the same report gives the same bytes.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::text;
use super::{Lang, Report};

/// One cell of a sheet.
enum Cell {
    Text(String),
    /// A percentage as the report writes it ("99.500").
    Percent(f64),
    Int(i64),
    Empty,
}

fn text_cell(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn opt(s: Option<&str>) -> Cell {
    s.map_or(Cell::Empty, text_cell)
}

/// A report percentage as a number; one that does not parse stays text.
fn percent(s: &str) -> Cell {
    s.parse::<f64>()
        .map_or_else(|_| text_cell(s), Cell::Percent)
}

fn int(n: impl TryInto<i64>) -> Cell {
    n.try_into().map_or(Cell::Empty, Cell::Int)
}

/// The report as an xlsx workbook in `lang`.
pub fn xlsx(report: &Report, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    // A fixed creation time keeps the bytes a function of the report.
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?;
    book.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    for (name, head, rows) in sheets(report, lang) {
        let sheet = book.add_worksheet();
        write_sheet(sheet, name, &head, &rows)?;
    }
    book.save_to_buffer()
}

type Sheet = (&'static str, Vec<&'static str>, Vec<Vec<Cell>>);

fn write_sheet(
    sheet: &mut Worksheet,
    name: &str,
    head: &[&str],
    rows: &[Vec<Cell>],
) -> Result<(), XlsxError> {
    sheet.set_name(name)?;
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.000");
    for (c, h) in (0u16..).zip(head) {
        sheet.write_string_with_format(0, c, *h, &bold)?;
    }
    for (r, cells) in (1u32..).zip(rows) {
        for (c, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Text(s) => {
                    sheet.write_string(r, c, s)?;
                }
                Cell::Percent(p) => {
                    sheet.write_number_with_format(r, c, *p, &pct)?;
                }
                // Report counts and seconds stay far below 2^53.
                Cell::Int(n) => {
                    sheet.write_number(r, c, *n as f64)?;
                }
                Cell::Empty => {}
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(())
}

/// Every sheet of the workbook: name, header, rows.
fn sheets(report: &Report, lang: Lang) -> Vec<Sheet> {
    let mut out = vec![summary(report, lang)];
    out.extend(deviations(report, lang));
    out.push(availability(report, lang));
    if report.story.is_some() {
        out.push(outages(report, lang));
    }
    out.push(incidents(report, lang));
    if report.story.is_some() {
        out.push(open_incidents(report, lang));
        out.extend(story(report, lang));
    }
    out.push(data_quality(report, lang));
    out.push(verification(report, lang));
    out
}

fn summary(report: &Report, lang: Lang) -> Sheet {
    let t = lang.text();
    let status = if report.preliminary {
        t.status_preliminary
    } else {
        t.status_final
    };
    let rows = vec![
        vec![text_cell(t.title), text_cell(&super::title(report, lang))],
        vec![text_cell(t.tenant), text_cell(&report.tenant)],
        vec![
            text_cell(t.period),
            text_cell(&super::period_label(&report.period, lang)),
        ],
        vec![
            text_cell(t.period_utc),
            text_cell(&super::period_utc(report)),
        ],
        vec![
            text_cell(t.agreement_version),
            text_cell(&report.agreement_version),
        ],
        vec![text_cell(t.timezone), text_cell(&report.timezone)],
        vec![text_cell(sheet_names(lang).status), text_cell(status)],
        vec![
            text_cell(t.summary),
            text_cell(&text::summary(lang, &super::summary(report))),
        ],
    ];
    let names = sheet_names(lang);
    (names.summary, vec![names.field, names.value], rows)
}

fn deviations(report: &Report, lang: Lang) -> Vec<Sheet> {
    let t = lang.text();
    let s = text::story(lang);
    let names = sheet_names(lang);
    let local = match lang {
        Lang::Nn => "Når",
        Lang::En => "When",
    };
    let head = vec![
        t.number,
        local,
        t.when_utc,
        t.deviation,
        t.service,
        t.description,
        t.target,
        t.measured,
        names.code,
        s.deviation_id,
        s.party,
    ];
    let groups = super::deviation_groups(report, lang, t.caption_deviations);
    let format2 = report.follow_up.is_some();
    let mut sheets = Vec::new();
    // Format 2 has both sheets even when one group is empty.
    let wanted: Vec<(&'static str, &'static str)> = if format2 {
        vec![
            (s.deviations_provider, names.deviations_provider),
            (s.deviations_tenant, names.deviations_tenant),
        ]
    } else {
        vec![(t.caption_deviations, names.deviations)]
    };
    for (caption, name) in wanted {
        let rows = groups
            .iter()
            .filter(|(c, _)| *c == caption)
            .flat_map(|(_, rows)| rows.iter())
            .map(|r| {
                let d = report.deviations.get(r.number - 1);
                let f = report.follow_up.as_ref().and_then(|f| f.get(r.number - 1));
                let description = match &r.period_wide {
                    Some(exact) => format!("{} {exact}", r.description),
                    None => r.description.clone(),
                };
                vec![
                    int(r.number),
                    text_cell(&r.dated),
                    text_cell(&r.when.utc_z),
                    text_cell(r.label),
                    text_cell(&r.service),
                    text_cell(&description),
                    text_cell(&r.target),
                    text_cell(&r.measured),
                    opt(d.map(|d| d.kind())),
                    opt(f.map(|f| f.id.as_str())),
                    opt(f.map(|f| s.party_word(&f.party))),
                ]
            })
            .collect();
        sheets.push((name, head.clone(), rows));
    }
    sheets
}

fn availability(report: &Report, lang: Lang) -> Sheet {
    let t = lang.text();
    let names = sheet_names(lang);
    let head = vec![
        t.service,
        names.service_id,
        names.target_pct,
        names.achieved_pct,
        names.downtime_seconds,
        names.excluded_seconds,
        names.window_seconds,
        t.result,
    ];
    let rows = report
        .services
        .iter()
        .filter_map(|s| {
            let a = s.availability.as_ref()?;
            Some(vec![
                text_cell(super::service_name(report, &s.service)),
                text_cell(&s.service),
                percent(&a.target_pct),
                a.achieved_pct.as_deref().map_or(Cell::Empty, percent),
                int(a.downtime_seconds),
                int(a.excluded_seconds),
                int(a.window_seconds),
                text_cell(super::met_label(a.met, lang)),
            ])
        })
        .collect();
    (names.availability, head, rows)
}

fn outages(report: &Report, lang: Lang) -> Sheet {
    let (t, d, names) = (lang.text(), text::detail(lang), sheet_names(lang));
    let head = vec![
        t.service,
        names.service_id,
        d.outage,
        d.impact,
        names.partial,
        d.start,
        d.end,
        names.start_utc,
        names.end_utc,
    ];
    let s = text::story(lang);
    let rows = super::outage_lines(report, lang)
        .iter()
        .map(|o| {
            vec![
                text_cell(o.service),
                text_cell(o.service_id),
                text_cell(o.outage_id),
                text_cell(o.impact),
                text_cell(if o.partial { s.yes } else { s.no }),
                text_cell(&o.start.local),
                text_cell(o.end.as_ref().map_or(d.still_open, |e| e.local.as_str())),
                text_cell(&o.start.utc_z),
                opt(o.end.as_ref().map(|e| e.utc_z.as_str())),
            ]
        })
        .collect();
    (names.outages, head, rows)
}

fn incidents(report: &Report, lang: Lang) -> Sheet {
    let (t, names) = (lang.text(), sheet_names(lang));
    let head = vec![
        t.service,
        names.service_id,
        t.priority,
        t.opened,
        t.response_met,
        t.response_breached,
        t.resolution_met,
        t.resolution_breached,
    ];
    let rows = report
        .services
        .iter()
        .flat_map(|s| {
            s.incidents.iter().map(move |(p, c)| {
                vec![
                    text_cell(super::service_name(report, &s.service)),
                    text_cell(&s.service),
                    text_cell(p),
                    int(c.opened),
                    int(c.response_met),
                    int(c.response_breached),
                    int(c.resolution_met),
                    int(c.resolution_breached),
                ]
            })
        })
        .collect();
    (names.incidents, head, rows)
}

fn open_incidents(report: &Report, lang: Lang) -> Sheet {
    let (t, d, names) = (lang.text(), text::detail(lang), sheet_names(lang));
    let head = vec![
        t.service,
        names.service_id,
        d.incident,
        t.priority,
        t.opened,
        names.opened_utc,
        d.detail,
    ];
    let rows = super::open_incident_lines(report, lang)
        .iter()
        .map(|i| {
            vec![
                text_cell(i.service),
                text_cell(i.service_id),
                text_cell(i.incident_id),
                text_cell(i.priority),
                text_cell(&i.opened.local),
                text_cell(&i.opened.utc_z),
                text_cell(i.note),
            ]
        })
        .collect();
    (names.open_incidents, head, rows)
}

/// The format-2 sheets: follow-up, actions, governance, contacts, trend.
fn story(report: &Report, lang: Lang) -> Vec<Sheet> {
    let Some(story) = &report.story else {
        return Vec::new();
    };
    let (t, s, names) = (lang.text(), text::story(lang), sheet_names(lang));
    let local = |at: Option<&str>| {
        opt(at
            .map(|at| super::when(at, &report.timezone).local)
            .as_deref())
    };
    let follow_up = super::explained_rows(report)
        .iter()
        .map(|(number, id, e)| {
            vec![
                int(*number),
                text_cell(id),
                text_cell(&e.cause),
                opt(e.action_id.as_deref()),
                local(Some(&e.explained_at)),
            ]
        })
        .collect();
    let actions = story
        .actions
        .iter()
        .map(|a| {
            vec![
                text_cell(&a.title),
                text_cell(&a.action_id),
                text_cell(&a.owner),
                local(Some(&a.due)),
                text_cell(s.status_word(&a.status)),
                opt(a.outcome.as_deref()),
                text_cell(&a.deviation_ids.join(" ")),
            ]
        })
        .collect();
    let meetings = story.governance.as_ref().map_or_else(Vec::new, |g| {
        g.meetings
            .iter()
            .map(|m| {
                vec![
                    text_cell(&m.meeting_id),
                    text_cell(s.meeting_kind(&m.kind)),
                    local(Some(&m.held_at)),
                    local(m.minutes_due.as_deref()),
                    local(m.minutes_filed_at.as_deref()),
                    opt(m.minutes_on_time.map(|ok| if ok { s.yes } else { s.no })),
                ]
            })
            .collect()
    });
    let contacts = story.contacts.as_ref().map_or_else(Vec::new, |rows| {
        rows.iter()
            .map(|r| {
                let service = r.service.as_deref().map(|x| super::service_name(report, x));
                vec![
                    text_cell(text::role_label(lang, &r.role).unwrap_or(&r.role)),
                    text_cell(&r.role),
                    text_cell(service.unwrap_or(t.whole_agreement)),
                    text_cell(r.person.as_deref().unwrap_or(s.vacant)),
                    local(r.since.as_deref()),
                ]
            })
            .collect()
    });
    let trend = story
        .trend
        .iter()
        .map(|p| {
            vec![
                text_cell(&p.period),
                int(p.deviations),
                int(p.services_met),
                int(p.services_guaranteed),
            ]
        })
        .collect();
    let meeting_head: Vec<&'static str> = s.meeting_head().to_vec();
    vec![
        (
            names.follow_up,
            vec![t.number, s.deviation_id, s.cause, s.action, s.explained_at],
            follow_up,
        ),
        (
            names.actions,
            vec![
                s.title,
                names.action_id,
                s.owner,
                s.due,
                s.status,
                s.outcome,
                s.deviation_id,
            ],
            actions,
        ),
        (names.governance, meeting_head, meetings),
        (
            names.contacts,
            vec![s.role, names.role_id, t.service, s.person, s.since],
            contacts,
        ),
        (
            names.trend,
            vec![
                t.period,
                t.deviations,
                s.services_met,
                s.services_guaranteed,
            ],
            trend,
        ),
    ]
}

fn data_quality(report: &Report, lang: Lang) -> Sheet {
    let (t, names) = (lang.text(), sheet_names(lang));
    let q = &report.data_quality;
    let mut rows = vec![vec![
        text_cell("set_aside"),
        text_cell(t.set_aside_total),
        int(q.set_aside),
    ]];
    rows.extend(q.by_reason.iter().map(|(code, n)| {
        vec![
            text_cell(code),
            text_cell(text::reason(lang, code)),
            int(*n),
        ]
    }));
    (
        names.data_quality,
        vec![names.code, t.reason, t.count],
        rows,
    )
}

fn verification(report: &Report, lang: Lang) -> Sheet {
    let t = lang.text();
    let m = &report.manifest;
    let mut rows = vec![
        vec![text_cell(t.ledger_size), int(m.ledger_size)],
        vec![text_cell(t.ledger_root), text_cell(&m.ledger_root)],
    ];
    if !m.tree_root.is_empty() {
        rows.push(vec![text_cell(t.tree_root), text_cell(&m.tree_root)]);
    }
    rows.extend([
        vec![text_cell(t.report_format), text_cell(&report.format)],
        vec![text_cell(t.engine_version), text_cell(&m.engine_version)],
        vec![
            text_cell(t.horizon),
            text_cell(&super::horizon(report, lang)),
        ],
        vec![text_cell(t.report_digest), text_cell(&m.report_digest)],
    ]);
    let page = text::verify_page(&report.tenant, &report.period);
    let [log, tree, viewer] = text::proof_sentences(lang, m.ledger_size, &page);
    rows.push(vec![Cell::Empty, text_cell(&log)]);
    if !m.tree_root.is_empty() {
        rows.push(vec![Cell::Empty, text_cell(&tree)]);
    }
    rows.push(vec![Cell::Empty, text_cell(&viewer)]);
    let hint = text::verify_hint(lang, m.ledger_size, |c| c.to_string());
    rows.push(vec![Cell::Empty, text_cell(&hint)]);
    let names = sheet_names(lang);
    (t.manifest, vec![names.field, names.value], rows)
}

/// Sheet names (at most 31 characters, none of `[]:*?/\`) and the
/// column heads only the workbook has.
struct SheetNames {
    summary: &'static str,
    field: &'static str,
    value: &'static str,
    status: &'static str,
    deviations: &'static str,
    deviations_provider: &'static str,
    deviations_tenant: &'static str,
    availability: &'static str,
    outages: &'static str,
    incidents: &'static str,
    open_incidents: &'static str,
    follow_up: &'static str,
    actions: &'static str,
    governance: &'static str,
    contacts: &'static str,
    trend: &'static str,
    data_quality: &'static str,
    code: &'static str,
    service_id: &'static str,
    role_id: &'static str,
    action_id: &'static str,
    target_pct: &'static str,
    achieved_pct: &'static str,
    downtime_seconds: &'static str,
    excluded_seconds: &'static str,
    window_seconds: &'static str,
    partial: &'static str,
    start_utc: &'static str,
    end_utc: &'static str,
    opened_utc: &'static str,
}

const NAMES_NN: SheetNames = SheetNames {
    summary: "Samandrag",
    field: "Felt",
    value: "Verdi",
    status: "Status",
    deviations: "Avvik",
    deviations_provider: "Avvik frå TLA-krava",
    deviations_tenant: "Kommunen sine plikter",
    availability: "Tilgjengelegheit",
    outages: "Utfall",
    incidents: "Hendingar",
    open_incidents: "Opne hendingar",
    follow_up: "Oppfølging",
    actions: "Tiltak",
    governance: "Styring",
    contacts: "Ansvarlege",
    trend: "Utvikling",
    data_quality: "Datakvalitet",
    code: "Kode",
    service_id: "Teneste-id",
    role_id: "Rolle-id",
    action_id: "Tiltak-id",
    target_pct: "Mål (%)",
    achieved_pct: "Oppnådd (%)",
    downtime_seconds: "Nedetid (s)",
    excluded_seconds: "Planlagt vedlikehald (s)",
    window_seconds: "Kalendertid (s)",
    partial: "Delvis",
    start_utc: "Start (UTC)",
    end_utc: "Slutt (UTC)",
    opened_utc: "Oppretta (UTC)",
};

const NAMES_EN: SheetNames = SheetNames {
    summary: "Summary",
    field: "Field",
    value: "Value",
    status: "Status",
    deviations: "Deviations",
    deviations_provider: "TLA deviations",
    deviations_tenant: "Municipality",
    availability: "Availability",
    outages: "Outages",
    incidents: "Incidents",
    open_incidents: "Open incidents",
    follow_up: "Follow-up",
    actions: "Actions",
    governance: "Governance",
    contacts: "Contacts",
    trend: "Trend",
    data_quality: "Data quality",
    code: "Code",
    service_id: "Service id",
    role_id: "Role id",
    action_id: "Action id",
    target_pct: "Target (%)",
    achieved_pct: "Achieved (%)",
    downtime_seconds: "Downtime (s)",
    excluded_seconds: "Maintenance (s)",
    window_seconds: "Calendar time (s)",
    partial: "Partial",
    start_utc: "Start (UTC)",
    end_utc: "End (UTC)",
    opened_utc: "Opened (UTC)",
};

fn sheet_names(lang: Lang) -> &'static SheetNames {
    match lang {
        Lang::Nn => &NAMES_NN,
        Lang::En => &NAMES_EN,
    }
}
