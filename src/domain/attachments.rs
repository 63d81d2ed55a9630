//! Attachments: files attached to records (the Attachment API). An attachment is a
//! `sys_attachment` record naming its record by table and sys_id, its content is base64 chunks
//! in `sys_attachment_doc` (as the platform keeps it), and its attributes are key-value pairs
//! in `sys_attachment_attribute`. An attachment goes with its record ([`detach_all`], called by
//! every delete) and its chunks and attributes go with it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Changes, RecordError, Result};
use crate::model::filter::{Filter, Op, Select, SortKey};
use crate::model::registry::{self, Table, field};
use crate::model::value::{Record, Value};
use crate::storage::{Storage, Tx};

/// Bytes of content per `sys_attachment_doc` record (the last one may hold fewer). Small enough
/// that a download holds one chunk at a time in little memory; large enough that a large file
/// is a few thousand records, not millions.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The tables whose records take no attachments: the attachments' own.
fn is_attachment_table(table: &Table) -> bool {
    [
        &registry::SYS_ATTACHMENT,
        &registry::SYS_ATTACHMENT_DOC,
        &registry::SYS_ATTACHMENT_ATTRIBUTE,
    ]
    .contains(&table)
}

/// Whether records of `table` may have attachments.
pub fn attachable(table: &Table) -> bool {
    !is_attachment_table(table)
}

/// A file to attach, checked by the API.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// The new attachment's sys_id, if chosen (the demo's); else a new one.
    pub sys_id: Option<String>,
    /// The table of the record to attach to.
    pub table: &'static Table,
    /// The record's sys_id.
    pub table_sys_id: String,
    pub file_name: String,
    pub content_type: String,
    /// When the file was created, if not now (`creation_time`, for uploads made later).
    pub created_on: Option<String>,
}

/// The content of a file, received whole before the transaction starts: `reader` gives
/// exactly `size` bytes whose SHA-256 is `hash` (hexadecimal).
pub struct Content<'a> {
    pub reader: &'a mut (dyn AsyncRead + Unpin + Send),
    pub size: u64,
    pub hash: String,
}

/// Why an attachment operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The record to attach to does not exist (or its table takes no attachments).
    NoRecord,
    /// An attribute with this key already exists (adding one).
    AttributeExists,
    /// No attribute with this key (changing or deleting one).
    NoAttribute,
}

/// Attaches `content` to the record `new` names, in chunks; the new `sys_attachment` record.
pub async fn attach(
    tx: &mut Tx,
    new: NewAttachment,
    content: Content<'_>,
    actor: &str,
) -> Result<std::result::Result<Record, Refusal>> {
    // Held: a delete of the record waits for this transaction, then deletes what it attached.
    if !attachable(new.table) || !tx.hold(new.table, &new.table_sys_id).await? {
        return Ok(Err(Refusal::NoRecord));
    }
    let mut changes = Changes::default()
        .set(
            field!(SYS_ATTACHMENT, file_name),
            Value::Text(new.file_name),
        )
        .set(
            field!(SYS_ATTACHMENT, content_type),
            Value::Text(new.content_type),
        )
        .set(
            field!(SYS_ATTACHMENT, table_name),
            Value::text(new.table.name),
        )
        .set(
            field!(SYS_ATTACHMENT, table_sys_id),
            Value::Text(new.table_sys_id),
        )
        .set(
            field!(SYS_ATTACHMENT, size_bytes),
            Value::Int(i64::try_from(content.size).unwrap_or(i64::MAX)),
        )
        .set(
            field!(SYS_ATTACHMENT, chunk_size_bytes),
            Value::Int(CHUNK_BYTES as i64),
        )
        .set(field!(SYS_ATTACHMENT, hash), Value::Text(content.hash));
    if let Some(created_on) = new.created_on {
        changes = changes.set(
            field!(SYS_ATTACHMENT, sys_created_on),
            Value::Text(created_on),
        );
    }
    let table = &registry::SYS_ATTACHMENT;
    let attachment = super::insert(tx, table, new.sys_id, changes, actor).await?;
    let written = write_chunks(tx, attachment.sys_id(), content.reader, actor).await?;
    if written != content.size {
        // The spool gave other than it took: nothing of this transaction may be kept.
        return Err(RecordError::invalid(
            "size_bytes",
            format!("the content held {written} bytes, not {}", content.size),
        ));
    }
    Ok(Ok(attachment))
}

/// Writes the content from `reader` as chunks of `attachment`; how many bytes it held.
async fn write_chunks(
    tx: &mut Tx,
    attachment: &str,
    reader: &mut (dyn AsyncRead + Unpin + Send),
    actor: &str,
) -> Result<u64> {
    let mut buffer = vec![0; CHUNK_BYTES];
    let mut written = 0u64;
    for position in 0i64.. {
        let length = fill(reader, &mut buffer).await.map_err(|e| {
            RecordError::invalid("data", format!("the content could not be read: {e}"))
        })?;
        if length == 0 {
            break;
        }
        let changes = Changes::default()
            .set(
                field!(SYS_ATTACHMENT_DOC, sys_attachment),
                Value::text(attachment),
            )
            .set(field!(SYS_ATTACHMENT_DOC, position), Value::Int(position))
            .set(
                field!(SYS_ATTACHMENT_DOC, length),
                Value::Int(length as i64),
            )
            .set(
                field!(SYS_ATTACHMENT_DOC, data),
                Value::Text(BASE64.encode(&buffer[..length])),
            );
        super::insert(tx, &registry::SYS_ATTACHMENT_DOC, None, changes, actor).await?;
        written += length as u64;
    }
    Ok(written)
}

/// Reads until `buffer` is full or the reader ends; how many bytes it holds.
async fn fill(
    reader: &mut (dyn AsyncRead + Unpin + Send),
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Up to `count` chunks of `attachment` from `position` on, decoded, in order: fewer (or none)
/// past the end, or where one is missing (the attachment was deleted meanwhile). One read for
/// several chunks: each read is a round trip to PostgreSQL.
pub async fn chunks(
    store: &dyn Storage,
    attachment: &str,
    position: i64,
    count: u64,
) -> Result<Vec<Vec<u8>>> {
    let at = field!(SYS_ATTACHMENT_DOC, position);
    let mut select = Select::filter(
        Filter::eq(
            field!(SYS_ATTACHMENT_DOC, sys_attachment),
            Value::text(attachment),
        )
        .and(Filter::Cond(at, Op::Ge(Value::Int(position))))
        // Bounded above too: the sort (by position, then sys_id) then takes `count` rows, not
        // every chunk from here to the end of the file.
        .and(Filter::Cond(
            at,
            Op::Lt(Value::Int(position.saturating_add(count as i64))),
        )),
    )
    .limit(count);
    select.order = vec![(SortKey::field(at), false)];
    let docs = store.select(&registry::SYS_ATTACHMENT_DOC, &select).await?;
    let mut decoded = Vec::with_capacity(docs.len());
    for (expected, doc) in (position..).zip(&docs) {
        if doc.get("position") != &Value::Int(expected) {
            break;
        }
        let data = doc.str("data").unwrap_or_default();
        decoded.push(BASE64.decode(data).map_err(|e| {
            RecordError::invalid(
                "data",
                format!("chunk {expected} of attachment {attachment} is not base64: {e}"),
            )
        })?);
    }
    Ok(decoded)
}

/// The attachment `sys_id`, locked until the transaction ends: read before any change to it
/// or its attributes, so that changes to one attachment serialise.
pub async fn find_locked(tx: &mut Tx, sys_id: &str) -> Result<Option<Record>> {
    Ok(tx.get_locked(&registry::SYS_ATTACHMENT, sys_id).await?)
}

/// Renames an attachment; `NotFound` if there is none.
pub async fn rename(tx: &mut Tx, attachment: &str, file_name: &str, actor: &str) -> Result<()> {
    let changes = Changes::default().set(field!(SYS_ATTACHMENT, file_name), Value::text(file_name));
    super::update(tx, &registry::SYS_ATTACHMENT, attachment, changes, actor).await?;
    Ok(())
}

/// Deletes every attachment of the record `sys_id` of `table` (with their chunks and
/// attributes): a record's delete calls it, so that no attachment outlives its record.
pub async fn detach_all(tx: &mut Tx, table: &'static Table, sys_id: &str) -> Result<()> {
    if !attachable(table) {
        return Ok(());
    }
    let select = Select::filter(
        Filter::eq(field!(SYS_ATTACHMENT, table_name), Value::text(table.name)).and(Filter::eq(
            field!(SYS_ATTACHMENT, table_sys_id),
            Value::text(sys_id),
        )),
    )
    .locked();
    for attachment in tx.select(&registry::SYS_ATTACHMENT, &select).await? {
        super::delete_if_present(tx, &registry::SYS_ATTACHMENT, attachment.sys_id()).await?;
    }
    Ok(())
}

/// An attachment's attributes as (key, value), in key order.
pub async fn attributes(store: &dyn Storage, attachment: &str) -> Result<Vec<(String, String)>> {
    let mut select = Select::filter(Filter::eq(
        field!(SYS_ATTACHMENT_ATTRIBUTE, attachment),
        Value::text(attachment),
    ));
    select.order = vec![(SortKey::field(field!(SYS_ATTACHMENT_ATTRIBUTE, key)), false)];
    let records = store
        .select(&registry::SYS_ATTACHMENT_ATTRIBUTE, &select)
        .await?;
    Ok(records.iter().map(key_value).collect())
}

fn key_value(record: &Record) -> (String, String) {
    let text = |name| record.str(name).unwrap_or_default().to_owned();
    (text("key"), text("value"))
}

/// The attribute `key` of `attachment`, read in `tx` with a lock (it is about to change).
async fn attribute_locked(tx: &mut Tx, attachment: &str, key: &str) -> Result<Option<Record>> {
    let select = Select::filter(
        Filter::eq(
            field!(SYS_ATTACHMENT_ATTRIBUTE, attachment),
            Value::text(attachment),
        )
        .and(Filter::eq(
            field!(SYS_ATTACHMENT_ATTRIBUTE, key),
            Value::text(key),
        )),
    )
    .limit(1)
    .locked();
    Ok(tx
        .select(&registry::SYS_ATTACHMENT_ATTRIBUTE, &select)
        .await?
        .pop())
}

/// Adds the attribute `key` to `attachment` (which the caller holds locked, so adds to it
/// serialise); refused if it has one already.
pub async fn add_attribute(
    tx: &mut Tx,
    attachment: &str,
    key: &str,
    value: &str,
    actor: &str,
) -> Result<std::result::Result<(), Refusal>> {
    if attribute_locked(tx, attachment, key).await?.is_some() {
        return Ok(Err(Refusal::AttributeExists));
    }
    let changes = Changes::default()
        .set(
            field!(SYS_ATTACHMENT_ATTRIBUTE, attachment),
            Value::text(attachment),
        )
        .set(field!(SYS_ATTACHMENT_ATTRIBUTE, key), Value::text(key))
        .set(field!(SYS_ATTACHMENT_ATTRIBUTE, value), Value::text(value));
    let table = &registry::SYS_ATTACHMENT_ATTRIBUTE;
    super::insert(tx, table, None, changes, actor).await?;
    Ok(Ok(()))
}

/// Sets the value of the existing attribute `key` of `attachment`.
pub async fn set_attribute(
    tx: &mut Tx,
    attachment: &str,
    key: &str,
    value: &str,
    actor: &str,
) -> Result<std::result::Result<(), Refusal>> {
    let Some(found) = attribute_locked(tx, attachment, key).await? else {
        return Ok(Err(Refusal::NoAttribute));
    };
    let changes =
        Changes::default().set(field!(SYS_ATTACHMENT_ATTRIBUTE, value), Value::text(value));
    let table = &registry::SYS_ATTACHMENT_ATTRIBUTE;
    super::update(tx, table, found.sys_id(), changes, actor).await?;
    Ok(Ok(()))
}

/// Deletes the attribute `key` of `attachment`.
pub async fn delete_attribute(
    tx: &mut Tx,
    attachment: &str,
    key: &str,
) -> Result<std::result::Result<(), Refusal>> {
    let Some(found) = attribute_locked(tx, attachment, key).await? else {
        return Ok(Err(Refusal::NoAttribute));
    };
    super::delete(tx, &registry::SYS_ATTACHMENT_ATTRIBUTE, found.sys_id()).await?;
    Ok(Ok(()))
}

/// Deletes every attribute of `attachment`.
pub async fn delete_attributes(tx: &mut Tx, attachment: &str) -> Result<()> {
    let filter = Filter::eq(
        field!(SYS_ATTACHMENT_ATTRIBUTE, attachment),
        Value::text(attachment),
    );
    tx.delete_where(&registry::SYS_ATTACHMENT_ATTRIBUTE, &filter)
        .await?;
    Ok(())
}
