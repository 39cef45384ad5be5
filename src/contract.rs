//! The contract's JSON Schemas: loaded once into one registry and compiled on demand while the
//! cases are loaded, so a rule holds a ready validator and nothing is compiled during a run.
//!
//! Every file of `schemas/` is registered under a synthetic base URI, so schemas and inline
//! schemas in cases can refer to each other with relative `$ref`s (`action-confirmation.json#/$defs/success`).
//! A missing `$ref` target or a schema that does not compile is a load error (exit 2).

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
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Contract {
    /// Parses and registers every schema file, then compiles each one to find broken schemas now.
    ///
    /// # Errors
    /// Invalid JSON, a schema that does not compile, or a `$ref` to a missing schema.
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
            .map_err(|e| LoadError::new("schemas", format!("cannot register the schemas: {e}")))?;
        let mut contract = Contract {
            registry,
            files,
            compiled: HashMap::new(),
        };
        for (name, path) in contract.files.clone() {
            contract
                .compile_ref(&name)
                .map_err(|message| LoadError::new(&path, message))?;
        }
        Ok(contract)
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
            if let Some(best) = crate::case::closest(file, known.iter().copied()) {
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
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(&self.registry)
            .with_base_uri(format!("{BASE_URI}inline.json"))
            .should_validate_formats(true)
            .build(schema)
            .map(Arc::new)
            .map_err(|e| {
                let at = e.instance_path().as_str();
                let at = if at.is_empty() { "/" } else { at };
                format!("schema does not compile: at {at}: {}", e.masked())
            })
    }
}
