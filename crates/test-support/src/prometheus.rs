//! Reading what a server's `GET /metrics` returns: the Prometheus text exposition format.

/// One sample line: `name{label="value",…} number`, labels in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Every sample of `text`, checking the format as it goes: each line is empty, a `# HELP`,
/// `# TYPE` or other comment, or a sample with a valid metric name, well-quoted labels and a number.
/// Panics, naming the line, on anything else.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(kind) = comment.strip_prefix(" TYPE ") {
                let (name, kind) = kind.split_once(' ').unwrap_or_else(|| panic!("a TYPE line: {line}"));
                assert!(is_metric_name(name), "a metric name: {line}");
                let kinds = ["counter", "gauge", "histogram", "summary", "untyped"];
                assert!(kinds.contains(&kind), "a metric type: {line}");
            }
            continue;
        }
        samples.push(parse_sample(line).unwrap_or_else(|| panic!("not a Prometheus sample line: {line:?}")));
    }
    samples
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    is_metric_name(name).then(|| Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` (values may hold escaped quotes, backslashes and newlines).
fn parse_labels(mut rest: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"")?;
        if !is_metric_name(name) || name.contains(':') {
            return None;
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (at, '"') => break at,
                (_, other) => value.push(other),
            }
        };
        labels.push((name.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Some(labels)
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The sum of the samples named `name` whose labels include every one of `labels`; 0 if none.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse(text)
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            labels
                .iter()
                .all(|(key, value)| sample.labels.iter().any(|(k, v)| k == key && v == value))
        })
        .map(|sample| sample.value)
        .sum()
}

/// `name{labels}` in `after` minus in `before`.
pub fn delta(before: &str, after: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(after, name, labels) - value(before, name, labels)
}

/// What `GET url` (a server's `/metrics`) answers: `200` and a text body.
pub async fn scrape(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    response.text().await.expect("a text body")
}

/// An answer of `/metrics`: `200`, `text/plain; version=0.0.4` and samples in that format; its text.
pub async fn assert_exposition(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .expect("a Content-Type")
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.expect("a text body");
    assert!(!parse(&text).is_empty(), "{text}");
    text
}

/// Between the scrapes `before` and `after`, `method route` was timed at least `times` times:
/// the count of its duration histogram and its `+Inf` bucket.
pub fn assert_timed(before: &str, after: &str, route: &str, method: &str, times: f64) {
    let timed = [("route", route), ("method", method)];
    assert!(
        delta(before, after, "http_request_duration_seconds_count", &timed) >= times,
        "{after}"
    );
    let inf = [("route", route), ("method", method), ("le", "+Inf")];
    assert!(
        delta(before, after, "http_request_duration_seconds_bucket", &inf) >= times,
        "{after}"
    );
}

/// Between the scrapes `before` and `after`, a `GET` of the unknown path `unknown` was counted
/// as a `404` of `<unmatched>`, never under a label of its own.
pub fn assert_unmatched_counted(before: &str, after: &str, unknown: &str) {
    let unmatched = [("route", "<unmatched>"), ("method", "GET"), ("status", "404")];
    assert!(
        delta(before, after, "http_requests_total", &unmatched) >= 1.0,
        "{after}"
    );
    assert!(!after.contains(unknown), "the raw path is a label:\n{after}");
}

/// With `METRICS_ADDR` set to a free port, `binary` serves `/metrics` there alone: its API
/// port answers `404 not_found` for `/metrics` (without the metric `series`), the metrics
/// port answers the exposition (with `series`) and `404` for `api_route`, and SIGTERM stops
/// both listeners. `command` makes a configured start of the server.
pub async fn assert_metrics_on_their_own_listener(
    binary: &crate::ServerBinary,
    command: impl Fn() -> tokio::process::Command,
    series: &str,
    api_route: &str,
) {
    let metrics_addr = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        free.local_addr().expect("its address").to_string()
    };
    let mut start = command();
    start.env("METRICS_ADDR", &metrics_addr);
    let server = binary.start(&mut start).await;
    let client = reqwest::Client::new();
    let not_found = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 404);
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        assert_eq!(body["error"], "not_found", "{body}");
        body
    };

    let on_api = client.get(server.url("/metrics")).send().await.expect("GET /metrics");
    let body = not_found(on_api).await;
    assert!(!body.to_string().contains(series), "{body}");
    let on_own = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics on METRICS_ADDR");
    let text = assert_exposition(on_own).await;
    assert!(text.contains(&format!("# TYPE {series} counter")), "{text}");
    let elsewhere = client
        .get(format!("http://{metrics_addr}{api_route}"))
        .send()
        .await
        .expect("an API route on METRICS_ADDR");
    not_found(elsewhere).await;

    let crate::Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0), "both listeners stop on SIGTERM: {output}");
}

/// A `METRICS_ADDR` that is no address, or whose port is taken, refuses the start of `binary`
/// with one line naming it.
pub async fn assert_bad_or_taken_metrics_addr_refused(
    binary: &crate::ServerBinary,
    command: impl Fn() -> tokio::process::Command,
) {
    // Held until the end, so that its port stays taken.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let taken = held.local_addr().expect("its address").to_string();
    for value in ["not-an-address", taken.as_str()] {
        let mut start = command();
        start.env("METRICS_ADDR", value);
        binary
            .refused_start(&mut start)
            .await
            .assert_one_line_naming("METRICS_ADDR");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP requests_total Requests.\n\
# TYPE requests_total counter\n\
requests_total{route=\"/a\",status=\"200\"} 3\n\
requests_total{route=\"/a\",status=\"404\"} 1\n\
requests_total{route=\"/b\",status=\"200\"} 2\n\
\n\
# TYPE latency_seconds histogram\n\
latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n\
latency_seconds_sum{route=\"/a\"} 0.25\n\
latency_seconds_count{route=\"/a\"} 4\n\
odd_total{note=\"a \\\"quoted\\\" \\\\ value\"} 7\n\
up 1\n";

    #[test]
    fn sums_the_samples_that_have_the_labels() {
        assert_eq!(value(TEXT, "requests_total", &[("route", "/a")]), 4.0);
        assert_eq!(
            value(TEXT, "requests_total", &[("route", "/a"), ("status", "404")]),
            1.0
        );
        assert_eq!(value(TEXT, "requests_total", &[]), 6.0);
        assert_eq!(value(TEXT, "requests_total", &[("route", "/c")]), 0.0);
        assert_eq!(value(TEXT, "latency_seconds_count", &[("route", "/a")]), 4.0);
        assert_eq!(value(TEXT, "up", &[]), 1.0);
    }

    #[test]
    fn a_delta_is_the_growth_of_the_matching_samples() {
        let after = TEXT.replace(
            "requests_total{route=\"/a\",status=\"404\"} 1",
            "requests_total{route=\"/a\",status=\"404\"} 3",
        );
        assert_eq!(delta(TEXT, &after, "requests_total", &[("route", "/a")]), 2.0);
        assert_eq!(delta(TEXT, &after, "requests_total", &[("route", "/b")]), 0.0);
    }

    #[test]
    fn reads_escaped_label_values() {
        let odd = parse(TEXT)
            .into_iter()
            .find(|s| s.name == "odd_total")
            .expect("odd_total");
        assert_eq!(odd.labels, [("note".to_owned(), r#"a "quoted" \ value"#.to_owned())]);
    }

    #[test]
    #[should_panic(expected = "not a Prometheus sample line")]
    fn refuses_what_is_not_the_format() {
        parse("<html>hello</html>\n");
    }
}
