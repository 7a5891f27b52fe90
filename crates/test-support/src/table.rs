//! Tables of bad input, as the servers' `bad_input` suites write them. A [`Row`]
//! is one raw request (method, path, headers, body bytes) and the answer it
//! must get; a [`Table`] sends rows to a running server and reports every row
//! it got wrong. A refusal must be the expected status with the contract's JSON
//! error body, `{"error": code, "message": …}` and nothing more, and with a
//! `WWW-Authenticate: Bearer error="…"` challenge on a 401 or 403.
//! [`json_corpus`] holds the rows every route that reads a JSON object must
//! treat alike.

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Client, Method};
use serde_json::{Value, json};

/// The body limit of both servers, in bytes.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The answer a row must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This status; nothing more is asked of the answer (but what [`Table::never_echoing`] adds).
    Ok(u16),
    /// This status with `{"error": code, "message": …}`.
    Error(u16, &'static str),
}

/// One raw request and the answer it must get.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
    pub expect: Expect,
}

impl Row {
    /// A request with no headers and no body, expected to get `400 invalid_body`.
    pub fn new(name: impl Into<String>, method: Method, path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            expect: Expect::Error(400, "invalid_body"),
        }
    }

    /// A request named by its method and path, expected to get `400 invalid_body`.
    pub fn request(method: Method, path: &str) -> Self {
        Self::new(format!("{method} {path}"), method, path)
    }

    /// Adds a header; a name given twice is sent twice.
    pub fn header(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Self {
        let value = HeaderValue::from_bytes(value.as_ref()).expect("a header value");
        self.headers.push((HeaderName::from_static(name), value));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// The body as given, with no `Content-Type` of its own.
    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The body sent as `Content-Type: application/json`.
    pub fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/json").raw(body)
    }

    /// Expects `status` with the JSON error `code`.
    pub fn fails(self, status: u16, code: &'static str) -> Self {
        self.then(Expect::Error(status, code))
    }

    /// Expects `status`, whatever the body.
    pub fn ok(self, status: u16) -> Self {
        self.then(Expect::Ok(status))
    }

    pub fn then(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
}

/// One route, and the bearer token every row of it sends (if any).
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub token: Option<String>,
}

impl Route {
    pub fn new(method: Method, path: &'static str) -> Self {
        Self {
            method,
            path,
            token: None,
        }
    }

    /// Every row of this route sends `Authorization: Bearer <token>`.
    pub fn with_bearer(self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self
        }
    }

    /// A row named after the route and `name`.
    pub fn row(&self, name: &str) -> Row {
        let row = Row::new(
            format!("{} {}: {name}", self.method, self.path),
            self.method.clone(),
            self.path,
        );
        match &self.token {
            Some(token) => row.bearer(token),
            None => row,
        }
    }
}

/// `valid` with `field` (raw JSON, `"key": value`) inserted as its first member.
pub fn with_field(valid: &Value, field: &[u8]) -> Vec<u8> {
    let text = valid.to_string();
    let rest = text.strip_prefix('{').expect("a JSON object");
    let mut body = b"{".to_vec();
    body.extend_from_slice(field);
    if rest != "}" {
        body.push(b',');
    }
    body.extend_from_slice(rest.as_bytes());
    body
}

/// `valid` padded with an unknown string member to exactly `total` bytes.
pub fn padded(valid: &Value, total: usize) -> Vec<u8> {
    let bare = with_field(valid, br#""pad":"""#).len();
    let filler = "x".repeat(total - bare);
    let body = with_field(valid, format!(r#""pad":"{filler}""#).as_bytes());
    assert_eq!(body.len(), total);
    body
}

/// The members of a JSON object as `name=value` pairs, strings unquoted.
fn members(object: &Value) -> Vec<(String, String)> {
    object
        .as_object()
        .expect("a JSON object")
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            (name.clone(), value)
        })
        .collect()
}

/// The rows every route that reads a JSON object must treat alike. `valid(tag)`
/// is a body the route takes (made unique by `tag` where that matters), and
/// `taken` is what the route answers to it. Every other row is expected to get
/// `400 invalid_body`, or `413 payload_too_large` beyond [`BODY_LIMIT`].
pub fn json_corpus(route: &Route, valid: impl Fn(&str) -> Value, taken: Expect) -> Vec<Row> {
    let sample = valid("sample");
    let text = sample.to_string();
    let (field, _) = sample
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("a valid body has a field");
    let in_field = |value: &[u8]| {
        let mut raw = format!(r#""{field}":"#).into_bytes();
        raw.extend_from_slice(value);
        let mut rest = sample.clone();
        rest.as_object_mut().expect("an object").remove(field);
        with_field(&rest, &raw)
    };
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    // The members of the valid body, as a form and as multipart parts.
    let form = members(&sample)
        .iter()
        .map(|(name, value)| format!("{name}={}", value.replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    let multipart = members(&sample)
        .iter()
        .map(|(name, value)| format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"))
        .chain(["--XyZ--\r\n".to_owned()])
        .collect::<String>();
    let mut latin1 = text.clone().into_bytes();
    latin1.truncate(latin1.len() - 1);
    latin1.extend_from_slice(b",\"n\":\"caf\xe9\"}");

    vec![
        // Not JSON at all.
        route.row("empty body").json(""),
        route.row("whitespace only").json(" \r\n\t "),
        route.row("truncated").json(&text[..text.len() / 2]),
        route.row("trailing garbage").json(format!("{text}garbage")),
        route.row("a second object after the first").json(format!("{text}{{}}")),
        route.row("single quotes").json(text.replace('"', "'")),
        route.row("unquoted keys").json(format!("{{{field}: 1}}")),
        route.row("a block comment").json(format!("{{/* note */{}", &text[1..])),
        route.row("a line comment").json(format!("{{// note\n{}", &text[1..])),
        route
            .row("a trailing comma")
            .json(format!("{},}}", &text[..text.len() - 1])),
        route.row("NaN").json(with_field(&sample, br#""n":NaN"#)),
        route.row("Infinity").json(with_field(&sample, br#""n":-Infinity"#)),
        route
            .row("a byte order mark")
            .json([&b"\xef\xbb\xbf"[..], text.as_bytes()].concat()),
        // JSON, but not an object.
        route.row("an array at top level").json(format!("[{text}]")),
        route.row("a string at top level").json(r#""text""#),
        route.row("a number at top level").json("42"),
        route.row("null at top level").json("null"),
        route.row("true at top level").json("true"),
        // Not sent as JSON.
        route.row("no Content-Type").raw(text.clone()),
        route
            .row("Content-Type: text/plain")
            .header("content-type", "text/plain")
            .raw(text.clone()),
        route
            .row("Content-Type: text/json")
            .header("content-type", "text/json")
            .raw(text.clone()),
        route
            .row("a form")
            .header("content-type", "application/x-www-form-urlencoded")
            .raw(form),
        route
            .row("multipart")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .raw(multipart),
        route
            .row("JSON sent as multipart")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .raw(text.clone()),
        // The media type is what counts; JSON is UTF-8 whatever `charset` says (RFC 8259).
        route
            .row("charset=latin1, ASCII body")
            .header("content-type", "application/json; charset=latin1")
            .raw(valid("latin1").to_string())
            .then(taken),
        route
            .row("charset=latin1, a Latin-1 byte in a string")
            .header("content-type", "application/json; charset=latin1")
            .raw(latin1),
        route
            .row("Content-Type: Application/JSON")
            .header("content-type", "Application/JSON")
            .raw(valid("upper").to_string())
            .then(taken),
        route
            .row("Content-Type: application/vnd.api+json")
            .header("content-type", "application/vnd.api+json")
            .raw(valid("vnd").to_string())
            .then(taken),
        // Bytes that are not UTF-8, or characters JSON forbids raw.
        route
            .row("invalid UTF-8 in the read field")
            .json(in_field(b"\"al\xff\xfeice\"")),
        route
            .row("an overlong UTF-8 encoding")
            .json(in_field(b"\"a\xc0\xafb\"")),
        route
            .row("invalid UTF-8 in an unknown field")
            .json(with_field(&sample, b"\"n\":\"\xff\"")),
        route
            .row("invalid UTF-8 outside strings")
            .json([text.as_bytes(), b"\xff"].concat()),
        route.row("a lone surrogate escape").json(in_field(br#""\ud800""#)),
        route.row("a raw NUL in a string").json(in_field(b"\"a\0b\"")),
        route
            .row("a raw NUL between members")
            .json(with_field(&sample, b"\"n\":1\0")),
        route.row("a raw newline in a string").json(in_field(b"\"a\nb\"")),
        // Deep nesting: refused, never a stack overflow.
        route.row("10,000 levels of [").json("[".repeat(10_000)),
        route
            .row("10,000 unclosed levels of [ in the read field")
            .json(format!(r#"{{"{field}":{}"#, "[".repeat(10_000))),
        route
            .row("8,000 levels of [] in the read field")
            .json(in_field(nested(8_000).as_bytes())),
        route.row("2,000 levels of {} in the read field").json(in_field(
            format!("{}1{}", r#"{"a":"#.repeat(2_000), "}".repeat(2_000)).as_bytes(),
        )),
        // Numbers no type holds.
        route.row("1e400 in the read field").json(in_field(b"1e400")),
        route
            .row("a 5,000-digit integer in the read field")
            .json(in_field("9".repeat(5_000).as_bytes())),
        route.row("-0 in the read field").json(in_field(b"-0")),
        // Keys given twice.
        route
            .row("the read field twice")
            .json(with_field(&sample, format!(r#""{field}":"first""#).as_bytes())),
        // Size: the limit is 16 KiB of body, counted in bytes.
        route
            .row("16 KiB - 1 bytes")
            .json(padded(&valid("pad16383"), BODY_LIMIT - 1))
            .then(taken),
        route
            .row("exactly 16 KiB")
            .json(padded(&valid("pad16384"), BODY_LIMIT))
            .then(taken),
        route
            .row("16 KiB + 1 bytes")
            .json(padded(&valid("pad16385"), BODY_LIMIT + 1))
            .fails(413, "payload_too_large"),
        route
            .row("16 KiB + 1 bytes of garbage")
            .json(vec![b'{'; BODY_LIMIT + 1])
            .fails(413, "payload_too_large"),
        route
            .row("16 KiB + 1 bytes as text/plain")
            .header("content-type", "text/plain")
            .raw(vec![b'x'; BODY_LIMIT + 1])
            .fails(413, "payload_too_large"),
    ]
}

/// What a row's answer must never hold, from the row.
type Secrets<'a> = Box<dyn Fn(&Row) -> Vec<String> + 'a>;

/// The rows both servers answer alike: health checks, which take no input and
/// ignore what they are sent, wrong methods on them, unknown paths, and the
/// body limit, which holds on any path.
pub fn health_and_routing_corpus() -> Vec<Row> {
    let row = Row::request;
    vec![
        // Health checks take no input, and ignore what they are sent.
        row(Method::GET, "/healthz").ok(200),
        row(Method::GET, "/readyz").ok(200),
        row(Method::GET, "/healthz?verbose=1&x=%FF").ok(200),
        row(Method::GET, "/healthz")
            .header("content-type", "text/plain")
            .raw(&b"\xff\0 not json"[..])
            .ok(200),
        row(Method::GET, "/readyz").json("{").ok(200),
        row(Method::GET, "/healthz")
            .header("content-type", "text/plain")
            .raw(vec![b'x'; BODY_LIMIT + 1])
            .fails(413, "payload_too_large"),
        // Wrong methods on them.
        row(Method::POST, "/healthz").fails(405, "method_not_allowed"),
        row(Method::DELETE, "/readyz").fails(405, "method_not_allowed"),
        // Unknown paths.
        row(Method::GET, "/").fails(404, "not_found"),
        row(Method::GET, "/nope").fails(404, "not_found"),
        row(Method::GET, "/healthz/").fails(404, "not_found"),
        row(Method::GET, "/%FF%00").fails(404, "not_found"),
        row(Method::GET, "/healthz%2F").fails(404, "not_found"),
        row(Method::GET, &format!("/{}", "a".repeat(4_000))).fails(404, "not_found"),
        row(Method::POST, "/nope")
            .json(vec![b'{'; BODY_LIMIT + 1])
            .fails(413, "payload_too_large"),
    ]
}

/// Runs `check` on every row, in order, and panics with a line for each row
/// it finds wrong (`name` names the row in that line).
pub async fn assert_every<R>(rows: &[R], name: impl Fn(&R) -> &str, check: impl AsyncFn(&R) -> Result<(), String>) {
    let mut failures = Vec::new();
    for row in rows {
        if let Err(problem) = check(row).await {
            failures.push(format!("{}: {problem}", name(row)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Sends rows to the server at `base_url` (`http://127.0.0.1:PORT`) and judges the answers.
pub struct Table<'a> {
    client: &'a Client,
    base_url: &'a str,
    never_echoed: Secrets<'a>,
}

impl<'a> Table<'a> {
    pub fn new(client: &'a Client, base_url: &'a str) -> Self {
        Self {
            client,
            base_url,
            never_echoed: Box::new(|_| Vec::new()),
        }
    }

    /// Also fails a row whose answer (body or challenge) holds any of
    /// `secrets(row)`, whatever its status.
    pub fn never_echoing(self, secrets: impl Fn(&Row) -> Vec<String> + 'a) -> Self {
        Self {
            never_echoed: Box::new(secrets),
            ..self
        }
    }

    /// Sends every row, in order, and panics with a line for each row the
    /// server got wrong.
    pub async fn assert_all(&self, rows: &[Row]) {
        assert_every(rows, |row| &row.name, async |row| self.check(row).await).await;
    }

    /// Sends one row and says what is wrong with the answer, if anything.
    pub async fn check(&self, row: &Row) -> Result<(), String> {
        let mut request = self
            .client
            .request(row.method.clone(), format!("{}{}", self.base_url, row.path))
            .body(row.body.clone());
        for (name, value) in &row.headers {
            request = request.header(name, value.clone());
        }
        let response = request.send().await.map_err(|e| format!("no answer ({e})"))?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let content_type = header(CONTENT_TYPE);
        let challenge = header(WWW_AUTHENTICATE);
        let text = response.text().await.map_err(|e| format!("no body ({e})"))?;
        let got = format!(
            "got {status}, Content-Type {content_type:?}, body {:?}",
            text.chars().take(300).collect::<String>()
        );

        for secret in (self.never_echoed)(row) {
            if text.contains(&secret) || challenge.as_deref().is_some_and(|c| c.contains(&secret)) {
                return Err(format!(
                    "the answer echoes a secret the request sent ({} chars of it); {got}",
                    secret.chars().count()
                ));
            }
        }
        match row.expect {
            Expect::Ok(want) if status == want => Ok(()),
            Expect::Ok(want) => Err(format!("expected {want}; {got}")),
            Expect::Error(want, code) => {
                let body: Option<Value> = serde_json::from_str(&text).ok();
                let shaped = body.as_ref().and_then(Value::as_object).is_some_and(|object| {
                    object.len() == 2 && object.get("error") == Some(&json!(code)) && object["message"].is_string()
                });
                let challenged = !matches!(want, 401 | 403)
                    || challenge.as_deref().is_some_and(|c| c.starts_with("Bearer error=\""));
                if status == want && content_type.as_deref() == Some("application/json") && shaped && challenged {
                    Ok(())
                } else {
                    Err(format!(
                        r#"expected {want} application/json {{"error":"{code}","message":…}}; {got}, WWW-Authenticate {challenge:?}"#
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_field_puts_the_member_first() {
        assert_eq!(with_field(&json!({ "a": 1 }), br#""n":2"#), br#"{"n":2,"a":1}"#);
        assert_eq!(with_field(&json!({}), br#""n":2"#), br#"{"n":2}"#);
    }

    #[test]
    fn padded_bodies_have_the_size_asked_for_and_stay_valid() {
        let valid = json!({ "title": "t", "body": "b" });
        for total in [BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1] {
            let body = padded(&valid, total);
            assert_eq!(body.len(), total);
            let parsed: Value = serde_json::from_slice(&body).expect("still JSON");
            assert_eq!(parsed["title"], "t");
        }
    }

    #[test]
    fn route_rows_carry_the_routes_token_and_name() {
        let route = Route::new(Method::POST, "/posts").with_bearer("abc");
        let row = route.row("a row").json("{}").fails(401, "invalid_request");
        assert_eq!(row.name, "POST /posts: a row");
        assert_eq!(row.path, "/posts");
        let headers: Vec<(&str, &[u8])> = row.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        assert_eq!(
            headers,
            [
                ("authorization", b"Bearer abc".as_slice()),
                ("content-type", b"application/json".as_slice())
            ]
        );
        assert_eq!(row.expect, Expect::Error(401, "invalid_request"));
        assert_eq!(Route::new(Method::GET, "/x").row("r").headers.len(), 0);
    }

    #[test]
    fn the_corpus_sends_the_valid_fields_as_a_form_and_as_multipart() {
        let route = Route::new(Method::POST, "/login");
        let rows = json_corpus(
            &route,
            |_| json!({ "username": "alice", "password": "two words" }),
            Expect::Ok(200),
        );
        let body = |name: &str| {
            let row = rows
                .iter()
                .find(|row| row.name.ends_with(name))
                .expect("a row of that name");
            String::from_utf8(row.body.clone()).expect("a UTF-8 body")
        };
        let form = body(": a form");
        assert!(
            form.contains("username=alice") && form.contains("password=two+words"),
            "{form}"
        );
        let multipart = body(": multipart");
        assert!(multipart.contains("name=\"username\"\r\n\r\nalice\r\n"), "{multipart}");
        assert!(multipart.ends_with("--XyZ--\r\n"), "{multipart}");
    }
}
