//! What a rule can check of a response, resolved: the check kinds and their operands.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::template::{Template, Var};

/// What a rule asserts about one response.
#[derive(Debug, Clone)]
pub enum Check {
    Status(StatusCheck),
    Header(HeaderCheck),
    Schema(SchemaCheck),
    Json(JsonCheck),
    Items(ItemsCheck),
    /// None of these strings (a template whose value is a list) appears in the status line, the
    /// headers or the body.
    Absent(Template),
    /// No match of any of these patterns in the status line, the headers or the body.
    AbsentPatterns(Vec<NamedPattern>),
    /// A body labelled JSON (`application/json`, `*/*+json`) parses as JSON.
    JsonParses,
    /// A response to a request that carried credentials is not made storable by shared caches
    /// (RFC 9111 §3.5).
    NotSharedCacheable,
    /// `WWW-Authenticate` holds a `Bearer` challenge (the scheme parsed as a token), whose
    /// `error`, if any, is one RFC 6750 §3.1 defines and is absent when the request carried no
    /// bearer credentials.
    BearerChallenge,
    /// When the first check holds of a response, the second must too; otherwise the rule is
    /// not applicable.
    When(Box<Check>, Box<Check>),
    /// The same answer as an earlier step of the case gave — status, media type and body — once
    /// the values of the masked variables are replaced in both.
    SameAnswerAs(SameAnswer),
    /// The list agrees, field by field, with the account as discovery read it (`account_model`):
    /// profiles matched by id, every member compared but the ignored ones, the default flags
    /// only where the model predicts them, and the `follows_default` members only while the
    /// default is the one discovery saw.
    MatchesModel(ModelCheck),
}

#[derive(Debug, Clone, Default)]
pub struct ModelCheck {
    /// JSON pointers never compared; `*` stands for any array index.
    pub ignore: Vec<String>,
    /// JSON pointers that may change along with the default profile.
    pub follows_default: Vec<String>,
}

impl Check {
    /// What of an answer this check looks at, for the statement it enforces to speak of.
    pub fn observes(&self) -> Vec<Subject> {
        use Subject::{Account, Body, Headers, Status};
        match self {
            Check::Status(_) => vec![Status],
            Check::Header(_) | Check::NotSharedCacheable | Check::BearerChallenge => vec![Headers],
            Check::Schema(_) | Check::Json(_) | Check::JsonParses => vec![Body],
            Check::Items(_) => vec![Body, Account],
            Check::MatchesModel(_) => vec![Account],
            Check::Absent(_) | Check::AbsentPatterns(_) | Check::SameAnswerAs(_) => {
                vec![Status, Headers, Body]
            }
            Check::When(condition, then) => {
                // The rule relates what both look at.
                let mut both = condition.observes();
                both.extend(then.observes());
                both.sort_unstable();
                both.dedup();
                both
            }
        }
    }
}

/// A regular expression with the name a failure shows for it. Its syntax is checked when the
/// contract loads; it is compiled when first used, so `--list` and a selection that never
/// judges it do not pay for it.
#[derive(Debug, Clone)]
pub struct NamedPattern {
    pub name: String,
    pattern: String,
    regex: std::sync::OnceLock<Result<regex::Regex, String>>,
}

impl NamedPattern {
    /// A pattern whose syntax holds.
    ///
    /// # Errors
    /// What the regex syntax makes of it, as a lowercase message.
    pub fn new(name: String, pattern: String) -> Result<NamedPattern, String> {
        // The syntax alone (no translation, which costs as much as compiling).
        regex_syntax::ast::parse::Parser::new()
            .parse(&pattern)
            .map_err(|e| e.to_string())?;
        Ok(NamedPattern {
            name,
            pattern,
            regex: std::sync::OnceLock::new(),
        })
    }

    /// The compiled expression: ASCII classes (`\w`, `\s`, case folding) unless the pattern
    /// needs Unicode — they compile in microseconds rather than milliseconds, and search
    /// faster.
    ///
    /// # Errors
    /// When the pattern, whose syntax holds, still cannot be compiled (a size limit).
    pub fn regex(&self) -> Result<&regex::Regex, &str> {
        self.regex
            .get_or_init(|| {
                regex::RegexBuilder::new(&self.pattern)
                    .unicode(false)
                    .build()
                    .or_else(|_| regex::Regex::new(&self.pattern))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct SameAnswer {
    /// The earlier step, by name.
    pub step: String,
    /// Variables whose values are replaced by their names before comparing (the ids the two
    /// requests differ in).
    pub mask: Vec<Var>,
}

/// A status code (`404`) or a class (`4xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    Class(u8),
}

impl StatusPattern {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(c) => c == status,
            StatusPattern::Class(c) => u16::from(c) == status / 100,
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct StatusCheck {
    /// The status must match one of these (empty: any).
    pub any_of: Vec<StatusPattern>,
    /// The status must match none of these.
    pub none_of: Vec<StatusPattern>,
}

#[derive(Debug, Clone)]
pub struct HeaderCheck {
    /// Lowercase header name.
    pub name: String,
    pub op: HeaderOp,
}

#[derive(Debug, Clone)]
pub enum HeaderOp {
    Present(bool),
    Equals(String),
    Contains(String),
    /// The media type (before `;`), compared case-insensitively.
    MediaType(String),
    /// The value starts with this text, case-insensitively (e.g. `Bearer` for a challenge).
    StartsWith(String),
}

#[derive(Clone)]
pub struct SchemaCheck {
    /// `file.json#/pointer` for references, `inline` otherwise.
    pub reference: String,
    pub validator: Arc<jsonschema::Validator>,
}

impl fmt::Debug for SchemaCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaCheck")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct JsonCheck {
    /// RFC 6901 pointer into the response body.
    pub pointer: String,
    pub op: ValueOp,
}

/// A test on one JSON value.
#[derive(Debug, Clone)]
pub enum ValueOp {
    Exists(bool),
    Equals(Template),
    NotEquals(Template),
    OneOf(Template),
    Type(JsonType),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    pub fn of(value: &Value) -> JsonType {
        match value {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    pub fn accepts(self, value: &Value) -> bool {
        let actual = JsonType::of(value);
        actual == self || (self == JsonType::Number && actual == JsonType::Integer)
    }

    pub fn name(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// A test on the items of an array: which items (`filter`), then what must hold of them.
#[derive(Debug, Clone)]
pub struct ItemsCheck {
    /// Pointer to the array in the body.
    pub array: String,
    pub filter: Option<Predicate>,
    pub count: Option<usize>,
    pub each: Option<Predicate>,
    /// Pointer (inside each item) to a value that must differ between items.
    pub unique: Option<String>,
}

/// `pointer` inside an item, tested with `op`.
#[derive(Debug, Clone)]
pub struct Predicate {
    pub pointer: String,
    pub op: ValueOp,
}

/// What a statement speaks of, and what a check observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// The status code.
    Status,
    /// The header fields.
    Headers,
    /// The body.
    Body,
    /// The state of the accounts, as the lists show it.
    Account,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Subject::Status => "the status",
            Subject::Headers => "the headers",
            Subject::Body => "the body",
            Subject::Account => "the account",
        })
    }
}
