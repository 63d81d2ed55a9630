//! Pieces of requests: form bodies, query values, Basic credentials; and requests to a server
//! known by its base URL (a test's own `switchboard` binary, say).

use base64::Engine;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use super::{client, json_or_null};

/// The media type of a form body.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `text` encoded as the value of a query parameter.
pub fn query_encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Standard base64 with padding, as a client encodes credentials.
pub fn base64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The credentials of a Basic `Authorization` header: base64 of `user:password`.
pub fn basic_credentials((user, password): (&str, &str)) -> String {
    base64(format!("{user}:{password}"))
}

/// A Basic `Authorization` header value for `who`.
pub fn basic_authorization(who: (&str, &str)) -> String {
    format!("Basic {}", basic_credentials(who))
}

/// A request to the server at `base` as `who`, with `body` as its JSON body if there is one.
pub fn request_to(
    client: &reqwest::Client,
    base: &str,
    who: (&str, &str),
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> RequestBuilder {
    let request = client
        .request(method, format!("{base}{path}"))
        .basic_auth(who.0, Some(who.1));
    match body {
        Some(body) => request.json(body),
        None => request,
    }
}

/// Sends a request to the server at `base` as `who`, with `body` as its JSON body if there is
/// one; status and JSON body (`null` when empty).
pub async fn call(
    base: &str,
    who: (&str, &str),
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = request_to(&client(), base, who, method, path, body.as_ref());
    json_or_null(request.send().await.unwrap()).await
}
