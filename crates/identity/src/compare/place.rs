//! Postcode and address levels.
use super::other::first;
use super::{jaro_winkler, within_one_edit, LevelRule, NULL_LEVEL};
use crate::dict::{Dict, Prepared};
use crate::intern::{Sym, NONE};

pub(super) fn postcode_level(rules: &[LevelRule], a: &Prepared, b: &Prepared, d: &Dict) -> u8 {
    if a.postcode == NONE || b.postcode == NONE {
        return NULL_LEVEL;
    }
    let same = a.postcode == b.postcode;
    let text = |p: &Prepared| d.place_text(p.postcode);
    first(rules, |r| match *r {
        LevelRule::Exact => same,
        LevelRule::OneCharTypo => same || within_one_edit(text(a), text(b)),
        LevelRule::JaroWinkler { min } => same || jaro_winkler(text(a), text(b)) >= min,
        LevelRule::Sector => a.sector != NONE && a.sector == b.sector,
        LevelRule::Outward => a.outward != NONE && a.outward == b.outward,
        _ => false,
    })
}

/// Jaccard overlap of two sorted, deduplicated symbol lists.
pub(crate) fn jaccard(a: &[Sym], b: &[Sym]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

fn has_address(p: &Prepared) -> bool {
    p.house != NONE || p.street != NONE || p.ntokens > 0
}

pub(super) fn address_level(rules: &[LevelRule], a: &Prepared, b: &Prepared, d: &Dict) -> u8 {
    if !has_address(a) || !has_address(b) {
        return NULL_LEVEL;
    }
    first(rules, |r| match *r {
        LevelRule::Exact => {
            a.house == b.house && a.street == b.street && (a.street != NONE || a.house != NONE)
        }
        LevelRule::HouseNumberAndStreet { min } => {
            a.house != NONE
                && a.house == b.house
                && a.street != NONE
                && b.street != NONE
                && d.places_alike(a.street, b.street, min)
        }
        LevelRule::StreetSimilar { min } => {
            a.street != NONE && b.street != NONE && d.places_alike(a.street, b.street, min)
        }
        LevelRule::TokenOverlap { min } => jaccard(a.tokens(), b.tokens()) >= min,
        _ => false,
    })
}
