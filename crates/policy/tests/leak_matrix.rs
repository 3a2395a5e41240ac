//! The access policy tested as an attacker would: a small region (two GP practices, an acute
//! trust, a council's social care) with agreements, care relationships, an opt-out and legally
//! restricted data, then every read path — reads, searches with totals and paging, `_include`,
//! `_revinclude`, chains, `_has`, history, `$everything`, `Patient/[id]/*`, `$lastn`, `$summary`,
//! `$document`, type- and system-level `$meta`, bulk
//! export, conditional create — asked by each user, on both backends. A path that reveals a withheld resource, or even its existence
//! through a total or a match, fails the test. Finally the compiled SQL filter and the Rust
//! explanation are checked to agree on every resource for every user.
use lantern_policy::explain::{decide, FactRow, Row};
use lantern_policy::{Policy, PolicyConfig, Requester};
use lantern_service::{error_status, Created, Ctx, Fhir};
use lantern_store::HistoryScope;
use lantern_testkit::client::pairs;
use lantern_testkit::{backend_tests, json, parse, BASE};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const GP1: &str = "A81001";
const GP2: &str = "A81002";
const ACUTE: &str = "RVJ";
const SOCIAL: &str = "SC100";
const SNOMED: &str = "http://snomed.info/sct";

fn policy() -> Arc<Policy> {
    let cfg = PolicyConfig::from_toml(&format!(
        r#"
[[policy.organisation]]
ods = "{GP1}"
kind = "gp"
[[policy.organisation]]
ods = "{GP2}"
kind = "gp"
[[policy.organisation]]
ods = "{ACUTE}"
kind = "acute"
[[policy.organisation]]
ods = "{SOCIAL}"
kind = "social-care"

[[policy.agreement]]
id = "gp-to-acute"
from = ["kind:gp"]
to = ["kind:acute"]
categories = ["demographics", "medications", "allergies", "problems"]

[[policy.agreement]]
id = "acute-to-gp"
from = ["{ACUTE}"]
to = ["kind:gp"]
categories = ["*"]

[[policy.agreement]]
id = "gp-to-gp"
from = ["kind:gp"]
to = ["kind:gp"]
categories = ["*"]

[[policy.agreement]]
id = "social-to-gp"
from = ["kind:social-care"]
to = ["kind:gp"]
categories = ["care-plans"]
"#
    ))
    .expect("policy config");
    Arc::new(Policy::new(cfg).expect("policy"))
}

fn with_policy(fhir: Fhir, p: &Arc<Policy>) -> Fhir {
    let p = p.clone();
    fhir.with_labeller(Arc::new(move |t, id, body, now| p.label(t, id, body, now)))
}

/// A context writing for `org` (as a feed or user of that organisation would).
fn writer(org: &str) -> Ctx {
    let mut c = Ctx::system(BASE);
    c.org = Some(org.into());
    c
}

fn reader(fhir: &Fhir, p: &Policy, r: &Requester) -> Ctx {
    let mut c = Ctx::system(BASE);
    let store = fhir.store.clone();
    c.access = p.compile(r, &|t| store.catalog().type_id(t), fhir.store.now_micros());
    c.org = r.org.clone();
    c
}

/// The region: returns name -> "Type/id".
async fn region(fhir: &Fhir) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    async fn put(fhir: &Fhir, org: &str, body: Value) -> String {
        let t = body["resourceType"].as_str().unwrap().to_string();
        match fhir.create(&writer(org), &t, body, None).await.expect("create") {
            Created::New(w) => format!("{}/{}", w.stored.rtype, w.stored.id),
            Created::Existing(s) => format!("{}/{}", s.rtype, s.id),
        }
    }
    let code = |c: &str| json!({"coding": [{"system": SNOMED, "code": c}]});
    let p1 =
        put(fhir, GP1, json!({"resourceType": "Patient", "name": [{"family": "One", "given": ["Pat"]}]}))
            .await;
    let p2 = put(fhir, GP1, json!({"resourceType": "Patient", "name": [{"family": "Two"}]})).await;
    let p3 = put(fhir, GP2, json!({"resourceType": "Patient", "name": [{"family": "Three"}]})).await;
    let subj = |p: &str| json!({"reference": p});
    out.insert(
        "org",
        put(fhir, ACUTE, json!({"resourceType": "Organization", "name": "Riverside Acute"})).await,
    );
    // P1: registered at GP1, in hospital at ACUTE now.
    out.insert(
        "p1_htn",
        put(fhir, GP1, json!({"resourceType": "Condition", "subject": subj(&p1), "code": code("38341003")}))
            .await,
    );
    let sti =
        put(fhir, GP1, json!({"resourceType": "Condition", "subject": subj(&p1), "code": code("15628003")}))
            .await;
    out.insert("p1_sti", sti.clone());
    out.insert(
        "p1_med",
        put(
            fhir,
            GP1,
            json!({"resourceType": "MedicationStatement", "status": "active",
        "subject": subj(&p1), "medicationCodeableConcept": {"text": "ramipril"}}),
        )
        .await,
    );
    out.insert(
        "p1_allergy",
        put(
            fhir,
            GP1,
            json!({"resourceType": "AllergyIntolerance", "patient": subj(&p1),
        "code": {"text": "penicillin"}}),
        )
        .await,
    );
    out.insert(
        "p1_gp_obs",
        put(
            fhir,
            GP1,
            json!({"resourceType": "Observation", "status": "final",
        "subject": subj(&p1), "code": {"text": "HbA1c"}}),
        )
        .await,
    );
    out.insert(
        "p1_enc",
        put(
            fhir,
            ACUTE,
            json!({"resourceType": "Encounter", "status": "in-progress",
        "class": {"code": "IMP"}, "subject": subj(&p1)}),
        )
        .await,
    );
    // The hospital's own observation points at the GP's restricted diagnosis.
    out.insert(
        "p1_acute_obs",
        put(
            fhir,
            ACUTE,
            json!({"resourceType": "Observation", "status": "final",
        "subject": subj(&p1), "code": {"text": "swab"}, "focus": [{"reference": sti}]}),
        )
        .await,
    );
    out.insert(
        "p1_careplan",
        put(
            fhir,
            SOCIAL,
            json!({"resourceType": "CarePlan", "status": "active",
        "intent": "plan", "subject": subj(&p1)}),
        )
        .await,
    );
    // P2: registered at GP1, opted out, also in hospital.
    out.insert(
        "p2_cond",
        put(fhir, GP1, json!({"resourceType": "Condition", "subject": subj(&p2), "code": code("38341003")}))
            .await,
    );
    out.insert("p2_optout", put(fhir, GP1, json!({"resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": subj(&p2), "policyRule": {"text": "local opt-out"}, "provision": {"type": "deny"}})).await);
    out.insert(
        "p2_enc",
        put(
            fhir,
            ACUTE,
            json!({"resourceType": "Encounter", "status": "in-progress",
        "class": {"code": "IMP"}, "subject": subj(&p2)}),
        )
        .await,
    );
    // P3: at GP2 only.
    out.insert(
        "p3_cond",
        put(fhir, GP2, json!({"resourceType": "Condition", "subject": subj(&p3), "code": code("38341003")}))
            .await,
    );
    out.insert("p1", p1);
    out.insert("p2", p2);
    out.insert("p3", p3);
    out
}

/// Who sees what, by name (everything else must be invisible).
fn expected(user: &str) -> BTreeSet<&'static str> {
    let v: &[&str] = match user {
        // Own data, reference data, and GP1's shareable categories for P1 (not the STI, not
        // the results category); P2's GP data is hidden by the opt-out.
        "acute" => &["org", "p1", "p1_htn", "p1_med", "p1_allergy", "p1_enc", "p1_acute_obs", "p2_enc"],
        // Everything GP1 holds, the hospital's data for its registered P1 (not P2: opted out),
        // and social care's care plan for P1.
        "gp1" => &[
            "org",
            "p1",
            "p2",
            "p1_htn",
            "p1_sti",
            "p1_med",
            "p1_allergy",
            "p1_gp_obs",
            "p1_enc",
            "p1_acute_obs",
            "p1_careplan",
            "p2_cond",
            "p2_optout",
        ],
        // No relationship with P1 or P2: only its own patient.
        "gp2" => &["org", "p3", "p3_cond"],
        // No agreement shares anything with social care: only its own care plan.
        "social" => &["org", "p1_careplan"],
        _ => &[],
    };
    v.iter().copied().collect()
}

fn requester(user: &str) -> Requester {
    match user {
        "acute" => Requester::user("dr-acute", ACUTE, "ae-doctor"),
        "gp1" => Requester::user("dr-gp1", GP1, "gp"),
        "gp2" => Requester::user("dr-gp2", GP2, "gp"),
        _ => Requester::user("sw-1", SOCIAL, "social-worker"),
    }
}

const USERS: &[&str] = &["acute", "gp1", "gp2", "social"];

fn refs_of(bundle: &Value, mode: &str) -> BTreeSet<String> {
    lantern_testkit::client::refs_with_mode(bundle, Some(mode)).into_iter().collect()
}

async fn search(fhir: &Fhir, c: &Ctx, rtype: Option<&str>, q: &str) -> Value {
    parse(&fhir.search(c, rtype, &pairs(q)).await.expect("search"))
}

async fn leak_matrix(fhir: Fhir) {
    let p = policy();
    let fhir = with_policy(fhir, &p);
    let names = region(&fhir).await;
    let by_ref: BTreeMap<String, &str> = names.iter().map(|(k, v)| (v.clone(), *k)).collect();
    let all: BTreeSet<String> = names.values().cloned().collect();
    let mut named_restricted = 0;
    for user in USERS {
        let want: BTreeSet<String> = expected(user).iter().map(|n| names[n].clone()).collect();
        let c = reader(&fhir, &p, &requester(user));
        let name = |r: &String| by_ref.get(r).copied().unwrap_or("?");
        // Reads: 200 exactly for what is visible, 403 otherwise.
        for r in &all {
            let (t, id) = r.split_once('/').unwrap();
            let got = fhir.read(&c, t, id).await;
            assert_eq!(got.is_ok(), want.contains(r), "{user} read {}: {:?}", name(r), got.as_ref().err());
            if let Err(e) = got {
                assert_eq!(error_status(&e), 403);
            }
            let v = fhir.vread(&c, t, id, "1").await;
            assert_eq!(v.is_ok(), want.contains(r), "{user} vread {}", name(r));
        }
        // Searches of every type, with accurate totals, one page and many pages of one.
        for t in [
            "Patient",
            "Condition",
            "Observation",
            "Encounter",
            "MedicationStatement",
            "AllergyIntolerance",
            "CarePlan",
            "Consent",
            "Organization",
        ] {
            let want_t: BTreeSet<String> =
                want.iter().filter(|r| r.starts_with(&format!("{t}/"))).cloned().collect();
            let b = search(&fhir, &c, Some(t), "_total=accurate").await;
            assert_eq!(refs_of(&b, "match"), want_t, "{user} search {t}");
            assert_eq!(b["total"], json!(want_t.len()), "{user} total {t}");
            let mut paged = BTreeSet::new();
            let mut next = Some("_count=1&_total=accurate".to_string());
            while let Some(q) = next {
                let b = search(&fhir, &c, Some(t), &q).await;
                assert_eq!(b["total"], json!(want_t.len()), "{user} paged total {t}");
                paged.extend(refs_of(&b, "match"));
                next = b["link"].as_array().and_then(|l| {
                    l.iter()
                        .find(|l| l["relation"] == "next")
                        .map(|l| l["url"].as_str().unwrap().split_once('?').unwrap().1.to_string())
                });
            }
            assert_eq!(paged, want_t, "{user} paged {t}");
        }
        // Includes and reverse includes never bring in what is withheld.
        for (t, q) in [
            ("Condition", "_include=Condition:subject"),
            ("Encounter", "_include=Encounter:subject"),
            ("Observation", "_include=Observation:focus&_include=Observation:subject"),
            (
                "Patient",
                "_revinclude=Condition:subject&_revinclude=Observation:subject&_revinclude=Consent:patient",
            ),
            ("Patient", "_revinclude=*"),
            ("Encounter", "_include=*&_revinclude=*"),
        ] {
            let b = search(&fhir, &c, Some(t), q).await;
            for r in refs_of(&b, "include").union(&refs_of(&b, "match")) {
                assert!(want.contains(r), "{user} {t}?{q} revealed {}", name(r));
            }
        }
        // `_filter` groups (or across parameters, not, a chain inside them): exactly what is
        // visible of what they select, totals included.
        for (t, q) in [
            ("Condition", "code eq 15628003 or subject pr false"),
            ("Condition", "not (code eq 38341003)"),
            ("Observation", "not (focus.code eq 15628003) or status eq final"),
        ] {
            let enc = q.replace(' ', "%20");
            let b = search(&fhir, &c, Some(t), &format!("_filter={enc}&_total=accurate")).await;
            let got = refs_of(&b, "match");
            for r in &got {
                assert!(want.contains(r), "{user} {t}?_filter={q} revealed {}", name(r));
            }
            assert_eq!(b["total"], json!(got.len()), "{user} {t}?_filter={q} total");
        }
        let all_conditions = search(&fhir, &c, Some("Condition"), "_total=accurate").await;
        let not_htn =
            search(&fhir, &c, Some("Condition"), "_filter=not%20(code%20eq%2038341003)&_total=accurate")
                .await;
        let htn = search(&fhir, &c, Some("Condition"), "code=38341003&_total=accurate").await;
        assert_eq!(
            refs_of(&not_htn, "match"),
            refs_of(&all_conditions, "match").difference(&refs_of(&htn, "match")).cloned().collect(),
            "{user}: not() is the visible complement"
        );
        // Chains and _has through withheld resources match nothing they should not.
        let sti_chain =
            search(&fhir, &c, Some("Observation"), "focus:Condition.code=15628003&_total=accurate").await;
        let sees_sti = want.contains(&names["p1_sti"]);
        assert_eq!(
            sti_chain["total"],
            json!(usize::from(sees_sti && want.contains(&names["p1_acute_obs"]))),
            "{user} chain"
        );
        let has =
            search(&fhir, &c, Some("Patient"), "_has:Condition:subject:code=15628003&_total=accurate").await;
        assert_eq!(has["total"], json!(usize::from(sees_sti)), "{user} _has reveals the STI diagnosis");
        let has_optout =
            search(&fhir, &c, Some("Patient"), "_has:Consent:patient:status=active&_total=accurate").await;
        assert_eq!(
            refs_of(&has_optout, "match").len(),
            usize::from(want.contains(&names["p2_optout"])),
            "{user} _has consent"
        );
        let chain_p3 =
            search(&fhir, &c, Some("Condition"), "subject:Patient.family=Three&_total=accurate").await;
        assert_eq!(
            chain_p3["total"],
            json!(usize::from(want.contains(&names["p3_cond"]))),
            "{user} chain to P3"
        );
        // History: type and system history count only what is visible; instance history of a
        // withheld resource is refused.
        let h = parse(&fhir.history(&c, HistoryScope::Type("Condition".into()), &[]).await.unwrap());
        let want_c = want.iter().filter(|r| r.starts_with("Condition/")).count();
        assert_eq!(h["total"], json!(want_c), "{user} Condition history");
        let hs = parse(&fhir.history(&c, HistoryScope::System, &[]).await.unwrap());
        assert_eq!(hs["total"], json!(want.len()), "{user} system history");
        let (t, id) = names["p1_sti"].split_once('/').unwrap();
        let hi = fhir.history(&c, HistoryScope::Instance(t.into(), id.into()), &[]).await;
        assert_eq!(hi.is_ok(), sees_sti, "{user} STI instance history");
        // Search in a patient's compartment: only what is visible, and totals that agree.
        let mut found = 0;
        for pt in ["p1", "p2", "p3"] {
            let id = names[pt].trim_start_matches("Patient/");
            for t in [
                "Condition",
                "Observation",
                "Encounter",
                "MedicationStatement",
                "AllergyIntolerance",
                "Consent",
            ] {
                let b = parse(
                    &fhir.search_compartment(&c, "Patient", id, t, &pairs("_total=accurate")).await.unwrap(),
                );
                let got = refs_of(&b, "match");
                for r in &got {
                    assert!(want.contains(r), "{user} Patient/{pt}/{t} revealed {}", name(r));
                }
                assert_eq!(b["total"], json!(got.len()), "{user} Patient/{pt}/{t} total");
                found += got.len();
            }
            // Every type at once: the same rule, and a total that agrees.
            let b = parse(
                &fhir
                    .search_compartment(&c, "Patient", id, "*", &pairs("_total=accurate&_count=100"))
                    .await
                    .unwrap(),
            );
            let got = refs_of(&b, "match");
            for r in &got {
                assert!(want.contains(r), "{user} Patient/{pt}/* revealed {}", name(r));
            }
            assert_eq!(b["total"], json!(got.len()), "{user} Patient/{pt}/* total");
            // The newest Observation of each code: of what is visible only.
            let b = parse(&fhir.lastn(&c, &pairs(&format!("patient={id}&max=100"))).await.unwrap());
            for r in &refs_of(&b, "match") {
                assert!(want.contains(r), "{user} Observation/$lastn?patient={pt} revealed {}", name(r));
            }
        }
        let sees_clinical = want.iter().any(|r| r.starts_with("Condition/") || r.starts_with("Observation/"));
        assert_eq!(found > 0, sees_clinical, "{user}: compartment searches found {found}");
        // $everything: only what is visible, and refused when the patient is.
        for pt in ["p1", "p2", "p3"] {
            let id = names[pt].trim_start_matches("Patient/").to_string();
            match fhir.everything(&c, vec![id], &pairs("_count=2")).await {
                Ok(_) => {
                    assert!(want.contains(&names[pt]), "{user} $everything on {pt} allowed");
                    let mut seen = BTreeSet::new();
                    let mut page = None::<String>;
                    loop {
                        let q = match &page {
                            Some(p) => format!("_count=2&_page={p}"),
                            None => "_count=2".into(),
                        };
                        let b = parse(
                            &fhir.everything(&c, vec![names[pt][8..].to_string()], &pairs(&q)).await.unwrap(),
                        );
                        seen.extend(refs_of(&b, "match"));
                        page = b["link"].as_array().and_then(|l| {
                            l.iter().find(|l| l["relation"] == "next").and_then(|l| {
                                l["url"].as_str().unwrap().split("_page=").nth(1).map(str::to_string)
                            })
                        });
                        if page.is_none() {
                            break;
                        }
                    }
                    for r in &seen {
                        assert!(want.contains(r), "{user} $everything {pt} revealed {}", name(r));
                    }
                }
                Err(e) => {
                    assert!(!want.contains(&names[pt]), "{user} $everything on {pt} refused: {e}");
                    assert_eq!(error_status(&e), 403);
                }
            }
        }
        // Type- and system-level $meta: the labels and tags in use on what is visible only (the
        // restricted diagnosis's label is named to those who may see it, to no one else).
        let mut labels_seen = BTreeSet::new();
        for r in &want {
            let (t, id) = r.split_once('/').unwrap();
            let body = parse(fhir.read(&Ctx::system(BASE), t, id).await.unwrap().body.as_deref().unwrap());
            for l in body["meta"]["security"].as_array().into_iter().flatten() {
                labels_seen.insert(format!("{}|{}", l["system"], l["code"]));
            }
        }
        for rtype in [Some("Condition"), None] {
            let m = fhir.meta_in_use(&c, rtype).await.unwrap();
            for l in m["parameter"][0]["valueMeta"]["security"].as_array().into_iter().flatten() {
                let label = format!("{}|{}", l["system"], l["code"]);
                assert!(labels_seen.contains(&label), "{user} {rtype:?}/$meta named {l}");
                named_restricted +=
                    usize::from(rtype.is_some() && l["code"] == "sexually-transmitted-infection");
            }
        }
        // The patient summary ($summary): a document of what is visible only, refused when the
        // patient is; its problem lists hold every visible Condition (none has a status that
        // would leave it out).
        let mut summarised = BTreeSet::new();
        for pt in ["p1", "p2", "p3"] {
            let id = names[pt].trim_start_matches("Patient/").to_string();
            match fhir.summary(&c, &id, &[]).await {
                Ok(doc) => {
                    assert!(want.contains(&names[pt]), "{user} $summary on {pt} allowed");
                    let doc = parse(&doc);
                    for e in doc["entry"].as_array().unwrap() {
                        let url = e["fullUrl"].as_str().unwrap();
                        if url.starts_with("urn:uuid:") {
                            continue; // the Composition and the Device, made for the answer
                        }
                        let parts: Vec<&str> = url.rsplitn(3, '/').collect();
                        let r = format!("{}/{}", parts[1], parts[0]);
                        assert!(want.contains(&r), "{user} $summary {pt} revealed {}", name(&r));
                        if r.starts_with("Condition/") {
                            summarised.insert(r);
                        }
                    }
                }
                Err(e) => {
                    assert!(!want.contains(&names[pt]), "{user} $summary on {pt} refused: {e}");
                    assert_eq!(error_status(&e), 403);
                }
            }
        }
        let conditions: BTreeSet<String> =
            want.iter().filter(|r| r.starts_with("Condition/")).cloned().collect();
        assert_eq!(summarised, conditions, "{user}: the summaries' problems against the visible Conditions");
        // Bulk export, system and patient level: exactly what is visible (at patient level,
        // of the types in the Patient compartment: every one in this region has its patient).
        let compartment = lantern_r4::compartment_resource_types("Patient");
        for patients_only in [false, true] {
            let of_type = |r: &String| !patients_only || compartment.contains(&r.split_once('/').unwrap().0);
            let want: BTreeSet<String> = want.iter().filter(|r| of_type(r)).cloned().collect();
            let types: BTreeSet<&str> =
                all.iter().filter(|r| of_type(r)).map(|r| r.split_once('/').unwrap().0).collect();
            let req = lantern_service::ExportRequest::parse(
                &[("_type".to_string(), types.iter().copied().collect::<Vec<_>>().join(","))],
                patients_only,
            )
            .unwrap();
            let mut exported = BTreeSet::new();
            for t in &req.types {
                fhir.export_type(&c, t, &req, false, |page| {
                    exported.extend(page.iter().map(|s| format!("{}/{}", s.rtype, s.id)));
                    Ok(())
                })
                .await
                .unwrap();
            }
            let leaked: Vec<&str> = exported.difference(&want).map(name).collect();
            let missing: Vec<&str> = want.difference(&exported).map(name).collect();
            assert!(
                leaked.is_empty() && missing.is_empty(),
                "{user} export: leaked {leaked:?}, missing {missing:?}"
            );
            // Through `_typeFilter` (a search that matches every Condition): the same filter.
            let mut filtered = req.clone();
            filtered.type_filters = vec![(
                "Condition".to_string(),
                vec![("_lastUpdated".to_string(), "gt2000-01-01".to_string())],
            )];
            let mut got = BTreeSet::new();
            fhir.export_type(&c, "Condition", &filtered, false, |page| {
                got.extend(page.iter().map(|s| format!("{}/{}", s.rtype, s.id)));
                Ok(())
            })
            .await
            .unwrap();
            let want_conditions: BTreeSet<String> =
                want.iter().filter(|r| r.starts_with("Condition/")).cloned().collect();
            assert_eq!(got, want_conditions, "{user} export through _typeFilter");
        }
    }
    // The restricted diagnosis's label was named to its holder and withheld from the others.
    assert!((1..USERS.len()).contains(&named_restricted), "named to {named_restricted} users");
    // A conditional create never "finds" a withheld resource. (After the loop above: the
    // resources it creates would change what the others' history shows.)
    for user in USERS {
        let want: BTreeSet<String> = expected(user).iter().map(|n| names[n].clone()).collect();
        let p3_cond_id = names["p3_cond"].trim_start_matches("Condition/");
        let mut w = reader(&fhir, &p, &requester(user));
        w.org = requester(user).org;
        let created = fhir
            .create(
                &w,
                "Condition",
                json!({"resourceType": "Condition", "subject": {"reference": names["p3"]}}),
                Some(&format!("_id={p3_cond_id}")),
            )
            .await
            .expect("conditional create");
        assert_eq!(
            matches!(created, Created::Existing(_)),
            want.contains(&names["p3_cond"]),
            "{user} If-None-Exist"
        );
        if let Created::New(w) = created {
            // Clean up so later users see the region as it was.
            let mut sys = Ctx::system(BASE);
            sys.org = None;
            fhir.delete(&sys, "Condition", &w.stored.id, None).await.unwrap();
        }
    }
    // The SQL filter and the Rust explanation agree on every resource for every user.
    let facts: Vec<FactRow> = fhir
        .store
        .with_reader(|c, _| {
            let mut out = Vec::new();
            c.query("SELECT patient, subject, kind, source, until FROM patient_grant", &[], &mut |r| {
                out.push(FactRow {
                    patient: r.text(0)?.unwrap_or_default(),
                    subject: r.text(1)?.unwrap_or_default(),
                    kind: r.text(2)?.unwrap_or_default(),
                    source: r.text(3)?.unwrap_or_default(),
                    until: r.int(4)?,
                });
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap();
    let rows: Vec<Row> = fhir
        .store
        .with_reader(|c, cat| {
            let mut out = Vec::new();
            c.query("SELECT type, id, org, sec, patient FROM resource WHERE deleted = 0", &[], &mut |r| {
                out.push(Row {
                    rtype: cat.type_name(r.int(0)?.unwrap_or(0)).unwrap_or("").into(),
                    id: r.text(1)?.unwrap_or_default(),
                    org: r.text(2)?,
                    sec: r.int(3)?.unwrap_or(0),
                    patient: r.text(4)?,
                });
                Ok(())
            })?;
            Ok(out)
        })
        .await
        .unwrap();
    let now = fhir.store.now_micros();
    let mut patients: Vec<String> = rows.iter().filter_map(|r| r.patient.clone()).collect();
    patients.sort();
    patients.dedup();
    // Ways of writing the filter for statements expected to touch some patients' rows: each
    // patient alone, all of them, and one that holds nothing.
    let mut expectations: Vec<Vec<String>> = patients.iter().map(|p| vec![p.clone()]).collect();
    expectations.push(patients.clone());
    expectations.push(vec!["nobody".into()]);
    for user in USERS {
        let r = requester(user);
        let c = reader(&fhir, &p, &r);
        let mut visible = BTreeSet::new();
        for row in &rows {
            let pf: Vec<FactRow> =
                facts.iter().filter(|f| Some(&f.patient) == row.patient.as_ref()).cloned().collect();
            let d = decide(&p, &r, &pf, row, now);
            let sql = fhir.store.is_visible(&row.rtype, &row.id, c.access.clone()).await.unwrap();
            assert_eq!(d.visible, sql, "{user} {}/{}: explanation says '{}'", row.rtype, row.id, d.reason);
            if d.visible {
                visible.insert(format!("{}/{}", row.rtype, row.id));
            }
        }
        for expect in &expectations {
            let access = c.access.clone();
            let expect = expect.clone();
            let got: BTreeSet<String> = fhir
                .store
                .with_reader(move |conn, cat| {
                    let mut params = Vec::new();
                    let cond = access.to_sql_expecting("r", &mut params, &expect);
                    let mut out = BTreeSet::new();
                    conn.query(
                        &format!("SELECT r.type, r.id FROM resource r WHERE r.deleted = 0 AND {cond}"),
                        &params,
                        &mut |row| {
                            let t = cat.type_name(row.int(0)?.unwrap_or(0)).unwrap_or("").to_string();
                            out.insert(format!("{t}/{}", row.text(1)?.unwrap_or_default()));
                            Ok(())
                        },
                    )?;
                    Ok(out)
                })
                .await
                .unwrap();
            assert_eq!(got, visible, "{user}: the filter written expecting some patients must not change");
        }
    }
    // Deletions listed by a `_since` export: exactly those of resources the caller could see.
    // (Last: it deletes the clinical records. Types that carry the facts the filter reads,
    // encounters, consents, patients, stay, so what each user may see does not change.)
    let since = fhir.store.now_micros();
    let clinical =
        ["Condition", "Observation", "MedicationStatement", "AllergyIntolerance", "DocumentReference"];
    let gone: BTreeSet<String> =
        all.iter().filter(|r| clinical.contains(&r.split_once('/').unwrap().0)).cloned().collect();
    assert!(gone.len() > 3, "the region has clinical records to delete: {gone:?}");
    let mut sys = Ctx::system(BASE);
    sys.org = None;
    for r in &gone {
        let (t, id) = r.split_once('/').unwrap();
        fhir.delete(&sys, t, id, None).await.unwrap();
    }
    let types: BTreeSet<&str> = gone.iter().map(|r| r.split_once('/').unwrap().0).collect();
    let mut req = lantern_service::ExportRequest::parse(
        &[("_type".to_string(), types.iter().copied().collect::<Vec<_>>().join(","))],
        false,
    )
    .unwrap();
    req.since = Some(since);
    for user in USERS {
        let want: BTreeSet<String> =
            expected(user).iter().map(|n| names[n].clone()).filter(|r| gone.contains(r)).collect();
        let c = reader(&fhir, &p, &requester(user));
        let mut listed = BTreeSet::new();
        for t in &req.types {
            fhir.export_type(&c, t, &req, true, |page| {
                listed.extend(page.iter().map(|s| format!("{}/{}", s.rtype, s.id)));
                Ok(())
            })
            .await
            .unwrap();
        }
        assert_eq!(listed, want, "{user}: deletions in a _since export");
    }
}

/// A letter (Composition) by the hospital about P1 whose sections list every record of P1,
/// GP1's legally restricted diagnosis included: `$document` gives each reader the letter with
/// only what that reader may see of what it lists (the hospital itself not the diagnosis), and
/// refuses a reader who may not see the letter.
async fn documents_hold_only_what_each_reader_may_see(fhir: Fhir) {
    let p = policy();
    let fhir = with_policy(fhir, &p);
    let names = region(&fhir).await;
    let p1_records: Vec<Value> =
        ["p1_htn", "p1_sti", "p1_med", "p1_allergy", "p1_gp_obs", "p1_acute_obs", "p1_enc"]
            .iter()
            .map(|n| json!({"reference": names[n]}))
            .collect();
    let letter = json!({
        "resourceType": "Composition", "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]},
        "subject": {"reference": names["p1"]}, "date": "2026-12-01", "title": "Letter",
        "author": [{"reference": names["org"]}],
        "section": [{"title": "Everything", "entry": p1_records}]
    });
    let letter = match fhir.create(&writer(ACUTE), "Composition", letter, None).await.unwrap() {
        Created::New(w) => w.stored.id,
        Created::Existing(s) => s.id,
    };
    let (mut held_by_someone, mut readers) = (0, 0);
    for user in USERS {
        let want: BTreeSet<String> = expected(user).iter().map(|n| names[n].clone()).collect();
        let c = reader(&fhir, &p, &requester(user));
        match fhir.document(&c, &letter, &[]).await {
            Ok(doc) => {
                let doc = parse(&doc);
                readers += 1;
                for e in doc["entry"].as_array().unwrap().iter().skip(1) {
                    let url = e["fullUrl"].as_str().unwrap();
                    let parts: Vec<&str> = url.rsplitn(3, '/').collect();
                    let r = format!("{}/{}", parts[1], parts[0]);
                    assert!(want.contains(&r), "{user} $document revealed {r}");
                    held_by_someone += 1;
                }
            }
            Err(e) => assert!(matches!(error_status(&e), 403), "{user}: {e}"),
        }
    }
    assert!(held_by_someone > 3, "no reader was given the letter's records");
    assert!(readers >= 2, "the author and GP1 both read the letter (one without the restricted diagnosis)");
}

/// Patients see their own record, and only theirs; restricted items included.
async fn patients_see_their_own(fhir: Fhir) {
    let p = policy();
    let fhir = with_policy(fhir, &p);
    let names = region(&fhir).await;
    let mut r = Requester::user("patient", GP1, "patient");
    r.kind = lantern_policy::RequesterKind::Patient;
    r.org = None;
    r.patients = vec![names["p1"].trim_start_matches("Patient/").into()];
    let c = reader(&fhir, &p, &r);
    let b = search(&fhir, &c, Some("Condition"), "_total=accurate").await;
    assert_eq!(
        refs_of(&b, "match"),
        [names["p1_htn"].clone(), names["p1_sti"].clone()].into_iter().collect()
    );
    assert!(fhir.read(&c, "Patient", names["p2"].trim_start_matches("Patient/")).await.is_err());
}

/// Breaking the glass opens a record for a time; an opt-out still holds unless configured.
async fn break_glass_grants(fhir: Fhir) {
    let p = policy();
    let fhir = with_policy(fhir, &p);
    let names = region(&fhir).await;
    let gp2 = requester("gp2");
    let p1 = names["p1"].trim_start_matches("Patient/").to_string();
    let p2 = names["p2"].trim_start_matches("Patient/").to_string();
    let before = reader(&fhir, &p, &gp2);
    assert!(fhir.read(&before, "Condition", names["p1_htn"].trim_start_matches("Condition/")).await.is_err());
    let now = fhir.store.now_micros();
    for (i, pt) in [p1, p2].into_iter().enumerate() {
        let fact = lantern_store::Fact {
            patient: pt,
            subject: lantern_policy::user_subject("dr-gp2"),
            kind: "break-glass".into(),
            since: Some(now),
            until: Some(now + 3_600_000_000),
        };
        fhir.store
            .write(move |tx| tx.replace_facts(&format!("break-glass:{i}"), &[fact], true))
            .await
            .unwrap();
    }
    let mut after_r = gp2.clone();
    after_r.purpose = lantern_policy::Purpose::Emergency;
    let after = reader(&fhir, &p, &after_r);
    let b = search(&fhir, &after, Some("Condition"), "_total=accurate").await;
    let got = refs_of(&b, "match");
    // P1's unrestricted conditions now; never the STI diagnosis; P2 is opted out.
    assert!(got.contains(&names["p1_htn"]));
    assert!(!got.contains(&names["p1_sti"]));
    assert!(!got.contains(&names["p2_cond"]));
}

/// `Patient.link` names only the linked records the caller may see.
async fn links_hide_withheld_records(fhir: Fhir) {
    let p = policy();
    let fhir = with_policy(fhir, &p);
    let a = fhir
        .create(
            &writer(GP1),
            "Patient",
            json!({"resourceType": "Patient", "name": [{"family": "Linked"}]}),
            None,
        )
        .await
        .unwrap();
    let b = fhir
        .create(
            &writer(GP2),
            "Patient",
            json!({"resourceType": "Patient", "name": [{"family": "Linked"}]}),
            None,
        )
        .await
        .unwrap();
    let (Created::New(a), Created::New(b)) = (a, b) else { panic!("created") };
    let (a, b) = (a.stored.id, b.stored.id);
    let (a2, b2) = (a.clone(), b.clone());
    fhir.store
        .write(move |tx| {
            for id in [&a2, &b2] {
                tx.conn().execute(
                    "INSERT INTO person_link (patient, person) VALUES (?, 'person-1')",
                    &[id.as_str().into()],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let links = |body: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v["link"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["other"]["reference"].as_str().map(str::to_string))
            .collect()
    };
    let gp1 = reader(&fhir, &p, &requester("gp1"));
    let read = fhir.read(&gp1, "Patient", &a).await.unwrap();
    assert_eq!(links(read.body.as_deref().unwrap()), vec![format!("Patient/{b}")], "visible link shown");
    // B opts out at GP2: GP1 may no longer see B, nor learn of it through A's links.
    let consent = json!({"resourceType": "Consent", "status": "active", "patient": {"reference": format!("Patient/{b}")},
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}], "provision": {"type": "deny"}});
    fhir.create(&writer(GP2), "Consent", consent, None).await.unwrap();
    let gp1 = reader(&fhir, &p, &requester("gp1"));
    assert!(fhir.read(&gp1, "Patient", &b).await.is_err());
    let read = fhir.read(&gp1, "Patient", &a).await.unwrap();
    assert!(links(read.body.as_deref().unwrap()).is_empty(), "a withheld record must not appear as a link");
    let bundle = search(&fhir, &gp1, Some("Patient"), "family=Linked").await;
    assert!(!bundle.to_string().contains(&format!("Patient/{b}")), "{bundle}");
}

backend_tests!(
    leak_matrix,
    patients_see_their_own,
    break_glass_grants,
    links_hide_withheld_records,
    documents_hold_only_what_each_reader_may_see
);
