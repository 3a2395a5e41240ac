//! Policy configuration: the `[policy]` section of the file given to `lantern serve --config`.
//!
//! ```toml
//! [[policy.organisation]]
//! ods = "A81001"
//! name = "Riverside Surgery"
//! kind = "gp"            # gp | acute | community | mental-health | social-care | ambulance | hospice | other
//!
//! [[policy.agreement]]
//! id = "gp-to-acute"
//! from = ["kind:gp"]      # ODS codes, "kind:KIND", or "*"
//! to = ["kind:acute", "RVJ"]
//! categories = ["demographics", "medications", "allergies", "problems"]   # or ["*"]
//! purposes = ["TREAT", "ETREAT"]
//!
//! [policy.relationships]
//! encounter_window_days = 90
//!
//! [policy.consent]
//! break_glass_overrides_opt_out = false
//! exempt_organisations = []
//!
//! [[policy.label]]          # adds to the shipped legally restricted code lists
//! name = "sti"
//! snomed = ["8098009"]
//! ```
//!
//! With no `[[policy.agreement]]`, one regional default applies: every organisation shares
//! every category with every other for direct care and emergencies, still subject to care
//! relationships, consent and restricted labels. A configured list replaces it.
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(rename = "organisation", default)]
    pub organisations: Vec<OrgConfig>,
    #[serde(rename = "agreement", default)]
    pub agreements: Vec<Agreement>,
    #[serde(rename = "category", default)]
    pub categories: Vec<CategoryConfig>,
    #[serde(default)]
    pub relationships: RelationshipConfig,
    #[serde(default)]
    pub consent: ConsentConfig,
    #[serde(rename = "label", default)]
    pub labels: Vec<LabelConfig>,
    /// Replace the shipped code lists instead of adding to them.
    #[serde(default)]
    pub replace_default_labels: bool,
    #[serde(default)]
    pub break_glass: BreakGlassConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    pub ods: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "other")]
    pub kind: String,
}

fn other() -> String {
    "other".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    pub id: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub categories: Vec<String>,
    #[serde(default = "direct_care")]
    pub purposes: Vec<String>,
}

fn direct_care() -> Vec<String> {
    vec!["TREAT".into(), "ETREAT".into()]
}

impl Agreement {
    /// The agreement that applies when none is configured.
    pub fn regional_default() -> Agreement {
        Agreement {
            id: "regional-default".into(),
            from: vec!["*".into()],
            to: vec!["*".into()],
            categories: vec!["*".into()],
            purposes: direct_care(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    pub name: String,
    pub types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelationshipConfig {
    /// How long after a stay or contact ends the organisation keeps its relationship.
    pub encounter_window_days: i64,
    pub appointment_window_days: i64,
    pub episode_window_days: i64,
    pub referral_window_days: i64,
    /// Organisation kinds whose holding a patient's record is a registration (GP practices).
    pub registering_kinds: Vec<String>,
}

impl Default for RelationshipConfig {
    fn default() -> Self {
        RelationshipConfig {
            encounter_window_days: 90,
            appointment_window_days: 90,
            episode_window_days: 90,
            referral_window_days: 180,
            registering_kinds: vec!["gp".into()],
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentConfig {
    /// Whether breaking the glass also overrides a patient's opt-out (off by default: an
    /// opt-out is the patient's explicit wish).
    pub break_glass_overrides_opt_out: bool,
    /// Organisations that see shared data even when the patient opted out (e.g. a
    /// safeguarding hub), by ODS code or "kind:KIND".
    pub exempt_organisations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub snomed: Vec<String>,
    /// Other coded concepts, as "system|code".
    #[serde(default)]
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakGlassConfig {
    pub duration_minutes: i64,
    /// Roles allowed to break the glass (empty: every user role).
    pub roles: Vec<String>,
    /// Reason codes offered and accepted.
    pub reasons: Vec<String>,
}

impl Default for BreakGlassConfig {
    fn default() -> Self {
        BreakGlassConfig {
            duration_minutes: 240,
            roles: Vec::new(),
            reasons: vec![
                "emergency-care".into(),
                "unconscious-patient".into(),
                "safeguarding".into(),
                "patient-consented-verbally".into(),
                "other".into(),
            ],
        }
    }
}

impl PolicyConfig {
    pub fn from_toml(text: &str) -> Result<PolicyConfig, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            policy: PolicyConfig,
        }
        let f: File = toml::from_str(text).map_err(|e| format!("policy configuration: {e}"))?;
        Ok(f.policy)
    }
}
