//! The trained Fellegi–Sunter model: m and u probabilities per comparison level, the prior, and
//! the term-frequency tables. It serialises to JSON so that a server can persist it and score
//! incoming records with exactly the weights a batch run learnt.
//!
//! For a level with probabilities `m` (among pairs of records of the same person) and `u` (among
//! pairs of different people), agreement at that level multiplies the odds of a match by the
//! Bayes factor `m/u`; its match weight is `log2(m/u)` bits. A pair's match weight is the prior
//! weight `log2(λ/(1-λ))` plus the weights of its levels (missing values add 0) plus
//! term-frequency adjustments; `2^w / (1 + 2^w)` is the match probability.
use serde::{Deserialize, Serialize};

use crate::compare::LevelRule;
use crate::config::Config;
use crate::error::IdentityError;
use crate::tf::TfTable;

/// Learnt parameters of one comparison; index `i < levels.len()` is rule `i`, the last index is
/// "different".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonParams {
    /// Comparison name, as in the configuration.
    pub name: String,
    /// Human-readable label of each level (for people reading the JSON).
    pub levels: Vec<String>,
    /// P(level | same person).
    pub m: Vec<f64>,
    /// P(level | different people), from random pairs.
    pub u: Vec<f64>,
}

impl ComparisonParams {
    /// Match weight of a level, in bits.
    pub fn weight(&self, level: usize) -> f64 {
        match (self.m.get(level), self.u.get(level)) {
            (Some(&m), Some(&u)) if m > 0.0 && u > 0.0 => (m / u).log2(),
            _ => 0.0,
        }
    }
}

/// One EM session (one training rule).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    /// Training rule name.
    pub rule: String,
    /// Pairs the rule blocks together.
    pub pairs: u64,
    /// Pairs EM ran on (a uniform sample when there are many).
    pub em_pairs: u64,
    /// Distinct comparison patterns among them.
    pub patterns: usize,
    /// Comparisons whose m this session learnt.
    pub trained: Vec<String>,
    /// Iterations run.
    pub iterations: usize,
    /// For each trained comparison, the iteration at which its m stopped moving (`None`: did
    /// not converge).
    pub converged_at: Vec<Option<usize>>,
    /// Share of the session's pairs EM judged to be matches.
    pub match_rate: f64,
    /// Matches in the whole data set this session implies (its matches / the rule's recall).
    pub implied_matches: f64,
}

/// How training went, kept with the model so a reviewer can judge it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// Records trained on.
    pub records: usize,
    /// Random pairs used for u.
    pub u_pairs: u64,
    /// EM sessions.
    pub sessions: Vec<SessionReport>,
    /// Whether every trained comparison converged in every session.
    pub converged: bool,
    /// Comparisons no session could train (they keep the default m).
    pub untrained: Vec<String>,
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The configuration it was trained with (levels, thresholds, blocking rules).
    pub config: Config,
    /// Parameters per comparison, in the configuration's order.
    pub comparisons: Vec<ComparisonParams>,
    /// Prior probability that two records drawn at random are the same person.
    pub lambda: f64,
    /// Term-frequency tables: forename, surname, postcode, town.
    pub tf: [TfTable; 4],
    /// Training diagnostics.
    pub training: TrainingReport,
}

/// Short label of a level rule (used in JSON and in explanations).
pub fn level_label(r: &LevelRule) -> String {
    match r {
        LevelRule::Exact => "exact".into(),
        LevelRule::JaroWinkler { min } => format!("jaro_winkler>={min}"),
        LevelRule::OneCharTypo => "one_char_typo".into(),
        LevelRule::Phonetic => "double_metaphone".into(),
        LevelRule::Nickname => "nickname".into(),
        LevelRule::MiddleName => "middle_name".into(),
        LevelRule::PreviousName => "previous_name".into(),
        LevelRule::NamePart => "double_barrelled_part".into(),
        LevelRule::Swapped => "forename_surname_swapped".into(),
        LevelRule::DayMonthTransposed => "day_month_transposed".into(),
        LevelRule::OneDigitTypo => "one_digit_typo".into(),
        LevelRule::DigitsTransposed => "adjacent_digits_swapped".into(),
        LevelRule::SameYearMonth => "same_year_month".into(),
        LevelRule::SameYear => "same_year".into(),
        LevelRule::Sector => "same_sector".into(),
        LevelRule::Outward => "same_outward_code".into(),
        LevelRule::HouseNumberAndStreet { min } => format!("house_number_and_street>={min}"),
        LevelRule::StreetSimilar { min } => format!("street>={min}"),
        LevelRule::TokenOverlap { min } => format!("word_overlap>={min}"),
    }
}

impl Model {
    /// Prior weight `log2(λ / (1 - λ))`.
    pub fn prior_weight(&self) -> f64 {
        let l = self.lambda.clamp(1e-15, 1.0 - 1e-12);
        (l / (1.0 - l)).log2()
    }

    /// The model as pretty JSON.
    pub fn to_json(&self) -> Result<String, IdentityError> {
        serde_json::to_string_pretty(self).map_err(|e| IdentityError::Model(e.to_string()))
    }

    /// Reads a model written by [`Model::to_json`], checking it matches its configuration.
    pub fn from_json(text: &str) -> Result<Model, IdentityError> {
        let m: Model = serde_json::from_str(text).map_err(|e| IdentityError::Model(e.to_string()))?;
        m.config.validate()?;
        if m.comparisons.len() != m.config.comparisons.len()
            || m.comparisons
                .iter()
                .zip(&m.config.comparisons)
                .any(|(p, c)| p.m.len() != c.level_count() || p.u.len() != c.level_count())
        {
            return Err(IdentityError::Model("parameters do not match the configuration's levels".into()));
        }
        Ok(m)
    }
}
