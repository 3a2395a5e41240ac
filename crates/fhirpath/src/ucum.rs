//! A small UCUM unit parser and converter (FHIRPath N1 §5.5.9 / §6.1 "Quantity equality" require
//! UCUM-aware comparison; UCUM §§ 1-11 for the grammar). It covers the common clinical atoms
//! (mass, length, volume, time, pressure, energy, amount of substance, temperature, %, IU) with
//! the SI prefixes, `.`/`/` products, exponents, parentheses, `10*n` factors and `{annotations}`.
//! Each unit becomes a factor onto base units and a dimension vector; two units are comparable
//! when their dimensions agree.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Base dimensions: m, g, s, rad, K, C, cd, mol, arbitrary (IU).
pub(crate) type Dims = [i8; 9];
const NONE: Dims = [0; 9];

/// A unit reduced to base units: `value_in_base = value * factor` (plus an offset for the
/// non-ratio temperature scales, see [`Canonical::to_base`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Canonical {
    pub(crate) factor: Decimal,
    pub(crate) dims: Dims,
    /// Celsius or Fahrenheit: only allowed as the whole unit.
    special: Option<Special>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    Celsius,
    Fahrenheit,
}

impl Canonical {
    /// True when the unit has no dimension (e.g. `1`, `%`, `g/kg`).
    pub(crate) fn is_dimensionless(&self) -> bool {
        self.dims == NONE && self.special.is_none()
    }

    /// Converts a value in this unit to base units.
    pub(crate) fn to_base(&self, v: Decimal) -> Option<Decimal> {
        match self.special {
            None => v.checked_mul(self.factor),
            Some(Special::Celsius) => v.checked_add(Decimal::new(27315, 2)),
            Some(Special::Fahrenheit) => (v.checked_add(Decimal::new(45967, 2))?)
                .checked_mul(Decimal::from(5))?
                .checked_div(Decimal::from(9)),
        }
    }

    /// Converts a value in base units to this unit.
    pub(crate) fn value_from_base(&self, v: Decimal) -> Option<Decimal> {
        match self.special {
            None => v.checked_div(self.factor),
            Some(Special::Celsius) => v.checked_sub(Decimal::new(27315, 2)),
            Some(Special::Fahrenheit) => (v.checked_mul(Decimal::from(9))?.checked_div(Decimal::from(5))?)
                .checked_sub(Decimal::new(45967, 2)),
        }
    }
}

/// Converts `value` from unit `from` to unit `to`, if both parse and are commensurable.
pub(crate) fn convert(value: Decimal, from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(value);
    }
    let (f, t) = (parse(from)?, parse(to)?);
    if f.dims != t.dims {
        return None;
    }
    let v = t.value_from_base(f.to_base(value)?)?;
    Some(v.normalize())
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or(Decimal::ONE)
}

/// `(factor, dims, metric)` of a UCUM atom; `metric` atoms accept prefixes.
fn atom(name: &str) -> Option<(Decimal, Dims, bool)> {
    let d = |i: usize, e: i8| {
        let mut v = NONE;
        v[i] = e;
        v
    };
    let mk = |pairs: &[(usize, i8)]| {
        let mut v = NONE;
        for &(i, e) in pairs {
            v[i] = e;
        }
        v
    };
    let r = match name {
        "m" => (Decimal::ONE, d(0, 1), true),
        "g" => (Decimal::ONE, d(1, 1), true),
        "s" => (Decimal::ONE, d(2, 1), true),
        "rad" => (Decimal::ONE, d(3, 1), true),
        "K" => (Decimal::ONE, d(4, 1), true),
        "C" => (Decimal::ONE, d(5, 1), true),
        "cd" => (Decimal::ONE, d(6, 1), true),
        "mol" | "eq" | "osm" => (Decimal::ONE, d(7, 1), true),
        "[iU]" | "[IU]" => (Decimal::ONE, d(8, 1), true),
        // enzyme unit: umol/min
        "U" => (dec("0.000001") / Decimal::from(60), mk(&[(7, 1), (2, -1)]), true),
        "kat" => (Decimal::ONE, mk(&[(7, 1), (2, -1)]), true),
        "1" => (Decimal::ONE, NONE, false),
        "%" => (dec("0.01"), NONE, false),
        "[ppth]" => (dec("0.001"), NONE, false),
        "[ppm]" => (dec("0.000001"), NONE, false),
        "[ppb]" => (dec("0.000000001"), NONE, false),
        "min" => (Decimal::from(60), d(2, 1), false),
        "h" => (Decimal::from(3600), d(2, 1), false),
        "d" => (Decimal::from(86_400), d(2, 1), false),
        "wk" => (Decimal::from(604_800), d(2, 1), false),
        "mo" | "mo_j" => (Decimal::from(2_629_800), d(2, 1), false),
        "a" | "a_j" => (Decimal::from(31_557_600), d(2, 1), false),
        "l" | "L" => (dec("0.001"), d(0, 3), true),
        "t" => (Decimal::from(1_000_000), d(1, 1), true),
        "[lb_av]" => (dec("453.59237"), d(1, 1), false),
        "[oz_av]" => (dec("28.349523125"), d(1, 1), false),
        "[gr]" => (dec("0.06479891"), d(1, 1), false),
        "[stone_av]" => (dec("6350.29318"), d(1, 1), false),
        "[in_i]" => (dec("0.0254"), d(0, 1), false),
        "[ft_i]" => (dec("0.3048"), d(0, 1), false),
        "[yd_i]" => (dec("0.9144"), d(0, 1), false),
        "[mi_i]" => (dec("1609.344"), d(0, 1), false),
        "[foz_us]" => (dec("0.0000295735295625"), d(0, 3), false),
        "[pt_us]" => (dec("0.000473176473"), d(0, 3), false),
        "[gal_us]" => (dec("0.003785411784"), d(0, 3), false),
        "[drp]" => (dec("0.00000005"), d(0, 3), false),
        "N" => (Decimal::from(1000), mk(&[(1, 1), (0, 1), (2, -2)]), true),
        "Pa" => (Decimal::from(1000), mk(&[(1, 1), (0, -1), (2, -2)]), true),
        "bar" => (Decimal::from(100_000_000), mk(&[(1, 1), (0, -1), (2, -2)]), true),
        "m[Hg]" => (dec("133322000"), mk(&[(1, 1), (0, -1), (2, -2)]), true),
        "m[H2O]" => (dec("9806650"), mk(&[(1, 1), (0, -1), (2, -2)]), true),
        "[psi]" => (dec("6894757.29"), mk(&[(1, 1), (0, -1), (2, -2)]), false),
        "J" => (Decimal::from(1000), mk(&[(1, 1), (0, 2), (2, -2)]), true),
        "cal" => (Decimal::from(4184), mk(&[(1, 1), (0, 2), (2, -2)]), true),
        "W" => (Decimal::from(1000), mk(&[(1, 1), (0, 2), (2, -3)]), true),
        "Hz" => (Decimal::ONE, d(2, -1), true),
        "deg" => (dec("0.0174532925199432957692369077"), d(3, 1), false),
        "Cel" | "[degF]" => (Decimal::ONE, d(4, 1), false),
        _ => return None,
    };
    Some(r)
}

const PREFIXES: [(&str, i32); 20] = [
    ("da", 1),
    ("Y", 24),
    ("Z", 21),
    ("E", 18),
    ("P", 15),
    ("T", 12),
    ("G", 9),
    ("M", 6),
    ("k", 3),
    ("h", 2),
    ("d", -1),
    ("c", -2),
    ("m", -3),
    ("u", -6),
    ("μ", -6),
    ("n", -9),
    ("p", -12),
    ("f", -15),
    ("a", -18),
    ("z", -21),
];

fn pow10(e: i32) -> Option<Decimal> {
    if e >= 0 {
        (0..e).try_fold(Decimal::ONE, |acc, _| acc.checked_mul(Decimal::TEN))
    } else {
        Decimal::try_new(1, e.unsigned_abs()).ok()
    }
}

/// Parses a UCUM unit expression. `None` when the unit is unknown or malformed.
pub(crate) fn parse(unit: &str) -> Option<Canonical> {
    match unit {
        "Cel" => {
            return Some(Canonical {
                factor: Decimal::ONE,
                dims: atom("K")?.1,
                special: Some(Special::Celsius),
            })
        }
        "[degF]" => {
            return Some(Canonical {
                factor: Decimal::ONE,
                dims: atom("K")?.1,
                special: Some(Special::Fahrenheit),
            })
        }
        _ => {}
    }
    let mut p = UnitParser { s: unit.as_bytes(), src: unit, pos: 0 };
    let c = p.term()?;
    (p.pos == unit.len()).then_some(c)
}

struct UnitParser<'s> {
    s: &'s [u8],
    src: &'s str,
    pos: usize,
}

fn combine(a: Canonical, b: Canonical, divide: bool) -> Option<Canonical> {
    let mut dims = a.dims;
    for (d, e) in dims.iter_mut().zip(b.dims) {
        *d = if divide { d.checked_sub(e)? } else { d.checked_add(e)? };
    }
    let factor = if divide { a.factor.checked_div(b.factor)? } else { a.factor.checked_mul(b.factor)? };
    Some(Canonical { factor, dims, special: None })
}

impl UnitParser<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    fn term(&mut self) -> Option<Canonical> {
        let mut acc = if self.peek() == b'/' {
            Canonical { factor: Decimal::ONE, dims: NONE, special: None }
        } else {
            self.component()?
        };
        loop {
            match self.peek() {
                b'.' => {
                    self.pos += 1;
                    let c = self.component()?;
                    acc = combine(acc, c, false)?;
                }
                b'/' => {
                    self.pos += 1;
                    let c = self.component()?;
                    acc = combine(acc, c, true)?;
                }
                _ => return Some(acc),
            }
        }
    }

    fn annotation(&mut self) -> Option<()> {
        if self.peek() == b'{' {
            let end = self.src[self.pos..].find('}')?;
            self.pos += end + 1;
        }
        Some(())
    }

    fn exponent(&mut self) -> Option<i32> {
        let start = self.pos;
        if matches!(self.peek(), b'+' | b'-') {
            self.pos += 1;
        }
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        if self.pos == start {
            return Some(1);
        }
        self.src[start..self.pos].parse().ok()
    }

    fn component(&mut self) -> Option<Canonical> {
        let one = Canonical { factor: Decimal::ONE, dims: NONE, special: None };
        match self.peek() {
            b'(' => {
                self.pos += 1;
                let inner = self.term()?;
                if self.peek() != b')' {
                    return None;
                }
                self.pos += 1;
                let e = self.exponent()?;
                power(inner, e)
            }
            b'{' => {
                self.annotation()?;
                Some(one)
            }
            c if c.is_ascii_digit() => {
                let start = self.pos;
                while self.peek().is_ascii_digit() {
                    self.pos += 1;
                }
                let base = Decimal::from_str(&self.src[start..self.pos]).ok()?;
                let factor = if matches!(self.peek(), b'*' | b'^') {
                    self.pos += 1;
                    let e = self.exponent()?;
                    if base != Decimal::TEN {
                        return None;
                    }
                    pow10(e)?
                } else {
                    base
                };
                self.annotation()?;
                Some(Canonical { factor, ..one })
            }
            _ => {
                let start = self.pos;
                loop {
                    match self.peek() {
                        b'[' => {
                            let end = self.src[self.pos..].find(']')?;
                            self.pos += end + 1;
                        }
                        0 | b'.' | b'/' | b'(' | b')' | b'{' | b'+' | b'-' => break,
                        c if c.is_ascii_digit() => break,
                        _ => {
                            let ch = self.src[self.pos..].chars().next()?;
                            self.pos += ch.len_utf8();
                        }
                    }
                }
                let name = &self.src[start..self.pos];
                if name.is_empty() {
                    return None;
                }
                let base = simple_unit(name)?;
                let e = self.exponent()?;
                self.annotation()?;
                power(base, e)
            }
        }
    }
}

fn power(c: Canonical, e: i32) -> Option<Canonical> {
    let mut out = Canonical { factor: Decimal::ONE, dims: NONE, special: None };
    for _ in 0..e.unsigned_abs() {
        out = combine(out, c.clone(), e < 0)?;
    }
    Some(out)
}

fn simple_unit(name: &str) -> Option<Canonical> {
    if let Some((factor, dims, _)) = atom(name) {
        return Some(Canonical { factor, dims, special: None });
    }
    for (p, e) in PREFIXES {
        if let Some(rest) = name.strip_prefix(p) {
            if let Some((factor, dims, true)) = atom(rest) {
                return Some(Canonical { factor: factor.checked_mul(pow10(e)?)?, dims, special: None });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn converts_common_units() {
        assert_eq!(convert(d("4"), "g", "mg"), Some(d("4000")));
        assert_eq!(convert(d("1"), "cm", "mm"), Some(d("10")));
        assert_eq!(convert(d("1"), "wk", "d"), Some(d("7")));
        assert_eq!(convert(d("1"), "a", "mo"), Some(d("12")));
        assert_eq!(convert(d("23"), "Cel", "[degF]"), Some(d("73.4")));
        assert_eq!(convert(d("0"), "Cel", "K"), Some(d("273.15")));
        assert_eq!(convert(d("1"), "mL", "L"), Some(d("0.001")));
        assert_eq!(convert(d("1"), "mm[Hg]", "Pa"), Some(d("133.322")));
        assert_eq!(convert(d("1"), "cm", "g"), None);
        assert!(parse("10*3/uL").is_some());
        assert!(parse("mg{total}/(24.h)").is_some());
        assert!(parse("kg/m2").is_some());
        assert!(parse("g/kg").unwrap().is_dimensionless());
    }
}
