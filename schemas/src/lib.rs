//! Wire and disk types of tla-ledger, and their validation.
//!
//! Raw bytes become these types in one step (`input::parse_events`,
//! `Event::from_json`) and nothing else in the workspace looks at raw JSON.
//! Validation follows SEMANTICS.md sections 1-4 and 11; the choices made
//! where that page is silent are in VALIDATION.md. Every validator returns
//! all problems it finds, each naming its field path. This crate does no
//! I/O (its one outside read is the system clock, `clock`) and knows
//! nothing about sled, NATS or tokio.

pub mod agreement;
pub mod canonical;
pub mod clock;
mod data;
pub mod error;
pub mod event;
mod fast;
pub mod input;
mod json;
mod rules;

pub use error::FieldError;
pub use event::{
    format_instant, Event, EventData, EventType, Impact, MeetingKind, Party, Priority,
    AUTHID_ATTRIBUTE, AUTHTYPE_API_KEY, AUTHTYPE_ATTRIBUTE, LEDGER_SOURCE,
};
pub use rules::{
    DEVIATION_ID_LEN, ID_LEN_MAX, NAME_LEN_MAX, PERSON_LEN_MAX, PHONE_LEN_MAX, REASON_LEN_MAX,
    SOURCE_LEN_MAX, TEXT_LEN_MAX,
};
