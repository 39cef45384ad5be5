//! Running a plan against a target: discovery of fixtures, the cases (concurrently, with the
//! account's state guarded), and the final restore. Never returns `Err`: every problem becomes a
//! verdict, or — when the target cannot be used at all — the report's `unusable` reason.
//!
//! Scheduling: all cases are spawned at once on the runtime, bounded by `concurrency`. A case that
//! changes the default profile holds the state lock exclusively; a case that reads it holds it
//! shared; other cases take no lock. After a state-changing case the runner puts the original
//! default back (a guard), so every case starts from the state the run found.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::{RwLock, Semaphore};

use crate::case::{Case, Credential, Fixture, StateUse, Var, Vars};
use crate::check::{Finding, Verdict, evaluate};
use crate::http::{Exchange, HttpClient, HttpRequest};
use crate::plan::{Plan, TrialKind};

pub const PROFILES_PATH: &str = "/api/public/coworkers/profiles";
pub const SWITCH_PATH: &str = "/api/public/coworkers/profiles/current";

/// The secrets and ids a run is given.
#[derive(Clone, Default)]
pub struct Credentials {
    pub primary: Option<SecretString>,
    pub foreign: Option<SecretString>,
    pub expired: Option<SecretString>,
    pub foreign_profile_id: Option<i64>,
    pub unknown_profile_id: Option<i64>,
}

/// Where and how to run.
pub struct Target {
    pub client: HttpClient,
    /// The base URL as given (never holds credentials).
    pub base_url: String,
    pub credentials: Credentials,
    /// Cases in flight at once.
    pub concurrency: usize,
}

/// One exchange as a trial shows it.
#[derive(Debug, Clone)]
pub struct ExchangeRecord {
    /// `case/step`, or `discovery`/`restore`.
    pub context: String,
    pub credential: Credential,
    pub exchange: Exchange,
}

/// The result of one trial that executed.
#[derive(Debug, Clone)]
pub struct TrialResult {
    pub verdict: Verdict,
    pub exchange: Option<Arc<ExchangeRecord>>,
    pub duration: Duration,
}

/// What a run found: one optional result per trial of the plan (same order).
#[derive(Debug, Clone)]
pub struct RunReport {
    pub base_url: String,
    pub results: Vec<Option<TrialResult>>,
    /// Set when the target could not be used; no case ran.
    pub unusable: Option<String>,
    /// The discovered fixtures, for the preamble.
    pub fixtures: BTreeMap<String, String>,
    /// Every exchange of the run, for redaction (bodies may echo tokens) and counting.
    pub exchanges: Vec<Arc<ExchangeRecord>>,
    pub elapsed: Duration,
}

/// What discovery learnt about the account.
#[derive(Debug, Clone, Default)]
struct Discovery {
    vars: Vars,
    missing: BTreeMap<Fixture, String>,
    own_ids: Vec<i64>,
}

/// One profile as discovery needs it; lenient about types so a contract violation is reported by
/// the rules rather than making the target unusable.
#[derive(Debug, Clone, PartialEq)]
struct ProfileSummary {
    id: i64,
    active: bool,
    default: bool,
}

struct Shared {
    target: Target,
    /// Set once, after discovery.
    vars: std::sync::OnceLock<Vars>,
    invalid_token: String,
    exchanges: Mutex<Vec<Arc<ExchangeRecord>>>,
    guard_log: Mutex<Vec<String>>,
}

/// Runs the plan. Nothing is sent when nothing is selected.
pub async fn run(plan: &Plan, target: Target) -> RunReport {
    let started = Instant::now();
    let mut results: Vec<Option<TrialResult>> = vec![None; plan.trials.len()];
    let base_url = target.base_url.clone();
    if !plan.needs_target() {
        return RunReport {
            base_url,
            results,
            unusable: None,
            fixtures: BTreeMap::new(),
            exchanges: Vec::new(),
            elapsed: started.elapsed(),
        };
    }
    let shared = Arc::new(Shared {
        target,
        vars: std::sync::OnceLock::new(),
        invalid_token: format!("nxc-invalid-{}", random_hex()),
        exchanges: Mutex::new(Vec::new()),
        guard_log: Mutex::new(Vec::new()),
    });
    let discovery = match discover(&shared).await {
        Ok(d) => d,
        Err(reason) => {
            return RunReport {
                base_url,
                results,
                unusable: Some(reason),
                fixtures: BTreeMap::new(),
                exchanges: take_exchanges(&shared),
                elapsed: started.elapsed(),
            };
        }
    };
    let mut fixtures = BTreeMap::new();
    for var in Var::ALL.into_iter().filter(|v| !v.is_response_scoped()) {
        let shown = match discovery.vars.get(var) {
            Some(v) => v.to_string(),
            None => format!(
                "missing ({})",
                discovery
                    .missing
                    .get(&Fixture::Profile(var))
                    .map(String::as_str)
                    .unwrap_or("unknown")
            ),
        };
        fixtures.insert(var.name().to_string(), shown);
    }
    let _ = shared.vars.set(discovery.vars.clone());

    let index = plan.trial_index();
    let state_lock = Arc::new(RwLock::new(()));
    let permits = Arc::new(Semaphore::new(shared.target.concurrency.max(1)));
    let mut tasks = Vec::new();
    let mut changed_state = false;
    for &ci in &plan.run_cases {
        let case = plan.cases[ci].clone();
        let trial_ids: Vec<(usize, usize, usize)> = plan_trials_of(plan, ci, &index);
        if let Some(reason) = missing_fixture(&case, &discovery.missing) {
            for (_, _, ti) in &trial_ids {
                results[*ti] = Some(TrialResult {
                    verdict: Verdict::Skipped(reason.clone()),
                    exchange: None,
                    duration: Duration::ZERO,
                });
            }
            continue;
        }
        changed_state |= case.state == StateUse::Changes;
        let shared = shared.clone();
        let state_lock = state_lock.clone();
        let permits = permits.clone();
        let handle = tokio::spawn(async move {
            let _state = match case.state {
                StateUse::Changes => Lock::Write(state_lock.write_owned().await),
                StateUse::Reads => Lock::Read(state_lock.read_owned().await),
                StateUse::None => Lock::None,
            };
            let _permit = permits.acquire_owned().await;
            let verdicts = run_case(&shared, &case).await;
            if case.state == StateUse::Changes {
                guard_restore(&shared, &case.id).await;
            }
            verdicts
        });
        tasks.push((trial_ids, handle));
    }
    for (trial_ids, handle) in tasks {
        match handle.await {
            Ok(verdicts) => {
                for (si, ri, ti) in trial_ids {
                    results[ti] = verdicts.get(&(si, ri)).cloned();
                }
            }
            Err(e) => {
                for (_, _, ti) in trial_ids {
                    results[ti] = Some(TrialResult {
                        verdict: Verdict::Broken(format!(
                            "harness error while running this case: {e}"
                        )),
                        exchange: None,
                        duration: Duration::ZERO,
                    });
                }
            }
        }
    }
    let restore = final_restore(&shared, changed_state).await;
    if let Some(ti) = index.get(&TrialKind::Restore)
        && plan.run_restore
    {
        results[*ti] = Some(restore);
    }
    RunReport {
        base_url,
        results,
        unusable: None,
        fixtures,
        exchanges: take_exchanges(&shared),
        elapsed: started.elapsed(),
    }
}

enum Lock {
    Write(#[allow(dead_code)] tokio::sync::OwnedRwLockWriteGuard<()>),
    Read(#[allow(dead_code)] tokio::sync::OwnedRwLockReadGuard<()>),
    None,
}

fn take_exchanges(shared: &Shared) -> Vec<Arc<ExchangeRecord>> {
    std::mem::take(&mut *shared.exchanges.lock().unwrap_or_else(|e| e.into_inner()))
}

fn plan_trials_of(
    plan: &Plan,
    ci: usize,
    index: &std::collections::HashMap<TrialKind, usize>,
) -> Vec<(usize, usize, usize)> {
    let case = &plan.cases[ci];
    let mut out = Vec::new();
    for (si, step) in case.steps.iter().enumerate() {
        for ri in 0..step.rules.len() {
            if let Some(ti) = index.get(&TrialKind::Rule {
                case: ci,
                step: si,
                rule: ri,
            }) && plan.trials[*ti].selected
            {
                out.push((si, ri, *ti));
            }
        }
    }
    out
}

fn missing_fixture(case: &Case, missing: &BTreeMap<Fixture, String>) -> Option<String> {
    let reasons: Vec<String> = case
        .fixtures
        .iter()
        .filter_map(|f| missing.get(f).map(|why| format!("needs {f}: {why}")))
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("{a:016x}{:016x}", h.finish())
}

impl Shared {
    fn vars(&self) -> Vars {
        self.vars.get().cloned().unwrap_or_default()
    }

    fn authorization(&self, credential: Credential) -> Option<String> {
        let c = &self.target.credentials;
        let bearer =
            |s: &Option<SecretString>| s.as_ref().map(|s| format!("Bearer {}", s.expose_secret()));
        match credential {
            Credential::Primary => bearer(&c.primary),
            Credential::Foreign => bearer(&c.foreign),
            Credential::Expired => bearer(&c.expired),
            Credential::None => None,
            Credential::Invalid => Some(format!("Bearer {}", self.invalid_token)),
            Credential::MalformedEmptyBearer => Some("Bearer".into()),
            // base64("conformance@example.invalid:not-a-password"): a scheme the API does not
            // document for /api/public, with credentials that belong to nobody.
            Credential::MalformedBasic => {
                Some("Basic Y29uZm9ybWFuY2VAZXhhbXBsZS5pbnZhbGlkOm5vdC1hLXBhc3N3b3Jk".into())
            }
            Credential::MalformedNoScheme => {
                c.primary.as_ref().map(|s| s.expose_secret().to_string())
            }
        }
    }

    async fn send(
        &self,
        context: String,
        method: &'static str,
        path: &str,
        query: Vec<(String, String)>,
        credential: Credential,
    ) -> Arc<ExchangeRecord> {
        let request = HttpRequest {
            method,
            path: path.to_string(),
            query,
            authorization: self.authorization(credential),
        };
        let exchange = self.target.client.send(&request).await;
        let record = Arc::new(ExchangeRecord {
            context,
            credential,
            exchange,
        });
        self.exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        record
    }

    async fn list_profiles(&self, context: &str, credential: Credential) -> Arc<ExchangeRecord> {
        self.send(
            context.to_string(),
            "GET",
            PROFILES_PATH,
            Vec::new(),
            credential,
        )
        .await
    }

    async fn switch_to(&self, context: &str, id: i64) -> Arc<ExchangeRecord> {
        self.send(
            context.to_string(),
            "PUT",
            SWITCH_PATH,
            vec![("coworkerId".into(), id.to_string())],
            Credential::Primary,
        )
        .await
    }
}

/// Reads the profile list out of an exchange, or says why it cannot.
fn profiles_of(record: &ExchangeRecord) -> Result<Vec<ProfileSummary>, String> {
    let response = record
        .exchange
        .outcome
        .as_ref()
        .map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("GET {PROFILES_PATH} answered {}", response.status));
    }
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("GET {PROFILES_PATH} answered a body that is not JSON ({e})"))?;
    let list = body
        .get("Profiles")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("GET {PROFILES_PATH} answered JSON without a `Profiles` array"))?;
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

/// The distinct ids of the profiles flagged as default (a row listed twice counts once).
fn default_ids(profiles: &[ProfileSummary]) -> std::collections::BTreeSet<i64> {
    profiles
        .iter()
        .filter(|p| p.default)
        .map(|p| p.id)
        .collect()
}

/// The one profile flagged as default, if exactly one is.
fn current_default(profiles: &[ProfileSummary]) -> Option<i64> {
    let ids = default_ids(profiles);
    if ids.len() == 1 {
        ids.into_iter().next()
    } else {
        None
    }
}

/// Reads the account: which profile is the default, which others can be used.
async fn discover(shared: &Shared) -> Result<Discovery, String> {
    let creds = &shared.target.credentials;
    if creds.primary.is_none() {
        return Err("no primary token; pass --token (or NEXUDUS_TOKEN)".into());
    }
    let record = shared.list_profiles("discovery", Credential::Primary).await;
    if let Ok(r) = &record.exchange.outcome
        && r.status == 401
    {
        return Err(format!(
            "GET {PROFILES_PATH} with the primary token answered 401: the token is missing, expired or invalid; \
                 get a fresh one and pass it with --token"
        ));
    }
    let profiles =
        profiles_of(&record).map_err(|e| format!("cannot discover the account's profiles: {e}"))?;
    let mut d = Discovery {
        own_ids: profiles.iter().map(|p| p.id).collect(),
        ..Discovery::default()
    };
    let mut missing = |var: Var, why: &str| {
        d.missing.insert(Fixture::Profile(var), why.to_string());
    };
    let original = match default_ids(&profiles).len() {
        1 => current_default(&profiles),
        0 => {
            missing(
                Var::OriginalProfileId,
                "no profile has IsDefaultProfile true",
            );
            None
        }
        n => {
            missing(
                Var::OriginalProfileId,
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
            Var::TargetProfileId,
            "the account has no second active profile",
        );
    }
    let inactive = profiles.iter().find(|p| !p.active).map(|p| p.id);
    if inactive.is_none() {
        missing(
            Var::InactiveProfileId,
            "the account has no inactive profile",
        );
    }
    let own: HashSet<i64> = d.own_ids.iter().copied().collect();
    let mut foreign = creds.foreign_profile_id;
    if foreign.is_none() {
        if creds.foreign.is_some() {
            let record = shared.list_profiles("discovery", Credential::Foreign).await;
            match profiles_of(&record) {
                Ok(list) => {
                    foreign = list.iter().map(|p| p.id).find(|id| !own.contains(id));
                    if foreign.is_none() {
                        d.missing.insert(
                            Fixture::Profile(Var::ForeignProfileId),
                            "the foreign user lists no profile that the primary user does not own"
                                .into(),
                        );
                    }
                }
                Err(e) => {
                    d.missing.insert(
                        Fixture::Profile(Var::ForeignProfileId),
                        format!("the foreign token could not list profiles: {e}"),
                    );
                }
            }
        } else {
            d.missing.insert(
                Fixture::Profile(Var::ForeignProfileId),
                "pass --foreign-token or --foreign-profile-id".into(),
            );
        }
    }
    if creds.foreign.is_none() {
        d.missing
            .insert(Fixture::ForeignToken, "pass --foreign-token".into());
    }
    if creds.expired.is_none() {
        d.missing
            .insert(Fixture::ExpiredToken, "pass --expired-token".into());
    }
    // An id far above the account's own; presumed to belong to nobody.
    let unknown = creds.unknown_profile_id.unwrap_or_else(|| {
        let mut candidate: i64 = 999_999_937;
        while own.contains(&candidate) || Some(candidate) == foreign {
            candidate += 1;
        }
        candidate
    });
    for (var, value) in [
        (Var::OriginalProfileId, original),
        (Var::TargetProfileId, target),
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

type CaseVerdicts = BTreeMap<(usize, usize), TrialResult>;

async fn run_case(shared: &Shared, case: &Case) -> CaseVerdicts {
    let vars = shared.vars();
    let mut out = CaseVerdicts::new();
    let mut broken: Option<String> = None;
    for (si, step) in case.steps.iter().enumerate() {
        if let Some(reason) = &broken {
            for ri in 0..step.rules.len() {
                out.insert(
                    (si, ri),
                    TrialResult {
                        verdict: Verdict::NotRun(reason.clone()),
                        exchange: None,
                        duration: Duration::ZERO,
                    },
                );
            }
            continue;
        }
        let rendered = render_request(&vars, step);
        let (path, query) = match rendered {
            Ok(r) => r,
            Err(var) => {
                let why = format!("variable `{{{{{var}}}}}` has no value in this run");
                for ri in 0..step.rules.len() {
                    out.insert(
                        (si, ri),
                        TrialResult {
                            verdict: Verdict::Broken(why.clone()),
                            exchange: None,
                            duration: Duration::ZERO,
                        },
                    );
                }
                broken = Some(format!("step `{}` could not be sent: {why}", step.name));
                continue;
            }
        };
        let record = shared
            .send(
                format!("{}/{}", case.id, step.name),
                step.request.method.as_str(),
                &path,
                query,
                step.request.credential,
            )
            .await;
        let duration = record.exchange.elapsed;
        match &record.exchange.outcome {
            Err(transport) => {
                for ri in 0..step.rules.len() {
                    out.insert(
                        (si, ri),
                        TrialResult {
                            verdict: Verdict::Broken(transport.to_string()),
                            exchange: Some(record.clone()),
                            duration,
                        },
                    );
                }
                broken = Some(format!(
                    "step `{}` could not be completed: {transport}",
                    step.name
                ));
            }
            Ok(response) => {
                for (ri, rule) in step.rules.iter().enumerate() {
                    out.insert(
                        (si, ri),
                        TrialResult {
                            verdict: evaluate(rule, response, &vars),
                            exchange: Some(record.clone()),
                            duration,
                        },
                    );
                }
            }
        }
    }
    out
}

fn render_request(
    vars: &Vars,
    step: &crate::case::Step,
) -> Result<(String, Vec<(String, String)>), Var> {
    let path = step.request.path.render_text(vars)?;
    let query = step
        .request
        .query
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.render_text(vars)?)))
        .collect::<Result<Vec<_>, Var>>()?;
    Ok((path, query))
}

fn original_id(shared: &Shared) -> Option<i64> {
    shared
        .vars
        .get()?
        .get(Var::OriginalProfileId)
        .and_then(Value::as_i64)
}

/// After a state-changing case: if the default is not the original, switch back. Problems are
/// logged for the restore trial.
async fn guard_restore(shared: &Shared, case_id: &str) {
    let Some(original) = original_id(shared) else {
        return;
    };
    let context = format!("restore after {case_id}");
    let record = shared.list_profiles(&context, Credential::Primary).await;
    let current = profiles_of(&record).map(|p| current_default(&p));
    if current == Ok(Some(original)) {
        return;
    }
    let switched = shared.switch_to(&context, original).await;
    let ok = switched
        .exchange
        .outcome
        .as_ref()
        .is_ok_and(|r| (200..300).contains(&r.status));
    let mut log = shared.guard_log.lock().unwrap_or_else(|e| e.into_inner());
    log.push(match (current, ok) {
        (Ok(found), true) => format!(
            "after `{case_id}` the default was {}; switched back to {original}",
            found.map_or("not a single profile".to_string(), |f| f.to_string())
        ),
        (Err(e), true) => format!("after `{case_id}` the profile list could not be read ({e}); switched to {original} anyway"),
        (_, false) => format!("after `{case_id}` switching back to {original} failed"),
    });
}

/// The end-of-run check (and, when needed, the restore) of the original default profile.
async fn final_restore(shared: &Shared, changed_state: bool) -> TrialResult {
    let started = Instant::now();
    let Some(original) = original_id(shared) else {
        return TrialResult {
            verdict: Verdict::Skipped(
                "needs original_profile_id: the account's default profile is unknown".into(),
            ),
            exchange: None,
            duration: Duration::ZERO,
        };
    };
    let mut notes: Vec<String> = shared
        .guard_log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut record = shared.list_profiles("restore", Credential::Primary).await;
    let mut current = profiles_of(&record).map(|p| current_default(&p));
    if current != Ok(Some(original)) {
        let switched = shared.switch_to("restore", original).await;
        notes.push(format!(
            "at the end the default was {}; sent PUT coworkerId={original} ({})",
            describe_default(&current),
            match &switched.exchange.outcome {
                Ok(r) => format!("status {}", r.status),
                Err(e) => e.to_string(),
            }
        ));
        record = shared.list_profiles("restore", Credential::Primary).await;
        current = profiles_of(&record).map(|p| current_default(&p));
    }
    let verdict = match &current {
        Ok(Some(id)) if *id == original => {
            let mut note = if changed_state {
                format!("the original default profile {original} is the default again")
            } else {
                format!("the default profile is still {original}")
            };
            if !notes.is_empty() {
                note.push_str(" (");
                note.push_str(&notes.join("; "));
                note.push(')');
            }
            Verdict::Pass(Some(note))
        }
        _ => {
            let manual = format!(
                "restore it by hand: curl -sS -X PUT -H \"Authorization: Bearer $NEXUDUS_TOKEN\" -H 'Content-Length: 0' '{}'",
                shared.target.client.url_for(&HttpRequest {
                    method: "PUT",
                    path: SWITCH_PATH.into(),
                    query: vec![("coworkerId".into(), original.to_string())],
                    authorization: None,
                })
            );
            notes.push(manual);
            Verdict::Violation(Finding {
                expected: format!(
                    "profile {original} (the default when the run started) to be the one default profile"
                ),
                actual: describe_default(&current),
                details: notes,
            })
        }
    };
    TrialResult {
        verdict,
        exchange: Some(record),
        duration: started.elapsed(),
    }
}

fn describe_default(current: &Result<Option<i64>, String>) -> String {
    match current {
        Ok(Some(id)) => format!("profile {id}"),
        Ok(None) => "not exactly one default profile".into(),
        Err(e) => format!("unknown ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpResponse;

    fn record(status: u16, body: &str) -> ExchangeRecord {
        ExchangeRecord {
            context: "t".into(),
            credential: Credential::Primary,
            exchange: Exchange {
                method: "GET",
                url: "http://x".into(),
                outcome: Ok(HttpResponse {
                    status,
                    headers: Vec::new(),
                    body: body.as_bytes().to_vec(),
                }),
                elapsed: Duration::ZERO,
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
