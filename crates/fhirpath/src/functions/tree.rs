//! FHIRPath N1 §5.8 "Tree navigation": children() and descendants().

use super::{Call, Func};
use crate::error::Result;
use crate::eval::navigate::children;
use crate::item::Collection;

pub(super) fn call<'a>(
    cx: &Call<'_, '_, '_, 'a>,
    func: Func,
    input: Collection<'a>,
) -> Result<Collection<'a>> {
    let model = cx.ev.model();
    let mut out = Vec::new();
    for item in &input {
        children(model, item, &mut out);
    }
    if func == Func::Children {
        return Ok(out);
    }
    // descendants(): breadth-first, every level (JSON trees have no cycles).
    let mut all = Vec::new();
    let mut level = out;
    while !level.is_empty() {
        let mut next = Vec::new();
        for item in &level {
            children(model, item, &mut next);
        }
        all.extend(level);
        level = next;
    }
    Ok(all)
}
