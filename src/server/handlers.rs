//! Request handling of the reference server.
//!
//! Where the documentation is silent the server takes the choice the harness's SHOULD rules
//! expect: failures are answered with an ActionConfirmation envelope whose `Status` mirrors the
//! HTTP status, 401 carries `WWW-Authenticate: Bearer`, malformed `coworkerId` values get 400.
//! Each injected [`Fault`] bends exactly one of these behaviours.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::data::Db;
use super::fault::{Fault, Faults};
use super::variant::{Variant, Variants};

pub(crate) type Shared = Arc<Mutex<Db>>;

pub(crate) fn default_of(state: &Shared, user: i64) -> Option<i64> {
    lock(state).defaults.get(&user).copied()
}

pub(super) fn lock(state: &Shared) -> MutexGuard<'_, Db> {
    // A poisoned lock only means a handler panicked mid-request; the data is still consistent
    // because every handler mutates at most one map entry.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// What shapes every answer of one request: the faults and the request's Authorization value.
pub(super) struct Ctx<'a> {
    pub(super) faults: &'a Faults,
    pub(super) variants: &'a Variants,
    pub(super) authorization: Option<String>,
    /// The email of the user the last authenticated request came from (fault `stale_user_in_401`).
    pub(super) last_user_email: Option<String>,
}

impl Ctx<'_> {
    pub(super) fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    pub(super) fn is(&self, variant: Variant) -> bool {
        self.variants.contains(&variant)
    }

    /// A refusal other than 401, as the variants shape it: problem details, an empty body, or
    /// the envelope.
    pub(super) fn refuse(&self, status: StatusCode, message: &str) -> Response {
        let detail = matches!(status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND);
        if status == StatusCode::NOT_FOUND && self.has(Fault::TruncatedJsonErrors) {
            let mut res = (status, "{\"WasSuccessful\":false,\"Value\":null,\"Sta").into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            return res;
        }
        if detail && self.is(Variant::ProblemDetails) {
            let mut res = (
                status,
                json!({
                    "type": format!("https://tools.ietf.org/html/rfc9110#section-15.5.{}", if status == StatusCode::NOT_FOUND { 5 } else { 1 }),
                    "title": status.canonical_reason().unwrap_or_default(),
                    "status": status.as_u16(),
                    "detail": message,
                    "traceId": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                })
                .to_string(),
            )
                .into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json; charset=utf-8"),
            );
            return res;
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY && self.is(Variant::Unprocessable422) {
            return self.json(
                status,
                &json!({"detail": [{"loc": ["query", "coworkerId"], "msg": message, "type": "int_parsing"}]}),
            );
        }
        if detail && self.is(Variant::EmptyErrorBodies) {
            return status.into_response();
        }
        self.envelope(status, Some(message))
    }

    pub(super) fn json(&self, status: StatusCode, body: &Value) -> Response {
        let mut res = (status, body.to_string()).into_response();
        let content_type = if self.has(Fault::JsonAsTextPlain) {
            "text/plain; charset=utf-8"
        } else {
            "application/json; charset=utf-8"
        };
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        res
    }

    /// The ActionConfirmation envelope, success or failure form.
    pub(super) fn envelope(&self, status: StatusCode, message: Option<&str>) -> Response {
        let success = status.is_success();
        let mut message = message.map(str::to_string);
        if !success && self.has(Fault::EchoTokenInErrors) {
            let quoted = self.authorization.clone().unwrap_or_default();
            message = Some(format!(
                "{} (request authorization: {quoted})",
                message.unwrap_or_default()
            ));
        }
        let mut body = Map::new();
        let said_successful = success
            || (status == StatusCode::BAD_REQUEST && self.has(Fault::RefusalSaysSuccessful));
        body.insert(
            "WasSuccessful".into(),
            if self.has(Fault::WasSuccessfulString) {
                Value::String(said_successful.to_string())
            } else {
                Value::Bool(said_successful)
            },
        );
        let (value, success_message) = if success && self.is(Variant::SuccessValueMessage) {
            (
                Value::String("Done".into()),
                Some("The active profile was changed.".to_string()),
            )
        } else {
            (Value::Null, None)
        };
        if success_message.is_some() {
            message = success_message;
        }
        body.insert("Value".into(), value);
        let mirrored = if self.has(Fault::StatusNotMirrored) {
            0
        } else {
            status.as_u16()
        };
        body.insert("Status".into(), Value::from(mirrored));
        let errors = if !success && self.is(Variant::ErrorsArray) {
            json!([{"AttemptedValue": null, "Message": message.clone().unwrap_or_default(), "PropertyName": "coworkerId"}])
        } else {
            Value::Null
        };
        body.insert("Message".into(), message.map_or(Value::Null, Value::String));
        body.insert("Errors".into(), errors);
        if self.is(Variant::ExtraMembers) {
            body.insert("OpenInDialog".into(), Value::Bool(false));
            body.insert("OpenInWindow".into(), Value::Bool(false));
            body.insert("RedirectURL".into(), Value::Null);
            body.insert("JavaScript".into(), Value::Null);
            body.insert(
                "UpdatedOn".into(),
                Value::String("2026-11-27T08:00:00".into()),
            );
        }
        if self.has(Fault::EnvelopeOmitsNulls) {
            body.retain(|_, v| !v.is_null());
        }
        let http = if !success && self.has(Fault::ErrorsAsHttp200) {
            StatusCode::OK
        } else {
            status
        };
        self.json(http, &Value::Object(body))
    }

    pub(super) fn unauthorized(&self, why: Unauthenticated) -> Response {
        if self.has(Fault::UnauthorizedRedirect) {
            let mut res = (
                StatusCode::FOUND,
                "<html><body>Redirecting to login</body></html>",
            )
                .into_response();
            res.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/login?ReturnUrl=%2Fapi"),
            );
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return res;
        }
        const DENIED: &str = "Authorization has been denied for this request.";
        let stale;
        let denied = if self.has(Fault::StaleUserIn401)
            && let Some(email) = self.last_user_email.as_deref()
        {
            stale = format!("The session of {email} has ended. {DENIED}");
            stale.as_str()
        } else {
            DENIED
        };
        let mut res = if self.is(Variant::ProblemDetails) || self.is(Variant::EmptyErrorBodies) {
            StatusCode::UNAUTHORIZED.into_response()
        } else if self.is(Variant::AspNet401Body) {
            self.json(StatusCode::UNAUTHORIZED, &json!({"Message": denied}))
        } else {
            self.envelope(StatusCode::UNAUTHORIZED, Some(denied))
        };
        if !self.has(Fault::NoWwwAuthenticate) {
            let why = if self.has(Fault::ChallengeErrorWithoutToken) {
                Unauthenticated::BadToken
            } else {
                why
            };
            let challenge = match (why, self.is(Variant::RealmChallenge)) {
                (Unauthenticated::BadToken, true) => {
                    "Bearer realm=\"nexudus\", error=\"invalid_token\""
                }
                (Unauthenticated::EmptyBearer, true) => {
                    "Bearer realm=\"nexudus\", error=\"invalid_request\""
                }
                (Unauthenticated::NoBearer, true) => "Bearer realm=\"nexudus\"",
                (Unauthenticated::BadToken, false) => "Bearer error=\"invalid_token\"",
                (Unauthenticated::EmptyBearer, false) => "Bearer error=\"invalid_request\"",
                (Unauthenticated::NoBearer, false) => "Bearer",
            };
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        res
    }

    pub(super) fn server_error(&self) -> Response {
        let mut res = (
            StatusCode::INTERNAL_SERVER_ERROR,
            "<html><body><h1>Server Error in '/' Application.</h1></body></html>",
        )
            .into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        res
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    List,
    Switch,
    Benefits,
}

/// The primary user, whom the auth faults fall back to.
pub(super) const PRIMARY_USER: i64 = 7001;

/// A request without a usable credential, and what it sent instead (the 401 challenge differs:
/// RFC 6750 §3.1 gives an error code only to a request that tried bearer authentication).
#[derive(Clone, Copy)]
pub(super) enum Unauthenticated {
    /// No Authorization header, or another scheme than Bearer.
    NoBearer,
    /// `Bearer` without a token.
    EmptyBearer,
    /// A bearer token that is unknown or expired.
    BadToken,
}

/// The user id and token behind the request's Authorization header.
pub(super) fn authenticate(
    db: &Db,
    ctx: &Ctx<'_>,
    endpoint: Endpoint,
) -> Result<(i64, String), Unauthenticated> {
    let Some(raw) = ctx.authorization.as_deref() else {
        let lenient = (endpoint == Endpoint::Switch && ctx.has(Fault::IgnoreMissingToken))
            || (endpoint == Endpoint::List && ctx.has(Fault::ListWithoutAuth));
        return if lenient {
            Ok((PRIMARY_USER, String::new()))
        } else {
            Err(Unauthenticated::NoBearer)
        };
    };
    let mut parts = raw.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let mut token = parts.next().unwrap_or_default().trim();
    let scheme_ok = if ctx.has(Fault::SchemeCaseSensitive) {
        scheme == "Bearer"
    } else {
        scheme.eq_ignore_ascii_case("bearer")
    };
    if !scheme_ok {
        if ctx.has(Fault::AcceptRawToken) && parts.next().is_none() && !raw.contains(' ') {
            token = raw.trim();
        } else {
            return Err(Unauthenticated::NoBearer);
        }
    }
    if token.is_empty() {
        return Err(Unauthenticated::EmptyBearer);
    }
    let found = db.tokens.get(token).or_else(|| {
        // A prefix of a live token (at least 8 characters) passes, as the fault says.
        (ctx.has(Fault::TokenPrefixMatch) && token.len() >= 8)
            .then(|| {
                db.tokens
                    .iter()
                    .find(|(t, _)| t.starts_with(token))
                    .map(|(_, v)| v)
            })
            .flatten()
    });
    match found {
        Some(t) if !t.expired || ctx.has(Fault::AcceptExpiredToken) => {
            if let Some(user) = db.users.iter().find(|u| u.id == t.user) {
                *db.last_user_email.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(user.email.clone());
            }
            Ok((t.user, token.to_string()))
        }
        None if ctx.has(Fault::AcceptAnyBearer) => Ok((PRIMARY_USER, token.to_string())),
        _ => Err(Unauthenticated::BadToken),
    }
}

pub(super) fn ctx<'a>(db: &'a Db, headers: &HeaderMap) -> Ctx<'a> {
    Ctx {
        faults: &db.faults,
        variants: &db.variants,
        authorization: headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        last_user_email: db
            .last_user_email
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    }
}
