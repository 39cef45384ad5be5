//! `rules`: the catalog, one block per rule — its level, the statement it enforces, and the
//! faults of the reference server that kill it (computed by the app, handed in as plain data).

use std::collections::BTreeMap;

use super::output::Output;
use crate::api::RESTORE_TRIAL;
use crate::case::Level;
use crate::plan::{Plan, trial_names};

/// Which faults kill which trials, as the app computed them by running.
#[derive(Debug, Clone, Default)]
pub struct Kills {
    /// Trial name → the names of the faults that make it fail.
    pub by_trial: BTreeMap<String, Vec<&'static str>>,
    /// Invariant rule id → the names of the faults under which it was found breached.
    pub by_invariant: BTreeMap<String, Vec<&'static str>>,
    /// How many faults were run.
    pub faults: usize,
    /// Faults that made the target unusable, with the reason.
    pub unusable: Vec<(&'static str, String)>,
    /// Trials that fail against the faithful server (should be none).
    pub baseline: Vec<String>,
}

/// Prints the catalog.
pub fn print(plan: &Plan, kills: &Kills, output: &Output) {
    let mut lines = Vec::new();
    let (mut musts, mut shoulds, mut unkilled_musts) = (0, 0, 0);
    for case in &plan.cases {
        lines.push(format!("{} — {}", case.id, case.summary));
        if !case.fixtures.is_empty() {
            let names: Vec<String> = case.fixtures.iter().map(ToString::to_string).collect();
            lines.push(format!("  needs: {}", names.join(", ")));
        }
        for (si, ri, name) in trial_names(case) {
            let rule = &case.steps[si].rules[ri];
            match rule.level {
                Level::Must => musts += 1,
                Level::Should => shoulds += 1,
            }
            lines.push(format!("  {name} [{}]", rule.level));
            lines.push(format!("      {}", rule.cite));
            if let Some(see) = rule.cite.see() {
                lines.push(format!("      see: {see}"));
            }
            match kills.by_trial.get(&name) {
                Some(killers) if !killers.is_empty() => {
                    lines.push(format!("      killed by: {}", killers.join(", ")));
                }
                _ => {
                    if rule.level == Level::Must {
                        unkilled_musts += 1;
                    }
                    lines.push("      killed by: no fault of the reference server".into());
                }
            }
        }
        lines.push(String::new());
    }
    if !plan.invariants.is_empty() {
        lines.push(
            "invariants — judged on every profile list each case leads to and every response it gets (trials case::invariants, case::invariants_should; the run's own requests: run::invariants, run::invariants_should)"
                .into(),
        );
        for (list, rules) in [
            ("the primary user's list", &plan.invariants.own_list),
            ("the other user's list", &plan.invariants.foreign_list),
            ("every response", &plan.invariants.every_response),
        ] {
            for rule in rules {
                lines.push(format!("  {} [{}] on {list}", rule.id, rule.level));
                lines.push(format!("      {}", rule.cite));
                if let Some(see) = rule.cite.see() {
                    lines.push(format!("      see: {see}"));
                }
                match kills.by_invariant.get(&rule.id) {
                    Some(killers) if !killers.is_empty() => {
                        let mut killers = killers.clone();
                        killers.sort_unstable();
                        lines.push(format!("      breached under: {}", killers.join(", ")));
                    }
                    _ => {
                        lines.push("      breached under: no fault of the reference server".into())
                    }
                }
            }
        }
        for level in [Level::Must, Level::Should] {
            let suffix = crate::plan::invariants_trial("", level);
            let mut killers: Vec<&str> = kills
                .by_trial
                .iter()
                .filter(|(trial, _)| trial.ends_with(&suffix))
                .flat_map(|(_, faults)| faults.iter().copied())
                .collect();
            killers.sort_unstable();
            killers.dedup();
            let shown = if killers.is_empty() {
                "no fault of the reference server".to_string()
            } else {
                killers.join(", ")
            };
            lines.push(format!("  {level} invariants killed by: {shown}"));
        }
        lines.push(String::new());
    }
    lines.push(format!(
        "{} cases, {} rules ({musts} MUST, {shoulds} SHOULD), plus {RESTORE_TRIAL}",
        plan.cases.len(),
        musts + shoulds,
    ));
    lines.push(format!(
        "{} faults; {} of {musts} MUST rules are killed by at least one",
        kills.faults,
        musts - unkilled_musts
    ));
    for (fault, reason) in &kills.unusable {
        lines.push(format!("fault {fault} makes the target unusable: {reason}"));
    }
    if !kills.baseline.is_empty() {
        lines.push(format!(
            "warning: the faithful reference server fails {}",
            kills.baseline.join(", ")
        ));
    }
    output.out(&lines.join("\n"));
}
