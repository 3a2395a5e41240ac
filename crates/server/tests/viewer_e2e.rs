//! The clinician viewer over HTTP on a real port, as a browser meets it: sign-in by form and
//! cookie, finding a patient, the joined-up summary with every item's source, medications
//! merged across organisations, restricted data shown as withheld, the break-glass flow for a
//! doctor without a relationship, the patient's "who looked", the privacy officer's queue, and
//! the audit chain intact afterwards. Both backends.
use lantern_auth::{AuthConfig, DevClaims, DevIssuer, SignIn, Verifier};
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
    start_with(fhir, None, None).await
}

/// The server with its development issuer, or with `verifier` and OpenID Connect `sign_in`.
async fn start_with(fhir: Fhir, verifier: Option<Verifier>, sign_in: Option<Arc<SignIn>>) -> Env {
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
    let verifier = verifier.unwrap_or_else(|| Verifier::dev_only(&dev));
    let trust = Arc::new(Trust::new(verifier, policy, fhir.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = lantern_mpi::Mpi::new(fhir.store.clone(), lantern_mpi::model::default_model());
    let state = lantern_server::AppState {
        fhir,
        version: "test".into(),
        security: Security::Enforced(trust.clone()),
        identity,
        exports: Default::default(),
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
        sign_in,
    };
    let app = lantern_server::app(state, None, viewer, lantern_server::DEFAULT_MAX_BODY);
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
    // No OpenID Connect provider configured: SMART discovery has nothing to point at, and says so.
    let r = c.get(format!("{root}/fhir/.well-known/smart-configuration")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("[auth.sign_in]"));
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
    // The patient summary to hand on: an IPS document of what this GP may see, restricted item
    // included (it is theirs), linked from the record's navigation.
    assert!(page.contains(&format!("/patients/{pid}/summary.json")), "{page}");
    let (s, doc, _) = gp.get(&format!("/patients/{pid}/summary.json")).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["type"], "document");
    assert_eq!(doc["entry"][0]["resource"]["resourceType"], "Composition");
    assert!(doc.to_string().contains("Penicillin"), "the allergy is in the summary");

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
    let (s, page, _) = ae.get(&format!("/patients/{pid}/summary.json")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no summary without a relationship either");
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

/// The same on the embedded store as `lantern serve` runs it: reads recorded through the audit
/// journal (`lantern_audit::journal`) rather than straight into the tables.
#[tokio::test]
async fn viewer_over_http_sqlite_journal() {
    let store = lantern_testkit::sqlite_with(|s, dir| {
        lantern_audit::journal::install(s, &dir.join(lantern_audit::journal::JOURNAL_FILE)).unwrap()
    });
    viewer_over_http(store.fhir.clone()).await;
    tokio::task::spawn_blocking(move || drop(store)).await.unwrap();
}

/// A stand-in OpenID Connect provider: discovery, an authorization endpoint that signs in
/// whoever `login_hint` names at once, and a token endpoint that checks the code, the client's
/// secret and the PKCE verifier before issuing RS256 tokens with the auth crate's fixture key.
mod idp {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::{get, post};
    use axum::{Form, Json, Router};
    use base64::Engine;
    use serde_json::{json, Value};
    use sha2::Digest;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    pub(crate) const CLIENT: &str = "lantern-viewer";
    pub(crate) const SECRET: &str = "viewer-secret";

    pub(crate) fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../auth/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    }

    struct Grant {
        challenge: String,
        nonce: String,
        redirect_uri: String,
        who: String,
    }

    #[derive(Clone)]
    struct Idp {
        root: String,
        grants: Arc<Mutex<HashMap<String, Grant>>>,
    }

    /// Starts the provider; gives its issuer URL.
    pub(crate) async fn start() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let idp = Idp { root: root.clone(), grants: Arc::default() };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(idp);
        tokio::spawn(async move { axum::serve(listener, app).await });
        root
    }

    async fn discovery(State(idp): State<Idp>) -> Json<Value> {
        Json(json!({
            "issuer": idp.root,
            "authorization_endpoint": format!("{}/authorize", idp.root),
            "token_endpoint": format!("{}/token", idp.root),
            "jwks_uri": format!("{}/jwks", idp.root),
            "code_challenge_methods_supported": ["S256"],
        }))
    }

    async fn authorize(State(idp): State<Idp>, Query(q): Query<HashMap<String, String>>) -> Response {
        for (k, v) in [("response_type", "code"), ("client_id", CLIENT), ("code_challenge_method", "S256")] {
            if q.get(k).map(String::as_str) != Some(v) {
                return (StatusCode::BAD_REQUEST, format!("{k} must be {v}")).into_response();
            }
        }
        assert!(q["scope"].split(' ').any(|s| s == "openid"));
        let code = format!("code-{}", idp.grants.lock().unwrap().len());
        let redirect_uri = q["redirect_uri"].clone();
        idp.grants.lock().unwrap().insert(
            code.clone(),
            Grant {
                challenge: q["code_challenge"].clone(),
                nonce: q["nonce"].clone(),
                redirect_uri: redirect_uri.clone(),
                who: q.get("login_hint").cloned().unwrap_or_default(),
            },
        );
        Redirect::to(&format!("{redirect_uri}?code={code}&state={}", q["state"])).into_response()
    }

    fn sign(claims: &Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(fixture("rsa-1.pem").as_bytes()).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("rsa-1".into());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    async fn token(
        State(idp): State<Idp>,
        headers: HeaderMap,
        Form(f): Form<HashMap<String, String>>,
    ) -> Response {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{SECRET}"))
        );
        if headers.get("authorization").and_then(|h| h.to_str().ok()) != Some(basic.as_str()) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        let refuse = |why: &str| {
            (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": why})))
                .into_response()
        };
        // A code is good once.
        let Some(g) = idp.grants.lock().unwrap().remove(f.get("code").map(String::as_str).unwrap_or(""))
        else {
            return refuse("unknown or used code");
        };
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        if challenge != g.challenge {
            return refuse("PKCE verifier does not match");
        }
        if f.get("redirect_uri") != Some(&g.redirect_uri)
            || f.get("grant_type").map(String::as_str) != Some("authorization_code")
        {
            return refuse("wrong redirect_uri or grant_type");
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let nonce = if g.who == "replayed" { "another-attempt".to_string() } else { g.nonce };
        let id = json!({"iss": idp.root, "sub": g.who, "aud": CLIENT, "exp": now + 600, "iat": now,
                        "nonce": nonce, "name": "Dr Olu Idowu"});
        let mut access = json!({"iss": idp.root, "sub": g.who, "exp": now + 600, "iat": now, "jti": format!("at-{}", g.who),
                                "scope": "openid user/*.rs", "name": "Dr Olu Idowu"});
        if g.who != "no-org" {
            access["org"] = json!(super::GP);
            access["role"] = json!("gp");
        }
        Json(json!({"access_token": sign(&access), "id_token": sign(&id), "token_type": "Bearer", "expires_in": 600}))
            .into_response()
    }
}

/// Production sign-in: a person signs in at the organisation's OpenID Connect provider and the
/// token it issues becomes their viewer session; a mixed-up, replayed or refused sign-in gets a
/// clear page and no session.
async fn openid_connect_sign_in(fhir: Fhir) {
    let issuer = idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("idp.jwks.json");
    std::fs::write(&jwks, format!("{{\"keys\": [{}]}}", idp::fixture("rsa-1.jwk.json"))).unwrap();
    // The callback address registered at the provider; the test carries the provider's answer
    // to the server itself, as the browser would, so it need not be where the server listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let auth = AuthConfig::from_toml(&format!(
        "[auth]\ndev_issuer = false\n[[auth.issuers]]\nissuer = \"{issuer}\"\njwks_file = \"{}\"\n\
         [auth.sign_in]\nissuer = \"{issuer}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
         redirect_uri = \"http://127.0.0.1:{port}/signin/callback\"\nlabel = \"Regional Care Identity\"\n",
        jwks.display(),
        idp::CLIENT,
        idp::SECRET
    ))
    .unwrap();
    let verifier = Verifier::from_config(&auth, None).await.unwrap();
    let sign_in = SignIn::from_config(&auth).await.unwrap().map(Arc::new);
    let env = start_with(fhir, Some(verifier), sign_in).await;
    let b = Browser::new(&env.root);

    // SMART discovery, without a token: the provider's endpoints, as it published them.
    let r =
        Client::new().get(format!("{}/fhir/.well-known/smart-configuration", env.root)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let smart: Value = r.json().await.unwrap();
    assert_eq!(smart["issuer"], issuer);
    assert_eq!(smart["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(smart["token_endpoint"], format!("{issuer}/token"));
    assert!(smart["capabilities"].as_array().unwrap().iter().any(|c| c == "permission-v2"), "{smart}");
    assert!(smart["code_challenge_methods_supported"].to_string().contains("S256"));

    let (status, page, _) = b.get("/signin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Sign in with Regional Care Identity"), "{page}");

    // One whole sign-in, as a browser makes it.
    async fn round_trip(b: &Browser, who: &str) -> (reqwest::Response, String) {
        let r = b.c.get(format!("{}/signin/oidc?next=%2Fpatients", b.root)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let to_idp = r.headers()["location"].to_str().unwrap().to_string();
        let flow = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(flow.contains("HttpOnly") && flow.contains("SameSite=Lax"), "{flow}");
        let flow = flow.split(';').next().unwrap().to_string();
        let r = b.c.get(format!("{to_idp}&login_hint={who}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
        let back = r.headers()["location"].to_str().unwrap().to_string();
        let query = back.split_once('?').unwrap().1.to_string();
        let r =
            b.c.get(format!("{}/signin/callback?{query}", b.root))
                .header("cookie", &flow)
                .send()
                .await
                .unwrap();
        (r, format!("/signin/callback?{query}|{flow}"))
    }

    let (r, replay) = round_trip(&b, "dr-olu").await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let session = cookies.iter().find(|c| c.starts_with("lantern_session=")).expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    let page = r.text().await.unwrap();
    assert!(page.contains("url=/patients") && page.contains("Dr Olu Idowu"), "{page}");
    let signed_in =
        Browser { cookie: session.split(';').next().unwrap().to_string(), ..Browser::new(&env.root) };
    let (status, page, _) = signed_in.get("/patients").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Dr Olu Idowu"), "the header names who signed in");

    // The same answer again: the provider refuses the used code, and no session is made.
    let (path, flow) = replay.split_once('|').unwrap();
    let r = b.c.get(format!("{}{path}", b.root)).header("cookie", flow).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!format!("{:?}", r.headers()).contains("lantern_session=ey"));
    assert!(r.text().await.unwrap().contains("unknown or used code"));

    // An answer without this browser's attempt (login CSRF), or for another attempt.
    let r = b.c.get(format!("{}{path}", b.root)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("not started here"));
    let wrong_state = path.replace("state=", "state=x");
    let r = b.c.get(format!("{}{wrong_state}", b.root)).header("cookie", flow).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("does not belong to this sign-in"));

    // The provider said no.
    let r =
        b.c.get(format!("{}/signin/callback?error=access_denied&error_description=cancelled", b.root))
            .header("cookie", flow)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("access_denied"));

    // An ID token answering another attempt, and a person the provider gives no organisation.
    let (r, _) = round_trip(&b, "replayed").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("nonce"));
    let (r, _) = round_trip(&b, "no-org").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("organisation and role"));

    // Each failed sign-in is in the audit log.
    let q = lantern_audit::Query {
        action: Some(lantern_audit::Action::LoginFailed),
        count: 100,
        ..Default::default()
    };
    let failed = env.trust.audit.list(q).await.unwrap().items;
    assert_eq!(failed.len(), 6, "each failed sign-in is recorded");
    assert!(failed.iter().any(|r| format!("{:?}", r.entry).contains("nonce")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_connect_sign_in_over_http() {
    lantern_testkit::run_on("sqlite", openid_connect_sign_in).await;
}
