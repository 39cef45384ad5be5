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

/// A cell's word: plain text that reads the same rendered or not, and needs no emoji font.
fn word(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Passed) => "pass",
        Some(Outcome::Failed) => "FAIL",
        Some(Outcome::Ignored) => "ignored",
        Some(Outcome::Skipped) => "skipped",
        Some(Outcome::KnownDeviation) => "known",
        Some(Outcome::Baseline) => "baseline",
        Some(Outcome::FilteredOut) | None => "–",
    }
}

const LEGEND: &str = "pass · FAIL · known: a known deviation (listed, not failed) · ignored: a SHOULD trial not run · skipped: a fixture missing · baseline: the first snapshot recorded · –: not in that run";

/// A row: a trial, its level, and per target its outcome and message in the latest run.
struct Row {
    name: String,
    level: String,
    cells: Vec<Option<(Outcome, Option<String>)>>,
}

impl Row {
    /// Whether the row needs a reader's eye: a failure or a known deviation on some target.
    fn attention(&self) -> bool {
        self.cells
            .iter()
            .flatten()
            .any(|(o, _)| matches!(o, Outcome::Failed | Outcome::KnownDeviation))
    }
}

/// Every trial of every latest run: those that need attention first, then the rest, each part
/// sorted by name.
fn rows(targets: &[TargetRuns]) -> (Vec<Row>, Vec<Row>) {
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
                        .map(|t| (t.outcome, t.message.clone()))
                })
                .collect();
            Row { name, level, cells }
        })
        .partition(Row::attention)
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

/// The summary's columns, per target's latest run.
fn summary_cells(t: &TargetRuns, m: &Manifest) -> [String; 8] {
    [
        t.label.clone(),
        if m.exit_code == 0 { "passed" } else { "FAILED" }.to_string(),
        m.summary.passed.to_string(),
        m.summary.failed.to_string(),
        m.summary.known_deviations.to_string(),
        format!(
            "{} ({} run{})",
            m.started_at,
            t.runs.len(),
            if t.runs.len() == 1 { "" } else { "s" }
        ),
        m.target.base_url.clone(),
        format!("{} / {}", m.harness_version, m.contract_hash),
    ]
}

const SUMMARY_HEADINGS: [&str; 8] = [
    "target",
    "result",
    "passed",
    "failed",
    "known deviations",
    "latest run",
    "base URL",
    "harness / contract",
];

/// The matrix and trends as Markdown: the summary per target first, then the trials that fail
/// (or are known deviations) somewhere, then those that pass everywhere, folded.
pub fn markdown(targets: &[TargetRuns]) -> String {
    let mut out = String::from("# Compliance matrix\n\n## Summary\n\n");
    out.push_str(&format!("| {} |\n", SUMMARY_HEADINGS.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(SUMMARY_HEADINGS.len())));
    for t in targets {
        if let Some(m) = t.latest() {
            out.push_str(&format!("| {} |\n", summary_cells(t, m).join(" | ")));
        }
    }
    if let Some(note) = contract_note(targets) {
        out.push_str(&format!("\n{note}\n"));
    }
    let (attention, rest) = rows(targets);
    let header = {
        let mut h = String::from("| trial | level |");
        for t in targets {
            h.push_str(&format!(" {} |", t.label));
        }
        h.push_str("\n|---|---|");
        h.push_str(&"---|".repeat(targets.len()));
        h.push('\n');
        h
    };
    let table = |rows: &[Row]| {
        let mut out = header.clone();
        for row in rows {
            out.push_str(&format!("| `{}` | {} |", row.name, row.level));
            for cell in &row.cells {
                out.push_str(&format!(" {} |", word(cell.as_ref().map(|(o, _)| *o))));
            }
            out.push('\n');
        }
        out
    };
    out.push_str(&format!("\n## Failing somewhere ({})\n\n", attention.len()));
    if attention.is_empty() {
        out.push_str("Nothing fails on any target.\n");
    } else {
        out.push_str(&table(&attention));
    }
    out.push_str(&format!(
        "\n<details><summary>Passing everywhere, or not run ({})</summary>\n\n{}\n</details>\n",
        rest.len(),
        table(&rest)
    ));
    out.push_str(&format!("\n{LEGEND}\n"));
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

/// Text between tags.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_text(s)
}

/// A value inside a double-quoted attribute (a cell's tooltip).
fn attribute(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_double_quoted_attribute(s)
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1f2328}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:2px 8px;text-align:center}\
td.name{text-align:left;font-family:ui-monospace,monospace}td.failed{background:#ffd8d3;color:#82071e;font-weight:600}\
td.passed{background:#dafbe1;color:#116329}td.known_deviation{background:#fff1c2}td.ignored,td.skipped,td.none{color:#6e7781}\
td.baseline{background:#ddf4ff}summary{cursor:pointer;color:#0969da;margin:1em 0}";

/// The matrix and trends as one self-contained HTML page (inline CSS, no scripts, no links
/// out): the summary first, then the trials that need attention, then the rest folded; each
/// cell's tooltip is the run's message for that trial.
pub fn html(targets: &[TargetRuns]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance matrix</title>\n\
         <style>{STYLE}</style></head><body>\n<h1>Compliance matrix</h1>\n<h2>Summary</h2>\n<table>\n<tr>"
    );
    for h in SUMMARY_HEADINGS {
        out.push_str(&format!("<th>{h}</th>"));
    }
    out.push_str("</tr>\n");
    for t in targets {
        if let Some(m) = t.latest() {
            out.push_str("<tr>");
            for (i, cell) in summary_cells(t, m).iter().enumerate() {
                let class = match (i, m.exit_code) {
                    (1, 0) => " class=\"passed\"",
                    (1, _) => " class=\"failed\"",
                    _ => "",
                };
                out.push_str(&format!("<td{class}>{}</td>", escape(cell)));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table>\n");
    if let Some(note) = contract_note(targets) {
        out.push_str(&format!("<p>{}</p>\n", escape(&note)));
    }
    let (attention, rest) = rows(targets);
    let table = |rows: &[Row]| {
        let mut out = String::from("<table>\n<tr><th>trial</th><th>level</th>");
        for t in targets {
            out.push_str(&format!("<th>{}</th>", escape(&t.label)));
        }
        out.push_str("</tr>\n");
        for row in rows {
            out.push_str(&format!(
                "<tr><td class=\"name\">{}</td><td>{}</td>",
                escape(&row.name),
                escape(&row.level)
            ));
            for (cell, target) in row.cells.iter().zip(targets) {
                let outcome = cell.as_ref().map(|(o, _)| *o);
                let class = outcome.map_or("none", Outcome::as_str);
                let tip = match cell {
                    Some((o, Some(message))) => {
                        format!("{}: {}: {message}", target.label, o.as_str())
                    }
                    Some((o, None)) => format!("{}: {}", target.label, o.as_str()),
                    None => format!("{}: not in the latest run", target.label),
                };
                out.push_str(&format!(
                    "<td class=\"{class}\" title=\"{}\">{}</td>",
                    attribute(&tip),
                    word(outcome)
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    };
    out.push_str(&format!(
        "<h2>Failing somewhere ({})</h2>\n",
        attention.len()
    ));
    if attention.is_empty() {
        out.push_str("<p>Nothing fails on any target.</p>\n");
    } else {
        out.push_str(&table(&attention));
    }
    out.push_str(&format!(
        "<details><summary>Passing everywhere, or not run ({})</summary>\n{}</details>\n",
        rest.len(),
        table(&rest)
    ));
    out.push_str(&format!("<p>{}</p>\n", escape(LEGEND)));
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
                message: (*outcome == Outcome::Failed)
                    .then(|| "expected status 404, got 200 <html> & \"quotes\"".to_string()),
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
