//! Conversation membership: dropping an agent, and turning an observer or private fulfiller into
//! a public fulfiller. The rules behind the Conversation Member API, checked in the documented
//! order.

use serde_json::{Map, Value as Json};

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{Table, table};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

pub const DROPPED: &str = "Request to drop agent processed successfully.";
pub const UPDATED: &str = "Request to update agent member type processed successfully.";
pub const INSUFFICIENT_INPUT: &str = "Invalid request. Insufficient input";
pub const BAD_MEMBER_TYPE: &str = "Invalid request. Member type must be one of [public_fulfiller]";
pub const NOT_THIRD_PARTY: &str = "Provided interaction is not a third party interaction";
pub const NO_CONVERSATION: &str = "Conversation for corresponding interaction could not be found";
pub const NOT_A_MEMBER: &str = "Invalid request. User is not a member of the interaction provided";
pub const ALREADY_PUBLIC: &str =
    "Invalid request. User is already a public fulfiller in the interaction provided";

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

/// A documented refusal; `server_error` is the one the page answers with HTTP 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub message: &'static str,
    pub server_error: bool,
}

fn refuse(message: &'static str) -> Refused {
    Refused {
        message,
        server_error: false,
    }
}

fn registry(name: &str) -> &'static Table {
    table(name).expect("conversation tables are in the registry")
}

fn text<'a>(body: &'a Map<String, Json>, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Json::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The checks on the request alone: input present (1), member type allowed (2).
pub fn check_input(
    action: Action,
    body: &Map<String, Json>,
) -> std::result::Result<String, Refused> {
    let interaction = text(body, "interaction_id").ok_or(refuse(INSUFFICIENT_INPUT))?;
    if action == Action::MakePublic {
        let member_type = text(body, "member_type").ok_or(refuse(INSUFFICIENT_INPUT))?;
        if member_type != PUBLIC_FULFILLER {
            return Err(refuse(BAD_MEMBER_TYPE));
        }
    }
    Ok(interaction.to_owned())
}

/// Applies `action` to `user`'s membership of the interaction's conversation.
pub async fn change(
    tx: &mut Tx,
    action: Action,
    user: &str,
    body: &Map<String, Json>,
    actor: &str,
) -> Result<std::result::Result<Changed, Refused>> {
    let interaction_id = match check_input(action, body) {
        Ok(id) => id,
        Err(refused) => return Ok(Err(refused)),
    };
    // 3. An existing interaction must be third-party; 4. it must have a conversation.
    // Held: the member about to be written refers to the interaction.
    let interaction = tx
        .get_held(registry("interaction"), &interaction_id, RowLock::KeyShare)
        .await?;
    let Some(interaction) = interaction else {
        return Ok(Err(refuse(NO_CONVERSATION)));
    };
    if !is_third_party(tx, &interaction).await? {
        return Ok(Err(refuse(NOT_THIRD_PARTY)));
    }
    let conversations = registry("sys_cs_conversation");
    let filter = Filter::eq(conversations, "interaction", interaction_id.as_str().into());
    let Some(conversation) = tx
        .select(conversations, &Select::filter(filter).limit(1))
        .await?
        .pop()
    else {
        return Ok(Err(refuse(NO_CONVERSATION)));
    };
    // 5. The user must be an active member.
    let members = registry("sys_cs_conversation_member");
    let filter = Filter::eq(members, "conversation", conversation.sys_id().into())
        .and(Filter::eq(members, "member", user.into()))
        .and(Filter::eq(members, "active", Value::Bool(true)));
    // Locked: a concurrent drop and update of one member serialise, the second seeing the first.
    let Some(member) = tx
        .select(members, &Select::filter(filter).limit(1).locked())
        .await?
        .pop()
    else {
        return Ok(Err(refuse(NOT_A_MEMBER)));
    };
    let current_type = member.str("member_type").unwrap_or_default().to_owned();
    let changes = match action {
        Action::Drop => Changes::default().value(members, "active", Value::Bool(false)),
        Action::MakePublic if current_type == PUBLIC_FULFILLER => {
            return Ok(Err(Refused {
                message: ALREADY_PUBLIC,
                server_error: true,
            }));
        }
        Action::MakePublic => {
            Changes::default().value(members, "member_type", Value::text(PUBLIC_FULFILLER))
        }
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
    let connector = tx.get(registry("interaction_connector"), channel).await?;
    Ok(connector.is_some_and(|c| c.get("third_party") == &Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn input_checks_come_first_and_in_order() {
        let insufficient = Err(refuse(INSUFFICIENT_INPUT));
        assert_eq!(check_input(Action::Drop, &body(json!({}))), insufficient);
        assert_eq!(
            check_input(Action::Drop, &body(json!({"interaction_id": ""}))),
            insufficient
        );
        assert_eq!(
            check_input(Action::Drop, &body(json!({"interaction_id": 5}))),
            insufficient
        );
        assert_eq!(
            check_input(Action::Drop, &body(json!({"interaction_id": "i"}))),
            Ok("i".into())
        );
        // Update needs member_type too; a missing one is insufficient input, not a bad type.
        assert_eq!(
            check_input(Action::MakePublic, &body(json!({"interaction_id": "i"}))),
            insufficient
        );
        assert_eq!(
            check_input(
                Action::MakePublic,
                &body(json!({"member_type": "observer"}))
            ),
            insufficient
        );
        assert_eq!(
            check_input(
                Action::MakePublic,
                &body(json!({"interaction_id": "i", "member_type": "observer"}))
            ),
            Err(refuse(BAD_MEMBER_TYPE))
        );
        assert_eq!(
            check_input(
                Action::MakePublic,
                &body(json!({"interaction_id": "i", "member_type": "public_fulfiller"}))
            ),
            Ok("i".into())
        );
    }
}
