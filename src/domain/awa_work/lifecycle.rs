//! A work item's life around the offers: routed in (the Routing API, an interaction opened
//! with a queue), timed out (the sweeper), a consult ended, the document closed; and the
//! workload it puts on its agent.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::offer::{active_document, document_of};
use super::{
    ACCEPTED, CANCELLED, CONSULT_ACCEPTED, CONSULT_CANCELLED, CONSULT_ENDED, CONSULT_REQUESTED,
    CONSULT_TRANSFERRED, DISQUALIFIED, Outcome, PENDING_ACCEPT, QUEUED, Refusal, Summary, TIME_OUT,
    TRANSFER_CANCELED, active_items, flag, lock_document, main_item, membership, new_item, queue,
    stamp,
};
use crate::domain::awa_presence::{self, SetPresence};
use crate::domain::members::PUBLIC_FULFILLER;
use crate::domain::{Changes, Result};
use crate::model::filter::{Filter, Op, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::{Storage, Tx};

/// The Routing API: the document's active work item moves to `queue_id` (an offer not yet
/// accepted is withdrawn: the item waits in its new queue), or a queued one is made.
pub async fn route(
    tx: &mut Tx,
    queue_id: &str,
    table: &str,
    document_id: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<Summary> {
    let Some(queue) = queue(tx, queue_id).await? else {
        return Ok(Err(Refusal::NoQueue(queue_id.to_owned())));
    };
    let (table, document) = match active_document(tx, table, document_id).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let item = match main_item(tx, table.name, document_id).await? {
        None => new_item(tx, table, &document, &queue, now, actor, Changes::default()).await?,
        Some(item) => {
            let mut changes = Changes::default()
                .set(field!(AWA_WORK_ITEM, queue), Value::text(queue.sys_id()))
                .set(
                    field!(AWA_WORK_ITEM, service_channel),
                    queue
                        .str("service_channel")
                        .map_or(Value::Null, Value::text),
                );
            if item.str("state") == Some(PENDING_ACCEPT) {
                changes = changes
                    .set(field!(AWA_WORK_ITEM, state), Value::text(QUEUED))
                    .set(field!(AWA_WORK_ITEM, assigned_to), Value::Null)
                    .set(field!(AWA_WORK_ITEM, timeout_on), Value::Null);
            }
            super::change(tx, &item, changes, now, actor).await?
        }
    };
    Ok(Ok(Summary::of(&item)))
}

/// An interaction opened with an active queue waits in it as a queued work item.
pub async fn document_opened(
    tx: &mut Tx,
    interaction: &Record,
    now: OffsetDateTime,
    actor: &str,
) -> Result<()> {
    let Some(queue_id) = interaction.str("queue") else {
        return Ok(());
    };
    if !flag(interaction, "active") {
        return Ok(());
    }
    let queues = &registry::AWA_QUEUE;
    let Some(queue) = tx.get_held(queues, queue_id, RowLock::KeyShare).await? else {
        return Ok(());
    };
    if !flag(&queue, "active") {
        return Ok(());
    }
    let table = &registry::INTERACTION;
    lock_document(tx, table.name, interaction.sys_id()).await?;
    new_item(
        tx,
        table,
        interaction,
        &queue,
        now,
        actor,
        Changes::default(),
    )
    .await?;
    Ok(())
}

/// A closed document's work is over: its accepted items end, the others are cancelled
/// (disqualified: the document no longer qualifies for routing); its agents' workload drops.
pub async fn document_closed(
    tx: &mut Tx,
    table: &str,
    id: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Result<()> {
    // The caller's update already holds the document's lock (see `domain::update`): taken
    // again it is free (a no-op on SQLite, a re-entry on PostgreSQL), and keeps this function
    // right for any caller.
    lock_document(tx, table, id).await?;
    for item in active_items(tx, table, id).await? {
        let mut changes = Changes::default().set(field!(AWA_WORK_ITEM, active), Value::Bool(false));
        if item.str("state") != Some(ACCEPTED) {
            changes = changes
                .set(field!(AWA_WORK_ITEM, state), Value::text(CANCELLED))
                .set(field!(AWA_WORK_ITEM, reason), Value::text(DISQUALIFIED));
        }
        // A consult in progress ends with its document; one handed over stays `transferred`.
        let consult_end = match item.str("consult_state") {
            Some(CONSULT_REQUESTED) => Some(CONSULT_CANCELLED),
            Some(CONSULT_ACCEPTED) => Some(CONSULT_ENDED),
            _ => None,
        };
        if let Some(state) = consult_end.filter(|_| flag(&item, "consult")) {
            changes = changes.set(field!(AWA_WORK_ITEM, consult_state), Value::text(state));
        }
        super::change(tx, &item, changes, now, actor).await?;
    }
    Ok(())
}

/// Agent Consult's end: the document's consult work item is handed over (the consulted agent
/// takes the work) or ended (they leave); a consult not yet accepted is cancelled either way.
pub async fn end_consult(
    tx: &mut Tx,
    document_id: &str,
    hand_over: bool,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<()> {
    let none = || Refusal::NoConsult(document_id.to_owned());
    let filter = Filter::eq(field!(AWA_WORK_ITEM, document_id), document_id.into())
        .and(Filter::eq(field!(AWA_WORK_ITEM, active), Value::Bool(true)))
        .and(Filter::eq(
            field!(AWA_WORK_ITEM, consult),
            Value::Bool(true),
        ));
    let items = &registry::AWA_WORK_ITEM;
    let Some(found) = tx.select(items, &Select::filter(filter)).await?.pop() else {
        return Ok(Err(none()));
    };
    let (table, document) = document_of(&found);
    lock_document(tx, &table, &document).await?;
    let consult = active_items(tx, &table, &document)
        .await?
        .into_iter()
        .rfind(|i| {
            flag(i, "consult")
                && matches!(
                    i.str("consult_state"),
                    Some(CONSULT_REQUESTED | CONSULT_ACCEPTED)
                )
        });
    let Some(consult) = consult else {
        return Ok(Err(none()));
    };
    let agent = consult.str("assigned_to").map(str::to_owned);
    if consult.str("consult_state") == Some(CONSULT_REQUESTED) {
        let changes = Changes::default().set(
            field!(AWA_WORK_ITEM, consult_state),
            Value::text(CONSULT_CANCELLED),
        );
        let consult = super::change(tx, &consult, changes, now, actor).await?;
        super::end(tx, &consult, Some(super::TRANSFER_CANCELED), now, actor).await?;
        return Ok(Ok(()));
    }
    let Some(agent) = agent else {
        return Ok(Err(none()));
    };
    if !hand_over {
        let changes = Changes::default()
            .set(
                field!(AWA_WORK_ITEM, consult_state),
                Value::text(CONSULT_ENDED),
            )
            .set(field!(AWA_WORK_ITEM, active), Value::Bool(false));
        super::change(tx, &consult, changes, now, actor).await?;
        membership::leave(tx, &table, &document, &agent, actor).await?;
        return Ok(Ok(()));
    }
    // Handed over: the consult item is now the document's work, the consulted agent its holder.
    let changes = Changes::default().set(
        field!(AWA_WORK_ITEM, consult_state),
        Value::text(CONSULT_TRANSFERRED),
    );
    let consult = super::change(tx, &consult, changes, now, actor).await?;
    if let Some(previous) = consult.str("previous_work_item") {
        let previous = tx.get_locked(items, previous).await?;
        if let Some(previous) = previous.filter(|p| flag(p, "active")) {
            let reason = (previous.str("state") != Some(ACCEPTED)).then_some(DISQUALIFIED);
            super::end(tx, &previous, reason, now, actor).await?;
            if let Some(holder) = previous.str("assigned_to").filter(|h| *h != agent) {
                membership::leave(tx, &table, &document, holder, actor).await?;
            }
        }
    }
    membership::assign(tx, &table, &document, Some(&agent), actor).await?;
    membership::join(tx, &table, &document, &agent, PUBLIC_FULFILLER, actor).await?;
    Ok(Ok(()))
}

/// The sweeper's pass: every pending offer whose time is up at `now` is cancelled (time out,
/// or transfer canceled for a transfer's offer; `timed_out`), and its agent moved to the
/// offer's after-timeout presence state. Each in its own transaction, re-read under its document's lock, so nodes sweeping together, or an
/// accept racing the timeout, end it once. Returns how many it cancelled.
pub async fn expire_offers(store: &dyn Storage, now: OffsetDateTime) -> Result<usize> {
    // Active ones only: an inactive item is over, whatever its state says, and would
    // otherwise be found (and skipped) by every pass.
    let due = Filter::eq(field!(AWA_WORK_ITEM, state), Value::text(PENDING_ACCEPT))
        .and(Filter::eq(field!(AWA_WORK_ITEM, active), Value::Bool(true)))
        .and(Filter::Cond(
            field!(AWA_WORK_ITEM, timeout_on),
            Op::Le(stamp(now)),
        ));
    let items = &registry::AWA_WORK_ITEM;
    let mut expired = 0;
    for item in store
        .select(items, &Select::filter(due).limit(1000))
        .await?
    {
        let mut tx = store.begin().await?;
        if expire(&mut tx, item.sys_id(), now).await? {
            expired += 1;
        }
        tx.commit().await?;
    }
    Ok(expired)
}

/// Who the sweeper's changes are made by.
const SWEEPER: &str = "system";

async fn expire(tx: &mut Tx, id: &str, now: OffsetDateTime) -> Result<bool> {
    let items = &registry::AWA_WORK_ITEM;
    let Some(found) = tx.get(items, id).await? else {
        return Ok(false);
    };
    let (table, document) = document_of(&found);
    lock_document(tx, &table, &document).await?;
    let Some(item) = tx.get_locked(items, id).await? else {
        return Ok(false);
    };
    let due = item
        .str("timeout_on")
        .is_some_and(|t| t <= crate::model::value::format_date_time(now).as_str());
    if item.str("state") != Some(PENDING_ACCEPT) || !flag(&item, "active") || !due {
        return Ok(false);
    }
    let mut changes = Changes::default().set(field!(AWA_WORK_ITEM, timed_out), Value::Bool(true));
    if flag(&item, "consult") {
        changes = changes.set(
            field!(AWA_WORK_ITEM, consult_state),
            Value::text(CONSULT_CANCELLED),
        );
    }
    // A transfer's offer that times out is a cancelled transfer: the work stays where it was.
    let moved = item.str("transfer_type").is_some_and(|t| !t.is_empty());
    let reason = if moved { TRANSFER_CANCELED } else { TIME_OUT };
    let item = super::change(tx, &item, changes, now, SWEEPER).await?;
    super::end(tx, &item, Some(reason), now, SWEEPER).await?;
    if let (Some(agent), Some(state)) =
        (item.str("assigned_to"), item.str("after_timeout_presence"))
    {
        let request = SetPresence {
            state: state.to_owned(),
            channels: Vec::new(),
        };
        // A state deleted since the offer leaves the presence as it is.
        let _ = awa_presence::set_presence(tx, agent, request, now, SWEEPER).await?;
    }
    Ok(true)
}

/// The agent's workload: the sizes of its active pending and accepted work items, summed per
/// service channel (None: items on no channel). External routing counts it without holding
/// it against the agent's capacity.
pub async fn workloads(tx: &mut Tx, agent: &str) -> Result<BTreeMap<Option<String>, i64>> {
    let filter = Filter::eq(field!(AWA_WORK_ITEM, assigned_to), agent.into())
        .and(Filter::eq(field!(AWA_WORK_ITEM, active), Value::Bool(true)))
        .and(Filter::one_of(
            field!(AWA_WORK_ITEM, state),
            vec![Value::text(PENDING_ACCEPT), Value::text(ACCEPTED)],
        ));
    let mut loads = BTreeMap::new();
    for item in tx
        .select(&registry::AWA_WORK_ITEM, &Select::filter(filter))
        .await?
    {
        let size = match item.get("size") {
            Value::Int(n) => *n,
            _ => 1,
        };
        let channel = item.str("service_channel").map(str::to_owned);
        let load: &mut i64 = loads.entry(channel).or_default();
        *load = load.saturating_add(size);
    }
    Ok(loads)
}
