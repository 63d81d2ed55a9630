//! A supervisor's actions on a chat (docs/outbound-events.md, "The supervisor's join"): start
//! observing a conversation, then ask to join it. The platform does these from its UI; the
//! join request goes to the contact center as an event, and the contact center answers by
//! calling the Conversation Member API's `/update`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ControlAdmin;
use crate::domain::supervision::{self, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(observe))
        .routes(routes!(join))
}

/// Names the supervisor acting.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct SupervisorRequest {
    /// sys_id of the supervisor (a user holding `awa_manager`).
    #[schema(value_type = String)]
    supervisor: Option<Json>,
}

impl SupervisorRequest {
    fn supervisor(&self) -> Result<String, ApiError> {
        match self
            .supervisor
            .as_ref()
            .and_then(Json::as_str)
            .map(str::trim)
        {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(ApiError::bad_request(
                "Invalid request",
                "supervisor (the sys_id of a user holding awa_manager) is required",
            )),
        }
    }
}

/// The supervisor's membership of the conversation.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Observation {
    /// sys_id of the sys_cs_conversation_member record.
    member: String,
    member_type: String,
    interaction: String,
    conversation: String,
}

/// The join request as queued for the contact center.
#[derive(Debug, serde::Serialize, ToSchema)]
struct JoinRequest {
    /// The id of the `conversation.join_requested` event (its outbox record's sys_id).
    event_id: String,
    interaction: String,
    conversation: String,
    status: &'static str,
}

fn refused(refusal: Refusal, interaction: &str, supervisor: &str) -> ApiError {
    let (status, detail) = match refusal {
        Refusal::NoInteraction => (
            StatusCode::NOT_FOUND,
            format!("No interaction has sys_id {interaction}"),
        ),
        Refusal::NoConversation => (
            StatusCode::NOT_FOUND,
            format!("Interaction {interaction} has no third-party chat conversation"),
        ),
        Refusal::NoUser => (
            StatusCode::BAD_REQUEST,
            format!("No user has sys_id {supervisor}"),
        ),
        Refusal::NotAManager => (
            StatusCode::FORBIDDEN,
            format!("User {supervisor} does not hold awa_manager, which observing needs"),
        ),
        Refusal::AlreadyMember(kind) => (
            StatusCode::CONFLICT,
            format!("User {supervisor} is already a member of the conversation, as {kind}"),
        ),
        Refusal::NotObserving => (
            StatusCode::CONFLICT,
            format!("User {supervisor} is not observing the conversation: observe it first"),
        ),
        Refusal::NoProvider => (
            StatusCode::CONFLICT,
            format!(
                "No active external provider taking conversation.join_requested receives \
                 the events of interaction {interaction} (set external_provider on its queue)"
            ),
        ),
    };
    let message = match status {
        StatusCode::NOT_FOUND => "No Record found",
        StatusCode::FORBIDDEN => "Operation not permitted",
        _ => "Invalid request",
    };
    ApiError::new(status, message, Some(detail))
}

/// A supervisor starts observing the interaction's chat (an `observer` member). 201 when the
/// supervisor became an observer, 200 when already observing. Admin only.
#[utoipa::path(
    post,
    path = "/conversations/{interaction_id}/observe",
    tag = super::TAG,
    params(("interaction_id" = String, Path, description = "sys_id of a third-party chat interaction")),
    request_body(content = SupervisorRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The supervisor now observes the conversation", body = ResultEnvelope<Observation>),
        (status = 200, description = "The supervisor already observed it", body = ResultEnvelope<Observation>),
        (status = 400, description = "No supervisor named, or no such user", body = ErrorEnvelope),
        (status = 403, description = "The supervisor lacks awa_manager", body = ErrorEnvelope),
        (status = 404, description = "No such interaction, or no chat conversation", body = ErrorEnvelope),
        (status = 409, description = "The supervisor is a member of another kind", body = ErrorEnvelope),
    )
)]
async fn observe(
    State(state): State<AppState>,
    Path(interaction): Path<String>,
    ControlAdmin(caller): ControlAdmin,
    body: Body,
) -> Result<Response, ApiError> {
    let supervisor = body.parse::<SupervisorRequest>()?.supervisor()?;
    let mut tx = state.store.begin().await?;
    let outcome = supervision::observe(&mut tx, &interaction, &supervisor, &caller.user_name);
    let observed = match outcome.await? {
        Ok(observed) => observed,
        Err(refusal) => return Err(refused(refusal, &interaction, &supervisor)),
    };
    tx.commit().await?;
    let status = match observed.created {
        true => StatusCode::CREATED,
        false => StatusCode::OK,
    };
    let member = &observed.member;
    let body = Observation {
        member: member.sys_id().to_owned(),
        member_type: member.str("member_type").unwrap_or_default().to_owned(),
        interaction,
        conversation: observed.conversation,
    };
    Ok(respond::typed(status, &body))
}

/// The observing supervisor clicks "Join Conversation": a `conversation.join_requested` event
/// goes to the contact center, which is expected to call the Conversation Member API's
/// `/update` to make the supervisor a public fulfiller. 202: queued. Admin only.
#[utoipa::path(
    post,
    path = "/conversations/{interaction_id}/join",
    tag = super::TAG,
    params(("interaction_id" = String, Path, description = "sys_id of a third-party chat interaction")),
    request_body(content = SupervisorRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "The join request is queued for the contact center", body = ResultEnvelope<JoinRequest>),
        (status = 400, description = "No supervisor named", body = ErrorEnvelope),
        (status = 404, description = "No such interaction, or no chat conversation", body = ErrorEnvelope),
        (status = 409, description = "The supervisor is not observing, or no provider takes join requests", body = ErrorEnvelope),
    )
)]
async fn join(
    State(state): State<AppState>,
    Path(interaction): Path<String>,
    _: ControlAdmin,
    body: Body,
) -> Result<Response, ApiError> {
    let supervisor = body.parse::<SupervisorRequest>()?.supervisor()?;
    let mut tx = state.store.begin().await?;
    let requested = match supervision::request_join(&mut tx, &interaction, &supervisor).await? {
        Ok(requested) => requested,
        Err(refusal) => return Err(refused(refusal, &interaction, &supervisor)),
    };
    tx.commit().await?;
    let body = JoinRequest {
        event_id: requested.event_id,
        interaction,
        conversation: requested.conversation,
        status: "join_requested",
    };
    Ok(respond::typed(StatusCode::ACCEPTED, &body))
}
