//! FHIRPath N1 §5.1 "Existence": empty, exists, all, allTrue, anyTrue, allFalse, anyFalse,
//! subsetOf, supersetOf, count, distinct, isDistinct.

use super::{boolean, Call, Func};
use crate::error::{eval_err, Result};
use crate::eval::equality::{contains_item, distinct};
use crate::eval::logic::to_bool;
use crate::item::{Collection, Item};

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    match func {
        Func::Empty => boolean(input.is_empty()),
        Func::Exists => {
            if cx.args.is_empty() {
                return boolean(!input.is_empty());
            }
            for (i, item) in input.iter().enumerate() {
                if to_bool(&cx.arg_for(0, std::slice::from_ref(item), i)?)? == Some(true) {
                    return boolean(true);
                }
            }
            boolean(false)
        }
        Func::All => {
            for (i, item) in input.iter().enumerate() {
                if to_bool(&cx.arg_for(0, std::slice::from_ref(item), i)?)? != Some(true) {
                    return boolean(false);
                }
            }
            boolean(true)
        }
        Func::AllTrue => boolean(bools(&input)?.iter().all(|b| *b)),
        Func::AnyTrue => boolean(bools(&input)?.iter().any(|b| *b)),
        Func::AllFalse => boolean(bools(&input)?.iter().all(|b| !*b)),
        Func::AnyFalse => boolean(bools(&input)?.iter().any(|b| !*b)),
        Func::SubsetOf => {
            let other = cx.arg(0)?;
            boolean(input.iter().all(|i| contains_item(&other, i)))
        }
        Func::SupersetOf => {
            let other = cx.arg(0)?;
            boolean(other.iter().all(|i| contains_item(&input, i)))
        }
        Func::Count => Ok(vec![Item::Integer(input.len() as i64)]),
        Func::Distinct => Ok(distinct(input)),
        _ => {
            let n = input.len();
            boolean(distinct(input).len() == n)
        }
    }
}

fn bools(input: &[Item<'_>]) -> Result<Vec<bool>> {
    input
        .iter()
        .map(|i| match i.as_bool() {
            Some(b) => Ok(b),
            None => eval_err(format!("expected booleans, got {}", i.fhir_type())),
        })
        .collect()
}
