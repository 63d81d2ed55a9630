//! What a work item does to its document: the agent who holds it is the document's assignee
//! and, for an interaction on a third-party chat, a member of its conversation.

use super::super::{Changes, Result};
use crate::domain::members::PUBLIC_FULFILLER;
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// A consulted agent's member type: in the chat, but not (yet) the customer's.
pub const PRIVATE_FULFILLER: &str = "private_fulfiller";

/// The interaction state of one an agent works on.
const WORK_IN_PROGRESS: &str = "work_in_progress";
/// The interaction state of one waiting in a queue.
const QUEUED: &str = "queued";

/// The document's conversation, when it is an interaction on a third-party channel.
pub(crate) async fn conversation(
    tx: &mut Tx,
    table: &str,
    document: &str,
) -> Result<Option<Record>> {
    if table != registry::INTERACTION.name {
        return Ok(None);
    }
    let Some(interaction) = tx.get(&registry::INTERACTION, document).await? else {
        return Ok(None);
    };
    if !crate::domain::members::is_third_party(tx, &interaction).await? {
        return Ok(None);
    }
    let filter = Filter::eq(field!(SYS_CS_CONVERSATION, interaction), document.into());
    let found = tx
        .select(
            &registry::SYS_CS_CONVERSATION,
            &Select::filter(filter).limit(1),
        )
        .await?;
    Ok(found.into_iter().next())
}

/// The agent's membership records of a conversation, locked.
async fn memberships(tx: &mut Tx, conversation: &str, agent: &str) -> Result<Vec<Record>> {
    let filter = Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, conversation),
        conversation.into(),
    )
    .and(Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, member),
        agent.into(),
    ));
    Ok(tx
        .select(
            &registry::SYS_CS_CONVERSATION_MEMBER,
            &Select::filter(filter).locked(),
        )
        .await?)
}

/// Makes the agent an active member of the document's conversation, of `member_type`: its
/// existing membership changes (one record per agent and conversation), or a new one is made.
pub async fn join(
    tx: &mut Tx,
    table: &str,
    document: &str,
    agent: &str,
    member_type: &str,
    actor: &str,
) -> Result<()> {
    let Some(conversation) = conversation(tx, table, document).await? else {
        return Ok(());
    };
    let members = &registry::SYS_CS_CONVERSATION_MEMBER;
    let changes = Changes::default()
        .set(
            field!(SYS_CS_CONVERSATION_MEMBER, member_type),
            Value::text(member_type),
        )
        .set(
            field!(SYS_CS_CONVERSATION_MEMBER, active),
            Value::Bool(true),
        );
    let existing = memberships(tx, conversation.sys_id(), agent).await?;
    match existing.first() {
        Some(member) => {
            crate::domain::update(tx, members, member.sys_id(), changes, actor).await?;
        }
        None => {
            let changes = changes
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, conversation),
                    Value::text(conversation.sys_id()),
                )
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, member),
                    Value::text(agent),
                );
            crate::domain::insert(tx, members, None, changes, actor).await?;
        }
    }
    Ok(())
}

/// The agent leaves the document's conversation (its memberships become inactive).
pub async fn leave(
    tx: &mut Tx,
    table: &str,
    document: &str,
    agent: &str,
    actor: &str,
) -> Result<()> {
    let Some(conversation) = conversation(tx, table, document).await? else {
        return Ok(());
    };
    for member in memberships(tx, conversation.sys_id(), agent).await? {
        if member.get("active") == &Value::Bool(true) {
            let changes = Changes::default().set(
                field!(SYS_CS_CONVERSATION_MEMBER, active),
                Value::Bool(false),
            );
            let members = &registry::SYS_CS_CONVERSATION_MEMBER;
            crate::domain::update(tx, members, member.sys_id(), changes, actor).await?;
        }
    }
    Ok(())
}

/// The document is now `agent`'s (or, with None, nobody's: it waits in a queue): its
/// `assigned_to`, and for an interaction its state (in progress with an agent, queued without,
/// the state the Interaction API gives one opened in a queue).
pub async fn assign(
    tx: &mut Tx,
    table: &str,
    document: &str,
    agent: Option<&str>,
    actor: &str,
) -> Result<()> {
    let Some(table) = registry::table(table) else {
        return Ok(());
    };
    let Some(assigned_to) = table.field("assigned_to") else {
        return Ok(());
    };
    let Some(record) = tx.get_locked(table, document).await? else {
        return Ok(());
    };
    if record.get("active") != &Value::Bool(true) {
        return Ok(());
    }
    let mut changes = Changes::default().set(assigned_to, agent.map_or(Value::Null, Value::text));
    if table == &registry::INTERACTION {
        let state = if agent.is_some() {
            WORK_IN_PROGRESS
        } else {
            QUEUED
        };
        changes = changes.set(field!(INTERACTION, state), Value::text(state));
    }
    crate::domain::update(tx, table, document, changes, actor).await?;
    Ok(())
}

/// The member type an agent accepting `item` joins as.
pub fn member_type_for(item: &Record) -> &'static str {
    if item.get("consult") == &Value::Bool(true) {
        PRIVATE_FULFILLER
    } else {
        PUBLIC_FULFILLER
    }
}
