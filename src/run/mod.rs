//! Running a plan against a target: discovery of fixtures, the cases (concurrently, with the
//! account's state guarded), and the final restore. Never returns `Err`: every problem becomes an
//! observation on a trial, or — when the target cannot be used at all — the report's `unusable`
//! reason. What it observed is handed on as a [`RunReport`] (see `record`); judging it against
//! the policies of a run (deviations, snapshots) is `judge`'s work, not this module's.
//!
//! Scheduling: all cases are spawned at once on the runtime, bounded by `concurrency`. A case that
//! changes the default profile holds the state lock exclusively; a case that reads it holds it
//! shared; other cases take no lock. After a state-changing case the runner puts the original
//! default back (a guard), so every case starts from the state the run found.
//!
//! Stopping: when the run is interrupted (the `stop` signal) or its deadline passes, requests in
//! flight are abandoned, later steps are `NotRun`, and the restore still runs — restores are never
//! stopped, only bounded by the request timeout.
//!
//! Events: while it runs, the runner tells a [`RunObserver`] what it does (cases started and
//! finished, requests sent and answered, restores), as nextest's runner does for its reporters.

mod account;
mod batch;
mod discovery;
mod invariants;
mod restore;
mod session;
mod steps;
mod together;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::{RwLock, Semaphore, watch};

use crate::case::{Case, Fixture, Level, StateUse, Var};
use crate::check::Verdict;
use crate::http::HttpClient;
use crate::plan::{Plan, ProbeChecks, TrialKind};
use crate::record::{CaseRecord, ExchangeRecord, Observed, RunReport, TrialRecord};

use session::Session;

/// The secrets and ids a run is given.
#[derive(Clone, Default)]
pub struct Credentials {
    pub primary: Option<SecretString>,
    pub foreign: Option<SecretString>,
    pub expired: Option<SecretString>,
    pub foreign_profile_id: Option<i64>,
    pub unknown_profile_id: Option<i64>,
}

impl Credentials {
    /// The tokens of an embedded reference server (every fixture it has).
    pub fn of_reference_server(c: &crate::server::Credentials) -> Credentials {
        Credentials {
            primary: Some(c.primary_token.clone().into()),
            foreign: Some(c.foreign_token.clone().into()),
            expired: Some(c.expired_token.clone().into()),
            foreign_profile_id: None,
            unknown_profile_id: None,
        }
    }
}

impl Credentials {
    /// Every bearer token of the run and the ones the probes derive from them.
    fn tokens(&self) -> Vec<String> {
        use secrecy::ExposeSecret;
        [&self.primary, &self.foreign, &self.expired]
            .into_iter()
            .flatten()
            .flat_map(|t| {
                let t = t.expose_secret();
                std::iter::once(t.to_string())
                    .chain(crate::api::TokenVariant::ALL.map(|v| v.derive(t)))
            })
            .collect()
    }
}

/// Where and how to run.
pub struct Target {
    pub client: HttpClient,
    /// The base URL as given (never holds credentials).
    pub base_url: String,
    pub credentials: Credentials,
    /// Cases in flight at once.
    pub concurrency: usize,
    /// Becomes `true` when the run must stop (Ctrl-C); the restore still runs.
    pub stop: watch::Receiver<bool>,
    /// When the run must stop sending case requests (`--deadline`).
    pub deadline: Option<Instant>,
    /// Filled after discovery with the command that restores the original default by hand, for
    /// messages printed while the run is still going (a second Ctrl-C).
    pub restore_hint: Arc<OnceLock<String>>,
    /// How many requests a sweep step sends (`--sweep-size`).
    pub sweep_size: usize,
    /// How probes that may change the account are checked (`--check-each-probe`).
    pub probe_checks: ProbeChecks,
    /// Told what the run does while it runs (progress); the report does not depend on it.
    pub observer: Arc<dyn RunObserver>,
    /// Where the original default is recorded while the account may be switched.
    pub journal: Option<Arc<dyn Journal>>,
}

/// Something the runner did, as it happens. Borrowed, so that emitting one costs nothing when
/// no one shows progress (a sweep sends thousands of requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent<'a> {
    /// Discovery is done: what it found (fixture → value, or why it is missing), and how many
    /// cases will run.
    Started {
        fixtures: &'a BTreeMap<String, String>,
        cases: usize,
    },
    CaseStarted {
        case: &'a str,
    },
    /// A request is about to be sent (after its pacing slot).
    RequestSent {
        context: &'a str,
        method: &'static str,
        path: &'a str,
    },
    /// A request's outcome: the status, or why there is none; `retries` throttled answers were
    /// waited out first.
    Answered {
        context: &'a str,
        status: Option<u16>,
        elapsed: Duration,
        retries: u32,
    },
    /// A case is done: how many of its selected trials failed, of how many judged.
    CaseFinished {
        case: &'a str,
        judged: usize,
        failed: usize,
        requests: usize,
        duration: Duration,
    },
    /// A case was not run: a fixture is missing.
    CaseSkipped {
        case: &'a str,
        reason: &'a str,
    },
    /// An earlier run's record was found and its original default put back before this run.
    Recovered {
        original: i64,
    },
    /// The final restore began.
    Restoring,
    Finished {
        elapsed: Duration,
    },
}

/// Receives [`RunEvent`]s; called from the runtime's worker threads, so it must be quick.
pub trait RunObserver: Send + Sync {
    fn on_event(&self, event: &RunEvent<'_>);
}

/// Where the account's original default is recorded while a run may have it switched, so that a
/// run killed before its restore (SIGKILL, a lost machine) is put right by the next one.
pub trait Journal: Send + Sync {
    /// The original default an earlier, unfinished run recorded for this user.
    fn recorded(&self, user: i64) -> Option<i64>;
    /// Records the original default before the first state change.
    ///
    /// # Errors
    /// When it cannot be written (the run then changes nothing).
    fn begin(&self, user: i64, original: i64) -> Result<(), String>;
    /// Forgets it, once the final restore is verified.
    fn end(&self, user: i64);
}

/// An observer that ignores everything.
pub struct Silent;

impl RunObserver for Silent {
    fn on_event(&self, _: &RunEvent<'_>) {}
}

/// `--sweep-size` unless given: small, so a real deployment sees few requests.
pub const DEFAULT_SWEEP_SIZE: usize = 10;

impl Target {
    /// A target with no stop signal, no deadline and no restore hint.
    pub fn new(
        client: HttpClient,
        base_url: String,
        credentials: Credentials,
        concurrency: usize,
    ) -> Target {
        // The sender is dropped at once; a closed channel never reads as "stop".
        let (_, stop) = watch::channel(false);
        Target {
            client,
            base_url,
            credentials,
            concurrency,
            stop,
            deadline: None,
            restore_hint: Arc::default(),
            sweep_size: DEFAULT_SWEEP_SIZE,
            probe_checks: ProbeChecks::default(),
            observer: Arc::new(Silent),
            journal: None,
        }
    }
}

/// Runs the plan. Nothing is sent when nothing is selected.
pub async fn run(plan: &Plan, target: Target) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport {
        base_url: target.base_url.clone(),
        results: vec![None; plan.trials.len()],
        ..RunReport::default()
    };
    if !plan.needs_target() {
        return report;
    }
    let session = Arc::new(Session::new(target));
    let mut discovery = match discovery::discover(&session).await {
        Ok(d) => d,
        Err(reason) => {
            report.unusable = Some(session.stop_reason().unwrap_or(reason));
            report.interrupted = session.interrupted();
            report.exchanges = session.take_exchanges();
            report.elapsed = started.elapsed();
            return report;
        }
    };
    // An earlier run that was killed before its restore left a record: put that default back
    // first, then read the account again.
    let journal = session.target.journal.clone();
    let recovered = match (&journal, discovery.user) {
        (Some(j), Some(user)) => j.recorded(user).filter(|recorded| {
            discovery
                .vars
                .get(Var::OriginalProfileId)
                .and_then(serde_json::Value::as_i64)
                != Some(*recorded)
        }),
        _ => None,
    };
    if let Some(recorded) = recovered {
        let switched = session
            .switch_to("restore left by an earlier run", recorded)
            .await;
        let ok = switched
            .exchange
            .outcome
            .as_ref()
            .is_ok_and(|r| (200..300).contains(&r.status));
        let again = if ok {
            discovery::discover(&session).await.ok()
        } else {
            None
        };
        match again {
            Some(d) => {
                session.event(RunEvent::Recovered { original: recorded });
                discovery = d;
            }
            None => {
                report.unusable = Some(format!(
                    "an earlier run against this target was stopped before it restored the account, \
                     whose default was {recorded}; putting it back failed; restore it by hand: {}",
                    crate::record::curl_for(&switched)
                ));
                report.exchanges = session.take_exchanges();
                report.elapsed = started.elapsed();
                return report;
            }
        }
    }
    report.fixtures = discovery.describe();
    let mut vars = discovery.vars.clone();
    vars.set(
        Var::Tokens,
        serde_json::Value::from(session.target.credentials.tokens()),
    );
    report.vars = discovery.vars.clone();
    session.set_vars(
        vars,
        discovery.sweep_ids.clone(),
        account::Accounts::from_lists(&discovery.lists),
    );
    if let Some(original) = restore::original_id(&session) {
        let _ = session
            .target
            .restore_hint
            .set(restore::manual_command(&session, original));
    }

    let changes_state = plan
        .run_cases
        .iter()
        .any(|&ci| plan.cases[ci].state.may_change());
    let original = discovery
        .vars
        .get(Var::OriginalProfileId)
        .and_then(serde_json::Value::as_i64);
    if let (Some(j), Some(user), Some(original), true) =
        (&journal, discovery.user, original, changes_state)
        && let Err(why) = j.begin(user, original)
    {
        report.unusable = Some(format!(
            "cannot record the original default before changing the account ({why}); \
             pass --journal PATH to a writable file"
        ));
        report.exchanges = session.take_exchanges();
        report.elapsed = started.elapsed();
        return report;
    }
    let index = plan.trial_index();
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
            trial_ids: selected_trials(plan, ci, &index),
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
                    file(&mut report, &job, done);
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
    report.stopped = session.stop_reason();
    report.interrupted = session.interrupted();
    session.event(RunEvent::Restoring);
    let restore = restore::at_end(&session, changed_state).await;
    if let (Some(j), Some(user)) = (&journal, discovery.user)
        && matches!(restore.observed, Observed::Judged(Verdict::Pass(_)))
    {
        j.end(user);
    }
    if let Some(ti) = index.get(&TrialKind::Restore)
        && plan.run_restore
    {
        report.results[*ti] = Some(restore);
    }
    report.exchanges = session.take_exchanges();
    report.slowed_to = session.target.client.slowed_to();
    judge_run_requests(plan, &index, &session, &mut report);
    report.elapsed = started.elapsed();
    session.event(RunEvent::Finished {
        elapsed: report.elapsed,
    });
    report
}

/// Judges the run's own requests — discovery, the checks of the cases run together, the
/// put-backs, the final restore — by the invariants, as the `run::` trials.
fn judge_run_requests(
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
struct CaseJob {
    ci: usize,
    case: Arc<Case>,
    /// (step, rule, trial index) of each selected rule trial.
    trial_ids: Vec<(usize, usize, usize)>,
    snapshot_trial: Option<usize>,
    invariant_trials: Vec<(Level, usize)>,
}

impl CaseJob {
    fn all_trials(&self) -> Vec<usize> {
        self.trial_ids
            .iter()
            .map(|(_, _, ti)| *ti)
            .chain(self.snapshot_trial)
            .chain(self.invariant_trials.iter().map(|(_, ti)| *ti))
            .collect()
    }
}

/// A case run, before its invariants are judged.
struct Executed {
    case_run: steps::CaseRun,
    /// The profile lists the invariants judge: the case's own reads, the lists after a change
    /// its probes made, and the guard's read.
    lists: Vec<Arc<ExchangeRecord>>,
    /// The session's exchange count when the case began (its exchanges come after).
    since: usize,
    duration: Duration,
}

/// A case's results.
struct CaseDone {
    case_run: steps::CaseRun,
    stopped: Option<String>,
    duration: Duration,
    invariant_records: Vec<TrialRecord>,
}

/// Runs a case's steps; with `guard`, a case that may change the account is followed by the
/// restore guard (the cases that go together are checked as a group instead).
async fn execute(session: &Arc<Session>, job: &CaseJob, guard: bool) -> Executed {
    let started = Instant::now();
    let since = session.exchange_count();
    session.event(RunEvent::CaseStarted { case: &job.case.id });
    let case_run = steps::run_case(session, &job.case).await;
    let mut lists: Vec<Arc<ExchangeRecord>> = case_run
        .exchanges
        .iter()
        .flatten()
        .filter(|r| r.exchange.method == "GET" && r.path == crate::api::PROFILES_PATH)
        .chain(&case_run.changed_lists)
        .chain(&case_run.other_reads)
        .cloned()
        .collect();
    if guard && job.case.state.may_change() {
        let last = case_run.exchanges.last().and_then(Option::as_deref);
        lists.extend(restore::guard(session, &job.case.id, last).await);
    }
    Executed {
        case_run,
        lists,
        since,
        duration: started.elapsed(),
    }
}

/// Judges a run case's invariants on its lists and says it finished.
fn conclude(
    session: &Session,
    job: &CaseJob,
    executed: Executed,
    invariants: &crate::case::Invariants,
) -> CaseDone {
    let Executed {
        case_run,
        lists,
        since,
        duration,
    } = executed;
    let vars = session.vars().cloned().unwrap_or_default();
    let responses = session.exchanges_of(&job.case.id, since);
    let bind = |vars: &crate::case::Vars, record: &ExchangeRecord| session.bind(vars, record);
    let invariant_records: Vec<TrialRecord> = job
        .invariant_trials
        .iter()
        .map(|&(level, _)| match session.stop_reason() {
            Some(why) if lists.is_empty() && responses.is_empty() => {
                TrialRecord::bare(Observed::NotRun(why))
            }
            _ => invariants::judge(invariants, level, &lists, &responses, &vars, &bind),
        })
        .collect();
    let judged: Vec<&TrialRecord> = job
        .trial_ids
        .iter()
        .filter_map(|&(si, ri, _)| case_run.verdicts.get(&(si, ri)))
        .chain(&invariant_records)
        .collect();
    session.event(RunEvent::CaseFinished {
        case: &job.case.id,
        judged: judged.len(),
        failed: judged
            .iter()
            .filter(|r| !matches!(r.observed, Observed::Judged(Verdict::Pass(_))))
            .count(),
        requests: case_run.requests,
        duration,
    });
    CaseDone {
        case_run,
        stopped: session.stop_reason(),
        duration,
        invariant_records,
    }
}

/// Files a case's results into the report.
fn file(report: &mut RunReport, job: &CaseJob, done: CaseDone) {
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

/// Holds the state lock for the life of a case.
enum Lock {
    Write(#[expect(dead_code, reason = "held, never read")] tokio::sync::OwnedRwLockWriteGuard<()>),
    Read(#[expect(dead_code, reason = "held, never read")] tokio::sync::OwnedRwLockReadGuard<()>),
    None,
}

/// (step, rule, trial index) of each selected trial of case `ci`.
fn selected_trials(
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

/// Shown for each discovered variable, or why it is missing.
fn describe_var(var: Var, vars: &crate::case::Vars, missing: &BTreeMap<Fixture, String>) -> String {
    match vars.get(var) {
        Some(v) => v.to_string(),
        None => format!(
            "missing ({})",
            missing
                .get(&Fixture::Profile(var))
                .map(String::as_str)
                .unwrap_or("unknown")
        ),
    }
}
