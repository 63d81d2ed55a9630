//! The request body extractor: JSON or XML by `Content-Type`, read to a JSON value, with the
//! platform's size limit and errors in the platform's envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::Value as Json;

use super::error::ApiError;
use super::negotiate::{self, Format};
use super::xml;
use crate::app::AppState;

/// A request body read as JSON (`Json::Null` when the request has no body), and the format it
/// was written in.
#[derive(Debug)]
pub struct Body {
    pub value: Json,
    pub format: Option<Format>,
}

impl Body {
    /// The body as an object of fields; an empty body is an empty object.
    pub fn into_object(self) -> Result<serde_json::Map<String, Json>, ApiError> {
        match self.value {
            Json::Object(map) => Ok(map),
            Json::Null => Ok(serde_json::Map::new()),
            _ => Err(ApiError::unreadable(
                "The payload must be an object of fields",
            )),
        }
    }
}

fn too_large(length: impl std::fmt::Display, limit: usize) -> ApiError {
    ApiError::unreadable(format!(
        "Rejected large REST payload with content-length = {length} bytes. Max allowed: {limit} bytes."
    ))
}

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_body_bytes;
        let headers = req.headers();
        // Refuse by the announced length before reading a byte of it.
        if let Some(length) = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && length > limit as u64
        {
            return Err(too_large(length, limit));
        }
        let declared = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?"));
        let format = negotiate::content_type(declared).map_err(|_| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
                Some(format!(
                    "Content-Type '{}' is not supported: use application/json or application/xml",
                    declared.unwrap_or_default()
                )),
            )
        })?;
        // A client that trickles its body is cut off, not waited for.
        let reading = axum::body::to_bytes(req.into_body(), limit);
        let bytes: Bytes = tokio::time::timeout(state.config.body_timeout, reading)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "Exception while reading request",
                    Some(format!(
                        "The request body did not arrive within {} seconds",
                        state.config.body_timeout.as_secs()
                    )),
                )
            })?
            .map_err(|_| too_large(format!("more than {limit}"), limit))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body {
                value: Json::Null,
                format,
            });
        }
        let value = match format {
            None => {
                return Err(ApiError::unreadable(
                    "A request with a body must have a Content-Type header (application/json or application/xml)",
                ));
            }
            Some(Format::Json) => serde_json::from_slice::<Json>(&bytes)
                .map_err(|e| ApiError::unreadable(format!("The payload is not valid JSON: {e}")))?,
            Some(Format::Xml) => xml::read(&bytes)
                .map_err(|e| ApiError::unreadable(format!("The payload is not valid XML: {e}")))?,
        };
        Ok(Body { value, format })
    }
}
