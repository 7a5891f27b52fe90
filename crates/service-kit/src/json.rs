//! `AppJson`: `axum::Json` whose rejections are the contract's JSON errors.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::error::Common;

/// A JSON request body or response. A body that is not JSON, not of the
/// expected shape, or too large becomes a `400`/`413` JSON error.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(req.headers()) {
            return Err(ApiError::new(
                Common::InvalidBody,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|err| {
            if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::new(Common::InvalidBody, "the body could not be read")
            }
        })?;
        // Every body of this API is an object. serde would also take an array
        // as a struct's fields in order; refuse that rather than guess.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::new(Common::InvalidBody, "the body must be a JSON object"));
        }
        // JSON is UTF-8 (RFC 8259). serde_json checks the strings it reads but
        // not those it skips (the values of unknown fields), so check it all.
        if std::str::from_utf8(&bytes).is_err() {
            return Err(ApiError::new(Common::InvalidBody, "the body is not valid UTF-8"));
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(value)| Self(value))
            .map_err(json_rejection)
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            let text = err.body_text();
            let detail = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text);
            ApiError::new(
                Common::InvalidBody,
                format!("the JSON body does not have the expected fields: {}", described(detail)),
            )
        }
        _ => ApiError::new(Common::InvalidBody, "the body is not valid JSON"),
    }
}

/// serde's message reduced to what this side of the contract wrote: the path of the field
/// (our field names), the kind of problem and of value, and what was expected. Values,
/// variants and field names as the client wrote them are quoted by serde
/// (``unknown variant `SECRET`, expected `session` or `global` ``); they are dropped, and so
/// is any message of a kind not known here, since it may quote anything.
fn described(detail: &str) -> String {
    // ` at line L column C` ends it; the last one is serde_json's, whatever a value held.
    let (detail, location) = detail.rfind(" at line ").map_or((detail, ""), |at| detail.split_at(at));
    let (path, message) = match detail.split_once(": ") {
        Some((path, message)) if is_path(path) => (Some(path), message),
        _ => (None, detail),
    };
    // What was expected is ours, and comes last: after any value that could hold `, expected`.
    let expected = [", expected ", ", there are no "]
        .iter()
        .filter_map(|marker| message.rfind(marker))
        .max()
        .map_or("", |at| &message[at..]);
    let problem = if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        // Only our own field names get here: serde names a field it expected.
        message.to_owned()
    } else if let Some(marker) = ["invalid type: ", "invalid value: "]
        .into_iter()
        .find(|marker| message.starts_with(marker))
    {
        // `integer `12345678``, `string "…"`: keep the kind, drop the value.
        let kind = message[marker.len()..]
            .split(['`', '"', ','])
            .next()
            .unwrap_or_default()
            .trim_end();
        format!("{marker}{kind}{expected}")
    } else if let Some(kind) = ["unknown variant", "unknown field", "invalid length"]
        .into_iter()
        .find(|kind| message.starts_with(kind))
    {
        format!("{kind}{expected}")
    } else {
        "invalid value".to_owned()
    };
    // An unknown field's path ends in that field's name as the client wrote it.
    let path = path.filter(|_| !problem.starts_with("unknown field"));
    let text = match path {
        Some(path) => format!("{path}: {problem}{location}"),
        None => format!("{problem}{location}"),
    };
    text.chars().take(200).collect()
}

/// A path as serde_path_to_error writes it (`posts[0].title`): short, and of identifier
/// characters only; anything else is not written out.
fn is_path(text: &str) -> bool {
    text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '?' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(has_json_content_type(&with_type(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "text/json+xml",
        ] {
            assert!(!has_json_content_type(&with_type(bad)), "{bad}");
        }
        assert!(!has_json_content_type(&HeaderMap::new()));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Scope {
        Session,
        Global,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        scope: Scope,
        count: Option<u8>,
    }

    /// The message a body gets when it does not deserialize into [`Strict`].
    fn message_for(body: &str) -> String {
        let rejection = axum::Json::<Strict>::from_bytes(body.as_bytes()).expect_err("a rejection");
        json_rejection(rejection).message().to_owned()
    }

    #[test]
    fn serde_messages_never_echo_what_the_client_sent() {
        for (body, sent) in [
            (r#"{"scope":"SECRETSCOPE"}"#, "SECRETSCOPE"),
            (r#"{"scope":"global","count":300123}"#, "300123"),
            (r#"{"scope":"global","count":-77123}"#, "77123"),
            (r#"{"scope":"global","SECRETFIELD":1}"#, "SECRETFIELD"),
            (r#"{"scope":"x`, expected SECRET"}"#, "SECRET"),
            (r#"{"scope":{"SECRETKEY":1}}"#, "SECRETKEY"),
        ] {
            let message = message_for(body);
            assert!(!message.contains(sent), "{body}: {message}");
            assert!(
                message.starts_with("the JSON body does not have the expected fields"),
                "{message}"
            );
        }
        let unknown = message_for(r#"{"scope":"SECRETSCOPE"}"#);
        assert!(
            unknown.contains("scope: unknown variant, expected `session` or `global`"),
            "{unknown}"
        );
        let missing = message_for(r#"{"count":1}"#);
        assert!(missing.contains("missing field `scope`"), "{missing}");
    }

    #[test]
    fn data_errors_name_the_kind_of_value_not_the_value() {
        let cases = [
            (
                "password: invalid type: integer `12345678`, expected a string at line 1 column 9",
                "password: invalid type: integer, expected a string at line 1 column 9",
            ),
            (
                "title: invalid type: floating point `1.5`, expected a string at line 1 column 3",
                "title: invalid type: floating point, expected a string at line 1 column 3",
            ),
            (
                r#"n: invalid value: string "secret, expected", expected u8 at line 1 column 2"#,
                "n: invalid value: string, expected u8 at line 1 column 2",
            ),
            (
                "title: invalid type: null, expected a string at line 1 column 5",
                "title: invalid type: null, expected a string at line 1 column 5",
            ),
            (
                "missing field `title` at line 1 column 2",
                "missing field `title` at line 1 column 2",
            ),
        ];
        for (detail, shown) in cases {
            assert_eq!(described(detail), shown);
        }
    }
}
