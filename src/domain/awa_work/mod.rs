//! Work items under Advanced Work Assignment with external routing: a document (an interaction,
//! an incident) is routed to a queue as a queued work item; the contact center offers it to an
//! agent (pending accept, perhaps with a timeout); the agent accepts (the work is theirs, and
//! they join the chat) or rejects (back to the queue); transfers and consults move it between
//! agents and queues; closing the document ends it. The rules behind the AWA Routing, Offer Work,
//! Manual Assignment, Inbox Actions and Agent Consult APIs.
//!
//! Every function takes `now` from the caller's clock, so tests move time instead of waiting.
//! Whatever acts on a document takes its named lock first (`awa_document:<table>:<id>`), then
//! locks the work item rows it changes and re-reads their state: concurrent offers, accepts,
//! rejects and timeouts of one work item run one after the other, each seeing the last.

mod inbox;
mod lifecycle;
mod membership;
mod offer;
mod offer_terms;

pub use inbox::{RejectReason, accept, reject, reject_reasons};
pub use lifecycle::{
    document_closed, document_opened, end_consult, expire_offers, route, workloads,
};
pub(crate) use membership::conversation as conversation_of;
pub use offer::{
    Transfer, TransferKind, TransferTarget, is_document, is_work_item, offer_document,
    offer_work_item, transfer,
};
pub use offer_terms::{
    DISPLAY_OPTIONS, Deadline, Offer, OfferRequest, format_offered_on, parse_flag, parse_offered_on,
};

use time::OffsetDateTime;

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, Table, field};
use crate::model::roles::{AWA_AGENT, AWA_EXTERNAL_USER};
use crate::model::value::{self, Record, Value};
use crate::storage::Tx;

/// A work item's states, as stored.
pub const QUEUED: &str = "queued";
pub const PENDING_ACCEPT: &str = "pending_accept";
pub const ACCEPTED: &str = "accepted";
pub const CANCELLED: &str = "cancelled";

/// Why a work item was cancelled, as stored in `reason`.
pub const TIME_OUT: &str = "time_out";
pub const TRANSFER_CANCELED: &str = "transfer_canceled";
pub const DISQUALIFIED: &str = "disqualified";

/// A consult work item's `consult_state`.
pub const CONSULT_REQUESTED: &str = "requested";
pub const CONSULT_ACCEPTED: &str = "accepted";
pub const CONSULT_TRANSFERRED: &str = "transferred";
pub const CONSULT_ENDED: &str = "ended";
pub const CONSULT_CANCELLED: &str = "cancelled";

/// Why a request cannot be carried out although it is well formed. The API layer gives each
/// its status and the page's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A required key (named as the page names it) is missing or empty.
    Missing(String),
    NotABoolean(String),
    NotADisplayOption(String),
    NegativeTimeout,
    NotATimeout(String),
    OfferedOnFormat(String),
    OfferedOnInFuture(String),
    /// The offer would expire at or before now (the expiry, formatted).
    NoTimeLeft(String),
    NoPresenceState(String),
    NoWorkItem(String),
    NoDocument(String),
    NoQueue(String),
    NoChannel(String),
    NoRejectReason(String),
    /// No user with this sys_id.
    NoUser(String),
    /// No such user, or it lacks `awa_agent`.
    NotAnAgent(String),
    /// The agent lacks `awa_external_user` (Offer Work).
    NotAnExternalUser,
    /// Offer Work: the document's work item is accepted.
    AcceptedCannotBeAssigned,
    /// Manual Assignment: the work item is accepted or cancelled.
    CannotBeAssigned(String),
    /// The work item is pending accept by this agent.
    AlreadyAssignedTo(String),
    AgentNotAvailable,
    BlindTransferFailed,
    DocumentNotActive,
    /// Inbox: the work item is not the agent's.
    AssignedToOther,
    NotPendingAccept,
    /// Inbox: the offer does not let the agent decline.
    MayNotDecline,
    /// Consult end: no active consult work item for the document.
    NoConsult(String),
}

pub type Outcome<T> = Result<std::result::Result<T, Refusal>>;

/// A work item as the routing and offer APIs describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub sys_id: String,
    pub display_name: String,
    pub document_table: String,
    pub document_id: String,
    /// The queue's sys_id.
    pub queue: String,
}

impl Summary {
    fn of(item: &Record) -> Summary {
        let text = |name| item.str(name).unwrap_or_default().to_owned();
        Summary {
            sys_id: item.sys_id().to_owned(),
            display_name: text("display_name"),
            document_table: text("document_table"),
            document_id: text("document_id"),
            queue: text("queue"),
        }
    }
}

fn flag(record: &Record, name: &str) -> bool {
    record.get(name) == &Value::Bool(true)
}

fn stamp(now: OffsetDateTime) -> Value {
    Value::Text(value::format_date_time(now))
}

/// A deadline in the stored format, which holds whole seconds: rounded up, so that nothing
/// expires before its time.
fn stamp_deadline(at: OffsetDateTime) -> Value {
    let whole = at.replace_nanosecond(0).unwrap_or(at);
    let at = if whole < at {
        whole + time::Duration::SECOND
    } else {
        whole
    };
    stamp(at)
}

/// A table that can be routed: any table of the registry with an `active` field.
fn document_table(name: &str) -> Option<&'static Table> {
    registry::table(name).filter(|t| t.field("active").is_some())
}

/// "Interaction: IMS0000001": the table's name in words, and the document's display value.
fn display_name(table: &Table, document: &Record) -> String {
    let label: Vec<String> = table
        .name
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect();
    let shown = table
        .display
        .iter()
        .find_map(|f| document.str(f).filter(|v| !v.is_empty()))
        .unwrap_or(document.sys_id());
    format!("{}: {shown}", label.join(" "))
}

/// Serialises everything done to one document's work items, on every node. Whoever also
/// locks the document's record takes this lock first (closing a document locks its record,
/// then ends its work items; an accept, under this lock, writes the record).
pub(crate) async fn lock_document(tx: &mut Tx, table: &str, id: &str) -> Result<()> {
    Ok(tx.lock(&format!("awa_document:{table}:{id}")).await?)
}

/// The document's active work items, locked, oldest first.
async fn active_items(tx: &mut Tx, table: &str, id: &str) -> Result<Vec<Record>> {
    let filter = Filter::eq(field!(AWA_WORK_ITEM, document_id), id.into())
        .and(Filter::eq(
            field!(AWA_WORK_ITEM, document_table),
            table.into(),
        ))
        .and(Filter::eq(field!(AWA_WORK_ITEM, active), Value::Bool(true)));
    let mut items = tx
        .select(&registry::AWA_WORK_ITEM, &Select::filter(filter).locked())
        .await?;
    items.sort_by(|a, b| {
        (a.str("sys_created_on"), a.sys_id()).cmp(&(b.str("sys_created_on"), b.sys_id()))
    });
    Ok(items)
}

/// The document's main active work item: its newest active one that is not a consult in
/// progress (a consult handed over is the document's work).
async fn main_item(tx: &mut Tx, table: &str, id: &str) -> Result<Option<Record>> {
    Ok(active_items(tx, table, id)
        .await?
        .into_iter()
        .rfind(|item| {
            !flag(item, "consult") || item.str("consult_state") == Some(CONSULT_TRANSFERRED)
        }))
}

/// An active queue named by sys_id or, failing that, by its provider queue id.
async fn queue(tx: &mut Tx, id: &str) -> Result<Option<Record>> {
    let queues = &registry::AWA_QUEUE;
    if let Some(q) = tx.get_held(queues, id, RowLock::KeyShare).await? {
        return Ok(flag(&q, "active").then_some(q));
    }
    let filter = Filter::eq(field!(AWA_QUEUE, external_id), id.into())
        .and(Filter::eq(field!(AWA_QUEUE, active), Value::Bool(true)));
    let found = tx
        .select(
            queues,
            &Select::filter(filter).limit(1).locked_as(RowLock::KeyShare),
        )
        .await?;
    Ok(found.into_iter().next())
}

/// A user holding `awa_agent` (admin passes every role check), held while the transaction runs.
async fn agent(tx: &mut Tx, id: &str) -> Outcome<Record> {
    let user = tx
        .get_held(&registry::SYS_USER, id, RowLock::KeyShare)
        .await?;
    match user {
        Some(u) if super::roles::holds(u.str("roles").unwrap_or_default(), AWA_AGENT) => Ok(Ok(u)),
        _ => Ok(Err(Refusal::NotAnAgent(id.to_owned()))),
    }
}

fn is_external_user(agent: &Record) -> bool {
    super::roles::holds(agent.str("roles").unwrap_or_default(), AWA_EXTERNAL_USER)
}

/// Whether the agent takes work on `channel` now: its presence state is available and, for
/// a work item on a channel, the agent is available on that channel.
async fn is_available(tx: &mut Tx, agent: &str, channel: Option<&str>) -> Result<bool> {
    let presence = super::awa_presence::presence(tx, agent).await?;
    let Ok(presence) = presence else {
        return Ok(false);
    };
    if !presence.state.available {
        return Ok(false);
    }
    Ok(match channel {
        None => true,
        Some(id) => presence
            .channels
            .iter()
            .any(|c| c.sys_id == id && c.available),
    })
}

/// A new queued work item for the document in `queue`.
async fn new_item(
    tx: &mut Tx,
    table: &'static Table,
    document: &Record,
    queue: &Record,
    now: OffsetDateTime,
    actor: &str,
    extra: Changes,
) -> Result<Record> {
    let mut changes = extra
        .set(
            field!(AWA_WORK_ITEM, document_table),
            Value::text(table.name),
        )
        .set(
            field!(AWA_WORK_ITEM, document_id),
            Value::text(document.sys_id()),
        )
        .set(
            field!(AWA_WORK_ITEM, display_name),
            Value::Text(display_name(table, document)),
        )
        .set(field!(AWA_WORK_ITEM, queue), Value::text(queue.sys_id()))
        .set(field!(AWA_WORK_ITEM, state), Value::text(QUEUED))
        .set(field!(AWA_WORK_ITEM, state_changed_on), stamp(now));
    if let Some(channel) = queue.str("service_channel") {
        changes = changes.set(field!(AWA_WORK_ITEM, service_channel), Value::text(channel));
    }
    super::insert(tx, &registry::AWA_WORK_ITEM, None, changes, actor).await
}

/// Writes `changes` to a work item, stamping `state_changed_on` when the state changes.
async fn change(
    tx: &mut Tx,
    item: &Record,
    mut changes: Changes,
    now: OffsetDateTime,
    actor: &str,
) -> Result<Record> {
    if changes.sets(field!(AWA_WORK_ITEM, state)) {
        changes = changes.set(field!(AWA_WORK_ITEM, state_changed_on), stamp(now));
    }
    super::update(tx, &registry::AWA_WORK_ITEM, item.sys_id(), changes, actor).await
}

/// Ends a work item: inactive, and, unless accepted, cancelled for `reason`.
async fn end(
    tx: &mut Tx,
    item: &Record,
    reason: Option<&str>,
    now: OffsetDateTime,
    actor: &str,
) -> Result<Record> {
    let mut changes = Changes::default().set(field!(AWA_WORK_ITEM, active), Value::Bool(false));
    if let Some(reason) = reason {
        changes = changes
            .set(field!(AWA_WORK_ITEM, state), Value::text(CANCELLED))
            .set(field!(AWA_WORK_ITEM, reason), Value::text(reason));
    }
    change(tx, item, changes, now, actor).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn deadlines_round_up_to_the_second() {
        let stored = |t| stamp_deadline(t).as_str().unwrap().to_owned();
        assert_eq!(
            stored(datetime!(2026-11-28 10:00:00.000 UTC)),
            "2026-11-28 10:00:00"
        );
        assert_eq!(
            stored(datetime!(2026-11-28 10:00:00.001 UTC)),
            "2026-11-28 10:00:01"
        );
        assert_eq!(
            stored(datetime!(2026-11-28 23:59:59.5 UTC)),
            "2026-11-29 00:00:00"
        );
    }

    #[test]
    fn display_names_are_the_table_in_words_and_the_display_value() {
        let interaction = Record::new()
            .with("sys_id", Value::text("a".repeat(32)))
            .with("number", Value::text("IMS0000221"));
        assert_eq!(
            display_name(&registry::INTERACTION, &interaction),
            "Interaction: IMS0000221"
        );
        let queue = Record::new().with("sys_id", Value::text("b".repeat(32)));
        assert_eq!(
            display_name(&registry::AWA_QUEUE, &queue),
            format!("Awa Queue: {}", "b".repeat(32))
        );
    }
}
