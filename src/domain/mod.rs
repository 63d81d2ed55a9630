//! Rules about records, knowing nothing of HTTP. Writing records: every write path (Table API and the seed APIs) goes through these functions,
//! so the rules of [`rules`] hold whatever the client used.

pub mod attachments;
pub mod awa_presence;
pub mod awa_work;
pub mod events;
pub mod external_ids;
pub mod grants;
pub mod input;
pub mod interactions;
pub mod mappings;
pub mod members;
pub mod password;
pub mod roles;
pub mod rules;
pub mod supervision;
pub mod tiny_urls;
pub mod tokens;
pub mod wrap_up;

use std::future::Future;
use std::pin::Pin;

use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, FieldType, OnDelete, Table};
use crate::model::value::{self, Record, Value, is_sys_id};
use crate::storage::{StorageError, Tx};
pub use input::{Changes, Pending};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A field value the platform would refuse: 400.
    #[error("Invalid value for field '{field}': {message}")]
    Invalid { field: String, message: String },
    /// A business rule refused the write: 403.
    #[error("{0}")]
    Forbidden(String),
    #[error("No Record found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Hashing(#[from] crate::domain::password::HashError),
}

impl RecordError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        RecordError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = RecordError> = std::result::Result<T, E>;

/// Inserts a record built from `changes`, with defaults, sys fields and the table's rules.
/// `sys_id` may be chosen by the caller.
pub async fn insert(
    tx: &mut Tx,
    table: &'static Table,
    sys_id: Option<String>,
    changes: Changes,
    actor: &str,
) -> Result<Record> {
    let rec = build(tx, table, sys_id, changes, actor).await?;
    tx.insert(table, &rec).await?;
    rules::after_write(tx, table, None, Some(&rec)).await?;
    Ok(rec)
}

/// Inserts a record unless one with the same values of the unique `key` exists, in which case
/// that record's `update` fields take the new values. Returns the record's sys_id and whether it
/// was created. For tables whose rules need no before/after hooks (agent mappings).
pub async fn upsert(
    tx: &mut Tx,
    table: &'static Table,
    changes: Changes,
    key: &[&str],
    update: &[&str],
    actor: &str,
) -> Result<(String, bool)> {
    debug_assert!(
        table.unique.contains(&key),
        "{}: {key:?} is not a unique key",
        table.name
    );
    let rec = build(tx, table, None, changes, actor).await?;
    let id = tx.upsert(table, &rec, key, update).await?;
    let created = id == rec.sys_id();
    Ok((id, created))
}

/// A new record: defaults, sys fields, the caller's changes, and the table's insert rules.
async fn build(
    tx: &mut Tx,
    table: &'static Table,
    sys_id: Option<String>,
    changes: Changes,
    actor: &str,
) -> Result<Record> {
    let sys_id = match sys_id {
        Some(id) if is_sys_id(&id) => id,
        Some(_) => {
            return Err(RecordError::invalid(
                "sys_id",
                "must be 32 lowercase hexadecimal characters",
            ));
        }
        None => value::new_sys_id(),
    };
    let now = value::now();
    let mut rec = Record::new();
    for f in table.fields {
        let v = match f.default {
            Some(d) => default_value(f, d),
            None => Value::Null,
        };
        rec.set(f.name, v);
    }
    rec.set("sys_id", Value::Text(sys_id));
    rec.set("sys_created_on", Value::Text(now.clone()));
    rec.set("sys_updated_on", Value::Text(now));
    rec.set("sys_created_by", Value::text(actor));
    rec.set("sys_updated_by", Value::text(actor));
    rec.set("sys_mod_count", Value::Int(0));
    apply(tx, &mut rec, changes).await?;
    rules::before_insert(tx, table, &mut rec).await?;
    Ok(rec)
}

/// Applies `changes` to an existing record; `NotFound` if there is none.
pub async fn update(
    tx: &mut Tx,
    table: &'static Table,
    sys_id: &str,
    changes: Changes,
    actor: &str,
) -> Result<Record> {
    // A record that may be deactivated may be a document with AWA work items, which its close
    // ends under the document's lock: that lock before the record's, as AWA takes them.
    let deactivating = table.field("active").is_some_and(|f| changes.sets(f));
    if deactivating && table != &registry::AWA_WORK_ITEM {
        awa_work::lock_document(tx, table.name, sys_id).await?;
    }
    let before = tx
        .get_locked(table, sys_id)
        .await?
        .ok_or(RecordError::NotFound)?;
    let mut rec = before.clone();
    apply(tx, &mut rec, changes).await?;
    rules::before_update(tx, table, &before, &mut rec).await?;
    if rec == before {
        // Like the platform, an update that changes nothing writes nothing.
        return Ok(before);
    }
    rec.set("sys_updated_on", Value::Text(value::now()));
    rec.set("sys_updated_by", Value::text(actor));
    let count = match before.get("sys_mod_count") {
        Value::Int(n) => n.saturating_add(1),
        _ => 1,
    };
    rec.set("sys_mod_count", Value::Int(count));
    let mut diff = Record::new();
    for (name, value) in &rec.0 {
        if before.get(name) != value {
            diff.set(name, value.clone());
        }
    }
    tx.update(table, sys_id, &diff).await?;
    rules::after_write(tx, table, Some(&before), Some(&rec)).await?;
    Ok(rec)
}

/// Deletes a record; records that reference it are deleted or cleared by their cascade rule,
/// and its attachments go with it.
pub fn delete<'a>(
    tx: &'a mut Tx,
    table: &'static Table,
    sys_id: &'a str,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let before = tx
            .get_locked(table, sys_id)
            .await?
            .ok_or(RecordError::NotFound)?;
        attachments::detach_all(tx, table, sys_id).await?;
        for (referrer, field) in registry::references_to(table) {
            let referring = Filter::eq(field, sys_id.into());
            if field.on_delete == OnDelete::Purge {
                tx.delete_where(referrer, &referring).await?;
                continue;
            }
            for dependant in tx.select(referrer, &Select::filter(referring)).await? {
                let id = dependant.sys_id().to_owned();
                if field.on_delete == OnDelete::Cascade {
                    delete_if_present(&mut *tx, referrer, &id).await?;
                } else {
                    let cleared = Record::new().with(field.name, Value::Null);
                    tx.update(referrer, &id, &cleared).await?;
                }
            }
        }
        tx.delete(table, sys_id).await?;
        rules::after_write(tx, table, Some(&before), None).await?;
        Ok(())
    })
}

/// Deletes a record unless it is already gone: another cascade path may have deleted it (an
/// access token goes with its refresh token and with its user).
pub async fn delete_if_present(tx: &mut Tx, table: &'static Table, sys_id: &str) -> Result<()> {
    match delete(tx, table, sys_id).await {
        Err(RecordError::NotFound) => Ok(()),
        done => done,
    }
}

fn default_value(field: &registry::Field, text: &'static str) -> Value {
    match field.ty {
        registry::FieldType::Boolean => Value::Bool(text == "true"),
        registry::FieldType::Integer => Value::Int(field.integer_default().unwrap_or_default()),
        _ => Value::text(text),
    }
}

/// Sets each changed field, resolving references to the sys_id of exactly one existing record.
///
/// Every reference set here is held (see [`hold`]) until the transaction ends: a reference must
/// not outlive its target, on any backend.
async fn apply(tx: &mut Tx, rec: &mut Record, changes: Changes) -> Result<()> {
    for (field, pending) in changes.0 {
        let value = match pending {
            Pending::Reference(target, given) => {
                Value::Text(resolve_reference(tx, field.name, target, &given).await?)
            }
            Pending::Ready(Value::Text(id)) if let FieldType::Reference(target) = field.ty => {
                hold(tx, field.name, target, &id).await?;
                Value::Text(id)
            }
            Pending::Ready(v) => v,
        };
        rec.set(field.name, value);
    }
    Ok(())
}

/// Holds the record `id` of `target` until the transaction ends, so that a concurrent delete
/// of it waits for this transaction (and then finds, and cascades to, what this one wrote), or
/// this transaction sees it gone and refuses the reference with a 400. On PostgreSQL this is a
/// `FOR KEY SHARE` lock, what a foreign key takes; SQLite's one writer needs none.
async fn hold(tx: &mut Tx, field: &str, target: &'static Table, id: &str) -> Result<()> {
    match tx.hold(target, id).await? {
        true => Ok(()),
        false => Err(RecordError::invalid(
            field,
            format!("no record in {} has sys_id '{id}'", target.name),
        )),
    }
}

/// A reference may name its record by sys_id or by display value (which must be unambiguous).
pub async fn resolve_reference(
    tx: &mut Tx,
    field: &str,
    table: &'static Table,
    given: &str,
) -> Result<String> {
    let target = table.name;
    if is_sys_id(given) && tx.hold(table, given).await? {
        return Ok(given.to_owned());
    }
    let by_display: Vec<Filter> = table
        .display
        .iter()
        .filter_map(|d| table.field(d))
        .map(|d| Filter::eq(d, given.into()))
        .collect();
    let found = if by_display.is_empty() {
        Vec::new()
    } else {
        let select = Select::filter(Filter::Or(by_display))
            .limit(2)
            .locked_as(RowLock::KeyShare);
        tx.select(table, &select).await?
    };
    match found.as_slice() {
        [one] => Ok(one.sys_id().to_owned()),
        [] => Err(RecordError::invalid(
            field,
            format!("no record in {target} has sys_id or display value '{given}'"),
        )),
        _ => Err(RecordError::invalid(
            field,
            format!("more than one record in {target} has the display value '{given}'"),
        )),
    }
}
