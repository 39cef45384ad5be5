//! Running a plan against a target: discovery of fixtures, the cases (concurrently, with the
//! account's state guarded), and the final restore. Never returns `Err`: every problem becomes an
//! observation on a trial, or — when the target cannot be used at all — the report's `unusable`
//! reason. What it observed is handed on as a [`RunReport`] (see `record`); judging it against
//! the policies of a run (deviations, snapshots) is `judge`'s work, not this module's.
//!
//! Scheduling: the runner executes the plan's `Schedule` (see `schedule`): the cases that neither
//! read nor change the account beside everything, `concurrency` at a time; the readers; then the
//! phases that may change the account, one after another, each taking the reading the one before
//! ended with. After a state-changing case the runner puts the original default back (a guard),
//! so every case starts from the state the run found.
//!
//! Stopping: when the run is interrupted (the `stop` signal) or its deadline passes, requests in
//! flight are abandoned, later steps are `NotRun`, and the restore still runs — restores are never
//! stopped, only bounded by the request timeout.
//!
//! Events: while it runs, the runner tells a [`RunObserver`] what it does (cases started and
//! finished, requests sent and answered, restores), as nextest's runner does for its reporters.

mod account;
mod batch;
mod case;
mod discovery;
mod invariants;
mod lock;
mod restore;
mod schedule;
mod send;
mod session;
mod steps;
mod together;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::watch;

use crate::case::{Fixture, Var};
use crate::check::Verdict;
use crate::http::HttpClient;
use crate::plan::{Plan, ProbeChecks, TrialKind};
use crate::record::{Observed, RunReport};

use case::judge_run_requests;

use discovery::Discovery;
use session::Session;

/// The secrets and ids a run is given.
#[derive(Clone, Default)]
pub struct Credentials {
    pub primary: Option<SecretString>,
    pub foreign: Option<SecretString>,
    pub expired: Option<SecretString>,
    pub foreign_profile_id: Option<i64>,
    pub unknown_profile_id: Option<i64>,
    /// How the primary token was given, for what a 401 tells the user to renew: `--token`
    /// (the default), `the NEXUDUS_TOKEN environment variable`, a sign-in.
    pub primary_given_as: Option<String>,
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
            primary_given_as: None,
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
    /// Where the original default is recorded while the account may be switched; also the
    /// lock that keeps two runs on this machine off one account at a time.
    pub journal: Option<Arc<dyn Journal>>,
    /// How long to wait for another run on this machine to release the account.
    pub lock_wait: Duration,
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
    /// Another run on this machine holds the account; this one waits for it.
    WaitingForLock {
        holder: &'a str,
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
    /// Takes this user's lock for the run: `Ok(None)` when taken, `Ok(Some(holder))` when a
    /// live run holds it (a dead holder's lock is taken over).
    ///
    /// # Errors
    /// When the lock cannot be written.
    fn try_lock(&self, user: i64) -> Result<Option<String>, String>;
    /// Releases it.
    fn unlock(&self, user: i64);
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
            lock_wait: Duration::ZERO,
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
    let locked = std::sync::Mutex::new(None);
    let pipeline = async {
        let found = discovery::discover(&session)
            .await
            .map_err(|reason| session.stop_reason().unwrap_or(reason))?;
        let found = lock::account(&session, found, &locked).await?;
        let discovery = recover(&session, found).await?;
        let index = plan.trial_index();
        if let Some(why) = begin(plan, &session, &discovery, &mut report)? {
            // Nothing was written: only discovery's reads are judged.
            report.incomplete = Some(why);
            return Ok::<_, String>(index);
        }
        let ran = schedule::run(plan, &session, &discovery, &index, &mut report).await;
        restore(plan, &session, &discovery, &index, ran, &mut report).await;
        Ok::<_, String>(index)
    };
    let outcome = pipeline.await;
    if let (Some(j), Some(user)) = (&session.target.journal, locked.lock().ok().and_then(|l| *l)) {
        j.unlock(user);
    }
    match outcome {
        Ok(index) => {
            report.exchanges = session.take_exchanges();
            report.slowed_to = session.target.client.slowed_to();
            judge_run_requests(plan, &index, &session, &mut report);
        }
        Err(unusable) => {
            report.unusable = Some(unusable);
            report.interrupted = session.interrupted();
            report.exchanges = session.take_exchanges();
        }
    }
    report.elapsed = started.elapsed();
    if report.unusable.is_none() {
        session.event(RunEvent::Finished {
            elapsed: report.elapsed,
        });
    }
    report
}

/// An earlier run that was killed before its restore left a record: that default is put back
/// first, and the account read again. Without a record (or with one that is the default already)
/// discovery's reading stands.
async fn recover(session: &Session, discovery: Discovery) -> Result<Discovery, String> {
    let recovered = match (&session.target.journal, discovery.user) {
        (Some(j), Some(user)) => j.recorded(user).filter(|recorded| {
            discovery
                .vars
                .get(Var::OriginalProfileId)
                .and_then(serde_json::Value::as_i64)
                != Some(*recorded)
        }),
        _ => None,
    };
    let Some(recorded) = recovered else {
        return Ok(discovery);
    };
    let Some(switched) = restore::put_back(
        session,
        "restore left by an earlier run",
        crate::api::Credential::Primary,
        recorded,
        None,
    )
    .await
    else {
        return Ok(discovery);
    };
    let again = if switched.succeeded() {
        discovery::discover(session).await.ok()
    } else {
        None
    };
    match again {
        Some(d) => {
            session.event(RunEvent::Recovered { original: recorded });
            Ok(d)
        }
        None => Err(format!(
            "an earlier run against this target was stopped before it restored the account, \
             whose default was {recorded}; putting it back failed; restore it by hand: {}",
            crate::record::curl_for(&switched)
        )),
    }
}

/// Before the cases: the variables and the model they are judged with, the restore hint, and —
/// when a case may change the account — the journal's record of the original default.
fn begin(
    plan: &Plan,
    session: &Session,
    discovery: &Discovery,
    report: &mut RunReport,
) -> Result<Option<String>, String> {
    report.fixtures = discovery.describe();
    report.vars = discovery.vars.clone();
    let mut vars = discovery.vars.clone();
    vars.set(
        Var::Tokens,
        serde_json::Value::from(session.target.credentials.tokens()),
    );
    session.set_vars(
        vars,
        discovery.sweep_ids.clone(),
        account::Accounts::from_lists(&discovery.lists),
    );
    // What only discovery can know is found by its reads, before any write: a core case the
    // account cannot run leaves no conformance verdict to give.
    let missing: Vec<String> = plan
        .counted_core_cases()
        .into_iter()
        .filter(|_| !discovery.read_failed)
        .filter_map(|ci| {
            let case = &plan.cases[ci];
            let needs: Vec<String> = case
                .fixtures
                .iter()
                .filter_map(|f| {
                    discovery
                        .missing
                        .get(f)
                        .map(|why| format!("needs {f}: {why}"))
                })
                .collect();
            (!needs.is_empty()).then(|| format!("{} ({})", case.id, needs.join("; ")))
        })
        .collect();
    if !missing.is_empty() {
        return Ok(Some(format!(
            "the account cannot run the contract's core cases: {}; give the account what they \
             need, or leave them out (--skip CASE) to judge the rest",
            missing.join("; ")
        )));
    }
    let original = restore::original_id(session);
    if let Some(original) = original {
        let _ = session
            .target
            .restore_hint
            .set(restore::manual_command(session, original));
    }
    let changes_state = plan
        .run_cases
        .iter()
        .any(|&ci| plan.cases[ci].state.may_change());
    if let (Some(j), Some(user), Some(original), true) = (
        &session.target.journal,
        discovery.user,
        original,
        changes_state,
    ) && let Err(why) = j.begin(user, original)
    {
        return Err(format!(
            "cannot record the original default before changing the account ({why}); \
             pass --journal PATH to a writable file"
        ));
    }
    Ok(None)
}

/// After the cases: the end-of-run check and restore of both accounts, and the journal's
/// record forgotten once the original default is verified.
async fn restore(
    plan: &Plan,
    session: &Session,
    discovery: &Discovery,
    index: &HashMap<TrialKind, usize>,
    ran: schedule::Ran,
    report: &mut RunReport,
) {
    report.stopped = session.stop_reason();
    report.interrupted = session.interrupted();
    session.event(RunEvent::Restoring);
    let restore = restore::at_end(session, ran.changed_state, ran.reading).await;
    if let (Some(j), Some(user)) = (&session.target.journal, discovery.user)
        && matches!(restore.observed, Observed::Judged(Verdict::Pass(_)))
    {
        j.end(user);
    }
    if let Some(ti) = index.get(&TrialKind::Restore)
        && plan.run_restore
    {
        report.results[*ti] = Some(restore);
    }
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
