//! The manifest sink (`--manifest`): the run as one JSON document in the documented format
//! (`schemas/manifest.schema.json`), written on every path — a pass, a failure, an unusable
//! target.

use super::RunInfo;
use super::output::Output;
use super::text::short_message;
use crate::case::Level;
use crate::judge::{Failure, Ignored, Judgement, Status};
use crate::manifest::{FailureKind, Manifest, ManifestTarget, ManifestTrial, Outcome, Summary};

/// The manifest of a judged run; `exit_code` is the code the process ends with.
pub fn build(judgement: &Judgement, info: &RunInfo, exit_code: u8) -> Manifest {
    let mut summary = Summary::default();
    let trials = judgement
        .outcomes
        .iter()
        .map(|o| {
            let (outcome, failure) = match &o.status {
                Status::FilteredOut => (Outcome::FilteredOut, None),
                Status::Passed(_) => (Outcome::Passed, None),
                Status::Ignored(Ignored::ShouldRule) => (Outcome::Ignored, None),
                Status::Ignored(Ignored::MissingFixture(_)) => (Outcome::Skipped, None),
                Status::Ignored(Ignored::KnownDeviation(_)) => (Outcome::KnownDeviation, None),
                Status::Ignored(Ignored::Baseline(_)) => (Outcome::Baseline, None),
                Status::Failed(f) => (
                    Outcome::Failed,
                    Some(match f {
                        Failure::Violation(_) => FailureKind::Violation,
                        Failure::Broken(_) => FailureKind::Broken,
                        Failure::NotRun(_) | Failure::Unusable(_) => FailureKind::NotRun,
                    }),
                ),
            };
            match outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Ignored => summary.ignored += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::KnownDeviation => summary.known_deviations += 1,
                Outcome::Baseline => summary.baselines += 1,
                Outcome::FilteredOut => summary.filtered_out += 1,
            }
            let message = match &o.status {
                Status::Failed(_)
                | Status::Ignored(
                    Ignored::MissingFixture(_) | Ignored::KnownDeviation(_) | Ignored::Baseline(_),
                ) => Some(short_message(&o.status)).filter(|m| !m.is_empty()),
                _ => None,
            };
            ManifestTrial {
                name: o.name.clone(),
                case: o.name.split("::").next().unwrap_or_default().to_string(),
                level: match o.level {
                    Level::Must => "must".into(),
                    Level::Should => "should".into(),
                },
                outcome,
                failure,
                duration_ms: millis(o.duration),
                message,
            }
        })
        .collect();
    Manifest {
        format: crate::manifest::FORMAT.into(),
        harness_version: env!("CARGO_PKG_VERSION").into(),
        contract_hash: info.contract_hash.clone(),
        target: ManifestTarget {
            base_url: info.base_url.clone(),
            label: info.target_label.clone(),
        },
        started_at: info.started_at.clone(),
        duration_ms: millis(judgement.summary.duration),
        exit_code,
        summary,
        trials,
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Writes the manifest, redacted.
///
/// # Errors
/// When the file cannot be written.
pub fn write(
    path: &std::path::Path,
    judgement: &Judgement,
    info: &RunInfo,
    exit_code: u8,
    output: &Output,
) -> std::io::Result<()> {
    let manifest = build(judgement, info, exit_code);
    let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    output.write_file(path, &(text + "\n"))
}
