//! Blocking: which pairs are worth scoring at all.
//!
//! Scoring every pair of a million records is 5×10¹¹ comparisons; blocking scores only pairs that
//! share a *blocking key* under at least one rule (same NHS number; same date of birth and
//! surname initial; same postcode and forename sound; ...). Rules are OR-ed: a match that one
//! rule misses because of a typo is usually caught by another. A pair found by several rules is
//! scored once — by the first rule that finds it, as each later rule skips pairs that an earlier
//! rule's keys already join (no global set of pairs is needed). A block larger than
//! `max_block_size` is skipped and counted, so a placeholder value shared by thousands of records
//! cannot make the run quadratic.
//!
//! For incremental matching, [`rule_keys`] gives the same keys as text, for a store to index.
use serde::{Deserialize, Serialize};

use crate::compare::Field;
use crate::dict::{Dict, Prepared};
use crate::intern::{hash64, NONE};
use crate::phonetic::unpack;

/// One part of a blocking key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKey {
    /// Valid NHS number.
    NhsNumber,
    /// Full date of birth.
    DateOfBirth,
    /// Year of birth.
    BirthYear,
    /// Forename.
    GivenName,
    /// First letter of the forename.
    GivenInitial,
    /// Double Metaphone primary code of the forename.
    GivenMetaphone,
    /// Soundex of the forename.
    GivenSoundex,
    /// Surname.
    FamilyName,
    /// First letter of the surname.
    FamilyInitial,
    /// Double Metaphone primary code of the surname.
    FamilyMetaphone,
    /// Soundex of the surname.
    FamilySoundex,
    /// Full postcode.
    Postcode,
    /// Outward code of the postcode.
    Outward,
    /// Telephone.
    Phone,
    /// E-mail.
    Email,
    /// House number (from the address line).
    HouseNumber,
    /// Street (from the address line).
    Street,
    /// The first letters of forename and surname as a set: finds records whose forename and
    /// surname were swapped, which every ordered name key misses.
    NameInitials,
    /// The Double Metaphone codes of forename and surname as a set (swaps included).
    NameMetaphones,
}

impl BlockKey {
    /// The comparison fields this key constrains: a training session blocked on it must not
    /// learn their m (location keys constrain every location field).
    pub fn fields(self) -> &'static [Field] {
        match self {
            BlockKey::NhsNumber => &[Field::NhsNumber],
            BlockKey::DateOfBirth | BlockKey::BirthYear => &[Field::DateOfBirth],
            BlockKey::GivenName
            | BlockKey::GivenInitial
            | BlockKey::GivenMetaphone
            | BlockKey::GivenSoundex => &[Field::GivenName],
            BlockKey::FamilyName
            | BlockKey::FamilyInitial
            | BlockKey::FamilyMetaphone
            | BlockKey::FamilySoundex => &[Field::FamilyName],
            BlockKey::Postcode | BlockKey::Outward => &[Field::Postcode, Field::Address, Field::Town],
            BlockKey::Phone => &[Field::Phone],
            BlockKey::Email => &[Field::Email],
            BlockKey::HouseNumber | BlockKey::Street => &[Field::Address],
            BlockKey::NameInitials | BlockKey::NameMetaphones => &[Field::GivenName, Field::FamilyName],
        }
    }
}

/// A blocking rule: records with equal values for all its keys are compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingRule {
    /// Name used in reports and key text.
    pub name: String,
    /// Key parts; all must be present.
    pub keys: Vec<BlockKey>,
}

/// The value of one key part as a number and its text (text only when asked for).
fn part(k: BlockKey, p: &Prepared, d: &Dict, text: bool) -> Option<(u64, String)> {
    let name_initial = |s| (s != NONE).then(|| d.name_text(s).bytes().next()).flatten();
    let t = |f: &dyn Fn() -> String| if text { f() } else { String::new() };
    match k {
        BlockKey::NhsNumber => (p.nhs != 0).then(|| (p.nhs, t(&|| format!("{:010}", p.nhs)))),
        BlockKey::DateOfBirth => (p.dob != 0).then(|| (u64::from(p.dob), t(&|| p.dob.to_string()))),
        BlockKey::BirthYear => {
            (p.dob != 0).then(|| (u64::from(p.dob / 10_000), t(&|| (p.dob / 10_000).to_string())))
        }
        BlockKey::GivenName => {
            (p.given != NONE).then(|| (u64::from(p.given), t(&|| d.name_text(p.given).to_owned())))
        }
        BlockKey::FamilyName => {
            (p.family != NONE).then(|| (u64::from(p.family), t(&|| d.name_text(p.family).to_owned())))
        }
        BlockKey::GivenInitial => {
            name_initial(p.given).map(|b| (u64::from(b), t(&|| (b as char).to_string())))
        }
        BlockKey::FamilyInitial => {
            name_initial(p.family).map(|b| (u64::from(b), t(&|| (b as char).to_string())))
        }
        BlockKey::GivenMetaphone
        | BlockKey::FamilyMetaphone
        | BlockKey::GivenSoundex
        | BlockKey::FamilySoundex => {
            let s = if matches!(k, BlockKey::GivenMetaphone | BlockKey::GivenSoundex) {
                p.given
            } else {
                p.family
            };
            if s == NONE {
                return None;
            }
            let c = &d.name_codes[s as usize];
            let code = if matches!(k, BlockKey::GivenMetaphone | BlockKey::FamilyMetaphone) {
                c.dm_primary
            } else {
                c.soundex
            };
            (code != 0).then(|| (u64::from(code), t(&|| unpack(code))))
        }
        BlockKey::Postcode => {
            (p.postcode != NONE).then(|| (u64::from(p.postcode), t(&|| d.place_text(p.postcode).to_owned())))
        }
        BlockKey::Outward => {
            (p.outward != NONE).then(|| (u64::from(p.outward), t(&|| d.place_text(p.outward).to_owned())))
        }
        BlockKey::Phone => {
            (p.phone != NONE).then(|| (u64::from(p.phone), t(&|| d.contact_text(p.phone).to_owned())))
        }
        BlockKey::Email => {
            (p.email != NONE).then(|| (u64::from(p.email), t(&|| d.contact_text(p.email).to_owned())))
        }
        BlockKey::HouseNumber => {
            (p.house != NONE).then(|| (u64::from(p.house), t(&|| d.place_text(p.house).to_owned())))
        }
        BlockKey::Street => {
            (p.street != NONE).then(|| (u64::from(p.street), t(&|| d.place_text(p.street).to_owned())))
        }
        BlockKey::NameInitials => {
            let (g, f) = (name_initial(p.given)?, name_initial(p.family)?);
            let (lo, hi) = (g.min(f), g.max(f));
            Some((u64::from(lo) << 8 | u64::from(hi), t(&|| format!("{}{}", lo as char, hi as char))))
        }
        BlockKey::NameMetaphones => {
            let code = |s| (s != NONE).then(|| d.name_codes[s as usize].dm_primary).filter(|&c| c != 0);
            let (g, f) = (code(p.given)?, code(p.family)?);
            let (lo, hi) = (g.min(f), g.max(f));
            Some((u64::from(lo) << 32 | u64::from(hi), t(&|| format!("{}+{}", unpack(lo), unpack(hi)))))
        }
    }
}

/// The rule's key for a record as a 64-bit hash; 0 when a part is missing.
pub(crate) fn key_hash(rule: &BlockingRule, p: &Prepared, d: &Dict) -> u64 {
    let mut parts = [0u64; 8];
    for (slot, &k) in parts.iter_mut().zip(&rule.keys) {
        match part(k, p, d, false) {
            Some((v, _)) => *slot = v,
            None => return 0,
        }
    }
    hash64(&parts[..rule.keys.len().min(8)]).max(1)
}

/// The text keys of a record under each rule (`rule_name:part|part`), for a store to index.
pub fn rule_keys(rules: &[BlockingRule], p: &Prepared, d: &Dict) -> Vec<String> {
    rules
        .iter()
        .filter_map(|r| {
            let parts: Option<Vec<String>> =
                r.keys.iter().map(|&k| part(k, p, d, true).map(|x| x.1)).collect();
            parts.map(|ps| format!("{}:{}", r.name, ps.join("|")))
        })
        .collect()
}

/// Blocks of a batch, ready to enumerate pairs from.
pub(crate) struct Blocks {
    /// Per rule, each record's key (0 = none, or its block was too large).
    keys: Vec<Vec<u64>>,
    /// Per rule, record indices sorted by key.
    order: Vec<Vec<u32>>,
    /// (rule, start, end) into `order[rule]`: blocks of at least two records.
    pub(crate) blocks: Vec<(u32, u32, u32)>,
    /// Blocks skipped for size, per rule.
    pub(crate) skipped: Vec<usize>,
}

impl Blocks {
    pub(crate) fn build(records: &[Prepared], d: &Dict, rules: &[BlockingRule], max_block: usize) -> Blocks {
        use rayon::prelude::*;
        let mut keys = Vec::new();
        let mut order = Vec::new();
        let mut blocks = Vec::new();
        let mut skipped = Vec::new();
        for (ri, rule) in rules.iter().enumerate() {
            let mut k: Vec<u64> = records.par_iter().map(|p| key_hash(rule, p, d)).collect();
            let mut idx: Vec<u32> = (0..records.len() as u32).filter(|&i| k[i as usize] != 0).collect();
            idx.par_sort_unstable_by_key(|&i| (k[i as usize], i));
            let mut start = 0usize;
            let mut skip = 0usize;
            while start < idx.len() {
                let key = k[idx[start] as usize];
                let mut end = start + 1;
                while end < idx.len() && k[idx[end] as usize] == key {
                    end += 1;
                }
                let n = end - start;
                if n > max_block {
                    skip += 1;
                    for &i in &idx[start..end] {
                        k[i as usize] = 0;
                    }
                } else if n >= 2 {
                    blocks.push((ri as u32, start as u32, end as u32));
                }
                start = end;
            }
            keys.push(k);
            order.push(idx);
            skipped.push(skip);
        }
        Blocks { keys, order, blocks, skipped }
    }

    /// Upper bound on pairs (before removing pairs found by earlier rules).
    pub(crate) fn pair_bound(&self) -> u64 {
        self.blocks.iter().map(|&(_, s, e)| u64::from(e - s) * u64::from(e - s - 1) / 2).sum()
    }

    /// Calls `f(i, j)` with `i < j` for every pair of block `b` not already produced by an
    /// earlier rule.
    pub(crate) fn for_each_pair(&self, b: usize, mut f: impl FnMut(u32, u32)) {
        let (rule, start, end) = self.blocks[b];
        let members = &self.order[rule as usize][start as usize..end as usize];
        let earlier = &self.keys[..rule as usize];
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                let seen = earlier.iter().any(|k| {
                    let ki = k[i as usize];
                    ki != 0 && ki == k[j as usize]
                });
                if !seen {
                    f(i.min(j), i.max(j));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::normalise;
    use crate::record::Record;

    fn rec(given: &str, family: &str, dob: &str, postcode: &str) -> Record {
        Record {
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            date_of_birth: Some(dob.into()),
            postcode: Some(postcode.into()),
            ..Record::default()
        }
    }

    #[test]
    fn pairs_are_deduplicated_across_rules() {
        let rules = crate::config::Config::default().blocking;
        let mut d = Dict::new();
        let recs = [
            rec("John", "Smith", "1980-01-02", "BS8 1TH"),
            rec("Jon", "Smyth", "1980-01-02", "BS8 1TH"),
            rec("Mary", "Jones", "1990-05-06", "M1 1AE"),
        ];
        let prepared: Vec<Prepared> = recs.iter().map(|r| d.prepare(&normalise(r))).collect();
        let blocks = Blocks::build(&prepared, &d, &rules, 100);
        let mut pairs = Vec::new();
        for b in 0..blocks.blocks.len() {
            blocks.for_each_pair(b, |i, j| pairs.push((i, j)));
        }
        // John Smith and Jon Smyth share several keys but are produced once.
        assert_eq!(pairs, vec![(0, 1)]);
        let keys = rule_keys(&rules, &prepared[0], &d);
        assert!(keys.contains(&"dob_surname_initial:19800102|s".to_string()), "{keys:?}");
    }

    #[test]
    fn oversized_blocks_are_skipped() {
        let rules = vec![BlockingRule { name: "year".into(), keys: vec![BlockKey::BirthYear] }];
        let mut d = Dict::new();
        let prepared: Vec<Prepared> =
            (0..10).map(|i| d.prepare(&normalise(&rec(&format!("a{i}"), "x", "1980-01-01", "")))).collect();
        let blocks = Blocks::build(&prepared, &d, &rules, 5);
        assert_eq!(blocks.blocks.len(), 0);
        assert_eq!(blocks.skipped, vec![1]);
    }

    #[test]
    fn swapped_names_and_mistyped_postcodes_are_still_candidates() {
        // FEBRL-style duplicates: forename and surname swapped with the date of birth and the
        // postcode mistyped; the same address with every other field corrupted.
        let rules = crate::config::Config::default().blocking;
        let mut d = Dict::new();
        let mut swapped = rec("Mccarthy", "Kydan", "1972-05-18", "6452");
        swapped.address_line = Some("67 Clemenger Street".into());
        let mut moved = rec("Thomas", "Webbo", "1940-12-03", "5032");
        moved.address_line = Some("16 Balala Place".into());
        let recs = [
            rec("Kydan", "Mccarthy", "1972-09-18", "6415"),
            swapped,
            rec("Samuel", "Webb", "1941-12-03", "5023"),
            moved.clone(),
            Record {
                given_name: Some("Samule".into()),
                family_name: Some("Jasper".into()),
                date_of_birth: Some("1940-21-03".into()),
                postcode: Some("5023".into()),
                ..moved
            },
        ];
        let prepared: Vec<Prepared> = recs.iter().map(|r| d.prepare(&normalise(r))).collect();
        let blocks = Blocks::build(&prepared, &d, &rules, 100);
        let mut pairs = Vec::new();
        for b in 0..blocks.blocks.len() {
            blocks.for_each_pair(b, |i, j| pairs.push((i, j)));
        }
        pairs.sort_unstable();
        assert!(pairs.contains(&(0, 1)), "{pairs:?}");
        assert!(pairs.contains(&(3, 4)), "{pairs:?}");
        let keys = rule_keys(&rules, &prepared[1], &d);
        let key = keys.iter().find(|k| k.starts_with("names_metaphone:")).unwrap();
        assert!(rule_keys(&rules, &prepared[0], &d).contains(key), "{keys:?}");
    }
}
