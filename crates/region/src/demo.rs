//! Showcase patients and demo users: the people worth opening in the viewer, and who to be
//! when opening them.
//!
//! Showcases are chosen from the generated people by age and sex, then their plans are
//! widened or narrowed so each shows one thing: a record joined up across five organisations
//! with a merged medication list; a legally restricted item; an opt-out; duplicate hospital
//! registrations for the patient index; and a patient the acute trust has never seen, so the
//! A&E doctor must break the glass.
use crate::clock::iso_date;
use crate::orgs::Kind;
use crate::people::{Person, Restricted, Traits};
use crate::Region;
use serde_json::{json, Value};

/// A patient worth opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Showcase {
    pub nhs_number: String,
    pub name: String,
    pub birth_date: String,
    pub why: String,
}

impl Showcase {
    pub fn to_json(&self) -> Value {
        json!({"nhs_number": self.nhs_number, "name": self.name, "birth_date": self.birth_date, "why": self.why})
    }
}

/// Someone to be in the demo: a user at an organisation, or a patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub id: String,
    pub name: String,
    /// `user` or `patient`.
    pub kind: &'static str,
    pub role: &'static str,
    pub org: String,
    pub org_name: String,
    /// Purpose of use (TREAT, PATRQT).
    pub purpose: &'static str,
    pub nhs_number: Option<String>,
    pub blurb: String,
}

impl DemoUser {
    pub fn to_json(&self) -> Value {
        let mut v = json!({"id": self.id, "name": self.name, "kind": self.kind, "role": self.role,
            "purpose": self.purpose, "blurb": self.blurb});
        if !self.org.is_empty() {
            v["org"] = json!(self.org);
            v["org_name"] = json!(self.org_name);
        }
        if let Some(n) = &self.nhs_number {
            v["nhs_number"] = json!(n);
        }
        v
    }
}

/// The chosen showcase people (by person id).
#[derive(Debug, Clone, Default)]
pub(crate) struct Picks {
    pub(crate) joined_up: Option<u32>,
    restricted: Option<u32>,
    opted_out: Option<u32>,
    duplicate: Option<u32>,
    unknown_to_acute: Option<u32>,
}

pub(crate) fn pick(people: &[Person], now: i64) -> Picks {
    let mut taken: Vec<u32> = Vec::new();
    let mut first = |f: &dyn Fn(&Person) -> bool| {
        let p = people.iter().find(|p| !taken.contains(&p.id) && f(p))?;
        taken.push(p.id);
        Some(p.id)
    };
    let age = |p: &Person| p.age(now);
    Picks {
        joined_up: first(&|p| (62..=84).contains(&age(p))),
        restricted: first(&|p| p.female && (20..=40).contains(&age(p))),
        opted_out: first(&|p| (30..=70).contains(&age(p))),
        duplicate: first(&|p| (40..=80).contains(&age(p))),
        unknown_to_acute: first(&|p| (25..=60).contains(&age(p))),
    }
}

impl Picks {
    /// (organisation kinds forced, kinds excluded, registered twice at the hospital).
    pub(crate) fn plan_for(&self, id: u32) -> (&'static [Kind], &'static [Kind], bool) {
        let is = |x: Option<u32>| x == Some(id);
        if is(self.joined_up) {
            (&[Kind::Acute, Kind::Community, Kind::MentalHealth, Kind::SocialCare], &[], false)
        } else if is(self.restricted) || is(self.opted_out) {
            (&[Kind::Acute], &[], false)
        } else if is(self.duplicate) {
            (&[Kind::Acute], &[], true)
        } else if is(self.unknown_to_acute) {
            (&[Kind::Community], &[Kind::Acute], false)
        } else {
            (&[], &[], false)
        }
    }

    pub(crate) fn adjust_traits(&self, id: u32, t: &mut Traits) {
        let is = |x: Option<u32>| x == Some(id);
        if is(self.restricted) {
            *t = Traits {
                opted_out: false,
                restricted: Some((Restricted::SexuallyTransmittedInfection, Kind::Gp)),
            };
        } else if is(self.opted_out) {
            *t = Traits { opted_out: true, restricted: None };
        } else if [self.joined_up, self.duplicate, self.unknown_to_acute].iter().any(|x| is(*x)) {
            *t = Traits::default();
        }
    }

    pub(crate) fn showcase(&self, r: &Region) -> Vec<Showcase> {
        let mut out = Vec::new();
        let mut add = |id: Option<u32>, why: String| {
            if let Some(p) = id.and_then(|id| r.people.iter().find(|p| p.id == id)) {
                out.push(Showcase {
                    nhs_number: p.nhs_number.clone(),
                    name: format!("{} {}", p.given, p.family),
                    birth_date: iso_date(p.birth_date),
                    why,
                });
            }
        };
        let names = |id: Option<u32>| -> String {
            let Some(p) = id.and_then(|id| r.people.iter().find(|p| p.id == id)) else {
                return String::new();
            };
            p.organisations().iter().map(|o| r.orgs[*o].name).collect::<Vec<_>>().join(", ")
        };
        add(
            self.joined_up,
            format!(
                "Records at {}: hospital admission, community and mental-health episodes, social care; \
                 the GP's repeat medicines are repeated in the hospital's discharge medicines, so the \
                 merged medication list shows one line per medicine with both sources",
                names(self.joined_up)
            ),
        );
        add(
            self.restricted,
            "The GP practice recorded a sexually transmitted infection: legally restricted, so only the \
             practice sees it; the hospital sees the rest of the record"
                .into(),
        );
        add(
            self.opted_out,
            "Opted out of sharing (a privacy Consent at the GP practice): each organisation still sees \
             its own records, no one else's"
                .into(),
        );
        add(
            self.duplicate,
            "Registered twice at the hospital: the second record has no NHS number, a misspelt surname \
             and perhaps an old address; the patient index must link it or ask a person to review it"
                .into(),
        );
        add(
            self.unknown_to_acute,
            format!(
                "Known to {} but never seen by the acute trust: an A&E doctor has no care relationship \
                 and must break the glass (reason required, time-limited, reviewed by the privacy officer)",
                names(self.unknown_to_acute)
            ),
        );
        out
    }

    pub(crate) fn users(&self, r: &Region) -> Vec<DemoUser> {
        let find = |k: Kind| r.orgs.iter().find(|o| o.kind == k);
        let person = self.joined_up.and_then(|id| r.people.iter().find(|p| p.id == id));
        let practice = person.and_then(|p| p.records.first()).map(|rec| &r.orgs[rec.org]).or(find(Kind::Gp));
        let mut out = Vec::new();
        let mut user = |id: &str, name: &str, role: &'static str, org: Option<&crate::Org>, blurb: &str| {
            if let Some(o) = org {
                out.push(DemoUser {
                    id: id.into(),
                    name: name.into(),
                    kind: "user",
                    role,
                    org: o.ods.into(),
                    org_name: o.name.into(),
                    purpose: "TREAT",
                    nhs_number: None,
                    blurb: blurb.into(),
                });
            }
        };
        user(
            "gp-ahmed",
            "Dr Sara Ahmed",
            "gp",
            practice,
            "GP at the joined-up showcase patient's practice: sees their whole shared record",
        );
        user(
            "ae-okafor",
            "Dr Ben Okafor",
            "ae-doctor",
            find(Kind::Acute),
            "A&E doctor at the acute trust: sees patients the trust cares for; breaks the glass for one it has never seen",
        );
        user(
            "sw-whitfield",
            "Jo Whitfield",
            "social-worker",
            find(Kind::SocialCare),
            "Social worker at the council: sees care plans and encounters, not results, medicines or problems",
        );
        user(
            "po-nair",
            "Priya Nair",
            "privacy-officer",
            find(Kind::Acute),
            "Privacy officer: reviews break-glass accesses and answers 'who looked at my record'",
        );
        user(
            "dq-ellis",
            "Mark Ellis",
            "data-quality",
            find(Kind::Acute),
            "Data-quality officer: works the patient index's review queue (duplicates, near matches)",
        );
        let glass = self.unknown_to_acute.and_then(|id| r.people.iter().find(|p| p.id == id));
        let patients = [
            (person, "The joined-up showcase patient: sees their own record and who has looked at it"),
            (
                glass,
                "Never seen by the acute trust: after the A&E doctor breaks the glass, sees that \
                 emergency access, with its reason, in who looked at their record",
            ),
        ];
        for (p, blurb) in patients {
            let Some(p) = p else { continue };
            out.push(DemoUser {
                id: format!("patient-{}", p.nhs_number),
                name: format!("{} {}", p.given, p.family),
                kind: "patient",
                role: "patient",
                org: String::new(),
                org_name: String::new(),
                purpose: "PATRQT",
                nhs_number: Some(p.nhs_number.clone()),
                blurb: blurb.into(),
            });
        }
        out
    }
}
