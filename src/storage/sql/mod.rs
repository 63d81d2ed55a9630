//! SQL text built from the registry and typed filters, with every value bound as a parameter.
//!
//! Identifiers come only from the registry (`&'static str`), never from a request, and every
//! value goes through [`Sql::bind`], so nothing a client sends is spliced into SQL text.

use std::fmt::Write;

mod aggregate;
mod conditions;

pub use aggregate::aggregate;
use conditions::where_clause;

use crate::model::filter::{Filter, RowLock, Select, SortBy, SortKey};
use crate::model::registry::Table;
use crate::model::value::{Record, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement and its parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Value>,
    dialect: Dialect,
}

impl Sql {
    fn new(dialect: Dialect) -> Self {
        Sql {
            text: String::with_capacity(128),
            params: Vec::new(),
            dialect,
        }
    }

    #[cfg(test)]
    pub fn for_tests(text: &str, params: Vec<Value>) -> Self {
        Sql {
            text: text.to_owned(),
            params,
            dialect: Dialect::Sqlite,
        }
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder for `v`.
    fn bind(&mut self, v: Value) -> &mut Self {
        self.params.push(v);
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
            Dialect::Postgres => {
                let _ = write!(self.text, "${}", self.params.len());
            }
        }
        self
    }

    /// Binds a character count for `substr`/`right`, which PostgreSQL wants as `integer`.
    fn bind_length(&mut self, s: &str) -> &mut Self {
        self.bind(Value::Int(char_len(s)));
        if self.dialect == Dialect::Postgres {
            self.text.push_str("::integer");
        }
        self
    }

    fn ident(&mut self, name: &str) -> &mut Self {
        debug_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        self.push("\"").push(name).push("\"")
    }
}

fn column_list(table: &Table, sql: &mut Sql) {
    for (i, f) in table.fields.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.ident(f.name);
    }
}

/// `SELECT <every registry column> FROM t WHERE ... ORDER BY ... LIMIT ... OFFSET ...`
pub fn select(table: &Table, select: &Select, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT ");
    column_list(table, &mut sql);
    sql.push(" FROM ").ident(table.name);
    // A sort key through references reads the outer record's columns by this alias.
    let walks = select.order.iter().any(|(key, _)| !key.path.is_empty());
    if walks {
        sql.push(" AS ").ident(OUTER);
    }
    where_clause(&select.filter, &mut sql);
    sql.push(" ORDER BY ");
    for (key, descending) in &select.order {
        sort_key(key, &mut sql);
        // Empty values first when ascending, on both backends.
        sql.push(if *descending {
            " DESC NULLS LAST, "
        } else {
            " ASC NULLS FIRST, "
        });
    }
    sql.ident("sys_id");
    if let Some(limit) = select.limit {
        sql.push(" LIMIT ").bind(Value::Int(clamp(limit)));
    } else if select.offset > 0 {
        // SQLite needs a LIMIT before OFFSET; -1 means none there, and PostgreSQL takes ALL.
        sql.push(match dialect {
            Dialect::Sqlite => " LIMIT -1",
            Dialect::Postgres => " LIMIT ALL",
        });
    }
    if select.offset > 0 {
        sql.push(" OFFSET ").bind(Value::Int(clamp(select.offset)));
    }
    // SQLite has one writer at a time, so its rows need no lock.
    if let (Some(lock), Dialect::Postgres) = (select.lock, dialect) {
        sql.push(match lock {
            RowLock::Update => " FOR UPDATE",
            RowLock::Share => " FOR SHARE",
            RowLock::KeyShare => " FOR KEY SHARE",
        });
    }
    sql
}

/// The outer record's alias when a sort key walks references; each step's table is `walk_N`.
const OUTER: &str = "walk_";

/// A sort key: a column, or a scalar subquery per reference walked, each reading the next
/// record by the sys_id in the one before.
fn sort_key(key: &SortKey, sql: &mut Sql) {
    if key.path.is_empty() {
        if let SortBy::Field(field) = key.last {
            sql.ident(field.name);
        }
        return;
    }
    walk(key, 0, sql);
}

fn walk(key: &SortKey, step: usize, sql: &mut Sql) {
    let outer = alias(step);
    let Some((reference, target)) = key.path.get(step) else {
        let at = |sql: &mut Sql, name: &str| {
            sql.ident(&outer).push(".").ident(name);
        };
        match key.last {
            SortBy::Field(field) => at(sql, field.name),
            SortBy::Display(table) => {
                sql.push("COALESCE(");
                for name in table.display {
                    at(sql, name);
                    sql.push(", ");
                }
                at(sql, "sys_id");
                sql.push(")");
            }
        }
        return;
    };
    let inner = alias(step + 1);
    sql.push("(SELECT ");
    walk(key, step + 1, sql);
    sql.push(" FROM ")
        .ident(target.name)
        .push(" AS ")
        .ident(&inner)
        .push(" WHERE ")
        .ident(&inner)
        .push(".")
        .ident("sys_id")
        .push(" = ")
        .ident(&outer)
        .push(".")
        .ident(reference.name)
        .push(")");
}

/// `walk_`, `walk_a`, `walk_b`...: identifiers of lowercase letters and `_`, as every identifier.
fn alias(step: usize) -> String {
    let mut name = OUTER.to_owned();
    if step > 0 {
        name.push(char::from(
            b'a' + u8::try_from(step - 1).unwrap_or(25).min(25),
        ));
    }
    name
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn char_len(s: &str) -> i64 {
    clamp(s.chars().count() as u64)
}

pub fn count(table: &Table, filter: &Filter, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT COUNT(*) FROM ").ident(table.name);
    where_clause(filter, &mut sql);
    sql
}

/// Inserts every registry column; fields the record lacks are NULL.
pub fn insert(table: &Table, record: &Record, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").ident(table.name).push(" (");
    column_list(table, &mut sql);
    sql.push(") VALUES (");
    for (i, f) in table.fields.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(record.get(f.name).clone());
    }
    sql.push(")");
    sql
}

/// Inserts `record`, or, when a record with the same values of `key` exists, sets its `update`
/// fields and bumps its `sys_mod_count`. Returns the sys_id of the record now holding the key.
pub fn upsert(
    table: &Table,
    record: &Record,
    key: &[&str],
    update: &[&str],
    dialect: Dialect,
) -> Sql {
    let mut sql = insert(table, record, dialect);
    sql.push(" ON CONFLICT (");
    for (i, k) in key.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.ident(k);
    }
    sql.push(") DO UPDATE SET ");
    for field in update.iter().chain(&["sys_updated_on", "sys_updated_by"]) {
        sql.ident(field)
            .push(" = excluded.")
            .ident(field)
            .push(", ");
    }
    sql.ident("sys_mod_count")
        .push(" = ")
        .ident(table.name)
        .push(".")
        .ident("sys_mod_count")
        .push(" + 1 RETURNING ")
        .ident("sys_id");
    sql
}

/// Sets the fields present in `changes` (which must not be empty).
pub fn update(table: &Table, sys_id: &str, changes: &Record, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("UPDATE ").ident(table.name).push(" SET ");
    let mut first = true;
    for f in table.fields {
        if let Some(v) = changes.0.get(f.name) {
            if !first {
                sql.push(", ");
            }
            first = false;
            sql.ident(f.name).push(" = ").bind(v.clone());
        }
    }
    sql.push(" WHERE ")
        .ident("sys_id")
        .push(" = ")
        .bind(Value::text(sys_id));
    sql
}

pub fn delete(table: &Table, sys_id: &str, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ")
        .ident(table.name)
        .push(" WHERE ")
        .ident("sys_id")
        .push(" = ")
        .bind(Value::text(sys_id));
    sql
}

/// `DELETE FROM t WHERE ...`: every record a filter matches, in one statement.
pub fn delete_where(table: &Table, filter: &Filter, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ").ident(table.name);
    where_clause(filter, &mut sql);
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::filter::{Asker, QueryContext, resolve};
    use crate::model::query::parse;
    use crate::model::registry::table;

    fn sql_for(q: &str, dialect: Dialect) -> Sql {
        let t = table("sys_user").unwrap();
        select(
            t,
            &resolve(t, &parse(q).unwrap(), &QueryContext::now(Asker::Nobody)).unwrap(),
            dialect,
        )
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let hostile = "x' OR '1'='1\"; DROP TABLE sys_user; --";
        let sql = sql_for(&format!("user_name={hostile}"), Dialect::Sqlite);
        assert!(!sql.text.contains("DROP"), "{}", sql.text);
        assert!(
            sql.text
                .ends_with("WHERE \"user_name\" = ? ORDER BY \"sys_id\"")
        );
        assert_eq!(sql.params, vec![Value::Text(hostile.into())]);
    }

    #[test]
    fn postgres_numbers_its_placeholders() {
        let sql = sql_for("user_nameINa,b^ORemailENDSWITHx", Dialect::Postgres);
        assert!(
            sql.text
                .contains("(\"user_name\" IN ($1, $2) OR right(\"email\", $3::integer) = $4)"),
            "{}",
            sql.text
        );
    }

    #[test]
    fn ordering_paging_and_negations() {
        let t = table("sys_user").unwrap();
        let query = parse("emailNOT INa^ORDERBYDESCuser_name").unwrap();
        let mut s = resolve(t, &query, &QueryContext::now(Asker::Nobody)).unwrap();
        s.limit = Some(5);
        s.offset = 10;
        let sql = select(t, &s, Dialect::Sqlite);
        assert!(
            sql.text.ends_with(
                "WHERE (\"email\" NOT IN (?) OR \"email\" IS NULL) ORDER BY \"user_name\" DESC NULLS LAST, \"sys_id\" LIMIT ? OFFSET ?"
            ),
            "{}",
            sql.text
        );
    }
}
