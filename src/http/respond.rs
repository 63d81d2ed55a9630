//! Successful responses: handlers hand over a JSON value; [`super::conventions`] renders it in
//! the negotiated format inside the platform's envelope.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use super::negotiate::Format;

/// The platform's envelope of a successful answer, as [`super::conventions`] writes it in
/// JSON; the APIs name it with their own response type for the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ResultEnvelope<T> {
    pub result: T,
}

/// What a response carries, rendered once the format is known.
#[derive(Debug, Clone)]
pub enum Payload {
    /// `{"result": ...}`
    Result(Json),
    /// An API's own object, without the `result` envelope (in XML, its fields inside
    /// `<response>`): for the few answers the platform's pages print bare (the Wrap Up API's
    /// segments).
    Bare(Json),
    /// `{"error": {"message", "detail"}, "status": "failure"}`
    Error {
        message: String,
        detail: Option<String>,
    },
    /// A whole envelope already written in `format` (by a [`super::RecordsWriter`]); `Bytes`, so that
    /// it can own what must live as long as the body (a page's admission).
    Encoded { format: Format, body: Bytes },
}

/// A `{"result": ...}` response with the given status and headers.
pub fn result(status: StatusCode, headers: HeaderMap, value: Json) -> Response {
    let mut response = (status, headers).into_response();
    response.extensions_mut().insert(Payload::Result(value));
    response
}

pub fn ok(value: Json) -> Response {
    result(StatusCode::OK, HeaderMap::new(), value)
}

/// A `{"result": ...}` response carrying an API's typed response, with the given status.
/// Serialised through a JSON value, so that XML renders it as any other result.
pub fn typed(status: StatusCode, value: &impl serde::Serialize) -> Response {
    // The APIs' response types are plain structs of strings, numbers and lists: they serialise.
    let value = serde_json::to_value(value).unwrap_or_default();
    result(status, HeaderMap::new(), value)
}

/// A response carrying an API's typed response as it is, without the `result` envelope.
pub fn bare(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let value = serde_json::to_value(value).unwrap_or_default();
    encoded(status, HeaderMap::new(), Payload::Bare(value))
}

/// A response carrying `payload`, with the given status and headers.
pub fn encoded(status: StatusCode, headers: HeaderMap, payload: Payload) -> Response {
    let mut response = (status, headers).into_response();
    response.extensions_mut().insert(payload);
    response
}
