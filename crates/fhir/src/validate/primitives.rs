//! Primitive datatypes: JSON type and lexical form (FHIR R4 §2.24.0.1 "Primitive Types" with
//! each type's regex, and §2.6.2 "JSON representation of primitive elements": booleans are JSON
//! booleans, integer and decimal types JSON numbers, everything else JSON strings; strings are
//! never empty and contain no control characters other than tab, CR and LF).
//!
//! The R4 regexes are implemented by hand over bytes, so a check allocates nothing and nothing is
//! compiled at run time. Dates are also checked to be real calendar dates (§2.24.0.1 date: "SHALL
//! be a valid date"), which the regexes alone do not ensure.
use serde_json::Value;

/// What is wrong with a primitive value: an IssueType code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
}

const fn value(message: &'static str) -> Problem {
    Problem { code: "value", message }
}

/// The largest string the specification allows (§2.24.0.1 string: "SHALL NOT exceed 1MB").
const MAX_STRING: usize = 1024 * 1024;

/// Checks `v` as a FHIR primitive of type `type_name` (`date`, `code`, `positiveInt`, ...).
pub(crate) fn check(type_name: &str, v: &Value) -> Result<(), Problem> {
    match type_name {
        "boolean" => match v {
            Value::Bool(_) => Ok(()),
            _ => Err(value("must be a JSON boolean (true or false)")),
        },
        "integer" | "positiveInt" | "unsignedInt" => check_integer(type_name, v),
        "decimal" => match v {
            Value::Number(_) => Ok(()),
            _ => Err(value("must be a JSON number (a decimal)")),
        },
        _ => {
            let Value::String(s) = v else {
                return Err(value("must be a JSON string"));
            };
            check_string(type_name, s)
        }
    }
}

fn check_integer(type_name: &str, v: &Value) -> Result<(), Problem> {
    let Value::Number(n) = v else {
        return Err(value("must be a JSON number (an integer)"));
    };
    let Some(i) = n.as_i64() else {
        return Err(value("must be a whole number without a fraction or exponent"));
    };
    let min = match type_name {
        "positiveInt" => 1,
        "unsignedInt" => 0,
        _ => i64::from(i32::MIN),
    };
    if i < min || i > i64::from(i32::MAX) {
        return Err(value(match type_name {
            "positiveInt" => "must be a positive integer between 1 and 2147483647",
            "unsignedInt" => "must be an integer between 0 and 2147483647",
            _ => "must be an integer between -2147483648 and 2147483647",
        }));
    }
    Ok(())
}

fn check_string(type_name: &str, s: &str) -> Result<(), Problem> {
    if s.is_empty() {
        return Err(value("must not be an empty string (omit the element instead)"));
    }
    // The 1 MB limit is the string type's (1024 * 1024 characters, not bytes). Narrative
    // xhtml is not a string (the specification's own code system narratives exceed it), and
    // base64Binary has "no specified upper limit" (§2.24.0.1): a scanned letter in a
    // DocumentReference or Binary is often several MB.
    if s.len() > MAX_STRING
        && !matches!(type_name, "xhtml" | "base64Binary")
        && s.chars().count() > MAX_STRING
    {
        return Err(value("is longer than the 1 MB the specification allows"));
    }
    let b = s.as_bytes();
    let ok = match type_name {
        "string" | "markdown" => return check_text(s),
        "xhtml" => return check_xhtml(s),
        "code" => is_code(b),
        "id" => is_id(b),
        "uri" | "url" | "canonical" => !b.iter().any(u8::is_ascii_whitespace) && !has_control(s),
        "oid" => is_oid(b),
        "uuid" => is_uuid(b),
        "base64Binary" => is_base64(b),
        "date" => return date(b).map(|_| ()),
        "dateTime" => return date_time(b, false),
        "instant" => return date_time(b, true),
        "time" => return time(b),
        // A type this module does not know cannot be checked; the element walk reports
        // unknown types, so treat it as text.
        _ => return check_text(s),
    };
    if ok {
        Ok(())
    } else {
        Err(value(match type_name {
            "code" => "is not a valid code (no leading, trailing or repeated whitespace)",
            "id" => "is not a valid id (1-64 characters: A-Z, a-z, 0-9, '-' and '.')",
            "uri" => "is not a valid uri (it must not contain whitespace)",
            "url" => "is not a valid url (it must not contain whitespace)",
            "canonical" => "is not a valid canonical URL (it must not contain whitespace)",
            "oid" => "is not a valid oid (expected urn:oid: followed by a dotted number, e.g. urn:oid:1.2.3)",
            "uuid" => "is not a valid uuid (expected urn:uuid: and a lower-case UUID)",
            _ => "is not valid base64 (groups of four characters A-Z, a-z, 0-9, '+', '/', '=')",
        }))
    }
}

/// Control characters other than tab, CR and LF are not allowed in strings (§2.24.0.1 string).
fn has_control(s: &str) -> bool {
    s.bytes().any(|c| c < 0x20 && !matches!(c, b'\t' | b'\r' | b'\n')) || s.contains('\u{7f}')
}

fn check_text(s: &str) -> Result<(), Problem> {
    if has_control(s) {
        return Err(value("contains a control character (only tab, CR and LF are allowed)"));
    }
    if s.trim().is_empty() {
        return Err(value("must contain something other than whitespace"));
    }
    Ok(())
}

/// Narrative XHTML (§2.4.0.1 Narrative): a non-empty `<div>` element.
fn check_xhtml(s: &str) -> Result<(), Problem> {
    let t = s.trim();
    if !(t.starts_with("<div") && t.ends_with("div>")) {
        return Err(value("must be an XHTML <div> element"));
    }
    if has_control(s) {
        return Err(value("contains a control character (only tab, CR and LF are allowed)"));
    }
    Ok(())
}

/// `[^\s]+(\s[^\s]+)*`
fn is_code(b: &[u8]) -> bool {
    let ws = |c: &u8| c.is_ascii_whitespace() || *c == 0x0b;
    let mut prev_ws = true; // start: no leading whitespace
    for c in b {
        let w = ws(c);
        if w && prev_ws {
            return false;
        }
        prev_ws = w;
    }
    !prev_ws && !b.iter().any(|&c| c < 0x20 && !ws(&c))
}

/// `[A-Za-z0-9\-\.]{1,64}`
pub(crate) fn is_id(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.'))
}

/// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`
pub(crate) fn is_oid(b: &[u8]) -> bool {
    let Some(rest) = b.strip_prefix(b"urn:oid:") else { return false };
    let mut parts = rest.split(|&c| c == b'.');
    let first_ok = matches!(parts.next(), Some([b'0'..=b'2']));
    let mut n = 0;
    for p in parts {
        n += 1;
        let ok = match p {
            [b'0'] => true,
            [b'1'..=b'9', tail @ ..] => tail.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    first_ok && n >= 1
}

/// `urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
pub(crate) fn is_uuid(b: &[u8]) -> bool {
    let Some(rest) = b.strip_prefix(b"urn:uuid:") else { return false };
    rest.len() == 36
        && rest.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`: whitespace may surround groups of four.
fn is_base64(b: &[u8]) -> bool {
    let mut n = 0usize;
    for c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=') {
            n += 1;
        } else if !c.is_ascii_whitespace() {
            return false;
        }
    }
    n > 0 && n.is_multiple_of(4)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    }
}

const DATE_MSG: &str = "is not a valid date (expected YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date)";
const DATE_TIME_MSG: &str = "is not a valid dateTime (expected YYYY, YYYY-MM, YYYY-MM-DD or \
     YYYY-MM-DDThh:mm:ss[.fff] with a time zone, Z or +hh:mm)";
const INSTANT_MSG: &str =
    "is not a valid instant (expected YYYY-MM-DDThh:mm:ss[.fff] with a time zone, Z or +hh:mm)";
const TIME_MSG: &str = "is not a valid time (expected hh:mm:ss[.fff], without a time zone)";

/// `YYYY(-MM(-DD)?)?`; returns how many parts were given (1-3).
fn date(b: &[u8]) -> Result<u8, Problem> {
    let bad = || value(DATE_MSG);
    let year = match b.get(..4).and_then(digits) {
        Some(y) if y >= 1 => y,
        _ => return Err(bad()),
    };
    match b.len() {
        4 => Ok(1),
        7 | 10 if b[4] == b'-' => {
            let month = b.get(5..7).and_then(digits).filter(|m| (1..=12).contains(m)).ok_or_else(bad)?;
            if b.len() == 7 {
                return Ok(2);
            }
            if b[7] != b'-' {
                return Err(bad());
            }
            let day = b.get(8..10).and_then(digits).ok_or_else(bad)?;
            if day < 1 || day > days_in_month(year, month) {
                return Err(bad());
            }
            Ok(3)
        }
        _ => Err(bad()),
    }
}

/// `hh:mm:ss(\.[0-9]+)?` with hh 00-23, mm 00-59, ss 00-60 (leap second).
fn time_of_day(b: &[u8]) -> bool {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let ok = matches!(digits(&b[0..2]), Some(0..=23))
        && matches!(digits(&b[3..5]), Some(0..=59))
        && matches!(digits(&b[6..8]), Some(0..=60));
    ok && match &b[8..] {
        [] => true,
        [b'.', frac @ ..] => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)`
fn zone(b: &[u8]) -> bool {
    match b {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => match (digits(&[*h1, *h2]), digits(&[*m1, *m2])) {
            (Some(h @ 0..=13), Some(0..=59)) => h <= 13,
            (Some(14), Some(0)) => true,
            _ => false,
        },
        _ => false,
    }
}

fn date_time(b: &[u8], instant: bool) -> Result<(), Problem> {
    let msg = if instant { INSTANT_MSG } else { DATE_TIME_MSG };
    let Some(t) = b.iter().position(|&c| c == b'T') else {
        return match date(b) {
            Ok(_) if !instant => Ok(()),
            _ => Err(value(msg)),
        };
    };
    if !matches!(date(&b[..t]), Ok(3)) {
        return Err(value(msg));
    }
    let rest = &b[t + 1..];
    let z = rest.iter().position(|&c| matches!(c, b'Z' | b'+' | b'-')).ok_or(value(msg))?;
    if time_of_day(&rest[..z]) && zone(&rest[z..]) {
        Ok(())
    } else {
        Err(value(msg))
    }
}

fn time(b: &[u8]) -> Result<(), Problem> {
    if time_of_day(b) {
        Ok(())
    } else {
        Err(value(TIME_MSG))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(t: &str, v: Value) -> bool {
        check(t, &v).is_ok()
    }

    #[test]
    fn only_strings_are_limited_to_a_million_characters() {
        let limit = MAX_STRING;
        assert!(ok("string", json!("a".repeat(limit))));
        assert!(!ok("string", json!("a".repeat(limit + 1))));
        assert!(!ok("markdown", json!("a".repeat(limit + 1))));
        // Characters, not bytes: 600,000 two-byte letters are 1.2 MB but well within.
        assert!(ok("string", json!("é".repeat(600_000))));
        // A scanned document: base64Binary has no upper limit in R4.
        assert!(ok("base64Binary", json!("QUJD".repeat(limit))));
    }

    #[test]
    fn dates() {
        for good in ["2024", "2024-02", "2024-02-29", "0001-01-01", "2000-02-29"] {
            assert!(ok("date", json!(good)), "{good}");
            assert!(ok("dateTime", json!(good)), "{good}");
        }
        for bad in [
            "0000",
            "24",
            "2024-13",
            "2024-00",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-1-01",
            "2024/01/01",
            "2024-01-01T10:00:00Z",
            " 2024",
        ] {
            assert!(!ok("date", json!(bad)), "{bad}");
        }
        for good in ["2024-01-01T10:00:00Z", "2024-01-01T23:59:60.123+14:00", "2024-01-01T00:00:00-05:30"] {
            assert!(ok("dateTime", json!(good)), "{good}");
            assert!(ok("instant", json!(good)), "{good}");
        }
        for bad in [
            "2024-01-01T10:00Z",
            "2024-01-01T10:00:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:00:00+14:30",
            "2024-01T10:00:00Z",
            "2024-01-01T10:00:00.Z",
            "2024-01-01T10:00:00z",
        ] {
            assert!(!ok("dateTime", json!(bad)), "{bad}");
        }
        assert!(!ok("instant", json!("2024-01-01")));
        assert!(ok("time", json!("23:59:59.5")));
        assert!(!ok("time", json!("23:59")));
        assert!(!ok("time", json!("10:00:00Z")));
        assert!(!ok("date", json!(2024)));
    }

    #[test]
    fn numbers_and_booleans() {
        assert!(ok("integer", json!(-2147483648i64)));
        assert!(!ok("integer", json!(2147483648i64)));
        assert!(!ok("integer", json!("1")));
        assert!(!ok("integer", serde_json::from_str::<Value>("1.0").unwrap()));
        assert!(ok("positiveInt", json!(1)));
        assert!(!ok("positiveInt", json!(0)));
        assert!(ok("unsignedInt", json!(0)));
        assert!(!ok("unsignedInt", json!(-1)));
        assert!(ok("decimal", serde_json::from_str::<Value>("1.50").unwrap()));
        assert!(!ok("decimal", json!("1.5")));
        assert!(ok("boolean", json!(false)));
        assert!(!ok("boolean", json!("true")));
    }

    #[test]
    fn strings() {
        assert!(ok("string", json!("Jane  Smith ")));
        assert!(!ok("string", json!("")));
        assert!(!ok("string", json!("   ")));
        assert!(!ok("string", json!("a\u{0}b")));
        assert!(ok("markdown", json!("# a\n\n* b\t")));
        assert!(ok("code", json!("final")));
        assert!(ok("code", json!("a b")));
        for bad in [" final", "final ", "a  b", "a\nb\n", ""] {
            assert!(!ok("code", json!(bad)), "{bad:?}");
        }
        assert!(ok("id", json!("a-B.9")));
        assert!(!ok("id", json!("a_b")));
        assert!(!ok("id", json!("x".repeat(65))));
        assert!(ok("uri", json!("http://example.org/x")));
        assert!(!ok("uri", json!("http://example.org/a b")));
        assert!(ok("canonical", json!("http://hl7.org/fhir/ValueSet/x|4.0.1")));
        assert!(ok("oid", json!("urn:oid:1.2.840.10008")));
        for bad in ["urn:oid:3.1", "urn:oid:1", "urn:oid:1.02", "1.2.3", "urn:oid:1..2"] {
            assert!(!ok("oid", json!(bad)), "{bad}");
        }
        assert!(ok("uuid", json!("urn:uuid:c757873d-ec9a-4326-a141-556f43239520")));
        assert!(!ok("uuid", json!("urn:uuid:C757873D-EC9A-4326-A141-556F43239520")));
        assert!(!ok("uuid", json!("c757873d-ec9a-4326-a141-556f43239520")));
        assert!(ok("base64Binary", json!("aGVsbG8=")));
        assert!(ok("base64Binary", json!("aGVs\nbG8=")));
        assert!(!ok("base64Binary", json!("aGVsbG8")));
        assert!(!ok("base64Binary", json!("aGVs*G8=")));
        assert!(ok("xhtml", json!("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>")));
        assert!(!ok("xhtml", json!("plain text")));
    }
}
