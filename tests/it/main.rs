#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The integration tests: one binary (it compiles once), modules by area.
//!
//! Every test starts what it needs on 127.0.0.1 itself — the reference server in-process, or
//! the harness binary as a child process — and touches no other address.

mod support;

mod bad_input;
mod batches;
mod faults;
mod gating;
mod hostile;
mod layering;
mod nightly;
mod openapi;
mod release;
mod reports;
mod secrets;
mod sinks;
mod snapshots;
mod suite;
mod variants;
