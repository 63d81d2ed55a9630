//! The PostgreSQL backend: for several switchboard nodes on one database (or a
//! PostgreSQL-compatible distributed SQL engine).
//!
//! What makes several nodes safe: interaction numbers from a sequence; rows about to change are
//! read `FOR UPDATE`; derived data (roles) is recomputed under a transaction-scoped advisory
//! lock; agent mappings are upserted on their unique key; identity changes are announced with
//! `NOTIFY` so every node empties its credential cache.

mod error;
mod exec;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres, Transaction};

use self::exec::{execute, fetch, scalar};
use super::sql::{self, Dialect};
use super::{
    IDENTITY_CHANNEL, IdentityListener, IdentityNews, IdentityWatch, PoolSettings, RawTx, Result,
    Storage, StorageError, Tx,
};
use crate::model::aggregate::{Aggregation, Group};
use crate::model::filter::{Filter, Select};
use crate::model::registry::Table;
use crate::model::value::Record;

pub struct PgStore {
    pool: PgPool,
    /// Told when a transaction of this node changes users, roles or grants.
    identity: IdentityWatch,
    /// Sent with this node's identity notifications (after the schema), so that its listener
    /// skips them: its own transactions told it already, at commit.
    node: Arc<str>,
}

impl PgStore {
    pub async fn open(url: &str, settings: &PoolSettings) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?;
        // Named in pg_stat_activity; an `application_name` in the URL (one per node, say) wins.
        if options.get_application_name().is_none() {
            options = options.application_name("switchboard");
        }
        reachable(url, &options, settings.acquire_timeout).await?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(PgStore {
            pool,
            identity: IdentityWatch::default(),
            node: crate::model::value::new_sys_id().into(),
        })
    }
}

/// Connects once before the pool is made, so that a server that cannot be reached is reported
/// at once, with its address and the reason (the pool would only say "pool timed out" after
/// its acquire timeout).
async fn reachable(url: &str, options: &PgConnectOptions, wait: Duration) -> Result<()> {
    let unreachable = |cause: String| StorageError::Unreachable {
        url: super::redact(url),
        cause,
    };
    match tokio::time::timeout(wait, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            wait.as_secs_f32()
        ))),
    }
}

#[async_trait]
impl Storage for PgStore {
    async fn select(&self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
        let mut conn = self.pool.acquire().await.map_err(error::connect)?;
        fetch(
            &mut conn,
            table,
            sql::select(table, select, Dialect::Postgres),
        )
        .await
    }

    async fn count(&self, table: &'static Table, filter: &Filter) -> Result<u64> {
        let sql = sql::count(table, filter, Dialect::Postgres);
        let mut conn = self.pool.acquire().await.map_err(error::connect)?;
        let n: i64 = scalar(&mut conn, table, sql).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn aggregate(
        &self,
        table: &'static Table,
        aggregation: &Aggregation,
    ) -> Result<Vec<Group>> {
        let sql = sql::aggregate(table, aggregation, Dialect::Postgres);
        let mut conn = self.pool.acquire().await.map_err(error::connect)?;
        exec::fetch_groups(&mut conn, table, aggregation, sql).await
    }

    async fn begin(&self) -> Result<Tx> {
        let raw = PgTx {
            tx: self.pool.begin().await.map_err(error::connect)?,
            node: self.node.clone(),
        };
        Ok(Tx::new(Box::new(raw), self.identity.clone()))
    }

    /// sqlx holds a PostgreSQL advisory lock while it migrates, so nodes starting at once take
    /// turns and each migration runs once.
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    /// Until LISTEN succeeds, and from the moment its connection is lost until LISTEN succeeds
    /// again, this node is told it is deaf: a notification sent in between is lost, so nothing
    /// it learns then (a credential checked against rows another node is changing) may be kept.
    fn watch_identity_changes(&self, news: IdentityListener) {
        self.identity.set(news.clone());
        let pool = self.pool.clone();
        let node = self.node.clone();
        news(IdentityNews::Deaf);
        tokio::spawn(async move {
            while !pool.is_closed() {
                if let Err(e) = listen(&pool, &node, &*news).await {
                    tracing::warn!("identity-change listener: {e}; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// Passes on every identity-change notification, from LISTEN until the connection is lost;
/// says [`IdentityNews::Listening`] once listening and [`IdentityNews::Deaf`] when it stops.
async fn listen(
    pool: &PgPool,
    node: &str,
    news: &(dyn Fn(IdentityNews) + Send + Sync),
) -> Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Nodes on other schemas of the same database share the channel but not the data.
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut listener)
        .await?;
    listener.listen(IDENTITY_CHANNEL).await?;
    news(IdentityNews::Listening);
    let ended = loop {
        match listener.try_recv().await {
            Ok(Some(notice)) => {
                let (from_schema, from_node) =
                    notice.payload().rsplit_once('/').unwrap_or_default();
                if from_schema == schema && from_node != node {
                    news(IdentityNews::Changed);
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.into()),
        }
    };
    news(IdentityNews::Deaf);
    ended
}

struct PgTx {
    tx: Transaction<'static, Postgres>,
    /// The node's id: its notifications say `schema/node`.
    node: Arc<str>,
}

#[async_trait]
impl RawTx for PgTx {
    async fn select(&mut self, table: &'static Table, select: &Select) -> Result<Vec<Record>> {
        fetch(
            &mut self.tx,
            table,
            sql::select(table, select, Dialect::Postgres),
        )
        .await
    }

    async fn insert(&mut self, table: &'static Table, record: &Record) -> Result<()> {
        execute(
            &mut self.tx,
            table,
            sql::insert(table, record, Dialect::Postgres),
        )
        .await?;
        Ok(())
    }

    async fn upsert(
        &mut self,
        table: &'static Table,
        record: &Record,
        key: &[&str],
        update: &[&str],
    ) -> Result<String> {
        let sql = sql::upsert(table, record, key, update, Dialect::Postgres);
        scalar(&mut self.tx, table, sql).await
    }

    async fn update(
        &mut self,
        table: &'static Table,
        sys_id: &str,
        changes: &Record,
    ) -> Result<bool> {
        let sql = sql::update(table, sys_id, changes, Dialect::Postgres);
        Ok(execute(&mut self.tx, table, sql).await? > 0)
    }

    async fn delete_where(&mut self, table: &'static Table, filter: &Filter) -> Result<u64> {
        let sql = sql::delete_where(table, filter, Dialect::Postgres);
        execute(&mut self.tx, table, sql).await
    }

    async fn delete(&mut self, table: &'static Table, sys_id: &str) -> Result<bool> {
        let sql = sql::delete(table, sys_id, Dialect::Postgres);
        Ok(execute(&mut self.tx, table, sql).await? > 0)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    async fn lock(&mut self, name: &str) -> Result<()> {
        // Keyed by schema too, so databases shared by several schemas do not contend.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':' || $1))")
            .bind(name)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn notify(&mut self, channel: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, current_schema() || '/' || $2)")
            .bind(channel)
            .bind(&*self.node)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn next_number(&mut self, counter: &str) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT nextval($1::regclass)")
            .bind(format!("sys_counter_{counter}"))
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn raise_counter(&mut self, counter: &str, at_least: i64) -> Result<()> {
        sqlx::query(
            "SELECT setval($1::regclass, GREATEST($2::bigint, 1, \
         COALESCE(pg_sequence_last_value($1::regclass), 0)))",
        )
        .bind(format!("sys_counter_{counter}"))
        .bind(at_least)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The counters are the schema's `sys_counter_*` sequences.
    async fn counters(&mut self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT substr(sequencename, 13), COALESCE(last_value, 0) FROM pg_sequences \
             WHERE schemaname = current_schema() AND sequencename LIKE 'sys\\_counter\\_%'",
        )
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn set_counter(&mut self, counter: &str, last: i64) -> Result<()> {
        sqlx::query("SELECT setval($1::regclass, GREATEST($2::bigint, 1), $2::bigint > 0)")
            .bind(format!("sys_counter_{counter}"))
            .bind(last)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn run_script(&mut self, sql: &str) -> Result<()> {
        let script = sqlx::AssertSqlSafe(sql.to_owned());
        sqlx::raw_sql(script).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_tables(&mut self, tables: &[&str]) -> Result<()> {
        let lock = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", tables.join(", "));
        sqlx::raw_sql(sqlx::AssertSqlSafe(lock))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<String>>> {
        use sqlx::Row as _;
        let query = sqlx::AssertSqlSafe(sql.to_owned());
        let rows = sqlx::query(query).fetch_all(&mut *self.tx).await?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| Ok(row.try_get::<Option<String>, _>(i)?.unwrap_or_default()))
                    .collect::<Result<Vec<String>>>()
            })
            .collect()
    }
}
