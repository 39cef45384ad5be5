//! Request handling of the reference server.
//!
//! Where the documentation is silent the server takes the choice the harness's SHOULD rules
//! expect: failures are answered with an ActionConfirmation envelope whose `Status` mirrors the
//! HTTP status, 401 carries `WWW-Authenticate: Bearer`, malformed `coworkerId` values get 400.

use std::sync::{Arc, Mutex, MutexGuard};

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::data::Db;

pub(crate) type Shared = Arc<Mutex<Db>>;

/// Requests received, whatever their route.
pub(crate) type Counter = Arc<AtomicU64>;

pub(crate) fn router(state: Shared, counter: Counter) -> Router {
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
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                counter.fetch_add(1, Ordering::Relaxed);
                next.run(req)
            },
        ))
}

pub(crate) fn default_of(state: &Shared, user: i64) -> Option<i64> {
    lock(state).defaults.get(&user).copied()
}

fn lock(state: &Shared) -> MutexGuard<'_, Db> {
    // A poisoned lock only means a handler panicked mid-request; the data is still consistent
    // because every handler mutates at most one map entry.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

/// The ActionConfirmation envelope, success or failure form.
fn envelope(status: StatusCode, message: Option<&str>) -> Response {
    json_response(
        status,
        &json!({
            "WasSuccessful": status.is_success(),
            "Value": null,
            "Status": status.as_u16(),
            "Message": message,
            "Errors": null,
        }),
    )
}

fn unauthorized(token_given: bool) -> Response {
    let mut res = envelope(
        StatusCode::UNAUTHORIZED,
        Some("Authorization has been denied for this request."),
    );
    let challenge = if token_given {
        "Bearer error=\"invalid_token\""
    } else {
        "Bearer"
    };
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    res
}

/// Why a request is not authenticated: whether it carried an Authorization header at all.
struct Unauthenticated {
    header_given: bool,
}

impl Unauthenticated {
    fn response(&self) -> Response {
        unauthorized(self.header_given)
    }
}

/// The user id and token behind a valid `Authorization: Bearer TOKEN` header.
fn authenticate(db: &Db, headers: &HeaderMap) -> Result<(i64, String), Unauthenticated> {
    let refused = Err(Unauthenticated { header_given: true });
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Err(Unauthenticated {
            header_given: false,
        });
    };
    let Ok(raw) = raw.to_str() else {
        return refused;
    };
    let mut parts = raw.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default().trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return refused;
    }
    match db.tokens.get(token) {
        Some(t) if !t.expired => Ok((t.user, token.to_string())),
        _ => refused,
    }
}

async fn list_profiles(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let db = lock(&state);
    let (user_id, token) = match authenticate(&db, &headers) {
        Ok(found) => found,
        Err(e) => return e.response(),
    };
    let Some(user) = db.users.iter().find(|u| u.id == user_id) else {
        return unauthorized(true);
    };
    let default = db.defaults.get(&user_id).copied();
    let profiles: Vec<Value> = db
        .profiles
        .iter()
        .filter(|p| p.owner == user_id)
        .map(|p| {
            json!({
                "Id": p.id,
                "FullName": p.full_name,
                "CompanyName": p.company_name,
                "Active": p.active,
                "IsDefaultProfile": Some(p.id) == default,
                "CoworkerType": p.coworker_type,
                "HasVirtualOffice": p.has_virtual_office,
                "VirtualOfficePaused": p.virtual_office_paused,
                "VirtualOfficeContractId": p.virtual_office_contract_id,
            })
        })
        .collect();
    let business = db
        .businesses
        .iter()
        .find(|b| b.id == user.business)
        .map(|b| json!({"Id": b.id, "Name": b.name, "WebAddress": b.web_address}))
        .unwrap_or(Value::Null);
    json_response(
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
    query?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        name.eq_ignore_ascii_case("coworkerId")
            .then(|| percent_decode(value))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn switch_profile(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut db = lock(&state);
    let (user_id, _) = match authenticate(&db, &headers) {
        Ok(found) => found,
        Err(e) => return e.response(),
    };
    let Some(raw) = coworker_id_param(query.as_deref()) else {
        return envelope(
            StatusCode::BAD_REQUEST,
            Some("coworkerId: is a required field"),
        );
    };
    let Ok(id) = raw.trim().parse::<i64>() else {
        return envelope(
            StatusCode::BAD_REQUEST,
            Some("coworkerId: is not a valid profile id"),
        );
    };
    let Some(profile) = db
        .profiles
        .iter()
        .find(|p| p.id == id && p.owner == user_id)
    else {
        // Unknown and foreign ids answer alike, so the endpoint does not reveal which ids exist.
        return envelope(StatusCode::NOT_FOUND, Some("Profile not found"));
    };
    if !profile.active {
        return envelope(
            StatusCode::BAD_REQUEST,
            Some("coworkerId: the profile is not active"),
        );
    }
    db.defaults.insert(user_id, id);
    envelope(StatusCode::OK, None)
}

async fn current_benefits(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let db = lock(&state);
    let (user_id, _) = match authenticate(&db, &headers) {
        Ok(found) => found,
        Err(e) => return e.response(),
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
    json_response(
        StatusCode::OK,
        &json!({
            "Personal": {"BookingCredits": credits, "ExtraServices": [], "TimePasses": []},
            "Team": null,
        }),
    )
}

async fn not_found() -> Response {
    envelope(StatusCode::NOT_FOUND, Some("No such endpoint"))
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
