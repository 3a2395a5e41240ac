//! The store's change feed as the notifier reads it: every version in commit order
//! (`version.seq`), from a cursor kept in the store, so that a restart neither repeats what was
//! done nor misses what was written while the server was down.
//!
//! On SQLite one writer commits in `seq` order, so reading past the cursor sees every version
//! exactly once. On PostgreSQL shared by several API nodes, a version numbered before another
//! could commit after it; each node's writer still commits its own in order, and the notifier
//! runs on one node, so only another node's late commit could be passed over. That case is
//! stated in docs/architecture.md rather than guarded here.
use lantern_store::{Conn, SqlValue, StoreError};

/// One version written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub rtype: String,
    pub id: String,
    pub version: i64,
    pub deleted: bool,
}

/// Versions after `seq`, oldest first, at most `limit` (`op` 3 is a deletion).
pub fn after(conn: &mut dyn Conn, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
    read(conn, "v.seq > ?", &[seq.into(), (limit as i64).into()])
}

/// For a notifier with no active Subscription, which only a Subscription can change: the
/// first Subscription version after `seq`, and how far that lets the cursor move (to that
/// version, so that what follows it is read in full once it is active; else to the newest
/// version of any type). Found through `version`'s `(type, seq)` index, not by reading every
/// version written.
pub fn next_subscription(conn: &mut dyn Conn, seq: i64) -> Result<(Option<Change>, i64), StoreError> {
    // The newest first: a Subscription committed after this is read next time.
    let newest = conn.query_int("SELECT MAX(seq) FROM version", &[])?.unwrap_or(seq);
    let first = read(
        conn,
        "t.name = 'Subscription' AND v.seq > ? AND v.seq <= ?",
        &[seq.into(), newest.into(), 1i64.into()],
    )?
    .pop();
    let upto = first.as_ref().map_or(newest, |c| c.seq);
    Ok((first, upto.max(seq)))
}

/// The versions `cond` selects, oldest first; the last parameter is the limit.
fn read(conn: &mut dyn Conn, cond: &str, params: &[SqlValue]) -> Result<Vec<Change>, StoreError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT v.seq, t.name, r.id, v.ver, CASE WHEN v.op = 3 THEN 1 ELSE 0 END \
         FROM version v JOIN resource r ON r.rk = v.rk JOIN rtype t ON t.id = v.type \
         WHERE {cond} ORDER BY v.seq LIMIT ?"
    );
    conn.query(&sql, params, &mut |r| {
        out.push(Change {
            seq: r.int(0)?.unwrap_or_default(),
            rtype: r.text(1)?.unwrap_or_default(),
            id: r.text(2)?.unwrap_or_default(),
            version: r.int(3)?.unwrap_or_default(),
            deleted: r.int(4)? == Some(1),
        });
        Ok(())
    })?;
    Ok(out)
}

/// How far the notifier has read.
pub fn cursor(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn.query_int("SELECT seq FROM notify_cursor WHERE id = 1", &[])?.unwrap_or(0))
}

pub fn set_cursor(conn: &mut dyn Conn, seq: i64) -> Result<(), StoreError> {
    conn.execute("UPDATE notify_cursor SET seq = ? WHERE id = 1", &[seq.into()])?;
    Ok(())
}
