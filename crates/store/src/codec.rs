//! How resource bodies are kept on disk: compact JSON compressed with zstd. Resources compress
//! 3-5x, which is most of what keeps Lantern under its bytes-per-resource target.
use crate::error::StoreError;

const LEVEL: i32 = 3;

pub(crate) fn encode(json: &str) -> Result<Vec<u8>, StoreError> {
    zstd::bulk::compress(json.as_bytes(), LEVEL).map_err(StoreError::db)
}

pub(crate) fn decode(bytes: &[u8]) -> Result<String, StoreError> {
    let raw = zstd::stream::decode_all(bytes).map_err(StoreError::db)?;
    String::from_utf8(raw).map_err(StoreError::db)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let s = r#"{"resourceType":"Patient","id":"a"}"#;
        assert_eq!(super::decode(&super::encode(s).unwrap()).unwrap(), s);
    }
}
