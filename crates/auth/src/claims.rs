//! The JWT claim set as it travels: read when verifying, written by the development issuer.
//! Turning claims into a [`crate::Principal`] (and checking they make sense together) is
//! `principal.rs`'s job; this file only knows the wire shape.
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exp: Option<NumericDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<NumericDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iat: Option<NumericDate>,
    #[serde(default, skip_serializing)]
    pub(crate) aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) purpose_of_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nhs_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) feed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lantern_kind: Option<String>,
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub(crate) fhir_user: Option<String>,
    /// OpenID Connect ID tokens: the value the sign-in sent, binding the token to that attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    /// OpenID Connect ID tokens: the client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) azp: Option<String>,
}

impl Claims {
    /// Parses the decoded payload. On failure, says which claim is wrong when it can.
    pub(crate) fn from_json(payload: &[u8]) -> Result<Claims, String> {
        serde_json::from_slice(payload).map_err(|e| explain(payload, &e))
    }
}

/// Seconds since 1970 (RFC 7519 NumericDate). Fractions are allowed on the wire and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct NumericDate(pub(crate) i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (seconds since 1970)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                i64::try_from(v).map(NumericDate).map_err(|_| E::custom("NumericDate out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                // `as` saturates; the range check keeps absurd values from passing as i64::MAX.
                if v.is_finite() && v.abs() < 1e15 {
                    Ok(NumericDate(v.floor() as i64))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
        }
        d.deserialize_f64(V)
    }
}

/// `aud`: one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Audience(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Audience(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// What each claim should be, for naming the culprit when the typed parse fails.
const SHAPES: &[(&str, Shape)] = &[
    ("iss", Shape::String),
    ("sub", Shape::String),
    ("exp", Shape::Date),
    ("nbf", Shape::Date),
    ("iat", Shape::Date),
    ("aud", Shape::Audience),
    ("jti", Shape::String),
    ("scope", Shape::String),
    ("org", Shape::String),
    ("role", Shape::String),
    ("purpose_of_use", Shape::String),
    ("name", Shape::String),
    ("nhs_number", Shape::String),
    ("feed", Shape::String),
    ("lantern_kind", Shape::String),
    ("fhirUser", Shape::String),
    ("nonce", Shape::String),
    ("azp", Shape::String),
];

#[derive(Clone, Copy)]
enum Shape {
    String,
    Date,
    Audience,
}

/// The slow path, taken only for a bad token: parse loosely and find the claim of the wrong type.
fn explain(payload: &[u8], err: &serde_json::Error) -> String {
    let value: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => return format!("the claims are not valid JSON ({err})"),
    };
    let Some(map) = value.as_object() else {
        return "the claims are not a JSON object".into();
    };
    for (name, shape) in SHAPES {
        let Some(v) = map.get(*name) else { continue };
        let ok = match shape {
            Shape::String => v.is_string() || v.is_null(),
            Shape::Date => v.is_number() || v.is_null(),
            Shape::Audience => {
                v.is_string() || v.is_null() || v.as_array().is_some_and(|a| a.iter().all(|x| x.is_string()))
            }
        };
        if !ok {
            let want = match shape {
                Shape::String => "a string",
                Shape::Date => "a number (seconds since 1970)",
                Shape::Audience => "a string or an array of strings",
            };
            return format!("claim `{name}` must be {want}");
        }
    }
    format!("the claims could not be read ({err})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_in_any_json_form() {
        let c = Claims::from_json(br#"{"exp": 1700000000, "nbf": 1699999999.75, "iat": -5}"#).unwrap();
        assert_eq!(c.exp, Some(NumericDate(1_700_000_000)));
        assert_eq!(c.nbf, Some(NumericDate(1_699_999_999)));
        assert_eq!(c.iat, Some(NumericDate(-5)));
    }

    #[test]
    fn audience_string_or_array() {
        let c = Claims::from_json(br#"{"aud": "a"}"#).unwrap();
        assert_eq!(c.aud, Some(Audience(vec!["a".into()])));
        let c = Claims::from_json(br#"{"aud": ["a", "b"]}"#).unwrap();
        assert_eq!(c.aud, Some(Audience(vec!["a".into(), "b".into()])));
    }

    #[test]
    fn names_the_bad_claim() {
        let table: [(&[u8], &str); 6] = [
            (br#"{"exp": "tomorrow"}"#, "claim `exp` must be a number"),
            (br#"{"org": 5}"#, "claim `org` must be a string"),
            (br#"{"aud": [1]}"#, "claim `aud` must be a string or an array"),
            (br#"{"exp": 1e300}"#, "NumericDate out of range"),
            (br#"[1, 2]"#, "not a JSON object"),
            (b"{\"iss\": ", "not valid JSON"),
        ];
        for (payload, want) in table {
            let e = Claims::from_json(payload).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn duplicate_claims_are_refused() {
        // Two `iss` values could make the issuer we look up differ from the one a proxy checked.
        assert!(Claims::from_json(br#"{"iss": "a", "iss": "b"}"#).is_err());
    }
}
