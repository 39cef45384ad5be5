//! One vocabulary: a single run — counted failures, SHOULD rules judged as advice and not
//! followed, trials that need a fixture, a deselected case — is fed through every sink, and each
//! says the same counts: the console (pretty and JSON), JUnit, the manifest, the HTML report and
//! the compliance matrix.

use std::collections::BTreeMap;

use libtest_mimic::{Arguments, FormatSetting};
use nexudus_conformance::case::load_suite;
use nexudus_conformance::contract::Contract;
use nexudus_conformance::http::{HttpClient, HttpOptions};
use nexudus_conformance::judge::{self, Policy, Reason};
use nexudus_conformance::plan::{self, PlanOptions};
use nexudus_conformance::report::{self, RunInfo};
use nexudus_conformance::run::{self, Credentials, Target};
use nexudus_conformance::server::{Fault, Faults, ServerOptions};
use nexudus_conformance::source::{embedded_cases, embedded_schemas};
use nexudus_conformance::{manifest, matrix};

use crate::support::Server;

/// The counts every sink must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Counts {
    passed: usize,
    failed: usize,
    not_judged: usize,
    by_reason: BTreeMap<String, usize>,
    should_not_followed: usize,
}

/// `N (a reason, b reason)` → the total and the counts by reason's words.
fn parse_not_judged(text: &str) -> (usize, BTreeMap<String, usize>) {
    let (total, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut by = BTreeMap::new();
    let rest = rest.trim().trim_start_matches('(').trim_end_matches(')');
    for part in rest.split(", ").filter(|p| !p.is_empty()) {
        let (n, words) = part.split_once(' ').unwrap();
        by.insert(words.to_string(), n.parse().unwrap());
    }
    (total.parse().unwrap(), by)
}

fn words(by_key: &serde_json::Map<String, serde_json::Value>) -> BTreeMap<String, usize> {
    Reason::ALL
        .iter()
        .filter_map(|r| {
            let n = by_key.get(r.key())?.as_u64()? as usize;
            (n > 0).then(|| (r.words().to_string(), n))
        })
        .collect()
}

#[test]
fn one_run_says_the_same_counts_in_every_sink() {
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::ForeignProfile403, Fault::PublicCacheList]),
        ..ServerOptions::default()
    });
    let mut contract = Contract::load(&embedded_schemas()).unwrap();
    let cases = load_suite(&embedded_cases(), &mut contract).unwrap();
    let args = Arguments {
        skip: vec!["method_probes".into()],
        ..Arguments::default()
    };
    let plan = plan::build(cases, PlanOptions::default(), &|name, level| {
        report::selection(&args, name, level)
    });
    let base_url = server.base_url();
    let mut credentials = Credentials::of_reference_server(server.get().credentials());
    credentials.expired = None;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = rt.block_on(async {
        let client = HttpClient::new(&base_url, HttpOptions::default()).unwrap();
        run::run(&plan, Target::new(client, base_url.clone(), credentials, 8)).await
    });
    let policy = Policy {
        deviations: None,
        today: nexudus_conformance::deviation::today(),
        snapshots: None,
        deny_skipped: false,
    };
    let judgement = judge::judge(&plan, &run, &policy);
    let info = RunInfo {
        base_url: base_url.clone(),
        target_kind: "--base-url".into(),
        target_label: "impl-a".into(),
        contract_hash: "fnv1a64:0000000000000001".into(),
        started_at: "2026-11-30T03:00:00Z".into(),
        spawn_log: None,
    };
    // The judgement itself: every kind of outcome is there.
    let s = &judgement.summary;
    let want = Counts {
        passed: s.passed,
        failed: s.failed,
        not_judged: s.not_judged_total(),
        by_reason: Reason::ALL
            .iter()
            .filter(|r| s.not_judged(**r) > 0)
            .map(|r| (r.words().to_string(), s.not_judged(*r)))
            .collect(),
        should_not_followed: s.advice_not_followed.len(),
    };
    assert!(
        want.passed > 0 && want.failed > 0 && want.should_not_followed > 0,
        "{want:?}"
    );
    for reason in ["SHOULD not counted", "needs a fixture", "deselected"] {
        assert!(want.by_reason.contains_key(reason), "{reason}: {want:?}");
    }
    assert_eq!(want.not_judged, want.by_reason.values().sum::<usize>());
    let shown = want.not_judged - want.by_reason["deselected"];

    // The console, as libtest prints it: the trial lines, the result line, the verdict lines.
    let pretty = report::render(&plan, &judgement, FormatSetting::Pretty, false);
    let lines: Vec<&str> = pretty.lines().collect();
    let ending = |suffix: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with("test ") && l.contains(suffix))
            .count()
    };
    assert_eq!(ending("... ok"), want.passed, "{pretty}");
    assert_eq!(ending("... FAILED"), want.failed, "{pretty}");
    assert_eq!(ending("... ignored, "), shown, "{pretty}");
    assert_eq!(
        ending("... ignored, SHOULD rule not followed: "),
        want.should_not_followed
    );
    let result = lines
        .iter()
        .find(|l| l.starts_with("test result: "))
        .unwrap();
    assert!(
        result.contains(&format!(
            "{} passed; {} failed; {} ignored; 0 measured; {} filtered out;",
            want.passed, want.failed, shown, want.by_reason["deselected"]
        )),
        "{result}"
    );
    let not_judged_line = lines
        .iter()
        .find_map(|l| l.strip_prefix("not judged: "))
        .unwrap();
    let console_not_judged = parse_not_judged(not_judged_line);
    assert_eq!(
        console_not_judged,
        (want.not_judged, want.by_reason.clone())
    );
    let advice = lines.iter().find(|l| l.starts_with("advice: ")).unwrap();
    assert!(
        advice.contains("not_shared_cacheable ("),
        "{advice}\n{pretty}"
    );

    // JSON events.
    let json = report::render(&plan, &judgement, FormatSetting::Json, false);
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let suite = events.iter().rev().find(|e| e["type"] == "suite").unwrap();
    let json_counts = Counts {
        passed: suite["passed"].as_u64().unwrap() as usize,
        failed: suite["failed"].as_u64().unwrap() as usize,
        not_judged: suite["not_judged"].as_u64().unwrap() as usize,
        by_reason: words(suite["not_judged_by_reason"].as_object().unwrap()),
        should_not_followed: suite["should_not_followed"].as_array().unwrap().len(),
    };
    assert_eq!(json_counts, want);
    let event_count = |event: &str| {
        events
            .iter()
            .filter(|e| e["type"] == "test" && e["event"] == event)
            .count()
    };
    assert_eq!(
        (
            event_count("ok"),
            event_count("failed"),
            event_count("ignored")
        ),
        (want.passed, want.failed, shown)
    );

    // JUnit: a testcase per trial in the report; the suite's properties say the rest.
    let xml = report::render_junit(&plan, &judgement, &info).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &junit.test_suites[0];
    let property = |name: &str| {
        suite
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.as_str().parse::<usize>().unwrap())
    };
    let mut junit_counts = Counts {
        not_judged: property("not_judged").unwrap(),
        ..Counts::default()
    };
    for reason in Reason::ALL {
        if let Some(n) = property(&format!("not_judged.{}", reason.key())) {
            junit_counts.by_reason.insert(reason.words().into(), n);
        }
    }
    let mut skipped = 0;
    for case in &suite.test_cases {
        match &case.status {
            quick_junit::TestCaseStatus::Success { .. } => junit_counts.passed += 1,
            quick_junit::TestCaseStatus::NonSuccess { .. } => junit_counts.failed += 1,
            quick_junit::TestCaseStatus::Skipped { ty, .. } => {
                skipped += 1;
                if ty.as_ref().map(|t| t.as_str()) == Some("SHOULD not followed") {
                    junit_counts.should_not_followed += 1;
                }
            }
        }
    }
    assert_eq!(junit_counts, want);
    assert_eq!(skipped, shown);

    // The manifest, and the matrix made from it.
    let m = report::build_manifest(&judgement, &info, judgement.exit_code);
    let manifest_counts = Counts {
        passed: m.summary.passed,
        failed: m.summary.failed,
        not_judged: m.summary.not_judged,
        by_reason: words(
            &serde_json::to_value(&m.summary.not_judged_by_reason)
                .unwrap()
                .as_object()
                .unwrap()
                .clone(),
        ),
        should_not_followed: m.summary.should_not_followed.len(),
    };
    assert_eq!(manifest_counts, want);
    assert_eq!(
        m.trials
            .iter()
            .filter(|t| t.outcome == manifest::Outcome::NotJudged)
            .count(),
        want.not_judged
    );
    let targets = matrix::group(vec![m]);
    let markdown = matrix::markdown(&targets);
    let row = markdown
        .lines()
        .find(|l| l.starts_with("| impl-a |"))
        .unwrap();
    let cells: Vec<&str> = row.split(" | ").collect();
    assert_eq!(cells[1], "does not conform");
    assert_eq!(
        (cells[2], cells[3], cells[4]),
        (
            want.passed.to_string().as_str(),
            want.failed.to_string().as_str(),
            want.should_not_followed.to_string().as_str(),
        )
    );
    assert_eq!(
        parse_not_judged(cells[5]),
        (want.not_judged, want.by_reason.clone())
    );

    // The HTML report: the verdict lines as the console says them, and a row per trial.
    let page = report::render_html(&plan, &judgement, &info, &run.exchanges, &|s| s.to_string());
    assert!(
        page.contains(&format!(
            "<p class=\"verdict\">not judged: {not_judged_line}</p>"
        )),
        "{page}"
    );
    for (reason, n) in &want.by_reason {
        assert!(
            page.contains(&format!("<tr><td>{reason}</td><td>{n}</td></tr>")),
            "{reason}"
        );
    }
    let rows = |class: &str| page.matches(&format!("<tr class=\"{class}\"><td>")).count();
    assert_eq!(rows("ok"), want.passed);
    assert_eq!(rows("failed"), want.failed);
    assert_eq!(rows("advice"), want.should_not_followed);
    assert_eq!(rows("ignored") + rows("advice"), shown);
    assert!(page.contains("<p class=\"result failed\">DOES NOT CONFORM</p>"));
}
