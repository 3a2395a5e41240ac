//! Name levels: exact, Jaro-Winkler bands, Double Metaphone, nicknames, middle names, previous
//! surnames, parts of double-barrelled surnames, and forename/surname swaps.
use super::other::first;
use super::{jaro_winkler, within_one_edit, LevelRule, NULL_LEVEL};
use crate::dict::{Dict, Prepared};
use crate::intern::{Sym, NONE};
use crate::phonetic::sounds_alike;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Given,
    Family,
}

fn in2(s: Sym, set: &[Sym; 2]) -> bool {
    s != NONE && (set[0] == s || set[1] == s)
}

fn intersect2(a: &[Sym; 2], b: &[Sym; 2]) -> bool {
    in2(a[0], b) || in2(a[1], b)
}

pub(super) fn level(rules: &[LevelRule], role: Role, a: &Prepared, b: &Prepared, d: &Dict) -> u8 {
    let (sa, sb) = match role {
        Role::Given => (a.given, b.given),
        Role::Family => (a.family, b.family),
    };
    if sa == NONE || sb == NONE {
        return NULL_LEVEL;
    }
    let same = sa == sb;
    let mut jw: Option<f64> = None;
    let mut bound: Option<f64> = None;
    first(rules, |r| match *r {
        LevelRule::Exact => same,
        LevelRule::JaroWinkler { min } => {
            same || (*bound.get_or_insert_with(|| d.jaro_winkler_bound(sa, sb)) >= min
                && *jw.get_or_insert_with(|| jaro_winkler(d.name_text(sa), d.name_text(sb))) >= min)
        }
        LevelRule::OneCharTypo => same || within_one_edit(d.name_text(sa), d.name_text(sb)),
        LevelRule::Phonetic => same || sounds_alike(&d.name_codes[sa as usize], &d.name_codes[sb as usize]),
        LevelRule::Nickname => !same && d.name_nick[sa as usize] & d.name_nick[sb as usize] != 0,
        LevelRule::MiddleName => {
            (a.middle != NONE && a.middle == b.given) || (b.middle != NONE && b.middle == a.given)
        }
        LevelRule::PreviousName => {
            in2(a.family, &b.previous) || in2(b.family, &a.previous) || intersect2(&a.previous, &b.previous)
        }
        LevelRule::NamePart => {
            in2(a.family, &b.parts) || in2(b.family, &a.parts) || intersect2(&a.parts, &b.parts)
        }
        LevelRule::Swapped => !same && swapped(a, b, d),
        _ => false,
    })
}

/// Forename and surname swapped between the records: each equal to, or spelt very like
/// (Jaro-Winkler >= 0.9), the other record's other name.
fn swapped(a: &Prepared, b: &Prepared, d: &Dict) -> bool {
    let close = |x: Sym, y: Sym| {
        x != NONE
            && y != NONE
            && (x == y
                || (d.jaro_winkler_bound(x, y) >= 0.9 && jaro_winkler(d.name_text(x), d.name_text(y)) >= 0.9))
    };
    close(a.given, b.family) && close(a.family, b.given)
}
