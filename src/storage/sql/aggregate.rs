//! The SQL of an aggregate query (a child of [`super`], so it uses the same builder, and every
//! value is bound the same way): the group-by columns as stored, then each measure as text.

use super::conditions::operator;
use super::{Dialect, Sql, where_clause};
use crate::model::aggregate::{Aggregation, Function, Measure, OrderKey};
use crate::model::registry::Table;
use crate::model::value::Value;

pub fn aggregate(table: &Table, aggregation: &Aggregation, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT ");
    let mut first = true;
    for field in &aggregation.group_by {
        if !std::mem::take(&mut first) {
            sql.push(", ");
        }
        sql.ident(field.name);
    }
    for measure in &aggregation.measures {
        if !std::mem::take(&mut first) {
            sql.push(", ");
        }
        sql.push("CAST(");
        measure_expression(*measure, &mut sql);
        sql.push(" AS TEXT)");
    }
    sql.push(" FROM ").ident(table.name);
    where_clause(&aggregation.filter, &mut sql);
    if !aggregation.group_by.is_empty() {
        sql.push(" GROUP BY ");
        for (i, field) in aggregation.group_by.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(field.name);
        }
    }
    for (i, having) in aggregation.having.iter().enumerate() {
        sql.push(if i == 0 { " HAVING " } else { " AND " });
        measure_expression(having.measure, &mut sql);
        sql.push(" ").push(operator(having.op)).push(" ");
        // Bound as text and cast, so that the number compares as a number on both backends.
        sql.push("CAST(")
            .bind(Value::Text(having.value.to_string()));
        sql.push(match dialect {
            Dialect::Sqlite => " AS REAL)",
            Dialect::Postgres => " AS DOUBLE PRECISION)",
        });
    }
    if !aggregation.group_by.is_empty() {
        sql.push(" ORDER BY ");
        for (key, descending) in &aggregation.order {
            match key {
                OrderKey::Field(field) => {
                    sql.ident(field.name);
                }
                OrderKey::Measure(measure) => measure_expression(*measure, &mut sql),
            }
            sql.push(if *descending {
                " DESC NULLS LAST, "
            } else {
                " ASC NULLS FIRST, "
            });
        }
        // The groups themselves break ties, so the order is the same on every run.
        for (i, field) in aggregation.group_by.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(field.name).push(" ASC NULLS FIRST");
        }
    }
    sql
}

fn measure_expression(measure: Measure, sql: &mut Sql) {
    match measure {
        Measure::Count => {
            sql.push("COUNT(*)");
        }
        Measure::Of(function, field) => {
            sql.push(match function {
                Function::Avg => "AVG(",
                Function::Min => "MIN(",
                Function::Max => "MAX(",
                Function::Sum => "SUM(",
            });
            sql.ident(field.name).push(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::aggregate::Having;
    use crate::model::filter::Cmp;
    use crate::model::filter::Filter;
    use crate::model::registry::{INTERACTION, field};

    #[test]
    fn groups_measures_having_and_order_with_every_value_bound() {
        let aggregation = Aggregation {
            filter: Filter::eq(field!(INTERACTION, state), Value::text("new")),
            group_by: vec![field!(INTERACTION, channel)],
            measures: vec![
                Measure::Count,
                Measure::Of(Function::Max, field!(INTERACTION, opened_at)),
            ],
            having: vec![Having {
                measure: Measure::Count,
                op: Cmp::Gt,
                value: 2.0,
            }],
            order: vec![(OrderKey::Measure(Measure::Count), true)],
        };
        let sql = aggregate(&INTERACTION, &aggregation, Dialect::Postgres);
        assert_eq!(
            sql.text,
            "SELECT \"channel\", CAST(COUNT(*) AS TEXT), CAST(MAX(\"opened_at\") AS TEXT) \
             FROM \"interaction\" WHERE \"state\" = $1 GROUP BY \"channel\" \
             HAVING COUNT(*) > CAST($2 AS DOUBLE PRECISION) \
             ORDER BY COUNT(*) DESC NULLS LAST, \"channel\" ASC NULLS FIRST"
        );
        assert_eq!(sql.params, vec![Value::text("new"), Value::text("2")]);
    }
}
