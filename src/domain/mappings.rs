//! Mapping a CCaaS system's agent id to a platform user: the rules behind the Agent Mapping API.

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::Value;
use crate::storage::Tx;

/// What the client asked for, checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRequest {
    pub external_agent_id: String,
    /// Whether the agent is logged in to the CCaaS system.
    pub active: bool,
}

/// Why a mapping was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No active user has the agent's sys_id.
    UnknownAgent,
    /// No active provider channel identity has the inbound id.
    UnknownInboundId,
}

/// The mappings written: their sys_ids, and whether any was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub ids: Vec<String>,
    pub created: bool,
}

/// Creates or updates the mapping of `agent` for every active provider channel identity whose
/// inbound id is `inbound_id`.
pub async fn map_agent(
    tx: &mut Tx,
    agent: &str,
    inbound_id: &str,
    request: MappingRequest,
    actor: &str,
) -> Result<std::result::Result<Mapped, Refusal>> {
    let users = &registry::SYS_USER;
    // Held: the mapping about to be written refers to the user.
    let user = tx.get_held(users, agent, RowLock::KeyShare).await?;
    if !user.is_some_and(|u| u.get("active") == &Value::Bool(true)) {
        return Ok(Err(Refusal::UnknownAgent));
    }
    let identities = &registry::SYS_CS_PROVIDER_APPLICATION;
    let filter = Filter::eq(
        field!(SYS_CS_PROVIDER_APPLICATION, inbound_id),
        inbound_id.into(),
    )
    .and(Filter::eq(
        field!(SYS_CS_PROVIDER_APPLICATION, active),
        Value::Bool(true),
    ));
    let found = tx.select(identities, &Select::filter(filter)).await?;
    if found.is_empty() {
        return Ok(Err(Refusal::UnknownInboundId));
    }
    let mappings = &registry::EXTERNAL_AGENT_MAPPING;
    let mut mapped = Mapped {
        ids: Vec::with_capacity(found.len()),
        created: false,
    };
    for identity in found {
        let changes = Changes::default()
            .set(field!(EXTERNAL_AGENT_MAPPING, user), Value::text(agent))
            .set(
                field!(EXTERNAL_AGENT_MAPPING, provider_application),
                Value::text(identity.sys_id()),
            )
            .set(
                field!(EXTERNAL_AGENT_MAPPING, external_agent_id),
                Value::text(request.external_agent_id.as_str()),
            )
            .set(
                field!(EXTERNAL_AGENT_MAPPING, active),
                Value::Bool(request.active),
            );
        let (id, created) = super::upsert(
            tx,
            mappings,
            changes,
            &["user", "provider_application"],
            &["external_agent_id", "active"],
            actor,
        )
        .await?;
        mapped.ids.push(id);
        mapped.created |= created;
    }
    Ok(Ok(mapped))
}
