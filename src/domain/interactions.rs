//! Opening and closing interactions: the rules behind the Interaction Management API.

use serde_json::{Map, Value as Json, json};

use super::{Changes, RecordError, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, Field, Table, field};
use crate::model::value::{self, Record, Value};
use crate::storage::Tx;

/// Where an interaction's context (or channel metadata) lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Attachment {
    /// A map the client sent, stored in a new record of the default table.
    Object(Map<String, Json>),
    /// A record the client names (any table; not checked, as it may be one switchboard lacks).
    Existing { table: String, id: String },
    /// Nothing given: a new, empty record of the default table.
    Default,
}

/// A request to open an interaction, checked for shape but not yet against the database.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInteraction {
    pub channel: String,
    pub queue: Option<String>,
    pub context: Attachment,
    pub channel_metadata: Attachment,
    pub kind: Option<String>,
    pub short_description: Option<String>,
    pub opened_for: Option<String>,
}

/// Why an interaction cannot be opened although the request is well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request names a record (`what`: channel, queue, opened_for) that does not exist.
    Unknown {
        what: &'static str,
        table: &'static str,
        id: String,
    },
}

/// Why an open failed: a refusal, or something underneath.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl From<crate::storage::StorageError> for OpenError {
    fn from(e: crate::storage::StorageError) -> Self {
        OpenError::Record(e.into())
    }
}

/// A record of `table` with this sys_id, or a 400 saying what was not found.
async fn existing(
    tx: &mut Tx,
    table: &'static Table,
    id: &str,
    what: &'static str,
) -> std::result::Result<Record, OpenError> {
    // Held, as the reference about to be written to it needs (see `domain::hold`).
    match tx.get_held(table, id, RowLock::KeyShare).await? {
        Some(r) => Ok(r),
        None => Err(OpenError::Refused(Refusal::Unknown {
            what,
            table: table.name,
            id: id.to_owned(),
        })),
    }
}

/// Opens an interaction for `caller` (a sys_user sys_id) in one transaction: the interaction,
/// its context and channel-metadata records, and a conversation when the channel is third-party.
pub async fn open(
    tx: &mut Tx,
    new: NewInteraction,
    caller: &str,
    actor: &str,
) -> std::result::Result<Record, OpenError> {
    let connector = existing(
        tx,
        &registry::INTERACTION_CONNECTOR,
        &new.channel,
        "channel",
    )
    .await?;
    if let Some(queue) = &new.queue {
        existing(tx, &registry::AWA_QUEUE, queue, "queue").await?;
    }
    if let Some(user) = &new.opened_for {
        existing(tx, &registry::SYS_USER, user, "opened_for").await?;
    }
    let (context_table, context_id) = attach(
        tx,
        new.context,
        &registry::INTERACTION_JSON_BLOB,
        field!(INTERACTION_JSON_BLOB, value),
        actor,
    )
    .await?;
    let (metadata_table, metadata_id) = attach(
        tx,
        new.channel_metadata,
        &registry::LIVE_GROUP_PROFILE,
        field!(LIVE_GROUP_PROFILE, metadata),
        actor,
    )
    .await?;
    let interactions = &registry::INTERACTION;
    let state = if new.queue.is_some() { "queued" } else { "new" };
    let kind = new
        .kind
        .or_else(|| connector.str("type").map(str::to_owned));
    let changes = Changes::default()
        .set(field!(INTERACTION, channel), Value::Text(new.channel))
        .set(
            field!(INTERACTION, queue),
            new.queue.map_or(Value::Null, Value::Text),
        )
        .set(field!(INTERACTION, state), Value::text(state))
        .set(field!(INTERACTION, active), Value::Bool(true))
        .set(
            field!(INTERACTION, type),
            kind.map_or(Value::Null, Value::Text),
        )
        .set(
            field!(INTERACTION, short_description),
            new.short_description.map_or(Value::Null, Value::Text),
        )
        .set(
            field!(INTERACTION, opened_for),
            new.opened_for.map_or(Value::Null, Value::Text),
        )
        .set(field!(INTERACTION, opened_by), Value::text(caller))
        .set(field!(INTERACTION, opened_at), Value::Text(value::now()))
        .set(
            field!(INTERACTION, context_table),
            Value::text(context_table),
        )
        .set(
            field!(INTERACTION, context_document),
            Value::text(context_id),
        )
        .set(
            field!(INTERACTION, channel_metadata_table),
            Value::text(metadata_table),
        )
        .set(
            field!(INTERACTION, channel_metadata_document),
            Value::text(metadata_id),
        );
    let interaction = super::insert(tx, interactions, None, changes, actor).await?;
    if connector.get("third_party") == &Value::Bool(true) {
        let conversations = &registry::SYS_CS_CONVERSATION;
        let changes = Changes::default()
            .set(
                field!(SYS_CS_CONVERSATION, interaction),
                Value::text(interaction.sys_id()),
            )
            .set(field!(SYS_CS_CONVERSATION, state), Value::text("open"));
        let _ = super::insert(tx, conversations, None, changes, actor).await?;
    }
    Ok(interaction)
}

/// Stores an inline object in a new record of `table` (or an empty one), or keeps the pair.
async fn attach(
    tx: &mut Tx,
    attachment: Attachment,
    table: &'static Table,
    field: &'static Field,
    actor: &str,
) -> Result<(String, String)> {
    let object = match attachment {
        Attachment::Existing { table: named, id } => return Ok((named, id)),
        Attachment::Object(map) => map,
        Attachment::Default => Map::new(),
    };
    let changes = Changes::default().set(field, Value::Text(Json::Object(object).to_string()));
    let rec = super::insert(tx, table, None, changes, actor).await?;
    Ok((table.name.to_owned(), rec.sys_id().to_owned()))
}

/// Whether an interaction is closed: no further close changes it.
pub fn is_closed(interaction: &Record) -> bool {
    matches!(
        interaction.str("state"),
        Some("closed_complete" | "closed_abandoned")
    )
}

/// Closes an interaction (and its conversation) as `caller`; closing a closed one changes
/// nothing. `NotFound` for an unknown sys_id.
pub async fn close(tx: &mut Tx, id: &str, caller: &str, actor: &str) -> Result<Record> {
    let interactions = &registry::INTERACTION;
    // The work items' lock first, as AWA takes it (the close ends them).
    super::awa_work::lock_document(tx, interactions.name, id).await?;
    // Locked: of two concurrent closes, the second waits and then finds the interaction closed.
    let interaction = tx
        .get_locked(interactions, id)
        .await?
        .ok_or(RecordError::NotFound)?;
    if is_closed(&interaction) {
        return Ok(interaction);
    }
    let changes = Changes::default()
        .set(field!(INTERACTION, state), Value::text("closed_complete"))
        .set(field!(INTERACTION, active), Value::Bool(false))
        .set(field!(INTERACTION, closed_by), Value::text(caller))
        .set(field!(INTERACTION, closed_at), Value::Text(value::now()));
    let closed = super::update(tx, interactions, id, changes, actor).await?;
    let conversations = &registry::SYS_CS_CONVERSATION;
    let filter = Filter::eq(field!(SYS_CS_CONVERSATION, interaction), id.into());
    for conversation in tx.select(conversations, &Select::filter(filter)).await? {
        let changes =
            Changes::default().set(field!(SYS_CS_CONVERSATION, state), Value::text("closed"));
        let _ = super::update(tx, conversations, conversation.sys_id(), changes, actor).await?;
    }
    Ok(closed)
}

/// The `context` or `channel_metadata` the API shows: the stored object when it has content,
/// else `{"present": true}` as the platform shows it.
pub async fn attachment_echo(
    tx: &mut Tx,
    table_name: Option<&str>,
    id: Option<&str>,
) -> Result<Json> {
    let present = json!({"present": true});
    let (Some(table_name), Some(id)) = (table_name, id) else {
        return Ok(present);
    };
    let (table, field) = match table_name {
        "interaction_json_blob" => (&registry::INTERACTION_JSON_BLOB, "value"),
        "live_group_profile" => (&registry::LIVE_GROUP_PROFILE, "metadata"),
        _ => return Ok(present),
    };
    let stored = tx.get(table, id).await?;
    let object = stored
        .as_ref()
        .and_then(|r| r.str(field))
        .and_then(|s| serde_json::from_str::<Json>(s).ok())
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()));
    Ok(object.unwrap_or(present))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_states() {
        let with = |s: &str| Record::new().with("state", Value::text(s));
        assert!(is_closed(&with("closed_complete")));
        assert!(is_closed(&with("closed_abandoned")));
        assert!(!is_closed(&with("queued")));
    }
}
