//! FHIRPath N1 §5.3 "Subsetting": single, first, last, tail, skip, take, intersect, exclude.

use super::{Call, Func};
use crate::error::{eval_err, Result};
use crate::eval::equality::{contains_item, distinct};
use crate::item::Collection;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    mut input: Collection<'a>,
) -> Result<Collection<'a>> {
    match func {
        Func::Single => match input.len() {
            0 | 1 => Ok(input),
            n => eval_err(format!("single() on {n} items")),
        },
        Func::First => {
            input.truncate(1);
            Ok(input)
        }
        Func::Last => Ok(input.pop().into_iter().collect()),
        Func::Tail => Ok(input.into_iter().skip(1).collect()),
        Func::Skip => {
            let n = cx.arg_integer(0)?.unwrap_or(0).max(0) as usize;
            Ok(input.into_iter().skip(n).collect())
        }
        Func::Take => {
            let n = cx.arg_integer(0)?.unwrap_or(0).max(0) as usize;
            input.truncate(n);
            Ok(input)
        }
        Func::Intersect => {
            let other = cx.arg(0)?;
            Ok(distinct(input.into_iter().filter(|i| contains_item(&other, i)).collect()))
        }
        _ => {
            let other = cx.arg(0)?;
            Ok(input.into_iter().filter(|i| !contains_item(&other, i)).collect())
        }
    }
}
