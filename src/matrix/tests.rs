use super::*;
use crate::manifest::{FailureKind, ManifestTarget, ManifestTrial, Summary};

/// A trial's outcome in a fixture manifest.
#[derive(Clone, Copy)]
enum O {
    Passed,
    Failed,
    /// Not judged, with this reason.
    Not(&'static str),
    /// A SHOULD rule judged as advice.
    Advice(AdviceKind),
}

fn manifest(label: &str, started_at: &str, outcomes: &[(&str, O)]) -> Manifest {
    let trials: Vec<ManifestTrial> = outcomes
        .iter()
        .map(|(name, o)| {
            let (outcome, reason, advice) = match *o {
                O::Passed => (Outcome::Passed, None, None),
                O::Failed => (Outcome::Failed, None, None),
                O::Not(reason) => (Outcome::NotJudged, Some(reason.to_string()), None),
                O::Advice(a) => (
                    Outcome::NotJudged,
                    Some("should_not_counted".to_string()),
                    Some(a),
                ),
            };
            ManifestTrial {
                name: (*name).into(),
                case: name.split("::").next().unwrap_or_default().into(),
                level: if name.contains("json") {
                    "should".into()
                } else {
                    "must".into()
                },
                outcome,
                failure: (outcome == Outcome::Failed).then_some(FailureKind::Violation),
                reason,
                advice,
                duration_ms: 1,
                message: (outcome == Outcome::Failed || advice == Some(AdviceKind::NotFollowed))
                    .then(|| "expected status 404, got 200 <html> & \"quotes\"".to_string()),
            }
        })
        .collect();
    let failed = trials
        .iter()
        .filter(|t| t.outcome == Outcome::Failed)
        .count();
    Manifest {
        format: crate::manifest::FORMAT.into(),
        harness_version: "0.1.0".into(),
        contract_hash: "fnv1a64:0000000000000001".into(),
        target: ManifestTarget {
            base_url: format!("https://{label}.example"),
            label: label.into(),
        },
        started_at: started_at.into(),
        duration_ms: 10,
        exit_code: if failed > 0 { 101 } else { 0 },
        summary: Summary {
            verdict: if failed > 0 {
                "does_not_conform"
            } else {
                "conforms"
            }
            .into(),
            passed: trials
                .iter()
                .filter(|t| t.outcome == Outcome::Passed)
                .count(),
            failed,
            not_judged: trials
                .iter()
                .filter(|t| t.outcome == Outcome::NotJudged)
                .count(),
            not_judged_by_reason: trials.iter().filter_map(|t| t.reason.clone()).fold(
                BTreeMap::new(),
                |mut m, r| {
                    *m.entry(r).or_default() += 1;
                    m
                },
            ),
            should_not_followed: trials
                .iter()
                .filter(|t| t.advice == Some(AdviceKind::NotFollowed))
                .map(|t| t.name.clone())
                .collect(),
            ..Summary::default()
        },
        trials,
    }
}

fn fixture() -> Vec<TargetRuns> {
    use O::*;
    group(vec![
        manifest(
            "staging",
            "2026-11-25T03:00:00Z",
            &[
                ("valid_switch::status_is_200", Passed),
                ("foreign_profile::status_is_404", Failed),
            ],
        ),
        manifest(
            "staging",
            "2026-11-27T03:00:00Z",
            &[
                ("valid_switch::status_is_200", Failed),
                ("foreign_profile::status_is_404", Failed),
                (
                    "valid_switch::json_content_type",
                    Advice(AdviceKind::NotFollowed),
                ),
                (
                    "profiles_list::json_content_type",
                    Advice(AdviceKind::Followed),
                ),
                ("expired_token::status_is_401", Not("needs_fixture")),
            ],
        ),
        manifest(
            "staging",
            "2026-11-26T03:00:00Z",
            &[
                ("valid_switch::status_is_200", Failed),
                ("foreign_profile::status_is_404", Failed),
            ],
        ),
        manifest(
            "embedded",
            "2026-11-27T03:00:00Z",
            &[
                ("valid_switch::status_is_200", Passed),
                ("foreign_profile::status_is_404", Not("known_deviation")),
                ("valid_switch::json_content_type", Passed),
                ("profiles_list::json_content_type", Passed),
                ("expired_token::status_is_401", Passed),
            ],
        ),
    ])
}

#[test]
fn trends_find_where_failing_streaks_start() {
    let targets = fixture();
    assert_eq!(
        targets.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
        ["embedded", "staging"]
    );
    let streaks = trend(&targets[1]);
    assert_eq!(
        streaks,
        vec![
            Streak {
                trial: "valid_switch::status_is_200".into(),
                since: "2026-11-26T03:00:00Z".into(),
                runs: 2,
                always: false
            },
            Streak {
                trial: "foreign_profile::status_is_404".into(),
                since: "2026-11-25T03:00:00Z".into(),
                runs: 3,
                always: true
            },
        ]
    );
}

#[test]
fn matrix_renders() {
    let targets = fixture();
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("matrix_markdown", markdown(&targets));
        insta::assert_snapshot!("matrix_html", html(&targets));
    });
}
