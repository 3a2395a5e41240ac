//! The HTTP API end to end: the real router served on a free port, spoken to with reqwest, on
//! both backends. Checks status codes, headers and OperationOutcomes for every interaction.
mod common;

use common::start;
use lantern_service::Fhir;
use lantern_testkit::{backend_tests, json};
use reqwest::{header, Client, Response, StatusCode};
use serde_json::Value;

const FHIR_JSON: &str = "application/fhir+json";

async fn body(r: Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// `PUT url` of `resource` with `Prefer: prefer`.
async fn put_preferring(c: &Client, url: &str, prefer: &str, resource: &Value) -> Response {
    c.put(url)
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .header("prefer", prefer)
        .body(resource.to_string())
        .send()
        .await
        .unwrap()
}

fn header_of(r: &Response, h: header::HeaderName) -> Option<String> {
    r.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// An OperationOutcome with an issue whose expression (or diagnostics) names `path`.
fn names_path(oo: &Value, path: &str) -> bool {
    oo["resourceType"] == "OperationOutcome"
        && oo["issue"].as_array().into_iter().flatten().any(|i| {
            i["expression"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e.as_str().is_some_and(|e| e.contains(path)))
                || i["diagnostics"].as_str().is_some_and(|d| d.contains(path))
        })
}

async fn http_interactions(fhir: Fhir) {
    let base = start(fhir).await;
    let c = Client::new();
    let root = base.trim_end_matches("/fhir").to_string();

    // health and metadata
    let r = c.get(format!("{root}/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(format!("{base}/metadata")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header_of(&r, header::CONTENT_TYPE).unwrap().starts_with(FHIR_JSON));
    let cs = body(r).await;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");

    // create: 201 + Location + ETag + Last-Modified
    let p = json!({"resourceType": "Patient", "name": [{"family": "Http"}], "gender": "female"});
    let r = c
        .post(format!("{base}/Patient"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(p.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let loc = header_of(&r, header::LOCATION).expect("Location");
    assert!(loc.starts_with(&format!("{base}/Patient/")) && loc.ends_with("/_history/1"), "{loc}");
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"1\""));
    assert!(header_of(&r, header::LAST_MODIFIED).is_some_and(|v| v.ends_with("GMT")));
    let created = body(r).await;
    let id = created["id"].as_str().unwrap().to_string();
    let url = format!("{base}/Patient/{id}");

    // read: 200 + ETag; If-None-Match: 304; _pretty; a format Lantern does not speak: 406
    // (XML is tested in xml_http.rs)
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"1\""));
    assert!(header_of(&r, header::LAST_MODIFIED).is_some());
    let r = c.get(&url).header(header::IF_NONE_MATCH, "W/\"1\"").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = c.get(format!("{url}?_pretty=true")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("\n  \""), "pretty output is indented");
    let r = c.get(format!("{url}?_format=ttl")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    let r = c.get(&url).header(header::ACCEPT, "text/turtle").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    for f in [
        "json",
        "application/fhir+json",
        "application/fhir%2Bjson",
        "application/json+fhir",
        "application/json",
    ] {
        let r = c.get(format!("{url}?_format={f}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "_format={f}");
    }

    // 404s: unknown id, unknown type, unknown path
    assert_eq!(c.get(format!("{base}/Patient/nope")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let r = c.get(format!("{base}/Nonsense/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    assert_eq!(c.get(format!("{base}/Nonsense")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get(format!("{root}/nothing/here")).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // update: 200; If-Match stale: 412; Prefer return=minimal / OperationOutcome
    let mut upd = created.clone();
    upd["gender"] = json!("male");
    let r = c
        .put(&url)
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .header(header::IF_MATCH, "W/\"1\"")
        .body(upd.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"2\""));
    let r = c
        .put(&url)
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .header(header::IF_MATCH, "W/\"1\"")
        .body(upd.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    let r = c
        .put(&url)
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .header(header::IF_MATCH, "garbage")
        .body(upd.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Each update below changes something: an update that changes nothing makes no version.
    upd["active"] = json!(true);
    let r = put_preferring(&c, &url, "return=minimal", &upd).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().is_empty());
    upd["active"] = json!(false);
    let r = put_preferring(&c, &url, "return=OperationOutcome", &upd).await;
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    upd["gender"] = json!("female");
    let r = put_preferring(&c, &url, "return=representation", &upd).await;
    assert_eq!(body(r).await["meta"]["versionId"], "5");
    // The same content again (as HAPI FHIR does): 200 with the current version, no version 6.
    let r = put_preferring(&c, &url, "return=representation", &upd).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"5\""));
    assert_eq!(body(r).await["meta"]["versionId"], "5");
    // Only `meta.source` differs (the same content re-sent by another message): still no version.
    let mut resent = upd.clone();
    resent["meta"] = json!({"source": "urn:lantern:feed:pas#MSG0002"});
    let r =
        c.put(&url).header(header::CONTENT_TYPE, FHIR_JSON).body(resent.to_string()).send().await.unwrap();
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"5\""));
    // update-as-create: 201
    let r = c
        .put(format!("{base}/Patient/chosen-id"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(json!({"resourceType": "Patient", "id": "chosen-id"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // vread and history
    let r = c.get(format!("{url}/_history/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"1\""));
    let h = body(c.get(format!("{url}/_history")).send().await.unwrap()).await;
    assert_eq!(h["type"], "history");
    assert_eq!(h["total"], 5);
    assert_eq!(c.get(format!("{base}/Patient/_history")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(c.get(format!("{base}/_history")).send().await.unwrap().status(), StatusCode::OK);

    // bad input: 400 bad JSON, 415 content type, 400 invalid resource naming the path
    let r = c
        .post(format!("{base}/Patient"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    let r = c
        .post(format!("{base}/Patient"))
        .header(header::CONTENT_TYPE, "text/turtle")
        .body("[ a fhir:Patient ]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bad = json!({"resourceType": "Patient", "name": [{"family": "X"}], "birthDate": "not-a-date"});
    let r = c
        .post(format!("{base}/Patient"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 400 | 422), "{}", r.status());
    let oo = body(r).await;
    assert!(names_path(&oo, "birthDate"), "{oo}");
    let r = c.get(format!("{base}/Patient?name=x")).header("prefer", "handling=strict").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r =
        c.get(format!("{base}/Patient?nonsense=x")).header("prefer", "handling=strict").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(names_path(&body(r).await, "nonsense"));
    let r = c.get(format!("{base}/Patient?birthdate=garbage")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(names_path(&body(r).await, "birthdate"));
    let total = body(c.get(format!("{base}/Patient?_summary=count")).send().await.unwrap()).await;
    assert_eq!(total["total"], 2, "nothing partial stored");

    // A time zone's `+` sent unencoded arrives as a space; it is put back, not refused.
    let obs = json!({"resourceType": "Observation", "id": "tz", "status": "final", "code": {"text": "x"},
        "effectiveDateTime": "2013-01-14T10:00:00+10:00"});
    let r = put_preferring(&c, &format!("{base}/Observation/tz"), "return=minimal", &obs).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for (q, want) in [
        ("ge2013-01-14T10:00:00+10:00", 1),
        ("2013-01-14T10:00:00+10:00", 1),
        ("gt2013-01-14T10:00:00+10:00", 0),
        ("ge2013-01-14T10:00:00%2B10:00", 1),
        ("lt2013-01-14T01:00:00+10:00", 0),
    ] {
        let r = c.get(format!("{base}/Observation?_id=tz&date={q}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{q}");
        assert_eq!(body(r).await["total"], want, "{q}");
    }

    // search GET and POST, paging links that work
    for i in 0..5 {
        let p = json!({"resourceType": "Patient", "name": [{"family": format!("Pager{i}")}]});
        c.post(format!("{base}/Patient"))
            .header(header::CONTENT_TYPE, FHIR_JSON)
            .body(p.to_string())
            .send()
            .await
            .unwrap();
    }
    let mut next = Some(format!("{base}/Patient?name=pager&_count=2"));
    let mut seen = 0;
    while let Some(u) = next {
        let b = body(c.get(&u).send().await.unwrap()).await;
        assert_eq!(b["type"], "searchset");
        seen += b["entry"].as_array().map_or(0, Vec::len);
        next = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
    }
    assert_eq!(seen, 5);
    let r = c
        .post(format!("{base}/Patient/_search"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("name=pager&_count=10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["total"], 5);
    let r = c
        .post(format!("{base}/_search"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("_type=Patient&name=pager")
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await["total"], 5);

    // patch
    let r = c
        .patch(&url)
        .header(header::CONTENT_TYPE, "application/json-patch+json")
        .body(json!([{"op": "replace", "path": "/gender", "value": "other"}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"6\""));
    // FHIRPath Patch, sent as application/fhir+json, and the same by criteria.
    let fp = |kind: &str, path: &str, more: Value| {
        let mut parts =
            vec![json!({"name": "type", "valueCode": kind}), json!({"name": "path", "valueString": path})];
        parts.extend(more.as_array().cloned().unwrap_or_default());
        json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]}).to_string()
    };
    let r = c
        .patch(&url)
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .header(header::IF_MATCH, "W/\"6\"")
        .body(fp("replace", "Patient.gender", json!([{"name": "value", "valueCode": "female"}])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"7\""));
    assert_eq!(body(r).await["gender"], "female");
    let r = c
        .patch(format!("{base}/Patient?_id={id}"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(fp("add", "Patient", json!([{"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1980-02-03"}])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["birthDate"], "1980-02-03");
    let r = c
        .patch(&url)
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(fp("replace", "Patient.id | Patient.gender", json!([{"name": "value", "valueString": "x"}])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");

    // Search in the patient's compartment, paged by links that stay in it.
    let r = c.get(format!("{url}/Observation?_count=5")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    assert_eq!(b["type"], "searchset");
    assert!(b["link"][0]["url"].as_str().unwrap().contains(&format!("/Patient/{id}/Observation?")), "{b}");
    // The same by POST, the parameters in a form body.
    let r = c
        .post(format!("{url}/Observation/_search"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("_count=5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let p = body(r).await;
    assert_eq!((&p["total"], &p["entry"]), (&b["total"], &b["entry"]), "{p}");
    let r = c.get(format!("{url}/Organization")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // ValueSet/$expand by GET and by POST with Parameters.
    let gender = "http://hl7.org/fhir/ValueSet/administrative-gender";
    let r = c.get(format!("{base}/ValueSet/$expand?url={gender}&filter=fem")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["expansion"]["contains"][0]["code"], "female");
    let r = c
        .post(format!("{base}/ValueSet/$expand"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(
            json!({"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": gender},
                {"name": "count", "valueInteger": 2}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    assert_eq!(
        (b["expansion"]["total"].as_u64(), b["expansion"]["contains"].as_array().map(Vec::len)),
        (Some(4), Some(2))
    );
    let r = c.get(format!("{base}/ValueSet/nowhere/$expand")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c.get(format!("{base}/ValueSet/$validate-code?url={gender}&code=robot")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["parameter"][0]["valueBoolean"], false);
    let r = c.get(format!("{base}/CodeSystem/$lookup?system=http://nowhere&code=a")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // $subsumes with two codings by POST; $translate by GET, on the type and on the map.
    let cs = json!({"resourceType": "CodeSystem", "id": "kinds", "url": "http://example.org/kinds", "status": "active",
        "content": "complete", "concept": [{"code": "a", "concept": [{"code": "a1"}]}]});
    assert!(put_preferring(&c, &format!("{base}/CodeSystem/kinds"), "return=minimal", &cs)
        .await
        .status()
        .is_success());
    let coding = |code: &str| json!({"system": "http://example.org/kinds", "code": code});
    let r = c
        .post(format!("{base}/CodeSystem/$subsumes"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(
            json!({"resourceType": "Parameters", "parameter": [{"name": "codingA", "valueCoding": coding("a1")},
                {"name": "codingB", "valueCoding": coding("a")}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["parameter"][0]["valueCode"], "subsumed-by");
    let cm = json!({"resourceType": "ConceptMap", "id": "kinds-map", "url": "http://example.org/kinds-map", "status": "active",
        "group": [{"source": "http://example.org/kinds", "target": "http://example.org/other",
            "element": [{"code": "a1", "target": [{"code": "x", "equivalence": "equivalent"}]}]}]});
    assert!(put_preferring(&c, &format!("{base}/ConceptMap/kinds-map"), "return=minimal", &cm)
        .await
        .status()
        .is_success());
    for path in ["ConceptMap/$translate", "ConceptMap/kinds-map/$translate"] {
        let r = c.get(format!("{base}/{path}?system=http://example.org/kinds&code=a1")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let p = body(r).await;
        assert_eq!(p["parameter"][0]["valueBoolean"], true, "{path}: {p}");
        assert_eq!(p["parameter"][1]["part"][1]["valueCoding"]["code"], "x");
    }
    // A coding stands for system, code and display; an inline resource is refused with why.
    let post = |op: &str, params: Value| {
        c.post(format!("{base}/ValueSet/{op}"))
            .header(header::CONTENT_TYPE, FHIR_JSON)
            .body(json!({"resourceType": "Parameters", "parameter": params}).to_string())
            .send()
    };
    let r = post(
        "$validate-code",
        json!([{"name": "url", "valueUri": gender},
               {"name": "coding", "valueCoding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "female"}}]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["parameter"][0]["valueBoolean"], true);
    // A ValueSet sent whole is expanded (and checked against) as a stored one would be.
    let given = json!({"resourceType": "ValueSet", "status": "active", "compose": {"include": [
        {"system": "http://example.org/kinds", "concept": [{"code": "a", "display": "Kind A"}, {"code": "b"}]}]}});
    let r = post(
        "$expand",
        json!([{"name": "valueSet", "resource": given}, {"name": "filter", "valueString": "kind"}]),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let e = body(r).await;
    assert_eq!(
        e["expansion"]["contains"],
        json!([{"system": "http://example.org/kinds", "code": "a", "display": "Kind A"}])
    );
    let r = post(
        "$validate-code",
        json!([{"name": "valueSet", "resource": given}, {"name": "code", "valueCode": "b"}]),
    )
    .await
    .unwrap();
    assert_eq!(body(r).await["parameter"][0]["valueBoolean"], true);
    let r = post("$expand", json!([{"name": "valueSet", "resource": {"resourceType": "Patient"}}]))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A codeable concept is valid if any of its codings is in the value set.
    let cc = |codes: &[&str]| {
        let coding: Vec<Value> = codes
            .iter()
            .map(|c| json!({"system": "http://hl7.org/fhir/administrative-gender", "code": c}))
            .collect();
        json!([{"name": "url", "valueUri": gender}, {"name": "codeableConcept", "valueCodeableConcept": {"coding": coding}}])
    };
    let r = post("$validate-code", cc(&["robot", "male"])).await.unwrap();
    assert_eq!(body(r).await["parameter"][0]["valueBoolean"], true);
    let p = body(post("$validate-code", cc(&["robot", "dog"])).await.unwrap()).await;
    assert_eq!(p["parameter"][0]["valueBoolean"], false);
    assert!(p["parameter"][1]["valueString"].as_str().unwrap().starts_with("none of"), "{p}");
    let r = post("$validate-code", cc(&[])).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no code at all");
    let r = post("$expand", json!([{"name": "url", "valueUri": gender}, {"name": "codeableConcept", "valueCodeableConcept": {"text": "x"}}]))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body(r).await["issue"][0]["diagnostics"].as_str().unwrap().contains("'codeableConcept'"));

    // $validate: 200 and the OperationOutcome, valid or not.
    for (resource, severity) in [
        (json!({"resourceType": "Patient", "gender": "female"}), "information"),
        (json!({"resourceType": "Patient", "gender": "robot"}), "error"),
    ] {
        let r = c
            .post(format!("{base}/Patient/$validate"))
            .header(header::CONTENT_TYPE, FHIR_JSON)
            .body(resource.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(body(r).await["issue"][0]["severity"], severity);
    }
    let r = c.get(format!("{url}/$validate?mode=delete")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["issue"][0]["severity"], "information");
    let r = c
        .post(format!("{url}/$validate"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(
            json!({"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "update"},
            {"name": "resource", "resource": {"resourceType": "Patient", "id": id, "active": false}}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["issue"][0]["severity"], "information");

    // transaction
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:00000000-0000-0000-0000-0000000000aa", "resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "t"}, "subject": {"reference": "urn:uuid:00000000-0000-0000-0000-0000000000aa"}},
         "request": {"method": "POST", "url": "Observation"}}]});
    let r = c.post(&base).header(header::CONTENT_TYPE, FHIR_JSON).body(tx.to_string()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    assert_eq!(b["type"], "transaction-response");
    assert_eq!(b["entry"][1]["response"]["status"], "201 Created");
    // The base with a trailing slash takes bundles and system searches too.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Patient?_count=1"}}]});
    let r = c
        .post(format!("{base}/"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["type"], "batch-response");
    let r = c.get(format!("{base}/?_type=Patient&_count=1")).send().await.unwrap();
    assert_eq!(body(r).await["type"], "searchset");

    // conditional create by header: 201 then 200 with the existing resource
    let p = json!({"resourceType": "Patient", "identifier": [{"system": "http://x", "value": "9"}]});
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = c
            .post(format!("{base}/Patient"))
            .header(header::CONTENT_TYPE, FHIR_JSON)
            .header("if-none-exist", "identifier=http://x|9")
            .header("prefer", "return=OperationOutcome")
            .body(p.to_string())
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        assert!(header_of(&r, header::LOCATION).is_some());
        assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    }
    assert_eq!(statuses, vec![201, 200]);

    // delete with a stale If-Match: 412 and nothing deleted
    let r = c.delete(&url).header(header::IF_MATCH, "W/\"1\"").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);

    // delete: 200 (or 204); then 410; conditional delete
    let r = c.delete(&url).send().await.unwrap();
    assert!(matches!(r.status().as_u16(), 200 | 204), "{}", r.status());
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(body(r).await["resourceType"], "OperationOutcome");
    let r = c.delete(format!("{base}/Patient?name=pager")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED, "several matches");
    let r = c.delete(format!("{base}/Patient?name=pager0")).send().await.unwrap();
    assert!(matches!(r.status().as_u16(), 200 | 204));

    // A body over axum's own 2 MiB default is taken (one patient's bundle, the spec's larger
    // ValueSets); a method a route lacks is an OperationOutcome, not an empty 405.
    let big = json!({"resourceType": "Binary", "id": "big", "contentType": "application/pdf", "data": "QUJD".repeat(1 << 20)});
    let r = put_preferring(&c, &format!("{base}/Binary/big"), "return=minimal", &big).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    // A Binary taken and served as itself: a PDF posted raw, read back raw when asked for by
    // type, as FHIR JSON otherwise; an update raw too.
    let pdf = b"%PDF-1.4 a discharge letter".to_vec();
    let r = c
        .post(format!("{base}/Binary"))
        .header(header::CONTENT_TYPE, "application/pdf")
        .header("x-security-context", "Patient/p1")
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let loc = header_of(&r, header::LOCATION).unwrap();
    let bin_url = loc.split("/_history").next().unwrap().to_string();
    let r = c.get(&bin_url).header(header::ACCEPT, "application/pdf").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header_of(&r, header::CONTENT_TYPE).as_deref(), Some("application/pdf"));
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"1\""));
    assert_eq!(header_of(&r, "x-security-context".parse().unwrap()).as_deref(), Some("Patient/p1"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    let b = body(c.get(&bin_url).header(header::ACCEPT, "*/*").send().await.unwrap()).await;
    assert_eq!(
        (b["resourceType"].as_str(), b["contentType"].as_str()),
        (Some("Binary"), Some("application/pdf"))
    );
    assert_eq!(b["securityContext"]["reference"], "Patient/p1");
    let r =
        c.put(&bin_url).header(header::CONTENT_TYPE, "text/plain").body("version two").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(format!("{bin_url}/_history/2")).header(header::ACCEPT, "text/plain").send().await.unwrap();
    assert_eq!(header_of(&r, header::CONTENT_TYPE).as_deref(), Some("text/plain"));
    assert_eq!(r.text().await.unwrap(), "version two");
    let r = c
        .get(format!("{base}/Patient/nobody"))
        .header(header::ACCEPT, "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE, "only a Binary is served as itself");

    let r = c.get(format!("{base}/Patient/$everything")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(names_path(&body(r).await, "operation '$everything' is not supported on Patient"));

    let r = c.delete(format!("{base}/metadata")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(header_of(&r, header::ALLOW).is_some_and(|a| a.contains("GET")));
    assert!(names_path(&body(r).await, "DELETE is not supported on /fhir/metadata"));
}

/// Conditional read by date and tag (304 with the validators), and `$meta`, `$meta-add` and
/// `$meta-delete` on a resource and on a version.
async fn conditional_read_and_meta(fhir: Fhir) {
    let base = start(fhir).await;
    let c = Client::new();
    let url = format!("{base}/Patient/m1");
    let p =
        json!({"resourceType": "Patient", "id": "m1", "meta": {"tag": [{"system": "urn:t", "code": "a"}]}});
    assert_eq!(put_preferring(&c, &url, "return=minimal", &p).await.status(), StatusCode::CREATED);
    let r = c.get(&url).send().await.unwrap();
    let modified = header_of(&r, header::LAST_MODIFIED).unwrap();
    let since = |h: &str| c.get(&url).header(header::IF_MODIFIED_SINCE, h.to_string()).send();
    let r = since(&modified).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&r, header::ETAG).as_deref(), Some("W/\"1\""), "a 304 carries the validators");
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(since("Thu, 01 Jan 2015 00:00:00 GMT").await.unwrap().status(), StatusCode::OK);
    assert_eq!(since("not a date").await.unwrap().status(), StatusCode::OK, "an unreadable date is ignored");
    let r = c.get(&url).header(header::IF_NONE_MATCH, "W/\"7\"").header(header::IF_MODIFIED_SINCE, &modified);
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK, "the tag decides when both are sent");
    let cs = body(c.get(format!("{base}/metadata")).send().await.unwrap()).await;
    let patient =
        cs["rest"][0]["resource"].as_array().unwrap().iter().find(|r| r["type"] == "Patient").unwrap();
    assert_eq!(patient["conditionalRead"], "full-support");
    assert!(patient["operation"].as_array().unwrap().iter().any(|o| o["name"] == "meta-add"));

    let meta_of = |v: &Value| v["parameter"][0]["valueMeta"].clone();
    let m = body(c.get(format!("{url}/$meta")).send().await.unwrap()).await;
    assert_eq!(m["resourceType"], "Parameters");
    assert_eq!(meta_of(&m)["tag"], json!([{"system": "urn:t", "code": "a"}]));
    let post = |op: &str, meta: Value| {
        c.post(format!("{url}/{op}"))
            .header(header::CONTENT_TYPE, FHIR_JSON)
            .body(
                json!({"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": meta}]})
                    .to_string(),
            )
            .send()
    };
    // Added as a set: the tag already there is not repeated; a new version records the change.
    let r = post(
        "$meta-add",
        json!({"tag": [{"system": "urn:t", "code": "a", "display": "A"}, {"system": "urn:t", "code": "b"}],
        "profile": ["http://example.org/p"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let m = meta_of(&body(r).await);
    assert_eq!(m["versionId"], "2");
    assert_eq!(m["tag"].as_array().unwrap().len(), 2, "{m}");
    assert_eq!(m["profile"], json!(["http://example.org/p"]));
    let read = body(c.get(&url).send().await.unwrap()).await;
    assert_eq!(read["meta"]["tag"], m["tag"]);
    let found = body(c.get(format!("{base}/Patient?_tag=urn:t|b")).send().await.unwrap()).await;
    assert_eq!(found["total"], 1, "the added tag is searchable");
    // Nothing to change: no new version.
    let m = meta_of(
        &body(post("$meta-add", json!({"tag": [{"system": "urn:t", "code": "b"}]})).await.unwrap()).await,
    );
    assert_eq!(m["versionId"], "2");
    // With If-Match: to the version named or not at all.
    let stale = c
        .post(format!("{url}/$meta-delete"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .header(header::IF_MATCH, "W/\"1\"")
        .body(json!({"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"tag": [{"system": "urn:t", "code": "a"}]}}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let m = meta_of(
        &body(post("$meta-delete", json!({"tag": [{"system": "urn:t", "code": "a"}]})).await.unwrap()).await,
    );
    assert_eq!(
        (m["versionId"].as_str(), m["tag"].clone()),
        (Some("3"), json!([{"system": "urn:t", "code": "b"}]))
    );
    // A version keeps the Meta it had.
    let m = body(c.get(format!("{url}/_history/1/$meta")).send().await.unwrap()).await;
    assert_eq!(meta_of(&m)["tag"], json!([{"system": "urn:t", "code": "a"}]));

    // Refused with the reason: a body that is not one Meta, a type-level call, an unknown resource.
    let r = c
        .post(format!("{url}/$meta-add"))
        .header(header::CONTENT_TYPE, FHIR_JSON)
        .body(r#"{"resourceType":"Parameters"}"#);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(names_path(&body(r).await, "'meta' parameter is missing"));
    let r = post("$meta-add", json!({"tag": [{"system": "urn:t"}]})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(names_path(&body(r).await, "valueMeta.tag"));
    let r = c.post(format!("{base}/Patient/$meta-add")).header(header::CONTENT_TYPE, FHIR_JSON).body("{}");
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(names_path(&body(r).await, "served on one resource"));
    // On a type and on the system: the tags in use now (b; a was deleted), not what history held.
    for at in ["Patient/$meta", "$meta"] {
        let r = c.get(format!("{base}/{at}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{at}");
        let m = meta_of(&body(r).await);
        assert_eq!(m["tag"], json!([{"system": "urn:t", "code": "b"}]), "{at}: {m}");
    }
    let r = c.get(format!("{base}/Organization/$meta")).send().await.unwrap();
    assert_eq!(meta_of(&body(r).await), json!({}));
    let r = c.get(format!("{base}/Patient/nobody/$meta")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Observation/$lastn over HTTP: a searchset of the newest of each code; a patient needed.
    for (id, when) in [("w1", "2024-01-01"), ("w2", "2024-06-01")] {
        let o = json!({"resourceType": "Observation", "id": id, "status": "final", "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "subject": {"reference": "Patient/m1"}});
        put_preferring(&c, &format!("{base}/Observation/{id}"), "return=minimal", &o).await;
    }
    let b = body(c.get(format!("{base}/Observation/$lastn?patient=m1")).send().await.unwrap()).await;
    assert_eq!((b["type"].as_str(), b["total"].as_u64()), (Some("searchset"), Some(1)), "{b}");
    assert_eq!(b["entry"][0]["resource"]["id"], "w2");
    let r = c.get(format!("{base}/Observation/$lastn?code=29463-7")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The read-only operations by POST with a Parameters body, as many clients call them.
    let post_params = |url: String, params: Value| {
        let c = c.clone();
        async move {
            let r = c
                .post(url)
                .header(header::CONTENT_TYPE, FHIR_JSON)
                .body(params.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            body(r).await
        }
    };
    let b = post_params(
        format!("{base}/Observation/$lastn"),
        json!({"resourceType": "Parameters", "parameter": [{"name": "patient", "valueString": "m1"}, {"name": "max", "valueInteger": 2}]}),
    )
    .await;
    assert_eq!(b["total"], 2, "{b}");
    let b = post_params(
        format!("{base}/Observation/$stats"),
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "subject", "valueUri": "Patient/m1"},
            {"name": "coding", "valueCoding": {"system": "http://loinc.org", "code": "29463-7"}},
            {"name": "period", "valuePeriod": {"start": "2024-01-01", "end": "2024-12-31"}},
            {"name": "statistic", "valueCode": "count"}]}),
    )
    .await;
    assert_eq!(b["parameter"][0]["resource"]["component"][0]["valueInteger"], 0, "no valueQuantity: {b}");
    let b = post_params(format!("{base}/Patient/m1/$summary"), json!({"resourceType": "Parameters"})).await;
    assert_eq!(b["type"], "document");
    let b = post_params(
        format!("{base}/Patient/m1/$everything"),
        json!({"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Observation"}]}),
    )
    .await;
    assert_eq!(b["total"], 2, "{b}");

    // Every type of the compartment, by GET and by POST.
    let b = body(c.get(format!("{base}/Patient/m1/*?_sort=_id")).send().await.unwrap()).await;
    let got = lantern_testkit::client::refs_with_mode(&b, None);
    assert_eq!(got.len(), 3, "{b}");
    assert!(
        got.contains(&"Patient/m1".to_string()) && got.contains(&"Observation/w2".to_string()),
        "{got:?}"
    );
    let r = c
        .post(format!("{base}/Patient/m1/*/_search"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("_type=Observation")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["total"], 2);
}

backend_tests!(http_interactions, conditional_read_and_meta);
