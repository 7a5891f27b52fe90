//! Log set-up: a `RUST_LOG`-style filter, `info` by default; plain text or one JSON object per line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`LOG_FORMAT`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one line per event, the span fields in front.
    #[default]
    Text,
    /// For log collectors: one JSON object per line, with the fields of every span the event is in.
    Json,
}

/// Installs the global subscriber once, writing text; later calls (tests) are no-ops.
pub fn init(filter: &str) {
    init_with(filter, LogFormat::Text);
}

/// Installs the global subscriber once, in `format`; later calls (tests) are no-ops.
/// An unparsable filter falls back to `info` rather than silencing the logs.
/// Colours only for text written to a terminal, so log files stay plain.
pub fn init_with(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).try_init(),
        // `spans` lists every span the event is in, outermost first, each with its fields:
        // the request span's method, route, request id, status and latency among them.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}
