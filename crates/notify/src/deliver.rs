//! Sending one notification over a rest-hook channel (R4 §2.46.7.1): with a payload, the
//! resource as the body of a PUT to `endpoint/Type/id`; without one, an empty POST to the
//! endpoint. Redirects are not followed: a notification carries patient data, and the
//! subscriber named where it may go.
use crate::subscription::Plan;
use std::time::Duration;

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for notifications.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot make the notification client: {e}"))
}

/// One attempt; `Err` says why it failed.
pub async fn send(
    client: &reqwest::Client,
    plan: &Plan,
    rtype: &str,
    id: &str,
    body: Option<&str>,
) -> Result<(), String> {
    let target = plan.target(rtype, id);
    let mut req = match (&plan.payload, body) {
        (Some(mime), Some(b)) => {
            client.put(&target).header(reqwest::header::CONTENT_TYPE, mime).body(b.to_string())
        }
        _ => client.post(&target),
    };
    for (k, v) in &plan.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| format!("{target}: {}", describe(&e)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{target} answered {status}"))
    }
}

/// Tries `send` once per delay in `retry` after the first failure; the last reason if every
/// attempt failed.
pub async fn with_retries(
    client: &reqwest::Client,
    plan: &Plan,
    rtype: &str,
    id: &str,
    body: Option<&str>,
    retry: &[Duration],
) -> Result<(), String> {
    let mut last = match send(client, plan, rtype, id, body).await {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    for d in retry {
        tokio::time::sleep(*d).await;
        match send(client, plan, rtype, id, body).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}
