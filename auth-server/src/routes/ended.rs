//! `GET /sessions/ended`: the ended-session feed posts-servers follow to refuse the access
//! tokens of sessions that have ended, long before those tokens expire.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use service_kit::error::Common;
use service_kit::{ApiError, AppJson};

use crate::AppState;
use crate::error::AuthError;
use crate::feed::{FeedError, MAX_WAIT};

/// What a request asks: entries after `after`, of log `log`, waiting up to `wait`.
#[derive(Debug, PartialEq, Eq)]
struct Ask {
    after: i64,
    log: Option<String>,
    wait: Duration,
}

/// The longest `log` read: the ids this server writes have 32 characters.
const MAX_LOG_ID: usize = 64;

fn bad(message: &'static str) -> ApiError {
    ApiError::new(AuthError::InvalidQuery, message)
}

fn parse(query: Option<&str>) -> Result<Ask, ApiError> {
    let mut ask = Ask {
        after: 0,
        log: None,
        wait: Duration::ZERO,
    };
    for pair in query.unwrap_or_default().split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "after" => {
                ask.after = value
                    .parse::<u64>()
                    .ok()
                    .and_then(|after| i64::try_from(after).ok())
                    .ok_or_else(|| bad("`after` must be a cursor this feed gave: a whole number, 0 or more"))?;
            }
            "wait" => {
                let seconds = value
                    .parse::<u64>()
                    .ok()
                    .filter(|&seconds| seconds <= MAX_WAIT.as_secs())
                    .ok_or_else(|| bad("`wait` must be a whole number of seconds from 0 to 30"))?;
                ask.wait = Duration::from_secs(seconds);
            }
            "log" => {
                if value.is_empty() || value.len() > MAX_LOG_ID || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(bad("`log` must be a log id this feed gave"));
                }
                ask.log = Some(value.to_owned());
            }
            _ => {}
        }
    }
    Ok(ask)
}

/// Sessions that ended, for verifiers of access tokens. A long-poll: with `wait`, the answer
/// comes as soon as a session ends, or after `wait` seconds with none. Only the session ids
/// (the `sid` of their access tokens) and how long they matter are given: no user, no reason.
#[utoipa::path(
    get,
    path = "/sessions/ended",
    params(
        ("after" = Option<u64>, Query, description = "The `cursor` of the previous answer; 0 (the default) \
            for every entry that still matters."),
        ("wait" = Option<u64>, Query, description = "Seconds (0 to 30; default 0) to wait for an entry after \
            `after` when there is none yet. The server answers after 25 s at most (less than \
            `HTTP_IDLE_TIMEOUT`), whatever is asked: ask again."),
        ("log" = Option<String>, Query, description = "The `log` of the previous answer: if this server's log \
            is another (its database was replaced), the answer starts from the beginning."),
    ),
    responses(
        (status = 200, description = "Sessions that ended after `after`, oldest first, at most 1000 (`more`: \
            ask again at once from `cursor`). `Cache-Control: no-store`.", body = crate::feed::Page),
        (status = 400, description = "`invalid_query`: `after`, `wait` or `log` is malformed.",
            body = service_kit::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database does not answer, or as many requests as \
            `SESSION_FEED_MAX_WAITING` allows are waiting already (`Retry-After: 1`).",
            body = service_kit::openapi::ErrorBody),
        (status = "default", response = service_kit::openapi::Error),
    )
)]
pub async fn ended(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let ask = parse(query.as_deref())?;
    let page = state
        .feed
        .page(ask.after, ask.log.as_deref(), ask.wait)
        .await
        .map_err(|err| match err {
            FeedError::Busy => ApiError::new(
                Common::Unavailable,
                "too many requests are waiting on this feed; try again shortly",
            )
            .with_retry_after(1),
            FeedError::Store(err) => err.into(),
        })?;
    let never_stored = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((never_stored, AppJson(page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_parameters_and_refuses_malformed_ones() {
        assert_eq!(
            parse(Some("after=42&wait=10&log=ab12")).expect("an ask"),
            Ask {
                after: 42,
                log: Some("ab12".into()),
                wait: Duration::from_secs(10)
            }
        );
        assert_eq!(parse(None).expect("an ask").after, 0);
        assert_eq!(parse(Some("other=1")).expect("an ask").wait, Duration::ZERO);
        for query in [
            "after=-1",
            "after=x",
            "after=",
            "after=9223372036854775808",
            "wait=31",
            "wait=1.5",
            "log=",
            "log=a%20b",
        ] {
            let err = parse(Some(query)).expect_err(query);
            assert_eq!(err.code(), "invalid_query", "{query}");
        }
    }
}
