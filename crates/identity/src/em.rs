//! Expectation-maximisation of the m probabilities over blocked candidate pairs.
//!
//! Candidate pairs are a mixture of matches and non-matches. Assuming the comparisons are
//! independent within each class, EM alternates: (E) the probability that each pair is a match
//! given the current m, u and mixing weight; (M) m, u and the mixing weight re-estimated from
//! those probabilities. Pairs are grouped by their comparison pattern first, so one iteration
//! costs the number of distinct patterns, not of pairs.
//!
//! Choices, and why (this follows the training procedure Splink documents):
//! * **u is fixed** at the value estimated from random pairs ([`crate::train`]); only m and the
//!   mixing weight are learnt.
//! * **One EM session per training blocking rule, blocked comparisons switched off.** Within the
//!   pairs sharing a date of birth, non-matching pairs agree on date of birth by construction
//!   but look like random pairs on everything else, so random-pair u is right for the other
//!   comparisons and the independence assumption roughly holds; the date-of-birth comparison is
//!   left out of that session (its m is learnt in another session, e.g. the one blocked on
//!   names). Running EM over the union of all candidate pairs instead lets households (same
//!   surname, address, postcode; different forename and birth date) pass for "matches" and
//!   people who moved house for "non-matches" — we tried it first and it did exactly that.
//! * **Dirichlet priors.** Each m vector has `prior_pairs` pseudo-pairs spread like the
//!   starting m, so a level no match ever reached gets a small m instead of 0 (and an infinite
//!   negative weight).
//! * **Convergence per comparison**: a comparison has converged when none of its m moved more
//!   than `tolerance` in an iteration; EM stops when all active ones have, or at
//!   `max_iterations`.
use crate::compare::NULL_LEVEL;
use crate::config::EmConfig;
use crate::score::{pattern_level, Pattern};

/// Starting point and result of EM.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureParams {
    /// m per comparison per level.
    pub m: Vec<Vec<f64>>,
    /// u per comparison per level (of the non-match class of the data EM ran on).
    pub u: Vec<Vec<f64>>,
    /// Proportion of matches.
    pub lambda: f64,
}

/// EM outcome.
#[derive(Debug, Clone)]
pub struct EmOutcome {
    /// Final parameters.
    pub params: MixtureParams,
    /// Iterations run.
    pub iterations: usize,
    /// Per comparison, the iteration at which it converged.
    pub converged_at: Vec<Option<usize>>,
}

/// A sensible starting m for a comparison with `levels` non-null levels (last = "different"):
/// most matches agree exactly, a few at each fuzzy level, few disagree.
pub fn default_m(levels: usize) -> Vec<f64> {
    match levels {
        0 => Vec::new(),
        1 => vec![1.0],
        2 => vec![0.9, 0.1],
        n => {
            let fuzzy = 0.15 / (n - 2) as f64;
            let mut m = vec![fuzzy; n];
            m[0] = 0.8;
            m[n - 1] = 0.05;
            m
        }
    }
}

/// Runs EM on `(pattern, count)` groups. Comparisons with `active[c] == false` are ignored
/// (their parameters are returned unchanged); with `fix_u`, u is not re-estimated.
pub fn run(
    patterns: &[(Pattern, f64)],
    start: MixtureParams,
    cfg: &EmConfig,
    active: &[bool],
    fix_u: bool,
) -> EmOutcome {
    let k = start.m.len();
    let prior_m: Vec<Vec<f64>> = start.m.clone();
    let prior_u: Vec<Vec<f64>> = start.u.clone();
    let mut p = start;
    let mut converged_at: Vec<Option<usize>> = vec![None; k];
    let mut iterations = 0;
    for it in 1..=cfg.max_iterations {
        iterations = it;
        let mut m_acc: Vec<Vec<f64>> = p.m.iter().map(|v| vec![0.0; v.len()]).collect();
        let mut u_acc: Vec<Vec<f64>> = p.u.iter().map(|v| vec![0.0; v.len()]).collect();
        let (mut match_total, mut total) = (0.0, 0.0);
        for &(pat, count) in patterns {
            let (mut pm, mut pu) = (p.lambda, 1.0 - p.lambda);
            for c in (0..k).filter(|&c| active[c]) {
                let l = pattern_level(pat, c);
                if l != NULL_LEVEL {
                    pm *= p.m[c][l as usize];
                    pu *= p.u[c][l as usize];
                }
            }
            let w = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 };
            match_total += w * count;
            total += count;
            for c in (0..k).filter(|&c| active[c]) {
                let l = pattern_level(pat, c);
                if l != NULL_LEVEL {
                    m_acc[c][l as usize] += w * count;
                    u_acc[c][l as usize] += (1.0 - w) * count;
                }
            }
        }
        let mut all_converged = true;
        for c in (0..k).filter(|&c| active[c]) {
            let new_m = dirichlet(&m_acc[c], &prior_m[c], cfg.prior_pairs);
            let delta = new_m.iter().zip(&p.m[c]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            p.m[c] = new_m;
            if !fix_u {
                p.u[c] = dirichlet(&u_acc[c], &prior_u[c], cfg.prior_pairs);
            }
            if delta < cfg.tolerance {
                converged_at[c].get_or_insert(it);
            } else {
                converged_at[c] = None;
                all_converged = false;
            }
        }
        if total > 0.0 {
            p.lambda = (match_total / total).clamp(1e-9, 1.0 - 1e-9);
        }
        if all_converged {
            break;
        }
    }
    EmOutcome { params: p, iterations, converged_at }
}

/// Posterior mean of a multinomial with a Dirichlet prior of total weight `strength` shaped
/// like `prior`.
fn dirichlet(counts: &[f64], prior: &[f64], strength: f64) -> Vec<f64> {
    let prior_sum: f64 = prior.iter().sum::<f64>().max(1e-12);
    let total: f64 = counts.iter().sum::<f64>() + strength;
    counts.iter().zip(prior).map(|(c, p)| ((c + strength * p / prior_sum) / total).max(1e-9)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::mix64;

    /// Draws patterns from a known two-class mixture and checks EM recovers m and lambda.
    #[test]
    fn recovers_known_mixture() {
        let true_m = [vec![0.9, 0.07, 0.03], vec![0.85, 0.15], vec![0.7, 0.2, 0.1], vec![0.95, 0.05]];
        let true_u = [vec![0.05, 0.1, 0.85], vec![0.2, 0.8], vec![0.01, 0.09, 0.9], vec![0.5, 0.5]];
        let lambda = 0.2;
        let mut counts = std::collections::HashMap::<Pattern, f64>::new();
        let mut state = 7u64;
        let mut rand = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            (mix64(state) >> 11) as f64 / (1u64 << 53) as f64
        };
        let draw = |probs: &[f64], r: f64| {
            let mut acc = 0.0;
            for (i, p) in probs.iter().enumerate() {
                acc += p;
                if r < acc {
                    return i as u64;
                }
            }
            probs.len() as u64 - 1
        };
        for _ in 0..200_000 {
            let is_match = rand() < lambda;
            let mut pat = 0u64;
            for c in 0..4 {
                let probs = if is_match { &true_m[c] } else { &true_u[c] };
                pat |= draw(probs, rand()) << (4 * c);
            }
            *counts.entry(pat).or_default() += 1.0;
        }
        let patterns: Vec<(Pattern, f64)> = counts.into_iter().collect();
        let start = MixtureParams {
            m: true_m.iter().map(|v| default_m(v.len())).collect(),
            u: true_u.iter().map(|v| vec![1.0 / v.len() as f64; v.len()]).collect(),
            lambda: 0.5,
        };
        let cfg = EmConfig { prior_pairs: 1.0, ..EmConfig::default() };
        let out = run(&patterns, start, &cfg, &[true; 4], false);
        assert!(out.converged_at.iter().all(Option::is_some), "{:?}", out.converged_at);
        assert!((out.params.lambda - lambda).abs() < 0.01, "lambda {}", out.params.lambda);
        for (c, want_m) in true_m.iter().enumerate() {
            for (got, want) in out.params.m[c].iter().zip(want_m) {
                assert!((got - want).abs() < 0.02, "m[{c}] {:?} vs {want_m:?}", out.params.m[c]);
            }
        }
    }

    #[test]
    fn fixed_u_and_inactive_comparisons() {
        // Three comparisons; u known and fixed; the third is switched off and must not move.
        let m = [0.9, 0.1];
        let u = [0.1, 0.9];
        let lambda: f64 = 0.3;
        let mut patterns = Vec::new();
        for l0 in 0..2usize {
            for l1 in 0..2usize {
                for l2 in 0..2usize {
                    let pm = lambda * m[l0] * m[l1] * m[l2];
                    let pu = (1.0 - lambda) * u[l0] * u[l1] * u[l2];
                    patterns.push(((l0 | l1 << 4 | l2 << 8) as u64, 100_000.0 * (pm + pu)));
                }
            }
        }
        let start = MixtureParams {
            m: vec![vec![0.6, 0.4], vec![0.6, 0.4], vec![0.5, 0.5]],
            u: vec![u.to_vec(); 3],
            lambda: 0.5,
        };
        let out = run(&patterns, start, &EmConfig::default(), &[true, true, false], true);
        assert_eq!(out.params.m[2], vec![0.5, 0.5]);
        assert_eq!(out.params.u[0], u.to_vec());
        assert!((out.params.m[0][0] - 0.9).abs() < 0.01, "{:?}", out.params.m[0]);
        assert!((out.params.lambda - lambda).abs() < 0.01, "{}", out.params.lambda);
        assert_eq!(out.converged_at[2], None);
    }

    #[test]
    fn default_m_sums_to_one() {
        for n in 1..10 {
            let s: f64 = default_m(n).iter().sum();
            assert!((s - 1.0).abs() < 1e-9);
        }
    }
}
