//! Discovery: reading the account before the cases run — which profile is the default (to
//! restore it), which other one to switch to, an inactive one, a foreign one.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::Value;

use super::describe_var;
use super::session::{DISCOVERY, SendMode, Session};
use crate::api::PROFILES_PATH;
use crate::case::{Fixture, Var, Vars};
use crate::record::ExchangeRecord;

/// What discovery learnt about the account.
#[derive(Debug, Clone, Default)]
pub(super) struct Discovery {
    pub vars: Vars,
    /// Each fixture that could not be found, with the reason.
    pub missing: BTreeMap<Fixture, String>,
    /// The values of `{{sweep_id}}`: ids neither user owns, from the unknown id up.
    pub sweep_ids: Vec<i64>,
    /// `User.Id` of the primary user, as the list shows it (the journal is kept per user).
    pub user: Option<i64>,
    /// The lists read: the primary user's, then the other user's if it was read.
    pub lists: Vec<std::sync::Arc<ExchangeRecord>>,
    /// A read failed (the other user's list did not answer as a list): what it leaves missing
    /// is the target's fault, which the cases go on to judge, not the account's.
    pub read_failed: bool,
}

impl Discovery {
    /// Each profile variable and its value (or why it is missing), for the preamble.
    pub fn describe(&self) -> BTreeMap<String, String> {
        Var::ALL
            .into_iter()
            .filter(|v| v.is_fixture() && !v.is_list())
            .map(|v| {
                (
                    v.name().to_string(),
                    describe_var(v, &self.vars, &self.missing),
                )
            })
            .collect()
    }
}

/// One profile as discovery needs it; lenient about types so a contract violation is reported by
/// the rules rather than making the target unusable.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProfileSummary {
    pub id: i64,
    pub active: bool,
    pub default: bool,
}

/// Reads the profile list out of an exchange, or says why it cannot.
pub(super) fn profiles_of(record: &ExchangeRecord) -> Result<Vec<ProfileSummary>, String> {
    let response = record
        .exchange
        .outcome
        .as_ref()
        .map_err(|e| e.to_string())?;
    // The URL as requested: a base URL's path prefix included.
    let url = &record.exchange.url;
    if response.status != 200 {
        return Err(format!(
            "GET {url} answered {}{}",
            response.status,
            path_hint(url, response.status)
        ));
    }
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("GET {url} answered a body that is not JSON ({e})"))?;
    let list = body
        .get("Profiles")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("GET {url} answered JSON without a `Profiles` array"))?;
    Ok(list
        .iter()
        .filter_map(|p| {
            let id = match p.get("Id")? {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => s.trim().parse().ok()?,
                _ => return None,
            };
            let flag = |name: &str, default: bool| match p.get(name) {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => default,
            };
            Some(ProfileSummary {
                id,
                active: flag("Active", true),
                default: flag("IsDefaultProfile", false),
            })
        })
        .collect())
}

/// A 404 from a base URL that has a path of its own (`https://host/api`): the harness appends
/// the API's paths to the base URL, so the path is likely doubled.
fn path_hint(url: &str, status: u16) -> String {
    let Some(base) = url.strip_suffix(PROFILES_PATH).filter(|_| status == 404) else {
        return String::new();
    };
    let Some((scheme, rest)) = base.split_once("://") else {
        return String::new();
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if path.is_empty() {
        return String::new();
    }
    format!(
        "; the base URL has the path `/{path}`, and the harness appends {PROFILES_PATH} to it: \
         if the API is at the host's root, give --base-url {scheme}://{host}"
    )
}

/// The names and email a profile list shows of its user (strings of 4 characters or more, so
/// that no short fragment matches by chance).
fn identity_strings(record: &ExchangeRecord) -> Vec<String> {
    let Ok(response) = &record.exchange.outcome else {
        return Vec::new();
    };
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str).map(str::trim)
            && s.chars().count() >= 4
            && !out.iter().any(|o| o == s)
        {
            out.push(s.to_string());
        }
    };
    push(body.pointer("/User/FullName"));
    push(body.pointer("/User/Email"));
    for profile in body
        .get("Profiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(profile.get("FullName"));
        push(profile.get("CompanyName"));
    }
    out
}

/// The distinct ids of the profiles flagged as default (a row listed twice counts once).
fn default_ids(profiles: &[ProfileSummary]) -> BTreeSet<i64> {
    profiles
        .iter()
        .filter(|p| p.default)
        .map(|p| p.id)
        .collect()
}

/// The one profile flagged as default, if exactly one is.
pub(super) fn current_default(profiles: &[ProfileSummary]) -> Option<i64> {
    let ids = default_ids(profiles);
    if ids.len() == 1 {
        ids.into_iter().next()
    } else {
        None
    }
}

/// Reads the account: which profile is the default, which others can be used.
pub(super) async fn discover(session: &Session) -> Result<Discovery, String> {
    let creds = &session.target.credentials;
    if creds.primary.is_none() {
        return Err("no primary token; pass --token (or NEXUDUS_TOKEN)".into());
    }
    // Both lists at once: they do not depend on each other.
    let read_foreign = creds.foreign_profile_id.is_none() && creds.foreign.is_some();
    let (record, foreign_record) = session
        .both_lists(DISCOVERY, read_foreign, SendMode::Stoppable)
        .await;
    if let Ok(r) = &record.exchange.outcome
        && r.status == 401
    {
        let given = creds.primary_given_as.as_deref().unwrap_or("--token");
        return Err(format!(
            "GET {PROFILES_PATH} with the primary token answered 401: the token is missing, expired or invalid; \
             get a fresh one and give it with {given}"
        ));
    }
    let profiles =
        profiles_of(&record).map_err(|e| format!("cannot discover the account's profiles: {e}"))?;
    let mut d = Discovery {
        user: record
            .exchange
            .outcome
            .as_ref()
            .ok()
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .and_then(|b| b.pointer("/User/Id").and_then(Value::as_i64)),
        lists: std::iter::once(record.clone())
            .chain(foreign_record.clone())
            .collect(),
        ..Discovery::default()
    };
    let mut read_failed = false;
    let mut missing = |fixture: Fixture, why: &str| {
        d.missing.insert(fixture, why.to_string());
    };
    let original = match default_ids(&profiles).len() {
        1 => current_default(&profiles),
        0 => {
            missing(
                Fixture::Profile(Var::OriginalProfileId),
                "no profile has IsDefaultProfile true",
            );
            None
        }
        n => {
            missing(
                Fixture::Profile(Var::OriginalProfileId),
                &format!("{n} profiles have IsDefaultProfile true"),
            );
            None
        }
    };
    let target = profiles
        .iter()
        .find(|p| p.active && Some(p.id) != original)
        .map(|p| p.id);
    if target.is_none() {
        missing(
            Fixture::Profile(Var::TargetProfileId),
            "the account has no second active profile",
        );
    }
    let third = profiles
        .iter()
        .find(|p| p.active && Some(p.id) != original && Some(p.id) != target)
        .map(|p| p.id);
    if third.is_none() {
        missing(
            Fixture::Profile(Var::ThirdProfileId),
            "the account has no third active profile",
        );
    }
    let inactive = profiles.iter().find(|p| !p.active).map(|p| p.id);
    if inactive.is_none() {
        missing(
            Fixture::Profile(Var::InactiveProfileId),
            "the account has no inactive profile",
        );
    }
    let own: HashSet<i64> = profiles.iter().map(|p| p.id).collect();
    let mut foreign = creds.foreign_profile_id;
    // Isolation is judged on both lists as they are: an id in both is a breach whichever list is
    // wrong, so neither set is trimmed by the other.
    let mut foreign_ids: Option<Vec<i64>> = foreign.map(|id| vec![id]);
    if foreign.is_none() {
        if let Some(record) = &foreign_record {
            match profiles_of(record) {
                Ok(list) => {
                    let mut ids: Vec<i64> = list.iter().map(|p| p.id).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    foreign = ids.iter().copied().find(|id| !own.contains(id));
                    if !ids.is_empty() {
                        foreign_ids = Some(ids);
                    }
                    if foreign.is_none() {
                        missing(
                            Fixture::Profile(Var::ForeignProfileId),
                            "the foreign user lists no profile that the primary user does not own",
                        );
                    }
                }
                Err(e) => {
                    missing(
                        Fixture::Profile(Var::ForeignProfileId),
                        &format!("the foreign token could not list profiles: {e}"),
                    );
                    read_failed = true;
                }
            }
        } else {
            missing(
                Fixture::Profile(Var::ForeignProfileId),
                "pass --foreign-token or --foreign-profile-id",
            );
        }
    }
    let own_strings = identity_strings(&record);
    let foreign_identity: Vec<String> = foreign_record
        .as_deref()
        .map(identity_strings)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !own_strings.contains(s))
        .collect();
    d.vars
        .set(Var::ForeignIdentity, Value::from(foreign_identity));
    let mut own_ids: Vec<i64> = own.iter().copied().collect();
    own_ids.sort_unstable();
    d.vars.set(Var::OwnProfileIds, Value::from(own_ids));
    match foreign_ids {
        Some(ids) => d.vars.set(Var::ForeignProfileIds, Value::from(ids)),
        None => missing(
            Fixture::Profile(Var::ForeignProfileIds),
            "no profile of another user is known; pass --foreign-token or --foreign-profile-id",
        ),
    }
    if creds.foreign.is_none() {
        missing(Fixture::ForeignToken, "pass --foreign-token");
    }
    if creds.expired.is_none() {
        missing(Fixture::ExpiredToken, "pass --expired-token");
    }
    d.read_failed = read_failed;
    // Ids far above the account's own, presumed to belong to nobody: the unknown id, and the
    // sweep's ids from it up.
    let unowned = |id: &i64| !own.contains(id) && Some(*id) != foreign;
    const FIRST_UNKNOWN: i64 = 999_999_937;
    let unknown = creds
        .unknown_profile_id
        .or_else(|| (FIRST_UNKNOWN..i64::MAX).find(unowned))
        .unwrap_or(FIRST_UNKNOWN);
    d.sweep_ids = (unknown..i64::MAX)
        .filter(unowned)
        .take(session.target.sweep_size)
        .collect();
    for (var, value) in [
        (Var::OriginalProfileId, original),
        (Var::TargetProfileId, target),
        (Var::ThirdProfileId, third),
        (Var::InactiveProfileId, inactive),
        (Var::ForeignProfileId, foreign),
        (Var::UnknownProfileId, Some(unknown)),
    ] {
        if let Some(id) = value {
            d.vars.set(var, Value::from(id));
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Credential;
    use crate::http::Exchange;
    use crate::http::HttpResponse;
    use std::time::Duration;

    fn record(status: u16, body: &str) -> ExchangeRecord {
        ExchangeRecord {
            context: "t".into(),
            credential: Credential::Primary,
            token: None,
            path: PROFILES_PATH.into(),
            exchange: Exchange {
                method: "GET",
                url: "http://x".into(),
                outcome: Ok(HttpResponse {
                    status,
                    headers: Vec::new(),
                    body: body.as_bytes().to_vec(),
                }),
                elapsed: Duration::ZERO,
                retries: 0,
            },
        }
    }

    #[test]
    fn discovery_reads_profiles_leniently() {
        let body = r#"{"Profiles":[{"Id":1,"Active":true,"IsDefaultProfile":true},
            {"Id":"2","Active":"true"},{"Id":3,"Active":false},{"Name":"no id"}]}"#;
        let profiles = profiles_of(&record(200, body)).unwrap();
        assert_eq!(
            profiles,
            vec![
                ProfileSummary {
                    id: 1,
                    active: true,
                    default: true
                },
                ProfileSummary {
                    id: 2,
                    active: true,
                    default: false
                },
                ProfileSummary {
                    id: 3,
                    active: false,
                    default: false
                },
            ]
        );
        assert_eq!(current_default(&profiles), Some(1));
    }

    #[test]
    fn discovery_errors_say_why() {
        let cases = [
            (500, "{}", "answered 500"),
            (200, "<html>", "not JSON"),
            (200, r#"{"Records":[]}"#, "without a `Profiles` array"),
        ];
        for (status, body, fragment) in cases {
            let err = profiles_of(&record(status, body)).unwrap_err();
            assert!(err.contains(fragment), "{err}");
        }
    }
}
