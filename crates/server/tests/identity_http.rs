//! The patient index over HTTP, end to end on a real port and both backends: records arriving
//! through `POST /fhir/Patient` are linked, `Patient.link` shows it, the review queue lists and
//! decides pairs, `$match` grades candidates, PIX cross-references identifiers, and decisions
//! can be explained and reversed.
use lantern_service::Fhir;
use lantern_testkit::{backend_tests, json};
use reqwest::{header, Client, StatusCode};
use serde_json::Value;

const FHIR_JSON: &str = "application/fhir+json";

async fn start(fhir: Fhir) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = lantern_mpi::Mpi::install(&fhir.store, lantern_mpi::model::default_model());
    let security = lantern_server::trust::Security::Disabled;
    let state = lantern_server::AppState {
        fhir,
        version: "test".into(),
        security,
        identity,
        exports: Default::default(),
    };
    tokio::spawn(lantern_server::serve(listener, state));
    format!("http://{addr}")
}

fn patient(given: &str, family: &str, dob: &str, postcode: &str, line: &str, mrn: &str) -> Value {
    json!({"resourceType": "Patient",
        "identifier": [{"system": "https://gp.example/mrn", "value": mrn}],
        "name": [{"family": family, "given": [given]}], "gender": "male", "birthDate": dob,
        "address": [{"line": [line], "postalCode": postcode}]})
}

async fn send(c: &Client, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let _ = c;
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn identity_over_http(fhir: Fhir) {
    let root = start(fhir).await;
    let base = format!("{root}/fhir");
    let c = Client::new();
    let post = |url: String, body: Value, ct: &str| {
        c.post(url).header(header::CONTENT_TYPE, ct.to_string()).body(body.to_string())
    };
    let mut id = Vec::new();
    for p in [
        patient("William", "Jones", "1975-03-14", "BS1 4DJ", "3 Park Road", "W1"),
        patient("Bill", "Jones", "1975-03-15", "LS6 2AB", "77 Mill Lane", "W2"),
        patient("Mary", "Smith", "1980-01-02", "BS8 1TH", "10 High Street", "S1"),
        patient("Mary", "Smith", "1980-01-02", "BS8 1TH", "10 High Street", "S2"),
    ] {
        let (s, b) = send(&c, post(format!("{base}/Patient"), p, FHIR_JSON)).await;
        assert_eq!(s, StatusCode::CREATED);
        id.push(b["id"].as_str().unwrap().to_string());
    }
    // The duplicate Marys are one person: Patient.link on read.
    let (s, mary) = send(&c, c.get(format!("{base}/Patient/{}", id[2]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(mary["link"][0]["other"]["reference"], format!("Patient/{}", id[3]));

    // The review queue holds William / Bill.
    let (s, q) = send(&c, c.get(format!("{root}/identity/reviews?status=open"))).await;
    assert_eq!(s, StatusCode::OK);
    let reviews = q["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1, "{q}");
    assert_eq!(reviews[0]["patient_a"], id[1].as_str());
    assert!(reviews[0]["evidence"]["explanation"].as_str().unwrap().contains("nickname"));
    let rid = reviews[0]["id"].as_i64().unwrap();
    let (s, _) = send(
        &c,
        post(format!("{root}/identity/reviews/{rid}"), json!({"decision": "maybe"}), "application/json"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = send(
        &c,
        post(format!("{root}/identity/reviews/999"), json!({"decision": "accept"}), "application/json"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let accept = json!({"decision": "accept", "note": "moved house; same man"});
    let (s, ev) =
        send(&c, post(format!("{root}/identity/reviews/{rid}"), accept.clone(), "application/json")).await;
    assert_eq!(s, StatusCode::OK, "{ev}");
    assert_eq!(ev["kind"], "review-accept");
    let (s, _) = send(&c, post(format!("{root}/identity/reviews/{rid}"), accept, "application/json")).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, q) = send(&c, c.get(format!("{root}/identity/reviews?status=open"))).await;
    assert!(q["reviews"].as_array().unwrap().is_empty());
    let (_, bill) = send(&c, c.get(format!("{base}/Patient/{}", id[1]))).await;
    assert_eq!(bill["link"][0]["other"]["reference"], format!("Patient/{}", id[0]));

    // Explain, unlink, reverse.
    let (s, e) =
        send(&c, c.get(format!("{root}/identity/explain?a=Patient/{}&b=Patient/{}", id[0], id[1]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(e["same_person"], true);
    assert!(e["text"].as_str().unwrap().contains("Forename 'william' vs 'bill'"), "{e}");
    let (s, un) = send(
        &c,
        post(
            format!("{root}/identity/unlink"),
            json!({"patient": format!("Patient/{}", id[1])}),
            "application/json",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{un}");
    let seq = un["seq"].as_i64().unwrap();
    let (s, back) = send(&c, c.post(format!("{root}/identity/events/{seq}/reverse"))).await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["reverses"], seq);
    let (s, _) = send(&c, c.post(format!("{root}/identity/events/{seq}/reverse"))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, evs) = send(&c, c.get(format!("{root}/identity/events?patient={}", id[1]))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(evs["events"].as_array().unwrap().len() >= 3);
    let (s, ip) = send(&c, c.get(format!("{root}/identity/patients/{}", id[1]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ip["members"].as_array().unwrap().len(), 2);

    // $match: the Marys are certain, graded and scored.
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient("Mary", "Smith", "1980-01-02", "BS8 1TH", "10 High Street", "X")},
        {"name": "count", "valueInteger": 3}]});
    let (s, m) = send(&c, post(format!("{base}/Patient/$match"), params, FHIR_JSON)).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["resourceType"], "Bundle");
    assert_eq!(m["total"], 2);
    assert_eq!(m["entry"][0]["search"]["extension"][0]["valueCode"], "certain");
    assert!(m["entry"][0]["search"]["score"].as_f64().unwrap() > 0.9);
    let (s, _) =
        send(&c, post(format!("{base}/Patient/$match"), json!({"resourceType": "Parameters"}), FHIR_JSON))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // PIX.
    let (s, pix) =
        send(&c, c.get(format!("{base}/Patient/$ihe-pix?sourceIdentifier=https://gp.example/mrn|S1"))).await;
    assert_eq!(s, StatusCode::OK, "{pix}");
    assert!(pix["parameter"].as_array().unwrap().iter().any(|p| p["valueIdentifier"]["value"] == "S2"));
    let (s, _) =
        send(&c, c.get(format!("{base}/Patient/$ihe-pix?sourceIdentifier=https://gp.example/mrn|nobody")))
            .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = send(&c, c.get(format!("{base}/Patient/$ihe-pix"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

backend_tests!(identity_over_http);
