//! The store's change feed as the notifier reads it: versions of one type in commit order
//! (`version.seq`), past places kept in the store (one for Subscriptions themselves, one per
//! active Subscription), so that a restart neither repeats what was done nor misses what was
//! written while the server was down.
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

/// Versions of one resource type after `seq`, oldest first, at most `limit` (`op` 3 is a
/// deletion); through `version`'s `(type, seq)` index, not by reading every version written.
pub fn of_type(conn: &mut dyn Conn, rtype: &str, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
    read(conn, "t.name = ? AND v.seq > ?", &[rtype.into(), seq.into(), (limit as i64).into()])
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

/// How far the notifier has read Subscription versions.
pub fn cursor(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    Ok(conn.query_int("SELECT seq FROM notify_cursor WHERE id = 1", &[])?.unwrap_or(0))
}

pub fn set_cursor(conn: &mut dyn Conn, seq: i64) -> Result<(), StoreError> {
    conn.execute("UPDATE notify_cursor SET seq = ? WHERE id = 1", &[seq.into()])?;
    Ok(())
}

/// Each Subscription's own place in the feed: the newest `version.seq` of its resource type
/// that it has been sent (or found nothing to send in).
pub fn sub_cursors(conn: &mut dyn Conn) -> Result<Vec<(String, i64)>, StoreError> {
    let mut out = Vec::new();
    conn.query("SELECT id, seq FROM notify_sub", &[], &mut |r| {
        out.push((r.text(0)?.unwrap_or_default(), r.int(1)?.unwrap_or_default()));
        Ok(())
    })?;
    Ok(out)
}

pub fn set_sub_cursor(conn: &mut dyn Conn, sub: &str, seq: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO notify_sub (id, seq) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
        &[sub.into(), seq.into()],
    )?;
    Ok(())
}

/// Sets a Subscription's place only if it has none (an active one loaded at start-up keeps
/// where it was).
pub fn init_sub_cursor(conn: &mut dyn Conn, sub: &str, seq: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO notify_sub (id, seq) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        &[sub.into(), seq.into()],
    )?;
    Ok(())
}

pub fn drop_sub_cursor(conn: &mut dyn Conn, sub: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM notify_sub WHERE id = ?", &[sub.into()])?;
    Ok(())
}
