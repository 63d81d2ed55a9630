//! The AWA Agent Consult API: the end of a consult. The consulted agent takes the document
//! over (`hand_over` true) or leaves it to the agent who asked (false); a consult not yet
//! accepted is cancelled either way. Role `awa_integration_user`.
//!
//! Every answer but the common ones (401, 403, an unreadable body) is the page's
//! `{"result": {"success", "message"}}`, failures included.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::awa_fields::Integration;
use super::awa_fields::{flag, id, unexpected};
use crate::domain::awa_work::{self, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(end_consult))
}

/// The page's success message.
pub const ENDED: &str = "Consult is successfully ended.";

/// The body of `PUT /awa/consult/end`. Read leniently: XML sends text.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct EndRequest {
    /// sys_id of the document with the consult work item (required).
    #[schema(value_type = String)]
    document_sys_id: Option<Json>,
    /// true: the consulted agent takes the document over (consult state `transferred`); false
    /// or absent: the consult ends (`ended`). A JSON boolean, 1/0, or `true/yes/1/false/no/0`.
    #[schema(value_type = Option<bool>)]
    hand_over: Option<Json>,
}

/// How the consult end went.
/// A 400: a documented refusal, or, in the error envelope, a body that cannot be read at all.
/// Named only in the OpenAPI document, which must allow both.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum ConsultBadRequest {
    Refused(ResultEnvelope<ConsultEnded>),
    Unreadable(ErrorEnvelope<'static>),
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct ConsultEnded {
    success: bool,
    message: String,
}

fn answer(status: StatusCode, success: bool, message: impl Into<String>) -> Response {
    let body = ConsultEnded {
        success,
        message: message.into(),
    };
    respond::typed(status, &body)
}

/// Ends the document's consult work item: handed over, ended, or (not yet accepted) cancelled.
#[utoipa::path(
    put,
    path = "/awa/consult/end",
    tag = "AWA Agent Consult",
    request_body(content = EndRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`{\"success\": true, \"message\": \"Consult is successfully ended.\"}`", body = ResultEnvelope<ConsultEnded>),
        (status = 400, description = "`success` false: `document_sys_id is required`, `<hand_over> is not a valid boolean value`; or an unreadable body (the error envelope)", body = ConsultBadRequest),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`success` false: `Cannot find the work item for document ID: <document_sys_id>`", body = ResultEnvelope<ConsultEnded>),
    )
)]
async fn end_consult(
    State(state): State<AppState>,
    Integration(caller): Integration,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body.parse::<EndRequest>()?;
    let Some(document) = id(request.document_sys_id.as_ref()) else {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            false,
            "document_sys_id is required",
        ));
    };
    let hand_over = match flag(request.hand_over.as_ref()) {
        Ok(flag) => flag.unwrap_or(false),
        Err(Refusal::NotABoolean(text)) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                false,
                format!("{text} is not a valid boolean value"),
            ));
        }
        Err(other) => return Err(unexpected(other)),
    };
    let mut tx = state.store.begin().await?;
    let now = state.clock.now();
    let ended =
        awa_work::end_consult(&mut tx, &document, hand_over, now, &caller.user_name).await?;
    match ended {
        Ok(()) => {
            tx.commit().await?;
            Ok(answer(StatusCode::OK, true, ENDED))
        }
        Err(Refusal::NoConsult(document)) => Ok(answer(
            StatusCode::NOT_FOUND,
            false,
            format!("Cannot find the work item for document ID: {document}"),
        )),
        Err(other) => Err(unexpected(other)),
    }
}
