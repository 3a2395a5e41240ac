//! The access filter judged three ways must agree: its plain SQL (a probe per row), its SQL
//! specialised for patients whose facts are known (`AccessFilter::to_sql_knowing`, facts from a
//! `FactCache`), and its judgement in Rust (`AccessFilter::admits`). Random filters over random
//! facts and person links; the facts are rewritten before every case, so a cache that missed a
//! change (the `access_epoch` triggers) would answer from the case before and be caught. On
//! SQLite inside a read transaction; on PostgreSQL with a guarded cache and no transaction,
//! both one made for the case, which has just read the number (the specialised branch is
//! judged), and one kept across the cases that learns every patient's facts before they change
//! and never reads the number on its own (always behind it: the guard's fallback is judged).
use lantern_store::access::{FactCache, PatientFacts, RowAccess};
use lantern_store::{AccessFilter, Conn, Dialect, SqlValue, Store};
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
fn specialised_sql_and_rust_agree_with_the_plain_sql_on_sqlite() {
    agree(lantern_testkit::sqlite(), 150);
}

#[test]
fn specialised_sql_and_rust_agree_with_the_plain_sql_on_postgres() {
    if let Some(ts) = lantern_testkit::postgres() {
        agree(ts, 60);
    }
}

fn agree(ts: lantern_testkit::TestStore, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let store = ts.fhir.store.clone();
    let guarded = store.dialect() == Dialect::Postgres;
    let new_cache = move || if guarded { FactCache::guarded() } else { FactCache::default() };
    rt.block_on(load_rows(&store));
    // Never reads the number on its own (an hour between reads).
    let kept = Arc::new(match guarded {
        true => FactCache::guarded_refreshing_every(std::time::Duration::from_secs(3600)),
        false => FactCache::default(),
    });
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    runner
        .run(
            &(facts(), filter(), prop::sample::subsequence(PATIENTS.to_vec(), 0..=2)),
            |(facts, f, expected)| {
                // The kept cache learns every patient's facts before they change.
                let (k, all) = (kept.clone(), PATIENTS.map(str::to_string));
                rt.block_on(store.with_reader(move |c, _| k.known(c, &all).map(drop))).unwrap();
                rt.block_on(set_facts(&store, &facts));
                let expected: Vec<String> = expected.into_iter().map(str::to_string).collect();
                let caches = [kept.clone(), Arc::new(new_cache())];
                let f2 = f.clone();
                let (plain, knowing, rust, guards) = rt
                    .block_on(store.with_reader(move |c, _| {
                        if !guarded {
                            c.batch("BEGIN")?;
                        }
                        let mut p = Vec::new();
                        let sql = f2.to_sql("r", &mut p);
                        let plain = matching(c, &sql, &p);
                        let mut knowing = Vec::new();
                        let mut guards = Vec::new();
                        for cache in &caches {
                            let known = cache.known(c, &expected)?;
                            guards.push(known.guard);
                            let mut p = Vec::new();
                            let sql = f2.to_sql_knowing("r", &mut p, &expected, &known);
                            knowing.push(matching(c, &sql, &p));
                        }
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
                        let epoch = c.query_int("SELECT n FROM access_epoch WHERE id = 1", &[])?;
                        if !guarded {
                            c.batch("COMMIT")?;
                        }
                        Ok((
                            plain,
                            knowing,
                            rust,
                            guards.into_iter().map(|g| g.zip(epoch)).collect::<Vec<_>>(),
                        ))
                    }))
                    .unwrap();
                for k in &knowing {
                    prop_assert_eq!(k, &plain, "specialised SQL for {:?} under {:?}", f, facts);
                }
                prop_assert_eq!(&rust, &plain, "Rust judgement of {:?} under {:?}", f, facts);
                // Which branch of a guarded statement was judged: the kept cache's facts are of
                // the number before `set_facts` (its fallback), a cache made for this case has
                // the number the statements see (its specialised branch).
                if let [kept, fresh] = guards[..] {
                    if let Some((guard, epoch)) = kept {
                        prop_assert!(guard < epoch, "the kept cache is behind");
                    }
                    if let Some((guard, epoch)) = fresh {
                        prop_assert_eq!(guard, epoch);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}
