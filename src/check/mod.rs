//! Judging one response against one rule. Pure: no IO, no clock, no printing.

use serde_json::Value;

mod model;
mod response;

pub use response::{answer_of, challenges};

use crate::case::{
    Check, HeaderOp, ItemsCheck, JsonType, Premise, Rule, Template, ValueOp, Var, Vars,
};
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
    /// A unified diff of what was expected and what came (snapshot drift), shown as a block.
    pub diff: Option<String>,
}

pub(super) fn violation(expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
    Verdict::Violation(Finding {
        expected: expected.into(),
        actual: actual.into(),
        details: Vec::new(),
        diff: None,
    })
}

/// How many schema errors a failure lists.
const MAX_SCHEMA_ERRORS: usize = 12;

/// Judges `rule` on `response`; `vars` fills the rule's placeholders.
pub fn evaluate(rule: &Rule, response: &HttpResponse, vars: &Vars) -> Verdict {
    if let Some(why) = rule.applies_if.and_then(|p| unmet(p, response)) {
        return Verdict::Pass(Some(format!("not applicable: {why}")));
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
                        diff: None,
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
        Check::Absent(template) => absent(response, template, &vars),
        Check::AbsentPatterns(patterns) => response::absent_patterns(response, patterns),
        Check::JsonParses => response::json_parses(response),
        Check::NotSharedCacheable => response::not_shared_cacheable(response, &vars),
        Check::BearerChallenge => response::bearer_challenge(response, &vars),
        Check::When(condition, then) => {
            let premise = Rule {
                check: (**condition).clone(),
                ..rule.clone()
            };
            match evaluate(
                &Rule {
                    applies_if: None,
                    ..premise
                },
                response,
                &vars,
            ) {
                Verdict::Pass(_) => evaluate(
                    &Rule {
                        check: (**then).clone(),
                        applies_if: None,
                        ..rule.clone()
                    },
                    response,
                    &vars,
                ),
                Verdict::Violation(f) => Verdict::Pass(Some(format!(
                    "not applicable: the rule is about {}, and this is {}",
                    f.expected, f.actual
                ))),
                broken @ Verdict::Broken(_) => broken,
            }
        }
        Check::SameAnswerAs(same) => response::same_answer(response, same, &vars),
        Check::MatchesModel(check) => model::matches(response, check, &vars),
    }
}

/// None of the strings the template stands for appears anywhere in the response.
fn absent(response: &HttpResponse, template: &Template, vars: &Vars) -> Verdict {
    let values = match render(template, vars) {
        Ok(Value::Array(values)) => values,
        Ok(other) => vec![other],
        Err(verdict) => return verdict,
    };
    if values.is_empty() {
        return Verdict::Pass(Some(
            "not applicable: no data of the other user is known (pass --foreign-token)".into(),
        ));
    }
    let text = response::whole_text(response);
    let found: Vec<&str> = values
        .iter()
        .filter_map(Value::as_str)
        .filter(|v| !v.is_empty() && text.contains(*v))
        .collect();
    if found.is_empty() {
        Verdict::Pass(None)
    } else {
        violation(
            "none of the other account's data in the response",
            found
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Why `premise` does not hold of `response`, or `None` when it does.
fn unmet(premise: Premise, response: &HttpResponse) -> Option<&'static str> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Some("the response has no body");
    }
    let json = || serde_json::from_slice::<Value>(&response.body).ok();
    match premise {
        Premise::Body => None,
        Premise::Json => json().is_none().then_some("the body is not JSON"),
        Premise::Envelope => match json() {
            None => Some("the body is not JSON, so not an ActionConfirmation envelope"),
            Some(Value::Object(map)) if map.contains_key("WasSuccessful") => None,
            Some(_) => {
                Some("the body is not an ActionConfirmation envelope (no `WasSuccessful` member)")
            }
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

pub(super) fn parse_body(response: &HttpResponse) -> Result<Value, Verdict> {
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
            diff: None,
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
mod tests;
