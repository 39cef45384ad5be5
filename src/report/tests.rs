//! The sinks, tested in-process from a hand-built run report (as Hurl and nextest test their
//! reporters): every format is pinned with a snapshot, and none may change an outcome.

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::FormatSetting;

use super::*;
use crate::api::Credential;
use crate::case::{Level, load_cases};
use crate::check::{Finding, Verdict};
use crate::contract::Contract;
use crate::http::{Exchange, HttpResponse, TransportError};
use crate::judge::{self, Judgement, Policy};
use crate::plan::{self, Plan, PlanOptions, Selection};
use crate::record::{ExchangeRecord, Observed, RunReport, TrialRecord};
use crate::source::{embedded_cases, embedded_schemas};

/// `valid_switch` and the restore trial, SHOULD rules ignored, everything else filtered out.
fn plan() -> Plan {
    let mut contract = Contract::load(&embedded_schemas()).unwrap();
    let cases = load_cases(&embedded_cases(), &mut contract).unwrap();
    plan::build(cases, PlanOptions::default(), &|name, level| {
        if !(name.starts_with("valid_switch::") || name.starts_with("restore::")) {
            Selection::FilteredOut
        } else if level == Level::Should {
            Selection::Ignored
        } else {
            Selection::Run
        }
    })
}

fn exchange(status: u16, body: &str, elapsed_ms: u64) -> Arc<ExchangeRecord> {
    Arc::new(ExchangeRecord {
        context: "valid_switch/switch".into(),
        credential: Credential::Primary,
        token: None,
        path: "/api/public/coworkers/profiles/current".into(),
        exchange: Exchange {
            method: "PUT",
            url: "http://127.0.0.1:8080/api/public/coworkers/profiles/current?coworkerId=1102"
                .into(),
            outcome: Ok(HttpResponse {
                status,
                headers: vec![(
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                )],
                body: body.as_bytes().to_vec(),
            }),
            elapsed: Duration::from_millis(elapsed_ms),
            retries: 0,
        },
    })
}

/// A run of that plan in which one rule is violated, one could not be judged, one was not run,
/// and the rest passed.
fn judged() -> (Plan, RunReport, Judgement) {
    let plan = plan();
    let mut results = vec![None; plan.trials.len()];
    for (i, spec) in plan.trials.iter().enumerate() {
        if !spec.selected {
            continue;
        }
        let record = match spec.name.as_str() {
            "valid_switch::status_is_200" => TrialRecord {
                observed: Observed::Judged(Verdict::Violation(Finding {
                    expected: "status 200".into(),
                    actual: "status 500".into(),
                    details: Vec::new(),
                    diff: None,
                })),
                exchange: Some(exchange(500, r#"{"Message":"boom"}"#, 42)),
                duration: Duration::from_millis(42),
                notes: Vec::new(),
            },
            "valid_switch::was_successful" => TrialRecord {
                observed: Observed::Judged(Verdict::Broken(
                    TransportError::Timeout(Duration::from_secs(1)).to_string(),
                )),
                exchange: None,
                duration: Duration::from_millis(1000),
                notes: Vec::new(),
            },
            "valid_switch::original_is_default_again" => TrialRecord::bare(Observed::NotRun(
                "step `switch_back` could not be completed".into(),
            )),
            _ => TrialRecord {
                observed: Observed::Judged(Verdict::Pass(None)),
                exchange: Some(exchange(200, "{}", 7)),
                duration: Duration::from_millis(7),
                notes: Vec::new(),
            },
        };
        results[i] = Some(record);
    }
    let report = RunReport {
        base_url: "http://127.0.0.1:8080".into(),
        results,
        elapsed: Duration::from_millis(14_250),
        ..RunReport::default()
    };
    let policy = Policy {
        deviations: None,
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
        snapshots: None,
        deny_skipped: false,
    };
    let judgement = judge::judge(&plan, &report, &policy);
    (plan, report, judgement)
}

fn info() -> RunInfo {
    RunInfo {
        base_url: "http://127.0.0.1:8080".into(),
        target_kind: "--base-url".into(),
        target_label: "staging".into(),
        contract_hash: "0123456789abcdef".into(),
        started_at: "2026-11-29T02:00:00Z".into(),
        spawn_log: None,
    }
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn the_console_formats_show_real_durations_and_clean_texts() {
    let (plan, _, judgement) = judged();
    let pretty = console::render(&plan, &judgement, FormatSetting::Pretty, false);
    assert!(pretty.contains("finished in 14.25s"), "{pretty}");
    let terse = console::render(&plan, &judgement, FormatSetting::Terse, false);
    let json = console::render(&plan, &judgement, FormatSetting::Json, false);
    for line in json.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if event["event"] == "failed" && event["type"] == "test" {
            assert!(event["level"].is_string(), "{line}");
            assert!(
                !event["message"].as_str().unwrap().starts_with("Error:"),
                "{line}"
            );
        }
        if event["event"] == "ignored" {
            assert!(event["reason"].is_string(), "{line}");
        }
    }
    snapshot("report_pretty", &pretty);
    snapshot("report_terse", &terse);
    snapshot("report_json", &json);
}

#[test]
fn colours_wrap_only_the_outcome_words() {
    let (plan, _, judgement) = judged();
    let coloured = console::render(&plan, &judgement, FormatSetting::Pretty, true);
    assert!(coloured.contains("\u{1b}[31mFAILED\u{1b}[0m"), "{coloured}");
    assert!(coloured.contains("\u{1b}[32mok\u{1b}[0m"), "{coloured}");
    assert_eq!(
        anstream::adapter::strip_str(&coloured).to_string(),
        console::render(&plan, &judgement, FormatSetting::Pretty, false)
    );
}

#[test]
fn junit_carries_the_label_times_and_texts() {
    let (plan, _, judgement) = judged();
    let xml = render_junit(&plan, &judgement, &info()).unwrap();
    assert!(
        xml.contains(r#"<property name="target_label" value="staging"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"time="0.042""#), "{xml}");
    snapshot("report_junit", &xml);
}

#[test]
fn the_manifest_records_outcomes_as_judged() {
    let (_, _, judgement) = judged();
    let manifest = build_manifest(&judgement, &info(), judgement.exit_code);
    assert_eq!(manifest.exit_code, crate::exit::FAILED);
    assert_eq!(manifest.duration_ms, 14_250);
    assert_eq!(manifest.target.label, "staging");
    snapshot(
        "report_manifest",
        &serde_json::to_string_pretty(&manifest).unwrap(),
    );
}
