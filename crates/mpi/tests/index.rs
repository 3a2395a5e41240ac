//! The patient index on both backends: matching on every Patient write (REST, bundles), one
//! person per record under concurrency, the NHS-number rules, probabilistic link / review / new
//! person, review decisions, unlink, merge and reversal, and the FHIR face: `Patient.link`,
//! `$everything` over linked records, `_linked` searches, `$match` grades, PIX.
use lantern_identity::NhsNumber;
use lantern_mpi::Mpi;
use lantern_service::Fhir;
use lantern_store::AccessFilter;
use lantern_testkit::client::*;
use lantern_testkit::{backend_tests, ctx, json, parse, BASE};
use serde_json::Value;

fn install(fhir: &Fhir) -> Mpi {
    Mpi::install(&fhir.store, lantern_mpi::model::default_model())
}

const NHS: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn nhs(i: u64) -> String {
    (0..).filter_map(|k| NhsNumber::from_first_nine(999_000_000 + i * 7 + k)).next().unwrap().digits()
}

/// A Patient: `who` is "given family", `dob`, `sex`, `postcode`, an MRN of `feed`, optional NHS
/// number with optional verification code.
fn person(
    who: &str,
    dob: &str,
    sex: &str,
    postcode: &str,
    feed: &str,
    mrn: &str,
    nhs_number: Option<(&str, Option<&str>)>,
) -> Value {
    let (given, family) = who.split_once(' ').unwrap();
    let mut ids = vec![json!({"system": format!("https://{feed}.example/mrn"), "value": mrn})];
    if let Some((n, code)) = nhs_number {
        let mut id = json!({"system": NHS, "value": n});
        if let Some(c) = code {
            id["extension"] = json!([{
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                "valueCodeableConcept": {"coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland", "code": c}]}
            }]);
        }
        ids.push(id);
    }
    json!({
        "resourceType": "Patient",
        "identifier": ids,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": sex,
        "birthDate": dob,
        "address": [{"use": "home", "line": [street(postcode)], "postalCode": postcode}]
    })
}

/// One street per postcode, so that different postcodes mean different addresses.
fn street(postcode: &str) -> &'static str {
    match postcode {
        "BS8 1TH" => "10 High Street",
        "BS1 4DJ" => "3 Park Road",
        "LS6 2AB" => "77 Mill Lane",
        "M1 1AE" => "5 Church Walk",
        "B15 2TT" => "21 Station Approach",
        "CF10 1AA" => "9 Castle Close",
        "NE1 4ST" => "14 Quayside",
        "SA1 1AA" => "2 Harbour View",
        _ => "1 Nowhere Yard",
    }
}

async fn person_of(mpi: &Mpi, id: &str) -> String {
    mpi.patient(id).await.unwrap().person.expect("in a person")
}

async fn open_reviews(mpi: &Mpi) -> Vec<lantern_mpi::Review> {
    mpi.reviews(Some("open".into()), None, 100).await.unwrap()
}

async fn concurrent_arrivals_make_one_person_each(fhir: Fhir) {
    let mpi = install(&fhir);
    let people = [
        ("Alice Archer", "1971-02-03", "female", "BS8 1TH"),
        ("Bob Baker", "1982-04-05", "male", "LS6 2AB"),
        ("Carol Carter", "1990-06-07", "female", "M1 1AE"),
        ("Dev Dhillon", "1966-08-09", "male", "B15 2TT"),
        ("Erin Evans", "2001-10-11", "female", "CF10 1AA"),
        ("Frank Fisher", "1955-12-13", "male", "NE1 4ST"),
    ];
    // Each person arrives from two feeds at the same moment; half carry an NHS number.
    let mut tasks = Vec::new();
    for (i, (who, dob, sex, pc)) in people.iter().enumerate() {
        for feed in ["gp", "pas"] {
            let n = nhs(i as u64);
            let body = person(
                who,
                dob,
                sex,
                pc,
                feed,
                &format!("{feed}{i}"),
                (i % 2 == 0).then_some((n.as_str(), None)),
            );
            let f = fhir.clone();
            tasks.push(tokio::spawn(async move { (i, create(&f, body).await) }));
        }
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let mut persons = std::collections::HashMap::new();
    for (i, id) in &ids {
        let p = mpi.patient(id).await.unwrap();
        // Exactly one row per record, and the person lists it.
        assert!(p.members.contains(id), "{p:?}");
        persons.entry(*i).or_insert_with(Vec::new).push(p.person.unwrap());
    }
    let mut distinct = Vec::new();
    for (i, ps) in &persons {
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0], ps[1], "the two records of person {i} are not one person");
        distinct.push(ps[0].clone());
    }
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), people.len(), "different people were joined");
    // person_link has one row per record: the store's own count agrees.
    let all: usize = fhir
        .store
        .linked_patients(ids.iter().map(|(_, id)| id.clone()).collect(), lantern_store::AccessFilter::All)
        .await
        .unwrap()
        .values()
        .map(Vec::len)
        .sum();
    assert_eq!(all, ids.len());
}

async fn verified_nhs_number_links_and_conflict_goes_to_review(fhir: Fhir) {
    let mpi = install(&fhir);
    let n = nhs(100);
    let gp = create(
        &fhir,
        person("John Smith", "1980-01-02", "male", "BS8 1TH", "gp", "G1", Some((&n, Some("01")))),
    )
    .await;
    // Another spelling, another address: the verified NHS number decides.
    let pas = create(
        &fhir,
        person("Jon Smyth", "1980-01-02", "male", "LS6 2AB", "pas", "P1", Some((&n, Some("01")))),
    )
    .await;
    assert_eq!(person_of(&mpi, &gp).await, person_of(&mpi, &pas).await);
    let ev = mpi.events(Some(pas.clone()), None, 10).await.unwrap();
    assert_eq!(ev[0].kind, "link");
    assert_eq!(ev[0].decided_by, "lantern-mpi");
    assert!(
        ev[0].evidence["explanation"].as_str().unwrap().contains("same verified NHS number"),
        "{:?}",
        ev[0]
    );
    // Same NHS number, clearly a different person: review, not a link.
    let other =
        create(&fhir, person("Mary Jones", "1950-07-08", "female", "M1 1AE", "cs", "C1", Some((&n, None))))
            .await;
    assert_ne!(person_of(&mpi, &other).await, person_of(&mpi, &gp).await);
    let r = open_reviews(&mpi).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].patient_a, other);
    assert!(r[0].reason.contains("NHS number"), "{}", r[0].reason);
    // An invalid NHS number is flagged and never links.
    let bad = create(
        &fhir,
        person("Zed Zulu", "1999-09-09", "male", "BS8 1TH", "gp", "G9", Some(("9434765918", None))),
    )
    .await;
    let p = mpi.patient(&bad).await.unwrap();
    assert_eq!(p.nhs_number, None);
    assert_eq!(p.nhs_number_flag.as_deref(), Some("bad_check_digit"));
    assert!(p.identifiers.iter().any(|(s, v)| s == NHS && v == "9434765918"));
    let v = mpi.patient(&gp).await.unwrap();
    assert_eq!(v.nhs_number_verification.as_deref(), Some("01"));
    // The link and the review are in the audit chain, naming both records, and it is intact.
    let audit = lantern_audit::Audit::new(fhir.store.clone());
    let log =
        audit.list(lantern_audit::Query { patients: vec![pas.clone()], ..Default::default() }).await.unwrap();
    let link = log
        .items
        .iter()
        .find(|r| r.entry.action == lantern_audit::Action::IdentityLink)
        .expect("link audited");
    assert!(link.entry.patients.contains(&gp), "{:?}", link.entry);
    let log = audit
        .list(lantern_audit::Query { patients: vec![other.clone()], ..Default::default() })
        .await
        .unwrap();
    assert!(log.items.iter().any(|r| r.entry.action == lantern_audit::Action::IdentityReview));
    assert!(audit.verify(None).await.unwrap().is_intact());
}

async fn probabilistic_link_review_and_new_person(fhir: Fhir) {
    let mpi = install(&fhir);
    let a = create(&fhir, person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "gp", "G1", None)).await;
    let b = create(&fhir, person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "pas", "P1", None)).await;
    assert_eq!(person_of(&mpi, &a).await, person_of(&mpi, &b).await, "clear duplicate not linked");
    let w = create(&fhir, person("William Jones", "1975-03-14", "male", "BS1 4DJ", "gp", "G2", None)).await;
    let bill = create(&fhir, person("Bill Jones", "1975-03-15", "male", "LS6 2AB", "pas", "P2", None)).await;
    let e = mpi.explain(&w, &bill).await.unwrap();
    assert_eq!(e.evaluation.decision, lantern_identity::Decision::Review, "{}", e.text);
    assert_ne!(person_of(&mpi, &w).await, person_of(&mpi, &bill).await);
    let r = open_reviews(&mpi).await;
    assert!(r.iter().any(|r| r.patient_a == bill && r.patient_b == w), "{r:?}");
    let s = create(&fhir, person("Susan Smith", "1992-11-30", "female", "BS8 1TH", "cs", "C3", None)).await;
    assert_ne!(person_of(&mpi, &s).await, person_of(&mpi, &a).await);
    assert_eq!(mpi.events(Some(s.clone()), None, 10).await.unwrap()[0].kind, "new");
    // The same through a transaction bundle.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:0b7c1f5e-1111-4a3b-9c1d-000000000001",
        "resource": person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "cs", "C1", None),
        "request": {"method": "POST", "url": "Patient"}}]});
    let out = parse(&fhir.bundle(&ctx(), bundle, false).await.unwrap());
    let loc = out["entry"][0]["response"]["location"].as_str().unwrap();
    let c = loc.split('/').nth(1).unwrap();
    assert_eq!(person_of(&mpi, c).await, person_of(&mpi, &a).await);
}

/// A household: same surname, address, postcode and phone, different forename, date of birth
/// and NHS number. Without NHS numbers the pair is worth a human's look; with two different
/// valid numbers it is two people, and no review is opened.
async fn relatives_with_different_nhs_numbers_are_not_reviewed(fhir: Fhir) {
    let mpi = install(&fhir);
    let member = |given: &str, dob: &str, sex: &str, feed: &str, n: Option<String>| {
        let mut p = person(
            &format!("{given} Baker"),
            dob,
            sex,
            "BS8 1TH",
            feed,
            given,
            n.as_deref().map(|n| (n, None)),
        );
        p["telecom"] = json!([{"system": "phone", "value": "0117 496 0123"}]);
        p
    };
    let a = create(&fhir, member("Alan", "1961-04-03", "male", "gp", None)).await;
    let b = create(&fhir, member("Carol", "1963-09-21", "female", "pas", None)).await;
    let e = mpi.explain(&a, &b).await.unwrap();
    assert_eq!(e.evaluation.decision, lantern_identity::Decision::Review, "{}", e.text);
    assert!(open_reviews(&mpi).await.iter().any(|r| r.patient_a == b), "without NHS numbers: reviewed");
    let c = create(&fhir, member("Alan", "1961-04-03", "male", "cs", Some(nhs(41)))).await;
    let d = create(&fhir, member("Carol", "1963-09-21", "female", "mh", Some(nhs(42)))).await;
    assert_ne!(person_of(&mpi, &c).await, person_of(&mpi, &d).await);
    // The pair still scores "review": it is the rule, not the score, that keeps it out.
    let e = mpi.explain(&d, &c).await.unwrap();
    assert_eq!(e.evaluation.decision, lantern_identity::Decision::Review, "{}", e.text);
    let reviews = open_reviews(&mpi).await;
    assert!(
        !reviews
            .iter()
            .any(|r| (r.patient_a == d && r.patient_b == c) || (r.patient_a == c && r.patient_b == d)),
        "two valid NHS numbers in a household: {reviews:?}"
    );
}

/// Twins the forename guard cannot tell apart (Jon and John) are kept apart by
/// `multipleBirthInteger` and put to a human with the reason.
async fn twins_by_birth_order_are_reviewed_not_linked(fhir: Fhir) {
    let mpi = install(&fhir);
    let twin = |given: &str, mrn: &str, order: u32| {
        let mut p = person(&format!("{given} Hartley"), "2012-06-14", "male", "BS8 1TH", "pas", mrn, None);
        p["multipleBirthInteger"] = json!(order);
        p
    };
    let a = create(&fhir, twin("Jon", "T1", 1)).await;
    let b = create(&fhir, twin("John", "T2", 2)).await;
    assert_ne!(person_of(&mpi, &a).await, person_of(&mpi, &b).await);
    let reviews = open_reviews(&mpi).await;
    let r = reviews.iter().find(|r| r.patient_a == b && r.patient_b == a).expect("put to a human");
    assert!(r.reason.contains("multiple birth"), "{}", r.reason);
    // The first twin's record from another source, with the same place, joins the first twin.
    let c = create(&fhir, twin("Jon", "G1", 1)).await;
    assert_eq!(person_of(&mpi, &c).await, person_of(&mpi, &a).await);
}

async fn reviews_unlink_merge_and_reversal(fhir: Fhir) {
    let mpi = install(&fhir);
    let w = create(&fhir, person("William Jones", "1975-03-14", "male", "BS1 4DJ", "gp", "G2", None)).await;
    let bill = create(&fhir, person("Bill Jones", "1975-03-15", "male", "LS6 2AB", "pas", "P2", None)).await;
    let r = open_reviews(&mpi).await;
    assert_eq!(r.len(), 1);
    // Accept: one person, event recorded; cannot decide twice.
    let e = mpi.decide_review(r[0].id, true, "dqo", Some("same man, moved house".into())).await.unwrap();
    assert_eq!(e.kind, "review-accept");
    assert_eq!(person_of(&mpi, &w).await, person_of(&mpi, &bill).await);
    assert!(mpi.decide_review(r[0].id, false, "dqo", None).await.is_err());
    // Reverse the acceptance: apart again, and the record is pinned.
    let u = mpi.reverse(e.seq, "dqo", Some("wrong".into())).await.unwrap();
    assert_eq!(u.kind, "unmerge");
    assert_eq!(u.reverses, Some(e.seq));
    assert_ne!(person_of(&mpi, &w).await, person_of(&mpi, &bill).await);
    assert!(mpi.reverse(e.seq, "dqo", None).await.is_err(), "reversed twice");
    // Manual merge, unlink, and reversing the unlink.
    let m = mpi.merge(&format!("Patient/{bill}"), &w, "dqo", None, false).await.unwrap();
    assert_eq!(m.kind, "merge");
    assert_eq!(person_of(&mpi, &w).await, person_of(&mpi, &bill).await);
    assert!(mpi.merge(&bill, &w, "dqo", None, false).await.is_err(), "already one person");
    let un = mpi.unlink(&bill, "dqo", None).await.unwrap();
    assert_ne!(person_of(&mpi, &w).await, person_of(&mpi, &bill).await);
    assert!(mpi.patient(&bill).await.unwrap().pinned);
    mpi.reverse(un.seq, "dqo", None).await.unwrap();
    assert_eq!(person_of(&mpi, &w).await, person_of(&mpi, &bill).await);
    // Reject a review, then reopen it by reversing the rejection.
    let x = create(&fhir, person("Robert Hughes", "1960-02-10", "male", "BS1 4DJ", "gp", "R1", None)).await;
    let y = create(&fhir, person("Bob Hughes", "1960-02-11", "male", "LS6 2AB", "pas", "R2", None)).await;
    let open = open_reviews(&mpi).await;
    let r = open.iter().find(|r| r.patient_a == y && r.patient_b == x).expect("a review of Robert and Bob");
    let rej = mpi.decide_review(r.id, false, "dqo", None).await.unwrap();
    assert_eq!(rej.kind, "review-reject");
    assert_ne!(person_of(&mpi, &x).await, person_of(&mpi, &y).await);
    assert!(open_reviews(&mpi).await.iter().all(|o| o.id != r.id));
    let re = mpi.reverse(rej.seq, "dqo", None).await.unwrap();
    assert_eq!(re.kind, "review-reopen");
    assert!(open_reviews(&mpi).await.iter().any(|o| o.id == r.id));
    // An update of a record already reviewed opens no second review of the pair.
    let mut again = person("Bob Hughes", "1960-02-11", "male", "LS6 2AB", "pas", "R2", None);
    again["id"] = json!(y);
    put(&fhir, again).await;
    assert_eq!(open_reviews(&mpi).await.iter().filter(|o| o.patient_a == y).count(), 1);
    // Deleting a record takes it out of its person.
    fhir.delete(&ctx(), "Patient", &bill, None).await.unwrap();
    assert!(mpi.patient(&bill).await.is_err());
    assert_eq!(fhir.store.person_members(&w).await.unwrap(), vec![w.clone()]);
}

async fn linked_records_through_fhir(fhir: Fhir) {
    let mpi = install(&fhir);
    let n = nhs(7);
    let a = create(
        &fhir,
        person("Ann Lee", "1985-05-05", "female", "BS8 1TH", "gp", "A1", Some((&n, Some("01")))),
    )
    .await;
    let b = create(
        &fhir,
        person("Ann Lee", "1985-05-05", "female", "BS8 1TH", "pas", "B1", Some((&n, Some("01")))),
    )
    .await;
    let lone = create(&fhir, person("Tom Lone", "1944-04-04", "male", "M1 1AE", "gp", "L1", None)).await;
    assert_eq!(person_of(&mpi, &a).await, person_of(&mpi, &b).await);
    for (p, k) in [(&a, 3), (&b, 3), (&lone, 1)] {
        for i in 0..k {
            create(
                &fhir,
                json!({"resourceType": "Observation", "status": "final",
                "code": {"text": format!("obs {i}")}, "subject": {"reference": format!("Patient/{p}")}}),
            )
            .await;
        }
    }
    // Patient.link on read and search, current without a new version.
    let r = fhir.read(&ctx(), "Patient", &a).await.unwrap();
    assert_eq!(r.version, 1);
    let body = parse(r.body.as_deref().unwrap());
    assert_eq!(body["link"][0]["other"]["reference"], format!("Patient/{b}"));
    assert_eq!(body["link"][0]["type"], "seealso");
    let bundle = search_bundle(&fhir, "Patient", &format!("_id={b}")).await;
    assert_eq!(bundle["entry"][0]["resource"]["link"][0]["other"]["reference"], format!("Patient/{a}"));
    assert!(parse(fhir.read(&ctx(), "Patient", &lone).await.unwrap().body.as_deref().unwrap())
        .get("link")
        .is_none());
    // Writing the read copy back does not store the rendered link: it is not content, so the
    // update changes nothing and makes no new version; a real change then stores no link either.
    fhir.update(&ctx(), "Patient", &a, body.clone(), None).await.unwrap();
    assert_eq!(fhir.read(&ctx(), "Patient", &a).await.unwrap().version, 1);
    let mut changed = body;
    changed["gender"] = json!("unknown");
    fhir.update(&ctx(), "Patient", &a, changed, None).await.unwrap();
    let v2 = fhir.vread(&ctx(), "Patient", &a, "2").await.unwrap();
    assert!(parse(v2.body.as_deref().unwrap()).get("link").is_none());
    // Put it back as it was, so the person's records still agree for what follows.
    let mut back = parse(v2.body.as_deref().unwrap());
    back["gender"] = json!("female");
    fhir.update(&ctx(), "Patient", &a, back, None).await.unwrap();
    // $everything on either record: both records' resources, paged without a cap.
    let mut seen = Vec::new();
    let mut page = None::<String>;
    loop {
        let mut q = vec![("_count".to_string(), "2".to_string())];
        if let Some(p) = &page {
            q.push(("_page".into(), p.clone()));
        }
        let out = parse(&fhir.everything(&ctx(), vec![b.clone()], &q).await.unwrap());
        assert_eq!(out["total"], 8);
        for e in out["entry"].as_array().into_iter().flatten() {
            seen.push(format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            ));
        }
        let next = out["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_string());
        match next {
            Some(u) => page = Some(u.split("_page=").nth(1).unwrap().to_string()),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(seen.contains(&format!("Patient/{a}")) && seen.contains(&format!("Patient/{b}")));
    // _linked: a patient= search can include the linked records, inside the query.
    assert_eq!(ids(&fhir, "Observation", &format!("patient={a}")).await.len(), 3);
    assert_eq!(ids(&fhir, "Observation", &format!("patient={a}&_linked=true")).await.len(), 6);
    assert_eq!(ids(&fhir, "Observation", &format!("subject=Patient/{b}&_linked=true")).await.len(), 6);
    assert_eq!(ids(&fhir, "Observation", &format!("patient={lone}&_linked=true")).await.len(), 1);
    let linked = search_bundle(&fhir, "Observation", &format!("patient={a}&_linked=true&_count=4")).await;
    assert!(linked["link"][1]["url"].as_str().unwrap().contains("_linked=true"));
    // PDQm-style demographic and identifier searches.
    assert_eq!(
        ids(&fhir, "Patient", "family=lee&given=ann&birthdate=1985-05-05&address-postalcode=BS8 1TH")
            .await
            .len(),
        2
    );
    assert_eq!(ids(&fhir, "Patient", "identifier=https://gp.example/mrn|A1").await, vec![a.clone()]);
    assert_eq!(ids(&fhir, "Patient", &format!("identifier={NHS}|{n}")).await.len(), 2);
    // PIX: from the GP number to the hospital's, and both records.
    let pix = mpi.pix("https://gp.example/mrn|A1", &[], AccessFilter::All).await.unwrap();
    let params = pix["parameter"].as_array().unwrap();
    assert!(params.iter().any(|p| p["name"] == "targetIdentifier" && p["valueIdentifier"]["value"] == "B1"));
    assert!(params
        .iter()
        .any(|p| p["name"] == "targetId" && p["valueReference"]["reference"] == format!("Patient/{b}")));
    assert!(!params.iter().any(|p| p["valueIdentifier"]["value"] == "A1"));
    let only = mpi
        .pix("https://gp.example/mrn|A1", &["https://pas.example/mrn".into()], AccessFilter::All)
        .await
        .unwrap();
    let ti: Vec<&Value> =
        only["parameter"].as_array().unwrap().iter().filter(|p| p["name"] == "targetIdentifier").collect();
    assert_eq!(ti.len(), 1);
    assert!(mpi.pix("https://gp.example/mrn|nobody", &[], AccessFilter::All).await.is_err());
    // Access still applies: a caller who may see nothing gets nothing back.
    let hidden = parse(
        &fhir
            .search(
                &lantern_service::Ctx { access: AccessFilter::None, ..ctx() },
                Some("Patient"),
                &pairs(&format!("_id={a}")),
            )
            .await
            .unwrap(),
    );
    assert!(hidden.get("entry").is_none());
}

async fn match_operation_grades(fhir: Fhir) {
    let mpi = install(&fhir);
    let a = create(&fhir, person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "gp", "G1", None)).await;
    let w = create(&fhir, person("William Jones", "1975-03-14", "male", "BS1 4DJ", "gp", "G2", None)).await;
    let query = |p: Value, only: bool| {
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": p},
            {"name": "onlyCertainMatches", "valueBoolean": only},
            {"name": "count", "valueInteger": 5}]})
    };
    let out = parse(
        &mpi.match_patient(
            &query(person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "x", "X", None), false),
            AccessFilter::All,
            BASE,
        )
        .await
        .unwrap(),
    );
    assert_eq!(out["type"], "searchset");
    assert_eq!(out["entry"][0]["resource"]["id"], a.as_str());
    let search = &out["entry"][0]["search"];
    assert_eq!(search["extension"][0]["url"], "http://hl7.org/fhir/StructureDefinition/match-grade");
    assert_eq!(search["extension"][0]["valueCode"], "certain");
    assert!(search["score"].as_f64().unwrap() > 0.99);
    let maybe = parse(
        &mpi.match_patient(
            &query(person("Bill Jones", "1975-03-15", "male", "LS6 2AB", "x", "X", None), false),
            AccessFilter::All,
            BASE,
        )
        .await
        .unwrap(),
    );
    assert_eq!(maybe["entry"][0]["resource"]["id"], w.as_str());
    let g = maybe["entry"][0]["search"]["extension"][0]["valueCode"].as_str().unwrap();
    assert!(g == "probable" || g == "possible", "{g}");
    let certain_only = parse(
        &mpi.match_patient(
            &query(person("Bill Jones", "1975-03-15", "male", "LS6 2AB", "x", "X", None), true),
            AccessFilter::All,
            BASE,
        )
        .await
        .unwrap(),
    );
    assert_eq!(certain_only["total"], 0);
    let nobody = parse(
        &mpi.match_patient(
            &query(person("Nobody Known", "1901-01-01", "other", "ZE1 0AA", "x", "X", None), false),
            AccessFilter::All,
            BASE,
        )
        .await
        .unwrap(),
    );
    assert_eq!(nobody["total"], 0);
    assert!(mpi
        .match_patient(&json!({"resourceType": "Observation"}), AccessFilter::All, BASE)
        .await
        .is_err());
    // $match writes nothing.
    assert_eq!(ids(&fhir, "Patient", "").await.len(), 2);
}

async fn indexes_records_stored_before_it(fhir: Fhir) {
    let a = create(&fhir, person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "gp", "G1", None)).await;
    let b = create(&fhir, person("Mary Smith", "1980-01-02", "female", "BS8 1TH", "pas", "P1", None)).await;
    let mpi = install(&fhir);
    assert!(mpi.patient(&a).await.is_err());
    assert_eq!(mpi.index_existing().await.unwrap(), 2);
    assert_eq!(person_of(&mpi, &a).await, person_of(&mpi, &b).await);
    assert_eq!(mpi.index_existing().await.unwrap(), 0);
}

backend_tests!(
    indexes_records_stored_before_it,
    concurrent_arrivals_make_one_person_each,
    verified_nhs_number_links_and_conflict_goes_to_review,
    probabilistic_link_review_and_new_person,
    reviews_unlink_merge_and_reversal,
    relatives_with_different_nhs_numbers_are_not_reviewed,
    twins_by_birth_order_are_reviewed_not_linked,
    linked_records_through_fhir,
    match_operation_grades,
);
