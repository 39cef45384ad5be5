//! The schedule: in what order, and beside what, the running cases are sent. The plan computes
//! it, the runner executes it, and the plan's cost is read off it — one rule, not three.

use super::{Plan, ProbeChecks};
use crate::case::{Case, StateUse, Var};

/// How the running cases of a plan are sent, after discovery and before the final check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Cases that neither read nor change the account (`state: none`): sent beside everything
    /// else, `concurrency` at a time.
    pub beside: Vec<usize>,
    /// Cases that read the account without changing it: together, before anything may change it.
    pub readers: Vec<usize>,
    /// The phases that may change the account, one after another. Each starts from the reading
    /// the one before ended with (discovery's, for the first), when nothing was sent after it.
    pub chain: Vec<Phase>,
}

/// A phase of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// One case, then its guard (the account read, and put back if it changed).
    Alone(usize),
    /// The cases that only refuse (`guards`), at once: first the probes built from the original
    /// default's id, one at a time, both lists read after each but the last; then every other
    /// request that is not a plain read of the list, together; then the lists read once — the
    /// reading every plain read of theirs takes, and the check that none of them changed the
    /// account. When one did, the account is put back and they run again, each `Alone`.
    Together(Vec<usize>),
}

impl Phase {
    /// The cases it runs.
    pub fn cases(&self) -> &[usize] {
        match self {
            Phase::Alone(ci) => std::slice::from_ref(ci),
            Phase::Together(cases) => cases,
        }
    }
}

impl Plan {
    /// The schedule of the running cases. The readers take discovery's reading. The cases that go
    /// together (see [`Phase::Together`]) run first in the chain, from discovery's reading, when
    /// there are at least two of them; then every other case that may change the account, alone,
    /// ordered so that each that starts by reading follows a reading (see below).
    /// With `--check-each-probe` (`ProbeChecks::Each`) nothing goes together: every probe is
    /// followed by its own read.
    pub fn schedule(&self, probe_checks: ProbeChecks) -> Schedule {
        let running = || self.run_cases.iter().copied();
        let of = |state: StateUse| -> Vec<usize> {
            running()
                .filter(|&ci| self.cases[ci].state == state)
                .collect()
        };
        let together: Vec<usize> = running()
            .filter(|&ci| goes_together(&self.cases[ci]))
            .collect();
        let together = if together.len() < 2 || probe_checks == ProbeChecks::Each {
            Vec::new()
        } else {
            together
        };
        let mut chain: Vec<Phase> = Vec::new();
        if !together.is_empty() {
            chain.push(Phase::Together(together.clone()));
        }
        // Alone, in an order that leaves each a reading where it needs one: first the cases
        // that start by reading (right after a phase that ended with one), then those that may
        // leave the account changed (their guard puts it back), then those that start by
        // writing (they need no reading of what the guard before put back).
        let alone: Vec<usize> = running()
            .filter(|ci| !together.contains(ci) && self.cases[*ci].state.may_change())
            .collect();
        let rank = |ci: &usize| {
            let case = &self.cases[*ci];
            if case.reads_shared(0, true) {
                0
            } else if case.may_leave_changed() {
                1
            } else {
                2
            }
        };
        let mut alone = alone;
        alone.sort_by_key(rank);
        chain.extend(alone.into_iter().map(Phase::Alone));
        Schedule {
            beside: of(StateUse::None),
            readers: of(StateUse::Reads),
            chain,
        }
    }
}

/// Whether a case may go with others: it only refuses (`guards`), and what it sends built from
/// the original default's id (which could undo another case's change and hide it) are probes of
/// a checked batch: those go first, one at a time (see [`Phase::Together`]).
fn goes_together(case: &Case) -> bool {
    case.state == StateUse::Guards
        && case.steps.iter().all(|s| {
            let orig = Var::OriginalProfileId;
            !s.request.path.uses(orig)
                && !s.request.query.iter().any(|(_, t)| t.uses(orig))
                && (s.is_batch(case.state) || (0..s.vary.len()).all(|g| !s.probes_use(g, orig)))
        })
}
