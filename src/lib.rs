//! nexudus-conformance: a contract-conformance harness for the Nexudus customer-portal API's
//! "Switch Active Profile" endpoint and the profile list it is verified through.
//!
//! The pipeline is load (`source`, `contract`, `case`) → `plan` → `run` (using `http` and
//! `check`, recording into `record`) → `judge` → `report`; `app` wires it, `cli` feeds it,
//! `server` is the embedded reference implementation. Each module uses only modules below it
//! (ARCHITECTURE.md lists the order; a test keeps it).

pub mod api;
pub mod app;
pub mod case;
pub mod check;
pub mod cli;
pub mod contract;
pub mod deviation;
pub mod error;
pub mod exit;
pub mod http;
pub mod judge;
pub mod manifest;
pub mod matrix;
pub mod plan;
pub mod probe;
pub mod record;
pub mod redact;
pub mod report;
pub mod run;
pub mod server;
pub mod signin;
pub mod snapshot;
pub mod source;
pub mod spawn;
pub mod suggest;
