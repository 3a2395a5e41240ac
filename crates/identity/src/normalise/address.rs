//! Address lines: tokens, house number, street.
//!
//! Addresses are compared by their words rather than as one string, because sources order and
//! abbreviate them differently ("Flat 2, 10 High St" vs "10 High Street"). Common abbreviations
//! are expanded, the first number-like token is the house number, and the remaining words form
//! the street tokens compared by overlap.
use super::text::words;

/// A normalised address line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// House number (`10`, `12a`), if any.
    pub house_number: Option<String>,
    /// The first street-looking part: words after the house number up to the first comma,
    /// abbreviations expanded (`high street`).
    pub street: String,
    /// Every non-number word of the line, abbreviations expanded, deduplicated, sorted.
    pub tokens: Vec<String>,
}

fn expand(w: &str) -> &str {
    match w {
        "rd" => "road",
        "st" | "str" => "street",
        "ave" | "av" => "avenue",
        "ln" => "lane",
        "cl" => "close",
        "dr" | "drv" => "drive",
        "ct" => "court",
        "cres" | "cresc" => "crescent",
        "pl" => "place",
        "gdns" | "gdn" => "gardens",
        "sq" => "square",
        "ter" | "terr" | "tce" => "terrace",
        "pk" => "park",
        "hse" => "house",
        "apt" | "apartment" => "flat",
        other => other,
    }
}

fn is_number_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit()) && w.len() <= 5
}

/// Normalises an address line; `None` when it has no words.
pub fn address(line: &str) -> Option<Address> {
    let mut house_number = None;
    let mut street_words: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut street_done = false;
    for segment in line.split(',') {
        let seg = words(segment);
        let mut seg_words: Vec<String> = Vec::new();
        let mut after_flat = false;
        for w in seg.split(' ').filter(|w| !w.is_empty()) {
            let w = expand(w);
            if is_number_like(w) {
                // "flat 2, 10 high street": the flat number is not the house number.
                if !after_flat && house_number.is_none() {
                    house_number = Some(w.to_owned());
                }
                after_flat = false;
                continue;
            }
            after_flat = w == "flat" || w == "unit";
            if !after_flat {
                tokens.push(w.to_owned());
                seg_words.push(w.to_owned());
            }
        }
        if !street_done && !seg_words.is_empty() && house_number.is_some() {
            street_words = seg_words;
            street_done = true;
        } else if street_words.is_empty() && !seg_words.is_empty() {
            street_words = seg_words;
        }
    }
    if house_number.is_none() && tokens.is_empty() {
        return None;
    }
    let street = street_words.join(" ");
    tokens.sort_unstable();
    tokens.dedup();
    Some(Address { house_number, street, tokens })
}

/// A town name, normalised like any other words.
pub fn town(text: &str) -> Option<String> {
    Some(words(text)).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn number_street_and_tokens() {
        let a = address("10 High St").unwrap();
        assert_eq!(a.house_number.as_deref(), Some("10"));
        assert_eq!(a.street, "high street");
        let b = address("Flat 2, 10 High Street, Clifton").unwrap();
        assert_eq!(b.house_number.as_deref(), Some("10"));
        assert_eq!(b.street, "high street");
        assert_eq!(b.tokens, vec!["clifton", "high", "street"]);
        let c = address("Rose Cottage, Mill Lane").unwrap();
        assert_eq!(c.house_number, None);
        assert_eq!(c.street, "rose cottage");
        assert_eq!(address(" , "), None);
    }
}
