//! Signing in: turns a username and password into a customer bearer token through
//! `POST /api/token` (form-encoded password grant, contract-notes §4), so a user can run the suite
//! with the credentials they have instead of a token copied from a browser.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::http::{HttpClient, HttpRequest};

/// Who signs in.
#[derive(Clone, Debug)]
pub struct SignIn {
    /// Which user this is, for messages (`primary`, `foreign`).
    pub role: &'static str,
    pub username: String,
    pub password: SecretString,
    /// The two-factor code, for accounts that have it.
    pub totp: Option<SecretString>,
    /// Sent as the `client_id` header; Nexudus uses the email when it is absent.
    pub client_id: Option<String>,
}

/// Signs in at `client` (bound to the token URL) and returns the access token.
///
/// # Errors
/// A message saying why the token endpoint refused, and what to do.
pub async fn sign_in(client: &HttpClient, who: &SignIn) -> Result<SecretString, String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "password")
        .append_pair("username", &who.username)
        .append_pair("password", who.password.expose_secret());
    if let Some(totp) = &who.totp {
        form.append_pair("totp", totp.expose_secret());
    }
    let request = HttpRequest {
        method: "POST",
        headers: who
            .client_id
            .iter()
            .map(|c| ("client_id".to_string(), c.clone()))
            .collect(),
        body: Some((
            "application/x-www-form-urlencoded",
            form.finish().into_bytes(),
        )),
        ..HttpRequest::default()
    };
    let exchange = client.send(&request).await;
    let context = format!(
        "signing in the {} user ({}) at {}",
        who.role, who.username, exchange.url
    );
    let response = exchange.outcome.map_err(|e| format!("{context}: {e}"))?;
    let json: Option<Value> = serde_json::from_slice(&response.body).ok();
    if response.status != 200 {
        let kind = json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let description = json
            .as_ref()
            .and_then(|j| j.get("error_description"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let advice = match kind {
            "invalid_grant" => {
                "check the username and password, and that the account is registered with this location"
            }
            "two_factor_auth_check" => {
                "the account uses two-factor authentication; pass its current code with --totp (NEXUDUS_TOTP)"
            }
            "must_reset_password" => {
                "the account must reset its password in the portal before it can sign in"
            }
            "unsupported_grant_type" => {
                "the endpoint did not accept the request format; check --token-url"
            }
            _ => "check --token-url and the credentials",
        };
        let what = if kind.is_empty() {
            format!("status {}", response.status)
        } else if description.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} ({description})")
        };
        return Err(format!("{context}: refused with {what}; {advice}"));
    }
    let token = json
        .as_ref()
        .and_then(|j| j.get("access_token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("{context}: the answer has no access_token; check --token-url"))?;
    let token_type = json
        .as_ref()
        .and_then(|j| j.get("token_type"))
        .and_then(Value::as_str)
        .unwrap_or("bearer");
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "{context}: the token type is `{token_type}`, not bearer"
        ));
    }
    Ok(SecretString::from(token.to_string()))
}
