//! Hashes, ACK ids and timestamps.
use sha2::{Digest, Sha256};

/// Hex SHA-256 of a message's raw bytes: the content part of the idempotency key.
pub(crate) fn content_hash(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// A v2 TS (`YYYYMMDDHHMMSS+0000`) for microseconds since the epoch, in UTC.
pub(crate) fn v2_timestamp(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_is_utc_v2_ts() {
        assert_eq!(super::v2_timestamp(1_714_557_600_123_456), "20240501100000+0000");
    }
}
