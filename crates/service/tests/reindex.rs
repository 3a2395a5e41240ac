//! Re-indexing on both backends: `:of-type` rows (extraction version 2) are missing from a store
//! an older build indexed; searches that need them say so instead of missing matches, and a
//! re-index makes them from the stored resources, page by page, resumably.
use lantern_service::Fhir;
use lantern_testkit::client::*;
use lantern_testkit::{backend_tests, ctx, json};

const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

fn typed(id: &str, kind: &str, value: &str) -> serde_json::Value {
    json!({"resourceType": "Patient", "id": id, "identifier": [{
        "type": {"coding": [{"system": V2_0203, "code": kind}], "text": kind},
        "system": "http://example.org/ids", "value": value}]})
}

async fn exec(fhir: &Fhir, sql: &'static str) {
    fhir.store.write(move |tx| tx.conn().execute(sql, &[]).map(|_| ())).await.unwrap();
}

async fn of_type_and_reindex(fhir: Fhir) {
    let state = fhir.index_state().await.unwrap();
    assert_eq!(
        state.version,
        lantern_fhir::index::EXTRACTION_VERSION,
        "a new store is at this build's extraction"
    );
    put(&fhir, typed("mr", "MR", "12345")).await;
    put(&fhir, typed("nh", "NH", "12345")).await;
    put(&fhir, typed("gone", "MR", "777")).await;
    fhir.delete(&ctx(), "Patient", "gone", None).await.unwrap();
    for i in 0..5 {
        put(&fhir, json!({"resourceType": "Patient", "id": format!("plain{i}"), "gender": "male"})).await;
    }
    let q = format!("identifier:of-type={V2_0203}|MR|12345");
    assert_eq!(ids(&fhir, "Patient", &q).await, set(&["mr"]));
    assert_eq!(ids(&fhir, "Patient", &format!("identifier:of-type={V2_0203}|NH|12345")).await, set(&["nh"]));
    assert_eq!(ids(&fhir, "Patient", &format!("identifier:of-type={V2_0203}|MR|777")).await, set(&[]));
    for bad in ["identifier:of-type=12345", "identifier:of-type=|MR|12345", "identifier:of-type=x|MR|"] {
        let e = fhir.search(&ctx(), Some("Patient"), &pairs(bad)).await.unwrap_err();
        assert_eq!(lantern_service::error_status(&e), 400, "{bad}");
    }

    // As an older build left it: no `:of-type` rows, and the index says so.
    exec(&fhir, "DELETE FROM ix_token WHERE param IN (SELECT id FROM sparam WHERE code LIKE '%:of-type')")
        .await;
    exec(&fhir, "UPDATE index_state SET version = 1, done_upto = 0").await;
    assert!(fhir.index_is_stale().await.unwrap());
    let e = fhir.search(&ctx(), Some("Patient"), &pairs(&q)).await.unwrap_err();
    assert_eq!(lantern_service::error_status(&e), 400);
    assert!(e.to_string().contains("rebuilt"), "{e}");
    // Other searches work meanwhile.
    assert_eq!(ids(&fhir, "Patient", "identifier=12345").await, set(&["mr", "nh"]));

    // One step of three resources, then the rest: it goes on from where it stopped.
    let step = fhir.reindex_step(3).await.unwrap();
    assert_eq!((step.resources, step.done), (3, false));
    assert!(fhir.index_state().await.unwrap().done_upto > 0);
    let mut steps = 0;
    let n = fhir.reindex_all(3, |_| steps += 1).await.unwrap();
    assert_eq!(n, 4, "seven current patients in all; the deleted one is not re-indexed");
    assert_eq!(steps, 2);
    let state = fhir.index_state().await.unwrap();
    assert_eq!((state.version, state.done_upto), (lantern_fhir::index::EXTRACTION_VERSION, 0));
    assert_eq!(ids(&fhir, "Patient", &q).await, set(&["mr"]));
    assert_eq!(ids(&fhir, "Patient", "identifier=12345").await, set(&["mr", "nh"]), "other rows unchanged");
    assert_eq!(ids(&fhir, "Patient", "gender=male").await.len(), 5);
    assert_eq!(
        fhir.reindex_step(3).await.unwrap(),
        lantern_service::ReindexStep { resources: 0, done: true, upto: 0 }
    );
}

backend_tests!(of_type_and_reindex);
