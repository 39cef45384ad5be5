//! `openapi`: the contract as an OpenAPI 3.1 document, generated from what the harness holds —
//! the endpoint paths (`api`), the schemas (`schemas/`), the catalog's statements with their
//! sources, and examples the reference server answers with. Nothing in it is written twice: the
//! tables below only name statements, schema files and examples.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api;
use crate::case::{Cite, Suite};
use crate::http::{HttpClient, HttpOptions, HttpRequest};
use crate::server::{self, FixedTokens, ServerOptions};
use crate::source::SourceFile;

/// One documented answer of an operation.
struct Answer {
    status: u16,
    /// The statements that say it (catalog keys).
    statements: &'static [&'static str],
    /// The body's schema: a schema file, or a place in one.
    schema: Option<&'static str>,
    example: Option<Example>,
}

/// One operation: a documented method on a path.
struct Operation {
    path: &'static str,
    method: &'static str,
    id: &'static str,
    /// The catalog source whose title is its summary (the page that documents it).
    source: &'static str,
    statements: &'static [&'static str],
    /// Takes the `coworkerId` query parameter; the statement that documents it.
    coworker_id: Option<&'static str>,
    answers: &'static [Answer],
}

/// What the contract notes say of throttling (§6.1, one paragraph), with the section's source:
/// `Throttled requests get 409 … (source: LIM https://…; notes §6.1)`.
fn throttling() -> Result<String, String> {
    let missing = || "the contract notes have no section on throttling".to_string();
    let fact = crate::source::contract_section(THROTTLED).ok_or_else(missing)?;
    let (section, _) = THROTTLED.split_once('.').unwrap_or((THROTTLED, ""));
    let source = crate::source::contract_section(section)
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Source: "))
                .map(|l| l.split(", **").next().unwrap_or(l).replace(['(', ')'], ""))
        })
        .ok_or_else(missing)?;
    let text = fact
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches(&format!("- **{THROTTLED}** "))
        .replace("**", "");
    Ok(format!("{text} (source: {source}; notes §{THROTTLED})"))
}

/// The examples the reference server gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Example {
    List,
    Switched,
    NotFound,
}

/// Throttling (contract notes §6.1): every operation may answer it.
const THROTTLED: &str = "6.1";

const OPERATIONS: &[Operation] = &[
    Operation {
        path: api::PROFILES_PATH,
        method: "get",
        id: "listProfiles",
        source: "LP",
        statements: &[
            "list_returns_own_profiles",
            "is_default_profile",
            "one_default",
            "unique_ids",
        ],
        coworker_id: None,
        answers: &[
            Answer {
                status: 200,
                statements: &["list_fields"],
                schema: Some("profiles.json"),
                example: Some(Example::List),
            },
            Answer {
                status: 401,
                statements: &["list_401", "bearer_challenge"],
                schema: None,
                example: None,
            },
        ],
    },
    Operation {
        path: api::SWITCH_PATH,
        method: "put",
        id: "switchActiveProfile",
        source: "SW",
        statements: &["switch_sets_default", "switch_envelope"],
        coworker_id: Some("coworker_id_numeric"),
        answers: &[
            Answer {
                status: 200,
                statements: &["switch_200", "was_successful"],
                schema: Some("action-confirmation.json#/$defs/success"),
                example: Some(Example::Switched),
            },
            Answer {
                status: 400,
                statements: &["malformed_id_status"],
                schema: None,
                example: None,
            },
            Answer {
                status: 401,
                statements: &["switch_401", "bearer_challenge"],
                schema: None,
                example: None,
            },
            Answer {
                status: 404,
                statements: &["switch_404", "same_refusal", "failure_envelope"],
                schema: Some("action-confirmation.json#/$defs/failure"),
                example: Some(Example::NotFound),
            },
        ],
    },
];

/// The name a schema file goes by under `components/schemas`: `action-confirmation.json` →
/// `ActionConfirmation`.
fn component_name(file: &str) -> String {
    file.trim_end_matches(".json")
        .split(['-', '_', '.'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

/// `#/components/schemas/…` for a schema file or a place in one.
fn component_ref(reference: &str) -> String {
    let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    format!("#/components/schemas/{}{pointer}", component_name(file))
}

/// A schema file as a component: its `$ref`s point into the components (a `#/…` of its own
/// or another file's), and its `$id` and `$schema` go (the document's dialect stands).
fn as_component(file: &str, schema: &Value) -> Value {
    fn rewrite(file: &str, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| k.as_str() != "$id" && k.as_str() != "$schema")
                    .map(|(k, v)| {
                        let v = match (k.as_str(), v) {
                            ("$ref", Value::String(target)) => {
                                Value::String(match target.strip_prefix('#') {
                                    Some(pointer) => component_ref(&format!("{file}#{pointer}")),
                                    None => component_ref(target),
                                })
                            }
                            _ => rewrite(file, v),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| rewrite(file, v)).collect()),
            other => other.clone(),
        }
    }
    rewrite(file, schema)
}

/// A description: each statement quoted, with where it is written.
fn describe(keys: &[&str], statements: &BTreeMap<String, Cite>) -> Result<String, String> {
    keys.iter()
        .map(|key| {
            let cite = statements
                .get(*key)
                .ok_or_else(|| format!("the catalog has no statement `{key}`"))?;
            Ok(match cite.see() {
                Some(see) => format!("{} (source: {see})", cite.statement),
                None => format!("{} (source: {})", cite.statement, cite.source),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(|lines| lines.join("\n\n"))
}

/// What the reference server answers, by example.
pub struct Examples {
    bodies: BTreeMap<Example, Value>,
}

/// The tokens the example server is seeded with; the list echoes the primary one, which the
/// example shows as this placeholder.
const EXAMPLE_TOKEN: &str = "example-primary-token";
const TOKEN_PLACEHOLDER: &str = "<the bearer token of the request>";

/// Starts the reference server on loopback and records its answers.
///
/// # Errors
/// The server could not start, or did not answer as expected.
pub async fn examples() -> Result<Examples, String> {
    let tokens = FixedTokens {
        primary: Some(EXAMPLE_TOKEN.into()),
        foreign: Some("example-foreign-token".into()),
        expired: Some("example-expired-token".into()),
        password: Some("example-password".into()),
    };
    let server = server::start(&ServerOptions {
        tokens: Some(tokens),
        ..ServerOptions::default()
    })
    .await
    .map_err(|e| format!("cannot start the reference server for the examples: {e}"))?;
    // One client for every example request.
    let client = HttpClient::new(&server.base_url(), HttpOptions::default())
        .map_err(|e| format!("cannot reach the reference server: {e:?}"))?;
    let send = |request: HttpRequest| {
        let client = &client;
        async move {
            client
                .send(&request)
                .await
                .outcome
                .map_err(|e| format!("the reference server did not answer: {e}"))
        }
    };
    let bearer = Some(format!("Bearer {EXAMPLE_TOKEN}"));
    let list = send(HttpRequest {
        authorization: bearer.clone(),
        ..api::list_profiles()
    })
    .await?;
    let mut list: Value = serde_json::from_slice(&list.body)
        .map_err(|e| format!("the reference server's list is not JSON: {e}"))?;
    if let Some(token) = list.pointer_mut("/User/AccessToken") {
        *token = Value::from(TOKEN_PLACEHOLDER);
    }
    let profiles = list["Profiles"].as_array().cloned().unwrap_or_default();
    let other = profiles
        .iter()
        .find(|p| p["Active"] == true && p["IsDefaultProfile"] == false)
        .and_then(|p| p["Id"].as_i64())
        .ok_or("the reference server's list has no second active profile")?;
    let unknown = profiles
        .iter()
        .filter_map(|p| p["Id"].as_i64())
        .max()
        .unwrap_or(0)
        + 1_000_000;
    let mut bodies = BTreeMap::from([(Example::List, list)]);
    for (example, id) in [(Example::Switched, other), (Example::NotFound, unknown)] {
        let answer = send(HttpRequest {
            authorization: bearer.clone(),
            ..api::switch_to(id)
        })
        .await?;
        let body = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("the reference server's switch answer is not JSON: {e}"))?;
        bodies.insert(example, body);
    }
    server.stop().await;
    Ok(Examples { bodies })
}

/// The OpenAPI 3.1 document.
///
/// # Errors
/// A statement, source or schema file the tables name is missing from the contract.
pub fn document(
    suite: &Suite,
    schemas: &[SourceFile],
    examples: &Examples,
) -> Result<Value, String> {
    let statements = &suite.statements;
    let mut files: BTreeMap<String, Value> = BTreeMap::new();
    let mut paths = Map::new();
    let throttled = throttling()?;
    for op in OPERATIONS {
        let source = suite
            .sources
            .get(op.source)
            .ok_or_else(|| format!("the catalog has no source `{}`", op.source))?;
        let page = source.url.clone().unwrap_or_default();
        let mut responses = Map::new();
        for answer in op.answers {
            let mut response = json!({ "description": describe(answer.statements, statements)? });
            if let Some(reference) = answer.schema {
                let file = reference.split('#').next().unwrap_or(reference);
                if !files.contains_key(file) {
                    let text = schemas
                        .iter()
                        .find(|s| s.file_name() == file)
                        .ok_or_else(|| format!("no schema file `{file}`"))?;
                    let schema: Value = serde_json::from_str(&text.text)
                        .map_err(|e| format!("{}: {e}", text.path))?;
                    files.insert(file.to_string(), schema);
                }
                let mut media = json!({ "schema": { "$ref": component_ref(reference) } });
                if let Some(example) = answer.example.and_then(|e| examples.bodies.get(&e)) {
                    media["example"] = example.clone();
                }
                response["content"] = json!({ "application/json": media });
            }
            responses.insert(answer.status.to_string(), response);
        }
        // Throttling is documented without a body (and the reference server sends none).
        let too_many = json!({
            "description": throttled.clone(),
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before sending again.",
                    "required": true,
                    "schema": { "type": "integer", "minimum": 0 },
                }
            }
        });
        responses.insert("409".into(), too_many);
        let mut operation = json!({
            "operationId": op.id,
            "summary": source.title,
            "description": format!("{}\n\nDocumented at {page}.", describe(op.statements, statements)?),
            "responses": responses,
        });
        if let Some(key) = op.coworker_id {
            operation["parameters"] = json!([{
                "name": api::COWORKER_ID,
                "in": "query",
                "required": true,
                "description": describe(&[key], statements)?,
                "schema": { "type": "integer", "format": "int64" },
                "example": examples.bodies.get(&Example::List)
                    .and_then(|l| l.pointer("/Profiles/1/Id").cloned())
                    .unwrap_or(Value::Null),
            }]);
        }
        paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|path| path.insert(op.method.into(), operation));
    }
    let components: Map<String, Value> = files
        .iter()
        .map(|(file, schema)| (component_name(file), as_component(file, schema)))
        .collect();
    Ok(json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Nexudus customer portal API: the active profile",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The two endpoints nexudus-conformance checks, as its contract states them: \
                each description quotes the statement it comes from and where that is written. \
                Generated by `nexudus-conformance openapi` from the same schemas and catalog the \
                harness judges with; the examples are the reference server's answers.",
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": describe(&["switch_401"], statements)?,
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::case::load_suite;
    use crate::contract::Contract;
    use crate::source::{embedded_cases, embedded_schemas};

    fn generated() -> (Value, Contract) {
        let mut contract = Contract::load(&embedded_schemas()).unwrap();
        let suite = load_suite(&embedded_cases(), &mut contract).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let examples = runtime.block_on(examples()).unwrap();
        (
            document(&suite, &embedded_schemas(), &examples).unwrap(),
            contract,
        )
    }

    #[test]
    fn the_document_is_valid_openapi_3_1() {
        let meta: Value = serde_json::from_str(include_str!(
            "../../tests/vendor/oas-3.1-schema-2022-10-07.json"
        ))
        .unwrap();
        let validator = jsonschema::validator_for(&meta).unwrap();
        let (document, _) = generated();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // An invalid document fails the same check: the test can fail.
        let mut broken = document.clone();
        broken["paths"][api::SWITCH_PATH]["put"]["responses"] = json!("none");
        assert!(!validator.is_valid(&broken));
    }

    #[test]
    fn every_example_is_valid_against_its_schema_and_every_ref_resolves() {
        let (document, mut contract) = generated();
        let mut checked = 0;
        for op in OPERATIONS {
            for answer in op.answers {
                let (Some(schema), Some(_)) = (answer.schema, answer.example) else {
                    continue;
                };
                let media = &document["paths"][op.path][op.method]["responses"]
                    [answer.status.to_string()]["content"]["application/json"];
                // The reference points at the component the schema file became.
                let target = media["schema"]["$ref"].as_str().unwrap();
                let pointer = target.trim_start_matches('#');
                assert!(document.pointer(pointer).is_some(), "{target} resolves");
                let validator = contract.compile_ref(schema).unwrap();
                let example = &media["example"];
                assert!(validator.is_valid(example), "{schema}: {example}");
                checked += 1;
            }
        }
        assert_eq!(checked, 3, "the list, a switch and a refusal have examples");
        // No token of the example server is in the document; the echoed one is a placeholder.
        let text = document.to_string();
        assert!(!text.contains(EXAMPLE_TOKEN));
        assert!(text.contains(TOKEN_PLACEHOLDER));
        // Every internal `$ref` of the components resolves inside the document.
        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        match (k.as_str(), v) {
                            ("$ref", Value::String(r)) => out.push(r.clone()),
                            _ => refs(v, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&document, &mut all);
        for r in all {
            assert!(
                document.pointer(r.trim_start_matches('#')).is_some(),
                "{r} does not resolve"
            );
        }
    }

    #[test]
    fn component_names_follow_the_files() {
        assert_eq!(
            component_name("action-confirmation.json"),
            "ActionConfirmation"
        );
        assert_eq!(component_name("profiles.json"), "Profiles");
        assert_eq!(
            component_ref("action-confirmation.json#/$defs/success"),
            "#/components/schemas/ActionConfirmation/$defs/success"
        );
    }
}
