//! Planning: which trials exist, which of them the libtest filter selects, and so which cases
//! must run. Pure: the selection rule is handed in by the caller (the report module owns
//! libtest's semantics), and `--list` stops here, before any socket is opened.

use std::collections::HashMap;
use std::sync::Arc;

use crate::api::{self, DEVIATIONS_TRIAL, PROFILES_PATH, RESTORE_TRIAL};
use crate::case::{Case, Credential, Generator, Invariants, Level, Method, StateUse, Suite, Var};
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
    /// The invariants of this level, on every profile list case `case` led to and every
    /// response it got.
    Invariants { case: usize, level: Level },
    /// The every-response invariants of this level, on the run's own requests (discovery, the
    /// checks of the cases run together, the final restore).
    RunInvariants { level: Level },
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
    /// of probes as many for each of its groups, each followed by a read, and the read before;
    /// the cases that go together as the longest of them between two reads), a guard request after a case that does not end by reading the profile
    /// list (or to read the other user's), and the final check. A run cannot be faster than this many round trips on a target
    /// that leaves the account alone; the benchmark compares with it.
    pub fn dependent_chain(&self, shape: &RunShape) -> usize {
        let concurrency = shape.concurrency.max(1);
        let steps = |case: &Case| -> usize {
            case.steps
                .iter()
                .map(|s| {
                    let probes: usize = s.vary.iter().map(Generator::size).sum();
                    if s.sweep.is_some() {
                        shape.sweep_size.div_ceil(concurrency).max(1)
                    } else if s.vary.is_empty() || s.is_burst() {
                        // Sent once, or a burst sent all at once.
                        1
                    } else if s.is_batch(case.state) {
                        // The lists read before, then each group of probes and a read.
                        1 + check_groups(s, shape)
                            .iter()
                            .map(|g| g.len().div_ceil(concurrency) + 1)
                            .sum::<usize>()
                    } else {
                        probes.div_ceil(concurrency).max(1)
                    }
                })
                .sum()
        };
        let running = || self.run_cases.iter().map(|&ci| &*self.cases[ci]);
        if !self.needs_target() {
            return 0;
        }
        let together = self.together();
        let readers = running()
            .filter(|c| c.state == StateUse::Reads)
            .map(steps)
            .max()
            .unwrap_or(0);
        // The cases that go together: a read before, the longest of them, a read after.
        let group = together
            .iter()
            .map(|&ci| steps(&self.cases[ci]))
            .max()
            .map_or(0, |longest| 1 + longest + 1);
        let writers: usize = self
            .run_cases
            .iter()
            .filter(|ci| !together.contains(ci))
            .map(|&ci| &*self.cases[ci])
            .filter(|c| c.state.may_change())
            .map(|c| steps(c) + usize::from(!ends_with_read(c) || shape.foreign_token))
            .sum::<usize>()
            + group;
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
    /// `reads_foreign_list`: a foreign token is given and its profile id is not), every request
    /// of every running case (a sweep sends `sweep_size`, a step that varies one per probe), the
    /// reads that check a batch of probes, the guard's read after a state-changing case that
    /// does not end by reading the list, and the final read. Sent only when the account must be
    /// put back, and counted as such: one switch-back per state-changing case, the final
    /// restore's switch and second read, and the bisection of a batch of probes when every one
    /// of them changes the account (see [`bisection_worst_case`]). A check reads the foreign
    /// user's list too when there is a `foreign_token`. Not counted: sign-in, throttled answers
    /// waited out and retried, and the restore of a run that was killed before its own.
    pub fn cost(&self, shape: &RunShape) -> Cost {
        if !self.needs_target() {
            return Cost::default();
        }
        let mut cost = Cost {
            round_trips: self.dependent_chain(shape),
            // Discovery's lists and the final reads (the other user's too, when its token is
            // given); when needed, the final switch back and reread, for each user whose token
            // the run has.
            requests: 1
                + usize::from(shape.reads_foreign_list)
                + 1
                + usize::from(shape.foreign_token)
                + 2
                + 2 * usize::from(shape.foreign_token),
            writes: 1 + usize::from(shape.foreign_token),
            when_needed: 2 + 2 * usize::from(shape.foreign_token),
            writes_when_needed: 1 + usize::from(shape.foreign_token),
        };
        let read = 1 + usize::from(shape.foreign_token);
        let together = self.together();
        for &ci in &self.run_cases {
            let case = &*self.cases[ci];
            if together.contains(&ci) {
                // Together: the case without its guard; and, should the account change, the
                // case again, alone, with its guard.
                cost.add(case_cost(case, shape, read, false));
                cost.add_when_needed(case_cost(case, shape, read, true));
            } else {
                cost.add(case_cost(case, shape, read, true));
            }
        }
        if !together.is_empty() {
            // The reads before and after the group; the switches back (the other user's too)
            // before going one at a time.
            cost.requests += 2 * read;
            cost.add_when_needed(Cost {
                requests: read,
                writes: read,
                ..Cost::default()
            });
        }
        cost
    }

    /// The running cases that go together, as one checked batch: those that only refuse
    /// (`guards`) and send nothing built from the original default's id (which could undo
    /// another case's change and hide it) — when there are at least two of them.
    pub fn together(&self) -> Vec<usize> {
        let cases: Vec<usize> = self
            .run_cases
            .iter()
            .copied()
            .filter(|&ci| {
                let case = &self.cases[ci];
                case.state == StateUse::Guards && !case.requests_use(Var::OriginalProfileId)
            })
            .collect();
        if cases.len() < 2 { Vec::new() } else { cases }
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
    case.steps
        .last()
        .is_some_and(crate::case::Step::reads_own_list)
}

/// What one case costs: its requests (with the reads that check its batches of probes) and,
/// when needed, their bisection; with `guard`, the read after it (unless it ends with one) and
/// the switch back when needed.
fn case_cost(case: &Case, shape: &RunShape, read: usize, guard: bool) -> Cost {
    let mut cost = Cost::default();
    for step in &case.steps {
        let writes = sent_writes(step, shape.sweep_size);
        cost.requests += writes.len();
        if step.vary.is_empty()
            && step.sweep.is_none()
            && step.reads_own_list()
            && case.state.may_change()
        {
            // The other user's list, read beside it.
            cost.requests += usize::from(shape.foreign_token);
        }
        cost.writes += writes.iter().filter(|w| **w).count();
        if step.is_batch(case.state) {
            let groups = check_groups(step, shape);
            cost.requests += (1 + groups.len()) * read;
            cost.add_when_needed(bisection_worst_case(&groups, read));
        }
    }
    if guard && case.state.may_change() {
        // The primary user's list unless the case ends by reading it; the other user's. When
        // needed, a switch back for each.
        let other = usize::from(shape.foreign_token);
        cost.requests += usize::from(!ends_with_read(case)) + other;
        cost.add_when_needed(Cost {
            requests: 1 + other,
            writes: 1 + other,
            ..Cost::default()
        });
    }
    cost
}

/// Whether each request a step sends is a write, in order: one for a plain step,
/// `sweep_size` for a sweep, one per probe for a step that varies.
fn sent_writes(step: &crate::case::Step, sweep_size: usize) -> Vec<bool> {
    let method = is_write(step.request.method.as_str());
    if step.sweep.is_some() {
        return vec![method; sweep_size];
    }
    if step.vary.is_empty() {
        return vec![method];
    }
    step.vary
        .iter()
        .flat_map(|g| probe_writes(step, g))
        .collect()
}

/// Whether each probe of `generator` in `step` is a write.
fn probe_writes(step: &crate::case::Step, generator: &Generator) -> Vec<bool> {
    match generator {
        Generator::Methods(methods) => methods.iter().map(|m| is_write(m.as_str())).collect(),
        _ => vec![is_write(step.request.method.as_str()); generator.size()],
    }
}

/// The groups a step's probes are checked in (each probe as whether it is a write): in a
/// batch, the probes built from the original default's id each alone (they could undo another
/// probe's change), the others together; checked one by one, each alone.
fn check_groups(step: &crate::case::Step, shape: &RunShape) -> Vec<Vec<bool>> {
    let mut together = Vec::new();
    let mut alone = Vec::new();
    for (index, generator) in step.vary.iter().enumerate() {
        let writes = probe_writes(step, generator);
        if shape.probe_checks == ProbeChecks::Each
            || step.probes_use(index, crate::case::Var::OriginalProfileId)
        {
            alone.extend(writes.into_iter().map(|w| vec![w]));
        } else {
            together.extend(writes);
        }
    }
    std::iter::once(together)
        .filter(|g| !g.is_empty())
        .chain(alone)
        .collect()
}

/// What checking groups of probes adds, at most, when every probe changes the account:
/// requests and writes. `groups` holds each group's probes as whether it is a write; `read`
/// is the requests of one check (one list, or both users'). A group that changed the account
/// has each half sent again after a switch back and a read, then read after, down to single
/// probes; each group after the first may need a switch back and a read before it; one more
/// switch back ends it.
pub fn bisection_worst_case(groups: &[Vec<bool>], read: usize) -> Cost {
    fn halves(writes: &[bool], read: usize, cost: &mut Cost) {
        if writes.len() < 2 {
            return;
        }
        let (a, b) = writes.split_at(writes.len() / 2);
        for half in [a, b] {
            // Switch back, read, send the half, read.
            cost.requests += 1 + read + half.len() + read;
            cost.writes += 1 + half.iter().filter(|w| **w).count();
            halves(half, read, cost);
        }
    }
    let mut cost = Cost::default();
    if groups.is_empty() {
        return cost;
    }
    for group in groups {
        halves(group, read, &mut cost);
    }
    cost.requests += (groups.len() - 1) * (1 + read) + 1;
    cost.writes += groups.len();
    cost
}

/// How the probes of a step that may change the account are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeChecks {
    /// Sent together, both users' lists read before and after; when the lists changed, halves
    /// are sent again until the probes that changed the account are found.
    #[default]
    Batch,
    /// One at a time, the lists read after each (`--check-each-probe`).
    Each,
}

/// What a plan's cost depends on besides the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunShape {
    /// Requests a sweep step sends.
    pub sweep_size: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Discovery reads the foreign user's list (a foreign token without its profile id).
    pub reads_foreign_list: bool,
    /// Checks read the foreign user's list too.
    pub foreign_token: bool,
    pub probe_checks: ProbeChecks,
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
    /// Adds another cost's requests and writes (round trips are the plan's, not summed).
    fn add(&mut self, other: Cost) {
        self.requests += other.requests;
        self.writes += other.writes;
        self.when_needed += other.when_needed;
        self.writes_when_needed += other.writes_when_needed;
    }

    /// Adds requests that are sent only when the account must be put back.
    fn add_when_needed(&mut self, other: Cost) {
        self.requests += other.requests;
        self.writes += other.writes;
        self.when_needed += other.requests;
        self.writes_when_needed += other.writes;
    }

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
        // valid_switch alone: discovery, its 4 steps, the guard's read of the other user's list
        // (it ends by reading its own, so the guard needs no other), the final check.
        let one = plan(&|name, _| name.starts_with("valid_switch::"));
        assert_eq!(one.dependent_chain(&shape(10, true)), 1 + 4 + 1 + 1);
        // A sweep of 20 at 8 at a time takes 3 round trips, then its verify step, then the
        // guard's read of the other user's list.
        let sweep = plan(&|name, _| name.starts_with("unknown_profile_sweep::"));
        assert_eq!(sweep.dependent_chain(&shape(20, true)), 1 + 3 + 1 + 1 + 1);
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
        assert!(
            all.dependent_chain(&shape(10, true)) > 30,
            "{}",
            all.dependent_chain(&shape(10, true))
        );
    }

    #[test]
    fn the_cost_counts_requests_writes_and_what_restoring_may_add() {
        let none = plan(&|_, _| false);
        assert_eq!(none.cost(&shape(10, true)), Cost::default());
        // valid_switch: discovery (one list, or both), PUT, GET, PUT, GET (each GET with the
        // other user's list beside it), the guard's read of the other user's list, the final
        // reads of both; the guard may switch back, the final restore may switch and reread.
        let one = plan(&|name, _| name.starts_with("valid_switch::"));
        let cost = one.cost(&shape(10, false));
        // When needed: the guard's switch back of each user, the final restore's switch and
        // reread of each.
        assert_eq!((cost.requests, cost.when_needed), (6 + 2 + 1 + 1 + 6, 6));
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
