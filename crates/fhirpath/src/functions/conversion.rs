//! FHIRPath N1 §5.5 "Conversion": iif, toBoolean/convertsToBoolean, toInteger, toLong (N2),
//! toDecimal, toString, toDate, toDateTime, toTime, toQuantity and their convertsTo* tests.

use super::{Call, Func};
use crate::error::{eval_err, Result};
use crate::eval::logic::to_bool;
use crate::eval::values::{quantity_of, to_system};
use crate::eval::{singleton, Scope};
use crate::item::{Collection, Item};
use crate::quantity::{parse_quantity_string, Quantity};
use crate::temporal::Temporal;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::str::FromStr;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    if func == Func::Iif {
        return iif(cx, input);
    }
    let Some(item) = singleton(&input, "conversion")? else { return Ok(Vec::new()) };
    let Some(v) = to_system(item) else { return Ok(Vec::new()) };
    let out: Option<Item<'a>> = match func {
        Func::ToBoolean | Func::ConvertsToBoolean => to_boolean(&v).map(Item::Boolean),
        Func::ToInteger | Func::ConvertsToInteger | Func::ToLong | Func::ConvertsToLong => to_integer(&v),
        Func::ToDecimal | Func::ConvertsToDecimal => to_decimal(&v).map(Item::Decimal),
        Func::ToStringFn | Func::ConvertsToString => to_string(&v).map(Item::String),
        Func::ToDate | Func::ConvertsToDate => match &v {
            Item::Date(t) => Some(Item::Date(*t)),
            Item::DateTime(t) => Some(Item::Date(t.date_part())),
            Item::String(s) => Temporal::parse_date(s)
                .or_else(|| Temporal::parse_datetime(s).map(Temporal::date_part))
                .map(Item::Date),
            _ => None,
        },
        Func::ToDateTime | Func::ConvertsToDateTime => match &v {
            Item::DateTime(t) => Some(Item::DateTime(*t)),
            Item::Date(t) => Some(Item::DateTime(t.as_datetime())),
            Item::String(s) => Temporal::parse_datetime(s).map(Item::DateTime),
            _ => None,
        },
        Func::ToTime | Func::ConvertsToTime => match &v {
            Item::Time(t) => Some(Item::Time(*t)),
            Item::String(s) => Temporal::parse_time(s.strip_prefix('T').unwrap_or(s)).map(Item::Time),
            _ => None,
        },
        _ => {
            let q = to_quantity(item, &v)?;
            let q = match (q, cx.arg_string(0)?) {
                (Some(q), Some(unit)) => q.convert_to(&unit).map(Quantity::into_owned),
                (q, _) => q.map(Quantity::into_owned),
            };
            q.map(Item::Quantity)
        }
    };
    let converts = matches!(
        func,
        Func::ConvertsToBoolean
            | Func::ConvertsToInteger
            | Func::ConvertsToLong
            | Func::ConvertsToDecimal
            | Func::ConvertsToString
            | Func::ConvertsToDate
            | Func::ConvertsToDateTime
            | Func::ConvertsToTime
            | Func::ConvertsToQuantity
    );
    if converts {
        return Ok(vec![Item::Boolean(out.is_some())]);
    }
    Ok(out.into_iter().collect())
}

/// `iif(criterion, true-result [, otherwise-result])`; with an explicit input, that input is
/// `$this` for the arguments.
fn iif<'a>(cx: &Call<'_, '_, '_, 'a>, input: Collection<'a>) -> Result<Collection<'a>> {
    if cx.has_target && input.len() > 1 {
        return eval_err("iif() on more than one item");
    }
    let scope = if cx.has_target { Scope { this: &input, index: Some(0), total: None } } else { cx.scope };
    let criterion = to_bool(&cx.ev.eval_scoped(&cx.args[0], scope)?)?;
    let branch = if criterion == Some(true) { 1 } else { 2 };
    match cx.args.get(branch) {
        Some(a) => cx.ev.eval_scoped(a, scope),
        None => Ok(Vec::new()),
    }
}

fn to_boolean(v: &Item<'_>) -> Option<bool> {
    match v {
        Item::Boolean(b) => Some(*b),
        Item::Integer(1) => Some(true),
        Item::Integer(0) => Some(false),
        Item::Decimal(d) if *d == Decimal::ONE => Some(true),
        Item::Decimal(d) if d.is_zero() => Some(false),
        Item::String(s) => match s.to_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn is_integer_text(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn to_integer<'a>(v: &Item<'_>) -> Option<Item<'a>> {
    match v {
        Item::Integer(i) => Some(Item::Integer(*i)),
        Item::Boolean(b) => Some(Item::Integer(i64::from(*b))),
        Item::String(s) if is_integer_text(s) => s.parse().ok().map(Item::Integer),
        _ => None,
    }
}

fn to_decimal(v: &Item<'_>) -> Option<Decimal> {
    match v {
        Item::Integer(i) => Some(Decimal::from(*i)),
        Item::Decimal(d) => Some(*d),
        Item::Boolean(b) => Some(if *b { Decimal::new(10, 1) } else { Decimal::new(0, 1) }),
        Item::String(s) => {
            let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
            (is_integer_text(int) && !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()))
                .then(|| Decimal::from_str(s).ok())
                .flatten()
        }
        _ => None,
    }
}

fn to_string<'a>(v: &Item<'a>) -> Option<Cow<'a, str>> {
    Some(match v {
        Item::String(s) => s.clone(),
        Item::Boolean(b) => Cow::Owned(b.to_string()),
        Item::Integer(i) => Cow::Owned(i.to_string()),
        Item::Decimal(d) => Cow::Owned(d.to_string()),
        Item::Quantity(q) => Cow::Owned(q.to_string()),
        Item::Date(t) | Item::DateTime(t) | Item::Time(t) => Cow::Owned(t.to_string()),
        _ => return None,
    })
}

/// The System.Quantity for `toQuantity()`; `item` is the original (maybe FHIR) item.
fn to_quantity<'a>(item: &Item<'a>, v: &Item<'a>) -> Result<Option<Quantity<'a>>> {
    Ok(match v {
        Item::Quantity(q) => Some(q.clone()),
        Item::Integer(i) => Some(Quantity::new(Decimal::from(*i), "1")),
        Item::Decimal(d) => Some(Quantity::new(*d, "1")),
        Item::Boolean(b) => {
            Some(Quantity::new(if *b { Decimal::new(10, 1) } else { Decimal::new(0, 1) }, "1"))
        }
        Item::String(s) => parse_quantity_string(s),
        Item::Node(_) => quantity_of(item)?,
        _ => None,
    })
}
