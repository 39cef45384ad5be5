//! Nightly regression: the run manifest (validated against its schema), the compliance matrix
//! command, and the known-deviations ledger.

use nexudus_conformance::server::{Fault, Faults, ServerOptions};
use serde_json::Value;

use crate::support::{Server, args, harness, remote_args};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nxc-it-{}-{name}", std::process::id()))
}

fn manifest_validator() -> jsonschema::Validator {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/manifest.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn read_manifest(path: &std::path::Path) -> Value {
    let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let errors: Vec<String> = manifest_validator()
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the manifest matches schemas/manifest.schema.json: {errors:?}"
    );
    value
}

fn trial<'a>(manifest: &'a Value, name: &str) -> &'a Value {
    manifest["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no trial {name}"))
}

#[test]
fn the_manifest_records_the_run_and_matches_its_schema() {
    let path = temp("manifest-ok.json");
    let run = harness(&args(&[
        "--manifest",
        path.to_str().unwrap(),
        "--skip",
        "invalid_coworker_id",
    ]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let m = read_manifest(&path);
    assert_eq!(m["target"]["label"], "embedded");
    assert_eq!(m["harness_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["exit_code"], 0);
    assert!(
        m["target"]["base_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let trials = m["trials"].as_array().unwrap();
    let count = |outcome: &str| trials.iter().filter(|t| t["outcome"] == outcome).count();
    for outcome in ["passed", "failed", "not_judged"] {
        assert_eq!(m["summary"][outcome], count(outcome), "{outcome}");
    }
    // Every trial not judged says why, and the reasons add up.
    let reason = |r: &str| trials.iter().filter(|t| t["reason"] == r).count();
    for (key, n) in m["summary"]["not_judged_by_reason"].as_object().unwrap() {
        assert_eq!(n.as_u64().unwrap() as usize, reason(key), "{key}");
    }
    assert_eq!(m["summary"]["verdict"], "conforms");
    assert!(reason("deselected") > 0 && reason("should_not_counted") > 0 && count("passed") > 0);
    let advice = trial(&m, "valid_switch::json_content_type");
    assert_eq!(
        (&advice["outcome"], &advice["reason"], &advice["advice"]),
        (
            &serde_json::json!("not_judged"),
            &serde_json::json!("should_not_counted"),
            &serde_json::json!("followed")
        )
    );
    assert_eq!(advice["level"], "should");
}

#[test]
fn failures_and_unusable_targets_are_recorded() {
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::ForeignProfile403]),
        ..ServerOptions::default()
    });
    let path = temp("manifest-failed.json");
    let mut a = server.target_args();
    a.extend(args(&[
        "--manifest",
        path.to_str().unwrap(),
        "--target-label",
        "Staging",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 101, "{}", run.all_output());
    let m = read_manifest(&path);
    assert_eq!(m["exit_code"], 101);
    assert_eq!(m["target"]["label"], "staging");
    let t = trial(&m, "foreign_profile::status_is_404");
    assert_eq!(t["outcome"], "failed");
    assert_eq!(t["failure"], "violation");
    assert_eq!(t["message"], "expected status 404, got status 403");
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in server.secrets() {
        assert!(!text.contains(&secret));
    }
    let unusable = temp("manifest-unusable.json");
    let port = crate::support::free_port();
    let run = harness(&remote_args(
        &format!("http://127.0.0.1:{port}"),
        &["--manifest", unusable.to_str().unwrap()],
    ));
    assert_eq!(run.code, 3, "{}", run.all_output());
    let m = read_manifest(&unusable);
    assert_eq!(m["exit_code"], 3);
    let t = trial(&m, "valid_switch::status_is_200");
    assert_eq!(
        (t["outcome"].as_str(), t["reason"].as_str()),
        (Some("not_judged"), Some("unusable"))
    );
    assert_eq!(m["summary"]["verdict"], "no_verdict");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .starts_with("not judged: target unusable: ")
    );
}

#[test]
fn matrix_renders_manifests_and_refuses_bad_ones() {
    let (a, b) = (temp("matrix-a.json"), temp("matrix-b.json"));
    assert_eq!(harness(&args(&["--manifest", a.to_str().unwrap()])).code, 0);
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::ForeignProfile403]),
        ..ServerOptions::default()
    });
    let mut x = server.target_args();
    x.extend(args(&[
        "--manifest",
        b.to_str().unwrap(),
        "--target-label",
        "impl-b",
    ]));
    assert_eq!(harness(&x).code, 101);
    let html = temp("matrix.html");
    let run = harness(&args(&[
        "matrix",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains("| trial | level | embedded | impl-b |"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("| `foreign_profile::status_is_404` | MUST | pass | FAIL |"),
        "{}",
        run.stdout
    );
    // The summary comes first; failing rows before the folded passing ones.
    let summary = run.stdout.find("## Summary").unwrap();
    let failing = run.stdout.find("## Needs attention: ").unwrap();
    let folded = run
        .stdout
        .find("<details><summary>Passed everywhere")
        .unwrap();
    assert!(summary < failing && failing < folded, "{}", run.stdout);
    assert!(
        !run.stdout[folded..].contains("| `foreign_profile::status_is_404`"),
        "{}",
        run.stdout
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("<td class=\"failed\""),
        "{page}"
    );
    // A failing cell's tooltip carries the run's message.
    assert!(
        page.contains("<td class=\"failed\" title=\"impl-b: FAIL: expected status 404"),
        "{page}"
    );
    // Words, not emoji (which render as empty boxes without an emoji font): nothing but ASCII
    // and common punctuation any text font has.
    let odd: Vec<char> = page
        .chars()
        .chain(run.stdout.chars())
        .filter(|c| !c.is_ascii() && !['–', '→', '·'].contains(c))
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    assert!(
        !page.contains("<script") && !page.contains("<link"),
        "self-contained: {page}"
    );

    let bad = temp("matrix-bad.json");
    std::fs::write(&bad, "{\"format\": \"other/9\"}").unwrap();
    let run = harness(&args(&["matrix", bad.to_str().unwrap()]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(run.stderr.contains("matrix-bad.json:1:"), "{}", run.stderr);
}

fn ledger(name: &str, entries: Value) -> std::path::PathBuf {
    let path = temp(name);
    std::fs::write(
        &path,
        serde_json::json!({ "deviations": entries }).to_string(),
    )
    .unwrap();
    path
}

fn run_with_ledger(
    faults: Faults,
    ledger: &std::path::Path,
    extra: &[&str],
) -> crate::support::Run {
    let server = Server::start_with(ServerOptions {
        faults,
        ..ServerOptions::default()
    });
    let mut a = server.target_args();
    a.extend(args(&["--known-deviations", ledger.to_str().unwrap()]));
    a.extend(args(extra));
    harness(&a)
}

#[test]
fn a_listed_failure_is_ignored_with_its_reason() {
    let path = ledger(
        "dev-ok.json",
        serde_json::json!([
            {"trial": "foreign_profile::status_is_404", "reason": "answers 403, fix planned", "link": "https://tracker.example/42", "expires": "2999-12-31"}
        ]),
    );
    let manifest = temp("dev-manifest.json");
    let run = run_with_ledger(
        Faults::from([Fault::ForeignProfile403]),
        &path,
        // foreign_profile_403 also refuses the other user's token with 403 there, and another
        // user's profile where it is compared with an unknown one.
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "--skip",
            "credential_probes",
            "--skip",
            "indistinguishable_refusals",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("ignored, not judged: known deviation: answers 403, fix planned (https://tracker.example/42), until 2999-12-31"), "{}", run.stdout);
    assert!(
        run.trials()
            .contains(&("known_deviations::none_expired".into(), "ok".into()))
    );
    let m = read_manifest(&manifest);
    assert_eq!(
        trial(&m, "foreign_profile::status_is_404")["reason"],
        "known_deviation"
    );
    assert_eq!(m["summary"]["not_judged_by_reason"]["known_deviation"], 1);
    assert!(
        run.stdout.contains(" 1 known deviation,") && !run.stdout.contains("1 known deviations"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_listed_trial_that_passes_fails_the_run() {
    let path = ledger(
        "dev-pass.json",
        serde_json::json!([
            {"rule": "foreign_profile::status_is_404", "reason": "was broken", "expires": "2999-12-31"}
        ]),
    );
    let run = run_with_ledger(Faults::new(), &path, &[]);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert_eq!(run.failed(), vec!["foreign_profile::status_is_404"]);
    assert!(
        run.stdout
            .contains("remove the entry: the known-deviations list only shrinks"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_expired_entry_fails_the_run() {
    let path = ledger(
        "dev-expired.json",
        serde_json::json!([
            {"trial": "foreign_profile::status_is_404", "reason": "answers 403", "expires": "2020-01-01"}
        ]),
    );
    let skip = [
        "--skip",
        "credential_probes",
        "--skip",
        "indistinguishable_refusals",
    ];
    let run = run_with_ledger(Faults::from([Fault::ForeignProfile403]), &path, &skip);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert_eq!(
        run.failed(),
        vec![
            "foreign_profile::status_is_404",
            "known_deviations::none_expired"
        ]
    );
    assert!(
        run.stdout
            .contains("expired on 2020-01-01: fix the target or extend the entry"),
        "{}",
        run.stdout
    );
    // Expired even when the trial it names passes now (then both fail).
    let run = run_with_ledger(Faults::new(), &path, &skip);
    assert_eq!(
        run.failed(),
        vec![
            "foreign_profile::status_is_404",
            "known_deviations::none_expired"
        ]
    );
}

#[test]
fn a_ledger_entry_that_matches_nothing_is_bad_input() {
    let path = ledger(
        "dev-typo.json",
        serde_json::json!([
            {"trial": "foreign_profile::status_is_40", "reason": "typo", "expires": "2999-12-31"}
        ]),
    );
    let run = run_with_ledger(Faults::new(), &path, &[]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(run.stderr.contains("at #/deviations/0/trial: `foreign_profile::status_is_40` matches no trial of the catalog; did you mean `foreign_profile::status_is_404`?"), "{}", run.stderr);
}

#[test]
fn matrix_warns_when_one_label_names_different_targets() {
    let mut paths = Vec::new();
    for i in 0..2 {
        let server = Server::start();
        let path = temp(&format!("mixed-{i}.json"));
        let mut a = server.target_args();
        a.extend(args(&[
            "--manifest",
            path.to_str().unwrap(),
            "--target-label",
            "shared",
            "--no-snapshots",
            "valid_switch::status_is_200",
        ]));
        assert_eq!(harness(&a).code, 0);
        paths.push(path);
    }
    let run = harness(&args(&[
        "matrix",
        paths[0].to_str().unwrap(),
        paths[1].to_str().unwrap(),
    ]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("warning: the runs labelled `shared` name different base URLs"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_default_label_names_host_and_port() {
    let server = Server::start();
    let path = temp("label-port.json");
    let mut a = server.target_args();
    a.extend(args(&[
        "--manifest",
        path.to_str().unwrap(),
        "valid_switch::status_is_200",
    ]));
    assert_eq!(harness(&a).code, 0);
    let port = server.base_url().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        read_manifest(&path)["target"]["label"],
        format!("127.0.0.1_{port}")
    );
}

#[test]
fn a_second_run_keeps_the_first_ones_manifest() {
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-numbered", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("prod-2026-11-30.json");
    let a = args(&["--manifest", path.to_str().unwrap(), "profiles_list::"]);
    let first = harness(&a);
    assert_eq!(first.code, 0, "{}", first.all_output());
    let before = std::fs::read_to_string(&path).unwrap();
    // The same path again: the next free number, said on stderr; the first one is kept.
    let second = harness(&a);
    assert_eq!(second.code, 0, "{}", second.all_output());
    let numbered = dir.join("prod-2026-11-30.2.json");
    assert!(numbered.exists());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert!(
        second.stderr.contains(&format!(
            "manifest: {} ({} holds an earlier run's; --force overwrites it)",
            numbered.display(),
            path.display()
        )),
        "{}",
        second.stderr
    );
    // --force overwrites.
    let mut forced = a.clone();
    forced.push("--force".into());
    let third = harness(&forced);
    assert_eq!(third.code, 0, "{}", third.all_output());
    assert!(!dir.join("prod-2026-11-30.3.json").exists());
    assert!(!third.stderr.contains("manifest: "), "{}", third.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
