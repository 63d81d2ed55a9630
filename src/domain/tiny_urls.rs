//! Tiny URLs: a long query string stored under a short id (`sys_tiny_url`), so that a client
//! whose GET would be too long (Ansible's servicenow.itsm past 2,048 characters) can send
//! `sysparm_tiny=<id>` instead.

use sha2::{Digest, Sha256};

use super::{Changes, Result};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, field};
use crate::model::value::{self, Value};
use crate::storage::{Storage, Tx};

/// The id of a tiny URL for `query` (a query string, without `?`): the existing one if this
/// query string has one already, else a new one.
pub async fn shorten(tx: &mut Tx, query: &str, actor: &str) -> Result<String> {
    let table = &registry::SYS_TINY_URL;
    let changes = Changes::default()
        .set(
            field!(SYS_TINY_URL, tiny_url),
            Value::Text(value::new_sys_id()),
        )
        .set(field!(SYS_TINY_URL, data), Value::text(query))
        .set(field!(SYS_TINY_URL, data_hash), Value::Text(hash(query)));
    // One query string, one tiny URL: concurrent first requests agree on it.
    let (sys_id, _) = super::upsert(tx, table, changes, &["data_hash"], &["data"], actor).await?;
    let stored = tx.get(table, &sys_id).await?;
    Ok(stored
        .as_ref()
        .and_then(|r| r.str("tiny_url"))
        .unwrap_or_default()
        .to_owned())
}

/// The query string stored under a tiny URL's id, if there is one.
pub async fn expand(store: &dyn Storage, tiny: &str) -> Result<Option<String>> {
    let select = Select::filter(Filter::eq(
        field!(SYS_TINY_URL, tiny_url),
        Value::text(tiny),
    ))
    .limit(1);
    let found = store.select(&registry::SYS_TINY_URL, &select).await?.pop();
    Ok(found.and_then(|r| r.str("data").map(str::to_owned)))
}

fn hash(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}
