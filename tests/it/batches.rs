//! Checked batches: probes that may change the account go together, and a batch that changed it
//! is bisected down to the probes that did. The verdicts are those of checking after each probe
//! (`--check-each-probe`), and every change is put on the right probe.

use std::collections::BTreeSet;

use nexudus_conformance::server::{Fault, Faults, ServerOptions};

use crate::support::{Server, args, harness, normalize};

/// A fault, the case it is seen in, the probes that change the account under it (by step), and
/// whether the batches still cost fewer requests than reading the account after each probe
/// (they do when changes are rare among many probes; a bisection costs more than checking a
/// small batch one by one).
type Bisection = (
    Fault,
    &'static str,
    &'static [(&'static str, &'static str)],
    bool,
);

const BISECTIONS: &[Bisection] = &[
    // One of a batch of four.
    (
        Fault::DeleteListClearsDefault,
        "method_probes::",
        &[("list_writes", "method DELETE")],
        false,
    ),
    // Two of three: the server answers HEAD as it answers GET.
    (
        Fault::GetSwitches,
        "method_probes::",
        &[("safe", "method GET"), ("safe", "method HEAD")],
        false,
    ),
    // All three.
    (
        Fault::AcceptAnyBearer,
        "credential_probes::",
        &[
            ("switch", "the bearer token truncated"),
            ("switch", "the bearer token extended"),
            ("switch", "the bearer token one character changed"),
        ],
        false,
    ),
    // Three of ten, not next to each other in the bisection's halves.
    (
        Fault::ForeignIdSpellingAccepted,
        "coworker_id_probes::",
        &[
            ("not_own", "leading zero `02201` of foreign_profile_id"),
            ("not_own", "leading zeros `0002201` of foreign_profile_id"),
            ("not_own", "plus sign `+2201` of foreign_profile_id"),
        ],
        false,
    ),
    // One, in the truncated token among the case's probes.
    (
        Fault::TokenPrefixMatch,
        "credential_probes::",
        &[("switch", "the bearer token truncated")],
        false,
    ),
    // Every spelling of the inactive id, in a later batch of the case: the batch of the other
    // user's and unknown ids changed nothing, so batching still costs less than reading after
    // every probe.
    (
        Fault::InactiveSwitchAllowed,
        "coworker_id_probes::",
        &[
            ("inactive", "leading zero `01104` of inactive_profile_id"),
            ("inactive", "leading zeros `0001104` of inactive_profile_id"),
            ("inactive", "plus sign `+1104` of inactive_profile_id"),
            ("inactive", "leading space ` 1104` of inactive_profile_id"),
            ("inactive", "trailing space `1104 ` of inactive_profile_id"),
            (
                "inactive",
                "percent-encoded digits `%31%31%30%34` of inactive_profile_id",
            ),
        ],
        true,
    ),
    // Six of the ten spellings of another user's id.
    (
        Fault::AcceptForeignProfile,
        "coworker_id_probes::",
        &[
            ("not_own", "leading zero `02201` of foreign_profile_id"),
            ("not_own", "leading zeros `0002201` of foreign_profile_id"),
            ("not_own", "plus sign `+2201` of foreign_profile_id"),
            ("not_own", "leading space ` 2201` of foreign_profile_id"),
            ("not_own", "trailing space `2201 ` of foreign_profile_id"),
            (
                "not_own",
                "percent-encoded digits `%32%32%30%31` of foreign_profile_id",
            ),
        ],
        false,
    ),
    // One of the two repeated ids — whose other probe, switching back to the original default,
    // would hide it if the two went together (probes built from the original default are
    // checked alone).
    (
        Fault::AcceptForeignProfile,
        "repeated_coworker_id::",
        &[(
            "repeated",
            "coworkerId twice: foreign_profile_id then original_profile_id",
        )],
        false,
    ),
    (
        Fault::RepeatedIdUnchecked,
        "repeated_coworker_id::",
        &[(
            "repeated",
            "coworkerId twice: original_profile_id then foreign_profile_id",
        )],
        false,
    ),
];

/// The (step, probe) pairs the failure texts say changed the account.
fn attributed(output: &str) -> BTreeSet<(String, String)> {
    output
        .lines()
        .filter_map(|l| {
            l.split_once("the account changed after probe `")
                .or_else(|| l.split_once("also after probe `"))
        })
        .map(|(_, rest)| {
            let (probe, rest) = rest.split_once("` of step `").unwrap();
            let step = rest.split('`').next().unwrap();
            (step.to_string(), probe.to_string())
        })
        .collect()
}

/// The report (stdout: the header and progress, whose request counts differ by design, are on
/// stderr) without timings and the port.
fn verdicts(stdout: &str, base_url: &str) -> String {
    normalize(stdout, base_url)
}

#[test]
fn bisection_puts_every_change_on_the_probes_that_made_it() {
    for (fault, filter, expected, pays_off) in BISECTIONS {
        let server = Server::start_with(ServerOptions {
            faults: Faults::from([*fault]),
            ..ServerOptions::default()
        });
        let run = |extra: &[&str]| {
            let mut a = server.target_args();
            a.extend(args(&["--include-ignored", filter]));
            a.extend(args(extra));
            let before = server.get().requests_received();
            let run = harness(&a);
            (run, server.get().requests_received() - before)
        };
        let original = server.get().primary_default_profile();
        assert!(original.is_some());
        let (batched, batched_requests) = run(&[]);
        let (each, each_requests) = run(&["--check-each-probe"]);
        let label = format!("{fault:?} on {filter}");
        assert_eq!(batched.code, 101, "{label}: {}", batched.all_output());
        let expected: BTreeSet<(String, String)> = expected
            .iter()
            .map(|(s, p)| (s.to_string(), p.to_string()))
            .collect();
        assert_eq!(
            attributed(&batched.stdout),
            expected,
            "{label}: {}",
            batched.stdout
        );
        // The same trials fail with the same texts as when the account is read after every
        // probe.
        assert_eq!(batched.failed(), each.failed(), "{label}");
        assert_eq!(
            verdicts(&batched.stdout, &server.base_url()),
            verdicts(&each.stdout, &server.base_url()),
            "{label}"
        );
        // When only a later batch changes the account, batching still costs less than reading
        // after every probe.
        if *pays_off {
            assert!(
                batched_requests < each_requests,
                "{label}: batched {batched_requests}, one by one {each_requests}"
            );
        }
        // The bisection and the run left the account as they found it.
        assert_eq!(server.get().primary_default_profile(), original, "{label}");
    }
}

#[test]
fn a_correct_target_costs_one_read_before_and_after_each_batch() {
    // Nothing changes, so nothing is attributed and nothing is sent twice: the batch run sends
    // fewer requests than reading after each probe, by (probes - 1) reads of both lists per
    // batch.
    let server = Server::start();
    let count = |extra: &[&str]| {
        let mut a = server.target_args();
        a.extend(args(&["--include-ignored", "method_probes::"]));
        a.extend(args(extra));
        let before = server.get().requests_received();
        let run = harness(&a);
        assert_eq!(run.code, 0, "{}", run.all_output());
        assert!(attributed(&run.stdout).is_empty(), "{}", run.stdout);
        server.get().requests_received() - before
    };
    let (batched, each) = (count(&[]), count(&["--check-each-probe"]));
    // method_probes: batches of 3, 3 and 4 probes; each read is of both users' lists.
    assert_eq!(each - batched, 2 * ((3 - 1) + (3 - 1) + (4 - 1)));
}

/// The failure blocks of a run's stdout, by trial name.
fn failure_blocks(stdout: &str, base_url: &str) -> std::collections::BTreeMap<String, String> {
    let text = normalize(stdout, base_url);
    let mut blocks = std::collections::BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" ----"))
        {
            if let Some((n, b)) = current.take() {
                blocks.insert(n, b.trim_end().to_string());
            }
            current = Some((name.to_string(), String::new()));
        } else if line == "failures:" {
            if let Some((n, b)) = current.take() {
                blocks.insert(n, b.trim_end().to_string());
            }
        } else if let Some((_, b)) = current.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks
}

#[test]
fn refusing_cases_run_together_with_the_verdicts_of_running_alone() {
    // Under accept_any_bearer several refusing cases switch the account: the group's check sees
    // it, puts the default back and runs them one at a time, so every failure reads as it does
    // when the case runs alone.
    let server = Server::start_with(ServerOptions {
        faults: Faults::from([Fault::AcceptAnyBearer]),
        ..ServerOptions::default()
    });
    let run = |filter: &str| {
        let mut a = server.target_args();
        a.extend(args(&["--include-ignored", "--no-snapshots"]));
        if !filter.is_empty() {
            a.extend(args(&[filter]));
        }
        harness(&a)
    };
    let whole = run("");
    assert_eq!(whole.code, 101, "{}", whole.all_output());
    let together = failure_blocks(&whole.stdout, &server.base_url());
    // The refusing cases (a case without state, run beside anything, may show a list as it
    // is at that moment: its texts are not compared).
    let cases: std::collections::BTreeSet<&str> = together
        .keys()
        .filter_map(|t| t.split("::").next())
        .filter(|case| crate::support::shipped_case(case).contains("\"state\": \"guards\""))
        .collect();
    assert!(cases.len() >= 2, "{cases:?}");
    for case in cases {
        let alone = run(&format!("{case}::"));
        let alone = failure_blocks(&alone.stdout, &server.base_url());
        let in_suite: std::collections::BTreeMap<&String, &String> = together
            .iter()
            .filter(|(t, _)| t.starts_with(&format!("{case}::")))
            .collect();
        assert_eq!(
            in_suite,
            alone.iter().collect::<std::collections::BTreeMap<_, _>>(),
            "{case}"
        );
    }
    assert_eq!(server.get().primary_default_profile(), Some(1101));
}
