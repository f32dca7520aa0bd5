//! The ledger writer's and its replicas' decisions as pure state machines
//! (sans-IO, as TigerBeetle's and FoundationDB's simulators need them):
//! each is fed inputs (a batch gathered from the stream, the commit log's
//! answer, a flush completed, the lease lost, a timer) and returns the
//! actions to take (publish to the commit log, apply, flush, publish the
//! refusals, acknowledge, stop writing). Nothing here does I/O, reads a
//! clock or knows tokio, NATS or sled: the service's async shell
//! (`ingest::writer`, `service::run`) carries inputs and actions to NATS
//! and the ledger, and the simulator (`simulator/`) to simulated ones,
//! with faults drawn from a seed.
//!
//! - `pipeline`: one writer's batches, from gathered to acknowledged;
//! - `start`: whether a writer that caught up with the commit log may
//!   write;
//! - `supervisor`: a process's role (standby, starting, writing) as the
//!   lease and the writer's stops decide it.

pub mod pipeline;
pub mod start;
pub mod supervisor;
