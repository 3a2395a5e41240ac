//! People: who lives where, and which organisations hold a record of them.
//!
//! Households as in `lantern_identity::gen` (singles, couples, families, sometimes a married
//! name), NHS numbers from the reserved test range 999 000 0000 – 999 999 9999 with a valid
//! Modulus 11 check digit, and for every person the plan of their source records: always one GP
//! practice; sometimes the hospital, the community trust, the mental-health trust, the council.
//! Each source record holds the demographics that system has — typed by someone else, perhaps
//! before a move, perhaps without the NHS number — see [`crate::noise`].
use crate::clock::{age, DAY};
use crate::noise;
use crate::orgs::{Kind, Org};
use lantern_identity::gen::parts::{self, Street};
use lantern_identity::gen::{Rng, Weighted};
use lantern_identity::NhsNumber;
use time::Date;

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub line: String,
    pub town: String,
    pub postcode: String,
}

/// What one source system holds about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    pub given: String,
    pub middle: Option<String>,
    pub family: String,
    pub birth_date: Date,
    pub female: bool,
    pub address: Option<Address>,
    pub phone: Option<String>,
    /// Ten digits, when the source has it.
    pub nhs_number: Option<String>,
}

/// One source record: a local identifier at one organisation.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Index into [`crate::Region::organisations`].
    pub org: usize,
    pub local_id: String,
    pub demographics: Demographics,
    /// A second registration of the same person in the same system.
    pub duplicate: bool,
}

/// What happened to a person that the policy cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traits {
    /// A local opt-out of sharing (a privacy Consent that denies).
    pub opted_out: bool,
    /// A legally restricted item and who recorded it.
    pub restricted: Option<(Restricted, Kind)>,
}

/// The statutory categories of legally restricted data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restricted {
    SexuallyTransmittedInfection,
    AssistedConception,
    Termination,
    GenderReassignment,
}

/// One person and their source records.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: u32,
    pub nhs_number: String,
    pub given: String,
    pub middle: Option<String>,
    pub family: String,
    /// Surname before marriage.
    pub maiden: Option<String>,
    pub female: bool,
    pub birth_date: Date,
    pub address: Address,
    /// Where they lived before a move (some systems still have it).
    pub previous_address: Option<Address>,
    pub phone: Option<String>,
    pub household: u32,
    pub records: Vec<SourceRecord>,
    pub traits: Traits,
}

impl Person {
    /// The person's true demographics.
    pub fn truth(&self) -> Demographics {
        Demographics {
            given: self.given.clone(),
            middle: self.middle.clone(),
            family: self.family.clone(),
            birth_date: self.birth_date,
            female: self.female,
            address: Some(self.address.clone()),
            phone: self.phone.clone(),
            nhs_number: Some(self.nhs_number.clone()),
        }
    }

    /// The organisations holding a record, in record order, without repeats.
    pub fn organisations(&self) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::new();
        for r in &self.records {
            if !v.contains(&r.org) {
                v.push(r.org);
            }
        }
        v
    }

    /// The person's record at an organisation (the first, if registered twice).
    pub fn record_at(&self, org: usize) -> Option<&SourceRecord> {
        self.records.iter().find(|r| r.org == org)
    }

    /// Age in whole years at `now`.
    pub fn age(&self, now: i64) -> i32 {
        age(self.birth_date, now)
    }
}

pub(crate) struct Builder<'a> {
    pub(crate) rng: Rng,
    pub(crate) orgs: &'a [Org],
    pub(crate) now: i64,
    surnames: Weighted<String>,
    male: Weighted<&'static str>,
    female: Weighted<&'static str>,
    streets: Vec<Street>,
    next_nhs: u64,
    next_local: Vec<u32>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(seed: u64, orgs: &'a [Org], now: i64, people: usize) -> Builder<'a> {
        let mut rng = Rng::new(seed);
        let streets = parts::streets(&mut rng, (people / 25).max(40));
        Builder {
            rng,
            orgs,
            now,
            surnames: parts::surnames(),
            male: parts::forenames(false),
            female: parts::forenames(true),
            streets,
            // Spread the test range: start somewhere in it, deterministically.
            next_nhs: 999_000_000 + seed % 500_000,
            next_local: vec![0; orgs.len()],
        }
    }

    fn nhs(&mut self) -> String {
        loop {
            let n = NhsNumber::from_first_nine(self.next_nhs);
            self.next_nhs += 1 + self.rng.below(3) as u64;
            if self.next_nhs >= 1_000_000_000 {
                self.next_nhs = 999_000_000;
            }
            if let Some(n) = n {
                return n.digits();
            }
        }
    }

    fn address(&mut self) -> Address {
        let s = &self.streets[self.rng.below(self.streets.len())];
        let number = 1 + self.rng.below(150);
        let flat = if number.is_multiple_of(9) {
            format!("Flat {}, ", 1 + self.rng.below(6))
        } else {
            String::new()
        };
        Address {
            line: format!("{flat}{number} {}", s.name(false)),
            town: s.town.to_string(),
            postcode: s.postcode.clone(),
        }
    }

    fn birth(&mut self, min_age: i64, max_age: i64) -> Date {
        let days = (min_age * 365 + self.rng.below(((max_age - min_age) * 365).max(1) as usize) as i64) * DAY;
        let ts = self.now - days;
        time::OffsetDateTime::from_unix_timestamp(ts).map(|t| t.date()).unwrap_or(Date::MIN)
    }

    fn forename(&mut self, female: bool) -> String {
        if female { self.female.sample(&mut self.rng) } else { self.male.sample(&mut self.rng) }.to_string()
    }

    fn person(
        &mut self,
        id: u32,
        household: u32,
        female: bool,
        family: String,
        birth: Date,
        home: &Address,
    ) -> Person {
        let given = self.forename(female);
        let middle = self.rng.chance(0.35).then(|| self.forename(female)).filter(|m| *m != given);
        let previous_address = self.rng.chance(0.12).then(|| self.address());
        let phone = self.rng.chance(0.8).then(|| parts::phone_number(&mut self.rng, true));
        Person {
            id,
            nhs_number: self.nhs(),
            given,
            middle,
            family,
            maiden: None,
            female,
            birth_date: birth,
            address: home.clone(),
            previous_address,
            phone,
            household,
            records: Vec::new(),
            traits: Traits::default(),
        }
    }

    /// One household: one to three adults and perhaps children, at one address.
    pub(crate) fn household(&mut self, first_id: u32, household: u32) -> Vec<Person> {
        let home = self.address();
        let family = self.surnames.sample(&mut self.rng);
        let kind = self.rng.below(100);
        let adults = match kind {
            0..=29 => 1,
            30..=94 => 2,
            _ => 3,
        };
        let mut out: Vec<Person> = Vec::new();
        let mut id = first_id;
        for a in 0..adults {
            let female = if a == 1 { !out[0].female || self.rng.chance(0.05) } else { self.rng.chance(0.52) };
            let birth = self.birth(18, 95);
            let own = if a == 0 || kind >= 95 { family.clone() } else { self.surnames.sample(&mut self.rng) };
            let mut p = self.person(id, household, female, own.clone(), birth, &home);
            if a == 1 && kind < 95 && female && self.rng.chance(0.6) {
                p.maiden = Some(own);
                p.family = family.clone();
            }
            out.push(p);
            id += 1;
        }
        if (30..=79).contains(&kind) {
            for _ in 0..self.rng.below(4) {
                let birth = self.birth(0, 17);
                let female = self.rng.chance(0.5);
                let child = self.person(id, household, female, family.clone(), birth, &home);
                out.push(child);
                id += 1;
            }
        }
        out
    }

    fn local_id(&mut self, org: usize) -> String {
        self.next_local[org] += 1;
        let o = &self.orgs[org];
        match o.kind {
            Kind::Acute => format!("{}{:07}", o.local_prefix, 1_000_000 + self.next_local[org] * 7),
            Kind::SocialCare => format!("{}-{:06}", o.local_prefix, 40_000 + self.next_local[org]),
            _ => format!("{}{:06}", o.local_prefix, self.next_local[org]),
        }
    }

    /// Decides where the person has records and what each holds.
    pub(crate) fn plan(
        &mut self,
        p: &mut Person,
        practice: usize,
        force: &[Kind],
        exclude: &[Kind],
        duplicate_at_acute: bool,
    ) {
        let age = p.age(self.now);
        let elderly = age >= 75;
        let find = |k: Kind| self.orgs.iter().position(|o| o.kind == k);
        let (acute, community, mh, social) =
            (find(Kind::Acute), find(Kind::Community), find(Kind::MentalHealth), find(Kind::SocialCare));
        let mut at: Vec<usize> = vec![practice];
        let want =
            |rng: &mut Rng, k: Kind, p_: f64| !exclude.contains(&k) && (force.contains(&k) || rng.chance(p_));
        if let Some(o) = acute.filter(|_| want(&mut self.rng, Kind::Acute, if elderly { 0.5 } else { 0.22 }))
        {
            at.push(o);
        }
        if let Some(o) =
            community.filter(|_| want(&mut self.rng, Kind::Community, if elderly { 0.25 } else { 0.04 }))
        {
            at.push(o);
        }
        if let Some(o) = mh.filter(|_| age >= 16 && want(&mut self.rng, Kind::MentalHealth, 0.05)) {
            at.push(o);
        }
        if let Some(o) = social.filter(|_| {
            want(
                &mut self.rng,
                Kind::SocialCare,
                if elderly {
                    0.15
                } else if age < 18 {
                    0.03
                } else {
                    0.02
                },
            )
        }) {
            at.push(o);
        }
        let truth = p.truth();
        for org in at {
            let kind = self.orgs[org].kind;
            let local_id = self.local_id(org);
            let demographics = noise::as_recorded(&mut self.rng, p, &truth, kind, false);
            p.records.push(SourceRecord { org, local_id, demographics, duplicate: false });
            let dup = kind == Kind::Acute && (duplicate_at_acute || self.rng.chance(0.03))
                || kind == Kind::SocialCare && self.rng.chance(0.04);
            if dup {
                let local_id = self.local_id(org);
                let demographics = noise::as_recorded(&mut self.rng, p, &truth, kind, true);
                p.records.push(SourceRecord { org, local_id, demographics, duplicate: true });
            }
        }
    }
}
