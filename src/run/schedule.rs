//! Scheduling the cases: each spawned at once, bounded by the concurrency; a case that changes
//! the account holds the state lock exclusively, one that reads it holds it shared, the cases
//! that only refuse go together under one exclusive hold (`together`); a case whose fixture is
//! missing is filed as such and not run. Each case's results are filed as it finishes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{RwLock, Semaphore};

use super::case::{CaseDone, CaseJob, file};
use super::discovery::Discovery;
use super::session::Session;
use super::{RunEvent, together};
use crate::case::{Case, Fixture, Level, StateUse};
use crate::check::Verdict;
use crate::plan::{Plan, TrialKind};
use crate::record::{Observed, RunReport, TrialRecord};

/// Runs every case of the plan that discovery found the fixtures for, and files their results;
/// says whether any that ran may have changed the account.
pub(super) async fn run(
    plan: &Plan,
    session: &Arc<Session>,
    discovery: &Discovery,
    index: &HashMap<TrialKind, usize>,
    report: &mut RunReport,
) -> bool {
    let state_lock = Arc::new(RwLock::new(()));
    let permits = Arc::new(Semaphore::new(session.target.concurrency.max(1)));
    // Each task runs one case, or the cases that go together; with the trials it will file.
    type Task = (
        Vec<usize>,
        tokio::task::JoinHandle<Vec<(CaseJob, CaseDone)>>,
    );
    let mut tasks: Vec<Task> = Vec::new();
    let mut changed_state = false;
    session.event(RunEvent::Started {
        fixtures: &report.fixtures,
        cases: plan.run_cases.len(),
    });
    let together = plan.together();
    let mut group: Vec<CaseJob> = Vec::new();
    for &ci in &plan.run_cases {
        let case = plan.cases[ci].clone();
        let job = CaseJob {
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
            case,
        };
        if let Some(reason) = missing_fixture(&job.case, &discovery.missing) {
            for ti in job.all_trials() {
                report.results[ti] =
                    Some(TrialRecord::bare(Observed::MissingFixture(reason.clone())));
            }
            session.event(RunEvent::CaseSkipped {
                case: &job.case.id,
                reason: &reason,
            });
            continue;
        }
        changed_state |= job.case.state.may_change();
        if together.contains(&ci) {
            group.push(job);
            continue;
        }
        let (session, state_lock, invariants) =
            (session.clone(), state_lock.clone(), plan.invariants.clone());
        let permits = permits.clone();
        let trials = job.all_trials();
        let handle = tokio::spawn(async move {
            let _state = match job.case.state {
                StateUse::Changes | StateUse::Guards => Lock::Write(state_lock.write_owned().await),
                StateUse::Reads => Lock::Read(state_lock.read_owned().await),
                StateUse::None => Lock::None,
            };
            let _permit = permits.acquire_owned().await;
            together::one_at_a_time(&session, vec![job], &invariants).await
        });
        tasks.push((trials, handle));
    }
    if !group.is_empty() {
        let (session, state_lock, invariants) =
            (session.clone(), state_lock.clone(), plan.invariants.clone());
        let permits = permits.clone();
        let trials = group.iter().flat_map(CaseJob::all_trials).collect();
        let handle = tokio::spawn(async move {
            let _state = state_lock.write_owned().await;
            together::run(&session, group, &permits, &invariants).await
        });
        tasks.push((trials, handle));
    }
    for (trials, handle) in tasks {
        match handle.await {
            Ok(done) => {
                for (job, done) in done {
                    file(report, &job, done);
                }
            }
            Err(e) => {
                for ti in trials {
                    report.results[ti] = Some(TrialRecord::bare(Observed::Judged(
                        Verdict::Broken(format!("harness error while running this case: {e}")),
                    )));
                }
            }
        }
    }
    changed_state
}

/// Holds the state lock for the life of a case.
enum Lock {
    Write(#[expect(dead_code, reason = "held, never read")] tokio::sync::OwnedRwLockWriteGuard<()>),
    Read(#[expect(dead_code, reason = "held, never read")] tokio::sync::OwnedRwLockReadGuard<()>),
    None,
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
