//! The Conversation Member API: drop an agent from a conversation, or make an observer or private
//! fulfiller a public fulfiller. PUT per the page's headings, POST per its samples: both work.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::put;
use serde_json::json;

use crate::app::AppState;
use crate::auth::{Authorized, AwaIntegrationUser};
use crate::http::{ApiError, Body, respond};
use crate::records::Effects;
use crate::records::members::{self, Action};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/conversation/member/{user_id}/{action}",
        put(change_member).post(change_member),
    )
}

async fn change_member(
    State(state): State<AppState>,
    Path((user, action)): Path<(String, String)>,
    caller: Result<Authorized<AwaIntegrationUser>, ApiError>,
    body: Body,
) -> Result<Response, ApiError> {
    // Any other action names no resource, whoever asks: the same 400 as an unknown path.
    let action = match action.as_str() {
        "drop" => Action::Drop,
        "update" => Action::MakePublic,
        _ => return Err(ApiError::invalid_uri()),
    };
    let Authorized(caller, _) = caller?;
    let body = body.into_object()?;
    let mut tx = state.store.begin().await?;
    let outcome = members::change(&mut *tx, action, &user, &body, &caller.user_name).await?;
    state.commit(tx, Effects::default()).await?;
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
