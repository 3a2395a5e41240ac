//! Normalisation shared by indexing and searching, so both sides agree (R4 §3.1.1.5.13 string
//! search: "case- and accent-insensitive").

/// Lower-case and strip combining accents from Latin letters.
pub fn normalise_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let base = strip_accent(c);
        for l in base.to_lowercase() {
            out.push(l);
        }
    }
    out
}

fn strip_accent(c: char) -> char {
    match c {
        'À'..='Å' => 'A',
        'à'..='å' => 'a',
        'Ç' => 'C',
        'ç' => 'c',
        'È'..='Ë' => 'E',
        'è'..='ë' => 'e',
        'Ì'..='Ï' => 'I',
        'ì'..='ï' => 'i',
        'Ñ' => 'N',
        'ñ' => 'n',
        'Ò'..='Ö' | 'Ø' => 'O',
        'ò'..='ö' | 'ø' => 'o',
        'Ù'..='Ü' => 'U',
        'ù'..='ü' => 'u',
        'Ý' => 'Y',
        'ý' | 'ÿ' => 'y',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_accents_fold() {
        assert_eq!(normalise_string("Zoë BRONTË"), "zoe bronte");
    }
}
