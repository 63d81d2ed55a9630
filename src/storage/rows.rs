//! Decoding a row into a [`Record`] by the registry's field types, once for every backend: a
//! driver only reads one cell as the type a field asks for ([`Cells`]), and the rules of which
//! field type reads as which [`Value`] live here.
//!
//! Generic rather than a trait object, so each backend gets its own copy with the driver's
//! reads inlined: SQLite decodes on the request's thread, and this is its hot loop.

use crate::model::aggregate::{Aggregation, Group};
use crate::model::registry::{Field, FieldType, Table};
use crate::model::value::{Record, Value};

/// One row of a driver's answer, read a cell at a time (cells in the registry's column order).
pub trait Cells {
    type Error;
    fn boolean(&self, column: usize) -> Result<Option<bool>, Self::Error>;
    fn integer(&self, column: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, column: usize) -> Result<Option<String>, Self::Error>;
}

/// A row holding every registry column of `table`, in order. SQL NULL and empty text both read
/// as [`Value::Null`] (the platform does not tell them apart).
pub fn decode<C: Cells>(table: &Table, row: &C) -> Result<Record, C::Error> {
    // Collected rather than inserted one by one: a map built from all its entries at once costs
    // a fraction of the inserts (a tenth of a page query's CPU in the profile).
    table
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| Ok((f.name, cell(f, row, i)?)))
        .collect()
}

/// One cell read as a field's type.
#[inline]
fn cell<C: Cells>(field: &Field, row: &C, i: usize) -> Result<Value, C::Error> {
    let value = match field.ty {
        FieldType::Boolean => row.boolean(i)?.map(Value::Bool),
        FieldType::Integer => row.integer(i)?.map(Value::Int),
        FieldType::String | FieldType::DateTime | FieldType::Reference(_) | FieldType::Json => {
            row.text(i)?.map(Value::text)
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A row of an aggregate query: the group-by columns, read by their fields' types and given as
/// text the way records show them (`true`, `42`), then each measure, already text.
pub fn decode_group<C: Cells>(aggregation: &Aggregation, row: &C) -> Result<Group, C::Error> {
    let keys = aggregation
        .group_by
        .iter()
        .enumerate()
        .map(|(i, f)| Ok(cell(f, row, i)?.to_api_string()))
        .collect::<Result<_, C::Error>>()?;
    let offset = aggregation.group_by.len();
    let measures = (0..aggregation.measures.len())
        .map(|i| row.text(offset + i))
        .collect::<Result<_, C::Error>>()?;
    Ok(Group { keys, measures })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::registry;

    /// A row of cells given by hand: each column answers whatever type it is asked for.
    struct Given(Vec<Option<&'static str>>);

    impl Cells for Given {
        type Error = String;
        fn boolean(&self, i: usize) -> Result<Option<bool>, String> {
            Ok(self.0[i].map(|c| c == "1"))
        }
        fn integer(&self, i: usize) -> Result<Option<i64>, String> {
            self.0[i]
                .map(|c| c.parse().map_err(|_| c.to_owned()))
                .transpose()
        }
        fn text(&self, i: usize) -> Result<Option<String>, String> {
            Ok(self.0[i].map(str::to_owned))
        }
    }

    #[test]
    fn each_field_reads_as_its_type_and_empty_text_is_null() {
        let queues = &registry::AWA_QUEUE;
        let mut cells: Vec<Option<&str>> = vec![None; queues.fields.len()];
        let at = |name: &str| queues.fields.iter().position(|f| f.name == name).unwrap();
        cells[at("sys_id")] = Some("abc");
        cells[at("sys_mod_count")] = Some("3");
        cells[at("active")] = Some("1");
        cells[at("name")] = Some("");
        let record = decode(queues, &Given(cells)).unwrap();
        assert_eq!(record.0.len(), queues.fields.len());
        assert_eq!(record.get("sys_id"), &Value::text("abc"));
        assert_eq!(record.get("sys_mod_count"), &Value::Int(3));
        assert_eq!(record.get("active"), &Value::Bool(true));
        assert_eq!(record.get("name"), &Value::Null);
        assert_eq!(record.get("sys_created_on"), &Value::Null);
    }
}
