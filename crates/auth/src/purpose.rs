//! Purpose of use, as HL7 v3 `PurposeOfUse` codes (<http://terminology.hl7.org/CodeSystem/v3-ActReason>).
//!
//! Tokens may carry a code or one of Lantern's plain words; both normalise to the code:
//!
//! | code      | meaning                           | words accepted                              |
//! |-----------|-----------------------------------|---------------------------------------------|
//! | `TREAT`   | direct care                       | `direct-care`, `treatment`                  |
//! | `ETREAT`  | emergency treatment (break-glass) | `emergency`, `break-glass`                  |
//! | `PATRQT`  | the patient's own request         | `patient-access`, `patient-request`         |
//! | `HOPERAT` | healthcare operations (e.g. audit review) | `operations`, `audit`               |
//! | `HRESCH`  | research / secondary use          | `secondary-use`, `research`                 |
//! | `PUBHLTH` | public health                     | `public-health`                             |
//!
//! Matching ignores case, and `_` counts as `-`.
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// `TREAT`: direct care.
    Treat,
    /// `ETREAT`: emergency treatment, the break-glass purpose.
    EmergencyTreat,
    /// `PATRQT`: the patient asking about their own record.
    PatientRequest,
    /// `HOPERAT`: healthcare operations, e.g. a privacy officer's review.
    Operations,
    /// `HRESCH`: research; Lantern's `secondary-use`.
    Research,
    /// `PUBHLTH`: public health.
    PublicHealth,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Purpose::Treat,
        Purpose::EmergencyTreat,
        Purpose::PatientRequest,
        Purpose::Operations,
        Purpose::Research,
        Purpose::PublicHealth,
    ];

    /// Parses a code or word (see the module table). `None` if unknown.
    pub fn parse(s: &str) -> Option<Purpose> {
        let s = s.trim();
        if s.len() > 32 {
            return None;
        }
        let norm = s.to_ascii_uppercase().replace('_', "-");
        Some(match norm.as_str() {
            "TREAT" | "DIRECT-CARE" | "TREATMENT" => Purpose::Treat,
            "ETREAT" | "EMERGENCY" | "BREAK-GLASS" => Purpose::EmergencyTreat,
            "PATRQT" | "PATIENT-ACCESS" | "PATIENT-REQUEST" => Purpose::PatientRequest,
            "HOPERAT" | "OPERATIONS" | "AUDIT" => Purpose::Operations,
            "HRESCH" | "SECONDARY-USE" | "RESEARCH" => Purpose::Research,
            "PUBHLTH" | "PUBLIC-HEALTH" => Purpose::PublicHealth,
            _ => return None,
        })
    }

    /// The HL7 v3 code, e.g. `TREAT`.
    pub fn code(self) -> &'static str {
        match self {
            Purpose::Treat => "TREAT",
            Purpose::EmergencyTreat => "ETREAT",
            Purpose::PatientRequest => "PATRQT",
            Purpose::Operations => "HOPERAT",
            Purpose::Research => "HRESCH",
            Purpose::PublicHealth => "PUBHLTH",
        }
    }

    /// Use beyond the care of this patient: the national data opt-out applies.
    pub fn is_secondary(self) -> bool {
        matches!(self, Purpose::Research | Purpose::PublicHealth)
    }

    /// The accepted codes, for error messages.
    pub(crate) fn vocabulary() -> String {
        let codes: Vec<&str> = Purpose::ALL.iter().map(|p| p.code()).collect();
        codes.join(", ")
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_words() {
        let table = [
            ("TREAT", Purpose::Treat),
            ("treat", Purpose::Treat),
            ("direct-care", Purpose::Treat),
            ("Direct_Care", Purpose::Treat),
            ("ETREAT", Purpose::EmergencyTreat),
            ("emergency", Purpose::EmergencyTreat),
            ("break-glass", Purpose::EmergencyTreat),
            ("PATRQT", Purpose::PatientRequest),
            ("patient-access", Purpose::PatientRequest),
            ("HOPERAT", Purpose::Operations),
            ("HRESCH", Purpose::Research),
            ("secondary-use", Purpose::Research),
            ("PUBHLTH", Purpose::PublicHealth),
        ];
        for (s, want) in table {
            assert_eq!(Purpose::parse(s), Some(want), "{s}");
        }
        assert_eq!(Purpose::parse("shopping"), None);
        assert_eq!(Purpose::parse(""), None);
    }

    #[test]
    fn codes_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.code()), Some(p));
        }
        assert!(Purpose::Research.is_secondary());
        assert!(!Purpose::Treat.is_secondary());
    }
}
