//! Paging cursors. A next link carries the position after the last row of the page (its sort
//! values and key), not an offset, so inserts and deletes between page requests neither skip
//! nor repeat results (keyset paging).
use super::sort::SortType;
use crate::conn::SqlValue;
use crate::error::StoreError;
use base64::Engine;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    pub sort_values: Vec<SqlValue>,
    pub rk: i64,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        let vals: Vec<Value> = self
            .sort_values
            .iter()
            .map(|v| match v {
                SqlValue::Int(i) => json!({ "i": i }),
                SqlValue::Real(f) => json!({ "r": f }),
                SqlValue::Text(s) => json!({ "t": s }),
                _ => Value::Null,
            })
            .collect();
        let doc = json!({ "v": vals, "k": self.rk });
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
    }

    pub(crate) fn decode(s: &str, types: &[SortType]) -> Result<Cursor, StoreError> {
        let bad = || {
            StoreError::invalid(
                "invalid",
                Some("_page".into()),
                "the paging cursor is not valid for this search",
            )
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
        let rk = doc.get("k").and_then(Value::as_i64).ok_or_else(bad)?;
        let vals = doc.get("v").and_then(Value::as_array).ok_or_else(bad)?;
        if vals.len() != types.len() {
            return Err(bad());
        }
        let mut sort_values = Vec::new();
        for (v, t) in vals.iter().zip(types) {
            sort_values.push(match t {
                SortType::Int => SqlValue::Int(v.get("i").and_then(Value::as_i64).ok_or_else(bad)?),
                SortType::Real => SqlValue::Real(v.get("r").and_then(Value::as_f64).ok_or_else(bad)?),
                SortType::Text => {
                    SqlValue::Text(v.get("t").and_then(Value::as_str).ok_or_else(bad)?.to_string())
                }
            });
        }
        Ok(Cursor { sort_values, rk })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let c = Cursor { sort_values: vec![SqlValue::Int(5), SqlValue::Text("x".into())], rk: 9 };
        let s = c.encode();
        assert_eq!(Cursor::decode(&s, &[SortType::Int, SortType::Text]).unwrap(), c);
        assert!(Cursor::decode(&s, &[SortType::Int]).is_err());
        assert!(Cursor::decode("garbage!", &[]).is_err());
    }
}
