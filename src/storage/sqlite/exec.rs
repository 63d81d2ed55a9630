//! Running the SQL builder's statements on a rusqlite connection: binding [`Value`]s, and
//! reading cells for the shared row decoder ([`rows::decode`]).
//!
//! Statements are prepared once per connection and cached (`prepare_cached`), so a hot request
//! pays for parsing only the first time its statement shape is seen.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};

use super::error::on_statement;
use crate::model::aggregate::{Aggregation, Group};
use crate::model::registry::Table;
use crate::model::value::{Record, Value};
use crate::storage::sql::Sql;
use crate::storage::{Result, rows};

/// How many distinct statement shapes each connection keeps prepared.
pub const STATEMENT_CACHE: usize = 256;

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*b))),
            Value::Int(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
        })
    }
}

/// Runs a query and decodes every row as a record of `table`.
pub fn fetch(conn: &Connection, table: &Table, sql: &Sql) -> Result<Vec<Record>> {
    query(conn, table, sql, |row| rows::decode(table, row))
}

/// Runs an aggregate query and decodes every group.
pub fn fetch_groups(
    conn: &Connection,
    table: &Table,
    aggregation: &Aggregation,
    sql: &Sql,
) -> Result<Vec<Group>> {
    query(conn, table, sql, |row| rows::decode_group(aggregation, row))
}

/// Runs a query and decodes every row with `decode` (generic, so it is inlined in the loop).
fn query<T>(
    conn: &Connection,
    table: &Table,
    sql: &Sql,
    decode: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn
        .prepare_cached(&sql.text)
        .map_err(|e| on_statement(table, e))?;
    let mut rows = statement
        .query(params_from_iter(&sql.params))
        .map_err(|e| on_statement(table, e))?;
    let mut decoded = Vec::new();
    while let Some(row) = rows.next().map_err(|e| on_statement(table, e))? {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// Runs a statement; the number of rows it changed.
pub fn execute(conn: &Connection, table: &Table, sql: &Sql) -> Result<usize> {
    conn.prepare_cached(&sql.text)
        .and_then(|mut statement| statement.execute(params_from_iter(&sql.params)))
        .map_err(|e| on_statement(table, e))
}

/// Runs a query answering one row of one column.
pub fn scalar<T: rusqlite::types::FromSql>(
    conn: &Connection,
    table: &Table,
    sql: &Sql,
) -> Result<T> {
    conn.prepare_cached(&sql.text)
        .and_then(|mut statement| {
            statement.query_row(params_from_iter(&sql.params), |row| row.get(0))
        })
        .map_err(|e| on_statement(table, e))
}

/// A rusqlite row, read for [`rows::decode`].
impl rows::Cells for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    #[inline]
    fn boolean(&self, column: usize) -> rusqlite::Result<Option<bool>> {
        self.get(column)
    }

    #[inline]
    fn integer(&self, column: usize) -> rusqlite::Result<Option<i64>> {
        self.get(column)
    }

    #[inline]
    fn text(&self, column: usize) -> rusqlite::Result<Option<String>> {
        self.get(column)
    }
}
