//! The Conversation Member API: drop an agent from a conversation, or make an observer or private
//! fulfiller a public fulfiller. PUT per the page's headings, POST per its samples: both work.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AwaIntegrationUser, Caller, Role};
use crate::domain::members::{self, Action};
use crate::http::ErrorEnvelope;
use crate::http::{ApiError, Body, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(change_member))
}

/// The body of `drop` and `update`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct MemberRequest {
    /// sys_id of the interaction.
    interaction_id: String,
    /// `update` only: the one allowed value, `public_fulfiller`.
    member_type: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
struct ConversationMember {
    active: bool,
    memberType: String,
    /// The interaction's sys_id.
    conversation_id: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct MemberOutcome {
    conversation_member: ConversationMember,
    success: bool,
    message: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct MemberResult {
    result: MemberOutcome,
}

/// A documented refusal: `{"result": {"success": false, "message": ...}}`.
#[derive(ToSchema, serde::Serialize)]
#[allow(dead_code)]
struct MemberRefusal {
    result: Refusal,
}

#[derive(ToSchema, serde::Serialize)]
#[allow(dead_code)]
struct Refusal {
    success: bool,
    message: String,
}

/// A 400: a documented refusal, or an unreadable body in the error envelope.
#[derive(ToSchema, serde::Serialize)]
#[allow(dead_code)]
#[serde(untagged)]
enum MemberBadRequest {
    Refused(MemberRefusal),
    Unreadable(ErrorEnvelope<'static>),
}

/// `drop`: the agent leaves the interaction's conversation. `update`: an observer or private
/// fulfiller becomes a public fulfiller. Role `awa_integration_user`.
#[utoipa::path(
    method(put, post),
    path = "/conversation/member/{user_id}/{action}",
    tag = "Conversation Member",
    params(
        ("user_id" = String, Path, description = "sys_id of the agent"),
        ("action" = String, Path, description = "`drop` or `update`", pattern = "^(drop|update)$"),
    ),
    request_body(content = MemberRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The member after the change", body = MemberResult),
        (status = 400, description = "A documented refusal, an unknown action, or an unreadable body", body = MemberBadRequest),
        (status = 500, description = "`update` of a member who already is a public fulfiller", body = MemberRefusal),
    )
)]
async fn change_member(
    State(state): State<AppState>,
    Path((user, action)): Path<(String, String)>,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    // As for any path: authenticated first (401), then the resource resolved (400 for an
    // action that names none), then the role checked (403).
    let action = match action.as_str() {
        "drop" => Action::Drop,
        "update" => Action::MakePublic,
        _ => return Err(ApiError::invalid_uri()),
    };
    caller.require(AwaIntegrationUser::NAME)?;
    let body = body.into_object()?;
    let mut tx = state.store.begin().await?;
    let outcome = members::change(&mut tx, action, &user, &body, &caller.user_name).await?;
    tx.commit().await?;
    Ok(match outcome {
        Ok(changed) => respond::ok(json!({
            "conversation_member": {
                "active": changed.active,
                "memberType": changed.member_type,
                "conversation_id": changed.interaction,
            },
            "success": true,
            "message": match action {
                Action::Drop => members::DROPPED,
                Action::MakePublic => members::UPDATED,
            },
        })),
        Err(refused) => {
            let status = match refused.server_error {
                true => StatusCode::INTERNAL_SERVER_ERROR,
                false => StatusCode::BAD_REQUEST,
            };
            let body = json!({"success": false, "message": refused.message});
            respond::result(status, HeaderMap::new(), body)
        }
    })
}
