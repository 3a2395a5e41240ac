//! Date/time component extraction (FHIRPath N3 §5.11, as fhirpath.js implements it): yearOf,
//! monthOf, dayOf, hourOf, minuteOf, secondOf, millisecondOf, timezoneOffsetOf, dateOf,
//! timeOf. A component finer than the value's precision is empty; so is a non-temporal input.
//! Strings that parse as FHIR dates/dateTimes are accepted.

use super::{Call, Func};
use crate::error::Result;
use crate::eval::singleton;
use crate::eval::values::to_system;
use crate::item::{Collection, Item};
use crate::temporal::{Precision, Temporal, TemporalKind};
use rust_decimal::Decimal;

pub(super) fn call<'a>(
    _cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    let Some(item) = singleton(&input, "date/time component")? else { return Ok(Vec::new()) };
    let t = match to_system(item) {
        Some(Item::Date(t) | Item::DateTime(t) | Item::Time(t)) => t,
        Some(Item::String(s)) => match Temporal::parse_fhir(&s) {
            Some(t) => t,
            None => return Ok(Vec::new()),
        },
        _ => return Ok(Vec::new()),
    };
    let is_time = t.kind == TemporalKind::Time;
    let has = |p: Precision| t.precision >= p;
    let int = |v: i64| Some(Item::Integer(v));
    let r = match func {
        Func::YearOf if !is_time => int(t.year as i64),
        Func::MonthOf if !is_time && has(Precision::Month) => int(t.month as i64),
        Func::DayOf if !is_time && has(Precision::Day) => int(t.day as i64),
        Func::HourOf if has(Precision::Hour) => int(t.hour as i64),
        Func::MinuteOf if has(Precision::Minute) => int(t.minute as i64),
        Func::SecondOf if has(Precision::Second) => int(t.second as i64),
        Func::MillisecondOf if has(Precision::Millis) => int(t.millis as i64),
        Func::TimezoneOffsetOf if t.kind == TemporalKind::DateTime => {
            t.tz.map(|m| Item::Decimal((Decimal::from(m) / Decimal::from(60)).round_dp(2)))
        }
        Func::DateOf if !is_time => Some(Item::Date(t.date_part())),
        Func::TimeOf if t.kind == TemporalKind::DateTime && has(Precision::Hour) => {
            Some(Item::Time(t.time_part()))
        }
        _ => None,
    };
    Ok(r.into_iter().collect())
}
