//! Boolean logic (FHIRPath N1 §6.5: `and`, `or`, `xor`, `implies` with three-valued logic) and
//! the singleton-to-boolean rule of §4.5 (one non-boolean item counts as `true`).

use super::{Evaluator, Scope};
use crate::ast::{Ast, BinOp};
use crate::error::{eval_err, Result};
use crate::item::{Collection, Item};

/// Reads a collection as a boolean: empty → `None`; one item → its truth; more → error.
pub(crate) fn to_bool(c: &[Item<'_>]) -> Result<Option<bool>> {
    match c {
        [] => Ok(None),
        // A primitive element with only extensions has no value to test.
        [Item::Node(n)] if n.value.is_none() => Ok(None),
        [one] => Ok(Some(one.as_bool().unwrap_or(true))),
        _ => eval_err(format!("expected a single boolean, got {} items", c.len())),
    }
}

fn out<'a>(b: Option<bool>) -> Collection<'a> {
    b.map(Item::Boolean).into_iter().collect()
}

/// `and`, `or`, `implies`, evaluating the right side only when it matters.
pub(crate) fn short_circuit<'a>(
    ev: &Evaluator<'_, 'a>,
    op: BinOp,
    l: &'a Ast,
    r: &'a Ast,
    scope: Scope<'_, 'a>,
) -> Result<Collection<'a>> {
    let a = to_bool(&ev.eval_scoped(l, scope)?)?;
    let decided = match (op, a) {
        (BinOp::And, Some(false)) => Some(false),
        (BinOp::Or, Some(true)) => Some(true),
        (BinOp::Implies, Some(false)) => Some(true),
        _ => None,
    };
    if decided.is_some() {
        return Ok(out(decided));
    }
    let b = to_bool(&ev.eval_scoped(r, scope)?)?;
    Ok(out(match op {
        BinOp::And => match (a, b) {
            (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        BinOp::Or => match (a, b) {
            (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        _ => match (a, b) {
            (Some(true), b) => b,
            (None, Some(true)) => Some(true),
            _ => None,
        },
    }))
}

pub(crate) fn xor<'a>(a: &[Item<'a>], b: &[Item<'a>]) -> Result<Collection<'a>> {
    Ok(out(match (to_bool(a)?, to_bool(b)?) {
        (Some(x), Some(y)) => Some(x != y),
        _ => None,
    }))
}
