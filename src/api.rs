//! The API under test as the harness addresses it: the endpoint paths, the credentials a request
//! can carry, the requests the harness itself sends (reading the list, switching), and the names
//! the harness reserves for its own trials. Everything else refers to these; no path or reserved
//! id is written as a literal anywhere else.

use serde::Deserialize;

use crate::http::HttpRequest;

/// `GET`: the user's profiles, the default among them.
pub const PROFILES_PATH: &str = "/api/public/coworkers/profiles";
/// `PUT ?coworkerId=N`: make profile N the default.
pub const SWITCH_PATH: &str = "/api/public/coworkers/profiles/current";
/// The switch's one query parameter.
pub const COWORKER_ID: &str = "coworkerId";

/// The case id of the end-of-run restore trial.
pub const RESTORE_CASE_ID: &str = "restore";
/// The trial that checks, at the end of a run, that the original default profile is back.
pub const RESTORE_TRIAL: &str = "restore::original_default_restored";
/// The case id of the known-deviations trial.
pub const DEVIATIONS_CASE_ID: &str = "known_deviations";
/// The trial that fails when an entry of the known-deviations ledger has expired.
pub const DEVIATIONS_TRIAL: &str = "known_deviations::none_expired";
/// The rule id of each case's snapshot trial (`case::snapshot`).
pub const SNAPSHOT_RULE_ID: &str = "snapshot";
/// The rule id of each case's MUST invariants trial (`case::invariants`).
pub const INVARIANTS_RULE_ID: &str = "invariants";
/// The rule id of each case's SHOULD invariants trial (`case::invariants_should`).
pub const SHOULD_INVARIANTS_RULE_ID: &str = "invariants_should";
/// Rule ids a case file may not take: the harness's own trials of every case.
pub const RESERVED_RULE_IDS: [&str; 3] = [
    SNAPSHOT_RULE_ID,
    INVARIANTS_RULE_ID,
    SHOULD_INVARIANTS_RULE_ID,
];

/// The case id of the invariants trials of the run's own requests (discovery, the checks of the
/// cases run together, the final restore).
pub const RUN_CASE_ID: &str = "run";

/// Case ids a case file may not take.
pub const RESERVED_CASE_IDS: [&str; 3] = [RESTORE_CASE_ID, DEVIATIONS_CASE_ID, RUN_CASE_ID];

/// The name of a case's snapshot trial.
pub fn snapshot_trial(case_id: &str) -> String {
    format!("{case_id}::{SNAPSHOT_RULE_ID}")
}

/// `GET` the profile list (the caller adds the credential).
pub fn list_profiles() -> HttpRequest {
    HttpRequest {
        method: "GET",
        path: PROFILES_PATH.into(),
        ..HttpRequest::default()
    }
}

/// `PUT` the switch to profile `id` (the caller adds the credential).
pub fn switch_to(id: i64) -> HttpRequest {
    HttpRequest {
        method: "PUT",
        path: SWITCH_PATH.into(),
        query: vec![(COWORKER_ID.into(), id.to_string())],
        ..HttpRequest::default()
    }
}

/// Whether a request reads the primary user's profile list: the read that shows the account's
/// state (a case that ends with one needs no separate read by the restore guard).
pub fn reads_own_profiles(method: &str, path: &str, credential: Credential) -> bool {
    method == "GET" && credential == Credential::Primary && path == PROFILES_PATH
}

/// The credential a request is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// `Bearer` with the primary user's token.
    Primary,
    /// `Bearer` with another user's token.
    Foreign,
    /// No `Authorization` header.
    None,
    /// `Bearer` with a random token nobody was issued.
    Invalid,
    /// `Bearer` with an expired token of the primary user.
    Expired,
    /// `Authorization: Bearer` with no token.
    MalformedEmptyBearer,
    /// `Authorization: Basic …` instead of a bearer token.
    MalformedBasic,
    /// The primary token without the `Bearer` scheme.
    MalformedNoScheme,
    /// The primary token with the scheme written `bearer` (schemes are case-insensitive).
    LowercaseScheme,
}

/// One of the run's two accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Primary,
    Foreign,
}

impl Credential {
    /// Whether the request carries bearer credentials (`Authorization: Bearer …`, valid or not):
    /// RFC 6750 §3.1 lets only those be answered with an error code.
    pub fn carries_bearer(self) -> bool {
        !matches!(
            self,
            Credential::None | Credential::MalformedBasic | Credential::MalformedNoScheme
        )
    }

    /// The account this credential acts for when it is sent as issued (a derived token acts
    /// for none).
    pub fn owner(self, token: Option<TokenVariant>) -> Option<Account> {
        match (self, token) {
            (Credential::Primary | Credential::LowercaseScheme, None) => Some(Account::Primary),
            (Credential::Foreign, None) => Some(Account::Foreign),
            _ => None,
        }
    }
}

/// A bearer token derived from a real one, for the credential probes: each must be refused as an
/// invalid token (SW: 401 for an invalid token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenVariant {
    /// The last four characters cut off.
    Truncated,
    /// One character appended.
    Extended,
    /// The last character replaced by another.
    OneCharChanged,
}

impl TokenVariant {
    pub const ALL: [TokenVariant; 3] = [
        TokenVariant::Truncated,
        TokenVariant::Extended,
        TokenVariant::OneCharChanged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TokenVariant::Truncated => "truncated",
            TokenVariant::Extended => "extended",
            TokenVariant::OneCharChanged => "one character changed",
        }
    }

    /// The derived token.
    pub fn derive(self, token: &str) -> String {
        match self {
            TokenVariant::Truncated => {
                let keep = token.chars().count().saturating_sub(4).max(1);
                token.chars().take(keep).collect()
            }
            TokenVariant::Extended => format!("{token}x"),
            TokenVariant::OneCharChanged => {
                let mut chars: Vec<char> = token.chars().collect();
                if let Some(last) = chars.last_mut() {
                    *last = if *last == '0' { '1' } else { '0' };
                }
                chars.into_iter().collect()
            }
        }
    }

    /// The same derivation in POSIX shell, of the token in `$VAR`, for `curl` reproductions.
    pub fn shell(self, var: &str) -> String {
        match self {
            TokenVariant::Truncated => format!("${{{var}%????}}"),
            TokenVariant::Extended => format!("${{{var}}}x"),
            TokenVariant::OneCharChanged => {
                format!("$(printf %s \"${var}\" | sed 's/0$/1/;t;s/.$/0/')")
            }
        }
    }
}

impl Credential {
    /// The header `malformed_basic` sends: base64("conformance@example.invalid:not-a-password"),
    /// a scheme the API does not document for /api/public, with credentials that belong to nobody.
    pub const MALFORMED_BASIC_HEADER: &'static str =
        "Basic Y29uZm9ybWFuY2VAZXhhbXBsZS5pbnZhbGlkOm5vdC1hLXBhc3N3b3Jk";

    pub fn name(self) -> &'static str {
        match self {
            Credential::Primary => "primary",
            Credential::Foreign => "foreign",
            Credential::None => "none",
            Credential::Invalid => "invalid",
            Credential::Expired => "expired",
            Credential::MalformedEmptyBearer => "malformed_empty_bearer",
            Credential::MalformedBasic => "malformed_basic",
            Credential::MalformedNoScheme => "malformed_no_scheme",
            Credential::LowercaseScheme => "lowercase_scheme",
        }
    }
}
