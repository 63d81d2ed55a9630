//! The WHERE clause: a typed filter as SQL over one table's columns, every operand bound.
//! Besides the registry's identifiers, the text holds only the builder's own constants (where
//! the parts of a date-time stand in its text, how units relate), never what a request sent.

use super::{Dialect, Sql};
use crate::model::dates::Unit;
use crate::model::filter::{Cmp, Filter, Op, Span, Through};
use crate::model::registry::Field;
use crate::model::value::Value;

pub(super) fn where_clause(filter: &Filter, sql: &mut Sql) {
    if *filter != Filter::All {
        sql.push(" WHERE ");
        condition(filter, sql);
    }
}

fn condition(filter: &Filter, sql: &mut Sql) {
    match filter {
        Filter::All => {
            sql.push("1 = 1");
        }
        Filter::And(parts) => join(parts, " AND ", sql),
        Filter::Or(parts) => join(parts, " OR ", sql),
        Filter::Cond(field, op) => comparison(field, op, sql),
        Filter::Refers(through) => {
            sql.ident(through.reference.name);
            referenced(through, sql);
        }
        Filter::NotRefers(through) => {
            let name = through.reference.name;
            sql.push("(")
                .ident(name)
                .push(" IS NULL OR ")
                .ident(name)
                .push(" NOT");
            referenced(through, sql);
            sql.push(")");
        }
    }
}

/// ` IN (SELECT sys_id FROM target WHERE ...)`: the records of the target table the filter
/// matches (its columns are the innermost, so they need no qualifying).
fn referenced(through: &Through, sql: &mut Sql) {
    sql.push(" IN (SELECT ")
        .ident("sys_id")
        .push(" FROM ")
        .ident(through.target.name)
        .push(" WHERE ");
    condition(&through.matching, sql);
    sql.push(")");
}

fn join(parts: &[Filter], with: &str, sql: &mut Sql) {
    sql.push("(");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(with);
        }
        condition(p, sql);
    }
    sql.push(")");
}

fn comparison(field: &Field, op: &Op, sql: &mut Sql) {
    let col = |sql: &mut Sql| {
        sql.ident(field.name);
    };
    let binary = |sql: &mut Sql, operator: &str, v: &Value| {
        col(sql);
        sql.push(operator).bind(v.clone());
    };
    match op {
        Op::Eq(v) => binary(sql, " = ", v),
        // The platform's "is not" also matches empty values.
        Op::Ne(v) => {
            sql.push("(");
            binary(sql, " <> ", v);
            sql.push(" OR ").ident(field.name).push(" IS NULL)");
        }
        Op::Lt(v) => binary(sql, " < ", v),
        Op::Le(v) => binary(sql, " <= ", v),
        Op::Gt(v) => binary(sql, " > ", v),
        Op::Ge(v) => binary(sql, " >= ", v),
        Op::Between(a, b) => {
            binary(sql, " BETWEEN ", a);
            sql.push(" AND ").bind(b.clone());
        }
        Op::IsEmpty => {
            col(sql);
            sql.push(" IS NULL");
        }
        Op::IsNotEmpty => {
            col(sql);
            sql.push(" IS NOT NULL");
        }
        Op::In(values) | Op::NotIn(values) if values.is_empty() => {
            sql.push(if matches!(op, Op::In(_)) {
                "1 = 0"
            } else {
                "1 = 1"
            });
        }
        Op::In(values) => {
            col(sql);
            in_list(values, sql);
        }
        Op::NotIn(values) => {
            sql.push("(");
            col(sql);
            sql.push(" NOT");
            in_list(values, sql);
            sql.push(" OR ").ident(field.name).push(" IS NULL)");
        }
        // Substring tests by position, not LIKE: no wildcard escaping, and case-sensitive on
        // both backends, as the platform's query values are.
        Op::Contains(s) => {
            position(field, s, sql);
            sql.push(" > 0");
        }
        Op::NotContains(s) => {
            sql.push("(");
            col(sql);
            sql.push(" IS NULL OR ");
            position(field, s, sql);
            sql.push(" = 0)");
        }
        Op::StartsWith(s) => {
            sql.push("substr(");
            col(sql);
            sql.push(", 1, ")
                .bind_length(s)
                .push(") = ")
                .bind(Value::Text(s.clone()));
        }
        Op::EndsWith(s) => {
            match sql.dialect {
                Dialect::Sqlite => {
                    sql.push("substr(");
                    col(sql);
                    sql.push(", -").bind_length(s);
                }
                Dialect::Postgres => {
                    sql.push("right(");
                    col(sql);
                    sql.push(", ").bind_length(s);
                }
            }
            sql.push(") = ").bind(Value::Text(s.clone()));
        }
        Op::NotBetween(a, b) => {
            sql.push("(");
            binary(sql, " < ", a);
            sql.push(" OR ");
            binary(sql, " > ", b);
            sql.push(" OR ").ident(field.name).push(" IS NULL)");
        }
        Op::Field(cmp, other, unit) => field_comparison(field, *cmp, other, *unit, sql),
        Op::Span(span) => span_comparison(field, span, sql),
        Op::Weekday(cmp, day) => {
            // Julian day numbers count Monday as 0 modulo 7; plus one, Sunday is.
            sql.push("((");
            julian_day(field, sql);
            sql.push(" + 1) % 7 + 1) ")
                .push(operator(*cmp))
                .push(" ")
                .bind(Value::Int(*day));
        }
    }
}

pub(super) fn operator(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::Eq => "=",
        Cmp::Ne => "<>",
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
    }
}

/// A field against another of the same record, date-times by the units they fall in; `<>`
/// also holds when either is empty, as every negation here does.
fn field_comparison(field: &Field, cmp: Cmp, other: &Field, unit: Option<Unit>, sql: &mut Sql) {
    let side = |f: &Field, sql: &mut Sql| match unit {
        Some(unit) => unit_index(f, unit, sql),
        None => {
            sql.ident(f.name);
        }
    };
    if cmp == Cmp::Ne {
        sql.push("(");
    }
    side(field, sql);
    sql.push(" ").push(operator(cmp)).push(" ");
    side(other, sql);
    if cmp == Cmp::Ne {
        sql.push(" OR ")
            .ident(field.name)
            .push(" IS NULL OR ")
            .ident(other.name)
            .push(" IS NULL)");
    }
}

/// `MORETHAN`: more than `count` whole units from the earlier field to the later; `LESSTHAN`:
/// none or more, and fewer than `count`.
fn span_comparison(field: &Field, span: &Span, sql: &mut Sql) {
    let (earlier, later) = match span.after {
        false => (field, span.other),
        true => (span.other, field),
    };
    sql.push("(");
    unit_index(later, span.unit, sql);
    sql.push(" - ");
    unit_index(earlier, span.unit, sql);
    sql.push(")");
    match span.more {
        true => sql.push(" > ").bind(Value::Int(span.count)),
        false => sql.push(" BETWEEN 0 AND ").bind(Value::Int(span.count - 1)),
    };
}

/// Which `unit` a date-time falls in, as a whole number that grows by one from each unit to
/// the next (`YYYY-MM-DD HH:MM:SS` text, read by position the same way on both backends).
fn unit_index(field: &Field, unit: Unit, sql: &mut Sql) {
    match unit {
        Unit::Day => return julian_day(field, sql),
        Unit::Year => return part(field, YEAR, sql),
        _ => {}
    }
    sql.push("(");
    match unit {
        Unit::Week => {
            // Day numbers divisible by 7 are Mondays, so weeks start on Monday.
            julian_day(field, sql);
            sql.push(" / 7");
        }
        Unit::Month => {
            part(field, YEAR, sql);
            sql.push(" * 12 + ");
            part(field, MONTH, sql);
        }
        Unit::Quarter => {
            part(field, YEAR, sql);
            sql.push(" * 4 + (");
            part(field, MONTH, sql);
            sql.push(" - 1) / 3");
        }
        _ => time_index(field, unit, sql),
    }
    sql.push(")");
}

/// Where a part of a date-time stands in its text: (first character, length).
const YEAR: (u8, u8) = (1, 4);
const MONTH: (u8, u8) = (6, 2);
const HOUR: (u8, u8) = (12, 2);
const MINUTE: (u8, u8) = (15, 2);
const SECOND: (u8, u8) = (18, 2);

fn part(field: &Field, (start, length): (u8, u8), sql: &mut Sql) {
    sql.push("CAST(substr(").ident(field.name);
    sql.push(&format!(", {start}, {length}) AS BIGINT)"));
}

/// Hours, minutes or seconds since the start of the Julian day count.
fn time_index(field: &Field, unit: Unit, sql: &mut Sql) {
    let (coarser, within) = match unit {
        Unit::Second => (Unit::Minute, SECOND),
        Unit::Minute => (Unit::Hour, MINUTE),
        _ => {
            julian_day(field, sql);
            sql.push(" * 24 + ");
            return part(field, HOUR, sql);
        }
    };
    sql.push("(");
    time_index(field, coarser, sql);
    sql.push(") * 60 + ");
    part(field, within, sql);
}

/// The Julian day number of a date-time's date (2451545 for 2000-01-01).
fn julian_day(field: &Field, sql: &mut Sql) {
    match sql.dialect {
        Dialect::Sqlite => {
            sql.push("CAST(julianday(substr(")
                .ident(field.name)
                .push(", 1, 10)) + 0.5 AS BIGINT)");
        }
        Dialect::Postgres => {
            sql.push("(CAST(CAST(substr(")
                .ident(field.name)
                .push(", 1, 10) AS date) - DATE '2000-01-01' AS BIGINT) + 2451545)");
        }
    }
}

fn position(field: &Field, needle: &str, sql: &mut Sql) {
    sql.push(match sql.dialect {
        Dialect::Sqlite => "instr(",
        Dialect::Postgres => "strpos(",
    });
    sql.ident(field.name)
        .push(", ")
        .bind(Value::Text(needle.to_owned()))
        .push(")");
}

fn in_list(values: &[Value], sql: &mut Sql) {
    sql.push(" IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(v.clone());
    }
    sql.push(")");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::OffsetDateTime;

    use super::super::select;
    use super::*;
    use crate::model::dates::{self, Unit};
    use crate::model::filter::{Asker, QueryContext, resolve};
    use crate::model::query::parse;
    use crate::model::registry::{field, table};
    use crate::model::value::format_date_time;

    fn sql_for(t: &str, q: &str, dialect: Dialect) -> Sql {
        let t = table(t).unwrap();
        select(
            t,
            &resolve(t, &parse(q).unwrap(), &QueryContext::now(Asker::Nobody)).unwrap(),
            dialect,
        )
    }

    /// The WHERE clause alone.
    fn where_of(t: &str, q: &str, dialect: Dialect) -> String {
        let sql = sql_for(t, q, dialect);
        let start = sql.text.find(" WHERE ").expect("a WHERE clause") + 7;
        let end = sql.text.rfind(" ORDER BY ").unwrap();
        sql.text[start..end].to_owned()
    }

    #[test]
    fn every_operand_is_a_placeholder() {
        for q in [
            "opened_atONToday^ORopened_atNOTON2024-01-01",
            "opened_atRELATIVEGT@hour@ago@1^opened_atRELATIVELT@day@ahead@2",
            "opened_atDATEPARTMon@javascript:gs.datePart('dayofweek','monday','GE')",
            "opened_atMORETHANclosed_at@quarter@before@1^opened_atLESSTHANclosed_at@second@after@5",
            "opened_atSAMEASclosed_at@week^ORopened_atNSAMEASclosed_at",
            "assigned_to*Don^assigned_to!*liffe^assigned_to%e^assigned_toSTARTSWITHD",
            "opened_atBETWEENjavascript:gs.beginningOfLastMonth()@javascript:gs.endOfToday()",
        ] {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let sql = sql_for("interaction", q, dialect);
                let placeholders = match dialect {
                    Dialect::Sqlite => sql.text.matches('?').count(),
                    Dialect::Postgres => sql.text.matches('$').count(),
                };
                assert_eq!(placeholders, sql.params.len(), "{q}: {}", sql.text);
            }
        }
    }

    #[test]
    fn a_reference_text_test_reads_the_referenced_records() {
        assert_eq!(
            where_of("interaction", "assigned_toSTARTSWITHDon", Dialect::Sqlite),
            "\"assigned_to\" IN (SELECT \"sys_id\" FROM \"sys_user\" WHERE \
             (substr(\"name\", 1, ?) = ? \
             OR (\"name\" IS NULL AND substr(\"user_name\", 1, ?) = ?) \
             OR (\"name\" IS NULL AND \"user_name\" IS NULL AND substr(\"sys_id\", 1, ?) = ?)))"
        );
        assert_eq!(
            where_of("sys_user_has_role", "user!*x", Dialect::Postgres),
            "(\"user\" IS NULL OR \"user\" NOT IN (SELECT \"sys_id\" FROM \"sys_user\" WHERE \
             (strpos(\"name\", $1) > 0 \
             OR (\"name\" IS NULL AND strpos(\"user_name\", $2) > 0) \
             OR (\"name\" IS NULL AND \"user_name\" IS NULL AND strpos(\"sys_id\", $3) > 0))))"
        );
    }

    #[test]
    fn negations_keep_empty_values() {
        assert_eq!(
            where_of("interaction", "opened_atNOTON2024-01-01", Dialect::Sqlite),
            "(\"opened_at\" < ? OR \"opened_at\" > ? OR \"opened_at\" IS NULL)"
        );
        assert_eq!(
            where_of("sys_user", "first_nameNSAMEASlast_name", Dialect::Postgres),
            "(\"first_name\" <> \"last_name\" OR \"first_name\" IS NULL OR \"last_name\" IS NULL)"
        );
        assert_eq!(
            where_of("sys_user", "first_nameSAMEASlast_name", Dialect::Sqlite),
            "\"first_name\" = \"last_name\""
        );
    }

    #[test]
    fn dates_are_read_by_position_in_either_dialect() {
        assert_eq!(
            where_of(
                "interaction",
                "opened_atSAMEASclosed_at@month",
                Dialect::Sqlite
            ),
            "(CAST(substr(\"opened_at\", 1, 4) AS BIGINT) * 12 + \
             CAST(substr(\"opened_at\", 6, 2) AS BIGINT)) = \
             (CAST(substr(\"closed_at\", 1, 4) AS BIGINT) * 12 + \
             CAST(substr(\"closed_at\", 6, 2) AS BIGINT))"
        );
        assert_eq!(
            where_of(
                "interaction",
                "opened_atMORETHANclosed_at@day@before@2",
                Dialect::Postgres
            ),
            "((CAST(CAST(substr(\"closed_at\", 1, 10) AS date) - DATE '2000-01-01' AS BIGINT) \
             + 2451545) - (CAST(CAST(substr(\"opened_at\", 1, 10) AS date) - DATE '2000-01-01' \
             AS BIGINT) + 2451545)) > $1"
        );
        let q = "opened_atDATEPARTx@javascript:gs.datePart('dayofweek','friday','LT')";
        assert_eq!(
            where_of("interaction", q, Dialect::Sqlite),
            "((CAST(julianday(substr(\"opened_at\", 1, 10)) + 0.5 AS BIGINT) + 1) % 7 + 1) < ?"
        );
        let sql = sql_for(
            "interaction",
            "opened_atLESSTHANclosed_at@hour@after@3",
            Dialect::Sqlite,
        );
        assert!(sql.text.contains(") BETWEEN 0 AND ?"), "{}", sql.text);
        assert!(sql.params.contains(&Value::Int(2)), "{:?}", sql.params);
    }

    /// What `unit_index` and the weekday expression give for one date-time, run by SQLite.
    fn on_sqlite(at: &str) -> (Vec<i64>, i64) {
        let opened = field!(INTERACTION, opened_at);
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("SELECT ");
        for unit in Unit::ALL {
            unit_index(opened, unit, &mut sql);
            sql.push(", ");
        }
        sql.push("(");
        julian_day(opened, &mut sql);
        sql.push(" + 1) % 7 + 1 FROM t");
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch("CREATE TABLE t (opened_at TEXT)").unwrap();
        db.execute("INSERT INTO t VALUES (?1)", [at]).unwrap();
        db.query_row(&sql.text, [], |row| {
            let units = (0..Unit::ALL.len())
                .map(|i| row.get(i))
                .collect::<Result<_, _>>()?;
            Ok((units, row.get(Unit::ALL.len())?))
        })
        .unwrap()
    }

    fn date_time() -> impl Strategy<Value = OffsetDateTime> {
        // 1900-01-01 to 2100-12-31.
        (-2_208_988_800i64..4_133_980_799)
            .prop_map(|s| OffsetDateTime::from_unix_timestamp(s).expect("within time's range"))
    }

    proptest! {
        #![proptest_config(crate::proptest_config::config())]

        /// Two date-times have the same index for a unit exactly when they fall in the same
        /// unit of the calendar (weeks from Monday), days count calendar days, and the weekday
        /// is Sunday 1 to Saturday 7.
        #[test]
        fn unit_indexes_follow_the_calendar(a in date_time(), b in date_time(), near in 0i64..900_000) {
            let b = if near % 2 == 0 { b } else { a + time::Duration::seconds(near) };
            let (a_units, a_weekday) = on_sqlite(&format_date_time(a));
            let (b_units, _) = on_sqlite(&format_date_time(b));
            for (i, unit) in Unit::ALL.into_iter().enumerate() {
                let same = dates::start_of(a, unit) == dates::start_of(b, unit);
                prop_assert_eq!(a_units[i] == b_units[i], same, "{:?} {} {}", unit, a, b);
                if unit == Unit::Day {
                    let days = a.date().to_julian_day() - b.date().to_julian_day();
                    prop_assert_eq!(a_units[i] - b_units[i], i64::from(days));
                }
            }
            prop_assert_eq!(a_weekday, i64::from(a.weekday().number_from_sunday()));
        }
    }
}
