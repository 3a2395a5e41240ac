// ADT A40 "merge patient — patient identifier list" (v2 chapter 3.3.40, MRG segment 3.4.9):
// the mapper does not merge; it describes the merge for the identity layer, which owns links.

use super::config::FeedConfig;
use super::datatypes::identifier;
use crate::message::Segment;
use serde::Serialize;

/// A business identifier (FHIR Identifier system and value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusinessIdentifier {
    /// Identifier system URI.
    pub system: String,
    /// Identifier value.
    pub value: String,
}

/// One merge: the records named by `retired` are to be merged into the one named by
/// `surviving` (whose Patient entry is in the bundle at `surviving_full_url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeRequest {
    /// PID-3 identifiers of the surviving patient.
    pub surviving: Vec<BusinessIdentifier>,
    /// MRG-1 (and MRG-4) identifiers of the patient being retired.
    pub retired: Vec<BusinessIdentifier>,
    /// The `urn:uuid:` of the surviving Patient entry in the bundle.
    pub surviving_full_url: String,
}

fn ids(seg: &Segment, fields: &[usize], cfg: &FeedConfig) -> Vec<BusinessIdentifier> {
    let mut out = Vec::new();
    for &f in fields {
        for cx in seg.reps(f) {
            if let Some((_, id)) = identifier(cx, cfg) {
                let b = BusinessIdentifier {
                    system: id["system"].as_str().unwrap_or_default().to_string(),
                    value: id["value"].as_str().unwrap_or_default().to_string(),
                };
                if !out.contains(&b) {
                    out.push(b);
                }
            }
        }
    }
    out
}

/// Describe the merge of one PID/MRG pair.
pub(crate) fn merge_request(
    pid: &Segment,
    mrg: &Segment,
    cfg: &FeedConfig,
    surviving_full_url: String,
) -> Option<MergeRequest> {
    let retired = ids(mrg, &[1, 4], cfg);
    let surviving = ids(pid, &[3], cfg);
    (!retired.is_empty() && !surviving.is_empty()).then_some(MergeRequest {
        surviving,
        retired,
        surviving_full_url,
    })
}
