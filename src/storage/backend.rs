//! What the SQL backends share beyond the SQL text: the helpers that run a statement, and the
//! `Tx` methods that differ only by dialect and driver types, written once.

/// Defines, in a backend module, `arguments`, `fetch`, `execute` and `impl Tx for $tx` (whose
/// struct holds its sqlx transaction in a field `tx`). The backend supplies its own
/// `on_constraint` and, in `extra`, the `Tx` methods that truly differ (locks, notifications,
/// counters).
macro_rules! sql_backend {
    (
        tx: $tx:ident,
        dialect: $dialect:expr,
        connection: $conn:ty,
        arguments: $args:ty,
        extra: { $($extra:tt)* }
    ) => {
        fn arguments(params: Vec<Value>) -> Result<$args> {
            super::rows::arguments(params)
        }

        async fn fetch(conn: &mut $conn, table: &Table, sql: Sql) -> Result<Vec<Record>> {
            let rows = sqlx::query_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| on_constraint(table, e))?;
            rows.iter().map(|row| super::rows::decode(table, row)).collect()
        }

        async fn execute(conn: &mut $conn, table: &Table, sql: Sql) -> Result<u64> {
            sqlx::query_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
                .map_err(|e| on_constraint(table, e))
        }

        #[async_trait]
        impl Tx for $tx {
            async fn select(&mut self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
                fetch(&mut self.tx, table, sql::select(table, select, $dialect)).await
            }

            async fn insert(&mut self, table: &'static Table, record: &Record) -> Result<()> {
                execute(&mut self.tx, table, sql::insert(table, record, $dialect)).await?;
                Ok(())
            }

            async fn upsert(
                &mut self,
                table: &'static Table,
                record: &Record,
                key: &[&str],
                update: &[&str],
            ) -> Result<String> {
                let sql = sql::upsert(table, record, key, update, $dialect);
                sqlx::query_scalar_with(AssertSqlSafe(sql.text), arguments(sql.params)?)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(|e| on_constraint(table, e))
            }

            async fn update(&mut self, table: &'static Table, sys_id: &str, changes: &Record) -> Result<bool> {
                let sql = sql::update(table, sys_id, changes, $dialect);
                Ok(execute(&mut self.tx, table, sql).await? > 0)
            }

            async fn delete(&mut self, table: &'static Table, sys_id: &str) -> Result<bool> {
                let sql = sql::delete(table, sys_id, $dialect);
                Ok(execute(&mut self.tx, table, sql).await? > 0)
            }

            async fn commit(self: Box<Self>) -> Result<()> {
                self.tx.commit().await?;
                Ok(())
            }

            $($extra)*
        }
    };
}

pub(super) use sql_backend;
