//! Date, DateTime and Time values with partial precision (FHIRPath N1 §4.1.2 "Date/Time
//! literals", §6.1 equality, §6.2 comparison of partial precision, §6.6.1 date/time arithmetic;
//! N2 `lowBoundary`/`highBoundary`/`precision`). Time zones are kept as an offset in minutes;
//! values without one are compared as if they were UTC.

use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;

/// Which of the three temporal types a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalKind {
    /// `System.Date`
    Date,
    /// `System.DateTime`
    DateTime,
    /// `System.Time`
    Time,
}

/// The finest component present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// Year only.
    Year,
    /// Year and month.
    Month,
    /// A full date.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
    /// Milliseconds (any fraction of a second).
    Millis,
}

/// A partial date, date-time or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Temporal {
    pub(crate) kind: TemporalKind,
    pub(crate) year: i32,
    pub(crate) month: u8,
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    pub(crate) millis: u16,
    pub(crate) precision: Precision,
    /// Offset from UTC in minutes.
    pub(crate) tz: Option<i16>,
}

fn num(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

impl Temporal {
    fn blank(kind: TemporalKind, precision: Precision) -> Self {
        Temporal {
            kind,
            year: 0,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            millis: 0,
            precision,
            tz: None,
        }
    }

    /// The kind of value.
    pub fn kind(&self) -> TemporalKind {
        self.kind
    }

    /// Parses `YYYY[-MM[-DD]]`.
    pub fn parse_date(s: &str) -> Option<Self> {
        let mut t = Self::blank(TemporalKind::Date, Precision::Year);
        t.parse_date_part(s)?;
        Some(t)
    }

    fn parse_date_part(&mut self, s: &str) -> Option<()> {
        let mut parts = s.split('-');
        self.year = num(parts.next()?, 4)? as i32;
        if let Some(m) = parts.next() {
            self.month = num(m, 2)? as u8;
            if !(1..=12).contains(&self.month) {
                return None;
            }
            self.precision = Precision::Month;
            if let Some(d) = parts.next() {
                self.day = num(d, 2)? as u8;
                if self.day < 1 || self.day > days_in_month(self.year, self.month) {
                    return None;
                }
                self.precision = Precision::Day;
            }
        }
        parts.next().is_none().then_some(())
    }

    /// Parses `hh[:mm[:ss[.fff]]]` into the time fields.
    fn parse_time_part(&mut self, s: &str) -> Option<()> {
        let (hms, frac) = match s.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let mut parts = hms.split(':');
        self.hour = num(parts.next()?, 2)? as u8;
        self.precision = Precision::Hour;
        if let Some(m) = parts.next() {
            self.minute = num(m, 2)? as u8;
            self.precision = Precision::Minute;
            if let Some(sec) = parts.next() {
                self.second = num(sec, 2)? as u8;
                self.precision = Precision::Second;
            }
        }
        // A leap second (60) is allowed.
        if parts.next().is_some() || self.hour > 23 || self.minute > 59 || self.second > 60 {
            return None;
        }
        if let Some(f) = frac {
            if self.precision != Precision::Second || f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{:0<3}", &f[..f.len().min(3)]);
            self.millis = padded.parse().ok()?;
            self.precision = Precision::Millis;
        }
        Some(())
    }

    /// Parses `hh[:mm[:ss[.fff]]]` (no time zone).
    pub fn parse_time(s: &str) -> Option<Self> {
        let mut t = Self::blank(TemporalKind::Time, Precision::Hour);
        t.parse_time_part(s)?;
        Some(t)
    }

    /// Parses `YYYY[-MM[-DD]][T[hh[:mm[:ss[.fff]]]][Z|(+|-)hh:mm]]`; a date alone is accepted
    /// (as a DateTime of that precision).
    pub fn parse_datetime(s: &str) -> Option<Self> {
        let mut t = Self::blank(TemporalKind::DateTime, Precision::Year);
        let (date, rest) = match s.split_once('T') {
            Some((d, r)) => (d, Some(r)),
            None => (s, None),
        };
        t.parse_date_part(date)?;
        let Some(rest) = rest.filter(|r| !r.is_empty()) else { return Some(t) };
        if t.precision != Precision::Day {
            return None;
        }
        let (time, tz) = if let Some(body) = rest.strip_suffix('Z') {
            (body, Some(0))
        } else if let Some(i) = rest.rfind(['+', '-']) {
            let (body, zone) = rest.split_at(i);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':')?;
            let (h, m) = (num(h, 2)? as i16, num(m, 2)? as i16);
            if h > 14 || m > 59 || (h == 14 && m > 0) {
                return None;
            }
            (body, Some(sign * (h * 60 + m)))
        } else {
            (rest, None)
        };
        t.parse_time_part(time)?;
        t.tz = tz;
        Some(t)
    }

    /// Parses a FHIR `date`, `dateTime` or `instant` string (the kind follows the text).
    pub fn parse_fhir(s: &str) -> Option<Self> {
        if s.contains('T') {
            Self::parse_datetime(s)
        } else {
            Self::parse_date(s)
        }
    }

    /// The value as a DateTime (a Date becomes a DateTime of day precision or coarser).
    pub(crate) fn as_datetime(mut self) -> Self {
        if self.kind == TemporalKind::Date {
            self.kind = TemporalKind::DateTime;
        }
        self
    }

    /// Milliseconds since 0000-03-01-ish epoch of the fields (ignoring zone).
    fn epoch_millis(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        days * 86_400_000
            + self.hour as i64 * 3_600_000
            + self.minute as i64 * 60_000
            + self.second as i64 * 1000
            + self.millis as i64
    }

    fn set_epoch_millis(&mut self, ms: i64) {
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        self.year = y as i32;
        self.month = m as u8;
        self.day = d as u8;
        self.hour = (rem / 3_600_000) as u8;
        self.minute = (rem / 60_000 % 60) as u8;
        self.second = (rem / 1000 % 60) as u8;
        self.millis = (rem % 1000) as u16;
    }

    /// Shifts a value with a time component to UTC.
    fn to_utc(self) -> Self {
        match (self.kind, self.tz) {
            (TemporalKind::DateTime, Some(off)) if self.precision >= Precision::Hour && off != 0 => {
                let mut t = self;
                t.set_epoch_millis(self.epoch_millis() - off as i64 * 60_000);
                t.tz = Some(0);
                t
            }
            _ => self,
        }
    }

    /// Compares two values of compatible kinds; `None` when precision makes the answer
    /// unknown (§6.2), `Err(())` when the kinds are incompatible.
    pub(crate) fn compare(&self, other: &Self) -> Result<Option<Ordering>, ()> {
        let (a, b) = match (self.kind, other.kind) {
            (TemporalKind::Time, TemporalKind::Time) => (*self, *other),
            (TemporalKind::Time, _) | (_, TemporalKind::Time) => return Err(()),
            _ => (self.as_datetime().to_utc(), other.as_datetime().to_utc()),
        };
        let levels: [(Precision, i64, i64); 6] = [
            (Precision::Year, a.year as i64, b.year as i64),
            (Precision::Month, a.month as i64, b.month as i64),
            (Precision::Day, a.day as i64, b.day as i64),
            (Precision::Hour, a.hour as i64, b.hour as i64),
            (Precision::Minute, a.minute as i64, b.minute as i64),
            (
                Precision::Second,
                a.second as i64 * 1000 + a.millis as i64,
                b.second as i64 * 1000 + b.millis as i64,
            ),
        ];
        let pa = a.precision.min(Precision::Second);
        let pb = b.precision.min(Precision::Second);
        for (level, x, y) in levels {
            if a.kind == TemporalKind::Time && level < Precision::Hour {
                continue;
            }
            let (ha, hb) = (pa >= level, pb >= level);
            if !ha && !hb {
                return Ok(Some(Ordering::Equal));
            }
            if ha != hb {
                return Ok(None);
            }
            if x != y {
                return Ok(Some(x.cmp(&y)));
            }
        }
        Ok(Some(Ordering::Equal))
    }

    /// Equivalence (§6.1.3): same precision (seconds and milliseconds count as one) and equal.
    pub(crate) fn equivalent(&self, other: &Self) -> bool {
        self.precision.min(Precision::Second) == other.precision.min(Precision::Second)
            && matches!(self.compare(other), Ok(Some(Ordering::Equal)))
    }

    /// Adds `amount` of a calendar unit (§6.6.1). Amounts above seconds are truncated to whole
    /// numbers. A unit finer than the value's precision is first converted to that precision
    /// (a year counting 365 days, a month 30: `@2016 + 365 days` is `@2017`) and truncated;
    /// seconds and milliseconds added to a value with seconds give milliseconds. `Err` for a
    /// date unit added to a Time; `Ok(None)` when the result is out of range.
    pub(crate) fn add(&self, amount: Decimal, unit: CalendarUnit) -> Result<Option<Self>, String> {
        let is_time = self.kind == TemporalKind::Time;
        if is_time
            && matches!(
                unit,
                CalendarUnit::Year | CalendarUnit::Month | CalendarUnit::Week | CalendarUnit::Day
            )
        {
            return Err(format!("cannot add {unit:?}s to a time"));
        }
        let mut t = *self;
        let (mut amount, mut unit) = (amount, unit);
        let mut unit_level = unit.precision();
        if unit == CalendarUnit::Second && !amount.fract().is_zero() {
            unit_level = Precision::Millis;
        }
        if unit_level > t.precision {
            if t.precision >= Precision::Second {
                t.precision = Precision::Millis;
            } else {
                let target = CalendarUnit::for_precision(t.precision);
                amount = if (unit, target) == (CalendarUnit::Month, CalendarUnit::Year) {
                    amount / Decimal::from(12)
                } else {
                    let seconds = amount.checked_mul(unit.seconds()).ok_or("overflow")?;
                    seconds.checked_div(target.seconds()).ok_or("overflow")?
                }
                .trunc();
                unit = target;
            }
        }
        Ok(t.add_exact(amount, unit))
    }

    fn add_exact(mut self, amount: Decimal, unit: CalendarUnit) -> Option<Self> {
        use rust_decimal::prelude::ToPrimitive;
        let whole = amount.trunc().to_i64()?;
        let t = &mut self;
        match unit {
            CalendarUnit::Year | CalendarUnit::Month => {
                let months = if unit == CalendarUnit::Year { whole.checked_mul(12)? } else { whole };
                let total =
                    (t.year as i64).checked_mul(12)?.checked_add(t.month as i64 - 1)?.checked_add(months)?;
                t.year = i32::try_from(total.div_euclid(12)).ok()?;
                t.month = (total.rem_euclid(12) + 1) as u8;
                t.day = t.day.min(days_in_month(t.year, t.month));
            }
            _ => {
                let ms = match unit {
                    CalendarUnit::Week => whole.checked_mul(7 * 86_400_000)?,
                    CalendarUnit::Day => whole.checked_mul(86_400_000)?,
                    CalendarUnit::Hour => whole.checked_mul(3_600_000)?,
                    CalendarUnit::Minute => whole.checked_mul(60_000)?,
                    CalendarUnit::Second => (amount.checked_mul(Decimal::from(1000))?).trunc().to_i64()?,
                    _ => whole,
                };
                if t.kind == TemporalKind::Time {
                    t.set_epoch_millis(t.epoch_millis().checked_add(ms)?.rem_euclid(86_400_000));
                    t.year = 0;
                    t.month = 1;
                    t.day = 1;
                } else {
                    t.set_epoch_millis(t.epoch_millis().checked_add(ms)?);
                }
            }
        }
        if !(1..=9999).contains(&t.year) && t.kind != TemporalKind::Time {
            return None;
        }
        Some(self.truncated())
    }

    /// Resets fields finer than the precision to their defaults.
    fn truncated(mut self) -> Self {
        if self.precision < Precision::Month {
            self.month = 1;
        }
        if self.precision < Precision::Day {
            self.day = 1;
        }
        if self.precision < Precision::Hour {
            self.hour = 0;
        }
        if self.precision < Precision::Minute {
            self.minute = 0;
        }
        if self.precision < Precision::Second {
            self.second = 0;
        }
        if self.precision < Precision::Millis {
            self.millis = 0;
        }
        self
    }

    /// The number of digits of precision (N2 `precision()`): 4/6/8/10/12/14/17 for dates,
    /// 2/4/6/9 for times.
    pub(crate) fn precision_digits(&self) -> i64 {
        let d = match self.precision {
            Precision::Year => 4,
            Precision::Month => 6,
            Precision::Day => 8,
            Precision::Hour => 10,
            Precision::Minute => 12,
            Precision::Second => 14,
            Precision::Millis => 17,
        };
        if self.kind == TemporalKind::Time {
            d - 8
        } else {
            d
        }
    }

    /// N2 `lowBoundary`/`highBoundary`: the earliest/latest value the partial value can stand
    /// for, at `digits` precision (default: the finest).
    pub(crate) fn boundary(&self, digits: Option<i64>, high: bool) -> Option<Self> {
        let is_time = self.kind == TemporalKind::Time;
        let digits = digits.unwrap_or(if is_time {
            9
        } else if self.kind == TemporalKind::Date {
            8
        } else {
            17
        });
        let full = if is_time { digits + 8 } else { digits };
        let precision = match full {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            17 => Precision::Millis,
            _ => return None,
        };
        if self.kind == TemporalKind::Date && precision > Precision::Day {
            return None;
        }
        let mut t = *self;
        if self.precision < Precision::Month {
            t.month = if high { 12 } else { 1 };
        }
        if self.precision < Precision::Day {
            t.day = if high { days_in_month(t.year, t.month) } else { 1 };
        }
        if self.precision < Precision::Hour {
            t.hour = if high { 23 } else { 0 };
        }
        if self.precision < Precision::Minute {
            t.minute = if high { 59 } else { 0 };
        }
        if self.precision < Precision::Second {
            t.second = if high { 59 } else { 0 };
        }
        if self.precision < Precision::Millis {
            t.millis = if high { 999 } else { 0 };
        }
        if t.kind == TemporalKind::DateTime && precision >= Precision::Hour && t.tz.is_none() {
            t.tz = Some(if high { -12 * 60 } else { 14 * 60 });
        }
        t.precision = precision;
        Some(t.truncated())
    }

    /// The current instant (UTC), millisecond precision.
    pub(crate) fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut t = Self::blank(TemporalKind::DateTime, Precision::Millis);
        t.set_epoch_millis(ms);
        t.tz = Some(0);
        t
    }

    /// Reduces a DateTime to a Date or Time of the same instant.
    pub(crate) fn date_part(mut self) -> Self {
        self.kind = TemporalKind::Date;
        self.precision = self.precision.min(Precision::Day);
        self.tz = None;
        self.truncated()
    }

    pub(crate) fn time_part(mut self) -> Self {
        self.kind = TemporalKind::Time;
        self.year = 0;
        self.month = 1;
        self.day = 1;
        self.tz = None;
        self
    }
}

impl fmt::Display for Temporal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != TemporalKind::Time {
            write!(f, "{:04}", self.year)?;
            if self.precision >= Precision::Month {
                write!(f, "-{:02}", self.month)?;
            }
            if self.precision >= Precision::Day {
                write!(f, "-{:02}", self.day)?;
            }
            if self.precision < Precision::Hour {
                return Ok(());
            }
            f.write_str("T")?;
        }
        write!(f, "{:02}", self.hour)?;
        if self.precision >= Precision::Minute {
            write!(f, ":{:02}", self.minute)?;
        }
        if self.precision >= Precision::Second {
            write!(f, ":{:02}", self.second)?;
        }
        if self.precision >= Precision::Millis {
            write!(f, ".{:03}", self.millis)?;
        }
        if self.kind == TemporalKind::DateTime {
            match self.tz {
                Some(0) => f.write_str("Z")?,
                Some(off) => {
                    let sign = if off < 0 { '-' } else { '+' };
                    write!(f, "{sign}{:02}:{:02}", off.abs() / 60, off.abs() % 60)?
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// The calendar duration units of FHIRPath (§5.6 "Quantity"; §6.6.1 date/time arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CalendarUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl CalendarUnit {
    /// The date/time precision this unit counts in.
    fn precision(self) -> Precision {
        match self {
            CalendarUnit::Year => Precision::Year,
            CalendarUnit::Month => Precision::Month,
            CalendarUnit::Week | CalendarUnit::Day => Precision::Day,
            CalendarUnit::Hour => Precision::Hour,
            CalendarUnit::Minute => Precision::Minute,
            CalendarUnit::Second => Precision::Second,
            CalendarUnit::Millisecond => Precision::Millis,
        }
    }

    fn for_precision(p: Precision) -> Self {
        match p {
            Precision::Year => CalendarUnit::Year,
            Precision::Month => CalendarUnit::Month,
            Precision::Day => CalendarUnit::Day,
            Precision::Hour => CalendarUnit::Hour,
            Precision::Minute => CalendarUnit::Minute,
            Precision::Second => CalendarUnit::Second,
            Precision::Millis => CalendarUnit::Millisecond,
        }
    }

    /// Length in seconds, with the calendar approximations a year = 365 days, a month = 30.
    pub(crate) fn seconds(self) -> Decimal {
        match self {
            CalendarUnit::Year => Decimal::from(31_536_000),
            CalendarUnit::Month => Decimal::from(2_592_000),
            CalendarUnit::Week => Decimal::from(604_800),
            CalendarUnit::Day => Decimal::from(86_400),
            CalendarUnit::Hour => Decimal::from(3600),
            CalendarUnit::Minute => Decimal::from(60),
            CalendarUnit::Second => Decimal::ONE,
            CalendarUnit::Millisecond => Decimal::new(1, 3),
        }
    }
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Temporal {
        Temporal::parse_datetime(s).unwrap()
    }

    #[test]
    fn parse_and_format_round_trip() {
        for s in ["2015", "2015-02", "2015-02-04", "2015-02-04T14:34:28.123+10:00", "2015-02-04T14Z"] {
            assert_eq!(dt(s).to_string(), s);
        }
        assert_eq!(Temporal::parse_time("14:34:28.1").unwrap().to_string(), "14:34:28.100");
        assert!(Temporal::parse_date("2015-13").is_none());
        assert!(Temporal::parse_date("2015-02-30").is_none());
    }

    #[test]
    fn partial_precision_comparison() {
        assert_eq!(dt("2018-03").compare(&dt("2018-03-01")), Ok(None));
        assert_eq!(
            dt("2018-03-01T10:30:00").compare(&dt("2018-03-01T10:30:00.0")),
            Ok(Some(Ordering::Equal))
        );
        assert_eq!(
            dt("2017-11-05T01:30:00.0-04:00").compare(&dt("2017-11-05T01:15:00.0-05:00")),
            Ok(Some(Ordering::Less))
        );
    }

    #[test]
    fn calendar_arithmetic() {
        let d = Temporal::parse_date("1973-12-25").unwrap();
        let add = |t: &Temporal, n: Decimal, u| t.add(n, u).unwrap().unwrap().to_string();
        assert_eq!(add(&d, Decimal::from(1), CalendarUnit::Month), "1974-01-25");
        assert_eq!(add(&d, Decimal::new(77, 1), CalendarUnit::Day), "1974-01-01");
        let m = Temporal::parse_date("2014-01-31").unwrap();
        assert_eq!(add(&m, Decimal::from(1), CalendarUnit::Month), "2014-02-28");
        let y = Temporal::parse_date("2016").unwrap();
        assert_eq!(add(&y, Decimal::from(365), CalendarUnit::Day), "2017");
        assert_eq!(add(&y, Decimal::from(-364), CalendarUnit::Day), "2016");
        let t = Temporal::parse_time("23:59:23").unwrap();
        assert_eq!(add(&t, Decimal::new(15, 1), CalendarUnit::Second), "23:59:24.500");
        assert!(t.add(Decimal::from(2), CalendarUnit::Day).is_err());
    }
}
