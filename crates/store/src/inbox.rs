//! The durable inbox of received feed messages, and the feed registry (migration 2).
//!
//! Every message a feed sends (an HL7 v2 message over MLLP, a file imported with `lantern
//! import`) becomes one `inbox` row, keyed by `(feed, control_id, hash)`: the sender's control id
//! (MSH-10) plus the SHA-256 of the raw bytes, because real senders reuse control ids for
//! different messages. A message that was applied has status `processed` and its row commits in
//! the same database transaction as the resources it produced (the feeds crate passes
//! [`WriteTx::inbox_record`] as the extra step of a transaction bundle), so either both are
//! durable or neither is. A message that could not be parsed, mapped or applied is kept with
//! status `dead` and the reason in `detail` (a dead letter); a replay that succeeds turns it
//! into `processed`.
//!
//! ```text
//! inbox(seq, feed, control_id, hash, kind, received, raw, status, detail)
//!   UNIQUE (feed, control_id, hash)      -- the idempotency key; a re-send finds its row
//!   INDEX  (status, seq)                 -- dead letters, oldest first
//! e.g. (17, 'nbt-pas', 'MSG00001', 'a3f1…', 'hl7v2', 1732544000000000, <bytes>, 'processed', NULL)
//! feed(id, config, updated)              -- the feed's TOML as configured
//! ```
//!
//! Sharding: both tables lead with the feed id; distributed by patient (Citus), `feed` and
//! `inbox` become tables distributed by `feed` (or reference tables on the coordinator); a
//! message's resources live on their patients' shards and commit with the inbox row in one
//! distributed transaction.
use crate::conn::{Row, SqlValue};
use crate::error::StoreError;
use crate::sql::write::WriteTx;
use crate::store::Store;

/// Status of an applied message.
pub const PROCESSED: &str = "processed";
/// Status of a dead letter.
pub const DEAD: &str = "dead";

/// A message about to be recorded.
#[derive(Debug, Clone)]
pub struct NewInbox {
    pub feed: String,
    pub control_id: String,
    /// Hex SHA-256 of `raw`.
    pub hash: String,
    /// `hl7v2`, `fhir`, `ndjson` or `csv`.
    pub kind: String,
    pub received: i64,
    pub raw: Vec<u8>,
    pub status: String,
    pub detail: Option<String>,
}

/// A recorded message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEntry {
    pub seq: i64,
    pub feed: String,
    pub control_id: String,
    pub hash: String,
    pub kind: String,
    pub received: i64,
    pub raw: Vec<u8>,
    pub status: String,
    pub detail: Option<String>,
}

const COLS: &str = "seq, feed, control_id, hash, kind, received, raw, status, detail";

fn entry(r: &dyn Row) -> Result<InboxEntry, StoreError> {
    Ok(InboxEntry {
        seq: r.int(0)?.unwrap_or_default(),
        feed: r.text(1)?.unwrap_or_default(),
        control_id: r.text(2)?.unwrap_or_default(),
        hash: r.text(3)?.unwrap_or_default(),
        kind: r.text(4)?.unwrap_or_default(),
        received: r.int(5)?.unwrap_or_default(),
        raw: r.blob(6)?.unwrap_or_default(),
        status: r.text(7)?.unwrap_or_default(),
        detail: r.text(8)?,
    })
}

fn query_entries(
    c: &mut dyn crate::conn::Conn,
    sql: &str,
    params: &[SqlValue],
) -> Result<Vec<InboxEntry>, StoreError> {
    let mut out = Vec::new();
    c.query(sql, params, &mut |r| {
        out.push(entry(r)?);
        Ok(())
    })?;
    Ok(out)
}

impl WriteTx<'_> {
    /// The row with this idempotency key, if any.
    pub fn inbox_find(
        &mut self,
        feed: &str,
        control_id: &str,
        hash: &str,
    ) -> Result<Option<InboxEntry>, StoreError> {
        let sql = format!("SELECT {COLS} FROM inbox WHERE feed = ? AND control_id = ? AND hash = ?");
        let mut v = query_entries(self.conn, &sql, &[feed.into(), control_id.into(), hash.into()])?;
        Ok(v.pop())
    }

    /// Another message from the same feed with the same control id but different content, if
    /// any (senders do reuse control ids; such a message is new and only worth a log line).
    pub fn inbox_same_control_id(
        &mut self,
        feed: &str,
        control_id: &str,
        hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.conn.query_int(
            "SELECT seq FROM inbox WHERE feed = ? AND control_id = ? AND hash <> ? LIMIT 1",
            &[feed.into(), control_id.into(), hash.into()],
        )
    }

    /// Records a message and returns its sequence number. Fails with `Conflict` if a message
    /// with the same key is already there (the caller treats it as a duplicate).
    pub fn inbox_record(&mut self, m: &NewInbox) -> Result<i64, StoreError> {
        if let Some(e) = self.inbox_find(&m.feed, &m.control_id, &m.hash)? {
            return Err(StoreError::Conflict(format!("duplicate message: inbox entry {}", e.seq)));
        }
        self.conn.execute(
            "INSERT INTO inbox (feed, control_id, hash, kind, received, raw, status, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                m.feed.as_str().into(),
                m.control_id.as_str().into(),
                m.hash.as_str().into(),
                m.kind.as_str().into(),
                m.received.into(),
                m.raw.clone().into(),
                m.status.as_str().into(),
                m.detail.clone().into(),
            ],
        )?;
        self.conn
            .query_int(
                "SELECT seq FROM inbox WHERE feed = ? AND control_id = ? AND hash = ?",
                &[m.feed.as_str().into(), m.control_id.as_str().into(), m.hash.as_str().into()],
            )?
            .ok_or_else(|| StoreError::Database("inbox row vanished after insert".into()))
    }

    /// Changes a row's status (a replayed dead letter becomes `processed`).
    pub fn inbox_set_status(
        &mut self,
        seq: i64,
        status: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE inbox SET status = ?, detail = ? WHERE seq = ?",
            &[status.into(), detail.map(str::to_string).into(), seq.into()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("inbox entry {seq}")));
        }
        Ok(())
    }

    /// Registers or updates a feed's configuration.
    pub fn feed_put(&mut self, id: &str, config: &str) -> Result<(), StoreError> {
        let now = self.clock.now_micros();
        self.conn.execute(
            "INSERT INTO feed (id, config, updated) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated = excluded.updated",
            &[id.into(), config.into(), now.into()],
        )?;
        Ok(())
    }
}

impl Store {
    /// The row with this idempotency key, if any.
    pub async fn inbox_find(
        &self,
        feed: &str,
        control_id: &str,
        hash: &str,
    ) -> Result<Option<InboxEntry>, StoreError> {
        let p: Vec<SqlValue> = vec![feed.into(), control_id.into(), hash.into()];
        self.with_reader(move |c, _| {
            let sql = format!("SELECT {COLS} FROM inbox WHERE feed = ? AND control_id = ? AND hash = ?");
            Ok(query_entries(c, &sql, &p)?.pop())
        })
        .await
    }

    pub async fn inbox_get(&self, seq: i64) -> Result<Option<InboxEntry>, StoreError> {
        self.with_reader(move |c, _| {
            Ok(query_entries(c, &format!("SELECT {COLS} FROM inbox WHERE seq = ?"), &[seq.into()])?.pop())
        })
        .await
    }

    /// Rows with `status`, oldest first, after `after_seq`.
    pub async fn inbox_list(
        &self,
        status: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        let status = status.to_string();
        self.with_reader(move |c, _| {
            let sql = format!("SELECT {COLS} FROM inbox WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?");
            query_entries(c, &sql, &[status.into(), after_seq.into(), (limit as i64).into()])
        })
        .await
    }

    /// How many rows have each status.
    pub async fn inbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with_reader(|c, _| {
            let mut out = Vec::new();
            c.query("SELECT status, COUNT(*) FROM inbox GROUP BY status ORDER BY status", &[], &mut |r| {
                out.push((r.text(0)?.unwrap_or_default(), r.int(1)?.unwrap_or_default()));
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }

    /// Registered feeds: (id, configuration TOML).
    pub async fn feeds(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.with_reader(|c, _| {
            let mut out = Vec::new();
            c.query("SELECT id, config FROM feed ORDER BY id", &[], &mut |r| {
                out.push((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default()));
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }
}
