//! Secret hygiene: with canary tokens, passing and failing runs must not show any token — raw,
//! URL-encoded or base64 — on any output channel, in any format, even when the target echoes the
//! token in `User.AccessToken` and in its error messages.

use nexudus_conformance::api::TokenVariant;
use nexudus_conformance::server::{Fault, Faults, FixedTokens, ServerOptions};

use crate::support::{Server, args, case_dir, harness, shipped_case};

const PRIMARY: &str = "canary+Prim/ary=Token.0001";
const FOREIGN: &str = "canary+For/eign=Token.0002";
const EXPIRED: &str = "canary+Exp/ired=Token.0003";
const PASSWORD: &str = "canary+Pass/word=Secret.0004";

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Every form of `secret` that must not appear; the base64 forms lose their last two characters,
/// which depend on what follows the secret.
fn forms(secret: &str) -> Vec<(String, String)> {
    let url: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut out = vec![
        ("raw".to_string(), secret.to_string()),
        ("url-encoded".to_string(), url),
    ];
    for prefix in ["", "Bearer ", "user:", "ab"] {
        let b = base64(format!("{prefix}{secret}").as_bytes());
        let core = &b[b.len() - 2 - (secret.len() * 4 / 3 - 4)..b.len() - 2];
        out.push((format!("base64 after {prefix:?}"), core.to_string()));
        out.push((
            format!("base64url after {prefix:?}"),
            core.replace('+', "-").replace('/', "_"),
        ));
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    // The tokens the credential probes derive (a truncated token is most of the real one).
    let derived: Vec<String> = [PRIMARY, FOREIGN, EXPIRED]
        .iter()
        .flat_map(|t| TokenVariant::ALL.map(|v| v.derive(t)))
        .collect();
    let secrets = [PRIMARY, FOREIGN, EXPIRED, PASSWORD]
        .into_iter()
        .chain(derived.iter().map(String::as_str));
    for secret in secrets {
        for (form, needle) in forms(secret) {
            assert!(
                !text.contains(&needle),
                "{what}: leaks the {form} form of a token ({needle})"
            );
        }
    }
}

#[test]
fn the_forms_checked_are_real_encodings() {
    // base64("Bearer canary+Prim/ary=Token.0001") holds the core the test looks for.
    let full = base64(format!("Bearer {PRIMARY}").as_bytes());
    let core = &forms(PRIMARY)[4].1;
    assert!(full.contains(core.as_str()), "{full} / {core}");
    assert!(forms(PRIMARY)[1].1.contains("%2B"));
}

#[test]
fn no_channel_shows_a_token() {
    let server = Server::start_with(ServerOptions {
        // The server echoes tokens in error messages and breaks some rules, so failure texts
        // (with bodies and curl lines) are printed for responses that carry the tokens.
        faults: Faults::from([
            Fault::EchoTokenInErrors,
            Fault::ForeignProfile403,
            Fault::StatusNotMirrored,
            Fault::AcceptRawToken,
        ]),
        tokens: Some(FixedTokens {
            primary: Some(PRIMARY.into()),
            foreign: Some(FOREIGN.into()),
            expired: Some(EXPIRED.into()),
            password: Some(PASSWORD.into()),
        }),
        ..ServerOptions::default()
    });
    let wrong = shipped_case("profiles_list").replace(
        r#"{ "use": "body_matches_schema" }"#,
        crate::suite::WRONG_SCHEMA_RULE,
    );
    let mut cases: Vec<(String, String)> = [
        "bad_token",
        "foreign_profile",
        "malformed_authorization",
        "expired_token",
        "valid_switch",
        "foreign_token_isolation",
    ]
    .iter()
    .map(|id| (format!("{id}.json"), shipped_case(id)))
    .collect();
    cases.push(("profiles_list.json".into(), wrong));
    // The derived-token probes, with a wrong expectation, so that the refusals that echo the
    // derived token are printed.
    cases.push((
        "credential_probes.json".into(),
        shipped_case("credential_probes").replacen(
            r#"{ "use": "status_is_401" }"#,
            r#"{"id": "status_is_401", "level": "must", "cites": "switch_401", "check": {"status": {"any_of": [403]}}}"#,
            1,
        ),
    ));
    let files: Vec<(&str, &str)> = cases
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let dir = case_dir("secrets", &files);
    let logfile = std::env::temp_dir().join(format!("nxc-it-{}-secrets.log", std::process::id()));
    let junit = std::env::temp_dir().join(format!("nxc-it-{}-secrets.xml", std::process::id()));
    let manifest = std::env::temp_dir().join(format!(
        "nxc-it-{}-secrets-manifest.json",
        std::process::id()
    ));
    let html = std::env::temp_dir().join(format!("nxc-it-{}-secrets-html", std::process::id()));
    let variants: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--include-ignored"],
        vec!["--include-ignored", "--format", "terse"],
        vec!["--include-ignored", "--format", "json"],
        vec!["--include-ignored", "-q"],
        vec!["--include-ignored", "--color", "always"],
        vec!["--include-ignored", "--logfile", logfile.to_str().unwrap()],
        vec!["--list"],
        vec![
            "--include-ignored",
            "--junit",
            junit.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--report-html",
            html.to_str().unwrap(),
        ],
    ];
    let mut saw_failures = false;
    for variant in variants {
        let mut a = server.target_args();
        a.extend(args(&["--cases", dir.to_str().unwrap()]));
        a.extend(args(&variant));
        let run = harness(&a);
        assert!(
            run.code == 0 || run.code == 101,
            "{variant:?}: {}",
            run.all_output()
        );
        saw_failures |= run.code == 101;
        assert_clean(&format!("stdout {variant:?}"), &run.stdout);
        assert_clean(&format!("stderr {variant:?}"), &run.stderr);
    }
    assert!(saw_failures, "the failing runs printed failure texts");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(
        log.contains("request authorization: Bearer [REDACTED]"),
        "{log}"
    );
    assert!(
        log.contains("$NEXUDUS_TOKEN"),
        "curl lines name the variable"
    );
    assert_clean("--logfile", &log);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("request authorization: Bearer [REDACTED]"),
        "{xml}"
    );
    assert_clean("--junit", &xml);
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains("request authorization: Bearer [REDACTED]") || text.contains("\"failed\""),
        "{text}"
    );
    assert_clean("--manifest", &text);
    let page = std::fs::read_to_string(html.join("index.html")).unwrap();
    assert!(page.contains("Bearer [REDACTED]"), "{page}");
    assert_clean("--report-html", &page);
    // Signed in with the password (the tokens the server issues are new, and redacted too).
    let url = server.base_url();
    let signed_in = harness(&args(&[
        "--base-url",
        &url,
        "--username",
        "ada@example.test",
        "--password",
        PASSWORD,
        "--foreign-profile-id",
        "2201",
        "--cases",
        dir.to_str().unwrap(),
        "--include-ignored",
    ]));
    assert_eq!(signed_in.code, 101, "{}", signed_in.all_output());
    assert!(
        signed_in.stdout.contains("\"AccessToken\":\"[REDACTED]\""),
        "{}",
        signed_in.stdout
    );
    assert_clean("signed-in stdout", &signed_in.stdout);
    assert_clean("signed-in stderr", &signed_in.stderr);
    let wrong = harness(&args(&[
        "--base-url",
        &url,
        "--username",
        "ada@example.test",
        "--password",
        &format!("{PASSWORD}x"),
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(wrong.code, 3, "{}", wrong.all_output());
    assert_clean("sign-in error", &wrong.all_output());
    // A passing run against the echoing server, and the target-unusable path with a bad token.
    let passing = harness(&server.target_args());
    assert_clean("passing stdout", &passing.stdout);
    assert_clean("passing stderr", &passing.stderr);
    let unusable = harness(&args(&[
        "--base-url",
        &server.base_url(),
        "--token",
        EXPIRED,
        "--foreign-profile-id",
        "2201",
    ]));
    assert_eq!(unusable.code, 3, "{}", unusable.all_output());
    assert_clean("unusable stderr", &unusable.all_output());
}
