//! Running the SQL builder's statements on a PostgreSQL connection: binding [`Value`]s, and
//! reading cells for the shared row decoder ([`rows::decode`]).

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgConnection, PgRow, PgTypeInfo};
use sqlx::{Arguments, AssertSqlSafe, Decode, Encode, Postgres, Row, Type};

use super::error::on_constraint;
use crate::model::aggregate::{Aggregation, Group};
use crate::model::registry::Table;
use crate::model::value::{Record, Value};
use crate::storage::Result;
use crate::storage::rows::{self, Cells};
use crate::storage::sql::Sql;

/// A NULL parameter of no declared type (OID 0), which PostgreSQL types by where it goes: the
/// column it is inserted into or compared with. A NULL declared as text cannot go into a BIGINT
/// or BOOLEAN column ("column ... is of type bigint but expression is of type text"); and since
/// a prepared statement keeps the parameter types of its first run, a declared type would also
/// make a statement's success depend on which values it happened to be prepared with.
struct UntypedNull;

impl Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(&self, _: &mut PgArgumentBuffer) -> std::result::Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

/// Binds values in order.
fn arguments(params: Vec<Value>) -> Result<PgArguments> {
    let mut args = PgArguments::default();
    for p in params {
        let added = match p {
            Value::Null => args.add(UntypedNull),
            Value::Text(s) => args.add(s),
            Value::Bool(b) => args.add(b),
            Value::Int(i) => args.add(i),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// A PostgreSQL row, read for [`rows::decode`].
impl Cells for PgRow {
    type Error = sqlx::Error;

    #[inline]
    fn boolean(&self, column: usize) -> sqlx::Result<Option<bool>> {
        self.try_get(column)
    }

    #[inline]
    fn integer(&self, column: usize) -> sqlx::Result<Option<i64>> {
        self.try_get(column)
    }

    #[inline]
    fn text(&self, column: usize) -> sqlx::Result<Option<String>> {
        self.try_get(column)
    }
}

/// Runs a query and decodes every row as a record of `table`.
pub async fn fetch(conn: &mut PgConnection, table: &Table, sql: Sql) -> Result<Vec<Record>> {
    query(conn, table, sql, |row| rows::decode(table, row)).await
}

/// Runs an aggregate query and decodes every group.
pub async fn fetch_groups(
    conn: &mut PgConnection,
    table: &Table,
    aggregation: &Aggregation,
    sql: Sql,
) -> Result<Vec<Group>> {
    query(conn, table, sql, |row| rows::decode_group(aggregation, row)).await
}

/// Runs a query and decodes every row with `decode`.
async fn query<T>(
    conn: &mut PgConnection,
    table: &Table,
    sql: Sql,
    decode: impl Fn(&PgRow) -> sqlx::Result<T>,
) -> Result<Vec<T>> {
    let found = sqlx::query_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| on_constraint(table, e))?;
    Ok(found.iter().map(decode).collect::<sqlx::Result<_>>()?)
}

/// Runs a statement; the number of rows it changed.
pub async fn execute(conn: &mut PgConnection, table: &Table, sql: Sql) -> Result<u64> {
    sqlx::query_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| on_constraint(table, e))
}

/// Runs a query answering one row of one column.
pub async fn scalar<T>(conn: &mut PgConnection, table: &Table, sql: Sql) -> Result<T>
where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres> + Send + Unpin,
{
    sqlx::query_scalar_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| on_constraint(table, e))
}
