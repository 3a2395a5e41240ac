//! Dates of birth.
use serde::{Deserialize, Serialize};

/// A calendar date (no time zone: a date of birth is a civil date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// Year, e.g. 1984.
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31 (checked against the month).
    pub day: u8,
}

impl Date {
    /// A date if it exists in the calendar (years 1850..=2200 accepted).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(1850..=2200).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let max = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        (day <= max).then_some(Date { year, month, day })
    }

    /// `YYYYMMDD` as a number, the compact form used in comparisons.
    pub fn packed(self) -> u32 {
        u32::from(self.year) * 10_000 + u32::from(self.month) * 100 + u32::from(self.day)
    }

    /// Inverse of [`Date::packed`].
    pub fn from_packed(p: u32) -> Option<Date> {
        Date::new((p / 10_000) as u16, (p / 100 % 100) as u8, (p % 100) as u8)
    }

    /// ISO form `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Parses `YYYY-MM-DD`, `YYYYMMDD`, `DD/MM/YYYY`, `DD-MM-YYYY` or `DD.MM.YYYY` (a time part after
/// `T` or a space is ignored). `None` when it is not a real date.
pub fn date(text: &str) -> Option<Date> {
    let t = text.trim();
    let t = t.split(['T', ' ']).next().unwrap_or(t);
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        return Date::from_packed(num(t)?);
    }
    let parts: Vec<&str> = t.split(['-', '/', '.']).collect();
    if parts.len() != 3 {
        return None;
    }
    let (a, b, c) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    if parts[0].len() == 4 {
        Date::new(a as u16, b as u8, c as u8)
    } else if parts[2].len() == 4 {
        Date::new(c as u16, b as u8, a as u8)
    } else {
        None
    }
}

/// The eight digits of a date that does not exist (`1987-50-31` -> 19875031), so that a typo in
/// a date can still be compared digit by digit. `None` unless the text has the shape of a date.
pub fn date_digits(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.split(['T', ' ']).next().unwrap_or(t);
    let parts: Vec<&str> = t.split(['-', '/', '.']).collect();
    let ok = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    let digits = match parts.as_slice() {
        [one] if ok(one, 8) => (*one).to_owned(),
        [y, m, d] if ok(y, 4) && ok(m, 2) && ok(d, 2) => format!("{y}{m}{d}"),
        [d, m, y] if ok(y, 4) && ok(m, 2) && ok(d, 2) => format!("{y}{m}{d}"),
        _ => return None,
    };
    digits.parse().ok().filter(|&v: &u32| v >= 10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_validity() {
        let d = Date::new(1984, 2, 29).unwrap();
        for s in ["1984-02-29", "19840229", "29/02/1984", "29-02-1984", "1984-02-29T00:00:00"] {
            assert_eq!(date(s), Some(d), "{s}");
        }
        assert_eq!(date("1985-02-29"), None);
        assert_eq!(date("1984-13-01"), None);
        assert_eq!(date("yesterday"), None);
        assert_eq!(d.packed(), 19840229);
        assert_eq!(d.iso(), "1984-02-29");
        assert_eq!(date_digits("1987-50-31"), Some(19875031));
        assert_eq!(date_digits("31/50/1987"), Some(19875031));
        assert_eq!(date_digits("soon"), None);
    }
}
