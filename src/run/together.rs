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

use super::batch::Checked;
use super::batch::{Reading, agree, read};
use super::case::{Begun, CaseDone, CaseJob, Executed, conclude, execute};
use super::discovery::current_default;
use super::send::{StepSend, Variation, send, send_limited};
use super::session::Session;
use super::steps::{self, Sending};
use crate::api::Credential;
use crate::case::{Case, Invariants, Var};
use crate::record::ExchangeRecord;

/// The context of the group's reads before and after.
const CHECK: &str = "the cases that only refuse, run together (check)";
/// The context of the switches that put the accounts back before the cases run again one at a
/// time.
const PUT_BACK: &str = "put back after the cases that only refuse";

/// A reading of the account, when there is one nothing was sent after.
pub(super) type Fresh = Option<Vec<Arc<ExchangeRecord>>>;

/// Runs the cases together (`Phase::Together`): from `incoming` (or a read of both lists), their
/// probes built from the original default's id first ([`send_leads`]), then every other request
/// of theirs but the plain reads at once, `concurrency²` in flight; then both lists read once,
/// which every plain read of theirs takes. Returns their results and the reading the phase ended
/// with.
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
    let (given, lead_reads) = send_leads(session, &jobs).await;
    let sent = futures_util::future::join_all(
        jobs.iter()
            .zip(&given)
            .map(|(job, given)| send_together(session, &job.case, &pool, given)),
    )
    .await;
    let after = read(session, CHECK).await;
    let mut ran: Vec<(CaseJob, Executed)> = Vec::with_capacity(jobs.len());
    for (((job, steps), begun), lead_reads) in jobs.into_iter().zip(sent).zip(begun).zip(lead_reads)
    {
        let sending = Sending::Sent {
            steps,
            reading: after.records.clone(),
        };
        let mut executed = execute(session, &job, false, sending, begun).await;
        executed.lists.extend(lead_reads.iter().cloned());
        executed.case_run.reads.extend(lead_reads);
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

/// Sends the probes built from the original default's id (`steps::leads`) before anything else
/// of the cases together, one at a time, both lists read after each but the last: such a probe
/// could switch back to the original default and hide another's change, so none is sent after
/// a request it could hide — and nothing sent after the last can switch back, so the reading
/// after all the cases checks it. Returns, for each case, its probes' answers and the reads.
async fn send_leads(
    session: &Arc<Session>,
    jobs: &[CaseJob],
) -> (Vec<Given>, Vec<Vec<Arc<ExchangeRecord>>>) {
    let vars = session.vars().cloned().unwrap_or_default();
    let leads: Vec<(usize, usize, usize, Variation)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(ji, job)| {
            leads(session, &job.case)
                .into_iter()
                .map(move |(si, vi, v)| (ji, si, vi, v))
        })
        .collect();
    let mut given = vec![Vec::new(); jobs.len()];
    let mut reads = vec![Vec::new(); jobs.len()];
    let last = leads.len().saturating_sub(1);
    for (k, (ji, si, vi, variation)) in leads.into_iter().enumerate() {
        let step = &jobs[ji].case.steps[si];
        let context = super::session::step_context(&jobs[ji].case.id, &step.name);
        if let Ok(record) = send(session, step, &vars, context.clone(), Some(&variation)).await {
            given[ji].push((si, vi, record));
        }
        if k < last {
            reads[ji].extend(
                read(session, &format!("{context} (batch check)"))
                    .await
                    .records,
            );
        }
    }
    (given, reads)
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

/// Requests sent already, before the others of their step: (step, place among the step's
/// variations, answer).
pub(super) type Given = Vec<(usize, usize, Arc<ExchangeRecord>)>;

/// The probes of a case's checked batches that are built from the original default's id (each
/// checked alone: `Step::check_groups`): (step, place among the step's variations, probe). With
/// the cases together they go first, one at a time (see `together`).
pub(super) fn leads(session: &Session, case: &Case) -> Vec<(usize, usize, Variation)> {
    let vars = session.vars().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (si, step) in case.steps.iter().enumerate() {
        if !step.is_batch(case.state) {
            continue;
        }
        let Ok(Some(all)) = steps::variations(session, step, &vars) else {
            continue;
        };
        out.extend(all.into_iter().enumerate().filter_map(|(vi, v)| {
            v.probe
                .as_ref()
                .is_some_and(|p| step.probes_use(p.generator, Var::OriginalProfileId))
                .then_some((si, vi, v))
        }));
    }
    out
}

/// Sends every step of a case that goes with others, except its plain reads and the requests
/// `given` already, all at once: each request takes a slot of `pool` (shared by the cases
/// together), and no step checks the account itself — the reading after the cases does. Each
/// step's answers, in order, or why it could not be sent.
pub(super) async fn send_together(
    session: &Arc<Session>,
    case: &Arc<Case>,
    pool: &Arc<tokio::sync::Semaphore>,
    given: &Given,
) -> Vec<Option<Result<Checked, String>>> {
    let vars = session.vars().cloned().unwrap_or_default();
    let sends = case.steps.iter().enumerate().map(|(si, step)| {
        let on = StepSend {
            session: session.clone(),
            case: case.clone(),
            si,
            vars: vars.clone(),
            context: super::session::step_context(&case.id, &step.name),
            prior: None,
            pool: Some(pool.clone()),
        };
        async move {
            if step.is_plain_read() {
                return None;
            }
            Some(match steps::variations(&on.session, step, &on.vars) {
                Ok(None) => {
                    let _slot = pool.acquire().await;
                    send(&on.session, step, &on.vars, on.context.clone(), None)
                        .await
                        .map(|record| Checked::unchecked(vec![(None, record)]))
                }
                Ok(Some(variations)) => {
                    let given_at = |vi: usize| {
                        given
                            .iter()
                            .find(|(s, v, _)| *s == si && *v == vi)
                            .map(|(_, _, r)| r.clone())
                    };
                    let rest: Vec<Variation> = (0..variations.len())
                        .filter(|&vi| given_at(vi).is_none())
                        .map(|vi| variations[vi].clone())
                        .collect();
                    let all = rest.len().max(1);
                    send_limited(&on, rest, all).await.map(|sent| {
                        // In the step's order: the given answers where their probes are.
                        let mut sent = sent.into_iter();
                        let answers = variations
                            .into_iter()
                            .enumerate()
                            .filter_map(|(vi, v)| match given_at(vi) {
                                Some(record) => Some((Some(v), record)),
                                None => sent.next(),
                            })
                            .collect();
                        Checked::unchecked(answers)
                    })
                }
                Err(why) => Err(why),
            })
        }
    });
    futures_util::future::join_all(sends).await
}
