//! Evaluation against ground truth: pairwise precision, recall and F1.
//!
//! A true pair is two records of the same true person. Predicted pairs are either the pairs the
//! model linked ([`pair_metrics`]) or every pair inside a predicted cluster
//! ([`cluster_metrics`], which also counts links implied by transitivity).
use serde::{Deserialize, Serialize};

use crate::intern::FxMap;

/// Counts and rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Pairs of records of the same true person.
    pub true_pairs: u64,
    /// Pairs predicted.
    pub predicted_pairs: u64,
    /// Predicted pairs that are true pairs.
    pub true_positives: u64,
    /// true_positives / predicted_pairs.
    pub precision: f64,
    /// true_positives / true_pairs.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Metrics {
    fn new(true_pairs: u64, predicted_pairs: u64, tp: u64) -> Metrics {
        let precision = if predicted_pairs == 0 { 0.0 } else { tp as f64 / predicted_pairs as f64 };
        let recall = if true_pairs == 0 { 0.0 } else { tp as f64 / true_pairs as f64 };
        let f1 =
            if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Metrics { true_pairs, predicted_pairs, true_positives: tp, precision, recall, f1 }
    }
}

fn pairs_in(sizes: impl Iterator<Item = u64>) -> u64 {
    sizes.map(|s| s * s.saturating_sub(1) / 2).sum()
}

fn sizes(labels: &[u32]) -> FxMap<u32, u64> {
    let mut m = FxMap::default();
    for &l in labels {
        *m.entry(l).or_insert(0) += 1;
    }
    m
}

/// Metrics of predicted pairs (each unordered pair at most once) against true cluster labels.
pub fn pair_metrics(truth: &[u32], predicted: impl IntoIterator<Item = (u32, u32)>) -> Metrics {
    let true_pairs = pairs_in(sizes(truth).into_values());
    let (mut n, mut tp) = (0u64, 0u64);
    for (i, j) in predicted {
        n += 1;
        if truth[i as usize] == truth[j as usize] {
            tp += 1;
        }
    }
    Metrics::new(true_pairs, n, tp)
}

/// Metrics of predicted clusters against true clusters, over all within-cluster pairs.
pub fn cluster_metrics(truth: &[u32], predicted: &[u32]) -> Metrics {
    let true_pairs = pairs_in(sizes(truth).into_values());
    let predicted_pairs = pairs_in(sizes(predicted).into_values());
    let mut both: FxMap<(u32, u32), u64> = FxMap::default();
    for (&t, &p) in truth.iter().zip(predicted) {
        *both.entry((t, p)).or_insert(0) += 1;
    }
    Metrics::new(true_pairs, predicted_pairs, pairs_in(both.into_values()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let truth = [0, 0, 0, 1, 1, 2];
        let m = pair_metrics(&truth, [(0, 1), (3, 4), (4, 5)]);
        assert_eq!((m.true_pairs, m.predicted_pairs, m.true_positives), (4, 3, 2));
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 0.5).abs() < 1e-12);
        let c = cluster_metrics(&truth, &[0, 0, 0, 3, 3, 3]);
        assert_eq!((c.true_pairs, c.predicted_pairs, c.true_positives), (4, 6, 4));
    }
}
