//! The manifest sink (`--manifest`): the run as one JSON document in the documented format
//! (`schemas/manifest.schema.json`), written on every path — a pass, a failure, an unusable
//! target.

use super::RunInfo;
use super::output::Output;
use super::text::short_message;
use crate::case::Level;
use crate::judge::{Advice, Failure, Judgement, NotJudged, Reason, Status};
use crate::manifest::{
    AdviceKind, FailureKind, Manifest, ManifestTarget, ManifestTrial, Outcome, Summary,
};

/// The manifest of a judged run; `exit_code` is the code the process ends with.
pub fn build(judgement: &Judgement, info: &RunInfo, exit_code: u8) -> Manifest {
    let s = &judgement.summary;
    let summary = Summary {
        verdict: judgement.verdict.key().into(),
        verdict_text: super::console::verdict_lines(judgement).join("\n"),
        passed: s.passed,
        failed: s.failed,
        not_judged: s.not_judged_total(),
        not_judged_by_reason: Reason::ALL
            .iter()
            .filter(|r| s.not_judged(**r) > 0)
            .map(|r| (r.key().to_string(), s.not_judged(*r)))
            .collect(),
        should_not_followed: s.advice_not_followed.clone(),
    };
    let trials = judgement
        .outcomes
        .iter()
        .map(|o| {
            let (outcome, failure, reason, advice) = match &o.status {
                Status::Passed(_) => (Outcome::Passed, None, None, None),
                Status::Failed(f) => (
                    Outcome::Failed,
                    Some(match f {
                        Failure::Violation(_) => FailureKind::Violation,
                        Failure::Broken(_) => FailureKind::Broken,
                        Failure::NotRun(_) => FailureKind::NotRun,
                    }),
                    None,
                    None,
                ),
                Status::NotJudged(why) => (
                    Outcome::NotJudged,
                    None,
                    Some(why.reason().key().to_string()),
                    match why {
                        NotJudged::ShouldNotCounted(Advice::Followed(_)) => {
                            Some(AdviceKind::Followed)
                        }
                        NotJudged::ShouldNotCounted(Advice::NotFollowed(_)) => {
                            Some(AdviceKind::NotFollowed)
                        }
                        NotJudged::ShouldNotCounted(Advice::Unknown(_)) => {
                            Some(AdviceKind::Unknown)
                        }
                        _ => None,
                    },
                ),
            };
            let message = match &o.status {
                Status::Passed(_) => None,
                _ if o.status.is_deselected() => None,
                _ => Some(short_message(&o.status)).filter(|m| !m.is_empty()),
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
                reason,
                advice,
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
