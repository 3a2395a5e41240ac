//! # lantern-region — a synthetic health and care region
//!
//! Lantern's own test region: a handful of GP practices, an acute hospital trust, a community
//! trust, a mental-health trust and a council's social care, with ODS-style codes; people with
//! test-range NHS numbers, UK names, dates of birth, addresses and households; and their life
//! stories over the last three years — registrations, consultations, problems, allergies,
//! medicines, results, immunisations, appointments, admissions and discharges, community and
//! mental-health episodes and care plans, social care involvement, a few legally restricted
//! items and opt-outs. `lantern demo` loads it; tests and benchmarks use it as a source with
//! known answers.
//!
//! ## Why it is shaped so
//!
//! * **Each organisation speaks its own dialect, through Lantern's real paths.** The hospital's
//!   PAS sends HL7 v2 ([`acute`]), GP practices and the community and mental-health trusts send
//!   FHIR transaction bundles ([`gp`], [`care`]), the council sends CSV with a column mapping
//!   ([`social`]). Nothing is written to the store directly, so loading the region exercises
//!   the MLLP listener, the v2 maps, the import path, the policy's labeller and the patient
//!   index exactly as live feeds would.
//! * **Cheap plan, streamed payloads.** [`Region::new`] makes the organisations, the people and
//!   the plan of who has a record where (a few hundred bytes per person). The payloads of one
//!   person are made on demand by [`Region::deliveries_for`] from that person's own random
//!   stream, so 10,000 or 1,000,000 people never need all their messages in memory, and any
//!   person's deliveries can be made alone, in any order, on any thread.
//! * **Deterministic.** Everything follows from the seed and `now` (a parameter, so tests are
//!   stable): the same configuration gives byte-identical output.
//! * **Ground truth kept.** Every source record (organisation, local identifier) knows its true
//!   person, so [`Region::write_truth_csv`] lets the patient index be scored, and the records
//!   carry the errors real feeds make ([`noise`]): missing NHS numbers, misspellings, nicknames,
//!   maiden names, old addresses, and a few people registered twice in one system.
//! * **Policy-shaped.** Care relationships arise as the policy derives them (registrations,
//!   encounters, appointments, episodes), restricted items use codes on the policy's lists, and
//!   opt-outs are the Consent shape the policy recognises. [`Region::config_toml`] is the
//!   `[policy]` and `[[feed]]` configuration that matches.
//!
//! Invariant: depends on no store, service, server or feeds crate — it only makes text.
mod acute;
mod bundle;
mod care;
mod clock;
mod codes;
mod demo;
mod gp;
mod noise;
pub mod orgs;
pub mod people;
mod social;
mod story;

pub use demo::{DemoUser, Showcase};
pub use orgs::{Kind, Org, Transport};
pub use people::{Address, Demographics, Person, Restricted, SourceRecord, Traits};
pub use social::CsvTable;

use std::io::{self, Write};

/// What to generate.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    /// How many people.
    pub patients: usize,
    pub seed: u64,
    /// "Now", as Unix seconds: stories end here, future appointments start after it.
    pub now: i64,
}

/// What one delivery carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// One HL7 v2 message (segments separated by `\r`).
    V2(String),
    /// One FHIR transaction Bundle (JSON).
    Bundle(String),
    /// Rows for one of [`Region::csv_tables`], in its header's column order.
    Csv { table: &'static str, rows: Vec<Vec<String>> },
}

/// One thing a feed sends about one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Index into [`Region::organisations`].
    pub org: usize,
    /// The feed id.
    pub feed: &'static str,
    pub payload: Payload,
}

/// A generated region.
#[derive(Debug, Clone)]
pub struct Region {
    cfg: RegionConfig,
    orgs: Vec<Org>,
    people: Vec<Person>,
    showcase: demo::Picks,
}

impl Region {
    /// Organisations, people and their plans (no payloads yet).
    pub fn new(cfg: RegionConfig) -> Region {
        let orgs = orgs::all();
        let practices: Vec<usize> = (0..orgs.len()).filter(|&i| orgs[i].kind == Kind::Gp).collect();
        let mut b = people::Builder::new(cfg.seed, &orgs, cfg.now, cfg.patients);
        let mut people: Vec<Person> = Vec::with_capacity(cfg.patients + 4);
        let mut household = 0u32;
        while people.len() < cfg.patients {
            let h = b.household(people.len() as u32, household);
            household += 1;
            let room = cfg.patients - people.len();
            people.extend(h.into_iter().take(room));
        }
        let picks = demo::pick(&people, cfg.now);
        for p in people.iter_mut() {
            let practice = practices
                [(crate::bundle::hash(&format!("household{}", p.household)) as usize) % practices.len()];
            let (force, exclude, dup) = picks.plan_for(p.id);
            let age = p.age(cfg.now);
            let mut traits = Traits { opted_out: b.rng.chance(0.02), restricted: None };
            if (16..50).contains(&age) && b.rng.chance(0.015) {
                let r = match b.rng.below(4) {
                    0 => Restricted::SexuallyTransmittedInfection,
                    1 if p.female => Restricted::AssistedConception,
                    2 if p.female => Restricted::Termination,
                    3 => Restricted::GenderReassignment,
                    _ => Restricted::SexuallyTransmittedInfection,
                };
                let by = if r == Restricted::Termination { Kind::Acute } else { Kind::Gp };
                traits.restricted = Some((r, by));
            }
            picks.adjust_traits(p.id, &mut traits);
            p.traits = traits;
            let mut force = force.to_vec();
            if matches!(p.traits.restricted, Some((_, Kind::Acute))) {
                force.push(Kind::Acute);
            }
            b.plan(p, practice, &force, exclude, dup);
        }
        Region { cfg, orgs, people, showcase: picks }
    }

    pub fn config(&self) -> &RegionConfig {
        &self.cfg
    }

    pub fn organisations(&self) -> &[Org] {
        &self.orgs
    }

    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// The `[policy]` section and `[[feed]]` tables for this region (one TOML file).
    pub fn config_toml(&self) -> String {
        orgs::config_toml(&self.orgs)
    }

    /// The CSV tables the council sends, in the order they must be loaded.
    pub fn csv_tables(&self) -> Vec<CsvTable> {
        self.orgs.iter().filter(|o| o.transport == Transport::Csv).flat_map(social::tables).collect()
    }

    /// Everything every feed sends about person `index` (0-based), in the order each feed sends it.
    pub fn deliveries_for(&self, index: usize) -> Vec<Delivery> {
        let Some(p) = self.people.get(index) else { return Vec::new() };
        let now = self.cfg.now;
        let mut rng = story::stream(self.cfg.seed, p.id, "story");
        let joined_up = self.showcase.joined_up == Some(p.id);
        let prof = story::profile(&mut rng, p, now, joined_up);
        let gp = p.records.first().map(|r| &self.orgs[r.org]).unwrap_or(&self.orgs[0]);
        let mut out = Vec::new();
        for rec in &p.records {
            let org = &self.orgs[rec.org];
            let mut rng = story::stream(self.cfg.seed, p.id, &rec.local_id);
            let mut send = |payload| out.push(Delivery { org: rec.org, feed: org.feed, payload });
            match org.kind {
                Kind::Gp => send(Payload::Bundle(gp::bundle(&mut rng, p, rec, org, &prof, now))),
                Kind::Acute => {
                    for m in acute::messages(&mut rng, p, rec, org, gp, &prof, now, joined_up) {
                        send(Payload::V2(m));
                    }
                }
                Kind::Community | Kind::MentalHealth => {
                    send(Payload::Bundle(care::bundle(&mut rng, rec, org, gp, now)))
                }
                Kind::SocialCare => {
                    send(Payload::Csv { table: "clients", rows: vec![social::client_row(rec)] });
                    let rows = social::involvement_rows(&mut rng, rec, p.age(now) < 18, now);
                    send(Payload::Csv { table: "involvements", rows });
                }
            }
        }
        out
    }

    /// Ground truth: every source record as (organisation ODS, identifier system, local id,
    /// person id, duplicate).
    pub fn truth(&self) -> impl Iterator<Item = (&Org, &SourceRecord, u32)> + '_ {
        self.people.iter().flat_map(move |p| p.records.iter().map(move |r| (&self.orgs[r.org], r, p.id)))
    }

    /// Writes the ground truth as CSV: `ods,feed,system,local_id,person,duplicate,has_nhs_number`.
    pub fn write_truth_csv(&self, out: impl Write) -> io::Result<()> {
        let mut out = io::BufWriter::new(out);
        writeln!(out, "ods,feed,system,local_id,person,duplicate,has_nhs_number")?;
        for (o, r, person) in self.truth() {
            writeln!(
                out,
                "{},{},{},{},{person},{},{}",
                o.ods,
                o.feed,
                o.local_system,
                r.local_id,
                r.duplicate,
                r.demographics.nhs_number.is_some()
            )?;
        }
        out.flush()
    }

    /// The showcase patients (each with why it is worth opening).
    pub fn showcase(&self) -> Vec<Showcase> {
        self.showcase.showcase(self)
    }

    /// The demo users and the demo patient.
    pub fn users(&self) -> Vec<DemoUser> {
        self.showcase.users(self)
    }
}

#[cfg(test)]
mod tests;
