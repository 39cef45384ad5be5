use super::*;
use crate::check::Verdict as V;
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
                selected: *selection != Selection::FilteredOut,
                counts: *selection == Selection::Run,
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
    Observed::Judged(V::Violation(Finding {
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
        ("a::advice", Level::Should, rule(7), Selection::Ignored),
        ("a::stopped", Level::Must, rule(8), Selection::Run),
    ]);
    let report = RunReport {
        results: vec![
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
            Some(TrialRecord::bare(violation())),
            Some(TrialRecord::bare(Observed::Judged(V::Broken(
                "reset".into(),
            )))),
            Some(TrialRecord::bare(Observed::NotRun("step 1 failed".into()))),
            Some(TrialRecord::bare(Observed::MissingFixture(
                "needs x".into(),
            ))),
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
            None,
            Some(TrialRecord::bare(violation())),
            Some(TrialRecord::bare(Observed::Stopped("interrupted".into()))),
        ],
        elapsed: Duration::from_secs(14),
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    let finding = Finding {
        expected: "status 200".into(),
        actual: "status 500".into(),
        details: Vec::new(),
        diff: None,
    };
    assert_eq!(
        statuses(&j),
        vec![
            ("a::pass", &Status::Passed(None)),
            (
                "a::fail",
                &Status::Failed(Failure::Violation(finding.clone()))
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
                &Status::NotJudged(NotJudged::NeedsFixture("needs x".into()))
            ),
            (
                "a::should",
                &Status::NotJudged(NotJudged::ShouldNotCounted(Advice::Followed(None)))
            ),
            ("a::filtered", &Status::NotJudged(NotJudged::Deselected)),
            (
                "a::advice",
                &Status::NotJudged(NotJudged::ShouldNotCounted(Advice::NotFollowed(finding)))
            ),
            (
                "a::stopped",
                &Status::NotJudged(NotJudged::Interrupted("interrupted".into()))
            ),
        ]
    );
    let s = &j.summary;
    assert_eq!(
        (
            s.passed,
            s.failed,
            s.must_passed,
            s.must_failed,
            s.should_failed
        ),
        (1, 3, 1, 3, 0)
    );
    assert_eq!(s.not_judged_total(), 5);
    assert_eq!(s.ignored(), 4);
    assert_eq!(s.filtered_out(), 1);
    assert_eq!(s.not_judged(Reason::ShouldNotCounted), 2);
    // The missing fixture and the stop: not chosen by the user.
    assert_eq!(s.must_not_judged, 2);
    assert_eq!(
        (s.advice_followed, s.advice_not_followed.clone()),
        (1, vec!["a::advice".to_string()])
    );
    assert_eq!(
        s.not_judged_words(),
        "5 (2 SHOULD not counted, 1 needs a fixture, 1 interrupted, 1 deselected)"
    );
    assert_eq!(j.verdict, Verdict::DoesNotConform);
    assert_eq!(j.exit_code, exit::FAILED);
}

#[test]
fn a_should_rule_not_followed_is_advice_unless_counted() {
    let trials = |selection| {
        plan(&[
            ("a::must", Level::Must, rule(0), Selection::Run),
            ("a::should", Level::Should, rule(1), selection),
        ])
    };
    let report = RunReport {
        results: vec![
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
            Some(TrialRecord::bare(violation())),
        ],
        ..RunReport::default()
    };
    let advice = judge(&trials(Selection::Ignored), &report, &policy());
    assert_eq!(advice.exit_code, exit::OK);
    assert_eq!(advice.verdict, Verdict::Conforms);
    assert_eq!(advice.summary.advice_not_followed, vec!["a::should"]);
    let counted = judge(&trials(Selection::Run), &report, &policy());
    assert_eq!(counted.exit_code, exit::FAILED);
    assert_eq!(counted.summary.should_failed, 1);
}

#[test]
fn an_interrupted_run_fails_nothing_it_did_not_judge_and_exits_130() {
    let p = plan(&[
        ("a::judged", Level::Must, rule(0), Selection::Run),
        ("a::cut", Level::Must, rule(1), Selection::Run),
        ("b::never", Level::Must, rule(2), Selection::Run),
    ]);
    let report = RunReport {
        results: vec![
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
            Some(TrialRecord::bare(Observed::Stopped(
                "the run was interrupted".into(),
            ))),
            None,
        ],
        stopped: Some("the run was interrupted".into()),
        interrupted: true,
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    assert!(!j.outcomes.iter().any(TrialOutcome::failed));
    assert_eq!(j.summary.not_judged(Reason::Interrupted), 2);
    assert!(matches!(j.verdict, Verdict::NoVerdict(_)));
    assert_eq!(j.exit_code, exit::INTERRUPTED);
    // The deadline is a stop too, but no Ctrl-C: no verdict, exit 3.
    let deadline = RunReport {
        interrupted: false,
        ..report
    };
    assert_eq!(
        judge(&p, &deadline, &policy()).exit_code,
        exit::TARGET_UNUSABLE
    );
}

#[test]
fn an_unusable_target_judges_nothing_and_exits_3() {
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
    let unusable = Status::NotJudged(NotJudged::Unusable("refused".into()));
    assert_eq!(
        statuses(&j),
        vec![
            ("a::must", &unusable),
            ("a::should", &unusable),
            ("a::chosen", &unusable),
            ("a::filtered", &Status::NotJudged(NotJudged::Deselected)),
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

#[test]
fn a_run_that_judged_none_of_its_cases_gives_no_verdict() {
    // The restore and the run's own invariants pass, but every counted trial of a case needed a
    // fixture: that is not "conforms".
    let p = plan(&[
        ("a::x", Level::Must, rule(0), Selection::Run),
        ("a::y", Level::Should, rule(1), Selection::Ignored),
        (
            "restore::original_default_restored",
            Level::Must,
            TrialKind::Restore,
            Selection::Run,
        ),
    ]);
    let fixture = || {
        Some(TrialRecord::bare(Observed::MissingFixture(
            "needs x".into(),
        )))
    };
    let report = RunReport {
        results: vec![
            fixture(),
            fixture(),
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
        ],
        ..RunReport::default()
    };
    let j = judge(&p, &report, &policy());
    assert!(
        matches!(j.verdict, Verdict::NoVerdict(_)),
        "{:?}",
        j.verdict
    );
    assert_eq!(j.exit_code, exit::TARGET_UNUSABLE);
    // One judged trial of a case is enough for a verdict.
    let report = RunReport {
        results: vec![
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
            fixture(),
            Some(TrialRecord::bare(Observed::Judged(V::Pass(None)))),
        ],
        ..RunReport::default()
    };
    assert_eq!(judge(&p, &report, &policy()).verdict, Verdict::Conforms);
}
