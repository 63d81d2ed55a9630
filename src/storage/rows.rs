//! Binding [`Value`]s as parameters and decoding rows into [`Record`]s by the registry's field
//! types, for the sqlx-driven backend (PostgreSQL; the SQLite backend has its own, in rusqlite).

use sqlx::{Arguments, Database, Decode, Encode, Row, Type};

use super::Result;
use crate::model::registry::{FieldType, Table};
use crate::model::value::{Record, Value};

/// Binds values in order.
pub fn arguments<A>(params: Vec<Value>) -> Result<A>
where
    A: Arguments,
    for<'t> Option<String>: Encode<'t, A::Database> + Type<A::Database>,
    for<'t> String: Encode<'t, A::Database> + Type<A::Database>,
    for<'t> bool: Encode<'t, A::Database> + Type<A::Database>,
    for<'t> i64: Encode<'t, A::Database> + Type<A::Database>,
{
    let mut args = A::default();
    for p in params {
        let added = match p {
            Value::Null => args.add(None::<String>),
            Value::Text(s) => args.add(s),
            Value::Bool(b) => args.add(b),
            Value::Int(i) => args.add(i),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// A row holding every registry column of `table`, in order.
pub fn decode<R>(table: &Table, row: &R) -> Result<Record>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    R::Database: Database,
{
    // Collected rather than inserted one by one, as the SQLite backend does.
    table
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let v = match f.ty {
                FieldType::Boolean => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
                FieldType::Integer => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
                _ => row.try_get::<Option<String>, _>(i)?.map(Value::text),
            };
            Ok((f.name, v.unwrap_or(Value::Null)))
        })
        .collect()
}
