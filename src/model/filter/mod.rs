//! Typed, table-checked conditions: what storage translates into parameterised SQL.
//!
//! [`crate::model::query`] parses an encoded query without knowing any table; this module checks every
//! field against the registry and converts every value to the field's type, so storage never sees
//! a name that is not a registry column nor a value it would have to splice into SQL.

use crate::model::dates::Unit;
use crate::model::query::EncodedQuery;
use crate::model::registry::{Access, Field, FieldType, Table};
use crate::model::value::Value;

mod context;
mod typing;

pub use context::{Asker, QueryContext};
pub use typing::MAX_WALK;

/// A condition tree over one table's fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every record.
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Cond(&'static Field, Op),
    /// The reference points at a record that matches: how a text test on a reference reads
    /// the referenced record's display value, as the platform's does.
    Refers(Through),
    /// The reference is empty, or points at a record that does not match.
    NotRefers(Through),
}

/// A reference field, the table it points into, and a filter over that table's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Through {
    pub reference: &'static Field,
    pub target: &'static Table,
    pub matching: Box<Filter>,
}

/// A comparison; values are already of the field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Value),
    Ne(Value),
    Contains(String),
    NotContains(String),
    StartsWith(String),
    EndsWith(String),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    IsEmpty,
    IsNotEmpty,
    Lt(Value),
    Le(Value),
    Gt(Value),
    Ge(Value),
    Between(Value, Value),
    /// Outside an inclusive range, or empty (`NOTON`, which like every negation here matches
    /// empty values).
    NotBetween(Value, Value),
    /// Compared with another field of the same record, date-times by the whole units they fall
    /// in when a unit is given. `Ne` holds when either is empty; the others need both values.
    Field(Cmp, &'static Field, Option<Unit>),
    /// Whole units from this date-time to another field's (`MORETHAN`, `LESSTHAN`).
    Span(Span),
    /// The day of the week, Sunday 1 to Saturday 7, compared with a day (`DATEPART`).
    Weekday(Cmp, i64),
}

/// A comparison between two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `MORETHAN`/`LESSTHAN`: the whole units between this field and `other`, counted from the
/// earlier to the later (this one first unless `after`), more than `count`, or at least none
/// and less than `count`.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub other: &'static Field,
    pub unit: Unit,
    pub after: bool,
    pub more: bool,
    pub count: i64,
}

/// A read: which records, in which order, which page.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub filter: Filter,
    /// (key, descending); `sys_id` is always the last tie-breaker so pages are stable.
    pub order: Vec<(SortKey, bool)>,
    pub limit: Option<u64>,
    pub offset: u64,
    /// Inside a write transaction: lock the rows read until it ends, so a concurrent writer on
    /// another connection (or node) waits and then sees this one's result.
    pub lock: Option<RowLock>,
}

/// What records are sorted by: a field at the end of a path of references. A reference at the
/// end sorts by the referenced record's display value, as the platform sorts it.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The references walked, each with the table it points into (empty: the record's own).
    pub path: Vec<(&'static Field, &'static Table)>,
    pub last: SortBy,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortBy {
    /// A field of the last table on the path.
    Field(&'static Field),
    /// The display value of the last table's record: its display fields, first non-empty.
    Display(&'static Table),
}

impl SortKey {
    /// A field of the record itself, as it is stored (a reference by its sys_id).
    pub fn field(field: &'static Field) -> SortKey {
        SortKey {
            path: Vec::new(),
            last: SortBy::Field(field),
        }
    }
}

/// How strongly a transaction holds the rows it read (PostgreSQL's row-level lock modes; on
/// SQLite, whose one writer already holds everything, none is needed).
///
/// Every transaction takes its locks parent first (a referenced record before the records that
/// reference it), so the modes below cannot wait on each other in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// About to change or delete the row: every other lock waits (`FOR UPDATE`).
    Update,
    /// Relying on the row staying as read (a credential checked before a token is issued):
    /// concurrent readers of the same kind go on, a change or a delete waits (`FOR SHARE`).
    Share,
    /// Relying on the row existing (a record about to reference it): only a delete, or a change
    /// of its key, waits (`FOR KEY SHARE`, what a foreign key takes).
    KeyShare,
}

impl Select {
    pub fn all() -> Self {
        Select {
            filter: Filter::All,
            order: Vec::new(),
            limit: None,
            offset: 0,
            lock: None,
        }
    }

    /// Locks the rows read for an update (see [`RowLock::Update`]).
    pub fn locked(self) -> Self {
        self.locked_as(RowLock::Update)
    }

    pub fn locked_as(mut self, lock: RowLock) -> Self {
        self.lock = Some(lock);
        self
    }

    pub fn filter(filter: Filter) -> Self {
        Select {
            filter,
            ..Select::all()
        }
    }

    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl Filter {
    /// `field = value` on a field the caller knows exists.
    pub fn eq(field: &'static Field, value: Value) -> Filter {
        Filter::Cond(field, Op::Eq(value))
    }

    /// `field IN (values)` on a field the caller knows exists.
    pub fn one_of(field: &'static Field, values: Vec<Value>) -> Filter {
        Filter::Cond(field, Op::In(values))
    }

    pub fn and(self, other: Filter) -> Filter {
        match (self, other) {
            (Filter::All, f) | (f, Filter::All) => f,
            (Filter::And(mut a), b) => {
                a.push(b);
                Filter::And(a)
            }
            (a, b) => Filter::And(vec![a, b]),
        }
    }
}

/// A query that names something the table does not have, or a value of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// Checks an encoded query against `table` and types its values, reading its dates and the
/// caller's values in `context`.
pub fn resolve(
    table: &'static Table,
    query: &EncodedQuery,
    context: &QueryContext,
) -> Result<Select, FilterError> {
    let alternatives = query
        .alternatives
        .iter()
        .map(|conjunction| {
            let clauses = conjunction
                .clauses
                .iter()
                .map(|d| {
                    let conds = d
                        .conditions
                        .iter()
                        .map(|c| typing::condition(table, c, context))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(one_or_many(conds, Filter::Or))
                })
                .collect::<Result<Vec<_>, FilterError>>()?;
            Ok(one_or_many(clauses, Filter::And))
        })
        .collect::<Result<Vec<_>, FilterError>>()?;
    let filter = if alternatives.is_empty() {
        Filter::All
    } else {
        one_or_many(alternatives, Filter::Or)
    };
    let order = query
        .order_by
        .iter()
        .map(|o| Ok((sort_key(table, &o.field)?, o.descending)))
        .collect::<Result<_, FilterError>>()?;
    Ok(Select {
        filter,
        order,
        ..Select::all()
    })
}

/// An `ORDERBY` term's key: a field, dot-walked or not; a reference at the end sorts by the
/// referenced record's display value.
fn sort_key(table: &'static Table, name: &str) -> Result<SortKey, FilterError> {
    let Path { mut steps, last } = walk(table, name)?;
    let last = match last.ty {
        FieldType::Reference(target) => {
            steps.push((last, target));
            SortBy::Display(target)
        }
        _ => SortBy::Field(last),
    };
    Ok(SortKey { path: steps, last })
}

/// A field name resolved through the references it walks (none for a plain name).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Each reference walked, with the table it points into.
    pub steps: Vec<(&'static Field, &'static Table)>,
    /// The field named at the end, of the last table.
    pub last: &'static Field,
}

/// Resolves a dot-walked name (`conversation.interaction.number`) against `table`: every step
/// but the last a reference the caller may query, the last a field it may query, and at most
/// [`MAX_WALK`] steps. Conditions, sort keys and `sysparm_fields` all walk through here.
pub fn walk(table: &'static Table, name: &str) -> Result<Path, FilterError> {
    typing::check_walk_depth(name)?;
    let mut steps = Vec::new();
    let mut at = table;
    let last = match name.rsplit_once('.') {
        Some((through, last)) => {
            for step in through.split('.') {
                let (reference, target) = typing::reference(at, step)?;
                steps.push((reference, target));
                at = target;
            }
            last
        }
        None => name,
    };
    Ok(Path {
        steps,
        last: queryable(at, last)?,
    })
}

fn one_or_many(mut items: Vec<Filter>, many: fn(Vec<Filter>) -> Filter) -> Filter {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        many(items)
    }
}

/// A field that exists and may be queried (write-only fields may not).
pub fn queryable(table: &'static Table, name: &str) -> Result<&'static Field, FilterError> {
    match table.field(name) {
        Some(f) if f.access != Access::WriteOnly => Ok(f),
        _ => Err(FilterError(format!(
            "Invalid query: field '{name}' does not exist in table '{}'",
            table.name
        ))),
    }
}

/// The platform's spellings of a boolean: `true`/`false` (any case) and `1`/`0`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" => Some(true),
        "0" => Some(false),
        _ if v.eq_ignore_ascii_case("true") => Some(true),
        _ if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::query::parse;
    use crate::model::registry::table;

    fn resolve_str(t: &str, q: &str) -> Result<Select, FilterError> {
        let context = QueryContext::now(Asker::Nobody);
        resolve(table(t).unwrap(), &parse(q).unwrap(), &context)
    }

    #[test]
    fn types_values_by_field() {
        let s = resolve_str("sys_user", "active=true^sys_mod_count>2").unwrap();
        let Filter::And(clauses) = s.filter else {
            panic!("{:?}", s.filter)
        };
        assert!(
            matches!(&clauses[0], Filter::Cond(f, Op::Eq(Value::Bool(true))) if f.name == "active")
        );
        assert!(
            matches!(&clauses[1], Filter::Cond(f, Op::Gt(Value::Int(2))) if f.name == "sys_mod_count")
        );
    }

    #[test]
    fn rejects_unknown_and_write_only_fields() {
        let e = resolve_str("sys_user", "nope=1").unwrap_err();
        assert!(e.0.contains("'nope'"), "{e}");
        assert!(resolve_str("sys_user", "user_passwordSTARTSWITH$").is_err());
        assert!(resolve_str("sys_user", "ORDERBYnope").is_err());
    }

    #[test]
    fn rejects_badly_typed_values() {
        assert!(resolve_str("sys_user", "active=maybe").is_err());
        assert!(resolve_str("sys_user", "sys_mod_count<x").is_err());
        assert!(resolve_str("sys_user", "activeLIKEtr").is_err());
    }

    #[test]
    fn date_times_are_checked() {
        assert!(resolve_str("interaction", "opened_at>2026-01-01").is_ok());
        assert!(resolve_str("interaction", "opened_at>=2026-01-01 10:00:00").is_ok());
        let e = resolve_str("interaction", "opened_at<garbage").unwrap_err();
        assert!(e.0.contains("opened_at"), "{e}");
    }

    #[test]
    fn empty_text_operands() {
        for q in ["emailLIKE", "emailSTARTSWITH", "emailENDSWITH"] {
            let s = resolve_str("sys_user", q).unwrap();
            assert!(matches!(s.filter, Filter::Cond(_, Op::IsNotEmpty)), "{q}");
        }
        let s = resolve_str("sys_user", "emailNOT LIKE").unwrap();
        assert!(matches!(s.filter, Filter::Cond(_, Op::IsEmpty)));
    }

    #[test]
    fn empty_equals_means_is_empty() {
        let s = resolve_str("sys_user", "email=").unwrap();
        assert!(matches!(s.filter, Filter::Cond(_, Op::IsEmpty)));
    }

    #[test]
    fn no_conditions_match_all() {
        assert_eq!(resolve_str("sys_user", "").unwrap().filter, Filter::All);
    }

    #[test]
    fn nq_and_or_nest() {
        let s = resolve_str(
            "sys_user",
            "user_name=a^ORuser_name=b^active=true^NQemail=x",
        )
        .unwrap();
        let Filter::Or(alts) = s.filter else { panic!() };
        assert_eq!(alts.len(), 2);
        let Filter::And(first) = &alts[0] else {
            panic!()
        };
        assert!(matches!(&first[0], Filter::Or(v) if v.len() == 2));
    }
}
