//! FHIRPath N1 §7 "Aggregates": aggregate(aggregator [, init]) with `$total`; plus the N3
//! shorthands sum, min, max, avg.

use super::{Call, Func};
use crate::error::{eval_err, Result};
use crate::eval::arith;
use crate::eval::compare::order;
use crate::eval::values::to_system;
use crate::eval::Scope;
use crate::item::{Collection, Item};
use std::cmp::Ordering;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    match func {
        Func::Aggregate => {
            let mut total = cx.arg(1)?;
            for (i, item) in input.iter().enumerate() {
                let scope = Scope { this: std::slice::from_ref(item), index: Some(i), total: Some(&total) };
                total = cx.ev.eval_scoped(&cx.args[0], scope)?;
            }
            Ok(total)
        }
        Func::Sum | Func::Avg => {
            let items: Vec<Item<'a>> = input
                .iter()
                .filter_map(to_system)
                .filter(|i| matches!(i, Item::Integer(_) | Item::Decimal(_) | Item::Quantity(_)))
                .collect();
            if items.is_empty() {
                return Ok(Vec::new());
            }
            let mut acc = vec![items[0].clone()];
            for item in &items[1..] {
                acc = arith::binary(crate::ast::BinOp::Add, &acc, std::slice::from_ref(item))?;
            }
            if func == Func::Avg {
                acc = arith::binary(crate::ast::BinOp::Div, &acc, &[Item::Integer(items.len() as i64)])?;
            }
            Ok(acc)
        }
        _ => {
            let mut best: Option<Item<'a>> = None;
            for item in input.iter().filter_map(to_system) {
                best = Some(match best {
                    None => item,
                    Some(b) => {
                        let o = order(&item, &b)?;
                        let better = match (func, o) {
                            (Func::Min, Some(Ordering::Less)) | (Func::Max, Some(Ordering::Greater)) => true,
                            (_, None) => return eval_err("values are not comparable"),
                            _ => false,
                        };
                        if better {
                            item
                        } else {
                            b
                        }
                    }
                });
            }
            Ok(best.into_iter().collect())
        }
    }
}
