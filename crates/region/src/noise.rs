//! How each kind of system records a person: the errors of `lantern_identity::gen`, at rates
//! that differ by source. GP records are the cleanest (registration checks the NHS number
//! against the national index); hospital records sometimes lack the NHS number or keep an old
//! address; social care often has no NHS number at all and more spelling variation. A second
//! registration in the same system (a duplicate) is typed in a hurry: no NHS number, a
//! misspelling, perhaps the old address — the patient index has real work.
use crate::orgs::Kind;
use crate::people::{Demographics, Person};
use lantern_identity::gen::parts;
use lantern_identity::gen::Rng;

struct Rates {
    no_nhs: f64,
    typo: f64,
    nickname: f64,
    old_address: f64,
    no_phone: f64,
    maiden: f64,
}

fn rates(kind: Kind) -> Rates {
    match kind {
        Kind::Gp => {
            Rates { no_nhs: 0.0, typo: 0.005, nickname: 0.0, old_address: 0.0, no_phone: 0.1, maiden: 0.0 }
        }
        Kind::Acute => {
            Rates { no_nhs: 0.08, typo: 0.03, nickname: 0.04, old_address: 0.5, no_phone: 0.3, maiden: 0.2 }
        }
        Kind::Community | Kind::MentalHealth => {
            Rates { no_nhs: 0.1, typo: 0.03, nickname: 0.05, old_address: 0.3, no_phone: 0.3, maiden: 0.2 }
        }
        Kind::SocialCare => {
            Rates { no_nhs: 0.45, typo: 0.06, nickname: 0.1, old_address: 0.4, no_phone: 0.4, maiden: 0.3 }
        }
    }
}

/// The person as a system of `kind` recorded them.
pub(crate) fn as_recorded(
    rng: &mut Rng,
    p: &Person,
    truth: &Demographics,
    kind: Kind,
    duplicate: bool,
) -> Demographics {
    let r = rates(kind);
    let mut d = truth.clone();
    if rng.chance(r.nickname) || duplicate && rng.chance(0.2) {
        if let Some(n) = parts::nickname(rng, &d.given) {
            d.given = n;
            d.middle = None;
        }
    }
    if rng.chance(r.typo) {
        d.given = parts::typo(rng, &d.given);
    }
    if let Some(m) = &p.maiden {
        if rng.chance(r.maiden) {
            d.family = m.clone();
        }
    }
    if rng.chance(r.typo) || duplicate {
        d.family = parts::typo(rng, &d.family);
    }
    if rng.chance(r.old_address) || duplicate && rng.chance(0.5) {
        if let Some(old) = &p.previous_address {
            d.address = Some(old.clone());
        }
    }
    if let Some(a) = d.address.as_mut() {
        if rng.chance(r.typo) {
            a.postcode = parts::postcode_typo(rng, &a.postcode);
        }
    }
    if rng.chance(r.no_phone) {
        d.phone = None;
    }
    if rng.chance(r.no_nhs) || duplicate {
        d.nhs_number = None;
    }
    if kind != Kind::Gp && rng.chance(0.01) {
        // A day and month transposed, where that still makes a date.
        let (m, day) = (u8::from(d.birth_date.month()), d.birth_date.day());
        if day <= 12 && day != m {
            if let Ok(month) = time::Month::try_from(day) {
                if let Ok(t) = time::Date::from_calendar_date(d.birth_date.year(), month, m) {
                    d.birth_date = t;
                }
            }
        }
    }
    d
}
