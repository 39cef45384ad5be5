//! The compliance matrix (`matrix MANIFEST...`): targets × trials from run manifests, and for a
//! target with several runs, the trend — since which run each failing trial has been failing.
//! Pure: manifests in, Markdown or a self-contained HTML page out.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{AdviceKind, Manifest, ManifestTrial, Outcome, Reason};

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

/// One target's outcome of one trial, as the latest run's manifest says it.
#[derive(Debug, Clone)]
struct Cell {
    outcome: Outcome,
    reason: Option<String>,
    advice: Option<AdviceKind>,
    message: Option<String>,
}

impl Cell {
    fn of(t: &ManifestTrial) -> Cell {
        Cell {
            outcome: t.outcome,
            reason: t.reason.clone(),
            advice: t.advice,
            message: t.message.clone(),
        }
    }

    /// The cell's word, in the console's vocabulary: plain text that reads the same rendered or
    /// not, and needs no emoji font.
    fn word(&self) -> &'static str {
        match (self.outcome, self.reason.as_deref(), self.advice) {
            (Outcome::Passed, ..) => "pass",
            (Outcome::Failed, ..) => "FAIL",
            (_, Some("should_not_counted"), Some(AdviceKind::Followed)) => "followed",
            (_, Some("should_not_counted"), Some(AdviceKind::NotFollowed)) => "not followed",
            (_, Some(key), _) => Reason::from_key(key).map_or("not judged", Reason::words),
            _ => "not judged",
        }
    }

    /// The CSS class of the cell.
    fn class(&self) -> &'static str {
        match (self.outcome, self.advice) {
            (Outcome::Passed, _) => "passed",
            (Outcome::Failed, _) => "failed",
            (_, Some(AdviceKind::NotFollowed)) => "advice",
            (_, Some(AdviceKind::Followed)) => "followed",
            _ if self.reason.as_deref() == Some("known_deviation") => "known_deviation",
            _ if self.reason.as_deref() == Some("baseline") => "baseline",
            _ => "not_judged",
        }
    }

    /// A reader's eye is needed: failed, a SHOULD not followed, a known deviation.
    fn attention(&self) -> bool {
        matches!(self.class(), "failed" | "advice" | "known_deviation")
    }

    /// How much it needs that eye: failures first, then known deviations, then advice.
    fn severity(&self) -> u8 {
        match self.class() {
            "failed" => 0,
            "known_deviation" => 1,
            "advice" => 2,
            _ => 3,
        }
    }

    /// Judged and passed, or a SHOULD rule followed.
    fn good(&self) -> bool {
        self.outcome == Outcome::Passed || self.advice == Some(AdviceKind::Followed)
    }
}

const LEGEND: &str = "pass · FAIL · followed / not followed: a SHOULD rule judged as advice (not counted) · not judged, with its reason: SHOULD not counted, needs a fixture, interrupted, target unusable, known deviation (listed, not failed), baseline recorded (the first snapshot), deselected · –: not in that run";

/// A row: a trial, its level, and per target its outcome in the latest run.
struct Row {
    name: String,
    level: String,
    cells: Vec<Option<Cell>>,
}

impl Row {
    /// Whether the row needs a reader's eye: a failure, a SHOULD not followed or a known
    /// deviation on some target.
    fn attention(&self) -> bool {
        self.cells.iter().flatten().any(Cell::attention)
    }

    /// The most severe of its cells.
    fn severity(&self) -> u8 {
        self.cells
            .iter()
            .flatten()
            .map(Cell::severity)
            .min()
            .unwrap_or(u8::MAX)
    }

    /// Judged and passed (or followed) on every target that has it.
    fn good(&self) -> bool {
        self.cells.iter().flatten().all(Cell::good)
    }
}

/// The rows in three parts: needing attention, passing everywhere, and the rest (not judged
/// somewhere, nothing failing) — each sorted by name. Nothing unjudged is filed as passing.
struct Rows {
    attention: Vec<Row>,
    passing: Vec<Row>,
    not_judged: Vec<Row>,
}

/// Every trial of every latest run, in three parts.
fn rows(targets: &[TargetRuns]) -> Rows {
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
    let mut rows = Rows {
        attention: Vec::new(),
        passing: Vec::new(),
        not_judged: Vec::new(),
    };
    for (name, level) in names {
        let cells = targets
            .iter()
            .map(|target| {
                target
                    .latest()
                    .and_then(|m| m.trials.iter().find(|t| t.name == name))
                    .map(Cell::of)
            })
            .collect();
        let row = Row { name, level, cells };
        if row.attention() {
            rows.attention.push(row);
        } else if row.good() {
            rows.passing.push(row);
        } else {
            rows.not_judged.push(row);
        }
    }
    // Failures first, then known deviations, then advice; by name within each.
    rows.attention.sort_by_key(Row::severity);
    rows
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
fn summary_cells(t: &TargetRuns, m: &Manifest) -> [String; 9] {
    let reasons: Vec<String> = Reason::ALL
        .iter()
        .filter_map(|r| {
            let n = m.summary.not_judged_by_reason.get(r.key())?;
            Some(format!("{n} {}", r.words()))
        })
        .collect();
    [
        t.label.clone(),
        m.summary.verdict.replace('_', " "),
        m.summary.passed.to_string(),
        m.summary.failed.to_string(),
        m.summary.should_not_followed.len().to_string(),
        if reasons.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", m.summary.not_judged, reasons.join(", "))
        },
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

const SUMMARY_HEADINGS: [&str; 9] = [
    "target",
    "verdict",
    "passed",
    "failed",
    "SHOULD not followed",
    "not judged",
    "latest run",
    "base URL",
    "harness / contract",
];

/// Said when no row needs attention.
const ALL_CLEAR: &str = "Nothing fails on any target, and every SHOULD rule judged is followed.";

impl Rows {
    /// The folded parts, in the order they are shown, leaving out empty ones.
    fn folded(&self) -> impl Iterator<Item = (&'static str, &[Row])> {
        [(PARTS[2], &self.not_judged), (PARTS[1], &self.passing)]
            .into_iter()
            .filter(|(_, part)| !part.is_empty())
            .map(|(heading, part)| (heading, part.as_slice()))
    }
}

/// The headings of the three parts of the trial table.
const PARTS: [&str; 3] = [
    "Needs attention: failed, SHOULD not followed, or a known deviation somewhere",
    "Passed everywhere",
    "Not judged somewhere, failing nowhere",
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
    let rows = rows(targets);
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
                out.push_str(&format!(" {} |", cell.as_ref().map_or("–", Cell::word)));
            }
            out.push('\n');
        }
        out
    };
    out.push_str(&format!("\n## {} ({})\n\n", PARTS[0], rows.attention.len()));
    if rows.attention.is_empty() {
        out.push_str(&format!("{ALL_CLEAR}\n"));
    } else {
        out.push_str(&table(&rows.attention));
    }
    for (heading, part) in rows.folded() {
        out.push_str(&format!(
            "\n<details><summary>{heading} ({})</summary>\n\n{}\n</details>\n",
            part.len(),
            table(part)
        ));
    }
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
td.passed{background:#dafbe1;color:#116329}td.known_deviation{background:#fff1c2}td.advice{background:#fff8c5;color:#7d4e00}td.followed{color:#116329}td.not_judged,td.none{color:#6e7781}\
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
                let class = match (i, m.summary.verdict.as_str()) {
                    (1, "conforms") => " class=\"passed\"",
                    (1, "does_not_conform") => " class=\"failed\"",
                    (1, _) => " class=\"not_judged\"",
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
    let rows = rows(targets);
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
                let (class, word) = cell
                    .as_ref()
                    .map_or(("none", "–"), |c| (c.class(), c.word()));
                let tip = match cell {
                    Some(c) => match &c.message {
                        Some(message) => format!("{}: {}: {message}", target.label, c.word()),
                        None => format!("{}: {}", target.label, c.word()),
                    },
                    None => format!("{}: not in the latest run", target.label),
                };
                out.push_str(&format!(
                    "<td class=\"{class}\" title=\"{}\">{}</td>",
                    attribute(&tip),
                    escape(word)
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    };
    out.push_str(&format!(
        "<h2>{} ({})</h2>\n",
        escape(PARTS[0]),
        rows.attention.len()
    ));
    if rows.attention.is_empty() {
        out.push_str(&format!("<p>{ALL_CLEAR}</p>\n"));
    } else {
        out.push_str(&table(&rows.attention));
    }
    for (heading, part) in rows.folded() {
        out.push_str(&format!(
            "<details><summary>{} ({})</summary>\n{}</details>\n",
            escape(heading),
            part.len(),
            table(part)
        ));
    }
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
mod tests;
