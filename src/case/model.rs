//! Resolved cases: what the loader hands to the planner. Plain data, every piece with its origin.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::check_kind::{Check, Subject};
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
    /// What of an answer the statement speaks of; a rule citing it must check some of that
    /// (empty for a statement written in place in a case, which is not checked).
    #[serde(default)]
    pub about: Vec<Subject>,
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
    /// What the account or the command line must have for it, or `None` for what every run
    /// finds by itself.
    pub fn needs(self) -> Option<&'static str> {
        Some(match self {
            Fixture::Profile(Var::OriginalProfileId) => "exactly one default profile",
            Fixture::Profile(Var::TargetProfileId) => "a second active profile",
            Fixture::Profile(Var::ThirdProfileId) => "a third active profile",
            Fixture::Profile(Var::InactiveProfileId) => "an inactive profile",
            Fixture::Profile(Var::ForeignProfileId | Var::ForeignProfileIds) => {
                "another user's profile (--foreign-token or --foreign-profile-id)"
            }
            Fixture::ForeignToken => "another user's token (--foreign-token)",
            Fixture::ExpiredToken => "an expired token of the primary user (--expired-token)",
            Fixture::Profile(_) => return None,
        })
    }

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
    /// The catalog's statements by key, with their sources resolved (what `openapi` describes
    /// the API with).
    pub statements: std::collections::BTreeMap<String, Cite>,
    /// The catalog's sources by key.
    pub sources: std::collections::BTreeMap<String, super::Source>,
}

impl From<Vec<Case>> for Suite {
    fn from(cases: Vec<Case>) -> Suite {
        Suite {
            cases,
            invariants: Invariants::default(),
            statements: std::collections::BTreeMap::new(),
            sources: std::collections::BTreeMap::new(),
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
    /// Whether step `si` takes the account as the step before it last read it, instead of
    /// reading it again: in a case that may change the account, a plain read of the primary
    /// user's list, or a checked batch of probes (whose first act is that read), right after a
    /// batch (whose last act is a read of both lists) or after such a plain read. Nothing is
    /// sent between the two, so the read would answer the same. The plan counts and the runner
    /// sends by this one rule.
    pub fn reads_shared_with_previous(&self, si: usize) -> bool {
        let reads = Step::is_plain_read;
        let (Some(step), Some(before)) = (
            self.steps.get(si),
            si.checked_sub(1).and_then(|i| self.steps.get(i)),
        ) else {
            return false;
        };
        self.state.may_change()
            && (step.is_batch(self.state) || reads(step))
            && (before.is_batch(self.state) || reads(before))
            && !(reads(step) && reads(before))
    }

    /// [`Case::reads_shared_with_previous`], and for its first step: it takes the reading the run
    /// had when the case began (`incoming`: discovery's, or the one the phase before it ended
    /// with, nothing sent since) — a checked batch as its read before, a case that only reads
    /// the account as its plain read of the list.
    pub fn reads_shared(&self, si: usize, incoming: bool) -> bool {
        self.reads_shared_with_previous(si)
            || (si == 0
                && incoming
                && self.steps.first().is_some_and(|s| {
                    s.is_batch(self.state) || (self.state == StateUse::Reads && s.is_plain_read())
                }))
    }

    /// Whether it may leave the account changed on a correct target: it sends switches at once
    /// (a burst), and which one the target applies last is the target's choice. Its guard then
    /// puts the default back, and the reading it ended with is stale.
    pub fn may_leave_changed(&self) -> bool {
        self.state.may_change() && self.steps.iter().any(Step::is_burst)
    }

    /// Whether its last act is a reading of the account — a plain read of the primary user's
    /// list (with the other user's beside it), or a checked batch (whose last act is a read of
    /// both) — which the guard after it takes instead of reading again.
    pub fn ends_with_reading(&self) -> bool {
        self.state.may_change()
            && self
                .steps
                .last()
                .is_some_and(|s| s.is_plain_read() || s.is_batch(self.state))
    }

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
    /// Whether it is one read of the primary user's profile list (no probes, no sweep).
    pub fn is_plain_read(&self) -> bool {
        self.vary.is_empty() && self.sweep.is_none() && self.reads_own_list()
    }

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

    /// The groups a checked batch's probes go in, as positions in `probes` (each probe's
    /// generator index; `None` for a request that is no probe): the probes that could undo
    /// another's change — built from the original default's id — each alone, after the others
    /// together; with `each` (`--check-each-probe`), every one alone, in order. The plan counts
    /// and the runner sends by this one rule.
    pub fn check_groups(&self, probes: &[Option<usize>], each: bool) -> Vec<Vec<usize>> {
        if each {
            return (0..probes.len()).map(|i| vec![i]).collect();
        }
        let (alone, together): (Vec<usize>, Vec<usize>) = (0..probes.len())
            .partition(|&i| probes[i].is_none_or(|g| self.probes_use(g, Var::OriginalProfileId)));
        std::iter::once(together)
            .filter(|g| !g.is_empty())
            .chain(alone.into_iter().map(|i| vec![i]))
            .collect()
    }

    /// How a checked group of probes that changed the account is split to find the probes that
    /// did: into two halves, each sent again alone. The runner bisects and the plan bounds the
    /// bisection's cost by this one rule.
    pub fn halves<T>(group: &[T]) -> (&[T], &[T]) {
        group.split_at(group.len() / 2)
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
