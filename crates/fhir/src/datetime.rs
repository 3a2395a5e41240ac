//! FHIR date, dateTime and instant values as the instant ranges they cover (R4 §2.24.0.5 date
//! precision; §3.1.1.5.3 "date" search: "the range of the value"). `2024` covers the whole
//! year; `2024-05-01T10:00` covers one minute. Both indexing and searching use this, so a
//! search's precision and a value's precision are compared as ranges.
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// Microseconds in a second.
const S: i64 = 1_000_000;

/// The inclusive range `[lo, hi]` in microseconds since the epoch that a FHIR date, dateTime,
/// instant or partial form covers. Values without a time zone are taken as UTC. Returns None
/// when the text is not a valid FHIR date/time.
pub fn range(text: &str) -> Option<(i64, i64)> {
    let t = text.trim();
    let (date_part, time_part) = match t.find('T') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut it = date_part.split('-');
    let year: i32 = parse_digits(it.next()?, 4)?;
    let month = it.next().map(|m| parse_digits::<u8>(m, 2)).map_or(Ok(None), |m| m.map(Some).ok_or(()));
    let month = month.ok()?;
    let day = match it.next() {
        Some(d) => Some(parse_digits::<u8>(d, 2)?),
        None => None,
    };
    if it.next().is_some() {
        return None;
    }
    match (month, day, time_part) {
        (None, None, None) => {
            let lo = Date::from_calendar_date(year, Month::January, 1).ok()?;
            let hi = Date::from_calendar_date(year + 1, Month::January, 1).ok()?;
            Some((day_start(lo), day_start(hi) - 1))
        }
        (Some(m), None, None) => {
            let month = Month::try_from(m).ok()?;
            let lo = Date::from_calendar_date(year, month, 1).ok()?;
            let (ny, nm) = if m == 12 { (year + 1, Month::January) } else { (year, month.next()) };
            let hi = Date::from_calendar_date(ny, nm, 1).ok()?;
            Some((day_start(lo), day_start(hi) - 1))
        }
        (Some(m), Some(d), None) => {
            let lo = Date::from_calendar_date(year, Month::try_from(m).ok()?, d).ok()?;
            Some((day_start(lo), day_start(lo) + 86_400 * S - 1))
        }
        (Some(m), Some(d), Some(tp)) => {
            let date = Date::from_calendar_date(year, Month::try_from(m).ok()?, d).ok()?;
            time_range(date, tp)
        }
        _ => None,
    }
}

fn day_start(d: Date) -> i64 {
    PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc().unix_timestamp() * S
}

fn parse_digits<T: std::str::FromStr>(s: &str, n: usize) -> Option<T> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `hh:mm[:ss[.fff...]][Z|(+|-)hh:mm]`.
fn time_range(date: Date, tp: &str) -> Option<(i64, i64)> {
    let (clock, offset) = split_zone(tp)?;
    let mut parts = clock.split(':');
    let h: u8 = parse_digits(parts.next()?, 2)?;
    let mi: u8 = parse_digits(parts.next()?, 2)?;
    let sec_text = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let (sec, frac, frac_digits) = match sec_text {
        None => (0u8, 0i64, None),
        Some(s) => {
            let (whole, frac) = match s.find('.') {
                Some(i) => (&s[..i], Some(&s[i + 1..])),
                None => (s, None),
            };
            let sec: u8 = parse_digits(whole, 2)?;
            match frac {
                None => (sec, 0, Some(0)),
                Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                    let digits = f.len().min(6);
                    let v: i64 = f[..digits].parse().ok()?;
                    (sec, v * 10i64.pow((6 - digits) as u32), Some(digits))
                }
                Some(_) => return None,
            }
        }
    };
    let sec = if sec == 60 { 59 } else { sec }; // leap second: clamp
    let time = Time::from_hms(h, mi, sec).ok()?;
    let base = PrimitiveDateTime::new(date, time).assume_offset(offset).unix_timestamp() * S + frac;
    let width = match frac_digits {
        None => 60 * S,
        Some(d) => 10i64.pow((6 - d) as u32),
    };
    Some((base, base + width - 1))
}

/// As [`range`], for a value read from a URL's query string, where a time zone's `+` sent
/// unencoded (`date=ge2024-05-01T10:00:00+01:00`) arrives decoded as a space. A space before
/// a trailing `hh:mm` after the time has no other reading, so the `+` is put back rather than
/// the search refused (HAPI refuses it; clients get this wrong often enough that several
/// servers repair it). Resource values never come through here: there a space stays invalid.
pub fn query_range(text: &str) -> Option<(i64, i64)> {
    range(text).or_else(|| {
        let (head, zone) = text.trim().rsplit_once(' ')?;
        let z = zone.as_bytes();
        let is_zone = z.len() == 5 && z[2] == b':' && [0, 1, 3, 4].iter().all(|&i| z[i].is_ascii_digit());
        if !is_zone || !head.contains('T') || head.contains(' ') {
            return None;
        }
        range(&format!("{head}+{zone}"))
    })
}

fn split_zone(tp: &str) -> Option<(&str, UtcOffset)> {
    if let Some(c) = tp.strip_suffix('Z') {
        return Some((c, UtcOffset::UTC));
    }
    if tp.len() > 6 {
        let (c, z) = tp.split_at(tp.len() - 6);
        let b = z.as_bytes();
        if (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
            let h: i8 = parse_digits(&z[1..3], 2)?;
            let m: i8 = parse_digits(&z[4..6], 2)?;
            let sign = if b[0] == b'-' { -1 } else { 1 };
            return Some((c, UtcOffset::from_hms(sign * h, sign * m, 0).ok()?));
        }
    }
    Some((tp, UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_value_whose_plus_became_a_space_is_repaired() {
        let want = range("2013-01-14T10:00:00+10:00");
        assert!(want.is_some());
        assert_eq!(query_range("2013-01-14T10:00:00 10:00"), want);
        assert_eq!(query_range("2013-01-14T10:00:00.5 10:00"), range("2013-01-14T10:00:00.5+10:00"));
        assert_eq!(query_range("2013-01-14T10:00:00-10:00"), range("2013-01-14T10:00:00-10:00"));
        // Only that shape: a space anywhere else is still an error, and resource values stay strict.
        for bad in ["2013-01-14 10:00", "2013-01-14T10:00:00 1000", "2013-01-14T10:00 00 10:00", "2013 10:00"]
        {
            assert_eq!(query_range(bad), None, "{bad}");
        }
        assert_eq!(range("2013-01-14T10:00:00 10:00"), None);
    }

    fn at(s: &str) -> i64 {
        range(s).unwrap().0
    }

    #[test]
    fn precision_gives_ranges() {
        let (lo, hi) = range("2024").unwrap();
        assert_eq!(lo, at("2024-01-01T00:00:00Z"));
        assert_eq!(hi + 1, at("2025-01-01T00:00:00Z"));
        let (lo, hi) = range("2024-02").unwrap();
        assert_eq!(hi + 1 - lo, 29 * 86_400 * S);
        let (lo, hi) = range("2024-05-01T10:00").unwrap();
        assert_eq!(hi + 1 - lo, 60 * S);
        let (lo, hi) = range("2024-05-01T10:00:00.5Z").unwrap();
        assert_eq!(hi + 1 - lo, 100_000);
        assert_eq!(lo, at("2024-05-01T10:00:00Z") + 500_000);
    }

    #[test]
    fn zones_shift_instants() {
        assert_eq!(at("2024-05-01T11:00:00+01:00"), at("2024-05-01T10:00:00Z"));
        assert_eq!(at("2024-05-01T05:30:00-04:30"), at("2024-05-01T10:00:00Z"));
    }

    #[test]
    fn rejects_nonsense() {
        for s in ["", "20", "2024-13", "2024-02-30", "2024-01-01T25:00", "abcd", "2024-1-01", "2024-01-01T10"]
        {
            assert!(range(s).is_none(), "{s}");
        }
    }
}
