//! The cases that only refuse (`guards`), run together as one checked batch: on a correct target
//! none of them changes the account, so they may run at once, and the account is read before
//! and after. Every profile list they read meanwhile — their own steps', their probes' checks —
//! must show the account as it was before; then their verdicts are those of running them one at
//! a time. When one does not (a refusal that switched, say), the default is put back and the
//! cases run again one at a time, each followed by its restore guard, and only those results
//! count: a faulty target costs a second pass, a correct one saves a round trip per case.
//! Cases that send the original default's id are not among them (see `Plan::schedule`): one
//! could switch back and hide another's change. Their plain reads of the list are not sent on
//! their own: the reading after them all stands for each (on a correct target it answers what
//! each would), so the group costs its requests, `concurrency²` at a time, and one read.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::batch::{Reading, agree, read};
use super::case::{Begun, CaseDone, CaseJob, Executed, conclude, execute};
use super::discovery::current_default;
use super::session::Session;
use super::steps::{self, Sending};
use crate::api::Credential;
use crate::case::Invariants;
use crate::record::ExchangeRecord;

/// The context of the group's reads before and after.
const CHECK: &str = "the cases that only refuse, run together (check)";
/// The context of the switches that put the accounts back before the cases run again one at a
/// time.
const PUT_BACK: &str = "put back after the cases that only refuse";

/// A reading of the account, when there is one nothing was sent after.
pub(super) type Fresh = Option<Vec<Arc<ExchangeRecord>>>;

/// Runs the cases together (`Phase::Together`): from `incoming` (or a read of both lists), every
/// request of theirs but the plain reads at once, `concurrency²` in flight; then
/// both lists read
/// once, which every plain read of theirs takes. Returns their results and the reading the
/// phase ended with.
pub(super) async fn run(
    session: &Arc<Session>,
    jobs: Vec<CaseJob>,
    invariants: &Arc<Invariants>,
    incoming: Fresh,
) -> (Concluded, Fresh) {
    let before = match incoming {
        Some(records) => Reading::of(records),
        None => read(session, CHECK).await,
    };
    let Some(base) = before.accounts else {
        // The account cannot be read: no check is possible, so one at a time.
        let (done, fresh) = one_at_a_time(session, jobs, invariants, None).await;
        return (Concluded::Done(done), fresh);
    };
    // As many in flight as `concurrency` cases of `concurrency` requests each: what the cases
    // could have in flight run side by side (one at a time with `--test-threads 1`).
    let concurrency = session.target.concurrency.max(1);
    let pool = Arc::new(Semaphore::new(concurrency.saturating_mul(concurrency)));
    let begun: Vec<Begun> = jobs.iter().map(|job| Begun::now(session, job)).collect();
    let sent = futures_util::future::join_all(
        jobs.iter()
            .map(|job| steps::send_together(session, &job.case, &pool)),
    )
    .await;
    let after = read(session, CHECK).await;
    let mut ran: Vec<(CaseJob, Executed)> = Vec::with_capacity(jobs.len());
    for ((job, steps), begun) in jobs.into_iter().zip(sent).zip(begun) {
        let sending = Sending::Sent {
            steps,
            reading: after.records.clone(),
        };
        let executed = execute(session, &job, false, sending, begun).await;
        ran.push((job, executed));
    }
    let unchanged = after.accounts.as_ref() == Some(&base)
        && ran
            .iter()
            .all(|(_, executed)| agree(&executed.case_run.reads, &base));
    // A run that stopped keeps what it has: nothing is sent again.
    if unchanged || session.stop_reason().is_some() {
        let fresh = (unchanged && session.stop_reason().is_none()).then(|| after.records.clone());
        // Their invariants are judged beside the next phase: judging needs no request, and the
        // chain need not wait for it.
        let (session, invariants, stopped) =
            (session.clone(), invariants.clone(), session.stop_reason());
        let concluding = tokio::task::spawn_blocking(move || {
            ran.into_iter()
                .map(|(job, mut executed)| {
                    // The read after them stands for each case's guard read.
                    for record in &after.records {
                        if !executed.lists.iter().any(|l| Arc::ptr_eq(l, record)) {
                            executed.lists.push(record.clone());
                        }
                    }
                    let done = conclude(&session, &job, executed, &invariants, stopped.clone());
                    (job, done)
                })
                .collect()
        });
        return (Concluded::Later(concluding), fresh);
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
    if let Some(note) = super::restore::put_back_other(session, PUT_BACK, other.map(|r| &**r)).await
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
    let (done, fresh) = one_at_a_time(session, jobs, invariants, None).await;
    (Concluded::Done(done), fresh)
}

/// The results of a phase's cases: ready, or still being judged.
pub(super) enum Concluded {
    Done(Vec<(CaseJob, CaseDone)>),
    Later(tokio::task::JoinHandle<Vec<(CaseJob, CaseDone)>>),
}

impl Concluded {
    pub(super) async fn wait(self) -> Result<Vec<(CaseJob, CaseDone)>, tokio::task::JoinError> {
        match self {
            Concluded::Done(done) => Ok(done),
            Concluded::Later(handle) => handle.await,
        }
    }
}

/// The cases in turn, each followed by its restore guard when it may change the account — as
/// every case runs that does not go with others. Each takes the reading the one before ended
/// with (`incoming`, which the caller found usable, for the first); returns the reading the last
/// ended with.
pub(super) async fn one_at_a_time(
    session: &Arc<Session>,
    jobs: Vec<CaseJob>,
    invariants: &Invariants,
    incoming: Fresh,
) -> (Vec<(CaseJob, CaseDone)>, Fresh) {
    let mut out = Vec::with_capacity(jobs.len());
    let mut incoming = incoming;
    let mut fresh = None;
    for job in jobs {
        let begun = Begun::now(session, &job);
        let incoming = incoming
            .take()
            .or_else(|| super::batch::usable(session, fresh.take()));
        let executed = execute(session, &job, true, Sending::InOrder { incoming }, begun).await;
        fresh = executed.reading.clone();
        let done = conclude(session, &job, executed, invariants, session.stop_reason());
        out.push((job, done));
    }
    (out, super::batch::usable(session, fresh))
}
