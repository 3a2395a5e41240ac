//! Parsing one search value by parameter type (R4 §3.1.1.5: number, date, string, token,
//! reference, composite, quantity, uri), including prefixes and escapes.
use super::{Modifier, SearchValue};
use crate::datetime;
use crate::Issue;
use lantern_r4::SearchParamType;

/// Comparison prefixes (R4 §3.1.1.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

impl Prefix {
    fn split(s: &str) -> (Prefix, &str) {
        let p = match s.get(..2) {
            Some("eq") => Prefix::Eq,
            Some("ne") => Prefix::Ne,
            Some("gt") => Prefix::Gt,
            Some("lt") => Prefix::Lt,
            Some("ge") => Prefix::Ge,
            Some("le") => Prefix::Le,
            Some("sa") => Prefix::Sa,
            Some("eb") => Prefix::Eb,
            Some("ap") => Prefix::Ap,
            _ => return (Prefix::Eq, s),
        };
        (p, &s[2..])
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Eq => "eq",
            Prefix::Ne => "ne",
            Prefix::Gt => "gt",
            Prefix::Lt => "lt",
            Prefix::Ge => "ge",
            Prefix::Le => "le",
            Prefix::Sa => "sa",
            Prefix::Eb => "eb",
            Prefix::Ap => "ap",
        }
    }
}

/// Splits on an unescaped separator and removes the `\` escapes (R4 §3.1.1.6 escaping).
pub(crate) fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('$' | ',' | '|' | '\\')) => out.last_mut().unwrap().push(n),
                Some(n) => {
                    let last = out.last_mut().unwrap();
                    last.push('\\');
                    last.push(n);
                }
                None => out.last_mut().unwrap().push('\\'),
            }
        } else if c == sep {
            out.push(String::new());
        } else {
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

/// A decimal number and the half-unit-of-last-digit range it implies (`1.5` -> [1.45, 1.55];
/// `100` -> [99.5, 100.5]; exponent forms per R4 §3.1.1.5.2).
pub fn parse_number(s: &str) -> Option<(f64, f64, f64)> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let decimals = mantissa.find('.').map_or(0, |i| (mantissa.len() - i - 1) as i32);
    let half = 0.5 * 10f64.powi(exp - decimals);
    Some((v, v - half, v + half))
}

/// Parses one (already comma-split) value for a parameter of type `kind`.
pub fn parse_value(
    kind: SearchParamType,
    modifier: &Modifier,
    raw: &str,
    name: &str,
) -> Result<SearchValue, Issue> {
    let bad = |what: &str| {
        Issue::error(
            "invalid",
            Some(name.to_string()),
            format!("'{raw}' is not a valid {what} for parameter '{name}'"),
        )
    };
    match kind {
        SearchParamType::String | SearchParamType::Special => Ok(SearchValue::String(unescape(raw))),
        SearchParamType::Uri => Ok(SearchValue::Uri(unescape(raw))),
        SearchParamType::Token => {
            if matches!(modifier, Modifier::Text) {
                return Ok(SearchValue::String(unescape(raw)));
            }
            if matches!(modifier, Modifier::In | Modifier::NotIn) {
                return Ok(SearchValue::Uri(unescape(raw)));
            }
            let parts = split_escaped(raw, '|');
            if matches!(modifier, Modifier::OfType) {
                return match parts.as_slice() {
                    [sys, code, value] if !sys.is_empty() && !code.is_empty() && !value.is_empty() => {
                        Ok(SearchValue::Token {
                            system: Some(Some(sys.clone())),
                            code: Some(format!("{code}|{value}")),
                        })
                    }
                    _ => Err(bad(
                        "identifier type and value (expected [type-system]|[type-code]|[value], all three)",
                    )),
                };
            }
            Ok(match parts.as_slice() {
                [code] => {
                    SearchValue::Token { system: None, code: Some(code.clone()).filter(|c| !c.is_empty()) }
                }
                [sys, code] => SearchValue::Token {
                    system: Some(Some(sys.clone()).filter(|s| !s.is_empty())),
                    code: Some(code.clone()).filter(|c| !c.is_empty()),
                },
                _ => return Err(bad("token (expected [system]|[code])")),
            })
        }
        SearchParamType::Reference => {
            let v = unescape(raw);
            if matches!(modifier, Modifier::Identifier) {
                let parts = split_escaped(raw, '|');
                return Ok(match parts.as_slice() {
                    [code] => SearchValue::Token { system: None, code: Some(code.clone()) },
                    [sys, code] => SearchValue::Token {
                        system: Some(Some(sys.clone()).filter(|s| !s.is_empty())),
                        code: Some(code.clone()).filter(|c| !c.is_empty()),
                    },
                    _ => return Err(bad("identifier")),
                });
            }
            if v.is_empty() {
                return Err(bad("reference"));
            }
            if v.contains("://") || v.starts_with("urn:") {
                return Ok(SearchValue::ReferenceUrl(v));
            }
            // Drop a version: Patient/1/_history/2 refers to Patient/1.
            let v = match v.find("/_history/") {
                Some(i) => v[..i].to_string(),
                None => v,
            };
            let mut it = v.splitn(2, '/');
            let first = it.next().unwrap_or_default().to_string();
            Ok(match it.next() {
                Some(id) => {
                    if !lantern_r4::is_resource_type(&first) {
                        return Err(bad("reference (unknown resource type)"));
                    }
                    SearchValue::Reference { rtype: Some(first), id: id.to_string() }
                }
                None => SearchValue::Reference {
                    rtype: match modifier {
                        Modifier::Type(t) => Some(t.clone()),
                        _ => None,
                    },
                    id: first,
                },
            })
        }
        SearchParamType::Date => {
            let (prefix, rest) = Prefix::split(raw);
            let (lo, hi) = datetime::query_range(rest).ok_or_else(|| bad("date"))?;
            Ok(SearchValue::Date { prefix, lo, hi })
        }
        SearchParamType::Number => {
            let (prefix, rest) = Prefix::split(raw);
            let (value, lo, hi) = parse_number(rest).ok_or_else(|| bad("number"))?;
            Ok(SearchValue::Number { prefix, value, lo, hi })
        }
        SearchParamType::Quantity => {
            let (prefix, rest) = Prefix::split(raw);
            let parts = split_escaped(rest, '|');
            let (num, system, code) = match parts.as_slice() {
                [n] => (n.as_str(), None, None),
                [n, s, c] => (
                    n.as_str(),
                    Some(s.clone()).filter(|s| !s.is_empty()),
                    Some(c.clone()).filter(|c| !c.is_empty()),
                ),
                _ => return Err(bad("quantity (expected [prefix]number|system|code)")),
            };
            let (value, lo, hi) = parse_number(num).ok_or_else(|| bad("quantity"))?;
            Ok(SearchValue::Quantity { prefix, value, lo, hi, system, code })
        }
        SearchParamType::Composite => Ok(SearchValue::Composite(split_escaped(raw, '$'))),
    }
}

fn unescape(s: &str) -> String {
    split_escaped(s, '\u{0}').concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_precision() {
        assert_eq!(parse_number("100"), Some((100.0, 99.5, 100.5)));
        let (_, lo, hi) = parse_number("1.5").unwrap();
        assert!((lo - 1.45).abs() < 1e-9 && (hi - 1.55).abs() < 1e-9);
        let (v, lo, hi) = parse_number("1e2").unwrap();
        assert_eq!((v, lo, hi), (100.0, 50.0, 150.0));
        assert!(parse_number("abc").is_none());
    }

    #[test]
    fn tokens_and_escapes() {
        let v =
            parse_value(SearchParamType::Token, &Modifier::None, "http://loinc.org|1234-5", "code").unwrap();
        assert_eq!(
            v,
            SearchValue::Token { system: Some(Some("http://loinc.org".into())), code: Some("1234-5".into()) }
        );
        let v = parse_value(SearchParamType::Token, &Modifier::None, "|abc", "code").unwrap();
        assert_eq!(v, SearchValue::Token { system: Some(None), code: Some("abc".into()) });
        assert_eq!(split_escaped(r"a\,b,c", ','), vec!["a,b".to_string(), "c".to_string()]);
    }

    #[test]
    fn references() {
        let v = parse_value(SearchParamType::Reference, &Modifier::None, "Patient/1/_history/3", "subject")
            .unwrap();
        assert_eq!(v, SearchValue::Reference { rtype: Some("Patient".into()), id: "1".into() });
        assert!(parse_value(SearchParamType::Reference, &Modifier::None, "Nope/1", "subject").is_err());
    }
}
