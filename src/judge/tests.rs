use super::*;
use crate::plan::{Selection, TrialSpec};
use crate::record::TrialRecord;

/// A plan of hand-made trials (no cases), in the given order.
fn plan(trials: &[(&str, Level, TrialKind, Selection)]) -> Plan {
    Plan {
        cases: Vec::new(),
        invariants: std::sync::Arc::default(),
        trials: trials
            .iter()
            .map(|(name, level, kind, selection)| TrialSpec {
                name: (*name).to_string(),
                level: *level,
                kind: *kind,
                selected: *selection == Selection::Run,
                filtered_out: *selection == Selection::FilteredOut,
            })
            .collect(),
        run_cases: Vec::new(),
        run_restore: true,
    }
}

fn rule(i: usize) -> TrialKind {
    TrialKind::Rule {
        case: 0,
        step: 0,
        rule: i,
    }
}

fn policy() -> Policy {
    Policy {
        deviations: None,
        today: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default(),
        snapshots: None,
        deny_skipped: false,
    }
}

fn violation() -> Observed {
    Observed::Judged(Verdict::Violation(Finding {
        expected: "status 200".into(),
        actual: "status 500".into(),
        details: Vec::new(),
        diff: None,
    }))
}

fn statuses(j: &Judgement) -> Vec<(&str, &Status)> {
    j.outcomes
        .iter()
        .map(|o| (o.name.as_str(), &o.status))
        .collect()
}

#[test]
fn every_observation_maps_to_one_status_and_the_exit_code_follows() {
    let p = plan(&[
        ("a::pass", Level::Must, rule(0), Selection::Run),
        ("a::fail", Level::Must, rule(1), Selection::Run),
        ("a::broken", Level::Must, rule(2), Selection::Run),
        ("a::not_run", Level::Must, rule(3), Selection::Run),
        ("a::fixture", Level::Must, rule(4), Selection::Run),
        ("a::should", Level::Should, rule(5), Selection::Ignored),
        ("a::filtered", Level::Must, rule(6), Selection::FilteredOut),
    ]);
    let report = RunReport {
        results: vec![
            Some(TrialRecord::bare(Observed::Judged(Verdict::Pass(None)))),
            Some(TrialRecord::bare(violation())),
            Some(TrialRecord::bare(Observed::Judged(Verdict::Broken(
                "reset".into(),
            )))),
            Some(TrialRecord::bare(Observed::NotRun("step 1 failed".into()))),
            Some(TrialRecord::bare(Observed::MissingFixture(
                "needs x".into(),
            ))),
            None,
            None,
        ],
        elapsed: Duration::from_secs(14),
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    assert_eq!(
        statuses(&j),
        vec![
            ("a::pass", &Status::Passed(None)),
            (
                "a::fail",
                &Status::Failed(Failure::Violation(Finding {
                    expected: "status 200".into(),
                    actual: "status 500".into(),
                    details: Vec::new(),
                    diff: None,
                }))
            ),
            (
                "a::broken",
                &Status::Failed(Failure::Broken("reset".into()))
            ),
            (
                "a::not_run",
                &Status::Failed(Failure::NotRun("step 1 failed".into()))
            ),
            (
                "a::fixture",
                &Status::Ignored(Ignored::MissingFixture("needs x".into()))
            ),
            ("a::should", &Status::Ignored(Ignored::ShouldRule)),
            ("a::filtered", &Status::FilteredOut),
        ]
    );
    assert_eq!(
        j.summary,
        Summary {
            passed: 1,
            failed: 3,
            ignored: 2,
            filtered_out: 1,
            must_passed: 1,
            should_passed: 0,
            must_failed: 3,
            should_failed: 0,
            should_ignored: 1,
            // The missing fixture and the step that was not run.
            not_judged: 2,
            missing_fixture: 1,
            known_deviations: 0,
            baselines: 0,
            must_not_judged: 2,
            duration: Duration::from_secs(14),
        }
    );
    assert_eq!(j.exit_code, exit::FAILED);
}

#[test]
fn an_unusable_target_fails_must_and_selected_trials_and_exits_3() {
    let p = plan(&[
        ("a::must", Level::Must, rule(0), Selection::Run),
        ("a::should", Level::Should, rule(1), Selection::Ignored),
        ("a::chosen", Level::Should, rule(2), Selection::Run),
        ("a::filtered", Level::Must, rule(3), Selection::FilteredOut),
    ]);
    let report = RunReport {
        results: vec![None; 4],
        unusable: Some("refused".into()),
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    let not_run = Status::Failed(Failure::Unusable("refused".into()));
    assert_eq!(
        statuses(&j),
        vec![
            ("a::must", &not_run),
            ("a::should", &Status::Ignored(Ignored::ShouldRule)),
            ("a::chosen", &not_run),
            ("a::filtered", &Status::FilteredOut),
        ]
    );
    assert_eq!(j.exit_code, exit::TARGET_UNUSABLE);
    let interrupted = RunReport {
        interrupted: true,
        ..report
    };
    assert_eq!(
        judge(&p, &interrupted, &policy()).exit_code,
        exit::INTERRUPTED
    );
}

#[test]
fn durations_and_notes_come_from_the_record() {
    let p = plan(&[("a::fail", Level::Must, rule(0), Selection::Run)]);
    let report = RunReport {
        results: vec![Some(TrialRecord {
            observed: violation(),
            exchange: None,
            duration: Duration::from_millis(120),
            notes: vec!["3 of 10 responses broke the rule".into()],
        })],
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    assert_eq!(j.outcomes[0].duration, Duration::from_millis(120));
    assert_eq!(
        j.outcomes[0].notes,
        vec!["3 of 10 responses broke the rule"]
    );
}

#[test]
fn a_selected_trial_without_a_record_is_a_harness_error_not_a_pass() {
    let p = plan(&[("a::x", Level::Must, rule(0), Selection::Run)]);
    let report = RunReport {
        results: vec![None],
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    assert!(j.outcomes[0].failed());
    assert_eq!(j.exit_code, exit::FAILED);
}
