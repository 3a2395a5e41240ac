//! Reading the log on both backends: the privacy officer's filtered list and the patient's
//! "who looked at my record".
mod common;

use lantern_audit::{Action, Agent, AgentKind, Audit, Entry, Outcome, OutcomeKind, Query};
use lantern_service::Fhir;
use lantern_testkit::backend_tests;

fn doctor(user: &str, name: &str, org: &str) -> Agent {
    Agent::user(user, Some("doctor".into()), Some(org.into())).with_name(name).with_purpose("direct-care")
}

async fn who_looked_shows_others_not_the_patient(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    let entries = vec![
        // 1: the patient reads their own record: not shown.
        Entry::new(Action::Read, Agent::patient("p1")).patient("p1").entity("Patient/p1"),
        // 2: a GP reads it.
        Entry::new(Action::Read, doctor("u1", "Dr A Jones", "L81001"))
            .patient("p1")
            .entity("Observation/o1/_history/2"),
        // 3: a feed sends data: not a look.
        Entry::new(Action::FeedMessage, Agent::feed("nbt-pas", Some("RVJ".into()))).patient("p1"),
        // 4: a search touching p1 and p2.
        Entry::new(Action::Search, doctor("u2", "Dr B Smith", "RVJ"))
            .patients(["p1", "p2"])
            .entities(["Observation/o1", "Condition/c2", "Observation/o3"])
            .with_query("GET /fhir/Observation?code=8480-6"),
        // 5: a refused attempt by someone without a relationship.
        Entry::new(Action::Read, doctor("u3", "Dr C Brown", "RA7"))
            .patient("p1")
            .with_outcome(Outcome::refused(403, "no legitimate relationship")),
        // 6: break-glass.
        Entry::new(Action::BreakGlass, doctor("u3", "Dr C Brown", "RA7").with_purpose("emergency"))
            .patient("Patient/p1")
            .with_break_glass(true)
            .with_detail("unconscious in ED"),
        // 7: another patient's look at their own record, and 8: someone else's record.
        Entry::new(Action::Read, Agent::patient("p2")).patient("p2"),
        Entry::new(Action::Read, doctor("u1", "Dr A Jones", "L81001")).patient("p3"),
        // 9: the patient looks again, under another source record id of the same person.
        Entry::new(Action::Everything, Agent::patient("p1b")).patient("p1b"),
    ];
    audit.record(entries).await.unwrap();
    let person = vec!["p1".to_string(), "p1b".to_string()];
    let page = audit.who_looked(person.clone(), None, 0).await.unwrap();
    let seqs: Vec<i64> = page.items.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, vec![6, 5, 4, 2]);
    assert!(page.next.is_none());
    let bg = &page.items[0];
    assert!(bg.break_glass);
    assert_eq!(bg.reason.as_deref(), Some("unconscious in ED"));
    assert_eq!(bg.purpose.as_deref(), Some("emergency"));
    assert_eq!(page.items[1].outcome, OutcomeKind::Refused);
    let search = &page.items[2];
    assert_eq!(search.person.as_deref(), Some("Dr B Smith"));
    assert_eq!(search.role.as_deref(), Some("doctor"));
    assert_eq!(search.org.as_deref(), Some("RVJ"));
    assert_eq!(search.what, vec!["Observation", "Condition"]);
    assert_eq!(search.agent_kind, AgentKind::User);
    assert!(search.reason.is_none());
    // The patient sees no token ids, addresses, queries or other patients' resource ids.
    let shown = serde_json::to_string(&page.items).unwrap();
    assert!(!shown.contains("o3") && !shown.contains("8480-6"), "{shown}");

    // Paging one at a time gives the same looks.
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let p = audit.who_looked(person.clone(), before, 1).await.unwrap();
        paged.extend(p.items.iter().map(|l| l.seq));
        match p.next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, seqs);
}

async fn list_filters_and_pages(fhir: Fhir) {
    let audit = Audit::new(fhir.store.clone());
    common::seed(&audit, 30).await;
    audit.record_one(Entry::new(Action::Login, Agent::user("u7", None, None)).at(5)).await.unwrap();
    let all = audit.list(Query { count: 100, ..Query::default() }).await.unwrap();
    assert_eq!(all.items.len(), 31);
    assert_eq!(all.items[0].seq, 31);
    assert!(all.next.is_none());

    let by_user =
        audit.list(Query { user: Some("u1".into()), count: 100, ..Query::default() }).await.unwrap();
    assert_eq!(by_user.items.len(), 15);
    assert!(by_user.items.iter().all(|r| r.entry.agent.user.as_deref() == Some("u1")));

    let logins = audit.list(Query { action: Some(Action::Login), ..Query::default() }).await.unwrap();
    assert_eq!(logins.items.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![31]);
    let early = audit.list(Query { until: Some(6), ..Query::default() }).await.unwrap();
    assert_eq!(early.items.len(), 1);
    let late = audit.list(Query { since: Some(6), count: 100, ..Query::default() }).await.unwrap();
    assert_eq!(late.items.len(), 30);

    // p9 is named by every fifth record.
    let mut got = Vec::new();
    let mut q = Query { patients: vec!["Patient/p9".into()], count: 4, ..Query::default() };
    loop {
        let page = audit.list(q.clone()).await.unwrap();
        assert!(page.items.len() <= 4);
        got.extend(page.items.iter().map(|r| r.seq));
        match page.next {
            Some(n) => q.before_seq = Some(n),
            None => break,
        }
    }
    assert_eq!(got, vec![30, 25, 20, 15, 10, 5]);
    let two = audit
        .list(Query { patients: vec!["p9".into(), "p0".into()], count: 100, ..Query::default() })
        .await
        .unwrap();
    // p0: 3, 6, …, 30 (10 records); p9 adds 5, 10, 20, 25 (15 and 30 are p0's too).
    assert_eq!(two.items.len(), 14);
}

backend_tests!(who_looked_shows_others_not_the_patient, list_filters_and_pages);
