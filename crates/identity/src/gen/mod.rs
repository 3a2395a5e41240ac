//! A synthetic UK population with the errors real feeds make, and its ground truth.
//!
//! Used for the end-to-end test and the benchmark against Splink (`bench/identity/`). People live
//! in households (couples, families, twins, flat-sharers) on generated streets and postcodes;
//! each person appears in one to four source systems (GP, hospital PAS, community, social care),
//! and each appearance may carry: typos in names, nicknames (Bill for William), middle name used
//! as forename, forename and surname swapped, maiden name instead of married name (sometimes with
//! the previous name recorded), one part of a double-barrelled surname, day and month of birth
//! transposed or a digit wrong, a new address after moving house, postcode typos, missing fields,
//! a missing NHS number, a mistyped NHS number (which fails Modulus 11), and rarely another
//! person's valid NHS number. NHS numbers come from the 999 test range, valid by Modulus 11.
//! The same seed gives the same data.
mod errors;
mod names;
pub mod parts;
mod places;
mod rng;

use std::io::{self, Write};

pub use rng::{Rng, Weighted};

use crate::nhs_number::NhsNumber;
use crate::normalise::{nicknames, Date};
use crate::record::Record;
use errors::{case, digit_typo, postcode_typo, typo};
use places::{phone_number, units, Dwelling, Unit};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Number of records wanted (persons are added until there are at least this many).
    pub records: usize,
    /// Seed.
    pub seed: u64,
}

/// Generated records with their true person.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The records.
    pub records: Vec<Record>,
    /// True person of each record.
    pub truth: Vec<u32>,
    /// Source system of each record.
    pub sources: Vec<&'static str>,
}

struct Person {
    given: &'static str,
    middle: Option<&'static str>,
    family: String,
    maiden: Option<String>,
    female: bool,
    dob: Date,
    dwelling: usize,
    moved_to: Option<usize>,
    nhs: Option<NhsNumber>,
    mobile: Option<String>,
    new_mobile: Option<String>,
    email: Option<String>,
}

const SOURCES: &[&str] = &["GP", "PAS", "COMMUNITY", "SOCIAL_CARE"];

struct World {
    rng: Rng,
    surnames: Weighted<String>,
    male: Weighted<&'static str>,
    female: Weighted<&'static str>,
    units: Vec<Unit>,
    dwellings: Vec<Dwelling>,
    next_nhs: u64,
    people: Vec<Person>,
}

impl World {
    fn dwelling(&mut self) -> usize {
        let unit = self.rng.below(self.units.len());
        let landline = self.rng.chance(0.4).then(|| phone_number(&mut self.rng, false));
        self.dwellings.push(Dwelling { unit, number: 1 + self.rng.below(180) as u32, landline });
        self.dwellings.len() - 1
    }

    fn nhs(&mut self) -> Option<NhsNumber> {
        while self.next_nhs < 1_000_000_000 {
            let n = NhsNumber::from_first_nine(self.next_nhs);
            self.next_nhs += 1;
            if n.is_some() {
                return n;
            }
        }
        None
    }

    fn dob(&mut self, min_age: u16, max_age: u16) -> Date {
        loop {
            let year = 2024 - min_age - self.rng.below(usize::from(max_age - min_age + 1)) as u16;
            if let Some(d) = Date::new(year, 1 + self.rng.below(12) as u8, 1 + self.rng.below(31) as u8) {
                return d;
            }
        }
    }

    fn forename(&mut self, female: bool) -> &'static str {
        if female {
            self.female.sample(&mut self.rng)
        } else {
            self.male.sample(&mut self.rng)
        }
    }

    fn person(&mut self, female: bool, family: String, dob: Date, dwelling: usize) -> Person {
        let given = self.forename(female);
        let middle = self.rng.chance(0.4).then(|| self.forename(female)).filter(|m| *m != given);
        let moved_to = self.rng.chance(0.12).then(|| self.dwelling());
        let mobile = self.rng.chance(0.7).then(|| phone_number(&mut self.rng, true));
        let new_mobile = self.rng.chance(0.3).then(|| phone_number(&mut self.rng, true));
        let email = self.rng.chance(0.35).then(|| {
            let host = *self.rng.pick(&[
                "gmail.com",
                "hotmail.co.uk",
                "yahoo.co.uk",
                "btinternet.com",
                "outlook.com",
            ]);
            format!(
                "{}.{}{}@{host}",
                given.to_lowercase(),
                family.to_lowercase().replace([' ', '\'', '-'], ""),
                self.rng.below(100)
            )
        });
        let nhs = self.nhs();
        Person {
            given,
            middle,
            family,
            maiden: None,
            female,
            dob,
            dwelling,
            moved_to,
            nhs,
            mobile,
            new_mobile,
            email,
        }
    }

    fn surname(&mut self) -> String {
        let s = self.surnames.sample(&mut self.rng);
        if self.rng.chance(0.02) {
            let t = self.surnames.sample(&mut self.rng);
            if t != s {
                return format!("{s}-{t}");
            }
        }
        s
    }

    fn household(&mut self) {
        let dwelling = self.dwelling();
        let family = self.surname();
        let kind = self.rng.below(100);
        let adults = match kind {
            0..=29 => 1,
            30..=94 => 2,
            _ => 3,
        };
        let mut adult_ids: Vec<usize> = Vec::new();
        for a in 0..adults {
            let female = if a == 1 {
                !self.people[adult_ids[0]].female || self.rng.chance(0.05)
            } else {
                self.rng.chance(0.52)
            };
            let dob = self.dob(18, 95);
            let own = if a == 0 || kind >= 95 { family.clone() } else { self.surname() };
            let mut p = self.person(female, own.clone(), dob, dwelling);
            if a == 1 && kind < 95 && female && self.rng.chance(0.6) {
                // Took the partner's surname on marriage.
                p.maiden = Some(own);
                p.family = family.clone();
            }
            self.people.push(p);
            adult_ids.push(self.people.len() - 1);
        }
        let children = if (30..=79).contains(&kind) { self.rng.below(4) } else { 0 };
        let mut c = 0;
        while c < children {
            let dob = self.dob(0, 17);
            let female = self.rng.chance(0.5);
            let child = self.person(female, family.clone(), dob, dwelling);
            self.people.push(child);
            c += 1;
            if self.rng.chance(0.03) {
                // Twins: same date of birth, surname and address; different forename.
                let female = self.rng.chance(0.5);
                let twin = self.person(female, family.clone(), dob, dwelling);
                self.people.push(twin);
                c += 1;
            }
        }
    }

    fn copies(&mut self) -> usize {
        match self.rng.below(100) {
            0..=49 => 1,
            50..=79 => 2,
            80..=92 => 3,
            _ => 4,
        }
    }

    fn record(&mut self, pid: usize, k: usize, copies: usize) -> Record {
        let rng = &mut self.rng;
        let p = &self.people[pid];
        // Later records are more likely to be after a move or a marriage.
        let late = copies > 1 && k * 2 >= copies;
        let moved = p.moved_to.is_some() && (late || rng.chance(0.3));
        let dwelling = &self.dwellings[if moved { p.moved_to.unwrap_or(p.dwelling) } else { p.dwelling }];
        let unit = &self.units[dwelling.unit];

        let mut given = p.given.to_owned();
        if rng.chance(0.06) {
            let groups: Vec<&&[&str]> =
                nicknames::groups().iter().filter(|g| g.contains(&p.given.to_lowercase().as_str())).collect();
            if let Some(g) = groups.first() {
                let alt = g[rng.below(g.len())];
                given = crate::gen::names_capitalise(alt);
            }
        } else if rng.chance(0.02) {
            if let Some(m) = p.middle {
                given = m.to_owned();
            }
        }
        if rng.chance(0.04) {
            given = typo(rng, &given);
        }
        let mut family = p.family.clone();
        let mut previous = Vec::new();
        if let Some(maiden) = &p.maiden {
            if !late && rng.chance(0.4) {
                family = maiden.clone();
            } else if rng.chance(0.35) {
                previous.push(maiden.clone());
            }
        }
        if family.contains('-') && rng.chance(0.3) {
            let parts: Vec<&str> = family.split('-').collect();
            family = parts[rng.below(parts.len())].to_owned();
        }
        if rng.chance(0.04) {
            family = typo(rng, &family);
        }
        if rng.chance(0.005) {
            std::mem::swap(&mut given, &mut family);
        }
        let with_middle = p.middle.filter(|_| rng.chance(0.2));
        let given_field = match with_middle {
            Some(m) if given == p.given => format!("{given} {m}"),
            _ => given,
        };

        let mut dob = p.dob;
        let r = rng.unit();
        if r < 0.02 && dob.day <= 12 && dob.day != dob.month {
            dob = Date::new(dob.year, dob.day, dob.month).unwrap_or(dob);
        } else if r < 0.04 {
            if let Some(d) = crate::normalise::date(&digit_typo(rng, &dob.iso())) {
                dob = d;
            }
        } else if r < 0.045 {
            dob = Date::new(dob.year + 1, dob.month, dob.day.min(28)).unwrap_or(dob);
        }
        let dob_field = (!rng.chance(0.01)).then(|| dob.iso());

        let sex = if rng.chance(0.01) {
            None
        } else if rng.chance(0.003) {
            Some(if p.female { "M" } else { "F" })
        } else if rng.chance(0.5) {
            Some(if p.female { "F" } else { "M" })
        } else {
            Some(if p.female { "female" } else { "male" })
        };

        let postcode = (!rng.chance(0.08)).then(|| {
            let mut pc = unit.postcode.clone();
            if rng.chance(0.03) {
                pc = postcode_typo(rng, &pc);
            }
            match rng.below(10) {
                0 => pc.replace(' ', ""),
                1 => pc.to_lowercase(),
                _ => pc,
            }
        });
        let address = (!rng.chance(0.05)).then(|| {
            let mut number = dwelling.number.to_string();
            if rng.chance(0.01) {
                number = digit_typo(rng, &number);
            }
            let flat = if dwelling.number.is_multiple_of(7) {
                format!("Flat {}, ", 1 + dwelling.number % 5)
            } else {
                String::new()
            };
            let street = unit.street(rng.chance(0.3));
            case(rng, &format!("{flat}{number} {street}"))
        });
        let town = (!rng.chance(0.2)).then(|| unit.town.to_owned());
        let mobile = if moved && late { p.new_mobile.clone().or(p.mobile.clone()) } else { p.mobile.clone() };
        let phone = mobile.or_else(|| dwelling.landline.clone()).filter(|_| rng.chance(0.6)).map(|ph| {
            let ph = if rng.chance(0.01) { digit_typo(rng, &ph) } else { ph };
            match rng.below(3) {
                0 => format!("+44 {} {}", &ph[1..5], &ph[5..]),
                1 => format!("{} {}", &ph[..5], &ph[5..]),
                _ => ph,
            }
        });
        let email =
            p.email
                .clone()
                .filter(|_| rng.chance(0.4))
                .map(|e| if rng.chance(0.01) { typo(rng, &e) } else { e });
        let nhs = p.nhs.filter(|_| rng.chance(0.6)).map(|n| {
            let mut d = n.digits();
            if rng.chance(0.015) {
                d = digit_typo(rng, &d);
            } else if rng.chance(0.001) {
                // Mis-traced: someone else's valid number.
                if let Some(other) = NhsNumber::from_first_nine(n.value() / 10 + 2) {
                    d = other.digits();
                }
            }
            if rng.chance(0.3) {
                format!("{} {} {}", &d[..3], &d[3..6], &d[6..])
            } else {
                d
            }
        });
        Record {
            given_name: Some(case(rng, &given_field)).filter(|_| !rng.chance(0.005)),
            family_name: Some(case(rng, &family)).filter(|_| !rng.chance(0.01)),
            previous_family_names: previous,
            date_of_birth: dob_field,
            sex: sex.map(str::to_owned),
            postcode,
            address_line: address,
            town,
            phone,
            email,
            nhs_number: nhs,
            nhs_number_verified: None,
            // The population's CSV has no column for it, as most feeds send none.
            birth_order: None,
        }
    }
}

fn names_capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Generates a population and its records.
pub fn generate(cfg: &GenConfig) -> Generated {
    let mut rng = Rng::new(cfg.seed);
    let unit_count = (cfg.records / 20).max(50);
    let units = units(&mut rng, unit_count);
    let mut w = World {
        rng,
        surnames: names::surnames(),
        male: names::forenames(false),
        female: names::forenames(true),
        units,
        dwellings: Vec::new(),
        next_nhs: 999_000_000,
        people: Vec::new(),
    };
    let mut out = Generated::default();
    let mut pid = 0;
    while out.records.len() < cfg.records {
        if pid >= w.people.len() {
            w.household();
            continue;
        }
        let copies = w.copies();
        for k in 0..copies {
            if out.records.len() >= cfg.records {
                break;
            }
            let r = w.record(pid, k, copies);
            out.records.push(r);
            out.truth.push(pid as u32);
            out.sources.push(SOURCES[(k + pid) % SOURCES.len()]);
        }
        pid += 1;
    }
    // Records of one person must not sit next to each other.
    let mut order: Vec<usize> = (0..out.records.len()).collect();
    for i in (1..order.len()).rev() {
        let j = w.rng.below(i + 1);
        order.swap(i, j);
    }
    Generated {
        records: order.iter().map(|&i| out.records[i].clone()).collect(),
        truth: order.iter().map(|&i| out.truth[i]).collect(),
        sources: order.iter().map(|&i| out.sources[i]).collect(),
    }
}

fn field(out: &mut impl Write, v: Option<&str>) -> io::Result<()> {
    let v = v.unwrap_or("");
    if v.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", v.replace('"', "\"\""))
    } else {
        out.write_all(v.as_bytes())
    }
}

/// Writes the records as CSV with Lantern's column names plus `record_id`, `cluster` (the true
/// person), `source` and `previous_names` (`|`-separated).
pub fn write_csv(g: &Generated, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    writeln!(out, "record_id,cluster,source,given_name,family_name,previous_names,date_of_birth,sex,postcode,address_line,town,phone,email,nhs_number")?;
    for (i, r) in g.records.iter().enumerate() {
        write!(out, "r{i},p{},{},", g.truth[i], g.sources[i])?;
        let prev = r.previous_family_names.join("|");
        let fields = [
            r.given_name.as_deref(),
            r.family_name.as_deref(),
            Some(prev.as_str()),
            r.date_of_birth.as_deref(),
            r.sex.as_deref(),
            r.postcode.as_deref(),
            r.address_line.as_deref(),
            r.town.as_deref(),
            r.phone.as_deref(),
            r.email.as_deref(),
            r.nhs_number.as_deref(),
        ];
        for (k, f) in fields.iter().enumerate() {
            if k > 0 {
                out.write_all(b",")?;
            }
            field(&mut out, *f)?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()
}
