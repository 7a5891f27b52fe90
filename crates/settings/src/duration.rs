//! Human-friendly durations for settings (`15s`, `15m`, `1h`, `30d`).

use std::time::Duration;

/// Parses a duration such as `15m` or `1h 30m`; a bare number is refused so
/// that `900` is never silently read as seconds or milliseconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value.trim())
        .map_err(|e| format!("`{value}` is not a duration like 15s, 15m, 1h or 30d ({e})"))
}

/// Parses a duration that must be longer than zero (a zero timeout would fail everything).
pub fn parse_positive_duration(value: &str) -> Result<Duration, String> {
    let duration = parse_duration(value)?;
    if duration.is_zero() {
        return Err(format!("`{value}` must be longer than zero"));
    }
    Ok(duration)
}

/// Formats a duration the way settings are written (`15m`, `30days`).
pub fn format_duration(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_units() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(parse_duration("900").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("15x").is_err());
        assert!(parse_duration("-5s").is_err());
    }
}
