//! Text folding shared by every field: accents to ASCII, case, punctuation.

/// Folds one character to lower-case ASCII letters/digits, or returns it unchanged when it has
/// no ASCII form. Covers Latin-1 and Latin Extended-A, which is what UK feeds send.
pub(crate) fn fold_char(c: char, out: &mut String) {
    let s: &str = match c {
        'A'..='Z' => {
            out.push(c.to_ascii_lowercase());
            return;
        }
        'a'..='z' | '0'..='9' => {
            out.push(c);
            return;
        }
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā'
        | 'Ă' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' | 'Ç' | 'Ć' | 'Č' => "c",
        'ď' | 'đ' | 'Ď' | 'Đ' | 'ð' | 'Ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => {
            "e"
        }
        'ğ' | 'ģ' | 'Ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'İ' => "i",
        'ķ' | 'Ķ' => "k",
        'ł' | 'ĺ' | 'ļ' | 'ľ' | 'Ł' | 'Ĺ' | 'Ľ' => "l",
        'ñ' | 'ń' | 'ň' | 'ņ' | 'Ñ' | 'Ń' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => {
            "o"
        }
        'œ' | 'Œ' => "oe",
        'ŕ' | 'ř' | 'Ŕ' | 'Ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' | 'Ś' | 'Š' | 'Ş' | 'Ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' | 'Ť' | 'Ţ' | 'Ț' => "t",
        'þ' | 'Þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => {
            "u"
        }
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(s);
}

/// Lower-case ASCII words: accents folded, apostrophes dropped (`O'Brien` -> `obrien`), every
/// other non-alphanumeric character a word break. Returns the words joined by single spaces.
pub(crate) fn words(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\'' | '’' | '‘' | '`' => {}
            _ => fold_char(c, &mut folded),
        }
    }
    let mut out = String::with_capacity(folded.len());
    for w in folded.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(words("  Zoë  O'Brien-Smith "), "zoe obrien smith");
        assert_eq!(words("JOSÉ Łukasz"), "jose lukasz");
        assert_eq!(words("Straße"), "strasse");
        assert_eq!(words("...,"), "");
    }
}
