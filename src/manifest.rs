//! The run manifest (`--manifest PATH`): one JSON document per run, in a stable, documented
//! format (`schemas/manifest.schema.json`), for nightly history and the compliance matrix.

use serde::{Deserialize, Serialize};

use crate::error::{LoadError, from_json_error};
use crate::source::SourceFile;

/// The `format` value of manifests this version writes and reads.
pub const FORMAT: &str = "nexudus-conformance-manifest/1";

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
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
    pub skipped: usize,
    pub known_deviations: usize,
    pub filtered_out: usize,
    /// Snapshot trials whose snapshot was recorded as the target's baseline.
    #[serde(default)]
    pub baselines: usize,
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
    /// A SHOULD trial not asked for (`--include-ignored`).
    Ignored,
    /// Its fixture is missing.
    Skipped,
    /// Failed, and listed in `--known-deviations`.
    KnownDeviation,
    /// A snapshot trial with nothing stored: this run's was recorded as the baseline.
    Baseline,
    /// Left out by the filter.
    FilteredOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Ignored => "ignored",
            Outcome::Skipped => "skipped",
            Outcome::KnownDeviation => "known_deviation",
            Outcome::Baseline => "baseline",
            Outcome::FilteredOut => "filtered_out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The target broke the contract.
    Violation,
    /// The harness could not judge.
    Broken,
    /// An earlier step could not be completed, or the run stopped.
    NotRun,
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
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| from_json_error(&shown, &e))?;
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
