//! Planning: which trials exist, which of them the libtest filter selects, and so which cases
//! must run. Pure: the selection rule is handed in by the caller (the report module owns
//! libtest's semantics), and `--list` stops here, before any socket is opened.

use std::collections::HashMap;
use std::sync::Arc;

use crate::api::{self, DEVIATIONS_TRIAL, PROFILES_PATH, RESTORE_TRIAL};
use crate::case::{Case, Credential, Generator, Invariants, Level, Method, StateUse, Suite};
use crate::http::is_write;

/// What the caller's selection rule (libtest's filter, `--skip`, `--ignored`) makes of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// It executes.
    Run,
    /// It is listed but not executed: a SHOULD rule without `--include-ignored`.
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
    /// The invariants of this level, on every profile list case `case` led to.
    Invariants { case: usize, level: Level },
    /// No entry of the known-deviations ledger has expired.
    Deviations,
}

/// One trial, named as libtest will show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialSpec {
    pub name: String,
    pub level: Level,
    pub kind: TrialKind,
    /// Whether the filter selects it and it is not an ignored SHOULD trial, i.e. it will execute.
    pub selected: bool,
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
    /// Indexes of the cases that have at least one selected trial.
    pub run_cases: Vec<usize>,
    pub run_restore: bool,
}

impl Plan {
    /// Whether anything at all will be sent.
    pub fn needs_target(&self) -> bool {
        !self.run_cases.is_empty() || self.run_restore
    }

    /// The round trips that must happen one after another when this plan runs: discovery (both
    /// lists at once), one read phase (readers exclude writers), every step of every
    /// state-changing case in turn (a sweep step counts `ceil(sweep_size / concurrency)`, a batch
    /// of probes as many and the reads before and after it), a
    /// guard request after a case that does not end by reading the profile list, and the final
    /// check. A run cannot be faster than this many round trips; the benchmark compares with it.
    pub fn dependent_chain(&self, sweep_size: usize, concurrency: usize) -> usize {
        let steps = |case: &Case| -> usize {
            case.steps
                .iter()
                .map(|s| {
                    if s.sweep.is_some() {
                        sweep_size.div_ceil(concurrency.max(1)).max(1)
                    } else if s.vary.is_empty() || s.is_burst() {
                        // Sent once, or a burst sent all at once.
                        1
                    } else if s.is_batch(case.state) {
                        // A batch: the lists read before, the probes, the lists read after.
                        2 + s
                            .vary
                            .iter()
                            .map(Generator::size)
                            .sum::<usize>()
                            .div_ceil(concurrency.max(1))
                            .max(1)
                    } else {
                        s.vary
                            .iter()
                            .map(Generator::size)
                            .sum::<usize>()
                            .div_ceil(concurrency.max(1))
                            .max(1)
                    }
                })
                .sum()
        };
        let running = || self.run_cases.iter().map(|&ci| &*self.cases[ci]);
        if !self.needs_target() {
            return 0;
        }
        let readers = running()
            .filter(|c| c.state == StateUse::Reads)
            .map(steps)
            .max()
            .unwrap_or(0);
        let writers: usize = running()
            .filter(|c| c.state == StateUse::Changes)
            .map(|c| steps(c) + usize::from(!ends_with_read(c)))
            .sum();
        let others = running()
            .filter(|c| c.state == StateUse::None)
            .map(steps)
            .max()
            .unwrap_or(0);
        1 + (readers + writers).max(others) + 1
    }

    /// What running this plan costs, known before anything is sent (`--list` stays free of IO):
    /// the round trips one after another ([`Plan::dependent_chain`]) and the requests.
    ///
    /// Counted: discovery (the primary user's list, and the foreign user's when
    /// `reads_foreign_list`: a foreign token is given and its profile id is not), every request of every running case (a sweep sends `sweep_size`, a step that
    /// varies one per probe), the guard's read after a state-changing case that does not end by
    /// reading the list, and the final read. Sent only when the account must be put back, and
    /// counted as such: one switch-back per state-changing case, and the final restore's switch
    /// and second read; and for a batch of probes that changed the account, its switch back and
    /// the probes sent again one at a time. A batch's reads before and after read the foreign
    /// user's list too when there is a `foreign_token`. Not counted: sign-in, throttled answers
    /// waited out and retried, and the restore of a run that was killed before its own.
    pub fn cost(
        &self,
        sweep_size: usize,
        concurrency: usize,
        reads_foreign_list: bool,
        foreign_token: bool,
    ) -> Cost {
        if !self.needs_target() {
            return Cost::default();
        }
        let mut cost = Cost {
            round_trips: self.dependent_chain(sweep_size, concurrency),
            // Discovery's lists and the final read; the final switch back and its reread.
            requests: 1 + usize::from(reads_foreign_list) + 1 + 2,
            writes: 1,
            when_needed: 2,
            writes_when_needed: 1,
        };
        for case in self.run_cases.iter().map(|&ci| &*self.cases[ci]) {
            for step in &case.steps {
                let method = step.request.method;
                let (sent, writes) = if step.sweep.is_some() {
                    (
                        sweep_size,
                        if is_write(method.as_str()) {
                            sweep_size
                        } else {
                            0
                        },
                    )
                } else if step.vary.is_empty() {
                    (1, usize::from(is_write(method.as_str())))
                } else {
                    step.vary.iter().fold((0, 0), |(n, w), g| {
                        let writes = match g {
                            Generator::Methods(methods) => {
                                methods.iter().filter(|m| is_write(m.as_str())).count()
                            }
                            _ if is_write(method.as_str()) => g.size(),
                            _ => 0,
                        };
                        (n + g.size(), w + writes)
                    })
                };
                cost.requests += sent;
                cost.writes += writes;
                if step.is_batch(case.state) {
                    // A batch: both lists before and after; when it changed the account, a switch
                    // back and the probes again, one at a time.
                    let reads = 2 * (1 + usize::from(foreign_token));
                    cost.requests += reads + 1 + sent;
                    cost.writes += 1 + writes;
                    cost.when_needed += 1 + sent;
                    cost.writes_when_needed += 1 + writes;
                }
            }
            if case.state == StateUse::Changes {
                let guard_read = usize::from(!ends_with_read(case));
                cost.requests += guard_read + 1;
                cost.writes += 1;
                cost.when_needed += 1;
                cost.writes_when_needed += 1;
            }
        }
        cost
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

/// Whether a case's last step reads the primary user's profile list (the guard then needs no
/// request of its own to see the default).
fn ends_with_read(case: &Case) -> bool {
    case.steps.last().is_some_and(|s| {
        s.request.path.as_value().as_str().is_some_and(|path| {
            api::reads_own_profiles(s.request.method.as_str(), path, s.request.credential)
        })
    })
}

/// What a plan costs to run; see [`Plan::cost`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Round trips that must happen one after another: a run takes at least this many times the
    /// target's latency.
    pub round_trips: usize,
    /// Requests at most, `when_needed` of them sent only when the account must be put back.
    pub requests: usize,
    /// Writes (PUT, POST, PATCH, DELETE) among `requests`.
    pub writes: usize,
    pub when_needed: usize,
    pub writes_when_needed: usize,
}

impl Cost {
    /// What is sent when nothing needs putting back (as on a correct target).
    pub fn needed(&self) -> Cost {
        Cost {
            requests: self.requests - self.when_needed,
            writes: self.writes - self.writes_when_needed,
            when_needed: 0,
            writes_when_needed: 0,
            ..*self
        }
    }

    /// How long the pacer alone makes the run take, when it sends every request: requests start
    /// at least `pace` apart, writes `write_pace` apart. `None` when nothing is paced.
    pub fn paced_time(
        &self,
        pace: Option<std::time::Duration>,
        write_pace: Option<std::time::Duration>,
    ) -> Option<std::time::Duration> {
        let span = |n: usize, every: Option<std::time::Duration>| {
            every.map(|d| d * u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX))
        };
        match (span(self.requests, pace), span(self.writes, write_pace)) {
            (None, None) => None,
            (a, b) => a.max(b),
        }
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
    case.state == StateUse::Changes
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
    let Suite { cases, invariants } = suite.into();
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
            selected: selection == Selection::Run,
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
        if leads_to_lists(case) {
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
        // valid_switch alone: discovery, its 4 steps (it ends by reading the list, so no guard
        // request), the final check.
        let one = plan(&|name, _| name.starts_with("valid_switch::"));
        assert_eq!(one.dependent_chain(10, 8), 1 + 4 + 1);
        // A sweep of 20 at 8 at a time takes 3 round trips, then its verify step.
        let sweep = plan(&|name, _| name.starts_with("unknown_profile_sweep::"));
        assert_eq!(sweep.dependent_chain(20, 8), 1 + 3 + 1 + 1);
        // A reader and a case with no state: the reader is in the chain (it excludes writers).
        let read = plan(&|name, _| {
            name.starts_with("profiles_list::") || name.starts_with("profiles_requires_auth::")
        });
        assert_eq!(read.dependent_chain(10, 8), 1 + 2 + 1);
        assert_eq!(plan(&|_, _| false).dependent_chain(10, 8), 0);
        let all = plan(&|_, _| true);
        assert_eq!(
            all.cost(10, 8, true, true).round_trips,
            all.dependent_chain(10, 8)
        );
        assert!(
            all.dependent_chain(10, 8) > 30,
            "{}",
            all.dependent_chain(10, 8)
        );
    }

    #[test]
    fn the_cost_counts_requests_writes_and_what_restoring_may_add() {
        let none = plan(&|_, _| false);
        assert_eq!(none.cost(10, 8, true, true), Cost::default());
        // valid_switch: discovery (one list, or both), PUT, GET, PUT, GET, the final read; the
        // guard may switch back, the final restore may switch and reread.
        let one = plan(&|name, _| name.starts_with("valid_switch::"));
        let cost = one.cost(10, 8, false, true);
        assert_eq!((cost.requests, cost.when_needed), (6 + 3, 3));
        assert_eq!((cost.writes, cost.writes_when_needed), (2 + 2, 2));
        assert_eq!(one.cost(10, 8, true, true).requests, cost.requests + 1);
        // A sweep sends --sweep-size PUTs; its case's guard reads the list first.
        let sweep = plan(&|name, _| name.starts_with("unknown_profile_sweep::"));
        let (small, big) = (
            sweep.cost(10, 8, false, true),
            sweep.cost(1000, 8, false, true),
        );
        assert_eq!(big.requests - small.requests, 990);
        assert_eq!(big.writes - small.writes, 990);
        // Method probes: only the methods that write are paced as writes.
        let methods = plan(&|name, _| name.starts_with("method_probes::"));
        let cost = methods.cost(10, 8, false, true);
        assert!(cost.writes < cost.requests, "{cost:?}");
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
