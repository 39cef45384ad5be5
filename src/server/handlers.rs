//! Request handling of the reference server.
//!
//! Where the documentation is silent the server takes the choice the harness's SHOULD rules
//! expect: failures are answered with an ActionConfirmation envelope whose `Status` mirrors the
//! HTTP status, 401 carries `WWW-Authenticate: Bearer`, malformed `coworkerId` values get 400.
//! Each injected [`Fault`] bends exactly one of these behaviours.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::data::Db;
use super::endpoints;
use super::fault::{Fault, Faults};
use super::variant::{Variant, Variants};

pub(crate) type Shared = Arc<Mutex<Db>>;

/// Throttling as Nexudus does it past its rate limits (contract-notes §6): a 409 (or 429) with
/// `Retry-After` and an empty body. Not a contract fault; it tests the harness's politeness.
#[derive(Debug, Clone)]
pub struct Throttle {
    /// Every `every`-th request (counting only the ones it applies to) is throttled; 1 throttles all.
    pub every: u64,
    /// Only PUT, POST, DELETE and PATCH requests are throttled.
    pub writes_only: bool,
    /// 409 (what Nexudus documents) or 429.
    pub status: u16,
    /// The `Retry-After` value, in seconds.
    pub retry_after: String,
    /// A request (method, URI, Authorization) is throttled at most once: when it comes again
    /// it is served (as a windowed limit lets a retry through after Retry-After), so a client
    /// that waits is never starved — however many identical requests others send meanwhile.
    pub spare_retries: bool,
}

/// One request as the server saw it arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Since the server started.
    pub at: Duration,
    pub method: String,
    pub path: String,
}

/// What the server counts and logs of its traffic, whatever the route.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub count: AtomicU64,
    counted_for_throttle: AtomicU64,
    /// Requests (method, URI, Authorization) that were throttled once.
    throttled: Mutex<std::collections::HashSet<String>>,
    pub log: Mutex<Vec<Arrival>>,
}

pub(crate) fn router(
    state: Shared,
    traffic: Arc<Traffic>,
    latency: Duration,
    throttle: Option<Throttle>,
    variants: Variants,
) -> Router {
    let started = std::time::Instant::now();
    Router::new()
        .route(
            "/api/public/coworkers/profiles",
            get(endpoints::list_profiles).delete(endpoints::delete_list),
        )
        .route(
            "/api/public/coworkers/profiles/current",
            put(endpoints::switch_profile).get(endpoints::switch_by_get),
        )
        .route(
            "/api/public/coworkers/profiles/current/benefits",
            get(endpoints::current_benefits),
        )
        .route("/api/token", post(super::token::token))
        .fallback(endpoints::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                traffic.count.fetch_add(1, Ordering::Relaxed);
                traffic
                    .log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Arrival {
                        at: started.elapsed(),
                        method: req.method().to_string(),
                        path: req.uri().path().to_string(),
                    });
                let throttled = throttle.as_ref().and_then(|t| {
                    let applies = !t.writes_only || req.method() != axum::http::Method::GET;
                    let n = if applies {
                        traffic.counted_for_throttle.fetch_add(1, Ordering::Relaxed) + 1
                    } else {
                        0
                    };
                    let mut throttle_now = applies && n % t.every.max(1) == 0;
                    if t.spare_retries {
                        let key = format!(
                            "{} {} {:?}",
                            req.method(),
                            req.uri(),
                            req.headers().get(header::AUTHORIZATION)
                        );
                        let mut last = traffic.throttled.lock().unwrap_or_else(|e| e.into_inner());
                        if last.contains(&key) {
                            throttle_now = false;
                        } else if throttle_now {
                            last.insert(key);
                        }
                    }
                    throttle_now.then(|| (t.status, t.retry_after.clone()))
                });
                let variants = variants.clone();
                async move {
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    let res = if let Some((status, retry_after)) = throttled {
                        let mut res = StatusCode::from_u16(status)
                            .unwrap_or(StatusCode::CONFLICT)
                            .into_response();
                        if let Ok(v) = HeaderValue::from_str(&retry_after) {
                            res.headers_mut().insert(header::RETRY_AFTER, v);
                        }
                        res
                    } else {
                        next.run(req).await
                    };
                    transport_variants(res, &variants).await
                }
            },
        ))
}

/// The variants that change how a response travels, not what it says.
async fn transport_variants(res: Response, variants: &Variants) -> Response {
    let mut res = res;
    if variants.contains(&Variant::Method501) && res.status() == StatusCode::METHOD_NOT_ALLOWED {
        res = StatusCode::NOT_IMPLEMENTED.into_response();
    }
    if variants.contains(&Variant::CacheNoStore) {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store, must-revalidate"),
        );
    }
    let mut res = if variants.contains(&Variant::ChunkedBodies) {
        let (mut parts, body) = res.into_parts();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                parts.headers.remove(header::CONTENT_LENGTH);
                // A stream of unknown length: hyper sends it with Transfer-Encoding: chunked.
                let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = bytes
                    .chunks(16)
                    .map(|c| Ok(axum::body::Bytes::copy_from_slice(c)))
                    .collect();
                let stream = futures_util::stream::iter(chunks);
                Response::from_parts(parts, axum::body::Body::from_stream(stream))
            }
            Err(_) => Response::from_parts(parts, axum::body::Body::empty()),
        }
    } else {
        res
    };
    if variants.contains(&Variant::ConnectionClose) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

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
