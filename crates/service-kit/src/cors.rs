//! Cross-origin requests from browsers: which origins may call the servers (`CORS_ALLOWED_ORIGINS`),
//! and the layer that answers preflights and grants (or withholds) access to responses.
//!
//! Credentials (`Access-Control-Allow-Credentials: true`, which lets a page send cookies and read
//! the answer) are granted to the origins listed, each by name, and never with `*`: the refresh
//! cookie of auth-server's browser clients travels only to pages the operator has named. The
//! bearer tokens of every other call are sent by the page explicitly and need no such grant.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, Request, Response, header};
use clap::Args;
use tower::{Layer, Service};
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The response headers scripts of an allowed origin may read, beyond the always-visible ones.
/// One header value, as every answer that is not a preflight carries it.
pub const EXPOSED_HEADERS: &str = "www-authenticate,retry-after,x-request-id";

/// The origins allowed to call a server from a browser.
#[derive(Args, Debug, Clone, Default)]
pub struct CorsArgs {
    /// Origins allowed to call from a browser, comma-separated: `https://app.example.com`,
    /// `http://localhost:*` (any port of that host), or `*` (any origin). Unset: none.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "", hide_default_value = true)]
    pub cors_allowed_origins: AllowedOrigins,
}

impl CorsArgs {
    /// The CORS layer for these origins; `None` when no origin is allowed (no CORS headers at all).
    pub fn layer(&self) -> Option<Cors> {
        let (allow_origin, credentials, grant) = match &self.cors_allowed_origins {
            AllowedOrigins::None => return None,
            AllowedOrigins::Any => (AllowOrigin::any(), AllowCredentials::from(false), Grant::Any),
            AllowedOrigins::List(patterns) => {
                let predicate = || {
                    let patterns = Arc::clone(patterns);
                    move |origin: &HeaderValue, _: &_| allowed(&patterns, origin)
                };
                (
                    AllowOrigin::predicate(predicate()),
                    AllowCredentials::predicate(predicate()),
                    Grant::List(Arc::clone(patterns)),
                )
            }
        };
        let preflight = CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_credentials(credentials)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers(
                EXPOSED_HEADERS
                    .split(',')
                    .map(HeaderName::from_static)
                    .collect::<Vec<_>>(),
            )
            .max_age(PREFLIGHT_MAX_AGE);
        Some(Cors {
            preflight: Arc::new(preflight),
            grant,
        })
    }
}

/// Whether `origin` is one that `patterns` allow.
fn allowed(patterns: &[OriginPattern], origin: &HeaderValue) -> bool {
    origin
        .to_str()
        .ok()
        .and_then(|origin| Origin::parse(origin).ok())
        .is_some_and(|origin| patterns.iter().any(|pattern| pattern.matches(&origin)))
}

/// The CORS layer of both servers. Preflights (every `OPTIONS` request) are tower-http's
/// `CorsLayer`'s to answer. Every other answer gets the same headers tower-http would give it
/// (the test below compares the two), added here for a fraction of the cost: tower-http clones
/// its whole configuration with the service for each request, and builds a header map of its
/// own (joining the `Vary` list into a new value) before copying it into the answer. Here the
/// values are made once and shared, and each request pays for an `Origin` check and up to
/// three header inserts.
#[derive(Clone)]
pub struct Cors {
    preflight: Arc<CorsLayer>,
    grant: Grant,
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

/// Which origins get `Access-Control-Allow-Origin` on an answer that is not a preflight.
#[derive(Debug, Clone)]
enum Grant {
    /// `*`, on every answer; nothing varies with the `Origin`.
    Any,
    /// The request's own `Origin`, with credentials, when a pattern allows it; `Vary: origin`
    /// on every answer.
    List(Arc<[OriginPattern]>),
}

impl<S> Layer<S> for Cors {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsService {
            inner,
            cors: self.clone(),
        }
    }
}

/// [`Cors`] around a service.
#[derive(Clone)]
pub struct CorsService<S> {
    inner: S,
    cors: Cors,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.method() == Method::OPTIONS {
            // The service that was made ready goes to tower-http; a clone stays for the next call.
            let clone = self.inner.clone();
            let ready = std::mem::replace(&mut self.inner, clone);
            let future = self.cors.preflight.layer(ready).call(request);
            return CorsFuture::Preflight { future };
        }
        let origin = match &self.cors.grant {
            Grant::Any => Some(HeaderValue::from_static("*")),
            Grant::List(patterns) => request
                .headers()
                .get(header::ORIGIN)
                .filter(|origin| allowed(patterns, origin))
                .cloned(),
        };
        CorsFuture::Answer {
            future: self.inner.call(request),
            origin,
            vary: matches!(self.cors.grant, Grant::List(_)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`CorsService`].
    #[project = CorsFutureProjection]
    pub enum CorsFuture<F> {
        /// A preflight, answered by tower-http.
        Preflight { #[pin] future: tower_http::cors::ResponseFuture<F> },
        /// Any other request: the inner service's answer, with the grant added.
        Answer { #[pin] future: F, origin: Option<HeaderValue>, vary: bool },
    }
}

impl<F, B, E> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CorsFutureProjection::Preflight { future } => future.poll(cx),
            CorsFutureProjection::Answer { future, origin, vary } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                let headers = response.headers_mut();
                if *vary {
                    // Added to, never replacing, what the answer varies with already.
                    headers.append(header::VARY, HeaderValue::from_static("origin"));
                }
                if let Some(origin) = origin.take() {
                    // Listed origins only: a `*` grant never comes with credentials.
                    if *vary {
                        headers.insert(
                            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                            HeaderValue::from_static("true"),
                        );
                    }
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                }
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSED_HEADERS),
                );
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// The value of `CORS_ALLOWED_ORIGINS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Unset or empty: no origin gets a grant.
    #[default]
    None,
    /// `*`: every origin, answered with `Access-Control-Allow-Origin: *`.
    Any,
    /// Exact origins and `host:*` patterns.
    List(Arc<[OriginPattern]>),
}

impl AllowedOrigins {
    /// Whether `origin` is one this setting names: an exact origin or a `host:*` pattern, never
    /// through `*` (which names no one). What may use credentials, such as a cookie.
    pub fn lists(&self, origin: &HeaderValue) -> bool {
        match self {
            Self::List(patterns) => allowed(patterns, origin),
            Self::None | Self::Any => false,
        }
    }
}

impl FromStr for AllowedOrigins {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(Self::None);
        }
        let entries: Vec<&str> = value.split(',').map(str::trim).collect();
        if entries.contains(&"*") {
            return if entries.len() == 1 {
                Ok(Self::Any)
            } else {
                Err("`*` allows every origin and cannot be combined with other origins".into())
            };
        }
        let patterns = entries
            .into_iter()
            .map(OriginPattern::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::List(patterns.into()))
    }
}

/// Which ports of a host an origin pattern allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ports {
    /// One port (the scheme's default when the origin names none).
    Exact(u16),
    /// `:*`: any port.
    Any,
}

/// One allowed origin: `scheme://host[:port]`, or `scheme://host:*` for any port of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    ports: Ports,
}

impl OriginPattern {
    fn matches(&self, origin: &Origin<'_>) -> bool {
        origin.scheme.eq_ignore_ascii_case(&self.scheme)
            && origin.host.eq_ignore_ascii_case(&self.host)
            && match self.ports {
                Ports::Any => true,
                Ports::Exact(port) => origin.port == port,
            }
    }
}

impl FromStr for OriginPattern {
    type Err = String;

    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        let wrong =
            |why: &str| format!("{entry:?} is not an origin ({why}); expected scheme://host[:port] or scheme://host:*");
        if let Some(host) = entry.strip_suffix(":*") {
            let origin = Origin::parse(host).map_err(wrong)?;
            if origin.explicit_port {
                return Err(wrong("a port and `*` at once"));
            }
            return Ok(Self {
                scheme: origin.scheme.to_ascii_lowercase(),
                host: origin.host.to_ascii_lowercase(),
                ports: Ports::Any,
            });
        }
        let origin = Origin::parse(entry).map_err(wrong)?;
        Ok(Self {
            scheme: origin.scheme.to_ascii_lowercase(),
            host: origin.host.to_ascii_lowercase(),
            ports: Ports::Exact(origin.port),
        })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ports {
            Ports::Any => write!(f, "{}://{}:*", self.scheme, self.host),
            Ports::Exact(port) => write!(f, "{}://{}:{port}", self.scheme, self.host),
        }
    }
}

/// A serialized origin as browsers send it in `Origin`: `http` or `https`, a host, an optional port;
/// borrowed from the header, as sent (compared without regard to case), so that checking a
/// request's origin allocates nothing.
struct Origin<'a> {
    scheme: &'a str,
    host: &'a str,
    /// The scheme's default port when none is named.
    port: u16,
    explicit_port: bool,
}

impl<'a> Origin<'a> {
    fn parse(text: &'a str) -> Result<Self, &'static str> {
        let (scheme, rest) = text.split_once("://").ok_or("no scheme")?;
        let default_port = if scheme.eq_ignore_ascii_case("http") {
            80
        } else if scheme.eq_ignore_ascii_case("https") {
            443
        } else {
            return Err("only http and https");
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err("no path, query or user allowed");
        }
        // `[::1]:8080`: the port follows the closing bracket of an IPv6 address.
        let port_start = match rest.rfind(']') {
            Some(bracket) => rest[bracket..].find(':').map(|colon| bracket + colon),
            None => rest.find(':'),
        };
        let (host, port) = match port_start {
            Some(colon) => (&rest[..colon], Some(&rest[colon + 1..])),
            None => (rest, None),
        };
        if !valid_host(host) {
            return Err("not a valid host");
        }
        let port = match port {
            Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                Some(port.parse::<u16>().map_err(|_| "port out of range")?)
            }
            Some(_) => return Err("not a valid port"),
            None => None,
        };
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(default_port),
            explicit_port: port.is_some(),
        })
    }
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && !host.starts_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(setting: &str, origin: &str) -> bool {
        let Ok(AllowedOrigins::List(patterns)) = setting.parse::<AllowedOrigins>() else {
            panic!("{setting} is a list of origins");
        };
        Origin::parse(origin).is_ok_and(|origin| patterns.iter().any(|pattern| pattern.matches(&origin)))
    }

    /// Every header of an answer, by name, in order of name (the order of headers of different
    /// names means nothing in HTTP; of one name it does).
    fn headers_of<B>(response: &Response<B>) -> Vec<(String, Vec<Vec<u8>>)> {
        let mut names: Vec<&HeaderName> = response.headers().keys().collect();
        names.sort_by_key(|name| name.as_str());
        names
            .into_iter()
            .map(|name| {
                let values = response.headers().get_all(name).iter().map(|v| v.as_bytes().to_vec());
                (name.as_str().to_owned(), values.collect())
            })
            .collect()
    }

    /// The answers of `layer` around a handler that answers `200` with `existing` headers.
    async fn answer<L>(layer: &L, request: Request<String>, existing: &[(HeaderName, &'static str)]) -> Response<String>
    where
        L: Layer<tower::util::BoxCloneService<Request<String>, Response<String>, std::convert::Infallible>>,
        L::Service: Service<Request<String>, Response = Response<String>, Error = std::convert::Infallible>,
    {
        use tower::ServiceExt as _;
        let existing = existing.to_vec();
        let handler = tower::service_fn(move |_: Request<String>| {
            let mut response = Response::new("answer".to_owned());
            for (name, value) in &existing {
                response.headers_mut().append(name, HeaderValue::from_static(value));
            }
            std::future::ready(Ok::<_, std::convert::Infallible>(response))
        });
        let service = layer.layer(tower::util::BoxCloneService::new(handler));
        service.oneshot(request).await.unwrap_or_else(|never| match never {})
    }

    /// Every answer of [`Cors`] has the status, headers and body tower-http's `CorsLayer` gives
    /// it, for every setting, method, `Origin` and headers the handler set itself.
    #[tokio::test]
    async fn answers_are_those_of_tower_http() {
        let origins: [Option<&[u8]>; 8] = [
            None,
            Some(b"https://app.example.com"),
            Some(b"HTTPS://APP.example.COM:443"),
            Some(b"http://localhost:5173"),
            Some(b"https://evil.example"),
            Some(b"null"),
            Some(b"https://app.example.com/path"),
            Some(b"https://app.example.com\xff"),
        ];
        let existing: [&[(HeaderName, &'static str)]; 3] = [
            &[],
            &[(header::VARY, "accept-encoding")],
            &[
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "https://stale.example"),
                (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "false"),
                (header::ACCESS_CONTROL_EXPOSE_HEADERS, "x-other"),
                (header::WWW_AUTHENTICATE, "Bearer"),
            ],
        ];
        let mut compared = 0;
        for setting in ["https://app.example.com,http://localhost:*", "*"] {
            let args = CorsArgs {
                cors_allowed_origins: setting.parse().expect("a setting"),
            };
            let ours = args.layer().expect("origins are allowed");
            let theirs = CorsLayer::clone(&ours.preflight);
            for method in ["GET", "POST", "DELETE", "PUT", "OPTIONS"] {
                for origin in origins {
                    for preflight_method in [None, Some("POST")] {
                        for headers in existing {
                            let request = || {
                                let mut request = Request::builder().method(method).uri("/posts");
                                if let Some(origin) = origin {
                                    request = request.header(
                                        header::ORIGIN,
                                        HeaderValue::from_bytes(origin).expect("a header value"),
                                    );
                                }
                                if let Some(asked) = preflight_method {
                                    request = request.header(header::ACCESS_CONTROL_REQUEST_METHOD, asked);
                                }
                                request.body(String::new()).expect("a request")
                            };
                            let ours = answer(&ours, request(), headers).await;
                            let theirs = answer(&theirs, request(), headers).await;
                            let case = format!("{setting} {method} {origin:?} {preflight_method:?} {headers:?}");
                            assert_eq!(ours.status(), theirs.status(), "{case}");
                            assert_eq!(headers_of(&ours), headers_of(&theirs), "{case}");
                            assert_eq!(ours.body(), theirs.body(), "{case}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 2 * 5 * 8 * 2 * 3);
    }

    /// The header that lets a page send cookies: on preflights and answers for a listed origin,
    /// never for another, never with `*`.
    #[tokio::test]
    async fn credentials_go_to_listed_origins_only() {
        let credentials = |response: &Response<String>| {
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .map(|v| v.as_bytes().to_vec())
        };
        for (setting, origin, granted) in [
            ("https://app.example.com", "https://app.example.com", true),
            ("http://localhost:*", "http://localhost:5173", true),
            ("https://app.example.com", "https://evil.example", false),
            ("*", "https://app.example.com", false),
        ] {
            let layer = CorsArgs {
                cors_allowed_origins: setting.parse().expect("a setting"),
            }
            .layer()
            .expect("origins are allowed");
            for method in ["OPTIONS", "POST"] {
                let request = Request::builder()
                    .method(method)
                    .uri("/token")
                    .header(header::ORIGIN, origin)
                    .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                    .body(String::new())
                    .expect("a request");
                let response = answer(&layer, request, &[]).await;
                let expected = granted.then(|| b"true".to_vec());
                assert_eq!(credentials(&response), expected, "{setting} {origin} {method}");
            }
        }
    }

    #[test]
    fn only_listed_origins_are_listed() {
        let origin = HeaderValue::from_static("https://app.example.com");
        let list: AllowedOrigins = "https://app.example.com".parse().expect("a setting");
        assert!(list.lists(&origin));
        assert!(!list.lists(&HeaderValue::from_static("https://evil.example")));
        assert!(!list.lists(&HeaderValue::from_static("null")));
        assert!(!AllowedOrigins::Any.lists(&origin));
        assert!(!AllowedOrigins::None.lists(&origin));
    }

    #[test]
    fn unset_and_empty_allow_nothing() {
        assert_eq!("".parse(), Ok(AllowedOrigins::None));
        assert_eq!("  ".parse(), Ok(AllowedOrigins::None));
        assert!(CorsArgs::default().layer().is_none());
    }

    #[test]
    fn a_star_alone_is_any_origin() {
        assert_eq!("*".parse(), Ok(AllowedOrigins::Any));
        assert!("*,http://localhost:3000".parse::<AllowedOrigins>().is_err());
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        let setting = "https://app.example.com, http://localhost:5173";
        assert!(allowed(setting, "https://app.example.com"));
        assert!(allowed(setting, "https://app.example.com:443"));
        assert!(allowed(setting, "https://APP.example.com"));
        assert!(allowed(setting, "http://localhost:5173"));
        assert!(!allowed(setting, "http://app.example.com"));
        assert!(!allowed(setting, "https://app.example.com:8443"));
        assert!(!allowed(setting, "https://evil.app.example.com"));
        assert!(!allowed(setting, "https://app.example.com.evil.net"));
        assert!(!allowed(setting, "http://localhost:5174"));
        assert!(!allowed(setting, "http://localhost"));
        assert!(!allowed(setting, "null"));
    }

    #[test]
    fn a_port_wildcard_matches_every_port_of_its_host_only() {
        let setting = "http://localhost:*,http://127.0.0.1:*,http://[::1]:*";
        assert!(allowed(setting, "http://localhost:5173"));
        assert!(allowed(setting, "http://localhost"));
        assert!(allowed(setting, "http://127.0.0.1:40123"));
        assert!(allowed(setting, "http://[::1]:8080"));
        assert!(!allowed(setting, "https://localhost:5173"));
        assert!(!allowed(setting, "http://localhost.evil.net:5173"));
        assert!(!allowed(setting, "http://127.0.0.2:5173"));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for setting in [
            "localhost:3000",
            "http://",
            "ftp://example.com",
            "http://example.com/",
            "http://example.com/app",
            "http://example.com:99999",
            "http://example.com:",
            "http://example.com:80:*",
            "http://*.example.com",
            "https://user@example.com",
            "http://a.com,,http://b.com",
            "null",
        ] {
            assert!(setting.parse::<AllowedOrigins>().is_err(), "{setting} is refused");
        }
    }

    #[test]
    fn patterns_print_as_they_match() {
        let pattern: OriginPattern = "HTTP://LocalHost:*".parse().expect("a pattern");
        assert_eq!(pattern.to_string(), "http://localhost:*");
        let pattern: OriginPattern = "https://example.com".parse().expect("a pattern");
        assert_eq!(pattern.to_string(), "https://example.com:443");
    }
}
