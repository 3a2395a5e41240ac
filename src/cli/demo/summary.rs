//! The end-of-build summary: what the store holds, the dead letters (there should be none), and
//! the patient index's outcome against the generator's ground truth (pairwise precision and
//! recall over source records). Read-only queries through the store's reader pool; the counts
//! are the demo's own report, not an API, so they are asked here rather than added to the store.
use lantern_region::Region;
use lantern_service::Fhir;
use std::collections::HashMap;

#[derive(Default)]
pub(super) struct Summary {
    pub(super) by_type: Vec<(String, i64)>,
    pub(super) dead_letters: Vec<(i64, String, String)>,
    pub(super) records: i64,
    pub(super) persons: i64,
    pub(super) open_reviews: i64,
    pub(super) true_persons: usize,
    pub(super) true_records: usize,
    /// (true positive, predicted, true) same-person pairs.
    pub(super) pairs: (u64, u64, u64),
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

pub(super) async fn summarise(fhir: &Fhir, region: &Region) -> anyhow::Result<Summary> {
    let store = &fhir.store;
    let (by_type, records, persons, open_reviews, links) = store
        .with_reader(|c, _| {
            let mut by_type = Vec::new();
            c.query(
                "SELECT t.name, COUNT(*) FROM resource r JOIN rtype t ON t.id = r.type WHERE r.deleted = 0 \
                 GROUP BY t.name ORDER BY COUNT(*) DESC",
                &[],
                &mut |r| {
                    by_type.push((r.text(0)?.unwrap_or_default(), r.int(1)?.unwrap_or_default()));
                    Ok(())
                },
            )?;
            let mut counts = (0, 0);
            c.query("SELECT COUNT(*), COUNT(DISTINCT person) FROM person_link", &[], &mut |r| {
                counts = (r.int(0)?.unwrap_or_default(), r.int(1)?.unwrap_or_default());
                Ok(())
            })?;
            let mut open = 0;
            c.query("SELECT COUNT(*) FROM mpi_review WHERE status = 'open'", &[], &mut |r| {
                open = r.int(0)?.unwrap_or_default();
                Ok(())
            })?;
            let mut links: Vec<(String, String)> = Vec::new();
            c.query(
                "SELECT l.person, m.identifiers FROM person_link l JOIN mpi_patient m ON m.patient = l.patient",
                &[],
                &mut |r| {
                    links.push((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default()));
                    Ok(())
                },
            )?;
            Ok((by_type, counts.0, counts.1, open, links))
        })
        .await?;
    // Which true person each source record is, by its local identifier.
    let truth: HashMap<(String, String), u32> =
        region.truth().map(|(o, r, p)| ((o.local_system.clone(), r.local_id.clone()), p)).collect();
    let mut cell: HashMap<(String, u32), u64> = HashMap::new();
    let (mut predicted, mut true_cluster) = (HashMap::<String, u64>::new(), HashMap::<u32, u64>::new());
    for (person, ids) in links {
        let ids: Vec<(String, String)> = serde_json::from_str(&ids).unwrap_or_default();
        if let Some(p) = ids.into_iter().find_map(|k| truth.get(&k).copied()) {
            *cell.entry((person.clone(), p)).or_default() += 1;
            *predicted.entry(person).or_default() += 1;
            *true_cluster.entry(p).or_default() += 1;
        }
    }
    let tp = cell.values().map(|n| pairs(*n)).sum();
    let pred = predicted.values().map(|n| pairs(*n)).sum();
    let truep = true_cluster.values().map(|n| pairs(*n)).sum();
    let dead = store.inbox_list(lantern_store::inbox::DEAD, 0, 20).await?;
    let dead_letters = dead
        .into_iter()
        .map(|e| {
            let reason = e
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|d| d["reason"].as_str().map(str::to_string))
                .unwrap_or_default();
            (e.seq, e.feed, reason)
        })
        .collect();
    Ok(Summary {
        by_type,
        dead_letters,
        records,
        persons,
        open_reviews,
        true_persons: region.people().len(),
        true_records: region.truth().count(),
        pairs: (tp, pred, truep),
    })
}

impl Summary {
    pub(super) fn print(&self) {
        let total: i64 = self.by_type.iter().map(|t| t.1).sum();
        println!("  resources stored: {total}");
        for (t, n) in &self.by_type {
            println!("    {t:<22} {n:>8}");
        }
        println!("  dead letters: {}", self.dead_letters.len());
        for (seq, feed, why) in &self.dead_letters {
            println!("    {seq} ({feed}): {why}");
        }
        let (tp, pred, truep) = self.pairs;
        let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        println!(
            "  patient index: {} source records in {} persons, {} reviews open (truth: {} records of {} people)",
            self.records, self.persons, self.open_reviews, self.true_records, self.true_persons
        );
        println!(
            "    same-person pairs: {tp} right of {pred} linked, {truep} true: precision {:.4}, recall {:.4}",
            ratio(tp, pred),
            ratio(tp, truep)
        );
    }
}
