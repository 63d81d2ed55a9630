//! Mapping a CCaaS system's agent id to a platform user: the rules behind the Agent Mapping API.

use serde_json::{Map, Value as Json};

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{Table, table};
use crate::model::value::Value;
use crate::storage::Tx;

pub const INSERTED: &str = "Agent Id mapping record inserted";
pub const UPDATED: &str = "Agent Id mapping record updated";

/// What the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRequest {
    pub external_agent_id: String,
    /// Whether the agent is logged in to the CCaaS system.
    pub active: bool,
}

/// A refusal: HTTP 400 with `status: failure` and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl MappingRequest {
    pub fn from_body(body: &Map<String, Json>) -> std::result::Result<Self, Refused> {
        let external_agent_id = match body.get("external_agent_id") {
            Some(Json::String(s)) if s.contains('\0') => {
                return Err(Refused(
                    "Field external_agent_id may not contain NUL characters".into(),
                ));
            }
            Some(Json::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Json::String(_)) | None | Some(Json::Null) => {
                return Err(Refused(
                    "Mandatory field external_agent_id is missing".into(),
                ));
            }
            Some(_) => return Err(Refused("Field external_agent_id must be a string".into())),
        };
        // The page's own sample sends "false" as a string: both spellings are accepted.
        let active = match body.get("active") {
            None | Some(Json::Null) => true,
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) if s == "true" => true,
            Some(Json::String(s)) if s == "false" => false,
            Some(_) => return Err(Refused("Field active must be true or false".into())),
        };
        Ok(MappingRequest {
            external_agent_id,
            active,
        })
    }
}

/// The mappings written: their sys_ids, and whether any was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub ids: Vec<String>,
    pub created: bool,
}

fn registry(name: &str) -> &'static Table {
    table(name).expect("mapping tables are in the registry")
}

/// Creates or updates the mapping of `agent` for every active provider channel identity whose
/// inbound id is `inbound_id`.
pub async fn map_agent(
    tx: &mut Tx,
    agent: &str,
    inbound_id: &str,
    request: MappingRequest,
    actor: &str,
) -> Result<std::result::Result<Mapped, Refused>> {
    let users = registry("sys_user");
    // Held: the mapping about to be written refers to the user.
    let user = tx.get_held(users, agent, RowLock::KeyShare).await?;
    if !user.is_some_and(|u| u.get("active") == &Value::Bool(true)) {
        return Ok(Err(Refused(format!(
            "Invalid agent id {agent}: no active user has this sys_id"
        ))));
    }
    let identities = registry("sys_cs_provider_application");
    let filter = Filter::eq(identities, "inbound_id", inbound_id.into()).and(Filter::eq(
        identities,
        "active",
        Value::Bool(true),
    ));
    let found = tx.select(identities, &Select::filter(filter)).await?;
    if found.is_empty() {
        return Ok(Err(Refused(format!(
            "Invalid inbound id {inbound_id}: no active provider channel identity has it"
        ))));
    }
    let mappings = registry("external_agent_mapping");
    let mut mapped = Mapped {
        ids: Vec::with_capacity(found.len()),
        created: false,
    };
    for identity in found {
        let changes = Changes::default()
            .value(mappings, "user", Value::text(agent))
            .value(
                mappings,
                "provider_application",
                Value::text(identity.sys_id()),
            )
            .value(
                mappings,
                "external_agent_id",
                Value::text(request.external_agent_id.as_str()),
            )
            .value(mappings, "active", Value::Bool(request.active));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Json) -> std::result::Result<MappingRequest, Refused> {
        MappingRequest::from_body(v.as_object().unwrap())
    }

    #[test]
    fn active_is_a_boolean_or_its_string_and_defaults_to_true() {
        assert!(parse(json!({"external_agent_id": "1"})).unwrap().active);
        assert!(
            !parse(json!({"external_agent_id": "1", "active": false}))
                .unwrap()
                .active
        );
        assert!(
            !parse(json!({"external_agent_id": "1", "active": "false"}))
                .unwrap()
                .active
        );
        assert!(
            parse(json!({"external_agent_id": "1", "active": "true"}))
                .unwrap()
                .active
        );
        for bad in ["yes", "FALSE", "0"] {
            assert!(
                parse(json!({"external_agent_id": "1", "active": bad})).is_err(),
                "{bad}"
            );
        }
        assert!(parse(json!({"external_agent_id": "1", "active": 1})).is_err());
    }

    #[test]
    fn external_agent_id_is_a_non_empty_string() {
        assert!(parse(json!({})).is_err());
        assert!(parse(json!({"external_agent_id": ""})).is_err());
        assert!(parse(json!({"external_agent_id": " "})).is_err());
        assert!(parse(json!({"external_agent_id": 12345})).is_err());
        assert_eq!(
            parse(json!({"external_agent_id": "12345"}))
                .unwrap()
                .external_agent_id,
            "12345"
        );
    }
}
