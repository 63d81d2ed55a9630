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
use crate::records::members::{self, Action};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/conversation/member/{user_id}/drop",
            put(drop_member).post(drop_member),
        )
        .route(
            "/conversation/member/{user_id}/update",
            put(update_member).post(update_member),
        )
}

async fn drop_member(
    state: State<AppState>,
    caller: Authorized<AwaIntegrationUser>,
    user: Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    change(state, caller, user, body, Action::Drop).await
}

async fn update_member(
    state: State<AppState>,
    caller: Authorized<AwaIntegrationUser>,
    user: Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    change(state, caller, user, body, Action::MakePublic).await
}

async fn change(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<AwaIntegrationUser>,
    Path(user): Path<String>,
    body: Body,
    action: Action,
) -> Result<Response, ApiError> {
    let body = body.into_object()?;
    let mut tx = state.store.begin().await?;
    let outcome = members::change(&mut *tx, action, &user, &body, &caller.user_name).await?;
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
