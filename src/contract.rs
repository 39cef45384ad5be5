//! The contract's JSON Schemas: loaded once into one registry and compiled on demand while the
//! cases are loaded, so a rule holds a ready validator and nothing is compiled during a run.
//!
//! Every file of `schemas/` is registered under a synthetic base URI, so schemas and inline
//! schemas in cases can refer to each other with relative `$ref`s (`action-confirmation.json#/$defs/success`).
//! A missing `$ref` target or a schema that does not compile is a load error (exit 2): a run
//! compiles every file before it sends anything; `--list` only those the cases use.

use std::collections::HashMap;
use std::sync::Arc;

use jsonschema::{Registry, Validator};
use serde_json::Value;

use crate::error::{LoadError, from_json_error};
use crate::source::SourceFile;

/// The base URI every schema file is registered under; `.invalid` never resolves.
pub const BASE_URI: &str = "https://nexudus-conformance.invalid/schemas/";

/// The loaded schemas.
pub struct Contract {
    registry: Registry<'static>,
    /// File name → display path.
    files: Vec<(String, String)>,
    compiled: HashMap<String, Arc<Validator>>,
    /// Each file's schema, in the order of `files`.
    documents: Vec<Value>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Contract {
    /// Parses and registers every schema file; a schema is compiled when a case uses it, or by
    /// [`Contract::check_all`].
    ///
    /// # Errors
    /// Invalid JSON, or a `$ref` to a missing schema.
    pub fn load(sources: &[SourceFile]) -> Result<Contract, LoadError> {
        let mut documents = Vec::new();
        let mut files = Vec::new();
        for source in sources {
            let value: Value = serde_json::from_str(&source.text)
                .map_err(|e| from_json_error(&source.path, &e))?;
            let name = source.file_name().to_string();
            if files.iter().any(|(n, _): &(String, String)| n == &name) {
                return Err(LoadError::new(
                    &source.path,
                    format!(
                        "a schema named `{name}` is loaded twice; schema file names must be unique"
                    ),
                ));
            }
            documents.push((format!("{BASE_URI}{name}"), value));
            files.push((name, source.path.clone()));
        }
        let registry = Registry::new()
            .extend(documents.iter().map(|(uri, v)| (uri.as_str(), v.clone())))
            .and_then(|b| b.prepare())
            .map_err(|e| registry_error(&e.to_string(), sources, &documents))?;
        Ok(Contract {
            registry,
            files,
            compiled: HashMap::new(),
            documents: documents.into_iter().map(|(_, v)| v).collect(),
        })
    }

    /// Compiles every schema file, to find a broken one before anything is sent — also one no
    /// case uses (`--list` compiles only what the cases use).
    ///
    /// # Errors
    /// The first file that does not compile, at the position of its error.
    pub fn check_all(&mut self) -> Result<(), LoadError> {
        // Each file compiled once, by reference (the validator the rules use); only a file
        // that does not compile is compiled again as a document, for the position of its error.
        for (i, (name, path)) in self.files.clone().iter().enumerate() {
            if let Err(message) = self.compile_ref(name) {
                return Err(match self.documents.get(i).map(|d| self.build_checked(d)) {
                    Some(Err((at, why))) => {
                        LoadError::new(path, format!("schema does not compile: {why}")).at(at)
                    }
                    _ => LoadError::new(path, message),
                });
            }
        }
        Ok(())
    }

    /// The file names of the loaded schemas.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _)| n.as_str())
    }

    /// A validator for `file.json` or `file.json#/json/pointer`, compiled once.
    ///
    /// # Errors
    /// A lowercase message naming the missing file or the compile error.
    pub fn compile_ref(&mut self, reference: &str) -> Result<Arc<Validator>, String> {
        if let Some(v) = self.compiled.get(reference) {
            return Ok(v.clone());
        }
        let (file, _) = reference.split_once('#').unwrap_or((reference, ""));
        if !self.files.iter().any(|(n, _)| n == file) {
            let known: Vec<&str> = self.schema_names().collect();
            let mut message = format!(
                "no schema file `{file}` in the contract (known: {})",
                known.join(", ")
            );
            if let Some(best) = crate::suggest::closest(file, known.iter().copied()) {
                message.push_str(&format!("; did you mean `{best}`?"));
            }
            return Err(message);
        }
        let wrapper = serde_json::json!({ "$ref": format!("{BASE_URI}{reference}") });
        let validator = self.build(&wrapper)?;
        self.compiled
            .insert(reference.to_string(), validator.clone());
        Ok(validator)
    }

    /// A validator for a schema written inline in a case; it may `$ref` the contract's files.
    ///
    /// # Errors
    /// The compile error, as a lowercase message.
    pub fn compile_inline(&self, schema: &Value) -> Result<Arc<Validator>, String> {
        self.build(schema)
    }

    fn build(&self, schema: &Value) -> Result<Arc<Validator>, String> {
        self.build_checked(schema).map_err(|(at, message)| {
            let at = if at.is_empty() { "/" } else { at.as_str() };
            format!("schema does not compile: at {at}: {message}")
        })
    }

    /// Compiles `schema`; the error is the JSON pointer inside the schema and the message.
    fn build_checked(&self, schema: &Value) -> Result<Arc<Validator>, (String, String)> {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(&self.registry)
            .with_base_uri(format!("{BASE_URI}inline.json"))
            .should_validate_formats(true)
            .build(schema)
            .map(Arc::new)
            .map_err(|e| (e.instance_path().as_str().to_string(), e.to_string()))
    }
}

/// Names the file and `$ref` behind a registry failure (a `$ref` to a file that is not loaded).
fn registry_error(
    message: &str,
    sources: &[SourceFile],
    documents: &[(String, Value)],
) -> LoadError {
    let missing = message
        .split_once("Resource '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(uri, _)| uri.trim_start_matches(BASE_URI).to_string());
    let Some(missing) = missing else {
        return LoadError::new("schemas", format!("cannot register the schemas: {message}"));
    };
    let file = missing.split('#').next().unwrap_or(&missing).to_string();
    for (source, (_, document)) in sources.iter().zip(documents) {
        if let Some(pointer) = find_ref(document, &file, "") {
            return LoadError::new(
                &source.path,
                format!("`$ref` to `{missing}`, which is not one of the schema files; add the file or fix the reference"),
            )
            .at(pointer);
        }
    }
    LoadError::new(
        "schemas",
        format!("a `$ref` points to `{missing}`, which is not one of the schema files"),
    )
}

/// The pointer of the first `$ref` whose target names `file`.
fn find_ref(value: &Value, file: &str, at: &str) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            match v {
                Value::String(target) if k == "$ref" && target.split('#').next() == Some(file) => {
                    Some(here)
                }
                other => find_ref(other, file, &here),
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_ref(v, file, &format!("{at}/{i}"))),
        _ => None,
    }
}
