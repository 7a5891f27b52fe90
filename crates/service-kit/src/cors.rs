//! Cross-origin requests from browsers: which origins may call the servers (`CORS_ALLOWED_ORIGINS`),
//! and the layer that answers preflights and grants (or withholds) access to responses.
//!
//! The servers authenticate with bearer tokens that a page sends explicitly, never with cookies,
//! so no grant ever includes `Access-Control-Allow-Credentials`: a browser attaches nothing
//! on its own that another origin could ride on.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, Method, header};
use clap::Args;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The response headers scripts of an allowed origin may read, beyond the always-visible ones.
pub const EXPOSED_HEADERS: [&str; 3] = ["www-authenticate", "retry-after", "x-request-id"];

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
    pub fn layer(&self) -> Option<CorsLayer> {
        let allow_origin = match &self.cors_allowed_origins {
            AllowedOrigins::None => return None,
            AllowedOrigins::Any => AllowOrigin::any(),
            AllowedOrigins::List(patterns) => {
                let patterns = Arc::clone(patterns);
                AllowOrigin::predicate(move |origin, _| {
                    origin
                        .to_str()
                        .ok()
                        .and_then(|origin| Origin::parse(origin).ok())
                        .is_some_and(|origin| patterns.iter().any(|pattern| pattern.matches(&origin)))
                })
            }
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow_origin)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
                .max_age(PREFLIGHT_MAX_AGE),
        )
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
