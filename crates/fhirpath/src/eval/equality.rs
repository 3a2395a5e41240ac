//! Equality and equivalence (FHIRPath N1 §6.1: `=`, `!=`, `~`, `!~`), membership (§6.4 `in`,
//! `contains`) and union (§6.5 `|`), which all rest on item equality.

use super::singleton;
use super::values::{quantity_of, to_system};
use crate::error::Result;
use crate::item::{Collection, Item};
use crate::temporal::{Temporal, TemporalKind};
use rust_decimal::{Decimal, RoundingStrategy};
use std::cmp::Ordering;

/// Item equality: `Some(true/false)`, or `None` when it cannot be decided (partial dates of
/// different precision, incomparable quantities).
pub(crate) fn items_equal(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    if let (Item::Node(x), Item::Node(y)) = (a, b) {
        if x.value.is_none() && y.value.is_none() {
            // Primitives with only extensions: the same element or an identical one.
            return Some(x.ext == y.ext);
        }
        if x.value.is_some_and(|v| v.is_object()) || y.value.is_some_and(|v| v.is_object()) {
            return Some(x.value == y.value);
        }
    }
    if let Some(r) = quantity_pair(a, b) {
        return r.map(|(x, y)| x.compare(&y).map(|o| o == Ordering::Equal)).unwrap_or(Some(false));
    }
    let (Some(a), Some(b)) = (to_system(a), to_system(b)) else { return Some(false) };
    Some(match (&a, &b) {
        (Item::Boolean(x), Item::Boolean(y)) => x == y,
        (Item::String(x), Item::String(y)) => x == y,
        (Item::Type(x), Item::Type(y)) => x == y,
        (Item::Node(x), Item::Node(y)) => x.value == y.value,
        _ => {
            if let Some((x, y)) = decimal_pair(&a, &b) {
                return Some(x == y);
            }
            if let Some((x, y)) = temporal_pair(&a, &b) {
                return match x.compare(&y) {
                    Ok(Some(o)) => Some(o == Ordering::Equal),
                    Ok(None) => None,
                    Err(()) => Some(false),
                };
            }
            false
        }
    })
}

/// When either side is a quantity: both as quantities (`Err` when only one side can be).
/// Numbers count as quantities with unit `1`.
#[allow(clippy::type_complexity)]
fn quantity_pair<'a>(
    a: &Item<'a>,
    b: &Item<'a>,
) -> Option<std::result::Result<(crate::quantity::Quantity<'a>, crate::quantity::Quantity<'a>), ()>> {
    let is_q = |i: &Item<'_>| matches!(i, Item::Quantity(_));
    if !is_q(a) && !is_q(b) {
        return None;
    }
    let as_q = |i: &Item<'a>| -> Option<crate::quantity::Quantity<'a>> {
        match to_system(i)? {
            Item::Integer(n) => Some(crate::quantity::Quantity::new(Decimal::from(n), "1")),
            Item::Decimal(d) => Some(crate::quantity::Quantity::new(d, "1")),
            _ => quantity_of(i).ok().flatten(),
        }
    };
    Some(match (as_q(a), as_q(b)) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(()),
    })
}

pub(crate) fn decimal_pair(a: &Item<'_>, b: &Item<'_>) -> Option<(Decimal, Decimal)> {
    let d = |i: &Item<'_>| match i {
        Item::Integer(n) => Some(Decimal::from(*n)),
        Item::Decimal(d) => Some(*d),
        _ => None,
    };
    Some((d(a)?, d(b)?))
}

/// Two temporal values, or a temporal value and a string that parses as the same kind.
pub(crate) fn temporal_pair(a: &Item<'_>, b: &Item<'_>) -> Option<(Temporal, Temporal)> {
    let t = |i: &Item<'_>| match i {
        Item::Date(t) | Item::DateTime(t) | Item::Time(t) => Some(*t),
        _ => None,
    };
    let parse_as = |s: &str, kind: TemporalKind| match kind {
        TemporalKind::Time => Temporal::parse_time(s),
        _ => Temporal::parse_fhir(s),
    };
    match (t(a), t(b)) {
        (Some(x), Some(y)) => Some((x, y)),
        (Some(x), None) => Some((x, parse_as(b.as_str()?, x.kind())?)),
        (None, Some(y)) => Some((parse_as(a.as_str()?, y.kind())?, y)),
        (None, None) => None,
    }
}

/// `=` on collections (§6.1.1): empty if either is empty; otherwise same size and pairwise equal.
pub(crate) fn collections_equal(a: &[Item<'_>], b: &[Item<'_>]) -> Result<Option<bool>> {
    if a.is_empty() || b.is_empty() {
        return Ok(None);
    }
    if a.len() != b.len() {
        return Ok(Some(false));
    }
    let mut unknown = false;
    for (x, y) in a.iter().zip(b) {
        match items_equal(x, y) {
            Some(false) => return Ok(Some(false)),
            None => unknown = true,
            Some(true) => {}
        }
    }
    Ok(if unknown { None } else { Some(true) })
}

/// Decimals equivalent at the precision of the less precise one (§6.1.3); trailing zeros do
/// not add precision (`1.10 ~ 1.1`, `1.0 ~ 1.1`), as fhirpath.js reads it.
pub(crate) fn decimal_equivalent(a: Decimal, b: Decimal) -> bool {
    let scale = a.normalize().scale().min(b.normalize().scale());
    let r = |d: Decimal| d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r(a) == r(b)
}

/// Case folded, every whitespace character as a plain space (§6.1.3: "all whitespace
/// characters are treated as equivalent"; runs are not collapsed).
fn normalize_ws(s: &str) -> String {
    s.chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect::<String>().to_lowercase()
}

/// Item equivalence (§6.1.3): strings ignoring case and whitespace differences, decimals at the
/// lesser precision, dates only at the same precision; never empty.
pub(crate) fn items_equivalent(a: &Item<'_>, b: &Item<'_>) -> bool {
    if let (Item::Node(x), Item::Node(y)) = (a, b) {
        if x.value.is_some_and(|v| v.is_object()) || y.value.is_some_and(|v| v.is_object()) {
            return match (x.value, y.value) {
                (Some(p), Some(q)) => json_equivalent(p, q),
                _ => false,
            };
        }
    }
    if let Some(r) = quantity_pair(a, b) {
        return r.map(|(x, y)| x.equivalent(&y)).unwrap_or(false);
    }
    let (Some(a), Some(b)) = (to_system(a), to_system(b)) else { return false };
    match (&a, &b) {
        (Item::Boolean(x), Item::Boolean(y)) => x == y,
        (Item::String(x), Item::String(y)) => normalize_ws(x) == normalize_ws(y),
        _ => {
            if let Some((x, y)) = decimal_pair(&a, &b) {
                return decimal_equivalent(x, y);
            }
            if let Some((x, y)) = temporal_pair(&a, &b) {
                return x.equivalent(&y);
            }
            items_equal(&a, &b) == Some(true)
        }
    }
}

/// Equivalence of complex elements: the same properties, each equivalent (strings ignoring
/// case, numbers at the lesser precision), arrays in order.
fn json_equivalent(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equivalent(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_equivalent(v, w))
        }
        (Value::String(x), Value::String(y)) => normalize_ws(x) == normalize_ws(y),
        (Value::Number(_), Value::Number(_)) => match (super::values::number(a), super::values::number(b)) {
            (Some(p), Some(q)) => decimal_pair(&p, &q).is_some_and(|(p, q)| decimal_equivalent(p, q)),
            _ => false,
        },
        _ => a == b,
    }
}

/// `~` on collections: both empty → true; otherwise every item has an equivalent in the other.
pub(crate) fn collections_equivalent(a: &[Item<'_>], b: &[Item<'_>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| match b.iter().enumerate().find(|(i, y)| !used[*i] && items_equivalent(x, y)) {
        Some((i, _)) => {
            used[i] = true;
            true
        }
        None => false,
    })
}

/// Whether `c` holds an item equal to `x`.
pub(crate) fn contains_item(c: &[Item<'_>], x: &Item<'_>) -> bool {
    c.iter().any(|y| items_equal(x, y) == Some(true))
}

/// `x in c` (§6.4.1).
pub(crate) fn membership<'a>(x: &[Item<'a>], c: &[Item<'a>]) -> Result<Collection<'a>> {
    match singleton(x, "in/contains")? {
        None => Ok(Vec::new()),
        Some(item) => Ok(vec![Item::Boolean(contains_item(c, item))]),
    }
}

/// `a | b` (§6.5): both collections, duplicates removed, order kept.
pub(crate) fn union<'a>(a: Collection<'a>, b: Collection<'a>) -> Collection<'a> {
    let mut out: Collection<'a> = Vec::with_capacity(a.len() + b.len());
    for item in a.into_iter().chain(b) {
        if !contains_item(&out, &item) {
            out.push(item);
        }
    }
    out
}

/// Removes duplicates (by equality), keeping the first of each.
pub(crate) fn distinct<'a>(c: Collection<'a>) -> Collection<'a> {
    union(c, Vec::new())
}
