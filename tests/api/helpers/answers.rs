//! Reading and asserting a server's answers.

use reqwest::header::{AsHeaderName, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// Status and JSON body of a response (panics with the text if it is not JSON).
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Status and JSON body of a response; an empty body (a 204) reads as `null`.
pub async fn json_or_null(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Status and body text of a response.
pub async fn text_of(response: Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// A header of a response as text; `None` when it is absent (or not text).
pub fn header(response: &Response, name: impl AsHeaderName) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `Content-Type` of a response; empty when it has none.
pub fn content_type(response: &Response) -> String {
    header(response, CONTENT_TYPE)
        .unwrap_or_default()
        .to_owned()
}

/// Asserts the `Content-Type` of a response is `media_type` (parameters such as the charset may
/// follow).
pub fn assert_content_type(response: &Response, media_type: &str) {
    let content_type = content_type(response);
    assert!(content_type.starts_with(media_type), "{content_type}");
}

/// The keys of a JSON object, sorted.
pub fn sorted_keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Asserts the platform's error envelope with this status and message; returns the detail.
pub async fn assert_error(response: Response, status: StatusCode, message: &str) -> Value {
    let (got, body) = json_of(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["status"], "failure", "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
    body["error"]["detail"].clone()
}

/// Asserts the platform's 400 for a request body it cannot read ("Exception while reading
/// request"); returns the detail.
pub async fn assert_unreadable_request(response: Response) -> Value {
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "Exception while reading request",
    )
    .await
}

/// Asserts the platform's exact 401 for an API call: status, `WWW-Authenticate`, envelope.
pub async fn assert_unauthenticated(response: Response) {
    assert_eq!(
        header(&response, WWW_AUTHENTICATE),
        Some(r#"BASIC realm="Service-now""#),
        "WWW-Authenticate on a 401"
    );
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body,
        json!({
            "error": {
                "message": "User Not Authenticated",
                "detail": "Required to provide Auth information"
            },
            "status": "failure"
        })
    );
}
