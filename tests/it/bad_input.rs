//! Bad input: each problem exits 2 before any request is sent, with a message that names the file
//! and the position (line:column and/or JSON pointer) and says how to fix it.

use crate::support::{Server, args, case_dir, harness, plain_dir, shipped_case};

/// A shipped case with one text replacement, for a one-line mistake.
fn mistake(id: &str, from: &str, to: &str) -> String {
    let text = shipped_case(id);
    assert!(text.contains(from), "{id} has no {from:?}");
    text.replacen(from, to, 1)
}

/// (file name, contents) pairs for a temporary directory.
type Files<'a> = Vec<(&'a str, String)>;

#[test]
fn bad_input_exits_2_and_sends_nothing() {
    let server = Server::start();
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let read = |f: &str| std::fs::read_to_string(schemas.join(f)).unwrap();
    let table: Vec<(&str, Files, Files, Vec<&str>)> = vec![
        // (name, case files, schema files (empty: the shipped ones), extra flags)
        (
            "malformed_json",
            vec![(
                "bad_token.json",
                "{\n  \"summary\": \"x\",\n  \"state\" \"changes\"\n}".into(),
            )],
            vec![],
            vec![],
        ),
        (
            "unknown_field",
            vec![(
                "valid_switch.json",
                mistake("valid_switch", "\"summary\"", "\"sumary\""),
            )],
            vec![],
            vec![],
        ),
        (
            "missing_schema_ref",
            vec![
                ("valid_switch.json", shipped_case("valid_switch")),
                (
                    "_contract.json",
                    mistake(
                        "_contract",
                        "action-confirmation.json#/$defs/success",
                        "action-confirmaton.json#/$defs/success",
                    ),
                ),
            ],
            vec![],
            vec![],
        ),
        (
            "unknown_variable",
            vec![(
                "valid_switch.json",
                mistake(
                    "valid_switch",
                    "{{target_profile_id}}",
                    "{{target_profile}}",
                ),
            )],
            vec![],
            vec![],
        ),
        (
            "unknown_credential",
            vec![(
                "bad_token.json",
                mistake(
                    "bad_token",
                    "\"credential\": \"invalid\"",
                    "\"credential\": \"invalidd\"",
                ),
            )],
            vec![],
            vec![],
        ),
        (
            "duplicate_case_ids",
            vec![
                ("a/bad_token.json", shipped_case("bad_token")),
                ("b/bad_token.json", shipped_case("bad_token")),
            ],
            vec![],
            vec![],
        ),
        (
            "empty_cases_dir",
            vec![("README.txt", "no json here".into())],
            vec![],
            vec![],
        ),
        (
            "schema_does_not_compile",
            vec![("bad_token.json", shipped_case("bad_token"))],
            vec![
                ("action-confirmation.json", read("action-confirmation.json")),
                (
                    "profiles.json",
                    read("profiles.json").replacen(
                        "\"type\": \"object\"",
                        "\"type\": \"objekt\"",
                        1,
                    ),
                ),
            ],
            vec![],
        ),
        (
            "schema_ref_to_missing_file",
            vec![("bad_token.json", shipped_case("bad_token"))],
            vec![
                ("action-confirmation.json", read("action-confirmation.json")),
                (
                    "profiles.json",
                    read("profiles.json").replacen("\"#/$defs/user\"", "\"user.json\"", 1),
                ),
            ],
            vec![],
        ),
        (
            "invalid_base_url",
            vec![],
            vec![],
            vec!["--base-url", "spaces.nexudus.com"],
        ),
        (
            "base_url_without_token",
            vec![],
            vec![],
            vec!["--base-url", "https://space.spaces.nexudus.com"],
        ),
        ("bad_timeout", vec![], vec![], vec!["--timeout", "0"]),
        ("no_sweep", vec![], vec![], vec!["--sweep-size", "0"]),
        ("no_threads", vec![], vec![], vec!["--test-threads", "0"]),
        (
            "short_secret",
            vec![],
            vec![],
            vec!["--base-url", "http://127.0.0.1:9", "--token", "T1"],
        ),
        ("filter_typo", vec![], vec![], vec!["valid_swtich"]),
        (
            "skip_typo",
            vec![],
            vec![],
            vec!["--skip", "credntial_probes"],
        ),
        (
            "unwritable_snapshots",
            vec![],
            vec![],
            vec![
                "--snapshots",
                "/proc/no-such-dir",
                "--target-label",
                "x",
                "--update-snapshots",
                "always",
            ],
        ),
        ("only_ignored", vec![], vec![], vec!["json_content_type"]),
        (
            "unknown_fault",
            vec![],
            vec![],
            vec!["serve", "--fault", "acept_any_bearer"],
        ),
    ];
    let mut report = String::new();
    for (name, cases, schema_files, extra) in table {
        let mut a = if extra.iter().any(|e| e.starts_with("--base-url")) {
            Vec::new()
        } else {
            server.target_args()
        };
        let case_path = (!cases.is_empty()).then(|| {
            case_dir(
                &format!("bad-{name}"),
                &cases
                    .iter()
                    .map(|(f, t)| (*f, t.as_str()))
                    .collect::<Vec<_>>(),
            )
        });
        let schema_path = (!schema_files.is_empty()).then(|| {
            plain_dir(
                &format!("bad-schemas-{name}"),
                &schema_files
                    .iter()
                    .map(|(f, t)| (*f, t.as_str()))
                    .collect::<Vec<_>>(),
            )
        });
        if let Some(dir) = &case_path {
            a.extend(args(&["--cases", dir.to_str().unwrap()]));
        }
        if let Some(dir) = &schema_path {
            a.extend(args(&["--schemas", dir.to_str().unwrap()]));
        }
        a.extend(args(&extra));
        let run = harness(&a);
        assert_eq!(run.code, 2, "{name}: {}", run.all_output());
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        let mut message = run.stderr.trim().to_string();
        for dir in [&case_path, &schema_path].into_iter().flatten() {
            message = message.replace(dir.to_str().unwrap(), "DIR");
        }
        report.push_str(&format!("{name}:\n{message}\n\n"));
    }
    assert_eq!(
        server.get().requests_received(),
        0,
        "bad input sent a request"
    );
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("bad_input", report);
    });
}

#[test]
fn remote_only_flags_need_a_base_url() {
    // Without --base-url the run would go against the embedded server and ignore them: green for
    // nothing. Each is refused, from the command line or from the environment.
    for flags in [
        &["--token", "abcdefghijkl"][..],
        &["--foreign-token", "abcdefghijkl"],
        &["--expired-token", "abcdefghijkl"],
        &["--foreign-profile-id", "2201"],
        &["--target-label", "staging"],
        &["--token-url", "https://spaces.nexudus.com/api/token"],
    ] {
        let run = harness(&args(flags));
        assert_eq!(run.code, 2, "{flags:?}: {}", run.all_output());
        assert!(
            run.stderr.contains(&format!(
                "{}: only means something for a --base-url target",
                flags[0]
            )),
            "{flags:?}: {}",
            run.stderr
        );
    }
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"));
    for (k, _) in std::env::vars() {
        if k.starts_with("NEXUDUS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.env("NEXUDUS_TOKEN", "abcdefghijkl").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn messages_point_the_right_way() {
    let server = Server::start();
    let token = server.get().credentials().primary_token.clone();
    let plain = server.base_url();
    // https:// against a plain-HTTP server says which scheme to use.
    let tls = plain.replacen("http://", "https://", 1);
    let run = harness(&args(&[
        "--base-url",
        &tls,
        "--token",
        &token,
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "the server answered plain HTTP, not TLS: use {plain} instead of {tls}"
        )),
        "{}",
        run.stderr
    );
    // A base URL's path prefix is part of every URL a message shows.
    let prefixed = format!("{plain}/tenant/x");
    let run = harness(&args(&[
        "--base-url",
        &prefixed,
        "--token",
        &token,
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "GET {prefixed}/api/public/coworkers/profiles answered 404"
        )),
        "{}",
        run.stderr
    );
    // A libtest flag that would make every trial ignored is refused, not a green run.
    let run = harness(&args(&["--bench"]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("error: --bench: this harness has no benchmarks"),
        "{}",
        run.stderr
    );
    // Help says what the ignored trials are, and lists no flag that does nothing here.
    let help = harness(&args(&["--help"]));
    assert!(
        help.stdout
            .contains("Also run the SHOULD trials, which are ignored by default")
    );
    assert!(
        help.stdout
            .contains("Run only the SHOULD trials (those ignored by default)")
    );
    for hidden in ["--bench", "--nocapture", "--show-output", "-Z ", "--test "] {
        assert!(!help.stdout.contains(hidden), "{hidden} is listed");
    }
    // libtest-mimic's own texts are replaced: no inherited typos, no implementation details.
    for inherited in ["Usefull", "run on serially", "`format` is `None`"] {
        assert!(
            !help.stdout.contains(inherited),
            "help still says {inherited:?}"
        );
    }
}

#[test]
fn every_broken_file_is_reported_with_the_line_and_a_caret() {
    let files: Files = vec![
        ("_contract.json", shipped_case("_contract")),
        (
            "bad_token.json",
            mistake(
                "bad_token",
                "\"state\": \"guards\"",
                "\"state\": \"gaurds\"",
            ),
        ),
        (
            "valid_switch.json",
            mistake(
                "valid_switch",
                "{{target_profile_id}}",
                "{{target_profile}}",
            ),
        ),
        (
            "missing_token.json",
            mistake("missing_token", "\"steps\": [", "\"steps\": [,"),
        ),
        ("foreign_profile.json", shipped_case("foreign_profile")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let dir = case_dir("several-broken", &files);
    let run = harness(&args(&["--cases", dir.to_str().unwrap(), "--list"]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    let text = run.stderr.replace(dir.to_str().unwrap(), "DIR");
    // Each broken file once, in file order, with its line and a caret under the member; the
    // sound file not at all.
    let titles: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(titles.len(), 4, "{text}");
    assert!(
        titles[0].starts_with("error: DIR/bad_token.json:4:"),
        "{text}"
    );
    assert!(
        titles[1].starts_with("error: DIR/missing_token.json:"),
        "{text}"
    );
    assert!(titles[2].starts_with("error: DIR/valid_switch.json:14:11 at #/steps/0/request/query/coworkerId: unknown variable"), "{text}");
    assert_eq!(titles[3], "error: 3 errors; nothing was sent");
    assert!(
        text.contains(
            "14 |           \"coworkerId\": \"{{target_profile}}\"\n   |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
        ),
        "{text}"
    );
    assert!(!text.contains("foreign_profile.json"), "{text}");
}
