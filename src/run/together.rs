//! The cases that only refuse (`guards`), run together as one checked batch: on a correct target
//! none of them changes the account, so they may run at once, and the account is read before
//! and after. Every profile list they read meanwhile — their own steps', their probes' checks —
//! must show the account as it was before; then their verdicts are those of running them one at
//! a time. When one does not (a refusal that switched, say), the default is put back and the
//! cases run again one at a time, each followed by its restore guard, and only those results
//! count: a faulty target costs a second pass, a correct one saves a round trip per case.
//! Cases that send the original default's id are not among them (see `Plan::together`): one
//! could switch back and hide another's change.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::batch::{agree, read};
use super::case::{CaseDone, CaseJob, Executed, conclude, execute};
use super::discovery::current_default;
use super::session::Session;
use crate::api::Credential;
use crate::case::Invariants;

/// The context of the group's reads before and after.
const CHECK: &str = "the cases that only refuse, run together (check)";
/// The context of the switches that put the accounts back before the cases run again one at a
/// time.
const PUT_BACK: &str = "put back after the cases that only refuse";

pub(super) async fn run(
    session: &Arc<Session>,
    jobs: Vec<CaseJob>,
    permits: &Arc<Semaphore>,
    invariants: &Invariants,
) -> Vec<(CaseJob, CaseDone)> {
    let before = read(session, CHECK).await;
    if let Some(base) = before.accounts {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let (session, permits) = (session.clone(), permits.clone());
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let executed = execute(&session, &job, false).await;
                    (job, executed)
                })
            })
            .collect();
        let mut ran: Vec<(CaseJob, Executed)> = Vec::with_capacity(handles.len());
        let mut lost = false;
        for handle in handles {
            match handle.await {
                Ok(pair) => ran.push(pair),
                Err(_) => lost = true,
            }
        }
        let after = read(session, CHECK).await;
        let unchanged = after.accounts.as_ref() == Some(&base)
            && ran
                .iter()
                .all(|(_, executed)| agree(&executed.case_run.reads, &base));
        // A run that stopped keeps what it has: nothing is sent again.
        if (unchanged && !lost) || session.stop_reason().is_some() {
            return ran
                .into_iter()
                .map(|(job, mut executed)| {
                    // The read after them stands for each case's guard read.
                    executed.lists.extend(after.records.iter().cloned());
                    let done = conclude(session, &job, executed, invariants);
                    (job, done)
                })
                .collect();
        }
        // Something changed the account: put the default back, then one at a time.
        let now = after
            .accounts
            .as_ref()
            .and_then(|(primary, _)| current_default(primary));
        if let Some(default) = current_default(&base.0) {
            super::restore::put_back(session, PUT_BACK, Credential::Primary, default, now).await;
        }
        let other = after
            .records
            .iter()
            .find(|r| r.credential == Credential::Foreign);
        if let Some(note) =
            super::restore::put_back_other(session, PUT_BACK, other.map(|r| &**r)).await
        {
            session
                .guard_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!(
                    "after the cases that only refuse, run together, {note}"
                ));
        }
        let jobs = ran.into_iter().map(|(job, _)| job).collect();
        return one_at_a_time(session, jobs, invariants).await;
    }
    // The account cannot be read: no check is possible, so one at a time.
    one_at_a_time(session, jobs, invariants).await
}

/// The cases in turn, each followed by its restore guard when it may change the account — as
/// every case runs that does not go with others.
pub(super) async fn one_at_a_time(
    session: &Arc<Session>,
    jobs: Vec<CaseJob>,
    invariants: &Invariants,
) -> Vec<(CaseJob, CaseDone)> {
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let executed = execute(session, &job, true).await;
        let done = conclude(session, &job, executed, invariants);
        out.push((job, done));
    }
    out
}
