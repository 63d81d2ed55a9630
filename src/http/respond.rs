//! Successful responses: handlers hand over a JSON value; [`super::conventions`] renders it in
//! the negotiated format inside the platform's envelope.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use super::negotiate::Format;

/// What a response carries, rendered once the format is known.
#[derive(Debug, Clone)]
pub enum Payload {
    /// `{"result": ...}`
    Result(Json),
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

/// A response carrying `payload`, with the given status and headers.
pub fn encoded(status: StatusCode, headers: HeaderMap, payload: Payload) -> Response {
    let mut response = (status, headers).into_response();
    response.extensions_mut().insert(payload);
    response
}
