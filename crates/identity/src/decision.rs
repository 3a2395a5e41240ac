//! From a score to a decision: link, review, or new person — with the reason.
//!
//! Twins first: two records that give different places in a multiple birth (FHIR
//! `multipleBirthInteger`, HL7 v2 PID-25) are never linked unasked; a pair worth a look, or
//! one NHS number on both (a keying error somewhere), goes to review, the rest are two people.
//! Only where both sources say: a record without a place is decided as below. Then the
//! deterministic rule: the same valid NHS number on both sides links, unless either source
//! says its number is unverified, or the two records are clearly different people (both sexes
//! known and different *and* dates of birth years apart, or demographic evidence strongly
//! against). Such a pair is sent to review rather than linked: a shared NHS number with
//! contradicting demographics is usually a data-entry error on one side, and linking would show
//! one patient another's record. Otherwise the match weight is compared with the two
//! thresholds. Finally the person guard: a pair whose forename and date of birth disagree (or
//! one disagrees and the other is missing, or forename and sex disagree, or no name agrees at
//! all, or two people of one sex born the same day in one household have unrelated forenames:
//! twins) is at most sent to review, whatever its score — relatives at one address share
//! surname, postcode, address and telephone, twins date of birth and sex too, and those
//! weights add up as if independent (see `Scorer::person_fields_differ`). "Disagree"
//! means no level with real evidence of one person (a learnt weight of at least
//! `person_guard_min_weight` bits): a date with two digits swapped agrees, a birth in the same
//! year does not (siblings share that as often as one person's records do).
//!
//! What the guard costs, measured: on FEBRL, whose generator replaces a duplicate's forename
//! and date of birth wholesale (so such a pair looks exactly like a relative at the same
//! address), it holds back 6–50 true pairs per data set (0.6–1.2% of recall); without it, on the
//! synthetic UK population with households, pairwise precision at 100,000 records falls from
//! 0.97 to 0.61 (`examples/diagnose` with `person_guard = false`). The rules added on
//! 2026-12-07 (no name in common; same-sex twins) cost FEBRL 0.6–1.7 points of recall more and
//! raise the synthetic population's precision 0.8 points (BENCHMARKS.md, patient matching).
use serde::{Deserialize, Serialize};

use crate::dict::Prepared;
use crate::score::{PairScore, Scorer};

/// What to do with a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Same person: link.
    Link,
    /// Unsure: a person should look.
    Review,
    /// Different people: the incoming record is a new person (for this candidate).
    NewPerson,
}

/// Why the decision was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Same valid NHS number, demographics consistent.
    SameNhsNumber,
    /// Same valid NHS number but different sex and dates of birth years apart.
    SameNhsNumberButDifferentSexAndBirthDate,
    /// Same valid NHS number but the demographics strongly disagree.
    SameNhsNumberButDemographicsDisagree,
    /// Same valid NHS number but a source marked it unverified; decided on score.
    SameNhsNumberUnverified,
    /// Score above the link threshold, but the fields that tell relatives apart (forename,
    /// date of birth, sex) disagree, or two people born the same day have unrelated forenames:
    /// possibly a relative at the same address, or a twin.
    ForenameAndBirthDateDiffer,
    /// The records give different places in a multiple birth: two twins (or a keying error),
    /// never linked unasked.
    DifferentBirthOrder,
    /// Match weight at or above the link threshold.
    AboveLinkThreshold,
    /// Match weight between the thresholds.
    BetweenThresholds,
    /// Match weight below the review threshold.
    BelowReviewThreshold,
}

impl Reason {
    /// The reason in words.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::SameNhsNumber => "same verified NHS number",
            Reason::SameNhsNumberButDifferentSexAndBirthDate => {
                "same NHS number but different sex and dates of birth years apart: needs review"
            }
            Reason::SameNhsNumberButDemographicsDisagree => {
                "same NHS number but the other details strongly disagree: needs review"
            }
            Reason::SameNhsNumberUnverified => "same NHS number, not verified at source: decided on score",
            Reason::ForenameAndBirthDateDiffer => {
                "score above the link threshold but forename and date of birth (or sex) disagree, no name agrees, or two people born the same day have unrelated forenames: a relative at the same address, or a twin? needs review"
            }
            Reason::DifferentBirthOrder => {
                "the records give different places in a multiple birth: two twins (or a keying error)? needs review"
            }
            Reason::AboveLinkThreshold => "score at or above the link threshold",
            Reason::BetweenThresholds => "score between the review and link thresholds",
            Reason::BelowReviewThreshold => "score below the review threshold",
        }
    }
}

/// Decides a scored pair.
pub fn decide(s: &Scorer<'_>, a: &Prepared, b: &Prepared, score: PairScore) -> (Decision, Reason) {
    let PairScore { total, nhs: nhs_weight, person_fields_differ } = score;
    let cfg = &s.model.config;
    // Twins share a birthday, surname, address and often a similar forename; their places in
    // the birth do not. A pair worth a look (or one NHS number on both) goes to a human, the
    // rest are two people.
    if a.birth_order != 0 && b.birth_order != 0 && a.birth_order != b.birth_order {
        let same_nhs = a.nhs != 0 && a.nhs == b.nhs;
        return if same_nhs || total >= cfg.review_threshold {
            (Decision::Review, Reason::DifferentBirthOrder)
        } else {
            (Decision::NewPerson, Reason::BelowReviewThreshold)
        };
    }
    if cfg.nhs.link_on_same_number && a.nhs != 0 && a.nhs == b.nhs {
        if a.nhs_verified == Some(false) || b.nhs_verified == Some(false) {
            return by_threshold(s, total, person_fields_differ).map_reason(Reason::SameNhsNumberUnverified);
        }
        let years_apart =
            if a.dob != 0 && b.dob != 0 { (a.dob / 10_000).abs_diff(b.dob / 10_000) } else { 0 };
        if a.sex != 0 && b.sex != 0 && a.sex != b.sex && years_apart >= u32::from(cfg.nhs.conflict_dob_years)
        {
            return (Decision::Review, Reason::SameNhsNumberButDifferentSexAndBirthDate);
        }
        let demographic = total - s.prior - nhs_weight;
        if demographic < cfg.nhs.conflict_min_evidence || person_fields_differ {
            return (Decision::Review, Reason::SameNhsNumberButDemographicsDisagree);
        }
        return (Decision::Link, Reason::SameNhsNumber);
    }
    by_threshold(s, total, person_fields_differ)
}

fn by_threshold(s: &Scorer<'_>, total: f64, person_fields_differ: bool) -> (Decision, Reason) {
    let cfg = &s.model.config;
    if total >= cfg.link_threshold && person_fields_differ {
        (Decision::Review, Reason::ForenameAndBirthDateDiffer)
    } else if total >= cfg.link_threshold {
        (Decision::Link, Reason::AboveLinkThreshold)
    } else if total >= cfg.review_threshold {
        (Decision::Review, Reason::BetweenThresholds)
    } else {
        (Decision::NewPerson, Reason::BelowReviewThreshold)
    }
}

trait MapReason {
    fn map_reason(self, r: Reason) -> Self;
}

impl MapReason for (Decision, Reason) {
    fn map_reason(self, r: Reason) -> Self {
        (self.0, r)
    }
}
