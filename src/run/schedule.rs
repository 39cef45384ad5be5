//! Executing the plan's [`Schedule`]: the cases sent beside everything (`concurrency` at a
//! time), the readers together, then the chain's phases one after another, each taking the
//! reading the one before ended with (discovery's, for the first); a case whose fixture is
//! missing is filed as such and not run. Each case's results are filed as it finishes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::case::{CaseDone, CaseJob, file};
use super::discovery::Discovery;
use super::session::Session;
use super::together::{self, Concluded, Fresh};
use super::{RunEvent, batch};
use crate::case::{Case, Fixture, Level};
use crate::check::Verdict;
use crate::plan::{Phase, Plan, TrialKind};
use crate::record::{Observed, RunReport, TrialRecord};

/// What running the cases left: whether any that ran may have changed the account, and the
/// reading the last phase ended with, which the final check may take.
pub(super) struct Ran {
    pub changed_state: bool,
    pub reading: Fresh,
}

/// Runs every case of the plan's schedule that discovery found the fixtures for, and files their
/// results.
pub(super) async fn run(
    plan: &Plan,
    session: &Arc<Session>,
    discovery: &Discovery,
    index: &HashMap<TrialKind, usize>,
    report: &mut RunReport,
) -> Ran {
    session.event(RunEvent::Started {
        fixtures: &report.fixtures,
        cases: plan.run_cases.len(),
    });
    let schedule = plan.schedule(session.target.probe_checks);
    let job_of = |ci: usize, report: &mut RunReport| -> Option<CaseJob> {
        let job = job(plan, ci, index);
        match missing_fixture(&job.case, &discovery.missing) {
            Some(reason) => {
                for ti in job.all_trials() {
                    report.results[ti] =
                        Some(TrialRecord::bare(Observed::MissingFixture(reason.clone())));
                }
                session.event(RunEvent::CaseSkipped {
                    case: &job.case.id,
                    reason: &reason,
                });
                None
            }
            None => Some(job),
        }
    };
    // Beside everything: each case a task, `concurrency` at a time.
    let permits = Arc::new(Semaphore::new(session.target.concurrency.max(1)));
    let mut beside = Vec::new();
    for &ci in &schedule.beside {
        let Some(job) = job_of(ci, report) else {
            continue;
        };
        let (session, permits, invariants) =
            (session.clone(), permits.clone(), plan.invariants.clone());
        let trials = job.all_trials();
        let handle = tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            together::one_at_a_time(&session, vec![job], &invariants, None)
                .await
                .0
        });
        beside.push((trials, handle));
    }
    // The readers, at once, before anything may change the account, from discovery's reading.
    let readers: Vec<CaseJob> = schedule
        .readers
        .iter()
        .filter_map(|&ci| job_of(ci, report))
        .collect();
    let done = futures_util::future::join_all(readers.into_iter().map(|job| {
        let (session, invariants, permits) =
            (session.clone(), plan.invariants.clone(), permits.clone());
        let incoming = Some(discovery.lists.clone()).filter(|_| session.stop_reason().is_none());
        async move {
            let _permit = permits.acquire().await;
            together::one_at_a_time(&session, vec![job], &invariants, incoming)
                .await
                .0
        }
    }))
    .await;
    for (job, done) in done.into_iter().flatten() {
        file(report, &job, done);
    }
    // The chain, from discovery's reading.
    let mut fresh = Some(discovery.lists.clone());
    let mut changed_state = false;
    // Each phase's results, judged while the next runs.
    let mut concluding = Vec::new();
    for phase in &schedule.chain {
        let jobs: Vec<CaseJob> = phase
            .cases()
            .iter()
            .filter_map(|&ci| job_of(ci, report))
            .collect();
        if jobs.is_empty() {
            continue;
        }
        changed_state = true;
        let incoming = batch::usable(session, fresh.take());
        let trials: Vec<usize> = jobs.iter().flat_map(CaseJob::all_trials).collect();
        let (session, invariants, together) = (
            session.clone(),
            plan.invariants.clone(),
            matches!(phase, Phase::Together(_)),
        );
        // On the runtime's workers, as the cases beside it: the thread that waits for the run
        // is not one of them.
        let handle = tokio::spawn(async move {
            if together {
                together::run(&session, jobs, &invariants, incoming).await
            } else {
                let (done, reading) =
                    together::one_at_a_time(&session, jobs, &invariants, incoming).await;
                (Concluded::Done(done), reading)
            }
        });
        fresh = match handle.await {
            Ok((concluded, reading)) => {
                concluding.push((trials, concluded));
                reading
            }
            Err(e) => {
                file_all(report, Err(e), trials);
                None
            }
        };
    }
    for (trials, concluded) in concluding {
        file_all(report, concluded.wait().await, trials);
    }
    for (trials, handle) in beside {
        file_all(report, handle.await, trials);
    }
    Ran {
        changed_state,
        // Only a reading the chain ended with: with no phase, the final check reads.
        reading: fresh.filter(|_| !schedule.chain.is_empty()),
    }
}

/// Files the results of a task that ran cases; when the task itself failed, each of its
/// `trials` is broken.
fn file_all(
    report: &mut RunReport,
    ran: Result<Vec<(CaseJob, CaseDone)>, tokio::task::JoinError>,
    trials: Vec<usize>,
) {
    match ran {
        Ok(done) => {
            for (job, done) in done {
                file(report, &job, done);
            }
        }
        Err(e) => {
            for ti in trials {
                report.results[ti] = Some(TrialRecord::bare(Observed::Judged(Verdict::Broken(
                    format!("harness error while running this case: {e}"),
                ))));
            }
        }
    }
}

/// The job of running case `ci`: the case and the trials its results go to.
fn job(plan: &Plan, ci: usize, index: &HashMap<TrialKind, usize>) -> CaseJob {
    CaseJob {
        ci,
        trial_ids: selected_trials(plan, ci, index),
        snapshot_trial: index
            .get(&TrialKind::Snapshot { case: ci })
            .copied()
            .filter(|ti| plan.trials[*ti].selected),
        invariant_trials: [Level::Must, Level::Should]
            .into_iter()
            .filter_map(|level| {
                index
                    .get(&TrialKind::Invariants { case: ci, level })
                    .filter(|ti| plan.trials[**ti].selected)
                    .map(|ti| (level, *ti))
            })
            .collect(),
        counted: plan
            .trials
            .iter()
            .enumerate()
            .filter(|(_, t)| t.counts && t.kind.case() == Some(ci))
            .map(|(ti, _)| ti)
            .collect(),
        case: plan.cases[ci].clone(),
    }
}

/// (step, rule, trial index) of each selected trial of case `ci`.
pub(super) fn selected_trials(
    plan: &Plan,
    ci: usize,
    index: &HashMap<TrialKind, usize>,
) -> Vec<(usize, usize, usize)> {
    let case = &plan.cases[ci];
    let mut out = Vec::new();
    for (si, step) in case.steps.iter().enumerate() {
        for ri in 0..step.rules.len() {
            if let Some(ti) = index.get(&TrialKind::Rule {
                case: ci,
                step: si,
                rule: ri,
            }) && plan.trials[*ti].selected
            {
                out.push((si, ri, *ti));
            }
        }
    }
    out
}

fn missing_fixture(case: &Case, missing: &BTreeMap<Fixture, String>) -> Option<String> {
    let reasons: Vec<String> = case
        .fixtures
        .iter()
        .filter_map(|f| missing.get(f).map(|why| format!("needs {f}: {why}")))
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
