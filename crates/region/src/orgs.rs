//! The region's organisations, their feeds, and the configuration text Lantern reads: a
//! `[policy]` section (organisations with kinds, data-sharing agreements) and `[[feed]]` tables.
//!
//! Codes are ODS-shaped (GP practices a letter and five digits, trusts three characters starting
//! with R) but invented: the region is fictional, so no code here names a real organisation.

/// What an organisation is (the kinds `lantern-policy` knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gp,
    Acute,
    Community,
    MentalHealth,
    SocialCare,
}

impl Kind {
    /// The policy's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gp => "gp",
            Kind::Acute => "acute",
            Kind::Community => "community",
            Kind::MentalHealth => "mental-health",
            Kind::SocialCare => "social-care",
        }
    }
}

/// How an organisation's feed delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HL7 v2 over MLLP (the hospital PAS).
    Mllp,
    /// FHIR transaction bundles.
    Fhir,
    /// CSV extracts with a column mapping.
    Csv,
}

/// One organisation and its one feed.
#[derive(Debug, Clone)]
pub struct Org {
    pub ods: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    /// The feed's id (unique in the region).
    pub feed: &'static str,
    pub transport: Transport,
    /// The system of the local identifier its records carry (MRN, practice patient id, client id).
    pub local_system: String,
    /// Prefix of local identifiers, so they look like the system's own.
    pub(crate) local_prefix: &'static str,
}

/// The feed URI, as the HL7 v2 maps derive it (`meta.source` and identifier systems).
pub fn feed_uri(feed: &str) -> String {
    format!("https://lantern.health/feed/{feed}")
}

const ORGS: &[(&str, &str, Kind, &str, Transport, &str)] = &[
    ("L84001", "Riverside Surgery", Kind::Gp, "gp-l84001", Transport::Fhir, "RS"),
    ("L84002", "Castle Street Medical Centre", Kind::Gp, "gp-l84002", Transport::Fhir, "CS"),
    ("L84003", "Meadowbank Health Centre", Kind::Gp, "gp-l84003", Transport::Fhir, "MB"),
    ("L84004", "Old Mill Practice", Kind::Gp, "gp-l84004", Transport::Fhir, "OM"),
    ("L84005", "Harbourside Family Practice", Kind::Gp, "gp-l84005", Transport::Fhir, "HF"),
    ("RSV", "Severn Vale Hospitals NHS Foundation Trust", Kind::Acute, "rsv-pas", Transport::Mllp, "V"),
    ("RSC", "Severn Community Health NHS Trust", Kind::Community, "rsc-ehr", Transport::Fhir, "C"),
    ("RSM", "Severn Mind Mental Health NHS Trust", Kind::MentalHealth, "rsm-ehr", Transport::Fhir, "MH"),
    (
        "LA901",
        "Severn Vale Council Adult and Children's Social Care",
        Kind::SocialCare,
        "council-care",
        Transport::Csv,
        "SC",
    ),
];

/// The region's organisations, GP practices first.
pub(crate) fn all() -> Vec<Org> {
    ORGS.iter()
        .map(|&(ods, name, kind, feed, transport, local_prefix)| {
            let local_system = match kind {
                Kind::Acute => "https://fhir.severnvale.nhs.uk/Id/mrn".to_string(),
                Kind::SocialCare => "https://severnvale.gov.uk/Id/social-care-client".to_string(),
                _ => format!("{}/patient", feed_uri(feed)),
            };
            Org { ods, name, kind, feed, transport, local_system, local_prefix }
        })
        .collect()
}

/// Data-sharing agreements: GPs, the acute and the community trust share broadly with health
/// organisations; mental health shares a subset (not its problems, results or notes); social
/// care receives no results, medications or problems; social care shares its involvement.
const AGREEMENTS: &str = r#"
[[policy.agreement]]
id = "health-direct-care"
from = ["kind:gp", "kind:acute", "kind:community"]
to = ["kind:gp", "kind:acute", "kind:community", "kind:mental-health"]
categories = ["*"]
purposes = ["TREAT", "ETREAT"]

[[policy.agreement]]
id = "mental-health-to-health"
from = ["kind:mental-health"]
to = ["kind:gp", "kind:acute", "kind:community", "kind:mental-health"]
categories = ["demographics", "encounters", "appointments", "care-plans", "medications", "allergies", "warnings"]
purposes = ["TREAT", "ETREAT"]

[[policy.agreement]]
id = "health-to-social-care"
from = ["kind:gp", "kind:acute", "kind:community", "kind:mental-health"]
to = ["kind:social-care"]
categories = ["demographics", "encounters", "appointments", "care-plans", "allergies", "warnings"]
purposes = ["TREAT"]

[[policy.agreement]]
id = "social-care-to-health"
from = ["kind:social-care"]
to = ["kind:gp", "kind:acute", "kind:community", "kind:mental-health"]
categories = ["demographics", "social-care", "care-plans", "encounters"]
purposes = ["TREAT", "ETREAT"]
"#;

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The configuration file: `[policy]` and one `[[feed]]` per organisation.
pub(crate) fn config_toml(orgs: &[Org]) -> String {
    let mut s =
        String::from("# Lantern demo region (generated by lantern-region): policy and feeds.\n\n[policy]\n");
    for o in orgs {
        s += &format!(
            "\n[[policy.organisation]]\nods = {}\nname = {}\nkind = {}\n",
            q(o.ods),
            q(o.name),
            q(o.kind.as_str())
        );
    }
    s += AGREEMENTS;
    for o in orgs {
        s += &format!(
            "\n[[feed]]\nfeed_id = {}\nlocal_time_zone = \"Europe/London\"\n[feed.organisation]\nods_code = {}\nname = {}\n",
            q(o.feed),
            q(o.ods),
            q(o.name)
        );
        match o.transport {
            Transport::Mllp => {
                s += &format!(
                    "[feed.identifiers]\nmrn_system = {}\nnhs_number_type_codes = [\"NH\"]\nmrn_type_codes = [\"MR\"]\n[feed.transport]\nkind = \"mllp\"\nfacilities = [{}, {}]\n",
                    q(&o.local_system),
                    q(o.ods),
                    q(&format!("{}_PAS", o.ods))
                );
            }
            Transport::Fhir | Transport::Csv => s += "[feed.transport]\nkind = \"file\"\n",
        }
    }
    s
}
