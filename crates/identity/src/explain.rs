//! Explanations: every decision comes with the evidence for it, field by field, in words.
//!
//! Matching engines are often a black box to the people who must trust them. For every scored
//! pair Lantern can list, per comparison, the values compared, the level reached, its m and u,
//! the weight it added and any term-frequency adjustment — and [`Evaluation::render`] says it in
//! sentences a data-quality officer can check:
//!
//! `Surname 'smyth' vs 'smith': sounds the same (Double Metaphone), +4.1 bits; ...; prior -19.9;
//! total 17.3 => link (link threshold 6.0)`.
use serde::{Deserialize, Serialize};

use crate::compare::{jaro_winkler, Field, LevelRule, NULL_LEVEL};
use crate::decision::{decide, Decision, Reason};
use crate::dict::{Dict, Prepared};
use crate::intern::NONE;
use crate::normalise::Date;
use crate::score::{probability, Scorer};

/// The evidence one comparison gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldEvidence {
    /// Comparison name ("Surname").
    pub comparison: String,
    /// Field compared.
    pub field: Field,
    /// Level index reached (`None`: a value was missing).
    pub level: Option<usize>,
    /// What the level means, in words.
    pub meaning: String,
    /// Extra detail (e.g. the Jaro-Winkler similarity).
    pub detail: Option<String>,
    /// Normalised value on the left.
    pub left: Option<String>,
    /// Normalised value on the right.
    pub right: Option<String>,
    /// m probability of the level.
    pub m: Option<f64>,
    /// u probability of the level.
    pub u: Option<f64>,
    /// Weight of the level, log2(m/u) bits (0 when missing).
    pub weight: f64,
    /// Term-frequency adjustment added to it, in bits.
    pub tf_adjustment: f64,
}

/// A scored, decided pair with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Per-comparison evidence, in configuration order.
    pub evidence: Vec<FieldEvidence>,
    /// Prior weight log2(λ/(1-λ)).
    pub prior_weight: f64,
    /// Total match weight: prior + evidence.
    pub score: f64,
    /// Match probability 2^score / (1 + 2^score).
    pub probability: f64,
    /// The decision.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// Thresholds in force.
    pub link_threshold: f64,
    /// Thresholds in force.
    pub review_threshold: f64,
}

fn meaning(rule: Option<&LevelRule>) -> &'static str {
    match rule {
        None => "different",
        Some(r) => match r {
            LevelRule::Exact => "the same",
            LevelRule::JaroWinkler { .. } => "spelt very similarly (Jaro-Winkler)",
            LevelRule::OneCharTypo => "one character different (a likely typo)",
            LevelRule::Phonetic => "sounds the same (Double Metaphone)",
            LevelRule::Nickname => "a known nickname of the same name",
            LevelRule::MiddleName => "one is the other's middle name",
            LevelRule::PreviousName => "one is a previous (e.g. maiden) surname of the other",
            LevelRule::NamePart => "one is part of the other's double-barrelled surname",
            LevelRule::Swapped => "forename and surname swapped",
            LevelRule::DayMonthTransposed => "day and month swapped",
            LevelRule::OneDigitTypo => "one digit different (a likely typo)",
            LevelRule::DigitsTransposed => "two neighbouring digits swapped (a likely typo)",
            LevelRule::SameYearMonth => "same month and year only",
            LevelRule::SameYear => "same year only",
            LevelRule::Sector => "same postcode sector only",
            LevelRule::Outward => "same outward code (district) only",
            LevelRule::HouseNumberAndStreet { .. } => "same house number, street spelt similarly",
            LevelRule::StreetSimilar { .. } => {
                "same street, spelt similarly (house number differs or missing)"
            }
            LevelRule::TokenOverlap { .. } => "many address words in common",
        },
    }
}

/// The normalised value of a field, for display.
fn value(field: Field, p: &Prepared, d: &Dict) -> Option<String> {
    let name = |s| (s != NONE).then(|| d.name_text(s).to_owned());
    let place = |s| (s != NONE).then(|| d.place_text(s).to_owned());
    let contact = |s| (s != NONE).then(|| d.contact_text(s).to_owned());
    match field {
        Field::GivenName => name(p.given),
        Field::FamilyName => {
            let mut v = name(p.family)?;
            let prev: Vec<&str> =
                p.previous.iter().filter(|&&s| s != NONE).map(|&s| d.name_text(s)).collect();
            if !prev.is_empty() {
                v.push_str(&format!(" (formerly {})", prev.join(", ")));
            }
            Some(v)
        }
        Field::DateOfBirth => match (p.dob, Date::from_packed(p.dob)) {
            (0, _) => None,
            (_, Some(d)) => Some(d.iso()),
            (raw, None) => Some(format!("{raw} (not a real date)")),
        },
        Field::Sex => match p.sex {
            1 => Some("male".into()),
            2 => Some("female".into()),
            3 => Some("other".into()),
            _ => None,
        },
        Field::Postcode => place(p.postcode),
        Field::Address => {
            let words: Vec<&str> = p.tokens().iter().map(|&s| d.place_text(s)).collect();
            match (p.house != NONE, words.is_empty()) {
                (false, true) => None,
                (true, _) => {
                    Some(format!("{} {}", d.place_text(p.house), place(p.street).unwrap_or_default()))
                }
                (false, false) => Some(words.join(" ")),
            }
        }
        Field::Town => place(p.town),
        Field::Phone => contact(p.phone),
        Field::Email => contact(p.email),
        Field::NhsNumber => (p.nhs != 0).then(|| format!("{:010}", p.nhs)),
    }
}

/// Scores, decides and explains a pair.
pub fn evaluate(s: &Scorer<'_>, a: &Prepared, b: &Prepared, d: &Dict) -> Evaluation {
    let mut evidence = Vec::new();
    let mut total = s.prior;
    let mut nhs = 0.0;
    let mut levels = [0u8; crate::compare::MAX_COMPARISONS];
    for (c, (cfg, params)) in s.model.config.comparisons.iter().zip(&s.model.comparisons).enumerate() {
        let l = cfg.level(a, b, d);
        let (w, adj) = s.level_weight(c, l, a, d);
        total += w + adj;
        if Some(c) == s.nhs_comparison {
            nhs = w + adj;
        }
        levels[c] = l;
        let level = (l != NULL_LEVEL).then_some(l as usize);
        let rule = level.and_then(|l| cfg.levels.get(l));
        let detail = match (cfg.field, rule) {
            (Field::GivenName | Field::FamilyName, Some(LevelRule::JaroWinkler { min })) => {
                let (x, y) =
                    if cfg.field == Field::GivenName { (a.given, b.given) } else { (a.family, b.family) };
                Some(format!("similarity {:.2} >= {min}", jaro_winkler(d.name_text(x), d.name_text(y))))
            }
            (_, Some(LevelRule::TokenOverlap { min })) => {
                Some(format!("overlap {:.2} >= {min}", crate::compare::jaccard(a.tokens(), b.tokens())))
            }
            _ => None,
        };
        evidence.push(FieldEvidence {
            comparison: cfg.name.clone(),
            field: cfg.field,
            level,
            meaning: if level.is_none() {
                "missing on one side: no evidence".into()
            } else {
                meaning(rule).into()
            },
            detail,
            left: value(cfg.field, a, d),
            right: value(cfg.field, b, d),
            m: level.map(|l| params.m[l]),
            u: level.map(|l| params.u[l]),
            weight: w,
            tf_adjustment: adj,
        });
    }
    let score =
        crate::score::PairScore { total, nhs, person_fields_differ: s.person_fields_differ(&levels, a, b) };
    let (decision, reason) = decide(s, a, b, score);
    let cfg = &s.model.config;
    Evaluation {
        evidence,
        prior_weight: s.prior,
        score: total,
        probability: probability(total),
        decision,
        reason,
        link_threshold: cfg.link_threshold,
        review_threshold: cfg.review_threshold,
    }
}

fn quoted(v: &Option<String>) -> String {
    v.as_ref().map_or_else(|| "(none)".to_owned(), |s| format!("'{s}'"))
}

impl Evaluation {
    /// The explanation in sentences, one per comparison, then the total and the decision.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for e in &self.evidence {
            out.push_str(&format!(
                "{} {} vs {}: {}",
                e.comparison,
                quoted(&e.left),
                quoted(&e.right),
                e.meaning
            ));
            if let Some(d) = &e.detail {
                out.push_str(&format!(" ({d})"));
            }
            if e.level.is_some() {
                out.push_str(&format!(", {:+.1}", e.weight + e.tf_adjustment));
                if e.tf_adjustment.abs() >= 0.05 {
                    let how = if e.tf_adjustment > 0.0 { "rare value" } else { "common value" };
                    out.push_str(&format!(" (of which {:+.1} because it is a {how})", e.tf_adjustment));
                }
            } else {
                out.push_str(", +0.0");
            }
            out.push_str(";\n");
        }
        let (word, threshold) = match self.decision {
            Decision::Link => ("link", format!("link threshold {:.1}", self.link_threshold)),
            Decision::Review => (
                "review",
                format!("review from {:.1}, link from {:.1}", self.review_threshold, self.link_threshold),
            ),
            Decision::NewPerson => ("new person", format!("review threshold {:.1}", self.review_threshold)),
        };
        out.push_str(&format!(
            "prior (how rare a match is by chance) {:+.1}; total {:.1} (probability {:.4}) => {} ({}; {})",
            self.prior_weight,
            self.score,
            self.probability,
            word,
            threshold,
            self.reason.describe()
        ));
        out
    }
}
