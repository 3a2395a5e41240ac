//! Term frequencies: how common each value is, so that agreeing on a rare value counts for more.
//!
//! Two records agreeing on surname `Zebedee` are better evidence than two agreeing on `Smith`.
//! Under the Fellegi–Sunter model, if a value `v` has frequency `p(v)`, two non-matching records
//! agree on it with probability about `p(v)²` and two matching records with `m·p(v)`, so the Bayes
//! factor of an exact agreement on `v` is `m / p(v)` instead of the average `m / u`. The
//! adjustment added to the exact-match weight is therefore `log2(u / p(v))` (the approach Splink
//! documents as term-frequency adjustment), scaled by a configurable weight and clamped so that a
//! value seen once in a small data set cannot dominate a decision.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The fields whose values carry term frequencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TfRole {
    /// Forenames.
    GivenName,
    /// Surnames.
    FamilyName,
    /// Full postcodes.
    Postcode,
    /// Towns.
    Town,
}

impl TfRole {
    /// All roles, in index order.
    pub const ALL: [TfRole; 4] = [TfRole::GivenName, TfRole::FamilyName, TfRole::Postcode, TfRole::Town];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The value counts of one field, as persisted in a model. Values seen once are not stored:
/// a value missing from the table has count 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TfTable {
    /// Number of records with a value in this field.
    pub total: u64,
    /// Count of each value seen at least twice.
    pub counts: BTreeMap<String, u32>,
}

impl TfTable {
    /// The count of a value (1 when not in the table, i.e. rare or new).
    pub fn count(&self, value: &str) -> u32 {
        self.counts.get(value).copied().unwrap_or(1)
    }

    /// Relative frequency of a value count.
    pub fn frequency(&self, count: u32) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        f64::from(count.max(1)) / self.total as f64
    }
}

/// The term-frequency adjustment in bits for an exact agreement on a value of frequency
/// `frequency`, given the comparison's average `u` for exact agreement.
pub fn adjustment(u_exact: f64, frequency: f64, scale: f64, clamp: f64) -> f64 {
    if frequency <= 0.0 || u_exact <= 0.0 {
        return 0.0;
    }
    (scale * (u_exact / frequency).log2()).clamp(-clamp, clamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_counts_more_than_common() {
        let mut t = TfTable { total: 1000, ..TfTable::default() };
        t.counts.insert("smith".into(), 50);
        let u = 0.01;
        let smith = adjustment(u, t.frequency(t.count("smith")), 1.0, 10.0);
        let zebedee = adjustment(u, t.frequency(t.count("zebedee")), 1.0, 10.0);
        assert!(smith < 0.0, "{smith}");
        assert!(zebedee > 3.0, "{zebedee}");
        assert_eq!(adjustment(u, 1e-9, 1.0, 4.0), 4.0);
    }
}
