//! The only module that knows reqwest: sends one request, reads a bounded body, and hands back
//! plain data ([`Exchange`]). Transport problems are data too ([`TransportError`]), never `Err`
//! that escapes a run.
//!
//! Limits live here: the per-request timeout (whole exchange, body included), the body cap, no
//! redirects followed (a redirect is a response like any other, for the rules to judge), no
//! silent retries, and no proxy for loopback targets.

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};

mod hint;
mod pace;

use hint::{scheme_mismatch, with_hint};
use pace::{Pacer, Window};

/// How requests are sent.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Limit for one exchange, from connect to the end of the body.
    pub timeout: Duration,
    /// Bodies longer than this are not read further; the exchange is then broken.
    pub max_body: usize,
    /// Least time between the starts of two requests; `None` sends as fast as the target answers.
    pub pace: Option<Duration>,
    /// Least time between the starts of two writes (PUT, POST, DELETE, PATCH).
    pub write_pace: Option<Duration>,
    /// How often a throttled answer (409 or 429 with `Retry-After`) is retried.
    pub throttle_retries: u32,
    /// The longest `Retry-After` honoured; longer waits are cut to this.
    pub max_retry_after: Duration,
    /// PEM certificates of CAs trusted besides the system's (`--cacert`).
    pub cacert: Option<Vec<u8>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
            pace: None,
            write_pace: None,
            throttle_retries: 3,
            max_retry_after: Duration::from_secs(30),
            cacert: None,
        }
    }
}

/// A request as the harness means it; `authorization` is the header's full value.
#[derive(Clone, Default)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// A query string sent exactly as written (instead of `query`), for probes whose point is
    /// the encoding: percent-encoded digits, a repeated parameter, a name without `=`.
    pub raw_query: Option<String>,
    pub authorization: Option<String>,
    /// Further headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Content type and bytes of a body; `None` sends none (PUT/POST then say `Content-Length: 0`).
    pub body: Option<(&'static str, Vec<u8>)>,
}

/// What came back, read completely (or up to the body cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Lowercase names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why the harness could not judge a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The connection could not be made.
    Connect(String),
    /// No complete answer within the timeout.
    Timeout(Duration),
    /// The body was longer than the cap.
    BodyTooLarge(usize),
    /// Still throttled (409/429 with `Retry-After`) after every retry.
    Throttled { status: u16, attempts: u32 },
    /// Not sent, or abandoned: the run was interrupted or its deadline passed.
    Cancelled(String),
    /// Anything else the HTTP stack reported (reset, protocol error, …).
    Other(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(m) => write!(f, "cannot connect: {m}"),
            TransportError::Timeout(d) => {
                write!(
                    f,
                    "no complete response within {:.1}s (--timeout)",
                    d.as_secs_f64()
                )
            }
            TransportError::BodyTooLarge(n) => {
                write!(
                    f,
                    "response body exceeds the {n}-byte cap; the rest was not read"
                )
            }
            TransportError::Throttled { status, attempts } => write!(
                f,
                "still throttled ({status} with Retry-After) after {attempts} attempts; lower --max-rps or raise --throttle-retries"
            ),
            TransportError::Cancelled(why) => write!(f, "not completed: {why}"),
            TransportError::Other(m) => write!(f, "transport error: {m}"),
        }
    }
}

/// One request and its outcome, with the URL as sent (it never holds a secret).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    pub url: String,
    pub outcome: Result<HttpResponse, TransportError>,
    pub elapsed: Duration,
    /// How many throttled answers were waited out and retried.
    pub retries: u32,
}

impl Exchange {
    /// An exchange that was never sent.
    pub fn cancelled(method: &'static str, url: String, why: &str) -> Exchange {
        Exchange {
            method,
            url,
            outcome: Err(TransportError::Cancelled(why.to_string())),
            elapsed: Duration::ZERO,
            retries: 0,
        }
    }
}

/// The seconds of a `Retry-After` header; an HTTP date counts as one second.
fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    Some(retry_after_value(value, std::time::SystemTime::now()))
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date measured from `now`; a date in
/// the past waits 0 s, an unreadable value 1 s.
fn retry_after_value(value: &str, now: std::time::SystemTime) -> Duration {
    if let Some(secs) = value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
    {
        return Duration::from_secs_f64(secs);
    }
    match httpdate::parse_http_date(value) {
        Ok(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        Err(_) => Duration::from_secs(1),
    }
}

/// A pooled client bound to one target.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    base: String,
    options: HttpOptions,
    pacer: std::sync::Arc<Pacer>,
    window: std::sync::Arc<Window>,
}

/// A target URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBaseUrl(pub String);

impl HttpClient {
    /// A client for `base` (scheme, host, optional port and path prefix).
    ///
    /// # Errors
    /// When `base` is not an absolute http(s) URL, or the TLS stack cannot start.
    pub fn new(base: &str, options: HttpOptions) -> Result<HttpClient, BadBaseUrl> {
        let url = parse_base_url(base)?;
        // The crypto behind TLS: ring (see Cargo.toml). Installed once for the process; a second
        // install finds it there and changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .connect_timeout(options.timeout)
            .timeout(options.timeout)
            .user_agent(concat!("nexudus-conformance/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&url) {
            builder = builder.no_proxy();
        }
        if let Some(pem) = &options.cacert {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| BadBaseUrl(format!("--cacert: {}", error_chain(&e))))?;
            builder = builder.tls_certs_merge(certificates);
        }
        let client = builder.build().map_err(|e| {
            BadBaseUrl(format!("cannot start the HTTP client: {}", error_chain(&e)))
        })?;
        Ok(HttpClient {
            client,
            base: url.as_str().trim_end_matches('/').to_string(),
            options,
            pacer: std::sync::Arc::default(),
            window: std::sync::Arc::default(),
        })
    }

    /// The fewest requests in flight at once the target's throttling brought the client down
    /// to, if it ever throttled requests.
    pub fn slowed_to(&self) -> Option<usize> {
        self.window.lock().narrowest
    }

    /// The full URL a request goes to (the query percent-encoded).
    pub fn url_for(&self, request: &HttpRequest) -> String {
        let mut url = format!("{}{}", self.base, request.path);
        if let Some(raw) = &request.raw_query {
            url.push('?');
            url.push_str(raw);
        } else if !request.query.is_empty() {
            let encoded: Vec<String> = request
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url.push('?');
            url.push_str(&encoded.join("&"));
        }
        url
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// Sends the request and reads the response; never fails, the outcome says what happened.
    pub async fn send(&self, request: &HttpRequest) -> Exchange {
        self.send_within(request, self.options.timeout).await
    }

    /// Like [`HttpClient::send`], each attempt limited to `limit` (at most the timeout). Waits
    /// for its pacing slot first, and waits out throttled answers that carry `Retry-After`.
    pub async fn send_within(&self, request: &HttpRequest, limit: Duration) -> Exchange {
        let url = self.url_for(request);
        let limit = limit.min(self.options.timeout);
        let started = Instant::now();
        let mut retries = 0;
        let outcome = loop {
            Pacer::wait(&self.pacer.next_any, self.options.pace).await;
            if is_write(request.method) {
                Pacer::wait(&self.pacer.next_write, self.options.write_pace).await;
            }
            // reqwest's own timeout covers the body too; this outer one is a guard against
            // anything in the stack that does not observe it.
            let guard = limit + Duration::from_millis(500);
            let slot = self.window.acquire().await;
            let outcome =
                match tokio::time::timeout(guard, self.exchange(request, &url, limit)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(TransportError::Timeout(limit)),
                };
            let throttled = outcome
                .as_ref()
                .ok()
                .filter(|r| r.status == 409 || r.status == 429)
                .and_then(|r| retry_after(r).map(|wait| (r.status, wait)));
            if throttled.is_some() {
                self.window.throttled();
            } else if outcome.is_ok() {
                self.window.answered();
            }
            // The slot is given back before any wait: others go on in the narrower window.
            drop(slot);
            match throttled {
                Some((status, _)) if retries >= self.options.throttle_retries => {
                    break Err(TransportError::Throttled {
                        status,
                        attempts: retries + 1,
                    });
                }
                Some((_, wait)) => {
                    retries += 1;
                    let _cooling = self.window.cool();
                    tokio::time::sleep(wait.min(self.options.max_retry_after)).await;
                }
                None => break outcome,
            }
        };
        Exchange {
            method: request.method,
            url,
            outcome,
            elapsed: started.elapsed(),
            retries,
        }
    }

    async fn exchange(
        &self,
        request: &HttpRequest,
        url: &str,
        limit: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| TransportError::Other(e.to_string()))?;
        let mut builder = self.client.request(method, url).timeout(limit);
        if let Some(value) = &request.authorization {
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                TransportError::Other("authorization value is not a valid header".into())
            })?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some((content_type, bytes)) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(bytes.clone());
        } else if request.method == "PUT" || request.method == "POST" {
            // No body is documented; send an explicit empty one, as browsers do for axios.put(url).
            builder = builder.header(reqwest::header::CONTENT_LENGTH, "0");
        }
        let mut response = builder.send().await.map_err(|e| self.classify(&e, limit))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if response
            .content_length()
            .is_some_and(|n| n > self.options.max_body as u64)
        {
            return Err(TransportError::BodyTooLarge(self.options.max_body));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.classify(&e, limit))?
        {
            if body.len() + chunk.len() > self.options.max_body {
                return Err(TransportError::BodyTooLarge(self.options.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn classify(&self, e: &reqwest::Error, limit: Duration) -> TransportError {
        let chain = error_chain(e);
        if e.is_timeout() {
            TransportError::Timeout(limit)
        } else if let Some(hint) = scheme_mismatch(&self.base, &chain) {
            TransportError::Connect(hint)
        } else if e.is_connect() {
            TransportError::Connect(with_hint(&self.base, chain))
        } else {
            TransportError::Other(chain)
        }
    }
}

/// Checks that `pem` holds at least one certificate (`--cacert`).
///
/// # Errors
/// A lowercase message: unreadable PEM, or none in it.
pub fn check_certificates(pem: &[u8]) -> Result<usize, String> {
    match reqwest::Certificate::from_pem_bundle(pem) {
        Ok(certificates) if certificates.is_empty() => {
            Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())
        }
        Ok(certificates) => Ok(certificates.len()),
        Err(e) => Err(format!("not PEM certificates: {}", error_chain(&e))),
    }
}

/// The error and its sources, joined, without the URL reqwest adds (we print it separately).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        let text = match text.find(" for url (") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        if !parts.contains(&text) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// Checks a `--base-url`: absolute, http or https, a host, no credentials, no query.
///
/// # Errors
/// A lowercase message with the fix.
pub fn parse_base_url(base: &str) -> Result<reqwest::Url, BadBaseUrl> {
    let url = reqwest::Url::parse(base).map_err(|e| {
        BadBaseUrl(format!(
            "`{base}` is not a URL ({e}); write it as https://SPACE.spaces.nexudus.com"
        ))
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(BadBaseUrl(format!(
            "`{base}` uses the scheme `{}`; the target must be http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(BadBaseUrl(format!("`{base}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BadBaseUrl(
            "the base URL holds credentials; pass them with --token instead".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BadBaseUrl(format!(
            "`{base}` has a query or fragment; give only scheme, host, port and path prefix"
        )));
    }
    Ok(url)
}

/// Whether the URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// What a query component keeps unencoded: RFC 3986's unreserved characters.
const QUERY_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_COMPONENT).to_string()
}

/// Whether the pacer spaces `method` as a write (Nexudus limits writes apart from requests): any
/// method but the safe ones, GET, HEAD and OPTIONS (RFC 9110 §9.2.1).
pub fn is_write(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unsafe_methods_are_paced_as_writes() {
        let writes: Vec<&str> = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
            .into_iter()
            .filter(|m| is_write(m))
            .collect();
        assert_eq!(writes, ["PUT", "POST", "PATCH", "DELETE"]);
    }

    #[test]
    fn base_urls() {
        let cases = [
            ("https://space.spaces.nexudus.com", Ok(())),
            ("http://127.0.0.1:8080/prefix/", Ok(())),
            ("ftp://x", Err("scheme `ftp`")),
            ("space.spaces.nexudus.com", Err("is not a URL")),
            ("https://u:p@host", Err("holds credentials")),
            ("https://host/?a=1", Err("query or fragment")),
        ];
        for (input, expected) in cases {
            let got = parse_base_url(input).map(|_| ()).map_err(|e| e.0);
            match (got, expected) {
                (Ok(()), Ok(())) => {}
                (Err(m), Err(fragment)) => assert!(m.contains(fragment), "{input}: {m}"),
                (got, _) => panic!("{input}: {got:?}"),
            }
        }
    }

    #[test]
    fn urls_are_joined_and_encoded() {
        let client = HttpClient::new("http://127.0.0.1:9/base/", HttpOptions::default()).unwrap();
        let request = HttpRequest {
            method: "PUT",
            path: "/api/x".into(),
            query: vec![("coworkerId".into(), "1.5 &x".into())],
            authorization: None,
            ..HttpRequest::default()
        };
        assert_eq!(
            client.url_for(&request),
            "http://127.0.0.1:9/base/api/x?coworkerId=1.5%20%26x"
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let cases = [
            ("2", Duration::from_secs(2)),
            ("0.5", Duration::from_millis(500)),
            ("Sun, 06 Nov 1994 08:49:40 GMT", Duration::from_secs(3)),
            ("Sun, 06 Nov 1994 08:49:30 GMT", Duration::ZERO),
            ("soon", Duration::from_secs(1)),
            ("-1", Duration::from_secs(1)),
        ];
        for (value, expected) in cases {
            assert_eq!(retry_after_value(value, now), expected, "{value}");
        }
    }

    #[test]
    fn loopback_detection() {
        for (url, expected) in [
            ("http://127.0.0.1:1", true),
            ("http://127.5.0.1:1", true),
            ("http://[::1]:1", true),
            ("http://LOCALHOST:1", true),
            ("https://space.spaces.nexudus.com", false),
        ] {
            assert_eq!(
                is_loopback(&reqwest::Url::parse(url).unwrap()),
                expected,
                "{url}"
            );
        }
    }
}
