//! The agent's answer to an offer, as the Inbox Actions API gives it on the agent's behalf:
//! accept (the work is theirs) or reject (with a reason), and the reasons a channel offers.

use time::OffsetDateTime;

use super::offer::document_of;
use super::{
    ACCEPTED, CANCELLED, CONSULT_ACCEPTED, CONSULT_CANCELLED, Outcome, PENDING_ACCEPT, QUEUED,
    Refusal, TRANSFER_CANCELED, flag, lock_document, membership,
};
use crate::domain::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select, SortKey};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// A reason an agent may give for declining work on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectReason {
    pub sys_id: String,
    pub reason: String,
    pub order: i64,
}

/// The active reject reasons of a channel: its own and those for every channel, by order
/// (then reason). `NoChannel` for an unknown or inactive channel.
pub async fn reject_reasons(tx: &mut Tx, channel: &str) -> Outcome<Vec<RejectReason>> {
    let channel_record = tx.get(&registry::AWA_SERVICE_CHANNEL, channel).await?;
    if !channel_record.is_some_and(|c| flag(&c, "active")) {
        return Ok(Err(Refusal::NoChannel(channel.to_owned())));
    }
    let filter = Filter::eq(field!(AWA_REJECT_REASON, active), Value::Bool(true));
    let mut select = Select::filter(filter);
    select.order = vec![
        (SortKey::field(field!(AWA_REJECT_REASON, order)), false),
        (SortKey::field(field!(AWA_REJECT_REASON, reason)), false),
    ];
    let records = tx.select(&registry::AWA_REJECT_REASON, &select).await?;
    Ok(Ok(records
        .iter()
        .filter(|r| r.str("service_channel").is_none_or(|c| c == channel))
        .map(|r| RejectReason {
            sys_id: r.sys_id().to_owned(),
            reason: r.str("reason").unwrap_or_default().to_owned(),
            order: match r.get("order") {
                Value::Int(n) => *n,
                _ => 0,
            },
        })
        .collect()))
}

/// The work item `id`, locked after its document's lock, or None.
async fn locked_item(tx: &mut Tx, id: &str) -> Result<Option<Record>> {
    let items = &registry::AWA_WORK_ITEM;
    let Some(found) = tx.get(items, id).await? else {
        return Ok(None);
    };
    let (table, document) = document_of(&found);
    lock_document(tx, &table, &document).await?;
    Ok(tx.get_locked(items, id).await?)
}

/// The checks accept and reject share: the work item is pending accept, by this agent.
fn pending_for(item: &Record, agent: &str) -> std::result::Result<(), Refusal> {
    if item.str("state") != Some(PENDING_ACCEPT) || !flag(item, "active") {
        return Err(Refusal::NotPendingAccept);
    }
    if item.str("assigned_to") != Some(agent) {
        return Err(Refusal::AssignedToOther);
    }
    Ok(())
}

/// Accepts the work item `id` on behalf of `agent`: (document table, document sys_id).
pub async fn accept(
    tx: &mut Tx,
    agent: &str,
    id: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<(String, String)> {
    let Some(item) = locked_item(tx, id).await? else {
        return Ok(Err(Refusal::NoWorkItem(id.to_owned())));
    };
    if let Err(refusal) = pending_for(&item, agent) {
        return Ok(Err(refusal));
    }
    let accepted = accept_item(tx, &item, now, actor).await?;
    Ok(Ok(document_of(&accepted)))
}

/// Makes a locked, pending work item its agent's: accepted; the document assigned to the agent
/// and the agent in its chat (a consulted agent privately, the document staying with its
/// holder); a blind transfer's previous item ended and its agent out of the chat.
pub(super) async fn accept_item(
    tx: &mut Tx,
    item: &Record,
    now: OffsetDateTime,
    actor: &str,
) -> Result<Record> {
    let agent = item.str("assigned_to").unwrap_or_default().to_owned();
    let consult = flag(item, "consult");
    let mut changes = Changes::default()
        .set(field!(AWA_WORK_ITEM, state), Value::text(ACCEPTED))
        .set(field!(AWA_WORK_ITEM, timeout_on), Value::Null);
    if consult {
        changes = changes.set(
            field!(AWA_WORK_ITEM, consult_state),
            Value::text(CONSULT_ACCEPTED),
        );
    }
    let accepted = super::change(tx, item, changes, now, actor).await?;
    let (table, document) = document_of(&accepted);
    if !consult {
        if let Some(previous) = accepted.str("previous_work_item") {
            let previous = tx.get_locked(&registry::AWA_WORK_ITEM, previous).await?;
            if let Some(previous) = previous.filter(|p| flag(p, "active")) {
                // Accepted work is simply over; an offer still pending is cancelled (left
                // pending, it would keep its agent's workload and its timeout).
                let reason = (previous.str("state") != Some(ACCEPTED)).then_some(TRANSFER_CANCELED);
                super::end(tx, &previous, reason, now, actor).await?;
                if let Some(holder) = previous.str("assigned_to").filter(|h| *h != agent) {
                    membership::leave(tx, &table, &document, holder, actor).await?;
                }
            }
        }
        membership::assign(tx, &table, &document, Some(&agent), actor).await?;
    }
    let member_type = membership::member_type_for(&accepted);
    membership::join(tx, &table, &document, &agent, member_type, actor).await?;
    Ok(accepted)
}

/// Rejects the work item `id` on behalf of `agent`, for `reason`: the rejection is recorded,
/// and the item goes back to its queue (a transfer or consult is cancelled instead: the work
/// stays with the agent who had it).
pub async fn reject(
    tx: &mut Tx,
    agent: &str,
    id: &str,
    reason: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<()> {
    let reasons = &registry::AWA_REJECT_REASON;
    if tx
        .get_held(reasons, reason, RowLock::KeyShare)
        .await?
        .is_none()
    {
        return Ok(Err(Refusal::NoRejectReason(reason.to_owned())));
    }
    let Some(item) = locked_item(tx, id).await? else {
        return Ok(Err(Refusal::NoWorkItem(id.to_owned())));
    };
    let users = &registry::SYS_USER;
    if tx
        .get_held(users, agent, RowLock::KeyShare)
        .await?
        .is_none()
    {
        return Ok(Err(Refusal::NoUser(agent.to_owned())));
    }
    if let Err(refusal) = pending_for(&item, agent) {
        return Ok(Err(refusal));
    }
    if !flag(&item, "allowed_to_decline") {
        return Ok(Err(Refusal::MayNotDecline));
    }
    let moved = item.str("transfer_type").is_some_and(|t| !t.is_empty());
    let mut changes = Changes::default()
        .set(field!(AWA_WORK_ITEM, rejected), Value::Bool(true))
        .set(field!(AWA_WORK_ITEM, timeout_on), Value::Null);
    if moved {
        changes = changes
            .set(field!(AWA_WORK_ITEM, state), Value::text(CANCELLED))
            .set(
                field!(AWA_WORK_ITEM, reason),
                Value::text(TRANSFER_CANCELED),
            )
            .set(field!(AWA_WORK_ITEM, active), Value::Bool(false));
        if flag(&item, "consult") {
            changes = changes.set(
                field!(AWA_WORK_ITEM, consult_state),
                Value::text(CONSULT_CANCELLED),
            );
        }
    } else {
        changes = changes
            .set(field!(AWA_WORK_ITEM, state), Value::text(QUEUED))
            .set(field!(AWA_WORK_ITEM, assigned_to), Value::Null);
    }
    super::change(tx, &item, changes, now, actor).await?;
    // After the item's change: the rejection's event (domain::events) reports the item as
    // the rejection left it.
    let rejection = Changes::default()
        .set(
            field!(AWA_WORK_ITEM_REJECTION, work_item),
            Value::text(item.sys_id()),
        )
        .set(field!(AWA_WORK_ITEM_REJECTION, agent), Value::text(agent))
        .set(
            field!(AWA_WORK_ITEM_REJECTION, reject_reason),
            Value::text(reason),
        );
    let rejections = &registry::AWA_WORK_ITEM_REJECTION;
    crate::domain::insert(tx, rejections, None, rejection, actor).await?;
    Ok(Ok(()))
}
