//! Configuration: which comparisons, which levels, which blocking rules, which thresholds.
//!
//! Everything that a data-quality team may want to tune is here, as a serde struct that loads
//! from TOML (see [`Config::from_toml`]); [`Config::default`] is the configuration Lantern ships,
//! tuned on synthetic UK data and FEBRL. The trained [`crate::Model`] embeds the configuration it
//! was trained with, so a persisted model always knows what its levels mean.
use serde::{Deserialize, Serialize};

use crate::blocking::{BlockKey, BlockingRule};
use crate::compare::{ComparisonConfig, Field, LevelRule};
use crate::error::IdentityError;

/// How batch clustering turns linked pairs into persons. See [`crate::cluster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMode {
    /// Connected components of the linked pairs.
    Connected,
    /// Strongest pairs first; never join two clusters holding different valid NHS numbers.
    NoConflictingNhsNumbers,
}

/// Expectation-maximisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmConfig {
    /// Stop after this many iterations even if not converged.
    pub max_iterations: usize,
    /// A comparison has converged when no m probability moved more than this in an iteration.
    pub tolerance: f64,
    /// Weight of the Dirichlet prior on m, in pseudo-pairs (keeps rare levels away from 0 and 1).
    pub prior_pairs: f64,
    /// Train on at most this many candidate pairs (a uniform sample of them beyond that).
    pub max_pairs: usize,
}

impl Default for EmConfig {
    fn default() -> Self {
        EmConfig { max_iterations: 200, tolerance: 1e-5, prior_pairs: 10.0, max_pairs: 4_000_000 }
    }
}

/// Rules for the same NHS number on both sides. See [`crate::decision`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NhsRuleConfig {
    /// Link deterministically on the same valid NHS number (unless one side says "unverified").
    pub link_on_same_number: bool,
    /// Clearly different person: both sexes known and different AND dates of birth at least this
    /// many years apart.
    pub conflict_dob_years: u16,
    /// Clearly different person: the demographic evidence (sum of all weights except the NHS
    /// number's, no prior) is below this.
    pub conflict_min_evidence: f64,
}

impl Default for NhsRuleConfig {
    fn default() -> Self {
        NhsRuleConfig { link_on_same_number: true, conflict_dob_years: 2, conflict_min_evidence: -12.0 }
    }
}

/// The whole matching configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Comparisons, in the order they appear in explanations.
    pub comparisons: Vec<ComparisonConfig>,
    /// Blocking rules; a pair is a candidate if any rule puts both records in one block.
    pub blocking: Vec<BlockingRule>,
    /// One EM session per rule: m is learnt on the pairs each rule blocks together, for the
    /// comparisons the rule does not involve (see [`crate::em`]). Every comparison should be
    /// left free by at least one rule.
    pub training_rules: Vec<BlockingRule>,
    /// Blocks larger than this are skipped (and counted) so one common key cannot blow up.
    pub max_block_size: usize,
    /// Match weight (log2 odds, prior included) at or above which a pair links.
    pub link_threshold: f64,
    /// Match weight at or above which (and below the link threshold) a pair goes to review.
    pub review_threshold: f64,
    /// Random pairs sampled to estimate u probabilities (at most; smaller files use fewer, 5
    /// per record but at least 200,000, or every pair when there are fewer).
    pub u_sample_pairs: usize,
    /// EM settings.
    pub em: EmConfig,
    /// NHS-number rules.
    pub nhs: NhsRuleConfig,
    /// Person guard: never link (at most review) a pair whose forename disagrees (or whose
    /// date of birth disagrees and forename is missing). Surname, address, postcode and
    /// landline are shared by a household, and date of birth by twins, so their weights add up
    /// for two relatives as if they were independent evidence (the Fellegi–Sunter independence
    /// assumption fails there); the forename must agree in some way before a link. See
    /// [`crate::decision`].
    pub person_guard: bool,
    /// Part of the person guard: hold back a pair of one sex, one surname, one date of birth
    /// and one address or postcode whose forenames have nothing in common (twins). On by
    /// default: linking twins shows one child's record to the other's clinicians. It costs
    /// the synthetic population 1 point of recall (BENCHMARKS.md, patient matching,
    /// 2026-12-07); real duplicates of one person rarely have unrelated forenames.
    pub person_guard_twins: bool,
    /// For the person guard, a forename or date-of-birth level agrees only if its weight is at
    /// least this many bits (see [`crate::score`]); "same year of birth" does not.
    pub person_guard_min_weight: f64,
    /// Clustering in batch mode.
    pub cluster: ClusterMode,
    /// Largest positive term-frequency adjustment, in bits (a value seen once in a small file
    /// must not decide alone).
    pub tf_max_adjustment: f64,
    /// Seed for sampling; the same data and seed give the same model.
    pub seed: u64,
}

fn cmp(name: &str, field: Field, tf: bool, levels: Vec<LevelRule>) -> ComparisonConfig {
    ComparisonConfig { name: name.to_owned(), field, levels, tf_adjust: tf }
}

impl Default for Config {
    fn default() -> Self {
        use LevelRule::*;
        let comparisons = vec![
            cmp(
                "Forename",
                Field::GivenName,
                true,
                vec![
                    Exact,
                    Nickname,
                    JaroWinkler { min: 0.92 },
                    Phonetic,
                    JaroWinkler { min: 0.88 },
                    Swapped,
                    MiddleName,
                ],
            ),
            cmp(
                "Surname",
                Field::FamilyName,
                true,
                vec![
                    Exact,
                    JaroWinkler { min: 0.92 },
                    Phonetic,
                    PreviousName,
                    NamePart,
                    JaroWinkler { min: 0.88 },
                    // No `Swapped` here: a swap is one event, counted once (on the forename).
                    // Counted on both, it gave two strangers whose names happen to be each
                    // other's reversed (Chloe Ryan, Ryan Chloe) +29 bits on FEBRL 4.
                ],
            ),
            cmp(
                "Date of birth",
                Field::DateOfBirth,
                false,
                vec![Exact, DayMonthTransposed, OneDigitTypo, DigitsTransposed, SameYearMonth, SameYear],
            ),
            cmp("Sex", Field::Sex, false, vec![Exact]),
            cmp("Postcode", Field::Postcode, true, vec![Exact, OneCharTypo, Sector, Outward]),
            cmp(
                "Address",
                Field::Address,
                false,
                vec![
                    Exact,
                    HouseNumberAndStreet { min: 0.88 },
                    StreetSimilar { min: 0.88 },
                    TokenOverlap { min: 0.5 },
                ],
            ),
            // No town comparison by default: it adds little to the postcode and, being
            // correlated with it, would count one move of house twice.
            cmp("Phone", Field::Phone, false, vec![Exact, OneCharTypo]),
            cmp("Email", Field::Email, false, vec![Exact, OneCharTypo]),
            cmp("NHS number", Field::NhsNumber, false, vec![Exact]),
        ];
        let rule = |name: &str, keys: Vec<BlockKey>| BlockingRule { name: name.to_owned(), keys };
        let blocking = vec![
            rule("nhs_number", vec![BlockKey::NhsNumber]),
            rule("dob_surname_initial", vec![BlockKey::DateOfBirth, BlockKey::FamilyInitial]),
            rule("postcode_forename_metaphone", vec![BlockKey::Postcode, BlockKey::GivenMetaphone]),
            rule("surname_metaphone_birth_year", vec![BlockKey::FamilyMetaphone, BlockKey::BirthYear]),
            // Forename and surname sound alike, in either order, wherever the records live.
            rule("names_metaphone", vec![BlockKey::NameMetaphones]),
            rule("dob_forename_initial", vec![BlockKey::DateOfBirth, BlockKey::GivenInitial]),
            rule("dob_postcode", vec![BlockKey::DateOfBirth, BlockKey::Postcode]),
            rule("postcode_surname_metaphone", vec![BlockKey::Postcode, BlockKey::FamilyMetaphone]),
            // Swapped forename and surname: every ordered name key above misses them.
            rule("dob_name_initials", vec![BlockKey::DateOfBirth, BlockKey::NameInitials]),
            // Postcode and birth date both mistyped: the address line still finds them.
            rule("house_street", vec![BlockKey::HouseNumber, BlockKey::Street]),
            rule("phone", vec![BlockKey::Phone]),
            rule("email", vec![BlockKey::Email]),
        ];
        let training_rules = vec![
            rule("dob", vec![BlockKey::DateOfBirth]),
            rule("forename_surname", vec![BlockKey::GivenName, BlockKey::FamilyName]),
        ];
        Config {
            comparisons,
            blocking,
            training_rules,
            max_block_size: 1_000,
            link_threshold: 6.0,
            review_threshold: -4.0,
            u_sample_pairs: 2_000_000,
            em: EmConfig::default(),
            nhs: NhsRuleConfig::default(),
            person_guard: true,
            person_guard_twins: true,
            person_guard_min_weight: 1.0,
            cluster: ClusterMode::NoConflictingNhsNumbers,
            tf_max_adjustment: 6.0,
            seed: 0x1a17e4,
        }
    }
}

impl Config {
    /// Loads a configuration from TOML; missing keys take their default values.
    pub fn from_toml(text: &str) -> Result<Config, IdentityError> {
        let c: Config = toml::from_str(text).map_err(|e| IdentityError::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> Result<String, IdentityError> {
        toml::to_string(self).map_err(|e| IdentityError::Config(e.to_string()))
    }

    /// Checks limits and that every level rule applies to its field.
    pub fn validate(&self) -> Result<(), IdentityError> {
        if self.comparisons.is_empty() || self.comparisons.len() > crate::compare::MAX_COMPARISONS {
            return Err(IdentityError::Config(format!(
                "between 1 and {} comparisons are needed",
                crate::compare::MAX_COMPARISONS
            )));
        }
        for c in &self.comparisons {
            c.validate()?;
        }
        if self.review_threshold > self.link_threshold {
            return Err(IdentityError::Config("review_threshold is above link_threshold".into()));
        }
        if self.blocking.iter().chain(&self.training_rules).any(|b| b.keys.is_empty() || b.keys.len() > 8) {
            return Err(IdentityError::Config("a blocking rule needs 1 to 8 keys".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_through_toml() {
        let c = Config::default();
        c.validate().unwrap();
        let text = c.to_toml().unwrap();
        assert_eq!(Config::from_toml(&text).unwrap(), c);
    }

    #[test]
    fn partial_toml_and_bad_levels() {
        let c = Config::from_toml("link_threshold = 10.0\nreview_threshold = 2.0\n").unwrap();
        assert_eq!(c.link_threshold, 10.0);
        assert_eq!(c.comparisons.len(), Config::default().comparisons.len());
        let bad = r#"
[[comparisons]]
name = "Sex"
field = "sex"
levels = ["phonetic"]
"#;
        assert!(Config::from_toml(bad).is_err());
        let good = r#"
[[comparisons]]
name = "Surname"
field = "family_name"
levels = ["exact", { jaro_winkler = { min = 0.9 } }, "phonetic"]
tf_adjust = true
"#;
        let c = Config::from_toml(good).unwrap();
        assert_eq!(c.comparisons.len(), 1);
        assert_eq!(c.comparisons[0].levels[1], LevelRule::JaroWinkler { min: 0.9 });
    }
}
