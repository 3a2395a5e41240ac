// HL7 v2 DTM/TS/DT (chapter 2A.22 DTM, 2A.75 TS, 2A.21 DT) to FHIR R4 date, dateTime and
// instant (FHIR R4 datatypes §2.24.0.1), following the v2-to-FHIR IG data type maps
// "DTM[dateTime]", "DTM[instant]", "DT[date]": keep the sender's precision, and only invent a
// timezone when the sender gave a time without one (from the feed's configured local zone).

/// A v2 timestamp split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    year: u32,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: Option<u32>,
    second: Option<u32>,
    fraction: Option<String>,
    /// Offset in minutes east of UTC, if given.
    offset: Option<i32>,
}

/// The zone the feed's local times are in, used when a v2 time has no offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalZone {
    /// UK civil time: GMT, or BST (+01:00) from 01:00 UTC on the last Sunday of March to 01:00
    /// UTC on the last Sunday of October.
    EuropeLondon,
    /// A fixed offset in minutes.
    Fixed(i32),
}

impl LocalZone {
    /// Read "Europe/London", "UTC", "Z" or an offset such as "+05:30".
    pub fn parse(s: &str) -> Option<LocalZone> {
        match s.trim() {
            "Europe/London" | "GB" => Some(LocalZone::EuropeLondon),
            "UTC" | "Z" | "GMT" => Some(LocalZone::Fixed(0)),
            other => parse_offset(&other.replace(':', "")).map(LocalZone::Fixed),
        }
    }

    fn offset_for(&self, p: &Parts) -> i32 {
        match self {
            LocalZone::Fixed(m) => *m,
            LocalZone::EuropeLondon => {
                let (Some(month), Some(day)) = (p.month, p.day) else { return 0 };
                let hour = p.hour.unwrap_or(12);
                let start = last_sunday(p.year, 3);
                let end = last_sunday(p.year, 10);
                // Local wall-clock approximations of the 01:00 UTC switch instants.
                let after_start = (month, day, hour) >= (3, start, 1);
                let before_end = (month, day, hour) < (10, end, 2);
                if after_start && before_end {
                    60
                } else {
                    0
                }
            }
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        _ => 28,
    }
}

/// Day of week, 0 = Sunday (Sakamoto's method).
fn weekday(year: u32, month: u32, day: u32) -> u32 {
    const T: [u32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    (y + y / 4 - y / 100 + y / 400 + T[(month - 1) as usize] + day) % 7
}

fn last_sunday(year: u32, month: u32) -> u32 {
    let last = days_in_month(year, month);
    last - weekday(year, month, last)
}

fn parse_offset(s: &str) -> Option<i32> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn parse(ts: &str) -> Option<Parts> {
    let ts = ts.trim();
    let (body, offset) = match ts.find(['+', '-']) {
        Some(i) => (&ts[..i], Some(parse_offset(&ts[i..])?)),
        None => (ts, None),
    };
    let (digits, fraction) = match body.split_once('.') {
        Some((d, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (d, Some(f.to_string())),
        Some(_) => return None,
        None => (body, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![4, 6, 8, 10, 12, 14].contains(&digits.len()) {
        return None;
    }
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|s| s.parse::<u32>().ok());
    let p = Parts {
        year: num(0, 4)?,
        month: num(4, 6),
        day: num(6, 8),
        hour: num(8, 10),
        minute: num(10, 12),
        second: num(12, 14),
        fraction: if digits.len() == 14 { fraction } else { None },
        offset,
    };
    let valid = p.year >= 1000
        && p.month.is_none_or(|m| (1..=12).contains(&m))
        && p.day.is_none_or(|d| d >= 1 && d <= days_in_month(p.year, p.month.unwrap_or(1)))
        && p.hour.is_none_or(|h| h < 24)
        && p.minute.is_none_or(|m| m < 60)
        && p.second.is_none_or(|s| s < 60);
    valid.then_some(p)
}

fn fmt_offset(minutes: i32) -> String {
    if minutes == 0 {
        return "+00:00".to_string();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

fn date_part(p: &Parts) -> String {
    match (p.month, p.day) {
        (Some(m), Some(d)) => format!("{:04}-{:02}-{:02}", p.year, m, d),
        (Some(m), None) => format!("{:04}-{:02}", p.year, m),
        _ => format!("{:04}", p.year),
    }
}

/// v2 DT/DTM -> FHIR `date` (time and zone dropped). `None` if unreadable.
pub(crate) fn to_date(ts: &str) -> Option<String> {
    parse(ts).map(|p| date_part(&p))
}

/// v2 DTM -> FHIR `dateTime` at the sender's precision. A time without an offset gets the
/// feed's local offset (FHIR requires a zone when a time is present); hours without minutes
/// become `hh:00:00`.
pub(crate) fn to_datetime(ts: &str, zone: &LocalZone) -> Option<String> {
    let p = parse(ts)?;
    let Some(hour) = p.hour else { return Some(date_part(&p)) };
    let mut s =
        format!("{}T{:02}:{:02}:{:02}", date_part(&p), hour, p.minute.unwrap_or(0), p.second.unwrap_or(0));
    if let Some(f) = &p.fraction {
        s.push('.');
        s.push_str(f);
    }
    s.push_str(&fmt_offset(p.offset.unwrap_or_else(|| zone.offset_for(&p))));
    Some(s)
}

/// v2 DTM -> FHIR `instant` (needs a full date and time: missing parts become zero, which is
/// what the sender's precision allows us to say).
pub(crate) fn to_instant(ts: &str, zone: &LocalZone) -> Option<String> {
    let mut p = parse(ts)?;
    p.month.get_or_insert(1);
    p.day.get_or_insert(1);
    p.hour.get_or_insert(0);
    let offset = p.offset.unwrap_or_else(|| zone.offset_for(&p));
    let mut s = format!(
        "{}T{:02}:{:02}:{:02}",
        date_part(&p),
        p.hour.unwrap_or(0),
        p.minute.unwrap_or(0),
        p.second.unwrap_or(0)
    );
    if let Some(f) = &p.fraction {
        s.push('.');
        s.push_str(f);
    }
    s.push_str(&fmt_offset(offset));
    Some(s)
}

/// Add minutes to a FHIR dateTime with a time part (`YYYY-MM-DDThh:mm:ss[.f]±hh:mm`), keeping
/// its offset. `None` for dates without a time.
pub(crate) fn add_minutes(dt: &str, minutes: u32) -> Option<String> {
    let b = dt.as_bytes();
    if b.len() < 25 || b[10] != b'T' {
        return None;
    }
    let num = |a: usize, z: usize| dt.get(a..z).and_then(|s| s.parse::<u32>().ok());
    let (mut year, mut month, mut day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute) = (num(11, 13)?, num(14, 16)?);
    let rest = &dt[16..]; // ":ss[.f]±hh:mm"
    let total = hour * 60 + minute + minutes;
    let mut days = total / (24 * 60);
    let (h, m) = ((total / 60) % 24, total % 60);
    while days > 0 {
        days -= 1;
        day += 1;
        if day > days_in_month(year, month) {
            day = 1;
            month += 1;
            if month > 12 {
                month = 1;
                year += 1;
            }
        }
    }
    Some(format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UK: LocalZone = LocalZone::EuropeLondon;

    #[test]
    fn keeps_precision() {
        assert_eq!(to_datetime("2024", &UK).as_deref(), Some("2024"));
        assert_eq!(to_datetime("202403", &UK).as_deref(), Some("2024-03"));
        assert_eq!(to_datetime("20240315", &UK).as_deref(), Some("2024-03-15"));
        assert_eq!(to_datetime("202403151230", &UK).as_deref(), Some("2024-03-15T12:30:00+00:00"));
        assert_eq!(
            to_datetime("20150624084727.655-0500", &UK).as_deref(),
            Some("2015-06-24T08:47:27.655-05:00")
        );
        assert_eq!(to_datetime("198808181126+0215", &UK).as_deref(), Some("1988-08-18T11:26:00+02:15"));
    }

    #[test]
    fn uk_summer_time() {
        assert_eq!(to_datetime("20240715103000", &UK).as_deref(), Some("2024-07-15T10:30:00+01:00"));
        assert_eq!(to_datetime("20241215103000", &UK).as_deref(), Some("2024-12-15T10:30:00+00:00"));
        assert_eq!(last_sunday(2024, 3), 31);
        assert_eq!(last_sunday(2024, 10), 27);
        assert_eq!(to_datetime("20240331003000", &UK).as_deref(), Some("2024-03-31T00:30:00+00:00"));
    }

    #[test]
    fn dates_and_instants() {
        assert_eq!(to_date("198808181126+0215").as_deref(), Some("1988-08-18"));
        assert_eq!(
            to_instant("20240101", &LocalZone::Fixed(0)).as_deref(),
            Some("2024-01-01T00:00:00+00:00")
        );
        assert_eq!(to_date("20240230"), None);
        assert_eq!(to_date("2024x"), None);
        assert_eq!(to_date(""), None);
        assert_eq!(LocalZone::parse("+05:30"), Some(LocalZone::Fixed(330)));
        assert_eq!(
            add_minutes("2024-12-31T23:45:00+00:00", 30).as_deref(),
            Some("2025-01-01T00:15:00+00:00")
        );
        assert_eq!(add_minutes("2024-12-31", 30), None);
    }
}
