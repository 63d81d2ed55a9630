//! The Conversation Member API: drop an agent from a conversation, or make an observer or private
//! fulfiller a public fulfiller. PUT per the page's headings, POST per its samples: both work.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AwaIntegrationUser, Caller, Role};
use crate::domain::members::{self, Action, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(change_member))
}

const DROPPED: &str = "Request to drop agent processed successfully.";
const UPDATED: &str = "Request to update agent member type processed successfully.";
const INSUFFICIENT_INPUT: &str = "Invalid request. Insufficient input";
const BAD_MEMBER_TYPE: &str = "Invalid request. Member type must be one of [public_fulfiller]";

/// The page's message for each refusal.
fn message(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::NotThirdParty => "Provided interaction is not a third party interaction",
        Refusal::NoConversation => "Conversation for corresponding interaction could not be found",
        Refusal::NotAMember => "Invalid request. User is not a member of the interaction provided",
        Refusal::AlreadyPublic => {
            "Invalid request. User is already a public fulfiller in the interaction provided"
        }
    }
}

/// The body of `drop` and `update`. Fields are read leniently (any JSON): one that is not
/// a non-blank string counts as missing, as on the platform.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct MemberRequest {
    /// sys_id of the interaction.
    #[schema(value_type = String)]
    interaction_id: Option<Json>,
    /// `update` only: the one allowed value, `public_fulfiller`.
    #[schema(value_type = Option<String>)]
    member_type: Option<Json>,
}

fn text(value: &Option<Json>) -> Option<&str> {
    value
        .as_ref()
        .and_then(Json::as_str)
        .filter(|s| !s.trim().is_empty())
}

impl MemberRequest {
    /// The request's own checks, first and in order: input present (1), member type allowed
    /// (2). The interaction's sys_id, or the page's message.
    fn interaction(&self, action: Action) -> Result<String, &'static str> {
        let interaction = text(&self.interaction_id).ok_or(INSUFFICIENT_INPUT)?;
        if action == Action::MakePublic {
            let member_type = text(&self.member_type).ok_or(INSUFFICIENT_INPUT)?;
            if member_type != members::PUBLIC_FULFILLER {
                return Err(BAD_MEMBER_TYPE);
            }
        }
        Ok(interaction.to_owned())
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
#[allow(non_snake_case)]
struct ConversationMember {
    active: bool,
    memberType: String,
    /// The interaction's sys_id.
    conversation_id: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct MemberOutcome {
    conversation_member: ConversationMember,
    success: bool,
    message: &'static str,
}

/// A documented refusal: `{"result": {"success": false, "message": ...}}`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Refused {
    success: bool,
    message: &'static str,
}

/// A 400: a documented refusal, or, in the error envelope, an unknown action or an unreadable
/// body (rendered by the conventions, in JSON or XML, so never built here). Named only in the
/// OpenAPI document, which must say the answer is one of the two: a client (schemathesis in
/// `tests/clients`) validating answers against it would otherwise reject the second.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum MemberBadRequest {
    Refused(ResultEnvelope<Refused>),
    Unreadable(ErrorEnvelope<'static>),
}

fn refused(status: StatusCode, message: &'static str) -> Response {
    let body = Refused {
        success: false,
        message,
    };
    respond::typed(status, &body)
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
        (status = 200, description = "The member after the change", body = ResultEnvelope<MemberOutcome>),
        (status = 400, description = "A documented refusal, an unknown action, or an unreadable body", body = MemberBadRequest),
        (status = 500, description = "`update` of a member who already is a public fulfiller", body = ResultEnvelope<Refused>),
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
    let interaction = match body.parse::<MemberRequest>()?.interaction(action) {
        Ok(interaction) => interaction,
        Err(message) => return Ok(refused(StatusCode::BAD_REQUEST, message)),
    };
    let mut tx = state.store.begin().await?;
    let outcome = members::change(&mut tx, action, &user, interaction, &caller.user_name).await?;
    tx.commit().await?;
    Ok(match outcome {
        Ok(changed) => {
            let outcome = MemberOutcome {
                conversation_member: ConversationMember {
                    active: changed.active,
                    memberType: changed.member_type,
                    conversation_id: changed.interaction,
                },
                success: true,
                message: match action {
                    Action::Drop => DROPPED,
                    Action::MakePublic => UPDATED,
                },
            };
            respond::typed(StatusCode::OK, &outcome)
        }
        // The page documents this one refusal as a 500.
        Err(Refusal::AlreadyPublic) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            message(Refusal::AlreadyPublic),
        ),
        Err(refusal) => refused(StatusCode::BAD_REQUEST, message(refusal)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(action: Action, body: Json) -> Result<String, &'static str> {
        serde_json::from_value::<MemberRequest>(body)
            .unwrap()
            .interaction(action)
    }

    #[test]
    fn input_checks_come_first_and_in_order() {
        let insufficient = Err(INSUFFICIENT_INPUT);
        assert_eq!(check(Action::Drop, json!({})), insufficient);
        assert_eq!(
            check(Action::Drop, json!({"interaction_id": ""})),
            insufficient
        );
        assert_eq!(
            check(Action::Drop, json!({"interaction_id": 5})),
            insufficient
        );
        assert_eq!(
            check(Action::Drop, json!({"interaction_id": "i"})),
            Ok("i".into())
        );
        // Update needs member_type too; a missing one is insufficient input, not a bad type.
        let update = |body| check(Action::MakePublic, body);
        assert_eq!(update(json!({"interaction_id": "i"})), insufficient);
        assert_eq!(update(json!({"member_type": "observer"})), insufficient);
        assert_eq!(
            update(json!({"interaction_id": "i", "member_type": "observer"})),
            Err(BAD_MEMBER_TYPE)
        );
        assert_eq!(
            update(json!({"interaction_id": "i", "member_type": "public_fulfiller"})),
            Ok("i".into())
        );
    }
}
