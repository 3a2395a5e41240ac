//! Comparisons of simple fields: sex, NHS number, and plain text (town, phone, e-mail).
use super::{jaro_winkler, within_one_edit, LevelRule, NULL_LEVEL};
use crate::intern::{Interner, Sym, NONE};

/// Fields that can only be equal or not; `missing` is the value meaning "no value".
pub(super) fn exact_only(rules: &[LevelRule], a: u32, b: u32, missing: u32) -> u8 {
    if a == missing || b == missing {
        return NULL_LEVEL;
    }
    first(rules, |r| matches!(r, LevelRule::Exact) && a == b)
}

/// NHS numbers: 0 means no valid number.
pub(super) fn exact_u64(rules: &[LevelRule], a: u64, b: u64) -> u8 {
    if a == 0 || b == 0 {
        return NULL_LEVEL;
    }
    first(rules, |r| matches!(r, LevelRule::Exact) && a == b)
}

/// Free-text fields compared as strings.
pub(super) fn text_level(rules: &[LevelRule], a: Sym, b: Sym, strings: &Interner) -> u8 {
    if a == NONE || b == NONE {
        return NULL_LEVEL;
    }
    let (sa, sb) = (strings.get(a), strings.get(b));
    first(rules, |r| match *r {
        LevelRule::Exact => a == b,
        LevelRule::JaroWinkler { min } => a == b || jaro_winkler(sa, sb) >= min,
        LevelRule::OneCharTypo => a == b || within_one_edit(sa, sb),
        _ => false,
    })
}

/// Index of the first rule that holds, or the "different" level.
pub(super) fn first(rules: &[LevelRule], holds: impl FnMut(&LevelRule) -> bool) -> u8 {
    rules.iter().position(holds).unwrap_or(rules.len()) as u8
}
