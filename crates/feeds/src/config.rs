//! The feeds configuration file given to `lantern serve --config FILE` (and kept in the store,
//! one row per feed, so `lantern feeds replay` and restarts see the same mapping).
//!
//! ```toml
//! [[feed]]
//! feed_id = "nbt-pas"                    # unique in the region
//! local_time_zone = "Europe/London"      # for v2 times without an offset (default)
//! [feed.organisation]                    # the data controller
//! ods_code = "RVJ"
//! name = "North Bristol NHS Trust"
//! [feed.identifiers]                     # PID-3 rules: lantern_hl7v2::map::IdentifierRules
//! mrn_system = "https://fhir.nbt.nhs.uk/Id/mrn"
//! nhs_number_type_codes = ["NH"]
//! [feed.transport]
//! kind = "mllp"                          # "mllp" or "file" (imports only)
//! listen = "0.0.0.0:2575"                # optional: this feed's own MLLP port
//! facilities = ["RVJ", "NBT_PAS"]        # MSH-4 values routed to it on the shared --mllp port
//! ack = "received"                       # ACK once queued, or "applied" (default: --mllp-ack)
//! ```
//!
//! Everything but `transport` is the hl7v2 crate's [`FeedConfig`], read by its own parser. On
//! the shared listener a message goes to the feed listing its sending facility (MSH-4.1), or
//! whose ODS code equals it, or else to a default feed `default-<facility>` whose organisation
//! is the facility itself and whose NHS number rule is the standard one (type NH or authority
//! NHS).
use lantern_hl7v2::map::FeedConfig;
use serde::Deserialize;

/// Prefix of the feeds made on the fly for unknown sending facilities.
pub const DEFAULT_PREFIX: &str = "default-";

/// How a feed's messages arrive.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Transport {
    /// `mllp` (default) or `file`.
    #[serde(default = "mllp")]
    pub kind: String,
    /// An MLLP address for this feed alone.
    #[serde(default)]
    pub listen: Option<String>,
    /// Sending facilities (MSH-4.1) that identify this feed on the shared listener.
    #[serde(default)]
    pub facilities: Vec<String>,
    /// Peer addresses (IP or CIDR) allowed to connect to this feed's own listener; empty means
    /// loopback only. MLLP carries no credentials, so the network identity of the sending
    /// system is the feed's authentication (put TLS in front for encryption).
    #[serde(default)]
    pub allow: Vec<String>,
    /// When to acknowledge: `"applied"` (the ACK reports the outcome) or `"received"` (once
    /// parsed, mapped and written to the receive queue; see `lantern_feeds::queue`). Unset:
    /// the server's default (`lantern serve --mllp-ack`).
    #[serde(default)]
    pub ack: Option<crate::AckWhen>,
}

fn mllp() -> String {
    "mllp".into()
}

/// One configured feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    pub config: FeedConfig,
    pub transport: Transport,
    pub facilities: Vec<String>,
    /// The feed's own TOML, as stored.
    pub toml: String,
}

/// Where a message came in: a feed's own listener, or the shared one (route by MSH-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Feed(String),
    ByFacility,
}

/// A whole configuration file.
#[derive(Debug, Clone, Default)]
pub struct FeedsFile {
    pub feeds: Vec<FeedSpec>,
}

impl FeedSpec {
    /// Reads one feed table (the body of a `[[feed]]`).
    pub fn from_toml(text: &str) -> Result<FeedSpec, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let transport: Transport = match table.remove("transport") {
            Some(t) => t.try_into().map_err(|e: toml::de::Error| format!("transport: {e}"))?,
            None => Transport { kind: mllp(), ..Transport::default() },
        };
        if !matches!(transport.kind.as_str(), "mllp" | "file") {
            return Err(format!("transport.kind must be \"mllp\" or \"file\", not \"{}\"", transport.kind));
        }
        let rest = toml::to_string(&table).map_err(|e| e.to_string())?;
        let config = FeedConfig::from_toml(&rest).map_err(|e| e.to_string())?;
        let facilities = transport.facilities.clone();
        Ok(FeedSpec { config, transport, facilities, toml: text.to_string() })
    }

    /// The default feed for a sending facility without a configured feed.
    pub fn default_for(facility: &str) -> FeedSpec {
        let fac = if facility.trim().is_empty() { "unknown" } else { facility.trim() };
        let text = format!(
            "feed_id = {id}\n[organisation]\nods_code = {ods}\nname = {ods}\n[transport]\nfacilities = [{ods}]\n",
            id = toml::Value::String(default_feed_id(fac)),
            ods = toml::Value::String(fac.to_string()),
        );
        FeedSpec::from_toml(&text).unwrap_or_else(|_| {
            let config = FeedConfig::new(&default_feed_id(fac), fac, fac);
            FeedSpec { config, transport: Transport::default(), facilities: vec![fac.into()], toml: text }
        })
    }
}

/// `default-<facility>`, with characters outside `[A-Za-z0-9.-]` replaced so it is a valid id
/// segment in identifier systems.
pub fn default_feed_id(facility: &str) -> String {
    let fac = if facility.trim().is_empty() { "unknown" } else { facility.trim() };
    let clean: String = fac
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' })
        .collect();
    format!("{DEFAULT_PREFIX}{clean}")
}

impl FeedsFile {
    /// Reads a configuration file: `[[feed]]` tables (the `[auth]` and `[policy]` sections of
    /// the same file belong to other layers and are read there).
    pub fn from_toml(text: &str) -> Result<FeedsFile, String> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        doc.remove("auth");
        doc.remove("policy");
        let list = match doc.remove("feed") {
            Some(toml::Value::Array(a)) => a,
            Some(_) => return Err("`feed` must be an array of tables: [[feed]]".into()),
            None => Vec::new(),
        };
        if let Some(k) = doc.keys().next() {
            return Err(format!("unknown key '{k}' (expected [[feed]] tables)"));
        }
        let mut feeds = Vec::new();
        for (i, v) in list.into_iter().enumerate() {
            let text = toml::to_string(&v).map_err(|e| e.to_string())?;
            let spec = FeedSpec::from_toml(&text).map_err(|e| format!("feed {}: {e}", i + 1))?;
            if feeds.iter().any(|f: &FeedSpec| f.config.feed_id == spec.config.feed_id) {
                return Err(format!("feed id '{}' is configured twice", spec.config.feed_id));
            }
            feeds.push(spec);
        }
        Ok(FeedsFile { feeds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_feeds_with_transport() {
        let f = FeedsFile::from_toml(
            r#"
[[feed]]
feed_id = "nbt-pas"
[feed.organisation]
ods_code = "RVJ"
name = "North Bristol NHS Trust"
[feed.transport]
listen = "127.0.0.1:0"
facilities = ["NBT"]
"#,
        )
        .unwrap();
        assert_eq!(f.feeds.len(), 1);
        let s = &f.feeds[0];
        assert_eq!(s.config.organisation.ods_code, "RVJ");
        assert_eq!(s.transport.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(s.facilities, vec!["NBT"]);
        // The stored text reads back the same.
        assert_eq!(&FeedSpec::from_toml(&s.toml).unwrap(), s);
        assert!(FeedsFile::from_toml("[[feed]]\nfeed_id = \"x\"").is_err());
    }

    #[test]
    fn default_feed_treats_nh_as_nhs_number() {
        let s = FeedSpec::default_for("GHH Facility");
        assert_eq!(s.config.feed_id, "default-GHH-Facility");
        assert_eq!(s.config.organisation.ods_code, "GHH Facility");
        assert!(s.config.identifiers.nhs_number_type_codes.contains(&"NH".to_string()));
        assert!(s.config.identifiers.nhs_number_authorities.contains(&"NHS".to_string()));
    }
}
