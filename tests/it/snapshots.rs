//! Nightly regression: response snapshots and drift.

use nexudus_conformance::server::{Fault, Faults, ServerOptions};

use crate::support::{Server, args, harness, harness_env};

/// A copy of the repository's embedded-server snapshots in a fresh directory, so that runs may
/// write `.snap.new` files without touching the repository.
fn snapshot_copy(name: &str) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join("embedded");
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("embedded")).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "snap") {
            std::fs::copy(entry.path(), dir.join("embedded").join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn run_with_fault(
    fault: Option<Fault>,
    dir: &std::path::Path,
    extra: &[&str],
) -> crate::support::Run {
    let server = Server::start_with(ServerOptions {
        faults: fault.into_iter().collect::<Faults>(),
        ..ServerOptions::default()
    });
    let mut a = server.target_args();
    a.extend(args(&[
        "--target-label",
        "embedded",
        "--snapshots",
        dir.to_str().unwrap(),
        "--update-snapshots",
        "new",
    ]));
    a.extend(args(extra));
    harness(&a)
}

#[test]
fn the_reference_server_matches_its_committed_snapshots() {
    let dir = snapshot_copy("match");
    let run = run_with_fault(None, &dir, &["--include-ignored"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(
        run.trials()
            .iter()
            .filter(|(n, r)| n.ends_with("::snapshot") && r == "ok")
            .count(),
        22
    );
}

#[test]
fn an_added_field_is_drift_with_the_field_named() {
    let dir = snapshot_copy("drift");
    let run = run_with_fault(Some(Fault::ExtraProfileField), &dir, &["--include-ignored"]);
    assert_eq!(run.code, 101, "{}", run.all_output());
    let failed = run.failed();
    assert!(
        failed.iter().all(|t| t.ends_with("::snapshot")),
        "only drift fails: {failed:?}"
    );
    assert!(
        failed.contains(&"profiles_list::snapshot".to_string()),
        "{failed:?}"
    );
    assert!(
        run.stdout
            .contains("fields not in the stored snapshot: /Profiles/*/UpdatedOn"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+      \"UpdatedOn\": \"[date]\""),
        "the diff shows the field: {}",
        run.stdout
    );
    let pending = dir.join("embedded").join("profiles_list.snap.new");
    let text = std::fs::read_to_string(&pending).unwrap();
    assert!(
        text.starts_with("---\nsource: cases/profiles_list.json\n"),
        "{text}"
    );
    assert!(
        run.stdout
            .contains(&format!("written to {}", pending.display())),
        "{}",
        run.stdout
    );

    // Drift is SHOULD: ignored by default, so the same run without --include-ignored passes...
    let run = run_with_fault(Some(Fault::ExtraProfileField), &dir, &[]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    // ...unless --deny-drift makes it MUST.
    let run = run_with_fault(Some(Fault::ExtraProfileField), &dir, &["--deny-drift"]);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert!(
        run.failed()
            .contains(&"profiles_list::snapshot".to_string())
    );
}

#[test]
fn a_new_status_code_is_named() {
    let dir = snapshot_copy("status");
    let run = run_with_fault(
        Some(Fault::ForeignProfile403),
        &dir,
        &["--include-ignored", "foreign_profile::"],
    );
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert!(
        run.stdout
            .contains("statuses not in the stored snapshot: switch: 403"),
        "{}",
        run.stdout
    );
}

#[test]
fn accepting_drift_updates_the_snapshot_and_passes() {
    let dir = snapshot_copy("accept");
    let run = run_with_fault(
        Some(Fault::ExtraProfileField),
        &dir,
        &[
            "--include-ignored",
            "--update-snapshots",
            "always",
            "profiles_list::",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let stored = std::fs::read_to_string(dir.join("embedded").join("profiles_list.snap")).unwrap();
    assert!(stored.contains("UpdatedOn"), "{stored}");
    let run = run_with_fault(
        Some(Fault::ExtraProfileField),
        &dir,
        &["--include-ignored", "profiles_list::"],
    );
    assert_eq!(
        run.code,
        0,
        "accepted drift is the new baseline: {}",
        run.all_output()
    );
}

#[test]
fn a_nightly_passes_from_its_first_night() {
    // README's recipe, under CI, against a label with no snapshots yet: the first night records
    // every case's snapshot as the baseline (said so, not failed); the second compares with it.
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-fresh", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start();
    let runs = dir.join("runs");
    let mut a = server.target_args();
    a.extend(args(&[
        "--target-label",
        "Staging EU",
        "--snapshots",
        dir.to_str().unwrap(),
        "--include-ignored",
        "--deadline",
        "600",
        "--manifest",
        runs.join("staging.json").to_str().unwrap(),
        "--junit",
        dir.join("nightly.xml").to_str().unwrap(),
        "--report-html",
        dir.join("report").to_str().unwrap(),
    ]));
    let first = harness_env(&a, &[("CI", "true")]);
    assert_eq!(first.code, 0, "{}", first.all_output());
    let baselines: Vec<(String, String)> = first
        .trials()
        .into_iter()
        .filter(|(n, _)| n.ends_with("::snapshot"))
        .collect();
    assert_eq!(baselines.len(), 22);
    let stored = dir.join("staging-eu").join("valid_switch.snap");
    assert!(
        baselines.contains(&(
            "valid_switch::snapshot".into(),
            format!(
                "ignored, not judged: baseline recorded: written to {}: no snapshot of target \
                 `staging-eu` was stored; later runs compare with it",
                stored.display()
            )
        )),
        "{baselines:?}"
    );
    assert!(
        first.stdout.contains("22 baseline recorded)"),
        "{}",
        first.stdout
    );
    assert_eq!(
        std::fs::read_dir(dir.join("staging-eu")).unwrap().count(),
        22
    );
    assert!(runs.join("staging.json").exists() && dir.join("report/index.html").exists());
    // Snapshots hold no secrets: tokens are placeholders.
    for entry in std::fs::read_dir(dir.join("staging-eu")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for secret in server.secrets() {
            assert!(!text.contains(&secret), "{}", entry.path().display());
        }
    }
    let second = harness_env(&a, &[("CI", "true")]);
    assert_eq!(second.code, 0, "{}", second.all_output());
    assert!(
        second
            .trials()
            .iter()
            .filter(|(n, _)| n.ends_with("::snapshot"))
            .all(|(_, r)| r == "ok"),
        "{}",
        second.stdout
    );
}

#[test]
fn update_snapshots_no_writes_nothing_and_fails_what_it_cannot_compare() {
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-nowrite", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start();
    let mut a = server.target_args();
    a.extend(args(&[
        "--target-label",
        "Staging EU",
        "--snapshots",
        dir.to_str().unwrap(),
        "--include-ignored",
        "--update-snapshots",
        "no",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert!(
        run.stdout.contains(
            "expected:  a stored snapshot of this case's responses for target `staging-eu`"
        ),
        "{}",
        run.stdout
    );
    assert!(!dir.exists(), "--update-snapshots no writes nothing");
}

#[test]
fn pending_snapshots_are_accepted_without_cargo_insta() {
    let dir = snapshot_copy("accept-command");
    let run = run_with_fault(
        Some(Fault::ExtraProfileField),
        &dir,
        &["--include-ignored", "--color", "always", "profiles_list::"],
    );
    assert_eq!(run.code, 101, "{}", run.all_output());
    // The drift is a unified diff, coloured on request: additions green, hunks cyan.
    assert!(
        run.stdout
            .contains("    \u{1b}[32m+      \"UpdatedOn\": \"[date]\",\u{1b}[0m"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("    \u{1b}[36m@@ "), "{}", run.stdout);
    let accept = format!(
        "accept it with `nexudus-conformance snapshots accept embedded --snapshots {}`",
        dir.display()
    );
    assert!(run.stdout.contains(&accept), "{}", run.stdout);
    let accepted = harness(&args(&[
        "snapshots",
        "accept",
        "embedded",
        "--snapshots",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(accepted.code, 0, "{}", accepted.all_output());
    let stored = dir.join("embedded").join("profiles_list.snap");
    assert_eq!(
        accepted.stdout,
        format!(
            "accepted {}\n1 snapshot of target `embedded` accepted\n",
            stored.display()
        )
    );
    assert!(
        std::fs::read_to_string(&stored)
            .unwrap()
            .contains("UpdatedOn")
    );
    let run = run_with_fault(
        Some(Fault::ExtraProfileField),
        &dir,
        &["--include-ignored", "profiles_list::"],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    // Nothing left to accept; a label with no directory is bad input that says what to pass.
    let again = harness(&args(&[
        "snapshots",
        "accept",
        "embedded",
        "--snapshots",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.starts_with("nothing to accept"),
        "{}",
        again.stdout
    );
    let missing = harness(&args(&[
        "snapshots",
        "accept",
        "nowhere",
        "--snapshots",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(missing.code, 2, "{}", missing.all_output());
    assert!(
        missing
            .stderr
            .contains("pass the directory a run wrote them to with --snapshots DIR"),
        "{}",
        missing.stderr
    );
}
