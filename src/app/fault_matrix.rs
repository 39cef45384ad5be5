//! Which faults of the reference server kill which trials: the evidence that every rule can fail.
//!
//! Computed, not declared: the suite is run in-process against one reference server per fault
//! (all at once, every trial selected, SHOULD rules included), and each failing trial is recorded.
//! `rules` prints the result; the integration tests hold the expected table as a model.

use std::collections::BTreeMap;

use crate::http::{HttpClient, HttpOptions};
use crate::judge::{self, Policy};
use crate::plan::Plan;
use crate::report::Kills;
use crate::run::{self, Credentials, Target};
use crate::server::{self, Fault, Faults, ServerOptions};

/// The trials each fault makes fail.
#[derive(Debug, Clone, Default)]
pub struct FaultMatrix {
    /// Fault → failing trial names (sorted).
    pub by_fault: BTreeMap<Fault, Vec<String>>,
    /// Fault → the invariant rules its failing invariants trials found breached.
    pub invariants_by_fault: BTreeMap<Fault, Vec<String>>,
    /// Faults whose run could not use the target at all, with the reason.
    pub unusable: BTreeMap<Fault, String>,
    /// Trials that fail against the faithful server (should be none).
    pub baseline: Vec<String>,
}

impl FaultMatrix {
    /// The matrix as `rules` prints it: trial name → the names of the faults that kill it.
    pub fn kills(&self) -> Kills {
        let mut by_trial: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for (fault, trials) in &self.by_fault {
            for t in trials {
                by_trial.entry(t.clone()).or_default().push(fault.name());
            }
        }
        let mut by_invariant: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for (fault, rules) in &self.invariants_by_fault {
            for r in rules {
                let killers = by_invariant.entry(r.clone()).or_default();
                if !killers.contains(&fault.name()) {
                    killers.push(fault.name());
                }
            }
        }
        Kills {
            by_trial,
            by_invariant,
            faults: self.by_fault.len() + self.unusable.len(),
            unusable: self
                .unusable
                .iter()
                .map(|(f, why)| (f.name(), why.clone()))
                .collect(),
            baseline: self.baseline.clone(),
        }
    }
}

/// Runs `plan` (whose trials should all be selected) against the faithful server and against one
/// server per fault.
///
/// # Errors
/// When a reference server cannot be started.
pub async fn compute(plan: &Plan, options: &HttpOptions) -> Result<FaultMatrix, String> {
    let mut runs = Vec::new();
    for fault in std::iter::once(None).chain(Fault::ALL.iter().copied().map(Some)) {
        let plan = plan.clone();
        let options = options.clone();
        runs.push((
            fault,
            tokio::spawn(async move { failing_trials(&plan, &options, fault).await }),
        ));
    }
    let mut matrix = FaultMatrix::default();
    for (fault, handle) in runs {
        let outcome = handle
            .await
            .map_err(|e| format!("fault run failed: {e}"))??;
        match (fault, outcome) {
            (None, Ok((failing, _))) => matrix.baseline = failing,
            (None, Err(reason)) => {
                return Err(format!(
                    "the faithful reference server is unusable: {reason}"
                ));
            }
            (Some(f), Ok((failing, invariants))) => {
                matrix.by_fault.insert(f, failing);
                matrix.invariants_by_fault.insert(f, invariants);
            }
            (Some(f), Err(reason)) => {
                matrix.unusable.insert(f, reason);
            }
        }
    }
    Ok(matrix)
}

/// What a fault made fail: the trials, and the invariant rules breached.
type Failing = (Vec<String>, Vec<String>);

/// `Ok(Ok(failing))`, `Ok(Err(unusable reason))`, or `Err` when no server could start.
async fn failing_trials(
    plan: &Plan,
    options: &HttpOptions,
    fault: Option<Fault>,
) -> Result<Result<Failing, String>, String> {
    let server = server::start(&ServerOptions {
        faults: fault.into_iter().collect::<Faults>(),
        ..ServerOptions::default()
    })
    .await
    .map_err(|e| format!("cannot start a reference server: {e}"))?;
    let client = HttpClient::new(&server.base_url(), options.clone()).map_err(|e| e.0)?;
    let credentials = Credentials::of_reference_server(server.credentials());
    let target = Target::new(client, server.base_url(), credentials, 8);
    let report = run::run(plan, target).await;
    let base_url = server.base_url();
    server.stop().await;
    if let Some(reason) = report.unusable {
        // The server's address changes every run; the paths say what was asked.
        return Ok(Err(reason.replace(&base_url, "")));
    }
    let policy = Policy {
        deviations: None,
        today: crate::deviation::today(),
        snapshots: None,
        deny_skipped: false,
    };
    let judgement = judge::judge(plan, &report, &policy);
    let mut invariants: Vec<String> = Vec::new();
    for (ti, o) in judgement.outcomes.iter().enumerate() {
        let is_invariants = matches!(
            o.kind,
            crate::plan::TrialKind::Invariants { .. }
                | crate::plan::TrialKind::RunInvariants { .. }
        );
        if o.failed()
            && is_invariants
            && let Some(Some(record)) = report.results.get(ti)
        {
            for id in crate::record::breached_rules(&record.notes) {
                if !invariants.iter().any(|i| i == id) {
                    invariants.push(id.to_string());
                }
            }
        }
    }
    let failing = judgement
        .outcomes
        .into_iter()
        .filter(|o| o.failed())
        .map(|o| o.name)
        .collect();
    Ok(Ok((failing, invariants)))
}
