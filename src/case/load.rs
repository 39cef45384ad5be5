//! From case files to [`Case`]s: serde for the shape (with `deny_unknown_fields` and a "did you
//! mean"), then semantic checks that serde cannot do, each error naming the file and JSON pointer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::model::*;
use super::template::{Template, Var};
use crate::contract::Contract;
use crate::error::{LoadError, escape_pointer, parse_json};
use crate::source::SourceFile;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// Lets editors find `schemas/case.schema.json`; ignored here.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    summary: String,
    state: StateUse,
    steps: Vec<StepFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    name: String,
    request: RequestFile,
    #[serde(default)]
    rules: Vec<RuleFile>,
    sweep: Option<SweepFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    over: SweepSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    method: Method,
    path: String,
    #[serde(default)]
    query: serde_json::Map<String, Value>,
    credential: Credential,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    level: Level,
    cites: Cite,
    #[serde(default)]
    only_if_body: bool,
    check: CheckFile,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum CheckFile {
    Status(StatusFile),
    Header(HeaderFile),
    Schema(SchemaFile),
    Json(Box<JsonFile>),
    Items(Box<ItemsFile>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusFile {
    #[serde(default)]
    any_of: Vec<StatusPatternFile>,
    #[serde(default)]
    none_of: Vec<StatusPatternFile>,
}

struct StatusPatternFile(StatusPattern);

impl<'de> Deserialize<'de> for StatusPatternFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let pattern = match &value {
            Value::Number(n) => n
                .as_u64()
                .filter(|c| (100..=599).contains(c))
                .and_then(|c| u16::try_from(c).ok())
                .map(StatusPattern::Code),
            Value::String(s) => {
                let b = s.as_bytes();
                if b.len() == 3
                    && (b'1'..=b'5').contains(&b[0])
                    && s[1..].eq_ignore_ascii_case("xx")
                {
                    Some(StatusPattern::Class(b[0] - b'0'))
                } else {
                    s.parse::<u16>()
                        .ok()
                        .filter(|c| (100..=599).contains(c))
                        .map(StatusPattern::Code)
                }
            }
            _ => None,
        };
        pattern.map(StatusPatternFile).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid status pattern {value}; write a code from 100 to 599 (`404`) or a class (`\"4xx\"`)"
            ))
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFile {
    name: String,
    present: Option<bool>,
    equals: Option<String>,
    contains: Option<String>,
    media_type: Option<String>,
    starts_with: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    #[serde(rename = "ref")]
    reference: Option<String>,
    inline: Option<Value>,
}

/// `Some(value)` even when the value is `null`, so `"equals": null` is not mistaken for absence.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFile {
    pointer: String,
    exists: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    equals: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    not_equals: Option<Value>,
    one_of: Option<Vec<Value>>,
    #[serde(rename = "type")]
    json_type: Option<JsonType>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsFile {
    array: String,
    #[serde(rename = "where")]
    filter: Option<JsonFile>,
    count: Option<usize>,
    each: Option<JsonFile>,
    unique: Option<String>,
}

/// Loads every case file, sorted by id.
///
/// # Errors
/// The first bad file: invalid JSON, a shape error, an unknown variable or schema, a duplicate id.
pub fn load_cases(sources: &[SourceFile], contract: &mut Contract) -> Result<Vec<Case>, LoadError> {
    let mut cases: Vec<Case> = Vec::with_capacity(sources.len());
    let mut seen: HashMap<String, String> = HashMap::new();
    for source in sources {
        let case = load_case(source, contract)?;
        if let Some(first) = seen.insert(case.id.clone(), source.path.clone()) {
            return Err(LoadError::new(
                &source.path,
                format!(
                    "duplicate case id `{}`: {first} has the same file name; rename one of the files",
                    case.id
                ),
            ));
        }
        cases.push(case);
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cases)
}

fn load_case(source: &SourceFile, contract: &mut Contract) -> Result<Case, LoadError> {
    let file: Arc<str> = Arc::from(source.path.as_str());
    let id = source.stem().to_string();
    check_identifier(&id).map_err(|m| {
        LoadError::new(
            &source.path,
            format!("the file name is the case id, and {m}; rename the file"),
        )
    })?;
    if crate::api::RESERVED_CASE_IDS.contains(&id.as_str()) {
        return Err(LoadError::new(
            &source.path,
            format!(
                "the case id `{id}` is reserved for the harness's own end-of-run trial; rename the file"
            ),
        ));
    }
    let parsed: CaseFile = parse_json(&source.path, &source.text)?;
    let bad = |pointer: String, message: String| LoadError::new(&source.path, message).at(pointer);

    if parsed.steps.is_empty() {
        return Err(bad(
            "/steps".into(),
            "a case needs at least one step".into(),
        ));
    }
    let mut fixtures = BTreeSet::new();
    let mut steps = Vec::with_capacity(parsed.steps.len());
    let mut step_names = BTreeSet::new();
    for (si, step) in parsed.steps.into_iter().enumerate() {
        let sp = format!("/steps/{si}");
        check_identifier(&step.name)
            .map_err(|m| bad(format!("{sp}/name"), format!("step name {m}")))?;
        if !step_names.insert(step.name.clone()) {
            return Err(bad(
                format!("{sp}/name"),
                format!(
                    "step name `{}` is used twice in this case; step names must be unique",
                    step.name
                ),
            ));
        }
        let mut used = BTreeSet::new();
        let request = resolve_request(step.request, &sp, &mut used).map_err(|(p, m)| bad(p, m))?;
        let sweeps = used.remove(&Fixture::Profile(Var::SweepId));
        match (&step.sweep, sweeps) {
            (Some(_), false) => {
                return Err(bad(
                    format!("{sp}/sweep"),
                    "a sweep step sends `{{sweep_id}}` in its request; use it in the path or query"
                        .into(),
                ));
            }
            (None, true) => {
                return Err(bad(
                    format!("{sp}/request"),
                    "`{{sweep_id}}` is only bound in a sweep step; add `\"sweep\": {\"over\": \"unowned_ids\"}`".into(),
                ));
            }
            (Some(_), true) => {
                // The sweep starts at the unknown id.
                used.insert(Fixture::Profile(Var::UnknownProfileId));
            }
            (None, false) => {}
        }
        fixtures.extend(used);
        let mut rules = Vec::with_capacity(step.rules.len());
        let mut rule_ids = BTreeSet::new();
        for (ri, rule) in step.rules.into_iter().enumerate() {
            let rp = format!("{sp}/rules/{ri}");
            check_identifier(&rule.id)
                .map_err(|m| bad(format!("{rp}/id"), format!("rule id {m}")))?;
            if rule.id == crate::api::SNAPSHOT_RULE_ID {
                return Err(bad(
                    format!("{rp}/id"),
                    format!(
                        "the rule id `{}` is reserved for the case's response snapshot; rename the rule",
                        rule.id
                    ),
                ));
            }
            if !rule_ids.insert(rule.id.clone()) {
                return Err(bad(
                    format!("{rp}/id"),
                    format!(
                        "rule id `{}` is used twice in this step; rule ids must be unique in a step",
                        rule.id
                    ),
                ));
            }
            if rule.level == Level::Must && rule.cites.evidence != Evidence::Doc {
                return Err(bad(
                    format!("{rp}/cites/evidence"),
                    format!(
                        "a `must` rule enforces documented behaviour, but this one cites `{}` evidence; \
                         make it `should` or cite a `doc` statement",
                        rule.cites.evidence
                    ),
                ));
            }
            let check = resolve_check(rule.check, &format!("{rp}/check"), contract, &mut fixtures)
                .map_err(|(p, m)| bad(p, m))?;
            rules.push(Rule {
                id: rule.id,
                level: rule.level,
                cite: rule.cites,
                only_if_body: rule.only_if_body,
                check,
                origin: Origin {
                    file: file.clone(),
                    pointer: rp,
                },
            });
        }
        steps.push(Step {
            name: step.name,
            request,
            rules,
            origin: Origin {
                file: file.clone(),
                pointer: sp,
            },
            sweep: step.sweep.map(|s| s.over),
        });
    }
    // Bound per request, not discovered.
    fixtures.remove(&Fixture::Profile(Var::SweepId));
    if steps.iter().all(|s| s.rules.is_empty()) {
        return Err(bad(
            "/steps".into(),
            "a case needs at least one rule, or it reports nothing".into(),
        ));
    }
    Ok(Case {
        id,
        summary: parsed.summary,
        state: parsed.state,
        steps,
        file,
        fixtures,
    })
}

type Problem = (String, String);

fn check_identifier(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with('_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be lowercase letters, digits and `_` (it becomes part of a trial name and a file name)"
        ))
    }
}

fn template(
    value: Value,
    pointer: &str,
    response_vars: bool,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<Template, Problem> {
    let (t, used) = Template::parse(value, response_vars)
        .map_err(|e| (format!("{pointer}{}", e.pointer), e.message))?;
    fixtures.extend(
        used.into_iter()
            .filter(|v| !v.is_response_scoped())
            .map(Fixture::Profile),
    );
    Ok(t)
}

fn resolve_request(
    request: RequestFile,
    sp: &str,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<RequestSpec, Problem> {
    if !request.path.starts_with('/') {
        return Err((
            format!("{sp}/request/path"),
            format!(
                "path `{}` must start with `/` (it is joined to the base URL)",
                request.path
            ),
        ));
    }
    let path = template(
        Value::String(request.path),
        &format!("{sp}/request/path"),
        false,
        fixtures,
    )?;
    let mut query = Vec::with_capacity(request.query.len());
    for (name, value) in request.query {
        let qp = format!("{sp}/request/query/{}", escape_pointer(&name));
        if value.is_object() || value.is_array() || value.is_null() {
            return Err((
                qp,
                "a query value must be a string, number or boolean".into(),
            ));
        }
        query.push((name, template(value, &qp, false, fixtures)?));
    }
    fixtures.extend(Fixture::of_credential(request.credential));
    Ok(RequestSpec {
        method: request.method,
        path,
        query,
        credential: request.credential,
    })
}

fn check_pointer(pointer: &str, at: String) -> Result<String, Problem> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(pointer.to_string())
    } else {
        Err((
            at,
            format!("`{pointer}` is not a JSON pointer; write `/{pointer}` (RFC 6901)"),
        ))
    }
}

fn value_op(
    json: JsonFile,
    at: &str,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<(String, ValueOp), Problem> {
    let pointer = check_pointer(&json.pointer, format!("{at}/pointer"))?;
    let mut ops = Vec::new();
    if let Some(b) = json.exists {
        ops.push(ValueOp::Exists(b));
    }
    if let Some(v) = json.equals {
        ops.push(ValueOp::Equals(template(
            v,
            &format!("{at}/equals"),
            true,
            fixtures,
        )?));
    }
    if let Some(v) = json.not_equals {
        ops.push(ValueOp::NotEquals(template(
            v,
            &format!("{at}/not_equals"),
            true,
            fixtures,
        )?));
    }
    if let Some(v) = json.one_of {
        ops.push(ValueOp::OneOf(template(
            Value::Array(v),
            &format!("{at}/one_of"),
            true,
            fixtures,
        )?));
    }
    if let Some(t) = json.json_type {
        ops.push(ValueOp::Type(t));
    }
    match ops.len() {
        1 => Ok((pointer, ops.remove(0))),
        0 => Err((
            at.to_string(),
            "say what to test: one of `exists`, `equals`, `not_equals`, `one_of`, `type`".into(),
        )),
        _ => Err((
            at.to_string(),
            "one test per check: keep one of `exists`, `equals`, `not_equals`, `one_of`, `type` and move the others to rules of their own".into(),
        )),
    }
}

fn resolve_check(
    check: CheckFile,
    at: &str,
    contract: &mut Contract,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<Check, Problem> {
    Ok(match check {
        CheckFile::Status(s) => {
            if s.any_of.is_empty() && s.none_of.is_empty() {
                return Err((
                    format!("{at}/status"),
                    "give `any_of`, `none_of` or both".into(),
                ));
            }
            Check::Status(StatusCheck {
                any_of: s.any_of.into_iter().map(|p| p.0).collect(),
                none_of: s.none_of.into_iter().map(|p| p.0).collect(),
            })
        }
        CheckFile::Header(h) => {
            let at = format!("{at}/header");
            let mut ops = Vec::new();
            ops.extend(h.present.map(HeaderOp::Present));
            ops.extend(h.equals.map(HeaderOp::Equals));
            ops.extend(h.contains.map(HeaderOp::Contains));
            ops.extend(h.media_type.map(HeaderOp::MediaType));
            ops.extend(h.starts_with.map(HeaderOp::StartsWith));
            if ops.len() != 1 {
                return Err((
                    at,
                    "give exactly one of `present`, `equals`, `contains`, `media_type`, `starts_with`".into(),
                ));
            }
            Check::Header(HeaderCheck {
                name: h.name.to_ascii_lowercase(),
                op: ops.remove(0),
            })
        }
        CheckFile::Schema(s) => {
            let at = format!("{at}/schema");
            match (s.reference, s.inline) {
                (Some(reference), None) => {
                    let validator = contract
                        .compile_ref(&reference)
                        .map_err(|m| (format!("{at}/ref"), m))?;
                    Check::Schema(SchemaCheck {
                        reference,
                        validator,
                    })
                }
                (None, Some(inline)) => {
                    let validator = contract
                        .compile_inline(&inline)
                        .map_err(|m| (format!("{at}/inline"), m))?;
                    Check::Schema(SchemaCheck {
                        reference: "inline".into(),
                        validator,
                    })
                }
                _ => {
                    return Err((
                        at,
                        "give exactly one of `ref` (a file in schemas/) and `inline`".into(),
                    ));
                }
            }
        }
        CheckFile::Json(j) => {
            let (pointer, op) = value_op(*j, &format!("{at}/json"), fixtures)?;
            Check::Json(JsonCheck { pointer, op })
        }
        CheckFile::Items(i) => {
            let at = format!("{at}/items");
            let array = check_pointer(&i.array, format!("{at}/array"))?;
            let filter = i
                .filter
                .map(|w| value_op(w, &format!("{at}/where"), fixtures))
                .transpose()?
                .map(|(pointer, op)| Predicate { pointer, op });
            let each = i
                .each
                .map(|w| value_op(w, &format!("{at}/each"), fixtures))
                .transpose()?
                .map(|(pointer, op)| Predicate { pointer, op });
            let unique = i
                .unique
                .map(|u| check_pointer(&u, format!("{at}/unique")))
                .transpose()?;
            if i.count.is_none() && each.is_none() && unique.is_none() {
                return Err((
                    at,
                    "say what must hold of the items: `count`, `each` or `unique`".into(),
                ));
            }
            Check::Items(ItemsCheck {
                array,
                filter,
                count: i.count,
                each,
                unique,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{embedded_cases, embedded_schemas};
    use serde_json::json;

    fn contract() -> Contract {
        Contract::load(&embedded_schemas()).unwrap()
    }

    fn load_one(name: &str, text: &str) -> Result<Vec<Case>, LoadError> {
        let source = SourceFile {
            path: format!("cases/{name}.json"),
            text: text.to_string(),
        };
        load_cases(&[source], &mut contract())
    }

    /// A valid case whose first rule's `check` (or any part) the table below patches.
    fn base() -> Value {
        json!({
            "summary": "s", "state": "changes",
            "steps": [{"name": "switch",
                "request": {"method": "PUT", "path": "/api/public/coworkers/profiles/current",
                            "query": {"coworkerId": "{{target_profile_id}}"}, "credential": "primary"},
                "rules": [{"id": "status_is_200", "level": "must",
                           "cites": {"source": "SW", "evidence": "doc", "statement": "200 on success"},
                           "check": {"status": {"any_of": [200]}}}]}]
        })
    }

    fn with(pointer: &str, value: Value) -> String {
        let mut doc = base();
        if let Some(slot) = doc.pointer_mut(pointer) {
            *slot = value;
        }
        serde_json::to_string_pretty(&doc).unwrap()
    }

    #[test]
    fn the_base_case_loads_and_derives_its_fixtures() {
        let cases = load_one("ok", &with("/summary", json!("fine"))).unwrap();
        assert_eq!(
            cases[0]
                .fixtures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["target_profile_id"]
        );
    }

    #[test]
    fn bad_case_files_are_refused_with_file_and_position() {
        let rule = "/steps/0/rules/0";
        let table: Vec<(&str, String)> = vec![
            (
                "syntax",
                "{\n  \"summary\": \"s\",\n  \"state\": \"changes\"\n  \"steps\": []\n}".into(),
            ),
            ("trailing", format!("{} x", with("/summary", json!("s")))),
            (
                "unknown_field",
                with(
                    &format!("{rule}/check"),
                    json!({"stauts": {"any_of": [200]}}),
                ),
            ),
            (
                "unknown_rule_field",
                with(&format!("{rule}/level"), json!("must")).replace("\"level\"", "\"levle\""),
            ),
            ("bad_level", with(&format!("{rule}/level"), json!("mst"))),
            (
                "unknown_credential",
                with("/steps/0/request/credential", json!("primry")),
            ),
            (
                "unknown_variable",
                with(
                    "/steps/0/request/query/coworkerId",
                    json!("{{taget_profile_id}}"),
                ),
            ),
            (
                "response_var_in_request",
                with("/steps/0/request/path", json!("/x/{{response.status}}")),
            ),
            (
                "missing_schema",
                with(
                    &format!("{rule}/check"),
                    json!({"schema": {"ref": "profile.json"}}),
                ),
            ),
            (
                "missing_pointer_target",
                with(
                    &format!("{rule}/check"),
                    json!({"schema": {"ref": "profiles.json#/$defs/nope"}}),
                ),
            ),
            (
                "bad_inline_schema",
                with(
                    &format!("{rule}/check"),
                    json!({"schema": {"inline": {"type": "whatever"}}}),
                ),
            ),
            (
                "must_without_doc",
                with(&format!("{rule}/cites/evidence"), json!("infer")),
            ),
            (
                "bad_status",
                with(
                    &format!("{rule}/check"),
                    json!({"status": {"any_of": ["2xy"]}}),
                ),
            ),
            (
                "two_header_ops",
                with(
                    &format!("{rule}/check"),
                    json!({"header": {"name": "a", "present": true, "equals": "b"}}),
                ),
            ),
            (
                "no_value_op",
                with(&format!("{rule}/check"), json!({"json": {"pointer": "/a"}})),
            ),
            (
                "bad_pointer",
                with(
                    &format!("{rule}/check"),
                    json!({"json": {"pointer": "Status", "exists": true}}),
                ),
            ),
            (
                "bad_rule_id",
                with(&format!("{rule}/id"), json!("Status-Is-200")),
            ),
            ("no_steps", with("/steps", json!([]))),
            ("no_rules", with("/steps/0/rules", json!([]))),
            (
                "relative_path",
                with("/steps/0/request/path", json!("api/x")),
            ),
            ("Bad-Name", with("/summary", json!("s"))),
            ("restore", with("/summary", json!("s"))),
            ("sweep_without_sweep_id", {
                let mut doc: Value = serde_json::from_str(&with("/summary", json!("s"))).unwrap();
                doc["steps"][0]["sweep"] = json!({"over": "unowned_ids"});
                doc.to_string()
            }),
            (
                "sweep_id_without_sweep",
                with("/steps/0/request/query/coworkerId", json!("{{sweep_id}}")),
            ),
            ("unknown_sweep_source", {
                let mut doc: Value = serde_json::from_str(&with(
                    "/steps/0/request/query/coworkerId",
                    json!("{{sweep_id}}"),
                ))
                .unwrap();
                doc["steps"][0]["sweep"] = json!({"over": "owned_ids"});
                doc.to_string()
            }),
        ];
        let mut report = String::new();
        for (name, text) in table {
            let line = match load_one(name, &text) {
                Ok(_) => "loaded (expected an error)".to_string(),
                Err(e) => e.to_string(),
            };
            report.push_str(&format!("{name}: {line}\n"));
        }
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("case_load_errors", report);
        });
    }

    #[test]
    fn duplicate_ids_across_folders_are_refused() {
        let text = with("/summary", json!("s"));
        let sources = [
            SourceFile {
                path: "cases/a/dup.json".into(),
                text: text.clone(),
            },
            SourceFile {
                path: "cases/b/dup.json".into(),
                text,
            },
        ];
        let err = load_cases(&sources, &mut contract()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cases/b/dup.json: duplicate case id `dup`: cases/a/dup.json has the same file name; rename one of the files"
        );
    }

    #[test]
    fn shipped_cases_load_and_match_the_case_schema() {
        let mut contract = contract();
        let cases = load_cases(&embedded_cases(), &mut contract).unwrap();
        assert!(cases.len() >= 14, "{} cases", cases.len());
        let schema: Value = embedded_schemas()
            .into_iter()
            .find(|s| s.path.ends_with("case.schema.json"))
            .map(|s| serde_json::from_str(&s.text).unwrap())
            .unwrap();
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        for source in embedded_cases() {
            let value: Value = serde_json::from_str(&source.text).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", source.path);
        }
        // The editor schema rejects what the loader rejects, for the common mistakes.
        for bad in [
            with(
                "/steps/0/rules/0/check",
                json!({"stauts": {"any_of": [200]}}),
            ),
            with("/steps/0/rules/0/cites/evidence", json!("infer")),
            with("/steps/0/request/credential", json!("primry")),
        ] {
            let value: Value = serde_json::from_str(&bad).unwrap();
            assert!(!validator.is_valid(&value), "{bad}");
        }
    }
}
