//! Incremental matching: one incoming record against candidates a store fetched by blocking key.
//!
//! A server keeps a trained [`Model`] (persisted as JSON) and, for each incoming record:
//! 1. asks [`Matcher::blocking_keys`] for its keys and fetches the records indexed under them;
//! 2. calls [`Matcher::rank`] to score, decide and explain each candidate;
//! 3. records the best [`Evaluation`] (decision + evidence) with whatever it does next.
//!
//! Term frequencies come from the model's tables, so the weights are those the batch run learnt.
use crate::blocking::rule_keys;
use crate::dict::{Dict, Prepared};
use crate::explain::{evaluate, Evaluation};
use crate::model::Model;
use crate::normalise::normalise;
use crate::record::Record;
use crate::score::Scorer;

/// Scores records against each other with a trained model.
pub struct Matcher<'m> {
    scorer: Scorer<'m>,
    dict: Dict,
}

impl<'m> Matcher<'m> {
    /// A matcher for a model.
    pub fn new(model: &'m Model) -> Matcher<'m> {
        Matcher { scorer: Scorer::new(model), dict: Dict::new() }
    }

    /// Normalises and interns a record.
    pub fn prepare(&mut self, r: &Record) -> Prepared {
        let p = self.dict.prepare(&normalise(r));
        self.dict.counts_from_tables(&self.scorer.model.tf);
        p
    }

    /// The record's blocking keys (`rule:value|value`), one per rule whose parts it has.
    pub fn blocking_keys(&mut self, r: &Record) -> Vec<String> {
        let p = self.prepare(r);
        rule_keys(&self.scorer.model.config.blocking, &p, &self.dict)
    }

    /// Scores, decides and explains a pair of prepared records.
    pub fn evaluate(&self, a: &Prepared, b: &Prepared) -> Evaluation {
        evaluate(&self.scorer, a, b, &self.dict)
    }

    /// Scores, decides and explains a pair of records.
    pub fn evaluate_records(&mut self, a: &Record, b: &Record) -> Evaluation {
        let (pa, pb) = (self.prepare(a), self.prepare(b));
        self.evaluate(&pa, &pb)
    }

    /// Evaluates an incoming record against candidates; best first (candidate index, evaluation).
    pub fn rank(&mut self, incoming: &Record, candidates: &[Record]) -> Vec<(usize, Evaluation)> {
        let a = self.prepare(incoming);
        let mut out: Vec<(usize, Evaluation)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let b = self.prepare(c);
                (i, self.evaluate(&a, &b))
            })
            .collect();
        out.sort_by(|x, y| y.1.score.total_cmp(&x.1.score).then(x.0.cmp(&y.0)));
        out
    }
}

/// A record's blocking keys under the default configuration's rules.
pub fn blocking_keys(r: &Record) -> Vec<String> {
    let mut d = Dict::new();
    let p = d.prepare(&normalise(r));
    rule_keys(&crate::config::Config::default().blocking, &p, &d)
}
