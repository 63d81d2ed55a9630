//! The database schema and the table registry must not drift apart. The columns are read from
//! the database itself (SQLite's `pragma_table_info`, PostgreSQL's `information_schema`), not
//! through switchboard's storage.

use std::collections::BTreeMap;

use crate::helpers::{TestDb, on_postgres};
use switchboard::model::registry::TABLES;

/// Every table's columns, in order.
async fn columns(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let sql = if on_postgres() {
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    } else {
        "SELECT m.name, p.name FROM sqlite_schema m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' ORDER BY m.name, p.cid"
    };
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in db.query(sql).await {
        let [table, column] = <[String; 2]>::try_from(row).expect("two columns");
        columns.entry(table).or_default().push(column);
    }
    columns
}

/// The migrations' bookkeeping and everything the schema holds (tables, columns, indexes), as
/// text to compare.
async fn state(db: &TestDb) -> Vec<Vec<String>> {
    let (migrations, schema) = if on_postgres() {
        (
            "SELECT version::text, description, installed_on::text, success::text, \
             encode(checksum, 'hex'), execution_time::text FROM _sqlx_migrations ORDER BY version",
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY indexname",
        )
    } else {
        (
            "SELECT * FROM _sqlx_migrations ORDER BY version",
            "SELECT type, name, sql FROM sqlite_schema ORDER BY name",
        )
    };
    let mut state = db.query(migrations).await;
    state.extend(db.query(schema).await);
    state.extend(
        columns(db)
            .await
            .into_iter()
            .map(|(t, c)| [vec![t], c].concat()),
    );
    state
}

#[tokio::test]
async fn sqlite_columns_match_the_registry_in_order() {
    let db = TestDb::new();
    let store = switchboard::storage::open(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let columns = columns(&db).await;
    for table in TABLES {
        let fields: Vec<&str> = table.fields.iter().map(|f| f.name).collect();
        assert_eq!(
            columns.get(table.name).cloned().unwrap_or_default(),
            fields,
            "table {}",
            table.name
        );
    }
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let db = TestDb::new();
    let url = db.url.clone();
    let mut states = Vec::new();
    for _ in 0..2 {
        let store = switchboard::storage::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.close().await;
        states.push(state(&db).await);
    }
    assert!(states[0].len() > 10, "{:?}", states[0]);
    assert_eq!(states[0], states[1]);
}
