//! Arithmetic (FHIRPath N1 §6.6: `*`, `/`, `div`, `mod`, `+`, `-`, `&`, unary minus) on
//! Integers, Decimals, Quantities and date/time values. Integers are 32-bit in FHIRPath: a
//! result outside that range is empty. Division by zero is empty.

use super::singleton;
use super::values::{quantity_of, to_system};
use crate::ast::BinOp;
use crate::error::{eval_err, Result};
use crate::item::{Collection, Item};
use crate::quantity::Quantity;
use rust_decimal::Decimal;
use std::borrow::Cow;

fn in_i32(v: i64) -> Option<i64> {
    (i32::MIN as i64..=i32::MAX as i64).contains(&v).then_some(v)
}

/// A number or quantity operand as a quantity (numbers get unit `1`).
fn as_quantity<'a>(i: &Item<'a>) -> Result<Option<Quantity<'a>>> {
    Ok(match i {
        Item::Integer(n) => Some(Quantity::new(Decimal::from(*n), "1")),
        Item::Decimal(d) => Some(Quantity::new(*d, "1")),
        other => quantity_of(other)?,
    })
}

pub(crate) fn negate<'a>(v: &[Item<'a>]) -> Result<Collection<'a>> {
    let Some(item) = singleton(v, "unary minus")? else { return Ok(Vec::new()) };
    let r = match to_system(item) {
        Some(Item::Integer(i)) => match i.checked_neg() {
            Some(n) => Item::Integer(n),
            None => return Ok(Vec::new()),
        },
        Some(Item::Decimal(d)) => Item::Decimal(-d),
        Some(Item::Quantity(mut q)) => {
            q.value = -q.value;
            Item::Quantity(q)
        }
        Some(other) => match quantity_of(&other)? {
            Some(mut q) => {
                q.value = -q.value;
                Item::Quantity(q)
            }
            None => return eval_err(format!("cannot negate {}", other.fhir_type())),
        },
        None => return Ok(Vec::new()),
    };
    Ok(vec![r])
}

pub(crate) fn binary<'a>(op: BinOp, a: &[Item<'a>], b: &[Item<'a>]) -> Result<Collection<'a>> {
    let x = singleton(a, "arithmetic")?;
    let y = singleton(b, "arithmetic")?;
    if op == BinOp::Concat {
        let s = |i: Option<&Item<'a>>| -> Result<String> {
            match i.and_then(to_system) {
                None => Ok(String::new()),
                Some(Item::String(s)) => Ok(s.into_owned()),
                Some(other) => eval_err(format!("& expects strings, got {}", other.fhir_type())),
            }
        };
        return Ok(vec![Item::String(Cow::Owned(s(x)? + &s(y)?))]);
    }
    let (Some(x), Some(y)) = (x.and_then(to_system), y.and_then(to_system)) else { return Ok(Vec::new()) };
    Ok(apply(op, &x, &y)?.into_iter().collect())
}

fn apply<'a>(op: BinOp, x: &Item<'a>, y: &Item<'a>) -> Result<Option<Item<'a>>> {
    use Item::{Decimal as D, Integer as I};
    match (x, y) {
        (I(a), I(b)) => {
            let r = match op {
                BinOp::Add => a.checked_add(*b),
                BinOp::Sub => a.checked_sub(*b),
                BinOp::Mul => a.checked_mul(*b),
                BinOp::Div => {
                    return Ok(Decimal::from(*a).checked_div(Decimal::from(*b)).map(|d| D(d.normalize())))
                }
                BinOp::IntDiv => a.checked_div(*b),
                BinOp::Mod => a.checked_rem(*b),
                _ => return eval_err("not an arithmetic operator"),
            };
            Ok(r.and_then(in_i32).map(I))
        }
        (I(_) | D(_), I(_) | D(_)) => {
            let (a, b) = super::equality::decimal_pair(x, y).unwrap_or_default();
            let r = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div => a.checked_div(b),
                BinOp::IntDiv => {
                    return Ok(a.checked_div(b).and_then(|d| {
                        use rust_decimal::prelude::ToPrimitive;
                        d.trunc().to_i64().map(I)
                    }))
                }
                BinOp::Mod => a.checked_rem(b),
                _ => return eval_err("not an arithmetic operator"),
            };
            Ok(r.map(D))
        }
        (Item::String(a), Item::String(b)) if op == BinOp::Add => {
            Ok(Some(Item::String(Cow::Owned(format!("{a}{b}")))))
        }
        (Item::Date(t) | Item::DateTime(t) | Item::Time(t), q) if matches!(op, BinOp::Add | BinOp::Sub) => {
            let Some(q) = quantity_of(q)? else {
                return eval_err("date/time arithmetic needs a time-valued quantity");
            };
            let Some(unit) = q.calendar_unit() else {
                return eval_err(format!(
                    "'{}' is not a calendar duration usable in date arithmetic",
                    q.unit()
                ));
            };
            let amount = if op == BinOp::Sub { -q.value } else { q.value };
            let r = t.add(amount, unit).or_else(eval_err)?;
            Ok(r.map(|r| match x {
                Item::Date(_) => Item::Date(r),
                Item::DateTime(_) => Item::DateTime(r),
                _ => Item::Time(r),
            }))
        }
        _ => {
            let (Some(a), Some(b)) = (as_quantity(x)?, as_quantity(y)?) else {
                return eval_err(format!("cannot apply {op:?} to {} and {}", x.fhir_type(), y.fhir_type()));
            };
            let r = match op {
                BinOp::Add => a.add(&b, false),
                BinOp::Sub => a.add(&b, true),
                BinOp::Mul => a.multiply(&b),
                BinOp::Div => a.divide(&b),
                _ => return eval_err(format!("{op:?} is not defined for quantities")),
            };
            // Incommensurable units (or calendar/UCUM durations that must not mix) give empty.
            Ok(r.map(Item::Quantity))
        }
    }
}
