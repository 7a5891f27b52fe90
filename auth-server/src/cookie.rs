//! The refresh cookie of browser clients (`"delivery": "cookie"` at login): its attributes,
//! reading it from a request, and the origin check of every request that uses it.
//!
//! One cookie per route that reads it (`Path=/token` and `Path=/logout`), both set, replaced
//! and cleared together, `HttpOnly` so that no script reads the token. A request that uses the
//! cookie must be JSON (checked before anything else by `AppJson`: an HTML form cannot send
//! that, and a script on another origin cannot without a preflight) and must come from an
//! origin `CORS_ALLOWED_ORIGINS` names, or from the server's own origin.

use std::fmt;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use service_kit::ApiError;
use service_kit::cors::AllowedOrigins;

use crate::error::AuthError;

/// The cookie's name.
pub const NAME: &str = "refresh_token";

/// The routes that read the cookie: one cookie each.
pub const PATHS: [&str; 2] = ["/token", "/logout"];

/// `REFRESH_COOKIE_SAMESITE`: when a browser sends the cookie with a request another site started.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SameSite {
    /// Only with requests of the same site: the page and auth-server share a registrable
    /// domain (`app.example.com` and `auth.example.com`, or `localhost` on any ports).
    #[default]
    Strict,
    /// Also with top-level navigations from other sites (never with their `fetch` calls).
    Lax,
    /// With every request, from any site: for a page on another site than auth-server. Always
    /// `Secure`; the origin check is then the only defence against forgery.
    None,
}

impl SameSite {
    fn attribute(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// How the cookie is written and which requests may use it.
#[derive(Debug, Clone, Default)]
pub struct CookiePolicy {
    pub same_site: SameSite,
    /// `CORS_ALLOWED_ORIGINS`: the origins whose requests may use the cookie.
    pub origins: AllowedOrigins,
}

/// The two `Set-Cookie` values of one answer.
pub type SetCookies = [HeaderValue; 2];

impl CookiePolicy {
    /// Both cookies holding `token` for `max_age` seconds, for the client that sent `request`.
    pub fn set(&self, request: &HeaderMap, token: &str, max_age: u64) -> Result<SetCookies, ApiError> {
        let secure = self.secure(request);
        let value = |path: &str| {
            HeaderValue::try_from(self.cookie(path, token, max_age, secure))
                .map_err(|_| ApiError::internal("a refresh token that cannot be a cookie value"))
        };
        Ok([value(PATHS[0])?, value(PATHS[1])?])
    }

    /// Both cookies emptied and expired (`Max-Age=0`).
    pub fn clear(&self, request: &HeaderMap) -> SetCookies {
        let secure = self.secure(request);
        PATHS
            .map(|path| HeaderValue::try_from(self.cookie(path, "", 0, secure)).unwrap_or(HeaderValue::from_static("")))
    }

    fn cookie(&self, path: &str, token: &str, max_age: u64, secure: bool) -> String {
        let same_site = self.same_site.attribute();
        let secure = if secure { "; Secure" } else { "" };
        format!("{NAME}={token}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}")
    }

    /// `Secure`, except for a development page on `http://localhost` or `http://127.0.0.1`
    /// (any port), or, without `Origin`, a plain-http request to such a host; always with
    /// `SameSite=None`, which browsers refuse without it.
    fn secure(&self, request: &HeaderMap) -> bool {
        if self.same_site == SameSite::None {
            return true;
        }
        let text = |name| request.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        match text(header::ORIGIN) {
            Some(origin) => !origin.strip_prefix("http://").is_some_and(is_local),
            None => {
                let https = text(header::HeaderName::from_static("x-forwarded-proto"))
                    .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
                https || !text(header::HOST).is_some_and(is_local)
            }
        }
    }

    /// Whether the request may use the cookie: its `Origin` is one `CORS_ALLOWED_ORIGINS` names
    /// (never through `*`), or the server's own (the origin's host and port are the `Host`).
    /// Otherwise `403 invalid_origin`, and the caller spends and changes nothing.
    pub fn check_origin(&self, request: &HeaderMap) -> Result<(), ApiError> {
        let origin = request.get(header::ORIGIN);
        let own = || {
            let authority = origin
                .and_then(|v| v.to_str().ok())
                .and_then(|origin| origin.split_once("://"))
                .map(|(_, authority)| authority);
            let host = request.get(header::HOST).and_then(|v| v.to_str().ok());
            matches!((authority, host), (Some(a), Some(h)) if !a.is_empty() && a.eq_ignore_ascii_case(h))
        };
        if origin.is_some_and(|origin| self.origins.lists(origin)) || own() {
            return Ok(());
        }
        tracing::debug!(
            origin = origin.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            "refresh cookie sent from an origin that is not allowed"
        );
        Err(ApiError::new(
            AuthError::InvalidOrigin,
            "the refresh cookie is only accepted from an origin that CORS_ALLOWED_ORIGINS lists",
        ))
    }
}

/// `host[:port]` of `localhost` or `127.0.0.1`.
fn is_local(authority: &str) -> bool {
    let host = authority.split_once(':').map_or(authority, |(host, _)| host);
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1"
}

/// The refresh token in the request's `Cookie` header, if any (the first non-empty one).
pub fn read(request: &HeaderMap) -> Option<RefreshCookie> {
    request
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == NAME && !value.is_empty())
        .map(|(_, value)| RefreshCookie(value.trim_matches('"').to_owned()))
}

/// The refresh token a cookie carried; its `Debug` never prints it.
pub struct RefreshCookie(pub String);

impl fmt::Debug for RefreshCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshCookie(<redacted>)")
    }
}

/// An answer with both cookies set or cleared.
pub struct WithCookies<T>(pub SetCookies, pub T);

impl<T: IntoResponse> IntoResponse for WithCookies<T> {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        for cookie in self.0 {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn listing(origins: &str) -> CookiePolicy {
        CookiePolicy {
            same_site: SameSite::Strict,
            origins: origins.parse().expect("origins"),
        }
    }

    #[test]
    fn cookies_carry_every_attribute() {
        let policy = listing("https://app.example.com");
        let [token, logout] = policy
            .set(&headers(&[("origin", "https://app.example.com")]), "a.b.c", 60)
            .expect("cookies");
        assert_eq!(
            token,
            "refresh_token=a.b.c; Path=/token; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert_eq!(
            logout,
            "refresh_token=a.b.c; Path=/logout; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        let [cleared, _] = policy.clear(&headers(&[("origin", "http://localhost:5173")]));
        assert_eq!(
            cleared,
            "refresh_token=; Path=/token; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }

    #[test]
    fn only_local_plain_http_goes_without_secure() {
        let policy = CookiePolicy::default();
        for (request, secure) in [
            (headers(&[("origin", "http://localhost:5173")]), false),
            (headers(&[("origin", "http://127.0.0.1")]), false),
            (headers(&[("origin", "https://localhost:5173")]), true),
            (headers(&[("origin", "http://localhost.evil.example")]), true),
            (headers(&[("origin", "http://app.example.com")]), true),
            (headers(&[("origin", "null")]), true),
            (headers(&[("host", "127.0.0.1:4000")]), false),
            (headers(&[("host", "localhost")]), false),
            (
                headers(&[("host", "localhost:4000"), ("x-forwarded-proto", "https")]),
                true,
            ),
            (headers(&[("host", "auth.example.com")]), true),
            (HeaderMap::new(), true),
        ] {
            assert_eq!(policy.secure(&request), secure, "{request:?}");
        }
        let none = CookiePolicy {
            same_site: SameSite::None,
            ..CookiePolicy::default()
        };
        assert!(none.secure(&headers(&[("origin", "http://localhost:5173")])));
    }

    #[test]
    fn listed_and_own_origins_only() {
        let policy = listing("https://app.example.com,http://localhost:*");
        for (request, ok) in [
            (headers(&[("origin", "https://app.example.com")]), true),
            (headers(&[("origin", "http://localhost:5173")]), true),
            (
                headers(&[("origin", "http://127.0.0.1:4000"), ("host", "127.0.0.1:4000")]),
                true,
            ),
            (headers(&[("origin", "https://evil.example")]), false),
            (headers(&[("origin", "null"), ("host", "null")]), false),
            (headers(&[("host", "127.0.0.1:4000")]), false),
            (HeaderMap::new(), false),
        ] {
            assert_eq!(policy.check_origin(&request).is_ok(), ok, "{request:?}");
        }
        let any = CookiePolicy {
            origins: AllowedOrigins::Any,
            ..CookiePolicy::default()
        };
        assert!(
            any.check_origin(&headers(&[("origin", "https://app.example.com")]))
                .is_err()
        );
    }

    #[test]
    fn the_cookie_is_read_by_name() {
        let read = |value: &'static str| read(&headers(&[("cookie", value)])).map(|c| c.0);
        assert_eq!(read("refresh_token=a.b.c").as_deref(), Some("a.b.c"));
        assert_eq!(read("theme=dark; refresh_token=a.b.c").as_deref(), Some("a.b.c"));
        assert_eq!(read("refresh_token=; refresh_token=x.y.z").as_deref(), Some("x.y.z"));
        assert_eq!(read("other_refresh_token=a.b.c"), None);
        assert_eq!(read("theme=dark"), None);
        assert!(!format!("{:?}", read_cookie("refresh_token=secret.token")).contains("secret"));
    }

    fn read_cookie(value: &'static str) -> Option<RefreshCookie> {
        read(&headers(&[("cookie", value)]))
    }
}
