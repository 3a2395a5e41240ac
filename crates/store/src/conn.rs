//! The one seam between the shared SQL engine and a database driver.
//!
//! Both backends implement [`Conn`] over their driver's synchronous connection. Every query the
//! engine runs is written once with `?` placeholders; the PostgreSQL backend rewrites them to
//! `$n`. Keeping the seam this narrow is what lets SQLite and PostgreSQL pass one test suite:
//! rules (version checks, indexing, search compilation, the access filter) live above it.
use crate::error::StoreError;

/// Which SQL dialect a connection speaks; only DDL and a few functions differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One result row; columns are read by position.
pub trait Row {
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A synchronous database connection. Implementations cache prepared statements by SQL text.
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs several `;`-separated statements without parameters (DDL).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Runs one statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError>;
    /// Runs an INSERT and returns the key the database generated for column `key`.
    /// The default appends `RETURNING key`; SQLite overrides it, because there RETURNING makes
    /// the statement keep a statement journal inside the writer's savepoint.
    fn insert_returning_key(&mut self, sql: &str, params: &[SqlValue], key: &str) -> Result<i64, StoreError> {
        let mut out = None;
        self.query(&format!("{sql} RETURNING {key}"), params, &mut |r| {
            out = r.int(0)?;
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Database("insert returned no key".into()))
    }

    /// Runs one query, calling `f` for each row in order.
    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl dyn Conn + '_ {
    /// The first column of the first row as an integer, if any.
    pub fn query_int(&mut self, sql: &str, params: &[SqlValue]) -> Result<Option<i64>, StoreError> {
        let mut out = None;
        self.query(sql, params, &mut |r| {
            if out.is_none() {
                out = r.int(0)?;
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Rewrites `?` placeholders to PostgreSQL's `$1, $2, ...`, leaving quoted text alone.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut in_quote = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_quote = !in_quote;
                out.push(c);
            }
            '?' if !in_quote => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(numbered_placeholders("a=? AND b='?' AND c=?"), "a=$1 AND b='?' AND c=$2");
    }
}
