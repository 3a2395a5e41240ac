//! FHIR interactions through the service layer, on both backends (R4 §3.1.0): CRUD and
//! versioning, history, conditional operations, If-Match under concurrent writers, patch,
//! validation, transactions and batches.
use lantern_service::{Created, Error, Fhir};
use lantern_store::HistoryScope;
use lantern_testkit::client::*;
use lantern_testkit::{backend_tests, ctx, json, parse};
use serde_json::Value;

fn status(e: &Error) -> u16 {
    lantern_service::error_status(e)
}

fn patient(id: Option<&str>, family: &str) -> Value {
    let mut p = json!({"resourceType": "Patient", "name": [{"family": family}]});
    if let Some(id) = id {
        p["id"] = json!(id);
    }
    p
}

async fn history(fhir: &Fhir, scope: HistoryScope, q: &str) -> Value {
    parse(&fhir.history(&ctx(), scope, &pairs(q)).await.expect("history"))
}

fn entry_count(b: &Value) -> usize {
    b["entry"].as_array().map_or(0, Vec::len)
}

async fn crud_and_versions(fhir: Fhir) {
    let c = ctx();
    let id = create(&fhir, patient(None, "Alpha")).await;
    let r = fhir.read(&c, "Patient", &id).await.unwrap();
    assert_eq!(r.version, 1);
    let body = parse(r.body.as_deref().unwrap());
    assert_eq!(body["meta"]["versionId"], "1");
    assert!(body["meta"]["lastUpdated"].is_string());

    let w = fhir.update(&c, "Patient", &id, patient(Some(&id), "Beta"), None).await.unwrap();
    assert!(!w.created);
    assert_eq!(w.stored.version, 2);
    let v1 = fhir.vread(&c, "Patient", &id, "1").await.unwrap();
    assert_eq!(parse(v1.body.as_deref().unwrap())["name"][0]["family"], "Alpha");
    let v2 = fhir.vread(&c, "Patient", &id, "2").await.unwrap();
    assert_eq!(parse(v2.body.as_deref().unwrap())["name"][0]["family"], "Beta");
    assert_eq!(status(&fhir.vread(&c, "Patient", &id, "3").await.unwrap_err()), 404);
    assert_eq!(status(&fhir.vread(&c, "Patient", &id, "x").await.unwrap_err()), 404);

    // Unknown id, unknown type.
    assert_eq!(status(&fhir.read(&c, "Patient", "nope").await.unwrap_err()), 404);
    assert_eq!(status(&fhir.read(&c, "Nonsense", "1").await.unwrap_err()), 404);

    // Delete: read is Gone, vread of the old version still works, delete again is idempotent.
    let d = fhir.delete(&c, "Patient", &id, None).await.unwrap();
    assert!(d.is_some());
    assert_eq!(status(&fhir.read(&c, "Patient", &id).await.unwrap_err()), 410);
    assert!(fhir.vread(&c, "Patient", &id, "2").await.is_ok());
    assert_eq!(status(&fhir.vread(&c, "Patient", &id, "3").await.unwrap_err()), 410);
    fhir.delete(&c, "Patient", &id, None).await.expect("deleting a deleted resource is not an error");
    assert!(ids(&fhir, "Patient", &format!("_id={id}")).await.is_empty());

    // Re-create after delete by update.
    let w = fhir.update(&c, "Patient", &id, patient(Some(&id), "Gamma"), None).await.unwrap();
    assert!(w.stored.version >= 4, "version after delete+update: {}", w.stored.version);
    assert_eq!(ids(&fhir, "Patient", "name=gamma").await, vec![id.clone()]);

    // Update-as-create with a client id.
    let w = fhir.update(&c, "Patient", "client-1", patient(Some("client-1"), "Delta"), None).await.unwrap();
    assert!(w.created);
    assert_eq!(w.stored.version, 1);
    // Body id must match the URL id; bad ids are refused.
    let e = fhir.update(&c, "Patient", "client-1", patient(Some("other"), "X"), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir.update(&c, "Patient", "bad_id!", patient(Some("bad_id!"), "X"), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir.update(&c, "Patient", "client-1", patient(None, "X"), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    // A resource sent to the wrong endpoint.
    let e = fhir.create(&c, "Observation", patient(None, "X"), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
}

async fn history_levels(fhir: Fhir) {
    let a = create(&fhir, patient(None, "One")).await;
    for n in 2..=5 {
        fhir.update(&ctx(), "Patient", &a, patient(Some(&a), &format!("One{n}")), None).await.unwrap();
    }
    let b = create(&fhir, patient(None, "Two")).await;
    let o =
        create(&fhir, json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})).await;
    fhir.delete(&ctx(), "Observation", &o, None).await.unwrap();

    let h = history(&fhir, HistoryScope::Instance("Patient".into(), a.clone()), "").await;
    assert_eq!(h["type"], "history");
    assert_eq!(h["total"], 5);
    let versions: Vec<&str> = h["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["5", "4", "3", "2", "1"], "newest first");
    assert_eq!(h["entry"][4]["request"]["method"], "POST");
    assert_eq!(h["entry"][0]["request"]["method"], "PUT");

    // Paging through an instance history with _count=2 and the next links.
    let mut q = "_count=2".to_string();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = history(&fhir, HistoryScope::Instance("Patient".into(), a.clone()), &q).await;
        for e in page["entry"].as_array().into_iter().flatten() {
            seen.push(e["resource"]["meta"]["versionId"].as_str().unwrap().to_string());
        }
        match link(&page, "next") {
            Some(n) => q = n,
            None => break,
        }
    }
    assert_eq!(seen, vec!["5", "4", "3", "2", "1"]);

    let t = history(&fhir, HistoryScope::Type("Patient".into()), "").await;
    assert_eq!(t["total"], 6);
    let s = history(&fhir, HistoryScope::System, "").await;
    assert_eq!(s["total"], 8);
    // The deletion shows as a DELETE entry without a resource.
    let del = s["entry"].as_array().unwrap().iter().find(|e| e["request"]["method"] == "DELETE").unwrap();
    assert!(del.get("resource").is_none());

    // _since: only versions at or after the instant.
    let b_read = fhir.read(&ctx(), "Patient", &b).await.unwrap();
    let since = parse(b_read.body.as_deref().unwrap())["meta"]["lastUpdated"].as_str().unwrap().to_string();
    let t = history(
        &fhir,
        HistoryScope::Type("Patient".into()),
        &format!("_since={}", since.replace('+', "%2B")),
    )
    .await;
    assert_eq!(t["total"], 1, "{t}");
    assert_eq!(entry_count(&t), 1);
    // Unknown instance: 404; bad _since: 400.
    let e =
        fhir.history(&ctx(), HistoryScope::Instance("Patient".into(), "nope".into()), &[]).await.unwrap_err();
    assert_eq!(status(&e), 404);
    let e = fhir.history(&ctx(), HistoryScope::System, &pairs("_since=yesterday")).await.unwrap_err();
    assert_eq!(status(&e), 400);
}

async fn if_match(fhir: Fhir) {
    let c = ctx();
    let id = create(&fhir, patient(None, "Match")).await;
    let w = fhir.update(&c, "Patient", &id, patient(Some(&id), "M2"), Some(1)).await.unwrap();
    assert_eq!(w.stored.version, 2);
    let e = fhir.update(&c, "Patient", &id, patient(Some(&id), "M3"), Some(1)).await.unwrap_err();
    assert_eq!(status(&e), 412);
    assert_eq!(fhir.read(&c, "Patient", &id).await.unwrap().version, 2, "nothing stored on 412");
    let e = fhir.delete(&c, "Patient", &id, Some(1)).await.unwrap_err();
    assert_eq!(status(&e), 412);
    // If-Match on a resource that does not exist is a failed precondition, not a create.
    let e = fhir.update(&c, "Patient", "never", patient(Some("never"), "N"), Some(1)).await.unwrap_err();
    assert!(matches!(status(&e), 404 | 412), "{e:?}");
    assert!(fhir.read(&c, "Patient", "never").await.is_err());
}

/// N writers each read the current version and update with If-Match: for every version
/// exactly one writer wins, and the final version counts every successful write.
async fn concurrent_if_match(fhir: Fhir) {
    let id = create(&fhir, patient(None, "Race")).await;
    let writers = 8;
    let rounds = 4;
    let mut handles = Vec::new();
    for w in 0..writers {
        let fhir = fhir.clone();
        let id = id.clone();
        handles.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            for r in 0..rounds {
                let cur = fhir.read(&ctx(), "Patient", &id).await.unwrap();
                let body = patient(Some(&id), &format!("w{w}r{r}"));
                match fhir.update(&ctx(), "Patient", &id, body, Some(cur.version)).await {
                    Ok(wr) => {
                        assert_eq!(wr.stored.version, cur.version + 1);
                        wins.push(cur.version);
                    }
                    Err(e) => assert_eq!(status(&e), 412, "{e:?}"),
                }
            }
            wins
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), all.len(), "two writers won the same version: {all:?}");
    let fin = fhir.read(&ctx(), "Patient", &id).await.unwrap();
    assert_eq!(fin.version, 1 + all.len() as i64);
    let h = history(&fhir, HistoryScope::Instance("Patient".into(), id.clone()), "_count=100").await;
    assert_eq!(h["total"], fin.version);
}

async fn conditional_ops(fhir: Fhir) {
    let c = ctx();
    let ident = |v: &str| json!([{"system": "http://example.org/mrn", "value": v}]);
    let mut p = patient(None, "Cond");
    p["identifier"] = ident("A1");
    // Criteria that are all empty are ignored, as search ignores them, so nothing is left to
    // match by: refused, never taken as "every Patient".
    for q in ["identifier=", "identifier=&name=%20", ""] {
        let e = fhir.create(&c, "Patient", p.clone(), Some(q)).await.err();
        assert_eq!(e.as_ref().map(lantern_service::error_status), Some(400), "If-None-Exist: {q}");
    }
    // Conditional create: 0 matches creates, 1 match returns the existing one, 2 is 412.
    let first = match fhir
        .create(&c, "Patient", p.clone(), Some("identifier=http://example.org/mrn|A1"))
        .await
        .unwrap()
    {
        Created::New(w) => w.stored.id,
        Created::Existing(_) => panic!("nothing existed yet"),
    };
    match fhir.create(&c, "Patient", p.clone(), Some("identifier=http://example.org/mrn|A1")).await.unwrap() {
        Created::Existing(s) => assert_eq!(s.id, first),
        Created::New(_) => panic!("conditional create made a duplicate"),
    }
    create(&fhir, {
        let mut q = patient(None, "Dup");
        q["identifier"] = ident("DUP");
        q
    })
    .await;
    create(&fhir, {
        let mut q = patient(None, "Dup");
        q["identifier"] = ident("DUP");
        q
    })
    .await;
    let e = fhir
        .create(&c, "Patient", p.clone(), Some("identifier=http://example.org/mrn|DUP"))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    let e = fhir.create(&c, "Patient", p.clone(), Some("nonsense=1")).await.unwrap_err();
    assert_eq!(status(&e), 400);

    // Conditional update: 0 creates, 1 updates it, many is 412.
    let mut u = patient(None, "Upd");
    u["identifier"] = ident("U1");
    let w = fhir
        .conditional_update(&c, "Patient", "identifier=http://example.org/mrn|U1", u.clone(), None)
        .await
        .unwrap();
    assert!(w.created);
    let uid = w.stored.id.clone();
    u["name"][0]["family"] = json!("Upd2");
    let w = fhir
        .conditional_update(&c, "Patient", "identifier=http://example.org/mrn|U1", u.clone(), None)
        .await
        .unwrap();
    assert!(!w.created);
    assert_eq!(w.stored.id, uid);
    assert_eq!(w.stored.version, 2);
    let e = fhir
        .conditional_update(&c, "Patient", "identifier=http://example.org/mrn|DUP", u.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);

    // Conditional delete: 0 is fine, 1 deletes, many is 412 and deletes nothing.
    assert!(fhir
        .conditional_delete(&c, "Patient", "identifier=http://example.org/mrn|NONE")
        .await
        .unwrap()
        .is_none());
    let d = fhir.conditional_delete(&c, "Patient", "identifier=http://example.org/mrn|U1").await.unwrap();
    assert_eq!(d.unwrap().id, uid);
    assert_eq!(status(&fhir.read(&c, "Patient", &uid).await.unwrap_err()), 410);
    let e =
        fhir.conditional_delete(&c, "Patient", "identifier=http://example.org/mrn|DUP").await.unwrap_err();
    assert_eq!(status(&e), 412);
    assert_eq!(ids(&fhir, "Patient", "identifier=http://example.org/mrn|DUP").await.len(), 2);
}

async fn json_patch(fhir: Fhir) {
    let c = ctx();
    let id =
        create(&fhir, json!({"resourceType": "Patient", "active": true, "name": [{"family": "Patchy"}]}))
            .await;
    let ops = json!([{"op": "replace", "path": "/active", "value": false}, {"op": "add", "path": "/gender", "value": "female"}]);
    let w = fhir.patch(&c, "Patient", &id, ops, None).await.unwrap();
    assert_eq!(w.stored.version, 2);
    let b = parse(w.stored.body.as_deref().unwrap());
    assert_eq!(b["active"], false);
    assert_eq!(b["gender"], "female");
    assert_eq!(ids(&fhir, "Patient", "gender=female").await, vec![id.clone()], "the patch is indexed");
    // Stale If-Match: 412.
    let e = fhir
        .patch(&c, "Patient", &id, json!([{"op": "replace", "path": "/active", "value": true}]), Some(1))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    // A failing test op: 422; an invalid result: 400; not a patch document: 400.
    let e = fhir
        .patch(&c, "Patient", &id, json!([{"op": "test", "path": "/active", "value": true}]), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 422);
    let e = fhir
        .patch(&c, "Patient", &id, json!([{"op": "add", "path": "/gender", "value": "robot"}]), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir.patch(&c, "Patient", &id, json!({"op": "nope"}), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir
        .patch(&c, "Patient", &id, json!([{"op": "replace", "path": "/id", "value": "other"}]), None)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    assert_eq!(fhir.read(&c, "Patient", &id).await.unwrap().version, 2);
    // Patch of something missing.
    let e = fhir.patch(&c, "Patient", "missing", json!([]), None).await.unwrap_err();
    assert_eq!(status(&e), 404);
}

/// One FHIRPath Patch `operation` parameter: its type, its path, then the other parts as given.
fn fp_op(kind: &str, path: &str, parts: Value) -> Value {
    let mut all =
        vec![json!({"name": "type", "valueCode": kind}), json!({"name": "path", "valueString": path})];
    all.extend(parts.as_array().cloned().unwrap_or_default());
    json!({"name": "operation", "part": all})
}

fn fp_patch(ops: Vec<Value>) -> Value {
    json!({"resourceType": "Parameters", "parameter": ops})
}

async fn fhirpath_patch(fhir: Fhir) {
    let c = ctx();
    let id = create(
        &fhir,
        json!({"resourceType": "Patient", "active": true,
               "name": [{"use": "official", "family": "Patchy", "given": ["Ann", "Bea"]}]}),
    )
    .await;
    let patch = fp_patch(vec![
        fp_op("replace", "Patient.active", json!([{"name": "value", "valueBoolean": false}])),
        fp_op(
            "add",
            "Patient",
            json!([{"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1970-01-02"}]),
        ),
        fp_op("delete", "Patient.name.where(use = 'official').given[0]", json!([])),
        fp_op(
            "add",
            "Patient",
            json!([{"name": "name", "valueString": "identifier"},
            {"name": "value", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}}]),
        ),
    ]);
    let w = fhir.patch(&c, "Patient", &id, patch, Some(1)).await.unwrap();
    assert_eq!(w.stored.version, 2);
    let b = parse(w.stored.body.as_deref().unwrap());
    assert_eq!(b["active"], false);
    assert_eq!(b["birthDate"], "1970-01-02");
    assert_eq!(b["name"][0]["given"], json!(["Bea"]));
    assert_eq!(
        ids(&fhir, "Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919").await,
        vec![id.clone()],
        "the patched resource is indexed"
    );
    // Stale If-Match: 412; nothing at a path that must select one element: 422; a malformed
    // patch: 400; a result that is not a valid Patient: 400. None of them writes.
    let one = |kind: &str, path: &str, parts: Value| fp_patch(vec![fp_op(kind, path, parts)]);
    let e = fhir
        .patch(&c, "Patient", &id, one("delete", "Patient.gender", json!([])), Some(1))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 412);
    let e = fhir
        .patch(
            &c,
            "Patient",
            &id,
            one("replace", "Patient.gender", json!([{"name": "value", "valueCode": "female"}])),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 422);
    assert!(e.to_string().contains("selects nothing"), "{e}");
    let e = fhir.patch(&c, "Patient", &id, one("upsert", "Patient", json!([])), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir
        .patch(
            &c,
            "Patient",
            &id,
            one(
                "add",
                "Patient",
                json!([{"name": "name", "valueString": "gender"}, {"name": "value", "valueCode": "robot"}]),
            ),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400, "{e}");
    assert_eq!(fhir.read(&c, "Patient", &id).await.unwrap().version, 2);
}

async fn patch_in_bundles(fhir: Fhir) {
    use base64::Engine;
    let c = ctx();
    let id =
        create(&fhir, json!({"resourceType": "Patient", "active": true, "name": [{"family": "Bundled"}]}))
            .await;
    let json_patch = base64::engine::general_purpose::STANDARD
        .encode(json!([{"op": "add", "path": "/gender", "value": "female"}]).to_string());
    // A transaction: a new Observation, and two patches of the patient (one of each format)
    // that point it at a practitioner made in the same transaction.
    let r = run_bundle(
        &fhir,
        tx(json!([
            {"fullUrl": "urn:uuid:00000000-0000-0000-0000-0000000000d1",
             "resource": {"resourceType": "Practitioner", "name": [{"family": "Who"}]},
             "request": {"method": "POST", "url": "Practitioner"}},
            {"resource": fp_patch(vec![fp_op("add", "Patient", json!([{"name": "name", "valueString": "generalPractitioner"},
                {"name": "value", "valueReference": {"reference": "urn:uuid:00000000-0000-0000-0000-0000000000d1"}}]))]),
             "request": {"method": "PATCH", "url": format!("Patient/{id}")}},
        ])),
    )
    .await
    .unwrap();
    assert_eq!(r["entry"][1]["response"]["status"], "200 OK", "{r}");
    let p = parse(fhir.read(&c, "Patient", &id).await.unwrap().body.as_deref().unwrap());
    let gp = p["generalPractitioner"][0]["reference"].as_str().unwrap();
    assert!(gp.starts_with("Practitioner/") && !gp.contains("urn:uuid"), "{gp}");
    let r = run_bundle(
        &fhir,
        tx(json!([{"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": json_patch},
                   "request": {"method": "PATCH", "url": format!("Patient/{id}"), "ifMatch": "W/\"2\""}}])),
    )
    .await
    .unwrap();
    assert_eq!(r["entry"][0]["response"]["status"], "200 OK", "{r}");
    assert_eq!(fhir.read(&c, "Patient", &id).await.unwrap().version, 3);

    // Atomic: a patch that cannot apply fails the whole transaction.
    let e = run_bundle(
        &fhir,
        tx(json!([
            {"resource": {"resourceType": "Patient", "name": [{"family": "Never"}]}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": fp_patch(vec![fp_op("replace", "Patient.birthDate", json!([{"name": "value", "valueDate": "2000-01-01"}]))]),
             "request": {"method": "PATCH", "url": format!("Patient/{id}")}},
        ])),
    )
    .await
    .unwrap_err();
    assert_eq!(status(&e), 422, "{e}");
    assert!(e.to_string().contains("Bundle.entry[1]"), "{e}");
    assert!(ids(&fhir, "Patient", "family=Never").await.is_empty(), "nothing of a failed transaction stays");
    // A stale ifMatch: 412; a patch of a missing resource: 404; a conditional patch, a body
    // that is no patch, or a result that is no valid Patient: 400.
    for (entry, want) in [
        (
            json!({"resource": fp_patch(vec![fp_op("delete", "Patient.gender", json!([]))]),
                "request": {"method": "PATCH", "url": format!("Patient/{id}"), "ifMatch": "W/\"1\""}}),
            412,
        ),
        (
            json!({"resource": fp_patch(vec![fp_op("delete", "Patient.gender", json!([]))]),
                "request": {"method": "PATCH", "url": "Patient/missing"}}),
            404,
        ),
        (
            json!({"resource": fp_patch(vec![fp_op("delete", "Patient.gender", json!([]))]),
                "request": {"method": "PATCH", "url": "Patient?family=Bundled"}}),
            400,
        ),
        (
            json!({"resource": {"resourceType": "Patient"}, "request": {"method": "PATCH", "url": format!("Patient/{id}")}}),
            400,
        ),
        // A patch whose result is not a valid Patient.
        (
            json!({"resource": fp_patch(vec![fp_op("replace", "Patient.gender", json!([{"name": "value", "valueCode": "robot"}]))]),
                "request": {"method": "PATCH", "url": format!("Patient/{id}")}}),
            400,
        ),
    ] {
        let e = run_bundle(&fhir, tx(json!([entry.clone()]))).await.unwrap_err();
        assert_eq!(status(&e), want, "{entry}: {e}");
    }
    // In a batch each patch stands alone.
    let r = run_bundle(
        &fhir,
        json!({"resourceType": "Bundle", "type": "batch", "entry": [
            {"resource": fp_patch(vec![fp_op("replace", "Patient.active", json!([{"name": "value", "valueBoolean": false}]))]),
             "request": {"method": "PATCH", "url": format!("Patient/{id}")}},
            {"resource": fp_patch(vec![fp_op("delete", "Patient.gender", json!([]))]),
             "request": {"method": "PATCH", "url": "Patient/missing"}},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(r["entry"][0]["response"]["status"], "200 OK", "{r}");
    assert!(r["entry"][1]["response"]["status"].as_str().unwrap().starts_with("404"), "{r}");
    let p = parse(fhir.read(&c, "Patient", &id).await.unwrap().body.as_deref().unwrap());
    assert_eq!((p["active"].clone(), p["gender"].clone()), (json!(false), json!("female")));
}

async fn validate_operation(fhir: Fhir) {
    let c = ctx();
    let none: Vec<(String, String)> = Vec::new();
    let severities = |oo: &Value| -> Vec<String> {
        oo["issue"].as_array().unwrap().iter().map(|i| i["severity"].as_str().unwrap().to_string()).collect()
    };
    // Valid: "All OK"; invalid: every problem, with where it is; nothing is stored either way.
    let ok = fhir
        .validate_resource(
            &c,
            "Patient",
            None,
            Some(json!({"resourceType": "Patient", "gender": "female"})),
            &none,
        )
        .await
        .unwrap();
    assert_eq!(severities(&ok), vec!["information"]);
    let bad = fhir
        .validate_resource(
            &c,
            "Patient",
            None,
            Some(json!({"resourceType": "Patient", "gender": "robot", "birthDate": "1980-13-45"})),
            &none,
        )
        .await
        .unwrap();
    assert_eq!(severities(&bad), vec!["error", "error"], "{bad}");
    assert!(
        bad.to_string().contains("Patient.gender") && bad.to_string().contains("Patient.birthDate"),
        "{bad}"
    );
    let total = parse(&fhir.search(&c, Some("Patient"), &pairs("_summary=count")).await.unwrap());
    assert_eq!(total["total"], 0, "$validate stores nothing");

    // A Parameters body, with a mode and a profile it cannot check.
    let id = create(&fhir, json!({"resourceType": "Patient", "active": true})).await;
    let params = |mode: &str, resource: Value| {
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": resource},
            {"name": "mode", "valueCode": mode},
            {"name": "profile", "valueUri": "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"}]})
    };
    let oo = fhir
        .validate_resource(
            &c,
            "Patient",
            Some(&id),
            Some(params("update", json!({"resourceType": "Patient", "id": "other"}))),
            &none,
        )
        .await
        .unwrap();
    let text = oo.to_string();
    assert!(text.contains("is not the id in the URL") && text.contains("UKCore-Patient"), "{oo}");
    // The wrong type for the endpoint is an issue, not a failure of the operation.
    let oo = fhir
        .validate_resource(
            &c,
            "Patient",
            None,
            Some(json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})),
            &none,
        )
        .await
        .unwrap();
    assert!(oo.to_string().contains("not a Patient"), "{oo}");
    // mode=delete needs no resource; a missing target is a warning.
    let delete = vec![("mode".to_string(), "delete".to_string())];
    let oo = fhir.validate_resource(&c, "Patient", Some(&id), None, &delete).await.unwrap();
    assert_eq!(severities(&oo), vec!["information"]);
    let oo = fhir.validate_resource(&c, "Patient", Some("missing"), None, &delete).await.unwrap();
    assert_eq!(severities(&oo), vec!["warning"]);
    // It cannot run: no resource, an unknown mode, update at the type level, an unknown type.
    let e = fhir.validate_resource(&c, "Patient", None, None, &none).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir
        .validate_resource(
            &c,
            "Patient",
            None,
            Some(json!({"resourceType": "Patient"})),
            &[("mode".into(), "upsert".into())],
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir
        .validate_resource(
            &c,
            "Patient",
            None,
            Some(json!({"resourceType": "Patient"})),
            &[("mode".into(), "update".into())],
        )
        .await
        .unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir.validate_resource(&c, "Nonsense", None, Some(json!({})), &none).await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert_eq!(fhir.read(&c, "Patient", &id).await.unwrap().version, 1, "nothing written");
}

async fn validation_refused(fhir: Fhir) {
    let c = ctx();
    let cases = [
        (json!({"resourceType": "Patient", "gender": "robot"}), "gender"),
        (json!({"resourceType": "Patient", "birthDate": "1980-13-45"}), "birthDate"),
        (json!({"resourceType": "Patient", "name": [{"family": "X", "given": "not-an-array"}]}), "given"),
        (json!({"resourceType": "Patient", "unknownElement": 1}), "unknownElement"),
        (json!({"resourceType": "Patient", "active": "yes"}), "active"),
    ];
    for (body, path) in cases {
        let e = fhir.create(&c, "Patient", body.clone(), None).await.unwrap_err();
        assert_eq!(status(&e), 400, "{body}");
        let issues = e.issues();
        assert!(
            issues.iter().any(|i| i.expression.as_deref().is_some_and(|x| x.contains(path))),
            "{body}: no issue names {path}: {issues:?}"
        );
    }
    let e = fhir.create(&c, "Patient", json!([1, 2]), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let e = fhir.create(&c, "Patient", json!({"name": []}), None).await.unwrap_err();
    assert_eq!(status(&e), 400);
    let total = parse(&fhir.search(&c, Some("Patient"), &pairs("_summary=count")).await.unwrap());
    assert_eq!(total["total"], 0, "nothing partial stored");
}

fn tx(entries: Value) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

async fn run_bundle(fhir: &Fhir, b: Value) -> Result<Value, Error> {
    fhir.bundle(&ctx(), b, true).await.map(|t| parse(&t))
}

async fn transaction_atomic(fhir: Fhir) {
    let before = parse(&fhir.history(&ctx(), HistoryScope::System, &[]).await.unwrap())["total"].clone();
    // The second entry is invalid: nothing at all may be written.
    let b = tx(json!([
        {"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
         "resource": {"resourceType": "Patient", "name": [{"family": "Atomic"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"},
                      "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"}},
         "request": {"method": "POST", "url": "Observation"}}
    ]));
    let e = run_bundle(&fhir, b).await.unwrap_err();
    assert_eq!(status(&e), 400);
    assert!(
        e.issues().iter().any(|i| i.expression.as_deref().is_some_and(|x| x.contains("entry[1]"))),
        "{:?}",
        e.issues()
    );
    assert!(ids(&fhir, "Patient", "name=atomic").await.is_empty());

    // A failure found only inside the write (If-Match conflict on the last entry) rolls back too.
    let existing = create(&fhir, patient(Some("x"), "Existing")).await;
    let b = tx(json!([
        {"resource": {"resourceType": "Patient", "name": [{"family": "Atomic2"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "id": existing, "name": [{"family": "Changed"}]},
         "request": {"method": "PUT", "url": format!("Patient/{existing}"), "ifMatch": "W/\"7\""}}
    ]));
    let e = run_bundle(&fhir, b).await.unwrap_err();
    assert_eq!(status(&e), 412);
    assert!(ids(&fhir, "Patient", "name=atomic2").await.is_empty());
    assert_eq!(ids(&fhir, "Patient", "name=existing").await.len(), 1);
    let after = parse(&fhir.history(&ctx(), HistoryScope::System, &[]).await.unwrap())["total"].clone();
    assert_eq!(after.as_i64().unwrap(), before.as_i64().unwrap() + 1, "only the setup create is in history");

    // An operation or a POST with an id is refused by name, not taken for a create.
    for (url, says) in [
        // Not an operation of that type (the specification's own example posts it).
        ("ValueSet/$lookup", "$lookup is not supported inside a Bundle"),
        ("Patient/p1/$meta-add", "$meta-add is not supported inside a Bundle"),
        ("Patient/_search", "_search is not supported inside a Bundle"),
        (
            "Patient/p1",
            "a POST entry creates: its request.url is a resource type ('Patient'), not 'Patient/p1'",
        ),
    ] {
        let b = tx(json!([
            {"resource": {"resourceType": "Patient", "name": [{"family": "Atomic3"}]}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Parameters"}, "request": {"method": "POST", "url": url}}
        ]));
        let e = run_bundle(&fhir, b).await.unwrap_err();
        assert_eq!(status(&e), 400, "{url}");
        let issue = &e.issues()[0];
        assert!(issue.diagnostics.starts_with(says), "{url}: {}", issue.diagnostics);
        assert_eq!(issue.expression.as_deref(), Some("Bundle.entry[1]"));
    }
    assert!(ids(&fhir, "Patient", "name=atomic3").await.is_empty());
    // Its reads too: a read that fails fails the transaction, with nothing written; a read of
    // what the transaction writes sees it.
    let b = tx(json!([
        {"resource": {"resourceType": "Patient", "name": [{"family": "Atomic4"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/nobody-here"}}
    ]));
    let e = run_bundle(&fhir, b).await.unwrap_err();
    assert_eq!(status(&e), 404);
    assert!(e.issues()[0].diagnostics.contains("Bundle.entry[1]"), "{:?}", e.issues());
    assert!(ids(&fhir, "Patient", "name=atomic4").await.is_empty(), "nothing written");
    let b = tx(json!([
        {"resource": {"resourceType": "Patient", "id": "atomic5", "name": [{"family": "Atomic5"}]}, "request": {"method": "PUT", "url": "Patient/atomic5"}},
        {"request": {"method": "GET", "url": "Patient/atomic5"}},
        {"request": {"method": "GET", "url": "Patient?name=atomic5"}}
    ]));
    let r = run_bundle(&fhir, b).await.unwrap();
    assert_eq!(r["entry"][1]["resource"]["name"][0]["family"], "Atomic5", "{r}");
    assert_eq!(r["entry"][2]["resource"]["total"], 1, "{r}");

    // request.url on another server's base is refused by name; ifNoneExist may repeat the type.
    let b = tx(json!([
        {"resource": {"resourceType": "Patient", "id": "q1"}, "request": {"method": "PUT", "url": "http://elsewhere.org/fhir/Patient/q1"}}
    ]));
    let e = run_bundle(&fhir, b).await.unwrap_err();
    assert!(e.issues()[0].diagnostics.starts_with(
        "request.url 'http://elsewhere.org/fhir/Patient/q1' is an absolute URL on another server"
    ));
    let make = || {
        tx(json!([
            {"resource": {"resourceType": "Patient", "identifier": [{"system": "http://acme.org/xds", "value": "89765a87b"}]},
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": "Patient?identifier=http://acme.org/xds|89765a87b"}}
        ]))
    };
    let first = run_bundle(&fhir, make()).await.unwrap();
    let again = run_bundle(&fhir, make()).await.unwrap();
    assert_eq!(first["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(again["entry"][0]["response"]["status"], "200 OK", "{again}");
    assert_eq!(ids(&fhir, "Patient", "identifier=http://acme.org/xds|89765a87b").await.len(), 1);
}

async fn transaction_references(fhir: Fhir) {
    // An existing patient found by a conditional reference.
    let mut p = patient(None, "Known");
    p["identifier"] = json!([{"system": "http://example.org/mrn", "value": "K1"}]);
    let known = create(&fhir, p).await;
    let b = tx(json!([
        {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001",
         "resource": {"resourceType": "Patient", "identifier": [{"system": "http://example.org/mrn", "value": "N1"}], "name": [{"family": "New"}]},
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=http://example.org/mrn|N1"}},
        {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002",
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "a"},
                      "subject": {"reference": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "b"},
                      "subject": {"reference": "Patient?identifier=http://example.org/mrn|K1"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "c"},
                      "subject": {"reference": "Patient?identifier=http://example.org/mrn|N1"}},
         "request": {"method": "POST", "url": "Observation"}}
    ]));
    let r = run_bundle(&fhir, b.clone()).await.unwrap();
    assert_eq!(r["type"], "transaction-response");
    let entries = r["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "one response per entry, in request order");
    assert_eq!(entries[0]["response"]["status"], "201 Created");
    let new_id = entries[0]["resource"]["id"].as_str().unwrap().to_string();
    let subj = |i: usize| entries[i]["resource"]["subject"]["reference"].as_str().unwrap().to_string();
    assert_eq!(subj(1), format!("Patient/{new_id}"), "urn:uuid resolved");
    assert_eq!(subj(2), format!("Patient/{known}"), "conditional reference to an existing resource");
    assert_eq!(
        subj(3),
        format!("Patient/{new_id}"),
        "conditional reference to a resource created in the bundle"
    );
    assert_eq!(
        ids(&fhir, "Observation", &format!("subject=Patient/{new_id}")).await.len(),
        2,
        "index follows the resolution"
    );
    assert_eq!(ids(&fhir, "Observation", &format!("patient={known}")).await.len(), 1);

    // Sending it again: the conditional create finds its match, so no second patient; the
    // references resolve to the existing one.
    let r2 = run_bundle(&fhir, b).await.unwrap();
    assert_eq!(r2["entry"][0]["response"]["status"], "200 OK");
    assert_eq!(ids(&fhir, "Patient", "identifier=http://example.org/mrn|N1").await, vec![new_id.clone()]);
    assert_eq!(r2["entry"][1]["resource"]["subject"]["reference"], format!("Patient/{new_id}"));
    assert_eq!(r2["entry"][3]["resource"]["subject"]["reference"], format!("Patient/{new_id}"));

    // A conditional reference that matches nothing fails the transaction.
    let b = tx(json!([
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "d"},
                      "subject": {"reference": "Patient?identifier=http://example.org/mrn|NOBODY"}},
         "request": {"method": "POST", "url": "Observation"}}
    ]));
    let e = run_bundle(&fhir, b).await.unwrap_err();
    assert!(matches!(status(&e), 400 | 404 | 412 | 422), "{e:?}");
    assert!(ids(&fhir, "Observation", "code:text=d").await.is_empty());

    // Absolute fullUrls, relative references between the entries (as document bundles, the
    // International Patient Summary's among them, are written): `Patient/d1` in an entry whose
    // fullUrl is `https://elsewhere.example/fhir/Observation/o1` means that base's Patient/d1.
    let b = tx(json!([
        {"fullUrl": "https://elsewhere.example/fhir/Observation/o1",
         "resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "e"},
                      "subject": {"reference": "Patient/d1"}, "performer": [{"reference": "Practitioner/unsent"}]},
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "https://elsewhere.example/fhir/Patient/d1",
         "resource": {"resourceType": "Patient", "id": "d1", "name": [{"family": "Document"}]},
         "request": {"method": "POST", "url": "Patient"}}
    ]));
    let r = run_bundle(&fhir, b).await.unwrap();
    let patient = r["entry"][1]["resource"]["id"].as_str().unwrap().to_string();
    assert_ne!(patient, "d1", "a POST gets a new id");
    assert_eq!(r["entry"][0]["resource"]["subject"]["reference"], format!("Patient/{patient}"));
    assert_eq!(
        r["entry"][0]["resource"]["performer"][0]["reference"], "Practitioner/unsent",
        "a reference to nothing in the bundle is left as written"
    );
    assert_eq!(ids(&fhir, "Observation", &format!("subject=Patient/{patient}")).await.len(), 1);
}

async fn transaction_order(fhir: Fhir) {
    create(&fhir, patient(Some("ord"), "Before")).await;
    put(&fhir, patient(Some("ord"), "Before")).await;
    // Listed GET, PUT, POST, DELETE: processed DELETE, POST, PUT, GET.
    let b = tx(json!([
        {"request": {"method": "GET", "url": "Patient?name=ordered"}},
        {"resource": {"resourceType": "Patient", "id": "ord2", "name": [{"family": "Ordered"}]},
         "request": {"method": "PUT", "url": "Patient/ord2"}},
        {"resource": {"resourceType": "Patient", "name": [{"family": "Ordered"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "DELETE", "url": "Patient/ord"}}
    ]));
    let r = run_bundle(&fhir, b).await.unwrap();
    let e = r["entry"].as_array().unwrap();
    assert_eq!(e.len(), 4);
    assert!(e[3]["response"]["status"].as_str().unwrap().starts_with("20"));
    assert_eq!(e[2]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "201 Created");
    // The GET ran last: it sees both new patients.
    let found = &e[0]["resource"];
    assert_eq!(found["resourceType"], "Bundle", "{found}");
    assert_eq!(found["total"], 2, "GET runs after POST and PUT: {found}");
    assert_eq!(status(&fhir.read(&ctx(), "Patient", "ord").await.unwrap_err()), 410);

    // Two entries acting on the same resource are refused.
    let b = tx(json!([
        {"resource": {"resourceType": "Patient", "id": "same", "name": [{"family": "A"}]}, "request": {"method": "PUT", "url": "Patient/same"}},
        {"request": {"method": "DELETE", "url": "Patient/same"}}
    ]));
    assert_eq!(status(&run_bundle(&fhir, b).await.unwrap_err()), 400);
    assert!(fhir.read(&ctx(), "Patient", "same").await.is_err());
}

async fn batch_independent(fhir: Fhir) {
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "BatchOk"}]}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "gender": "robot"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": {"resourceType": "Patient", "id": "b2", "name": [{"family": "BatchPut"}]}, "request": {"method": "PUT", "url": "Patient/b2"}}
    ]});
    let r = run_bundle(&fhir, b).await.unwrap();
    assert_eq!(r["type"], "batch-response");
    let e = r["entry"].as_array().unwrap();
    assert_eq!(e.len(), 4);
    let st = |i: usize| e[i]["response"]["status"].as_str().unwrap().to_string();
    assert!(st(0).starts_with("201"), "{}", st(0));
    assert!(st(1).starts_with("400"), "{}", st(1));
    assert!(e[1]["response"]["outcome"]["resourceType"] == "OperationOutcome");
    assert!(st(2).starts_with("404"), "{}", st(2));
    assert!(st(3).starts_with("201"), "{}", st(3));
    assert_eq!(ids(&fhir, "Patient", "name=batch").await.len(), 2);
    // GETs of whatever a GET on its own answers: history, compartment searches and the
    // operations that change nothing; not one that would (`$document?persist=true`).
    fhir.update(&ctx(), "Observation", "bo1", json!({"resourceType": "Observation", "id": "bo1", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}, "subject": {"reference": "Patient/b2"}}), None)
        .await
        .unwrap();
    fhir.update(&ctx(), "Composition", "bc1", json!({"resourceType": "Composition", "id": "bc1", "status": "final", "title": "Letter",
        "type": {"text": "letter"}, "date": "2026-12-01", "author": [{"display": "Dr A"}], "subject": {"reference": "Patient/b2"}}), None)
        .await
        .unwrap();
    let gets = [
        ("Patient/b2/_history", "history"),
        ("Patient/_history?_count=1", "history"),
        ("Patient/b2/Observation", "searchset"),
        ("Patient/b2/*", "searchset"),
        ("?_type=Observation&_id=bo1", "searchset"),
        ("Patient/b2/$everything", "searchset"),
        ("Observation/$lastn?patient=b2", "searchset"),
        ("Patient/b2/$summary", "document"),
        ("Composition/bc1/$document", "document"),
    ];
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": gets.iter().map(|(u, _)| json!({"request": {"method": "GET", "url": u}}))
        .chain([json!({"request": {"method": "GET", "url": "Composition/bc1/$document?persist=true"}})])
        .collect::<Vec<_>>()});
    let r = run_bundle(&fhir, b).await.unwrap();
    let e = r["entry"].as_array().unwrap();
    for (i, (url, kind)) in gets.iter().enumerate() {
        assert!(e[i]["response"]["status"].as_str().unwrap().starts_with("200"), "{url}: {}", e[i]);
        assert_eq!(e[i]["resource"]["type"], *kind, "{url}");
    }
    assert!(e[2]["resource"]["entry"][0]["resource"]["id"] == "bo1", "{}", e[2]);
    assert!(e[gets.len()]["response"]["status"].as_str().unwrap().starts_with("400"), "{}", e[gets.len()]);
    // Operations that change nothing POSTed with a Parameters resource, as clients send them.
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Parameters", "parameter": [{"name": "patient", "valueString": "b2"}]},
         "request": {"method": "POST", "url": "Observation/$lastn"}},
        {"resource": {"resourceType": "Parameters"}, "request": {"method": "POST", "url": "Patient/b2/$summary"}}
    ]});
    let r = run_bundle(&fhir, b).await.unwrap();
    let e = r["entry"].as_array().unwrap();
    assert_eq!(e[0]["resource"]["entry"][0]["resource"]["id"], "bo1", "{}", e[0]);
    assert_eq!(e[1]["resource"]["type"], "document", "{}", e[1]);
    // Anything else an operation POSTed in a bundle would be is still refused, not taken for a create.
    let b = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Parameters"}, "request": {"method": "POST", "url": "Patient/$frobnicate"}}
    ]});
    let r = run_bundle(&fhir, b).await.unwrap();
    assert!(r["entry"][0]["response"]["status"].as_str().unwrap().starts_with("400"), "{r}");
    // Not a bundle, or a bundle of the wrong type.
    assert_eq!(status(&run_bundle(&fhir, json!({"resourceType": "Patient"})).await.unwrap_err()), 400);
    assert_eq!(
        status(&run_bundle(&fhir, json!({"resourceType": "Bundle", "type": "searchset"})).await.unwrap_err()),
        400
    );
}

/// An update whose content equals the current version's (member order, `meta.source` and
/// `meta.versionId` aside) makes no version and answers with the stored version; any other
/// difference, or the same content after a delete, makes one.
async fn unchanged_update_makes_no_version(fhir: Fhir) {
    let c = ctx();
    let first = json!({"resourceType": "Location", "id": "ward-7", "name": "Ward 7", "status": "active",
        "meta": {"source": "urn:a", "tag": [{"system": "urn:t", "code": "x"}]},
        "address": {"city": "Leeds", "line": ["1 Road"]}});
    let w = fhir.update(&c, "Location", "ward-7", first.clone(), None).await.unwrap();
    assert_eq!(w.stored.version, 1);
    let same = json!({"resourceType": "Location", "id": "ward-7",
        "address": {"line": ["1 Road"], "city": "Leeds"}, "status": "active", "name": "Ward 7",
        "meta": {"versionId": "9", "tag": [{"code": "x", "system": "urn:t"}], "source": "urn:b"}});
    let w = fhir.update(&c, "Location", "ward-7", same, None).await.unwrap();
    assert_eq!(w.stored.version, 1, "nothing changed");
    let body = parse(w.stored.body.as_deref().unwrap());
    assert_eq!(body["meta"]["source"], "urn:a", "the answer is the stored version");
    assert_eq!(body["meta"]["versionId"], "1");
    assert_eq!(fhir.read(&c, "Location", "ward-7").await.unwrap().version, 1);
    // The same through transactions, answered with and without the resources.
    let put = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": {"resourceType": "Location", "id": "ward-7", "name": "Ward 7", "status": "active",
            "meta": {"tag": [{"system": "urn:t", "code": "x"}]}, "address": {"city": "Leeds", "line": ["1 Road"]}},
        "request": {"method": "PUT", "url": "Location/ward-7"}}]});
    let minimal = parse(&fhir.bundle(&c, put.clone(), false).await.unwrap());
    assert!(minimal["entry"][0]["resource"].is_null(), "{minimal}");
    assert_eq!(minimal["entry"][0]["response"]["etag"], "W/\"1\"", "{minimal}");
    let full = parse(&fhir.bundle(&c, put, true).await.unwrap());
    assert_eq!(full["entry"][0]["resource"]["meta"]["source"], "urn:a", "{full}");
    assert_eq!(fhir.read(&c, "Location", "ward-7").await.unwrap().version, 1);

    let mut renamed = first.clone();
    renamed["name"] = json!("Ward 8");
    assert_eq!(fhir.update(&c, "Location", "ward-7", renamed, None).await.unwrap().stored.version, 2);
    let mut untagged = first.clone();
    untagged["name"] = json!("Ward 8");
    untagged["meta"] = json!({"source": "urn:a"});
    assert_eq!(
        fhir.update(&c, "Location", "ward-7", untagged.clone(), None).await.unwrap().stored.version,
        3
    );
    fhir.delete(&c, "Location", "ward-7", None).await.unwrap();
    let w = fhir.update(&c, "Location", "ward-7", untagged, None).await.unwrap();
    assert_eq!(w.stored.version, 5, "the same content after a delete is a new version");
    assert!(w.created);
}

backend_tests!(
    crud_and_versions,
    unchanged_update_makes_no_version,
    history_levels,
    if_match,
    concurrent_if_match,
    conditional_ops,
    json_patch,
    fhirpath_patch,
    patch_in_bundles,
    validate_operation,
    validation_refused,
    transaction_atomic,
    transaction_references,
    transaction_order,
    batch_independent,
);
