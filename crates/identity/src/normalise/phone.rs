//! UK telephone numbers: `+44 (0)7700 900123`, `0044 7700900123` and `07700 900123` are one number.

/// The national form (`07700900123`), or the bare digits when it is not a UK-looking number;
/// `None` when fewer than 6 digits remain.
pub fn phone(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let national = if let Some(rest) = digits.strip_prefix("0044") {
        national_from_international(rest)
    } else if text.trim_start().starts_with('+') {
        match digits.strip_prefix("44") {
            Some(rest) => national_from_international(rest),
            None => digits,
        }
    } else if digits.len() == 12 && digits.starts_with("44") {
        national_from_international(&digits[2..])
    } else if digits.len() == 10 && !digits.starts_with('0') {
        format!("0{digits}")
    } else {
        digits
    };
    Some(national).filter(|d| d.len() >= 6)
}

fn national_from_international(rest: &str) -> String {
    // "+44 (0)20 ..." keeps a stray trunk zero.
    let rest = if rest.len() == 11 { rest.strip_prefix('0').unwrap_or(rest) } else { rest };
    format!("0{rest}")
}

#[cfg(test)]
mod tests {
    use super::phone;

    #[test]
    fn uk_forms() {
        for raw in [
            "+44 7700 900123",
            "07700 900123",
            "0044 7700900123",
            "+44 (0)7700 900123",
            "447700900123",
            "7700900123",
        ] {
            assert_eq!(phone(raw).as_deref(), Some("07700900123"), "{raw}");
        }
        assert_eq!(phone("123"), None);
        assert_eq!(phone("+1 212 555 0100").as_deref(), Some("12125550100"));
    }
}
