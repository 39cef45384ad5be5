//! The suite end to end: the binary against the reference server.

use nexudus_conformance::server::{Fault, Faults, ServerOptions};

use crate::support::{Server, args, case_dir, harness, normalize, remote_args, shipped_case};

#[test]
fn embedded_run_passes_every_rule_and_lists_sorted_trials() {
    let run = harness(&args(&["--include-ignored"]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let trials = run.trials();
    let names: Vec<&str> = trials.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "trials are reported in name order");
    assert!(trials.iter().all(|(_, r)| r == "ok"), "{}", run.stdout);
    for expected in [
        "valid_switch::status_is_200",
        "foreign_profile::status_is_404",
        "bad_token::status_is_401",
        "invalid_coworker_id::text::not_2xx",
        "restore::original_default_restored",
    ] {
        assert!(names.contains(&expected), "missing {expected}");
    }
    assert!(
        run.stdout
            .contains("test result: ok. 204 passed; 0 failed; 0 ignored"),
        "{}",
        run.stdout
    );
}

#[test]
fn should_rules_are_ignored_by_default() {
    let run = harness(&[]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let trials = run.trials();
    // Judged as advice: the line says whether it was followed, in libtest's `ignored, reason`.
    assert!(trials.contains(&(
        "valid_switch::json_content_type".into(),
        "ignored, SHOULD rule followed".into()
    )));
    assert!(trials.contains(&("valid_switch::status_is_200".into(), "ok".into())));
    // The closing lines: libtest's, as libtest prints it, then the verdict led by the MUST
    // rules, the advice, and what was not judged.
    let closing: Vec<&str> = run.stdout.lines().rev().skip(1).take(4).collect();
    assert!(
        closing[3].starts_with("test result: ok. 93 passed; 0 failed; 111 ignored; 0 measured;"),
        "{}",
        run.stdout
    );
    assert_eq!(
        closing[2],
        "verdict: conforms: every MUST rule judged holds (MUST 93 passed, 0 failed)"
    );
    assert_eq!(
        closing[1],
        "advice: every SHOULD rule judged is followed (111; not counted, --include-ignored counts them)"
    );
    assert_eq!(closing[0], "not judged: 111 (111 SHOULD not counted)");
}

#[test]
fn list_names_every_trial_without_sending_anything() {
    let server = Server::start();
    let mut a = server.target_args();
    a.push("--list".into());
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(server.get().requests_received(), 0);
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("list", run.stdout);
    });
}

#[test]
fn real_target_run_leaves_the_account_as_it_found_it() {
    let server = Server::start();
    let before = server.get().primary_default_profile();
    let mut a = server.target_args();
    a.push("--include-ignored".into());
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(server.get().primary_default_profile(), before);
    assert_eq!(before, Some(1101));
}

#[test]
fn a_case_that_does_not_switch_back_is_restored_by_the_runner() {
    let server = Server::start();
    // valid_switch without its switch_back and verify_back steps.
    let mut case: serde_json::Value = serde_json::from_str(&shipped_case("valid_switch")).unwrap();
    case["steps"].as_array_mut().unwrap().truncate(2);
    let dir = case_dir("no-switch-back", &[("switch_only.json", &case.to_string())]);
    let mut a = server.target_args();
    a.extend(args(&[
        "--cases",
        dir.to_str().unwrap(),
        "--include-ignored",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(server.get().primary_default_profile(), Some(1101));
    assert!(
        run.trials()
            .contains(&("restore::original_default_restored".into(), "ok".into()))
    );
}

#[test]
fn the_filter_decides_what_is_sent() {
    let server = Server::start();
    let mut a = server.target_args();
    a.extend(args(&["--exact", "valid_switch::status_is_200"]));
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(
        run.trials(),
        vec![("valid_switch::status_is_200".to_string(), "ok".to_string())]
    );
    // discovery (primary and foreign token) + the case's 4 steps, each read of the list with the
    // other user's beside it (the guard and the end-of-run check take the last of them). No
    // other case sends anything.
    assert_eq!(server.get().requests_received(), 8, "{}", run.all_output());
}

#[test]
fn missing_fixtures_make_cases_ignored_with_the_reason() {
    let server = Server::start();
    let c = server.get().credentials();
    let run = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        &c.primary_token,
        "--include-ignored",
    ]));
    // foreign_profile is a core case: the configuration alone shows it cannot run, so nothing
    // is sent — bad input, said with what to give or skip.
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains(
            "`foreign_profile` needs foreign_profile_id: give --foreign-token (or --foreign-username \
             and --foreign-password), or --foreign-profile-id; or leave it out with `--skip foreign_profile::`"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(server.get().requests_received(), 0, "{}", run.all_output());
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // So is a selection every case of which needs what the command line lacks.
    let run = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        &c.primary_token,
        "--foreign-profile-id",
        "2201",
        "expired_token",
    ]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains(
            "every selected case needs what these credentials lack, so the run would judge none \
             of them; nothing was sent: `expired_token` needs expired_token: give --expired-token"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(server.get().requests_received(), 0, "{}", run.all_output());
    // Deselected, the rest is judged; the other missing fixtures stay ignored with the reason.
    let skipped = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        &c.primary_token,
        "--include-ignored",
        "--skip",
        "foreign_profile",
    ]));
    assert_eq!(skipped.code, 0, "{}", skipped.all_output());
    assert!(
        skipped
            .stderr
            .contains("MUST trials were not judged against this target"),
        "{}",
        skipped.stderr
    );
    // --deny-skipped makes every unjudged MUST trial fail.
    let denied = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        &c.primary_token,
        "--skip",
        "foreign_profile",
        "--deny-skipped",
    ]));
    assert_eq!(denied.code, 101, "{}", denied.all_output());
    assert!(
        denied
            .failed()
            .contains(&"expired_token::status_is_401".to_string()),
        "{}",
        denied.stdout
    );
    let lines: Vec<&str> = skipped
        .stdout
        .lines()
        .filter(|l| {
            l.contains("foreign_token_isolation::status_is_200")
                || l.contains("expired_token::status_is_401")
        })
        .collect();
    assert_eq!(lines.len(), 2, "{}", skipped.stdout);
    assert!(
        lines[0].contains(
            "ignored, not judged: needs a fixture: needs expired_token: pass --expired-token"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(
            "ignored, not judged: needs a fixture: needs foreign_token: pass --foreign-token"
        ),
        "{}",
        lines[1]
    );
    // With --foreign-profile-id, the foreign case runs without a foreign token.
    let run = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        &c.primary_token,
        "--foreign-profile-id",
        "2201",
        "--exact",
        "foreign_profile::status_is_404",
    ]));
    assert_eq!(
        run.trials(),
        vec![(
            "foreign_profile::status_is_404".to_string(),
            "ok".to_string()
        )],
        "{}",
        run.all_output()
    );
}

/// `body_matches_schema` with a schema that wants `User.AccessToken` to be an integer: the
/// reference server is right, so the rule fails and its text shows the (masked) token.
pub const WRONG_SCHEMA_RULE: &str = r#"{"id": "body_matches_schema", "level": "must", "cites": "list_fields", "check": {"schema": {"inline": {"$ref": "profiles.json", "properties": {"User": {"properties": {"AccessToken": {"type": "integer"}}}}}}}}"#;

fn failing_cases() -> std::path::PathBuf {
    // The reference server is right; these expectations are wrong, so the trials fail.
    let wrong_status = shipped_case("valid_switch").replacen(
        r#"{ "use": "status_is_200", "cites": "switch_200" }"#,
        r#"{"id": "status_is_200", "level": "must", "cites": "switch_200", "check": {"status": {"any_of": [201]}}}"#,
        1,
    );
    let wrong_schema = shipped_case("profiles_list")
        .replace(r#"{ "use": "body_matches_schema" }"#, WRONG_SCHEMA_RULE);
    case_dir(
        "failing",
        &[
            ("valid_switch.json", &wrong_status),
            ("profiles_list.json", &wrong_schema),
        ],
    )
}

#[test]
fn failures_exit_101_and_explain_themselves() {
    let server = Server::start();
    let dir = failing_cases();
    let mut a = server.target_args();
    a.extend(args(&["--cases", dir.to_str().unwrap()]));
    let run = harness(&a);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert_eq!(
        run.failed(),
        vec![
            "profiles_list::body_matches_schema",
            "valid_switch::status_is_200"
        ]
    );
    // The account is restored even though the case's own switch-back step is judged wrong.
    assert_eq!(server.get().primary_default_profile(), Some(1101));
    let text = normalize(&run.stdout, &server.base_url()).replace(dir.to_str().unwrap(), "CASES");
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("failure_report", text);
    });
}

#[test]
fn no_output_channel_carries_a_token() {
    let server = Server::start();
    let dir = failing_cases();
    for format in [
        &["--format", "pretty"][..],
        &["--format", "terse"],
        &["--format", "json"],
        &["-q"],
    ] {
        let mut a = server.target_args();
        a.extend(args(&[
            "--cases",
            dir.to_str().unwrap(),
            "--include-ignored",
        ]));
        a.extend(args(format));
        let run = harness(&a);
        assert_eq!(run.code, 101, "{format:?}: {}", run.all_output());
        let output = run.all_output();
        assert!(
            output.contains("[REDACTED]"),
            "{format:?}: the echoed AccessToken is shown masked"
        );
        for secret in server.secrets() {
            assert!(!output.contains(&secret), "{format:?} leaks a token");
        }
    }
    let help = harness(&args(&["--help"]));
    assert!(help.stdout.contains("--token"));
}

#[test]
fn exit_codes_for_bad_input_and_unusable_targets() {
    let server = Server::start();
    let dir = case_dir("broken", &[("broken.json", "{\"summary\": ")]);
    let mut a = server.target_args();
    a.extend(args(&["--cases", dir.to_str().unwrap()]));
    let run = harness(&a);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("broken.json:1:12: invalid JSON"),
        "{}",
        run.stderr
    );
    assert_eq!(server.get().requests_received(), 0);

    let run = harness(&remote_args("not a url", &[]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    let run = harness(&args(&["--base-url", &server.base_url()]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(run.stderr.contains("pass --token"), "{}", run.stderr);

    // A port nobody listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = harness(&remote_args(&format!("http://127.0.0.1:{port}"), &[]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(run.stderr.contains("is unusable"), "{}", run.stderr);

    let run = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        "abcdefghijkl-wrong",
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(run.stderr.contains("answered 401"), "{}", run.stderr);
    assert!(!run.stderr.contains("abcdefghijkl-wrong"));
}

#[test]
fn rules_prints_the_catalog() {
    let run = harness(&args(&["rules"]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    // The killers are computed by running; a kill that depends on which of a burst's switches
    // the server handles last (faults.rs: TIMING_DEPENDENT) is left out of the snapshot.
    let mut trial = String::new();
    let stable: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            if let Some(name) = line.strip_prefix("  ").and_then(|l| l.split(" [").next())
                && !name.starts_with(' ')
            {
                trial = name.to_string();
            }
            if !line.trim_start().starts_with("killed by: ") {
                return line.to_string();
            }
            let (head, killers) = line.split_once("killed by: ").unwrap();
            let kept: Vec<&str> = killers
                .split(", ")
                .filter(|fault| {
                    !crate::faults::TIMING_DEPENDENT
                        .iter()
                        .any(|(f, t)| f == fault && *t == trial)
                })
                .collect();
            format!("{head}killed by: {}", kept.join(", "))
        })
        .collect();
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("rules", stable.join("\n"));
    });
}

#[test]
fn help_never_shows_secret_values_from_the_environment() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"))
        .arg("--help")
        .env("NEXUDUS_TOKEN", "canary-token-in-env-1234")
        .env("NEXUDUS_FOREIGN_TOKEN", "canary-foreign-in-env-1234")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NEXUDUS_TOKEN"), "{text}");
    assert!(!text.contains("canary"), "{text}");
}

#[test]
fn serve_prints_a_usable_base_url_and_tokens() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"))
        .args(["serve", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut vars = std::collections::HashMap::new();
    let mut commented = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        // Every line is shell: an export, or a comment.
        assert!(
            line.starts_with("export ") || line.starts_with("# "),
            "{line}"
        );
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            vars.insert(k.to_string(), v.to_string());
        }
        if let Some(exports) = line.strip_prefix("# export ") {
            commented.push(exports.to_string());
        }
        if line.starts_with("# press Ctrl-C") {
            break;
        }
    }
    // Every seeded user can be signed in: the primary, the other one, the one with 2FA.
    assert_eq!(commented.len(), 3, "{commented:?}");
    assert!(commented[2].contains("NEXUDUS_TOTP="), "{commented:?}");
    let run = harness(&args(&[
        "--base-url",
        &vars["NEXUDUS_BASE_URL"],
        "--token",
        &vars["NEXUDUS_TOKEN"],
        "--foreign-token",
        &vars["NEXUDUS_FOREIGN_TOKEN"],
        "--expired-token",
        &vars["NEXUDUS_EXPIRED_TOKEN"],
        "--include-ignored",
    ]));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("182 passed"), "{}", run.stdout);
}

/// Runs `filter` (with SHOULD rules) against `server` and returns the exit code, the requests the
/// header's `plan:` line said are needed, those it allowed on top for restoring, and the requests
/// the server received. The writes the line counts are those the server received, less any
/// switches back.
fn run_against_the_plan(server: &Server, filter: &str) -> (i32, u64, u64, u64) {
    let mut a = server.target_args();
    a.extend(args(&["--include-ignored", filter]));
    let run = harness(&a);
    let line = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("plan: "))
        .unwrap_or_else(|| panic!("{filter}: no plan line in\n{}", run.all_output()));
    // `N round trips, R requests (W writes) + up to U more if …`
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let writes = server
        .get()
        .arrivals()
        .iter()
        .filter(|a| matches!(a.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
        .count() as u64;
    // Every write planned was received, and any more are among the requests sent beyond the
    // plan's needed ones (switches back).
    let (needed, planned_writes) = (numbers[1], numbers[2]);
    let beyond = server.get().requests_received().saturating_sub(needed);
    assert!(
        planned_writes <= writes && writes <= planned_writes + beyond,
        "{filter}: planned {planned_writes} writes (+{beyond} requests beyond the plan), received {writes}"
    );
    (
        run.code,
        numbers[1],
        numbers[3],
        server.get().requests_received(),
    )
}

#[test]
fn the_plan_counts_the_requests_before_it_sends_them() {
    // Each case alone, and everything: what the reference server received is what the header
    // said, up to the requests sent only to put the account back.
    let mut filters: Vec<String> = std::fs::read_dir("cases")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".json").map(|id| format!("{id}::")))
        .filter(|f| !f.starts_with('_'))
        .collect();
    filters.sort();
    filters.push(String::new());
    assert_eq!(
        filters.len(),
        24,
        "every shipped case, then the whole suite"
    );
    for filter in &filters {
        let (code, needed, restore, sent) = run_against_the_plan(&Server::start(), filter);
        assert_eq!(code, 0, "{filter}");
        assert!(
            needed <= sent && sent <= needed + restore,
            "{filter}: planned {needed} (+{restore}), sent {sent}"
        );
        // On a correct target no batch of probes falls back to one at a time (that costs a
        // switch and the probes again); the only restore is the switch back after
        // concurrent_switches, which leaves one of the two profiles it asked for: the original
        // default (nothing to put back) or the other (one switch back). Alone, the final check
        // then reads both lists again instead of taking its reading; in the suite the case
        // after it starts by writing and takes no reading.
        let restores = match filter.as_str() {
            "" => 1,
            "concurrent_switches::" => 1 + 2,
            _ => 0,
        };
        assert!(
            sent == needed || sent == needed + restores,
            "{filter}: planned {needed}, sent {sent}"
        );
    }

    // A target that switches on GET: method_probes' batch changes the account, so it is put back
    // and the probes go again one at a time (the verdicts are theirs: see faults.rs), within the
    // requests the header allowed for restoring.
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::GetSwitches]),
        ..ServerOptions::default()
    });
    let (code, needed, restore, sent) = run_against_the_plan(&server, "method_probes::");
    assert_eq!(code, 101);
    assert!(
        needed < sent && sent <= needed + restore,
        "planned {needed} (+{restore}), sent {sent}"
    );
}

#[test]
fn the_plan_line_estimates_the_paced_wall_time() {
    let server = Server::start();
    let mut a = server.target_args();
    a.extend(args(&["--max-rps", "2", "--list"]));
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    // `--list` sends nothing and prints no header.
    assert!(!run.all_output().contains("plan: "), "{}", run.all_output());
    assert_eq!(server.get().requests_received(), 0);
    let mut a = server.target_args();
    a.extend(args(&["--max-rps", "50", "valid_switch::"]));
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("plan: "))
        .unwrap_or_default()
        .to_string();
    // valid_switch: discovery 2 + 4 steps (2 reads with the other user's beside them, the last
    // of which the guard and the final check take); 2 writes; up to 6 more to restore (each
    // user: the guard's switch back, the final switch and reread).
    assert_eq!(
        line,
        "plan: 5 round trips, 8 requests (2 writes) + up to 6 more if the target changes the \
         account; paced at 50 requests/s: 0.1s, up to 0.3s if it does"
    );
}

#[test]
fn a_target_that_breaks_only_should_rules_conforms_unless_they_count() {
    use nexudus_conformance::server::{Fault, Faults, ServerOptions};
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::PublicCacheList]),
        ..ServerOptions::default()
    });
    // By default SHOULD rules are advice: judged, reported by name, not counted.
    let run = harness(&server.target_args());
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout
            .contains("verdict: conforms: every MUST rule judged holds"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "advice: 1 SHOULD rule not followed (not counted, --include-ignored counts them): \
             not_shared_cacheable ("
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.trials().contains(&(
            "profiles_list::invariants_should".into(),
            "ignored, SHOULD rule not followed: not_shared_cacheable".into()
        )),
        "{}",
        run.stdout
    );
    assert!(run.failed().is_empty(), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "SHOULD rules not followed (advice, not counted; --include-ignored counts them):"
        ),
        "{}",
        run.stdout
    );
    // Asked to count, they fail the run.
    let strict = harness(&server.target_args_with(&["--include-ignored"]));
    assert_eq!(strict.code, 101, "{}", strict.all_output());
    assert!(
        strict
            .failed()
            .contains(&"profiles_list::invariants_should".to_string()),
        "{}",
        strict.stdout
    );
    assert!(
        strict
            .stdout
            .contains("verdict: fails when SHOULD rules count: every MUST rule judged holds, but"),
        "{}",
        strict.stdout
    );
}
