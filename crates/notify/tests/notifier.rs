//! The notifier against a real store on both backends, without the trust layer (every
//! subscriber sees everything; the policy's filtering is tested end to end in
//! `lantern-server`'s `trust_e2e`): activation, errors with reasons, delivery, and a cursor
//! that survives a restart.
use lantern_notify::Notifier;
use lantern_service::Fhir;
use lantern_testkit::client::create;
use lantern_testkit::hook::{receiver, Inbox};
use lantern_testkit::{backend_tests, ctx, json, parse};
use serde_json::Value;

async fn read(fhir: &Fhir, rtype: &str, id: &str) -> Value {
    parse(fhir.read(&ctx(), rtype, id).await.unwrap().body.as_deref().unwrap())
}

/// Passes until the feed is drained and every delivery is done; the notifications sent.
async fn drain(n: &mut Notifier) -> usize {
    let mut sent = 0;
    loop {
        let p = n.pass().await.unwrap();
        sent += p.sent;
        if p.changes == 0 && p.pending == 0 {
            return sent;
        }
    }
}

fn notifier(fhir: &Fhir) -> Notifier {
    Notifier::new(fhir.clone(), None, None).unwrap().with_retry(Vec::new())
}

fn subscription(criteria: &str, endpoint: &str) -> Value {
    json!({"resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": criteria,
           "channel": {"type": "rest-hook", "endpoint": endpoint}})
}

fn observation(code: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": code}]}})
}

fn paths(inbox: &Inbox) -> Vec<String> {
    inbox.lock().unwrap().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
}

/// A Subscription written just before what it is about, both in one pass, hears of it; a
/// restarted notifier neither repeats nor misses anything.
async fn delivered_once_across_restarts(fhir: Fhir) {
    let (hook, inbox) = receiver().await;
    let sub = create(&fhir, subscription("Observation?code=8480-6", &format!("{hook}/bp"))).await;
    create(&fhir, observation("8480-6")).await;
    create(&fhir, observation("8867-4")).await;
    let mut n = notifier(&fhir);
    assert_eq!(drain(&mut n).await, 1);
    assert_eq!(read(&fhir, "Subscription", &sub).await["status"], "active");
    assert_eq!(paths(&inbox), vec!["POST /bp"], "an empty POST without a payload");
    assert!(inbox.lock().unwrap()[0].body.is_empty());
    // Down while one more is written: the next notifier loads the Subscription, starts where
    // the last stopped, and sends just that one.
    drop(n);
    create(&fhir, observation("8480-6")).await;
    let mut n = notifier(&fhir);
    assert_eq!(drain(&mut n).await, 1);
    assert_eq!(n.active(), vec![sub.clone()]);
    assert_eq!(drain(&mut notifier(&fhir)).await, 0);
    assert_eq!(inbox.lock().unwrap().len(), 2);
    // Deleted: no longer delivered.
    fhir.delete(&ctx(), "Subscription", &sub, None).await.unwrap();
    create(&fhir, observation("8480-6")).await;
    assert_eq!(drain(&mut n).await, 0);
    assert!(n.active().is_empty());
}

/// What cannot run is put in error, with the reason, at once; an `end` passed turns it off.
async fn refused_with_reasons(fhir: Fhir) {
    let (hook, inbox) = receiver().await;
    let unknown = create(&fhir, subscription("Observation?colour=red", &hook)).await;
    let no_type = create(&fhir, subscription("Bogus?x=1", &hook)).await;
    let mut ended = subscription("Observation", &hook);
    ended["end"] = json!("2001-01-01T00:00:00Z");
    let ended = create(&fhir, ended).await;
    let mut payload = subscription("Observation", &format!("{hook}/base/"));
    payload["channel"]["payload"] = json!("application/fhir+json");
    payload["channel"]["header"] = json!(["Authorization: Bearer t0ken"]);
    let payload = create(&fhir, payload).await;
    let mut n = notifier(&fhir);
    drain(&mut n).await;
    for (id, status, why) in
        [(&unknown, "error", "colour"), (&no_type, "error", "Bogus"), (&ended, "off", "")]
    {
        let s = read(&fhir, "Subscription", id).await;
        assert_eq!(s["status"], status, "{s}");
        assert!(s["error"].as_str().unwrap_or("").contains(why), "{s}");
    }
    assert_eq!(n.active(), vec![payload.clone()]);
    let o = create(&fhir, observation("8480-6")).await;
    assert_eq!(drain(&mut n).await, 1);
    let got = inbox.lock().unwrap()[0].clone();
    assert_eq!((got.method.as_str(), got.path), ("PUT", format!("/base/Observation/{o}")));
    assert_eq!(got.authorization.as_deref(), Some("Bearer t0ken"));
    assert_eq!(parse(&got.body)["id"], o.as_str());
    // Set back to requested by its owner after a fix: active again.
    let mut fixed = read(&fhir, "Subscription", &unknown).await;
    fixed["criteria"] = json!("Observation?code=8480-6");
    fixed["status"] = json!("requested");
    fhir.update(&ctx(), "Subscription", &unknown, fixed, None).await.unwrap();
    drain(&mut n).await;
    assert_eq!(read(&fhir, "Subscription", &unknown).await["status"], "active");
    assert!(read(&fhir, "Subscription", &unknown).await.get("error").is_none());
}

/// With endpoints limited by the administrator, a Subscription naming another is refused
/// with the reason, and nothing is sent there.
async fn only_allowed_endpoints(fhir: Fhir) {
    let (hook, inbox) = receiver().await;
    let allowed = create(&fhir, subscription("Observation", &format!("{hook}/gp/"))).await;
    let elsewhere = create(&fhir, subscription("Observation", &format!("{hook}/internal/"))).await;
    let mut n = notifier(&fhir).with_allowed_endpoints(vec![format!("{hook}/gp/")]);
    drain(&mut n).await;
    assert_eq!(n.active(), vec![allowed]);
    let s = read(&fhir, "Subscription", &elsewhere).await;
    assert_eq!(s["status"], "error");
    assert!(s["error"].as_str().unwrap().contains("not one this server may notify"), "{s}");
    create(&fhir, observation("8480-6")).await;
    assert_eq!(drain(&mut n).await, 1);
    assert_eq!(paths(&inbox), vec!["POST /gp/"]);
}

/// An endpoint that takes a request and does not answer until released: the other
/// Subscription is delivered meanwhile, in that pass and in later ones (the notifier does not
/// wait for the silent one before reading on), and the silent one alone ends in error.
async fn a_silent_endpoint_holds_up_only_its_own(fhir: Fhir) {
    use std::sync::Arc;
    use tokio::sync::{Notify, Semaphore};
    let (heard, release) = (Arc::new(Notify::new()), Arc::new(Semaphore::new(0)));
    let (h, r) = (heard.clone(), release.clone());
    let app = axum::Router::new().fallback(move || {
        let (h, r) = (h.clone(), r.clone());
        async move {
            h.notify_one();
            let _ = r.acquire().await;
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (hook, inbox) = receiver().await;
    // The silent one first, so that delivery in turn would reach the other only after it.
    let stuck = create(&fhir, subscription("Observation?code=8480-6", &format!("{silent}/stuck"))).await;
    let fine = create(&fhir, subscription("Observation?code=8480-6", &format!("{hook}/fine"))).await;
    create(&fhir, observation("8480-6")).await;
    let mut n = notifier(&fhir);
    let passes = tokio::spawn(async move {
        let mut sent = 0;
        loop {
            let p = n.pass().await.unwrap();
            sent += p.sent;
            if p.changes == 0 && p.pending == 0 {
                return (sent, n);
            }
        }
    });
    let wait = std::time::Duration::from_secs(120);
    let delivered = |count: usize| {
        let inbox = inbox.clone();
        async move {
            while inbox.lock().unwrap().len() < count {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    // Both requests are out at once: the silent endpoint holds its own while the other arrives.
    tokio::time::timeout(wait, heard.notified()).await.expect("the silent endpoint was called");
    tokio::time::timeout(wait, delivered(1))
        .await
        .expect("the other was delivered while the silent one waited");
    // Written while the silent endpoint still holds its first: delivered by a later pass.
    create(&fhir, observation("8480-6")).await;
    tokio::time::timeout(wait, delivered(2))
        .await
        .expect("a later pass did not wait for the silent endpoint");
    // ... before the silent one gave up (had the pass waited for it, it would be in error by now).
    assert_eq!(read(&fhir, "Subscription", &stuck).await["status"], "active");
    release.add_permits(1);
    let (sent, n) = passes.await.unwrap();
    assert_eq!(sent, 2);
    assert_eq!(paths(&inbox), vec!["POST /fine", "POST /fine"]);
    assert_eq!(n.active(), vec![fine.clone()]);
    let s = read(&fhir, "Subscription", &stuck).await;
    assert_eq!(s["status"], "error");
    assert!(s["error"].as_str().unwrap().contains("503"), "{s}");
}

backend_tests!(
    delivered_once_across_restarts,
    refused_with_reasons,
    only_allowed_endpoints,
    a_silent_endpoint_holds_up_only_its_own
);
