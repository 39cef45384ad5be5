//! The invariants, judged on everything a case led to, not only in the case written for them:
//! the list invariants on every profile list it read (its own steps, its batches' checks, the
//! guard's read after it), the every-response invariants on every answer it got (probes,
//! put-backs and guards included). A breach fails the case that caused it, with the exchange that
//! shows it. The run's own requests (discovery, the checks of the cases run together, the final
//! restore) are judged the same way, as the run's trial.

use std::sync::Arc;

use serde_json::Value;

use super::discovery::profiles_of;
use crate::api::Credential;
use crate::case::{Fixture, Invariants, Level, Rule, Var, Vars};
use crate::check::{Finding, Verdict, evaluate};
use crate::record::{ExchangeRecord, Observed, TrialRecord};

/// Judges the invariants of `level`: the list ones on `lists`, the every-response ones on
/// `responses`; `bind` gives the variables each exchange is judged with.
pub(super) fn judge(
    invariants: &Invariants,
    level: Level,
    lists: &[Arc<ExchangeRecord>],
    responses: &[Arc<ExchangeRecord>],
    vars: &Vars,
    bind: &dyn Fn(&Vars, &ExchangeRecord) -> Vars,
) -> TrialRecord {
    let mut judged = 0;
    let mut not_applicable: Vec<String> = Vec::new();
    let mut failures: Vec<(Arc<ExchangeRecord>, &Rule, Verdict)> = Vec::new();
    let list_rules = lists.iter().filter_map(|record| {
        let rules = match record.credential {
            Credential::Primary => &invariants.own_list,
            Credential::Foreign => &invariants.foreign_list,
            _ => return None,
        };
        // A refused list is judged by the case's own rules; the list invariants judge lists.
        let status = record.exchange.outcome.as_ref().ok()?.status;
        (status == 200).then_some((record, rules))
    });
    let response_rules = responses
        .iter()
        .filter(|r| r.exchange.outcome.is_ok())
        .map(|record| (record, &invariants.every_response));
    let mut lists_judged = 0;
    for (record, rules) in list_rules.chain(response_rules) {
        let Ok(response) = &record.exchange.outcome else {
            continue;
        };
        let vars = bind(vars, record);
        judged += 1;
        if !std::ptr::eq(rules, &invariants.every_response) {
            lists_judged += 1;
        }
        for rule in rules.iter().filter(|r| r.level == level) {
            if let Some(missing) = missing_fixture(rule, &vars) {
                let note = format!("`{}` needs {missing}", rule.id);
                if !not_applicable.contains(&note) {
                    not_applicable.push(note);
                }
                continue;
            }
            let verdict = evaluate(rule, response, &vars);
            if verdict.is_failure() {
                failures.push((record.clone(), rule, verdict));
            }
        }
    }
    let duration = lists.iter().map(|r| r.exchange.elapsed).sum();
    if judged == 0 {
        return TrialRecord::bare(Observed::NotRun(
            "no response could be judged for this case, so its invariants were not judged".into(),
        ));
    }
    // The breach shown is the same whatever order the answers came in (a batch of probes
    // sent at once, or one at a time): the first by rule, then by request.
    let order = |(record, rule, _): &(Arc<ExchangeRecord>, &Rule, Verdict)| {
        let position = invariants.rules().position(|r| std::ptr::eq(r, *rule));
        (
            position,
            record.context.clone(),
            record.exchange.url.clone(),
            record.credential,
            record.token,
        )
    };
    failures.sort_by_key(order);
    let Some((record, rule, verdict)) = failures.first().cloned() else {
        let answers = judged - lists_judged;
        let mut note = match (lists_judged, answers) {
            (0, n) => format!("held on {n} response{}", plural(n)),
            (l, 0) => format!("held on {l} profile list{}", plural(l)),
            (l, n) => format!(
                "held on {l} profile list{} and {n} response{}",
                plural(l),
                plural(n)
            ),
        };
        if !not_applicable.is_empty() {
            note.push_str(&format!("; not applicable: {}", not_applicable.join(", ")));
        }
        return TrialRecord {
            observed: Observed::Judged(Verdict::Pass(Some(note))),
            exchange: lists.last().or(responses.last()).cloned(),
            duration,
            notes: Vec::new(),
        };
    };
    let is_list = record.exchange.method == "GET" && record.path == crate::api::PROFILES_PATH;
    let mut notes = vec![
        match rule.cite.see() {
            Some(see) => format!(
                "breached: {} [{}] — {} (see {see})",
                rule.id, rule.level, rule.cite
            ),
            None => format!("breached: {} [{}] — {}", rule.id, rule.level, rule.cite),
        },
        if is_list {
            format!("after {}: {}", record.context, describe_list(&record))
        } else {
            format!(
                "in the answer to {} {} ({})",
                record.exchange.method, record.path, record.context
            )
        },
    ];
    if is_list {
        notes.push(match record.credential {
            Credential::Foreign => format!(
                "the primary user's profiles (discovery): {}",
                ids(vars, Var::OwnProfileIds)
            ),
            _ => format!(
                "the other user's profiles (discovery): {}",
                ids(vars, Var::ForeignProfileIds)
            ),
        });
    }
    if failures.len() > 1 {
        notes.push(format!(
            "{} breaches in all on what this case led to; the first is shown",
            failures.len()
        ));
    }
    let mut breached: Vec<&str> = Vec::new();
    for rule in invariants.rules() {
        if failures.iter().any(|(_, r, _)| std::ptr::eq(*r, rule))
            && !breached.contains(&rule.id.as_str())
        {
            breached.push(&rule.id);
        }
    }
    notes.push(crate::record::breached_rules_note(&breached));
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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
