//! The access filter judged three ways must agree, on SQLite where the fact cache is used:
//! its plain SQL (a probe per row), its SQL specialised for patients whose facts are known
//! (`AccessFilter::to_sql_knowing`, facts from a `FactCache`), and its judgement in Rust
//! (`AccessFilter::admits`). Random filters over random facts and person links; the facts are
//! rewritten before every case, so a cache that missed a change (the `access_epoch`
//! triggers) would answer from the case before and be caught.
use lantern_store::access::{FactCache, PatientFacts, RowAccess};
use lantern_store::{AccessFilter, Conn, SqlValue, Store};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeSet;
use std::sync::Arc;

const ORGS: [&str; 2] = ["O1", "O2"];
const PATIENTS: [&str; 5] = ["p1", "p2", "p3", "p4", "p5"];
const SUBJECTS: [&str; 3] = ["O1", "user:u", "*"];
const KINDS: [&str; 2] = ["encounter", "opt-out"];
const CLOCKS: [i64; 3] = [100, 200, 300];

/// A resource row as the filter reads it: (rk, type, org, patient, sec).
type TestRow = (i64, i64, Option<&'static str>, Option<&'static str>, i64);

/// Every combination of the columns the filter reads.
fn rows() -> Vec<TestRow> {
    let mut out = Vec::new();
    let mut rk = 0;
    for t in [1, 2] {
        for org in [None, Some(ORGS[0]), Some(ORGS[1])] {
            for patient in [None, Some("p1"), Some("p2"), Some("p3"), Some("p4"), Some("p5")] {
                for sec in [0, 1, 2] {
                    rk += 1;
                    out.push((rk, t, org, patient, sec));
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Facts {
    /// (patient, subject, kind, until)
    grants: Vec<(usize, usize, usize, Option<i64>)>,
    /// (patient, person)
    links: Vec<(usize, usize)>,
}

fn facts() -> impl Strategy<Value = Facts> {
    let grant = (0..4usize, 0..3usize, 0..2usize, prop::option::of(prop::sample::select(vec![150i64, 250])));
    let link = (0..5usize, 0..2usize);
    (prop::collection::vec(grant, 0..8), prop::collection::vec(link, 0..5)).prop_map(|(grants, links)| {
        // One person per patient, as person_link's key requires.
        let mut seen = BTreeSet::new();
        let links = links.into_iter().filter(|(p, _)| seen.insert(*p)).collect();
        Facts { grants, links }
    })
}

fn subset(all: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(all, 0..=all.len()).prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn filter() -> impl Strategy<Value = AccessFilter> {
    let leaf = prop_oneof![
        Just(AccessFilter::All),
        Just(AccessFilter::None),
        Just(AccessFilter::NoPatient),
        subset(&ORGS).prop_map(AccessFilter::OrgIn),
        subset(&PATIENTS).prop_map(AccessFilter::PatientIn),
        prop::sample::subsequence(vec![1i64, 2], 0..=2).prop_map(AccessFilter::TypeIn),
        (1i64..4).prop_map(AccessFilter::LabelsNone),
        (subset(&SUBJECTS), subset(&KINDS), prop::sample::select(CLOCKS.to_vec()))
            .prop_map(|(subjects, kinds, at)| AccessFilter::PatientFact { subjects, kinds, at }),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AccessFilter::And),
            prop::collection::vec(inner.clone(), 0..3).prop_map(AccessFilter::Or),
            inner.prop_map(|f| AccessFilter::Not(Box::new(f))),
        ]
    })
}

async fn load_rows(store: &Store) {
    store
        .write(|tx| {
            let c = tx.conn();
            for (rk, t, org, patient, sec) in rows() {
                c.execute(
                    "INSERT INTO resource (rk, type, id, ver, deleted, updated, org, patient, sec) \
                     VALUES (?, ?, ?, 1, 0, 1, ?, ?, ?)",
                    &[rk.into(), t.into(), format!("r{rk}").into(), org.into(), patient.into(), sec.into()],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn set_facts(store: &Store, f: &Facts) {
    let f = f.clone();
    store
        .write(move |tx| {
            let c = tx.conn();
            c.execute("DELETE FROM patient_grant", &[])?;
            c.execute("DELETE FROM person_link", &[])?;
            for (i, (p, s, k, until)) in f.grants.iter().enumerate() {
                c.execute(
                    "INSERT INTO patient_grant (patient, subject, kind, source, since, until) VALUES (?, ?, ?, ?, NULL, ?)",
                    &[PATIENTS[*p].into(), SUBJECTS[*s].into(), KINDS[*k].into(), format!("s{i}").into(), (*until).into()],
                )?;
            }
            for (p, person) in &f.links {
                c.execute(
                    "INSERT INTO person_link (patient, person) VALUES (?, ?)",
                    &[PATIENTS[*p].into(), format!("person{person}").into()],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn matching(c: &mut dyn Conn, cond: &str, params: &[SqlValue]) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    c.query(&format!("SELECT r.rk FROM resource r WHERE {cond}"), params, &mut |r| {
        out.insert(r.int(0)?.unwrap_or(0));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn specialised_sql_and_rust_agree_with_the_plain_sql() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ts = lantern_testkit::sqlite();
    let store = ts.fhir.store.clone();
    rt.block_on(load_rows(&store));
    let cache = Arc::new(FactCache::default());
    let mut runner = TestRunner::new(Config { cases: 150, ..Config::default() });
    runner
        .run(
            &(facts(), filter(), prop::sample::subsequence(PATIENTS.to_vec(), 0..=2)),
            |(facts, f, expected)| {
                rt.block_on(set_facts(&store, &facts));
                let expected: Vec<String> = expected.into_iter().map(str::to_string).collect();
                let cache = cache.clone();
                let f2 = f.clone();
                let (plain, knowing, rust) = rt
                    .block_on(store.with_reader(move |c, _| {
                        c.batch("BEGIN")?;
                        let mut p = Vec::new();
                        let sql = f2.to_sql("r", &mut p);
                        let plain = matching(c, &sql, &p);
                        let known = cache.known(c, &expected)?;
                        let mut p = Vec::new();
                        let sql = f2.to_sql_knowing("r", &mut p, &expected, &known);
                        let knowing = matching(c, &sql, &p);
                        let mut rust = BTreeSet::new();
                        for (rk, t, org, patient, sec) in rows() {
                            let facts = match patient {
                                Some(p) => PatientFacts::read(c, p)?,
                                None => PatientFacts::default(),
                            };
                            if f2.admits(&RowAccess { rtype: t, org, patient, sec }, &facts) {
                                rust.insert(rk);
                            }
                        }
                        c.batch("COMMIT")?;
                        Ok((plain, knowing, rust))
                    }))
                    .unwrap();
                prop_assert_eq!(&knowing, &plain, "specialised SQL for {:?} under {:?}", f, facts);
                prop_assert_eq!(&rust, &plain, "Rust judgement of {:?} under {:?}", f, facts);
                Ok(())
            },
        )
        .unwrap();
}
