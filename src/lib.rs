//! nexudus-conformance: a contract-conformance harness for the Nexudus customer-portal API's
//! "Switch Active Profile" endpoint and the profile list it is verified through.
//!
//! The pipeline is load (`source`, `contract`, `case`) → `plan` → `run` (using `http` and
//! `check`) → `report`; `server` is the embedded reference implementation. See ARCHITECTURE.md.

pub mod case;
pub mod check;
pub mod cli;
pub mod contract;
pub mod deviation;
pub mod error;
pub mod fault_matrix;
pub mod http;
pub mod manifest;
pub mod matrix;
pub mod plan;
pub mod redact;
pub mod report;
pub mod run;
pub mod server;
pub mod signin;
pub mod snapshot;
pub mod source;
pub mod spawn;
