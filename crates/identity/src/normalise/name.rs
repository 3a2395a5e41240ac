//! Person names: titles, case, accents, punctuation, double-barrelled surnames.
//!
//! A forename keeps its first word as *the* forename and the rest as middle names. A surname keeps
//! all its words joined by a space (`Smith-Jones` and `smith jones` become `smith jones`) and
//! lists the parts of a double-barrelled name separately so that `Smith` can be found in
//! `Smith-Jones`. Surname particles (`van`, `de`, `o`) stay part of the name.
use super::text::words;

const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "doctor",
    "prof",
    "professor",
    "sir",
    "dame",
    "lady",
    "lord",
    "rev",
    "revd",
    "reverend",
    "fr",
    "father",
    "sister",
    "master",
    "capt",
    "captain",
];
const SUFFIXES: &[&str] = &["jr", "jnr", "junior", "sr", "snr", "senior", "ii", "iii", "iv"];

/// A normalised forename.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GivenName {
    /// First forename, e.g. `mary`.
    pub first: String,
    /// Middle names in order.
    pub middle: Vec<String>,
}

/// A normalised family name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilyName {
    /// Whole surname, words joined by one space: `smith jones`.
    pub full: String,
    /// Parts of a double-barrelled surname (empty for a one-word surname).
    pub parts: Vec<String>,
}

fn strip_titles(text: &str) -> Vec<String> {
    words(text)
        .split(' ')
        .filter(|w| !w.is_empty() && !TITLES.contains(w) && !SUFFIXES.contains(w))
        .map(str::to_owned)
        .collect()
}

/// Normalises a forename field; `None` when nothing is left after removing titles.
pub fn given_name(text: &str) -> Option<GivenName> {
    let mut ws = strip_titles(text).into_iter();
    let first = ws.next()?;
    Some(GivenName { first, middle: ws.collect() })
}

/// Normalises a family-name field; `None` when nothing is left.
pub fn family_name(text: &str) -> Option<FamilyName> {
    let ws = strip_titles(text);
    if ws.is_empty() {
        return None;
    }
    let full = ws.join(" ");
    // Particles alone are not useful parts ("van der Berg" has one meaningful part).
    let parts: Vec<String> = if ws.len() > 1 {
        ws.into_iter().filter(|w| w.len() > 3 || !is_particle(w)).collect()
    } else {
        Vec::new()
    };
    Some(FamilyName { full, parts })
}

fn is_particle(w: &str) -> bool {
    matches!(
        w,
        "van"
            | "von"
            | "der"
            | "den"
            | "de"
            | "la"
            | "le"
            | "du"
            | "da"
            | "di"
            | "st"
            | "o"
            | "mc"
            | "mac"
            | "al"
            | "el"
            | "ap"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_case_accents() {
        let g = given_name("Dr. MARY-Anne").unwrap();
        assert_eq!(g.first, "mary");
        assert_eq!(g.middle, vec!["anne"]);
        assert_eq!(given_name("Mr").map(|g| g.first), None);
        assert_eq!(given_name("Zoë").unwrap().first, "zoe");
    }

    #[test]
    fn double_barrelled_surnames() {
        let f = family_name("Smith-Jones").unwrap();
        assert_eq!(f.full, "smith jones");
        assert_eq!(f.parts, vec!["smith", "jones"]);
        assert_eq!(family_name("O'Brien").unwrap().full, "obrien");
        assert_eq!(family_name("van der Berg").unwrap().parts, vec!["berg"]);
        assert!(family_name("Smith").unwrap().parts.is_empty());
        assert_eq!(family_name("SMITH JR").unwrap().full, "smith");
    }
}
