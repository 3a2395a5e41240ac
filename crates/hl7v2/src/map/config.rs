// Feed configuration for the v2-to-FHIR maps: which organisation owns the data, how PID-3
// identifiers are recognised (NHS number per UK Core "https://fhir.nhs.uk/Id/nhs-number",
// local MRN per HL7 table 0203 identifier types) and which identifier systems the feed's
// business identifiers live in. Deserialised from the feed's TOML.

use super::datetime::LocalZone;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The owning organisation (data controller) of a feed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OrganisationConfig {
    /// ODS code, e.g. `RVJ`.
    pub ods_code: String,
    /// Display name, e.g. `North Bristol NHS Trust`.
    pub name: String,
}

/// How PID-3 identifiers are classified.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct IdentifierRules {
    /// CX-5 identifier type codes that mean "NHS number".
    pub nhs_number_type_codes: Vec<String>,
    /// CX-4 assigning authorities that mean "NHS number".
    pub nhs_number_authorities: Vec<String>,
    /// CX-5 identifier type codes that mean "local MRN".
    pub mrn_type_codes: Vec<String>,
    /// CX-4 assigning authorities whose identifiers are the MRN (empty = any authority).
    pub mrn_authorities: Vec<String>,
    /// FHIR identifier system of the MRN; default `<feed uri>/mrn`.
    pub mrn_system: Option<String>,
    /// FHIR systems for other assigning authorities (CX-4.1 -> system URI).
    pub authority_systems: BTreeMap<String, String>,
}

impl Default for IdentifierRules {
    fn default() -> Self {
        IdentifierRules {
            nhs_number_type_codes: vec!["NH".into(), "NHS".into()],
            nhs_number_authorities: vec!["NHS".into()],
            mrn_type_codes: vec!["MR".into(), "MRN".into(), "PI".into(), "PT".into()],
            mrn_authorities: Vec::new(),
            mrn_system: None,
            authority_systems: BTreeMap::new(),
        }
    }
}

/// Everything the mapper needs to know about one feed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FeedConfig {
    /// Feed id, unique in the region, e.g. `nbt-pas`.
    pub feed_id: String,
    /// The feed's URI, used in `meta.source` and as the root of its identifier systems;
    /// default `https://lantern.health/feed/<feed_id>`.
    #[serde(default)]
    pub feed_uri: Option<String>,
    /// The data controller.
    pub organisation: OrganisationConfig,
    /// PID-3 classification rules.
    #[serde(default)]
    pub identifiers: IdentifierRules,
    /// Zone for v2 times without an offset: `Europe/London` (default), `UTC` or `+hh:mm`.
    #[serde(default = "default_zone")]
    pub local_time_zone: String,
}

fn default_zone() -> String {
    "Europe/London".to_string()
}

/// Why a feed configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML or missing fields.
    #[error("feed configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value was present but unusable.
    #[error("feed configuration: {0}")]
    Invalid(String),
}

impl FeedConfig {
    /// A minimal configuration (defaults for everything else).
    pub fn new(feed_id: &str, ods_code: &str, name: &str) -> Self {
        FeedConfig {
            feed_id: feed_id.into(),
            feed_uri: None,
            organisation: OrganisationConfig { ods_code: ods_code.into(), name: name.into() },
            identifiers: IdentifierRules::default(),
            local_time_zone: default_zone(),
        }
    }

    /// Read from TOML and check it.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: FeedConfig = toml::from_str(text)?;
        if cfg.feed_id.trim().is_empty() || cfg.organisation.ods_code.trim().is_empty() {
            return Err(ConfigError::Invalid("feed_id and organisation.ods_code are required".into()));
        }
        if LocalZone::parse(&cfg.local_time_zone).is_none() {
            return Err(ConfigError::Invalid(format!("unknown local_time_zone {}", cfg.local_time_zone)));
        }
        Ok(cfg)
    }

    /// The feed URI.
    pub fn feed_uri(&self) -> String {
        self.feed_uri.clone().unwrap_or_else(|| format!("{}/{}", super::systems::FEED_URI_BASE, self.feed_id))
    }

    /// An identifier system under the feed, e.g. `<feed uri>/encounter`.
    pub fn system(&self, kind: &str) -> String {
        format!("{}/{}", self.feed_uri(), kind)
    }

    /// The MRN system.
    pub fn mrn_system(&self) -> String {
        self.identifiers.mrn_system.clone().unwrap_or_else(|| self.system("mrn"))
    }

    /// The local zone (falls back to Europe/London if unreadable).
    pub fn zone(&self) -> LocalZone {
        LocalZone::parse(&self.local_time_zone).unwrap_or(LocalZone::EuropeLondon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_toml_with_defaults() {
        let cfg = FeedConfig::from_toml(
            r#"
feed_id = "nbt-pas"
[organisation]
ods_code = "RVJ"
name = "North Bristol NHS Trust"
[identifiers]
mrn_system = "https://fhir.nbt.nhs.uk/Id/mrn"
authority_systems = { RVJ = "https://fhir.nbt.nhs.uk/Id/mrn" }
"#,
        )
        .unwrap();
        assert_eq!(cfg.feed_uri(), "https://lantern.health/feed/nbt-pas");
        assert_eq!(cfg.mrn_system(), "https://fhir.nbt.nhs.uk/Id/mrn");
        assert_eq!(cfg.identifiers.nhs_number_type_codes, vec!["NH", "NHS"]);
        assert_eq!(cfg.zone(), LocalZone::EuropeLondon);
        assert!(FeedConfig::from_toml("feed_id = \"x\"").is_err());
    }
}
