//! Running a plan against a target: discovery of fixtures, the cases (concurrently, with the
//! account's state guarded), and the final restore. Never returns `Err`: every problem becomes a
//! verdict, or — when the target cannot be used at all — the report's `unusable` reason.
//!
//! Scheduling: all cases are spawned at once on the runtime, bounded by `concurrency`. A case that
//! changes the default profile holds the state lock exclusively; a case that reads it holds it
//! shared; other cases take no lock. After a state-changing case the runner puts the original
//! default back (a guard), so every case starts from the state the run found.
//!
//! Stopping: when the run is interrupted (the `stop` signal) or its deadline passes, requests in
//! flight are abandoned, later steps are `NotRun`, and the restore still runs — restores are never
//! stopped, only bounded by the request timeout.

mod discovery;
mod restore;
mod session;
mod steps;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::{RwLock, Semaphore, watch};

use crate::case::{Case, Credential, Fixture, StateUse, Var};
use crate::check::{Finding, Verdict};
use crate::http::{Exchange, HttpClient};
use crate::plan::{Plan, TrialKind};
use crate::snapshot::{self, Comparison, SnapshotStore};

use session::Session;

pub const PROFILES_PATH: &str = "/api/public/coworkers/profiles";
pub const SWITCH_PATH: &str = "/api/public/coworkers/profiles/current";

/// The secrets and ids a run is given.
#[derive(Clone, Default)]
pub struct Credentials {
    pub primary: Option<SecretString>,
    pub foreign: Option<SecretString>,
    pub expired: Option<SecretString>,
    pub foreign_profile_id: Option<i64>,
    pub unknown_profile_id: Option<i64>,
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
        }
    }
}

/// One exchange as a trial shows it.
#[derive(Debug, Clone)]
pub struct ExchangeRecord {
    /// `case/step`, or `discovery`/`restore`.
    pub context: String,
    pub credential: Credential,
    pub exchange: Exchange,
}

/// The result of one trial that executed.
#[derive(Debug, Clone)]
pub struct TrialResult {
    pub verdict: Verdict,
    pub exchange: Option<Arc<ExchangeRecord>>,
    pub duration: Duration,
}

impl TrialResult {
    fn bare(verdict: Verdict) -> TrialResult {
        TrialResult {
            verdict,
            exchange: None,
            duration: Duration::ZERO,
        }
    }
}

/// What a run found: one optional result per trial of the plan (same order).
#[derive(Debug, Clone)]
pub struct RunReport {
    pub base_url: String,
    pub results: Vec<Option<TrialResult>>,
    /// Set when the target could not be used; no case ran.
    pub unusable: Option<String>,
    /// Set when the run stopped early: interrupted, or past its deadline.
    pub stopped: Option<String>,
    /// Whether the stop was an interruption (exit code 130) rather than the deadline.
    pub interrupted: bool,
    /// The discovered fixtures, for the preamble.
    pub fixtures: BTreeMap<String, String>,
    /// Every exchange of the run, for redaction (bodies may echo tokens) and counting.
    pub exchanges: Vec<Arc<ExchangeRecord>>,
    /// The normalised responses of each case whose snapshot trial ran, for writing `.snap.new`.
    pub snapshots: Vec<SnapshotRecord>,
    pub elapsed: Duration,
}

/// A case's normalised responses and how they compare with the stored snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotRecord {
    /// Index into the plan's cases.
    pub case: usize,
    pub text: String,
    pub comparison: Comparison,
}

/// Runs the plan. Nothing is sent when nothing is selected. `snapshots` holds the stored
/// snapshots that `case::snapshot` trials compare with.
pub async fn run(plan: &Plan, target: Target, snapshots: Option<&SnapshotStore>) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport {
        base_url: target.base_url.clone(),
        results: vec![None; plan.trials.len()],
        unusable: None,
        stopped: None,
        interrupted: false,
        fixtures: BTreeMap::new(),
        exchanges: Vec::new(),
        snapshots: Vec::new(),
        elapsed: Duration::ZERO,
    };
    if !plan.needs_target() {
        return report;
    }
    let session = Arc::new(Session::new(target));
    let discovery = match discovery::discover(&session).await {
        Ok(d) => d,
        Err(reason) => {
            report.unusable = Some(session.stop_reason().unwrap_or(reason));
            report.interrupted = session.interrupted();
            report.exchanges = session.take_exchanges();
            report.elapsed = started.elapsed();
            return report;
        }
    };
    report.fixtures = discovery.describe();
    session.set_vars(discovery.vars.clone(), discovery.sweep_ids.clone());
    if let Some(original) = restore::original_id(&session) {
        let _ = session
            .target
            .restore_hint
            .set(restore::manual_command(&session, original));
    }

    let index = plan.trial_index();
    let state_lock = Arc::new(RwLock::new(()));
    let permits = Arc::new(Semaphore::new(session.target.concurrency.max(1)));
    let mut tasks = Vec::new();
    let mut changed_state = false;
    for &ci in &plan.run_cases {
        let case = plan.cases[ci].clone();
        let trial_ids = selected_trials(plan, ci, &index);
        let snapshot_trial = index
            .get(&TrialKind::Snapshot { case: ci })
            .copied()
            .filter(|ti| plan.trials[*ti].selected);
        if let Some(reason) = missing_fixture(&case, &discovery.missing) {
            for ti in trial_ids.iter().map(|(_, _, ti)| *ti).chain(snapshot_trial) {
                report.results[ti] = Some(TrialResult::bare(Verdict::Skipped(reason.clone())));
            }
            continue;
        }
        changed_state |= case.state == StateUse::Changes;
        let session = session.clone();
        let state_lock = state_lock.clone();
        let permits = permits.clone();
        let handle = tokio::spawn(async move {
            let _state = match case.state {
                StateUse::Changes => Lock::Write(state_lock.write_owned().await),
                StateUse::Reads => Lock::Read(state_lock.read_owned().await),
                StateUse::None => Lock::None,
            };
            let _permit = permits.acquire_owned().await;
            let case_run = steps::run_case(&session, &case).await;
            if case.state == StateUse::Changes {
                let last = case_run.exchanges.last().and_then(Option::as_deref);
                restore::guard(&session, &case.id, last).await;
            }
            case_run
        });
        tasks.push((ci, trial_ids, snapshot_trial, handle));
    }
    for (ci, trial_ids, snapshot_trial, handle) in tasks {
        match handle.await {
            Ok(case_run) => {
                for (si, ri, ti) in trial_ids {
                    report.results[ti] = case_run.verdicts.get(&(si, ri)).cloned();
                }
                if let Some(ti) = snapshot_trial {
                    let (result, record) =
                        snapshot_verdict(&session, plan, ci, &case_run.exchanges, snapshots);
                    report.results[ti] = Some(result);
                    report.snapshots.extend(record);
                }
            }
            Err(e) => {
                for ti in trial_ids.iter().map(|(_, _, ti)| *ti).chain(snapshot_trial) {
                    report.results[ti] = Some(TrialResult::bare(Verdict::Broken(format!(
                        "harness error while running this case: {e}"
                    ))));
                }
            }
        }
    }
    report.stopped = session.stop_reason();
    report.interrupted = session.interrupted();
    let restore = restore::at_end(&session, changed_state).await;
    if let Some(ti) = index.get(&TrialKind::Restore)
        && plan.run_restore
    {
        report.results[*ti] = Some(restore);
    }
    report.exchanges = session.take_exchanges();
    report.elapsed = started.elapsed();
    report
}

/// Compares a case's responses with its stored snapshot.
fn snapshot_verdict(
    session: &Session,
    plan: &Plan,
    ci: usize,
    exchanges: &[Option<Arc<ExchangeRecord>>],
    store: Option<&SnapshotStore>,
) -> (TrialResult, Option<SnapshotRecord>) {
    if let Some(why) = session.stop_reason() {
        return (TrialResult::bare(Verdict::NotRun(why)), None);
    }
    let case = &plan.cases[ci];
    let vars = session.vars().cloned().unwrap_or_default();
    let records: Vec<Option<&ExchangeRecord>> = exchanges.iter().map(|e| e.as_deref()).collect();
    let text = snapshot::normalize_case(case, &records, &vars);
    let label = store.map_or("?", |s| s.label.as_str());
    let comparison = snapshot::compare(store.and_then(|s| s.stored(&case.id)), &text);
    let verdict = match &comparison {
        Comparison::Same => Verdict::Pass(None),
        Comparison::New => Verdict::Violation(Finding {
            expected: format!("a stored snapshot of this case's responses for target `{label}`"),
            actual: "none yet".into(),
            details: Vec::new(),
        }),
        Comparison::Drift {
            diff,
            new_fields,
            new_statuses,
        } => {
            let mut details = Vec::new();
            if !new_fields.is_empty() {
                details.push(format!(
                    "fields not in the stored snapshot: {}",
                    new_fields.join(", ")
                ));
            }
            if !new_statuses.is_empty() {
                details.push(format!(
                    "statuses not in the stored snapshot: {}",
                    new_statuses.join(", ")
                ));
            }
            details.extend(diff.lines().map(str::to_string));
            Verdict::Violation(Finding {
                expected: format!("responses shaped like the stored snapshot for target `{label}`"),
                actual: "they drifted".into(),
                details,
            })
        }
    };
    let duration = exchanges.iter().flatten().map(|e| e.exchange.elapsed).sum();
    let result = TrialResult {
        verdict,
        exchange: None,
        duration,
    };
    (
        result,
        Some(SnapshotRecord {
            case: ci,
            text,
            comparison,
        }),
    )
}

/// Holds the state lock for the life of a case.
enum Lock {
    Write(#[allow(dead_code)] tokio::sync::OwnedRwLockWriteGuard<()>),
    Read(#[allow(dead_code)] tokio::sync::OwnedRwLockReadGuard<()>),
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
