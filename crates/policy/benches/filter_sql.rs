//! The access filter's SQL for one statement, as a search by patient builds it under the
//! policy: a clinician's compiled filter, with the expected patient's facts known
//! (`AccessFilter::to_sql_knowing`) or not (`to_sql_expecting`). Each search statement of a
//! request under the policy pays this once.
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use lantern_policy::{Policy, PolicyConfig, Requester};
use lantern_store::access::{Known, PatientFacts};

fn bench(c: &mut Criterion) {
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    let types = lantern_r4::resource_types();
    let type_id = |t: &str| types.iter().position(|x| *x == t).map(|i| i as i64 + 1);
    let now = 1_790_000_000_000_000;
    let filter = policy.compile(&Requester::user("dr-jones", "RVJ", "doctor"), &type_id, now);
    assert!(filter.probes_facts(), "a clinician's filter probes patients' facts");
    let related = Arc::new(PatientFacts {
        patient: "p-1".into(),
        facts: vec![("RVJ".into(), "encounter".into(), Some(now + 86_400_000_000))],
    });
    let expected = vec!["p-1".to_string()];
    let known = Known { facts: vec![related], guard: None };

    c.bench_function("filter_sql/knowing one patient", |b| {
        b.iter(|| {
            let mut params = Vec::new();
            let sql = filter.to_sql_knowing("r", &mut params, black_box(&expected), black_box(&known));
            black_box((sql, params))
        })
    });
    c.bench_function("filter_sql/expecting one patient", |b| {
        b.iter(|| {
            let mut params = Vec::new();
            let sql = filter.to_sql_expecting("r", &mut params, black_box(&expected));
            black_box((sql, params))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
