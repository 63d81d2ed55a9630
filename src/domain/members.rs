//! Conversation membership: dropping an agent, and turning an observer or private fulfiller into
//! a public fulfiller. The rules behind the Conversation Member API, checked in the documented
//! order.

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// The one member type a member can be updated to.
pub const PUBLIC_FULFILLER: &str = "public_fulfiller";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Drop,
    /// `/update`: observer or private fulfiller to public fulfiller.
    MakePublic,
}

/// The member after a successful change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub active: bool,
    pub member_type: String,
    /// The interaction's sys_id, which the API calls `conversation_id`.
    pub interaction: String,
}

/// Why a change was refused, in the order the page checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The interaction's channel is not a third-party one.
    NotThirdParty,
    /// No such interaction, or it has no conversation.
    NoConversation,
    /// The user is not an active member of the conversation.
    NotAMember,
    /// `update` of a member who already is a public fulfiller.
    AlreadyPublic,
}

/// Applies `action` to `user`'s membership of the conversation of the interaction
/// `interaction_id` (the request's own checks, 1 and 2 on the page, are the API's).
pub async fn change(
    tx: &mut Tx,
    action: Action,
    user: &str,
    interaction_id: String,
    actor: &str,
) -> Result<std::result::Result<Changed, Refusal>> {
    // 3. An existing interaction must be third-party; 4. it must have a conversation.
    // Held: the member about to be written refers to the interaction.
    let interaction = tx
        .get_held(&registry::INTERACTION, &interaction_id, RowLock::KeyShare)
        .await?;
    let Some(interaction) = interaction else {
        return Ok(Err(Refusal::NoConversation));
    };
    if !is_third_party(tx, &interaction).await? {
        return Ok(Err(Refusal::NotThirdParty));
    }
    let conversations = &registry::SYS_CS_CONVERSATION;
    let filter = Filter::eq(
        field!(SYS_CS_CONVERSATION, interaction),
        interaction_id.as_str().into(),
    );
    let Some(conversation) = tx
        .select(conversations, &Select::filter(filter).limit(1))
        .await?
        .pop()
    else {
        return Ok(Err(Refusal::NoConversation));
    };
    // 5. The user must be an active member.
    let members = &registry::SYS_CS_CONVERSATION_MEMBER;
    let filter = Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, conversation),
        conversation.sys_id().into(),
    )
    .and(Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, member),
        user.into(),
    ))
    .and(Filter::eq(
        field!(SYS_CS_CONVERSATION_MEMBER, active),
        Value::Bool(true),
    ));
    // Locked: a concurrent drop and update of one member serialise, the second seeing the first.
    let Some(member) = tx
        .select(members, &Select::filter(filter).limit(1).locked())
        .await?
        .pop()
    else {
        return Ok(Err(Refusal::NotAMember));
    };
    let current_type = member.str("member_type").unwrap_or_default().to_owned();
    let changes = match action {
        Action::Drop => Changes::default().set(
            field!(SYS_CS_CONVERSATION_MEMBER, active),
            Value::Bool(false),
        ),
        Action::MakePublic if current_type == PUBLIC_FULFILLER => {
            return Ok(Err(Refusal::AlreadyPublic));
        }
        Action::MakePublic => Changes::default().set(
            field!(SYS_CS_CONVERSATION_MEMBER, member_type),
            Value::text(PUBLIC_FULFILLER),
        ),
    };
    let after = super::update(tx, members, member.sys_id(), changes, actor).await?;
    Ok(Ok(Changed {
        active: after.get("active") == &Value::Bool(true),
        member_type: after.str("member_type").unwrap_or_default().to_owned(),
        interaction: interaction_id,
    }))
}

/// An interaction is third-party when its channel's connector is.
pub async fn is_third_party(tx: &mut Tx, interaction: &Record) -> Result<bool> {
    let Some(channel) = interaction.str("channel") else {
        return Ok(false);
    };
    let connector = tx.get(&registry::INTERACTION_CONNECTOR, channel).await?;
    Ok(connector.is_some_and(|c| c.get("third_party") == &Value::Bool(true)))
}
