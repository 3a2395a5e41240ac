//! FHIRPath N1 §5.9 "Utility functions" (trace, now, timeOfDay, today), §6.3 `type()`, §6.5
//! `not()`, and the N2 additions defineVariable, lowBoundary, highBoundary, precision,
//! comparable, sort, coalesce.

use super::{boolean, Call, Func};
use crate::ast::Ast;
use crate::error::{eval_err, Result};
use crate::eval::compare::order;
use crate::eval::logic::to_bool;
use crate::eval::values::{quantity_of, to_system};
use crate::eval::{singleton, types, Scope};
use crate::item::{Collection, Item};
use rust_decimal::{Decimal, RoundingStrategy};
use std::cmp::Ordering;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    match func {
        Func::Trace => {
            if let Some(hook) = cx.ev.env.trace {
                let name = cx.arg_string(0)?.unwrap_or_default();
                if cx.args.len() > 1 {
                    let mut projected = Vec::new();
                    for (i, item) in input.iter().enumerate() {
                        projected.extend(cx.arg_for(1, std::slice::from_ref(item), i)?);
                    }
                    hook(&name, &projected);
                } else {
                    hook(&name, &input);
                }
            }
            Ok(input)
        }
        Func::Now => Ok(vec![Item::DateTime(cx.ev.now())]),
        Func::Today => Ok(vec![Item::Date(cx.ev.now().date_part())]),
        Func::TimeOfDay => Ok(vec![Item::Time(cx.ev.now().time_part())]),
        Func::DefineVariable => {
            let name = cx.arg_string(0)?.unwrap_or_default().into_owned();
            if cx.ev.variable_exists(&name) {
                return eval_err(format!("variable %{name} is already defined"));
            }
            let value = match cx.args.get(1) {
                Some(a) => cx.ev.eval_scoped(a, Scope { this: &input, index: None, total: None })?,
                None => input.clone(),
            };
            cx.ev.env.defined.borrow_mut().push((name, value));
            Ok(input)
        }
        Func::LowBoundary | Func::HighBoundary => {
            let Some(item) = singleton(&input, "boundary")? else { return Ok(Vec::new()) };
            let digits = cx.arg_integer(0)?;
            let high = func == Func::HighBoundary;
            let r = match to_system(item) {
                Some(Item::Integer(i)) => decimal_boundary(Decimal::from(i), digits, high).map(Item::Decimal),
                Some(Item::Decimal(d)) => decimal_boundary(d, digits, high).map(Item::Decimal),
                Some(Item::Quantity(mut q)) => decimal_boundary(q.value, digits, high).map(|v| {
                    q.value = v;
                    Item::Quantity(q)
                }),
                Some(Item::Date(t)) => t.boundary(digits, high).map(Item::Date),
                Some(Item::DateTime(t)) => t.boundary(digits, high).map(Item::DateTime),
                Some(Item::Time(t)) => t.boundary(digits, high).map(Item::Time),
                _ => None,
            };
            Ok(r.into_iter().collect())
        }
        Func::Precision => {
            let Some(item) = singleton(&input, "precision")? else { return Ok(Vec::new()) };
            let r = match to_system(item) {
                Some(Item::Decimal(d)) => Some(d.scale() as i64),
                Some(Item::Integer(_)) => Some(0),
                Some(Item::Date(t) | Item::DateTime(t) | Item::Time(t)) => Some(t.precision_digits()),
                _ => None,
            };
            Ok(r.map(Item::Integer).into_iter().collect())
        }
        Func::Comparable => {
            let Some(item) = singleton(&input, "comparable")? else { return Ok(Vec::new()) };
            let other = cx.arg(0)?;
            let Some(o) = singleton(&other, "comparable")? else { return Ok(Vec::new()) };
            let as_q = |i: &Item<'a>| -> Result<Option<crate::quantity::Quantity<'a>>> {
                Ok(match to_system(i) {
                    Some(Item::Integer(n)) => Some(crate::quantity::Quantity::new(Decimal::from(n), "1")),
                    Some(Item::Decimal(d)) => Some(crate::quantity::Quantity::new(d, "1")),
                    _ => quantity_of(i)?,
                })
            };
            let (Some(a), Some(b)) = (as_q(item)?, as_q(o)?) else {
                return eval_err("comparable() expects quantities");
            };
            boolean(a.comparable(&b))
        }
        Func::Sort => sort(cx, input),
        Func::Coalesce => {
            for i in 0..cx.args.len() {
                let v = cx.arg(i)?;
                if !v.is_empty() {
                    return Ok(v);
                }
            }
            Ok(input)
        }
        Func::Type => Ok(input.iter().map(|i| Item::Type(types::type_of(i))).collect()),
        Func::Not => Ok(to_bool(&input)?.map(|b| Item::Boolean(!b)).into_iter().collect()),
        _ => eval_err(format!("{func:?} is handled by the parser")),
    }
}

/// N2 `lowBoundary`/`highBoundary` for decimals: the value ± half a unit in its last digit,
/// then floored/ceiled to `digits` decimal places (default 8).
fn decimal_boundary(d: Decimal, digits: Option<i64>, high: bool) -> Option<Decimal> {
    let digits = digits.unwrap_or(8);
    if !(0..=28).contains(&digits) {
        return None;
    }
    let half = Decimal::try_new(5, d.scale() + 1).ok()?;
    let v = if high { d.checked_add(half)? } else { d.checked_sub(half)? };
    let strategy =
        if high { RoundingStrategy::ToPositiveInfinity } else { RoundingStrategy::ToNegativeInfinity };
    Some(v.round_dp_with_strategy(digits as u32, strategy))
}

/// N3 `sort(keys...)`: stable; a key written `-expr` sorts descending.
fn sort<'a>(cx: &Call<'_, '_, '_, 'a>, input: Collection<'a>) -> Result<Collection<'a>> {
    let mut keyed = Vec::with_capacity(input.len());
    for (i, item) in input.into_iter().enumerate() {
        let mut keys = Vec::with_capacity(cx.args.len());
        for arg in cx.args {
            let (expr, desc) = match arg {
                Ast::Neg(inner) => (inner.as_ref(), true),
                other => (other, false),
            };
            let k = cx.ev.eval_scoped(expr, Scope::item(std::slice::from_ref(&item), i))?;
            keys.push((k.into_iter().next(), desc));
        }
        keyed.push((keys, item));
    }
    let mut failure = None;
    let cmp = |a: &Item<'a>, b: &Item<'a>, failure: &mut Option<crate::error::Error>| match order(a, b) {
        Ok(Some(o)) => o,
        Ok(None) => Ordering::Equal,
        Err(e) => {
            *failure = Some(e);
            Ordering::Equal
        }
    };
    keyed.sort_by(|(ka, a), (kb, b)| {
        if cx.args.is_empty() {
            return cmp(a, b, &mut failure);
        }
        for ((x, desc), (y, _)) in ka.iter().zip(kb) {
            let o = match (x, y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => cmp(x, y, &mut failure),
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(keyed.into_iter().map(|(_, i)| i).collect())
}
