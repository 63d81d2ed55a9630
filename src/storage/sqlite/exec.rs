//! Running the SQL builder's statements on a rusqlite connection: binding [`Value`]s, decoding
//! rows by the registry's field types.
//!
//! Statements are prepared once per connection and cached (`prepare_cached`), so a hot request
//! pays for parsing only the first time its statement shape is seen.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, params_from_iter};

use super::error::on_statement;
use crate::model::registry::{FieldType, Table};
use crate::model::value::{Record, Value};
use crate::storage::Result;
use crate::storage::sql::Sql;

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
    let mut statement = conn
        .prepare_cached(&sql.text)
        .map_err(|e| on_statement(table, e))?;
    let mut rows = statement
        .query(params_from_iter(&sql.params))
        .map_err(|e| on_statement(table, e))?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(|e| on_statement(table, e))? {
        records.push(decode(table, row)?);
    }
    Ok(records)
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

/// A row holding every registry column of `table`, in order.
fn decode(table: &Table, row: &rusqlite::Row<'_>) -> Result<Record> {
    // Collected rather than inserted one by one: a map built from all its entries at once
    // costs a fraction of the inserts (a tenth of a page query's CPU in the profile).
    table
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let v = match f.ty {
                FieldType::Boolean => row.get::<_, Option<bool>>(i)?.map(Value::Bool),
                FieldType::Integer => row.get::<_, Option<i64>>(i)?.map(Value::Int),
                _ => row.get::<_, Option<String>>(i)?.map(Value::text),
            };
            Ok((f.name, v.unwrap_or(Value::Null)))
        })
        .collect()
}
