//! The two accounts as the run models them: the profile lists discovery read (the model the
//! `account_model` invariant compares every later list with), and what each account owns that
//! no answer to another credential may carry (its email, its tokens). From these, the variables
//! a response is judged with: whether its request carried bearer credentials, the data of the
//! accounts its credential does not own, and the model of the account whose list it is.

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::Credentials;
use crate::api::{Account, Credential};
use crate::case::Vars;
use crate::record::ExchangeRecord;

/// Both accounts as discovery read them.
#[derive(Debug, Clone, Default)]
pub(super) struct Accounts {
    primary: Option<Value>,
    foreign: Option<Value>,
}

impl Accounts {
    /// From discovery's reads: the primary user's list, then the other user's if it was read.
    pub fn from_lists(lists: &[Arc<ExchangeRecord>]) -> Accounts {
        let mut accounts = Accounts::default();
        for record in lists {
            let Some(body) = list_body(record) else {
                continue;
            };
            match record.credential {
                Credential::Primary => accounts.primary = Some(body),
                Credential::Foreign => accounts.foreign = Some(body),
                _ => {}
            }
        }
        accounts
    }

    /// The other user's default profile as discovery read it, when exactly one was flagged.
    pub fn foreign_default(&self) -> Option<i64> {
        let defaults: Vec<i64> = self
            .foreign
            .as_ref()?
            .get("Profiles")?
            .as_array()?
            .iter()
            .filter(|p| p.get("IsDefaultProfile") == Some(&Value::Bool(true)))
            .filter_map(|p| p.get("Id").and_then(Value::as_i64))
            .collect();
        match defaults.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn list(&self, account: Account) -> Option<&Value> {
        match account {
            Account::Primary => self.primary.as_ref(),
            Account::Foreign => self.foreign.as_ref(),
        }
    }

    fn email(&self, account: Account) -> Option<String> {
        self.list(account)?
            .pointer("/User/Email")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@'))
            .map(str::to_string)
    }

    /// `vars` with the request-scoped variables of `record` bound, and the account model when it
    /// is a profile list of one of the two users.
    pub fn bind(&self, vars: &Vars, record: &ExchangeRecord, credentials: &Credentials) -> Vars {
        let owner = record.credential.owner(record.token);
        let carried = carried_token(record, credentials);
        let mut others: Vec<String> = [Account::Primary, Account::Foreign]
            .into_iter()
            .filter(|a| Some(*a) != owner)
            .filter_map(|a| self.email(a))
            .collect();
        others.extend(
            [
                &credentials.primary,
                &credentials.foreign,
                &credentials.expired,
            ]
            .into_iter()
            .flatten()
            .map(|t| t.expose_secret().to_string())
            .filter(|t| Some(t) != carried.as_ref()),
        );
        let mut vars = vars.with_request(record.credential.carries_bearer(), others);
        let is_list = record.exchange.method == "GET" && record.path == crate::api::PROFILES_PATH;
        let model = match (is_list, record.credential, record.token) {
            (true, Credential::Primary, None) => self
                .primary
                .as_ref()
                .map(|l| json!({"list": l, "flags": false, "user": "primary user"})),
            (true, Credential::Foreign, None) => self
                .foreign
                .as_ref()
                .map(|l| json!({"list": l, "flags": true, "user": "other user"})),
            _ => None,
        };
        if let Some(model) = model {
            vars.set(crate::case::Var::AccountModel, model);
        }
        vars
    }
}

/// The run's token a request carried, or derived its token from: an answer that repeats it is
/// an echo (judged by `no_token_echo`), not another account's data.
fn carried_token(record: &ExchangeRecord, credentials: &Credentials) -> Option<String> {
    let token = match record.credential {
        Credential::Primary | Credential::LowercaseScheme | Credential::MalformedNoScheme => {
            &credentials.primary
        }
        Credential::Foreign => &credentials.foreign,
        Credential::Expired => &credentials.expired,
        _ => return None,
    };
    token.as_ref().map(|t| t.expose_secret().to_string())
}

/// The body of a 200 profile list.
fn list_body(record: &ExchangeRecord) -> Option<Value> {
    let response = record.exchange.outcome.as_ref().ok()?;
    (response.status == 200)
        .then(|| serde_json::from_slice(&response.body).ok())
        .flatten()
}
