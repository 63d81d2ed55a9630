//! A supervisor's side of a chat, as a person does it in the platform's UI: observing a
//! conversation (an `observer` member, which only an `awa_manager` may be) and clicking "Join
//! Conversation" (a join request to the contact center, which answers by making the supervisor
//! a public fulfiller through the Conversation Member API's `/update`).

use super::{Changes, RecordError, Result, awa_work, events};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// The member type of a supervisor watching a conversation.
pub const OBSERVER: &str = "observer";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoInteraction,
    /// The interaction is not on a third-party chat channel, or has no conversation.
    NoConversation,
    NoUser,
    /// The user lacks `awa_manager`.
    NotAManager,
    /// The user is already an active member, of this type.
    AlreadyMember(String),
    /// Join: the user is not an active observer of the conversation.
    NotObserving,
    /// Join: no active provider taking join requests receives this interaction's events.
    NoProvider,
}

pub type Outcome<T> = Result<std::result::Result<T, Refusal>>;

/// What observing or joining did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub member: Record,
    pub conversation: String,
    /// False when the supervisor already was observing (nothing was written).
    pub created: bool,
}

/// The interaction (held) and its conversation's sys_id.
async fn conversation(tx: &mut Tx, interaction_id: &str) -> Outcome<(Record, String)> {
    let interactions = &registry::INTERACTION;
    let held = tx.get_held(interactions, interaction_id, RowLock::KeyShare);
    let Some(interaction) = held.await? else {
        return Ok(Err(Refusal::NoInteraction));
    };
    match awa_work::conversation_of(tx, interactions.name, interaction_id).await? {
        Some(c) => Ok(Ok((interaction, c.sys_id().to_owned()))),
        None => Ok(Err(Refusal::NoConversation)),
    }
}

/// The user's membership record of the conversation, locked (one per user and conversation).
async fn membership(tx: &mut Tx, conversation: &str, user: &str) -> Result<Option<Record>> {
    let filter = Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, conversation),
        conversation.into(),
    )
    .and(Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, member),
        user.into(),
    ));
    let members = &registry::SYS_CS_CONVERSATION_MEMBER;
    let found = tx.select(members, &Select::filter(filter).locked()).await?;
    Ok(found.into_iter().next())
}

/// The supervisor starts observing the interaction's conversation. Observing again is a
/// no-op; a supervisor who left is back as an observer; one who is a member of another kind
/// is refused.
pub async fn observe(
    tx: &mut Tx,
    interaction_id: &str,
    supervisor: &str,
    actor: &str,
) -> Outcome<Observed> {
    let (_, conversation) = match self::conversation(tx, interaction_id).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let users = &registry::SYS_USER;
    if tx
        .get_held(users, supervisor, RowLock::KeyShare)
        .await?
        .is_none()
    {
        return Ok(Err(Refusal::NoUser));
    }
    let members = &registry::SYS_CS_CONVERSATION_MEMBER;
    let written = match membership(tx, &conversation, supervisor).await? {
        Some(m) if m.get("active") == &Value::Bool(true) => {
            let kind = m.str("member_type").unwrap_or_default().to_owned();
            if kind != OBSERVER {
                return Ok(Err(Refusal::AlreadyMember(kind)));
            }
            return Ok(Ok(Observed {
                member: m,
                conversation,
                created: false,
            }));
        }
        Some(m) => {
            let changes = Changes::default()
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, member_type),
                    Value::text(OBSERVER),
                )
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, active),
                    Value::Bool(true),
                );
            super::update(tx, members, m.sys_id(), changes, actor).await
        }
        None => {
            let changes = Changes::default()
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, conversation),
                    Value::text(conversation.as_str()),
                )
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, member),
                    Value::text(supervisor),
                )
                .set(
                    field!(SYS_CS_CONVERSATION_MEMBER, member_type),
                    Value::text(OBSERVER),
                );
            super::insert(tx, members, None, changes, actor).await
        }
    };
    match written {
        Ok(member) => Ok(Ok(Observed {
            member,
            conversation,
            created: true,
        })),
        // The record rules' observer check: only an awa_manager may observe.
        Err(RecordError::Forbidden(_)) => Ok(Err(Refusal::NotAManager)),
        Err(e) => Err(e),
    }
}

/// A join request, queued for the contact center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequested {
    pub event_id: String,
    pub conversation: String,
}

/// The supervisor, observing, clicks "Join Conversation": the join request goes out as a
/// `conversation.join_requested` event to the provider of the interaction's work.
pub async fn request_join(
    tx: &mut Tx,
    interaction_id: &str,
    supervisor: &str,
) -> Outcome<JoinRequested> {
    let (interaction, conversation) = match self::conversation(tx, interaction_id).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if tx.get(&registry::SYS_USER, supervisor).await?.is_none() {
        return Ok(Err(Refusal::NoUser));
    }
    let observing = membership(tx, &conversation, supervisor)
        .await?
        .is_some_and(|m| {
            m.get("active") == &Value::Bool(true) && m.str("member_type") == Some(OBSERVER)
        });
    if !observing {
        return Ok(Err(Refusal::NotObserving));
    }
    match events::join_requested(tx, &interaction, &conversation, supervisor).await? {
        Some(event_id) => Ok(Ok(JoinRequested {
            event_id,
            conversation,
        })),
        None => Ok(Err(Refusal::NoProvider)),
    }
}
