// Character sets — HL7 v2 chapter 2.14.9.18 (MSH-18 character set, table 0211) and chapter
// 2.7.7 on alternate character sets. The parser takes bytes and decodes them here.

use crate::issue::{ErrorCode, Issue};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// How the bytes of a message are turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// MSH-18 empty or `ASCII`: strictly 7-bit, but we accept UTF-8 and fall back to Latin-1,
    /// because real feeds send both without saying so.
    Default,
    /// `UNICODE UTF-8` (or `UTF-8`).
    Utf8,
    /// `8859/1` (and, approximately, the other single-byte 8859 parts).
    Latin1,
}

impl Charset {
    /// Recognise an MSH-18 value (table 0211).
    pub fn from_msh18(value: &str) -> (Charset, Option<Issue>) {
        let v = value.trim().to_ascii_uppercase();
        match v.as_str() {
            "" | "ASCII" => (Charset::Default, None),
            "UNICODE UTF-8" | "UTF-8" | "UTF8" | "UNICODE" => (Charset::Utf8, None),
            "8859/1" | "ISO-8859-1" | "ISO8859-1" | "LATIN1" => (Charset::Latin1, None),
            other if other.starts_with("8859/") || other.starts_with("ISO-8859") => (
                Charset::Latin1,
                Some(Issue::warning(
                    ErrorCode::TableValueNotFound,
                    format!("character set {other} decoded as ISO 8859-1"),
                )),
            ),
            other => (
                Charset::Default,
                Some(Issue::warning(
                    ErrorCode::TableValueNotFound,
                    format!("unsupported character set {other}; decoded as UTF-8 or ISO 8859-1"),
                )),
            ),
        }
    }
}

/// Strip a UTF-8 byte-order mark if present; returns the rest and whether one was found.
pub(crate) fn strip_bom(bytes: &[u8]) -> (&[u8], bool) {
    match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    }
}

/// Latin-1 maps each byte to the code point of the same number.
pub(crate) fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Decode bytes in the given character set. Never fails: undecodable input is decoded as
/// Latin-1 (or with replacement characters for declared UTF-8) and reported.
pub(crate) fn decode(bytes: &[u8], charset: Charset) -> (String, Option<Issue>) {
    match charset {
        Charset::Latin1 => (decode_latin1(bytes), None),
        Charset::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), None),
            Err(_) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(Issue::warning(
                    ErrorCode::DataType,
                    "message declared UTF-8 but contains invalid UTF-8; bad bytes replaced",
                )),
            ),
        },
        Charset::Default => match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), None),
            Err(_) => (
                decode_latin1(bytes),
                Some(Issue::warning(
                    ErrorCode::DataType,
                    "non-ASCII bytes without MSH-18; decoded as ISO 8859-1",
                )),
            ),
        },
    }
}

/// Decode the bytes of a `\Xhh..\` escape: UTF-8 if they form valid UTF-8, else Latin-1.
pub(crate) fn decode_hex_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => decode_latin1(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_and_utf8() {
        assert_eq!(decode(&[0x4D, 0xFC], Charset::Latin1).0, "Mü");
        assert_eq!(decode("Mü".as_bytes(), Charset::Utf8).0, "Mü");
        let (s, issue) = decode(&[0x4D, 0xFC], Charset::Default);
        assert_eq!(s, "Mü");
        assert!(issue.is_some());
    }

    #[test]
    fn msh18_values() {
        assert_eq!(Charset::from_msh18("UNICODE UTF-8").0, Charset::Utf8);
        assert_eq!(Charset::from_msh18("8859/1").0, Charset::Latin1);
        assert_eq!(Charset::from_msh18("").0, Charset::Default);
        assert!(Charset::from_msh18("ISO IR87").1.is_some());
    }

    #[test]
    fn bom() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBFMSH"), (&b"MSH"[..], true));
        assert_eq!(strip_bom(b"MSH"), (&b"MSH"[..], false));
    }
}
