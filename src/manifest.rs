//! The run manifest (`--manifest PATH`): one JSON document per run, in a stable, documented
//! format (`schemas/manifest.schema.json`), for nightly history and the compliance matrix.

use serde::{Deserialize, Serialize};

use crate::error::{LoadError, from_json_error};
use crate::source::SourceFile;

/// The `format` value of manifests this version writes and reads.
pub const FORMAT: &str = "nexudus-conformance-manifest/2";

/// The format before "not judged" had one name; still read (its outcomes are mapped).
const FORMAT_1: &str = "nexudus-conformance-manifest/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub harness_version: String,
    /// Identifies the contract (schemas and cases) the run used.
    pub contract_hash: String,
    pub target: ManifestTarget,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    pub exit_code: u8,
    pub summary: Summary,
    pub trials: Vec<ManifestTrial>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestTarget {
    /// Never holds credentials (the harness refuses base URLs that do).
    pub base_url: String,
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// `conforms`, `does_not_conform` or `no_verdict`.
    pub verdict: String,
    /// The verdict as the console says it.
    pub verdict_text: String,
    pub passed: usize,
    pub failed: usize,
    /// Every trial not judged, deselected ones included.
    pub not_judged: usize,
    /// By reason (`should_not_counted`, `needs_fixture`, `interrupted`, `unusable`,
    /// `known_deviation`, `baseline`, `deselected`); reasons with none are left out.
    pub not_judged_by_reason: std::collections::BTreeMap<String, usize>,
    /// The SHOULD trials judged as advice that were not followed.
    #[serde(default)]
    pub should_not_followed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestTrial {
    pub name: String,
    /// The case the trial belongs to (`restore` and `known_deviations` for the harness's own).
    pub case: String,
    pub level: String,
    pub outcome: Outcome,
    /// For failed trials: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
    /// For trials not judged: why (`should_not_counted`, `needs_fixture`, `interrupted`,
    /// `unusable`, `known_deviation`, `baseline`, `deselected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For SHOULD trials judged as advice: what they showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<AdviceKind>,
    pub duration_ms: u64,
    /// One line: expected vs actual, or the reason it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    /// Not judged; `reason` says why.
    NotJudged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NotJudged => "not_judged",
        }
    }
}

/// What a SHOULD rule judged as advice showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdviceKind {
    Followed,
    NotFollowed,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The target broke the contract.
    Violation,
    /// The harness could not judge.
    Broken,
    /// An earlier step could not be completed.
    NotRun,
}

/// The reasons, in the order every sink lists them.
/// Why a trial was not judged: the one vocabulary every sink (console, JSON, JUnit, the
/// manifest, HTML, the matrix) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    ShouldNotCounted,
    NeedsFixture,
    Interrupted,
    Unusable,
    KnownDeviation,
    Baseline,
    Deselected,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::ShouldNotCounted,
        Reason::NeedsFixture,
        Reason::Interrupted,
        Reason::Unusable,
        Reason::KnownDeviation,
        Reason::Baseline,
        Reason::Deselected,
    ];

    /// The words every sink shows: `not judged: SHOULD not counted`.
    pub fn words(self) -> &'static str {
        match self {
            Reason::ShouldNotCounted => "SHOULD not counted",
            Reason::NeedsFixture => "needs a fixture",
            Reason::Interrupted => "interrupted",
            Reason::Unusable => "target unusable",
            Reason::KnownDeviation => "known deviation",
            Reason::Baseline => "baseline recorded",
            Reason::Deselected => "deselected",
        }
    }

    /// The reason of a key, as a manifest stores it.
    pub fn from_key(key: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.key() == key)
    }

    /// The key in JSON and the manifest: `should_not_counted`.
    pub fn key(self) -> &'static str {
        match self {
            Reason::ShouldNotCounted => "should_not_counted",
            Reason::NeedsFixture => "needs_fixture",
            Reason::Interrupted => "interrupted",
            Reason::Unusable => "unusable",
            Reason::KnownDeviation => "known_deviation",
            Reason::Baseline => "baseline",
            Reason::Deselected => "deselected",
        }
    }
}

/// A hash of the contract's files (path and text, in path order): FNV-1a, 64 bits, hex.
/// It identifies a contract version; it is not a security measure.
pub fn contract_hash(files: &[&SourceFile]) -> String {
    let mut sorted: Vec<&&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in sorted {
        for byte in file
            .path
            .bytes()
            .chain([0])
            .chain(file.text.bytes())
            .chain([0])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("fnv1a64:{hash:016x}")
}

/// Reads a manifest.
///
/// # Errors
/// Unreadable, not JSON, not this format.
pub fn load(path: &std::path::Path) -> Result<Manifest, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(&shown, format!("cannot read the manifest: {e}")))?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| from_json_error(&shown, &e))?;
    let manifest: Manifest =
        if value.get("format").and_then(serde_json::Value::as_str) == Some(FORMAT_1) {
            upgrade_format_1(&mut value);
            serde_json::from_value(value)
                .map_err(|e| LoadError::new(&shown, format!("not a manifest of format 1: {e}")))?
        } else {
            // Parsed from the text, so an error names its line and column.
            serde_json::from_str(&text).map_err(|e| from_json_error(&shown, &e))?
        };
    if manifest.format != FORMAT {
        return Err(LoadError::new(
            &shown,
            format!(
                "format `{}` is not `{FORMAT}`; it was written by another version of the harness",
                manifest.format
            ),
        )
        .at("/format"));
    }
    Ok(manifest)
}

/// A manifest of format 1 in the words of format 2: `ignored` (a SHOULD trial not run) and
/// `skipped` (a missing fixture) and the rest become `not_judged` with their reason.
fn upgrade_format_1(value: &mut serde_json::Value) {
    use serde_json::{Value, json};
    value["format"] = json!(FORMAT);
    let mut by_reason = std::collections::BTreeMap::<String, usize>::new();
    let (mut passed, mut failed) = (0, 0);
    if let Some(trials) = value.get_mut("trials").and_then(Value::as_array_mut) {
        for trial in trials {
            let reason = match trial.get("outcome").and_then(Value::as_str) {
                Some("passed") => {
                    passed += 1;
                    continue;
                }
                Some("failed") => {
                    failed += 1;
                    continue;
                }
                Some("ignored") => "should_not_counted",
                Some("skipped") => "needs_fixture",
                Some("filtered_out") => "deselected",
                Some(other) => other,
                None => continue,
            }
            .to_string();
            trial["outcome"] = json!("not_judged");
            *by_reason.entry(reason.clone()).or_default() += 1;
            trial["reason"] = json!(reason);
        }
    }
    let exit_code = value.get("exit_code").and_then(Value::as_u64).unwrap_or(0);
    let verdict = match exit_code {
        0 => "conforms",
        101 => "does_not_conform",
        _ => "no_verdict",
    };
    value["summary"] = json!({
        "verdict": verdict,
        "verdict_text": format!("verdict: {} (a manifest of format 1)", verdict.replace('_', " ")),
        "passed": passed,
        "failed": failed,
        "not_judged": by_reason.values().sum::<usize>(),
        "not_judged_by_reason": by_reason,
    });
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_hash_depends_on_paths_and_texts_not_order() {
        let a = SourceFile {
            path: "a.json".into(),
            text: "{}".into(),
        };
        let b = SourceFile {
            path: "b.json".into(),
            text: "[]".into(),
        };
        let b2 = SourceFile {
            path: "b.json".into(),
            text: "[ ]".into(),
        };
        assert_eq!(contract_hash(&[&a, &b]), contract_hash(&[&b, &a]));
        assert_ne!(contract_hash(&[&a, &b]), contract_hash(&[&a, &b2]));
        assert!(contract_hash(&[&a]).starts_with("fnv1a64:"));
    }
}
