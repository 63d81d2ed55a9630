//! The Agent Mapping API: map a CCaaS system's agent id to a platform user. JSON only.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::put;
use axum::{Router, middleware};
use serde_json::json;

use crate::app::AppState;
use crate::auth::{Authorized, InteractionAgent};
use crate::http::{ApiError, Body, conventions, respond};
use crate::records::Effects;
use crate::records::mappings::{self, MappingRequest, Refused};

pub fn router() -> Router<AppState> {
    let route = "/agent_mapping/agent/{agent_id}/inboundId/{inbound_id}";
    Router::new()
        .route(&format!("/api/sn_ct_ctr_it_core{route}"), put(map_agent))
        .route(&format!("/api/sn_ct_ctr_it_core/v1{route}"), put(map_agent))
        .route_layer(middleware::from_fn(conventions::json_only))
}

/// The API's failure shape: HTTP 400, `status: failure`, no ids.
fn failure(message: &str) -> Response {
    let body = json!({"message": message, "status": "failure", "mappingIds": []});
    respond::result(StatusCode::BAD_REQUEST, HeaderMap::new(), body)
}

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
        mappings::map_agent(&mut *tx, &agent, &inbound_id, request, &caller.user_name).await?;
    state.commit(tx, Effects::default()).await?;
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
