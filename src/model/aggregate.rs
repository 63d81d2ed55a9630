//! Aggregate queries (the Aggregate API's `GET /api/now/stats/{table}`): a count and avg, min,
//! max or sum of fields, over the records a filter selects, optionally in groups, filtered by
//! aggregates (`HAVING`) and ordered by fields or aggregates.

use super::filter::{Cmp, Filter};
use super::registry::Field;

/// An aggregate function over a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Avg,
    Min,
    Max,
    Sum,
}

impl Function {
    /// The four, in the order an answer lists them.
    pub const ALL: [Function; 4] = [Function::Avg, Function::Min, Function::Max, Function::Sum];

    /// Its name in parameters and answers (`avg`...).
    pub fn name(self) -> &'static str {
        match self {
            Function::Avg => "avg",
            Function::Min => "min",
            Function::Max => "max",
            Function::Sum => "sum",
        }
    }

    pub fn parse(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// What a `HAVING` term or an ordering compares: the count of a group, or a function of a
/// field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    Count,
    Of(Function, &'static Field),
}

/// One `HAVING` term: `measure op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Having {
    pub measure: Measure,
    pub op: Cmp,
    pub value: f64,
}

/// What to order groups by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OrderKey {
    Field(&'static Field),
    Measure(Measure),
}

/// An aggregate query over one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    pub filter: Filter,
    pub group_by: Vec<&'static Field>,
    /// The measures each group is answered with, in this order.
    pub measures: Vec<Measure>,
    pub having: Vec<Having>,
    /// (key, descending); the group-by fields follow as tie-breakers, so the order is stable.
    pub order: Vec<(OrderKey, bool)>,
}

/// One group's answer: the group-by fields' values as the Table API shows them (`""` for
/// empty), then each measure's value as text (`None` for no value, as the average of nothing),
/// in the order of [`Aggregation::measures`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub keys: Vec<String>,
    pub measures: Vec<Option<String>>,
}
