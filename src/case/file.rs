//! The on-disk form of case files and of the shared catalog (`cases/_*.json`): serde structs
//! with `deny_unknown_fields`, so a misspelt key is an error with a "did you mean", never a
//! silently dropped assertion. `load` and `catalog` resolve them into the model.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::check_kind::*;
use super::model::*;

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseFile {
    /// Lets editors find `schemas/case.schema.json`; ignored here.
    #[serde(rename = "$schema", default)]
    pub(super) _schema: Option<String>,
    pub(super) summary: String,
    pub(super) state: StateUse,
    /// `false` for a case whose responses depend on timing (a burst): no snapshot trial.
    pub(super) snapshot: Option<bool>,
    /// A core case of the contract: when it is selected, a target that cannot run it cannot give
    /// a conformance verdict.
    #[serde(default)]
    pub(super) core: bool,
    pub(super) steps: Vec<StepFile>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct StepFile {
    /// Required unless `for_each` names each step it stands for.
    pub(super) name: Option<String>,
    pub(super) request: RequestFile,
    #[serde(default)]
    pub(super) rules: Vec<RuleEntry>,
    pub(super) sweep: Option<SweepFile>,
    /// Probes generated from the request and the discovered fixtures.
    #[serde(default)]
    pub(super) vary: Vec<Generator>,
    /// One step per entry, each with its own name and its changes to the request.
    pub(super) for_each: Option<Vec<VariantFile>>,
}

/// One of the steps a `for_each` step stands for.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct VariantFile {
    pub(super) name: String,
    /// Query parameters set (or replaced) for this step.
    #[serde(default)]
    pub(super) query: serde_json::Map<String, Value>,
    /// The credential, instead of the request's.
    pub(super) credential: Option<Credential>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepFile {
    pub(super) over: SweepSource,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RequestFile {
    pub(super) method: Method,
    pub(super) path: String,
    #[serde(default)]
    pub(super) query: serde_json::Map<String, Value>,
    pub(super) credential: Credential,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleEntry {
    /// A rule of the catalog, by name (its id, unless `id` says otherwise).
    #[serde(rename = "use")]
    pub(super) uses: Option<String>,
    pub(super) id: Option<String>,
    pub(super) level: Option<Level>,
    pub(super) cites: Option<CiteRef>,
    pub(super) applies_if: Option<Premise>,
    pub(super) check: Option<CheckFile>,
}

/// A statement cited: a key of the catalog's `statements`, or written out in place.
#[derive(Clone)]
pub(super) enum CiteRef {
    Key(String),
    Inline(Cite),
}

impl<'de> Deserialize<'de> for CiteRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Not `untagged`: a wrong inline citation keeps serde's precise message.
        match Value::deserialize(d)? {
            Value::String(key) => Ok(CiteRef::Key(key)),
            value @ Value::Object(_) => Cite::deserialize(value)
                .map(CiteRef::Inline)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "`cites` is a statement key (a string) or an object with `source`, `evidence`, `statement`, not {other}"
            ))),
        }
    }
}

/// A shared definitions file (`cases/_*.json`): sources, statements and rules, each said once.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct CatalogFile {
    #[serde(rename = "$schema", default)]
    pub(super) _schema: Option<String>,
    #[serde(rename = "$comment", default)]
    pub(super) _comment: Option<String>,
    #[serde(default)]
    pub(super) sources: std::collections::BTreeMap<String, SourceDef>,
    #[serde(default)]
    pub(super) statements: std::collections::BTreeMap<String, StatementDef>,
    #[serde(default)]
    pub(super) rules: std::collections::BTreeMap<String, RuleDef>,
    pub(super) invariants: Option<InvariantsFile>,
}

/// The rules (by name) judged on every profile list a run reads.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct InvariantsFile {
    #[serde(rename = "$comment", default)]
    pub(super) _comment: Option<String>,
    #[serde(default)]
    pub(super) own_list: Vec<String>,
    #[serde(default)]
    pub(super) foreign_list: Vec<String>,
    /// Judged on every response of the run, whatever its request and status.
    #[serde(default)]
    pub(super) every_response: Vec<String>,
}

/// Where statements come from: a document or a standard.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceDef {
    pub(super) title: String,
    pub(super) url: Option<String>,
    /// A document shipped with the harness (`docs/contract.md`), instead of a URL.
    pub(super) path: Option<String>,
}

/// A statement a rule enforces, in our words, with the sources (keys of `sources`, each with an
/// optional section: `"RFC 6750 §3"`) and the kind of evidence.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct StatementDef {
    pub(super) sources: Vec<String>,
    pub(super) evidence: Evidence,
    pub(super) text: String,
    /// What of an answer it speaks of: `status`, `headers`, `body`, `account`.
    pub(super) about: Vec<Subject>,
}

/// A rule the cases share; its key is its id.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleDef {
    pub(super) level: Level,
    pub(super) cites: CiteRef,
    pub(super) applies_if: Option<Premise>,
    pub(super) check: CheckFile,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum CheckFile {
    Status(StatusFile),
    Header(HeaderFile),
    Schema(SchemaFile),
    Json(Box<JsonFile>),
    Items(Box<ItemsFile>),
    /// `{"absent": "{{foreign_identity}}"}`: none of these strings appears in the response.
    Absent(Value),
    /// `{"absent_patterns": {"stack frame": "\\n\\s+at \\w"}}`: no match of these regular
    /// expressions, each with the name a failure shows.
    AbsentPatterns(std::collections::BTreeMap<String, String>),
    /// `{"json_parses": true}`.
    JsonParses(bool),
    /// `{"not_shared_cacheable": true}`.
    NotSharedCacheable(bool),
    /// `{"bearer_challenge": true}`.
    BearerChallenge(bool),
    /// `{"when": {"if": CHECK, "then": CHECK}}`.
    When(Box<WhenFile>),
    /// `{"same_answer_as": {"step": "unknown", "mask": ["foreign_profile_id", …]}}`.
    SameAnswerAs(SameAnswerFile),
    /// `{"matches_model": {"ignore": ["/User/AccessToken"], "follows_default": ["/DefaultBusiness"]}}`.
    MatchesModel(ModelFile),
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelFile {
    #[serde(default)]
    pub(super) ignore: Vec<String>,
    #[serde(default)]
    pub(super) follows_default: Vec<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct WhenFile {
    #[serde(rename = "if")]
    pub(super) condition: CheckFile,
    pub(super) then: CheckFile,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct SameAnswerFile {
    pub(super) step: String,
    #[serde(default)]
    pub(super) mask: Vec<crate::case::Var>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusFile {
    #[serde(default)]
    pub(super) any_of: Vec<StatusPatternFile>,
    #[serde(default)]
    pub(super) none_of: Vec<StatusPatternFile>,
}

#[derive(Clone)]
pub(super) struct StatusPatternFile(pub(super) StatusPattern);

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

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderFile {
    pub(super) name: String,
    pub(super) present: Option<bool>,
    pub(super) equals: Option<String>,
    pub(super) contains: Option<String>,
    pub(super) media_type: Option<String>,
    pub(super) starts_with: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct SchemaFile {
    #[serde(rename = "ref")]
    pub(super) reference: Option<String>,
    pub(super) inline: Option<Value>,
}

/// `Some(value)` even when the value is `null`, so `"equals": null` is not mistaken for absence.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct JsonFile {
    pub(super) pointer: String,
    pub(super) exists: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub(super) equals: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(super) not_equals: Option<Value>,
    /// A list of values, or one placeholder whose value is a list (`"{{own_profile_ids}}"`).
    pub(super) one_of: Option<Value>,
    #[serde(rename = "type")]
    pub(super) json_type: Option<JsonType>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct ItemsFile {
    pub(super) array: String,
    #[serde(rename = "where")]
    pub(super) filter: Option<JsonFile>,
    pub(super) count: Option<usize>,
    pub(super) each: Option<JsonFile>,
    pub(super) unique: Option<String>,
}
