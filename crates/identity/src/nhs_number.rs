//! NHS number: normalisation and the Modulus 11 check (NHS Data Dictionary, "NHS Number").
//!
//! An NHS number is ten digits. The first nine are multiplied by the weights 10, 9, ..., 2 and
//! summed; the check digit is `11 - (sum mod 11)`, where 11 becomes 0 and 10 means the number is
//! invalid (no NHS number is ever issued with it). A number that fails the check is kept, flagged,
//! and never used to link: a typo in an identifier must not join two people.
use serde::{Deserialize, Serialize};

/// What was made of a supplied NHS number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NhsNumberStatus {
    /// Ten digits, Modulus 11 check passed.
    Valid,
    /// Ten digits but the check digit is wrong (or the computed check is 10).
    BadCheckDigit,
    /// Not ten digits after removing spaces and dashes, or other characters present.
    Malformed,
    /// All ten digits the same (e.g. 0000000000, 9999999999): passes the sum but is a placeholder.
    Placeholder,
}

/// A checked NHS number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NhsNumber(u64);

impl NhsNumber {
    /// Parses and validates: spaces, dashes and dots are ignored; anything else is malformed.
    pub fn parse(text: &str) -> Result<NhsNumber, NhsNumberStatus> {
        let mut digits = [0u8; 10];
        let mut n = 0usize;
        for c in text.chars() {
            match c {
                ' ' | '-' | '.' | '\t' => {}
                '0'..='9' => {
                    if n == 10 {
                        return Err(NhsNumberStatus::Malformed);
                    }
                    digits[n] = c as u8 - b'0';
                    n += 1;
                }
                _ => return Err(NhsNumberStatus::Malformed),
            }
        }
        if n != 10 {
            return Err(NhsNumberStatus::Malformed);
        }
        if check_digit(&digits) != Some(digits[9]) {
            return Err(NhsNumberStatus::BadCheckDigit);
        }
        if digits.iter().all(|&d| d == digits[0]) {
            return Err(NhsNumberStatus::Placeholder);
        }
        Ok(NhsNumber(digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d))))
    }

    /// Builds a valid number from nine leading digits, if they have a check digit at all.
    pub fn from_first_nine(first_nine: u64) -> Option<NhsNumber> {
        let mut digits = [0u8; 10];
        let mut v = first_nine;
        for i in (0..9).rev() {
            digits[i] = (v % 10) as u8;
            v /= 10;
        }
        if v != 0 {
            return None;
        }
        let check = check_digit(&digits)?;
        Some(NhsNumber(first_nine * 10 + u64::from(check)))
    }

    /// The number as a u64 (fits: ten digits).
    pub fn value(self) -> u64 {
        self.0
    }

    /// Ten digits, no spaces.
    pub fn digits(self) -> String {
        format!("{:010}", self.0)
    }

    /// The usual 3-3-4 display form: `943 476 5919`.
    pub fn display(self) -> String {
        let d = self.digits();
        format!("{} {} {}", &d[0..3], &d[3..6], &d[6..10])
    }
}

/// The check digit for the first nine digits, or `None` when the rule gives 10 (invalid).
fn check_digit(digits: &[u8; 10]) -> Option<u8> {
    let sum: u32 = digits[..9].iter().zip((2..=10).rev()).map(|(&d, w)| u32::from(d) * w).sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_numbers() {
        // Published examples and numbers from the 999 test range.
        for s in ["943 476 5919", "9434765919", "401-023-2137", "9990000018", "999 000 0026"] {
            assert!(NhsNumber::parse(s).is_ok(), "{s}");
        }
        assert_eq!(NhsNumber::parse("943-476-5919").unwrap().display(), "943 476 5919");
    }

    #[test]
    fn wrong_check_digit() {
        assert_eq!(NhsNumber::parse("9434765918"), Err(NhsNumberStatus::BadCheckDigit));
        assert_eq!(NhsNumber::parse("9434765910"), Err(NhsNumberStatus::BadCheckDigit));
    }

    #[test]
    fn check_of_ten_is_invalid_whatever_the_last_digit() {
        // 123456789x: sum = 1*10+2*9+...+9*2 = 210, 210 mod 11 = 1, 11-1 = 10 -> never valid.
        for last in 0..=9 {
            let s = format!("123456789{last}");
            assert_eq!(NhsNumber::parse(&s), Err(NhsNumberStatus::BadCheckDigit), "{s}");
        }
        assert_eq!(NhsNumber::from_first_nine(123_456_789), None);
    }

    #[test]
    fn malformed_and_placeholders() {
        assert_eq!(NhsNumber::parse("943476591"), Err(NhsNumberStatus::Malformed));
        assert_eq!(NhsNumber::parse("94347659190"), Err(NhsNumberStatus::Malformed));
        assert_eq!(NhsNumber::parse("943476591X"), Err(NhsNumberStatus::Malformed));
        assert_eq!(NhsNumber::parse(""), Err(NhsNumberStatus::Malformed));
        assert_eq!(NhsNumber::parse("0000000000"), Err(NhsNumberStatus::Placeholder));
    }

    #[test]
    fn check_of_eleven_becomes_zero() {
        let n = NhsNumber::from_first_nine(999_000_001).unwrap();
        assert_eq!(n.digits(), "9990000018");
        // Find one whose check digit is 0 and make sure it round-trips.
        let zero = (999_000_000..999_000_200)
            .filter_map(NhsNumber::from_first_nine)
            .find(|n| n.value() % 10 == 0)
            .unwrap();
        assert!(NhsNumber::parse(&zero.digits()).is_ok());
    }
}
