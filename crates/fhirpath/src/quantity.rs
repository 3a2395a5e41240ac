//! `System.Quantity` (FHIRPath N1 §4.1.1 "Quantity", §5.5.9 `toQuantity`, §6.1 quantity
//! equality, §6.6 quantity arithmetic) and the FHIR mapping of `Quantity` elements
//! (FHIR R4 fhirpath.html#quantity). Units are UCUM codes or the calendar duration keywords
//! `year`..`millisecond`; calendar years and months are not comparable to UCUM `a`/`mo` for `=`
//! but are for `~`. A FHIR Quantity whose UCUM code is a time unit also stands for the calendar
//! duration (`dual`), as the FHIR mapping says.

use crate::temporal::CalendarUnit;
use crate::ucum;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// A value with a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity<'a> {
    pub(crate) value: Decimal,
    /// A UCUM code, or a calendar keyword in singular form (`year`, `month`, ...).
    pub(crate) unit: Cow<'a, str>,
    /// Came from a FHIR Quantity with a UCUM time code: also usable as a calendar duration.
    pub(crate) dual: bool,
}

const CALENDAR: [(&str, &str, CalendarUnit); 8] = [
    ("year", "a", CalendarUnit::Year),
    ("month", "mo", CalendarUnit::Month),
    ("week", "wk", CalendarUnit::Week),
    ("day", "d", CalendarUnit::Day),
    ("hour", "h", CalendarUnit::Hour),
    ("minute", "min", CalendarUnit::Minute),
    ("second", "s", CalendarUnit::Second),
    ("millisecond", "ms", CalendarUnit::Millisecond),
];

/// The singular calendar keyword for `word` (`days` -> `day`), if it is one.
pub(crate) fn calendar_keyword(word: &str) -> Option<&'static str> {
    let singular = word.strip_suffix('s').unwrap_or(word);
    CALENDAR.iter().find(|(k, _, _)| *k == singular).map(|(k, _, _)| *k)
}

impl<'a> Quantity<'a> {
    /// A quantity with a UCUM or calendar unit.
    pub fn new(value: Decimal, unit: impl Into<Cow<'a, str>>) -> Self {
        Quantity { value, unit: unit.into(), dual: false }
    }

    /// The numeric value.
    pub fn value(&self) -> Decimal {
        self.value
    }

    /// The unit: a UCUM code or a calendar keyword.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// True when the unit is a calendar duration keyword.
    pub fn is_calendar(&self) -> bool {
        CALENDAR.iter().any(|(k, _, _)| *k == self.unit)
    }

    pub(crate) fn into_owned(self) -> Quantity<'static> {
        Quantity { value: self.value, unit: Cow::Owned(self.unit.into_owned()), dual: self.dual }
    }

    /// The UCUM code to use for conversions.
    pub(crate) fn ucum_code(&self) -> &str {
        CALENDAR.iter().find(|(k, _, _)| *k == self.unit).map(|(_, u, _)| *u).unwrap_or(&self.unit)
    }

    /// The calendar unit this quantity can be used as in date arithmetic.
    pub(crate) fn calendar_unit(&self) -> Option<CalendarUnit> {
        if let Some((_, _, c)) = CALENDAR.iter().find(|(k, _, _)| *k == self.unit) {
            return Some(*c);
        }
        // UCUM definite durations below a month behave as calendar ones (§6.6.1); `a`/`mo`
        // only when they came from a FHIR Quantity.
        let c = CALENDAR.iter().find(|(_, u, _)| *u == self.unit)?.2;
        match c {
            CalendarUnit::Year | CalendarUnit::Month if !self.dual => None,
            c => Some(c),
        }
    }

    /// How this quantity takes part in an operation with `other`: a FHIR quantity with a UCUM
    /// time code acts as a calendar duration next to one, and as UCUM otherwise.
    fn kind_with<'s>(&'s self, other: &Self) -> Kind<'s> {
        if let Some((_, _, c)) = CALENDAR.iter().find(|(k, _, _)| *k == self.unit) {
            return Kind::Calendar(*c);
        }
        if self.dual && other.is_calendar() {
            if let Some((_, _, c)) = CALENDAR.iter().find(|(_, u, _)| *u == self.unit) {
                return Kind::Calendar(*c);
            }
        }
        Kind::Ucum(&self.unit)
    }

    /// Both values in a common unit, and that unit (the finer of the two). `strict` applies the
    /// §6.1.1 rule that calendar years and months and UCUM `a` and `mo` do not mix with the
    /// other system's durations (for `=`, ordering and arithmetic; `~` is not strict).
    fn align<'s>(&'s self, other: &'s Self, strict: bool) -> Option<(Decimal, Decimal, Kind<'s>)> {
        let (ka, kb) = (self.kind_with(other), other.kind_with(self));
        match (ka, kb) {
            (Kind::Calendar(x), Kind::Calendar(y)) => {
                let (fine, _) = if x.seconds() <= y.seconds() { (x, y) } else { (y, x) };
                let a = calendar_in(self.value, x, fine)?;
                let b = calendar_in(other.value, y, fine)?;
                Some((a, b, Kind::Calendar(fine)))
            }
            (Kind::Ucum(u), Kind::Ucum(v)) => {
                if u == v {
                    return Some((self.value, other.value, ka));
                }
                let (cu, cv) = (ucum::parse(u)?, ucum::parse(v)?);
                if cu.dims != cv.dims {
                    return None;
                }
                // Convert into the finer unit (the smaller factor).
                if cu.factor <= cv.factor {
                    Some((self.value, ucum::convert(other.value, v, u)?, ka))
                } else {
                    Some((ucum::convert(self.value, u, v)?, other.value, kb))
                }
            }
            (Kind::Calendar(c), Kind::Ucum(u)) => {
                let (a, b) = mixed(self.value, c, other.value, u, strict)?;
                Some((a, b, kb))
            }
            (Kind::Ucum(u), Kind::Calendar(c)) => {
                let (b, a) = mixed(other.value, c, self.value, u, strict)?;
                Some((a, b, ka))
            }
        }
    }

    /// Compares after unit conversion. `None`: not comparable.
    pub(crate) fn compare(&self, other: &Self) -> Option<Ordering> {
        let (a, b, _) = self.align(other, true)?;
        Some(a.cmp(&b))
    }

    /// Equivalence (§6.1.3): compared at the precision of the less precise value.
    pub(crate) fn equivalent(&self, other: &Self) -> bool {
        match self.align(other, false) {
            Some((a, b, _)) => crate::eval::equality::decimal_equivalent(a, b),
            None => false,
        }
    }

    /// Converts to `unit` (UCUM code or calendar keyword), `None` if not commensurable.
    pub(crate) fn convert_to(&self, unit: &str) -> Option<Quantity<'static>> {
        let target = calendar_keyword(unit).unwrap_or(unit);
        let probe = Quantity { value: Decimal::ONE, unit: Cow::Borrowed(target), dual: false };
        let v = self.value_in(&probe)?;
        let keep_dual = self.dual && !probe.is_calendar() && target == self.unit;
        Some(Quantity { value: v.normalize(), unit: Cow::Owned(target.to_string()), dual: keep_dual })
    }

    /// This quantity's value in `probe`'s unit.
    fn value_in(&self, probe: &Self) -> Option<Decimal> {
        match (self.kind_with(probe), probe.kind_with(self)) {
            (Kind::Calendar(x), Kind::Calendar(y)) => calendar_in(self.value, x, y),
            (Kind::Ucum(u), Kind::Ucum(v)) => ucum::convert(self.value, u, v),
            (Kind::Calendar(c), Kind::Ucum(u)) => {
                let code = CALENDAR.iter().find(|(_, _, k)| *k == c).map(|(_, u, _)| *u)?;
                if is_big_calendar(c) || matches!(u, "a" | "mo") {
                    // A calendar year or month in UCUM seconds etc.: via the calendar table.
                    let secs = self.value.checked_mul(c.seconds())?;
                    return ucum::convert(secs, "s", u);
                }
                ucum::convert(self.value, code, u)
            }
            (Kind::Ucum(u), Kind::Calendar(c)) => {
                if matches!(u, "a" | "mo") || is_big_calendar(c) {
                    return None;
                }
                let code = CALENDAR.iter().find(|(_, _, k)| *k == c).map(|(_, u, _)| *u)?;
                ucum::convert(self.value, u, code)
            }
        }
    }

    pub(crate) fn add(&self, other: &Self, negate: bool) -> Option<Quantity<'static>> {
        let (a, b, kind) = self.align(other, true)?;
        let v = if negate { a.checked_sub(b)? } else { a.checked_add(b)? };
        let (unit, dual) = match kind {
            // `Observation.value + 1 year`: a FHIR duration read as calendar gives a calendar sum.
            Kind::Calendar(c) => {
                (CALENDAR.iter().find(|(_, _, x)| *x == c).map(|(k, _, _)| *k)?.to_string(), false)
            }
            Kind::Ucum(u) => (u.to_string(), self.dual && other.dual && self.unit == other.unit),
        };
        Some(Quantity { value: v, unit: Cow::Owned(unit), dual })
    }

    /// Calendar durations cannot be multiplied or divided by anything with a dimension.
    fn calendar_blocks(&self, other: &Self) -> bool {
        let dimensioned = |q: &Self| ucum::parse(q.ucum_code()).is_none_or(|c| !c.is_dimensionless());
        (self.is_calendar() && dimensioned(other)) || (other.is_calendar() && dimensioned(self))
    }

    pub(crate) fn multiply(&self, other: &Self) -> Option<Quantity<'static>> {
        if self.calendar_blocks(other) {
            return None;
        }
        let (a, b) = (ucum::parse(self.ucum_code())?, ucum::parse(other.ucum_code())?);
        if b.is_dimensionless() {
            let v = self.value.checked_mul(b.to_base(other.value)?)?;
            return Some(Quantity { value: v, ..self.clone().into_owned() });
        }
        if a.is_dimensionless() {
            let v = other.value.checked_mul(a.to_base(self.value)?)?;
            return Some(Quantity { value: v, ..other.clone().into_owned() });
        }
        let unit = format!("{}.{}", wrap(self.ucum_code()), wrap(other.ucum_code()));
        Some(Quantity { value: self.value.checked_mul(other.value)?, unit: Cow::Owned(unit), dual: false })
    }

    pub(crate) fn divide(&self, other: &Self) -> Option<Quantity<'static>> {
        if self.calendar_blocks(other) {
            return None;
        }
        let (a, b) = (ucum::parse(self.ucum_code())?, ucum::parse(other.ucum_code())?);
        if other.value.is_zero() {
            return None;
        }
        if b.is_dimensionless() {
            let v = self.value.checked_div(b.to_base(other.value)?)?;
            return Some(Quantity { value: v, ..self.clone().into_owned() });
        }
        if a.dims == b.dims {
            let v = a.to_base(self.value)?.checked_div(b.to_base(other.value)?)?;
            return Some(Quantity::new(v.normalize(), "1"));
        }
        let unit = format!("{}/{}", wrap(self.ucum_code()), wrap(other.ucum_code()));
        Some(Quantity { value: self.value.checked_div(other.value)?, unit: Cow::Owned(unit), dual: false })
    }

    /// Whether the two quantities can be compared (N2 `comparable()`).
    pub(crate) fn comparable(&self, other: &Self) -> bool {
        if self.unit == other.unit {
            return true;
        }
        self.align(other, true).is_some()
    }
}

/// A quantity's role in an operation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind<'u> {
    Calendar(CalendarUnit),
    Ucum(&'u str),
}

fn is_big_calendar(c: CalendarUnit) -> bool {
    matches!(c, CalendarUnit::Year | CalendarUnit::Month)
}

/// A calendar amount in another calendar unit: a year is 12 months; otherwise a year counts
/// 365 days and a month 30 (the calendar conversions fhirpath.js applies).
fn calendar_in(v: Decimal, from: CalendarUnit, to: CalendarUnit) -> Option<Decimal> {
    if from == to {
        return Some(v);
    }
    match (from, to) {
        (CalendarUnit::Year, CalendarUnit::Month) => v.checked_mul(Decimal::from(12)),
        (CalendarUnit::Month, CalendarUnit::Year) => v.checked_div(Decimal::from(12)),
        _ => v.checked_mul(from.seconds())?.checked_div(to.seconds()).map(|d| d.normalize()),
    }
}

/// A calendar amount and a UCUM amount in the UCUM unit; `None` when `strict` forbids mixing
/// (calendar year/month, or UCUM `a`/`mo`, against a duration of the other system).
fn mixed(
    cal: Decimal,
    c: CalendarUnit,
    ucum_value: Decimal,
    u: &str,
    strict: bool,
) -> Option<(Decimal, Decimal)> {
    let unit = ucum::parse(u)?;
    if unit.dims != time_dims() {
        return None;
    }
    if strict && (is_big_calendar(c) || matches!(u, "a" | "mo")) {
        return None;
    }
    let code = CALENDAR.iter().find(|(_, _, k)| *k == c).map(|(_, code, _)| *code)?;
    Some((ucum::convert(cal, code, u)?, ucum_value))
}

fn time_dims() -> ucum::Dims {
    ucum::parse("s").map(|c| c.dims).unwrap_or_default()
}

fn wrap(u: &str) -> Cow<'_, str> {
    if u.contains(['.', '/']) {
        Cow::Owned(format!("({u})"))
    } else {
        Cow::Borrowed(u)
    }
}

impl fmt::Display for Quantity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_calendar() {
            write!(f, "{} {}", self.value, self.unit)
        } else {
            write!(f, "{} '{}'", self.value, self.unit)
        }
    }
}

/// Parses the string form of a quantity (§5.5.9 `toQuantity` on strings): a number, optionally
/// followed by a quoted UCUM unit or a calendar keyword.
pub(crate) fn parse_quantity_string(s: &str) -> Option<Quantity<'static>> {
    let s = s.trim();
    let (num, rest) = match s.find(|c: char| c.is_whitespace() || c == '\'') {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    };
    let digits = num.strip_prefix(['+', '-']).unwrap_or(num);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || digits.starts_with('.')
        || digits.ends_with('.')
    {
        return None;
    }
    let value: Decimal = num.parse().ok()?;
    let unit = if rest.is_empty() {
        "1".to_string()
    } else if let Some(inner) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.to_string()
    } else {
        calendar_keyword(rest)?.to_string()
    };
    Some(Quantity { value, unit: Cow::Owned(unit), dual: false })
}
