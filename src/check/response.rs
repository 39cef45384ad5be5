//! Checks that apply to any response, whatever its request: how a body is labelled and parsed,
//! what it must not disclose, how caches may treat it, its challenge, and how it relates to the
//! answer of an equivalent request.

use serde_json::Value;

use super::{Finding, Verdict, media_type, parse_body, violation};
use crate::case::{Var, Vars};
use crate::http::HttpResponse;

/// The parts of an answer two equivalent requests must share: status, media type and body,
/// with each masked variable's value replaced by its name.
pub fn answer_of(response: &HttpResponse) -> Value {
    serde_json::json!({
        "status": response.status,
        "media_type": response.header("content-type").map(media_type).unwrap_or_default().to_ascii_lowercase(),
        "body": String::from_utf8_lossy(&response.body),
    })
}

/// What a masked value is replaced by.
const MASK: &str = "[masked id]";

pub(super) fn same_answer(
    response: &HttpResponse,
    same: &crate::case::SameAnswer,
    vars: &Vars,
) -> Verdict {
    let Some(earlier) = vars.get(Var::StepAnswers).and_then(|a| a.get(&same.step)) else {
        return Verdict::Broken(format!(
            "step `{}` gave no answer to compare with",
            same.step
        ));
    };
    let mask = |answer: &Value| -> Result<(u64, String, String), Verdict> {
        let mut body = answer["body"].as_str().unwrap_or_default().to_string();
        for var in &same.mask {
            let value = vars.get(*var).ok_or_else(|| {
                Verdict::Broken(format!("variable `{{{{{var}}}}}` has no value in this run"))
            })?;
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !text.is_empty() {
                // One marker for every masked id: the two requests differ in which id they send.
                body = body.replace(&text, MASK);
            }
        }
        Ok((
            answer["status"].as_u64().unwrap_or_default(),
            answer["media_type"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body,
        ))
    };
    let (this, that) = match (mask(&answer_of(response)), mask(earlier)) {
        (Ok(this), Ok(that)) => (this, that),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    if this == that {
        return Verdict::Pass(None);
    }
    let mut details = Vec::new();
    if this.0 != that.0 {
        details.push(format!(
            "status {} here, {} for `{}`",
            this.0, that.0, same.step
        ));
    }
    if this.1 != that.1 {
        details.push(format!(
            "media type `{}` here, `{}` for `{}`",
            this.1, that.1, same.step
        ));
    }
    if this.2 != that.2 {
        details.push(format!(
            "body (ids masked) {} here, {} for `{}`",
            excerpt(&this.2),
            excerpt(&that.2),
            same.step
        ));
    }
    Verdict::Violation(Finding {
        expected: format!(
            "the same answer as step `{}` (status, media type, body), once {} are masked",
            same.step,
            same.mask
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        actual: "a different answer, which tells a caller the two requests apart".into(),
        details,
        diff: None,
    })
}

pub(super) fn excerpt(text: &str) -> String {
    let shown: String = text.chars().take(160).collect();
    if shown.len() < text.len() {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    }
}

/// The response as one text: status line, headers, body.
pub(super) fn whole_text(response: &HttpResponse) -> String {
    let mut text = format!("{}\n", response.status);
    for (name, value) in &response.headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push_str(&String::from_utf8_lossy(&response.body));
    text
}

pub(super) fn absent_patterns(
    response: &HttpResponse,
    patterns: &[crate::case::NamedPattern],
) -> Verdict {
    let text = whole_text(response);
    let mut found: Vec<String> = Vec::new();
    for p in patterns {
        match p.regex() {
            Ok(regex) => found.extend(
                regex
                    .find(&text)
                    .map(|m| format!("{} ({})", p.name, excerpt(m.as_str().trim()))),
            ),
            Err(why) => {
                return Verdict::Broken(format!("pattern `{}` cannot be compiled: {why}", p.name));
            }
        }
    }
    if found.is_empty() {
        Verdict::Pass(None)
    } else {
        violation(
            format!(
                "none of: {}",
                patterns
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            found.join("; "),
        )
    }
}

/// Whether a Content-Type names JSON: `application/json` or a `+json` suffix.
pub(super) fn labelled_json(response: &HttpResponse) -> bool {
    response.header("content-type").is_some_and(|v| {
        let t = media_type(v).to_ascii_lowercase();
        t == "application/json" || t.ends_with("+json")
    })
}

pub(super) fn json_parses(response: &HttpResponse) -> Verdict {
    if !labelled_json(response) {
        return Verdict::Pass(Some("not applicable: the body is not labelled JSON".into()));
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Pass(Some("not applicable: the response has no body".into()));
    }
    match parse_body(response) {
        Ok(_) => Verdict::Pass(None),
        Err(Verdict::Violation(f)) => Verdict::Violation(Finding {
            expected: format!(
                "a body that parses as JSON, as its Content-Type `{}` says",
                response.header("content-type").unwrap_or_default()
            ),
            ..f
        }),
        Err(other) => other,
    }
}

/// The directives of every `Cache-Control` field, lowercase names with their values.
pub(super) fn cache_directives(response: &HttpResponse) -> Vec<(String, Option<String>)> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
        .flat_map(|(_, value)| value.split(','))
        .filter_map(|d| {
            let d = d.trim();
            if d.is_empty() {
                return None;
            }
            let (name, value) = match d.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"').to_string())),
                None => (d, None),
            };
            Some((name.to_ascii_lowercase(), value))
        })
        .collect()
}

pub(super) fn not_shared_cacheable(response: &HttpResponse, vars: &Vars) -> Verdict {
    match vars.get(Var::RequestCredentials).and_then(Value::as_bool) {
        Some(true) => {}
        Some(false) => {
            return Verdict::Pass(Some(
                "not applicable: the request carried no credentials".into(),
            ));
        }
        None => {
            return Verdict::Pass(Some(
                "not applicable: whether the request carried credentials is not known here".into(),
            ));
        }
    }
    let directives = cache_directives(response);
    let has = |name: &str| directives.iter().any(|(n, _)| n == name);
    let allows: Vec<&str> = ["public", "s-maxage", "must-revalidate"]
        .into_iter()
        .filter(|d| has(d))
        .collect();
    if allows.is_empty() || has("no-store") || has("private") {
        return Verdict::Pass(None);
    }
    violation(
        "a response to a request with credentials that shared caches do not store: no `public`, `s-maxage` or `must-revalidate` without `no-store` or `private` (RFC 9111 §3.5)",
        format!(
            "cache-control: {} (`{}` lets a shared cache store it)",
            directives
                .iter()
                .map(|(n, v)| match v {
                    Some(v) => format!("{n}={v}"),
                    None => n.clone(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            allows.join("`, `")
        ),
    )
}

/// The error codes RFC 6750 §3.1 defines.
const BEARER_ERRORS: [&str; 3] = ["invalid_request", "invalid_token", "insufficient_scope"];

/// The challenges of a `WWW-Authenticate` value: each scheme (a token) with its parameters.
/// Parameters are `name=value` pairs (quoted or not); a token68 is kept as a parameter with no
/// name.
pub fn challenges(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        // A token up to whitespace, `=` or `,`.
        let end = rest.find([' ', '\t', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..end];
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if after.starts_with('=') && !out.is_empty() {
            // A parameter of the current challenge.
            let after = after[1..].trim_start();
            let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut close = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, next)) = chars.next() {
                                value.push(next);
                            }
                        }
                        '"' => {
                            close = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[close.min(quoted.len())..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            };
            if let Some((_, params)) = out.last_mut() {
                params.push((token.to_ascii_lowercase(), value));
            }
            rest = remaining;
        } else {
            out.push((token.to_string(), Vec::new()));
            rest = &rest[end..];
        }
    }
    out
}

pub(super) fn bearer_challenge(response: &HttpResponse, vars: &Vars) -> Verdict {
    let values: Vec<&str> = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.as_str())
        .collect();
    if values.is_empty() {
        return violation(
            "a WWW-Authenticate header with a Bearer challenge",
            "no www-authenticate header",
        );
    }
    let shown = format!("www-authenticate: {}", values.join(", "));
    let all: Vec<(String, Vec<(String, String)>)> =
        values.iter().flat_map(|v| challenges(v)).collect();
    let Some((_, params)) = all
        .iter()
        .find(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
    else {
        return violation(
            "a challenge whose scheme is the token `Bearer` (RFC 9110 §11.1, RFC 6750 §3)",
            shown,
        );
    };
    let error = params
        .iter()
        .find(|(n, _)| n == "error")
        .map(|(_, v)| v.as_str());
    match (
        error,
        vars.get(Var::RequestCredentials).and_then(Value::as_bool),
    ) {
        (Some(code), _) if !BEARER_ERRORS.contains(&code) => violation(
            format!(
                "an `error` that RFC 6750 §3.1 defines ({})",
                BEARER_ERRORS.join(", ")
            ),
            shown,
        ),
        (Some(_), Some(false)) => violation(
            "no error code in the challenge to a request that carried no bearer credentials (RFC 6750 §3.1)",
            shown,
        ),
        _ => Verdict::Pass(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn passes(v: &Verdict) -> bool {
        matches!(v, Verdict::Pass(_))
    }

    #[test]
    fn challenges_are_parsed_as_tokens_with_their_parameters() {
        assert_eq!(
            challenges(r#"Bearer realm="nexudus", error="invalid_token", Basic realm="x""#),
            vec![
                (
                    "Bearer".to_string(),
                    vec![
                        ("realm".to_string(), "nexudus".to_string()),
                        ("error".to_string(), "invalid_token".to_string())
                    ]
                ),
                (
                    "Basic".to_string(),
                    vec![("realm".to_string(), "x".to_string())]
                ),
            ]
        );
        assert_eq!(challenges("Bearerx")[0].0, "Bearerx");
        assert_eq!(
            challenges(r#"Bearer error="a \"quoted\" value""#)[0].1[0].1,
            "a \"quoted\" value"
        );
    }

    #[test]
    fn a_bearer_challenge_is_judged_by_scheme_and_error_code() {
        let with_token = Vars::default().with_request(true, Vec::new());
        let without = Vars::default().with_request(false, Vec::new());
        let challenge = |v: &str| response(401, &[("www-authenticate", v)], "");
        // Allowed: OWIN's plain challenge, lowercase scheme, a realm, a defined code.
        for (value, vars) in [
            ("Bearer", &with_token),
            ("bearer", &without),
            (r#"Bearer realm="nexudus""#, &without),
            (r#"Bearer error="invalid_token""#, &with_token),
            (r#"Basic realm="x", Bearer"#, &without),
        ] {
            assert!(
                passes(&bearer_challenge(&challenge(value), vars)),
                "{value}"
            );
        }
        // Refused: another scheme that starts like it, an undefined code, a code without a token.
        for (value, vars) in [
            ("Bearerx realm=\"a\"", &with_token),
            (r#"Bearer error="token_expired""#, &with_token),
            (r#"Bearer error="invalid_token""#, &without),
        ] {
            assert!(
                !passes(&bearer_challenge(&challenge(value), vars)),
                "{value}"
            );
        }
        assert!(!passes(&bearer_challenge(
            &response(401, &[], ""),
            &with_token
        )));
    }

    #[test]
    fn shared_caches_may_not_store_answers_to_requests_with_credentials() {
        let with = Vars::default().with_request(true, Vec::new());
        let without = Vars::default().with_request(false, Vec::new());
        let cached = |v: &str| response(200, &[("cache-control", v)], "{}");
        for value in [
            "no-cache, no-store, must-revalidate",
            "private, max-age=60",
            "max-age=60",
            "no-cache",
        ] {
            assert!(
                passes(&not_shared_cacheable(&cached(value), &with)),
                "{value}"
            );
        }
        assert!(passes(&not_shared_cacheable(
            &response(200, &[], "{}"),
            &with
        )));
        for value in ["public, max-age=60", "s-maxage=30", "Must-Revalidate"] {
            assert!(
                !passes(&not_shared_cacheable(&cached(value), &with)),
                "{value}"
            );
        }
        // Without credentials a shared cache may store it: not this rule's business.
        assert!(passes(&not_shared_cacheable(&cached("public"), &without)));
    }

    #[test]
    fn a_body_labelled_json_must_parse() {
        let json = [("content-type", "application/json; charset=utf-8")];
        assert!(passes(&json_parses(&response(200, &json, "{\"a\":1}"))));
        assert!(passes(&json_parses(&response(401, &json, ""))));
        assert!(passes(&json_parses(&response(
            200,
            &[("content-type", "text/html")],
            "<p>"
        ))));
        assert!(!passes(&json_parses(&response(404, &json, "{\"a\":"))));
        let problem = [("content-type", "application/problem+json")];
        assert!(!passes(&json_parses(&response(400, &problem, "not json"))));
    }

    #[test]
    fn a_pattern_is_checked_when_loaded_and_compiled_when_first_used() {
        assert!(crate::case::NamedPattern::new("broken".into(), "(unclosed".into()).is_err());
        let p = crate::case::NamedPattern::new("word".into(), r"\bat\s+\w".into()).unwrap();
        assert!(p.regex().unwrap().is_match("   at Foo"));
        // Unicode only where the pattern needs it.
        let u = crate::case::NamedPattern::new("letters".into(), r"\p{Greek}+".into()).unwrap();
        assert!(u.regex().unwrap().is_match("λόγος"));
    }

    #[test]
    fn internals_are_found_by_their_patterns() {
        let patterns: Vec<crate::case::NamedPattern> = [
            (
                "a stack frame",
                r"\bat (?:[A-Za-z_][\w`<>]*\.){2,}[\w`<>]+\(",
            ),
            (
                "an exception type",
                r"\b(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*Exception\b",
            ),
        ]
        .into_iter()
        .map(|(name, p)| crate::case::NamedPattern::new(name.into(), p.into()).unwrap())
        .collect();
        let leak =
            "System.FormatException: bad\\n   at Nexudus.Api.Controllers.Profiles.Set(String id)";
        let v = absent_patterns(&response(400, &[], leak), &patterns);
        assert!(!passes(&v));
        let plain = "{\"Message\":\"coworkerId: is not a valid profile id\"}";
        assert!(passes(&absent_patterns(
            &response(400, &[], plain),
            &patterns
        )));
    }

    #[test]
    fn equivalent_requests_compare_with_their_ids_masked() {
        let mut vars = Vars::default();
        vars.set(Var::ForeignProfileId, Value::from(2201));
        vars.set(Var::UnknownProfileId, Value::from(999));
        let unknown = response(
            404,
            &[("content-type", "application/json")],
            "{\"m\":\"no 999\"}",
        );
        vars.set(
            Var::StepAnswers,
            serde_json::json!({ "unknown": answer_of(&unknown) }),
        );
        let same = crate::case::SameAnswer {
            step: "unknown".into(),
            mask: vec![Var::ForeignProfileId, Var::UnknownProfileId],
        };
        let json = [("content-type", "application/json")];
        assert!(passes(&same_answer(
            &response(404, &json, "{\"m\":\"no 2201\"}"),
            &same,
            &vars
        )));
        assert!(!passes(&same_answer(
            &response(404, &json, "{\"m\":\"2201 is not yours\"}"),
            &same,
            &vars
        )));
        assert!(!passes(&same_answer(
            &response(403, &json, "{\"m\":\"no 2201\"}"),
            &same,
            &vars
        )));
    }
}
