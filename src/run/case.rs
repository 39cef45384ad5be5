//! One case's execution: its steps (see `steps`), the restore guard after it, its invariants
//! judged on everything it led to, and its results filed into the report; and the run's own
//! requests judged the same way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::session::{self, Session};
use super::{RunEvent, invariants, restore, steps};
use crate::case::{Case, Level};
use crate::plan::{Plan, TrialKind};
use crate::record::{CaseRecord, ExchangeRecord, Observed, RunReport, TrialRecord};

/// Judges the run's own requests — discovery, the checks of the cases run together, the
/// put-backs, the final restore — by the invariants, as the `run::` trials.
pub(super) fn judge_run_requests(
    plan: &Plan,
    index: &HashMap<TrialKind, usize>,
    session: &Session,
    report: &mut RunReport,
) {
    let own: Vec<Arc<ExchangeRecord>> = report
        .exchanges
        .iter()
        .filter(|r| session::owner_of(&r.context).is_none())
        .cloned()
        .collect();
    // The lists judged by the list invariants: the accounts as found and as left. The checks of
    // the cases run together show a transient state on a faulty target (their cases run again
    // one at a time, and the case that changed the account is judged for it).
    let lists: Vec<Arc<ExchangeRecord>> = own
        .iter()
        .filter(|r| r.exchange.method == "GET" && r.path == crate::api::PROFILES_PATH)
        .filter(|r| matches!(r.context.as_str(), session::DISCOVERY | session::RESTORE))
        .cloned()
        .collect();
    let vars = session.vars().cloned().unwrap_or_default();
    let bind = |vars: &crate::case::Vars, record: &ExchangeRecord| session.bind(vars, record);
    for level in [Level::Must, Level::Should] {
        if let Some(&ti) = index.get(&TrialKind::RunInvariants { level })
            && plan.trials[ti].selected
        {
            report.results[ti] = Some(invariants::judge(
                &plan.invariants,
                level,
                &lists,
                &own,
                &vars,
                &bind,
            ));
        }
    }
}

/// A case to run, and the trials its results go to.
pub(super) struct CaseJob {
    pub(super) ci: usize,
    pub(super) case: Arc<Case>,
    /// (step, rule, trial index) of each selected rule trial.
    pub(super) trial_ids: Vec<(usize, usize, usize)>,
    pub(super) snapshot_trial: Option<usize>,
    pub(super) invariant_trials: Vec<(Level, usize)>,
    /// The trial indexes whose outcome counts (not SHOULD rules judged as advice), for what the
    /// progress line says of the case.
    pub(super) counted: std::collections::HashSet<usize>,
}

impl CaseJob {
    pub(super) fn all_trials(&self) -> Vec<usize> {
        self.trial_ids
            .iter()
            .map(|(_, _, ti)| *ti)
            .chain(self.snapshot_trial)
            .chain(self.invariant_trials.iter().map(|(_, ti)| *ti))
            .collect()
    }
}

/// A case run, before its invariants are judged.
pub(super) struct Executed {
    pub(super) case_run: steps::CaseRun,
    /// The profile lists the invariants judge: the case's own reads, the lists after a change
    /// its probes made, and the guard's read.
    pub(super) lists: Vec<Arc<ExchangeRecord>>,
    /// The session's exchange count when the case began (its exchanges come after).
    pub(super) since: usize,
    pub(super) duration: Duration,
    /// The reading the case (with its guard) ended with, when nothing was sent after it: the
    /// next phase may take it.
    pub(super) reading: Option<Vec<Arc<ExchangeRecord>>>,
}

/// A case's results.
pub(super) struct CaseDone {
    pub(super) case_run: steps::CaseRun,
    pub(super) stopped: Option<String>,
    pub(super) duration: Duration,
    pub(super) invariant_records: Vec<TrialRecord>,
}

/// When a case began: the time, and the session's exchange count (its exchanges come after).
pub(super) struct Begun {
    at: Instant,
    since: usize,
}

impl Begun {
    /// Says the case started.
    pub(super) fn now(session: &Session, job: &CaseJob) -> Begun {
        let begun = Begun {
            at: Instant::now(),
            since: session.exchange_count(),
        };
        session.event(RunEvent::CaseStarted { case: &job.case.id });
        begun
    }
}

/// Runs a case's steps as `sending` says; with `guard`, a case that may change the account is
/// followed by the restore guard (the cases that go together are checked as a group instead).
pub(super) async fn execute(
    session: &Arc<Session>,
    job: &CaseJob,
    guard: bool,
    sending: steps::Sending,
    begun: Begun,
) -> Executed {
    let case_run = steps::run_case(session, &job.case, sending).await;
    let mut lists: Vec<Arc<ExchangeRecord>> = case_run
        .exchanges
        .iter()
        .flatten()
        .filter(|r| r.exchange.method == "GET" && r.path == crate::api::PROFILES_PATH)
        .chain(&case_run.changed_lists)
        .chain(&case_run.other_reads)
        .cloned()
        .collect();
    let mut reading = None;
    if guard && job.case.state.may_change() {
        // The case's last reading, when it ended with one and the run did not stop meanwhile
        // (a request cut off in flight may still have changed the account): the guard takes
        // it instead of reading again (`Case::ends_with_reading`, by which the plan counts).
        let answered = |r: &&Arc<ExchangeRecord>| {
            r.exchange
                .outcome
                .as_ref()
                .is_ok_and(|resp| resp.status == 200)
        };
        let last_reading = case_run
            .last_reading
            .as_deref()
            .filter(|_| session.stop_reason().is_none());
        let of = |credential: crate::api::Credential| {
            last_reading
                .and_then(|records| records.iter().find(|r| r.credential == credential))
                .filter(answered)
                .map(Arc::as_ref)
        };
        let last = of(crate::api::Credential::Primary)
            .or_else(|| case_run.exchanges.last().and_then(Option::as_deref));
        let other = of(crate::api::Credential::Foreign);
        let guarded = restore::guard(session, &job.case.id, last, other).await;
        // What the account is now, when the guard sent no switch: the case's reading, or the
        // guard's own.
        reading = guarded.left_alone.then(|| {
            let mut now: Vec<Arc<ExchangeRecord>> = guarded.read.clone();
            for credential in [
                crate::api::Credential::Primary,
                crate::api::Credential::Foreign,
            ] {
                if !now.iter().any(|r| r.credential == credential)
                    && let Some(seen) = last_reading
                        .and_then(|records| records.iter().find(|r| r.credential == credential))
                {
                    now.push(seen.clone());
                }
            }
            now
        });
        lists.extend(guarded.read);
    }
    Executed {
        case_run,
        lists,
        since: begun.since,
        duration: begun.at.elapsed(),
        reading,
    }
}

/// Judges a run case's invariants on its lists and says it finished; `stopped`: why the run
/// stopped, if it had when the case's last request was answered.
pub(super) fn conclude(
    session: &Session,
    job: &CaseJob,
    executed: Executed,
    invariants: &crate::case::Invariants,
    stopped: Option<String>,
) -> CaseDone {
    let Executed {
        case_run,
        lists,
        since,
        duration,
        ..
    } = executed;
    let vars = session.vars().cloned().unwrap_or_default();
    // Its own requests, and the readings its steps took from the run (a plain read of a case
    // run with others answered by the reading after them all): every answer a step judged.
    let mut responses = session.exchanges_of(&job.case.id, since);
    for record in case_run.exchanges.iter().flatten() {
        if !responses.iter().any(|r| Arc::ptr_eq(r, record)) {
            responses.push(record.clone());
        }
    }
    let bind = |vars: &crate::case::Vars, record: &ExchangeRecord| session.bind(vars, record);
    let invariant_records: Vec<TrialRecord> = job
        .invariant_trials
        .iter()
        .map(|&(level, _)| {
            let record = invariants::judge(invariants, level, &lists, &responses, &vars, &bind);
            // A breach found before a stop stands; a pass on part of the case's responses, or
            // nothing judged because of the stop, is not judged.
            match stopped.clone() {
                Some(why) if !record.observed.is_failure() => {
                    TrialRecord::bare(Observed::Stopped(why))
                }
                _ => record,
            }
        })
        .collect();
    // As the report will say it: judged trials, and the counted ones that failed (advice and
    // trials a stop cut off are neither).
    let records: Vec<(&TrialRecord, usize)> = job
        .trial_ids
        .iter()
        .filter_map(|&(si, ri, ti)| case_run.verdicts.get(&(si, ri)).map(|r| (r, ti)))
        .chain(
            invariant_records
                .iter()
                .zip(&job.invariant_trials)
                .map(|(r, (_, ti))| (r, *ti)),
        )
        .collect();
    session.event(RunEvent::CaseFinished {
        case: &job.case.id,
        judged: records
            .iter()
            .filter(|(r, _)| matches!(r.observed, Observed::Judged(_)))
            .count(),
        failed: records
            .iter()
            .filter(|(r, ti)| {
                job.counted.contains(ti)
                    && (r.observed.is_failure() || matches!(r.observed, Observed::NotRun(_)))
            })
            .count(),
        requests: case_run.requests,
        duration,
    });
    CaseDone {
        case_run,
        stopped,
        duration,
        invariant_records,
    }
}

/// Files a case's results into the report.
pub(super) fn file(report: &mut RunReport, job: &CaseJob, done: CaseDone) {
    for &(si, ri, ti) in &job.trial_ids {
        report.results[ti] = done.case_run.verdicts.get(&(si, ri)).cloned();
    }
    for ((_, ti), record) in job.invariant_trials.iter().zip(done.invariant_records) {
        report.results[*ti] = Some(record);
    }
    if job.snapshot_trial.is_some() {
        report.cases.push(CaseRecord {
            case: job.ci,
            exchanges: done.case_run.exchanges,
            stopped: done.stopped,
            duration: done.duration,
        });
    }
}
