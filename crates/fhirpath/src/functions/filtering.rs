//! FHIRPath N1 §5.2 "Filtering and projection": where, select, repeat, ofType (plus N3
//! `repeatAll`, which keeps duplicates).

use super::{Call, Func};
use crate::ast::Ast;
use crate::error::{eval_err, Result};
use crate::eval::equality::contains_item;
use crate::eval::logic::to_bool;
use crate::eval::types;
use crate::item::Collection;

/// Upper bound on items produced by `repeat`, against runaway expressions.
const REPEAT_LIMIT: usize = 100_000;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    match func {
        Func::Where => {
            let mut out = Vec::with_capacity(input.len());
            for (i, item) in input.iter().enumerate() {
                if to_bool(&cx.arg_for(0, std::slice::from_ref(item), i)?)? == Some(true) {
                    out.push(item.clone());
                }
            }
            Ok(out)
        }
        Func::Select => {
            let mut out = Vec::with_capacity(input.len());
            for (i, item) in input.iter().enumerate() {
                out.extend(cx.arg_for(0, std::slice::from_ref(item), i)?);
            }
            Ok(out)
        }
        Func::Repeat | Func::RepeatAll => {
            let mut out: Collection<'a> = Vec::new();
            let mut frontier = input;
            while !frontier.is_empty() {
                let mut next = Vec::new();
                for (i, item) in frontier.iter().enumerate() {
                    for r in cx.arg_for(0, std::slice::from_ref(item), i)? {
                        if func == Func::RepeatAll || !contains_item(&out, &r) {
                            out.push(r.clone());
                            next.push(r);
                        }
                    }
                }
                if out.len() > REPEAT_LIMIT {
                    return eval_err("repeat() produced too many items");
                }
                frontier = next;
            }
            Ok(out)
        }
        _ => {
            let Some(Ast::Type(spec)) = cx.args.first() else { return eval_err("ofType needs a type") };
            let ty = types::resolve(cx.ev.model(), spec)?;
            Ok(input.into_iter().filter(|i| types::matches(cx.ev.model(), i, &ty)).collect())
        }
    }
}
