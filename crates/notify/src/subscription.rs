//! What a Subscription resource asks for (R4 §2.46), checked: the criteria as a search on one
//! resource type, and a rest-hook channel. Anything Lantern cannot deliver faithfully is an
//! error with the reason, which the notifier writes into the Subscription (`status` `error`,
//! `error`), rather than a subscription that silently never fires.
use serde_json::Value;

/// The search result parameters a criteria may not carry: a notification is about one
/// resource that matches, so paging, sorting and includes have no meaning there.
const NOT_IN_CRITERIA: [&str; 10] = [
    "_count",
    "_sort",
    "_include",
    "_revinclude",
    "_summary",
    "_elements",
    "_total",
    "_contained",
    "_page",
    "_format",
];

/// A Subscription's status (R4 `subscription-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Requested,
    Active,
    Error,
    Off,
}

impl Status {
    pub fn of(resource: &Value) -> Option<Status> {
        Some(match resource.get("status")?.as_str()? {
            "requested" => Status::Requested,
            "active" => Status::Active,
            "error" => Status::Error,
            "off" => Status::Off,
            _ => return None,
        })
    }
}

/// A deliverable subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    /// The resource type the criteria searches.
    pub rtype: String,
    /// The criteria's search parameters (without the type).
    pub criteria: Vec<(String, String)>,
    /// Where notifications go (`channel.endpoint`).
    pub endpoint: url::Url,
    /// `channel.payload`: with a MIME type, the resource is sent (PUT `endpoint/Type/id`);
    /// without one, an empty POST to the endpoint says only that something matched.
    pub payload: Option<String>,
    /// `channel.header`, split at the first colon.
    pub headers: Vec<(String, String)>,
    /// `end`, in microseconds since the epoch: no notifications after it.
    pub end: Option<i64>,
}

impl Plan {
    /// Reads a Subscription; `Err` says what makes it undeliverable.
    pub fn of(resource: &Value) -> Result<Plan, String> {
        let id = resource.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let criteria = resource
            .get("criteria")
            .and_then(Value::as_str)
            .ok_or("a Subscription needs criteria, a search such as Encounter?class=IMP")?;
        let (rtype, query) = criteria.split_once('?').unwrap_or((criteria, ""));
        let rtype = rtype.trim().trim_start_matches('/').to_string();
        if rtype.is_empty() || !rtype.starts_with(|c: char| c.is_ascii_uppercase()) || rtype.contains('/') {
            return Err(format!(
                "the criteria '{criteria}' must start with one resource type (e.g. Encounter?class=IMP)"
            ));
        }
        let criteria: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some((k, _)) = criteria.iter().find(|(k, _)| NOT_IN_CRITERIA.contains(&k.as_str())) {
            return Err(format!(
                "the criteria may not use {k}: a notification is about each resource that matches"
            ));
        }
        let channel = resource.get("channel").ok_or("a Subscription needs a channel")?;
        match channel.get("type").and_then(Value::as_str) {
            Some("rest-hook") => {}
            Some(t) => {
                return Err(format!(
                    "channel type '{t}' is not supported: Lantern delivers rest-hook channels"
                ))
            }
            None => return Err("the channel needs a type (rest-hook)".into()),
        }
        let endpoint = channel
            .get("endpoint")
            .and_then(Value::as_str)
            .ok_or("a rest-hook channel needs an endpoint (an http or https URL)")?;
        let endpoint =
            url::Url::parse(endpoint).map_err(|e| format!("the endpoint '{endpoint}' is not a URL: {e}"))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(format!("the endpoint '{endpoint}' must be an http or https URL"));
        }
        let payload = match channel.get("payload").and_then(Value::as_str).map(str::trim) {
            None | Some("") => None,
            Some(p) if p.starts_with("application/fhir+json") || p.starts_with("application/json") => {
                Some(p.to_string())
            }
            Some(p) => {
                return Err(format!(
                    "payload '{p}' is not supported: use application/fhir+json, or no payload for an empty notification"
                ))
            }
        };
        let mut headers = Vec::new();
        for h in channel.get("header").and_then(Value::as_array).into_iter().flatten() {
            let h = h.as_str().unwrap_or_default();
            let (name, value) =
                h.split_once(':').ok_or_else(|| format!("the channel header '{h}' is not 'Name: value'"))?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                return Err(format!("the channel header '{h}' has no valid name"));
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let end = match resource.get("end").and_then(Value::as_str) {
            Some(e) => Some(
                lantern_fhir::datetime::query_range(e)
                    .ok_or_else(|| format!("end '{e}' is not an instant"))?
                    .1,
            ),
            None => None,
        };
        Ok(Plan { id, rtype, criteria, endpoint, payload, headers, end })
    }

    /// Where a resource is sent: `endpoint/Type/id` with a payload (R4: an update of the
    /// resource at the endpoint as a FHIR base), the endpoint itself without.
    pub fn target(&self, rtype: &str, id: &str) -> String {
        match self.payload {
            Some(_) => format!("{}/{rtype}/{id}", self.endpoint.as_str().trim_end_matches('/')),
            None => self.endpoint.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(criteria: &str, channel: Value) -> Value {
        json!({"resourceType": "Subscription", "id": "s1", "status": "requested", "reason": "admissions",
               "criteria": criteria, "channel": channel})
    }

    #[test]
    fn a_rest_hook_with_a_payload() {
        let p = Plan::of(&sub(
            "Encounter?class=IMP&status=in-progress",
            json!({"type": "rest-hook", "endpoint": "https://gp.example/fhir/", "payload": "application/fhir+json",
                   "header": ["Authorization: Bearer abc:def"]}),
        ))
        .unwrap();
        assert_eq!(p.rtype, "Encounter");
        assert_eq!(p.criteria, vec![("class".into(), "IMP".into()), ("status".into(), "in-progress".into())]);
        assert_eq!(p.headers, vec![("Authorization".to_string(), "Bearer abc:def".to_string())]);
        assert_eq!(p.target("Encounter", "e1"), "https://gp.example/fhir/Encounter/e1");
    }

    #[test]
    fn without_a_payload_the_endpoint_itself() {
        let p =
            Plan::of(&sub("Observation", json!({"type": "rest-hook", "endpoint": "http://h:9/hook?x=1"})))
                .unwrap();
        assert!(p.criteria.is_empty() && p.payload.is_none());
        assert_eq!(p.target("Observation", "o1"), "http://h:9/hook?x=1");
    }

    #[test]
    fn what_cannot_be_delivered_says_why() {
        let hook = json!({"type": "rest-hook", "endpoint": "http://h/hook"});
        for (criteria, channel, why) in [
            ("?class=IMP", hook.clone(), "resource type"),
            ("Patient/1/Encounter", hook.clone(), "resource type"),
            ("Encounter?_include=Encounter:patient", hook.clone(), "_include"),
            ("Encounter", json!({"type": "websocket"}), "websocket"),
            ("Encounter", json!({"type": "rest-hook", "endpoint": "ftp://h/x"}), "http or https"),
            ("Encounter", json!({"type": "rest-hook", "endpoint": "not a url"}), "not a URL"),
            (
                "Encounter",
                json!({"type": "rest-hook", "endpoint": "http://h", "payload": "application/fhir+xml"}),
                "xml",
            ),
            (
                "Encounter",
                json!({"type": "rest-hook", "endpoint": "http://h", "header": ["no colon"]}),
                "Name: value",
            ),
        ] {
            let e = Plan::of(&sub(criteria, channel)).unwrap_err();
            assert!(e.contains(why), "{criteria}: {e}");
        }
        let e = Plan::of(&json!({"resourceType": "Subscription", "channel": hook})).unwrap_err();
        assert!(e.contains("criteria"), "{e}");
    }

    #[test]
    fn statuses() {
        assert_eq!(Status::of(&json!({"status": "requested"})), Some(Status::Requested));
        assert_eq!(Status::of(&json!({"status": "off"})), Some(Status::Off));
        assert_eq!(Status::of(&json!({})), None);
    }
}
