//! The raw demographics of one source record, as a feed supplied them.
//!
//! Everything is optional free text: normalisation (see [`crate::normalise`]) decides what it
//! means. Keeping the raw values lets an explanation quote what the source actually said.
use serde::{Deserialize, Serialize};

/// One source record's demographics. Empty strings are treated as missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Forename(s), possibly with a title or middle names ("Dr Mary Anne").
    pub given_name: Option<String>,
    /// Current family name; double-barrelled names may use a hyphen or a space.
    pub family_name: Option<String>,
    /// Previous family names (maiden names), most recent first.
    pub previous_family_names: Vec<String>,
    /// Date of birth: `YYYY-MM-DD`, `YYYYMMDD` or `DD/MM/YYYY`.
    pub date_of_birth: Option<String>,
    /// Administrative sex / gender: `male`, `female`, `M`, `F`, `other`, `unknown`, ...
    pub sex: Option<String>,
    /// Postcode in any spacing or case.
    pub postcode: Option<String>,
    /// First line(s) of the address, house number included.
    pub address_line: Option<String>,
    /// Town or city (or suburb).
    pub town: Option<String>,
    /// Telephone number in any UK form (`+44 7700 900123`, `07700900123`).
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// NHS number as supplied (spaces and dashes allowed).
    pub nhs_number: Option<String>,
    /// Whether the source says the NHS number was traced/verified against PDS. `None`: not said.
    pub nhs_number_verified: Option<bool>,
    /// Place in a multiple birth (1 for the first-born twin, 2 for the second...), where the
    /// source says (FHIR `Patient.multipleBirthInteger`, HL7 v2 PID-25). Two records that give
    /// different places are two people, however alike the rest.
    pub birth_order: Option<u32>,
}

/// The value of an optional text field, or `None` when missing or blank.
pub(crate) fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}
