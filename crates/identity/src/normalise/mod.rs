//! Normalisation: from what a feed said to values that can be compared.
//!
//! Each field has its own file. Normalisation never fails: a value that cannot be understood is
//! dropped (treated as missing, so it contributes no evidence) or, for NHS numbers, kept with a
//! status that says why it will not be used.
mod address;
mod date;
mod name;
pub(crate) mod nicknames;
mod phone;
mod postcode;
mod sex;
pub(crate) mod text;

pub use address::{address, town, Address};
pub use date::{date, date_digits, Date};
pub use name::{family_name, given_name, FamilyName, GivenName};
pub use nicknames::are_nicknames;
pub use phone::phone;
pub use postcode::{postcode, Postcode};
pub use sex::{sex, Sex};

use crate::nhs_number::{NhsNumber, NhsNumberStatus};
use crate::record::{present, Record};

/// A record's demographics after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalised {
    /// Forename.
    pub given: Option<GivenName>,
    /// Current surname.
    pub family: Option<FamilyName>,
    /// Previous surnames (maiden names), normalised.
    pub previous_family: Vec<String>,
    /// Date of birth.
    pub dob: Option<Date>,
    /// The digits of a date of birth that is not a real date (a typo such as month 50): still
    /// compared digit by digit, never shown as a date.
    pub dob_digits: Option<u32>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Postcode.
    pub postcode: Option<Postcode>,
    /// Address line.
    pub address: Option<Address>,
    /// Town.
    pub town: Option<String>,
    /// Phone, national form.
    pub phone: Option<String>,
    /// E-mail, lower case.
    pub email: Option<String>,
    /// NHS number if valid.
    pub nhs_number: Option<NhsNumber>,
    /// Why a supplied NHS number was not accepted (`None` if valid or absent).
    pub nhs_number_problem: Option<NhsNumberStatus>,
    /// Whether the source says the NHS number is verified (`None`: not said).
    pub nhs_number_verified: Option<bool>,
    /// Place in a multiple birth, if given (0 is not a place).
    pub birth_order: Option<u32>,
}

/// Normalises every field of a record.
pub fn normalise(r: &Record) -> Normalised {
    let (nhs_number, nhs_number_problem) = match present(&r.nhs_number).map(NhsNumber::parse) {
        None => (None, None),
        Some(Ok(n)) => (Some(n), None),
        Some(Err(status)) => (None, Some(status)),
    };
    let family = present(&r.family_name).and_then(family_name);
    let previous_family = r
        .previous_family_names
        .iter()
        .filter_map(|p| family_name(p))
        .map(|f| f.full)
        .filter(|p| family.as_ref().is_none_or(|f| &f.full != p))
        .collect();
    Normalised {
        given: present(&r.given_name).and_then(given_name),
        family,
        previous_family,
        dob: present(&r.date_of_birth).and_then(date),
        dob_digits: present(&r.date_of_birth).filter(|d| date(d).is_none()).and_then(date_digits),
        sex: present(&r.sex).and_then(sex),
        postcode: present(&r.postcode).and_then(postcode),
        address: present(&r.address_line).and_then(address),
        town: present(&r.town).and_then(town),
        phone: present(&r.phone).and_then(phone),
        email: present(&r.email).map(str::to_lowercase).filter(|e| e.contains('@')),
        nhs_number,
        nhs_number_problem,
        nhs_number_verified: r.nhs_number_verified,
        birth_order: r.birth_order.filter(|n| *n > 0),
    }
}
