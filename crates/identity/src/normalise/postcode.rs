//! UK postcodes: spacing and case, validity of the format, outward code and sector.
//!
//! A postcode is an outward code (area + district: `SW1A`, `M1`, `B33`) and an inward code (sector
//! digit + unit letters: `1AA`). Valid shapes of the outward code: A9, A99, A9A, AA9, AA99, AA9A.
//! A value that is not a UK postcode (a foreign one, or garbage) is kept as upper-case letters and
//! digits so that it can still be compared for equality, but it has no outward code.

/// A normalised postcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postcode {
    /// `SW1A 1AA` for a valid UK postcode, else the upper-case alphanumerics as given.
    pub full: String,
    /// Outward code (`SW1A`), only for valid UK postcodes.
    pub outward: Option<String>,
    /// Sector (`SW1A 1`), only for valid UK postcodes.
    pub sector: Option<String>,
    /// Whether the value has the shape of a UK postcode.
    pub valid_uk: bool,
}

fn outward_shape_ok(o: &[u8]) -> bool {
    let a = |i: usize| o.get(i).is_some_and(u8::is_ascii_uppercase);
    let d = |i: usize| o.get(i).is_some_and(u8::is_ascii_digit);
    match o.len() {
        2 => a(0) && d(1),
        3 => a(0) && ((d(1) && (d(2) || a(2))) || (a(1) && d(2))),
        4 => a(0) && a(1) && d(2) && (d(3) || a(3)),
        _ => false,
    }
}

/// Normalises a postcode; `None` when there is nothing alphanumeric in it.
pub fn postcode(text: &str) -> Option<Postcode> {
    let compact: String =
        text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    if compact.is_empty() {
        return None;
    }
    let b = compact.as_bytes();
    if b.len() >= 5 && b.len() <= 7 {
        let (out, inw) = b.split_at(b.len() - 3);
        let inward_ok = inw[0].is_ascii_digit() && inw[1].is_ascii_uppercase() && inw[2].is_ascii_uppercase();
        if inward_ok && (outward_shape_ok(out) || out == b"GIR") {
            let out = &compact[..compact.len() - 3];
            let inw = &compact[compact.len() - 3..];
            return Some(Postcode {
                full: format!("{out} {inw}"),
                outward: Some(out.to_owned()),
                sector: Some(format!("{out} {}", &inw[..1])),
                valid_uk: true,
            });
        }
    }
    Some(Postcode { full: compact, outward: None, sector: None, valid_uk: false })
}

#[cfg(test)]
mod tests {
    use super::postcode;

    #[test]
    fn uk_shapes() {
        for (raw, full, out) in [
            ("sw1a1aa", "SW1A 1AA", "SW1A"),
            ("M1 1AE", "M1 1AE", "M1"),
            (" b33 8th ", "B33 8TH", "B33"),
            ("CR2 6XH", "CR2 6XH", "CR2"),
            ("DN55 1PT", "DN55 1PT", "DN55"),
            ("W1A 0AX", "W1A 0AX", "W1A"),
            ("EC1A-1BB", "EC1A 1BB", "EC1A"),
        ] {
            let p = postcode(raw).unwrap();
            assert!(p.valid_uk, "{raw}");
            assert_eq!(p.full, full);
            assert_eq!(p.outward.as_deref(), Some(out));
        }
        assert_eq!(postcode("BS8 1TH").unwrap().sector.as_deref(), Some("BS8 1"));
    }

    #[test]
    fn not_uk() {
        let p = postcode("2615").unwrap();
        assert!(!p.valid_uk);
        assert_eq!(p.full, "2615");
        assert_eq!(p.outward, None);
        assert!(!postcode("1AB 1AA").unwrap().valid_uk);
        assert!(!postcode("SW1A 1A1").unwrap().valid_uk);
        assert_eq!(postcode(" - "), None);
    }
}
