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
