//! `AppJson`: `axum::Json` whose rejections are the contract's JSON errors.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

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
            return Err(ApiError::bad_request(
                "invalid_body",
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|err| {
            if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::bad_request("invalid_body", "the body could not be read")
            }
        })?;
        // Every body of this API is an object. serde would also take an array
        // as a struct's fields in order; refuse that rather than guess.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request("invalid_body", "the body must be a JSON object"));
        }
        // JSON is UTF-8 (RFC 8259). serde_json checks the strings it reads but
        // not those it skips (the values of unknown fields), so check it all.
        if std::str::from_utf8(&bytes).is_err() {
            return Err(ApiError::bad_request("invalid_body", "the body is not valid UTF-8"));
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
            // serde's message names the field and what was expected; drop the
            // value it found and cut it short, so that nothing from the request
            // (a password sent as a number) is echoed back.
            let text = err.body_text();
            let detail = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text);
            let detail: String = without_value(detail).chars().take(200).collect();
            ApiError::bad_request(
                "invalid_body",
                format!("the JSON body does not have the expected fields: {detail}"),
            )
        }
        _ => ApiError::bad_request("invalid_body", "the body is not valid JSON"),
    }
}

/// serde describes the value it did not expect by quoting it
/// (``invalid type: integer `12345678`, expected a string``); keep only its
/// kind (``invalid type: integer, expected a string``).
fn without_value(detail: &str) -> String {
    for marker in ["invalid type: ", "invalid value: "] {
        if let Some(start) = detail.find(marker).map(|at| at + marker.len()) {
            let end = detail
                .rfind(", expected")
                .filter(|&end| end >= start)
                .unwrap_or(detail.len());
            let kind = detail[start..end]
                .split(['`', '"'])
                .next()
                .unwrap_or_default()
                .trim_end();
            return format!("{}{kind}{}", &detail[..start], &detail[end..]);
        }
    }
    detail.to_owned()
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
            assert_eq!(without_value(detail), shown);
        }
    }
}
