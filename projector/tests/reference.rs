//! Reference model: the engine's interval, calendar and clock arithmetic
//! against a naive second-by-second computation on small random cases
//! (TigerBeetle's auditor idea). The naive side shares nothing with the
//! engine but chrono-tz's offsets: it finds the instant of a local time by
//! scanning minutes, tests membership one second at a time, and replays
//! an incident's state second by second. proptest prints the seed and the
//! minimal failing case; failures are kept in `proptest-regressions/`.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;
use projector::calendar::{is_norwegian_holiday, Accrual, Clock};
use projector::incident::{evaluate, Change, Evaluation, State, Term, Terms, Timeline, Verdict};
use projector::interval::IntervalSet;
use proptest::prelude::*;
use schemas::agreement::{Calendar, Holidays};
use schemas::Priority;

/// Instants the cases start near: the DST changes and Easter of 2026 in
/// Oslo, and an ordinary week.
const ANCHORS: [&str; 5] = [
    "2026-03-28T20:00:00Z", // the night summer time starts
    "2026-10-24T20:00:00Z", // the night summer time ends
    "2026-04-01T06:00:00Z", // Easter: 2 to 6 April are holidays
    "2026-05-13T06:00:00Z", // Ascension Day 14 May
    "2026-09-07T05:00:00Z", // an ordinary Monday
];

/// Longest stretch a case covers, seconds: short enough for the naive
/// per-second walk, long enough for several windows.
const SPAN_SECONDS_MAX: i64 = 3 * 86_400;

const ZONES: [Tz; 3] = [
    chrono_tz::Europe::Oslo,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe, // a 30-minute DST shift
];

fn anchor(i: usize) -> i64 {
    DateTime::parse_from_rfc3339(ANCHORS[i % ANCHORS.len()])
        .expect("anchor")
        .timestamp()
}

// ---------------------------------------------------------------------------
// The naive model

/// Local time of instant `u` in `tz`, from chrono-tz's offset only.
fn local_of(tz: Tz, u: i64) -> NaiveDateTime {
    let utc = DateTime::from_timestamp(u, 0).expect("instant").naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
    utc + chrono::Duration::seconds(i64::from(offset))
}

/// The instant of local time `t` by scanning minutes: the first instant
/// showing `t`, else (a gap) the first showing a later time.
fn naive_instant(tz: Tz, t: NaiveDateTime) -> i64 {
    let guess = t.and_utc().timestamp();
    let minutes = (guess - 15 * 3600..=guess + 15 * 3600).step_by(60);
    let exact = minutes.clone().find(|&u| local_of(tz, u) == t);
    exact.unwrap_or_else(|| {
        minutes
            .clone()
            .find(|&u| local_of(tz, u) > t)
            .expect("after gap")
    })
}

fn naive_window(cal: &Calendar, tz: Tz, d: NaiveDate) -> Option<(i64, i64)> {
    let holiday = cal.holidays == Holidays::Norway && is_norwegian_holiday(d);
    if !cal.days.contains(&d.weekday()) || cal.closed_dates.contains(&d) || holiday {
        return None;
    }
    let at = |m: u16| {
        d.and_time(NaiveTime::from_hms_opt(u32::from(m) / 60, u32::from(m) % 60, 0).expect("time"))
    };
    let start = naive_instant(tz, at(cal.from));
    let end = if cal.to == 1440 {
        naive_instant(tz, d.succ_opt().expect("date").and_time(NaiveTime::MIN))
    } else {
        naive_instant(tz, at(cal.to))
    };
    Some((start, end))
}

/// Membership of single seconds in a calendar, over a range of instants.
struct Naive {
    /// None: 24x7.
    windows: Option<Vec<(i64, i64)>>,
}

impl Naive {
    fn new(cal: Option<(&Calendar, Tz)>, from: i64, to: i64) -> Naive {
        let windows = cal.map(|(cal, tz)| {
            let first = local_of(tz, from).date() - chrono::Days::new(2);
            let last = local_of(tz, to).date() + chrono::Days::new(2);
            first
                .iter_days()
                .take_while(|d| *d <= last)
                .filter_map(|d| naive_window(cal, tz, d))
                .collect()
        });
        Naive { windows }
    }

    fn member(&self, x: i64) -> bool {
        self.windows
            .as_ref()
            .is_none_or(|w| w.iter().any(|&(a, b)| a <= x && x < b))
    }
}

// ---------------------------------------------------------------------------
// Strategies

fn calendar() -> impl Strategy<Value = Calendar> {
    let days = proptest::collection::btree_set(0u8..7, 1..=7);
    // Often a time of day at or inside a DST change (01:00-03:00) or midnight.
    let edge = || {
        prop_oneof![
            Just(0u16),
            Just(60),
            Just(120),
            Just(150),
            Just(180),
            Just(1440)
        ]
    };
    let minute = || prop_oneof![1 => 0u16..=1440, 1 => edge()];
    let times = (minute(), minute())
        .prop_map(|(f, t)| (f.min(t).min(1439), f.max(t)))
        .prop_filter("from < to", |(f, t)| f < t);
    let closed = proptest::collection::vec(0u64..5, 0..2);
    (days, times, any::<bool>(), closed, 0usize..ANCHORS.len()).prop_map(
        |(days, (from, to), no, closed, a)| {
            let base = DateTime::from_timestamp(anchor(a), 0)
                .expect("anchor")
                .date_naive();
            let closed: BTreeSet<NaiveDate> = closed
                .into_iter()
                .map(|n| base + chrono::Days::new(n))
                .collect();
            Calendar {
                days: days
                    .into_iter()
                    .map(|d| Weekday::try_from(d).expect("weekday"))
                    .collect(),
                from,
                to,
                holidays: if no { Holidays::Norway } else { Holidays::None },
                closed_dates: closed.into_iter().collect(),
            }
        },
    )
}

/// A calendar or 24x7 (`None`), in a zone.
fn clock_spec() -> impl Strategy<Value = (Option<Calendar>, Tz)> {
    (
        prop_oneof![1 => Just(None), 3 => calendar().prop_map(Some)],
        0usize..ZONES.len(),
    )
        .prop_map(|(c, z)| (c, ZONES[z]))
}

fn clock_of(spec: &(Option<Calendar>, Tz)) -> Clock<'_> {
    match &spec.0 {
        None => Clock::Always,
        Some(calendar) => Clock::Weekly {
            calendar,
            tz: spec.1,
        },
    }
}

fn naive_of(spec: &(Option<Calendar>, Tz), from: i64, to: i64) -> Naive {
    Naive::new(spec.0.as_ref().map(|c| (c, spec.1)), from, to)
}

// ---------------------------------------------------------------------------
// Intervals

fn spans() -> impl Strategy<Value = Vec<(i64, i64)>> {
    proptest::collection::vec((0i64..200, 0i64..40).prop_map(|(a, l)| (a, a + l)), 0..6)
}

fn bits(spans: &[(i64, i64)]) -> Vec<bool> {
    let mut v = vec![false; 256];
    for &(a, b) in spans {
        for x in a..b {
            v[x as usize] = true;
        }
    }
    v
}

fn check_set(set: &IntervalSet, expect: &[bool]) {
    assert_eq!(bits(set.spans()), expect, "{set:?}");
    assert_eq!(set.len(), expect.iter().filter(|b| **b).count() as i64);
    for w in set.spans().windows(2) {
        assert!(w[0].1 < w[1].0, "not normal: {set:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn intervals_match_bitsets(a in spans(), b in spans()) {
        let (x, y) = (IntervalSet::from_spans(a.clone()), IntervalSet::from_spans(b.clone()));
        let (p, q) = (bits(&a), bits(&b));
        let zip = |f: fn(bool, bool) -> bool| p.iter().zip(&q).map(|(u, v)| f(*u, *v)).collect::<Vec<_>>();
        check_set(&x.union(&y), &zip(|u, v| u || v));
        check_set(&x.intersection(&y), &zip(|u, v| u && v));
        check_set(&x.difference(&y), &zip(|u, v| u && !v));
    }
}

// ---------------------------------------------------------------------------
// Calendars and clocks

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn clock_matches_seconds(
        spec in clock_spec(),
        a in 0usize..ANCHORS.len(),
        offset in 0i64..86_400,
        len in 0i64..SPAN_SECONDS_MAX,
        need in 1i64..40_000,
    ) {
        let from = anchor(a) + offset;
        let to = from + len;
        let clock = clock_of(&spec);
        let naive = naive_of(&spec, from, to);
        let members: Vec<i64> = (from..to).filter(|&x| naive.member(x)).collect();
        prop_assert_eq!(clock.clock(from, to), members.len() as i64);
        let windows = clock.windows(from, to);
        prop_assert_eq!(windows.len(), members.len() as i64);
        prop_assert!(members.iter().all(|&x| windows.contains(x)));
        let expect = match members.get(need as usize - 1) {
            Some(&x) if x + 1 < to => Accrual::Reached(x + 1),
            _ => Accrual::Accrued(members.len().min(need as usize) as i64),
        };
        prop_assert_eq!(clock.accrue(from, to, need), expect);
        // The edge where the last calendar second ends exactly at `to`.
        if let Some(&last) = members.last() {
            let n = members.len() as i64;
            let expect = if last + 1 < to { Accrual::Reached(last + 1) } else { Accrual::Accrued(n) };
            prop_assert_eq!(clock.accrue(from, to, n), expect);
        }
    }

    #[test]
    fn availability_sets_match_seconds(
        spec in clock_spec(),
        a in 0usize..ANCHORS.len(),
        outages in proptest::collection::vec((0i64..86_400, 0i64..20_000), 0..4),
        windows in proptest::collection::vec((0i64..86_400, 0i64..20_000), 0..3),
    ) {
        let (from, to) = (anchor(a), anchor(a) + 86_400);
        let shift = |v: &[(i64, i64)]| v.iter().map(|&(s, l)| (from + s, from + s + l)).collect::<Vec<_>>();
        let (o, m) = (shift(&outages), shift(&windows));
        let c = clock_of(&spec).windows(from, to);
        let (os, ms) = (IntervalSet::from_spans(o.clone()), IntervalSet::from_spans(m.clone()));
        let naive = naive_of(&spec, from, to);
        let within = |v: &[(i64, i64)], x: i64| v.iter().any(|&(s, e)| s <= x && x < e);
        let (mut window, mut excluded, mut downtime) = (0, 0, 0);
        for x in (from..to).filter(|&x| naive.member(x)) {
            window += 1;
            excluded += i64::from(within(&m, x));
            downtime += i64::from(within(&o, x) && !within(&m, x));
        }
        prop_assert_eq!(c.len(), window);
        prop_assert_eq!(c.intersection(&ms).len(), excluded);
        prop_assert_eq!(os.intersection(&c).difference(&ms).len(), downtime);
    }
}

// ---------------------------------------------------------------------------
// Incidents

/// A random incident: per-priority clocks and targets, and a sequence of
/// changes, of which the invalid transitions are dropped as the projection
/// would set them aside.
#[derive(Debug, Clone)]
struct Case {
    specs: Vec<(Option<Calendar>, Tz)>,
    /// (response, resolution) minutes, P1..P4.
    targets: Vec<(i64, i64)>,
    timeline: Timeline,
    limit: i64,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => (0usize..4).prop_map(|p| Change::Priority(Priority::ALL[p])),
        1 => Just(Change::Responded),
        2 => Just(Change::OnHold),
        2 => Just(Change::Resumed),
        2 => Just(Change::Resolved),
        2 => Just(Change::Reopened),
    ]
}

fn allowed(c: Change, state: State, responded: bool) -> bool {
    match c {
        Change::Priority(_) => true,
        Change::Responded => !responded,
        Change::OnHold => state == State::Running,
        Change::Resumed => state == State::OnHold,
        Change::Resolved => state != State::Resolved,
        Change::Reopened => state == State::Resolved,
    }
}

/// Random incidents; `minutes_max` bounds the targets and the gaps between
/// changes in whole minutes. Small bounds make changes fall on crossing
/// instants often (targets are whole minutes, and so are calendar edges);
/// gaps of 0 make several changes share an instant.
fn case(minutes_max: i64) -> impl Strategy<Value = Case> {
    let zone = 0usize..ZONES.len();
    let specs = (
        zone,
        proptest::collection::vec(proptest::option::of(calendar()), 4),
    );
    let targets = proptest::collection::vec((1..minutes_max, 1..minutes_max), 4);
    let gap = prop_oneof![
        1 => Just(0i64),
        3 => (0..minutes_max).prop_map(|m| m * 60),
        1 => 0i64..20_000,
    ];
    let changes = proptest::collection::vec((gap, change()), 0..12);
    (
        specs,
        targets,
        changes,
        0usize..ANCHORS.len(),
        0usize..4,
        0i64..SPAN_SECONDS_MAX,
    )
        .prop_map(|((z, cals), targets, changes, a, p, limit)| {
            let opened = anchor(a);
            let (mut t, mut state, mut responded) = (opened, State::Running, false);
            let mut kept = Vec::new();
            for (gap, c) in changes {
                t += gap;
                if allowed(c, state, responded) {
                    state = c.next_state(state);
                    responded |= c == Change::Responded;
                    kept.push((t, c));
                }
            }
            Case {
                specs: cals.into_iter().map(|c| (c, ZONES[z])).collect(),
                targets,
                timeline: Timeline {
                    opened,
                    priority: Priority::ALL[p],
                    changes: kept,
                },
                limit: opened + limit,
            }
        })
}

/// (priority, state) after every change with time <= x.
fn naive_state(tl: &Timeline, x: i64) -> (Priority, State) {
    let (mut p, mut s) = (tl.priority, State::Running);
    for &(t, c) in tl.changes.iter().filter(|(t, _)| *t <= x) {
        let _ = t;
        s = c.next_state(s);
        if let Change::Priority(q) = c {
            p = q;
        }
    }
    (p, s)
}

/// The first response deadline D and breach B before the limit, second by
/// second.
fn naive_crossings(case: &Case, naives: &[Naive]) -> (Option<i64>, Option<i64>) {
    let tl = &case.timeline;
    let (mut response, mut resolution) = (0i64, 0i64);
    let (mut d, mut b) = (None, None);
    for x in tl.opened..case.limit {
        let (p, s) = naive_state(tl, x);
        let (resp, res) = case.targets[p as usize];
        if d.is_none() && response >= resp * 60 {
            d = Some(x);
        }
        if b.is_none() && s != State::Resolved && resolution >= res * 60 {
            b = Some(x);
        }
        if d.is_some() && b.is_some() {
            break;
        }
        let member = naives[p as usize].member(x);
        response += i64::from(member);
        resolution += i64::from(member && s == State::Running);
    }
    (d, b)
}

/// The evaluation rules of SEMANTICS.md section 7 over the naive crossings.
fn naive_evaluation(case: &Case, naives: &[Naive]) -> Evaluation {
    let tl = &case.timeline;
    let (d, b) = naive_crossings(case, naives);
    let verdict = |at: i64, met: bool| Verdict {
        at,
        met,
        priority: naive_state(tl, at).0,
    };
    let r = tl
        .changes
        .iter()
        .find(|(_, c)| matches!(c, Change::Responded | Change::Resolved))
        .map(|c| c.0);
    let response = match (d, r) {
        (Some(d), r) if r.is_none_or(|r| d < r) => Some(verdict(d, false)),
        (_, Some(r)) if r < case.limit => Some(verdict(r, true)),
        _ => None,
    };
    let last_resolved = tl
        .changes
        .iter()
        .rev()
        .find(|(_, c)| *c == Change::Resolved)
        .map(|c| c.0);
    let ends_resolved = naive_state(tl, i64::MAX).1 == State::Resolved;
    let resolution = match b {
        Some(b) => Some(verdict(b, false)),
        None => last_resolved
            .filter(|&r| ends_resolved && r < case.limit)
            .map(|r| verdict(r, true)),
    };
    Evaluation {
        response,
        resolution,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn incident_clocks_match_seconds(case in case(180)) {
        check_incident(&case)?;
    }

    #[test]
    fn incident_edges_match_seconds(case in case(4)) {
        check_incident(&case)?;
    }
}

fn check_incident(case: &Case) -> Result<(), TestCaseError> {
    {
        let (from, to) = (case.timeline.opened, case.limit);
        let naives: Vec<Naive> = case.specs.iter().map(|s| naive_of(s, from, to)).collect();
        let by_priority: [Term<'_>; 4] = std::array::from_fn(|i| Term {
            clock: clock_of(&case.specs[i]),
            response: case.targets[i].0 * 60,
            resolution: case.targets[i].1 * 60,
        });
        let terms = Terms { by_priority };
        prop_assert_eq!(
            evaluate(&case.timeline, &terms, case.limit),
            naive_evaluation(case, &naives)
        );
    }
    Ok(())
}
