//! Administrative sex/gender as FHIR `AdministrativeGender`; `unknown` is treated as missing.
use serde::{Deserialize, Serialize};

/// Administrative gender (FHIR R4 value set, less `unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// male
    Male,
    /// female
    Female,
    /// other
    Other,
}

impl Sex {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
        }
    }
}

/// Reads `M`/`male`/`1`, `F`/`female`/`2`, `O`/`other`/`I`; anything else (unknown, 0, 9, blank)
/// is `None`. The digits follow the NHS Data Dictionary "person stated gender code".
pub fn sex(text: &str) -> Option<Sex> {
    match text.trim().to_ascii_lowercase().as_str() {
        "m" | "male" | "man" | "1" => Some(Sex::Male),
        "f" | "female" | "woman" | "2" => Some(Sex::Female),
        "o" | "other" | "i" | "indeterminate" | "x" => Some(Sex::Other),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(sex(" F "), Some(Sex::Female));
        assert_eq!(sex("Male"), Some(Sex::Male));
        assert_eq!(sex("9"), None);
        assert_eq!(sex("unknown"), None);
    }
}
