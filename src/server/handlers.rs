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
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::data::Db;
use super::fault::{Fault, Faults};

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
    pub log: Mutex<Vec<Arrival>>,
}

pub(crate) fn router(
    state: Shared,
    traffic: Arc<Traffic>,
    latency: Duration,
    throttle: Option<Throttle>,
) -> Router {
    let started = std::time::Instant::now();
    Router::new()
        .route("/api/public/coworkers/profiles", get(list_profiles))
        .route(
            "/api/public/coworkers/profiles/current",
            put(switch_profile),
        )
        .route(
            "/api/public/coworkers/profiles/current/benefits",
            get(current_benefits),
        )
        .route("/api/token", post(super::token::token))
        .fallback(not_found)
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
                    (applies && n % t.every.max(1) == 0).then(|| (t.status, t.retry_after.clone()))
                });
                async move {
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    if let Some((status, retry_after)) = throttled {
                        let mut res = StatusCode::from_u16(status)
                            .unwrap_or(StatusCode::CONFLICT)
                            .into_response();
                        if let Ok(v) = HeaderValue::from_str(&retry_after) {
                            res.headers_mut().insert(header::RETRY_AFTER, v);
                        }
                        return res;
                    }
                    next.run(req).await
                }
            },
        ))
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
    pub(super) authorization: Option<String>,
}

impl Ctx<'_> {
    fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
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
    fn envelope(&self, status: StatusCode, message: Option<&str>) -> Response {
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
        body.insert(
            "WasSuccessful".into(),
            if self.has(Fault::WasSuccessfulString) {
                Value::String(success.to_string())
            } else {
                Value::Bool(success)
            },
        );
        body.insert("Value".into(), Value::Null);
        let mirrored = if self.has(Fault::StatusNotMirrored) {
            0
        } else {
            status.as_u16()
        };
        body.insert("Status".into(), Value::from(mirrored));
        body.insert("Message".into(), message.map_or(Value::Null, Value::String));
        body.insert("Errors".into(), Value::Null);
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

    fn unauthorized(&self, header_given: bool) -> Response {
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
        let mut res = self.envelope(
            StatusCode::UNAUTHORIZED,
            Some("Authorization has been denied for this request."),
        );
        if !self.has(Fault::NoWwwAuthenticate) {
            let challenge = if header_given {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
            };
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        res
    }

    fn server_error(&self) -> Response {
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
enum Endpoint {
    List,
    Switch,
    Benefits,
}

/// The primary user, whom the auth faults fall back to.
const PRIMARY_USER: i64 = 7001;

/// A request without a usable credential; `header_given` says whether it had an Authorization
/// header at all (the 401 challenge differs).
struct Unauthenticated {
    header_given: bool,
}

/// The user id and token behind the request's Authorization header.
fn authenticate(
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
            Err(Unauthenticated {
                header_given: false,
            })
        };
    };
    let mut parts = raw.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let mut token = parts.next().unwrap_or_default().trim();
    if !scheme.eq_ignore_ascii_case("bearer") {
        if ctx.has(Fault::AcceptRawToken) && parts.next().is_none() && !raw.contains(' ') {
            token = raw.trim();
        } else {
            return Err(Unauthenticated { header_given: true });
        }
    }
    if token.is_empty() {
        return Err(Unauthenticated { header_given: true });
    }
    match db.tokens.get(token) {
        Some(t) if !t.expired || ctx.has(Fault::AcceptExpiredToken) => {
            Ok((t.user, token.to_string()))
        }
        None if ctx.has(Fault::AcceptAnyBearer) => Ok((PRIMARY_USER, token.to_string())),
        _ => Err(Unauthenticated { header_given: true }),
    }
}

fn ctx<'a>(db: &'a Db, headers: &HeaderMap) -> Ctx<'a> {
    Ctx {
        faults: &db.faults,
        authorization: headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    }
}

async fn list_profiles(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let db = lock(&state);
    let ctx = ctx(&db, &headers);
    let (user_id, token) = match authenticate(&db, &ctx, Endpoint::List) {
        Ok(found) => found,
        Err(e) => return ctx.unauthorized(e.header_given),
    };
    let Some(user) = db.users.iter().find(|u| u.id == user_id) else {
        return ctx.unauthorized(true);
    };
    let own = db.profiles.iter().filter(|p| p.owner == user_id).count();
    if ctx.has(Fault::List500) || (ctx.has(Fault::SingleProfileList500) && own == 1) {
        return ctx.server_error();
    }
    let default = db.defaults.get(&user_id).copied();
    let home = db
        .profiles
        .iter()
        .filter(|p| p.owner == user_id)
        .map(|p| p.id)
        .min();
    let mut profiles: Vec<Value> = db
        .profiles
        .iter()
        .filter(|p| p.owner == user_id || ctx.has(Fault::ListsAllUsersProfiles))
        .map(|p| {
            let is_default = Some(p.id) == default
                || (ctx.has(Fault::HomeProfileAlwaysDefault) && Some(p.id) == home);
            let id = if ctx.has(Fault::ProfileIdsAsStrings) {
                Value::String(p.id.to_string())
            } else {
                Value::from(p.id)
            };
            let kind = if ctx.has(Fault::CoworkerTypeAsName) {
                Value::String(
                    if p.coworker_type == 1 {
                        "Individual"
                    } else {
                        "Company"
                    }
                    .into(),
                )
            } else {
                Value::from(p.coworker_type)
            };
            let mut item = json!({
                "Id": id,
                "FullName": p.full_name,
                "CompanyName": p.company_name,
                "Active": p.active,
                "IsDefaultProfile": is_default,
                "CoworkerType": kind,
                "HasVirtualOffice": p.has_virtual_office,
                "VirtualOfficePaused": p.virtual_office_paused,
                "VirtualOfficeContractId": p.virtual_office_contract_id,
            });
            if ctx.has(Fault::ExtraProfileField) {
                item["UpdatedOn"] = Value::String("2026-11-27T08:00:00".into());
            }
            item
        })
        .collect();
    if ctx.has(Fault::DuplicateDefaultProfile)
        && let Some(row) = profiles
            .iter()
            .find(|p| p["IsDefaultProfile"] == Value::Bool(true))
            .cloned()
    {
        profiles.push(row);
    }
    let business = db
        .businesses
        .iter()
        .find(|b| b.id == user.business)
        .map(|b| json!({"Id": b.id, "Name": b.name, "WebAddress": b.web_address}))
        .unwrap_or(Value::Null);
    ctx.json(
        StatusCode::OK,
        &json!({
            "User": {
                "Id": user.id,
                "FullName": user.full_name,
                "Email": user.email,
                "Active": true,
                "IsAdmin": false,
                "AccessToken": token,
            },
            "DefaultBusiness": business,
            "Profiles": profiles,
        }),
    )
}

/// The value of `coworkerId` in the raw query string (the name matched case-insensitively, as
/// ASP.NET model binding does), or `None` when it is absent.
fn coworker_id_param(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case("coworkerId"))
        .map(|(_, value)| value.into_owned())
}

async fn switch_profile(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut db = lock(&state);
    let faults = db.faults.clone();
    let ctx = Ctx {
        faults: &faults,
        authorization: ctx(&db, &headers).authorization,
    };
    let (user_id, _) = match authenticate(&db, &ctx, Endpoint::Switch) {
        Ok(found) => found,
        Err(e) => return ctx.unauthorized(e.header_given),
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if ctx.has(Fault::SwitchRequiresBody) && !json_body {
        return ctx.envelope(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("The request entity's media type is not supported"),
        );
    }
    let Some(raw) = coworker_id_param(query.as_deref()) else {
        if ctx.has(Fault::MissingId500) {
            return ctx.server_error();
        }
        return ctx.envelope(
            StatusCode::BAD_REQUEST,
            Some("coworkerId: is a required field"),
        );
    };
    let raw = raw.trim();
    let Ok(id) = raw.parse::<i64>() else {
        let all_digits = !raw.is_empty()
            && raw
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit());
        if ctx.has(Fault::OverflowId500) && all_digits {
            return ctx.server_error();
        }
        if ctx.has(Fault::NonNumericIdSuccess) {
            return ctx.envelope(StatusCode::OK, None);
        }
        return ctx.envelope(
            StatusCode::BAD_REQUEST,
            Some("coworkerId: is not a valid profile id"),
        );
    };
    let Some(profile) = db.profiles.iter().find(|p| p.id == id).cloned() else {
        if ctx.has(Fault::UnknownId200) {
            return ctx.envelope(StatusCode::OK, None);
        }
        if ctx.has(Fault::UnknownId500) {
            return ctx.server_error();
        }
        return ctx.envelope(StatusCode::NOT_FOUND, Some("Profile not found"));
    };
    if profile.owner != user_id {
        if ctx.has(Fault::AcceptForeignProfile) {
            db.defaults.insert(user_id, id);
            return ctx.envelope(StatusCode::OK, None);
        }
        if ctx.has(Fault::ForeignProfile403) {
            return ctx.envelope(
                StatusCode::FORBIDDEN,
                Some("This profile belongs to another user"),
            );
        }
        // Unknown and foreign ids answer alike, so the endpoint does not reveal which ids exist.
        return ctx.envelope(StatusCode::NOT_FOUND, Some("Profile not found"));
    }
    if !profile.active && !ctx.has(Fault::InactiveSwitchAllowed) {
        return ctx.envelope(
            StatusCode::BAD_REQUEST,
            Some("coworkerId: the profile is not active"),
        );
    }
    if !ctx.has(Fault::SwitchWithoutChange) {
        db.defaults.insert(user_id, id);
    }
    if ctx.has(Fault::EmptySuccessBody) {
        return StatusCode::OK.into_response();
    }
    ctx.envelope(StatusCode::OK, None)
}

async fn current_benefits(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let db = lock(&state);
    let ctx = ctx(&db, &headers);
    let (user_id, _) = match authenticate(&db, &ctx, Endpoint::Benefits) {
        Ok(found) => found,
        Err(e) => return ctx.unauthorized(e.header_given),
    };
    let default = db.defaults.get(&user_id).copied();
    let credits: Vec<Value> = db
        .profiles
        .iter()
        .filter(|p| Some(p.id) == default)
        .map(|p| {
            json!({
                "Id": p.id * 10,
                "Name": format!("Credit of {}", p.id),
                "TotalCredit": 100.0,
                "RemainingCredit": p.credit,
                "CaneBeUsedForBookings": true,
                "CaneBeUsedForEvents": false,
                "IsUniversalCredit": false,
                "IsFromTariff": true,
                "ExpireDate": null,
            })
        })
        .collect();
    ctx.json(
        StatusCode::OK,
        &json!({
            "Personal": {"BookingCredits": credits, "ExtraServices": [], "TimePasses": []},
            "Team": null,
        }),
    )
}

async fn not_found(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let db = lock(&state);
    ctx(&db, &headers).envelope(StatusCode::NOT_FOUND, Some("No such endpoint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coworker_id_is_found_case_insensitively_and_decoded() {
        let cases = [
            (None, None),
            (Some(""), None),
            (Some("coworkerId=12"), Some("12")),
            (Some("a=1&CoworkerID=%2D1"), Some("-1")),
            (Some("coworkerId"), Some("")),
            (Some("coworkerId=1%2"), Some("1%2")),
            (Some("coworkerId=a+b"), Some("a b")),
        ];
        for (query, expected) in cases {
            assert_eq!(
                coworker_id_param(query).as_deref(),
                expected,
                "query {query:?}"
            );
        }
    }
}
