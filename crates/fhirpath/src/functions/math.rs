//! FHIRPath N1 §5.7 "Math": abs, ceiling, exp, floor, ln, log, power, round, sqrt, truncate.
//! Transcendental functions go through `f64`; a result that is not a finite number is empty.

use super::{Call, Func};
use crate::error::{eval_err, Result};
use crate::eval::singleton;
use crate::eval::values::to_system;
use crate::item::{Collection, Item};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

fn from_f64<'a>(x: f64) -> Option<Item<'a>> {
    if !x.is_finite() {
        return None;
    }
    Decimal::from_f64(x).map(|d| Item::Decimal(d.normalize()))
}

fn number_arg(cx: &Call<'_, '_, '_, '_>, i: usize) -> Result<Option<Decimal>> {
    match cx.arg_single(i)? {
        None => Ok(None),
        Some(Item::Integer(n)) => Ok(Some(Decimal::from(n))),
        Some(Item::Decimal(d)) => Ok(Some(d)),
        Some(other) => eval_err(format!("expected a number argument, got {}", other.fhir_type())),
    }
}

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    let Some(item) = singleton(&input, "math function")? else { return Ok(Vec::new()) };
    let Some(v) = to_system(item) else { return Ok(Vec::new()) };
    let d = match &v {
        Item::Integer(i) => Decimal::from(*i),
        Item::Decimal(d) => *d,
        Item::Quantity(q)
            if matches!(func, Func::Abs | Func::Ceiling | Func::Floor | Func::Round | Func::Truncate) =>
        {
            let mut q = q.clone();
            q.value = match func {
                Func::Abs => q.value.abs(),
                Func::Ceiling => q.value.ceil(),
                Func::Floor => q.value.floor(),
                Func::Truncate => q.value.trunc(),
                _ => {
                    let places = cx.arg_integer(0)?.unwrap_or(0).clamp(0, 28) as u32;
                    q.value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
                }
            };
            return Ok(vec![Item::Quantity(q)]);
        }
        other => return eval_err(format!("{func:?} expects a number, got {}", other.fhir_type())),
    };
    let f = d.to_f64().unwrap_or(f64::NAN);
    let int = |x: Decimal| x.to_i64().map(Item::Integer);
    let r = match func {
        Func::Abs => match v {
            Item::Integer(i) => i.checked_abs().map(Item::Integer),
            _ => Some(Item::Decimal(d.abs())),
        },
        Func::Ceiling => int(d.ceil()),
        Func::Floor => int(d.floor()),
        Func::Truncate => int(d.trunc()),
        Func::Exp => from_f64(f.exp()),
        Func::Ln => from_f64(f.ln()),
        Func::Sqrt => from_f64(f.sqrt()),
        Func::Log => {
            let Some(base) = number_arg(cx, 0)? else { return Ok(Vec::new()) };
            let b = base.to_f64().unwrap_or(f64::NAN);
            from_f64(if b == 10.0 {
                f.log10()
            } else if b == 2.0 {
                f.log2()
            } else {
                f.ln() / b.ln()
            })
        }
        Func::Power => {
            let Some(e) = number_arg(cx, 0)? else { return Ok(Vec::new()) };
            match (&v, e.to_i64()) {
                (Item::Integer(b), Some(n)) if e.scale() == 0 && (0..=u32::MAX as i64).contains(&n) => {
                    b.checked_pow(n as u32).map(Item::Integer)
                }
                _ => from_f64(f.powf(e.to_f64().unwrap_or(f64::NAN))),
            }
        }
        Func::Round => {
            let places = cx.arg_integer(0)?.unwrap_or(0);
            if places < 0 {
                return eval_err("round() precision must be non-negative");
            }
            Some(Item::Decimal(
                d.round_dp_with_strategy(places as u32, RoundingStrategy::MidpointAwayFromZero),
            ))
        }
        _ => return eval_err("not a math function"),
    };
    Ok(r.into_iter().collect())
}
