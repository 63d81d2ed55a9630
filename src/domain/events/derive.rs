//! Events read off the records as they are written: a work item that is queued, offered,
//! accepted, rejected or timed out, an agent whose presence changes, a document that closes.
//! The record rules call these for every write, whichever path made it, inside its
//! transaction; transfers, which change no state of their own, are raised by `transfer`.

use serde_json::{Map, Value as Json};

use super::{Event, EventType, body, enqueue, provider_of_queue, providers_taking};
use crate::domain::Result;
use crate::model::filter::{Filter, Select, SortKey};
use crate::model::registry::{self, Table, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// The events a write of `table` reports (`before` is None for an insert, `after` for a delete).
pub async fn after_write(
    tx: &mut Tx,
    table: &Table,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<()> {
    match (table.name, after) {
        ("awa_work_item", Some(item)) => {
            for kind in work_item_changes(before, item) {
                let agent = item.str("assigned_to");
                work_item_event(tx, kind, item, agent, Map::new()).await?;
            }
            Ok(())
        }
        // A rejection is its own record (written after the item went back to its queue).
        ("awa_work_item_rejection", Some(rejection)) if before.is_none() => {
            let items = &registry::AWA_WORK_ITEM;
            let item = match rejection.str("work_item") {
                Some(id) => tx.get(items, id).await?,
                None => None,
            };
            match item {
                Some(item) => rejected(tx, &item, rejection).await,
                None => Ok(()),
            }
        }
        ("awa_agent_presence", Some(presence)) => presence_changed(tx, before, presence).await,
        _ => Ok(()),
    }
}

/// What a write of a work item reports, in the order it happened.
fn work_item_changes(before: Option<&Record>, after: &Record) -> Vec<EventType> {
    let state = |r: &Record| r.str("state").map(str::to_owned);
    let flag = |r: &Record, name: &str| r.get(name) == &Value::Bool(true);
    let Some(before) = before else {
        // A transfer's new item is reported as the transfer (see `transferred`).
        let transfer = after.str("transfer_type").is_some_and(|t| !t.is_empty());
        return match state(after).as_deref() {
            Some(crate::domain::awa_work::QUEUED) if !transfer => {
                vec![EventType::InteractionQueued]
            }
            _ => Vec::new(),
        };
    };
    let mut kinds = Vec::new();
    let pending = Some(crate::domain::awa_work::PENDING_ACCEPT);
    let offered_now = state(after).as_deref() == pending
        && (state(before).as_deref() != pending
            || before.get("assigned_to") != after.get("assigned_to"));
    if offered_now {
        kinds.push(EventType::WorkItemOffered);
    }
    if state(before).as_deref() == pending
        && state(after).as_deref() == Some(crate::domain::awa_work::ACCEPTED)
    {
        kinds.push(EventType::WorkItemAccepted);
    }
    if !flag(before, "timed_out") && flag(after, "timed_out") {
        kinds.push(EventType::WorkItemTimedOut);
    }
    kinds
}

/// The document a work item is for, read now.
async fn document_of(tx: &mut Tx, item: &Record) -> Result<Json> {
    let table = item.str("document_table").unwrap_or_default();
    let id = item.str("document_id").unwrap_or_default();
    let record = match registry::table(table) {
        Some(t) => tx.get(t, id).await?,
        None => None,
    };
    Ok(match record {
        Some(record) => body::document(table, &record),
        None => serde_json::json!({"table": table, "sys_id": id}),
    })
}

/// What every event about a work item shows: its document, the item, its queue and `agent`.
async fn work_fields(tx: &mut Tx, item: &Record, agent: Option<&str>) -> Result<Map<String, Json>> {
    let mut fields = Map::new();
    fields.insert("document".into(), document_of(tx, item).await?);
    fields.insert("work_item".into(), body::work_item(item));
    fields.insert("queue".into(), body::queue(tx, item.str("queue")).await?);
    fields.insert("agent".into(), body::user(tx, agent).await?);
    Ok(fields)
}

/// An event about a work item and its `agent` (with `extra` fields), to its queue's provider.
async fn work_item_event(
    tx: &mut Tx,
    kind: EventType,
    item: &Record,
    agent: Option<&str>,
    extra: Map<String, Json>,
) -> Result<()> {
    let Some(provider) = provider_of_queue(tx, item.str("queue"), kind).await? else {
        return Ok(());
    };
    let mut fields = work_fields(tx, item, agent).await?;
    fields.extend(extra);
    let event = Event {
        kind,
        ordering_key: item.str("document_id").unwrap_or(item.sys_id()).to_owned(),
        fields,
    };
    enqueue(tx, &provider, event).await?;
    Ok(())
}

/// `work_item.rejected`: the agent who declined, and why.
async fn rejected(tx: &mut Tx, item: &Record, rejection: &Record) -> Result<()> {
    let mut extra = Map::new();
    let reason = rejection.str("reject_reason");
    extra.insert(
        "reject_reason".into(),
        body::reject_reason(tx, reason).await?,
    );
    let agent = rejection.str("agent");
    work_item_event(tx, EventType::WorkItemRejected, item, agent, extra).await
}

async fn presence_changed(tx: &mut Tx, before: Option<&Record>, after: &Record) -> Result<()> {
    let previous = before.and_then(|b| b.str("current_presence_state"));
    let current = after.str("current_presence_state");
    if previous == current {
        return Ok(());
    }
    let kind = EventType::AgentPresenceChanged;
    let providers = providers_taking(tx, kind).await?;
    if providers.is_empty() {
        return Ok(());
    }
    let agent = after.str("agent").unwrap_or_default().to_owned();
    let mut fields = Map::new();
    fields.insert("agent".into(), body::user(tx, Some(&agent)).await?);
    fields.insert(
        "presence_state".into(),
        body::presence_state(tx, current).await?,
    );
    fields.insert(
        "previous_presence_state".into(),
        body::presence_state(tx, previous).await?,
    );
    for provider in providers {
        let event = Event {
            kind,
            ordering_key: agent.clone(),
            fields: fields.clone(),
        };
        enqueue(tx, &provider, event).await?;
    }
    Ok(())
}

/// The provider receiving `kind` for a document: that of the queue of its newest work item
/// in a queue that has one.
pub(super) async fn provider_of_document(
    tx: &mut Tx,
    table: &str,
    id: &str,
    kind: EventType,
) -> Result<Option<Record>> {
    let items = &registry::AWA_WORK_ITEM;
    let mut select = Select::filter(
        Filter::eq(field!(AWA_WORK_ITEM, document_id), id.into()).and(Filter::eq(
            field!(AWA_WORK_ITEM, document_table),
            table.into(),
        )),
    );
    let created = field!(AWA_WORK_ITEM, sys_created_on);
    select.order = vec![(SortKey::field(created), true)];
    let mut queues: Vec<String> = Vec::new();
    for item in tx.select(items, &select.limit(50)).await? {
        if let Some(queue) = item.str("queue").filter(|q| !queues.iter().any(|s| s == q)) {
            queues.push(queue.to_owned());
        }
    }
    for queue in queues {
        if let Some(provider) = provider_of_queue(tx, Some(&queue), kind).await? {
            return Ok(Some(provider));
        }
    }
    Ok(None)
}

/// A routed document that closed (its work items already ended): `interaction.closed`, to
/// the provider of its work.
pub async fn document_closed(tx: &mut Tx, table: &Table, document: &Record) -> Result<()> {
    // A work item is not a document (its own end is not a close).
    if table == &registry::AWA_WORK_ITEM {
        return Ok(());
    }
    let kind = EventType::InteractionClosed;
    let id = document.sys_id();
    let Some(provider) = provider_of_document(tx, table.name, id, kind).await? else {
        return Ok(());
    };
    let mut fields = Map::new();
    fields.insert("document".into(), body::document(table.name, document));
    fields.insert(
        "state".into(),
        document.str("state").map_or(Json::Null, Json::from),
    );
    fields.insert(
        "agent".into(),
        body::user(tx, document.str("assigned_to")).await?,
    );
    let event = Event {
        kind,
        ordering_key: id.to_owned(),
        fields,
    };
    enqueue(tx, &provider, event).await?;
    Ok(())
}

/// A transfer made `item` (to an agent: `agent`; to a queue: None) from `previous`.
pub async fn transferred(
    tx: &mut Tx,
    item: &Record,
    previous: &Record,
    agent: Option<&str>,
) -> Result<()> {
    let kind = match agent {
        Some(_) => EventType::TransferredToAgent,
        None => EventType::TransferredToQueue,
    };
    let Some(provider) = provider_of_queue(tx, item.str("queue"), kind).await? else {
        return Ok(());
    };
    let mut fields = work_fields(tx, item, agent).await?;
    let from = serde_json::json!({
        "work_item": previous.sys_id(),
        "agent": body::user(tx, previous.str("assigned_to")).await?,
        "queue": body::queue(tx, previous.str("queue")).await?,
    });
    fields.insert("from".into(), from);
    let event = Event {
        kind,
        ordering_key: item.str("document_id").unwrap_or(item.sys_id()).to_owned(),
        fields,
    };
    enqueue(tx, &provider, event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(state: &str) -> Record {
        Record::new()
            .with("state", Value::text(state))
            .with("rejected", Value::Bool(false))
            .with("timed_out", Value::Bool(false))
    }

    #[test]
    fn a_routed_item_is_queued_and_a_transfers_is_not() {
        let queued = item("queued");
        assert_eq!(
            work_item_changes(None, &queued),
            [EventType::InteractionQueued]
        );
        let moved = item("queued").with("transfer_type", Value::text("blind"));
        assert!(work_item_changes(None, &moved).is_empty());
    }

    #[test]
    fn offers_accepts_and_timeouts_are_read_off_the_change() {
        let queued = item("queued");
        let offered = item("pending_accept").with("assigned_to", Value::text("a"));
        assert_eq!(
            work_item_changes(Some(&queued), &offered),
            [EventType::WorkItemOffered]
        );
        let accepted = item("accepted").with("assigned_to", Value::text("a"));
        assert_eq!(
            work_item_changes(Some(&offered), &accepted),
            [EventType::WorkItemAccepted]
        );
        // A rejection is read off its own record.
        let rejected = item("queued").with("rejected", Value::Bool(true));
        assert!(work_item_changes(Some(&offered), &rejected).is_empty());
        let timed_out = item("pending_accept")
            .with("assigned_to", Value::text("a"))
            .with("timed_out", Value::Bool(true));
        assert_eq!(
            work_item_changes(Some(&offered), &timed_out),
            [EventType::WorkItemTimedOut]
        );
        // Offered again to another agent: a new offer.
        let reoffered = item("pending_accept").with("assigned_to", Value::text("b"));
        assert_eq!(
            work_item_changes(Some(&offered), &reoffered),
            [EventType::WorkItemOffered]
        );
        // Nothing of interest changed.
        assert!(work_item_changes(Some(&offered), &offered).is_empty());
    }
}
