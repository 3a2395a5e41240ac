//! Fast scoring of a pair: levels, match weight, and nothing allocated.
//!
//! [`Scorer`] precomputes every level's weight from a [`Model`]; scoring a pair is then one
//! level evaluation and one table look-up per comparison, plus a term-frequency adjustment on
//! exact agreements. This is the inner loop of batch linkage.
use crate::compare::{LevelRule, MAX_COMPARISONS, NULL_LEVEL};
use crate::dict::{Dict, Prepared};
use crate::model::Model;
use crate::tf::{self, TfRole};

/// Weight tables derived from a model.
pub struct Scorer<'m> {
    pub(crate) model: &'m Model,
    pub(crate) weights: Vec<[f64; 16]>,
    /// For comparisons with term-frequency adjustment: (role, exact level, u of that level).
    pub(crate) tf: Vec<Option<(TfRole, u8, f64)>>,
    pub(crate) prior: f64,
    pub(crate) nhs_comparison: Option<usize>,
    /// The comparisons the person guard reads.
    pub(crate) guard: Option<Guard>,
}

/// A scored pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScore {
    /// Match weight, prior included.
    pub total: f64,
    /// The part of it due to the NHS number.
    pub nhs: f64,
    /// The person guard fired: the fields that tell relatives apart disagree (see
    /// [`person_fields_differ`]).
    pub person_fields_differ: bool,
}

/// A pair's levels, packed 4 bits per comparison.
pub type Pattern = u64;

/// Unpacks the level of comparison `c` from a pattern.
pub fn pattern_level(p: Pattern, c: usize) -> u8 {
    ((p >> (4 * c)) & 0xf) as u8
}

/// The levels of a pair, packed into a [`Pattern`].
pub fn pattern(model: &Model, a: &Prepared, b: &Prepared, d: &Dict) -> Pattern {
    let mut p: Pattern = 0;
    for (c, cmp) in model.config.comparisons.iter().enumerate().take(MAX_COMPARISONS) {
        p |= u64::from(cmp.level(a, b, d)) << (4 * c);
    }
    p
}

impl<'m> Scorer<'m> {
    /// Builds the weight tables.
    pub fn new(model: &'m Model) -> Scorer<'m> {
        let mut weights = Vec::new();
        let mut tfs = Vec::new();
        for (cfg, params) in model.config.comparisons.iter().zip(&model.comparisons) {
            let mut w = [0.0; 16];
            for (l, slot) in w.iter_mut().enumerate().take(cfg.level_count()) {
                *slot = params.weight(l);
            }
            weights.push(w);
            let exact = cfg.levels.iter().position(|r| matches!(r, LevelRule::Exact));
            tfs.push(match (cfg.tf_adjust, cfg.tf_role(), exact) {
                (true, Some(role), Some(l)) => Some((role, l as u8, params.u[l])),
                _ => None,
            });
        }
        let nhs_comparison =
            model.config.comparisons.iter().position(|c| c.field == crate::compare::Field::NhsNumber);
        let find = |f: crate::compare::Field| model.config.comparisons.iter().position(|c| c.field == f);
        use crate::compare::Field;
        let guard = match (find(Field::GivenName), find(Field::DateOfBirth)) {
            (Some(given), Some(dob)) if model.config.person_guard => Some(Guard {
                given,
                dob,
                sex: find(Field::Sex),
                family: find(Field::FamilyName),
                household: [find(Field::Address), find(Field::Postcode)],
            }),
            _ => None,
        };
        Scorer { model, weights, tf: tfs, prior: model.prior_weight(), nhs_comparison, guard }
    }

    /// Weight of comparison `c` at level `l`, with its term-frequency adjustment; 0 for null.
    pub(crate) fn level_weight(&self, c: usize, l: u8, a: &Prepared, d: &Dict) -> (f64, f64) {
        if l == NULL_LEVEL {
            return (0.0, 0.0);
        }
        let w = self.weights[c][l as usize];
        let adj = match self.tf[c] {
            Some((role, exact, u)) if exact == l => {
                let sym = self.model.config.comparisons[c].tf_symbol(a);
                tf::adjustment(u, d.frequency(role, sym), 1.0, self.model.config.tf_max_adjustment)
            }
            _ => 0.0,
        };
        (w, adj)
    }

    /// Scores a pair.
    pub fn score(&self, a: &Prepared, b: &Prepared, d: &Dict) -> PairScore {
        let mut total = self.prior;
        let mut nhs = 0.0;
        let mut levels = [0u8; crate::compare::MAX_COMPARISONS];
        for (c, cmp) in self.model.config.comparisons.iter().enumerate() {
            let l = cmp.level(a, b, d);
            levels[c] = l;
            let (w, adj) = self.level_weight(c, l, a, d);
            total += w + adj;
            if Some(c) == self.nhs_comparison {
                nhs = w + adj;
            }
        }
        PairScore { total, nhs, person_fields_differ: self.person_fields_differ(&levels, a, b) }
    }

    /// The person guard on a pair's levels; true holds the pair back from a link. Relatives at
    /// one address agree on surname, postcode, address and telephone, and twins on date of
    /// birth and often sex as well, so the pair is held back when
    /// * the forename differs and the date of birth differs or is missing, or the sex differs;
    /// * the date of birth differs and the forename is missing;
    /// * forename and surname both have nothing in common, nor one's forename the other's
    ///   surname (no name agrees at all);
    /// * with `person_guard_twins`: the forenames have nothing in common while sex, surname and
    ///   date of birth are exactly the same and the address or postcode too (same-sex twins;
    ///   until 2026-12-07 they linked; twins of different sexes the first rule holds back).
    ///
    /// A forename or date of birth *differs* unless its level is evidence of the same person —
    /// its learnt weight at least `person_guard_min_weight` bits — so "born the same year" or
    /// "forenames sound a little alike" (Amy / Emma), which siblings share as often as one
    /// person's two records do, count as differing, while a keying error (one digit, two digits
    /// swapped, day and month transposed) or a spelling variant counts as agreeing. Nothing in
    /// common means the comparison's last level (no typo, variant, sound or initial alike).
    pub(crate) fn person_fields_differ(&self, levels: &[u8], a: &Prepared, b: &Prepared) -> bool {
        let Some(g) = &self.guard else { return false };
        let cmps = &self.model.config.comparisons;
        let min_weight = self.model.config.person_guard_min_weight;
        let differs = |c: usize| match levels[c] {
            NULL_LEVEL => None,
            l => Some(usize::from(l) == cmps[c].levels.len()),
        };
        let exact = |c: Option<usize>| c.is_some_and(|c| levels[c] == 0);
        let weak = |c: usize| differs(c).map(|d| d || self.weights[c][usize::from(levels[c])] < min_weight);
        let (forename, birth) = (weak(g.given), weak(g.dob));
        let sex_differs = g.sex.and_then(differs).unwrap_or(false);
        let forename_unrelated = differs(g.given) == Some(true);
        let surname_unrelated = g.family.and_then(differs) == Some(true);
        // A name moved to the other field (FEBRL writes `bordin brody` for `joel bordin`) is a
        // name in common, though neither comparison sees it. Middle names are left out: a
        // shared middle initial is no evidence of one person.
        let names = |p: &Prepared| [p.given, p.family, p.parts[0], p.parts[1]];
        let crossed = names(a).iter().any(|x| *x != crate::intern::NONE && names(b).contains(x));
        let sex_same = g.sex.and_then(differs) == Some(false);
        let twins = self.model.config.person_guard_twins
            && forename_unrelated
            && sex_same
            && exact(Some(g.dob))
            && exact(g.family)
            && g.household.iter().any(|c| exact(*c));
        match (forename, birth) {
            (Some(true), Some(true) | None) => true,
            (Some(true), Some(false)) => {
                sex_differs || twins || (forename_unrelated && surname_unrelated && !crossed)
            }
            (None, Some(true)) => true,
            _ => false,
        }
    }

    /// The prior weight.
    pub fn prior(&self) -> f64 {
        self.prior
    }
}

/// The comparisons the person guard reads (indexes into the model's comparisons).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guard {
    given: usize,
    dob: usize,
    sex: Option<usize>,
    family: Option<usize>,
    /// Address and postcode: either exactly the same makes one household.
    household: [Option<usize>; 2],
}

/// Match probability of a match weight.
pub fn probability(weight: f64) -> f64 {
    let o = weight.exp2();
    if o.is_infinite() {
        1.0
    } else {
        o / (1.0 + o)
    }
}
