//! The Batch API: `POST /api/now/v1/batch` (and on the other version prefixes) runs a list of
//! REST requests one after another and answers with each one's status, headers and
//! base64-encoded body.
//!
//! Each item is dispatched through the same router as a direct call ([`Dispatch`]): the same
//! conventions, rate limits, role checks and transactions, as the batch's caller. The router an
//! item reaches has no [`Dispatch`], so a batch inside a batch is refused, not recursed into.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router, middleware};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value as Json;
use tower_service::Service;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authenticated, Caller};
use crate::http::{ApiError, Body, Connection, ErrorEnvelope, conventions};
use crate::model::filter::parse_bool;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(batch))
        .route_layer(middleware::from_fn(conventions::json_only))
}

/// The router items are sent into: every route behind every convention, as a direct request
/// meets them. Put on requests by [`crate::api::router`].
#[derive(Clone)]
pub struct Dispatch(pub Router);

/// An item's body, before base64 decoding, may be at most this large once decoded (the
/// platform's `glide.rest.batch.max.inputSize` default).
pub const MAX_ITEM_INPUT: usize = 5 * 1024 * 1024;
/// An item's response body may be at most this large (the platform's
/// `glide.rest.batch.max.outputSize` default); `X-BATCHREQUEST-MAX-OUTPUT-SIZE` can lower it.
pub const MAX_ITEM_OUTPUT: usize = 10 * 1024 * 1024;
/// Items not started within this time of the batch's start are not run (the platform's
/// "REST Batch API request timeout" quota).
pub const BATCH_TIME_LIMIT: Duration = Duration::from_secs(30);

const MAX_OUTPUT_HEADER: &str = "x-batchrequest-max-output-size";

/// A batch request. Fields are read leniently: an item whose fields are missing or of the
/// wrong kind is answered as a 400 in its place, and the others still run.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct BatchRequest {
    /// Echoed in the response.
    #[schema(value_type = Option<String>)]
    batch_request_id: Option<Json>,
    /// The requests, run in order.
    #[schema(value_type = Vec<RestRequest>)]
    rest_requests: Option<Json>,
}

/// One request of a batch.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct RestRequest {
    /// Required: names the item in the response.
    #[schema(value_type = String)]
    id: Option<Json>,
    /// Required: `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    #[schema(value_type = String)]
    method: Option<Json>,
    /// Required: the path from `/api/...` (or `/oauth_token.do`...), with its query.
    #[schema(value_type = String)]
    url: Option<Json>,
    /// Headers of the item (`Content-Type`, `Accept`...). The item runs as the batch's caller:
    /// an `Authorization` header here changes nothing.
    #[schema(value_type = Option<Vec<NamedHeader>>)]
    headers: Option<Json>,
    /// The body, base64-encoded.
    #[schema(value_type = Option<String>)]
    body: Option<Json>,
    /// Leave the item's response headers out (default false).
    #[schema(value_type = Option<bool>)]
    exclude_response_headers: Option<Json>,
}

/// A header, as the Batch API lists them.
#[derive(Debug, serde::Serialize, ToSchema)]
struct NamedHeader {
    name: String,
    value: String,
}

/// The answer to a batch.
#[derive(Debug, serde::Serialize, ToSchema)]
struct BatchResponse {
    /// The request's, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_request_id: Option<String>,
    serviced_requests: Vec<Serviced>,
    /// Ids of the items not run: past a size or time limit.
    unserviced_requests: Vec<String>,
}

/// One item's answer.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Serviced {
    id: String,
    /// The response body, base64-encoded.
    body: String,
    status_code: u16,
    status_text: String,
    headers: Vec<NamedHeader>,
    /// Milliseconds.
    execution_time: u64,
    /// Why the item could not be sent as given (its answer is then a 400 of the batch's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// What became of one item.
enum Outcome {
    Serviced(Serviced),
    /// Past a limit: this item and every later one go unserviced.
    OverLimit,
}

/// Run several REST requests in one call.
#[utoipa::path(
    post,
    path = "/batch",
    tag = "Batch API",
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Each item's answer, or its id among the unserviced", body = BatchResponse),
        (status = 400, description = "No `rest_requests` list, or a batch inside a batch", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
    )
)]
async fn batch(
    caller: Caller,
    dispatch: Option<Extension<Dispatch>>,
    connection: Option<Extension<Connection>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(Extension(Dispatch(router))) = dispatch else {
        return Err(ApiError::bad_request(
            "Invalid batch request",
            "A batch request cannot contain another batch request",
        ));
    };
    let request: BatchRequest = body.parse()?;
    let Some(Json::Array(items)) = request.rest_requests else {
        return Err(ApiError::bad_request(
            "Invalid batch request",
            "rest_requests must be a list of requests",
        ));
    };
    let context = Context {
        caller,
        connection: connection.map(|Extension(c)| c),
        host: host_of(&uri, &headers),
        forwarded_proto: headers.get("x-forwarded-proto").cloned(),
        output_limit: output_limit(&headers),
    };
    let started = Instant::now();
    let mut serviced = Vec::with_capacity(items.len());
    let mut unserviced = Vec::new();
    for item in items {
        let item: RestRequest = serde_json::from_value(item).unwrap_or_default();
        let id = text(&item.id).unwrap_or_default();
        if !unserviced.is_empty() || started.elapsed() >= BATCH_TIME_LIMIT {
            unserviced.push(id);
            continue;
        }
        match run(&router, &context, id.clone(), item).await {
            Outcome::Serviced(answer) => serviced.push(answer),
            Outcome::OverLimit => unserviced.push(id),
        }
    }
    let answer = BatchResponse {
        batch_request_id: text(&request.batch_request_id),
        serviced_requests: serviced,
        unserviced_requests: unserviced,
    };
    let mut response = serde_json::to_vec(&answer)
        .map_err(ApiError::internal)?
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    Ok(response)
}

/// What every item of one batch shares.
struct Context {
    caller: Caller,
    connection: Option<Connection>,
    /// The authority the batch was sent to, as the items' `Host`: their links name it too.
    host: Option<HeaderValue>,
    forwarded_proto: Option<HeaderValue>,
    output_limit: usize,
}

/// A JSON string's text, or a number's (ids are often numbers).
fn text(value: &Option<Json>) -> Option<String> {
    match value {
        Some(Json::String(s)) => Some(s.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The batch's own authority: the request's (HTTP/2), else its `Host`.
fn host_of(uri: &Uri, headers: &HeaderMap) -> Option<HeaderValue> {
    uri.authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        .or_else(|| headers.get(header::HOST).cloned())
}

/// Runs one item through the router and records its answer.
async fn run(router: &Router, context: &Context, id: String, item: RestRequest) -> Outcome {
    let started = Instant::now();
    let exclude_headers = match &item.exclude_response_headers {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => parse_bool(s).unwrap_or(false),
        _ => false,
    };
    let request = match build(context, &item) {
        Ok(request) => request,
        Err(Invalid::OverLimit) => return Outcome::OverLimit,
        Err(Invalid::Item(reason)) => {
            let answer = refused(id, &reason, started);
            return Outcome::Serviced(answer);
        }
    };
    // The router is always ready; a clone is how a shared router is called.
    let response = match router.clone().call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, context.output_limit).await else {
        return Outcome::OverLimit;
    };
    Outcome::Serviced(Serviced {
        id,
        body: BASE64.encode(&body),
        status_code: parts.status.as_u16(),
        status_text: status_text(parts.status),
        headers: match exclude_headers {
            true => Vec::new(),
            false => listed(&parts.headers),
        },
        execution_time: millis(started),
        error_message: None,
    })
}

/// Why an item could not be sent.
enum Invalid {
    /// Its body is over [`MAX_ITEM_INPUT`].
    OverLimit,
    /// A field is missing or unusable: the item is answered 400 with this reason.
    Item(String),
}

/// The HTTP request an item describes, as the batch's caller, from the batch's connection and
/// authority.
fn build(context: &Context, item: &RestRequest) -> Result<Request, Invalid> {
    let invalid = |reason: &str| Invalid::Item(reason.to_owned());
    let method = text(&item.method)
        .and_then(|m| Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()).ok())
        .ok_or_else(|| invalid("method is missing or not an HTTP method"))?;
    let url = text(&item.url)
        .filter(|u| u.starts_with('/') && !u.starts_with("//"))
        .and_then(|u| u.parse::<Uri>().ok())
        .ok_or_else(|| {
            invalid(
                "url is missing or not a path on this instance, such as /api/now/table/incident",
            )
        })?;
    let body = match text(&item.body) {
        None => Vec::new(),
        Some(encoded) => {
            // Base64 is 4 characters for every 3 bytes: a longer text decodes past the limit.
            if encoded.len() / 4 * 3 > MAX_ITEM_INPUT + 3 {
                return Err(Invalid::OverLimit);
            }
            let compact: String = encoded.split_whitespace().collect();
            BASE64
                .decode(compact)
                .map_err(|_| invalid("body is not base64"))?
        }
    };
    if body.len() > MAX_ITEM_INPUT {
        return Err(Invalid::OverLimit);
    }
    let length = body.len();
    let mut request = Request::new(axum::body::Body::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = url;
    let headers = request.headers_mut();
    for (name, value) in item_headers(item).map_err(Invalid::Item)? {
        // Framing and identity are the batch's, not the item's.
        if !matches!(
            name,
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION | header::HOST
        ) {
            headers.append(name, value);
        }
    }
    if length > 0 {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    if let Some(host) = &context.host {
        headers.insert(header::HOST, host.clone());
    }
    if let Some(proto) = &context.forwarded_proto {
        headers.insert("x-forwarded-proto", proto.clone());
    }
    let extensions = request.extensions_mut();
    extensions.insert(Authenticated(context.caller.clone()));
    if let Some(connection) = &context.connection {
        extensions.insert(*connection);
    }
    Ok(request)
}

/// An item's `headers` list as header names and values.
fn item_headers(item: &RestRequest) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let Some(list) = &item.headers else {
        return Ok(Vec::new());
    };
    let Json::Array(list) = list else {
        return Err("headers must be a list of {name, value}".into());
    };
    list.iter()
        .map(|h| {
            let name = h.get("name").and_then(Json::as_str).unwrap_or_default();
            let value = h.get("value").and_then(Json::as_str).unwrap_or_default();
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("'{name}' is not a header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header '{name}' is not a header value"))?;
            Ok((name, value))
        })
        .collect()
}

/// An item answered by the batch itself: 400, its reason in the envelope and in
/// `error_message`.
fn refused(id: String, reason: &str, started: Instant) -> Serviced {
    let envelope = ErrorEnvelope::new("Invalid batch item", Some(reason));
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    Serviced {
        id,
        body: BASE64.encode(body),
        status_code: StatusCode::BAD_REQUEST.as_u16(),
        status_text: status_text(StatusCode::BAD_REQUEST),
        headers: vec![NamedHeader {
            name: header::CONTENT_TYPE.to_string(),
            value: "application/json;charset=UTF-8".into(),
        }],
        execution_time: millis(started),
        error_message: Some(reason.to_owned()),
    }
}

fn status_text(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or_default().to_owned()
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Response headers as the Batch API lists them (a value that is not text is sent lossily).
fn listed(headers: &HeaderMap) -> Vec<NamedHeader> {
    headers
        .iter()
        .map(|(name, value)| NamedHeader {
            name: name.to_string(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect()
}

/// The output limit for each item: the platform's default, or lower if the request asks.
fn output_limit(headers: &HeaderMap) -> usize {
    headers
        .get(MAX_OUTPUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(MAX_ITEM_OUTPUT, |asked| asked.min(MAX_ITEM_OUTPUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_limit_can_be_lowered_but_not_raised() {
        let mut headers = HeaderMap::new();
        assert_eq!(output_limit(&headers), MAX_ITEM_OUTPUT);
        headers.insert(MAX_OUTPUT_HEADER, HeaderValue::from_static("1000"));
        assert_eq!(output_limit(&headers), 1000);
        headers.insert(MAX_OUTPUT_HEADER, HeaderValue::from(MAX_ITEM_OUTPUT + 1));
        assert_eq!(output_limit(&headers), MAX_ITEM_OUTPUT);
    }
}
