//! What the reports say through the binary: files on every path, the right label, real
//! durations, clean JSON events, output paths checked before anything is sent, and live progress.

use std::time::Duration;

use nexudus_conformance::server::ServerOptions;

use crate::support::{Server, args, free_port, harness, remote_args, spawn_harness, wait_until};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nxc-it-{}-{name}", std::process::id()))
}

fn junit_of(path: &std::path::Path) -> quick_junit::Report {
    let xml = std::fs::read_to_string(path).unwrap();
    quick_junit::Report::deserialize_from_str(&xml).unwrap()
}

fn property(report: &quick_junit::Report, name: &str) -> Option<String> {
    report.test_suites[0]
        .properties
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(|p| p.value.to_string())
}

#[test]
fn an_unreachable_target_still_gets_its_junit_and_manifest() {
    let junit = temp("unreachable.xml");
    let manifest = temp("unreachable.json");
    let run = harness(&remote_args(
        &format!("http://127.0.0.1:{}", free_port()),
        &[
            "--junit",
            junit.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    ));
    assert_eq!(run.code, 3, "{}", run.all_output());
    let report = junit_of(&junit);
    let cases = &report.test_suites[0].test_cases;
    assert!(
        !cases.is_empty(),
        "a JUnit file with the trials, not 0 bytes"
    );
    let status = &cases
        .iter()
        .find(|c| {
            c.name.as_str() == "status_is_200"
                && c.classname.as_ref().map(|c| c.as_str()) == Some("valid_switch")
        })
        .unwrap()
        .status;
    // Not judged, with the reason; the suite's properties carry the verdict.
    match status {
        quick_junit::TestCaseStatus::Skipped { message, ty, .. } => {
            assert_eq!(ty.as_ref().unwrap().as_str(), "target unusable");
            assert!(
                message
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .starts_with("not judged: target unusable: "),
                "{message:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let properties = &report.test_suites[0].properties;
    assert!(
        properties
            .iter()
            .any(|p| p.name.as_str() == "verdict" && p.value.as_str() == "no_verdict"),
        "{properties:?}"
    );
    assert!(std::fs::metadata(&manifest).unwrap().len() > 0);
}

#[test]
fn junit_names_the_target_label_and_the_kind_apart() {
    let server = Server::start();
    let junit = temp("label.xml");
    let mut a = server.target_args();
    a.extend(args(&[
        "--junit",
        junit.to_str().unwrap(),
        "--target-label",
        "staging-eu",
        "--snapshots",
        temp("label-snapshots").to_str().unwrap(),
        "--update-snapshots",
        "no",
        "valid_switch::status_is_200",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report = junit_of(&junit);
    assert_eq!(
        property(&report, "target_label").as_deref(),
        Some("staging-eu")
    );
    assert_eq!(
        property(&report, "target_kind").as_deref(),
        Some("--base-url")
    );
}

#[test]
fn durations_are_the_real_ones_in_every_format() {
    // 40 ms per response: every trial that judged a response took at least that, and the suite
    // took at least the sum of its dependent round trips.
    let server = Server::start_with(ServerOptions {
        latency: Duration::from_millis(40),
        ..ServerOptions::default()
    });
    let junit = temp("durations.xml");
    let mut a = server.target_args();
    a.extend(args(&[
        "valid_switch::",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let suite = events.last().unwrap();
    // Discovery, four steps, the final check: six round trips of 40 ms at least.
    assert!(suite["exec_time"].as_f64().unwrap() >= 0.24, "{suite}");
    let passed = events
        .iter()
        .find(|e| e["name"] == "valid_switch::status_is_200" && e["event"] == "ok")
        .unwrap();
    let secs = passed["exec_time"].as_f64().unwrap();
    assert!(
        (0.04..10.0).contains(&secs),
        "seconds, not microseconds: {passed}"
    );
    let report = junit_of(&junit);
    let case = report.test_suites[0]
        .test_cases
        .iter()
        .find(|c| {
            c.name.as_str() == "status_is_200"
                && c.classname.as_ref().map(|c| c.as_str()) == Some("valid_switch")
        })
        .unwrap();
    assert!(
        case.time.unwrap() >= Duration::from_millis(40),
        "{:?}",
        case.time
    );
    let pretty = harness(&server.target_args_with(&["valid_switch::"]));
    let line = pretty
        .stdout
        .lines()
        .find(|l| l.starts_with("test result:"))
        .unwrap();
    let secs: f64 = line
        .rsplit("finished in ")
        .next()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(secs >= 0.24, "{line}");
}

#[test]
fn json_events_carry_the_level_and_the_clean_text() {
    let server = Server::start_with(ServerOptions {
        faults: nexudus_conformance::server::Faults::from([
            nexudus_conformance::server::Fault::ForeignProfile403,
        ]),
        ..ServerOptions::default()
    });
    let run = harness(&server.target_args_with(&["foreign_profile::", "--format", "json"]));
    assert_eq!(run.code, 101, "{}", run.all_output());
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed = events
        .iter()
        .find(|e| e["name"] == "foreign_profile::status_is_404" && e["event"] == "failed")
        .unwrap();
    assert_eq!(failed["level"], "must");
    assert_eq!(failed["failure"], "violation");
    assert_eq!(failed["message"], "expected status 404, got status 403");
    assert!(
        failed["stdout"]
            .as_str()
            .unwrap()
            .starts_with("rule:      foreign_profile::status_is_404 [MUST]"),
        "{failed}"
    );
    let ignored = events
        .iter()
        .find(|e| e["name"] == "foreign_profile::failure_envelope" && e["event"] == "ignored")
        .unwrap();
    assert_eq!(ignored["level"], "should");
    // A SHOULD rule is judged in every run, as advice: the event says what it showed.
    assert_eq!(ignored["reason"], "SHOULD rule followed (not counted)");
    assert_eq!(ignored["not_judged"], "should_not_counted");
    assert_eq!(ignored["advice"], "followed");
}

#[test]
fn output_paths_are_checked_before_anything_is_sent() {
    let server = Server::start();
    let mut a = server.target_args();
    a.extend(args(&["--manifest", "/proc/no-such-dir/manifest.json"]));
    let run = harness(&a);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("--manifest: cannot write"),
        "{}",
        run.stderr
    );
    assert_eq!(server.get().requests_received(), 0, "nothing was sent");
}

#[test]
fn a_late_write_failure_has_its_own_exit_code() {
    // The manifest's directory exists when the flags are checked and is replaced by a file while
    // the run is in flight, so the write at the end fails.
    let server = Server::start_with(ServerOptions {
        latency: Duration::from_millis(30),
        ..ServerOptions::default()
    });
    let dir = temp("late-write");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    let mut a = server.target_args();
    a.extend(args(&[
        "--manifest",
        manifest.to_str().unwrap(),
        "valid_switch::",
    ]));
    let child = spawn_harness(&a);
    wait_until("the first request", || server.get().requests_received() > 0);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, "now a file").unwrap();
    let run = crate::support::finish(child);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("cannot write --manifest"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("test result: ok."),
        "the report is complete: {}",
        run.stdout
    );
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn progress_shows_one_line_per_case_while_the_run_is_in_flight() {
    let server = Server::start_with(ServerOptions {
        latency: Duration::from_millis(20),
        ..ServerOptions::default()
    });
    let run = harness(&server.target_args_with(&["--progress", "lines", "--max-rps", "20"]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        lines.len(),
        23,
        "one per case that has a selected trial: {}",
        run.stderr
    );
    assert!(
        lines.iter().any(|l| l.contains("valid_switch: ok (")),
        "{}",
        run.stderr
    );
    assert!(lines.last().unwrap().starts_with("[23/23]"), "{lines:?}");
    let quiet = harness(&server.target_args_with(&["--progress", "never"]));
    assert!(
        !quiet.stderr.lines().any(|l| l.starts_with('[')),
        "{}",
        quiet.stderr
    );
}

/// How often each of these tags opens and closes in `page`.
fn balanced(page: &str, tags: &[&str]) {
    for tag in tags {
        let opens =
            page.matches(&format!("<{tag}>")).count() + page.matches(&format!("<{tag} ")).count();
        let closes = page.matches(&format!("</{tag}>")).count();
        assert_eq!(
            opens, closes,
            "<{tag}> opened {opens} times, closed {closes}"
        );
    }
}

#[test]
fn the_html_report_has_the_summary_then_each_case_and_needs_nothing_else() {
    use nexudus_conformance::server::{Fault, Faults};
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::AcceptForeignProfile]),
        ..ServerOptions::default()
    });
    let dir = temp("html");
    let _ = std::fs::remove_dir_all(&dir);
    let mut a = server.target_args();
    a.extend(args(&[
        "--include-ignored",
        "--no-snapshots",
        "--report-html",
        dir.to_str().unwrap(),
        // foreign_profile fails under the fault; profiles_list, among others, passes.
        "profile",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 101, "{}", run.all_output());
    let index = dir.join("index.html");
    assert!(
        run.stderr
            .contains(&format!("HTML report: {}", index.display())),
        "{}",
        run.stderr
    );
    let page = std::fs::read_to_string(&index).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    balanced(
        &page,
        &[
            "html", "head", "body", "section", "table", "tr", "pre", "details", "nav", "ul",
        ],
    );
    // Self-contained: no script, no stylesheet or image from elsewhere; links stay in the page.
    for forbidden in ["<script", "<link", "<img", "src=", "@import", "href=\"http"] {
        assert!(!page.contains(forbidden), "{forbidden}");
    }
    // The summary comes first, with the verdict by level and the run's facts.
    let summary = page.find("<section id=\"summary\">").unwrap();
    let first_case = page.find("<section class=\"case\"").unwrap();
    assert!(summary < first_case);
    for fact in [
        "<tr><th>MUST</th><td>",
        "<tr><th>SHOULD</th><td>",
        "not judged",
        &format!("<tr><th>target</th><td>{}</td></tr>", server.base_url()),
        &format!(
            "<tr><th>harness</th><td>nexudus-conformance {}</td></tr>",
            env!("CARGO_PKG_VERSION")
        ),
        "<tr><th>duration</th><td>",
        "<p class=\"result failed\">DOES NOT CONFORM</p>",
        "<p class=\"verdict\">verdict: does not conform: ",
    ] {
        assert!(page[..first_case].contains(fact), "{fact}");
    }
    // Each case that ran, the failing one first, with its trials, its failure texts and the
    // exchanges it sent with their curl.
    let failing = page
        .find("<section class=\"case\" id=\"case-foreign_profile\">")
        .unwrap();
    let passing = page
        .find("<section class=\"case\" id=\"case-profiles_list\">")
        .unwrap();
    assert!(failing < passing);
    let case = &page[failing..];
    let case = &case[..case[1..].find("<section").map_or(case.len(), |i| i + 1)];
    assert!(case.contains("<td>foreign_profile::status_is_404</td><td>MUST</td><td>FAILED</td>"));
    assert!(case.contains("<pre>rule:      foreign_profile::status_is_404 [MUST]"));
    assert!(case.contains(
        "see:       SW https://developers.nexudus.com/api/endpoints/coworkers/switch-profile"
    ));
    // Its exchanges, open because it failed (sent twice: together with the other refusing
    // cases, then alone once the account had changed).
    assert!(case.contains("<details open><summary>"), "{case}");
    assert!(
        case.contains(
            "<pre class=\"curl\">curl -sS -i -X PUT -H \"Authorization: Bearer $NEXUDUS_TOKEN\""
        ),
        "{case}"
    );
    assert!(
        page[passing..].contains("<details><summary>"),
        "a passing case's exchanges are folded"
    );
    for secret in server.secrets() {
        assert!(!page.contains(&secret), "the page holds a secret");
    }
}
