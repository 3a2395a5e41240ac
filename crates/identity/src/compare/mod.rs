//! Comparisons: for one field of two records, which *level* of agreement they reach.
//!
//! A comparison is an ordered list of level rules; the first rule that holds gives the level, and
//! when none holds the level is "different" (index = number of rules). When either side has no
//! value the level is [`NULL_LEVEL`], which contributes no evidence either way. Levels are what
//! the Fellegi–Sunter model attaches m and u probabilities to; their order matters because the
//! most specific agreement must be tested first ("exact" before "sounds alike").
//!
//! Every rule is symmetric in its two records, and none allocates in Lantern's own code.
mod date;
mod name;
mod other;
mod place;

pub(crate) use place::jaccard;

use serde::{Deserialize, Serialize};

use crate::dict::{Dict, Prepared};
use crate::error::IdentityError;

/// Level of a comparison where a value is missing on one side or both.
pub const NULL_LEVEL: u8 = 15;
/// At most this many comparisons (a pair's levels pack into 4 bits each of a `u64`).
pub const MAX_COMPARISONS: usize = 16;
/// At most this many rules per comparison (levels 0..=13, "different" at most 14).
pub const MAX_RULES: usize = 14;

/// The field a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Forename.
    GivenName,
    /// Surname (with previous names and double-barrelled parts).
    FamilyName,
    /// Date of birth.
    DateOfBirth,
    /// Administrative sex.
    Sex,
    /// Postcode.
    Postcode,
    /// Address line (house number, street, words).
    Address,
    /// Town.
    Town,
    /// Telephone.
    Phone,
    /// E-mail.
    Email,
    /// Valid NHS number (invalid ones are treated as missing).
    NhsNumber,
}

/// One way two values can agree. Which rules apply to which field is checked by
/// [`ComparisonConfig::validate`]. In TOML: `levels = ["exact", { jaro_winkler = { min = 0.92 } },
/// "phonetic"]` (externally tagged: internally tagged enums do not survive `serde_json`'s
/// `arbitrary_precision`, which the workspace enables).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelRule {
    /// Identical after normalisation.
    Exact,
    /// Jaro-Winkler similarity at least `min`.
    JaroWinkler {
        /// Lowest similarity accepted, 0..=1.
        min: f64,
    },
    /// Levenshtein distance 1 (one character inserted, deleted or changed).
    OneCharTypo,
    /// A Double Metaphone code in common.
    Phonetic,
    /// Forenames that are a known nickname pair (Bill / William).
    Nickname,
    /// One forename is the other's middle name.
    MiddleName,
    /// One surname is a previous surname (maiden name) of the other.
    PreviousName,
    /// One surname is part of the other's double-barrelled surname.
    NamePart,
    /// Forename and surname swapped between the records.
    Swapped,
    /// Dates with day and month swapped.
    DayMonthTransposed,
    /// Dates differing in exactly one digit of `YYYYMMDD`.
    OneDigitTypo,
    /// Dates whose `YYYYMMDD` digits differ by one swap of two adjacent digits (`1972-01-05`
    /// keyed as `1972-00-15`).
    DigitsTransposed,
    /// Same year and month of birth.
    SameYearMonth,
    /// Same year of birth.
    SameYear,
    /// Same postcode sector (`BS8 1`).
    Sector,
    /// Same outward code (`BS8`).
    Outward,
    /// Same house number and street names similar (Jaro-Winkler at least `min`).
    HouseNumberAndStreet {
        /// Lowest street similarity accepted.
        min: f64,
    },
    /// The same street, spelt alike (Jaro-Winkler at least `min`), whatever the house numbers
    /// (a mistyped or missing number; or a neighbour: its weight is learnt from the data).
    StreetSimilar {
        /// Lowest street similarity accepted.
        min: f64,
    },
    /// Jaccard overlap of address words at least `min`.
    TokenOverlap {
        /// Lowest overlap accepted, 0..=1.
        min: f64,
    },
}

/// One comparison of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonConfig {
    /// Name used in explanations ("Surname").
    pub name: String,
    /// The field compared.
    pub field: Field,
    /// Level rules, most specific first.
    pub levels: Vec<LevelRule>,
    /// Adjust the exact-match weight by the value's frequency (see [`crate::tf`]).
    #[serde(default)]
    pub tf_adjust: bool,
}

impl LevelRule {
    fn applies_to(self, f: Field) -> bool {
        use Field::*;
        use LevelRule::*;
        let text = matches!(f, GivenName | FamilyName | Postcode | Town | Phone | Email);
        match self {
            Exact => true,
            JaroWinkler { min }
            | HouseNumberAndStreet { min }
            | StreetSimilar { min }
            | TokenOverlap { min }
                if !(0.0..=1.0).contains(&min) =>
            {
                false
            }
            JaroWinkler { .. } | OneCharTypo => text,
            Phonetic | Swapped => matches!(f, GivenName | FamilyName),
            Nickname | MiddleName => f == GivenName,
            PreviousName | NamePart => f == FamilyName,
            DayMonthTransposed | OneDigitTypo | DigitsTransposed | SameYearMonth | SameYear => {
                f == DateOfBirth
            }
            Sector | Outward => f == Postcode,
            HouseNumberAndStreet { .. } | StreetSimilar { .. } | TokenOverlap { .. } => f == Address,
        }
    }
}

impl ComparisonConfig {
    /// Checks that every rule applies to the field and the count limits.
    pub fn validate(&self) -> Result<(), IdentityError> {
        if self.levels.len() > MAX_RULES {
            return Err(IdentityError::Config(format!("{}: more than {MAX_RULES} levels", self.name)));
        }
        if let Some(r) = self.levels.iter().find(|r| !r.applies_to(self.field)) {
            return Err(IdentityError::Config(format!(
                "{}: level {r:?} does not apply to field {:?}",
                self.name, self.field
            )));
        }
        if self.tf_adjust && self.tf_role().is_none() {
            return Err(IdentityError::Config(format!("{}: no term frequencies for this field", self.name)));
        }
        Ok(())
    }

    /// Number of non-null levels: one per rule plus "different".
    pub fn level_count(&self) -> usize {
        self.levels.len() + 1
    }

    /// The term-frequency role of this comparison's field, if it has one.
    pub fn tf_role(&self) -> Option<crate::tf::TfRole> {
        use crate::tf::TfRole;
        match self.field {
            Field::GivenName => Some(TfRole::GivenName),
            Field::FamilyName => Some(TfRole::FamilyName),
            Field::Postcode => Some(TfRole::Postcode),
            Field::Town => Some(TfRole::Town),
            _ => None,
        }
    }

    /// The level two prepared records reach.
    pub fn level(&self, a: &Prepared, b: &Prepared, d: &Dict) -> u8 {
        let rules = &self.levels[..];
        match self.field {
            Field::GivenName => name::level(rules, name::Role::Given, a, b, d),
            Field::FamilyName => name::level(rules, name::Role::Family, a, b, d),
            Field::DateOfBirth => date::level(rules, a.dob, b.dob),
            Field::Sex => other::exact_only(rules, u32::from(a.sex), u32::from(b.sex), 0),
            Field::NhsNumber => other::exact_u64(rules, a.nhs, b.nhs),
            Field::Postcode => place::postcode_level(rules, a, b, d),
            Field::Address => place::address_level(rules, a, b, d),
            Field::Town => other::text_level(rules, a.town, b.town, &d.places),
            Field::Phone => other::text_level(rules, a.phone, b.phone, &d.contacts),
            Field::Email => other::text_level(rules, a.email, b.email, &d.contacts),
        }
    }

    /// The symbol whose frequency adjusts an exact agreement, if any.
    pub(crate) fn tf_symbol(&self, a: &Prepared) -> crate::intern::Sym {
        match self.field {
            Field::GivenName => a.given,
            Field::FamilyName => a.family,
            Field::Postcode => a.postcode,
            Field::Town => a.town,
            _ => crate::intern::NONE,
        }
    }
}

/// Jaro-Winkler with the arguments in a fixed order, so that the result is exactly symmetric.
pub(crate) fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    if a.is_ascii() && b.is_ascii() && a.len() <= 64 && b.len() <= 64 {
        jaro_winkler_ascii(a.as_bytes(), b.as_bytes())
    } else {
        strsim::jaro_winkler(a, b)
    }
}

/// `strsim::jaro_winkler` for ASCII strings of at most 64 bytes, step for step the same
/// algorithm (greedy matching within the window, half the out-of-order matches, prefix bonus
/// of up to 4 characters above 0.7), with bit masks instead of allocated flag vectors: it is
/// the inner loop of u estimation and scoring.
fn jaro_winkler_ascii(a: &[u8], b: &[u8]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let range = (la.max(lb) / 2).saturating_sub(1);
    let (mut flags_a, mut flags_b) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let window = i.saturating_sub(range)..lb.min(i + range + 1);
        for (j, &y) in b.iter().enumerate().take(window.end).skip(window.start) {
            if flags_b & (1 << j) == 0 && y == x {
                flags_a |= 1 << i;
                flags_b |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let (mut transpositions, mut j) = (0usize, 0usize);
    for (i, &x) in a.iter().enumerate() {
        if flags_a & (1 << i) != 0 {
            while flags_b & (1 << j) == 0 {
                j += 1;
            }
            transpositions += usize::from(x != b[j]);
            j += 1;
        }
    }
    let m = matches as f64;
    let jaro = (m / la as f64 + m / lb as f64 + (m - (transpositions / 2) as f64) / m) / 3.0;
    if jaro > 0.7 {
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
        jaro + 0.1 * prefix as f64 * (1.0 - jaro)
    } else {
        jaro
    }
}

/// Levenshtein distance at most 1, without allocating.
pub(crate) fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (s, l) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if l.len() - s.len() > 1 {
        return false;
    }
    let prefix = s.iter().zip(l).take_while(|(x, y)| x == y).count();
    if s.len() == l.len() {
        // One substitution: everything after the first difference must match.
        prefix == s.len() || s[prefix + 1..] == l[prefix + 1..]
    } else {
        // One insertion into the shorter.
        s[prefix..] == l[prefix + 1..]
    }
}

#[cfg(test)]
mod tests;
