//! Time and identifiers are injected so tests can fix them and the binary can choose them.

/// The wall clock, in microseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_micros(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        let now = time::OffsetDateTime::now_utc();
        (now.unix_timestamp_nanos() / 1000) as i64
    }
}

/// Formats microseconds as a FHIR instant (`2024-05-01T10:00:00.123456Z`).
pub fn format_instant(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// Formats microseconds as an HTTP date (`Wed, 01 May 2024 10:00:00 GMT`) for Last-Modified.
pub fn format_http_date(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_instants() {
        assert_eq!(format_instant(1_714_557_600_123_456), "2024-05-01T10:00:00.123456Z");
        assert_eq!(format_http_date(1_714_557_600_000_000), "Wed, 01 May 2024 10:00:00 GMT");
    }
}
