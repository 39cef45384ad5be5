//! What a run observed, as plain data: every exchange with the credential it carried, what each
//! trial's rule made of its response, each case's exchanges (for snapshots), and how the run
//! ended. `run` fills a [`RunReport`]; `judge`, `snapshot` and the report sinks only read it.
//! The one `curl` reproduction of an exchange lives here too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, Credential, TokenVariant};
use crate::case::Vars;
use crate::check::Verdict;
use crate::http::Exchange;

/// One exchange as a trial shows it.
#[derive(Debug, Clone)]
pub struct ExchangeRecord {
    /// `case/step`, or `discovery`/`restore`.
    pub context: String,
    pub credential: Credential,
    /// The credential's token was sent derived (a credential probe).
    pub token: Option<TokenVariant>,
    /// The path as requested (before it was joined to the base URL).
    pub path: String,
    pub exchange: Exchange,
}

impl ExchangeRecord {
    /// Whether the target answered with a 2xx (a switch it took).
    pub fn succeeded(&self) -> bool {
        self.exchange
            .outcome
            .as_ref()
            .is_ok_and(|r| (200..300).contains(&r.status))
    }

    /// Whether this exchange read the primary user's profile list.
    pub fn reads_own_profiles(&self) -> bool {
        api::reads_own_profiles(self.exchange.method, &self.path, self.credential)
    }
}

/// What the run made of one trial.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// The rule was judged on a response (or could not be: `Verdict::Broken`).
    Judged(Verdict),
    /// Not judged because an earlier step of the case failed (which fails the run).
    NotRun(String),
    /// Not judged: the run stopped (interrupted, or its deadline passed) before or while this
    /// trial's requests were sent.
    Stopped(String),
    /// Not run: a fixture the case needs is missing.
    MissingFixture(String),
}

impl Observed {
    /// Whether it found the rule broken, or could not judge it.
    pub fn is_failure(&self) -> bool {
        matches!(self, Observed::Judged(v) if v.is_failure())
    }
}

/// One trial that the run reached.
#[derive(Debug, Clone)]
pub struct TrialRecord {
    pub observed: Observed,
    /// The exchange the verdict is about (the first failing one of a sweep).
    pub exchange: Option<Arc<ExchangeRecord>>,
    /// The time of the exchanges that judged it.
    pub duration: Duration,
    /// Context the verdict alone does not carry (how many responses of a sweep broke the rule).
    pub notes: Vec<String>,
}

impl TrialRecord {
    pub fn bare(observed: Observed) -> TrialRecord {
        TrialRecord {
            observed,
            exchange: None,
            duration: Duration::ZERO,
            notes: Vec::new(),
        }
    }
}

/// What one case sent, step by step (`None`: the step was not sent; for a sweep, its first
/// request), for the case's snapshot.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    /// Index into the plan's cases.
    pub case: usize,
    pub exchanges: Vec<Option<Arc<ExchangeRecord>>>,
    /// Set when the run was stopping as the case finished: its responses are incomplete.
    pub stopped: Option<String>,
    pub duration: Duration,
}

/// What a run found: one optional record per trial of the plan (same order).
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub base_url: String,
    pub results: Vec<Option<TrialRecord>>,
    /// Set when the target could not be used; no case ran.
    pub unusable: Option<String>,
    /// Set when discovery found that the account cannot run a selected core case: nothing was
    /// written, only discovery's reads were judged.
    pub incomplete: Option<String>,
    /// Set when the run stopped early: interrupted, or past its deadline.
    pub stopped: Option<String>,
    /// Whether the stop was an interruption (exit code 130) rather than the deadline.
    pub interrupted: bool,
    /// The discovered fixtures, for the preamble.
    pub fixtures: BTreeMap<String, String>,
    /// The discovered variables (snapshots name ids by their role).
    pub vars: Vars,
    /// Every exchange of the run, for redaction (bodies may echo tokens) and counting.
    pub exchanges: Vec<Arc<ExchangeRecord>>,
    /// The cases that ran, in plan order of completion.
    pub cases: Vec<CaseRecord>,
    /// The fewest requests in flight at once that the target's throttling
    /// brought the run down to, if it did.
    pub slowed_to: Option<usize>,
    pub elapsed: Duration,
}

/// The note an invariants trial carries when it fails: every invariant rule it found breached.
pub fn breached_rules_note(ids: &[&str]) -> String {
    format!("{BREACHED_RULES}{}", ids.join(", "))
}

/// The invariant rules an invariants trial's notes say were breached.
pub fn breached_rules(notes: &[String]) -> Vec<&str> {
    notes
        .iter()
        .find_map(|n| n.strip_prefix(BREACHED_RULES))
        .map(|ids| ids.split(", ").collect())
        .unwrap_or_default()
}

const BREACHED_RULES: &str = "breached rules: ";

/// The `Authorization` header a reproduction sends for a credential, with tokens as environment
/// variables (never their values).
fn curl_authorization(credential: Credential, token: Option<TokenVariant>) -> Option<String> {
    let variable = match credential {
        Credential::Primary | Credential::MalformedNoScheme | Credential::LowercaseScheme => {
            "NEXUDUS_TOKEN"
        }
        Credential::Foreign => "NEXUDUS_FOREIGN_TOKEN",
        Credential::Expired => "NEXUDUS_EXPIRED_TOKEN",
        _ => "",
    };
    if let Some(variant) = token.filter(|_| !variable.is_empty()) {
        return Some(format!(
            "\"Authorization: Bearer {}\"",
            variant.shell(variable)
        ));
    }
    Some(match credential {
        Credential::Primary => "\"Authorization: Bearer $NEXUDUS_TOKEN\"".into(),
        Credential::Foreign => "\"Authorization: Bearer $NEXUDUS_FOREIGN_TOKEN\"".into(),
        Credential::Expired => "\"Authorization: Bearer $NEXUDUS_EXPIRED_TOKEN\"".into(),
        Credential::MalformedNoScheme => "\"Authorization: $NEXUDUS_TOKEN\"".into(),
        Credential::LowercaseScheme => "\"Authorization: bearer $NEXUDUS_TOKEN\"".into(),
        Credential::None => return None,
        Credential::Invalid => "'Authorization: Bearer nxc-invalid-0000'".into(),
        Credential::MalformedEmptyBearer => "'Authorization: Bearer'".into(),
        Credential::MalformedBasic => {
            format!("'Authorization: {}'", Credential::MALFORMED_BASIC_HEADER)
        }
    })
}

/// A `curl` command that repeats a request, with tokens as environment variables.
pub fn curl(method: &str, url: &str, credential: Credential) -> String {
    curl_varied(method, url, credential, None)
}

/// [`curl`] for a request whose token was sent derived.
pub fn curl_varied(
    method: &str,
    url: &str,
    credential: Credential,
    token: Option<TokenVariant>,
) -> String {
    let mut parts = vec!["curl -sS -i".to_string()];
    match method {
        "GET" => {}
        // curl -X HEAD waits for a body that never comes; -I is its HEAD.
        "HEAD" => parts.push("-I".into()),
        _ => parts.push(format!("-X {method}")),
    }
    if let Some(h) = curl_authorization(credential, token) {
        parts.push(format!("-H {h}"));
    }
    if method == "PUT" || method == "POST" {
        parts.push("-H 'Content-Length: 0'".into());
    }
    parts.push(format!("'{}'", url.replace('\'', "'\\''")));
    parts.join(" ")
}

/// The `curl` that repeats a recorded exchange.
pub fn curl_for(record: &ExchangeRecord) -> String {
    curl(
        record.exchange.method,
        &record.exchange.url,
        record.credential,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_never_holds_a_token_and_quotes_the_url() {
        let cases = [
            (
                "PUT",
                "http://h/x?a='b'",
                Credential::Primary,
                "curl -sS -i -X PUT -H \"Authorization: Bearer $NEXUDUS_TOKEN\" -H 'Content-Length: 0' 'http://h/x?a='\\''b'\\'''",
            ),
            (
                "GET",
                "http://h/p",
                Credential::None,
                "curl -sS -i 'http://h/p'",
            ),
            (
                "GET",
                "http://h/p",
                Credential::MalformedNoScheme,
                "curl -sS -i -H \"Authorization: $NEXUDUS_TOKEN\" 'http://h/p'",
            ),
        ];
        for (method, url, credential, expected) in cases {
            assert_eq!(curl(method, url, credential), expected);
        }
    }
}
