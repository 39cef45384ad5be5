//! `POST /api/token` of the reference server: the OAuth-style password and refresh grants as the
//! Nexudus documentation describes them (contract-notes §4), form-encoded.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::fault::Faults;
use super::handlers::{Ctx, Shared, lock};
use super::variant::Variants;

/// `POST /api/token`: the OAuth-style password and refresh grants (contract-notes §4), form-encoded.
pub(super) async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut db = lock(&state);
    let error = |kind: &str, description: &str| {
        let mut res = (
            StatusCode::BAD_REQUEST,
            json!({"error": kind, "error_description": description}).to_string(),
        )
            .into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        res
    };
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return error(
            "unsupported_grant_type",
            "The body must be application/x-www-form-urlencoded.",
        );
    }
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let user = match field("grant_type").as_deref() {
        Some("password") => {
            let username = field("username").unwrap_or_default();
            let password = field("password").unwrap_or_default();
            let Some(user) = db
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(&username))
                .cloned()
            else {
                return error("invalid_grant", "The user name or password is incorrect.");
            };
            if password != db.password {
                return error("invalid_grant", "The user name or password is incorrect.");
            }
            if let Some(code) = &user.totp
                && field("totp").as_deref() != Some(code.as_str())
            {
                return error(
                    "two_factor_auth_check",
                    "A two-factor authentication code is required.",
                );
            }
            user.id
        }
        Some("refresh_token") => {
            let presented = field("refresh_token").unwrap_or_default();
            match db.refresh_tokens.get(&presented) {
                Some(user) => *user,
                None => {
                    return error(
                        "invalid_grant",
                        "The refresh token is invalid or has been replaced.",
                    );
                }
            }
        }
        _ => {
            return error(
                "unsupported_grant_type",
                "grant_type must be password or refresh_token.",
            );
        }
    };
    let (access, refresh) = db.issue_tokens(user);
    Ctx {
        faults: &Faults::new(),
        variants: &Variants::new(),
        authorization: None,
        last_user_email: None,
    }
    .json(
        StatusCode::OK,
        &json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": 86400,
            "refresh_token": refresh,
        }),
    )
}
