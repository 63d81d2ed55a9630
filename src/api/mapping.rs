//! The Agent Mapping API: map a CCaaS system's agent id to a platform user. JSON only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authorized, InteractionAgent};
use crate::domain::mappings::{self, MappingRequest, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, BodyRejection, conventions, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let mapping = OpenApiRouter::new().routes(routes!(map_agent));
    OpenApiRouter::new()
        .nest("/api/sn_ct_ctr_it_core", mapping.clone())
        .nest("/api/sn_ct_ctr_it_core/v1", mapping)
        .route_layer(middleware::from_fn(conventions::json_only))
}

/// The body, as the page documents it. Fields are read leniently (any JSON) and checked in
/// [`MappingBody::into_request`], so each mistake gets the page's own failure message.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct MappingBody {
    /// The agent's id in the CCaaS system.
    #[schema(value_type = String)]
    external_agent_id: Option<Json>,
    /// Whether the agent is logged in: a boolean, or "true"/"false". Default true.
    #[schema(value_type = Option<Object>)]
    active: Option<Json>,
}

impl MappingBody {
    fn into_request(self) -> Result<MappingRequest, String> {
        let external_agent_id = match self.external_agent_id {
            Some(Json::String(s)) if s.contains('\0') => {
                return Err("Field external_agent_id may not contain NUL characters".into());
            }
            Some(Json::String(s)) if !s.trim().is_empty() => s,
            Some(Json::String(_)) | None | Some(Json::Null) => {
                return Err("Mandatory field external_agent_id is missing".into());
            }
            Some(_) => return Err("Field external_agent_id must be a string".into()),
        };
        // The page's own sample sends "false" as a string: both spellings are accepted.
        let active = match self.active {
            None | Some(Json::Null) => true,
            Some(Json::Bool(b)) => b,
            Some(Json::String(s)) if s == "true" => true,
            Some(Json::String(s)) if s == "false" => false,
            Some(_) => return Err("Field active must be true or false".into()),
        };
        Ok(MappingRequest {
            external_agent_id,
            active,
        })
    }
}

/// What the API answers, success or failure (with HTTP 400).
#[derive(Debug, serde::Serialize, ToSchema)]
#[allow(non_snake_case)]
struct MappingOutcome {
    message: String,
    /// `success` or `failure`.
    status: &'static str,
    mappingIds: Vec<String>,
}

const INSERTED: &str = "Agent Id mapping record inserted";
const UPDATED: &str = "Agent Id mapping record updated";

/// The API's failure shape: HTTP 400, `status: failure`, no ids.
fn failure(message: String) -> Response {
    let outcome = MappingOutcome {
        message,
        status: "failure",
        mappingIds: Vec::new(),
    };
    respond::typed(StatusCode::BAD_REQUEST, &outcome)
}

/// Create or update the mapping of an agent for every active provider channel identity with
/// this inbound id (role `interaction_agent`). JSON only.
#[utoipa::path(
    put,
    path = "/agent_mapping/agent/{agent_id}/inboundId/{inbound_id}",
    tag = "Agent Mapping",
    params(
        ("agent_id" = String, Path, description = "sys_id of the agent (a sys_user)"),
        ("inbound_id" = String, Path, description = "Inbound id of a provider channel identity"),
    ),
    request_body(content = MappingBody, content_type = "application/json"),
    responses(
        (status = 201, description = "A mapping was created", body = ResultEnvelope<MappingOutcome>),
        (status = 200, description = "Every mapping existed and was updated", body = ResultEnvelope<MappingOutcome>),
        (status = 400, description = "Unknown or inactive agent, unknown inbound id, or a bad body", body = ResultEnvelope<MappingOutcome>),
    )
)]
async fn map_agent(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    Path((agent, inbound_id)): Path<(String, String)>,
    body: Result<Body, BodyRejection>,
) -> Result<Response, ApiError> {
    // An unreadable body is this API's own 400 failure; other refusals (408, 415) stand.
    let body = match body.and_then(Body::parse::<MappingBody>) {
        Ok(body) => body,
        Err(BodyRejection::Unreadable(detail)) => return Ok(failure(detail)),
        Err(other) => return Err(other.into()),
    };
    let request = match body.into_request() {
        Ok(request) => request,
        Err(message) => return Ok(failure(message)),
    };
    let mut tx = state.store.begin().await?;
    let outcome =
        mappings::map_agent(&mut tx, &agent, &inbound_id, request, &caller.user_name).await?;
    tx.commit().await?;
    Ok(match outcome {
        Ok(mapped) => {
            let (status, message) = match mapped.created {
                true => (StatusCode::CREATED, INSERTED),
                false => (StatusCode::OK, UPDATED),
            };
            let outcome = MappingOutcome {
                message: message.into(),
                status: "success",
                mappingIds: mapped.ids,
            };
            respond::typed(status, &outcome)
        }
        Err(Refusal::UnknownAgent) => failure(format!(
            "Invalid agent id {agent}: no active user has this sys_id"
        )),
        Err(Refusal::UnknownInboundId) => failure(format!(
            "Invalid inbound id {inbound_id}: no active provider channel identity has it"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Json) -> Result<MappingRequest, String> {
        serde_json::from_value::<MappingBody>(v)
            .unwrap()
            .into_request()
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
            let body = json!({"external_agent_id": "1", "active": bad});
            assert!(parse(body).is_err(), "{bad}");
        }
        assert!(parse(json!({"external_agent_id": "1", "active": 1})).is_err());
    }

    #[test]
    fn external_agent_id_is_a_non_empty_string() {
        assert!(parse(json!({})).is_err());
        assert!(parse(json!({"external_agent_id": ""})).is_err());
        assert!(parse(json!({"external_agent_id": " "})).is_err());
        assert!(parse(json!({"external_agent_id": 12345})).is_err());
        let id = parse(json!({"external_agent_id": "12345"}))
            .unwrap()
            .external_agent_id;
        assert_eq!(id, "12345");
    }
}
