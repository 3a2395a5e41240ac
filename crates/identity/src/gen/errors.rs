//! The mistakes real feeds make, applied to true values: typos, case, spacing, abbreviation.
use super::rng::Rng;

const NEIGHBOURS: &[&str] = &[
    "qwsz", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko", "huikmn", "jiolm",
    "kopl", "njk", "bhjm", "iklp", "ol", "wa", "edft", "awedxz", "rfgy", "yhji", "cfgb", "qase", "zsdc",
    "tghu", "asx",
];

/// One keyboard-style typo: a neighbouring key, a dropped, doubled or transposed letter.
pub(super) fn typo(rng: &mut Rng, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 2 {
        return s.to_owned();
    }
    let i = 1 + rng.below(c.len() - 1); // first letters are usually right
    match rng.below(4) {
        0 => {
            let lower = c[i].to_ascii_lowercase();
            if lower.is_ascii_lowercase() {
                let n = NEIGHBOURS[(lower as u8 - b'a') as usize].as_bytes();
                let r = n[rng.below(n.len())] as char;
                c[i] = if c[i].is_ascii_uppercase() { r.to_ascii_uppercase() } else { r };
            }
        }
        1 => {
            c.remove(i);
        }
        2 => {
            let d = c[i];
            c.insert(i, d);
        }
        _ => {
            if i + 1 < c.len() {
                c.swap(i, i + 1);
            } else {
                c.swap(i - 1, i);
            }
        }
    }
    c.into_iter().collect()
}

/// Changes one character of a postcode to another of the same kind (letter or digit).
pub(super) fn postcode_typo(rng: &mut Rng, pc: &str) -> String {
    let mut c: Vec<char> = pc.chars().collect();
    let positions: Vec<usize> = (0..c.len()).filter(|&i| c[i] != ' ').collect();
    let i = *rng.pick(&positions);
    c[i] = if c[i].is_ascii_digit() {
        char::from(b'0' + ((c[i] as u8 - b'0' + 1 + rng.below(9) as u8) % 10))
    } else {
        let l = b"ABDEFGHJLNPQRSTUWXY";
        l[rng.below(l.len())] as char
    };
    c.into_iter().collect()
}

/// Case as different systems store it: as typed, upper case, or lower case.
pub(super) fn case(rng: &mut Rng, s: &str) -> String {
    match rng.below(10) {
        0..=5 => s.to_owned(),
        6..=8 => s.to_uppercase(),
        _ => s.to_lowercase(),
    }
}

/// One digit changed in a string of digits.
pub(super) fn digit_typo(rng: &mut Rng, s: &str) -> String {
    let mut b: Vec<u8> = s.bytes().collect();
    let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
    if digits.is_empty() {
        return s.to_owned();
    }
    let i = *rng.pick(&digits);
    b[i] = b'0' + (b[i] - b'0' + 1 + rng.below(9) as u8) % 10;
    String::from_utf8(b).unwrap_or_else(|_| s.to_owned())
}
