//! Legally restricted data: labelled on arrival from code lists, withheld outside the
//! organisation that recorded it.
//!
//! The four statutory categories (assisted conception and IVF, sexually transmitted infections,
//! termination of pregnancy, gender reassignment) each get one bit in the store's `sec` column,
//! so the access filter withholds them with one bitwise test per row. A resource is labelled
//! when any coding anywhere in it (code, reasonCode, category, valueCodeableConcept, ...)
//! is on a list, or when the sender already marked it with an HL7 v3 sensitivity or
//! confidentiality code.
//!
//! The shipped SNOMED CT lists are a starting point of well-known concepts, not the
//! authoritative sets: NHS England publishes the "GP summary exclusion" reference sets for
//! exactly these four categories, and a deployment should load their members through
//! `[[policy.label]]` (with `replace_default_labels` if it wants only those). Descendant
//! concepts are not inferred: Lantern has no SNOMED hierarchy, so lists must be expanded.
use crate::config::LabelConfig;
use serde_json::Value;
use std::collections::HashMap;

pub const SNOMED: &str = "http://snomed.info/sct";
/// HL7 v3 ActCode (sensitivity codes such as STD, SEX, ETH...) and Confidentiality (R, V).
pub const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const V3_CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
/// Lantern's own label system, written into `meta.security` of labelled resources.
pub const LABEL_SYSTEM: &str = "https://lantern.health/label";

/// The shipped categories: (name, description, SNOMED CT concept ids).
pub const DEFAULTS: &[(&str, &str, &[&str])] = &[
    (
        "assisted-conception",
        "Assisted conception and in vitro fertilisation (HFEA Act 1990)",
        &[
            "52637005",  // In vitro fertilization
            "63487001",  // Artificial insemination
            "265063000", // Intracytoplasmic sperm injection
            "177037000", // Embryo transfer
        ],
    ),
    (
        "sexually-transmitted-infection",
        "Sexually transmitted infections (NHS Venereal Diseases Regulations)",
        &[
            "8098009",   // Sexually transmitted infectious disease
            "15628003",  // Gonorrhea
            "76272004",  // Syphilis
            "105629000", // Chlamydial infection
            "240589008", // Chlamydia trachomatis infection
            "33839006",  // Genital herpes simplex
            "266113007", // Genital warts
            "56627002",  // Trichomoniasis
            "86406008",  // Human immunodeficiency virus infection
        ],
    ),
    (
        "termination-of-pregnancy",
        "Termination of pregnancy (Abortion Regulations 1991)",
        &[
            "386639001", // Termination of pregnancy
            "714812005", // Induced termination of pregnancy
            "57797005",  // Induced abortion
        ],
    ),
    (
        "gender-reassignment",
        "Gender reassignment (Gender Recognition Act 2004)",
        &[
            "93461009",  // Gender dysphoria
            "407374003", // Transsexual
            "407376001", // Male-to-female transsexual
            "407377005", // Female-to-male transsexual
            "7000001",   // Sex reassignment surgery (procedure family)
        ],
    ),
];

/// Sender-applied labels that are treated as restricted on their own.
const RESTRICTED_SECURITY: &[(&str, &str)] = &[
    (V3_ACT_CODE, "STD"),   // sexually transmitted disease information sensitivity
    (V3_ACT_CODE, "SEX"),   // sexuality and reproductive health information sensitivity
    (V3_ACT_CODE, "SDV"),   // sexual assault, abuse or domestic violence
    (V3_ACT_CODE, "TRANS"), // transgender
    (V3_CONFIDENTIALITY, "R"),
    (V3_CONFIDENTIALITY, "V"),
];

/// A compiled set of labels: (system, code) -> bit.
#[derive(Debug, Clone)]
pub struct Labels {
    names: Vec<(String, String)>,
    codes: HashMap<(String, String), i64>,
    /// The bit for sender-applied restricted labels that map to no category.
    sender_bit: i64,
}

impl Labels {
    pub fn new(extra: &[LabelConfig], replace_defaults: bool) -> Result<Labels, String> {
        let mut names: Vec<(String, String)> = Vec::new();
        let mut codes = HashMap::new();
        let bit_of =
            |name: &str, description: &str, names: &mut Vec<(String, String)>| -> Result<i64, String> {
                if let Some(i) = names.iter().position(|(n, _)| n == name) {
                    return Ok(1 << i);
                }
                if names.len() >= 30 {
                    return Err("at most 30 restricted labels can be configured".into());
                }
                names.push((name.to_string(), description.to_string()));
                Ok(1 << (names.len() - 1))
            };
        if !replace_defaults {
            for (name, description, list) in DEFAULTS {
                let bit = bit_of(name, description, &mut names)?;
                for c in *list {
                    codes.insert((SNOMED.to_string(), c.to_string()), bit);
                }
            }
        }
        for l in extra {
            let bit = bit_of(&l.name, &l.description, &mut names)?;
            for c in &l.snomed {
                codes.insert((SNOMED.to_string(), c.trim().to_string()), bit);
            }
            for sc in &l.codes {
                let Some((s, c)) = sc.split_once('|') else {
                    return Err(format!("label '{}': code '{sc}' must be written system|code", l.name));
                };
                codes.insert((s.to_string(), c.to_string()), bit);
            }
        }
        let sender_bit = bit_of(
            "restricted-by-sender",
            "Marked restricted or sensitive by the sending system",
            &mut names,
        )?;
        Ok(Labels { names, codes, sender_bit })
    }

    /// Every bit in use: what the access filter withholds outside the recording organisation.
    pub fn all_bits(&self) -> i64 {
        (1i64 << self.names.len()) - 1
    }

    /// The names of the labels set in `bits`.
    pub fn names_of(&self, bits: i64) -> Vec<&str> {
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, (n, _))| n.as_str())
            .collect()
    }

    pub fn describe(&self, name: &str) -> Option<&str> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, d)| d.as_str())
    }

    /// The label bits of a resource: every coding in it, and its `meta.security`.
    pub fn bits(&self, body: &Value) -> i64 {
        let mut bits = 0;
        self.walk(body, &mut bits);
        bits
    }

    fn walk(&self, v: &Value, bits: &mut i64) {
        match v {
            Value::Object(o) => {
                if let (Some(Value::String(s)), Some(Value::String(c))) = (o.get("system"), o.get("code")) {
                    if let Some(b) = self.codes.get(&(s.clone(), c.clone())) {
                        *bits |= b;
                    } else if RESTRICTED_SECURITY.iter().any(|(rs, rc)| rs == s && rc == c) {
                        *bits |= self.sender_bit;
                    } else if s == LABEL_SYSTEM {
                        if let Some(i) = self.names.iter().position(|(n, _)| n == c) {
                            *bits |= 1 << i;
                        }
                    }
                }
                for (k, x) in o {
                    // Text and narrative cannot carry codings; skip the biggest subtrees.
                    if k != "text" && k != "contained" {
                        self.walk(x, bits);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.walk(x, bits)),
            _ => {}
        }
    }

    /// Writes the labels into `meta.security` (Lantern's label system), so that clients and
    /// other servers see why the resource is restricted.
    pub fn stamp(&self, body: &mut Value, bits: i64) {
        if bits == 0 {
            return;
        }
        let Some(obj) = body.as_object_mut() else { return };
        let meta = obj.entry("meta").or_insert_with(|| Value::Object(Default::default()));
        let Some(meta) = meta.as_object_mut() else { return };
        let sec = meta.entry("security").or_insert_with(|| Value::Array(Vec::new()));
        let Some(sec) = sec.as_array_mut() else { return };
        for name in self.names_of(bits) {
            let present = sec.iter().any(|c| {
                c.get("system").and_then(Value::as_str) == Some(LABEL_SYSTEM)
                    && c.get("code").and_then(Value::as_str) == Some(name)
            });
            if !present {
                sec.push(
                    serde_json::json!({"system": LABEL_SYSTEM, "code": name, "display": self.describe(name)}),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_anywhere_label_the_resource() {
        let l = Labels::new(&[], false).unwrap();
        let c = json!({"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "15628003"}]}});
        assert_eq!(l.names_of(l.bits(&c)), vec!["sexually-transmitted-infection"]);
        let e = json!({"resourceType": "Encounter", "reasonCode": [{"coding": [{"system": SNOMED, "code": "386639001"}]}]});
        assert_eq!(l.names_of(l.bits(&e)), vec!["termination-of-pregnancy"]);
        let plain = json!({"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "38341003"}]}});
        assert_eq!(l.bits(&plain), 0);
        // Same code in another system is not the SNOMED concept.
        let other = json!({"code": {"coding": [{"system": "http://example.org", "code": "15628003"}]}});
        assert_eq!(l.bits(&other), 0);
    }

    #[test]
    fn sender_labels_and_configured_lists() {
        let extra = LabelConfig {
            name: "sexually-transmitted-infection".into(),
            description: String::new(),
            snomed: vec!["1234567".into()],
            codes: vec!["http://hl7.org/fhir/sid/icd-10|A54.9".into()],
        };
        let l = Labels::new(&[extra], false).unwrap();
        let r = json!({"meta": {"security": [{"system": V3_CONFIDENTIALITY, "code": "R"}]}});
        assert_eq!(l.names_of(l.bits(&r)), vec!["restricted-by-sender"]);
        let icd =
            json!({"code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "A54.9"}]}});
        assert_eq!(l.names_of(l.bits(&icd)), vec!["sexually-transmitted-infection"]);
        let mut body = icd.clone();
        l.stamp(&mut body, l.bits(&icd));
        assert_eq!(body["meta"]["security"][0]["code"], "sexually-transmitted-infection");
        // A stamped resource keeps its label when re-read and re-written.
        assert_eq!(l.bits(&body), l.bits(&icd));
    }

    #[test]
    fn replacing_defaults_drops_shipped_lists() {
        let l = Labels::new(&[], true).unwrap();
        let c = json!({"code": {"coding": [{"system": SNOMED, "code": "15628003"}]}});
        assert_eq!(l.bits(&c), 0);
    }
}
