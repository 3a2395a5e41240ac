//! `ValueSet/$expand` on both backends: stored value sets (listed concepts, an expansion, a
//! whole code system stored here), R4's own, text filters and paging, and refusals with the
//! reason; `:in` takes the same expansions.
use lantern_service::{Error, Fhir};
use lantern_testkit::client::{ids, put};
use lantern_testkit::{backend_tests, ctx, json, parse, strict};
use serde_json::Value;

const CS: &str = "http://example.org/fhir/CodeSystem/clinic-kinds";

async fn seed(fhir: &Fhir) {
    put(
        fhir,
        json!({"resourceType": "CodeSystem", "id": "clinic-kinds", "url": CS, "status": "active", "content": "complete",
            "concept": [{"code": "diab", "display": "Diabetes clinic", "concept": [{"code": "diab-child", "display": "Children's diabetes clinic"}]},
                        {"code": "resp", "display": "Respiratory clinic"},
                        {"code": "card", "display": "Cardiology clinic"}]}),
    )
    .await;
    put(
        fhir,
        json!({"resourceType": "ValueSet", "id": "all-clinics", "url": "http://example.org/fhir/ValueSet/all-clinics",
            "name": "AllClinics", "status": "active",
            "compose": {"include": [{"system": CS}], "exclude": [{"system": CS, "concept": [{"code": "card"}]}]}}),
    )
    .await;
    put(
        fhir,
        json!({"resourceType": "ValueSet", "id": "needs-server", "url": "http://example.org/fhir/ValueSet/needs-server",
            "status": "active", "compose": {"include": [{"system": "http://snomed.info/sct",
            "filter": [{"property": "concept", "op": "is-a", "value": "73211009"}]}]}}),
    )
    .await;
}

async fn expand(fhir: &Fhir, id: Option<&str>, q: &str) -> Result<Value, Error> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    fhir.expand(&ctx(), id, None, &pairs).await.map(|t| parse(&t))
}

fn codes(vs: &Value) -> Vec<String> {
    vs["expansion"]["contains"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

async fn value_set_expand(fhir: Fhir) {
    seed(&fhir).await;
    // A whole code system stored here, less an exclusion; by url and by id alike.
    let by_url = expand(&fhir, None, "url=http://example.org/fhir/ValueSet/all-clinics").await.unwrap();
    assert_eq!(codes(&by_url), ["diab", "diab-child", "resp"]);
    assert_eq!(by_url["expansion"]["total"], 3);
    assert_eq!(by_url["name"], "AllClinics");
    assert_eq!(by_url["expansion"]["contains"][0]["display"], "Diabetes clinic");
    assert_eq!(by_url["expansion"]["contains"][0]["system"], CS);
    let by_id = expand(&fhir, Some("all-clinics"), "").await.unwrap();
    assert_eq!(codes(&by_id), codes(&by_url));
    // Filtered by words of the display or code, and paged.
    let f = expand(&fhir, Some("all-clinics"), "filter=DIABETES").await.unwrap();
    assert_eq!(codes(&f), ["diab", "diab-child"]);
    let f = expand(&fhir, Some("all-clinics"), "filter=children diabetes").await.unwrap();
    assert_eq!(codes(&f), ["diab-child"]);
    let page = expand(&fhir, Some("all-clinics"), "offset=1&count=1").await.unwrap();
    assert_eq!(
        (codes(&page), page["expansion"]["total"].as_u64()),
        (vec!["diab-child".to_string()], Some(3))
    );
    // One of R4's own.
    let g = expand(&fhir, None, "url=http://hl7.org/fhir/ValueSet/administrative-gender").await.unwrap();
    assert_eq!(codes(&g), ["male", "female", "other", "unknown"]);
    // Another value set included whole (R4's own here), with local additions.
    put(
        &fhir,
        json!({"resourceType": "ValueSet", "id": "gender-plus", "url": "http://example.org/fhir/ValueSet/gender-plus",
            "status": "active", "compose": {"include": [
                {"valueSet": ["http://hl7.org/fhir/ValueSet/administrative-gender"]},
                {"system": "http://example.org/local", "concept": [{"code": "x", "display": "Declined to say"}]}]}}),
    )
    .await;
    let plus = expand(&fhir, Some("gender-plus"), "").await.unwrap();
    assert_eq!(codes(&plus), ["male", "female", "other", "unknown", "x"]);
    // Refusals, with the reason.
    let e = expand(&fhir, Some("needs-server"), "").await.unwrap_err();
    assert!(e.to_string().contains("terminology server"), "{e}");
    let e = expand(&fhir, None, "url=http://example.org/nowhere").await.unwrap_err();
    assert!(e.to_string().contains("not known here"), "{e}");
    assert!(expand(&fhir, None, "").await.unwrap_err().to_string().contains("url"));
    assert!(expand(&fhir, None, "url=x&count=many").await.is_err());
    assert!(matches!(
        expand(&fhir, Some("absent"), "").await,
        Err(Error::Store(lantern_store::StoreError::NotFound(_)))
    ));
    let pairs = vec![("url".to_string(), CS.to_string()), ("colour".to_string(), "red".to_string())];
    assert!(
        fhir.expand(&strict(), None, None, &pairs).await.is_err(),
        "strict refuses what it does not know"
    );

    // `:in` takes the same expansion.
    put(
        &fhir,
        json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": CS, "code": "diab-child"}]}]}),
    )
    .await;
    put(
        &fhir,
        json!({"resourceType": "Encounter", "id": "e2", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": CS, "code": "card"}]}]}),
    )
    .await;
    assert_eq!(
        ids(&fhir, "Encounter", "type:in=http://example.org/fhir/ValueSet/all-clinics").await,
        vec!["e1".to_string()]
    );
}

async fn call(fhir: &Fhir, op: &str, id: Option<&str>, q: &str) -> Result<Value, Error> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let out = match op {
        "lookup" => fhir.lookup(&ctx(), &pairs).await,
        "subsumes" => fhir.subsumes(&ctx(), id, &pairs).await,
        "translate" => fhir.translate(&ctx(), id, &pairs).await,
        _ => fhir.validate_code(&ctx(), id, None, &pairs).await,
    };
    out.map(|t| parse(&t))
}

/// A named output parameter's value.
fn out(p: &Value, name: &str) -> Value {
    p["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["name"] == name)
        .map(|x| {
            x.as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("value"))
                .map(|(_, v)| v.clone())
                .unwrap()
        })
        .unwrap_or(Value::Null)
}

async fn lookup_and_validate_code(fhir: Fhir) {
    seed(&fhir).await;
    // $lookup in a code system stored here, nested concepts too.
    let p = call(&fhir, "lookup", None, &format!("system={CS}&code=diab-child")).await.unwrap();
    assert_eq!(out(&p, "display"), "Children's diabetes clinic");
    assert_eq!(out(&p, "name"), CS);
    assert!(matches!(
        call(&fhir, "lookup", None, &format!("system={CS}&code=nope")).await,
        Err(Error::Store(lantern_store::StoreError::NotFound(_)))
    ));
    assert!(call(&fhir, "lookup", None, "system=http://example.org/elsewhere&code=a").await.is_err());
    assert!(call(&fhir, "lookup", None, "code=a").await.is_err(), "a system is needed");
    // $validate-code against what the value set expands to.
    let yes = call(&fhir, "validate", Some("all-clinics"), &format!("system={CS}&code=resp")).await.unwrap();
    assert_eq!((out(&yes, "result"), out(&yes, "display")), (json!(true), json!("Respiratory clinic")));
    let excluded = call(&fhir, "validate", Some("all-clinics"), "code=card").await.unwrap();
    assert_eq!(out(&excluded, "result"), false);
    assert!(out(&excluded, "message").as_str().unwrap().contains("not in"), "{excluded}");
    let wrong_system =
        call(&fhir, "validate", Some("all-clinics"), "system=http://other&code=resp").await.unwrap();
    assert_eq!(out(&wrong_system, "result"), false);
    let display =
        call(&fhir, "validate", Some("all-clinics"), "code=resp&display=Chest clinic").await.unwrap();
    assert_eq!(out(&display, "result"), true);
    assert!(out(&display, "message").as_str().unwrap().contains("Chest clinic"), "{display}");
    let by_url =
        call(&fhir, "validate", None, "url=http://hl7.org/fhir/ValueSet/administrative-gender&code=female")
            .await
            .unwrap();
    assert_eq!(out(&by_url, "result"), true);
    assert!(call(&fhir, "validate", Some("needs-server"), "code=1").await.is_err());
}

async fn subsumes_and_translate(fhir: Fhir) {
    seed(&fhir).await;
    // $subsumes over the nesting of a code system stored here.
    let outcome = |p: Value| out(&p, "outcome");
    let q = |a: &str, b: &str| format!("system={CS}&codeA={a}&codeB={b}");
    assert_eq!(outcome(call(&fhir, "subsumes", None, &q("diab", "diab-child")).await.unwrap()), "subsumes");
    assert_eq!(
        outcome(call(&fhir, "subsumes", None, &q("diab-child", "diab")).await.unwrap()),
        "subsumed-by"
    );
    assert_eq!(outcome(call(&fhir, "subsumes", None, &q("resp", "resp")).await.unwrap()), "equivalent");
    assert_eq!(
        outcome(call(&fhir, "subsumes", None, &q("resp", "diab-child")).await.unwrap()),
        "not-subsumed"
    );
    let by_id = call(&fhir, "subsumes", Some("clinic-kinds"), "codeA=diab&codeB=diab-child").await.unwrap();
    assert_eq!(outcome(by_id), "subsumes");
    assert!(matches!(
        call(&fhir, "subsumes", None, &q("diab", "nope")).await,
        Err(Error::Store(lantern_store::StoreError::NotFound(_)))
    ));
    assert!(call(&fhir, "subsumes", None, &format!("{}&systemB=http://other", q("diab", "resp")))
        .await
        .is_err());

    // $translate through a ConceptMap stored here: found by the code's system and code, by url,
    // or named by id; back again with `reverse`.
    put(
        &fhir,
        json!({"resourceType": "ConceptMap", "id": "lab-to-loinc", "url": "http://lab.example/map", "status": "active",
            "group": [{"source": "http://lab.example/codes", "target": "http://loinc.org", "element": [
                {"code": "HB", "target": [{"code": "718-7", "display": "Hemoglobin", "equivalence": "equivalent"}]},
                {"code": "K", "target": [{"code": "2823-3", "equivalence": "equivalent"}]},
                {"code": "ZZ", "target": [{"equivalence": "unmatched"}]}]}]}),
    )
    .await;
    let t = call(&fhir, "translate", None, "system=http://lab.example/codes&code=HB").await.unwrap();
    assert_eq!(out(&t, "result"), true, "{t}");
    let m = t["parameter"].as_array().unwrap().iter().find(|p| p["name"] == "match").unwrap().clone();
    assert_eq!(
        m["part"][1]["valueCoding"],
        json!({"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"})
    );
    let by_url =
        call(&fhir, "translate", None, "url=http://lab.example/map&system=http://lab.example/codes&code=K")
            .await
            .unwrap();
    assert_eq!(out(&by_url, "result"), true);
    let back =
        call(&fhir, "translate", Some("lab-to-loinc"), "system=http://loinc.org&code=2823-3&reverse=true")
            .await
            .unwrap();
    assert_eq!(out(&back, "result"), true, "{back}");
    let none = call(&fhir, "translate", None, "system=http://lab.example/codes&code=NA").await.unwrap();
    assert_eq!(out(&none, "result"), false);
    assert!(out(&none, "message").as_str().unwrap().contains("no mapping"), "{none}");
    let unmatched = call(&fhir, "translate", None, "system=http://lab.example/codes&code=ZZ").await.unwrap();
    assert_eq!(out(&unmatched, "result"), false, "{unmatched}");
    let elsewhere = call(&fhir, "translate", None, "system=http://other.example&code=HB").await.unwrap();
    assert_eq!(out(&elsewhere, "result"), false, "another system's HB is not the lab's");
    assert!(call(&fhir, "translate", None, "code=HB").await.is_err(), "a system is needed");
    // A map whose group hands codes it has no element for on to another map (`unmapped`
    // mode `other-map`), asked by url: the other map's answer.
    put(
        &fhir,
        json!({"resourceType": "ConceptMap", "id": "lab-extra", "url": "http://lab.example/map2", "status": "active",
            "group": [{"source": "http://lab.example/codes", "target": "http://loinc.org", "element": [
                {"code": "NA", "target": [{"code": "2951-2", "equivalence": "equivalent"}]}]}]}),
    )
    .await;
    put(
        &fhir,
        json!({"resourceType": "ConceptMap", "id": "lab-chain", "url": "http://lab.example/map3", "status": "active",
            "group": [{"source": "http://lab.example/codes", "target": "http://loinc.org",
                "element": [{"code": "HB", "target": [{"code": "718-7", "equivalence": "equivalent"}]}],
                "unmapped": {"mode": "other-map", "url": "http://lab.example/map2"}}]}),
    )
    .await;
    let chained =
        call(&fhir, "translate", None, "url=http://lab.example/map3&system=http://lab.example/codes&code=NA")
            .await
            .unwrap();
    assert_eq!(out(&chained, "result"), true, "{chained}");
    assert!(
        chained.to_string().contains("2951-2") && chained.to_string().contains("http://lab.example/map2")
    );
    assert!(call(&fhir, "translate", None, "system=s&code=HB&dependency=x").await.is_err());
}

backend_tests!(value_set_expand, lookup_and_validate_code, subsumes_and_translate);
