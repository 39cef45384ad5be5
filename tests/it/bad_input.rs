//! Bad input: each problem exits 2 before any request is sent, with a message that names the file
//! and the position (line:column and/or JSON pointer) and says how to fix it.

use crate::support::{Server, args, case_dir, harness, plain_dir, remote_args, shipped_case};

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
    assert!(help.stdout.contains(
        "Count the SHOULD trials too: by default they are judged as advice (listed as ignored, \
         with whether they were followed) and decide nothing"
    ));
    assert!(help.stdout.contains("[alias: --strict]"), "{}", help.stdout);
    // Grouped by what a user does, in this order, each option under one heading.
    let headings: Vec<usize> = [
        "\nTarget:\n",
        "\nCredentials and fixtures:\n",
        "\nSelection:\n",
        "\nOutput:\n",
        "\nPoliteness and limits:\n",
        "\nNightly:\n",
    ]
    .iter()
    .map(|h| {
        help.stdout
            .find(h)
            .unwrap_or_else(|| panic!("{h:?} in {}", help.stdout))
    })
    .collect();
    assert!(headings.windows(2).all(|w| w[0] < w[1]), "{}", help.stdout);
    let options = &help.stdout[help.stdout.find("\nOptions:\n").unwrap()..headings[0]];
    assert!(
        options
            .lines()
            .filter(|l| l.trim_start().starts_with("--"))
            .count()
            == 0,
        "ungrouped: {options}"
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

/// A TLS server on 127.0.0.1 whose certificate is signed by a CA made here; it answers every
/// request 401. Returns its base URL and the CA's PEM.
fn private_ca_server() -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "nexudus-conformance test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 8192];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    });
    (format!("https://127.0.0.1:{port}"), ca.pem())
}

#[test]
fn connection_problems_say_what_to_check() {
    // A private CA: without --cacert the error names it; with it, the run gets through to the
    // server (whose 401 then says which token to renew, here one from the environment).
    let (url, ca) = private_ca_server();
    let ca_file = std::env::temp_dir().join(format!("nxc-it-{}-ca.pem", std::process::id()));
    std::fs::write(&ca_file, &ca).unwrap();
    let base = ["--base-url", url.as_str(), "--foreign-profile-id", "2201"];
    let mut untrusted = std::process::Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"));
    untrusted
        .args(base)
        .env("NEXUDUS_TOKEN", "a-token-from-the-environment");
    let out = untrusted.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("UnknownIssuer")
            && stderr.contains("pass the CA's certificate with --cacert FILE (PEM)"),
        "{stderr}"
    );
    let trusted = untrusted
        .args(["--cacert", ca_file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&trusted.stderr);
    assert_eq!(trusted.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "answered 401: the token is missing, expired or invalid; get a fresh one and give it \
             with the NEXUDUS_TOKEN environment variable"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("a-token-from-the-environment"), "{stderr}");
    // --cacert that holds no certificate is bad input.
    let not_pem = std::env::temp_dir().join(format!("nxc-it-{}-not.pem", std::process::id()));
    std::fs::write(&not_pem, "hello").unwrap();
    let run = harness(&args(&[
        "--base-url",
        &url,
        "--token",
        "abcdefghijkl",
        "--cacert",
        not_pem.to_str().unwrap(),
    ]));
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(run.stderr.contains("--cacert"), "{}", run.stderr);
    // A refused connection: is anything listening there?
    let port = crate::support::free_port();
    let run = harness(&remote_args(&format!("http://127.0.0.1:{port}"), &[]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr
            .contains(&format!("is a server listening at 127.0.0.1:{port}?")),
        "{}",
        run.stderr
    );
    // A base URL with the API's own prefix: the path is doubled, and the 404 says so.
    let server = Server::start();
    let token = server.get().credentials().primary_token.clone();
    let run = harness(&args(&[
        "--base-url",
        &format!("{}/api", server.base_url()),
        "--token",
        &token,
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "/api/api/public/coworkers/profiles answered 404; the base URL has the path `/api`, \
             and the harness appends /api/public/coworkers/profiles to it: if the API is at the \
             host's root, give --base-url {}",
            server.base_url()
        )),
        "{}",
        run.stderr
    );
}
