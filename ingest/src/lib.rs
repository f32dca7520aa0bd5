//! Event sources of tla-ledger and the service path into the ledger.
//!
//! `import` appends a file of events to the ledger (the seeded demo
//! history is the `demo` crate's). The service
//! path: `http` receives CloudEvents (`cloudevents` reads the content
//! modes) and Alertmanager webhooks (`alertmanager`), authorised by
//! `auth`, and publishes them through `nats` to JetStream; `writer`, the
//! ledger writer, consumes them into the ledger and acknowledges only what
//! is durable, after `binding` made sure its durable consumer feeds no
//! other ledger. `metrics` counts what both do.
//!
//! **Only `ingest` talks to NATS**; the binary wires it to the projector.

pub mod alertmanager;
pub mod auth;
pub mod binding;
pub mod cloudevents;
pub mod http;
pub mod import;
pub mod lease;
pub mod metrics;
pub mod nats;
pub mod replica;
pub mod writer;
