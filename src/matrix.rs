//! The compliance matrix (`matrix MANIFEST...`): targets × trials from run manifests, and for a
//! target with several runs, the trend — since which run each failing trial has been failing.
//! Pure: manifests in, Markdown or a self-contained HTML page out.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{Manifest, Outcome};

/// One target's runs, oldest first.
#[derive(Debug, Clone)]
pub struct TargetRuns {
    pub label: String,
    pub runs: Vec<Manifest>,
}

impl TargetRuns {
    fn latest(&self) -> Option<&Manifest> {
        self.runs.last()
    }
}

/// Groups manifests by target label, each group sorted by start time.
pub fn group(manifests: Vec<Manifest>) -> Vec<TargetRuns> {
    let mut by_label: BTreeMap<String, Vec<Manifest>> = BTreeMap::new();
    for m in manifests {
        by_label.entry(m.target.label.clone()).or_default().push(m);
    }
    by_label
        .into_iter()
        .map(|(label, mut runs)| {
            runs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
            TargetRuns { label, runs }
        })
        .collect()
}

impl TargetRuns {
    /// Why this label's runs may not be one trend: they name different base URLs or contracts.
    pub fn mixed(&self) -> Option<String> {
        let urls: BTreeSet<&str> = self
            .runs
            .iter()
            .map(|m| m.target.base_url.as_str())
            .collect();
        let hashes: BTreeSet<&str> = self.runs.iter().map(|m| m.contract_hash.as_str()).collect();
        let mut why = Vec::new();
        if urls.len() > 1 {
            why.push(format!(
                "base URLs {}",
                urls.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if hashes.len() > 1 {
            why.push(format!(
                "contract versions {}",
                hashes.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        (!why.is_empty()).then(|| {
            format!(
                "the runs labelled `{}` name different {}: their trend may compare different targets or \
                 contracts; give each its own --target-label",
                self.label,
                why.join(" and ")
            )
        })
    }
}

/// A failing trial's streak in one target's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streak {
    pub trial: String,
    /// Start time of the first run of the current failing streak.
    pub since: String,
    /// How many runs in a row (ending with the latest) it has failed.
    pub runs: usize,
    /// Whether it failed in every recorded run.
    pub always: bool,
}

/// The failing streaks of the latest run of `target`.
pub fn trend(target: &TargetRuns) -> Vec<Streak> {
    let Some(latest) = target.latest() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for trial in latest
        .trials
        .iter()
        .filter(|t| t.outcome == Outcome::Failed)
    {
        let mut since = latest.started_at.clone();
        let mut runs = 0;
        for run in target.runs.iter().rev() {
            let failed = run
                .trials
                .iter()
                .any(|t| t.name == trial.name && t.outcome == Outcome::Failed);
            if !failed {
                break;
            }
            since = run.started_at.clone();
            runs += 1;
        }
        out.push(Streak {
            trial: trial.name.clone(),
            since,
            runs,
            always: runs == target.runs.len(),
        });
    }
    out
}

fn symbol(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Passed) => "✅",
        Some(Outcome::Failed) => "❌",
        Some(Outcome::Ignored) => "⚪",
        Some(Outcome::Skipped) => "⏭",
        Some(Outcome::KnownDeviation) => "⚠️",
        Some(Outcome::Baseline) => "📸",
        Some(Outcome::FilteredOut) | None => "–",
    }
}

const LEGEND: &str = "✅ passed · ❌ failed · ⚠️ known deviation · ⚪ ignored (SHOULD) · ⏭ skipped (fixture missing) · – not run";

/// Rows: every trial of every latest run, with its level and per-target outcome.
fn rows(targets: &[TargetRuns]) -> Vec<(String, String, Vec<Option<Outcome>>)> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for target in targets {
        if let Some(latest) = target.latest() {
            for t in &latest.trials {
                names
                    .entry(t.name.clone())
                    .or_insert_with(|| t.level.to_uppercase());
            }
        }
    }
    names
        .into_iter()
        .map(|(name, level)| {
            let cells = targets
                .iter()
                .map(|target| {
                    target
                        .latest()
                        .and_then(|m| m.trials.iter().find(|t| t.name == name))
                        .map(|t| t.outcome)
                })
                .collect();
            (name, level, cells)
        })
        .collect()
}

fn contract_note(targets: &[TargetRuns]) -> Option<String> {
    let hashes: BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| t.latest())
        .map(|m| m.contract_hash.as_str())
        .collect();
    (hashes.len() > 1).then(|| {
        "note: the latest runs used different contracts (contract_hash differs); rows may not compare".to_string()
    })
}

/// The matrix and trends as Markdown.
pub fn markdown(targets: &[TargetRuns]) -> String {
    let mut out = String::from("# Compliance matrix\n\n");
    out.push_str("| trial | level |");
    for t in targets {
        out.push_str(&format!(" {} |", t.label));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(targets.len()));
    out.push('\n');
    for (name, level, cells) in rows(targets) {
        out.push_str(&format!("| `{name}` | {level} |"));
        for cell in cells {
            out.push_str(&format!(" {} |", symbol(cell)));
        }
        out.push('\n');
    }
    out.push_str(&format!("\n{LEGEND}\n\n"));
    for t in targets {
        if let Some(m) = t.latest() {
            out.push_str(&format!(
                "- **{}**: {} ({}), latest of {} run(s) at {}: {} passed, {} failed, {} known deviations; harness {}, contract {}\n",
                t.label,
                m.target.base_url,
                if m.exit_code == 0 { "green" } else { "red" },
                t.runs.len(),
                m.started_at,
                m.summary.passed,
                m.summary.failed,
                m.summary.known_deviations,
                m.harness_version,
                m.contract_hash
            ));
        }
    }
    if let Some(note) = contract_note(targets) {
        out.push_str(&format!("\n{note}\n"));
    }
    for t in targets.iter().filter(|t| t.runs.len() > 1) {
        out.push_str(&format!(
            "\n## Trend: {} ({} runs, {} → {})\n\n",
            t.label,
            t.runs.len(),
            t.runs.first().map_or("", |m| m.started_at.as_str()),
            t.runs.last().map_or("", |m| m.started_at.as_str())
        ));
        let streaks = trend(t);
        if streaks.is_empty() {
            out.push_str("Nothing fails in the latest run.\n");
            continue;
        }
        out.push_str(
            "| failing trial | first failing run | runs failing in a row |\n|---|---|---|\n",
        );
        for s in streaks {
            let since = if s.always {
                format!("{} (every recorded run)", s.since)
            } else {
                s.since
            };
            out.push_str(&format!("| `{}` | {since} | {} |\n", s.trial, s.runs));
        }
    }
    out
}

/// Text between tags (every use here is element content, never an attribute).
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_text(s)
}

/// The matrix and trends as one self-contained HTML page (inline CSS, no scripts, no links out).
pub fn html(targets: &[TargetRuns]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance matrix</title>\n<style>\
         body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}\
         th,td{border:1px solid #ccc;padding:2px 8px;text-align:center}td.name{text-align:left;font-family:monospace}\
         td.failed{background:#fdd}td.passed{background:#dfd}td.known_deviation{background:#ffd}\
         </style></head><body>\n<h1>Compliance matrix</h1>\n<table>\n<tr><th>trial</th><th>level</th>",
    );
    for t in targets {
        out.push_str(&format!("<th>{}</th>", escape(&t.label)));
    }
    out.push_str("</tr>\n");
    for (name, level, cells) in rows(targets) {
        out.push_str(&format!(
            "<tr><td class=\"name\">{}</td><td>{}</td>",
            escape(&name),
            escape(&level)
        ));
        for cell in cells {
            let class = cell.map_or("none", Outcome::as_str);
            out.push_str(&format!(
                "<td class=\"{class}\" title=\"{class}\">{}</td>",
                symbol(cell)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str(&format!("</table>\n<p>{}</p>\n<ul>\n", escape(LEGEND)));
    for t in targets {
        if let Some(m) = t.latest() {
            out.push_str(&format!(
                "<li><b>{}</b>: {} — latest of {} run(s) at {}: {} passed, {} failed; contract {}</li>\n",
                escape(&t.label),
                escape(&m.target.base_url),
                t.runs.len(),
                escape(&m.started_at),
                m.summary.passed,
                m.summary.failed,
                escape(&m.contract_hash)
            ));
        }
    }
    out.push_str("</ul>\n");
    if let Some(note) = contract_note(targets) {
        out.push_str(&format!("<p>{}</p>\n", escape(&note)));
    }
    for t in targets.iter().filter(|t| t.runs.len() > 1) {
        out.push_str(&format!(
            "<h2>Trend: {} ({} runs)</h2>\n",
            escape(&t.label),
            t.runs.len()
        ));
        let streaks = trend(t);
        if streaks.is_empty() {
            out.push_str("<p>Nothing fails in the latest run.</p>\n");
            continue;
        }
        out.push_str("<table>\n<tr><th>failing trial</th><th>first failing run</th><th>runs failing in a row</th></tr>\n");
        for s in streaks {
            out.push_str(&format!(
                "<tr><td class=\"name\">{}</td><td>{}{}</td><td>{}</td></tr>\n",
                escape(&s.trial),
                escape(&s.since),
                if s.always {
                    " (every recorded run)"
                } else {
                    ""
                },
                s.runs
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{FailureKind, ManifestTarget, ManifestTrial, Summary};

    fn manifest(label: &str, started_at: &str, outcomes: &[(&str, Outcome)]) -> Manifest {
        let trials: Vec<ManifestTrial> = outcomes
            .iter()
            .map(|(name, outcome)| ManifestTrial {
                name: (*name).into(),
                case: name.split("::").next().unwrap_or_default().into(),
                level: if name.contains("json") {
                    "should".into()
                } else {
                    "must".into()
                },
                outcome: *outcome,
                failure: (*outcome == Outcome::Failed).then_some(FailureKind::Violation),
                duration_ms: 1,
                message: None,
            })
            .collect();
        let failed = trials
            .iter()
            .filter(|t| t.outcome == Outcome::Failed)
            .count();
        Manifest {
            format: crate::manifest::FORMAT.into(),
            harness_version: "0.1.0".into(),
            contract_hash: "fnv1a64:0000000000000001".into(),
            target: ManifestTarget {
                base_url: format!("https://{label}.example"),
                label: label.into(),
            },
            started_at: started_at.into(),
            duration_ms: 10,
            exit_code: if failed > 0 { 101 } else { 0 },
            summary: Summary {
                passed: trials.len() - failed,
                failed,
                ..Summary::default()
            },
            trials,
        }
    }

    fn fixture() -> Vec<TargetRuns> {
        use Outcome::*;
        group(vec![
            manifest(
                "staging",
                "2026-11-25T03:00:00Z",
                &[
                    ("valid_switch::status_is_200", Passed),
                    ("foreign_profile::status_is_404", Failed),
                ],
            ),
            manifest(
                "staging",
                "2026-11-27T03:00:00Z",
                &[
                    ("valid_switch::status_is_200", Failed),
                    ("foreign_profile::status_is_404", Failed),
                    ("valid_switch::json_content_type", Ignored),
                ],
            ),
            manifest(
                "staging",
                "2026-11-26T03:00:00Z",
                &[
                    ("valid_switch::status_is_200", Failed),
                    ("foreign_profile::status_is_404", Failed),
                ],
            ),
            manifest(
                "embedded",
                "2026-11-27T03:00:00Z",
                &[
                    ("valid_switch::status_is_200", Passed),
                    ("foreign_profile::status_is_404", KnownDeviation),
                    ("valid_switch::json_content_type", Passed),
                ],
            ),
        ])
    }

    #[test]
    fn trends_find_where_failing_streaks_start() {
        let targets = fixture();
        assert_eq!(
            targets.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
            ["embedded", "staging"]
        );
        let streaks = trend(&targets[1]);
        assert_eq!(
            streaks,
            vec![
                Streak {
                    trial: "valid_switch::status_is_200".into(),
                    since: "2026-11-26T03:00:00Z".into(),
                    runs: 2,
                    always: false
                },
                Streak {
                    trial: "foreign_profile::status_is_404".into(),
                    since: "2026-11-25T03:00:00Z".into(),
                    runs: 3,
                    always: true
                },
            ]
        );
    }

    #[test]
    fn matrix_renders() {
        let targets = fixture();
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("matrix_markdown", markdown(&targets));
            insta::assert_snapshot!("matrix_html", html(&targets));
        });
    }
}
