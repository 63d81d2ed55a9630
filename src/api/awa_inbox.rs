//! The AWA Inbox Actions API: what an agent's inbox does, on the agent's behalf: accept or
//! reject a work item offered to it (pending accept), and the reasons it may give for
//! rejecting on a channel. Role `awa_integration_user`.
//!
//! Errors are the platform's envelope, the page's text as `error.detail`: `Invalid request`
//! (400) or `Record not found` (404) as `error.message`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::awa_fields::Integration;
use super::awa_fields::{id, invalid, not_found, unexpected};
use crate::domain::awa_work::{self, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_reject_reasons))
        .routes(routes!(accept))
        .routes(routes!(reject))
}

const MISSING_AGENT: &str = "Missing agent ID";
const MISSING_WORK_ITEM: &str = "Missing work item ID";
const MISSING_REASON: &str = "Missing reject reason item ID";
/// The detail of a reject the offer does not allow (switchboard's words: the page has none).
pub const MAY_NOT_DECLINE: &str = "Work item is not allowed to be declined";

/// The refusals accept and reject share, and reject's 404s.
fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::AssignedToOther => invalid("Work item is assigned to a different agent"),
        Refusal::NotPendingAccept => invalid("Work item is not in pending accept state"),
        Refusal::MayNotDecline => invalid(MAY_NOT_DECLINE),
        Refusal::NoRejectReason(id) => {
            not_found(format!("There is no record for awa_reject_reason : {id}"))
        }
        Refusal::NoWorkItem(id) => {
            not_found(format!("There is no record for awa_work_item : {id}"))
        }
        Refusal::NoUser(id) => not_found(format!("There is no record for sys_user : {id}")),
        Refusal::NoChannel(id) => {
            not_found(format!("There is no record for awa_service_channel : {id}"))
        }
        other => unexpected(other),
    }
}

/// A reject reason of a channel.
#[derive(Debug, serde::Serialize, ToSchema)]
struct RejectReasonBody {
    order: i64,
    /// The reason, as stored.
    value: String,
    /// The reason, as shown (the same text).
    display_value: String,
    sys_id: String,
}

/// The body of `POST /awa/inbox/actions/accept`. Read leniently: XML sends text.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct AcceptRequest {
    /// sys_id of the agent (sys_user) the work item is offered to.
    #[schema(value_type = String)]
    agent_id: Option<Json>,
    /// sys_id of the work item (awa_work_item), pending accept by the agent.
    #[schema(value_type = String)]
    work_item_id: Option<Json>,
}

/// The document the accepted work item is about.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    document_sys_id: String,
    document_table: String,
}

/// The body of `POST /awa/inbox/actions/reject`. Read leniently: XML sends text.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct RejectRequest {
    /// sys_id of the agent (sys_user) the work item is offered to.
    #[schema(value_type = String)]
    agent_id: Option<Json>,
    /// sys_id of the work item (awa_work_item), pending accept by the agent.
    #[schema(value_type = String)]
    work_item_id: Option<Json>,
    /// sys_id of the reject reason (awa_reject_reason).
    #[schema(value_type = String)]
    reject_reason_id: Option<Json>,
}

/// The request's three ids, echoed.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Rejected {
    work_item_id: String,
    reject_reason_id: String,
    agent_id: String,
}

/// Lists the active reject reasons of a service channel (and those for every channel), by order.
#[utoipa::path(
    get,
    path = "/awa/inbox/actions/reject_reasons/{channel_id}",
    tag = "AWA Inbox Actions",
    params(("channel_id" = String, Path, description = "sys_id of an active service channel (awa_service_channel)")),
    responses(
        (status = 200, description = "The channel's reject reasons", body = ResultEnvelope<Vec<RejectReasonBody>>),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record not found`: `There is no record for awa_service_channel : <channel_id>`", body = ErrorEnvelope),
    )
)]
async fn get_reject_reasons(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    _caller: Integration,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let reasons = awa_work::reject_reasons(&mut tx, &channel)
        .await?
        .map_err(refused)?;
    tx.commit().await?;
    let reasons: Vec<RejectReasonBody> = reasons
        .into_iter()
        .map(|r| RejectReasonBody {
            order: r.order,
            display_value: r.reason.clone(),
            value: r.reason,
            sys_id: r.sys_id,
        })
        .collect();
    Ok(respond::typed(StatusCode::OK, &reasons))
}

/// Accepts a work item pending accept on behalf of the agent it is offered to.
#[utoipa::path(
    post,
    path = "/awa/inbox/actions/accept",
    tag = "AWA Inbox Actions",
    request_body(content = AcceptRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The accepted work item's document", body = ResultEnvelope<Accepted>),
        (status = 400, description = "`Invalid request`: `Missing agent ID`, `Missing work item ID`, `Wrong work item ID`, `Work item is assigned to a different agent`, `Work item is not in pending accept state`; or an unreadable body", body = ErrorEnvelope),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
    )
)]
async fn accept(
    State(state): State<AppState>,
    Integration(caller): Integration,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body.parse::<AcceptRequest>()?;
    let agent = id(request.agent_id.as_ref()).ok_or_else(|| invalid(MISSING_AGENT))?;
    let item = id(request.work_item_id.as_ref()).ok_or_else(|| invalid(MISSING_WORK_ITEM))?;
    let mut tx = state.store.begin().await?;
    let now = state.clock.now();
    let (table, document) = awa_work::accept(&mut tx, &agent, &item, now, &caller.user_name)
        .await?
        .map_err(|refusal| match refusal {
            // The accept page lists no 404: an unknown work item is a bad request.
            Refusal::NoWorkItem(_) => invalid("Wrong work item ID"),
            other => refused(other),
        })?;
    tx.commit().await?;
    let accepted = Accepted {
        document_sys_id: document,
        document_table: table,
    };
    Ok(respond::typed(StatusCode::OK, &accepted))
}

/// Rejects a work item pending accept on behalf of the agent it is offered to: the rejection is
/// recorded and the work item goes back to its queue, unassigned and marked rejected.
#[utoipa::path(
    post,
    path = "/awa/inbox/actions/reject",
    tag = "AWA Inbox Actions",
    request_body(content = RejectRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The request's ids, echoed", body = ResultEnvelope<Rejected>),
        (status = 400, description = "`Invalid request`: `Missing agent ID`, `Missing work item ID`, `Missing reject reason item ID`, `Work item is assigned to a different agent`, `Work item is not in pending accept state`, `Work item is not allowed to be declined`; or an unreadable body", body = ErrorEnvelope),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record not found`: `There is no record for awa_reject_reason : <id>`, `... awa_work_item : <id>`, `... sys_user : <id>`", body = ErrorEnvelope),
    )
)]
async fn reject(
    State(state): State<AppState>,
    Integration(caller): Integration,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body.parse::<RejectRequest>()?;
    let agent = id(request.agent_id.as_ref()).ok_or_else(|| invalid(MISSING_AGENT))?;
    let item = id(request.work_item_id.as_ref()).ok_or_else(|| invalid(MISSING_WORK_ITEM))?;
    let reason = id(request.reject_reason_id.as_ref()).ok_or_else(|| invalid(MISSING_REASON))?;
    let mut tx = state.store.begin().await?;
    let now = state.clock.now();
    awa_work::reject(&mut tx, &agent, &item, &reason, now, &caller.user_name)
        .await?
        .map_err(refused)?;
    tx.commit().await?;
    let rejected = Rejected {
        work_item_id: item,
        reject_reason_id: reason,
        agent_id: agent,
    };
    Ok(respond::typed(StatusCode::OK, &rejected))
}
