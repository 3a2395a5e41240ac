//! Trust end to end over HTTP, as clients and an attacker would meet it: tokens from the
//! development issuer, refusals with reasons, break-glass and its review, the privacy officer's
//! explanation, the patient's "who looked at my record", AuditEvent, and an intact audit chain
//! afterwards. Both backends.
use lantern_auth::{DevClaims, DevIssuer, Purpose, Verifier};
use lantern_policy::{Policy, PolicyConfig};
use lantern_server::trust::{Security, Trust};
use lantern_service::Fhir;
use lantern_testkit::{backend_tests, json};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const GP: &str = "A81001";
const ACUTE: &str = "RVJ";
const NHS: &str = "9434765919";

struct Env {
    base: String,
    root: String,
    dev: DevIssuer,
    trust: Arc<Trust>,
    _dir: tempfile::TempDir,
}

async fn start(fhir: Fhir) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevIssuer::open(dir.path()).unwrap();
    let cfg = PolicyConfig::from_toml(&format!(
        "[[policy.organisation]]\nods = \"{GP}\"\nkind = \"gp\"\n[[policy.organisation]]\nods = \"{ACUTE}\"\nkind = \"acute\"\n"
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
        exports: Default::default(),
    };
    tokio::spawn(lantern_server::serve(listener, state));
    Env { base: format!("http://{addr}/fhir"), root: format!("http://{addr}"), dev, trust, _dir: dir }
}

impl Env {
    fn token(&self, c: DevClaims) -> String {
        self.dev.issue(&c, Duration::from_secs(600))
    }
    fn user(&self, id: &str, org: &str, role: &str) -> String {
        self.token(DevClaims::user(id, org, role).unwrap())
    }
}

async fn body(r: Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

async fn get(c: &Client, url: &str, token: &str) -> Response {
    c.get(url).bearer_auth(token).send().await.unwrap()
}

async fn post(c: &Client, url: &str, token: &str, v: Value) -> Response {
    c.post(url)
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(v.to_string())
        .send()
        .await
        .unwrap()
}

fn diagnostics(oo: &Value) -> String {
    oo["issue"][0]["diagnostics"].as_str().unwrap_or("").to_string()
}

async fn trust_over_http(fhir: Fhir) {
    let env = start(fhir).await;
    let c = Client::new();
    let (base, root) = (env.base.clone(), env.root.clone());

    // Public: liveness and the CapabilityStatement. Everything else needs a valid token.
    assert_eq!(c.get(format!("{root}/health")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(c.get(format!("{base}/metadata")).send().await.unwrap().status(), StatusCode::OK);
    let r = c.get(format!("{base}/Patient")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("www-authenticate").is_some());
    let oo = body(r).await;
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert!(!diagnostics(&oo).is_empty());
    // An XML client is refused in XML (the XML layer sits outside the guard).
    let r = c.get(format!("{base}/Patient?_format=xml")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let text = r.text().await.unwrap();
    assert_eq!(lantern_fhir::xml::parse(&text).unwrap()["issue"][0], oo["issue"][0], "{text}");
    // An XML body is not read before the token is checked: refused as unauthenticated, not
    // as bad XML.
    let r = c
        .post(format!("{base}/Patient"))
        .header("content-type", "application/fhir+xml")
        .body("<not-even-xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let gp = env.user("dr-gp", GP, "gp");
    let mut forged = gp.clone();
    forged.pop();
    forged.push(if gp.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(get(&c, &format!("{base}/Patient"), &forged).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get(&c, &format!("{base}/Patient"), "not.a.token").await.status(), StatusCode::UNAUTHORIZED);
    let other = DevIssuer::open(tempfile::tempdir().unwrap().path()).unwrap();
    let foreign = other.issue(&DevClaims::user("dr-gp", GP, "gp").unwrap(), Duration::from_secs(600));
    assert_eq!(get(&c, &format!("{base}/Patient"), &foreign).await.status(), StatusCode::UNAUTHORIZED);

    // The GP practice records its patient and a diagnosis; both are tagged as the GP's.
    let patient = json!({"resourceType": "Patient", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}],
        "name": [{"family": "Smith", "given": ["Jo"]}], "birthDate": "1970-01-01"});
    let r = post(&c, &format!("{base}/Patient"), &gp, patient).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p = body(r).await;
    let pid = p["id"].as_str().unwrap().to_string();
    assert!(p["meta"]["tag"].to_string().contains(GP));
    let cond = json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{pid}")},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}});
    let cid = body(post(&c, &format!("{base}/Condition"), &gp, cond).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The hospital has no relationship yet: searches show nothing (total 0), reads are refused
    // with a reason, $everything too.
    let acute = env.user("dr-acute", ACUTE, "ae-doctor");
    let b = body(get(&c, &format!("{base}/Condition?patient={pid}&_total=accurate"), &acute).await).await;
    assert_eq!(b["total"], 0);
    let r = get(&c, &format!("{base}/Condition/{cid}"), &acute).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(diagnostics(&body(r).await).contains("not shared"));
    assert_eq!(
        get(&c, &format!("{base}/Patient/{pid}/$everything"), &acute).await.status(),
        StatusCode::FORBIDDEN
    );
    let has = body(
        get(&c, &format!("{base}/Patient?_has:Condition:subject:code=38341003&_total=accurate"), &acute)
            .await,
    )
    .await;
    assert_eq!(has["total"], 0, "_has must not reveal the GP's diagnosis");
    // Nor can it change the GP's records.
    let mut upd = body(get(&c, &format!("{base}/Condition/{cid}"), &gp).await).await;
    upd["note"] = json!([{"text": "edited by the hospital"}]);
    let r = c
        .put(format!("{base}/Condition/{cid}"))
        .bearer_auth(&acute)
        .header("content-type", "application/fhir+json")
        .body(upd.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nor read or change its tags and labels: `$meta` is a read, `$meta-add`/`-delete` updates.
    let r = get(&c, &format!("{base}/Condition/{cid}/$meta"), &acute).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let tag = json!({"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"tag": [{"system": "urn:x", "code": "y"}]}}]});
    let r = post(&c, &format!("{base}/Condition/{cid}/$meta-add"), &acute, tag.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(&c, &format!("{base}/Condition/{cid}/$meta-add"), &gp, tag).await;
    assert_eq!(r.status(), StatusCode::OK, "the practice may tag its own record");
    let owned = body(r).await["parameter"][0]["valueMeta"]["tag"].to_string();
    assert!(owned.contains("urn:x") && owned.contains(GP), "the owner's tag stays: {owned}");

    // Break the glass: a reason is required; then the record opens, flagged.
    let bg = |reason: &str, text: &str| json!({"patient": format!("Patient/{pid}"), "reason": reason, "text": text});
    let r =
        post(&c, &format!("{root}/access/break-glass"), &acute, bg("because", "unconscious in resus")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(
        &c,
        &format!("{root}/access/break-glass"),
        &acute,
        bg("unconscious-patient", "unconscious in resus, no history available"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bgid = body(r).await["id"].as_i64().unwrap();
    assert_eq!(get(&c, &format!("{base}/Condition/{cid}"), &acute).await.status(), StatusCode::OK);
    let b = body(get(&c, &format!("{base}/Patient/{pid}/$everything"), &acute).await).await;
    assert_eq!(b["entry"].as_array().unwrap().len(), 2);

    // The privacy officer: the queue, a review, and the explanation of what the doctor sees.
    let po = env.user("po-1", ACUTE, "privacy-officer");
    assert_eq!(get(&c, &format!("{root}/access/break-glass"), &acute).await.status(), StatusCode::FORBIDDEN);
    let q = body(get(&c, &format!("{root}/access/break-glass?status=open"), &po).await).await;
    assert_eq!(q["items"][0]["id"], bgid);
    assert_eq!(q["items"][0]["user"], "dr-acute");
    let r = post(
        &c,
        &format!("{root}/access/break-glass/{bgid}/review"),
        &po,
        json!({"outcome": "appropriate", "note": "A&E"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let q = body(get(&c, &format!("{root}/access/break-glass?status=open"), &po).await).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0);
    let ex = body(
        get(
            &c,
            &format!("{root}/policy/explain?patient={pid}&user=dr-acute&org={ACUTE}&role=ae-doctor"),
            &po,
        )
        .await,
    )
    .await;
    assert_eq!(ex["visible"], 2, "{ex}");
    assert!(ex["decisions"][0]["reason"].as_str().unwrap().contains("broke the glass"), "{ex}");
    let ex2 = body(
        get(&c, &format!("{root}/policy/explain?patient={pid}&user=someone-else&org={ACUTE}"), &po).await,
    )
    .await;
    assert_eq!(ex2["visible"], 0);
    assert!(
        ex2["decisions"][0]["reason"].as_str().unwrap().contains("no current care relationship"),
        "{ex2}"
    );
    assert_eq!(get(&c, &format!("{root}/policy"), &acute).await.status(), StatusCode::OK);

    // The patient: their own record, and who looked at it (not their own looks).
    let me = env.token(DevClaims::patient(NHS).unwrap().with_purpose(Purpose::parse("PATRQT").unwrap()));
    let b = body(get(&c, &format!("{base}/Condition?_total=accurate"), &me).await).await;
    assert_eq!(b["total"], 1);
    let looks = body(get(&c, &format!("{root}/audit/who-looked"), &me).await).await;
    let items = looks["items"].as_array().unwrap();
    assert!(
        items.iter().any(|l| l.to_string().contains("dr-acute") && l.to_string().contains(ACUTE)),
        "{looks}"
    );
    assert!(
        items.iter().all(|l| !l.to_string().contains(&format!("patient:{NHS}"))),
        "own looks are not listed: {looks}"
    );
    assert!(items.iter().any(|l| l["break_glass"] == true), "{looks}");
    let ae = body(get(&c, &format!("{base}/AuditEvent"), &me).await).await;
    assert!(!ae["entry"].as_array().unwrap().is_empty());
    assert_eq!(ae["entry"][0]["resource"]["resourceType"], "AuditEvent");
    assert_eq!(get(&c, &format!("{base}/AuditEvent"), &acute).await.status(), StatusCode::FORBIDDEN);
    // A patient cannot write.
    assert_eq!(
        post(
            &c,
            &format!("{base}/Condition"),
            &me,
            json!({"resourceType": "Condition",
        "subject": {"reference": format!("Patient/{pid}")}})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );

    // Every look above is in an intact chain.
    let report = env.trust.audit.verify(None).await.unwrap();
    assert!(report.first_bad.is_none(), "{report:?}");
    assert!(report.records >= 20, "{report:?}");
}

/// Starts an export with `token` and waits for its manifest.
async fn export(c: &Client, url: &str, token: &str) -> Value {
    let r = c.get(url).bearer_auth(token).header("prefer", "respond-async").send().await.unwrap();
    manifest(c, r, url, token).await
}

/// Waits for the manifest of the export whose kick-off answered `r`.
async fn manifest(c: &Client, r: reqwest::Response, url: &str, token: &str) -> Value {
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{url}");
    let status = r.headers()["content-location"].to_str().unwrap().to_string();
    for _ in 0..200 {
        let r = get(c, &status, token).await;
        if r.status() == StatusCode::OK {
            let mut m = body(r).await;
            m["status_url"] = json!(status);
            return m;
        }
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert!(r.headers().get("x-progress").is_some());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the export did not finish");
}

/// `$export` holds what the caller may see and nothing else, only its starter can fetch it, and
/// the patients whose data it holds see it among the looks at their record.
async fn bulk_export_over_http(fhir: Fhir) {
    let env = start(fhir).await;
    let c = Client::new();
    let (base, root) = (env.base.clone(), env.root.clone());
    let gp = env.user("dr-gp", GP, "gp");
    let patient = json!({"resourceType": "Patient", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}],
        "name": [{"family": "Smith", "given": ["Jo"]}], "birthDate": "1970-01-01"});
    let pid = body(post(&c, &format!("{base}/Patient"), &gp, patient).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cond = json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{pid}")},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}});
    let r = post(&c, &format!("{base}/Condition"), &gp, cond).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cond_id = body(r).await["id"].as_str().unwrap().to_string();

    // The GP's practice exports its patients: the Patient and the Condition, as NDJSON.
    let m = export(&c, &format!("{base}/Patient/$export?_type=Patient,Condition,Observation"), &gp).await;
    assert_eq!(m["requiresAccessToken"], true);
    let files: Vec<(String, i64, String)> = m["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["type"].as_str().unwrap().into(),
                o["count"].as_i64().unwrap(),
                o["url"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        files.iter().map(|f| (f.0.as_str(), f.1)).collect::<Vec<_>>(),
        [("Patient", 1), ("Condition", 1)]
    );
    let r = get(&c, &files[1].2, &gp).await;
    assert_eq!(r.headers()["content-type"], "application/fhir+ndjson");
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["subject"]["reference"], format!("Patient/{pid}"));

    // Someone else cannot poll it or fetch its files; a made-up file name is not served.
    let acute = env.user("dr-acute", ACUTE, "ae-doctor");
    let status = m["status_url"].as_str().unwrap();
    assert_eq!(get(&c, status, &acute).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&c, &files[0].2, &acute).await.status(), StatusCode::NOT_FOUND);
    let sneaky = files[0].2.replace("Patient.ndjson", "..%2F..%2Fetc%2Fpasswd");
    assert_eq!(get(&c, &sneaky, &gp).await.status(), StatusCode::NOT_FOUND);

    // The hospital, with no care relationship, exports nothing of this patient: no file at all.
    let m = export(&c, &format!("{base}/$export?_type=Patient,Condition"), &acute).await;
    assert_eq!(m["output"], json!([]), "{m}");

    // What an export cannot do is refused by name.
    let r = get(&c, &format!("{base}/$export?includeAssociatedData=_custom"), &gp).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(diagnostics(&body(r).await).contains("includeAssociatedData"));

    // `includeAssociatedData`: the Provenance of what is exported, all of it or each
    // resource's latest, without asking for the Provenance type; none for the hospital.
    let mut prov_ids = Vec::new();
    for recorded in ["2024-01-01T00:00:00Z", "2024-06-01T09:00:00+01:00"] {
        let prov = json!({"resourceType": "Provenance", "recorded": recorded,
            "target": [{"reference": format!("Condition/{cond_id}")}],
            "agent": [{"who": {"display": "GP system"}}]});
        let r = post(&c, &format!("{base}/Provenance"), &gp, prov).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        prov_ids.push(body(r).await["id"].as_str().unwrap().to_string());
    }
    let provenance = |m: &Value| -> Option<(i64, String)> {
        let o = m["output"].as_array()?.iter().find(|o| o["type"] == "Provenance")?.clone();
        Some((o["count"].as_i64()?, o["url"].as_str()?.to_string()))
    };
    let m = export(
        &c,
        &format!("{base}/Patient/$export?_type=Condition&includeAssociatedData=RelevantProvenanceResources"),
        &gp,
    )
    .await;
    assert_eq!(provenance(&m).map(|p| p.0), Some(2), "{m}");
    let m = export(
        &c,
        &format!("{base}/Patient/$export?_type=Condition&includeAssociatedData=LatestProvenanceResources"),
        &gp,
    )
    .await;
    let (n, url) = provenance(&m).unwrap_or_else(|| panic!("no Provenance: {m}"));
    assert_eq!(n, 1);
    let text = get(&c, &url, &gp).await.text().await.unwrap();
    assert!(text.contains(&prov_ids[1]) && text.lines().count() == 1, "the latest only: {text}");
    // Asked for as a type too, each Provenance comes once.
    let m = export(
        &c,
        &format!(
            "{base}/$export?_type=Condition,Provenance&includeAssociatedData=RelevantProvenanceResources"
        ),
        &gp,
    )
    .await;
    assert_eq!(provenance(&m).map(|p| p.0), Some(2), "{m}");
    let m = export(
        &c,
        &format!("{base}/$export?_type=Condition&includeAssociatedData=RelevantProvenanceResources"),
        &acute,
    )
    .await;
    assert_eq!(m["output"], json!([]), "{m}");
    let r = get(&c, &format!("{base}/Patient/$export?_type=Organization"), &gp).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The patient sees the export among the looks at their record.
    let me = env.token(DevClaims::patient(NHS).unwrap().with_purpose(Purpose::parse("PATRQT").unwrap()));
    let looks = body(get(&c, &format!("{root}/audit/who-looked"), &me).await).await;
    assert!(
        looks["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["action"] == "export" && l.to_string().contains("dr-gp")),
        "{looks}"
    );

    // A Group's export holds its members' records only, as the caller may see them; an
    // empty Group exports nothing (not everything).
    let group = json!({"resourceType": "Group", "type": "person", "actual": true,
        "member": [{"entity": {"reference": format!("Patient/{pid}")}}]});
    let gid =
        body(post(&c, &format!("{base}/Group"), &gp, group).await).await["id"].as_str().unwrap().to_string();
    let kinds = |m: &Value| -> Vec<(String, i64)> {
        let mut k: Vec<(String, i64)> = m["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["type"].as_str().unwrap().to_string(), o["count"].as_i64().unwrap()))
            .collect();
        k.sort();
        k
    };
    // The Group itself is in its member's compartment (Group.member), so it comes too.
    let want = vec![("Condition".to_string(), 1), ("Group".to_string(), 1), ("Patient".to_string(), 1)];
    assert_eq!(kinds(&export(&c, &format!("{base}/Group/{gid}/$export"), &gp).await), want);
    let other = json!({"resourceType": "Patient", "name": [{"family": "Other"}]});
    assert_eq!(post(&c, &format!("{base}/Patient"), &gp, other).await.status(), StatusCode::CREATED);
    let m = export(&c, &format!("{base}/Group/{gid}/$export"), &gp).await;
    assert_eq!(kinds(&m), want, "the other patient is not a member");
    let empty = json!({"resourceType": "Group", "type": "person", "actual": true});
    let eid =
        body(post(&c, &format!("{base}/Group"), &gp, empty).await).await["id"].as_str().unwrap().to_string();
    assert_eq!(export(&c, &format!("{base}/Group/{eid}/$export"), &gp).await["output"], json!([]));
    assert_eq!(get(&c, &format!("{base}/Group/nope/$export"), &gp).await.status(), StatusCode::NOT_FOUND);

    // With `_since`, what was deleted since is listed: a transaction Bundle of DELETEs, for
    // the practice that could see it, and nothing for the hospital that could not.
    let since = body(get(&c, &format!("{base}/Patient/{pid}"), &gp).await).await["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_string();
    let cond2 = json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{pid}")},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195967001"}]}});
    let cid = body(post(&c, &format!("{base}/Condition"), &gp, cond2).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // `_typeFilter`: only the Conditions its search matches; what it cannot apply exactly is
    // refused by name.
    let enc = |q: &str| url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    let filter = enc("Condition?code=http://snomed.info/sct|195967001");
    let m = export(&c, &format!("{base}/Patient/$export?_type=Condition&_typeFilter={filter}"), &gp).await;
    assert_eq!(m["output"].as_array().map(|o| (o.len(), o[0]["count"].clone())), Some((1, json!(1))), "{m}");
    let text = get(&c, m["output"][0]["url"].as_str().unwrap(), &gp).await.text().await.unwrap();
    assert!(text.contains(&cid) && text.lines().count() == 1, "{text}");
    // Two filters of one type: either matches, and a resource both match comes once.
    let both = format!("{filter},{}", enc(&format!("Condition?subject=Patient/{pid}")));
    let m = export(&c, &format!("{base}/Patient/$export?_type=Condition&_typeFilter={both}"), &gp).await;
    assert_eq!(m["output"][0]["count"], 2, "{m}");
    for (q, names) in [
        ("Condition?_sort=date", "_sort"),
        ("Condition?nope=1", "nope"),
        ("Observation?code=1", "Observation"),
    ] {
        let r = get(&c, &format!("{base}/Patient/$export?_type=Condition&_typeFilter={}", enc(q)), &gp).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        assert!(diagnostics(&body(r).await).contains(names), "{q}");
    }

    let r = c.delete(format!("{base}/Condition/{cid}")).bearer_auth(&gp).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let since_q = url::form_urlencoded::byte_serialize(since.as_bytes()).collect::<String>();
    let m = export(&c, &format!("{base}/Patient/$export?_type=Condition&_since={since_q}"), &gp).await;
    let deleted = m["deleted"].as_array().unwrap_or_else(|| panic!("no deletions listed: {m}"));
    assert_eq!((deleted.len(), deleted[0]["type"].as_str()), (1, Some("Bundle")), "{m}");
    let text = get(&c, deleted[0]["url"].as_str().unwrap(), &gp).await.text().await.unwrap();
    let bundle: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(bundle["type"], "transaction");
    assert_eq!(
        bundle["entry"],
        json!([{"request": {"method": "DELETE", "url": format!("Condition/{cid}")}}]),
        "{bundle}"
    );
    let m = export(&c, &format!("{base}/$export?_type=Condition&_since={since_q}"), &acute).await;
    assert!(m.get("deleted").is_none(), "the hospital learns of no deletion: {m}");

    // `_elements`: the Patient trimmed to what was asked (and what is mandatory), marked
    // SUBSETTED; the Condition, named by no element, whole.
    let m = export(
        &c,
        &format!("{base}/Patient/$export?_type=Patient,Condition&_elements=Patient.birthDate"),
        &gp,
    )
    .await;
    let url_of = |t: &str| {
        m["output"].as_array().unwrap().iter().find(|o| o["type"] == t).unwrap()["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let line = get(&c, &url_of("Patient"), &gp).await.text().await.unwrap();
    let p: Value = serde_json::from_str(line.lines().find(|l| l.contains(&pid)).unwrap()).unwrap();
    assert!(p.get("name").is_none() && p["birthDate"] == "1970-01-01", "{p}");
    assert!(p["meta"]["tag"].to_string().contains("SUBSETTED"), "{p}");
    let text = get(&c, &url_of("Condition"), &gp).await.text().await.unwrap();
    assert!(text.lines().all(|l| l.contains("\"code\"") && !l.contains("SUBSETTED")), "{text}");

    // POST kick-off with a Parameters body: `patient` names whose records to export.
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Patient"},
        {"name": "patient", "valueReference": {"reference": format!("Patient/{pid}")}}]});
    let url = format!("{base}/Patient/$export");
    let r =
        c.post(&url).bearer_auth(&gp).header("prefer", "respond-async").json(&params).send().await.unwrap();
    assert_eq!(
        kinds(&manifest(&c, r, &url, &gp).await),
        vec![("Patient".to_string(), 1)],
        "only the named patient"
    );
    let r = c.post(format!("{base}/$export")).bearer_auth(&gp).json(&params).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "patient is not a system-level parameter");
    let r = c.post(&url).bearer_auth(&gp).json(&json!({"resourceType": "Patient"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(diagnostics(&body(r).await).contains("Parameters"));

    // Deleting the job removes it.
    let r = c.delete(status).bearer_auth(&gp).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(get(&c, status, &gp).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&c, &files[0].2, &gp).await.status(), StatusCode::NOT_FOUND);
}

/// Notifications as a GP practice meets them: it subscribes to admissions, and hears of its
/// own registered patient's admission by the hospital, not of another patient it has no care
/// relationship with, nor of an outpatient visit; the patient sees the notification in "who
/// looked at my record"; a subscription that cannot be delivered says why.
async fn notifications_over_http(fhir: Fhir) {
    let env = start(fhir).await;
    let c = Client::new();
    let (base, root) = (env.base.clone(), env.root.clone());
    let (hook, received) = lantern_testkit::hook::receiver().await;
    let mut notifier = lantern_notify::Notifier::new(
        env.trust.fhir.clone(),
        Some(env.trust.policy.clone()),
        Some(env.trust.audit.clone()),
    )
    .unwrap()
    .with_retry(Vec::new());
    let gp = env.user("dr-gp", GP, "gp");
    let acute = env.user("dr-acute", ACUTE, "ae-doctor");
    let new_patient = |nhs: &str, family: &str| {
        json!({"resourceType": "Patient", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
            "name": [{"family": family}], "birthDate": "1960-05-05"})
    };
    // The GP's registered patient, and a patient only the hospital knows.
    let mine = body(post(&c, &format!("{base}/Patient"), &gp, new_patient(NHS, "Registered")).await).await;
    let mine = mine["id"].as_str().unwrap().to_string();
    let other =
        body(post(&c, &format!("{base}/Patient"), &acute, new_patient("9000000009", "Stranger")).await).await;
    let other = other["id"].as_str().unwrap().to_string();

    let subscription = |criteria: &str, channel: Value| {
        json!({"resourceType": "Subscription", "status": "requested", "reason": "admissions of our patients",
               "criteria": criteria, "channel": channel})
    };
    let r = post(
        &c,
        &format!("{base}/Subscription"),
        &gp,
        subscription(
            "Encounter?class=IMP",
            json!({"type": "rest-hook", "endpoint": format!("{hook}/gp/fhir"), "payload": "application/fhir+json",
                   "header": ["Authorization: Bearer gp-secret"]}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sub = body(r).await["id"].as_str().unwrap().to_string();
    let broken = post(
        &c,
        &format!("{base}/Subscription"),
        &gp,
        subscription("Encounter?class=IMP", json!({"type": "rest-hook", "endpoint": format!("{hook}/fail")})),
    )
    .await;
    let broken = body(broken).await["id"].as_str().unwrap().to_string();
    let unsupported = post(
        &c,
        &format!("{base}/Subscription"),
        &gp,
        subscription("Encounter", json!({"type": "websocket"})),
    )
    .await;
    let unsupported = body(unsupported).await["id"].as_str().unwrap().to_string();
    while notifier.pass().await.map(|p| p.changes + p.pending).unwrap() > 0 {}
    let status = |id: String| {
        let (c, base, gp) = (c.clone(), base.clone(), gp.clone());
        async move { body(get(&c, &format!("{base}/Subscription/{id}"), &gp).await).await }
    };
    assert_eq!(status(sub.clone()).await["status"], "active");
    // Another organisation cannot read it (it names the GP's endpoint and credentials).
    assert_eq!(get(&c, &format!("{base}/Subscription/{sub}"), &acute).await.status(), StatusCode::FORBIDDEN);
    let b = body(get(&c, &format!("{base}/Subscription?_total=accurate"), &acute).await).await;
    assert_eq!(b["total"], 0, "{b}");
    let b = body(get(&c, &format!("{base}/Subscription?_total=accurate"), &gp).await).await;
    assert_eq!(b["total"], 3, "{b}");
    let u = status(unsupported).await;
    assert_eq!(u["status"], "error", "{u}");
    assert!(u["error"].as_str().unwrap().contains("websocket"), "{u}");

    // The hospital admits both patients and sees one in outpatients.
    let encounter = |patient: &str, class: &str| {
        json!({"resourceType": "Encounter", "status": "in-progress",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
               "subject": {"reference": format!("Patient/{patient}")}})
    };
    let admitted = body(post(&c, &format!("{base}/Encounter"), &acute, encounter(&mine, "IMP")).await).await;
    let admitted = admitted["id"].as_str().unwrap().to_string();
    for (p, class) in [(&other, "IMP"), (&mine, "AMB")] {
        assert_eq!(
            post(&c, &format!("{base}/Encounter"), &acute, encounter(p, class)).await.status(),
            StatusCode::CREATED
        );
    }
    let mut sent = 0;
    loop {
        let p = notifier.pass().await.unwrap();
        sent += p.sent;
        if p.changes == 0 && p.pending == 0 {
            break;
        }
    }
    assert_eq!(sent, 1);
    let got = received.lock().unwrap().clone();
    let to_gp: Vec<_> = got.iter().filter(|r| r.path.starts_with("/gp")).collect();
    assert_eq!(to_gp.len(), 1, "{got:?}");
    let r = to_gp[0];
    assert_eq!((r.method.as_str(), r.path.clone()), ("PUT", format!("/gp/fhir/Encounter/{admitted}")));
    assert_eq!(r.authorization.as_deref(), Some("Bearer gp-secret"));
    let sent: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(sent["subject"]["reference"], format!("Patient/{mine}"));
    assert!(!r.body.contains(&other), "another patient's data left: {}", r.body);
    // The failing endpoint was tried and its subscription says why it stopped.
    assert!(got.iter().any(|r| r.path == "/fail" && r.method == "POST" && r.body.is_empty()), "{got:?}");
    let b = status(broken).await;
    assert_eq!(b["status"], "error", "{b}");
    assert!(b["error"].as_str().unwrap().contains("500"), "{b}");
    assert_eq!(notifier.active(), vec![sub.clone()]);

    // The patient sees that their GP practice was sent the admission.
    let me = env.token(DevClaims::patient(NHS).unwrap().with_purpose(Purpose::parse("PATRQT").unwrap()));
    let looks = body(get(&c, &format!("{root}/audit/who-looked"), &me).await).await;
    assert!(
        looks["items"].as_array().unwrap().iter().any(|l| l["action"] == "notification"
            && l["org"] == GP
            && l["what"].to_string().contains("Encounter")),
        "{looks}"
    );
    let report = env.trust.audit.verify(None).await.unwrap();
    assert!(report.first_bad.is_none(), "{report:?}");

    // Switched off by its owner: nothing more is sent.
    let mut off = status(sub.clone()).await;
    off["status"] = json!("off");
    let r = c
        .put(format!("{base}/Subscription/{sub}"))
        .bearer_auth(&gp)
        .header("content-type", "application/fhir+json")
        .body(off.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    post(&c, &format!("{base}/Encounter"), &acute, encounter(&mine, "IMP")).await;
    while notifier.pass().await.map(|p| p.changes + p.pending).unwrap() > 0 {}
    assert!(notifier.active().is_empty());
    assert_eq!(received.lock().unwrap().iter().filter(|r| r.path.starts_with("/gp")).count(), 1);
}

backend_tests!(trust_over_http, bulk_export_over_http, notifications_over_http);

/// The same on the embedded store as `lantern serve` runs it: reads recorded through the audit
/// journal (`lantern_audit::journal`) rather than straight into the tables.
#[tokio::test]
async fn trust_over_http_sqlite_journal() {
    let store = lantern_testkit::sqlite_with(|s, dir| {
        lantern_audit::journal::install(s, &dir.join(lantern_audit::journal::JOURNAL_FILE)).unwrap()
    });
    trust_over_http(store.fhir.clone()).await;
    tokio::task::spawn_blocking(move || drop(store)).await.unwrap();
}
