//! Tables and migrations. The layout, with worked examples, is documented in
//! docs/architecture.md ("Store schema"); keep the two in step.
//!
//! Migrations are numbered and applied in order inside one transaction each; the applied number
//! is kept in `schema_version`. DDL is written once with tokens that each dialect fills in.
use crate::conn::{Conn, Dialect};
use crate::error::StoreError;

/// Each entry is one migration; never edit a released one, append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: resources, versions and search indexes.
    r#"
CREATE TABLE rtype (id {I} PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE sparam (id {I} PRIMARY KEY, rtype TEXT NOT NULL, code TEXT NOT NULL, UNIQUE (rtype, code));
CREATE TABLE system_uri (id {AUTO}, uri TEXT NOT NULL UNIQUE);

-- One row per logical resource: its current version and the columns the access filter reads.
CREATE TABLE resource (
  rk {AUTO},
  type {I} NOT NULL,
  id TEXT {C} NOT NULL,
  ver {I} NOT NULL,
  deleted {I} NOT NULL,
  updated {I} NOT NULL,
  org TEXT,
  patient TEXT,
  sec {I} NOT NULL DEFAULT 0,
  UNIQUE (type, id)
);
CREATE INDEX resource_type_rk ON resource (type, deleted, rk);
CREATE INDEX resource_type_updated ON resource (type, updated);
CREATE INDEX resource_patient ON resource (patient, type);

-- Every version ever written, in commit order (seq). body is zstd-compressed JSON, NULL for deletes.
CREATE TABLE version (
  seq {AUTO},
  rk {I} NOT NULL,
  ver {I} NOT NULL,
  type {I} NOT NULL,
  updated {I} NOT NULL,
  op {I} NOT NULL,
  body {B},
  UNIQUE (rk, ver)
);
CREATE INDEX version_type_seq ON version (type, seq);
CREATE INDEX version_updated ON version (updated);

-- Search indexes hold the current version only. Keys lead with the parameter so that each
-- search is a range scan; the rk index serves re-indexing, _include and _sort.
CREATE TABLE ix_string (param {I} NOT NULL, norm TEXT {C} NOT NULL, exact TEXT {C} NOT NULL, rk {I} NOT NULL,
  PRIMARY KEY (param, norm, exact, rk)) {WR};
CREATE INDEX ix_string_rk ON ix_string (rk);
CREATE TABLE ix_token (param {I} NOT NULL, code TEXT {C} NOT NULL, sys {I} NOT NULL, rk {I} NOT NULL,
  PRIMARY KEY (param, code, sys, rk)) {WR};
CREATE INDEX ix_token_rk ON ix_token (rk);
CREATE INDEX ix_token_sys ON ix_token (param, sys, rk);
-- ttype is the target's rtype id (0 for an absolute URL, whose whole text is in tid).
CREATE TABLE ix_ref (param {I} NOT NULL, ttype {I} NOT NULL, tid TEXT {C} NOT NULL, rk {I} NOT NULL,
  PRIMARY KEY (param, tid, ttype, rk)) {WR};
CREATE INDEX ix_ref_rk ON ix_ref (rk);
CREATE TABLE ix_date (param {I} NOT NULL, lo {I} NOT NULL, hi {I} NOT NULL, rk {I} NOT NULL,
  PRIMARY KEY (param, lo, hi, rk)) {WR};
CREATE INDEX ix_date_rk ON ix_date (rk);
CREATE INDEX ix_date_hi ON ix_date (param, hi);
CREATE TABLE ix_number (param {I} NOT NULL, lo {R} NOT NULL, hi {R} NOT NULL, rk {I} NOT NULL,
  PRIMARY KEY (param, lo, hi, rk)) {WR};
CREATE INDEX ix_number_rk ON ix_number (rk);
CREATE TABLE ix_quantity (param {I} NOT NULL, sys {I} NOT NULL, code TEXT {C} NOT NULL, lo {R} NOT NULL,
  hi {R} NOT NULL, rk {I} NOT NULL, PRIMARY KEY (param, code, sys, lo, hi, rk)) {WR};
CREATE INDEX ix_quantity_rk ON ix_quantity (rk);
CREATE TABLE ix_uri (param {I} NOT NULL, value TEXT {C} NOT NULL, rk {I} NOT NULL,
  PRIMARY KEY (param, value, rk)) {WR};
CREATE INDEX ix_uri_rk ON ix_uri (rk);
-- Composite parameters: one row per element that yields every component, components joined
-- into one key (see index::composite_key).
CREATE TABLE ix_composite (param {I} NOT NULL, key TEXT {C} NOT NULL, lo {R}, hi {R}, rk {I} NOT NULL,
  PRIMARY KEY (param, key, rk)) {WR};
CREATE INDEX ix_composite_rk ON ix_composite (rk);
"#,
    // 2: feeds and the durable inbox of received messages (see inbox.rs). An inbox row and the
    // resources its message produced commit in one transaction; dead letters are rows with
    // status 'dead'. Keyed by feed first, so the tables can be distributed by feed.
    r#"
CREATE TABLE feed (id TEXT {C} PRIMARY KEY, config TEXT NOT NULL, updated {I} NOT NULL);
CREATE TABLE inbox (
  seq {AUTO},
  feed TEXT {C} NOT NULL,
  control_id TEXT {C} NOT NULL,
  hash TEXT {C} NOT NULL,
  kind TEXT NOT NULL,
  received {I} NOT NULL,
  raw {B} NOT NULL,
  status TEXT NOT NULL,
  detail TEXT,
  UNIQUE (feed, control_id, hash)
);
CREATE INDEX inbox_status ON inbox (status, seq);
"#,
    // 3: trust. Person membership (the patient index's current answer), per-patient grants that
    // the access filter probes (care relationships, break-glass, opt-outs), the break-glass
    // register, and the hash-chained audit log. Every table leads with the patient where it has
    // one, so it can be distributed with the patient's resources.
    r#"
-- Each source Patient belongs to exactly one person at a time (the identity issue keeps this).
CREATE TABLE person_link (patient TEXT {C} PRIMARY KEY, person TEXT {C} NOT NULL);
CREATE INDEX person_link_person ON person_link (person, patient);

-- Facts about a patient the access filter reads, each derived from one source (a resource, a
-- break-glass, an administrator) so that re-deriving replaces exactly what that source said.
-- subject: an ODS code (care relationships), 'user:ID' (break-glass), '*' (opt-out).
-- until: microseconds; NULL means open-ended.
CREATE TABLE patient_grant (
  patient TEXT {C} NOT NULL,
  subject TEXT {C} NOT NULL,
  kind TEXT {C} NOT NULL,
  source TEXT {C} NOT NULL,
  since {I},
  until {I},
  PRIMARY KEY (patient, subject, kind, source)
);
CREATE INDEX patient_grant_source ON patient_grant (source);
-- A user's current break-glass grants, looked up on each of their requests.
CREATE INDEX patient_grant_subject ON patient_grant (subject, kind, until);

CREATE TABLE break_glass (
  id {AUTO},
  at {I} NOT NULL,
  until {I} NOT NULL,
  user_id TEXT NOT NULL,
  org TEXT,
  role TEXT,
  patient TEXT {C} NOT NULL,
  reason_code TEXT NOT NULL,
  reason_text TEXT NOT NULL,
  reviewed_at {I},
  reviewer TEXT,
  outcome TEXT,
  review_note TEXT
);
CREATE INDEX break_glass_open ON break_glass (reviewed_at, id);

-- Append-only audit log. seq is gapless and assigned under the head row's lock; hash =
-- SHA-256(prev || record), where record is the canonical JSON of the entry.
CREATE TABLE audit (
  seq {I} PRIMARY KEY,
  at {I} NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  user_id TEXT,
  org TEXT,
  record TEXT NOT NULL,
  prev {B} NOT NULL,
  hash {B} NOT NULL
);
CREATE INDEX audit_at ON audit (at);
-- Which patients each entry concerns ("who looked at my record").
CREATE TABLE audit_patient (patient TEXT {C} NOT NULL, seq {I} NOT NULL, PRIMARY KEY (patient, seq)) {WR};
-- The chain head: one row, locked by every append.
CREATE TABLE audit_head (id {I} PRIMARY KEY, seq {I} NOT NULL, hash {B} NOT NULL);
"#,
    // 4: the master patient index (crates/mpi). `person_link` (migration 3) stays the one answer
    // to "which person is this source Patient in"; these tables hold what the matcher reads and
    // how each membership came to be. Keyed by patient where there is one, so they can be
    // distributed with the patient's resources; `mpi_block` is keyed by blocking key (a
    // candidate look-up crosses patients by design).
    r#"
-- What the matcher reads of each current source Patient: its demographics (a lantern-identity
-- Record as JSON), its identifiers (for PIX), its blocking keys (JSON, to replace its mpi_block
-- rows), its NHS number if valid, why a supplied NHS number is not used (bad_check_digit,
-- malformed, placeholder), the UK Core verification status code, and whether a person decided
-- its membership (then automatic matching never moves it).
CREATE TABLE mpi_patient (
  patient TEXT {C} PRIMARY KEY,
  record TEXT NOT NULL,
  identifiers TEXT NOT NULL,
  keys TEXT NOT NULL,
  nhs TEXT {C},
  nhs_flag TEXT,
  verified TEXT,
  pinned {I} NOT NULL DEFAULT 0,
  updated {I} NOT NULL
);
CREATE INDEX mpi_patient_nhs ON mpi_patient (nhs);
-- Blocking keys (`rule:value|value`) of each source Patient: finding candidates is one range
-- scan per key of the incoming record, never a scan of the patients.
CREATE TABLE mpi_block (key TEXT {C} NOT NULL, patient TEXT {C} NOT NULL, PRIMARY KEY (key, patient)) {WR};
-- Every identity decision, append-only: new, link, unlink, merge, unmerge, review-accept,
-- review-reject. evidence is JSON (the engine's per-field evaluation, the patients moved);
-- reverses names the event this one undid, reversed_by the event that undid this one.
CREATE TABLE mpi_event (
  seq {AUTO},
  at {I} NOT NULL,
  kind TEXT NOT NULL,
  patient TEXT {C} NOT NULL,
  from_person TEXT {C},
  to_person TEXT {C},
  decided_by TEXT NOT NULL,
  score {R},
  evidence TEXT,
  reverses {I},
  reversed_by {I}
);
CREATE INDEX mpi_event_patient ON mpi_event (patient, seq);
-- Pairs awaiting (or having had) a human decision. status: open, accepted, rejected, withdrawn.
CREATE TABLE mpi_review (
  id {AUTO},
  patient_a TEXT {C} NOT NULL,
  patient_b TEXT {C} NOT NULL,
  score {R} NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL,
  status TEXT NOT NULL,
  created {I} NOT NULL,
  decided_by TEXT,
  decided_at {I},
  note TEXT
);
CREATE INDEX mpi_review_status ON mpi_review (status, id);
CREATE INDEX mpi_review_a ON mpi_review (patient_a, patient_b);
CREATE INDEX mpi_review_b ON mpi_review (patient_b, patient_a);
"#,
    // 5: the audit log's own file (SQLite) and its mark in the resource store. On SQLite the
    // chain lives in `audit.db` beside `lantern.db` (see `prepare_audit_file`), so that the
    // commits of read records never touch the file the resources are read from; the tables
    // migration 3 made in the resource file are dropped once copied. `audit_mark` stays with
    // the resources: every job that writes resources and audits them also records the newest
    // record it appended, so a log that lost records a write was audited in is caught by
    // `audit verify` (on PostgreSQL both live in one database and it is simply a check).
    r#"
CREATE TABLE audit_mark (id {I} PRIMARY KEY, seq {I} NOT NULL, hash {B} NOT NULL);
{AUDIT_IN_OWN_FILE}
"#,
    // 6: each resource's content hash (see content.rs), so that an update that changes
    // nothing is recognised without reading the stored version. NULL until the resource's
    // first update (a create keeps none) and for deletions; that update compares the stored
    // JSON instead, then keeps the hash.
    r#"
ALTER TABLE resource ADD COLUMN chash {B};
"#,
    // 7: a counter of changes to the facts the access filter probes (SQLite; PostgreSQL at 10; see
    // `access::facts`). Triggers bump it in the same transaction as any change to
    // `patient_grant` or `person_link`, whoever makes it, so a reader that sees the same
    // number sees the same facts, and may reuse what it learnt of them.
    r#"
{ACCESS_EPOCH}
"#,
    // 8: version bodies may be kept without `meta.versionId` and `meta.lastUpdated`, which a
    // read splices back (see codec.rs). Nothing to convert: older bodies read as they are. The
    // migration is here so that an older build, which cannot read the new bodies, refuses the
    // store as newer than itself instead of failing on its first read.
    r#"
CREATE TABLE body_format (id {I} PRIMARY KEY, note TEXT NOT NULL);
INSERT INTO body_format (id, note) VALUES (1, 'meta.versionId and meta.lastUpdated spliced on read');
"#,
    // 9: `audit_patient` by seq, so that its newest row is found without reading the table
    // (its key starts with the patient). The audit journal asks at every write of index rows,
    // and `verify` and the list beside a server at every call: a scan of every row made each
    // of them slower as the log grew (measured in BENCHMARKS.md, trust section). On SQLite the
    // audit file's tables are made by `prepare_audit_file`, which makes this index too. An
    // existing log is indexed once, at the first start after the upgrade (on PostgreSQL inside
    // the migration's transaction, which holds off audit appends meanwhile): 1.2 s for three
    // million rows on SQLite on the project's machine.
    r#"
{AUDIT_PATIENT_SEQ}
"#,
    // 10: migration 7's counter on PostgreSQL, where a statement about known patients checks
    // it inside itself (see `access::facts`): the same rule, one statement-level trigger per
    // table (a statement that changes no row bumps it too, which only costs a cache refill).
    // SQLite has had it since 7.
    r#"
{PG_ACCESS_EPOCH}
"#,
    // 11: which extraction made the search index rows (`lantern_fhir::index::EXTRACTION_VERSION`
    // when they were written), and how far a re-index has gone (the last `rk` done; 0 when none
    // is under way). Rows made before this migration are version 1; an empty store is stamped
    // with the running build's version when it is opened (see `Store::open`).
    r#"
CREATE TABLE index_state (id {I} PRIMARY KEY, version {I} NOT NULL, done_upto {I} NOT NULL);
INSERT INTO index_state (id, version, done_upto) VALUES (1, 1, 0);
"#,
    // 12: notifications (`lantern-notify`). Who each Subscription acts for (its owner, recorded
    // in the job that writes it, so the notifications it sends are filtered by what that
    // caller may see), and how far the notifier has read the change feed (`version.seq`).
    // An existing store starts notifying from its newest version: a subscription is about
    // changes after it, never the store's past.
    r#"
CREATE TABLE subscription_owner (id TEXT {C} PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE notify_cursor (id {I} PRIMARY KEY, seq {I} NOT NULL);
INSERT INTO notify_cursor (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM version;
"#,
    // 13: each active Subscription's own place in the change feed (`lantern-notify`), so that
    // one whose endpoint is slow or down holds up no other; `notify_cursor` now says how far
    // the notifier has read the Subscriptions themselves. A Subscription without a row starts
    // from `notify_cursor`, where every Subscription was before this migration.
    r#"
CREATE TABLE notify_sub (id TEXT {C} PRIMARY KEY, seq {I} NOT NULL);
"#,
];

/// Migration 7 on SQLite. PostgreSQL got it with migration 10: there a reader cannot afford a
/// transaction round trip to read the counter, so statements check it themselves.
const SQLITE_ACCESS_EPOCH: &str = r#"
CREATE TABLE access_epoch (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO access_epoch (id, n) VALUES (1, 0);
CREATE TRIGGER access_epoch_grant_insert AFTER INSERT ON patient_grant
  BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_grant_update AFTER UPDATE ON patient_grant
  BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_grant_delete AFTER DELETE ON patient_grant
  BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_link_insert AFTER INSERT ON person_link
  BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_link_update AFTER UPDATE ON person_link
  BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_link_delete AFTER DELETE ON person_link
  BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
"#;

/// Migration 10 on PostgreSQL: migration 7's counter. A multi-node deployment's writers
/// serialise on its row only when they change facts (a relationship, an opt-out, a link).
const PG_ACCESS_EPOCH: &str = r#"
CREATE TABLE access_epoch (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO access_epoch (id, n) VALUES (1, 0);
CREATE FUNCTION access_epoch_bump() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE access_epoch SET n = n + 1 WHERE id = 1;
  RETURN NULL;
END $$;
CREATE TRIGGER access_epoch_grant AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON patient_grant
  FOR EACH STATEMENT EXECUTE FUNCTION access_epoch_bump();
CREATE TRIGGER access_epoch_link AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON person_link
  FOR EACH STATEMENT EXECUTE FUNCTION access_epoch_bump();
"#;

/// The schema name the audit file is attached as on SQLite connections (all but the writer's,
/// which opens the audit file as `main`; see `lantern-store-sqlite`).
pub const SQLITE_AUDIT_SCHEMA: &str = "audit_log";

/// The audit tables as migration 3 made them, with the index of migration 9, for the SQLite audit
/// file (`{S}`: schema prefix).
const AUDIT_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS {S}audit (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  user_id TEXT,
  org TEXT,
  record TEXT NOT NULL,
  prev BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS {S}audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS {S}audit_patient (patient TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (patient, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {S}audit_patient_seq ON audit_patient (seq);
CREATE TABLE IF NOT EXISTS {S}audit_head (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL);
"#;

/// Migration 5's SQLite part, inside the migration transaction (the resource file only): the
/// mark starts at the head the copy carried over, and the old tables go.
const SQLITE_DROP_OLD_AUDIT: &str = r#"
INSERT INTO audit_mark (id, seq, hash) SELECT id, seq, hash FROM audit_log.audit_head;
DROP TABLE main.audit;
DROP TABLE main.audit_patient;
DROP TABLE main.audit_head;
"#;

/// SQLite only: makes sure the attached audit file holds the audit tables and, while the
/// resource file still holds the log (migration 3's tables, before migration 5), copies it
/// over. This runs in a transaction of its own that writes only the audit file, and before the
/// migration that drops the old tables commits, so a crash at any point leaves the log whole
/// in one file or the other (the copy is idempotent and is simply repeated).
fn prepare_audit_file(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let s = SQLITE_AUDIT_SCHEMA;
    conn.batch("BEGIN")?;
    let r = (|| {
        conn.batch(&AUDIT_TABLES.replace("{S}", &format!("{s}.")))?;
        let old = conn
            .query_int(
                "SELECT COUNT(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'audit_head'",
                &[],
            )?
            .unwrap_or(0);
        if old > 0 {
            conn.batch(&format!(
                "INSERT OR IGNORE INTO {s}.audit SELECT * FROM main.audit; \
                 INSERT OR IGNORE INTO {s}.audit_patient SELECT * FROM main.audit_patient; \
                 INSERT OR IGNORE INTO {s}.audit_head SELECT * FROM main.audit_head;"
            ))?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn render(sql: &str, d: Dialect) -> String {
    // Text columns searched by range (prefixes) use byte order on PostgreSQL too ({C}).
    let (i, auto, b, r, wr, c) = match d {
        Dialect::Sqlite => ("INTEGER", "INTEGER PRIMARY KEY", "BLOB", "REAL", "WITHOUT ROWID", ""),
        Dialect::Postgres => (
            "BIGINT",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "BYTEA",
            "DOUBLE PRECISION",
            "",
            "COLLATE \"C\"",
        ),
    };
    sql.replace("{I}", i)
        .replace("{AUTO}", auto)
        .replace("{B}", b)
        .replace("{R}", r)
        .replace("{WR}", wr)
        .replace("{C}", c)
        .replace("{AUDIT_IN_OWN_FILE}", if d == Dialect::Sqlite { SQLITE_DROP_OLD_AUDIT } else { "" })
        .replace("{ACCESS_EPOCH}", if d == Dialect::Sqlite { SQLITE_ACCESS_EPOCH } else { "" })
        .replace("{PG_ACCESS_EPOCH}", if d == Dialect::Postgres { PG_ACCESS_EPOCH } else { "" })
        .replace(
            "{AUDIT_PATIENT_SEQ}",
            if d == Dialect::Postgres {
                "CREATE INDEX audit_patient_seq ON audit_patient (seq);"
            } else {
                ""
            },
        )
}

/// The highest migration number this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema up to date. Safe to run concurrently from several nodes on PostgreSQL
/// (an advisory lock serialises them) and idempotent.
pub fn migrate(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let d = conn.dialect();
    conn.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    if d == Dialect::Sqlite {
        prepare_audit_file(conn)?;
    }
    conn.batch("BEGIN")?;
    if d == Dialect::Postgres {
        conn.batch("SELECT pg_advisory_xact_lock(727274)")?;
    }
    let result = (|| {
        let current = conn.query_int("SELECT MAX(version) FROM schema_version", &[])?.unwrap_or(0);
        if current > latest() {
            return Err(StoreError::Database(format!(
                "the database schema is version {current}, newer than this build ({}); upgrade Lantern",
                latest()
            )));
        }
        for (n, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            conn.batch(&render(m, d))?;
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", &[((n + 1) as i64).into()])?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}
