//! What the AWA APIs share: the caller they require (`awa_integration_user`, refused in the AWA
//! Agent page's words), and how the work APIs (Routing, Inbox Actions, Agent Consult) read their
//! bodies' values and answer the refusals they share. Bodies come as JSON or XML (where every value is text), so
//! each value is read leniently here rather than by serde.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde_json::Value as Json;

use crate::auth::{AwaIntegrationUser, Caller, Role};
use crate::domain::awa_work::{Refusal, parse_flag};
use crate::http::ApiError;
use crate::state::AppState;

/// The caller, holding `awa_integration_user`. Without it, the page's 403: message
/// `User Not Authenticated` (the message the page gives this case), rather than the ACL
/// failure other APIs answer.
pub struct Integration(pub Caller);

impl FromRequestParts<AppState> for Integration {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.has_role(AwaIntegrationUser::NAME) {
            return Ok(Integration(caller));
        }
        tracing::info!(user = %caller.user_name, role = AwaIntegrationUser::NAME, "role missing");
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "User Not Authenticated",
            Some("The user does not have the awa_integration_user role".into()),
        ))
    }
}

/// The message of a 400 (the Inbox Actions page's `Invalid request`).
pub const INVALID_REQUEST: &str = "Invalid request";
/// The message of a 404 (the Inbox Actions page's `Record not found`).
pub const RECORD_NOT_FOUND: &str = "Record not found";

/// A sys_id (or any identifier) given as text or as a number; `None` when it is absent, null,
/// blank, or of another kind (an object, a list, a boolean), which the APIs treat as missing.
pub fn id(value: Option<&Json>) -> Option<String> {
    match value? {
        Json::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A flag as a JSON boolean, a number 1/0, or text `true/yes/1/false/no/0` in any case.
/// `Ok(None)` when absent, null or blank; the domain's refusal when it is something else.
pub fn flag(value: Option<&Json>) -> Result<Option<bool>, Refusal> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::String(s)) => parse_flag(s).map(Some),
        Some(Json::Number(n)) => parse_flag(&n.to_string()).map(Some),
        Some(other) => Err(Refusal::NotABoolean(other.to_string())),
    }
}

/// 400 `Invalid request` with `detail`.
pub fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(INVALID_REQUEST, detail)
}

/// 404 `Record not found` with `detail`.
pub fn not_found(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, RECORD_NOT_FOUND, Some(detail.into()))
}

/// A refusal an API does not expect from the domain function it called: a fault of ours.
pub fn unexpected(refusal: Refusal) -> ApiError {
    ApiError::internal(format!(
        "unexpected refusal from the AWA domain: {refusal:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_non_blank_text_or_numbers() {
        assert_eq!(id(Some(&json!(" abc "))), Some("abc".into()));
        assert_eq!(id(Some(&json!(12))), Some("12".into()));
        for missing in [
            json!(""),
            json!("  "),
            json!(null),
            json!({}),
            json!([]),
            json!(true),
        ] {
            assert_eq!(id(Some(&missing)), None, "{missing}");
        }
        assert_eq!(id(None), None);
    }

    #[test]
    fn flags_take_booleans_numbers_and_words() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!("YES"), Some(true)),
            (json!("no"), Some(false)),
            (json!("1"), Some(true)),
            (json!(0), Some(false)),
            (json!(1), Some(true)),
            (json!(""), None),
            (json!(null), None),
        ] {
            assert_eq!(flag(Some(&value)), Ok(expected), "{value}");
        }
        assert_eq!(flag(None), Ok(None));
        assert_eq!(
            flag(Some(&json!("maybe"))),
            Err(Refusal::NotABoolean("maybe".into()))
        );
        assert_eq!(flag(Some(&json!(2))), Err(Refusal::NotABoolean("2".into())));
        assert!(flag(Some(&json!([true]))).is_err());
    }
}
