//! One error type for every handler: it renders the platform's error envelope and logs a 5xx
//! with its cause, never sending the cause to the client.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::respond::Payload;
use crate::domain::RecordError;
use crate::model::filter::FilterError;
use crate::model::query::QueryError;
use crate::storage::StorageError;

/// The platform's error envelope, as every error is sent in JSON (and described in the OpenAPI
/// document). The XML rendering ([`super::xml::write_error`]) has the same elements.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope<'a> {
    pub error: ErrorBody<'a>,
    /// Always `failure`.
    #[schema(example = "failure")]
    pub status: &'static str,
}

/// What went wrong. `detail` is written before `message`, the order the envelope has always had
/// on the wire (clients compare bytes in their recordings).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    pub detail: Option<&'a str>,
    pub message: &'a str,
}

impl<'a> ErrorEnvelope<'a> {
    pub fn new(message: &'a str, detail: Option<&'a str>) -> Self {
        ErrorEnvelope {
            error: ErrorBody { detail, message },
            status: "failure",
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    pub detail: Option<String>,
    /// Logged for a 5xx, never sent.
    cause: Option<String>,
    /// Sent with the envelope (`Retry-After`, `X-RateLimit-*`); a list, to keep the error small.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The transaction lost a conflict: the request may run again ([`super::replay`]).
    conflict: bool,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        message: impl Into<Cow<'static, str>>,
        detail: Option<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            detail,
            cause: None,
            headers: Vec::new(),
            conflict: false,
        }
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 429 in the platform's shape (`Rate limit exceeded`), with `Retry-After` in whole
    /// seconds (at least 1, rounded up).
    pub fn too_many_requests(detail: impl Into<String>, retry_after: Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            Some(detail.into()),
        )
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_seconds(retry_after)),
        )
    }

    /// 503 with `Retry-After` (whole seconds, at least 1): the server is at a capacity it sets
    /// itself (see [`crate::http::admission`]) and did not read or change anything.
    pub fn busy(detail: impl Into<String>, retry_after: Duration) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            Some(detail.into()),
        )
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_seconds(retry_after)),
        );
        error.cause = Some("no admission within the wait for large pages".into());
        error
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, Some(detail.into()))
    }

    /// A body that could not be read: too large, malformed, or of the wrong kind.
    pub fn unreadable(detail: impl Into<String>) -> Self {
        Self::bad_request("Exception while reading request", detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            Some("Required to provide Auth information".into()),
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            Some(detail.into()),
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "No Record found",
            Some("Record doesn't exist or ACL restricts the record retrieval".into()),
        )
    }

    pub fn invalid_uri() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
            None,
        )
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "Internal server error".into(),
            detail: Some("An unexpected error occurred while processing the request".into()),
            cause: Some(cause.to_string()),
            headers: Vec::new(),
            conflict: false,
        }
    }

    /// 503 with `Retry-After`: storage cannot serve the request now (see
    /// [`StorageError::is_unavailable`]), or it lost a conflict every time it ran. The cause is
    /// logged, never sent.
    pub fn unavailable(cause: &StorageError) -> Self {
        let detail = if cause.is_conflict() {
            "The request conflicted with concurrent changes and was not applied; retry it"
        } else {
            "Storage is unavailable; nothing was changed. Retry after the time in Retry-After"
        };
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            Some(detail.into()),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(STORAGE_RETRY_AFTER));
        error.cause = Some(cause.to_string());
        error.conflict = cause.is_conflict();
        error
    }
}

/// Seconds a client is told to wait when storage is unavailable.
pub const STORAGE_RETRY_AFTER: u64 = 2;

/// A wait as `Retry-After` states it: whole seconds, rounded up, at least 1 (a client told 0
/// would retry at once and be refused again).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

impl ApiError {
    /// This error answered with another body than the envelope: its status, headers, logging
    /// and replay marker, around `body`. For the endpoints whose errors have a shape of their
    /// own (OAuth's, RFC 6749 §5.2).
    pub fn respond_with(self, body: impl IntoResponse) -> Response {
        let mut response = (self.status, body).into_response();
        self.decorate(&mut response);
        response
    }

    /// What every answer to this error has, whatever its body: a 5xx logged with its cause,
    /// the replay marker of a lost conflict, and the headers.
    fn decorate(&self, response: &mut Response) {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, cause = self.cause.as_deref().unwrap_or("-"), "request failed");
        }
        if self.conflict {
            response.extensions_mut().insert(super::replay::Conflict);
        }
        for (name, value) in &self.headers {
            response.headers_mut().insert(name, value.clone());
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        self.decorate(&mut response);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("BASIC realm=\"Service-now\""),
            );
        }
        response.extensions_mut().insert(Payload::Error {
            message: self.message.into_owned(),
            detail: self.detail,
        });
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unique { table, fields } => ApiError::bad_request(
                "Operation Failed",
                format!("A record with the same {fields} already exists in {table}"),
            ),
            StorageError::InvalidText => {
                ApiError::bad_request("Invalid request", "A value holds a NUL character")
            }
            other if other.is_conflict() || other.is_unavailable() => ApiError::unavailable(&other),
            other => ApiError::internal(other),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Invalid { .. } => ApiError::bad_request("Operation Failed", e.to_string()),
            RecordError::Forbidden(detail) => ApiError::forbidden(detail),
            RecordError::NotFound => ApiError::not_found(),
            RecordError::Storage(s) => s.into(),
            RecordError::Hashing(h) => ApiError::internal(h),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::bad_request("Invalid query", e.to_string())
    }
}

impl From<FilterError> for ApiError {
    fn from(e: FilterError) -> Self {
        ApiError::bad_request("Invalid query", e.to_string())
    }
}
