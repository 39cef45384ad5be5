//! Real deployments and CI gating: sign-in, leaving the account as found (also on Ctrl-C and when
//! the target fails mid-run), politeness (throttling, pacing, deadline), --spawn and JUnit.

use std::time::Duration;

use nexudus_conformance::server::{Fault, Faults, FixedTokens, ServerOptions, Throttle};

use crate::support::{
    Server, args, case_dir, finish, free_port, harness, harness_measured, shipped_case, signal,
    spawn_harness, wait_until,
};

const PASSWORD: &str = "fixture-password-1234";

fn server_with_password() -> Server {
    Server::start_with(ServerOptions {
        tokens: Some(FixedTokens {
            password: Some(PASSWORD.into()),
            ..FixedTokens::default()
        }),
        ..ServerOptions::default()
    })
}

#[test]
fn signing_in_with_username_and_password() {
    let server = server_with_password();
    let url = server.base_url();
    let run = harness(&args(&[
        "--base-url",
        &url,
        "--username",
        "ada@example.test",
        "--password",
        PASSWORD,
        "--foreign-username",
        "grace@example.test",
        "--foreign-password",
        PASSWORD,
        "--include-ignored",
    ]));
    assert_eq!(run.code, 0, "{}", run.all_output());

    assert!(
        run.trials()
            .contains(&("foreign_profile::status_is_404".into(), "ok".into())),
        "{}",
        run.stdout
    );
    assert!(!run.all_output().contains(PASSWORD));

    // An explicit --token-url works the same.
    let run = harness(&args(&[
        "--base-url",
        &url,
        "--username",
        "ada@example.test",
        "--password",
        PASSWORD,
        "--token-url",
        &format!("{url}/api/token"),
        "--exact",
        "valid_switch::status_is_200",
    ]));
    assert_eq!(run.code, 0, "{}", run.all_output());
}

#[test]
fn sign_in_errors_exit_3_and_say_what_to_do() {
    let server = server_with_password();
    let url = server.base_url();
    let table: &[(&[&str], &str)] = &[
        (
            &[
                "--username",
                "ada@example.test",
                "--password",
                "wrong-password",
            ],
            "refused with invalid_grant (The user name or password is incorrect.); check the username and password",
        ),
        (
            &["--username", "tess@example.test", "--password", PASSWORD],
            "refused with two_factor_auth_check (A two-factor authentication code is required.); the account uses two-factor authentication; pass its current code with --totp",
        ),
        (
            &[
                "--username",
                "ada@example.test",
                "--password",
                PASSWORD,
                "--token-url",
                &format!("{url}/nowhere"),
            ],
            "refused with status 404; check --token-url",
        ),
    ];
    for (extra, fragment) in table {
        // The other user's profile id stands in for a second sign-in.
        let mut a = args(&["--base-url", &url, "--foreign-profile-id", "2201"]);
        a.extend(args(extra));
        let run = harness(&a);
        assert_eq!(run.code, 3, "{extra:?}: {}", run.all_output());
        assert!(
            run.stderr.contains(fragment),
            "{extra:?}: want {fragment:?} in {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains(PASSWORD) && !run.stderr.contains("wrong-password"),
            "{}",
            run.stderr
        );
    }
    // With the code, the two-factor user signs in; with one profile the core cases cannot run,
    // so the account gives no conformance verdict (exit 3), saying what it lacks.
    let run = harness(&args(&[
        "--base-url",
        &url,
        "--username",
        "tess@example.test",
        "--password",
        PASSWORD,
        "--totp",
        "246810",
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr.contains("the account cannot run the contract's core cases: bad_token (needs target_profile_id: the account has no second active profile)"),
        "{}",
        run.stderr
    );
    // Found by discovery's reads, before any write: nothing else was sent.
    assert!(
        run.stdout.contains(
            "verdict: no verdict: the account cannot run the contract's core cases: bad_token"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "ignored, not judged: needs a fixture: not run: the account cannot run a core case"
        ),
        "{}",
        run.stdout
    );
    // Half a credential is bad input.
    let run = harness(&args(&[
        "--base-url",
        &url,
        "--username",
        "ada@example.test",
    ]));
    assert_eq!(run.code, 2, "{}", run.all_output());
}

/// A case that switches, then keeps reading for a while: a window in which the account is changed.
fn lingering_case() -> std::path::PathBuf {
    let mut case: serde_json::Value = serde_json::from_str(&shipped_case("valid_switch")).unwrap();
    let verify = case["steps"][1].clone();
    let steps = case["steps"].as_array_mut().unwrap();
    steps.truncate(1);
    for i in 0..30 {
        let mut step = verify.clone();
        step["name"] = format!("read_{i}").into();
        steps.push(step);
    }
    case_dir("linger", &[("switch_and_linger.json", &case.to_string())])
}

fn slow_server(latency_ms: u64) -> Server {
    Server::start_with(ServerOptions {
        latency: Duration::from_millis(latency_ms),
        ..ServerOptions::default()
    })
}

#[test]
fn interrupting_restores_the_account() {
    let dir = lingering_case();
    // (where to interrupt, a condition on the server that says we are there)
    type Point = (&'static str, fn(&Server) -> bool);
    let points: &[Point] = &[
        ("during discovery", |s| s.get().requests_received() >= 1),
        ("while the switch is in flight", |s| {
            s.get().arrivals().iter().any(|a| a.method == "PUT")
        }),
        ("after the switch took effect", |s| {
            s.get().primary_default_profile() == Some(1102)
        }),
    ];
    for (signal_name, (point, reached)) in ["INT", "TERM", "INT"].iter().zip(points) {
        let server = slow_server(80);
        let mut a = server.target_args();
        a.extend(args(&["--cases", dir.to_str().unwrap()]));
        let child = spawn_harness(&a);
        wait_until(point, || reached(&server));
        signal(child.id(), signal_name);
        let run = finish(child);
        assert_eq!(run.code, 130, "{point}: {}", run.all_output());
        assert!(
            run.stderr.contains("interrupted"),
            "{point}: {}",
            run.stderr
        );
        if *point == "during discovery" {
            assert!(
                run.stderr
                    .contains("interrupted before the account was read: nothing was changed"),
                "{}",
                run.stderr
            );
        }
        assert_eq!(
            server.get().primary_default_profile(),
            Some(1101),
            "{point}: the account is restored"
        );
        // Interrupted is not failed: no trial reads FAILED, the cut-off ones say why.
        assert!(
            !run.trials().iter().any(|(_, outcome)| outcome == "FAILED"),
            "{point}: {}",
            run.stdout
        );
        if *point == "after the switch took effect" {
            assert!(
                run.stdout.contains("ignored, not judged: interrupted"),
                "{}",
                run.stdout
            );
            assert!(
                run.stdout
                    .contains("verdict: no verdict: the run was interrupted"),
                "{}",
                run.stdout
            );
            assert!(
                run.trials()
                    .contains(&("restore::original_default_restored".into(), "ok".into())),
                "{}",
                run.stdout
            );
        }
    }
}

#[test]
fn a_second_interrupt_aborts_and_says_how_to_restore() {
    let dir = lingering_case();
    let server = slow_server(400);
    let mut a = server.target_args();
    a.extend(args(&["--cases", dir.to_str().unwrap()]));
    let child = spawn_harness(&a);
    wait_until("the switch", || {
        server.get().primary_default_profile() == Some(1102)
    });
    signal(child.id(), "INT");
    std::thread::sleep(Duration::from_millis(150));
    signal(child.id(), "INT");
    let run = finish(child);
    assert_eq!(run.code, 130, "{}", run.all_output());
    assert!(
        run.stderr.contains("aborted: the account may not be as it was found; restore its default profile by hand: curl -sS -i -X PUT -H \"Authorization: Bearer $NEXUDUS_TOKEN\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("coworkerId=1101"), "{}", run.stderr);
}

#[test]
fn a_target_that_fails_mid_run_gets_a_loud_warning_and_the_manual_command() {
    let dir = lingering_case();
    let mut server = slow_server(50);
    let mut a = server.target_args();
    a.extend(args(&["--cases", dir.to_str().unwrap(), "--timeout", "1"]));
    let child = spawn_harness(&a);
    wait_until("the switch", || {
        server.get().primary_default_profile() == Some(1102)
    });
    server.stop();
    let run = finish(child);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("WARNING: the account was NOT left as it was found"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("restore it by hand: curl -sS -i -X PUT"),
        "{}",
        run.stdout
    );
}

#[test]
fn throttled_answers_are_waited_out() {
    for status in [409, 429] {
        let server = Server::start_with(ServerOptions {
            throttle: Some(Throttle {
                every: 2,
                writes_only: false,
                status,
                retry_after: "0.05".into(),
                spare_retries: false,
            }),
            ..ServerOptions::default()
        });
        let mut a = server.target_args();
        // One request at a time: with the server throttling every other request it receives,
        // concurrent requests could keep landing on the throttled slots and exhaust their retries.
        a.extend(args(&["--include-ignored", "--test-threads", "1"]));
        let run = harness(&a);
        assert_eq!(run.code, 0, "{status}: {}", run.all_output());
        let arrivals = server.get().arrivals().len();
        assert!(
            arrivals > 60,
            "{status}: every other request was throttled and retried ({arrivals})"
        );
    }
}

#[test]
fn exhausted_throttle_retries_are_reported() {
    let server = Server::start_with(ServerOptions {
        throttle: Some(Throttle {
            every: 1,
            writes_only: true,
            status: 409,
            retry_after: "0.01".into(),
            spare_retries: false,
        }),
        ..ServerOptions::default()
    });
    let mut a = server.target_args();
    a.extend(args(&[
        "--exact",
        "valid_switch::status_is_200",
        "--throttle-retries",
        "2",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert!(run.stdout.contains("could not judge: still throttled (409 with Retry-After) after 3 attempts; lower --max-rps or raise --throttle-retries"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("throttled: 2 answer(s) with Retry-After were waited out and retried"),
        "{}",
        run.stdout
    );
    let puts = server
        .get()
        .arrivals()
        .iter()
        .filter(|a| a.method == "PUT")
        .count();
    // The case's PUT, tried 3 times; it never took effect, so the restore had nothing to do.
    assert_eq!(puts, 3);
}

#[test]
fn max_rps_spaces_requests_out() {
    let server = Server::start();
    let mut a = server.target_args();
    a.extend(args(&["--max-rps", "40", "valid_switch::"]));
    let (run, took, _) = harness_measured(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let arrivals = server.get().arrivals();
    let writes = arrivals.iter().filter(|a| a.method == "PUT").count();
    assert!(arrivals.len() >= 6 && writes >= 2, "{arrivals:?}");
    // 40 requests/s: request starts 25 ms apart at least, writes (20/s) 50 ms. These are lower
    // bounds the pacer guarantees, so they cannot flake on a slow machine.
    let n = u32::try_from(arrivals.len()).unwrap();
    assert!(
        took >= Duration::from_millis(25) * (n - 1),
        "{n} requests in {took:?}"
    );
    let w = u32::try_from(writes).unwrap();
    assert!(
        took >= Duration::from_millis(50) * (w - 1),
        "{w} writes in {took:?}"
    );
    // And the server saw them spread out: a delayed arrival may bunch up with the next, but the
    // typical gap is the pace.
    let mut gaps: Vec<Duration> = arrivals
        .windows(2)
        .map(|p| p[1].at.saturating_sub(p[0].at))
        .collect();
    gaps.sort();
    assert!(
        gaps[gaps.len() / 2] >= Duration::from_millis(20),
        "{gaps:?}"
    );
}

#[test]
fn the_deadline_stops_sending_and_still_restores() {
    let dir = lingering_case();
    let server = slow_server(100);
    let mut a = server.target_args();
    a.extend(args(&["--cases", dir.to_str().unwrap(), "--deadline", "1"]));
    let (run, took, _) = harness_measured(&a);
    // Cut off by the deadline: not judged, and no verdict (exit 3) — never a pass.
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stdout
            .contains("verdict: no verdict: the run's --deadline passed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("test result: FAILED."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("stopped early: the run's --deadline passed"),
        "{}",
        run.stderr
    );
    assert_eq!(server.get().primary_default_profile(), Some(1101));
    assert!(took < Duration::from_secs(15), "{took:?}");
}

fn spawn_command(port: u16, extra: &str) -> String {
    format!(
        // Not `exec`: the server is a child of the shell, so stopping must reach the whole group.
        "'{}' serve --port {port} --primary-token spawn-primary-token --foreign-token spawn-foreign-token --expired-token spawn-expired-token {extra} & wait",
        env!("CARGO_BIN_EXE_nexudus-conformance")
    )
}

fn spawn_args(port: u16, command: &str, log: &std::path::Path) -> Vec<String> {
    args(&[
        "--spawn",
        command,
        "--spawn-log",
        log.to_str().unwrap(),
        "--base-url",
        &format!("http://127.0.0.1:{port}"),
        "--token",
        "spawn-primary-token",
        "--foreign-token",
        "spawn-foreign-token",
        "--expired-token",
        "spawn-expired-token",
    ])
}

#[test]
fn spawn_starts_waits_for_and_stops_the_implementation() {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("nxc-it-{}-spawn-ok.log", std::process::id()));
    let mut a = spawn_args(port, &spawn_command(port, ""), &log);
    a.push("--include-ignored".into());
    let run = harness(&a);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("reference server listening")
    );
    // Stopped afterwards: nothing listens on the port any more.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the spawned server still runs"
    );

    // A failing run names the implementation's log.
    let port = free_port();
    let run = harness(&spawn_args(
        port,
        &spawn_command(port, "--fault foreign_profile_403"),
        &log,
    ));
    assert_eq!(run.code, 101, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "the implementation's output is in {}",
            log.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn spawn_failures_are_unusable_targets_with_the_log() {
    let log = std::env::temp_dir().join(format!("nxc-it-{}-spawn-bad.log", std::process::id()));
    let port = free_port();
    let run = harness(&spawn_args(port, "echo boom; exit 7", &log));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("the --spawn command exited (exit status: 7) before"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(log.to_str().unwrap()));
    assert!(std::fs::read_to_string(&log).unwrap().contains("boom"));

    let mut a = spawn_args(port, "sleep 30", &log);
    a.extend(args(&["--ready-timeout", "0.5"]));
    let (run, took, _) = harness_measured(&a);
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("did not accept connections within 0s (--ready-timeout)")
            || run
                .stderr
                .contains("did not accept connections within 1s (--ready-timeout)"),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn junit_has_one_testcase_per_trial() {
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::ForeignProfile403]),
        ..ServerOptions::default()
    });
    let path = std::env::temp_dir().join(format!("nxc-it-{}-junit.xml", std::process::id()));
    let mut a = server.target_args();
    a.extend(args(&[
        "--junit",
        path.to_str().unwrap(),
        "--skip",
        "invalid_coworker_id",
    ]));
    let run = harness(&a);
    assert_eq!(run.code, 101, "{}", run.all_output());
    let xml = std::fs::read_to_string(&path).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &report.test_suites[0];
    let console = run.trials();
    assert_eq!(
        suite.test_cases.len(),
        console.len(),
        "one testcase per reported trial"
    );
    let props: Vec<(String, String)> = suite
        .properties
        .iter()
        .map(|p| (p.name.to_string(), p.value.to_string()))
        .collect();
    assert!(
        props.contains(&("target".into(), server.base_url())),
        "{props:?}"
    );
    assert!(
        props.contains(&("harness_version".into(), env!("CARGO_PKG_VERSION").into())),
        "{props:?}"
    );
    let find = |class: &str, name: &str| {
        suite
            .test_cases
            .iter()
            .find(|c| {
                c.classname.as_ref().map(|c| c.as_str()) == Some(class) && c.name.as_str() == name
            })
            .unwrap_or_else(|| panic!("no testcase {class}::{name}"))
    };
    match &find("foreign_profile", "status_is_404").status {
        quick_junit::TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            ..
        } => {
            assert_eq!(*kind, quick_junit::NonSuccessKind::Failure);
            assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("violation"));
            assert_eq!(
                message.as_ref().map(|m| m.as_str()),
                Some("expected status 404, got status 403")
            );
            assert!(
                description
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .contains("reproduce: curl")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        find("valid_switch", "status_is_200").status,
        quick_junit::TestCaseStatus::Success { .. }
    ));
    assert!(matches!(
        find("valid_switch", "json_content_type").status,
        quick_junit::TestCaseStatus::Skipped { .. }
    ));
    assert!(
        !xml.contains("invalid_coworker_id"),
        "filtered trials are left out"
    );
    for secret in server.secrets() {
        assert!(!xml.contains(&secret));
    }
}

#[test]
fn spawn_never_tests_a_server_it_did_not_start() {
    // A faithful server already holds the port: spawning a faulty one there would fail in its log
    // only, and the run would go green against the wrong server.
    let holder = Server::start_with(ServerOptions {
        port: free_port(),
        ..ServerOptions::default()
    });
    let port: u16 = holder
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let log = std::env::temp_dir().join(format!("nxc-it-{}-spawn-held.log", std::process::id()));
    let run = harness(&spawn_args(
        port,
        &spawn_command(port, "--fault accept_foreign_profile"),
        &log,
    ));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "127.0.0.1:{port} already accepts connections before --spawn started anything"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        holder.get().requests_received(),
        0,
        "nothing was sent to it"
    );
}

#[test]
fn an_implementation_that_dies_mid_run_makes_the_target_unusable() {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("nxc-it-{}-spawn-dies.log", std::process::id()));
    // The server answers slowly and the shell that runs it ends it after a second: mid-run.
    let command = format!(
        "'{}' serve --port {port} --latency-ms 40 --primary-token spawn-primary-token --foreign-token spawn-foreign-token --expired-token spawn-expired-token & pid=$!; sleep 1; kill $pid; echo 'implementation gone'",
        env!("CARGO_BIN_EXE_nexudus-conformance")
    );
    let run = harness(&spawn_args(port, &command, &log));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("the --spawn command exited (exit status: 0) during the run"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("implementation gone"), "{}", run.stderr);
}

#[test]
fn a_hard_kill_is_put_right_by_the_next_run() {
    let dir = lingering_case();
    // (where to kill, a condition on the server that says we are there, the default it leaves)
    type Point = (&'static str, fn(&Server) -> bool, i64);
    let points: &[Point] = &[
        (
            "during discovery",
            |s| s.get().requests_received() >= 1,
            1101,
        ),
        (
            "after the switch took effect",
            |s| s.get().primary_default_profile() == Some(1102),
            1102,
        ),
        (
            "while the restore reads the account",
            |s| {
                // Past the lingering reads: the harness is in its final restore.
                s.get().primary_default_profile() == Some(1101)
                    && s.get()
                        .arrivals()
                        .iter()
                        .filter(|a| a.method == "PUT")
                        .count()
                        >= 2
            },
            1101,
        ),
    ];
    for (point, reached, left) in points {
        let server = slow_server(40);
        let journal = std::env::temp_dir().join(format!(
            "nxc-it-{}-journal-{}.json",
            std::process::id(),
            point.len()
        ));
        let _ = std::fs::remove_file(&journal);
        let mut a = server.target_args();
        a.extend(args(&[
            "--cases",
            dir.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ]));
        let child = spawn_harness(&a);
        wait_until(point, || reached(&server));
        signal(child.id(), "KILL");
        let _ = finish(child);
        if *left == 1102 {
            assert_eq!(
                server.get().primary_default_profile(),
                Some(1102),
                "{point}: SIGKILL leaves the account switched"
            );
        }
        // The next run, of any selection, finds the record and puts the true original back; it
        // does not take the switched default for the original.
        let mut b = server.target_args();
        b.extend(args(&[
            "--journal",
            journal.to_str().unwrap(),
            "profiles_list::status_is_200",
        ]));
        let run = harness(&b);
        assert_eq!(run.code, 0, "{point}: {}", run.all_output());
        assert_eq!(
            server.get().primary_default_profile(),
            Some(1101),
            "{point}: the true original is back"
        );
        if *left == 1102 {
            assert!(
                run.stderr
                    .contains("the recorded original default 1101 was put back first"),
                "{point}: {}",
                run.stderr
            );
        }
        assert!(
            !journal.exists(),
            "{point}: the record is gone once restored"
        );
    }
}

/// The lock files beside a journal.
fn locks(journal: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Some(dir) = journal.parent() else {
        return Vec::new();
    };
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().contains(".lock-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_runs_against_one_account_take_turns() {
    let dir = lingering_case();
    let journal_dir = std::env::temp_dir().join(format!("nxc-it-{}-lock", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal_dir);
    let journal = journal_dir.join("journal.json");
    let server = slow_server(80);
    let mut a = server.target_args();
    a.extend(args(&[
        "--cases",
        dir.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]));
    let first = spawn_harness(&a);
    wait_until("the first run holds the account's lock", || {
        !locks(&journal).is_empty()
    });
    let lock = locks(&journal).remove(0);
    let held = std::fs::read_to_string(&lock).unwrap();
    assert!(held.contains(&format!("\"pid\":{}", first.id())), "{held}");
    // One that will not wait is refused before it changes anything, naming the holder.
    let mut refused_args = a.clone();
    refused_args.extend(args(&["--wait-for-lock", "0"]));
    let refused = harness(&refused_args);
    assert_eq!(refused.code, 3, "{}", refused.all_output());
    assert!(
        refused.stderr.contains(&format!(
            "another run on this machine is testing this account (process {} since",
            first.id()
        )) && refused.stderr.contains("nothing was changed"),
        "{}",
        refused.stderr
    );
    // One that waits runs after the first: both judge the account as they found it.
    let second = spawn_harness(&a);
    let (first, second) = (finish(first), finish(second));
    assert_eq!(first.code, 0, "{}", first.all_output());
    assert_eq!(second.code, 0, "{}", second.all_output());
    assert!(
        second
            .stderr
            .contains("waiting for another run on this machine that tests the same account"),
        "{}",
        second.stderr
    );
    assert!(locks(&journal).is_empty(), "{:?}", locks(&journal));
    assert_eq!(server.get().primary_default_profile(), Some(1101));
    // A dead holder's lock is taken over.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = held.replace(
        &format!("\"pid\":{}", held_pid(&held)),
        &format!("\"pid\":{dead_pid}"),
    );
    std::fs::write(&lock, stale).unwrap();
    let mut quick = server.target_args();
    quick.extend(args(&[
        "--journal",
        journal.to_str().unwrap(),
        "--wait-for-lock",
        "0",
        "valid_switch::",
    ]));
    let taken_over = harness(&quick);
    assert_eq!(taken_over.code, 0, "{}", taken_over.all_output());
    assert!(locks(&journal).is_empty());
    let _ = std::fs::remove_dir_all(&journal_dir);
}

fn held_pid(lock: &str) -> u32 {
    let v: serde_json::Value = serde_json::from_str(lock).unwrap();
    u32::try_from(v["pid"].as_u64().unwrap()).unwrap()
}
