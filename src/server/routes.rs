//! The routes of the reference server and what happens to every request whatever its route:
//! counting and logging it, latency, throttling, and the variants that change how an answer
//! travels.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::endpoints;
use super::handlers::Shared;
use super::variant::{Variant, Variants};

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
    pub count: std::sync::atomic::AtomicU64,
    counted_for_throttle: std::sync::atomic::AtomicU64,
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
