//! `{{name}}` placeholders in case files, and the variables that fill them.
//!
//! A string that is exactly one placeholder takes the variable's JSON value with its type (so
//! `"{{target_profile_id}}"` compares equal to the number `1102`); a placeholder inside a longer
//! string is replaced by the variable's text.

use std::fmt;

use serde_json::Value;

use crate::suggest::closest;

/// A variable a case can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    /// The profile that was the default when the run started.
    OriginalProfileId,
    /// Another active profile of the primary user.
    TargetProfileId,
    /// A third active profile of the primary user (neither the original nor the target).
    ThirdProfileId,
    /// A profile that belongs to another user.
    ForeignProfileId,
    /// A profile of the primary user whose `Active` is false.
    InactiveProfileId,
    /// An id that is presumed to belong to no profile at all.
    UnknownProfileId,
    /// Every profile id the primary user's list showed at discovery (a list).
    OwnProfileIds,
    /// The ids of the other user's profiles known at discovery (a list).
    ForeignProfileIds,
    /// The other user's names and email as discovery read them, less any the primary user's list
    /// also shows (a list of strings).
    ForeignIdentity,
    /// The run's bearer tokens and the ones the probes derive from them (a list of secrets; every
    /// output redacts them).
    Tokens,
    /// The HTTP status of the response being checked (checks only).
    ResponseStatus,
    /// Whether that status is 2xx (checks only).
    ResponseOk,
    /// The id a sweep step sends in each of its requests (sweep steps only).
    SweepId,
    /// Whether the request being judged carried bearer credentials (`Authorization: Bearer …`);
    /// bound where the run judges every response.
    RequestCredentials,
    /// Data of the accounts the request's credential does not own: their emails and names, and
    /// every token of the run the request did not itself carry (a list of strings); bound where
    /// the run judges every response.
    OthersData,
    /// The answers of the case's earlier steps, by step name (`status`, `media_type`, `body`);
    /// bound while a case runs, for `same_answer_as`.
    StepAnswers,
    /// The profile list discovery read for the account whose list is being judged, and whether
    /// its default flags are predicted (`{"list": …, "flags": true}`); bound where the run judges
    /// lists, for `matches_model`.
    AccountModel,
}

impl Var {
    pub const ALL: [Var; 17] = [
        Var::OriginalProfileId,
        Var::TargetProfileId,
        Var::ThirdProfileId,
        Var::ForeignProfileId,
        Var::InactiveProfileId,
        Var::UnknownProfileId,
        Var::OwnProfileIds,
        Var::ForeignProfileIds,
        Var::ForeignIdentity,
        Var::Tokens,
        Var::ResponseStatus,
        Var::ResponseOk,
        Var::SweepId,
        Var::RequestCredentials,
        Var::OthersData,
        Var::StepAnswers,
        Var::AccountModel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Var::OriginalProfileId => "original_profile_id",
            Var::TargetProfileId => "target_profile_id",
            Var::ThirdProfileId => "third_profile_id",
            Var::ForeignProfileId => "foreign_profile_id",
            Var::InactiveProfileId => "inactive_profile_id",
            Var::UnknownProfileId => "unknown_profile_id",
            Var::OwnProfileIds => "own_profile_ids",
            Var::ForeignProfileIds => "foreign_profile_ids",
            Var::ForeignIdentity => "foreign_identity",
            Var::Tokens => "tokens",
            Var::ResponseStatus => "response.status",
            Var::ResponseOk => "response.ok",
            Var::SweepId => "sweep_id",
            Var::RequestCredentials => "request.credentials",
            Var::OthersData => "request.others_data",
            Var::StepAnswers => "steps",
            Var::AccountModel => "account_model",
        }
    }

    /// Variables that describe the response, known only while checking it.
    pub fn is_response_scoped(self) -> bool {
        matches!(
            self,
            Var::ResponseStatus
                | Var::ResponseOk
                | Var::RequestCredentials
                | Var::OthersData
                | Var::StepAnswers
                | Var::AccountModel
        )
    }

    /// Variables that discovery provides (the rest are bound per request or response).
    pub fn is_fixture(self) -> bool {
        !self.is_response_scoped() && self != Var::SweepId
    }

    /// Variables whose value is a list of ids.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Var::OwnProfileIds
                | Var::ForeignProfileIds
                | Var::ForeignIdentity
                | Var::Tokens
                | Var::OthersData
        )
    }

    fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl<'de> serde::Deserialize<'de> for Var {
    /// A fixture variable by name (`"foreign_profile_id"`), as generators name them.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(d)?;
        match Var::from_name(&name).filter(|v| v.is_fixture() && !v.is_list()) {
            Some(var) => Ok(var),
            None => {
                let known: Vec<&str> = Var::ALL
                    .iter()
                    .filter(|v| v.is_fixture() && !v.is_list())
                    .map(|v| v.name())
                    .collect();
                let mut message = format!("unknown fixture `{name}`; known: {}", known.join(", "));
                if let Some(best) = closest(&name, known.iter().copied()) {
                    message.push_str(&format!("; did you mean `{best}`?"));
                }
                Err(serde::de::Error::custom(message))
            }
        }
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Values of the variables known at some point of a run: one slot per [`Var`], so that a copy
/// with the response variables set (made for every rule judged) does not allocate.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// Shared, so that the copy made for every response and rule judged costs reference counts,
    /// not the lists (tokens, ids, the account model) it holds.
    values: [Option<std::sync::Arc<Value>>; Var::ALL.len()],
}

impl Vars {
    pub fn set(&mut self, var: Var, value: Value) {
        self.values[var as usize] = Some(std::sync::Arc::new(value));
    }

    pub fn get(&self, var: Var) -> Option<&Value> {
        self.values[var as usize].as_deref()
    }

    /// A copy with the response-scoped variables set for a response of this status.
    pub fn with_response(&self, status: u16) -> Vars {
        let mut vars = self.clone();
        vars.set(Var::ResponseStatus, Value::from(status));
        vars.set(Var::ResponseOk, Value::Bool((200..300).contains(&status)));
        vars
    }

    /// A copy with the request-scoped variables set: whether the request carried bearer
    /// credentials, and the data of the accounts its credential does not own.
    pub fn with_request(&self, credentials: bool, others_data: Vec<String>) -> Vars {
        let mut vars = self.clone();
        vars.set(Var::RequestCredentials, Value::Bool(credentials));
        vars.set(Var::OthersData, Value::from(others_data));
        vars
    }
}

/// A JSON value whose strings may hold placeholders; parsed and checked at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    value: Value,
}

/// A placeholder problem, with the JSON pointer below the template's own position.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub pointer: String,
    pub message: String,
}

impl Template {
    /// Checks every placeholder in `value`, returning the template and the variables it uses.
    ///
    /// `response_vars` says whether `response.*` variables are allowed here (in checks, not in
    /// requests).
    pub fn parse(value: Value, response_vars: bool) -> Result<(Template, Vec<Var>), TemplateError> {
        let mut used = Vec::new();
        collect(&value, "", response_vars, &mut used)?;
        Ok((Template { value }, used))
    }

    /// A template without placeholders.
    pub fn literal(value: Value) -> Template {
        Template { value }
    }

    pub fn as_value(&self) -> &Value {
        &self.value
    }

    /// Whether one of its placeholders is `var`.
    pub fn uses(&self, var: Var) -> bool {
        let mut used = Vec::new();
        // Checked when it was parsed, so this cannot fail; if it did, nothing is claimed.
        collect(&self.value, "", true, &mut used).is_ok() && used.contains(&var)
    }

    /// The value with every placeholder filled, or the first variable that has no value.
    pub fn render(&self, vars: &Vars) -> Result<Value, Var> {
        render_value(&self.value, vars)
    }

    /// Like [`Template::render`], as text: strings as they are, other values as JSON.
    pub fn render_text(&self, vars: &Vars) -> Result<String, Var> {
        Ok(match self.render(vars)? {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

fn collect(
    value: &Value,
    pointer: &str,
    response_vars: bool,
    used: &mut Vec<Var>,
) -> Result<(), TemplateError> {
    match value {
        Value::String(s) => {
            for name in placeholders(s).map_err(|message| TemplateError {
                pointer: pointer.to_string(),
                message,
            })? {
                let var = Var::from_name(name).ok_or_else(|| TemplateError {
                    pointer: pointer.to_string(),
                    message: unknown_var_message(name),
                })?;
                if var.is_response_scoped() && !response_vars {
                    return Err(TemplateError {
                        pointer: pointer.to_string(),
                        message: format!(
                            "`{{{{{name}}}}}` describes the response and can only be used in a rule's check"
                        ),
                    });
                }
                used.push(var);
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| collect(v, &format!("{pointer}/{i}"), response_vars, used)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let key = k.replace('~', "~0").replace('/', "~1");
            collect(v, &format!("{pointer}/{key}"), response_vars, used)
        }),
        _ => Ok(()),
    }
}

fn unknown_var_message(name: &str) -> String {
    let known: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
    let mut message = format!(
        "unknown variable `{{{{{name}}}}}`; known variables: {}",
        known.join(", ")
    );
    if let Some(best) = closest(name, known.iter().copied()) {
        message.push_str(&format!("; did you mean `{{{{{best}}}}}`?"));
    }
    message
}

/// The names of the placeholders in `s`, in order.
fn placeholders(s: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("unclosed `{{{{` in {s:?}; close it with `}}}}`"));
        };
        names.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    Ok(names)
}

fn render_value(value: &Value, vars: &Vars) -> Result<Value, Var> {
    Ok(match value {
        Value::String(s) => render_string(s, vars)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, vars)?)))
                .collect::<Result<_, Var>>()?,
        ),
        other => other.clone(),
    })
}

fn render_string(s: &str, vars: &Vars) -> Result<Value, Var> {
    let lookup = |name: &str| -> Result<Value, Var> {
        // Names were checked at load time, so an unknown name cannot occur here; treat it as text.
        match Var::from_name(name) {
            Some(var) => vars.get(var).cloned().ok_or(var),
            None => Ok(Value::String(name.to_string())),
        }
    };
    let trimmed = s.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        && !inner.contains("{{")
        && !inner.contains("}}")
    {
        return lookup(inner.trim());
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(Value::String(out));
        };
        match lookup(after[..end].trim())? {
            Value::String(text) => out.push_str(&text),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set(Var::TargetProfileId, json!(1102));
        vars.set(Var::OriginalProfileId, json!(1101));
        vars
    }

    #[test]
    fn rendering() {
        let cases = [
            (json!("{{target_profile_id}}"), Ok(json!(1102))),
            (json!(" {{ target_profile_id }} "), Ok(json!(1102))),
            (json!("id-{{target_profile_id}}-x"), Ok(json!("id-1102-x"))),
            (json!(["{{original_profile_id}}", 3]), Ok(json!([1101, 3]))),
            (
                json!({"a": {"b": "{{target_profile_id}}"}}),
                Ok(json!({"a": {"b": 1102}})),
            ),
            (json!("{{foreign_profile_id}}"), Err(Var::ForeignProfileId)),
            (json!("{{response.status}}"), Ok(json!(404))),
            (json!("plain"), Ok(json!("plain"))),
        ];
        for (input, expected) in cases {
            let (template, _) = Template::parse(input.clone(), true).unwrap();
            assert_eq!(
                template.render(&vars().with_response(404)),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                json!("{{taget_profile_id}}"),
                true,
                "",
                "did you mean `{{target_profile_id}}`?",
            ),
            (json!({"q": ["x", "{{nope"]}), true, "/q/1", "unclosed"),
            (
                json!("{{response.ok}}"),
                false,
                "",
                "only be used in a rule's check",
            ),
            (
                json!({"a/b": "{{zz}}"}),
                true,
                "/a~1b",
                "unknown variable `{{zz}}`",
            ),
        ];
        for (input, response_vars, pointer, fragment) in cases {
            let err = Template::parse(input.clone(), response_vars).unwrap_err();
            assert_eq!(err.pointer, pointer, "{input}");
            assert!(err.message.contains(fragment), "{input}: {}", err.message);
        }
    }

    #[test]
    fn used_variables_are_reported() {
        let (_, used) = Template::parse(
            json!(["{{target_profile_id}}", "{{unknown_profile_id}}"]),
            false,
        )
        .unwrap();
        assert_eq!(used, vec![Var::TargetProfileId, Var::UnknownProfileId]);
    }
}
