//! The account's invariants, judged on every profile list a case led to — its own reads and the
//! guard's read after it — not only in the case written for them. A breach fails the case that
//! caused it, with the list that shows it and the other user's profiles in the text.

use std::sync::Arc;

use serde_json::Value;

use super::discovery::profiles_of;
use crate::api::Credential;
use crate::case::{Fixture, Invariants, Level, Rule, Var, Vars};
use crate::check::{Finding, Verdict, evaluate};
use crate::record::{ExchangeRecord, Observed, TrialRecord};

/// Judges the invariants of `level` on the lists a case led to.
pub(super) fn judge(
    invariants: &Invariants,
    level: Level,
    lists: &[Arc<ExchangeRecord>],
    vars: &Vars,
) -> TrialRecord {
    let mut judged = 0;
    let mut not_applicable: Vec<String> = Vec::new();
    let mut failures: Vec<(Arc<ExchangeRecord>, &Rule, Verdict)> = Vec::new();
    for record in lists {
        let rules = match record.credential {
            Credential::Primary => &invariants.own_list,
            Credential::Foreign => &invariants.foreign_list,
            _ => continue,
        };
        let Ok(response) = &record.exchange.outcome else {
            continue;
        };
        if response.status != 200 {
            // A refused list is judged by the case's own rules; invariants judge lists.
            continue;
        }
        judged += 1;
        for rule in rules.iter().filter(|r| r.level == level) {
            if let Some(missing) = missing_fixture(rule, vars) {
                let note = format!("`{}` needs {missing}", rule.id);
                if !not_applicable.contains(&note) {
                    not_applicable.push(note);
                }
                continue;
            }
            let verdict = evaluate(rule, response, vars);
            if verdict.is_failure() {
                failures.push((record.clone(), rule, verdict));
            }
        }
    }
    let duration = lists.iter().map(|r| r.exchange.elapsed).sum();
    if judged == 0 {
        return TrialRecord::bare(Observed::NotRun(
            "no profile list could be read after this case, so its invariants were not judged"
                .into(),
        ));
    }
    let Some((record, rule, verdict)) = failures.first().cloned() else {
        let mut note = format!("held on {judged} profile list(s)");
        if !not_applicable.is_empty() {
            note.push_str(&format!("; not applicable: {}", not_applicable.join(", ")));
        }
        return TrialRecord {
            observed: Observed::Judged(Verdict::Pass(Some(note))),
            exchange: lists.last().cloned(),
            duration,
            notes: Vec::new(),
        };
    };
    let mut notes = vec![
        match rule.cite.see() {
            Some(see) => format!(
                "breached: {} [{}] — {} (see {see})",
                rule.id, rule.level, rule.cite
            ),
            None => format!("breached: {} [{}] — {}", rule.id, rule.level, rule.cite),
        },
        format!("after {}: {}", record.context, describe_list(&record)),
        match record.credential {
            Credential::Foreign => format!(
                "the primary user's profiles (discovery): {}",
                ids(vars, Var::OwnProfileIds)
            ),
            _ => format!(
                "the other user's profiles (discovery): {}",
                ids(vars, Var::ForeignProfileIds)
            ),
        },
    ];
    if failures.len() > 1 {
        notes.push(format!(
            "{} breaches in all on this case's lists; the first is shown",
            failures.len()
        ));
    }
    let observed = match verdict {
        Verdict::Violation(f) => Observed::Judged(Verdict::Violation(Finding {
            expected: format!("{}: {}", rule.id, f.expected),
            ..f
        })),
        other => Observed::Judged(other),
    };
    TrialRecord {
        observed,
        exchange: Some(record),
        duration,
        notes,
    }
}

/// The first fixture a rule needs that this run lacks.
fn missing_fixture(rule: &Rule, vars: &Vars) -> Option<String> {
    rule.needs.iter().find_map(|f| match f {
        Fixture::Profile(var) if vars.get(*var).is_none() => Some(var.name().to_string()),
        _ => None,
    })
}

/// `1101 (default), 1102, 1104 (inactive)`, or why the list cannot be read.
fn describe_list(record: &ExchangeRecord) -> String {
    match profiles_of(record) {
        Ok(profiles) if profiles.is_empty() => "the list is empty".into(),
        Ok(profiles) => profiles
            .iter()
            .map(|p| {
                let mut flags = Vec::new();
                if p.default {
                    flags.push("default");
                }
                if !p.active {
                    flags.push("inactive");
                }
                if flags.is_empty() {
                    p.id.to_string()
                } else {
                    format!("{} ({})", p.id, flags.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => e,
    }
}

fn ids(vars: &Vars, var: Var) -> String {
    match vars.get(var).and_then(Value::as_array) {
        Some(ids) if !ids.is_empty() => ids
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(_) => "none".into(),
        None => "unknown".into(),
    }
}
