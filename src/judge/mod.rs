//! Judging a run: pure. The plan, what the run observed, and the run's policies (known
//! deviations, snapshots) go in; one [`TrialOutcome`] per trial, the [`Summary`], the exit code
//! and the snapshot files to write come out. This is the one place where an observation becomes
//! an outcome — the report sinks (console, JUnit, manifest, HTML) only render outcomes, and never
//! change them.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;

use crate::case::Level;
use crate::check::{Finding, Verdict as Verdict_};
use crate::deviation::Ledger;
use crate::exit;
use crate::plan::{Plan, TrialKind, TrialSpec};
use crate::record::{CaseRecord, ExchangeRecord, Observed, RunReport};
use crate::snapshot::{self, Comparison, SnapshotStore};

mod outcome;

pub use outcome::{Advice, Failure, NotJudged, Reason, Status, Summary, TrialOutcome, Verdict};

/// What happens to a snapshot that is new or drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotWrite {
    /// Write `<case>.snap.new` for `cargo insta review`.
    New,
    /// Overwrite `<case>.snap`: the drift is accepted and the trial passes.
    Accept,
    /// Write nothing (CI).
    Nothing,
}

/// The stored snapshots of a run's target and what to do with differences.
#[derive(Debug, Clone)]
pub struct SnapshotPolicy {
    pub store: SnapshotStore,
    pub write: SnapshotWrite,
    /// A case without a stored snapshot has this run's recorded as its baseline (everything but
    /// `--update-snapshots no`), so a nightly passes from its first night.
    pub baseline: bool,
}

/// What a run is judged by besides its rules.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `--known-deviations`, loaded.
    pub deviations: Option<Ledger>,
    /// The date expiry is judged against.
    pub today: NaiveDate,
    /// Snapshots, when they are on.
    pub snapshots: Option<SnapshotPolicy>,
    /// `--deny-skipped`: a MUST trial no response judged fails the run.
    pub deny_skipped: bool,
}

/// A file the judgement asks the report to write (snapshots); its text is not yet redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Write { path: PathBuf, text: String },
    Remove { path: PathBuf },
}

/// Everything the report sinks need, decided.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// One per trial of the plan, in plan order.
    pub outcomes: Vec<TrialOutcome>,
    pub summary: Summary,
    pub verdict: Verdict,
    /// Every sink reports this; only a failed write of an output file can make it worse.
    pub exit_code: u8,
    pub files: Vec<FileAction>,
    /// The end-of-run restore failed: the account is not as it was found.
    pub restore_failed: bool,
    /// Whether SHOULD trials count (`--include-ignored`).
    pub should_counted: bool,
}

/// Judges a run.
pub fn judge(plan: &Plan, report: &RunReport, policy: &Policy) -> Judgement {
    let mut files = Vec::new();
    let mut outcomes: Vec<TrialOutcome> = plan
        .trials
        .iter()
        .zip(&report.results)
        .map(|(spec, result)| {
            let mut outcome = TrialOutcome {
                name: spec.name.clone(),
                kind: spec.kind,
                level: spec.level,
                status: Status::Passed(None),
                notes: Vec::new(),
                exchange: None,
                duration: Duration::ZERO,
            };
            outcome.status = match (result, &report.unusable) {
                _ if !spec.selected => Status::NotJudged(NotJudged::Deselected),
                (_, Some(why)) => Status::NotJudged(NotJudged::Unusable(why.clone())),
                // The verdict says which core case and why.
                (None, None) if report.incomplete.is_some() => Status::NotJudged(
                    NotJudged::NeedsFixture("not run: the account cannot run a core case".into()),
                ),
                (None, None) => not_executed(spec, report),
                (Some(record), None) => {
                    outcome.exchange = record.exchange.clone();
                    outcome.duration = record.duration;
                    outcome.notes = record.notes.clone();
                    status_of(&record.observed, spec.counts)
                }
            };
            outcome
        })
        .collect();
    if report.unusable.is_none() {
        if let Some(snapshots) = &policy.snapshots {
            judge_snapshots(plan, report, snapshots, &mut outcomes, &mut files);
            // Drift of a snapshot trial that does not count is advice, like any SHOULD rule.
            for (o, spec) in outcomes.iter_mut().zip(&plan.trials) {
                if matches!(spec.kind, TrialKind::Snapshot { .. })
                    && !spec.counts
                    && matches!(o.status, Status::Passed(_) | Status::Failed(_))
                {
                    o.status = as_advice(std::mem::replace(&mut o.status, Status::Passed(None)));
                }
            }
        }
        if let Some(ledger) = &policy.deviations {
            apply_deviations(plan, ledger, policy.today, &mut outcomes);
        }
    }
    if policy.deny_skipped {
        for o in outcomes.iter_mut().filter(|o| o.level == Level::Must) {
            if let Status::NotJudged(NotJudged::NeedsFixture(why)) = &o.status {
                o.status = Status::Failed(Failure::NotRun(format!(
                    "not judged ({why}), and --deny-skipped makes that a failure"
                )));
            }
        }
    }
    let mut summary = summarize(&outcomes, report.elapsed);
    summary.should_rules_not_followed = rules_not_followed(plan, &outcomes);
    let verdict = if let Some(why) = &report.unusable {
        Verdict::NoVerdict(format!("target unusable: {why}"))
    } else if report.stopped.is_some() && summary.not_judged(Reason::Interrupted) > 0 {
        Verdict::NoVerdict(format!(
            "{}, {} trial{} not judged",
            report.stopped.as_deref().unwrap_or("the run stopped"),
            summary.not_judged(Reason::Interrupted),
            plural(summary.not_judged(Reason::Interrupted))
        ))
    } else if summary.failed > 0 {
        // A failure is a verdict even when a core case could not run.
        Verdict::DoesNotConform
    } else if let Some(why) = report
        .incomplete
        .clone()
        .or_else(|| core_cases_missing(plan, &outcomes))
    {
        Verdict::NoVerdict(why)
    } else if let Some(why) = no_case_judged(&outcomes, plan) {
        Verdict::NoVerdict(why)
    } else {
        Verdict::Conforms
    };
    // A stop wins (the user asked for it), then an unusable target; a failure is a verdict.
    let exit_code = if report.interrupted {
        exit::INTERRUPTED
    } else if matches!(verdict, Verdict::NoVerdict(_)) {
        exit::TARGET_UNUSABLE
    } else if summary.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    };
    let restore_failed = outcomes.iter().any(|o| {
        o.kind == TrialKind::Restore
            && matches!(
                o.status,
                Status::Failed(Failure::Violation(_) | Failure::Broken(_))
            )
    });
    Judgement {
        outcomes,
        summary,
        verdict,
        exit_code,
        files,
        restore_failed,
        should_counted: plan
            .trials
            .iter()
            .any(|t| t.level == Level::Should && t.counts),
    }
}

/// A green means checked: when counted trials of cases were selected but none of them was
/// judged (each needed a fixture the target lacks), the run's own trials passing — the restore,
/// the invariants of discovery's reads — is no conformance verdict.
fn no_case_judged(outcomes: &[TrialOutcome], plan: &Plan) -> Option<String> {
    let counted_case_trials = || {
        outcomes
            .iter()
            .zip(&plan.trials)
            .filter(|(o, spec)| spec.counts && o.kind.case().is_some())
    };
    let judged = counted_case_trials()
        .filter(|(o, _)| matches!(o.status, Status::Passed(_) | Status::Failed(_)))
        .count();
    let unjudged = counted_case_trials()
        .filter(|(o, _)| matches!(o.status, Status::NotJudged(NotJudged::NeedsFixture(_))))
        .count();
    (judged == 0 && unjudged > 0).then(|| {
        format!(
            "none of the {unjudged} counted trial{} of the selected cases could be judged: each \
             needs a fixture the target lacks (see each trial's reason)",
            plural(unjudged)
        )
    })
}

/// The counted core cases the account could not run (a discovery read failed, so the run went
/// on to judge the rest), as one reason.
fn core_cases_missing(plan: &Plan, outcomes: &[TrialOutcome]) -> Option<String> {
    let mut missing: Vec<String> = Vec::new();
    for (o, spec) in outcomes.iter().zip(&plan.trials) {
        let (TrialKind::Rule { case, .. }, Status::NotJudged(NotJudged::NeedsFixture(why))) =
            (o.kind, &o.status)
        else {
            continue;
        };
        let Some(case) = plan.cases.get(case).filter(|c| c.core && spec.counts) else {
            continue;
        };
        let entry = format!("{} ({why})", case.id);
        if !missing.contains(&entry) {
            missing.push(entry);
        }
    }
    (!missing.is_empty()).then(|| {
        format!(
            "the account cannot run the contract's core cases: {}; give the target what they need, \
             or leave them out (--skip CASE) to judge the rest",
            missing.join("; ")
        )
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A selected trial of a usable run that has no record: its case never ran because the run
/// stopped first — or, if the run did not stop, a harness bug.
fn not_executed(spec: &TrialSpec, report: &RunReport) -> Status {
    match &report.stopped {
        Some(why) => Status::NotJudged(NotJudged::Interrupted(why.clone())),
        None if spec.counts => Status::Failed(Failure::Broken(
            "harness error: this trial was selected but not run".into(),
        )),
        None => Status::NotJudged(NotJudged::ShouldNotCounted(Advice::Unknown(
            "harness error: this trial was selected but not run".into(),
        ))),
    }
}

/// An observation as a status; a trial that does not count becomes advice.
fn status_of(observed: &Observed, counts: bool) -> Status {
    let status = match observed {
        Observed::Judged(Verdict_::Pass(note)) => Status::Passed(note.clone()),
        Observed::Judged(Verdict_::Violation(finding)) => {
            Status::Failed(Failure::Violation(finding.clone()))
        }
        Observed::Judged(Verdict_::Broken(why)) => Status::Failed(Failure::Broken(why.clone())),
        Observed::NotRun(why) => Status::Failed(Failure::NotRun(why.clone())),
        Observed::Stopped(why) => return Status::NotJudged(NotJudged::Interrupted(why.clone())),
        Observed::MissingFixture(why) => {
            return Status::NotJudged(NotJudged::NeedsFixture(why.clone()));
        }
    };
    if counts { status } else { as_advice(status) }
}

/// A status of a trial that does not count: advice.
fn as_advice(status: Status) -> Status {
    Status::NotJudged(NotJudged::ShouldNotCounted(match status {
        Status::Passed(note) => Advice::Followed(note),
        Status::Failed(Failure::Violation(f)) => Advice::NotFollowed(f),
        Status::Failed(Failure::Broken(why) | Failure::NotRun(why)) => Advice::Unknown(why),
        Status::NotJudged(other) => return Status::NotJudged(other),
    }))
}

/// The rules behind the SHOULD trials not followed, with how many trials found each.
fn rules_not_followed(plan: &Plan, outcomes: &[TrialOutcome]) -> Vec<(String, usize)> {
    let mut rules = std::collections::BTreeMap::<String, usize>::new();
    for o in outcomes
        .iter()
        .filter(|o| o.status.not_followed().is_some())
    {
        let ids: Vec<String> = match o.kind {
            TrialKind::Rule { case, step, rule } => plan
                .cases
                .get(case)
                .and_then(|c| c.steps.get(step))
                .and_then(|s| s.rules.get(rule))
                .map(|r| vec![r.id.clone()])
                .unwrap_or_default(),
            TrialKind::Snapshot { .. } => vec!["snapshot".into()],
            _ => crate::record::breached_rules(&o.notes)
                .into_iter()
                .map(str::to_string)
                .collect(),
        };
        for id in ids {
            *rules.entry(id).or_default() += 1;
        }
    }
    rules.into_iter().collect()
}

fn summarize(outcomes: &[TrialOutcome], duration: Duration) -> Summary {
    let mut s = Summary {
        duration,
        ..Summary::default()
    };
    for o in outcomes {
        match &o.status {
            Status::Passed(_) => {
                s.passed += 1;
                match o.level {
                    Level::Must => s.must_passed += 1,
                    Level::Should => s.should_passed += 1,
                }
            }
            Status::Failed(_) => {
                s.failed += 1;
                match o.level {
                    Level::Must => s.must_failed += 1,
                    Level::Should => s.should_failed += 1,
                }
            }
            Status::NotJudged(why) => {
                *s.not_judged.entry(why.reason()).or_default() += 1;
                match why {
                    NotJudged::ShouldNotCounted(Advice::Followed(_)) => s.advice_followed += 1,
                    NotJudged::ShouldNotCounted(Advice::NotFollowed(_)) => {
                        s.advice_not_followed.push(o.name.clone());
                    }
                    NotJudged::NeedsFixture(_)
                    | NotJudged::Interrupted(_)
                    | NotJudged::Unusable(_)
                        if o.level == Level::Must =>
                    {
                        s.must_not_judged += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    s
}

/// Compares each case's responses with its stored snapshot, and decides what to write.
fn judge_snapshots(
    plan: &Plan,
    report: &RunReport,
    policy: &SnapshotPolicy,
    outcomes: &mut [TrialOutcome],
    files: &mut Vec<FileAction>,
) {
    let index = plan.trial_index();
    for record in &report.cases {
        let Some(&ti) = index.get(&TrialKind::Snapshot { case: record.case }) else {
            continue;
        };
        let outcome = &mut outcomes[ti];
        if outcome.status.is_deselected() {
            continue;
        }
        outcome.duration = record.duration;
        let case = &plan.cases[record.case];
        if let Some(why) = &record.stopped {
            outcome.status = Status::NotJudged(NotJudged::Interrupted(why.clone()));
            continue;
        }
        let text = case_text(plan, record, report);
        let store = &policy.store;
        let comparison = snapshot::compare(store.stored(&case.id), &text);
        let stored = store.path(&case.id);
        let pending = stored.with_extension("snap.new");
        let finding = match &comparison {
            Comparison::Same => {
                outcome.status = Status::Passed(None);
                files.push(FileAction::Remove { path: pending });
                continue;
            }
            Comparison::New if policy.baseline => {
                outcome.status = Status::NotJudged(NotJudged::Baseline(format!(
                    "written to {}: no snapshot of target `{}` was stored; later runs compare \
                     with it",
                    stored.display(),
                    store.label
                )));
                files.push(FileAction::Write {
                    path: stored,
                    text: snapshot::file_text(&case.file, &case.id, &text),
                });
                files.push(FileAction::Remove { path: pending });
                continue;
            }
            Comparison::New => Finding {
                expected: format!(
                    "a stored snapshot of this case's responses for target `{}`",
                    store.label
                ),
                actual: "none yet".into(),
                details: Vec::new(),
                diff: None,
            },
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
                Finding {
                    expected: format!(
                        "responses shaped like the stored snapshot for target `{}`",
                        store.label
                    ),
                    actual: "they drifted".into(),
                    details,
                    diff: Some(diff.clone()),
                }
            }
        };
        let file_text = snapshot::file_text(&case.file, &case.id, &text);
        match policy.write {
            SnapshotWrite::Nothing => outcome.notes.push(format!(
                "stored snapshot: {}; nothing written (--update-snapshots no, or CI): run with \
                 --update-snapshots new to write it for review",
                stored.display()
            )),
            SnapshotWrite::New => {
                let dir = store.dir.parent().unwrap_or(&store.dir);
                outcome.notes.push(format!(
                    "written to {}: accept it with `nexudus-conformance snapshots accept {} \
                     --snapshots {}` (or review it with `cargo insta review`)",
                    pending.display(),
                    store.label,
                    dir.display()
                ));
                files.push(FileAction::Write {
                    path: pending,
                    text: file_text,
                });
            }
            SnapshotWrite::Accept => {
                outcome.status =
                    Status::Passed(Some(format!("accepted into {}", stored.display())));
                files.push(FileAction::Write {
                    path: stored,
                    text: file_text,
                });
                files.push(FileAction::Remove { path: pending });
                continue;
            }
        }
        outcome.status = Status::Failed(Failure::Violation(finding));
    }
}

/// The normalised text of a case's responses.
fn case_text(plan: &Plan, record: &CaseRecord, report: &RunReport) -> String {
    let exchanges: Vec<Option<&ExchangeRecord>> =
        record.exchanges.iter().map(|e| e.as_deref()).collect();
    snapshot::normalize_case(&plan.cases[record.case], &exchanges, &report.vars)
}

/// Known deviations: a listed failure becomes ignored with its reason; a listed pass fails; an
/// expired entry keeps its failure and fails `known_deviations::none_expired`.
fn apply_deviations(plan: &Plan, ledger: &Ledger, today: NaiveDate, outcomes: &mut [TrialOutcome]) {
    for outcome in outcomes.iter_mut() {
        let Some(deviation) = ledger.find(&outcome.name) else {
            continue;
        };
        let expired = deviation.expired(today);
        match &outcome.status {
            Status::Failed(_)
            | Status::NotJudged(NotJudged::ShouldNotCounted(Advice::NotFollowed(_)))
                if !expired =>
            {
                outcome.status = Status::NotJudged(NotJudged::KnownDeviation(deviation.describe()));
            }
            Status::Failed(Failure::Violation(_)) => outcome.notes.insert(
                0,
                format!(
                    "the known deviation {} expired on {}: fix the target or extend the entry",
                    deviation.origin, deviation.expires
                ),
            ),
            Status::Passed(_) => {
                outcome.status = Status::Failed(Failure::Violation(Finding {
                    expected: format!(
                        "a failure, as the known deviation {} says ({})",
                        deviation.origin, deviation.reason
                    ),
                    actual: "the trial passes".into(),
                    details: vec![
                        "remove the entry: the known-deviations list only shrinks".into(),
                    ],
                    diff: None,
                }));
                outcome.notes.clear();
            }
            _ => {}
        }
    }
    let index = plan.trial_index();
    if let Some(&ti) = index.get(&TrialKind::Deviations)
        && plan.trials[ti].selected
    {
        let expired = ledger.expired(today);
        outcomes[ti].status = if expired.is_empty() {
            Status::Passed(None)
        } else {
            Status::Failed(Failure::Violation(Finding {
                expected: format!("no expired entry in {} (today is {today})", ledger.file),
                actual: format!("{} expired", expired.len()),
                details: expired
                    .iter()
                    .map(|d| format!("{}: {} — expired {}", d.origin, d.reason, d.expires))
                    .collect(),
                diff: None,
            }))
        };
    }
}

#[cfg(test)]
mod tests;
