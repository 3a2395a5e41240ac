//! How resource bodies are kept on disk: compact JSON compressed with zstd. Resources compress
//! 3-5x, which is most of what keeps Lantern under its bytes-per-resource target.
//!
//! A body is stored without its `meta.versionId` and `meta.lastUpdated`, which the version row
//! holds anyway and a read puts back (as the first members of `meta`). So the JSON can be
//! serialised and compressed by the request's thread before the writer decides the version
//! and the time (see [`PreparedBody`]): both were a seventh of the writer's time in
//! `bench ingest`. Bodies written before this carry both in the compressed text and are read
//! as they are.
use crate::clock::format_instant;
use crate::error::StoreError;
use serde_json::Value;

use std::cell::RefCell;

const LEVEL: i32 = 3;

/// The first byte of a body kept without `versionId` and `lastUpdated`; then the offset (LEB128)
/// in the JSON where they go, then the zstd frame. A zstd frame itself starts with 0x28.
const SPLICED: u8 = 1;

thread_local! {
    // Creating a zstd context costs more than compressing a small resource: keep one per thread.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// A resource's body made ready to store before the version and time are known: its JSON
/// without `meta.versionId` and `meta.lastUpdated`, and that JSON compressed.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedBody {
    /// The id the JSON carries: a body prepared for another id is not used.
    id: String,
    text: String,
    /// Where in `text` (just inside `meta`'s brace) the version and time go.
    splice: usize,
    blob: Vec<u8>,
}

impl PreparedBody {
    /// Puts `resourceType`, `id` (set to `id`) and `meta` first, as FHIR JSON conventionally
    /// has them, drops `meta.versionId` and `meta.lastUpdated` (a write sets them), then
    /// serialises and compresses `body`.
    pub fn new(body: &mut Value, id: &str) -> Result<Self, StoreError> {
        normalise(body, id);
        let text = serde_json::to_string(body).map_err(StoreError::db)?;
        // `resourceType` and `id` come first and are strings, in which a quote is escaped, so
        // the first `"meta":{` is meta's own.
        let splice = match text.find("\"meta\":{") {
            Some(i) if body.get("meta").is_some_and(Value::is_object) => i + "\"meta\":{".len(),
            _ => return Err(StoreError::invalid("structure", None, "a resource must be a JSON object")),
        };
        let mut blob = vec![SPLICED];
        leb128(&mut blob, splice as u64);
        blob.extend(compress(&text)?);
        Ok(PreparedBody { id: id.to_string(), text, splice, blob })
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The JSON as a read will give it for version `ver` written at `updated`.
    pub(crate) fn text(&self, ver: i64, updated: i64) -> String {
        splice(&self.text, self.splice, ver, updated)
    }

    /// What goes in the version row's `body`.
    pub(crate) fn into_blob(self) -> Vec<u8> {
        self.blob
    }
}

/// See [`PreparedBody::new`].
fn normalise(body: &mut Value, id: &str) {
    let Some(obj) = body.as_object_mut() else { return };
    let mut meta = match obj.remove("meta") {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    meta.remove("versionId");
    meta.remove("lastUpdated");
    let mut out = serde_json::Map::with_capacity(obj.len() + 2);
    if let Some(t) = obj.remove("resourceType") {
        out.insert("resourceType".into(), t);
    }
    obj.remove("id");
    out.insert("id".into(), Value::String(id.to_string()));
    out.insert("meta".into(), Value::Object(meta));
    out.append(obj);
    *obj = out;
}

/// `text` with `"versionId":"ver","lastUpdated":"..."` inserted at byte `at`.
fn splice(text: &str, at: usize, ver: i64, updated: i64) -> String {
    let (head, tail) = text.split_at(at);
    let stamp = format!("\"versionId\":\"{ver}\",\"lastUpdated\":\"{}\"", format_instant(updated));
    let mut out = String::with_capacity(text.len() + stamp.len() + 1);
    out.push_str(head);
    out.push_str(&stamp);
    if !tail.starts_with('}') {
        out.push(',');
    }
    out.push_str(tail);
    out
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The number at the start of `bytes` and what follows it.
fn read_leb128(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut n = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, &bytes[i + 1..]));
        }
    }
    None
}

fn compress(json: &str) -> Result<Vec<u8>, StoreError> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Compressor::new(LEVEL).map_err(StoreError::db)?);
        }
        c.as_mut().expect("set above").compress(json.as_bytes()).map_err(StoreError::db)
    })
}

/// The JSON of a stored body, version `ver` written at `updated`.
pub(crate) fn decode(bytes: &[u8], ver: i64, updated: i64) -> Result<String, StoreError> {
    match bytes.split_first() {
        Some((&SPLICED, rest)) => {
            let bad = || StoreError::Database("a stored body is damaged".into());
            let (at, frame) = read_leb128(rest).ok_or_else(bad)?;
            let text = decompress(frame)?;
            let at = usize::try_from(at).map_err(|_| bad())?;
            if !text.is_char_boundary(at) {
                return Err(bad());
            }
            Ok(splice(&text, at, ver, updated))
        }
        _ => decompress(bytes),
    }
}

fn decompress(bytes: &[u8]) -> Result<String, StoreError> {
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
    use super::*;
    use serde_json::json;

    const T: i64 = 1_714_557_600_123_456;

    #[test]
    fn a_prepared_body_reads_back_with_its_version_and_time_first_in_meta() {
        let mut body = json!({"name": [{"family": "Ó Briain"}], "id": "old", "resourceType": "Patient",
            "meta": {"tag": [{"code": "x"}], "versionId": "7", "lastUpdated": "2020-01-01T00:00:00Z"}});
        let p = PreparedBody::new(&mut body, "p1").unwrap();
        let want = r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2024-05-01T10:00:00.123456Z","tag":[{"code":"x"}]},"name":[{"family":"Ó Briain"}]}"#;
        assert_eq!(p.text(3, T), want);
        assert_eq!(decode(&p.clone().into_blob(), 3, T).unwrap(), want);
        // The body handed to hooks is the normalised one, without what a write sets.
        assert_eq!(body["meta"], json!({"tag": [{"code": "x"}]}));
    }

    #[test]
    fn a_body_without_meta_gets_one() {
        let mut body = json!({"resourceType": "Basic", "code": {"text": "x"}});
        let p = PreparedBody::new(&mut body, "b").unwrap();
        let want = r#"{"resourceType":"Basic","id":"b","meta":{"versionId":"12","lastUpdated":"2024-05-01T10:00:00.123456Z"},"code":{"text":"x"}}"#;
        assert_eq!(decode(&p.into_blob(), 12, T).unwrap(), want);
    }

    #[test]
    fn a_body_stored_whole_reads_as_it_was() {
        let s = r#"{"resourceType":"Patient","id":"a","meta":{"versionId":"1"}}"#;
        assert_eq!(decode(&compress(s).unwrap(), 9, T).unwrap(), s);
    }

    #[test]
    fn damaged_bodies_are_errors_not_panics() {
        let mut body = json!({"resourceType": "Basic"});
        let good = PreparedBody::new(&mut body, "b").unwrap().into_blob();
        for bad in
            [vec![SPLICED], vec![SPLICED, 0xff, 0xff], vec![SPLICED, 0x7f], good[..good.len() - 3].to_vec()]
        {
            assert!(decode(&bad, 1, T).is_err(), "{bad:?}");
        }
        // An offset past the end, with a well-formed frame.
        let mut far = vec![SPLICED];
        leb128(&mut far, 10_000);
        far.extend(compress("{}").unwrap());
        assert!(decode(&far, 1, T).is_err());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid() {
        for mut v in [json!([1, 2]), json!("Patient"), json!(null)] {
            assert!(matches!(PreparedBody::new(&mut v, "x"), Err(StoreError::Invalid(_))), "{v}");
        }
    }

    #[test]
    fn offsets_round_trip() {
        for n in [0u64, 1, 127, 128, 300, 65_535, u64::from(u32::MAX)] {
            let mut v = Vec::new();
            leb128(&mut v, n);
            v.push(0xAA);
            assert_eq!(read_leb128(&v), Some((n, &[0xAA][..])));
        }
    }
}
