//! Shapes of the identifiers a token may carry: NHS numbers and ODS organisation codes.
//!
//! Checked here rather than borrowed from `lantern-identity` so that this crate depends on no
//! other Lantern crate: anything can verify a token without pulling in the patient index.
use crate::error::InvalidClaim;

/// Checks an NHS number (10 digits, Modulus 11 check digit) and returns it as 10 digits.
/// Spaces and hyphens between digit groups (`943 476 5919`) are accepted and removed.
pub fn nhs_number(s: &str) -> Result<String, InvalidClaim> {
    let bad = |reason: &str| InvalidClaim::new("nhs_number", format!("`{s}` {reason}"));
    let digits: String = s.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("is not an NHS number: expected 10 digits"));
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    // Weights 10 down to 2 over the first nine digits; the check digit is 11 - (sum mod 11),
    // where 11 means 0 and 10 means the number can never be valid.
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return Err(bad("is not a valid NHS number (no check digit can fit)")),
        c => c,
    };
    if check != d[9] {
        return Err(bad("is not a valid NHS number (the check digit is wrong)"));
    }
    Ok(digits)
}

/// Checks an ODS organisation code (3 to 10 letters or digits) and returns it in upper case,
/// the form ODS publishes, so that policy can compare codes exactly.
pub fn ods_code(s: &str) -> Result<String, InvalidClaim> {
    if (3..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(InvalidClaim::new(
            "org",
            format!("`{s}` is not an ODS code: expected 3 to 10 letters or digits, e.g. `A81001` or `RR8`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nhs_numbers() {
        assert_eq!(nhs_number("9434765919").unwrap(), "9434765919");
        assert_eq!(nhs_number("943 476 5919").unwrap(), "9434765919");
        assert_eq!(nhs_number("943-476-5919").unwrap(), "9434765919");
        assert_eq!(nhs_number("4010232137").unwrap(), "4010232137");
        assert!(nhs_number("9434765918").unwrap_err().reason.contains("check digit"));
        assert!(nhs_number("943476591").unwrap_err().reason.contains("10 digits"));
        assert!(nhs_number("94347659199").is_err());
        assert!(nhs_number("94347659x9").is_err());
        assert!(nhs_number("").is_err());
        // Sum gives remainder 1, so the check digit would be 10: never valid.
        assert!(nhs_number("0000000060").unwrap_err().reason.contains("no check digit"));
    }

    #[test]
    fn ods_codes() {
        assert_eq!(ods_code("A81001").unwrap(), "A81001");
        assert_eq!(ods_code("rr8").unwrap(), "RR8");
        assert!(ods_code("R8").is_err());
        assert!(ods_code("ABCDEFGHIJK").is_err());
        assert!(ods_code("RR8-1").is_err());
        assert!(ods_code("").is_err());
    }

    proptest! {
        #[test]
        fn nhs_number_never_panics(s in "\\PC{0,14}") {
            let _ = nhs_number(&s);
        }

        #[test]
        fn exactly_one_check_digit_fits(first in "[0-9]{9}") {
            let valid = (0..10).filter(|d| nhs_number(&format!("{first}{d}")).is_ok()).count();
            prop_assert!(valid <= 1);
        }
    }
}
