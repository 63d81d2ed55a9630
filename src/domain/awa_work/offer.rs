//! Offering work to an agent: Manual Assignment (a work item), Offer Work's new assignments (a
//! document, in a queue) and its transfers (to an agent or a queue, blind or consult).

use time::OffsetDateTime;

use super::{
    ACCEPTED, CANCELLED, CONSULT_REQUESTED, Offer, Outcome, PENDING_ACCEPT, QUEUED, Refusal,
    Summary, agent, flag, is_available, is_external_user, lock_document, main_item, membership,
    new_item, queue, stamp, stamp_deadline,
};
use crate::domain::{Changes, events};
use crate::model::filter::RowLock;
use crate::model::registry::{self, Table, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// Who receives a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// A user's sys_id.
    Agent(String),
    /// A queue's sys_id or provider queue id.
    Queue(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// The work moves: the target takes over.
    Blind,
    /// The target is asked in; the work stays with its agent until the consult ends.
    Consult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Where a work item is made first when the document has none (an outbound call).
    pub source_queue: Option<String>,
    pub target: TransferTarget,
    pub kind: TransferKind,
    /// The offer's terms for an agent target (its `agent` is the target).
    pub terms: Offer,
    pub external_segment_id: Option<String>,
}

/// Whether a work item `id` exists (Manual Assignment's path target, looked up before its body
/// is checked: a 404 comes before a 400).
pub async fn is_work_item(tx: &mut Tx, id: &str) -> crate::domain::Result<bool> {
    Ok(tx.get(&registry::AWA_WORK_ITEM, id).await?.is_some())
}

/// Whether `table` is a routable table holding a record `id`, active or not (Offer Work's path
/// target, looked up before its body is checked; an inactive one is refused later, with 409).
pub async fn is_document(tx: &mut Tx, table: &str, id: &str) -> crate::domain::Result<bool> {
    let Some(table) = super::document_table(table) else {
        return Ok(false);
    };
    Ok(tx.get(table, id).await?.is_some())
}

/// Manual Assignment: offers the work item `id` to the offer's agent.
pub async fn offer_work_item(
    tx: &mut Tx,
    id: &str,
    offer: &Offer,
    caller: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<Summary> {
    let items = &registry::AWA_WORK_ITEM;
    let Some(found) = tx.get(items, id).await? else {
        return Ok(Err(Refusal::NoWorkItem(id.to_owned())));
    };
    let (table, document) = document_of(&found);
    lock_document(tx, &table, &document).await?;
    let Some(item) = tx.get_locked(items, id).await? else {
        return Ok(Err(Refusal::NoWorkItem(id.to_owned())));
    };
    let terms = Terms {
        offer,
        external_user_required: false,
        caller,
        extra: Changes::default(),
    };
    let offered = match offer_item(tx, &item, terms, now, actor).await? {
        Ok(offered) => offered,
        Err(refusal) => return Ok(Err(refusal)),
    };
    Ok(Ok(Summary::of(&offered)))
}

/// Offer Work, a new assignment: offers the document's work item (made in `queue_id` if the
/// document has none) to the offer's agent.
#[allow(clippy::too_many_arguments)]
pub async fn offer_document(
    tx: &mut Tx,
    table: &str,
    document_id: &str,
    queue_id: &str,
    offer: &Offer,
    external_segment_id: Option<&str>,
    caller: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<Summary> {
    let (table, document) = match active_document(tx, table, document_id).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let Some(queue) = queue(tx, queue_id).await? else {
        return Ok(Err(Refusal::NoQueue(queue_id.to_owned())));
    };
    let item = match main_item(tx, table.name, document_id).await? {
        Some(item) => item,
        None => new_item(tx, table, &document, &queue, now, actor, Changes::default()).await?,
    };
    let mut extra = Changes::default();
    if item.get("state").as_str() == Some(QUEUED) && item.str("queue") != Some(queue.sys_id()) {
        extra = extra.set(field!(AWA_WORK_ITEM, queue), Value::text(queue.sys_id()));
        if let Some(channel) = queue.str("service_channel") {
            extra = extra.set(field!(AWA_WORK_ITEM, service_channel), Value::text(channel));
        }
    }
    if let Some(segment) = external_segment_id {
        extra = extra.set(
            field!(AWA_WORK_ITEM, external_segment_id),
            Value::text(segment),
        );
    }
    let terms = Terms {
        offer,
        external_user_required: true,
        caller,
        extra,
    };
    let offered = match offer_item(tx, &item, terms, now, actor).await? {
        Ok(offered) => offered,
        Err(refusal) => return Ok(Err(refusal)),
    };
    Ok(Ok(Summary::of(&offered)))
}

/// Offer Work, a transfer of the document's work to an agent or a queue.
pub async fn transfer(
    tx: &mut Tx,
    table: &str,
    document_id: &str,
    transfer: &Transfer,
    caller: &str,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<Summary> {
    let (table, document) = match active_document(tx, table, document_id).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let source = match &transfer.source_queue {
        Some(id) => match queue(tx, id).await? {
            Some(q) => Some(q),
            None => return Ok(Err(Refusal::NoQueue(id.clone()))),
        },
        None => None,
    };
    let target_queue = match &transfer.target {
        TransferTarget::Queue(id) => match queue(tx, id).await? {
            Some(q) => Some(q),
            None => return Ok(Err(Refusal::NoQueue(id.clone()))),
        },
        TransferTarget::Agent(_) => None,
    };
    let current = match main_item(tx, table.name, document_id).await? {
        Some(item) => item,
        None => match &source {
            Some(q) => new_item(tx, table, &document, q, now, actor, Changes::default()).await?,
            None => return Ok(Err(Refusal::Missing("transfer.source_queue_id".into()))),
        },
    };
    let consult = transfer.kind == TransferKind::Consult;
    let mut extra = Changes::default()
        .set(
            field!(AWA_WORK_ITEM, previous_work_item),
            Value::text(current.sys_id()),
        )
        .set(
            field!(AWA_WORK_ITEM, transfer_type),
            Value::text(if consult { "consult" } else { "blind" }),
        );
    if consult {
        extra = extra
            .set(field!(AWA_WORK_ITEM, consult), Value::Bool(true))
            .set(
                field!(AWA_WORK_ITEM, consult_state),
                Value::text(CONSULT_REQUESTED),
            );
    }
    if let Some(segment) = &transfer.external_segment_id {
        extra = extra.set(
            field!(AWA_WORK_ITEM, external_segment_id),
            Value::text(segment),
        );
    }
    match target_queue {
        Some(target) => {
            if !consult {
                // The work leaves its agent for the queue at once.
                extra = extra.set(
                    field!(AWA_WORK_ITEM, is_queue_transferred),
                    Value::Bool(true),
                );
                // Every item doing the document's work ends: the current one, and, when it
                // is a transfer's pending offer, the accepted item it was to take over.
                for item in super::active_items(tx, table.name, document_id).await? {
                    if flag(&item, "consult") && !is_handed_over(&item) {
                        continue;
                    }
                    super::end(tx, &item, end_reason(&item), now, actor).await?;
                    if let Some(holder) = item.str("assigned_to") {
                        membership::leave(tx, table.name, document_id, holder, actor).await?;
                    }
                }
                membership::assign(tx, table.name, document_id, None, actor).await?;
            }
            let item = new_item(tx, table, &document, &target, now, actor, extra).await?;
            Box::pin(events::transferred(tx, &item, &current, None)).await?;
            Ok(Ok(Summary::of(&item)))
        }
        None => {
            let TransferTarget::Agent(target) = &transfer.target else {
                unreachable!("a transfer without a target queue is to an agent")
            };
            // A transfer's offer still pending is the document's work in flight: a second
            // transfer to an agent is refused as a second offer of a pending item is (it would
            // make a second pending item for one document, each ending the other's previous).
            if current.str("state") == Some(PENDING_ACCEPT) && is_transfer(&current) {
                let holder = current.str("assigned_to").unwrap_or_default().to_owned();
                return Ok(Err(Refusal::AlreadyAssignedTo(holder)));
            }
            // Checked before anything is written: a refused transfer leaves no work item.
            let agent_record = match agent(tx, target).await? {
                Ok(a) => a,
                Err(refusal) => return Ok(Err(refusal)),
            };
            if !is_external_user(&agent_record) {
                return Ok(Err(Refusal::NotAnExternalUser));
            }
            let channel = current.str("service_channel").map(str::to_owned);
            if !is_available(tx, target, channel.as_deref()).await? {
                return Ok(Err(match transfer.kind {
                    TransferKind::Blind => Refusal::BlindTransferFailed,
                    TransferKind::Consult => Refusal::AgentNotAvailable,
                }));
            }
            let queue_id = current.str("queue").unwrap_or_default().to_owned();
            let Some(queue) = tx.get(&registry::AWA_QUEUE, &queue_id).await? else {
                return Ok(Err(Refusal::NoQueue(queue_id)));
            };
            let item = new_item(tx, table, &document, &queue, now, actor, extra).await?;
            Box::pin(events::transferred(tx, &item, &current, Some(target))).await?;
            let mut offer = transfer.terms.clone();
            offer.agent = target.clone();
            let terms = Terms {
                offer: &offer,
                external_user_required: true,
                caller,
                extra: Changes::default(),
            };
            match offer_item(tx, &item, terms, now, actor).await? {
                Ok(offered) => Ok(Ok(Summary::of(&offered))),
                Err(refusal) => Ok(Err(refusal)),
            }
        }
    }
}

/// Whether the item was made by a transfer (blind or consult) rather than routed in.
fn is_transfer(item: &Record) -> bool {
    item.str("transfer_type").is_some_and(|t| !t.is_empty())
}

/// A consult whose agent took the work over: the document's work, no longer a consult.
fn is_handed_over(item: &Record) -> bool {
    item.str("consult_state") == Some(super::CONSULT_TRANSFERRED)
}

/// How an item that is being left ends: an accepted one is simply over, any other is
/// cancelled (its transfer moved the work elsewhere).
fn end_reason(item: &Record) -> Option<&'static str> {
    match item.str("state") {
        Some(ACCEPTED) => None,
        _ => Some(super::TRANSFER_CANCELED),
    }
}

/// The document a work item is for: (table, sys_id).
pub(super) fn document_of(item: &Record) -> (String, String) {
    (
        item.str("document_table").unwrap_or_default().to_owned(),
        item.str("document_id").unwrap_or_default().to_owned(),
    )
}

/// A routable table's active record, read under the document's lock. The lock comes first:
/// holding the record (`FOR KEY SHARE`) while waiting for the lock would deadlock with the
/// holder of the lock writing the record (an accept assigning the document to its agent).
pub(super) async fn active_document(
    tx: &mut Tx,
    table: &str,
    id: &str,
) -> Outcome<(&'static Table, Record)> {
    let Some(table) = super::document_table(table) else {
        return Ok(Err(Refusal::NoDocument(id.to_owned())));
    };
    lock_document(tx, table.name, id).await?;
    let Some(document) = tx.get_held(table, id, RowLock::KeyShare).await? else {
        return Ok(Err(Refusal::NoDocument(id.to_owned())));
    };
    if !flag(&document, "active") {
        return Ok(Err(Refusal::DocumentNotActive));
    }
    Ok(Ok((table, document)))
}

/// What an offer is made with beyond the agent's terms.
struct Terms<'a> {
    offer: &'a Offer,
    /// Offer Work requires `awa_external_user` of the agent; Manual Assignment does not.
    external_user_required: bool,
    caller: &'a str,
    /// Further changes to the work item (its queue, the external segment id).
    extra: Changes,
}

/// Offers a locked work item to the terms' agent, in the pages' order of checks: the presence
/// state named for after a timeout, the agent, the work item's state, whom it is already
/// offered to, the agent's availability. An automatic accept accepts it at once.
async fn offer_item(
    tx: &mut Tx,
    item: &Record,
    terms: Terms<'_>,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<Record> {
    let offer = terms.offer;
    let after_timeout = offer
        .deadline
        .as_ref()
        .and_then(|d| d.after_timeout_presence.clone());
    if let Some(state) = &after_timeout {
        let states = &registry::AWA_PRESENCE_STATE;
        let found = tx.get_held(states, state, RowLock::KeyShare).await?;
        if !found.is_some_and(|s| flag(&s, "active")) {
            return Ok(Err(Refusal::NoPresenceState(state.clone())));
        }
    }
    let agent_record = match agent(tx, &offer.agent).await? {
        Ok(a) => a,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if terms.external_user_required && !is_external_user(&agent_record) {
        return Ok(Err(Refusal::NotAnExternalUser));
    }
    match item.str("state") {
        Some(ACCEPTED) if terms.external_user_required => {
            return Ok(Err(Refusal::AcceptedCannotBeAssigned));
        }
        Some(ACCEPTED | CANCELLED) => {
            return Ok(Err(Refusal::CannotBeAssigned(item.sys_id().to_owned())));
        }
        _ if !flag(item, "active") => {
            return Ok(Err(Refusal::CannotBeAssigned(item.sys_id().to_owned())));
        }
        Some(PENDING_ACCEPT) => {
            let holder = item.str("assigned_to").unwrap_or_default().to_owned();
            return Ok(Err(Refusal::AlreadyAssignedTo(holder)));
        }
        _ => {}
    }
    let channel = item.str("service_channel").map(str::to_owned);
    if !is_available(tx, &offer.agent, channel.as_deref()).await? {
        return Ok(Err(Refusal::AgentNotAvailable));
    }
    let count = match item.get("offer_count") {
        Value::Int(n) => n.saturating_add(1),
        _ => 1,
    };
    let (offered_on, timeout, timeout_on) = match &offer.deadline {
        Some(d) => (d.offered_on, d.seconds, stamp_deadline(d.expires)),
        None => (now, 0, Value::Null),
    };
    let changes = terms
        .extra
        .set(field!(AWA_WORK_ITEM, state), Value::text(PENDING_ACCEPT))
        .set(
            field!(AWA_WORK_ITEM, assigned_to),
            Value::text(&offer.agent),
        )
        .set(field!(AWA_WORK_ITEM, offered_on), stamp(offered_on))
        .set(field!(AWA_WORK_ITEM, offer_timeout), Value::Int(timeout))
        .set(field!(AWA_WORK_ITEM, timeout_on), timeout_on)
        .set(
            field!(AWA_WORK_ITEM, after_timeout_presence),
            after_timeout.map_or(Value::Null, Value::Text),
        )
        .set(
            field!(AWA_WORK_ITEM, allowed_to_decline),
            Value::Bool(offer.allowed_to_decline),
        )
        .set(
            field!(AWA_WORK_ITEM, auto_assign),
            Value::Bool(offer.auto_assign),
        )
        .set(
            field!(AWA_WORK_ITEM, display_option),
            Value::text(&offer.display_option),
        )
        .set(
            field!(AWA_WORK_ITEM, allocated_by),
            Value::text(terms.caller),
        )
        .set(field!(AWA_WORK_ITEM, offer_count), Value::Int(count));
    let offered = super::change(tx, item, changes, now, actor).await?;
    if offer.auto_assign {
        return Ok(Ok(
            super::inbox::accept_item(tx, &offered, now, actor).await?
        ));
    }
    Ok(Ok(offered))
}
