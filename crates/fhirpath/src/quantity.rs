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

    /// True for `year`/`month` (calendar) against `a`/`mo`-like UCUM durations: these are not
    /// comparable with `=` (§6.1.1).
    fn calendar_mismatch(&self, other: &Self) -> bool {
        let big = |q: &Self| matches!(q.unit.as_ref(), "year" | "month");
        let time = |q: &Self| ucum::parse(q.ucum_code()).is_some_and(|c| c.dims == time_dims());
        let calendar_like = |q: &Self| q.is_calendar() || q.dual;
        (big(self) && !calendar_like(other) && time(other))
            || (big(other) && !calendar_like(self) && time(self))
    }

    /// Compares after unit conversion. `None`: not comparable.
    pub(crate) fn compare(&self, other: &Self, equality: bool) -> Option<Ordering> {
        if equality && self.calendar_mismatch(other) {
            return None;
        }
        let (a, b) = self.common_values(other)?;
        Some(a.cmp(&b))
    }

    /// Both values in the same unit (base units unless the units are identical).
    fn common_values(&self, other: &Self) -> Option<(Decimal, Decimal)> {
        if self.ucum_code() == other.ucum_code() {
            return Some((self.value, other.value));
        }
        let (a, b) = (ucum::parse(self.ucum_code())?, ucum::parse(other.ucum_code())?);
        if a.dims != b.dims {
            return None;
        }
        Some((a.to_base(self.value)?, b.to_base(other.value)?))
    }

    /// Equivalence (§6.1.3): compared at the precision of the less precise value.
    pub(crate) fn equivalent(&self, other: &Self) -> bool {
        let Some((a, b)) = self.common_values(other) else { return false };
        crate::eval::equality::decimal_equivalent(a, b)
    }

    /// Converts to `unit` (UCUM code or calendar keyword), `None` if not commensurable.
    pub(crate) fn convert_to(&self, unit: &str) -> Option<Quantity<'static>> {
        let target = calendar_keyword(unit).unwrap_or(unit);
        let code = CALENDAR.iter().find(|(k, _, _)| *k == target).map(|(_, u, _)| *u).unwrap_or(target);
        let value = if code == self.ucum_code() {
            self.value
        } else {
            ucum::convert(self.value, self.ucum_code(), code)?
        };
        Some(Quantity { value, unit: Cow::Owned(target.to_string()), dual: self.dual && target == code })
    }

    pub(crate) fn add(&self, other: &Self, negate: bool) -> Option<Quantity<'static>> {
        let rhs = other.convert_to(&self.unit)?;
        let v =
            if negate { self.value.checked_sub(rhs.value)? } else { self.value.checked_add(rhs.value)? };
        Some(Quantity {
            value: v,
            unit: Cow::Owned(self.unit.to_string()),
            dual: self.dual && (other.dual || other.is_calendar()),
        })
    }

    pub(crate) fn multiply(&self, other: &Self) -> Option<Quantity<'static>> {
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
