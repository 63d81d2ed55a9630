//! Opening and closing interactions: the rules behind the Interaction Management API.

use serde_json::{Map, Value as Json, json};

use super::{Changes, RecordError, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{Table, table};
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

/// Why an interaction cannot be opened: a 400 naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn text(body: &Map<String, Json>, name: &str) -> std::result::Result<Option<String>, Invalid> {
    match body.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) if s.contains('\0') => Err(Invalid(format!(
            "Parameter '{name}' may not contain NUL characters"
        ))),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Invalid(format!("Parameter '{name}' must be a string"))),
    }
}

/// An object given inline, or a `table` + `id` pair; both or neither of the pair.
fn attachment(
    body: &Map<String, Json>,
    object: &str,
    table: &str,
    id: &str,
) -> std::result::Result<Attachment, Invalid> {
    let pair = (text(body, table)?, text(body, id)?);
    let inline = match body.get(object) {
        None | Some(Json::Null) => None,
        Some(Json::Object(map)) => Some(map.clone()),
        // The page types it as a string: a string holding a JSON object is accepted too.
        Some(Json::String(s)) if s.is_empty() => None,
        Some(Json::String(s)) => match serde_json::from_str(s) {
            Ok(Json::Object(map)) => Some(map),
            _ => return Err(Invalid(format!("Parameter '{object}' must be an object"))),
        },
        Some(_) => return Err(Invalid(format!("Parameter '{object}' must be an object"))),
    };
    match (inline, pair) {
        (Some(_), (Some(_), _) | (_, Some(_))) => Err(Invalid(format!(
            "Give either '{object}' or '{table}' and '{id}', not both"
        ))),
        (Some(map), _) => Ok(Attachment::Object(map)),
        (None, (Some(table), Some(id))) => Ok(Attachment::Existing { table, id }),
        (None, (None, None)) => Ok(Attachment::Default),
        (None, _) => Err(Invalid(format!(
            "Parameters '{table}' and '{id}' must be given together"
        ))),
    }
}

impl NewInteraction {
    /// Reads a request body (JSON, or XML read as JSON).
    pub fn from_body(body: &Map<String, Json>) -> std::result::Result<Self, Invalid> {
        let channel = text(body, "channel")?
            .ok_or_else(|| Invalid("Mandatory parameter 'channel' is missing".into()))?;
        Ok(NewInteraction {
            channel,
            queue: text(body, "queue")?,
            context: attachment(body, "context", "context_table", "context_id")?,
            channel_metadata: attachment(
                body,
                "channel_metadata",
                "channel_metadata_table",
                "channel_metadata_id",
            )?,
            kind: text(body, "type")?,
            short_description: text(body, "short_description")?,
            opened_for: text(body, "opened_for")?,
        })
    }
}

fn registry(name: &str) -> &'static Table {
    table(name).expect("interaction tables are in the registry")
}

/// Why an open failed: the request (400) or something underneath.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
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
    what: &str,
) -> std::result::Result<Record, OpenError> {
    // Held, as the reference about to be written to it needs (see `domain::hold`).
    match tx.get_held(table, id, RowLock::KeyShare).await? {
        Some(r) => Ok(r),
        None => Err(Invalid(format!(
            "Invalid {what}: no {} record with sys_id '{id}'",
            table.name
        ))
        .into()),
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
        registry("interaction_connector"),
        &new.channel,
        "channel",
    )
    .await?;
    if let Some(queue) = &new.queue {
        existing(tx, registry("awa_queue"), queue, "queue").await?;
    }
    if let Some(user) = &new.opened_for {
        existing(tx, registry("sys_user"), user, "opened_for").await?;
    }
    let (context_table, context_id) =
        attach(tx, new.context, "interaction_json_blob", "value", actor).await?;
    let (metadata_table, metadata_id) = attach(
        tx,
        new.channel_metadata,
        "live_group_profile",
        "metadata",
        actor,
    )
    .await?;
    let interactions = registry("interaction");
    let state = if new.queue.is_some() { "queued" } else { "new" };
    let kind = new
        .kind
        .or_else(|| connector.str("type").map(str::to_owned));
    let changes = Changes::default()
        .value(interactions, "channel", Value::Text(new.channel))
        .value(
            interactions,
            "queue",
            new.queue.map_or(Value::Null, Value::Text),
        )
        .value(interactions, "state", Value::text(state))
        .value(interactions, "active", Value::Bool(true))
        .value(interactions, "type", kind.map_or(Value::Null, Value::Text))
        .value(
            interactions,
            "short_description",
            new.short_description.map_or(Value::Null, Value::Text),
        )
        .value(
            interactions,
            "opened_for",
            new.opened_for.map_or(Value::Null, Value::Text),
        )
        .value(interactions, "opened_by", Value::text(caller))
        .value(interactions, "opened_at", Value::Text(value::now()))
        .value(interactions, "context_table", Value::text(context_table))
        .value(interactions, "context_document", Value::text(context_id))
        .value(
            interactions,
            "channel_metadata_table",
            Value::text(metadata_table),
        )
        .value(
            interactions,
            "channel_metadata_document",
            Value::text(metadata_id),
        );
    let interaction = super::insert(tx, interactions, None, changes, actor).await?;
    if connector.get("third_party") == &Value::Bool(true) {
        let conversations = registry("sys_cs_conversation");
        let changes = Changes::default()
            .value(
                conversations,
                "interaction",
                Value::text(interaction.sys_id()),
            )
            .value(conversations, "state", Value::text("open"));
        let _ = super::insert(tx, conversations, None, changes, actor).await?;
    }
    Ok(interaction)
}

/// Stores an inline object in a new record of `default` (or an empty one), or keeps the pair.
async fn attach(
    tx: &mut Tx,
    attachment: Attachment,
    default: &'static str,
    field: &str,
    actor: &str,
) -> Result<(String, String)> {
    let object = match attachment {
        Attachment::Existing { table, id } => return Ok((table, id)),
        Attachment::Object(map) => map,
        Attachment::Default => Map::new(),
    };
    let table = registry(default);
    let changes =
        Changes::default().value(table, field, Value::Text(Json::Object(object).to_string()));
    let rec = super::insert(tx, table, None, changes, actor).await?;
    Ok((default.to_owned(), rec.sys_id().to_owned()))
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
    let interactions = registry("interaction");
    // Locked: of two concurrent closes, the second waits and then finds the interaction closed.
    let interaction = tx
        .get_locked(interactions, id)
        .await?
        .ok_or(RecordError::NotFound)?;
    if is_closed(&interaction) {
        return Ok(interaction);
    }
    let changes = Changes::default()
        .value(interactions, "state", Value::text("closed_complete"))
        .value(interactions, "active", Value::Bool(false))
        .value(interactions, "closed_by", Value::text(caller))
        .value(interactions, "closed_at", Value::Text(value::now()));
    let closed = super::update(tx, interactions, id, changes, actor).await?;
    let conversations = registry("sys_cs_conversation");
    let filter = Filter::eq(conversations, "interaction", id.into());
    for conversation in tx.select(conversations, &Select::filter(filter)).await? {
        let changes = Changes::default().value(conversations, "state", Value::text("closed"));
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
    let field = match table_name {
        "interaction_json_blob" => "value",
        "live_group_profile" => "metadata",
        _ => return Ok(present),
    };
    let stored = tx.get(registry(table_name), id).await?;
    let object = stored
        .as_ref()
        .and_then(|r| r.str(field))
        .and_then(|s| serde_json::from_str::<Json>(s).ok())
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()));
    Ok(object.unwrap_or(present))
}

/// The API's view of an interaction: exactly the keys of the documentation's sample.
pub async fn api_view(tx: &mut Tx, interaction: &Record) -> Result<Json> {
    let s = |name: &str| interaction.get(name).to_api_string();
    let context = attachment_echo(
        tx,
        interaction.str("context_table"),
        interaction.str("context_document"),
    )
    .await?;
    let metadata = attachment_echo(
        tx,
        interaction.str("channel_metadata_table"),
        interaction.str("channel_metadata_document"),
    )
    .await?;
    Ok(json!({
        "channel": s("channel"),
        "context": context,
        "queue": s("queue"),
        "state": s("state"),
        "number": s("number"),
        "contextDocument": s("context_document"),
        "contextTable": s("context_table"),
        "channelMetadataDocument": s("channel_metadata_document"),
        "channelMetadataTable": s("channel_metadata_table"),
        "channel_metadata": metadata,
        "sys_id": s("sys_id"),
        "assigned_to": s("assigned_to"),
        "closed_by": s("closed_by"),
        "opened_for": s("opened_for"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn channel_is_mandatory() {
        let e = NewInteraction::from_body(&body(json!({"queue": "q"}))).unwrap_err();
        assert!(e.0.contains("channel"), "{e}");
        assert!(NewInteraction::from_body(&body(json!({"channel": ""}))).is_err());
        assert!(NewInteraction::from_body(&body(json!({"channel": {"a": 1}}))).is_err());
    }

    #[test]
    fn context_is_an_object_or_a_whole_pair() {
        let ok = |v: Json| NewInteraction::from_body(&body(v)).map(|n| n.context);
        assert_eq!(ok(json!({"channel": "c"})), Ok(Attachment::Default));
        assert_eq!(
            ok(json!({"channel": "c", "context": {"a": "b"}})),
            Ok(Attachment::Object(body(json!({"a": "b"}))))
        );
        assert_eq!(
            ok(json!({"channel": "c", "context": "{\"a\":\"b\"}"})),
            Ok(Attachment::Object(body(json!({"a": "b"}))))
        );
        assert_eq!(
            ok(json!({"channel": "c", "context_table": "incident", "context_id": "x"})),
            Ok(Attachment::Existing {
                table: "incident".into(),
                id: "x".into()
            })
        );
        for bad in [
            json!({"channel": "c", "context": [1]}),
            json!({"channel": "c", "context": "not json"}),
            json!({"channel": "c", "context": 5}),
            json!({"channel": "c", "context_table": "incident"}),
            json!({"channel": "c", "context_id": "x"}),
            json!({"channel": "c", "context": {"a": 1}, "context_id": "x"}),
            json!({"channel": "c", "channel_metadata_id": "x"}),
        ] {
            assert!(
                NewInteraction::from_body(&body(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn closed_states() {
        let with = |s: &str| Record::new().with("state", Value::text(s));
        assert!(is_closed(&with("closed_complete")));
        assert!(is_closed(&with("closed_abandoned")));
        assert!(!is_closed(&with("queued")));
    }
}
