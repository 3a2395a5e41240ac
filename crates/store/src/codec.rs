//! How resource bodies are kept on disk: compact JSON compressed with zstd. Resources compress
//! 3-5x, which is most of what keeps Lantern under its bytes-per-resource target.
use crate::error::StoreError;

use std::cell::RefCell;

const LEVEL: i32 = 3;

thread_local! {
    // Creating a zstd context costs more than compressing a small resource: keep one per thread.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

pub(crate) fn encode(json: &str) -> Result<Vec<u8>, StoreError> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Compressor::new(LEVEL).map_err(StoreError::db)?);
        }
        c.as_mut().expect("set above").compress(json.as_bytes()).map_err(StoreError::db)
    })
}

pub(crate) fn decode(bytes: &[u8]) -> Result<String, StoreError> {
    let size = zstd::zstd_safe::get_frame_content_size(bytes).ok().flatten().unwrap_or(0) as usize;
    let raw = if size > 0 && size < 64 << 20 {
        DECOMPRESSOR.with(|d| {
            let mut d = d.borrow_mut();
            if d.is_none() {
                *d = Some(zstd::bulk::Decompressor::new().map_err(StoreError::db)?);
            }
            d.as_mut().expect("set above").decompress(bytes, size).map_err(StoreError::db)
        })?
    } else {
        zstd::stream::decode_all(bytes).map_err(StoreError::db)?
    };
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
