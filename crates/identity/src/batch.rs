//! Batch linkage: a file of records in, a trained model, linked pairs and clusters out.
//!
//! Stages, each timed in [`BatchReport`]: normalise (parallel) and intern (sequential, one pass);
//! term frequencies; blocking (sort by key per rule); training (u from random pairs, m by EM);
//! scoring every candidate pair in parallel (rayon), keeping pairs at or above the review
//! threshold or sharing an NHS number; clustering the linked pairs. Records are held as compact
//! [`Prepared`] structs of interned symbols, so the scoring loop reads two small structs per pair
//! and allocates nothing.
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blocking::Blocks;
use crate::cluster::{cluster, Clusters};
use crate::config::Config;
use crate::decision::{decide, Decision};
use crate::dict::{Dict, Prepared};
use crate::error::IdentityError;
use crate::explain::{evaluate, Evaluation};
use crate::model::Model;
use crate::normalise::{normalise, Normalised};
use crate::record::Record;
use crate::score::Scorer;
use crate::train;

/// A pair kept by batch scoring (indices into the input records, `left < right`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoredPair {
    /// Index of the first record.
    pub left: u32,
    /// Index of the second record.
    pub right: u32,
    /// Match weight, prior included.
    pub score: f32,
    /// The decision for the pair.
    pub decision: Decision,
}

/// What happened in a batch run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchReport {
    /// Records read.
    pub records: usize,
    /// Records whose NHS number was present but invalid (not used for linking).
    pub invalid_nhs_numbers: usize,
    /// Candidate pairs scored.
    pub candidate_pairs: u64,
    /// Blocks skipped as too large, per blocking rule.
    pub skipped_blocks: Vec<(String, usize)>,
    /// Pairs decided "link".
    pub links: usize,
    /// Pairs decided "review".
    pub reviews: usize,
    /// Links not applied by clustering (would join two NHS numbers).
    pub refused_links: usize,
    /// Clusters (persons) found.
    pub clusters: usize,
    /// Seconds per stage.
    pub timings: Vec<(String, f64)>,
}

/// Everything a batch run produced.
pub struct BatchOutput {
    /// The trained model.
    pub model: Model,
    /// Pairs decided link or review.
    pub pairs: Vec<ScoredPair>,
    /// Cluster label of each record (the smallest record index in its cluster).
    pub clusters: Vec<u32>,
    /// Run report.
    pub report: BatchReport,
    dict: Dict,
    prepared: Vec<Prepared>,
}

impl BatchOutput {
    /// The full explanation of the pair of records `i` and `j`.
    pub fn explain(&self, i: u32, j: u32) -> Evaluation {
        let s = Scorer::new(&self.model);
        evaluate(&s, &self.prepared[i as usize], &self.prepared[j as usize], &self.dict)
    }
}

/// Normalises and interns records (parallel normalisation, one sequential interning pass).
pub fn prepare_all(records: &[Record]) -> (Dict, Vec<Prepared>, usize) {
    let mut dict = Dict::new();
    let mut prepared = Vec::with_capacity(records.len());
    let mut invalid = 0;
    for chunk in records.chunks(65_536) {
        let normalised: Vec<Normalised> = chunk.par_iter().map(normalise).collect();
        for n in &normalised {
            invalid += usize::from(n.nhs_number_problem.is_some());
            prepared.push(dict.prepare(n));
        }
    }
    dict.count_terms(&prepared);
    (dict, prepared, invalid)
}

/// Trains a model on the records and links them.
pub fn link_records(records: &[Record], config: &Config) -> Result<BatchOutput, IdentityError> {
    config.validate()?;
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_owned(), clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    let (dict, prepared, invalid) = prepare_all(records);
    lap("normalise", &mut timings);
    let (model, train_timings) = train::fit_timed(&prepared, &dict, config);
    lap("train", &mut timings);
    timings.extend(train_timings);
    let blocks = Blocks::build(&prepared, &dict, &config.blocking, config.max_block_size);
    lap("block", &mut timings);
    let scorer = Scorer::new(&model);
    let keep_from = config.review_threshold.min(config.link_threshold);
    let (mut pairs, candidate_pairs): (Vec<ScoredPair>, u64) = (0..blocks.blocks.len())
        .into_par_iter()
        .fold(
            || (Vec::new(), 0u64),
            |(mut acc, mut n), b| {
                blocks.for_each_pair(b, |i, j| {
                    n += 1;
                    let (pa, pb) = (&prepared[i as usize], &prepared[j as usize]);
                    let score = scorer.score(pa, pb, &dict);
                    if score.total >= keep_from || (pa.nhs != 0 && pa.nhs == pb.nhs) {
                        let (decision, _) = decide(&scorer, pa, pb, score);
                        if decision != Decision::NewPerson {
                            acc.push(ScoredPair { left: i, right: j, score: score.total as f32, decision });
                        }
                    }
                });
                (acc, n)
            },
        )
        .reduce(
            || (Vec::new(), 0),
            |(mut a, n1), (mut b, n2)| {
                if a.len() < b.len() {
                    std::mem::swap(&mut a, &mut b);
                }
                a.extend(b);
                (a, n1 + n2)
            },
        );
    pairs.par_sort_unstable_by_key(|p| (p.left, p.right));
    lap("score", &mut timings);
    let links: Vec<(u32, u32, f32)> =
        pairs.iter().filter(|p| p.decision == Decision::Link).map(|p| (p.left, p.right, p.score)).collect();
    let Clusters { labels, refused } =
        cluster(prepared.len(), &links, config.cluster, |i| prepared[i as usize].nhs);
    lap("cluster", &mut timings);
    let mut distinct = labels.clone();
    distinct.par_sort_unstable();
    distinct.dedup();
    let report = BatchReport {
        records: records.len(),
        invalid_nhs_numbers: invalid,
        candidate_pairs,
        skipped_blocks: config
            .blocking
            .iter()
            .map(|r| r.name.clone())
            .zip(blocks.skipped.iter().copied())
            .collect(),
        links: links.len(),
        reviews: pairs.iter().filter(|p| p.decision == Decision::Review).count(),
        refused_links: refused.len(),
        clusters: distinct.len(),
        timings,
    };
    drop(blocks);
    Ok(BatchOutput { model, pairs, clusters: labels, report, dict, prepared })
}

/// Trains a model without linking (e.g. to persist it for incremental matching).
pub fn train_model(records: &[Record], config: &Config) -> Result<Model, IdentityError> {
    config.validate()?;
    let (dict, prepared, _) = prepare_all(records);
    Ok(train::fit(&prepared, &dict, config))
}
