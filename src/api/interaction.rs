//! The Interaction Management API: `POST /api/now/interaction` and `.../interaction/{id}/close`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authorized, InteractionAgent};
use crate::domain::interactions::{self, NewInteraction, OpenError};
use crate::http::ErrorEnvelope;
use crate::http::{ApiError, Body, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(close))
}

/// The body of `POST /interaction`, as the page documents it.
#[derive(ToSchema)]
#[allow(dead_code)]
struct InteractionRequest {
    /// sys_id of an `interaction_connector`.
    channel: String,
    /// sys_id of an `awa_queue`: the state becomes `queued`.
    queue: Option<String>,
    /// Context, stored in a new `interaction_json_blob` (or give `context_table` + `context_id`).
    #[schema(value_type = Option<Object>)]
    context: (),
    context_table: Option<String>,
    context_id: Option<String>,
    /// Channel metadata, stored in a new `live_group_profile`.
    #[schema(value_type = Option<Object>)]
    channel_metadata: (),
    channel_metadata_table: Option<String>,
    channel_metadata_id: Option<String>,
    #[schema(rename = "type")]
    kind: Option<String>,
    short_description: Option<String>,
    /// sys_id of a `sys_user`.
    opened_for: Option<String>,
}

/// An interaction as the page's samples show it: exactly these keys.
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
struct InteractionView {
    channel: String,
    #[schema(value_type = Object)]
    context: (),
    queue: String,
    state: String,
    #[schema(example = "IMS0000075")]
    number: String,
    contextDocument: String,
    contextTable: String,
    channelMetadataDocument: String,
    channelMetadataTable: String,
    #[schema(value_type = Object)]
    channel_metadata: (),
    sys_id: String,
    assigned_to: String,
    closed_by: String,
    opened_for: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct InteractionResult {
    result: InteractionView,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Invalid request", detail)
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Invalid(invalid_request) => invalid(invalid_request.0),
            OpenError::Record(record) => record.into(),
        }
    }
}

/// Create an interaction (role `interaction_agent`).
#[utoipa::path(
    post,
    path = "/interaction",
    tag = "Interaction Management",
    request_body(content = InteractionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new interaction", body = InteractionResult),
        (status = 400, description = "Missing or unknown channel, unknown queue, half pair, context not an object", body = ErrorEnvelope),
    )
)]
async fn create(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    body: Body,
) -> Result<Response, ApiError> {
    let new = NewInteraction::from_body(&body.into_object()?).map_err(|e| invalid(e.0))?;
    let mut tx = state.store.begin().await?;
    let interaction = interactions::open(&mut tx, new, &caller.sys_id, &caller.user_name).await?;
    let view = interactions::api_view(&mut tx, &interaction).await?;
    tx.commit().await?;
    Ok(respond::result(StatusCode::CREATED, HeaderMap::new(), view))
}

/// Close an interaction and its conversation (role `interaction_agent`); closing a closed
/// interaction changes nothing.
#[utoipa::path(
    post,
    path = "/interaction/{id}/close",
    tag = "Interaction Management",
    params(("id" = String, Path, description = "sys_id of the interaction")),
    responses(
        (status = 200, description = "The closed interaction", body = InteractionResult),
        (status = 404, description = "No Record found", body = ErrorEnvelope),
    )
)]
async fn close(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let interaction = interactions::close(&mut tx, &id, &caller.sys_id, &caller.user_name).await?;
    let view = interactions::api_view(&mut tx, &interaction).await?;
    tx.commit().await?;
    Ok(respond::ok(view))
}
