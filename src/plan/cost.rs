//! What running a plan costs, known before anything is sent: the round trips one after another
//! and the requests, with what putting the account back may add.

use super::{Phase, Plan};
use crate::case::{Case, Generator};
use crate::http::is_write;

impl Plan {
    /// The round trips that must happen one after another when this plan runs
    /// ([`Plan::cost`]'s `round_trips`). A run cannot be faster than this many round trips on a
    /// target that leaves the account alone; the benchmark compares with it.
    pub fn dependent_chain(&self, shape: &RunShape) -> usize {
        self.cost(shape).round_trips
    }

    /// What running this plan costs, known before anything is sent (`--list` stays free of IO),
    /// read off its [`Schedule`](super::Schedule) as the runner executes it.
    ///
    /// Round trips one after another: discovery (both lists at once); then the longer of the cases
    /// sent beside everything and of the readers followed by the chain's phases; then the final
    /// check, unless the last phase ended by reading the lists. A phase takes the reading the one
    /// before left (discovery's, for the first, when it read every list a check reads). A case
    /// alone counts its steps (a sweep `ceil(sweep_size / concurrency)`, a batch of probes as many
    /// for each of its groups, each followed by a read, and the read before unless shared) and
    /// its guard's read unless it ends by reading; the cases together count the read before
    /// (unless shared), their probes built from the original default's id one at a time with a
    /// read between two, the rest of their requests `concurrency²` at a time, and the read after.
    ///
    /// Requests: discovery's lists, every request of every running case (a sweep sends
    /// `sweep_size`, a step that varies one per probe; the plain reads of the cases together are
    /// the reading after them), the reads that check a batch of probes, the guard's read after a
    /// case that does not end by reading, and the final read. Sent only when the account must be
    /// put back, and counted as such: one switch-back per state-changing case, the final
    /// restore's switch and second read, the cases together run again alone, and the bisection of
    /// a batch of probes when every one of them changes the account (see
    /// [`bisection_worst_case`]). A check reads the foreign user's list too when there is a
    /// `foreign_token`. Not counted: sign-in, throttled answers waited out and retried, and the
    /// restore of a run that was killed before its own.
    pub fn cost(&self, shape: &RunShape) -> Cost {
        if !self.needs_target() {
            return Cost::default();
        }
        let schedule = self.schedule(shape.probe_checks);
        let read = 1 + usize::from(shape.foreign_token);
        let mut cost = Cost {
            // Discovery's lists; when needed, the final switch back and reread for each user
            // whose token the run has.
            requests: 1 + usize::from(shape.reads_foreign_list) + 2 * read,
            writes: read,
            when_needed: 2 * read,
            writes_when_needed: read,
            round_trips: 0,
        };
        // Whether the phase about to run may take the reading the run has.
        let mut reading = !shape.foreign_token || shape.reads_foreign_list;
        // Whether the phase before may have left the account changed on a correct target (its
        // guard then put it back, and its reading is stale): the next one to take it reads
        // again, when needed.
        let mut stale = false;
        let mut chain = 0;
        for phase in &schedule.chain {
            let takes_reading = match phase {
                Phase::Alone(ci) => self.cases[*ci].reads_shared(0, true),
                Phase::Together(_) => true,
            };
            if stale && takes_reading {
                cost.add_when_needed(Cost {
                    requests: read,
                    ..Cost::default()
                });
            }
            stale = matches!(phase, Phase::Alone(ci) if self.cases[*ci].may_leave_changed());
            match phase {
                Phase::Alone(ci) => {
                    let case = &*self.cases[*ci];
                    chain += case_round_trips(case, shape, reading)
                        + usize::from(!case.ends_with_reading());
                    cost.add(case_cost(case, shape, read, true, reading));
                }
                Phase::Together(cases) => {
                    let (sent, writes) = cases
                        .iter()
                        .map(|&ci| together_requests(&self.cases[ci], shape))
                        .fold((0, 0), |(r, w), (cr, cw)| (r + cr, w + cw));
                    cost.writes += writes;
                    // The probes built from the original default's id go first, one at a
                    // time, both lists read after each but the last.
                    let leads: usize = cases.iter().map(|&ci| leads(&self.cases[ci])).sum();
                    let lead_reads = leads.saturating_sub(1);
                    let pool = shape.concurrency.max(1).pow(2);
                    chain += usize::from(!reading)
                        + leads
                        + lead_reads
                        + (sent - leads).div_ceil(pool)
                        + 1;
                    cost.requests += sent + (usize::from(!reading) + lead_reads + 1) * read;
                    // Should the account change: the switches back (the other user's too), and
                    // every case again, alone, with its guard.
                    cost.add_when_needed(Cost {
                        requests: read,
                        writes: read,
                        ..Cost::default()
                    });
                    for &ci in cases {
                        cost.add_when_needed(case_cost(&self.cases[ci], shape, read, true, false));
                    }
                }
            }
            // Every phase ends by reading both lists: the last step's, the guard's, or the check
            // after the cases together.
            reading = true;
        }
        // The readers take discovery's reading of the primary user's list.
        let longest = |cases: &[usize], incoming: bool| {
            cases
                .iter()
                .map(|&ci| case_round_trips(&self.cases[ci], shape, incoming))
                .max()
                .unwrap_or(0)
        };
        for &ci in &schedule.beside {
            cost.add(case_cost(&self.cases[ci], shape, read, false, false));
        }
        for &ci in &schedule.readers {
            cost.add(case_cost(&self.cases[ci], shape, read, false, true));
        }
        // The final check takes the last phase's reading.
        let last_read = schedule.chain.is_empty();
        if last_read {
            cost.requests += read;
        } else if stale {
            cost.add_when_needed(Cost {
                requests: read,
                ..Cost::default()
            });
        }
        cost.round_trips = 1
            + longest(&schedule.beside, false).max(longest(&schedule.readers, true) + chain)
            + usize::from(last_read);
        cost
    }
}

/// The round trips of a case's steps, one after another (without its guard); `incoming`: the
/// run has a reading its first step may take.
fn case_round_trips(case: &Case, shape: &RunShape, incoming: bool) -> usize {
    let concurrency = shape.concurrency.max(1);
    case.steps
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let probes: usize = s.vary.iter().map(Generator::size).sum();
            // The read the step before left is this one's (its first, for a batch).
            let shared = usize::from(case.reads_shared(si, incoming));
            if s.sweep.is_some() {
                shape.sweep_size.div_ceil(concurrency).max(1)
            } else if s.vary.is_empty() || s.is_burst() {
                // Sent once, or a burst sent all at once.
                1 - shared
            } else if s.is_batch(case.state) {
                // The lists read before, then each group of probes and a read.
                1 - shared
                    + check_groups(s, shape)
                        .iter()
                        .map(|g| g.len().div_ceil(concurrency) + 1)
                        .sum::<usize>()
            } else {
                probes.div_ceil(concurrency).max(1)
            }
        })
        .sum()
}

/// The requests a case sends when it goes with others, and how many of them are writes: every
/// step's but the plain reads (the reading after them stands for those), and no checks of its
/// own.
fn together_requests(case: &Case, shape: &RunShape) -> (usize, usize) {
    case.steps
        .iter()
        .filter(|s| !s.is_plain_read())
        .map(|s| sent_writes(s, shape.sweep_size))
        .fold((0, 0), |(r, w), sent| {
            (r + sent.len(), w + sent.iter().filter(|w| **w).count())
        })
}

/// The probes of a case's checked batches built from the original default's id, which go
/// first when it runs with others.
fn leads(case: &Case) -> usize {
    case.steps
        .iter()
        .filter(|s| s.is_batch(case.state))
        .map(|s| {
            s.vary
                .iter()
                .enumerate()
                .filter(|(g, _)| s.probes_use(*g, crate::case::Var::OriginalProfileId))
                .map(|(_, generator)| generator.size())
                .sum::<usize>()
        })
        .sum()
}

/// What one case costs alone: its requests (with the reads that check its batches of probes)
/// and, when needed, their bisection; with `guard`, the read after it (unless it ends with one)
/// and the switch back when needed; `incoming` as for [`case_round_trips`].
fn case_cost(case: &Case, shape: &RunShape, read: usize, guard: bool, incoming: bool) -> Cost {
    let mut cost = Cost::default();
    for (si, step) in case.steps.iter().enumerate() {
        // The read the step before left is this one's (its first, for a batch).
        let shared = case.reads_shared(si, incoming);
        if step.is_batch(case.state) {
            let groups = check_groups(step, shape);
            cost.requests += (usize::from(!shared) + groups.len()) * read;
            cost.add_when_needed(bisection_worst_case(&groups, read));
        } else if shared {
            continue;
        }
        let writes = sent_writes(step, shape.sweep_size);
        cost.requests += writes.len();
        if step.is_plain_read() && case.state.may_change() {
            // The other user's list, read beside it.
            cost.requests += usize::from(shape.foreign_token);
        }
        cost.writes += writes.iter().filter(|w| **w).count();
    }
    if guard && case.state.may_change() {
        // Both users' lists unless the case ends by reading them. When needed, a switch back
        // for each.
        let other = usize::from(shape.foreign_token);
        if !case.ends_with_reading() {
            cost.requests += 1 + other;
        }
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
    let (generators, writes): (Vec<Option<usize>>, Vec<bool>) = step
        .vary
        .iter()
        .enumerate()
        .flat_map(|(index, generator)| {
            probe_writes(step, generator)
                .into_iter()
                .map(move |w| (Some(index), w))
        })
        .unzip();
    step.check_groups(&generators, shape.probe_checks == ProbeChecks::Each)
        .into_iter()
        .map(|group| group.into_iter().map(|i| writes[i]).collect())
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
        let (a, b) = crate::case::Step::halves(writes);
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
