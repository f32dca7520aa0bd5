//! The fast path of reading one event: a scanner for the JSON that
//! producers and the ledger actually write (a flat envelope and a flat
//! `data` object of strings, integers and booleans), which checks the field
//! rules on the strings as it finds them and takes the canonical bytes from
//! the text itself when the text is canonical already, all without building
//! a `serde_json::Value`.
//!
//! It never decides that an event is invalid. Whatever it is unsure of
//! (nested data such as an agreement, `null`, decimals, escaped surrogates,
//! escaped keys, duplicate keys, a field that breaks a rule, a syntax
//! error) makes it return `None`, and the caller takes the full path of
//! [`Event::from_json`], whose results and error messages are the
//! reference. When it returns an event, that event is equal, canonical
//! bytes included, to what the full path returns for the same text; the
//! tests in `tests/fast_path.rs` check this on generated and damaged events.

use std::borrow::Cow;
use std::io::Write;

use crate::canonical::write_string;
use crate::event::{
    extension_name_ok, Event, EventData, EventType, Impact, MeetingKind, Party, Priority, ENVELOPE,
};
use crate::rules::{self, id_rule, parse_instant, role_rule, source_rule, tenant_rule};

/// Most members of one object the fast path reads: the eight envelope
/// attributes and a few extensions, or the (at most five) fields of a
/// `data`. Larger objects go the full path.
const MEMBERS_MAX: usize = 16;

/// Reads one event from `text`, which may be surrounded by JSON whitespace
/// and need not be canonical; `None` when the full path must decide.
pub(crate) fn read(text: &str) -> Option<Event> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        as_is: true,
    };
    scanner.whitespace();
    let top = scanner.members(true)?;
    scanner.whitespace();
    if scanner.pos != scanner.bytes.len() {
        return None;
    }
    let (fields, data) = Envelope::read(&top)?;
    let data = read_data(fields.event_type, data)?;
    let canonical = if scanner.as_is {
        text.as_bytes().to_vec()
    } else {
        let mut out = Vec::with_capacity(text.len());
        write_object(&top, &mut out);
        out
    };
    if canonical.len() > fields.event_type.bytes_max() {
        return None;
    }
    Some(Event::from_parts(
        fields.id.into_owned(),
        fields.source.into_owned(),
        fields.tenant.into_owned(),
        fields.event_type,
        fields.time,
        data,
        canonical,
    ))
}

/// A JSON integer as serde_json reads it: `U64` for every non-negative
/// one, `I64` for a negative one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Integer {
    NonNegative(u64),
    Negative(i64),
}

/// A value the fast path reads.
#[derive(Debug)]
enum Node<'a> {
    Str(Cow<'a, str>),
    Integer(Integer),
    Bool(bool),
    /// An object of scalars (`data`).
    Object(Members<'a>),
}

/// The members of one object, sorted by the byte order of their keys
/// (the canonical order), each key once.
#[derive(Debug)]
struct Members<'a>(Vec<(&'a str, Node<'a>)>);

impl<'a> Members<'a> {
    /// The value of member `name`.
    fn get(&self, name: &str) -> Option<&Node<'a>> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// A cursor over JSON text accepting a subset of serde_json's grammar.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// No whitespace, escape or unsorted key seen so far: the text is its
    /// own canonical form.
    as_is: bool,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips JSON whitespace (the four characters serde_json skips).
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
            self.as_is = false;
        }
    }

    /// Consumes `b` or fails.
    fn expect(&mut self, b: u8) -> Option<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// An object of scalars, and of objects of scalars when
    /// `nested_allowed` (the envelope and its `data`), in canonical order;
    /// `None` on a duplicate key. Clears `as_is` when the text had the keys
    /// in another order.
    fn members(&mut self, nested_allowed: bool) -> Option<Members<'a>> {
        self.expect(b'{')?;
        // Room for a whole envelope, or for the fields of most `data`.
        let mut members = Vec::with_capacity(if nested_allowed { ENVELOPE.len() } else { 4 });
        loop {
            self.whitespace();
            let key = self.key()?;
            self.whitespace();
            self.expect(b':')?;
            self.whitespace();
            let value = match self.peek()? {
                b'{' if nested_allowed => Node::Object(self.members(false)?),
                _ => self.scalar()?,
            };
            if members.len() == MEMBERS_MAX {
                return None;
            }
            members.push((key, value));
            self.whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        if !members.windows(2).all(|w| w[0].0 < w[1].0) {
            self.as_is = false;
            members.sort_by(|a, b| a.0.cmp(b.0));
            if members.windows(2).any(|w| w[0].0 == w[1].0) {
                return None;
            }
        }
        Some(Members(members))
    }

    /// A key: a string without escapes.
    fn key(&mut self) -> Option<&'a str> {
        match self.string()? {
            Cow::Borrowed(s) => Some(s),
            Cow::Owned(_) => None,
        }
    }

    fn scalar(&mut self) -> Option<Node<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Node::Str),
            b't' => self.literal(b"true").map(|()| Node::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Node::Bool(false)),
            b'-' | b'0'..=b'9' => self.integer().map(Node::Integer),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end)? == word {
            self.pos = end;
            Some(())
        } else {
            None
        }
    }

    /// An integer in serde_json's range without fraction or exponent, and
    /// not `-0` (which serde_json reads as a float).
    fn integer(&mut self) -> Option<Integer> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        let digits = &self.text[start..self.pos];
        if digits.is_empty()
            || (digits.starts_with('0') && digits.len() > 1)
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let magnitude: u64 = digits.parse().ok()?;
        if !negative {
            return Some(Integer::NonNegative(magnitude));
        }
        match magnitude {
            0 => None,
            m if m == i64::MIN.unsigned_abs() => Some(Integer::Negative(i64::MIN)),
            m => i64::try_from(m).ok().map(|m| Integer::Negative(-m)),
        }
    }

    /// A string, with its escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
    /// `\r`, `\t`, and `\uXXXX` other than surrogates) decoded; borrowed
    /// when it has none.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        self.skip_plain();
        match self.peek()? {
            b'"' => {
                let s = &self.text[start..self.pos];
                self.pos += 1;
                return Some(Cow::Borrowed(s));
            }
            b'\\' => {}
            _ => return None,
        }
        self.as_is = false;
        // Every byte stopped at is ASCII, so each slice taken below starts
        // and ends on a char boundary.
        let mut owned = self.text[start..self.pos].to_string();
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(Cow::Owned(owned));
                }
                b'\\' => {
                    let (c, len) = match self.bytes.get(self.pos + 1)? {
                        b'"' => ('"', 2),
                        b'\\' => ('\\', 2),
                        b'/' => ('/', 2),
                        b'b' => ('\u{8}', 2),
                        b'f' => ('\u{c}', 2),
                        b'n' => ('\n', 2),
                        b'r' => ('\r', 2),
                        b't' => ('\t', 2),
                        b'u' => (self.unicode_escape()?, 6),
                        _ => return None,
                    };
                    owned.push(c);
                    self.pos += len;
                }
                _ => return None,
            }
            let run = self.pos;
            self.skip_plain();
            owned.push_str(&self.text[run..self.pos]);
        }
    }

    /// Advances past the bytes a string literal holds as they are: up to
    /// the next `"`, `\` or control character (which JSON must escape).
    fn skip_plain(&mut self) {
        let rest = &self.bytes[self.pos..];
        self.pos += rest
            .iter()
            .position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1f))
            .unwrap_or(rest.len());
    }

    /// The character of the `\uXXXX` escape at the cursor; `None` for a
    /// surrogate (half of a pair, or alone), which the full path decides.
    fn unicode_escape(&self) -> Option<char> {
        let hex = self.text.get(self.pos + 2..self.pos + 6)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }
}

/// The envelope attributes, each checked by the rule the full path applies.
struct Envelope<'a> {
    id: Cow<'a, str>,
    source: Cow<'a, str>,
    tenant: Cow<'a, str>,
    event_type: EventType,
    time: i64,
}

impl<'a> Envelope<'a> {
    /// The envelope and the `data` members of the (sorted) top object;
    /// `None` unless every attribute passes its rule.
    fn read<'m>(top: &'m Members<'a>) -> Option<(Envelope<'a>, &'m Members<'a>)> {
        let mut id = None;
        let mut source = None;
        let mut tenant = None;
        let mut event_type = None;
        let mut time = None;
        let mut specversion = false;
        let mut data = None;
        for (key, value) in &top.0 {
            match (*key, value) {
                ("specversion", Node::Str(s)) if s == "1.0" => specversion = true,
                ("datacontenttype", Node::Str(s)) if s == "application/json" => {}
                ("id", Node::Str(s)) if id_rule(s).is_ok() => id = Some(s.clone()),
                ("source", Node::Str(s)) if source_rule(s).is_ok() => source = Some(s.clone()),
                ("tenant", Node::Str(s)) if tenant_rule(s).is_ok() => tenant = Some(s.clone()),
                ("type", Node::Str(s)) => event_type = Some(EventType::parse(s)?),
                ("time", Node::Str(s)) => time = Some(parse_instant(s).ok()?),
                ("data", Node::Object(m)) => data = Some(m),
                (name, Node::Str(_) | Node::Integer(_) | Node::Bool(_))
                    if !ENVELOPE.contains(&name) && extension_name_ok(name) => {}
                _ => return None,
            }
        }
        if !specversion {
            return None;
        }
        let envelope = Envelope {
            id: id?,
            source: source?,
            tenant: tenant?,
            event_type: event_type?,
            time: time?,
        };
        Some((envelope, data?))
    }
}

/// The `data` of type `t`, when every field passes its rule and no field
/// is unknown; the fast counterpart of `data::read`.
fn read_data(t: EventType, data: &Members<'_>) -> Option<EventData> {
    use EventType as T;
    let mut f = DataFields {
        members: data,
        taken: 0,
    };
    let typed = match t {
        T::AgreementPublished => return None,
        T::OutageStarted => EventData::OutageStarted {
            service: f.string("service", tenant_rule)?,
            outage_id: f.string("outage_id", id_rule)?,
            impact: f.choice(
                "impact",
                &[("full", Impact::Full), ("partial", Impact::Partial)],
            )?,
        },
        T::OutageEnded => EventData::OutageEnded {
            service: f.string("service", tenant_rule)?,
            outage_id: f.string("outage_id", id_rule)?,
        },
        T::MaintenanceScheduled => {
            let service = f.string("service", tenant_rule)?;
            let window_id = f.string("window_id", id_rule)?;
            let start = f.instant("start")?;
            let end = f.instant("end")?;
            if end <= start {
                return None;
            }
            EventData::MaintenanceScheduled {
                service,
                window_id,
                start,
                end,
            }
        }
        T::MaintenanceCancelled => EventData::MaintenanceCancelled {
            service: f.string("service", tenant_rule)?,
            window_id: f.string("window_id", id_rule)?,
        },
        T::IncidentOpened => EventData::IncidentOpened {
            incident_id: f.string("incident_id", id_rule)?,
            service: f.string("service", tenant_rule)?,
            priority: f.choice("priority", &Priority::ALL.map(|p| (p.as_str(), p)))?,
        },
        T::IncidentResponded => EventData::IncidentResponded {
            incident_id: f.string("incident_id", id_rule)?,
        },
        T::IncidentOnHold => EventData::IncidentOnHold {
            incident_id: f.string("incident_id", id_rule)?,
            reason: f.string("reason", rules::reason_rule)?,
        },
        T::IncidentResumed => EventData::IncidentResumed {
            incident_id: f.string("incident_id", id_rule)?,
        },
        T::IncidentPriorityChanged => EventData::IncidentPriorityChanged {
            incident_id: f.string("incident_id", id_rule)?,
            priority: f.choice("priority", &Priority::ALL.map(|p| (p.as_str(), p)))?,
        },
        T::IncidentResolved => EventData::IncidentResolved {
            incident_id: f.string("incident_id", id_rule)?,
        },
        T::IncidentReopened => EventData::IncidentReopened {
            incident_id: f.string("incident_id", id_rule)?,
        },
        T::MeetingHeld => EventData::MeetingHeld {
            meeting_id: f.string("meeting_id", id_rule)?,
            kind: f.choice(
                "kind",
                &[
                    ("operations", MeetingKind::Operations),
                    ("steering", MeetingKind::Steering),
                ],
            )?,
        },
        T::MinutesFiled => EventData::MinutesFiled {
            meeting_id: f.string("meeting_id", id_rule)?,
            digest: f.string("digest", rules::digest_rule)?,
        },
        T::ContactAssigned => EventData::ContactAssigned {
            role: f.string("role", role_rule)?,
            service: f.optional(|f| f.string("service", tenant_rule))?,
            person: f.string("person", rules::person_rule)?,
            email: f.optional(|f| f.string("email", rules::email_rule))?,
            phone: f.optional(|f| f.string("phone", rules::phone_rule))?,
        },
        T::ContactVacated => EventData::ContactVacated {
            role: f.string("role", role_rule)?,
            service: f.optional(|f| f.string("service", tenant_rule))?,
        },
        T::ReportIssued => {
            let period = f.string("period", rules::period_rule)?;
            let ledger_size = f.count("ledger_size")?;
            let report_digest = f.string("report_digest", rules::digest_rule)?;
            f.optional(|f| f.count("as_of"))?;
            let tree_root = f.optional(|f| f.string("tree_root", rules::digest_rule))?;
            EventData::ReportIssued {
                period,
                ledger_size,
                report_digest,
                tree_root,
            }
        }
        // `deviation_ids` is an array, which the scanner leaves to the
        // full path.
        T::ActionOpened => return None,
        T::DeviationExplained => EventData::DeviationExplained {
            deviation_id: f.string("deviation_id", rules::deviation_id_rule)?,
            cause: f.string("cause", rules::text_2000_rule)?,
            action_id: f.optional(|f| f.string("action_id", tenant_rule))?,
        },
        T::ActionClosed => EventData::ActionClosed {
            action_id: f.string("action_id", tenant_rule)?,
            outcome: f.string("outcome", rules::text_2000_rule)?,
        },
        T::ReportAcknowledged => EventData::ReportAcknowledged {
            period: f.string("period", rules::period_rule)?,
            report_digest: f.string("report_digest", rules::digest_rule)?,
            person: f.string("person", rules::text_2000_rule)?,
            comment: f.optional(|f| f.string("comment", rules::text_2000_rule))?,
        },
        T::AgreementApproved => EventData::AgreementApproved {
            version: f.string("version", crate::agreement::version_rule)?,
            party: f.choice("party", &Party::ALL.map(|p| (p.as_str(), p)))?,
            person: f.string("person", rules::text_2000_rule)?,
        },
    };
    // Keys are unique, so taking as many fields as there are means that
    // none is unknown.
    (f.taken == data.0.len()).then_some(typed)
}

/// The fields of one `data` object, counting those a reader took.
struct DataFields<'m, 'a> {
    members: &'m Members<'a>,
    taken: usize,
}

impl<'m, 'a> DataFields<'m, 'a> {
    /// The value of field `name`; each reader takes a name once.
    fn take(&mut self, name: &str) -> Option<&'m Node<'a>> {
        let v = self.members.get(name)?;
        self.taken += 1;
        Some(v)
    }

    /// A string field that passes `rule`.
    fn string(&mut self, name: &str, rule: fn(&str) -> Result<(), String>) -> Option<String> {
        match self.take(name)? {
            Node::Str(s) if rule(s).is_ok() => Some(s.to_string()),
            _ => None,
        }
    }

    /// A string field that is one of `choices`.
    fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Option<T> {
        match self.take(name)? {
            Node::Str(s) => choices.iter().find(|(c, _)| *c == s).map(|&(_, t)| t),
            _ => None,
        }
    }

    /// An RFC 3339 instant, as Unix seconds.
    fn instant(&mut self, name: &str) -> Option<i64> {
        match self.take(name)? {
            Node::Str(s) => parse_instant(s).ok(),
            _ => None,
        }
    }

    /// A non-negative integer.
    fn count(&mut self, name: &str) -> Option<u64> {
        match self.take(name)? {
            Node::Integer(Integer::NonNegative(n)) => Some(*n),
            _ => None,
        }
    }

    /// An optional field: `Some(None)` when absent, `None` when present
    /// and not valid by `read`.
    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        let before = self.taken;
        match read(self) {
            Some(v) => Some(Some(v)),
            // Absent (nothing was taken): fine.
            None if self.taken == before => Some(None),
            None => None,
        }
    }
}

/// Writes sorted `members` as canonical JSON.
fn write_object(members: &Members<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, value)) in members.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        match value {
            Node::Str(s) => write_string(s, out),
            Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            // Writing into a Vec cannot fail.
            Node::Integer(Integer::NonNegative(n)) => drop(write!(out, "{n}")),
            Node::Integer(Integer::Negative(n)) => drop(write!(out, "{n}")),
            Node::Object(inner) => write_object(inner, out),
        }
    }
    out.push(b'}');
}
