use super::*;
use crate::case::{Var, load_cases};
use crate::contract::Contract;
use crate::source::{SourceFile, embedded_schemas};
use serde_json::json;

/// A rule built through the real loader, from the JSON of its `check`.
fn rule(check: Value, applies_if: Option<&str>) -> Rule {
    let case = json!({
        "summary": "t", "state": "none",
        "steps": [{"name": "s", "request": {"method": "GET", "path": "/x", "credential": "primary"},
            "rules": [{"id": "r", "level": "should",
                "cites": {"source": "t", "evidence": "gap", "statement": "t"}, "check": check}]}]
    });
    let mut case = case;
    if let Some(premise) = applies_if {
        case["steps"][0]["rules"][0]["applies_if"] = json!(premise);
    }
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
fn judge(check: Value, applies_if: Option<&str>, res: &HttpResponse) -> String {
    match evaluate(&rule(check, applies_if), res, &vars()) {
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
    let cases: Vec<(Value, Option<&str>, HttpResponse, &str)> = vec![
        (
            json!({"status": {"any_of": [200]}}),
            None,
            response(200, None, ""),
            "ok",
        ),
        (
            json!({"status": {"any_of": [200]}}),
            None,
            response(404, None, ""),
            "violation: expected status 200 | actual status 404",
        ),
        (
            json!({"status": {"any_of": ["4xx"]}}),
            None,
            response(418, None, ""),
            "ok",
        ),
        (
            json!({"status": {"none_of": ["2xx", "5xx"]}}),
            None,
            response(503, None, ""),
            "violation: expected a status other than 2xx, 5xx | actual status 503",
        ),
        (
            json!({"status": {"any_of": [400, 404]}}),
            None,
            response(422, None, ""),
            "violation: expected status 400 or 404 | actual status 422",
        ),
        (
            json!({"header": {"name": "Content-Type", "media_type": "application/json"}}),
            None,
            response(200, Some("Application/JSON; charset=utf-8"), ""),
            "ok",
        ),
        (
            json!({"header": {"name": "content-type", "media_type": "application/json"}}),
            None,
            response(200, Some("text/plain"), ""),
            "violation: expected content-type with media type application/json | actual content-type: text/plain",
        ),
        (
            json!({"header": {"name": "www-authenticate", "starts_with": "Bearer"}}),
            None,
            response(401, None, ""),
            "violation: expected www-authenticate starting with \"Bearer\" | actual no www-authenticate header",
        ),
        (
            json!({"header": {"name": "x", "present": false}}),
            None,
            response(200, None, ""),
            "ok",
        ),
        (
            json!({"json": {"pointer": "/Status", "equals": "{{response.status}}"}}),
            None,
            response(200, None, envelope),
            "ok",
        ),
        (
            json!({"json": {"pointer": "/Status", "equals": "{{response.status}}"}}),
            None,
            response(404, None, envelope),
            "violation: expected integer 404 at /Status | actual integer 200",
        ),
        (
            json!({"json": {"pointer": "/Status", "equals": 200}}),
            None,
            response(200, None, r#"{"Status":200.0}"#),
            "ok",
        ),
        (
            json!({"json": {"pointer": "/WasSuccessful", "equals": true}}),
            None,
            response(200, None, r#"{"WasSuccessful":"true"}"#),
            "violation: expected boolean true at /WasSuccessful | actual string \"true\"",
        ),
        (
            json!({"json": {"pointer": "/Value", "equals": null}}),
            None,
            response(200, None, r#"{}"#),
            "violation: expected null null at /Value | actual nothing (the member is absent)",
        ),
        (
            json!({"json": {"pointer": "/a", "type": "integer"}}),
            None,
            response(200, None, r#"{"a":"1"}"#),
            "violation: expected a value of type integer at /a | actual string \"1\"",
        ),
        (
            json!({"json": {"pointer": "/a", "exists": true}}),
            None,
            response(200, None, ""),
            "violation: expected a JSON body | actual an empty body",
        ),
        (
            json!({"json": {"pointer": "/a", "exists": true}}),
            Some("body"),
            response(404, None, " \n"),
            "ok (not applicable: the response has no body)",
        ),
        (
            json!({"json": {"pointer": "/a", "exists": true}}),
            None,
            response(200, None, "<html>"),
            "violation: expected a JSON body | actual text that is not JSON (expected value at line 1 column 1)",
        ),
        (
            json!({"json": {"pointer": "/a", "exists": true}}),
            None,
            HttpResponse {
                status: 200,
                headers: vec![],
                body: vec![0xff, 0xfe],
            },
            "violation: expected a JSON body in UTF-8 | actual bytes that are not UTF-8 (invalid utf-8 sequence of 1 bytes from index 0)",
        ),
        (
            json!({"items": {"array": "/Profiles", "where": {"pointer": "/IsDefaultProfile", "equals": true}, "count": 1}}),
            None,
            response(200, None, profiles),
            "violation: expected 1 items of /Profiles where /IsDefaultProfile is true | actual 2 (/Profiles/0, /Profiles/2)",
        ),
        (
            json!({"items": {"array": "/Profiles", "unique": "/Id"}}),
            None,
            response(200, None, profiles),
            "violation: expected /Id to differ between all items of /Profiles | actual integer 2 at both /Profiles/1 and /Profiles/2",
        ),
        (
            json!({"items": {"array": "/Profiles", "where": {"pointer": "/Id", "equals": "{{target_profile_id}}"}, "each": {"pointer": "/IsDefaultProfile", "equals": true}}}),
            None,
            response(200, None, profiles),
            "violation: expected boolean true at /Profiles/1/IsDefaultProfile (for all items of /Profiles where /Id is 2) | actual boolean false",
        ),
        (
            json!({"items": {"array": "/Profiles", "where": {"pointer": "/Id", "one_of": ["{{original_profile_id}}", 9]}, "count": 1}}),
            None,
            response(200, None, profiles),
            "ok",
        ),
        (
            json!({"items": {"array": "/Missing", "count": 0}}),
            None,
            response(200, None, profiles),
            "violation: expected an array at /Missing | actual nothing (the member is absent)",
        ),
        (
            json!({"schema": {"ref": "action-confirmation.json#/$defs/success"}}),
            None,
            response(200, None, envelope),
            "ok",
        ),
        (
            json!({"schema": {"ref": "action-confirmation.json#/$defs/success"}}),
            None,
            response(
                200,
                None,
                r#"{"WasSuccessful":"yes","Status":500,"Value":null,"Message":null}"#,
            ),
            "violation: expected a body valid against action-confirmation.json#/$defs/success | actual 4 schema errors | /: \"Errors\" is a required property (schema action-confirmation.json#/$defs/envelope/required) | /Status: 200 was expected (schema action-confirmation.json#/$defs/success/properties/Status/const) | /WasSuccessful: true was expected (schema action-confirmation.json#/$defs/success/properties/WasSuccessful/const) | /WasSuccessful: value is not of type \"boolean\" (schema action-confirmation.json#/$defs/envelope/properties/WasSuccessful/type)",
        ),
    ];
    let mirrors = json!({"json": {"pointer": "/Status", "equals": "{{response.status}}"}});
    let premises = [
        (
            r#"{"Message":"Authorization has been denied for this request."}"#,
            "ok (not applicable: the body is not an ActionConfirmation envelope (no `WasSuccessful` member))",
        ),
        (
            r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.5","title":"Not Found","status":404}"#,
            "ok (not applicable: the body is not an ActionConfirmation envelope (no `WasSuccessful` member))",
        ),
        (
            "<html>login</html>",
            "ok (not applicable: the body is not JSON, so not an ActionConfirmation envelope)",
        ),
        ("", "ok (not applicable: the response has no body)"),
        (r#"{"WasSuccessful":false,"Status":404}"#, "ok"),
        (
            r#"{"WasSuccessful":false,"Status":0}"#,
            "violation: expected integer 404 at /Status | actual integer 0",
        ),
    ];
    for (body, expected) in premises {
        assert_eq!(
            judge(
                mirrors.clone(),
                Some("envelope"),
                &response(404, None, body)
            ),
            expected,
            "{body}"
        );
    }
    for (check, applies_if, res, expected) in cases {
        assert_eq!(
            judge(check.clone(), applies_if, &res),
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
