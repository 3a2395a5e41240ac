//! FHIR XML end to end: the real server on a free port, spoken to in XML as a client that only
//! speaks XML would, on both backends. Reads every answer with Lantern's XML reader and checks
//! it against what the JSON API says of the same resources.
mod common;

use common::start;
use lantern_fhir::xml;
use lantern_service::Fhir;
use lantern_testkit::{backend_tests, json};
use reqwest::{header, Client, Response, StatusCode};
use serde_json::Value;

const FHIR_XML: &str = "application/fhir+xml";

fn content_type(r: &Response) -> String {
    r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// The body of an XML response, read back into JSON.
async fn xml_body(r: Response) -> Value {
    assert!(content_type(&r).starts_with(FHIR_XML), "content type {}", content_type(&r));
    let text = r.text().await.unwrap();
    assert!(text.starts_with('<'), "{text}");
    xml::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn post_xml(c: &Client, url: &str, body: &str) -> Response {
    c.post(url)
        .header(header::CONTENT_TYPE, FHIR_XML)
        .header(header::ACCEPT, FHIR_XML)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

const PATIENT: &str = r#"<Patient xmlns="http://hl7.org/fhir">
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">Ann <b>Xml</b></div></text>
  <identifier><system value="https://fhir.nhs.uk/Id/nhs-number"/><value value="9434765919"/></identifier>
  <name><family value="Xml"/><given value="Ann"/><given value="Marie"/></name>
  <gender value="female"/>
  <birthDate value="1980-02-03">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1980-02-03T04:05:06Z"/>
    </extension>
  </birthDate>
</Patient>"#;

async fn xml_interactions(fhir: Fhir) {
    let base = start(fhir).await;
    let c = Client::new();

    // create in XML, answered in XML
    let r = post_xml(&c, &format!("{base}/Patient"), PATIENT).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().get(header::LOCATION).is_some());
    let created = xml_body(r).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name"][0]["given"], json!(["Ann", "Marie"]));
    assert_eq!(created["_birthDate"]["extension"][0]["valueDateTime"], "1980-02-03T04:05:06Z");
    assert_eq!(created["meta"]["versionId"], "1");

    // the same resource by JSON, by Accept and by each _format spelling, pretty too
    let url = format!("{base}/Patient/{id}");
    let as_json: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(as_json["text"]["div"], "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann <b>Xml</b></div>");
    let r = c.get(&url).header(header::ACCEPT, FHIR_XML).send().await.unwrap();
    assert_eq!(r.headers().get(header::ETAG).unwrap(), "W/\"1\"");
    assert_eq!(xml_body(r).await, as_json);
    for f in ["xml", "text/xml", "application/xml", "application/fhir%2Bxml", "application/fhir+xml"] {
        let r = c.get(format!("{url}?_format={f}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "_format={f}");
        assert_eq!(xml_body(r).await, as_json, "_format={f}");
    }
    let r = c.get(format!("{url}?_format=xml&_pretty=true")).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("\n  <id value="), "{text}");
    // `_format=json` wins over an XML Accept.
    let r = c.get(format!("{url}?_format=json")).header(header::ACCEPT, FHIR_XML).send().await.unwrap();
    assert!(content_type(&r).starts_with("application/fhir+json"));

    // update in XML (If-Match honoured), then history and vread in XML
    let updated = PATIENT.replace("<gender value=\"female\"/>", "<gender value=\"other\"/>").replace(
        "<Patient xmlns=\"http://hl7.org/fhir\">",
        &format!("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"{id}\"/>"),
    );
    let r = c
        .put(&url)
        .header(header::CONTENT_TYPE, FHIR_XML)
        .header(header::ACCEPT, FHIR_XML)
        .header(header::IF_MATCH, "W/\"1\"")
        .body(updated.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(xml_body(r).await["gender"], "other");
    let r = c
        .put(&url)
        .header(header::CONTENT_TYPE, FHIR_XML)
        .header(header::ACCEPT, FHIR_XML)
        .header(header::IF_MATCH, "W/\"1\"")
        .body(updated)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(xml_body(r).await["resourceType"], "OperationOutcome");
    let history = xml_body(c.get(format!("{url}/_history?_format=xml")).send().await.unwrap()).await;
    assert_eq!(history["type"], "history");
    assert_eq!(history["entry"].as_array().unwrap().len(), 2);
    let v1 =
        xml_body(c.get(format!("{url}/_history/1")).header(header::ACCEPT, FHIR_XML).send().await.unwrap())
            .await;
    assert_eq!(v1["gender"], "female");

    // a transaction in XML with a urn:uuid reference; its response Bundle in XML
    let tx = r#"<Bundle xmlns="http://hl7.org/fhir">
      <type value="transaction"/>
      <entry>
        <fullUrl value="urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"/>
        <resource><Patient><name><family value="Bundled"/></name></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request>
      </entry>
      <entry>
        <resource><Observation>
          <status value="final"/>
          <code><coding><system value="http://loinc.org"/><code value="8867-4"/></coding></code>
          <subject><reference value="urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"/></subject>
          <valueQuantity><value value="72.50"/><unit value="/min"/></valueQuantity>
        </Observation></resource>
        <request><method value="POST"/><url value="Observation"/></request>
      </entry>
    </Bundle>"#;
    let r = post_xml(&c, &base, tx).await;
    assert_eq!(r.status(), StatusCode::OK);
    let resp = xml_body(r).await;
    assert_eq!(resp["type"], "transaction-response");
    let obs_loc = resp["entry"][1]["response"]["location"].as_str().unwrap().to_string();
    let obs_id = obs_loc.split('/').nth(1).unwrap();
    let obs = xml_body(
        c.get(format!("{base}/Observation/{obs_id}")).header(header::ACCEPT, FHIR_XML).send().await.unwrap(),
    )
    .await;
    assert!(obs["subject"]["reference"].as_str().unwrap().starts_with("Patient/"));
    // The decimal keeps the digits it was sent with, through the store and back.
    assert_eq!(obs["valueQuantity"]["value"].to_string(), "72.50");

    // search in XML: a Bundle whose entries are what the JSON search finds
    let found = xml_body(
        c.get(format!("{base}/Observation?code=8867-4&_include=Observation:subject"))
            .header(header::ACCEPT, FHIR_XML)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found["resourceType"], "Bundle");
    let as_json: Value = c
        .get(format!("{base}/Observation?code=8867-4&_include=Observation:subject"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["entry"], as_json["entry"]);
    assert_eq!(found["total"], json!(1));

    // The patient summary (IPS `$summary`) as an XML document: its narrative XHTML intact.
    let doc = xml_body(
        c.get(format!("{base}/Patient/{id}/$summary")).header(header::ACCEPT, FHIR_XML).send().await.unwrap(),
    )
    .await;
    assert_eq!(doc["type"], "document");
    let composition = &doc["entry"][0]["resource"];
    assert_eq!(composition["resourceType"], "Composition");
    assert_eq!(composition["subject"]["reference"], format!("{base}/Patient/{id}"));
    let problems = &composition["section"][0];
    assert_eq!(problems["code"]["coding"][0]["code"], "11450-4");
    assert_eq!(problems["emptyReason"]["coding"][0]["code"], "unavailable");
    assert!(problems["text"]["div"]
        .as_str()
        .unwrap()
        .starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\">"));
    // ... and found by the patient's identifier.
    let by_number = c
        .get(format!("{base}/Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_number.status(), StatusCode::OK);
    let by_number: Value = by_number.json().await.unwrap();
    assert_eq!(by_number["entry"][1]["resource"]["id"], id.as_str());
    let r = c.get(format!("{base}/Patient/$summary?identifier=urn:x|nobody")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A stored Composition as a document ($document), in XML: the letter and its patient.
    let letter = json!({"resourceType": "Composition", "status": "final", "title": "Letter", "date": "2026-12-01",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "subject": {"reference": format!("Patient/{id}")}, "author": [{"display": "Dr Who"}]});
    let r = c
        .post(format!("{base}/Composition"))
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(letter.to_string())
        .send()
        .await
        .unwrap();
    let letter: Value = r.json().await.unwrap();
    let doc = xml_body(
        c.get(format!("{base}/Composition/{}/$document?_format=xml", letter["id"].as_str().unwrap()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc["type"], "document");
    let kinds: Vec<&str> = doc["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Composition", "Patient"]);

    // refusals: in XML, with the place and the reason
    let r = post_xml(&c, &format!("{base}/Patient"), "<Patient xmlns=\"http://hl7.org/fhir\"><name>").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let oo = xml_body(r).await;
    assert!(oo["issue"][0]["diagnostics"].as_str().unwrap().contains("not well-formed"), "{oo}");
    let r = post_xml(
        &c,
        &format!("{base}/Patient"),
        "<Patient xmlns=\"http://hl7.org/fhir\"><name><fmaily value=\"X\"/></name></Patient>",
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let oo = xml_body(r).await;
    assert_eq!(oo["issue"][0]["expression"], json!(["Patient.name[0].fmaily"]), "{oo}");
    // Read as XML but invalid as FHIR: validation's refusal, in XML.
    let r = post_xml(
        &c,
        &format!("{base}/Patient"),
        "<Patient xmlns=\"http://hl7.org/fhir\"><birthDate value=\"not-a-date\"/></Patient>",
    )
    .await;
    assert!(matches!(r.status().as_u16(), 400 | 422), "{}", r.status());
    let oo = xml_body(r).await;
    assert!(oo.to_string().contains("birthDate"), "{oo}");
    // An XML body refused, answered in JSON to a client that asks for JSON.
    let r = c
        .post(format!("{base}/Patient"))
        .header(header::CONTENT_TYPE, FHIR_XML)
        .body("<Patient/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let oo: Value = r.json().await.unwrap();
    assert!(oo["issue"][0]["diagnostics"].as_str().unwrap().contains("FHIR namespace"), "{oo}");
    let r = c.get(format!("{base}/Patient/nope")).header(header::ACCEPT, FHIR_XML).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(xml_body(r).await["resourceType"], "OperationOutcome");
    let r = c.delete(format!("{base}/metadata")).header(header::ACCEPT, FHIR_XML).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(xml_body(r).await["resourceType"], "OperationOutcome");

    // compressed when asked, XML inside
    let r = c
        .get(format!("{base}/metadata"))
        .header(header::ACCEPT, FHIR_XML)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get(header::CONTENT_ENCODING).unwrap(), "gzip");
    assert!(content_type(&r).starts_with(FHIR_XML));
    let cs = xml_body(c.get(format!("{base}/metadata?_format=xml")).send().await.unwrap()).await;
    assert!(cs["format"].as_array().unwrap().contains(&json!("application/fhir+xml")));
}

backend_tests!(xml_interactions);
