//! Nightly regression: response snapshots and drift.

use nexudus_conformance::server::{Fault, Faults, ServerOptions};

use crate::support::{Server, args, harness};

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
        18
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
fn a_target_without_snapshots_records_new_ones_and_ci_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-fresh", std::process::id()));
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
    let a: Vec<String> = a
        .into_iter()
        .map(|s| if s == "no" { "new".into() } else { s })
        .collect();
    let run = harness(&a);
    assert_eq!(run.code, 101);
    assert_eq!(
        std::fs::read_dir(dir.join("staging-eu")).unwrap().count(),
        18
    );
    // Snapshots hold no secrets: tokens are placeholders.
    for entry in std::fs::read_dir(dir.join("staging-eu")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for secret in server.secrets() {
            assert!(!text.contains(&secret), "{}", entry.path().display());
        }
    }
}
