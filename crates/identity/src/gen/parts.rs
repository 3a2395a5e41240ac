//! The population generator's parts, for other generators (the synthetic region in
//! `lantern-region`) to build on: the same name and place distributions and the same kinds of
//! feed error, so every synthetic data set in Lantern looks like the same country.
use super::rng::{Rng, Weighted};
use super::{errors, names, places};

/// Surnames: the listed UK names plus a synthetic tail (see `names`).
pub fn surnames() -> Weighted<String> {
    names::surnames()
}

/// Forenames for one sex, weighted by frequency.
pub fn forenames(female: bool) -> Weighted<&'static str> {
    names::forenames(female)
}

/// One postcode unit: a street in a town.
#[derive(Debug, Clone)]
pub struct Street {
    pub postcode: String,
    pub town: &'static str,
    unit: places::Unit,
}

impl Street {
    /// The street name, in full ("Station Road") or abbreviated ("Station Rd").
    pub fn name(&self, abbreviated: bool) -> String {
        self.unit.street(abbreviated)
    }
}

/// `count` postcode units with real-shaped postcodes.
pub fn streets(rng: &mut Rng, count: usize) -> Vec<Street> {
    places::units(rng, count)
        .into_iter()
        .map(|u| Street { postcode: u.postcode.clone(), town: u.town, unit: u })
        .collect()
}

/// A UK phone number in national form (`07...` mobile, `01...` landline).
pub fn phone_number(rng: &mut Rng, mobile: bool) -> String {
    places::phone_number(rng, mobile)
}

/// One keyboard-style typo (the first letter is kept).
pub fn typo(rng: &mut Rng, s: &str) -> String {
    errors::typo(rng, s)
}

/// One character of a postcode changed to another of its kind.
pub fn postcode_typo(rng: &mut Rng, pc: &str) -> String {
    errors::postcode_typo(rng, pc)
}

/// One digit changed.
pub fn digit_typo(rng: &mut Rng, s: &str) -> String {
    errors::digit_typo(rng, s)
}

/// As typed, upper case or lower case, as different systems store text.
pub fn case(rng: &mut Rng, s: &str) -> String {
    errors::case(rng, s)
}

/// Another name the same person goes by (Bill for William), if the forename has one.
pub fn nickname(rng: &mut Rng, given: &str) -> Option<String> {
    let lower = given.to_lowercase();
    let group = crate::normalise::nicknames::groups().iter().find(|g| g.contains(&lower.as_str()))?;
    let others: Vec<&&str> = group.iter().filter(|n| **n != lower).collect();
    let alt = others.get(rng.below(others.len().max(1)))?;
    Some(super::names_capitalise(alt))
}
