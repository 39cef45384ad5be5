//! A run's shared state: the target, the discovered variables, every exchange sent, and the
//! one place requests are sent from (with the stop signal and the deadline applied).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::account::Accounts;
use super::{RunEvent, Target};
use crate::api::{self, Credential, TokenVariant};
use crate::case::Vars;
use crate::http::{Exchange, HttpRequest};
use crate::record::ExchangeRecord;

pub(super) const INTERRUPTED: &str = "the run was interrupted";
pub(super) const DEADLINE: &str = "the run's --deadline passed";

/// Whether a request obeys the stop signal and the deadline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SendMode {
    /// Cases and discovery: not sent, or abandoned, when the run stops.
    Stoppable,
    /// Restores: always sent, bounded only by the request timeout.
    Always,
}

pub(super) struct Session {
    pub target: Target,
    /// Set once, after discovery.
    vars: OnceLock<Vars>,
    /// The values of `{{sweep_id}}`, set with the variables.
    sweep_ids: OnceLock<Vec<i64>>,
    /// Both accounts as discovery read them, set with the variables.
    accounts: OnceLock<Accounts>,
    invalid_token: String,
    exchanges: Mutex<Vec<Arc<ExchangeRecord>>>,
    /// What the guard restores did, for the restore trial.
    pub guard_log: Mutex<Vec<String>>,
}

impl Session {
    pub fn new(target: Target) -> Session {
        Session {
            target,
            vars: OnceLock::new(),
            sweep_ids: OnceLock::new(),
            accounts: OnceLock::new(),
            invalid_token: format!("nxc-invalid-{}", random_hex()),
            exchanges: Mutex::new(Vec::new()),
            guard_log: Mutex::new(Vec::new()),
        }
    }

    pub fn set_vars(&self, vars: Vars, sweep_ids: Vec<i64>, accounts: Accounts) {
        let _ = self.vars.set(vars);
        let _ = self.sweep_ids.set(sweep_ids);
        let _ = self.accounts.set(accounts);
    }

    /// `vars` with what is particular to `record` bound: whether its request carried bearer
    /// credentials, the data of the accounts its credential does not own, its account's model.
    pub fn bind(&self, vars: &Vars, record: &ExchangeRecord) -> Vars {
        match self.accounts.get() {
            Some(accounts) => accounts.bind(vars, record, &self.target.credentials),
            None => vars.clone(),
        }
    }

    /// The other user's default profile as discovery read it.
    pub fn foreign_default(&self) -> Option<i64> {
        self.accounts.get()?.foreign_default()
    }

    /// How many exchanges have been recorded so far: where a case's run begins, so that a case
    /// run again (after its group changed the account) is judged on its second run alone.
    pub fn exchange_count(&self) -> usize {
        self.exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Every exchange sent on behalf of case `case` since exchange `since` (see
    /// [`Session::exchange_count`]): its steps, its batches' checks and put-backs, its guard.
    pub fn exchanges_of(&self, case: &str, since: usize) -> Vec<Arc<ExchangeRecord>> {
        self.exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .skip(since)
            .filter(|r| owner_of(&r.context) == Some(case))
            .cloned()
            .collect()
    }

    pub fn sweep_ids(&self) -> &[i64] {
        self.sweep_ids.get().map_or(&[], Vec::as_slice)
    }

    pub fn vars(&self) -> Option<&Vars> {
        self.vars.get()
    }

    pub fn take_exchanges(&self) -> Vec<Arc<ExchangeRecord>> {
        std::mem::take(&mut *self.exchanges.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn event(&self, event: RunEvent<'_>) {
        self.target.observer.on_event(&event);
    }

    pub fn interrupted(&self) -> bool {
        *self.target.stop.borrow()
    }

    /// Why case requests must no longer be sent, if they must not.
    pub fn stop_reason(&self) -> Option<String> {
        if self.interrupted() {
            Some(INTERRUPTED.into())
        } else if self.target.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(DEADLINE.into())
        } else {
            None
        }
    }

    fn authorization(&self, credential: Credential, token: Option<TokenVariant>) -> Option<String> {
        let c = &self.target.credentials;
        let bearer = |s: &Option<SecretString>| {
            s.as_ref().map(|s| match token {
                Some(variant) => format!("Bearer {}", variant.derive(s.expose_secret())),
                None => format!("Bearer {}", s.expose_secret()),
            })
        };
        match credential {
            Credential::Primary => bearer(&c.primary),
            Credential::Foreign => bearer(&c.foreign),
            Credential::Expired => bearer(&c.expired),
            Credential::None => None,
            Credential::Invalid => Some(format!("Bearer {}", self.invalid_token)),
            Credential::MalformedEmptyBearer => Some("Bearer".into()),
            Credential::MalformedBasic => Some(Credential::MALFORMED_BASIC_HEADER.into()),
            Credential::LowercaseScheme => c
                .primary
                .as_ref()
                .map(|s| format!("bearer {}", s.expose_secret())),
            Credential::MalformedNoScheme => {
                c.primary.as_ref().map(|s| s.expose_secret().to_string())
            }
        }
    }

    /// Sends one request and records it; never fails.
    pub async fn send(
        &self,
        context: String,
        request: HttpRequest,
        credential: Credential,
        mode: SendMode,
    ) -> Arc<ExchangeRecord> {
        self.send_varied(context, request, credential, None, mode)
            .await
    }

    /// [`Session::send`] with the credential's token derived (a credential probe).
    pub async fn send_varied(
        &self,
        context: String,
        request: HttpRequest,
        credential: Credential,
        token: Option<TokenVariant>,
        mode: SendMode,
    ) -> Arc<ExchangeRecord> {
        let request = HttpRequest {
            authorization: self.authorization(credential, token),
            ..request
        };
        let method = request.method;
        let client = &self.target.client;
        let exchange = match (mode, self.stop_reason()) {
            (SendMode::Always, _) => {
                self.event(RunEvent::RequestSent {
                    context: &context,
                    method,
                    path: &request.path,
                });
                client.send(&request).await
            }
            (SendMode::Stoppable, Some(why)) => {
                Exchange::cancelled(method, client.url_for(&request), &why)
            }
            (SendMode::Stoppable, None) => {
                self.event(RunEvent::RequestSent {
                    context: &context,
                    method,
                    path: &request.path,
                });
                let limit = self.target.deadline.map_or(client.timeout(), |d| {
                    d.saturating_duration_since(Instant::now())
                });
                let mut stop = self.target.stop.clone();
                let stopped = async move {
                    // A closed channel (no one can interrupt) must never read as "stop".
                    if stop.wait_for(|s| *s).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    exchange = client.send_within(&request, limit.max(Duration::from_millis(1))) => {
                        match (&exchange.outcome, self.stop_reason()) {
                            // A timeout cut short by the deadline is the deadline's doing.
                            (Err(crate::http::TransportError::Timeout(_)), Some(why)) => {
                                Exchange { outcome: Err(crate::http::TransportError::Cancelled(why)), ..exchange }
                            }
                            _ => exchange,
                        }
                    }
                    () = stopped => Exchange::cancelled(method, client.url_for(&request), INTERRUPTED),
                }
            }
        };
        self.event(RunEvent::Answered {
            context: &context,
            status: exchange.outcome.as_ref().ok().map(|r| r.status),
            elapsed: exchange.elapsed,
            retries: exchange.retries,
        });
        let record = Arc::new(ExchangeRecord {
            context,
            credential,
            token,
            path: request.path,
            exchange,
        });
        self.exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        record
    }

    pub async fn list_profiles(
        &self,
        context: &str,
        credential: Credential,
        mode: SendMode,
    ) -> Arc<ExchangeRecord> {
        self.send(context.to_string(), api::list_profiles(), credential, mode)
            .await
    }

    /// The primary user's profile list and, when `foreign`, the foreign user's, read at once.
    pub async fn both_lists(
        &self,
        context: &str,
        foreign: bool,
        mode: SendMode,
    ) -> (Arc<ExchangeRecord>, Option<Arc<ExchangeRecord>>) {
        let primary = self.list_profiles(context, Credential::Primary, mode);
        let other = async {
            if foreign {
                Some(self.list_profiles(context, Credential::Foreign, mode).await)
            } else {
                None
            }
        };
        tokio::join!(primary, other)
    }

    /// A restore's switch as `credential`'s user: always sent (`restore::put_back` decides
    /// when).
    pub async fn switch_as(
        &self,
        context: &str,
        credential: Credential,
        id: i64,
    ) -> Arc<ExchangeRecord> {
        self.send(
            context.to_string(),
            api::switch_to(id),
            credential,
            SendMode::Always,
        )
        .await
    }
}

/// The context of discovery's reads.
pub(super) const DISCOVERY: &str = "discovery";
/// The context of the final restore's requests.
pub(super) const RESTORE: &str = "restore";

/// The context of a request a case's step sends: `case/step` (a batch's checks add to it).
pub(super) fn step_context(case: &str, step: &str) -> String {
    format!("{case}/{step}")
}

/// The context of the guard after case `case`.
pub(super) fn guard_context(case: &str) -> String {
    format!("{GUARD_PREFIX}{case}")
}

const GUARD_PREFIX: &str = "restore after ";

/// The case a request was sent for, from its context; `None` for the run's own requests
/// (discovery, the checks of the cases run together, the final restore).
pub(super) fn owner_of(context: &str) -> Option<&str> {
    context
        .strip_prefix(GUARD_PREFIX)
        .or_else(|| context.split_once('/').map(|(case, _)| case))
}

/// 32 hex characters from the operating system's random source, different in every run.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Never seen on Linux; the clock still makes the token differ between runs.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
