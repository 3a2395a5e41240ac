//! The compact form of a batch of records: interned values plus per-value facts.
//!
//! [`Dict`] holds every distinct value once (names with their phonetic codes and nickname
//! groups, places, contacts) and the term-frequency counts; [`Prepared`] is one record as a
//! fixed-size struct of symbols, so scoring a pair touches two small structs and never allocates.
use crate::intern::{Interner, Sym, NONE};
use crate::normalise::{nicknames, Normalised, Sex};
use crate::phonetic::{codes, PhoneticCodes};
use crate::tf::{TfRole, TfTable};

/// Up to this many address words are kept per record (more are rare and add little).
pub(crate) const MAX_TOKENS: usize = 8;

/// One record in compact form. Build with [`Dict::prepare`].
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub(crate) given: Sym,
    pub(crate) middle: Sym,
    pub(crate) family: Sym,
    pub(crate) previous: [Sym; 2],
    pub(crate) parts: [Sym; 2],
    pub(crate) dob: u32,
    pub(crate) sex: u8,
    pub(crate) postcode: Sym,
    pub(crate) outward: Sym,
    pub(crate) sector: Sym,
    pub(crate) house: Sym,
    pub(crate) street: Sym,
    pub(crate) tokens: [Sym; MAX_TOKENS],
    pub(crate) ntokens: u8,
    pub(crate) town: Sym,
    pub(crate) phone: Sym,
    pub(crate) email: Sym,
    pub(crate) nhs: u64,
    pub(crate) nhs_verified: Option<bool>,
    /// Place in a multiple birth; 0 when not given.
    pub(crate) birth_order: u8,
}

impl Prepared {
    /// The valid NHS number, if any.
    pub fn nhs_number(&self) -> Option<u64> {
        (self.nhs != 0).then_some(self.nhs)
    }
    pub(crate) fn tokens(&self) -> &[Sym] {
        &self.tokens[..self.ntokens as usize]
    }
}

/// Interned values of a set of records, with phonetic codes and term-frequency counts.
#[derive(Default, Clone)]
pub struct Dict {
    pub(crate) names: Interner,
    pub(crate) name_codes: Vec<PhoneticCodes>,
    /// Bit `g` set when the name belongs to nickname group `g`.
    pub(crate) name_nick: Vec<u128>,
    /// Letter counts of each name, for a cheap upper bound on Jaro-Winkler.
    pub(crate) name_letters: Vec<[u8; 26]>,
    /// Character counts of each place value (letters, then space, digits, anything else), for
    /// the same bound on street names.
    pub(crate) place_chars: Vec<[u8; 32]>,
    pub(crate) places: Interner,
    pub(crate) contacts: Interner,
    /// Counts per [`TfRole`], indexed by symbol of the role's interner.
    pub(crate) counts: [Vec<u32>; 4],
    pub(crate) totals: [u64; 4],
}

fn sex_code(s: Option<Sex>) -> u8 {
    match s {
        None => 0,
        Some(Sex::Male) => 1,
        Some(Sex::Female) => 2,
        Some(Sex::Other) => 3,
    }
}

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Dict {
        Dict::default()
    }

    fn name(&mut self, s: &str) -> Sym {
        let (id, new) = self.names.intern(s);
        if new {
            self.name_codes.push(codes(s));
            self.name_nick.push(nicknames::group_mask(s));
            let mut letters = [0u8; 26];
            for b in s.bytes().filter(u8::is_ascii_lowercase) {
                letters[(b - b'a') as usize] = letters[(b - b'a') as usize].saturating_add(1);
            }
            self.name_letters.push(letters);
        }
        id
    }

    fn place(&mut self, s: &str) -> Sym {
        let (id, new) = self.places.intern(s);
        if new {
            let mut chars = [0u8; 32];
            for b in s.bytes() {
                let slot = match b {
                    b'a'..=b'z' => usize::from(b - b'a'),
                    b' ' => 26,
                    b'0'..=b'9' => 27,
                    _ => 28,
                };
                chars[slot] = chars[slot].saturating_add(1);
            }
            self.place_chars.push(chars);
        }
        id
    }

    fn contact(&mut self, s: &str) -> Sym {
        self.contacts.intern(s).0
    }

    /// Interns a normalised record.
    pub fn prepare(&mut self, n: &Normalised) -> Prepared {
        let opt_name = |d: &mut Dict, s: Option<&str>| s.map_or(NONE, |s| d.name(s));
        let given = opt_name(self, n.given.as_ref().map(|g| g.first.as_str()));
        let middle = opt_name(self, n.given.as_ref().and_then(|g| g.middle.first()).map(String::as_str));
        let family = opt_name(self, n.family.as_ref().map(|f| f.full.as_str()));
        let mut previous = [NONE; 2];
        for (slot, p) in previous.iter_mut().zip(&n.previous_family) {
            *slot = self.name(p);
        }
        let mut parts = [NONE; 2];
        if let Some(f) = &n.family {
            for (slot, p) in parts.iter_mut().zip(&f.parts) {
                *slot = self.name(p);
            }
        }
        let (postcode, outward, sector) = match &n.postcode {
            None => (NONE, NONE, NONE),
            Some(p) => (
                self.place(&p.full),
                p.outward.as_deref().map_or(NONE, |o| self.place(o)),
                p.sector.as_deref().map_or(NONE, |s| self.place(s)),
            ),
        };
        let mut tokens = [NONE; MAX_TOKENS];
        let mut ntokens = 0u8;
        let (mut house, mut street) = (NONE, NONE);
        if let Some(a) = &n.address {
            house = a.house_number.as_deref().map_or(NONE, |h| self.place(h));
            street = if a.street.is_empty() { NONE } else { self.place(&a.street) };
            for t in a.tokens.iter().take(MAX_TOKENS) {
                tokens[ntokens as usize] = self.place(t);
                ntokens += 1;
            }
            tokens[..ntokens as usize].sort_unstable();
        }
        Prepared {
            given,
            middle,
            family,
            previous,
            parts,
            dob: n.dob.map_or(n.dob_digits.unwrap_or(0), |d| d.packed()),
            sex: sex_code(n.sex),
            postcode,
            outward,
            sector,
            house,
            street,
            tokens,
            ntokens,
            town: n.town.as_deref().map_or(NONE, |t| self.place(t)),
            phone: n.phone.as_deref().map_or(NONE, |p| self.contact(p)),
            email: n.email.as_deref().map_or(NONE, |e| self.contact(e)),
            nhs: n.nhs_number.map_or(0, |x| x.value()),
            nhs_verified: n.nhs_number_verified,
            birth_order: n.birth_order.map_or(0, |o| o.min(255) as u8),
        }
    }

    /// Counts values per term-frequency role over a batch of prepared records.
    pub fn count_terms(&mut self, records: &[Prepared]) {
        let mut counts = [
            vec![0u32; self.names.len()],
            vec![0u32; self.names.len()],
            vec![0u32; self.places.len()],
            vec![0u32; self.places.len()],
        ];
        let mut totals = [0u64; 4];
        for r in records {
            for (role, sym) in [(0, r.given), (1, r.family), (2, r.postcode), (3, r.town)] {
                if sym != NONE {
                    counts[role][sym as usize] += 1;
                    totals[role] += 1;
                }
            }
        }
        self.counts = counts;
        self.totals = totals;
    }

    /// Takes counts from persisted tables (incremental use): every symbol interned so far gets
    /// the count its text has in the table.
    pub fn counts_from_tables(&mut self, tables: &[TfTable; 4]) {
        for role in TfRole::ALL {
            let i = role.index();
            let interner = if i < 2 { &self.names } else { &self.places };
            let table = &tables[i];
            let v = &mut self.counts[i];
            while v.len() < interner.len() {
                v.push(table.count(interner.get(v.len() as Sym)));
            }
            self.totals[i] = table.total;
        }
    }

    /// The persisted form of the counts: values seen at least twice.
    pub fn tf_tables(&self) -> [TfTable; 4] {
        TfRole::ALL.map(|role| {
            let i = role.index();
            let interner = if i < 2 { &self.names } else { &self.places };
            let counts = self.counts[i]
                .iter()
                .enumerate()
                .filter(|(_, &c)| c >= 2)
                .map(|(s, &c)| (interner.get(s as Sym).to_owned(), c))
                .collect();
            TfTable { total: self.totals[i], counts }
        })
    }

    /// Relative frequency of a symbol in a role (1/total when unknown).
    pub(crate) fn frequency(&self, role: TfRole, sym: Sym) -> f64 {
        let i = role.index();
        let c = self.counts[i].get(sym as usize).copied().unwrap_or(1).max(1);
        if self.totals[i] == 0 {
            return 1.0;
        }
        f64::from(c) / self.totals[i] as f64
    }

    /// An upper bound on the Jaro-Winkler similarity of two names, from their lengths and letter
    /// counts alone: at most `Σ min(count)` characters can match, and the Winkler prefix bonus is
    /// at most `0.4 (1 - jaro)`. Lets most dissimilar pairs skip the real computation.
    pub(crate) fn jaro_winkler_bound(&self, a: Sym, b: Sym) -> f64 {
        let (la, lb) = (&self.name_letters[a as usize], &self.name_letters[b as usize]);
        let common: u32 = la.iter().zip(lb).map(|(x, y)| u32::from(*x.min(y))).sum();
        let (na, nb) = (self.names.get(a).len() as f64, self.names.get(b).len() as f64);
        if common == 0 || na == 0.0 || nb == 0.0 {
            return 0.0;
        }
        let m = f64::from(common).min(na).min(nb);
        let jaro = ((m / na + m / nb + 1.0) / 3.0).min(1.0);
        jaro + 0.4 * (1.0 - jaro) + 1e-9
    }

    /// Whether two place values (streets) are at least `min` alike by Jaro-Winkler, checking
    /// the bound of [`Dict::jaro_winkler_bound`] first: most streets of random pairs share too
    /// few characters to get there.
    pub(crate) fn places_alike(&self, a: Sym, b: Sym, min: f64) -> bool {
        if a == b {
            return true;
        }
        let (ca, cb) = (&self.place_chars[a as usize], &self.place_chars[b as usize]);
        let common: u32 = ca.iter().zip(cb).map(|(x, y)| u32::from(*x.min(y))).sum();
        let (ta, tb) = (self.places.get(a), self.places.get(b));
        let (na, nb) = (ta.len() as f64, tb.len() as f64);
        if common == 0 || na == 0.0 || nb == 0.0 {
            return false;
        }
        let m = f64::from(common).min(na).min(nb);
        let jaro = ((m / na + m / nb + 1.0) / 3.0).min(1.0);
        jaro + 0.4 * (1.0 - jaro) + 1e-9 >= min && crate::compare::jaro_winkler(ta, tb) >= min
    }

    pub(crate) fn name_text(&self, s: Sym) -> &str {
        self.names.get(s)
    }
    pub(crate) fn place_text(&self, s: Sym) -> &str {
        self.places.get(s)
    }
    pub(crate) fn contact_text(&self, s: Sym) -> &str {
        self.contacts.get(s)
    }
}
