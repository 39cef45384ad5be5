//! The endpoints of the reference server: the profile list, the switch (and what other methods
//! on their paths do), the benefits of the active profile, and the fallback.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::fault::Fault;
use super::handlers::{Ctx, Endpoint, PRIMARY_USER, Shared, authenticate, ctx, lock};
use super::variant::Variant;

pub(super) async fn list_profiles(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut db = lock(&state);
    db.list_reads += 1;
    let db = db;
    let ctx = ctx(&db, &headers);
    let (user_id, token) = match authenticate(&db, &ctx, Endpoint::List) {
        Ok(found) => found,
        Err(e) => return ctx.unauthorized(e),
    };
    let Some(user) = db.users.iter().find(|u| u.id == user_id) else {
        return ctx.unauthorized(super::handlers::Unauthenticated::BadToken);
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
    let home_of = |user: i64| {
        db.profiles
            .iter()
            .filter(|p| p.owner == user)
            .min_by_key(|p| p.id)
    };
    let other_default_cleared = ctx.has(Fault::SwitchClearsOtherDefault)
        && db.defaults.get(&PRIMARY_USER).copied() != home_of(PRIMARY_USER).map(|p| p.id);
    let home_company = home_of(user_id).map(|p| p.company_name.clone());
    let mut profiles: Vec<Value> = db
        .profiles
        .iter()
        .filter(|p| {
            p.owner == user_id
                || ctx.has(Fault::ListsAllUsersProfiles)
                // One profile of the next user leaks into the primary user's list.
                || (ctx.has(Fault::LeakyPrimaryList)
                    && user_id == PRIMARY_USER
                    && db.profiles.iter().find(|q| q.owner != user_id).map(|q| q.id) == Some(p.id))
                || (ctx.has(Fault::LeakyForeignList)
                    && user_id != PRIMARY_USER
                    && db.profiles.iter().find(|q| q.owner == PRIMARY_USER).map(|q| q.id) == Some(p.id))
        })
        .map(|p| {
            let is_default = match db.flags.get(&user_id) {
                Some(flags) if ctx.has(Fault::RacySwitch) => flags.contains(&p.id),
                _ => {
                    Some(p.id) == default
                        || (ctx.has(Fault::HomeProfileAlwaysDefault) && Some(p.id) == home)
                }
            } && !(other_default_cleared && user_id != PRIMARY_USER);
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
            if ctx.has(Fault::DefaultShowsHomeCompany)
                && Some(p.id) == default
                && let Some(company) = &home_company
            {
                item["CompanyName"] = Value::String(company.clone());
            }
            if ctx.has(Fault::ExtraProfileField) || ctx.is(Variant::ExtraMembers) {
                item["UpdatedOn"] = Value::String("2026-11-27T08:00:00".into());
            }
            if ctx.is(Variant::ExtraMembers) {
                item["Avatar"] = Value::String(format!("/en/coworker/avatar/{}", p.id));
            }
            if ctx.is(Variant::NullableMembers) {
                item["VirtualOfficePaused"] = Value::Null;
                item["VirtualOfficeContractId"] = Value::Null;
                if p.coworker_type == 1 {
                    item["CompanyName"] = Value::Null;
                }
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
    if ctx.is(Variant::ShuffledList) && !profiles.is_empty() {
        let n = profiles.len();
        profiles.rotate_left(usize::try_from(db.list_reads).unwrap_or(0) % n);
        if db.list_reads.is_multiple_of(2) {
            profiles.reverse();
        }
    }
    let business = db
        .businesses
        .iter()
        .find(|b| b.id == user.business)
        .map(|b| json!({"Id": b.id, "Name": b.name, "WebAddress": b.web_address}))
        .unwrap_or(Value::Null);
    let mut body = json!({
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
    });
    if ctx.is(Variant::ExtraMembers) {
        body["User"]["Locale"] = Value::String("en-GB".into());
        body["User"]["TimeZone"] = Value::String("Europe/London".into());
        body["HasMultipleProfiles"] = Value::Bool(true);
    }
    let mut res = ctx.json(StatusCode::OK, &body);
    if ctx.has(Fault::PublicCacheList) {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
    }
    res
}

/// Every value of `coworkerId` in the raw query string (the name matched case-insensitively, as
/// ASP.NET model binding does), in order.
fn coworker_id_params(query: Option<&str>) -> Vec<String> {
    query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(name, _)| name.eq_ignore_ascii_case("coworkerId"))
                .map(|(_, value)| value.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `GET` on the switch path: 405, or — with the fault — a switch.
pub(super) async fn switch_by_get(
    State(state): State<Shared>,
    headers: HeaderMap,
    query: RawQuery,
) -> Response {
    let get_switches = lock(&state).faults.contains(&Fault::GetSwitches);
    if get_switches {
        return switch_profile(State(state), headers, query).await;
    }
    method_not_allowed("PUT")
}

/// `DELETE` on the list path: 405, or — with the fault — the default is cleared.
pub(super) async fn delete_list(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut db = lock(&state);
    if !db.faults.contains(&Fault::DeleteListClearsDefault) {
        return method_not_allowed("GET");
    }
    let ctx = ctx(&db, &headers);
    let user = match authenticate(&db, &ctx, Endpoint::List) {
        Ok((user, _)) => user,
        Err(e) => return ctx.unauthorized(e),
    };
    drop(ctx);
    db.defaults.remove(&user);
    StatusCode::NO_CONTENT.into_response()
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut res = StatusCode::METHOD_NOT_ALLOWED.into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

pub(super) async fn switch_profile(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let exclusive = lock(&state)
        .variants
        .contains(&Variant::ThrottleConcurrentSwitch);
    if exclusive {
        {
            let mut db = lock(&state);
            if db.switches_in_flight > 0 {
                let mut res = StatusCode::CONFLICT.into_response();
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return res;
            }
            db.switches_in_flight += 1;
        }
        // The write takes a while, so switches sent together overlap.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let res = switch_now(&state, &headers, query.as_deref());
        let mut db = lock(&state);
        db.switches_in_flight = db.switches_in_flight.saturating_sub(1);
        return res.unwrap_or_else(|racy| racy.response);
    }
    match switch_now(&state, &headers, query.as_deref()) {
        Ok(response) => response,
        Err(racy) => racy.finish(&state).await,
    }
}

/// A switch the racy-switch fault finishes after a gap: the new default is flagged already, and
/// the old one is unflagged only if no other switch ran meanwhile (the bug).
struct RacySwitch {
    user: i64,
    id: i64,
    /// Another switch was in flight when this one started.
    overlapped: bool,
    /// `switches_started` once this one had started.
    started: u64,
    response: Response,
}

impl RacySwitch {
    async fn finish(self, state: &Shared) -> Response {
        // Long enough that a burst overlaps even on a loaded machine.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let mut db = lock(state);
        db.switches_in_flight = db.switches_in_flight.saturating_sub(1);
        db.defaults.insert(self.user, self.id);
        // Alone: no other switch was in flight when it started, and none started since — so
        // the outcome does not depend on which of two overlapping switches finishes first.
        let alone = !self.overlapped && db.switches_started == self.started;
        let flags = db.flags.entry(self.user).or_default();
        if alone {
            flags.retain(|f| *f == self.id);
        }
        self.response
    }
}

/// The switch, decided under the lock; only the racy fault's second step is left for later.
fn switch_now(
    state: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, Box<RacySwitch>> {
    let mut db = lock(state);
    let faults = db.faults.clone();
    let variants = db.variants.clone();
    let request = ctx(&db, headers);
    let ctx = Ctx {
        faults: &faults,
        variants: &variants,
        authorization: request.authorization,
        last_user_email: request.last_user_email,
    };
    let bad_id = if ctx.is(Variant::NotFoundForBadId) {
        StatusCode::NOT_FOUND
    } else if ctx.is(Variant::Unprocessable422) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::BAD_REQUEST
    };
    let params = coworker_id_params(query);
    if ctx.has(Fault::ValidationBeforeAuth)
        && params
            .first()
            .is_none_or(|raw| raw.trim().parse::<i64>().is_err())
    {
        return Ok(ctx.refuse(bad_id, "coworkerId: is not a valid profile id"));
    }
    let (user_id, _) = match authenticate(&db, &ctx, Endpoint::Switch) {
        Ok(found) => found,
        Err(e) => return Ok(ctx.unauthorized(e)),
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if ctx.has(Fault::SwitchRequiresBody) && !json_body {
        return Ok(ctx.envelope(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("The request entity's media type is not supported"),
        ));
    }
    // ASP.NET binds a repeated scalar parameter to one of its values; here the first.
    let (Some(raw), last) = (params.first().cloned(), params.last().cloned()) else {
        if ctx.has(Fault::MissingId500) {
            return Ok(ctx.server_error());
        }
        return Ok(ctx.refuse(bad_id, "coworkerId: is a required field"));
    };
    let raw = raw.trim();
    if raw.is_empty() && ctx.has(Fault::EmptyIdPicksFirst) {
        if let Some(first) = db
            .profiles
            .iter()
            .filter(|p| p.owner == user_id)
            .map(|p| p.id)
            .min()
        {
            db.defaults.insert(user_id, first);
        }
        return Ok(ctx.envelope(StatusCode::OK, None));
    }
    if ctx.has(Fault::Int32Overflow500)
        && raw.parse::<i64>().is_ok_and(|v| i32::try_from(v).is_err())
    {
        return Ok(ctx.server_error());
    }
    let Ok(id) = raw.parse::<i64>() else {
        let all_digits = !raw.is_empty()
            && raw
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit());
        if ctx.has(Fault::OverflowId500) && all_digits {
            return Ok(ctx.server_error());
        }
        if ctx.has(Fault::NonNumericIdSuccess) {
            return Ok(ctx.envelope(StatusCode::OK, None));
        }
        if ctx.has(Fault::StackTraceInErrors) && !all_digits {
            return Ok(ctx.refuse(
                bad_id,
                "System.FormatException: The input string 'x' was not in a correct format.\n   at System.Number.ThrowFormatException(ReadOnlySpan`1 value)\n   at Nexudus.Api.Public.CoworkersController.SetCurrentProfile(String coworkerId) in C:\\build\\src\\Nexudus.Api\\Public\\CoworkersController.cs:line 214",
            ));
        }
        return Ok(ctx.refuse(bad_id, "coworkerId: is not a valid profile id"));
    };
    let Some(profile) = db.profiles.iter().find(|p| p.id == id).cloned() else {
        if ctx.has(Fault::UnknownId200) {
            return Ok(ctx.envelope(StatusCode::OK, None));
        }
        if ctx.has(Fault::UnknownId500) {
            return Ok(ctx.server_error());
        }
        return Ok(ctx.refuse(StatusCode::NOT_FOUND, &not_found_text(&ctx, id)));
    };
    // The faults that check ownership on one value and switch to another.
    let spelled = raw != id.to_string();
    let unchecked_last = ctx
        .has(Fault::RepeatedIdUnchecked)
        .then(|| last.as_deref().and_then(|l| l.trim().parse::<i64>().ok()))
        .flatten()
        .filter(|l| *l != id && params.len() > 1);
    if let Some(last) = unchecked_last
        && profile.owner == user_id
    {
        db.defaults.insert(user_id, last);
        return Ok(ctx.envelope(StatusCode::OK, None));
    }
    if profile.owner != user_id && ctx.has(Fault::SwitchIgnoresTokenOwner) {
        db.defaults.insert(profile.owner, id);
        return Ok(ctx.envelope(StatusCode::OK, None));
    }
    if profile.owner != user_id {
        if ctx.has(Fault::AcceptForeignProfile)
            || (ctx.has(Fault::ForeignIdSpellingAccepted) && spelled)
        {
            db.defaults.insert(user_id, id);
            return Ok(ctx.envelope(StatusCode::OK, None));
        }
        if ctx.has(Fault::ForeignProfile403) {
            return Ok(ctx.envelope(
                StatusCode::FORBIDDEN,
                Some("This profile belongs to another user"),
            ));
        }
        if ctx.has(Fault::RefusalNamesOwner)
            && let Some(owner) = db.users.iter().find(|u| u.id == profile.owner)
        {
            let message = format!(
                "Profile {id} belongs to {} ({})",
                owner.full_name, owner.email
            );
            return Ok(ctx.refuse(StatusCode::NOT_FOUND, &message));
        }
        if ctx.has(Fault::DistinctForeignRefusal) {
            return Ok(ctx.refuse(StatusCode::NOT_FOUND, "This profile is not one of yours"));
        }
        // Unknown and foreign ids answer alike, so the endpoint does not reveal which ids exist.
        return Ok(ctx.refuse(StatusCode::NOT_FOUND, &not_found_text(&ctx, id)));
    }
    if !profile.active && !ctx.has(Fault::InactiveSwitchAllowed) {
        let status = if ctx.is(Variant::InactiveForbidden) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        return Ok(ctx.refuse(status, "coworkerId: the profile is not active"));
    }
    if ctx.has(Fault::RacySwitch) {
        // Two steps with a gap: flag the new default now, unflag the others when done.
        let current = db.defaults.get(&user_id).copied();
        let overlapped = db.switches_in_flight > 0;
        db.switches_in_flight += 1;
        db.switches_started += 1;
        let started = db.switches_started;
        let flags = db.flags.entry(user_id).or_default();
        if flags.is_empty() {
            flags.extend(current);
        }
        flags.insert(id);
        return Err(Box::new(RacySwitch {
            user: user_id,
            id,
            overlapped,
            started,
            response: ctx.envelope(StatusCode::OK, None),
        }));
    }
    if !ctx.has(Fault::SwitchWithoutChange) {
        db.defaults.insert(user_id, id);
    }
    if ctx.has(Fault::EmptySuccessBody) {
        return Ok(StatusCode::OK.into_response());
    }
    Ok(ctx.envelope(StatusCode::OK, None))
}

/// The 404 text for an id the user cannot switch to: the same whether it names another user's
/// profile or none.
fn not_found_text(ctx: &Ctx<'_>, id: i64) -> String {
    if ctx.is(Variant::Other404Texts) {
        format!("No customer profile matches coworkerId {id}.")
    } else {
        "Profile not found".into()
    }
}

pub(super) async fn current_benefits(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let db = lock(&state);
    let ctx = ctx(&db, &headers);
    let (user_id, _) = match authenticate(&db, &ctx, Endpoint::Benefits) {
        Ok(found) => found,
        Err(e) => return ctx.unauthorized(e),
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

/// What no route matched. Another spelling of an endpoint's path (letter case, a trailing
/// slash) is routed to it under the `lenient_routing` variant, as ASP.NET routes; under the
/// `path_case_skips_auth` fault the list answers it without asking for a token.
pub(super) async fn not_found(
    State(state): State<Shared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    mut headers: HeaderMap,
    query: RawQuery,
) -> Response {
    let spelled = uri.path().trim_end_matches('/').to_ascii_lowercase();
    let (lenient, skips_auth, primary_token) = {
        let db = lock(&state);
        let primary_token = db
            .tokens
            .iter()
            .find(|(_, t)| t.user == PRIMARY_USER && !t.expired)
            .map(|(token, _)| token.clone());
        (
            db.variants.contains(&Variant::LenientRouting),
            db.faults.contains(&Fault::PathCaseSkipsAuth),
            primary_token,
        )
    };
    let list = spelled == "/api/public/coworkers/profiles";
    let switch = spelled == "/api/public/coworkers/profiles/current";
    if list && method == axum::http::Method::GET && skips_auth {
        if let Some(token) = primary_token
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            headers.insert(header::AUTHORIZATION, value);
        }
        return list_profiles(State(state), headers).await;
    }
    if lenient {
        if list && method == axum::http::Method::GET {
            return list_profiles(State(state), headers).await;
        }
        if switch && method == axum::http::Method::PUT {
            return switch_profile(State(state), headers, query).await;
        }
    }
    let db = lock(&state);
    ctx(&db, &headers).refuse(StatusCode::NOT_FOUND, "No such endpoint")
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
            (Some("coworkerId=1&coworkerId=2"), Some("1")),
        ];
        for (query, expected) in cases {
            assert_eq!(
                coworker_id_params(query).first().map(String::as_str),
                expected,
                "query {query:?}"
            );
        }
        assert_eq!(
            coworker_id_params(Some("coworkerId=1&coworkerid=2")),
            vec!["1", "2"]
        );
    }
}
