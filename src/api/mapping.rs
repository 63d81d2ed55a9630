//! The Agent Mapping API: map a CCaaS system's agent id to a platform user. JSON only.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::Response;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authorized, InteractionAgent};
use crate::domain::mappings::{self, MappingRequest, Refused};
use crate::http::{ApiError, Body, conventions, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let mapping = OpenApiRouter::new().routes(routes!(map_agent));
    OpenApiRouter::new()
        .nest("/api/sn_ct_ctr_it_core", mapping.clone())
        .nest("/api/sn_ct_ctr_it_core/v1", mapping)
        .route_layer(middleware::from_fn(conventions::json_only))
}

/// The body, as the page documents it.
#[derive(ToSchema)]
#[allow(dead_code)]
struct MappingBody {
    /// The agent's id in the CCaaS system.
    external_agent_id: String,
    /// Whether the agent is logged in: a boolean, or "true"/"false". Default true.
    #[schema(value_type = Option<Object>)]
    active: (),
}

#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
struct MappingOutcome {
    message: String,
    /// `success` or `failure`.
    status: String,
    mappingIds: Vec<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct MappingResult {
    result: MappingOutcome,
}

/// The API's failure shape: HTTP 400, `status: failure`, no ids.
fn failure(message: &str) -> Response {
    let body = json!({"message": message, "status": "failure", "mappingIds": []});
    respond::result(StatusCode::BAD_REQUEST, HeaderMap::new(), body)
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
        (status = 201, description = "A mapping was created", body = MappingResult),
        (status = 200, description = "Every mapping existed and was updated", body = MappingResult),
        (status = 400, description = "Unknown or inactive agent, unknown inbound id, or a bad body", body = MappingResult),
    )
)]
async fn map_agent(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    Path((agent, inbound_id)): Path<(String, String)>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    // An unreadable body is this API's own 400 failure; other refusals (415) stand.
    let body = match body.and_then(Body::into_object) {
        Ok(body) => body,
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            return Ok(failure(e.detail.as_deref().unwrap_or(&e.message)));
        }
        Err(e) => return Err(e),
    };
    let request = match MappingRequest::from_body(&body) {
        Ok(request) => request,
        Err(Refused(message)) => return Ok(failure(&message)),
    };
    let mut tx = state.store.begin().await?;
    let outcome =
        mappings::map_agent(&mut tx, &agent, &inbound_id, request, &caller.user_name).await?;
    tx.commit().await?;
    Ok(match outcome {
        Ok(mapped) => {
            let (status, message) = match mapped.created {
                true => (StatusCode::CREATED, mappings::INSERTED),
                false => (StatusCode::OK, mappings::UPDATED),
            };
            let body = json!({"message": message, "status": "success", "mappingIds": mapped.ids});
            respond::result(status, HeaderMap::new(), body)
        }
        Err(Refused(message)) => failure(&message),
    })
}
