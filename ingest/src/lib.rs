//! Event sources of tla-ledger: file import and the seeded demo history
//! (HTTP receivers and the NATS publisher and consumer come later).
//!
//! `demo` generates a seeded, deterministic year of events for the demo
//! tenants; `import` appends a file of events to the ledger.

pub mod demo;
pub mod import;
