//! The writer's group commit (`lantern_store::writer`): jobs that queue while the writer is
//! busy share one transaction, and a job that fails rolls back alone, whether it ran first in
//! its transaction (no savepoint: the transaction itself rolls back and another starts for the
//! jobs after it) or after others' work (under its savepoint).
use lantern_service::Fhir;
use lantern_store::StoreError;
use std::sync::mpsc;

async fn failing_jobs_roll_back_alone_wherever_they_run(fhir: Fhir) {
    let store = fhir.store.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // The first job holds the writer until the others are queued, so they form one group.
        let (started_tx, started) = mpsc::channel::<()>();
        let (release, release_rx) = mpsc::channel::<()>();
        store.write_detached(
            move |_| {
                started_tx.send(()).expect("test waiting");
                release_rx.recv().expect("test releases the writer");
                Ok(())
            },
            |_: Result<(), StoreError>| {},
        );
        started.recv().expect("the holding job ran");
        // Fail, fail (each with nothing before it), succeed, fail (after others' work),
        // succeed, succeed. Every job writes its row before it fails, so a failure has
        // something to undo. Jobs 1 and 3 fail in the database (a duplicate key, which on
        // PostgreSQL also aborts the transaction), job 0 by returning an error.
        let fails = [true, true, false, true, false, false];
        let (done_tx, done) = mpsc::channel::<(usize, bool)>();
        for (k, &fail) in fails.iter().enumerate() {
            let done_tx = done_tx.clone();
            store.write_detached(
                move |tx| {
                    tx.conn().execute(
                        "INSERT INTO feed (id, config, updated) VALUES (?, '{}', 0)",
                        &[format!("job-{k}").into()],
                    )?;
                    let duplicate = match k {
                        1 => Some("job-1"),
                        3 => Some("job-2"),
                        _ => None,
                    };
                    if let Some(id) = duplicate {
                        tx.conn().execute(
                            "INSERT INTO feed (id, config, updated) VALUES (?, '{}', 0)",
                            &[id.into()],
                        )?;
                    }
                    if fail {
                        return Err(StoreError::Conflict(format!("job {k} fails on purpose")));
                    }
                    Ok(())
                },
                move |r: Result<(), StoreError>| done_tx.send((k, r.is_ok())).expect("test waiting"),
            );
        }
        release.send(()).expect("holding job waiting");
        let mut results: Vec<(usize, bool)> =
            (0..fails.len()).map(|_| done.recv().expect("a reply")).collect();
        results.sort();
        (fails, results)
    })
    .await
    .expect("jobs ran");
    let (fails, results) = outcome;
    for (k, ok) in results {
        assert_eq!(ok, !fails[k], "job {k}: its outcome");
    }
    let mut rows: Vec<String> = fhir
        .store
        .with_reader(|c, _| {
            let mut ids = Vec::new();
            c.query("SELECT id FROM feed WHERE id LIKE 'job-%'", &[], &mut |r| {
                ids.push(r.text(0)?.unwrap_or_default());
                Ok(())
            })?;
            Ok(ids)
        })
        .await
        .expect("read back");
    rows.sort();
    assert_eq!(rows, ["job-2", "job-4", "job-5"], "only the jobs that succeeded left their rows");
}

lantern_testkit::backend_tests!(failing_jobs_roll_back_alone_wherever_they_run);
