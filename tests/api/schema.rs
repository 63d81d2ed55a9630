//! The database schema and the table registry must not drift apart.

use switchboard::model::registry::TABLES;

#[tokio::test]
async fn sqlite_columns_match_the_registry_in_order() {
    let db = super::helpers::TestDb::new();
    let store = switchboard::storage::open(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    for table in TABLES {
        let columns = store.columns(table.name).await.unwrap();
        let fields: Vec<&str> = table.fields.iter().map(|f| f.name).collect();
        assert_eq!(columns, fields, "table {}", table.name);
    }
    store.close().await;
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let db = super::helpers::TestDb::new();
    let url = db.url.clone();
    for _ in 0..2 {
        let store = switchboard::storage::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.close().await;
    }
}
