//! The account model as a check: a profile list compared, field by field, with the account as
//! discovery read it. The model's prediction is simple because the contract is: a switch changes
//! the default and nothing else (the default business may follow it); every other request changes
//! nothing. So every member is compared but the ignored ones; the default flags only where the
//! run predicts them (the other user's list: always); the members that follow the default only
//! while the default is the one discovery saw. Profiles are matched by id, whatever the order.

use serde_json::Value;

use super::{Finding, Verdict, describe, json_eq, parse_body};
use crate::case::{ModelCheck, Var, Vars};
use crate::http::HttpResponse;

/// How many differences a failure lists.
const SHOWN: usize = 12;

pub(super) fn matches(response: &HttpResponse, check: &ModelCheck, vars: &Vars) -> Verdict {
    let Some(model) = vars.get(Var::AccountModel) else {
        return Verdict::Pass(Some(
            "not applicable: no model of this account (its list was not read at discovery)".into(),
        ));
    };
    if response.status != 200 {
        return Verdict::Pass(Some(format!(
            "not applicable: status {} is not a profile list",
            response.status
        )));
    }
    let body = match parse_body(response) {
        Ok(body) => body,
        Err(v) => return v,
    };
    let predicted = &model["list"];
    let flags = model["flags"].as_bool().unwrap_or(false);
    let same_default = default_of(predicted) == default_of(&body);
    let mut skip: Vec<String> = check.ignore.clone();
    if !same_default {
        skip.extend(check.follows_default.iter().cloned());
    }
    if !flags {
        skip.push("/Profiles/*/IsDefaultProfile".into());
    }
    let mut out = Vec::new();
    compare(predicted, &body, String::new(), &skip, &mut out);
    if out.is_empty() {
        return Verdict::Pass(None);
    }
    let count = out.len();
    out.truncate(SHOWN);
    Verdict::Violation(Finding {
        expected: format!(
            "the {}account as discovery read it: no field changed but the default{}",
            match model["user"].as_str() {
                Some(user) => format!("{user}'s "),
                None => String::new(),
            },
            if check.follows_default.is_empty() {
                String::new()
            } else {
                format!(" (and, with it, {})", check.follows_default.join(", "))
            }
        ),
        actual: match count {
            1 => "1 field differs".into(),
            n => format!("{n} fields differ"),
        },
        details: out,
        diff: None,
    })
}

/// The ids flagged default in a list, sorted.
fn default_of(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list["Profiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["IsDefaultProfile"] == Value::Bool(true))
        .map(|p| p["Id"].to_string())
        .collect();
    ids.sort();
    ids
}

/// Whether `pointer` is skipped: a pattern equals it, `*` matching any one segment, or a
/// pattern is a prefix of it at a segment boundary.
fn skipped(pointer: &str, skip: &[String]) -> bool {
    let segments: Vec<&str> = pointer.split('/').collect();
    skip.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        pattern.len() <= segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| *p == "*" || p == s)
    })
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Differences between the predicted and the observed value under `at`, one line each.
fn compare(
    predicted: &Value,
    observed: &Value,
    at: String,
    skip: &[String],
    out: &mut Vec<String>,
) {
    if skipped(&at, skip) {
        return;
    }
    match (predicted, observed) {
        (Value::Object(p), Value::Object(o)) => {
            for (key, pv) in p {
                let here = format!("{at}/{}", escape(key));
                match o.get(key) {
                    Some(ov) => compare(pv, ov, here, skip, out),
                    None if !skipped(&here, skip) => out.push(format!(
                        "{here}: predicted {}, observed nothing (the member is gone)",
                        describe(Some(pv))
                    )),
                    None => {}
                }
            }
            for (key, ov) in o {
                let here = format!("{at}/{}", escape(key));
                if !p.contains_key(key) && !skipped(&here, skip) {
                    out.push(format!(
                        "{here}: predicted nothing, observed {}",
                        describe(Some(ov))
                    ));
                }
            }
        }
        (Value::Array(p), Value::Array(o)) if at == "/Profiles" => profiles(p, o, skip, out),
        (Value::Array(p), Value::Array(o)) if p.len() == o.len() => {
            for (i, (pv, ov)) in p.iter().zip(o).enumerate() {
                compare(pv, ov, format!("{at}/{i}"), skip, out);
            }
        }
        (p, o) if json_eq(p, o) => {}
        (p, o) => out.push(format!(
            "{}: predicted {}, observed {}",
            if at.is_empty() { "/" } else { &at },
            describe(Some(p)),
            describe(Some(o))
        )),
    }
}

/// Profiles matched by id (the order is not specified); each compared under the pointer of its
/// index in the observed list, with `*` patterns applying to every index.
fn profiles(predicted: &[Value], observed: &[Value], skip: &[String], out: &mut Vec<String>) {
    let id = |p: &Value| p.get("Id").map(Value::to_string);
    for (i, p) in predicted.iter().enumerate() {
        match observed
            .iter()
            .position(|o| id(o).is_some() && id(o) == id(p))
        {
            Some(j) => compare(p, &observed[j], format!("/Profiles/{j}"), skip, out),
            None => out.push(format!(
                "/Profiles: profile {} (item {i} at discovery) is missing",
                id(p).unwrap_or_else(|| "without an Id".into())
            )),
        }
    }
    for (j, o) in observed.iter().enumerate() {
        if !predicted.iter().any(|p| id(p).is_some() && id(p) == id(o)) {
            out.push(format!(
                "/Profiles/{j}: profile {} was not in the list at discovery",
                id(o).unwrap_or_else(|| "without an Id".into())
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(default: i64, name: &str) -> Value {
        json!({
            "User": {"Id": 7, "Email": "a@b.c", "AccessToken": "t"},
            "DefaultBusiness": {"Id": if default == 1 { 10 } else { 20 }},
            "Profiles": [
                {"Id": 1, "FullName": name, "IsDefaultProfile": default == 1},
                {"Id": 2, "FullName": "Two", "IsDefaultProfile": default == 2},
            ]
        })
    }

    fn judge(predicted: Value, observed: Value, flags: bool) -> Vec<String> {
        let check = ModelCheck {
            ignore: vec!["/User/AccessToken".into()],
            follows_default: vec!["/DefaultBusiness".into()],
        };
        let mut vars = Vars::default();
        vars.set(
            Var::AccountModel,
            json!({"list": predicted, "flags": flags, "user": "primary user"}),
        );
        let response = HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: observed.to_string().into_bytes(),
        };
        match matches(&response, &check, &vars) {
            Verdict::Pass(_) => Vec::new(),
            Verdict::Violation(f) => f.details,
            Verdict::Broken(b) => vec![b],
        }
    }

    #[test]
    fn a_switch_may_move_the_default_and_what_follows_it_only() {
        assert!(judge(list(1, "One"), list(2, "One"), false).is_empty());
        let mut reordered = list(1, "One");
        reordered["Profiles"].as_array_mut().unwrap().reverse();
        reordered["User"]["AccessToken"] = json!("other");
        assert!(judge(list(1, "One"), reordered, true).is_empty());
    }

    #[test]
    fn every_other_field_is_compared_and_named() {
        assert_eq!(
            judge(list(1, "One"), list(1, "Renamed"), false),
            ["/Profiles/0/FullName: predicted string \"One\", observed string \"Renamed\""]
        );
        // The default business may not change while the default stays.
        let mut moved = list(1, "One");
        moved["DefaultBusiness"]["Id"] = json!(30);
        assert_eq!(
            judge(list(1, "One"), moved, false),
            ["/DefaultBusiness/Id: predicted integer 10, observed integer 30"]
        );
        // The other user's list: its default flags are predicted too (the business follows
        // the default, so it is not compared once the default moved).
        assert_eq!(
            judge(list(1, "One"), list(2, "One"), true),
            [
                "/Profiles/0/IsDefaultProfile: predicted boolean true, observed boolean false",
                "/Profiles/1/IsDefaultProfile: predicted boolean false, observed boolean true"
            ]
        );
        let mut gone = list(1, "One");
        gone["Profiles"].as_array_mut().unwrap().pop();
        gone["User"]["Active"] = json!(false);
        assert_eq!(
            judge(list(1, "One"), gone, false),
            [
                "/User/Active: predicted nothing, observed boolean false",
                "/Profiles: profile 2 (item 1 at discovery) is missing"
            ]
        );
    }
}
