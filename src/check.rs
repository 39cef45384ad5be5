//! Judging one response against one rule. Pure: no IO, no clock, no printing.

use serde_json::Value;

use crate::case::{Check, HeaderOp, ItemsCheck, JsonType, Rule, Template, ValueOp, Var, Vars};
use crate::http::HttpResponse;

/// The result of judging one rule on one response.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The rule holds; the note says why, when it is not obvious (e.g. no body to judge).
    Pass(Option<String>),
    /// The target broke the contract.
    Violation(Finding),
    /// The harness could not judge (transport failure, timeout, oversized body, a variable
    /// without a value, …).
    Broken(String),
}

impl Verdict {
    pub fn is_failure(&self) -> bool {
        !matches!(self, Verdict::Pass(_))
    }
}

/// What was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub expected: String,
    pub actual: String,
    /// One line per further detail, e.g. each schema error with its paths.
    pub details: Vec<String>,
}

fn violation(expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
    Verdict::Violation(Finding {
        expected: expected.into(),
        actual: actual.into(),
        details: Vec::new(),
    })
}

/// How many schema errors a failure lists.
const MAX_SCHEMA_ERRORS: usize = 12;

/// Judges `rule` on `response`; `vars` fills the rule's placeholders.
pub fn evaluate(rule: &Rule, response: &HttpResponse, vars: &Vars) -> Verdict {
    let body_empty = response.body.iter().all(u8::is_ascii_whitespace);
    if rule.only_if_body && body_empty {
        return Verdict::Pass(Some(
            "the response has no body; this rule judges bodies only".into(),
        ));
    }
    let vars = vars.with_response(response.status);
    match &rule.check {
        Check::Status(check) => {
            let status = response.status;
            let in_any = check.any_of.is_empty() || check.any_of.iter().any(|p| p.matches(status));
            let in_none = check.none_of.iter().any(|p| p.matches(status));
            if in_any && !in_none {
                return Verdict::Pass(None);
            }
            let mut expected = Vec::new();
            if !check.any_of.is_empty() {
                expected.push(format!("status {}", join(&check.any_of, " or ")));
            }
            if !check.none_of.is_empty() {
                expected.push(format!(
                    "a status other than {}",
                    join(&check.none_of, ", ")
                ));
            }
            violation(expected.join(", and "), format!("status {status}"))
        }
        Check::Header(check) => header(response, &check.name, &check.op),
        Check::Schema(check) => match parse_body(response) {
            Err(v) => v,
            Ok(body) => {
                let mut errors: Vec<String> = check
                    .validator
                    .iter_errors(&body)
                    .take(MAX_SCHEMA_ERRORS + 1)
                    .map(|e| {
                        let instance = e.instance_path().as_str().to_string();
                        let keyword = e
                            .absolute_keyword_location()
                            .map(|u| u.as_str().replace(crate::contract::BASE_URI, ""))
                            .unwrap_or_else(|| e.schema_path().as_str().to_string());
                        format!(
                            "{}: {} (schema {keyword})",
                            if instance.is_empty() { "/" } else { &instance },
                            e.masked()
                        )
                    })
                    .collect();
                // Sorted by instance path, so messages are stable and read top-down.
                errors.sort();
                if errors.is_empty() {
                    Verdict::Pass(None)
                } else {
                    let count = if errors.len() > MAX_SCHEMA_ERRORS {
                        format!("more than {MAX_SCHEMA_ERRORS} schema errors")
                    } else if errors.len() == 1 {
                        "1 schema error".to_string()
                    } else {
                        format!("{} schema errors", errors.len())
                    };
                    Verdict::Violation(Finding {
                        expected: format!("a body valid against {}", check.reference),
                        actual: count,
                        details: errors.into_iter().take(MAX_SCHEMA_ERRORS).collect(),
                    })
                }
            }
        },
        Check::Json(check) => match parse_body(response) {
            Err(v) => v,
            Ok(body) => value_test(
                body.pointer(&check.pointer),
                &check.pointer,
                &check.op,
                &vars,
            ),
        },
        Check::Items(check) => match parse_body(response) {
            Err(v) => v,
            Ok(body) => items(&body, check, &vars),
        },
    }
}

fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

fn parse_body(response: &HttpResponse) -> Result<Value, Verdict> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(violation("a JSON body", "an empty body"));
    }
    let text = std::str::from_utf8(&response.body).map_err(|e| {
        violation(
            "a JSON body in UTF-8",
            format!("bytes that are not UTF-8 ({e})"),
        )
    })?;
    serde_json::from_str(text)
        .map_err(|e| violation("a JSON body", format!("text that is not JSON ({e})")))
}

fn header(response: &HttpResponse, name: &str, op: &HeaderOp) -> Verdict {
    let value = response.header(name);
    let shown = |v: Option<&str>| match v {
        Some(v) => format!("{name}: {v}"),
        None => format!("no {name} header"),
    };
    let ok = match (op, value) {
        (HeaderOp::Present(want), v) => *want == v.is_some(),
        (_, None) => false,
        (HeaderOp::Equals(want), Some(v)) => v == want,
        (HeaderOp::Contains(want), Some(v)) => v.contains(want.as_str()),
        (HeaderOp::StartsWith(want), Some(v)) => v
            .trim_start()
            .to_ascii_lowercase()
            .starts_with(&want.to_ascii_lowercase()),
        (HeaderOp::MediaType(want), Some(v)) => media_type(v).eq_ignore_ascii_case(want),
    };
    if ok {
        return Verdict::Pass(None);
    }
    let expected = match op {
        HeaderOp::Present(true) => format!("a {name} header"),
        HeaderOp::Present(false) => format!("no {name} header"),
        HeaderOp::Equals(w) => format!("{name}: {w}"),
        HeaderOp::Contains(w) => format!("{name} containing {w:?}"),
        HeaderOp::StartsWith(w) => format!("{name} starting with {w:?}"),
        HeaderOp::MediaType(w) => format!("{name} with media type {w}"),
    };
    violation(expected, shown(value))
}

/// The media type of a Content-Type value: before any `;`, trimmed.
pub fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or_default().trim()
}

/// A short, typed description of a JSON value: `integer 1102`, `string "abc"`, `object {…}`.
pub fn describe(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "nothing (the member is absent)".into();
    };
    let mut text = value.to_string();
    if text.chars().count() > 120 {
        text = text.chars().take(117).collect::<String>() + "...";
    }
    format!("{} {text}", JsonType::of(value).name())
}

/// Equality that treats `1102` and `1102.0` as the same number.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn render(template: &Template, vars: &Vars) -> Result<Value, Verdict> {
    template.render(vars).map_err(|var: Var| {
        Verdict::Broken(format!("variable `{{{{{var}}}}}` has no value in this run"))
    })
}

/// Whether `value` passes `op`; `Err` carries what was expected, for the message.
fn test_value(
    value: Option<&Value>,
    op: &ValueOp,
    vars: &Vars,
) -> Result<Result<(), String>, Verdict> {
    Ok(match op {
        ValueOp::Exists(want) => {
            if value.is_some() == *want {
                Ok(())
            } else if *want {
                Err("the member to be present".into())
            } else {
                Err("the member to be absent".into())
            }
        }
        ValueOp::Equals(t) => {
            let want = render(t, vars)?;
            if value.is_some_and(|v| json_eq(v, &want)) {
                Ok(())
            } else {
                Err(describe(Some(&want)))
            }
        }
        ValueOp::NotEquals(t) => {
            let want = render(t, vars)?;
            if value.is_some_and(|v| !json_eq(v, &want)) {
                Ok(())
            } else {
                Err(format!("a value other than {}", describe(Some(&want))))
            }
        }
        ValueOp::OneOf(t) => {
            let want = render(t, vars)?;
            let options = want.as_array().cloned().unwrap_or_default();
            if value.is_some_and(|v| options.iter().any(|o| json_eq(v, o))) {
                Ok(())
            } else {
                Err(format!("one of {want}"))
            }
        }
        ValueOp::Type(t) => {
            if value.is_some_and(|v| t.accepts(v)) {
                Ok(())
            } else {
                Err(format!("a value of type {}", t.name()))
            }
        }
    })
}

fn value_test(value: Option<&Value>, pointer: &str, op: &ValueOp, vars: &Vars) -> Verdict {
    match test_value(value, op, vars) {
        Err(verdict) => verdict,
        Ok(Ok(())) => Verdict::Pass(None),
        Ok(Err(expected)) => violation(
            format!("{} at {}", expected, show_pointer(pointer)),
            describe(value),
        ),
    }
}

fn show_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/ (the whole body)"
    } else {
        pointer
    }
}

fn items(body: &Value, check: &ItemsCheck, vars: &Vars) -> Verdict {
    let Some(array) = body.pointer(&check.array).and_then(Value::as_array) else {
        return violation(
            format!("an array at {}", show_pointer(&check.array)),
            describe(body.pointer(&check.array)),
        );
    };
    let mut selected: Vec<(usize, &Value)> = Vec::new();
    for (i, item) in array.iter().enumerate() {
        let keep = match &check.filter {
            None => true,
            Some(p) => match test_value(item.pointer(&p.pointer), &p.op, vars) {
                Err(verdict) => return verdict,
                Ok(r) => r.is_ok(),
            },
        };
        if keep {
            selected.push((i, item));
        }
    }
    let which = match &check.filter {
        None => format!("items of {}", check.array),
        Some(p) => format!(
            "items of {} where {} is {}",
            check.array,
            p.pointer,
            describe_op(&p.op, vars)
        ),
    };
    if let Some(count) = check.count
        && selected.len() != count
    {
        let indexes: Vec<String> = selected
            .iter()
            .map(|(i, _)| format!("{}/{i}", check.array))
            .collect();
        return Verdict::Violation(Finding {
            expected: format!("{count} {which}"),
            actual: format!(
                "{} ({})",
                selected.len(),
                if indexes.is_empty() {
                    "none".into()
                } else {
                    indexes.join(", ")
                }
            ),
            details: Vec::new(),
        });
    }
    if let Some(each) = &check.each {
        for (i, item) in &selected {
            let value = item.pointer(&each.pointer);
            match test_value(value, &each.op, vars) {
                Err(verdict) => return verdict,
                Ok(Ok(())) => {}
                Ok(Err(expected)) => {
                    return violation(
                        format!(
                            "{expected} at {}/{i}{} (for all {which})",
                            check.array, each.pointer
                        ),
                        describe(value),
                    );
                }
            }
        }
    }
    if let Some(unique) = &check.unique {
        let mut seen: Vec<(usize, &Value)> = Vec::new();
        for (i, item) in &selected {
            let Some(value) = item.pointer(unique) else {
                continue;
            };
            if let Some((first, _)) = seen.iter().find(|(_, v)| json_eq(v, value)) {
                return violation(
                    format!("{unique} to differ between all {which}"),
                    format!(
                        "{} at both {}/{first} and {}/{i}",
                        describe(Some(value)),
                        check.array,
                        check.array
                    ),
                );
            }
            seen.push((*i, value));
        }
    }
    Verdict::Pass(None)
}

fn describe_op(op: &ValueOp, vars: &Vars) -> String {
    let show = |t: &Template| {
        t.render(vars)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| t.as_value().to_string())
    };
    match op {
        ValueOp::Exists(true) => "present".into(),
        ValueOp::Exists(false) => "absent".into(),
        ValueOp::Equals(t) => show(t),
        ValueOp::NotEquals(t) => format!("not {}", show(t)),
        ValueOp::OneOf(t) => format!("one of {}", show(t)),
        ValueOp::Type(t) => format!("of type {}", t.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Var, load_cases};
    use crate::contract::Contract;
    use crate::source::{SourceFile, embedded_schemas};
    use serde_json::json;

    /// A rule built through the real loader, from the JSON of its `check`.
    fn rule(check: Value, only_if_body: bool) -> Rule {
        let case = json!({
            "summary": "t", "state": "none",
            "steps": [{"name": "s", "request": {"method": "GET", "path": "/x", "credential": "primary"},
                "rules": [{"id": "r", "level": "should", "only_if_body": only_if_body,
                    "cites": {"source": "t", "evidence": "gap", "statement": "t"}, "check": check}]}]
        });
        let mut contract = Contract::load(&embedded_schemas()).unwrap();
        let source = SourceFile {
            path: "t.json".into(),
            text: case.to_string(),
        };
        let mut cases = load_cases(&[source], &mut contract).unwrap();
        cases.remove(0).steps.remove(0).rules.remove(0)
    }

    fn response(status: u16, content_type: Option<&str>, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: content_type
                .map(|c| vec![("content-type".to_string(), c.to_string())])
                .unwrap_or_default(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set(Var::TargetProfileId, json!(2));
        vars.set(Var::OriginalProfileId, json!(1));
        vars
    }

    /// One line per case: `ok`, `ok (note)`, or `violation: expected … | actual … | details`.
    fn judge(check: Value, only_if_body: bool, res: &HttpResponse) -> String {
        match evaluate(&rule(check, only_if_body), res, &vars()) {
            Verdict::Pass(None) => "ok".into(),
            Verdict::Pass(Some(note)) => format!("ok ({note})"),
            Verdict::Violation(f) => {
                let mut s = format!("violation: expected {} | actual {}", f.expected, f.actual);
                for d in f.details {
                    s.push_str(&format!(" | {d}"));
                }
                s
            }
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn checks() {
        let profiles = r#"{"Profiles":[{"Id":1,"IsDefaultProfile":true},{"Id":2,"IsDefaultProfile":false},{"Id":2,"IsDefaultProfile":true}]}"#;
        let envelope =
            r#"{"WasSuccessful":true,"Value":null,"Status":200,"Message":null,"Errors":null}"#;
        let cases: Vec<(Value, bool, HttpResponse, &str)> = vec![
            (
                json!({"status": {"any_of": [200]}}),
                false,
                response(200, None, ""),
                "ok",
            ),
            (
                json!({"status": {"any_of": [200]}}),
                false,
                response(404, None, ""),
                "violation: expected status 200 | actual status 404",
            ),
            (
                json!({"status": {"any_of": ["4xx"]}}),
                false,
                response(418, None, ""),
                "ok",
            ),
            (
                json!({"status": {"none_of": ["2xx", "5xx"]}}),
                false,
                response(503, None, ""),
                "violation: expected a status other than 2xx, 5xx | actual status 503",
            ),
            (
                json!({"status": {"any_of": [400, 404]}}),
                false,
                response(422, None, ""),
                "violation: expected status 400 or 404 | actual status 422",
            ),
            (
                json!({"header": {"name": "Content-Type", "media_type": "application/json"}}),
                false,
                response(200, Some("Application/JSON; charset=utf-8"), ""),
                "ok",
            ),
            (
                json!({"header": {"name": "content-type", "media_type": "application/json"}}),
                false,
                response(200, Some("text/plain"), ""),
                "violation: expected content-type with media type application/json | actual content-type: text/plain",
            ),
            (
                json!({"header": {"name": "www-authenticate", "starts_with": "Bearer"}}),
                false,
                response(401, None, ""),
                "violation: expected www-authenticate starting with \"Bearer\" | actual no www-authenticate header",
            ),
            (
                json!({"header": {"name": "x", "present": false}}),
                false,
                response(200, None, ""),
                "ok",
            ),
            (
                json!({"json": {"pointer": "/Status", "equals": "{{response.status}}"}}),
                false,
                response(200, None, envelope),
                "ok",
            ),
            (
                json!({"json": {"pointer": "/Status", "equals": "{{response.status}}"}}),
                false,
                response(404, None, envelope),
                "violation: expected integer 404 at /Status | actual integer 200",
            ),
            (
                json!({"json": {"pointer": "/Status", "equals": 200}}),
                false,
                response(200, None, r#"{"Status":200.0}"#),
                "ok",
            ),
            (
                json!({"json": {"pointer": "/WasSuccessful", "equals": true}}),
                false,
                response(200, None, r#"{"WasSuccessful":"true"}"#),
                "violation: expected boolean true at /WasSuccessful | actual string \"true\"",
            ),
            (
                json!({"json": {"pointer": "/Value", "equals": null}}),
                false,
                response(200, None, r#"{}"#),
                "violation: expected null null at /Value | actual nothing (the member is absent)",
            ),
            (
                json!({"json": {"pointer": "/a", "type": "integer"}}),
                false,
                response(200, None, r#"{"a":"1"}"#),
                "violation: expected a value of type integer at /a | actual string \"1\"",
            ),
            (
                json!({"json": {"pointer": "/a", "exists": true}}),
                false,
                response(200, None, ""),
                "violation: expected a JSON body | actual an empty body",
            ),
            (
                json!({"json": {"pointer": "/a", "exists": true}}),
                true,
                response(404, None, " \n"),
                "ok (the response has no body; this rule judges bodies only)",
            ),
            (
                json!({"json": {"pointer": "/a", "exists": true}}),
                false,
                response(200, None, "<html>"),
                "violation: expected a JSON body | actual text that is not JSON (expected value at line 1 column 1)",
            ),
            (
                json!({"json": {"pointer": "/a", "exists": true}}),
                false,
                HttpResponse {
                    status: 200,
                    headers: vec![],
                    body: vec![0xff, 0xfe],
                },
                "violation: expected a JSON body in UTF-8 | actual bytes that are not UTF-8 (invalid utf-8 sequence of 1 bytes from index 0)",
            ),
            (
                json!({"items": {"array": "/Profiles", "where": {"pointer": "/IsDefaultProfile", "equals": true}, "count": 1}}),
                false,
                response(200, None, profiles),
                "violation: expected 1 items of /Profiles where /IsDefaultProfile is true | actual 2 (/Profiles/0, /Profiles/2)",
            ),
            (
                json!({"items": {"array": "/Profiles", "unique": "/Id"}}),
                false,
                response(200, None, profiles),
                "violation: expected /Id to differ between all items of /Profiles | actual integer 2 at both /Profiles/1 and /Profiles/2",
            ),
            (
                json!({"items": {"array": "/Profiles", "where": {"pointer": "/Id", "equals": "{{target_profile_id}}"}, "each": {"pointer": "/IsDefaultProfile", "equals": true}}}),
                false,
                response(200, None, profiles),
                "violation: expected boolean true at /Profiles/1/IsDefaultProfile (for all items of /Profiles where /Id is 2) | actual boolean false",
            ),
            (
                json!({"items": {"array": "/Profiles", "where": {"pointer": "/Id", "one_of": ["{{original_profile_id}}", 9]}, "count": 1}}),
                false,
                response(200, None, profiles),
                "ok",
            ),
            (
                json!({"items": {"array": "/Missing", "count": 0}}),
                false,
                response(200, None, profiles),
                "violation: expected an array at /Missing | actual nothing (the member is absent)",
            ),
            (
                json!({"schema": {"ref": "action-confirmation.json#/$defs/success"}}),
                false,
                response(200, None, envelope),
                "ok",
            ),
            (
                json!({"schema": {"ref": "action-confirmation.json#/$defs/success"}}),
                false,
                response(
                    200,
                    None,
                    r#"{"WasSuccessful":"yes","Status":500,"Value":null,"Message":null}"#,
                ),
                "violation: expected a body valid against action-confirmation.json#/$defs/success | actual 4 schema errors | /: \"Errors\" is a required property (schema action-confirmation.json#/$defs/envelope/required) | /Status: 200 was expected (schema action-confirmation.json#/$defs/success/properties/Status/const) | /WasSuccessful: true was expected (schema action-confirmation.json#/$defs/success/properties/WasSuccessful/const) | /WasSuccessful: value is not of type \"boolean\" (schema action-confirmation.json#/$defs/envelope/properties/WasSuccessful/type)",
            ),
        ];
        for (check, only_if_body, res, expected) in cases {
            assert_eq!(
                judge(check.clone(), only_if_body, &res),
                expected,
                "check {check}"
            );
        }
    }

    #[test]
    fn json_equality_is_numeric() {
        let cases = [
            (json!(1), json!(1.0), true),
            (json!(1), json!("1"), false),
            (json!([1, {"a": 2}]), json!([1.0, {"a": 2}]), true),
            (json!({"a": 1}), json!({"a": 1, "b": 2}), false),
            (json!(u64::MAX), json!(u64::MAX), true),
        ];
        for (a, b, expected) in cases {
            assert_eq!(json_eq(&a, &b), expected, "{a} vs {b}");
        }
    }
}
