//! Comparison operators (FHIRPath N1 §6.2: `<`, `<=`, `>`, `>=`) on numbers, strings,
//! dates/times (empty when precision leaves the answer open) and quantities.

use super::equality::{decimal_pair, temporal_pair};
use super::singleton;
use super::values::{quantity_of, to_system};
use crate::ast::BinOp;
use crate::error::{eval_err, Result};
use crate::item::{Collection, Item};
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// Orders two items: `Ok(None)` when undecidable, an error when the types cannot be compared.
pub(crate) fn order(a: &Item<'_>, b: &Item<'_>) -> Result<Option<Ordering>> {
    if matches!(a, Item::Quantity(_)) || matches!(b, Item::Quantity(_)) {
        let as_q = |i: &Item<'_>| -> Result<Option<crate::quantity::Quantity<'static>>> {
            Ok(match to_system(i) {
                Some(Item::Integer(n)) => Some(crate::quantity::Quantity::new(Decimal::from(n), "1")),
                Some(Item::Decimal(d)) => Some(crate::quantity::Quantity::new(d, "1")),
                _ => quantity_of(i)?.map(|q| q.into_owned()),
            })
        };
        return match (as_q(a)?, as_q(b)?) {
            (Some(x), Some(y)) => Ok(x.compare(&y)),
            _ => eval_err("cannot compare a quantity with a non-quantity"),
        };
    }
    let (Some(x), Some(y)) = (to_system(a), to_system(b)) else { return Ok(None) };
    if let Some((p, q)) = decimal_pair(&x, &y) {
        return Ok(Some(p.cmp(&q)));
    }
    if let (Item::String(p), Item::String(q)) = (&x, &y) {
        return Ok(Some(p.as_ref().cmp(q.as_ref())));
    }
    if let Some((p, q)) = temporal_pair(&x, &y) {
        return p.compare(&q).or_else(|_| eval_err("cannot compare a time with a date"));
    }
    if let (Item::Node(_), _) | (_, Item::Node(_)) = (&x, &y) {
        // A FHIR Quantity element against another one.
        if let (Some(p), Some(q)) = (quantity_of(&x)?, quantity_of(&y)?) {
            return Ok(p.compare(&q));
        }
    }
    eval_err(format!("cannot compare {} with {}", x.fhir_type(), y.fhir_type()))
}

pub(crate) fn compare_op<'a>(op: BinOp, a: &[Item<'a>], b: &[Item<'a>]) -> Result<Collection<'a>> {
    let (Some(x), Some(y)) = (singleton(a, "comparison")?, singleton(b, "comparison")?) else {
        return Ok(Vec::new());
    };
    let Some(o) = order(x, y)? else { return Ok(Vec::new()) };
    let r = match op {
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    };
    Ok(vec![Item::Boolean(r)])
}
