//! The encoded-query parser (`sysparm_query`), and what the Table API does with its result:
//! resolve it against a table (field names, typed values) and build the SQL for both dialects.
//! Never a panic; the parser's limits hold; errors stay short; every value is a bound parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::model::filter::{self, Asker, QueryContext};
use switchboard::model::query::{self, MAX_CONDITIONS, MAX_IN_VALUES, MAX_ORDER_BY, Operator};
use switchboard::model::registry::TABLES;
use switchboard::storage::sql::{self, Dialect};

fuzz_target!(|data: &[u8]| {
    // The HTTP layer refuses a query string that is not UTF-8 once percent-decoded.
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = match query::parse(input) {
        Ok(parsed) => parsed,
        Err(e) => {
            // As `query::properties::error_messages_stay_short`.
            assert!(e.message.chars().count() < 160, "{}", e.message);
            return;
        }
    };
    let conditions = parsed.alternatives.iter().flat_map(|a| &a.clauses);
    let conditions: Vec<_> = conditions.flat_map(|d| &d.conditions).collect();
    assert!(conditions.len() <= MAX_CONDITIONS);
    assert!(parsed.order_by.len() <= MAX_ORDER_BY);
    for condition in &conditions {
        if let Operator::In(values) | Operator::NotIn(values) = &condition.op {
            assert!(values.len() <= MAX_IN_VALUES);
        }
    }
    // One table per input, chosen by its length, so that every table is reached; resolved for
    // no one or for a user, so that a caller's values are both refused and read.
    let table = TABLES[input.len() % TABLES.len()];
    let asker = match input.len() / TABLES.len() % 2 {
        0 => Asker::Nobody,
        _ => Asker::User {
            sys_id: "6816f79cc0a8016401c5a33be04be441",
            user_name: "fuzz",
        },
    };
    if let Ok(select) = filter::resolve(table, &parsed, &QueryContext::now(asker)) {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let statement = sql::select(table, &select, dialect);
            // Values are bound, never spliced: one placeholder per parameter.
            let placeholders = match dialect {
                Dialect::Sqlite => statement.text.matches('?').count(),
                Dialect::Postgres => (1..=statement.params.len())
                    .filter(|n| statement.text.contains(&format!("${n}")))
                    .count(),
            };
            assert_eq!(placeholders, statement.params.len(), "{}", statement.text);
            let _ = sql::count(table, &select.filter, dialect);
        }
    }
});
