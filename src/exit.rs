//! The process's exit codes, as README documents them.

/// Every selected trial passed.
pub const OK: u8 = 0;
/// At least one selected trial failed.
pub const FAILED: u8 = 101;
/// Bad input (flags, case or schema files, an output path that cannot be written); nothing was
/// sent.
pub const BAD_INPUT: u8 = 2;
/// The target could not be used (unreachable, sign-in or discovery failed).
pub const TARGET_UNUSABLE: u8 = 3;
/// The run finished and its report is on the console, but an output file (`--junit`,
/// `--manifest`, a snapshot) could not be written at the end. Wins over 0 and 101, so that a CI
/// job never reads a run whose artefacts are missing as a plain pass or fail.
pub const OUTPUT_FAILED: u8 = 4;
/// Interrupted (Ctrl-C / SIGTERM); the account was restored unless a warning says otherwise.
pub const INTERRUPTED: u8 = 130;
