//! An HL7 v2 ADT A40 through the feeds path, on both backends: the merged records end up in one
//! person of the patient index, in the same transaction as the message, and the merge is
//! recorded (as an identity event naming the message, and in the inbox row's detail).
use lantern_feeds::{Disposition, Feeds, Route};
use lantern_mpi::Mpi;
use lantern_service::Fhir;
use lantern_testkit::backend_tests;
use lantern_testkit::client::ids;

fn a01(control: &str, mrn: &str, name: &str, dob: &str, sex: &str, address: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|PAS|RVJ|LANTERN|REGION|20240501100000||ADT^A01^ADT_A01|{control}|P|2.5.1\r\
         EVN|A01|20240501100000\r\
         PID|1||{mrn}^^^RVJ^MR||{name}||{dob}|{sex}|||{address}\r\
         PV1|1|I|W1^B1^1||||||||||||||||V{control}\r"
    )
    .into_bytes()
}

async fn a40_merges_the_persons(fhir: Fhir) {
    let mpi = Mpi::install(&fhir.store, lantern_mpi::model::default_model());
    let f = Feeds::open(fhir.clone()).await.unwrap();
    // Two registrations the matcher keeps apart (a temporary registration under another name
    // and address, no NHS number).
    let first = a01("C1", "M1", "SMITH^JOHN", "19650312", "M", "1 Way^^Bristol^^BS1 1AA");
    let second = a01("C2", "M2", "UNKNOWN^MALE", "19650312", "M", "9 Other St^^Leeds^^LS6 2AB");
    for m in [first, second] {
        let r = f.ingest_v2(&m, &Route::ByFacility).await;
        assert_eq!(r.disposition, Disposition::Processed);
    }
    let (m1, m2) =
        (ids(&fhir, "Patient", "identifier=M1").await, ids(&fhir, "Patient", "identifier=M2").await);
    let (m1, m2) = (m1[0].clone(), m2[0].clone());
    let person = |id: String| {
        let mpi = mpi.clone();
        async move { mpi.patient(&id).await.unwrap().person.unwrap() }
    };
    assert_ne!(person(m1.clone()).await, person(m2.clone()).await);
    // The PAS says M2 was a duplicate of M1.
    let a40 = b"MSH|^~\\&|PAS|RVJ|LANTERN|REGION|20240502100000||ADT^A40^ADT_A39|C3|P|2.5.1\r\
EVN|A40|20240502100000\r\
PID|1||M1^^^RVJ^MR||SMITH^JOHN||19650312|M\r\
MRG|M2^^^RVJ^MR\r";
    let r = f.ingest_v2(a40, &Route::ByFacility).await;
    assert_eq!(r.disposition, Disposition::Processed);
    assert_eq!(person(m1.clone()).await, person(m2.clone()).await);
    let ev = mpi.events(Some(m2.clone()), None, 10).await.unwrap();
    assert_eq!(ev[0].kind, "merge");
    assert!(ev[0].decided_by.starts_with("hl7v2:") && ev[0].decided_by.ends_with("#C3"), "{:?}", ev[0]);
    assert_eq!(ev[0].evidence["into"], format!("Patient/{m1}"));
    let inbox = fhir.store.inbox_list("processed", 0, 10).await.unwrap();
    assert!(inbox.iter().any(|e| e.detail.as_deref().is_some_and(|d| d.contains("merges"))));
    // The A40 is reversible like any merge.
    mpi.reverse(ev[0].seq, "dqo", None).await.unwrap();
    assert_ne!(person(m1).await, person(m2).await);
}

backend_tests!(a40_merges_the_persons);
