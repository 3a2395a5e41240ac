//! `ValueSet/$expand` (R4 §4.9.17.1): the concepts of a value set stored here (its expansion,
//! the concepts its compose lists, or the complete code systems it includes that are stored
//! here) or of one of R4's own, filtered by text and paged by `offset` and `count`. What cannot
//! be expanded without a terminology server is refused with the reason
//! (`lantern_store::search::value_sets`).
use crate::{Ctx, Error, Fhir, Handling};
use serde_json::{json, Map, Value};

/// The most concepts one page may hold (`count` above it is lowered to it).
const MAX_COUNT: usize = 1000;

impl Fhir {
    /// `ValueSet/$expand` (`id` for `ValueSet/[id]/$expand`, else the `url` parameter).
    pub async fn expand(
        &self,
        ctx: &Ctx,
        id: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<String, Error> {
        let (mut url, mut filter, mut count, mut offset) = (None, None, MAX_COUNT, 0usize);
        let number = |k: &str, v: &str| {
            v.parse::<usize>()
                .map_err(|_| Error::bad("invalid", Some(k), format!("{k} must be a whole number, not '{v}'")))
        };
        for (k, v) in pairs {
            match k.as_str() {
                "url" => url = Some(v.clone()),
                "filter" => filter = Some(v.clone()),
                "count" => count = number(k, v)?.min(MAX_COUNT),
                "offset" => offset = number(k, v)?,
                // Answered by the HTTP layer; or about versions and languages Lantern keeps one of.
                "_format" | "_pretty" | "valueSetVersion" | "displayLanguage" | "includeDesignations" => {}
                _ if ctx.handling == Handling::Strict => {
                    return Err(Error::bad(
                        "not-supported",
                        Some(k.as_str()),
                        format!("ValueSet/$expand does not support the parameter '{k}'"),
                    ))
                }
                _ => {}
            }
        }
        if id.is_none() && url.is_none() {
            return Err(Error::bad("required", Some("url"), "ValueSet/$expand needs the value set's url"));
        }
        let (vs, concepts) = self
            .store
            .expand_value_set(id.map(str::to_string), url.clone())
            .await?
            .map_err(|why| Error::bad("not-supported", Some("url"), why))?;
        let lowered = filter.as_deref().map(str::to_lowercase).unwrap_or_default();
        let words: Vec<&str> = lowered.split_whitespace().collect();
        let matching: Vec<_> = concepts
            .into_iter()
            .filter(|c| {
                let text = format!("{} {}", c.code, c.display.as_deref().unwrap_or("")).to_lowercase();
                words.iter().all(|w| text.contains(w))
            })
            .collect();
        let total = matching.len();
        let contains: Vec<Value> = matching
            .into_iter()
            .skip(offset)
            .take(count)
            .map(|c| {
                let mut o = Map::new();
                if let Some(s) = c.system {
                    o.insert("system".into(), s.into());
                }
                o.insert("code".into(), c.code.into());
                if let Some(d) = c.display {
                    o.insert("display".into(), d.into());
                }
                Value::Object(o)
            })
            .collect();
        let mut parameters = Vec::new();
        if let Some(f) = &filter {
            parameters.push(json!({"name": "filter", "valueString": f}));
        }
        parameters.push(json!({"name": "offset", "valueInteger": offset}));
        parameters.push(json!({"name": "count", "valueInteger": count}));
        let mut out = Map::new();
        out.insert("resourceType".into(), "ValueSet".into());
        for k in ["id", "url", "version", "name", "title", "status"] {
            if let Some(v) = vs.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        let mut expansion = json!({
            "identifier": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            "timestamp": lantern_store::clock::format_instant(self.store.now_micros()),
            "total": total,
            "offset": offset,
            "parameter": parameters,
        });
        if !contains.is_empty() {
            expansion["contains"] = Value::Array(contains);
        }
        out.insert("expansion".into(), expansion);
        Ok(Value::Object(out).to_string())
    }
}
