//! Judging a run: pure. The plan, what the run observed, and the run's policies (known
//! deviations, snapshots) go in; one [`TrialOutcome`] per trial, the [`Summary`], the exit code
//! and the snapshot files to write come out. This is the one place where an observation becomes
//! an outcome — the report sinks (console, JUnit, manifest, HTML) only render outcomes, and never
//! change them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use crate::case::Level;
use crate::check::{Finding, Verdict};
use crate::deviation::Ledger;
use crate::exit;
use crate::plan::{Plan, TrialKind, TrialSpec};
use crate::record::{CaseRecord, ExchangeRecord, Observed, RunReport};
use crate::snapshot::{self, Comparison, SnapshotStore};

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

/// Why a trial failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The target broke the contract.
    Violation(Finding),
    /// The harness could not judge.
    Broken(String),
    /// Not judged: an earlier step failed, or the run stopped.
    NotRun(String),
    /// Not judged: the target could not be used at all.
    Unusable(String),
}

/// Why a trial was listed but not judged, without failing the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A SHOULD rule, not selected (run with `--include-ignored`).
    ShouldRule,
    /// A fixture the case needs is missing.
    MissingFixture(String),
    /// A failure listed in the known-deviations ledger.
    KnownDeviation(String),
    /// No snapshot was stored: this run's was recorded as the baseline (where it says).
    Baseline(String),
}

/// A trial's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The note says why, when it is not obvious.
    Passed(Option<String>),
    Failed(Failure),
    Ignored(Ignored),
    /// The filter leaves it out of the report.
    FilteredOut,
}

/// One trial as every report shows it.
#[derive(Debug, Clone)]
pub struct TrialOutcome {
    pub name: String,
    pub kind: TrialKind,
    pub level: Level,
    pub status: Status,
    /// Context shown before a failure's details (a sweep's count, what happened to a snapshot,
    /// an expired deviation).
    pub notes: Vec<String>,
    /// The exchange the outcome is about.
    pub exchange: Option<Arc<ExchangeRecord>>,
    /// The time of the exchanges that judged it.
    pub duration: Duration,
}

impl TrialOutcome {
    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Failed(_))
    }
}

/// Counts over the outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Ignored for any reason (SHOULD rule, missing fixture, known deviation).
    pub ignored: usize,
    pub filtered_out: usize,
    pub must_passed: usize,
    pub should_passed: usize,
    pub must_failed: usize,
    pub should_failed: usize,
    /// SHOULD trials left out because SHOULD rules are not run by default.
    pub should_ignored: usize,
    /// Trials in the report that no response judged, at any level: a missing fixture, or not
    /// run (a failure).
    pub not_judged: usize,
    /// Ignored because a fixture is missing.
    pub missing_fixture: usize,
    pub known_deviations: usize,
    /// Snapshot trials whose snapshot was recorded as the baseline.
    pub baselines: usize,
    /// MUST trials in the report that no response judged: a missing fixture, not run.
    pub must_not_judged: usize,
    /// The run's wall time.
    pub duration: Duration,
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
    /// Every sink reports this; only a failed write of an output file can make it worse.
    pub exit_code: u8,
    pub files: Vec<FileAction>,
    /// The end-of-run restore failed: the account is not as it was found.
    pub restore_failed: bool,
    /// Why the target cannot give a conformance verdict although it answered: a core case of
    /// the contract (a valid switch, a foreign profile, a bad token) was selected but the account
    /// lacks what it needs. The run then exits 3.
    pub incomplete: Option<String>,
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
                _ if spec.filtered_out => Status::FilteredOut,
                (_, Some(why)) if spec.level == Level::Must || spec.selected => {
                    Status::Failed(Failure::Unusable(why.clone()))
                }
                (_, Some(_)) => Status::Ignored(Ignored::ShouldRule),
                (None, None) => not_executed(spec),
                (Some(record), None) => {
                    outcome.exchange = record.exchange.clone();
                    outcome.duration = record.duration;
                    outcome.notes = record.notes.clone();
                    status_of(&record.observed)
                }
            };
            outcome
        })
        .collect();
    if report.unusable.is_none() {
        if let Some(snapshots) = &policy.snapshots {
            judge_snapshots(plan, report, snapshots, &mut outcomes, &mut files);
        }
        if let Some(ledger) = &policy.deviations {
            apply_deviations(plan, ledger, policy.today, &mut outcomes);
        }
    }
    if policy.deny_skipped {
        for o in outcomes.iter_mut().filter(|o| o.level == Level::Must) {
            if let Status::Ignored(Ignored::MissingFixture(why)) = &o.status {
                o.status = Status::Failed(Failure::NotRun(format!(
                    "not judged ({why}), and --deny-skipped makes that a failure"
                )));
            }
        }
    }
    let incomplete = core_cases_missing(plan, &outcomes);
    let summary = summarize(&outcomes, report.elapsed);
    // A failure is a verdict (non-conformant) even when a core case could not run; without one,
    // a run that skipped a core case is no verdict at all.
    let exit_code = if report.interrupted {
        exit::INTERRUPTED
    } else if report.unusable.is_some() {
        exit::TARGET_UNUSABLE
    } else if summary.failed > 0 {
        exit::FAILED
    } else if incomplete.is_some() {
        exit::TARGET_UNUSABLE
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
        exit_code,
        files,
        restore_failed,
        incomplete,
    }
}

/// The core cases the selection asked for but the account could not run, as one reason.
fn core_cases_missing(plan: &Plan, outcomes: &[TrialOutcome]) -> Option<String> {
    let mut missing: Vec<String> = Vec::new();
    for o in outcomes {
        let (TrialKind::Rule { case, .. }, Status::Ignored(Ignored::MissingFixture(why))) =
            (o.kind, &o.status)
        else {
            continue;
        };
        let Some(case) = plan.cases.get(case) else {
            continue;
        };
        let entry = format!("{} ({why})", case.id);
        if case.core && !missing.contains(&entry) {
            missing.push(entry);
        }
    }
    (!missing.is_empty()).then(|| {
        format!(
            "the account cannot run the contract's core cases: {}; give the target what they need, \
             or deselect them (--skip CASE) to judge the rest",
            missing.join("; ")
        )
    })
}

/// A trial of a usable run that has no record: not selected, or — if selected — a harness bug.
fn not_executed(spec: &TrialSpec) -> Status {
    if spec.selected {
        // Only possible if the plan's selection and the run disagree.
        Status::Failed(Failure::Broken(
            "harness error: this trial was selected but not run".into(),
        ))
    } else {
        Status::Ignored(Ignored::ShouldRule)
    }
}

fn status_of(observed: &Observed) -> Status {
    match observed {
        Observed::Judged(Verdict::Pass(note)) => Status::Passed(note.clone()),
        Observed::Judged(Verdict::Violation(finding)) => {
            Status::Failed(Failure::Violation(finding.clone()))
        }
        Observed::Judged(Verdict::Broken(why)) => Status::Failed(Failure::Broken(why.clone())),
        Observed::NotRun(why) => Status::Failed(Failure::NotRun(why.clone())),
        Observed::MissingFixture(why) => Status::Ignored(Ignored::MissingFixture(why.clone())),
    }
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
            Status::Failed(failure) => {
                s.failed += 1;
                if matches!(failure, Failure::NotRun(_) | Failure::Unusable(_)) {
                    s.not_judged += 1;
                }
                match o.level {
                    Level::Must => s.must_failed += 1,
                    Level::Should => s.should_failed += 1,
                }
                if o.level == Level::Must
                    && matches!(failure, Failure::NotRun(_) | Failure::Unusable(_))
                {
                    s.must_not_judged += 1;
                }
            }
            Status::Ignored(why) => {
                s.ignored += 1;
                match why {
                    Ignored::MissingFixture(_) => {
                        s.missing_fixture += 1;
                        s.not_judged += 1;
                        if o.level == Level::Must {
                            s.must_not_judged += 1;
                        }
                    }
                    Ignored::KnownDeviation(_) => s.known_deviations += 1,
                    Ignored::Baseline(_) => {
                        s.baselines += 1;
                        s.not_judged += 1;
                    }
                    Ignored::ShouldRule => s.should_ignored += 1,
                }
            }
            Status::FilteredOut => s.filtered_out += 1,
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
        if outcome.status == Status::FilteredOut {
            continue;
        }
        outcome.duration = record.duration;
        let case = &plan.cases[record.case];
        if let Some(why) = &record.stopped {
            outcome.status = Status::Failed(Failure::NotRun(why.clone()));
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
                outcome.status = Status::Ignored(Ignored::Baseline(format!(
                    "baseline recorded in {}: no snapshot of target `{}` was stored; later runs \
                     compare with it",
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
            Status::Failed(_) if !expired => {
                outcome.status = Status::Ignored(Ignored::KnownDeviation(deviation.describe()));
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
