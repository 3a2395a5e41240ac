//! Learning a model from unlabelled records.
//!
//! 1. **u** from random pairs: almost every random pair is two different people, so the share of
//!    random pairs reaching each level estimates P(level | different people). With fewer pairs
//!    than the sample size, every pair is used.
//! 2. **m** by EM ([`crate::em`]), one session per training rule over the pairs that rule blocks
//!    together (grouped by comparison pattern; a uniform sample beyond `em.max_pairs`), u fixed,
//!    the comparisons the rule involves switched off. A comparison's m is the mean over the
//!    sessions that trained it.
//! 3. **λ**, the prior that two random records match: each session's matches divided by the
//!    rule's recall (the share of all matches it can see: the m of exact agreement on the fields
//!    it blocks on) estimate the number of matching pairs in the data; λ is their mean over the
//!    number of all pairs.
use rayon::prelude::*;

use crate::blocking::Blocks;
use crate::compare::{Field, LevelRule};
use crate::config::Config;
use crate::dict::{Dict, Prepared};
use crate::em::{self, MixtureParams};
use crate::intern::{mix64, FxMap};
use crate::model::{level_label, ComparisonParams, Model, SessionReport, TrainingReport};
use crate::score::{pattern, pattern_level, Pattern};

type LevelCounts = Vec<[u64; 16]>;

fn add_counts(mut a: LevelCounts, b: LevelCounts) -> LevelCounts {
    for (x, y) in a.iter_mut().zip(b) {
        for (p, q) in x.iter_mut().zip(y) {
            *p += q;
        }
    }
    a
}

/// Records per group of the u sample: all pairs within a group are compared, and a group's
/// records (about 150 bytes each) and the dictionary entries they touch stay in the CPU cache.
const U_GROUP: usize = 256;

/// u probabilities from random pairs, with add-½ smoothing so no level has u = 0.
///
/// The pairs are all pairs within groups of [`U_GROUP`] records drawn at random without
/// replacement (every pair of distinct records is equally likely to be compared, so the
/// estimate is unbiased), rather than independently drawn pairs: two records picked at random
/// from a large file are two cache misses each, and comparing the same number of pairs within
/// small groups is several times faster. With fewer pairs than the sample size, every pair is
/// used.
fn estimate_u(records: &[Prepared], d: &Dict, proto: &Model) -> (Vec<Vec<f64>>, u64) {
    let n = records.len() as u64;
    let k = proto.config.comparisons.len();
    let all_pairs = n * n.saturating_sub(1) / 2;
    let sample = u_sample_size(proto.config.u_sample_pairs, records.len());
    let zero = || vec![[0u64; 16]; k];
    // Adds the levels of the pairs of `group[i]` with the records after it.
    let count_from = |mut acc: LevelCounts, group: &[&Prepared], i: usize| {
        for b in &group[i + 1..] {
            let p = pattern(proto, group[i], b, d);
            for (c, slot) in acc.iter_mut().enumerate() {
                slot[pattern_level(p, c) as usize] += 1;
            }
        }
        acc
    };
    let (counts, used) = if all_pairs <= sample {
        let everyone: Vec<&Prepared> = records.iter().collect();
        let counts = (0..everyone.len())
            .into_par_iter()
            .fold(zero, |acc, i| count_from(acc, &everyone, i))
            .reduce(zero, add_counts);
        (counts, all_pairs)
    } else {
        // Groups of U_GROUP records, or one smaller group when the sample is small.
        let size_of_group = U_GROUP.min(((2 * sample) as f64).sqrt() as usize + 1);
        let per_group = (size_of_group * (size_of_group - 1) / 2) as u64;
        let groups = sample.div_ceil(per_group).max(1) as usize;
        let size = (groups * size_of_group).min(records.len());
        // The `size` records with the smallest hashes: a sample without replacement.
        let seed = proto.config.seed;
        let mut order: Vec<(u64, u32)> =
            (0..records.len() as u32).into_par_iter().map(|i| (mix64(seed ^ u64::from(i)), i)).collect();
        if size < order.len() {
            order.select_nth_unstable(size);
            order.truncate(size);
        }
        let chosen: Vec<&Prepared> = order.iter().map(|&(_, i)| &records[i as usize]).collect();
        let group_len = size.div_ceil(groups);
        let counts = chosen
            .par_chunks(group_len)
            .fold(zero, |acc, group| (0..group.len()).fold(acc, |acc, i| count_from(acc, group, i)))
            .reduce(zero, add_counts);
        let used = chosen.chunks(group_len).map(|g| (g.len() * (g.len() - 1) / 2) as u64).sum();
        (counts, used)
    };
    let u = proto
        .config
        .comparisons
        .iter()
        .zip(&counts)
        .map(|(cfg, cnt)| {
            let levels = cfg.level_count();
            let total: u64 = cnt[..levels].iter().sum();
            (0..levels).map(|l| (cnt[l] as f64 + 0.5) / (total as f64 + 0.5 * levels as f64)).collect()
        })
        .collect();
    (u, used)
}

/// How many random pairs u is estimated from: at most `configured`, and 5 per record (but at
/// least 200,000) below that: on the synthetic UK population, 2 million pairs instead of
/// 500,000 for 100,000 records moved no weight by more than noise and cost a second.
fn u_sample_size(configured: usize, records: usize) -> u64 {
    (configured as u64).min((5 * records as u64).max(200_000))
}

/// Candidate-pair patterns, grouped, and the exact number of candidate pairs.
fn candidate_patterns(
    records: &[Prepared],
    d: &Dict,
    proto: &Model,
    blocks: &Blocks,
) -> (Vec<(Pattern, f64)>, u64, u64) {
    let bound = blocks.pair_bound().max(1);
    let max = proto.config.em.max_pairs as u64;
    // Keep a pair when its hash falls below this (all pairs when the bound is small enough).
    let keep_below =
        if bound <= max { u64::MAX } else { ((max as f64 / bound as f64) * u64::MAX as f64) as u64 };
    let seed = proto.config.seed;
    let (map, candidates, sampled) = (0..blocks.blocks.len())
        .into_par_iter()
        .fold(
            || (FxMap::<Pattern, f64>::default(), 0u64, 0u64),
            |(mut map, mut n, mut s), b| {
                blocks.for_each_pair(b, |i, j| {
                    n += 1;
                    if keep_below == u64::MAX
                        || mix64(seed ^ (u64::from(i) << 32 | u64::from(j))) < keep_below
                    {
                        s += 1;
                        *map.entry(pattern(proto, &records[i as usize], &records[j as usize], d))
                            .or_default() += 1.0;
                    }
                });
                (map, n, s)
            },
        )
        .reduce(
            || (FxMap::default(), 0, 0),
            |(a, n1, s1), (b, n2, s2)| {
                let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                for (k, v) in small {
                    *big.entry(k).or_default() += v;
                }
                (big, n1 + n2, s1 + s2)
            },
        );
    let mut patterns: Vec<(Pattern, f64)> = map.into_iter().collect();
    patterns.sort_unstable_by_key(|p| p.0);
    (patterns, candidates, sampled)
}

/// Trains a model on prepared records.
pub(crate) fn fit(records: &[Prepared], d: &Dict, config: &Config) -> Model {
    fit_timed(records, d, config).0
}

/// Trains a model and says how long each step took (`u`, then one entry per EM session).
pub(crate) fn fit_timed(records: &[Prepared], d: &Dict, config: &Config) -> (Model, Vec<(String, f64)>) {
    let mut timings = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: String, timings: &mut Vec<(String, f64)>| {
        timings.push((name, clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    let mut model = Model {
        config: config.clone(),
        comparisons: config
            .comparisons
            .iter()
            .map(|c| ComparisonParams {
                name: c.name.clone(),
                levels: c.levels.iter().map(level_label).chain(["different".to_owned()]).collect(),
                m: em::default_m(c.level_count()),
                u: vec![1.0 / c.level_count() as f64; c.level_count()],
            })
            .collect(),
        lambda: 1e-6,
        tf: d.tf_tables(),
        training: TrainingReport { records: records.len(), ..TrainingReport::default() },
    };
    let (u, u_pairs) = estimate_u(records, d, &model);
    for (p, u) in model.comparisons.iter_mut().zip(&u) {
        p.u.clone_from(u);
    }
    model.training.u_pairs = u_pairs;
    lap("train u".to_owned(), &mut timings);
    let k = config.comparisons.len();
    let mut m_sum: Vec<Vec<f64>> = model.comparisons.iter().map(|p| vec![0.0; p.m.len()]).collect();
    let mut m_n = vec![0usize; k];
    let mut sessions = Vec::new();
    let mut session_rules = Vec::new();
    let mut converged = true;
    for rule in &config.training_rules {
        let blocks = Blocks::build(records, d, std::slice::from_ref(rule), config.max_block_size);
        let (patterns, pairs, sampled) = candidate_patterns(records, d, &model, &blocks);
        let active: Vec<bool> = config
            .comparisons
            .iter()
            .map(|c| !rule.keys.iter().any(|key| key.fields().contains(&c.field)))
            .collect();
        if pairs == 0 {
            continue;
        }
        let start = MixtureParams {
            m: model.comparisons.iter().map(|p| p.m.clone()).collect(),
            u: u.clone(),
            lambda: 0.05,
        };
        lap(format!("train {} patterns", rule.name), &mut timings);
        let out = em::run(&patterns, start, &config.em, &active, true);
        lap(format!("train {} em", rule.name), &mut timings);
        let mut trained = Vec::new();
        let mut converged_at = Vec::new();
        for c in (0..k).filter(|&c| active[c]) {
            for (s, m) in m_sum[c].iter_mut().zip(&out.params.m[c]) {
                *s += m;
            }
            m_n[c] += 1;
            trained.push(config.comparisons[c].name.clone());
            converged_at.push(out.converged_at[c]);
            converged &= out.converged_at[c].is_some();
        }
        session_rules.push(rule);
        sessions.push(SessionReport {
            rule: rule.name.clone(),
            pairs,
            em_pairs: sampled,
            patterns: patterns.len(),
            trained,
            iterations: out.iterations,
            converged_at,
            match_rate: out.params.lambda,
            implied_matches: 0.0,
        });
    }
    for c in 0..k {
        if m_n[c] > 0 {
            model.comparisons[c].m = m_sum[c].iter().map(|s| s / m_n[c] as f64).collect();
        } else {
            model.training.untrained.push(config.comparisons[c].name.clone());
        }
    }
    // λ from each session: its matches over the recall of its rule.
    let exact_m = |field: Field| -> f64 {
        config
            .comparisons
            .iter()
            .zip(&model.comparisons)
            .find(|(c, _)| c.field == field)
            .and_then(|(c, p)| c.levels.iter().position(|r| matches!(r, LevelRule::Exact)).map(|l| p.m[l]))
            .unwrap_or(1.0)
    };
    for (s, rule) in sessions.iter_mut().zip(session_rules) {
        let mut fields: Vec<Field> = rule.keys.iter().map(|k| k.fields()[0]).collect();
        fields.dedup();
        let recall: f64 = fields.iter().map(|&f| exact_m(f)).product::<f64>().max(1e-3);
        s.implied_matches = s.match_rate * s.pairs as f64 / recall;
    }
    let n = records.len() as f64;
    let all_pairs = (n * (n - 1.0) / 2.0).max(1.0);
    let implied: Vec<f64> = sessions.iter().map(|s| s.implied_matches).collect();
    if !implied.is_empty() {
        let mean = implied.iter().sum::<f64>() / implied.len() as f64;
        model.lambda = (mean / all_pairs).clamp(1e-12, 0.5);
    }
    model.training.sessions = sessions;
    model.training.converged = converged;
    (model, timings)
}
