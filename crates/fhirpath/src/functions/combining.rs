//! FHIRPath N1 §5.4 "Combining": union (duplicates removed) and combine (kept).

use super::{Call, Func};
use crate::error::Result;
use crate::eval::equality::union;
use crate::item::Collection;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    mut input: Collection<'a>,
) -> Result<Collection<'a>> {
    let other = cx.arg(0)?;
    if func == Func::Union {
        return Ok(union(input, other));
    }
    input.extend(other);
    Ok(input)
}
