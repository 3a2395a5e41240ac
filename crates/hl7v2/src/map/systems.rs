// Identifier and code systems used by the maps, in one place: Lantern's own provenance tag
// systems, UK Core (NHS number, ODS), and the code systems of the v2-to-FHIR IG's vocabulary
// maps (HL7 table 0396 coding system names to FHIR URIs).

/// `meta.tag` system naming the feed a resource came from.
pub const FEED_TAG_SYSTEM: &str = "https://lantern.health/feed";
/// `meta.tag` system naming the owning organisation (ODS code).
pub const ORGANISATION_TAG_SYSTEM: &str = "https://lantern.health/organisation";
/// Root of default feed URIs.
pub const FEED_URI_BASE: &str = "https://lantern.health/feed";
/// UK Core NHS number.
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// ODS organisation codes.
pub const ODS_ORGANISATION: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// UCUM.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// v2 message control ids in Provenance.entity.
pub const V2_MESSAGE: &str = "https://lantern.health/hl7v2/message";

/// FHIR system for a v2 coding system name (table 0396), or a v2 table `HL7nnnn`.
pub fn coding_system(name: &str) -> Option<String> {
    let n = name.trim();
    let upper = n.to_ascii_uppercase();
    let known = match upper.as_str() {
        "" => return None,
        "LN" | "LOINC" => "http://loinc.org",
        "SCT" | "SNM" | "SNOMED" | "SNOMEDCT" | "SNOMED-CT" => "http://snomed.info/sct",
        "I10" | "ICD10" | "ICD-10" | "I10C" => "http://hl7.org/fhir/sid/icd-10",
        "I9" | "I9C" | "ICD9" => "http://hl7.org/fhir/sid/icd-9-cm",
        "UCUM" | "ISO+" => UCUM,
        "CVX" => "http://hl7.org/fhir/sid/cvx",
        "MVX" => "http://terminology.hl7.org/CodeSystem/MVX",
        "NDC" => "http://hl7.org/fhir/sid/ndc",
        "RXNORM" => "http://www.nlm.nih.gov/research/umls/rxnorm",
        "NCIT" => "http://ncimeta.nci.nih.gov",
        "CPT" | "C4" => "http://www.ama-assn.org/go/cpt",
        "DMD" => "https://dmd.nhs.uk",
        "OPCS" | "OPCS4" => "http://fhir.nhs.net/CodeSystem/opcs-4",
        "READ" | "RD2" | "CTV3" => "http://read.info/ctv3",
        "HL70396" => "http://terminology.hl7.org/CodeSystem/v2-0396",
        _ => {
            if let Some(num) = upper.strip_prefix("HL7") {
                if num.len() == 4 && num.bytes().all(|b| b.is_ascii_digit()) {
                    return Some(format!("http://terminology.hl7.org/CodeSystem/v2-{num}"));
                }
            }
            if upper.starts_with("99") || upper.starts_with('L') && upper.len() <= 3 {
                // Local coding systems (99zzz, L): no global URI.
                return None;
            }
            if n.starts_with("http://") || n.starts_with("https://") || n.starts_with("urn:") {
                return Some(n.to_string());
            }
            if n.chars().all(|c| c.is_ascii_digit() || c == '.') && n.contains('.') {
                return Some(format!("urn:oid:{n}"));
            }
            return None;
        }
    };
    Some(known.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_common_systems() {
        assert_eq!(coding_system("LN").as_deref(), Some("http://loinc.org"));
        assert_eq!(
            coding_system("HL70005").as_deref(),
            Some("http://terminology.hl7.org/CodeSystem/v2-0005")
        );
        assert_eq!(coding_system("2.16.840.1.113883.6.1").as_deref(), Some("urn:oid:2.16.840.1.113883.6.1"));
        assert_eq!(coding_system("99ZZZ"), None);
        assert_eq!(coding_system(""), None);
    }
}
