//! Reading the log: the privacy officer's list ([`list`]) and the patient's "who looked at my
//! record" ([`who_looked`]). Both are newest first and paged by `seq` (keyset paging: a page's
//! `next` is the `before_seq` of the following page, so appends never shift a page).
//!
//! A patient's records are found through `audit_patient (patient, seq)`, one range scan per
//! source Patient id of the person.
use crate::entry::{Action, AgentKind, Entry, OutcomeKind};
use lantern_store::{Conn, SqlValue, StoreError};
use serde::Serialize;

/// Most records one page returns.
pub const MAX_COUNT: usize = 1000;

/// What to list; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Records concerning any of these logical Patient ids (one person's source records).
    pub patients: Vec<String>,
    /// Records made by this user id.
    pub user: Option<String>,
    pub action: Option<Action>,
    /// `at` bounds in microseconds: `since <= at < until`.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only records older than this seq (the previous page's `next`).
    pub before_seq: Option<i64>,
    /// Page size (1 to [`MAX_COUNT`]; 0 means 50).
    pub count: usize,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    pub entry: Entry,
}

/// A page, newest first; `next` is the `before_seq` of the next page, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

fn page_size(count: usize) -> usize {
    match count {
        0 => 50,
        n => n.min(MAX_COUNT),
    }
}

/// Records matching `q`, newest first.
pub fn list(conn: &mut dyn Conn, q: &Query) -> Result<Page<Record>, StoreError> {
    let count = page_size(q.count);
    let mut sql = String::from("SELECT a.seq, a.record FROM audit a WHERE 1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    if !q.patients.is_empty() {
        let marks = vec!["?"; q.patients.len()].join(", ");
        sql.push_str(&format!(
            " AND a.seq IN (SELECT p.seq FROM audit_patient p WHERE p.patient IN ({marks})"
        ));
        params.extend(q.patients.iter().map(|p| p.strip_prefix("Patient/").unwrap_or(p).into()));
        if let Some(b) = q.before_seq {
            sql.push_str(" AND p.seq < ?");
            params.push(b.into());
        }
        sql.push(')');
    }
    if let Some(u) = &q.user {
        sql.push_str(" AND a.user_id = ?");
        params.push(u.as_str().into());
    }
    if let Some(a) = q.action {
        sql.push_str(" AND a.action = ?");
        params.push(a.as_str().into());
    }
    if let Some(t) = q.since {
        sql.push_str(" AND a.at >= ?");
        params.push(t.into());
    }
    if let Some(t) = q.until {
        sql.push_str(" AND a.at < ?");
        params.push(t.into());
    }
    if let Some(b) = q.before_seq {
        sql.push_str(" AND a.seq < ?");
        params.push(b.into());
    }
    sql.push_str(" ORDER BY a.seq DESC LIMIT ?");
    params.push(((count + 1) as i64).into());
    let mut items = Vec::with_capacity(count + 1);
    let mut failure = None;
    conn.query(&sql, &params, &mut |r| {
        let seq = r.int(0)?.unwrap_or_default();
        match Entry::parse(&r.text(1)?.unwrap_or_default()) {
            Ok(entry) => items.push(Record { seq, entry }),
            Err(e) => failure = Some(StoreError::Database(format!("audit record {seq}: {e}"))),
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}

/// As [`list`], for a store with an audit journal (`journal`: its file): the records still only
/// in the journal (written by a running server, or left by one that was killed, and not yet
/// folded into the tables) are listed too. For `lantern audit list`, which reads the store
/// beside a live server and must show its newest records; in the server, [`crate::Audit::list`]
/// folds the journal first instead. A journal line that does not parse is left to
/// `audit verify` to report.
///
/// Records in the tables whose patient index rows the server has not written yet (it writes
/// them in batches; see [`crate::journal`]) are read directly when `q` names patients.
pub fn list_with_journal(
    conn: &mut dyn Conn,
    q: &Query,
    journal: Option<&std::path::Path>,
) -> Result<Page<Record>, StoreError> {
    let Some(path) = journal else { return list(conn, q) };
    // Read before the tables: a record folded (and rotated out) meanwhile is then in the tables.
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::Database(format!("audit journal {}: {e}", path.display()))),
    };
    let count = page_size(q.count);
    // Where the patient index ends, read before the page: a record indexed since is then
    // found by the scan beyond it.
    let indexed = match q.patients.is_empty() {
        true => None,
        false => Some(conn.query_int("SELECT MAX(seq) FROM audit_patient", &[])?.unwrap_or(0)),
    };
    let page = list(conn, q)?;
    let mut items: Vec<Record> = crate::journal::parse(&bytes)
        .0
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|l| Entry::parse(&l.record).ok().map(|entry| Record { seq: l.seq, entry }))
        .filter(|r| matches(q, r))
        .collect();
    if let Some(end) = indexed {
        conn.query("SELECT seq, record FROM audit WHERE seq > ? ORDER BY seq", &[end.into()], &mut |r| {
            let seq = r.int(0)?.unwrap_or_default();
            if let Ok(entry) = Entry::parse(&r.text(1)?.unwrap_or_default()) {
                let r = Record { seq, entry };
                if matches(q, &r) {
                    items.push(r);
                }
            }
            Ok(())
        })?;
    }
    items.extend(page.items);
    items.sort_by_key(|r| std::cmp::Reverse(r.seq));
    // A record folded but not yet rotated out is in both.
    items.dedup_by_key(|r| r.seq);
    let more = items.len() > count || page.next.is_some();
    items.truncate(count);
    let next = if more { items.last().map(|r| r.seq) } else { None };
    Ok(Page { items, next })
}

/// Whether `r` is one of the records `q` asks for (what [`list`]'s SQL selects).
fn matches(q: &Query, r: &Record) -> bool {
    let e = &r.entry;
    let patient = |p: &String| p.strip_prefix("Patient/").unwrap_or(p).to_string();
    (q.patients.is_empty() || q.patients.iter().map(patient).any(|p| e.patients.contains(&p)))
        && q.user.as_ref().is_none_or(|u| e.agent.user.as_ref() == Some(u))
        && q.action.is_none_or(|a| e.action == a)
        && q.since.is_none_or(|t| e.at >= t)
        && q.until.is_none_or(|t| e.at < t)
        && q.before_seq.is_none_or(|b| r.seq < b)
}

/// One access to a patient's record, as the patient is shown it. Deliberately without the
/// token id, client address, query text and resource ids: the patient learns who, in which
/// role and organisation, when, what kind of data and why — not details about other patients a
/// search also touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Look {
    pub seq: i64,
    /// Microseconds since the Unix epoch.
    pub at: i64,
    pub action: Action,
    pub outcome: OutcomeKind,
    pub agent_kind: AgentKind,
    /// The person's name, else their user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The kinds of data involved (resource types, e.g. `Observation`), first seen first.
    pub what: Vec<String>,
    pub break_glass: bool,
    /// The reason given for a break-glass access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether the patient should see `e` in their list: not their own looks (a patient agent
/// acting for one of `patients`), and not data arriving from a feed (not a look).
fn shown_to_patient(e: &Entry, patients: &[String]) -> bool {
    match e.agent.kind {
        AgentKind::Feed => false,
        AgentKind::Patient => !e.agent.patient.as_ref().is_some_and(|p| patients.contains(p)),
        _ => true,
    }
}

fn look(r: Record) -> Look {
    let Record { seq, entry: e } = r;
    let mut what: Vec<String> = Vec::new();
    for t in e.entities.iter().filter_map(|x| x.split('/').next()) {
        if !what.iter().any(|w| w == t) {
            what.push(t.to_string());
        }
    }
    Look {
        seq,
        at: e.at,
        action: e.action,
        outcome: e.outcome.result,
        agent_kind: e.agent.kind,
        person: e.agent.name.or(e.agent.user),
        role: e.agent.role,
        org: e.agent.org,
        purpose: e.agent.purpose,
        what,
        break_glass: e.break_glass,
        reason: if e.break_glass { e.detail } else { None },
    }
}

/// Who looked at the record of the person whose source Patient ids are `patients`, newest
/// first: every access by someone other than the patient (refused attempts included, with
/// their outcome).
pub fn who_looked(
    conn: &mut dyn Conn,
    patients: &[String],
    before_seq: Option<i64>,
    count: usize,
) -> Result<Page<Look>, StoreError> {
    let count = page_size(count);
    let ids: Vec<String> =
        patients.iter().map(|p| p.strip_prefix("Patient/").unwrap_or(p).to_string()).collect();
    let mut out = Vec::with_capacity(count);
    let mut q = Query { patients: ids.clone(), before_seq, count: count.max(64), ..Query::default() };
    loop {
        let page = list(conn, &q)?;
        let mut items = page.items.into_iter().filter(|r| shown_to_patient(&r.entry, &ids));
        for r in items.by_ref() {
            out.push(look(r));
            if out.len() == count {
                break;
            }
        }
        if out.len() == count {
            // Another look may follow: certainly if one is left in this page, possibly if the
            // log goes on.
            let more = items.next().is_some() || page.next.is_some();
            return Ok(Page { next: more.then(|| out[count - 1].seq), items: out });
        }
        match page.next {
            Some(n) => q.before_seq = Some(n),
            None => return Ok(Page { items: out, next: None }),
        }
    }
}
