//! The Interaction Management API: `POST /api/now/interaction` and `.../interaction/{id}/close`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;

use crate::app::AppState;
use crate::auth::{Authorized, InteractionAgent};
use crate::http::{ApiError, Body, respond};
use crate::records::Effects;
use crate::records::interactions::{self, NewInteraction, OpenError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/interaction", post(create))
        .route("/interaction/{id}/close", post(close))
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

async fn create(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    body: Body,
) -> Result<Response, ApiError> {
    let new = NewInteraction::from_body(&body.into_object()?).map_err(|e| invalid(e.0))?;
    let mut tx = state.store.begin().await?;
    let interaction = interactions::open(&mut *tx, new, &caller.sys_id, &caller.user_name).await?;
    let view = interactions::api_view(&mut *tx, &interaction).await?;
    state.commit(tx, Effects::default()).await?;
    Ok(respond::result(StatusCode::CREATED, HeaderMap::new(), view))
}

async fn close(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let interaction = interactions::close(&mut *tx, &id, &caller.sys_id, &caller.user_name).await?;
    let view = interactions::api_view(&mut *tx, &interaction).await?;
    state.commit(tx, Effects::default()).await?;
    Ok(respond::ok(view))
}
