//! Resolved cases: what the loader hands to the planner. Plain data, every piece with its origin.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::template::{Template, Var};
pub use crate::api::Credential;

/// Where something came from: a file and a JSON pointer inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub pointer: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.pointer)
    }
}

/// How binding a rule is: a MUST enforces a documented statement, a SHOULD fills a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Must,
    Should,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        })
    }
}

/// What kind of evidence a cited statement is (the tags of `contract-notes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// Stated by the Nexudus documentation.
    Doc,
    /// Seen in third-party public code.
    Code,
    /// An inference, stated nowhere.
    Infer,
    /// Left open by the documentation; the rule applies common HTTP practice.
    Gap,
    /// Stated by a normative standard the API is built on (an RFC's MUST, e.g. RFC 9110's safe
    /// methods); enough for a MUST rule.
    Standard,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Evidence::Doc => "doc",
            Evidence::Code => "code",
            Evidence::Infer => "infer",
            Evidence::Gap => "gap",
            Evidence::Standard => "standard",
        })
    }
}

/// The statement a rule enforces.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cite {
    /// The sources, as cited: `SW, notes §10.13` (keys of the catalog's `sources`, each with an
    /// optional section).
    pub source: String,
    pub evidence: Evidence,
    pub statement: String,
    /// Where each cited source can be read, resolved when the catalog is loaded.
    #[serde(skip)]
    pub links: Vec<Link>,
}

/// A cited source and where to read it: a URL (with the RFC section's anchor), or a section of
/// a document shipped with the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `RFC 9110 §15.5.2`.
    pub cited: String,
    /// `https://www.rfc-editor.org/rfc/rfc9110#section-15.5.2`, or `docs/contract.md §10.13`.
    pub target: String,
}

impl Cite {
    /// `SW https://…; notes §10.13 docs/contract.md §10.13`, or `None` when nothing resolves.
    pub fn see(&self) -> Option<String> {
        (!self.links.is_empty()).then(|| {
            self.links
                .iter()
                .map(|l| format!("{} {}", l.cited, l.target))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl fmt::Display for Cite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: \"{}\"",
            self.evidence, self.source, self.statement
        )
    }
}

/// How a case touches the primary account's default profile; drives scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateUse {
    /// Sends requests that change the default profile (a switch that must succeed).
    Changes,
    /// Sends requests that must leave the default profile alone — refusals — though a faulty
    /// target could change it. Such cases may run together, checked as one batch.
    Guards,
    /// Asserts on the default profile, so it must not run beside a case that changes it.
    Reads,
    /// Neither.
    None,
}

impl StateUse {
    /// Whether the case's requests may change the account (on a faulty target at least), so it
    /// holds the account alone and is followed by a restore.
    pub fn may_change(self) -> bool {
        matches!(self, StateUse::Changes | StateUse::Guards)
    }
}

/// Something a case needs from discovery or the command line before it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fixture {
    Profile(Var),
    ForeignToken,
    ExpiredToken,
}

impl fmt::Display for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fixture::Profile(var) => f.write_str(var.name()),
            Fixture::ForeignToken => f.write_str("foreign_token"),
            Fixture::ExpiredToken => f.write_str("expired_token"),
        }
    }
}

impl Fixture {
    /// The fixture a credential needs beyond the primary token, if any.
    pub fn of_credential(credential: Credential) -> Option<Fixture> {
        match credential {
            Credential::Foreign => Some(Fixture::ForeignToken),
            Credential::Expired => Some(Fixture::ExpiredToken),
            _ => None,
        }
    }
}

/// The rules that must hold of every profile list a run reads, not only in the case written for
/// them (`invariants` in the catalog).
#[derive(Debug, Clone, Default)]
pub struct Invariants {
    /// Judged on every read of the primary user's list.
    pub own_list: Vec<Rule>,
    /// Judged on every read of the other user's list.
    pub foreign_list: Vec<Rule>,
    /// Judged on every response of the run, whatever its request and status.
    pub every_response: Vec<Rule>,
}

impl Invariants {
    pub fn is_empty(&self) -> bool {
        self.own_list.is_empty() && self.foreign_list.is_empty() && self.every_response.is_empty()
    }

    /// Every invariant rule, own-list ones first.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.own_list
            .iter()
            .chain(&self.foreign_list)
            .chain(&self.every_response)
    }
}

/// The loaded contract: the cases and the invariants.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub cases: Vec<Case>,
    pub invariants: Invariants,
}

impl From<Vec<Case>> for Suite {
    fn from(cases: Vec<Case>) -> Suite {
        Suite {
            cases,
            invariants: Invariants::default(),
        }
    }
}

/// One scenario: ordered steps against one account.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file stem; unique in a catalog.
    pub id: String,
    pub summary: String,
    pub state: StateUse,
    /// Whether its responses are stable enough to snapshot (not a concurrency burst).
    pub snapshot: bool,
    /// A core case of the contract (a valid switch, a foreign profile, a bad token).
    pub core: bool,
    pub steps: Vec<Step>,
    pub file: Arc<str>,
    /// Derived from the variables and credentials the steps use.
    pub fixtures: BTreeSet<Fixture>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub request: RequestSpec,
    pub rules: Vec<Rule>,
    pub origin: Origin,
    /// Sent once per value of the sweep instead of once; every response must pass every rule.
    pub sweep: Option<SweepSource>,
    /// Sent once per generated probe instead of once; every response must pass every rule.
    pub vary: Vec<Generator>,
}

impl Case {
    /// Whether any request it sends is built from `var`'s value (its path, its query, or its
    /// probes).
    pub fn requests_use(&self, var: Var) -> bool {
        self.steps.iter().any(|s| {
            s.request.path.uses(var)
                || s.request.query.iter().any(|(_, t)| t.uses(var))
                || (0..s.vary.len()).any(|g| s.probes_use(g, var))
        })
    }
}

impl Step {
    /// Whether it reads the primary user's profile list.
    pub fn reads_own_list(&self) -> bool {
        self.request.path.as_value().as_str().is_some_and(|path| {
            crate::api::reads_own_profiles(
                self.request.method.as_str(),
                path,
                self.request.credential,
            )
        })
    }

    /// Whether its probes are a burst, sent all at once.
    pub fn is_burst(&self) -> bool {
        self.vary.iter().any(Generator::concurrent)
    }

    /// Whether its probes go as one checked batch: they may change the account (the case
    /// `state` says so) and are not a burst.
    pub fn is_batch(&self, state: StateUse) -> bool {
        state.may_change() && !self.vary.is_empty() && !self.is_burst()
    }

    /// Whether the probes of its generator `index` are built from `var`'s value: those of a
    /// generator that spells or repeats it, and those that keep the step's query (other
    /// methods, other tokens) when the query uses it.
    pub fn probes_use(&self, index: usize, var: Var) -> bool {
        match self.vary.get(index) {
            Some(Generator::SpellingsOf(v)) => *v == var,
            Some(Generator::Repeated(a, b)) => *a == var || *b == var,
            Some(Generator::Burst(ids)) => ids.contains(&var),
            Some(Generator::Methods(_) | Generator::TokenVariants) => {
                self.request.query.iter().any(|(_, t)| t.uses(var))
            }
            Some(Generator::IntBoundaries | Generator::EmptyId) | None => false,
        }
    }
}

/// The values `{{sweep_id}}` takes in a sweep step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepSource {
    /// `--sweep-size` ids, from `unknown_profile_id` up, that neither user owns.
    UnownedIds,
}

#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub credential: Credential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "OPTIONS")]
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

/// A generator of probes: requests derived from a step's request and the discovered fixtures,
/// each judged by the step's rules (as a sweep's requests are).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    /// `coworkerId` spelled other ways: leading zeros, a sign, surrounding whitespace,
    /// percent-encoded digits, a fraction, an exponent, hex, trailing text.
    SpellingsOf(Var),
    /// `coworkerId` at both sides of 2^31, 2^32, 2^53 and 2^63, zero and negatives (values that
    /// are ids of the user's own profiles are left out).
    IntBoundaries,
    /// `coworkerId=` with no value, and `coworkerId` with no `=`.
    EmptyId,
    /// `coworkerId` twice, with these two ids, in both orders.
    Repeated(Var, Var),
    /// The request's bearer token truncated, extended, and with one character changed.
    TokenVariants,
    /// The request sent with each of these methods instead of its own.
    Methods(Vec<Method>),
    /// A burst: `coworkerId` set to each of these ids, twice over, all sent at once (paced on a
    /// remote target), to see that concurrent switches leave one default, one of those asked for.
    Burst(Vec<Var>),
}

impl Generator {
    /// Whether its probes are sent all at once rather than one at a time.
    pub fn concurrent(&self) -> bool {
        matches!(self, Generator::Burst(_))
    }

    /// How many probes it generates (at most: integer boundaries that are own ids are left out).
    pub fn size(&self) -> usize {
        match self {
            Generator::SpellingsOf(_) => 10,
            Generator::IntBoundaries => 16,
            Generator::EmptyId | Generator::Repeated(..) => 2,
            Generator::TokenVariants => 3,
            Generator::Methods(methods) => methods.len(),
            Generator::Burst(ids) => 2 * ids.len(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub level: Level,
    pub cite: Cite,
    /// What must hold of a response for the rule to apply (the premise of a conditional
    /// statement); when it does not, the rule passes as "not applicable".
    pub applies_if: Option<Premise>,
    pub check: Check,
    /// The fixtures its check refers to (a rule whose fixture is missing is not judged).
    pub needs: BTreeSet<Fixture>,
    pub origin: Origin,
}

/// The premise of a conditional statement ("if an envelope is sent, …").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Premise {
    /// The response has a body.
    Body,
    /// The body is JSON.
    Json,
    /// The body is an ActionConfirmation envelope: a JSON object with a `WasSuccessful` member.
    Envelope,
}

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

/// A regular expression with the name a failure shows for it.
#[derive(Debug, Clone)]
pub struct NamedPattern {
    pub name: String,
    pub regex: regex::Regex,
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
