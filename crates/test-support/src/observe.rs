//! What operators see of a server besides `/metrics` (see [`crate::prometheus`]): the
//! `x-request-id` of every answer and the lines of `LOG_FORMAT=json`.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{RequestBuilder, Response};
use serde_json::Value;

/// An id no other request of any test sends.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// The value of header `name`; panics if there is none.
pub fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("a {name} header"))
        .to_str()
        .expect("ASCII")
}

/// `8-4-4-4-12` lowercase hex digits.
pub fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|group| group.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
}

/// `request`, sent with `x-request-id: id`, answers `status` with the same id (`what` names it).
pub async fn assert_id_returned(request: RequestBuilder, id: &str, status: u16, what: &str) {
    let response = request.header("x-request-id", id).send().await.expect(what);
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(header(&response, "x-request-id"), id, "{what}");
}

/// `GET url` sent with no `x-request-id`, an empty one, one with a space and one too long (129
/// characters) answers with a new id each time, one that `is_generated` accepts; the ids seen
/// are returned.
pub async fn assert_insane_ids_replaced(
    client: &reqwest::Client,
    url: &str,
    is_generated: impl Fn(&str) -> bool,
) -> Vec<String> {
    let too_long = "a".repeat(129);
    let mut seen = Vec::new();
    for sent in [None, Some(""), Some("with space"), Some(too_long.as_str())] {
        let mut request = client.get(url);
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let response = request.send().await.expect("GET");
        let id = header(&response, "x-request-id").to_owned();
        assert!(is_generated(&id), "a generated UUID, not {id:?}");
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "a new id each time: {seen:?}");
    seen
}

/// `output`, all that a server process named `server` printed with `LOG_FORMAT=json` (its
/// `<server> listening on` line aside), is one JSON object per line, each with a level and a
/// timestamp; among them the `response` to the request with id `id`, logged in its `request`
/// span with `method`, `route`, `status` and the latency; and the `listening` event.
pub fn assert_json_logs(output: &str, server: &str, id: &str, method: &str, route: &str, status: u16) {
    let listening = format!("{server} listening on ");
    let logs: Vec<Value> = output
        .lines()
        .filter(|line| !line.starts_with(&listening))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}")))
        .collect();
    assert!(
        logs.iter()
            .all(|log| log["level"].is_string() && log["timestamp"].is_string()),
        "{output}"
    );
    let response = logs
        .iter()
        .find(|log| log["message"] == "response" && request_span(log)["request_id"] == id)
        .unwrap_or_else(|| panic!("no response line with request id {id}:\n{output}"));
    let span = request_span(response);
    assert_eq!(span["method"], method, "{span}");
    assert_eq!(span["route"], route, "{span}");
    assert_eq!(span["status"], status, "{span}");
    assert!(span["latency_ms"].is_number(), "{span}");
    assert!(logs.iter().any(|log| log["message"] == "listening"), "{output}");
}

/// `output`, all that a server process named `server` printed with the default `LOG_FORMAT=text`
/// to a pipe, has the `response` line of the request with id `id` as the documented layout has
/// it (`docs/operations.md`): the UTC time to the microsecond, the level, the `request` span
/// with `method`, `route`, `request_id`, `status` and `latency_ms`, and the message, in plain
/// text (no colour codes).
pub fn assert_text_line(output: &str, id: &str, method: &str, route: &str, status: u16) {
    let quoted_id = format!("request_id={id:?}");
    let line = output
        .lines()
        .find(|line| line.contains(&quoted_id) && line.ends_with(": response"))
        .unwrap_or_else(|| panic!("no response line with request id {id}:\n{output}"));
    let (time, rest) = line.split_once(' ').unwrap_or_else(|| panic!("no time: {line:?}"));
    let shape: String = time.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect();
    assert_eq!(shape, "9999-99-99T99:99:99.999999Z", "{line:?}");
    let expected = format!(" INFO request{{method={method} route={route:?} {quoted_id} status={status} latency_ms=");
    let latency = rest
        .strip_prefix(&expected)
        .and_then(|rest| rest.strip_suffix("}: response"))
        .unwrap_or_else(|| panic!("expected {expected:?}…\"}}: response\"; got {line:?}"));
    assert!(latency.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "{line:?}");
    assert!(
        !output.contains('\x1b'),
        "no colour codes in a log written to a pipe:\n{output}"
    );
}

/// The fields of the `request` span an event was logged in (null when it was in none).
fn request_span(log: &Value) -> &Value {
    log["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["name"] == "request"))
        .unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_uuid_is_lowercase_hex_in_five_groups() {
        assert!(is_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(!is_uuid("67E55044-10B1-426F-9247-BB680E5FE0C8"));
        assert!(!is_uuid("67e5504410b1426f9247bb680e5fe0c8"));
        assert!(!is_uuid("67e55044-10b1-426f-9247-bb680e5fe0cg"));
    }

    #[test]
    fn finds_the_request_span_of_a_log_line() {
        let log = json!({ "spans": [{ "name": "other" }, { "name": "request", "route": "/a" }] });
        assert_eq!(request_span(&log)["route"], "/a");
        assert!(request_span(&json!({ "message": "listening" })).is_null());
    }
}
