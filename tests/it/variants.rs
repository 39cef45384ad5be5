//! No false alarms: the reference server answering as a *correct* implementation may where the
//! documentation leaves room (ASP.NET's 401 body, empty error bodies, RFC 7807, extra members, a
//! shuffled list, throttling, …) must pass the whole suite, SHOULD rules included — each variant
//! alone and all of them at once.

use nexudus_conformance::server::{ServerOptions, Variant, Variants};

use crate::support::{Server, harness};

fn run_against(variants: Variants) -> crate::support::Run {
    let server = Server::start_with(ServerOptions {
        variants,
        ..ServerOptions::default()
    });
    harness(&server.target_args_with(&["--include-ignored", "--progress", "never"]))
}

#[test]
fn every_legitimate_variant_passes_with_should_rules_included() {
    let mut problems = Vec::new();
    let all: Variants = Variant::ALL.iter().copied().collect();
    let runs = Variant::ALL
        .iter()
        .map(|v| (v.name().to_string(), Variants::from([*v])))
        .chain(std::iter::once(("all variants at once".to_string(), all)));
    for (name, variants) in runs {
        let run = run_against(variants);
        let failed = run.failed();
        if run.code != 0 || !failed.is_empty() {
            problems.push(format!(
                "{name}: exit {}, failed {failed:?}\n{}",
                run.code,
                run.all_output()
            ));
        }
        if !run
            .stdout
            .contains("test result: ok. 182 passed; 0 failed; 0 ignored")
        {
            problems.push(format!(
                "{name}: not every trial was judged and passed: exit {}\n{}",
                run.code,
                run.all_output()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_variants_really_answer_differently() {
    // A variant that changed nothing would prove nothing: each must change some response the
    // suite records (its responses differ from the reference behaviour's snapshot).
    let reference = Server::start();
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-variant-snaps", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let baseline = harness(&reference.target_args_with(&[
        "--include-ignored",
        "--snapshots",
        dir.to_str().unwrap(),
        "--target-label",
        "v",
        "--update-snapshots",
        "always",
    ]));
    assert_eq!(baseline.code, 0, "{}", baseline.all_output());
    let mut unchanged = Vec::new();
    for variant in Variant::ALL {
        // Transport, throttling and header variants change how answers travel, not the
        // bodies and statuses a snapshot records; `headers_and_transport_differ` checks those.
        if matches!(
            variant,
            Variant::ConnectionClose
                | Variant::ChunkedBodies
                | Variant::Throttle409
                | Variant::Throttle429
                | Variant::ThrottleConcurrentSwitch
                | Variant::RealmChallenge
                | Variant::CacheNoStore
        ) {
            continue;
        }
        let server = Server::start_with(ServerOptions {
            variants: Variants::from([*variant]),
            ..ServerOptions::default()
        });
        let run = harness(&server.target_args_with(&[
            "--include-ignored",
            "--snapshots",
            dir.to_str().unwrap(),
            "--target-label",
            "v",
            "--update-snapshots",
            "no",
            "::snapshot",
        ]));
        if run.failed().is_empty() {
            unchanged.push(variant.name());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        unchanged.is_empty(),
        "variants that changed no response: {unchanged:?}"
    );
}

#[test]
fn headers_and_transport_differ() {
    use nexudus_conformance::http::{HttpClient, HttpOptions, HttpRequest};
    let cases = [
        (
            Variant::RealmChallenge,
            "www-authenticate",
            Some("Bearer realm=\"nexudus\""),
        ),
        (Variant::ConnectionClose, "connection", Some("close")),
        (Variant::ChunkedBodies, "transfer-encoding", Some("chunked")),
        (Variant::ChunkedBodies, "content-length", None),
        (
            Variant::CacheNoStore,
            "cache-control",
            Some("no-cache, no-store, must-revalidate"),
        ),
    ];
    for (variant, header, expected) in cases {
        let server = Server::start_with(ServerOptions {
            variants: Variants::from([variant]),
            ..ServerOptions::default()
        });
        let client = HttpClient::new(&server.base_url(), HttpOptions::default()).unwrap();
        let exchange = server.runtime.block_on(client.send(&HttpRequest {
            method: "GET",
            path: nexudus_conformance::api::PROFILES_PATH.into(),
            ..HttpRequest::default()
        }));
        let response = exchange.outcome.unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(response.header(header), expected, "{variant} {header}");
    }
    // Throttling: a third of the requests are answered 409/429, which the harness waits out.
    for variant in [Variant::Throttle409, Variant::Throttle429] {
        let server = Server::start_with(ServerOptions {
            variants: Variants::from([variant]),
            ..ServerOptions::default()
        });
        let run = harness(&server.target_args_with(&["valid_switch::"]));
        assert_eq!(run.code, 0, "{}", run.all_output());
        let throttled = server.get().requests_received();
        assert!(
            throttled >= 9,
            "{variant}: {throttled} requests for 6 judged ones"
        );
    }
}

#[test]
fn an_account_with_exactly_two_active_profiles_judges_every_must_trial() {
    // The README's minimum: two active profiles (the concurrency check switches between them).
    // `--deny-skipped` turns every MUST trial that could not be judged into a failure.
    let server = Server::start_with(ServerOptions {
        variants: Variants::from([Variant::TwoActiveProfiles]),
        ..ServerOptions::default()
    });
    let run = harness(&server.target_args_with(&["--deny-skipped", "--progress", "never"]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("third_profile_id=missing (the account has no third active profile)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("verdict: conforms: every MUST rule judged holds (MUST 93 passed, 0 failed)"),
        "{}",
        run.stdout
    );
    // Only SHOULD trials go unjudged: those of the third profile, and those not counted.
    assert!(!run.stderr.contains("MUST trial"), "{}", run.stderr);
    assert!(
        run.trials().iter().any(|(name, result)| {
            name == "concurrent_switches::verify::default_is_one_requested" && result == "ok"
        }),
        "{}",
        run.stdout
    );
}

#[test]
fn a_target_that_throttles_concurrent_switches_slows_the_run_down_to_a_verdict() {
    // A switch that arrives while another is in progress gets 409 + Retry-After: 1. The run
    // narrows how many requests it has in flight instead of giving up after --throttle-retries,
    // judges every trial, and says that it slowed down.
    let server = Server::start_with(ServerOptions {
        variants: Variants::from([Variant::ThrottleConcurrentSwitch]),
        ..ServerOptions::default()
    });
    let run = harness(&server.target_args_with(&[
        "--include-ignored",
        "--progress",
        "never",
        "concurrent_switches::",
    ]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    // Every selected trial judged: what was not judged is only what the filter left out.
    let not_judged = run
        .stdout
        .lines()
        .find(|l| l.starts_with("not judged: "))
        .unwrap_or_default();
    assert!(
        not_judged.ends_with(" deselected)") && !not_judged.contains(','),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("the run slowed down to 1 request in flight at a time"),
        "{}",
        run.stderr
    );
}
