//! The report sinks: they read a judged run and write it for people and machines — the console
//! in libtest's formats, JUnit, the manifest, snapshot files, the rule catalog, live progress —
//! every byte through the one redacting [`Output`]. A sink never changes an outcome.

mod console;
mod files;
mod html;
mod junit;
mod manifest;
mod output;
mod plan_text;
mod progress;
mod rules;
mod text;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use console::{print, render, selection};
pub use files::apply as apply_files;
pub use html::{render as render_html, write as write_html};
pub use junit::{render as render_junit, write as write_junit};
pub use manifest::{build as build_manifest, write as write_manifest};
pub use output::Output;
pub use plan_text::{list, preamble};
pub use progress::{Planned, Progress, ProgressMode};
pub use rules::{Kills, print as print_rules};
pub use text::{failure_text, short_message};

/// What the reports say about the run besides its trials.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The base URL tested (never holds credentials).
    pub base_url: String,
    /// What the target is: `embedded reference server`, `--base-url`, `--spawn`.
    pub target_kind: String,
    /// `--target-label` (or the label derived from the target), as snapshots and the manifest
    /// name it.
    pub target_label: String,
    pub contract_hash: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// The log of a `--spawn`ed implementation, named when the run fails.
    pub spawn_log: Option<PathBuf>,
}
