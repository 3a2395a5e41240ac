//! Writing Bundles as text. Stored resources are already JSON text; splicing them into the
//! Bundle instead of parsing and re-serialising each one keeps large pages (a `$everything`
//! of thousands of resources) cheap.
use lantern_store::clock::format_instant;
use serde_json::{json, Value};

/// A Bundle under construction.
pub struct BundleText {
    out: String,
    entries: usize,
}

fn js(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into())
}

impl BundleText {
    /// Starts a Bundle of `kind` (searchset, history, transaction-response, batch-response).
    pub fn new(kind: &str, now_micros: i64, total: Option<i64>, links: &[(&str, String)]) -> BundleText {
        let mut out = String::with_capacity(4096);
        out.push_str(&format!(
            "{{\"resourceType\":\"Bundle\",\"id\":{},\"meta\":{{\"lastUpdated\":{}}},\"type\":{}",
            js(&uuid::Uuid::new_v4().to_string()),
            js(&format_instant(now_micros)),
            js(kind)
        ));
        if let Some(t) = total {
            out.push_str(&format!(",\"total\":{t}"));
        }
        if !links.is_empty() {
            let l: Vec<Value> = links.iter().map(|(r, u)| json!({"relation": r, "url": u})).collect();
            out.push_str(&format!(",\"link\":{}", Value::Array(l)));
        }
        BundleText { out, entries: 0 }
    }

    /// Adds an entry. `resource` is JSON text (or None), `extra` holds the entry's other
    /// members (search, request, response) as a JSON object.
    pub fn entry(&mut self, full_url: Option<&str>, resource: Option<&str>, extra: Value) {
        self.out.push_str(if self.entries == 0 { ",\"entry\":[" } else { "," });
        self.entries += 1;
        self.out.push('{');
        let mut first = true;
        if let Some(u) = full_url {
            self.out.push_str(&format!("\"fullUrl\":{}", js(u)));
            first = false;
        }
        if let Some(r) = resource {
            if !first {
                self.out.push(',');
            }
            self.out.push_str("\"resource\":");
            self.out.push_str(r);
            first = false;
        }
        if let Value::Object(m) = extra {
            for (k, v) in m {
                if !first {
                    self.out.push(',');
                }
                self.out.push_str(&format!("{}:{}", js(&k), v));
                first = false;
            }
        }
        self.out.push('}');
    }

    pub fn finish(mut self) -> String {
        if self.entries > 0 {
            self.out.push(']');
        }
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_valid_json() {
        let mut b = BundleText::new("searchset", 0, Some(1), &[("self", "http://x/fhir/Patient".into())]);
        b.entry(
            Some("http://x/fhir/Patient/1"),
            Some(r#"{"resourceType":"Patient","id":"1"}"#),
            json!({"search":{"mode":"match"}}),
        );
        let v: Value = serde_json::from_str(&b.finish()).unwrap();
        assert_eq!(v["entry"][0]["resource"]["id"], "1");
        assert_eq!(v["total"], 1);
        let empty: Value = serde_json::from_str(&BundleText::new("history", 0, None, &[]).finish()).unwrap();
        assert!(empty.get("entry").is_none());
    }
}
