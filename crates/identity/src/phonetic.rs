//! Phonetic codes for names: Double Metaphone (primary and alternate) and Soundex.
//!
//! The encoders come from the `rphonetic` crate (a maintained port of Apache commons-codec), so
//! Lantern does not carry its own copy of Lawrence Philips' rule tables. Codes are at most four
//! characters and are packed into a `u32` so that comparing them is one integer comparison.
use rphonetic::{DoubleMetaphone, Encoder, Soundex};

/// Phonetic codes of one name. A zero code means "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PhoneticCodes {
    /// Double Metaphone primary code, packed.
    pub dm_primary: u32,
    /// Double Metaphone alternate code, packed (0 when the same as the primary).
    pub dm_alternate: u32,
    /// Soundex code, packed.
    pub soundex: u32,
}

/// Packs up to four ASCII bytes into a `u32`; longer codes keep their first four.
pub fn pack(code: &str) -> u32 {
    code.bytes().take(4).fold(0u32, |acc, b| (acc << 8) | u32::from(b))
}

/// Unpacks a code made by [`pack`].
pub fn unpack(code: u32) -> String {
    code.to_be_bytes().iter().filter(|&&b| b != 0).map(|&b| b as char).collect()
}

/// Encodes a normalised name (lower-case words). Spaces are ignored: `smith jones` is encoded as
/// one word, as it is spoken.
pub fn codes(name: &str) -> PhoneticCodes {
    let joined: String = name.chars().filter(char::is_ascii_alphabetic).collect();
    if joined.is_empty() {
        return PhoneticCodes::default();
    }
    let dm = DoubleMetaphone::default().double_metaphone(&joined);
    let primary = pack(&dm.primary());
    let alternate = pack(&dm.alternate());
    PhoneticCodes {
        dm_primary: primary,
        dm_alternate: if alternate == primary { 0 } else { alternate },
        soundex: pack(&Soundex::default().encode(&joined)),
    }
}

/// True when any Double Metaphone code of `a` equals any of `b` (empty codes never match).
pub fn sounds_alike(a: &PhoneticCodes, b: &PhoneticCodes) -> bool {
    let (a1, a2, b1, b2) = (a.dm_primary, a.dm_alternate, b.dm_primary, b.dm_alternate);
    (a1 != 0 && (a1 == b1 || a1 == b2)) || (a2 != 0 && (a2 == b1 || a2 == b2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metaphone_cases() {
        assert!(sounds_alike(&codes("smith"), &codes("smyth")));
        assert!(sounds_alike(&codes("smith"), &codes("schmidt")));
        assert!(sounds_alike(&codes("catherine"), &codes("kathryn")));
        assert!(sounds_alike(&codes("stephen"), &codes("steven")));
        assert!(sounds_alike(&codes("philips"), &codes("phillips")));
        assert!(!sounds_alike(&codes("smith"), &codes("jones")));
        assert!(!sounds_alike(&codes(""), &codes("")));
        assert_eq!(unpack(codes("smith").dm_primary), "SM0");
        assert_eq!(unpack(codes("thomas").dm_primary), "TMS");
    }

    #[test]
    fn soundex() {
        assert_eq!(unpack(codes("robert").soundex), "R163");
        assert_eq!(codes("robert").soundex, codes("rupert").soundex);
    }
}
