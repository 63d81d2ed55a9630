//! The AWA Routing API: a document (an interaction, an incident...) routed to a queue, where it
//! waits as a queued work item; a document that already has an active work item moves it to
//! the queue. Role `awa_integration_user`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::awa_fields::Integration;
use super::awa_fields::{id, invalid, not_found, unexpected};
use crate::domain::awa_work::{self, Refusal, Summary};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(route_document))
}

/// The body of `POST /awa/queues/{queue_sys_id}/work_item`. Read leniently: XML sends text.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct RouteRequest {
    /// sys_id of the document to route (required).
    #[schema(value_type = String)]
    document_sys_id: Option<Json>,
    /// The document's table, such as `incident` or `interaction` (required).
    #[schema(value_type = String)]
    document_table: Option<Json>,
}

/// The work item the document is routed by.
#[derive(Debug, serde::Serialize, ToSchema)]
struct RoutedWorkItem {
    /// The work item's sys_id.
    sys_id: String,
    document_table: String,
    document_sys_id: String,
    /// The queue's sys_id (also when the path named it by its provider queue ID).
    queue_sys_id: String,
    /// `Incident: INC0000001`: the table in words and the document's display value.
    display_name: String,
}

impl From<Summary> for RoutedWorkItem {
    fn from(s: Summary) -> Self {
        RoutedWorkItem {
            sys_id: s.sys_id,
            document_table: s.document_table,
            document_sys_id: s.document_id,
            queue_sys_id: s.queue,
            display_name: s.display_name,
        }
    }
}

/// The domain's refusal as the API answers it.
fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NoQueue(queue) => not_found(format!("{queue} is not a valid queue")),
        Refusal::NoDocument(document) => not_found(format!("{document} is not a valid document")),
        Refusal::DocumentNotActive => invalid("Document is not active"),
        other => unexpected(other),
    }
}

/// Routes a document to a queue: its active work item moves there (an offer not yet accepted
/// is withdrawn), or a queued work item is created for it.
#[utoipa::path(
    post,
    path = "/awa/queues/{queue_sys_id}/work_item",
    tag = "AWA Routing",
    params(("queue_sys_id" = String, Path, description = "sys_id of an active queue (awa_queue), or its provider queue ID")),
    request_body(content = RouteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The work item routing the document", body = ResultEnvelope<RoutedWorkItem>),
        (status = 400, description = "`Invalid request`: `document_sys_id is required`, `document_table is required`, `Document is not active`; or an unreadable body", body = ErrorEnvelope),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record not found`: `<queue_sys_id> is not a valid queue`, `<document_sys_id> is not a valid document`", body = ErrorEnvelope),
    )
)]
async fn route_document(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Integration(caller): Integration,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body.parse::<RouteRequest>()?;
    let document = id(request.document_sys_id.as_ref())
        .ok_or_else(|| invalid("document_sys_id is required"))?;
    let table =
        id(request.document_table.as_ref()).ok_or_else(|| invalid("document_table is required"))?;
    let mut tx = state.store.begin().await?;
    let now = state.clock.now();
    let summary = awa_work::route(&mut tx, &queue, &table, &document, now, &caller.user_name)
        .await?
        .map_err(refused)?;
    tx.commit().await?;
    Ok(respond::typed(
        StatusCode::OK,
        &RoutedWorkItem::from(summary),
    ))
}
