//! The text log line without colours, byte for byte the line of tracing-subscriber's default
//! format (`2026-11-30T16:30:42.123456Z  INFO request{method=GET route="/posts" …}: response`),
//! written with a fraction of its work. At `info` every request writes one such line, and
//! tracing-subscriber's formatter spent about 20,000 instructions on it: styling every field
//! name, `=`, brace and colon through `nu_ansi_term` even with colours off, and working out the
//! calendar date of every timestamp. Here a field is written as its name, `=` and its value;
//! the date and time up to the second is worked out once a second per thread.
//!
//! What a line says is tracing-subscriber's, including the escaping that keeps a message or an
//! error from writing terminal control sequences into the log; the test below writes the same
//! events through both formatters and compares the lines.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter: timestamp, level, the spans from the outermost with their fields, then
/// the event's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainLine;

impl<S, N> FormatEvent<S, N> for PlainLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(level(event.metadata().level()))?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                seen = true;
                writer.write_str(span.metadata().name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The level, padded to five characters, and the space after it.
fn level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        _ => "ERROR ",
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ ` (UTC, microseconds), as tracing-subscriber's `SystemTime`
/// writes it; the part up to the second comes from a per-thread copy, remade once a second.
fn write_timestamp(writer: &mut Writer<'_>, now: SystemTime) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    // A clock before 1970 is written as 1970: tracing-subscriber writes it as a negative time,
    // which no log reader expects either.
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (seconds, micros) = (since_epoch.as_secs(), since_epoch.subsec_micros());
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != seconds {
            *second = seconds;
            text.clear();
            write_to_the_second(text, seconds)?;
        }
        writer.write_str(text)
    })?;
    let mut fraction = *b".000000Z ";
    let mut rest = micros;
    for digit in fraction[1..7].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    // Only ASCII digits and punctuation were written.
    writer.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

/// `YYYY-MM-DDTHH:MM:SS` of `seconds` since the Unix epoch, in UTC.
fn write_to_the_second(out: &mut impl fmt::Write, seconds: u64) -> fmt::Result {
    let (year, month, day) = civil_date(seconds / 86_400);
    let in_day = seconds % 86_400;
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The field formatter, for spans and events alike: `name=value` separated by spaces, the
/// message first as it comes, with values written with `Debug` as tracing-subscriber writes
/// them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainFields;

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Fields<'writer> {
    writer: Writer<'writer>,
    empty: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        if !self.empty {
            self.result = self.writer.write_char(' ');
        }
        self.empty = false;
        let name = field.name();
        self.result = self.result.and_then(|()| match name {
            "message" => write!(self.writer, "{:?}", Escaped(value)),
            name => {
                let name = name.strip_prefix("r#").unwrap_or(name);
                self.writer.write_str(name)?;
                self.writer.write_char('=')?;
                self.writer.write_fmt(value)
            }
        });
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        match value.source() {
            Some(source) => self.write(
                field,
                format_args!(
                    "{} {}.sources={}",
                    Escaped(format_args!("{value}")),
                    field.name(),
                    Sources(source)
                ),
            ),
            None => self.write(field, format_args!("{}", Escaped(format_args!("{value}")))),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// An error's sources, `[first, second]`, each escaped.
struct Sources<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut error = Some(self.0);
        while let Some(current) = error {
            list.entry(&Escaped(format_args!("{current}")));
            error = current.source();
        }
        list.finish()
    }
}

/// Text with the characters that terminals act on written as escapes: ESC, BEL, BS, FF and DEL
/// as `\x1b` and the like, the C1 controls as `\u{9b}` and the like (tracing-subscriber's
/// escaping, so that a logged message or error cannot move the cursor, recolour or retitle the
/// terminal of whoever reads the log).
struct Escaped<T>(T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{}", self.0)
    }
}

impl<T: fmt::Display> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) =
            rest.find(|c: char| matches!(c, '\x07' | '\x08' | '\x0c' | '\x1b' | '\x7f' | '\u{80}'..='\u{9f}'))
        {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\x07' | '\x08' | '\x0c' | '\x1b' | '\x7f' => write!(self.0, "\\x{:02x}", c as u32)?,
                _ => write!(self.0, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Everything written, for reading back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().expect("not poisoned").clone())
                .expect("UTF-8")
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer \x1b[31mfailure\x1b[0m")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle: \u{9b}2J")]
    struct Middle(#[source] std::io::Error);

    /// The events of the comparison: every kind of field value, spans in spans, fields recorded
    /// after a span opened, and the characters that are escaped.
    fn log_everything() {
        let outer = tracing::info_span!("request", method = %"GET", route = "/posts", request_id = "abc", status = tracing::field::Empty, latency_ms = tracing::field::Empty);
        let _outer = outer.enter();
        tracing::info!("plain message");
        tracing::warn!(
            count = 3_u64,
            signed = -4_i64,
            ratio = 0.25_f64,
            flag = true,
            "numbers {}",
            7
        );
        tracing::error!(
            text = "quote \" newline \n tab \t esc \x1b bell \x07",
            r#type = "kind",
            "message with \x1b[2J esc \x07 bel \x08 bs \x0c ff \x7f del \u{85} nel \u{9b} csi é"
        );
        {
            let inner = tracing::debug_span!("empty");
            let _inner = inner.enter();
            let named = tracing::info_span!("inner", user = "jim");
            let _named = named.enter();
            tracing::error!(
                error = &Outer(Middle(std::io::Error::other("disk \x1b full"))) as &(dyn std::error::Error + 'static),
                "failed"
            );
            tracing::error!(error = &std::io::Error::other("alone \u{90}") as &(dyn std::error::Error + 'static));
            tracing::info!(display = %"shown as is", debug = ?Some("x"));
        }
        outer.record("status", 200_u16);
        outer.record("latency_ms", 0.123_f64);
        tracing::info!("response");
        tracing::trace!(message = "only a message field");
        tracing::info!(no_message = 1_u64);
    }

    fn written_by(install: impl FnOnce(Captured) -> Box<dyn Subscriber + Send + Sync>) -> Vec<String> {
        let captured = Captured::default();
        tracing::subscriber::with_default(install(captured.clone()), log_everything);
        captured.lines()
    }

    #[test]
    fn lines_are_those_of_tracing_subscriber_without_colours() {
        let ours = written_by(|out| {
            Box::new(
                tracing_subscriber::registry().with(
                    tracing_subscriber::fmt::layer()
                        .event_format(PlainLine)
                        .fmt_fields(PlainFields)
                        .with_writer(out),
                ),
            )
        });
        let theirs = written_by(|out| {
            Box::new(
                tracing_subscriber::registry().with(
                    tracing_subscriber::fmt::layer()
                        .with_target(false)
                        .with_ansi(false)
                        .with_writer(out),
                ),
            )
        });
        assert_eq!(ours.len(), 9, "{ours:#?}");
        assert_eq!(ours.len(), theirs.len(), "{ours:#?}\n{theirs:#?}");
        for (ours, theirs) in ours.iter().zip(&theirs) {
            // The timestamps differ by when each was taken: compare their shape, then the rest.
            let (our_time, our_rest) = ours.split_once(' ').expect("a timestamp");
            let (their_time, their_rest) = theirs.split_once(' ').expect("a timestamp");
            assert_eq!(our_rest, their_rest);
            assert_eq!(our_time.len(), their_time.len(), "{our_time} {their_time}");
            assert_eq!(our_time[..14], their_time[..14], "{our_time} {their_time}");
            assert!(!our_rest.contains('\x1b') && !our_rest.contains('\u{9b}'), "{our_rest}");
        }
        assert!(
            ours.iter()
                .any(|line| line.contains(r"\x1b[2J esc \x07 bel \x08 bs \x0c ff \x7f del \u{85} nel \u{9b} csi é"))
        );
        assert!(
            ours.iter().any(|line| line.contains(
                "request{method=GET route=\"/posts\" request_id=\"abc\" status=200 latency_ms=0.123}: response"
            )),
            "{ours:#?}"
        );
    }

    fn timestamp(since_epoch: Duration) -> String {
        let mut line = String::new();
        write_timestamp(&mut Writer::new(&mut line), UNIX_EPOCH + since_epoch).expect("written");
        line
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000000Z "),
            (951_782_400, 7, "2000-02-29T00:00:00.000007Z "),
            (951_868_799, 999_999, "2000-02-29T23:59:59.999999Z "),
            (1_798_675_200, 120_000, "2026-12-31T00:00:00.120000Z "),
            (4_107_542_400, 500_000, "2100-03-01T00:00:00.500000Z "),
            (253_402_300_799, 1, "9999-12-31T23:59:59.000001Z "),
        ];
        for (seconds, micros, expected) in cases {
            // Twice: once remaking the second, once from the thread's copy of it.
            for _ in 0..2 {
                assert_eq!(timestamp(Duration::new(seconds, micros * 1000 + 999)), expected);
            }
        }
    }

    /// Every day from 1970 to 2200 against a count of days one month at a time.
    #[test]
    fn the_date_of_every_day_is_the_calendar_s() {
        let mut days = 0;
        for year in 1970..2200_u64 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            for month in 1..=12_u64 {
                let length = match month {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                for day in 1..=length {
                    assert_eq!(civil_date(days), (year, month, day), "day {days}");
                    days += 1;
                }
            }
        }
    }
}
