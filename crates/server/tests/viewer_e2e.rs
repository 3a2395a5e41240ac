//! The clinician viewer over HTTP on a real port, as a browser meets it: sign-in by form and
//! cookie, finding a patient, the joined-up summary with every item's source, medications
//! merged across organisations, restricted data shown as withheld, the break-glass flow for a
//! doctor without a relationship, the patient's "who looked", the privacy officer's queue, and
//! the audit chain intact afterwards. Both backends.
use lantern_auth::{DevClaims, DevIssuer, Verifier};
use lantern_policy::{Policy, PolicyConfig};
use lantern_server::trust::{Security, Trust};
use lantern_server::viewer::{Config, DemoUser};
use lantern_service::Fhir;
use lantern_testkit::{backend_tests, json};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const GP: &str = "A81001";
const ACUTE: &str = "RVJ";
const COUNCIL: &str = "LA001";
const NHS: &str = "9434765919";

fn user(id: &str, name: &str, org: &str, role: &str) -> DemoUser {
    DemoUser {
        id: id.into(),
        name: name.into(),
        kind: "user".into(),
        role: Some(role.into()),
        org: Some(org.into()),
        org_name: None,
        purpose: None,
        nhs_number: None,
        blurb: None,
    }
}

struct Env {
    root: String,
    dev: DevIssuer,
    trust: Arc<Trust>,
    _dir: tempfile::TempDir,
}

async fn start(fhir: Fhir) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::open(dir.path()).unwrap();
    let cfg = PolicyConfig::from_toml(&format!(
        "[[policy.organisation]]\nods = \"{GP}\"\nname = \"Riverside Surgery\"\nkind = \"gp\"\n\
         [[policy.organisation]]\nods = \"{ACUTE}\"\nname = \"North Bristol NHS Trust\"\nkind = \"acute\"\n\
         [[policy.organisation]]\nods = \"{COUNCIL}\"\nname = \"Avon Council\"\nkind = \"social-care\"\n"
    ))
    .unwrap();
    let policy = Arc::new(Policy::new(cfg).unwrap());
    let p = policy.clone();
    let fhir = fhir.with_labeller(Arc::new(move |t, id, b, now| p.label(t, id, b, now)));
    let trust = Arc::new(Trust::new(Verifier::dev_only(&dev), policy, fhir.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = lantern_mpi::Mpi::new(fhir.store.clone(), lantern_mpi::model::default_model());
    let state = lantern_server::AppState {
        fhir,
        version: "test".into(),
        security: Security::Enforced(trust.clone()),
        identity,
    };
    let mut patient = user("me", "Jo Smith", "", "");
    patient.kind = "patient".into();
    patient.nhs_number = Some(NHS.into());
    let viewer = Config {
        issuer: Some(Arc::new(DevIssuer::open(dir.path()).unwrap())),
        users: vec![
            user("dr-gp", "Dr Gill Price", GP, "gp"),
            user("dr-ae", "Dr Amir Evans", ACUTE, "ae-doctor"),
            user("sw", "Sam Walker", COUNCIL, "social-worker"),
            user("po", "Pat Osei", ACUTE, "privacy-officer"),
            patient,
        ],
        showcase: Vec::new(),
    };
    let app = lantern_server::app(state, None, viewer);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Env { root: format!("http://{addr}"), dev, trust, _dir: dir }
}

/// A browser session: keeps the session cookie, follows no redirects (the test checks them).
struct Browser {
    c: Client,
    root: String,
    cookie: String,
}

impl Browser {
    fn new(root: &str) -> Browser {
        let c = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { c, root: root.into(), cookie: String::new() }
    }

    async fn sign_in(root: &str, user: &str) -> Browser {
        let mut b = Browser::new(root);
        let r =
            b.c.post(format!("{root}/signin")).form(&[("user", user), ("next", "/")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in redirects");
        let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        b.cookie = set.split(';').next().unwrap().to_string();
        b
    }

    async fn get(&self, path: &str) -> (StatusCode, String, Option<String>) {
        let r =
            self.c.get(format!("{}{path}", self.root)).header("cookie", &self.cookie).send().await.unwrap();
        let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (r.status(), r.text().await.unwrap(), loc)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, Option<String>) {
        let r = self
            .c
            .post(format!("{}{path}", self.root))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (r.status(), r.text().await.unwrap(), loc)
    }
}

async fn write(c: &Client, root: &str, token: &str, v: Value) -> String {
    let rtype = v["resourceType"].as_str().unwrap().to_string();
    let r = c
        .post(format!("{root}/fhir/{rtype}"))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(v.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

fn med(pid: &str, text: &str, dose: &str) -> Value {
    json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "subject": {"reference": format!("Patient/{pid}")}, "authoredOn": "2026-01-10",
        "medicationCodeableConcept": {"text": text}, "dosageInstruction": [{"text": dose}]})
}

async fn viewer_over_http(fhir: Fhir) {
    let env = start(fhir).await;
    let root = env.root.clone();
    let c = Client::new();
    let feed = |org: &str| env.dev.issue(&DevClaims::feed("f", org).unwrap(), Duration::from_secs(600));
    let (gp_feed, acute_feed) = (feed(GP), feed(ACUTE));

    // The GP practice's record: the patient, an allergy, a medicine, a legally restricted
    // diagnosis. The hospital's: the same medicine at another dose (no admission yet).
    let pid = write(
        &c,
        &root,
        &gp_feed,
        json!({"resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}],
        "name": [{"family": "Smith", "given": ["Jo"]}], "birthDate": "1970-01-01", "gender": "female",
        "address": [{"line": ["1 High St"], "city": "Bristol", "postalCode": "BS1 1AA"}]}),
    )
    .await;
    write(&c, &root, &gp_feed, json!({"resourceType": "AllergyIntolerance", "patient": {"reference": format!("Patient/{pid}")},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005", "display": "Penicillin allergy"}]},
        "criticality": "high"})).await;
    write(&c, &root, &gp_feed, med(&pid, "Amlodipine 5mg tablets", "One daily")).await;
    write(&c, &root, &gp_feed, json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{pid}")},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "15628003", "display": "Gonorrhea"}]}})).await;
    write(&c, &root, &acute_feed, med(&pid, "AMLODIPINE 10 MG TAB", "Two daily")).await;

    // Signed out: pages go to sign-in; the sign-in page offers the demo users.
    let anon = Browser::new(&root);
    let (s, _, loc) = anon.get("/patients").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().starts_with("/signin?next=%2Fpatients"));
    let (s, page, _) = anon.get("/signin").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Sign in as Dr Gill Price"), "{page}");
    let r = anon.c.post(format!("{root}/signin")).form(&[("token", "not.a.token")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());

    // The GP finds the patient and sees the whole record, each item with its source.
    let gp = Browser::sign_in(&root, "dr-gp").await;
    let (s, _, loc) = gp.get("/").await;
    assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/patients")));
    let (s, page, _) = gp.get(&format!("/patients?nhs={}", "943 476 5919")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Jo SMITH") && page.contains(&format!("/patients/{pid}")), "{page}");
    let (s, page, _) = gp.get("/patients?family=smith&birthdate=1970-01-01").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Jo SMITH"), "{page}");
    let (s, page, _) = gp.get(&format!("/patients/{pid}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("943 476 5919"));
    assert!(page.contains("Penicillin allergy") && page.contains("high criticality"));
    assert!(page.contains("From Riverside Surgery"), "every item names its source: {page}");
    assert!(page.contains("Gonorrhea"), "the recording GP sees its own restricted item");
    // One line for amlodipine with both sources and the dose difference flagged.
    assert_eq!(
        page.matches("<strong>Amlodipine 5mg tablets</strong>").count()
            + page.matches("<strong>AMLODIPINE 10 MG TAB</strong>").count(),
        1,
        "{page}"
    );
    assert!(page.contains("doses differ between sources"));
    assert!(page.contains("prescribed at North Bristol NHS Trust"), "{page}");
    assert!(page.contains("prescribed at Riverside Surgery"), "{page}");
    let (s, page, _) = gp.get(&format!("/patients/{pid}/timeline")).await;
    assert_eq!(s, StatusCode::OK, "{page}");

    // The A&E doctor has no relationship: not found by name, told by NHS number, and refused
    // on the record, with the way to break the glass.
    let ae = Browser::sign_in(&root, "dr-ae").await;
    let (_, page, _) = ae.get("/patients?family=smith").await;
    assert!(page.contains("No patient that you may see matches"), "{page}");
    let (_, page, _) = ae.get(&format!("/patients?nhs={NHS}")).await;
    assert!(page.contains("no care relationship") && page.contains("break-glass"), "{page}");
    let (s, page, _) = ae.get(&format!("/patients/{pid}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(page.contains("Break the glass"));
    assert!(!page.contains("Penicillin"));
    // A reason too short is refused with the form again; a proper one opens the record.
    let (s, page, _) = ae
        .post(&format!("/patients/{pid}/break-glass"), &[("reason", "emergency-care"), ("text", "x")])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("say in a sentence"), "{page}");
    let (s, _, loc) = ae
        .post(
            &format!("/patients/{pid}/break-glass"),
            &[("reason", "unconscious-patient"), ("text", "Unconscious in resus, need allergies")],
        )
        .await;
    assert_eq!((s, loc), (StatusCode::SEE_OTHER, Some(format!("/patients/{pid}"))));
    let (s, page, _) = ae.get(&format!("/patients/{pid}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Emergency access (break-glass)"));
    assert!(page.contains("Penicillin allergy"));
    // The restricted diagnosis is withheld from the hospital, and the page says so.
    assert!(!page.contains("Gonorrhea"));
    assert!(page.contains("Some information is withheld") && page.contains("legally restricted"), "{page}");

    // The social worker sees nothing and cannot pretend otherwise.
    let sw = Browser::sign_in(&root, "sw").await;
    let (s, _, _) = sw.get(&format!("/patients/{pid}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Staff pages are refused to the wrong role.
    let (s, _, _) = sw.get("/privacy/break-glass").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = sw.get("/data-quality/reviews").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The patient sees their record and who looked, the emergency access flagged.
    let me = Browser::sign_in(&root, "me").await;
    let (s, _, loc) = me.get("/my-record").await;
    assert_eq!((s, loc), (StatusCode::SEE_OTHER, Some(format!("/patients/{pid}"))));
    let (s, page, _) = me.get(&format!("/patients/{pid}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Penicillin allergy"));
    let (s, page, _) = me.get("/my-record/who-looked").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Dr Amir Evans") && page.contains("emergency access"), "{page}");
    assert!(page.contains("North Bristol NHS Trust"), "{page}");

    // The privacy officer reviews the access.
    let po = Browser::sign_in(&root, "po").await;
    let (s, page, _) = po.get("/privacy/break-glass").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Unconscious in resus"), "{page}");
    let id = env
        .trust
        .fhir
        .store
        .with_reader(|c, _| {
            let mut id = 0;
            c.query("SELECT id FROM break_glass", &[], &mut |r| {
                id = r.int(0)?.unwrap_or(0);
                Ok(())
            })?;
            Ok(id)
        })
        .await
        .unwrap();
    let (s, _, _) = po
        .post(
            &format!("/privacy/break-glass/{id}"),
            &[("outcome", "appropriate"), ("note", "checked with ED")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page, _) = po.get("/privacy/break-glass?status=reviewed").await;
    assert!(page.contains("checked with ED"), "{page}");

    // Signing out ends the session in the browser.
    let (s, _, _) = gp.post("/signout", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // Every page view above is in the audit log, in an intact chain.
    let report = env.trust.audit.verify(None).await.unwrap();
    assert!(report.first_bad.is_none(), "{report:?}");
    assert!(report.records >= 15, "{report:?}");
}

backend_tests!(viewer_over_http);
