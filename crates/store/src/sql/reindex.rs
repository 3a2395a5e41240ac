//! Re-indexing: search index rows made again from stored resources, when a newer build extracts
//! them differently (a parameter it did not index before, a modifier that needs rows of its
//! own). Writes always index with the running build's extraction; `index_state` says which
//! extraction the older rows came from, and how far a re-index has gone, so that one stopped
//! part-way (the server restarted) goes on from there.
//!
//! The work is split so that the writer is never held long: a reader fetches a page of current
//! resources in key order ([`current_after`]), the caller extracts their index entries off the
//! writer's thread, and a short write job swaps each resource's rows ([`WriteTx::reindex`])
//! unless the resource has changed since it was read (its writer indexed it then).
use crate::catalog::Catalog;
use crate::conn::{Conn, SqlValue};
use crate::error::StoreError;
use crate::model::Stored;
use crate::sql::index_rows;
use crate::sql::write::{compartment_patient, WriteTx};
use lantern_fhir::index::IndexEntry;

/// Which extraction made the search index, and a re-index's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexState {
    /// The extraction version (`lantern_fhir::index::EXTRACTION_VERSION` of the build that
    /// made them) every index row is at least as new as.
    pub version: i64,
    /// The last resource key a re-index to a newer version has done; 0 when none is under way.
    pub done_upto: i64,
}

pub(crate) fn state(conn: &mut dyn Conn) -> Result<IndexState, StoreError> {
    let version = conn.query_int("SELECT version FROM index_state WHERE id = 1", &[])?.unwrap_or(1);
    let done_upto = conn.query_int("SELECT done_upto FROM index_state WHERE id = 1", &[])?.unwrap_or(0);
    Ok(IndexState { version, done_upto })
}

/// Up to `limit` current (not deleted) resources with keys above `after`, in key order.
pub fn current_after(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    after: i64,
    limit: usize,
) -> Result<Vec<(i64, Stored)>, StoreError> {
    let mut out = Vec::with_capacity(limit);
    conn.query(
        "SELECT r.rk, r.type, r.id, v.ver, v.updated, v.op, v.body, r.patient FROM resource r \
         JOIN version v ON v.rk = r.rk AND v.ver = r.ver WHERE r.rk > ? AND r.deleted = 0 \
         ORDER BY r.rk LIMIT ?",
        &[after.into(), SqlValue::Int(limit as i64)],
        &mut |r| {
            out.push((r.int(0)?.unwrap_or(0), crate::sql::read::stored_from(r, catalog, 1)?));
            Ok(())
        },
    )?;
    Ok(out)
}

impl WriteTx<'_> {
    /// Replaces the index rows of resource `rk` with `index`, if its current version is still
    /// `ver` (else its own writer has indexed it since, with this build's extraction). The
    /// patient column follows the new rows too. Returns whether it did.
    pub fn reindex(
        &mut self,
        rk: i64,
        ver: i64,
        rtype: &str,
        id: &str,
        index: &[IndexEntry],
    ) -> Result<bool, StoreError> {
        let patient = compartment_patient(rtype, id, index);
        let n = self.conn.execute(
            "UPDATE resource SET patient = ? WHERE rk = ? AND ver = ? AND deleted = 0",
            &[patient.into(), rk.into(), ver.into()],
        )?;
        if n != 1 {
            return Ok(false);
        }
        index_rows::remove(self.conn, rk)?;
        index_rows::insert(self.conn, self.catalog, &mut self.pending, rtype, rk, index)?;
        Ok(true)
    }

    /// The index's state (see [`IndexState`]).
    pub fn index_state(&mut self) -> Result<IndexState, StoreError> {
        state(self.conn)
    }

    /// Records a re-index's progress, or (with `done_upto` 0) its end at `version`.
    pub fn set_index_state(&mut self, s: IndexState) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE index_state SET version = ?, done_upto = ? WHERE id = 1",
            &[s.version.into(), s.done_upto.into()],
        )?;
        Ok(())
    }
}
