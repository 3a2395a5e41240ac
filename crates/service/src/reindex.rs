//! Re-indexing the stored resources with this build's extraction, a page at a time (see
//! `lantern_store::sql::reindex`): run by `lantern serve` in the background when it finds an
//! index an older build made, and by `lantern reindex` on its own.
use crate::error::Error;
use crate::Fhir;
use lantern_fhir::index::EXTRACTION_VERSION;
use lantern_store::{IndexState, StoreError};
use serde_json::Value;

/// Where a re-index stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReindexStep {
    /// Resources whose rows this step made again.
    pub resources: usize,
    /// The index is at this build's extraction: nothing is left to do.
    pub done: bool,
    /// The last resource key done (0 once done).
    pub upto: i64,
}

impl Fhir {
    /// The search index's state (see [`IndexState`]).
    pub async fn index_state(&self) -> Result<IndexState, Error> {
        Ok(self.store.index_state().await?)
    }

    /// Whether some index rows were made by an older extraction than this build's.
    pub async fn index_is_stale(&self) -> Result<bool, Error> {
        Ok(self.index_state().await?.version < EXTRACTION_VERSION)
    }

    /// Makes the index rows of the next `page` resources again, from where the last step
    /// stopped; after the last page, stamps the index with this build's extraction. Extraction
    /// runs on a blocking thread; the writer only swaps rows, one short job per page.
    pub async fn reindex_step(&self, page: usize) -> Result<ReindexStep, Error> {
        let start = self.store.index_state().await?;
        if start.version >= EXTRACTION_VERSION {
            return Ok(ReindexStep { resources: 0, done: true, upto: 0 });
        }
        let indexer = self.indexer.clone();
        // Read and extract on a reader's blocking thread: extraction is the page's CPU work.
        let prepared = self
            .store
            .with_reader(move |c, cat| {
                lantern_store::sql::reindex::current_after(c, cat, start.done_upto, page)?
                    .into_iter()
                    .map(|(rk, s)| {
                        let body: Value =
                            serde_json::from_str(s.body.as_deref().unwrap_or("{}")).map_err(|e| {
                                StoreError::Database(format!("{}/{} does not parse: {e}", s.rtype, s.id))
                            })?;
                        let entries = lantern_fhir::index::extract(&indexer, &body);
                        Ok((rk, s.version, s.rtype, s.id, entries))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        let n = prepared.len();
        let last = prepared.last().map_or(start.done_upto, |p| p.0);
        let finished = n < page;
        let step = self
            .store
            .write(move |tx| {
                // Another re-index (the server's, `lantern reindex`) moved on meanwhile: leave
                // this page to it.
                if tx.index_state()? != start {
                    return Ok(ReindexStep { resources: 0, done: false, upto: start.done_upto });
                }
                for (rk, ver, rtype, id, entries) in &prepared {
                    tx.reindex(*rk, *ver, rtype, id, entries)?;
                }
                let next = if finished {
                    IndexState { version: EXTRACTION_VERSION, done_upto: 0 }
                } else {
                    IndexState { version: start.version, done_upto: last }
                };
                tx.set_index_state(next)?;
                Ok(ReindexStep { resources: n, done: finished, upto: next.done_upto })
            })
            .await?;
        Ok(step)
    }

    /// Re-indexes everything left, `page` resources per step, telling `progress` after each;
    /// returns how many resources it re-indexed.
    pub async fn reindex_all(
        &self,
        page: usize,
        mut progress: impl FnMut(&ReindexStep),
    ) -> Result<u64, Error> {
        let mut total = 0u64;
        loop {
            let step = self.reindex_step(page.max(1)).await?;
            total += step.resources as u64;
            progress(&step);
            if step.done {
                return Ok(total);
            }
        }
    }
}
