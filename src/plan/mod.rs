//! Planning: which trials exist, which of them the libtest filter selects, and so which cases
//! must run. Pure: the selection rule is handed in by the caller (the report module owns
//! libtest's semantics), and `--list` stops here, before any socket is opened.

use std::collections::HashMap;
use std::sync::Arc;

use crate::api::{self, DEVIATIONS_TRIAL, PROFILES_PATH, RESTORE_TRIAL};
use crate::case::{Case, Credential, Invariants, Level, Method, Suite};

mod cost;
mod schedule;

pub use cost::{Cost, ProbeChecks, RunShape, bisection_worst_case};
pub use schedule::{Phase, Schedule};

/// What the caller's selection rule (libtest's filter, `--skip`, `--ignored`) makes of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// It executes, and its outcome counts.
    Run,
    /// It executes as advice, listed as ignored: a SHOULD rule without `--include-ignored`. Its
    /// outcome is reported (followed or not) but decides nothing.
    Ignored,
    /// The filter leaves it out of the report entirely.
    FilteredOut,
}

/// What a trial reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrialKind {
    /// Rule `rule` of step `step` of case `case` (indexes into [`Plan::cases`]).
    Rule {
        case: usize,
        step: usize,
        rule: usize,
    },
    /// The end-of-run state check.
    Restore,
    /// The snapshot of case `case`'s responses.
    Snapshot { case: usize },
    /// The invariants of this level, on every profile list case `case` led to and every
    /// response it got.
    Invariants { case: usize, level: Level },
    /// The every-response invariants of this level, on the run's own requests (discovery, the
    /// checks of the cases run together, the final restore).
    RunInvariants { level: Level },
    /// No entry of the known-deviations ledger has expired.
    Deviations,
}

impl TrialKind {
    /// The case it belongs to, if it is a case's.
    pub fn case(self) -> Option<usize> {
        match self {
            TrialKind::Rule { case, .. }
            | TrialKind::Snapshot { case }
            | TrialKind::Invariants { case, .. } => Some(case),
            TrialKind::Restore | TrialKind::RunInvariants { .. } | TrialKind::Deviations => None,
        }
    }
}

/// One trial, named as libtest will show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialSpec {
    pub name: String,
    pub level: Level,
    pub kind: TrialKind,
    /// Whether it executes: the filter selects it (counted, or as advice). A SHOULD rule is
    /// judged in every run that has its responses; the plan is the same with or without
    /// `--include-ignored`.
    pub selected: bool,
    /// Whether its outcome counts (decides the verdict and the exit code): not an ignored SHOULD
    /// trial.
    pub counts: bool,
    /// Whether the filter leaves it out of the report entirely.
    pub filtered_out: bool,
}

/// Everything the runner needs to know, decided up front.
#[derive(Debug, Clone)]
pub struct Plan {
    pub cases: Vec<Arc<Case>>,
    /// Judged on every profile list a case leads to.
    pub invariants: Arc<Invariants>,
    /// Sorted by name.
    pub trials: Vec<TrialSpec>,
    /// Indexes of the cases that have at least one selected trial (counted or advice).
    pub run_cases: Vec<usize>,
    pub run_restore: bool,
}

impl Plan {
    /// Whether anything at all will be sent.
    pub fn needs_target(&self) -> bool {
        !self.run_cases.is_empty() || self.run_restore
    }

    /// The selected core cases (a valid switch, a foreign profile, a bad token) whose outcomes
    /// count: without them the run can give no conformance verdict.
    pub fn counted_core_cases(&self) -> Vec<usize> {
        self.run_cases
            .iter()
            .copied()
            .filter(|&ci| {
                self.cases[ci].core
                    && self
                        .trials
                        .iter()
                        .any(|t| t.counts && t.kind.case() == Some(ci))
            })
            .collect()
    }

    /// The trial index of each (case, step, rule), for the runner to file verdicts.
    pub fn trial_index(&self) -> HashMap<TrialKind, usize> {
        self.trials
            .iter()
            .enumerate()
            .map(|(i, t)| (t.kind, i))
            .collect()
    }
}

/// The trial name of each rule of a case: `case::rule`, or `case::step::rule` when the rule id
/// occurs in several steps of the case.
pub fn trial_names(case: &Case) -> Vec<(usize, usize, String)> {
    let mut occurrences: HashMap<&str, usize> = HashMap::new();
    for step in &case.steps {
        for rule in &step.rules {
            *occurrences.entry(rule.id.as_str()).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (si, step) in case.steps.iter().enumerate() {
        for (ri, rule) in step.rules.iter().enumerate() {
            let name = if occurrences.get(rule.id.as_str()).copied().unwrap_or(0) > 1 {
                format!("{}::{}::{}", case.id, step.name, rule.id)
            } else {
                format!("{}::{}", case.id, rule.id)
            };
            out.push((si, ri, name));
        }
    }
    out
}

/// What trials besides the rules a plan has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// One `case::snapshot` trial per case.
    pub snapshots: bool,
    /// Drift fails the run (`--deny-drift`): snapshot trials are MUST instead of SHOULD.
    pub deny_drift: bool,
    /// A known-deviations ledger is in use: one `known_deviations::none_expired` trial.
    pub deviations: bool,
}

/// Whether a case leads to a profile list the invariants can be judged on: it reads one with a
/// user's token, or it changes the account (the guard then reads one).
pub fn leads_to_lists(case: &Case) -> bool {
    case.state.may_change()
        || case.steps.iter().any(|s| {
            s.request.method == Method::Get
                && s.request.path.as_value().as_str() == Some(PROFILES_PATH)
                && matches!(
                    s.request.credential,
                    Credential::Primary | Credential::Foreign
                )
        })
}

/// The name of a case's invariants trial of this level.
pub fn invariants_trial(case_id: &str, level: Level) -> String {
    match level {
        Level::Must => format!("{case_id}::{}", api::INVARIANTS_RULE_ID),
        Level::Should => format!("{case_id}::{}", api::SHOULD_INVARIANTS_RULE_ID),
    }
}

/// Builds the plan; `select(name, level)` says what becomes of each trial.
pub fn build(
    suite: impl Into<Suite>,
    options: PlanOptions,
    select: &dyn Fn(&str, Level) -> Selection,
) -> Plan {
    let Suite {
        cases, invariants, ..
    } = suite.into();
    let cases: Vec<Arc<Case>> = cases.into_iter().map(Arc::new).collect();
    let invariant_levels: std::collections::BTreeSet<Level> =
        invariants.rules().map(|r| r.level).collect();
    let mut trials = Vec::new();
    let mut run_cases = Vec::new();
    let spec = |name: String, level: Level, kind: TrialKind| {
        let selection = select(&name, level);
        TrialSpec {
            name,
            level,
            kind,
            selected: selection != Selection::FilteredOut,
            counts: selection == Selection::Run,
            filtered_out: selection == Selection::FilteredOut,
        }
    };
    for (ci, case) in cases.iter().enumerate() {
        let mut any = false;
        for (si, ri, name) in trial_names(case) {
            let level = case.steps[si].rules[ri].level;
            let kind = TrialKind::Rule {
                case: ci,
                step: si,
                rule: ri,
            };
            let trial = spec(name, level, kind);
            any |= trial.selected;
            trials.push(trial);
        }
        if leads_to_lists(case) || !invariants.every_response.is_empty() {
            for &level in &invariant_levels {
                let trial = spec(
                    invariants_trial(&case.id, level),
                    level,
                    TrialKind::Invariants { case: ci, level },
                );
                any |= trial.selected;
                trials.push(trial);
            }
        }
        if options.snapshots && case.snapshot {
            let level = if options.deny_drift {
                Level::Must
            } else {
                Level::Should
            };
            let trial = spec(
                api::snapshot_trial(&case.id),
                level,
                TrialKind::Snapshot { case: ci },
            );
            any |= trial.selected;
            trials.push(trial);
        }
        if any {
            run_cases.push(ci);
        }
    }
    if options.deviations {
        trials.push(spec(
            DEVIATIONS_TRIAL.to_string(),
            Level::Must,
            TrialKind::Deviations,
        ));
    }
    let restore = spec(RESTORE_TRIAL.to_string(), Level::Must, TrialKind::Restore);
    let run_restore = restore.selected;
    trials.push(restore);
    let response_levels: std::collections::BTreeSet<Level> =
        invariants.every_response.iter().map(|r| r.level).collect();
    for level in response_levels {
        trials.push(spec(
            invariants_trial(api::RUN_CASE_ID, level),
            level,
            TrialKind::RunInvariants { level },
        ));
    }
    trials.sort_by(|a, b| a.name.cmp(&b.name));
    Plan {
        cases,
        invariants: Arc::new(invariants),
        trials,
        run_cases,
        run_restore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load_cases;
    use crate::contract::Contract;
    use crate::source::{embedded_cases, embedded_schemas};

    fn shape(sweep_size: usize, reads_foreign_list: bool) -> RunShape {
        RunShape {
            sweep_size,
            concurrency: 8,
            reads_foreign_list,
            foreign_token: true,
            probe_checks: ProbeChecks::Batch,
        }
    }

    fn plan(select: &dyn Fn(&str, Level) -> bool) -> Plan {
        let mut contract = Contract::load(&embedded_schemas()).unwrap();
        let cases = load_cases(&embedded_cases(), &mut contract).unwrap();
        build(cases, PlanOptions::default(), &|name, level| {
            if select(name, level) {
                Selection::Run
            } else {
                Selection::FilteredOut
            }
        })
    }

    #[test]
    fn the_dependent_chain_counts_what_must_be_sequential() {
        // valid_switch alone: discovery, its 4 steps. It ends by reading both users' lists, so
        // its guard and the final check take that reading and send nothing.
        let one = plan(&|name, _| name.starts_with("valid_switch::"));
        assert_eq!(one.dependent_chain(&shape(10, true)), 1 + 4);
        // A sweep of 20 at 8 at a time takes 3 round trips, then its verify step (which the
        // guard and the final check take).
        let sweep = plan(&|name, _| name.starts_with("unknown_profile_sweep::"));
        assert_eq!(sweep.dependent_chain(&shape(20, true)), 1 + 3 + 1);
        // The first step of repeated_coworker_id is a checked batch: it takes discovery's
        // reading of both lists as its read before, unless discovery read only one.
        let repeated = plan(&|name, _| name.starts_with("repeated_coworker_id::"));
        assert_eq!(
            repeated.dependent_chain(&shape(10, false)),
            repeated.dependent_chain(&shape(10, true)) + 1
        );
        // A reader and a case with no state: the reader is in the chain (it excludes writers).
        let read = plan(&|name, _| {
            name.starts_with("profiles_list::") || name.starts_with("profiles_requires_auth::")
        });
        assert_eq!(read.dependent_chain(&shape(10, true)), 1 + 2 + 1);
        assert_eq!(plan(&|_, _| false).dependent_chain(&shape(10, true)), 0);
        let all = plan(&|_, _| true);
        assert_eq!(
            all.cost(&shape(10, true)).round_trips,
            all.dependent_chain(&shape(10, true))
        );
        // Discovery and every phase that may change the account in turn: the whole suite's
        // chain is far longer than any one case's.
        assert!(
            all.dependent_chain(&shape(10, true)) > 15,
            "{}",
            all.dependent_chain(&shape(10, true))
        );
    }

    #[test]
    fn the_cost_counts_requests_writes_and_what_restoring_may_add() {
        let none = plan(&|_, _| false);
        assert_eq!(none.cost(&shape(10, true)), Cost::default());
        // valid_switch: discovery (one list, or both), PUT, GET, PUT, GET (each GET with the
        // other user's list beside it; the guard and the final check take the last of them);
        // the guard may switch back, the final restore may switch and reread.
        let one = plan(&|name, _| name.starts_with("valid_switch::"));
        let cost = one.cost(&shape(10, false));
        // When needed: the guard's switch back of each user, the final restore's switch and
        // reread of each.
        assert_eq!((cost.requests, cost.when_needed), (1 + 6 + 6, 6));
        assert_eq!((cost.writes, cost.writes_when_needed), (2 + 4, 4));
        assert_eq!(one.cost(&shape(10, true)).requests, cost.requests + 1);
        // A sweep sends --sweep-size PUTs; its case's guard reads the list first.
        let sweep = plan(&|name, _| name.starts_with("unknown_profile_sweep::"));
        let (small, big) = (
            sweep.cost(&shape(10, false)),
            sweep.cost(&shape(1000, false)),
        );
        assert_eq!(big.requests - small.requests, 990);
        assert_eq!(big.writes - small.writes, 990);
        // Method probes: only the methods that write are paced as writes.
        let methods = plan(&|name, _| name.starts_with("method_probes::"));
        let cost = methods.cost(&shape(10, false));
        assert!(cost.writes < cost.requests, "{cost:?}");
        // Checked one by one (three steps, ten probes), each probe is followed by a read of
        // both lists instead of one read after each step's batch; and each probe is its own
        // round trip and read, instead of one round trip and two reads per batch.
        let each = methods.cost(&RunShape {
            probe_checks: ProbeChecks::Each,
            ..shape(10, false)
        });
        assert_eq!(
            each.needed().requests - cost.needed().requests,
            2 * (10 - 3)
        );
        assert_eq!(each.round_trips - cost.round_trips, (3 + 2 * 10) - 3 * 3);
    }

    #[test]
    fn the_worst_bisection_sends_every_half_down_to_single_probes() {
        // Four probes, one read per check: halves of 2 (each: switch back, read, 2 probes,
        // read = 5) and quarters of 1 (4 each), then the last switch back.
        let four = bisection_worst_case(&[vec![true, false, true, false]], 1);
        assert_eq!(four.requests, 2 * 5 + 4 * 4 + 1);
        // Writes: the switches back (2 + 4 + 1) and the writing probes sent again (2 + 2).
        assert_eq!(four.writes, 7 + 4);
        let one = Cost {
            requests: 1,
            writes: 1,
            ..Cost::default()
        };
        assert_eq!(bisection_worst_case(&[vec![true]], 2), one);
        assert_eq!(bisection_worst_case(&[], 2), Cost::default());
        // Single probes: a switch back and a read between them, then the last switch back.
        let each = bisection_worst_case(&[vec![true], vec![false], vec![true]], 2);
        assert_eq!((each.requests, each.writes), (2 * 3 + 1, 3));
    }

    #[test]
    fn the_paced_time_is_set_by_the_scarcer_budget() {
        use std::time::Duration;
        let cost = Cost {
            requests: 11,
            writes: 9,
            ..Cost::default()
        };
        let (pace, writes) = (Duration::from_millis(500), Duration::from_secs(1));
        assert_eq!(cost.paced_time(None, None), None);
        // 10 gaps of 0.5 s, but 8 gaps of 1 s between writes.
        assert_eq!(
            cost.paced_time(Some(pace), Some(writes)),
            Some(Duration::from_secs(8))
        );
        assert_eq!(
            cost.paced_time(Some(pace), None),
            Some(Duration::from_secs(5))
        );
    }
}
