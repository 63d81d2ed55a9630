//! The platform's conventions that hold for every request, in one middleware: the
//! `X-Transaction-ID`, content negotiation (406), the envelope in JSON or XML, and
//! `X-no-response-body`; plus the method override, which must run before routing.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::error::ErrorEnvelope;
use super::faults;
use super::negotiate::{self, Format};
use super::respond::{Payload, ResultEnvelope};
use super::xml;

pub const TRANSACTION_ID: &str = "x-transaction-id";

/// Why a request target (path and query) is refused before anything reads it: a NUL no
/// database stores, or bytes that are not UTF-8 (which would otherwise be silently replaced).
fn unreadable_target(uri: &axum::http::Uri) -> Option<&'static str> {
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(target).collect();
    if decoded.contains(&0) {
        Some("The request URI may not contain NUL characters")
    } else if std::str::from_utf8(&decoded).is_err() {
        Some("The request URI is not valid UTF-8 once percent-decoded")
    } else {
        None
    }
}

/// The requests whose resource answers with content of its own rather than the envelope (an
/// attachment's file), whatever their `Accept` names: the API layer knows them by method and
/// path, before routing.
#[derive(Clone, Copy)]
pub struct OwnContent(pub fn(&Method, &str) -> bool);

pub async fn conventions(
    State(own_content): State<OwnContent>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = hex::encode(rand::random::<[u8; 16]>());
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    // A file's Accept names the file's type (image/png): the file is answered whatever it
    // names, and an error in JSON, rather than a 406.
    let negotiated = negotiate::accept(accept)
        .or_else(|| own_content.0(req.method(), req.uri().path()).then_some(Format::Json));
    let mut response = match negotiated {
        None => render(Format::Json, not_acceptable()),
        Some(format) if let Some(reason) = unreadable_target(req.uri()) => {
            let error = super::ApiError::bad_request("Exception while reading request", reason);
            render(format, axum::response::IntoResponse::into_response(error))
        }
        Some(format) => {
            let suppress = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
                && req
                    .headers()
                    .get("x-no-response-body")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
            req.extensions_mut().insert(format);
            let response = next.run(req).instrument(span.clone()).await;
            let mut response = render(format, response);
            if suppress && response.status().is_success() {
                *response.body_mut() = Body::empty();
                response.headers_mut().remove(header::CONTENT_TYPE);
            }
            // A fault rule's cut body: cut once rendered.
            if response.extensions().get::<faults::Truncate>().is_some() {
                response = faults::truncate(response).await;
            }
            response
        }
    };
    let _enter = span.enter();
    tracing::info!(status = response.status().as_u16(), "answered");
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(TRANSACTION_ID, v);
    }
    response
}

fn not_acceptable() -> Response {
    let mut response = StatusCode::NOT_ACCEPTABLE.into_response();
    response.extensions_mut().insert(Payload::Error {
        message: "Not Acceptable".into(),
        detail: Some(
            "The Accept header names no format this resource serves: use application/json or application/xml"
                .into(),
        ),
    });
    response
}

/// Renders the payload a handler attached, if any, in `format` (or the format the route forced,
/// see [`json_only`]).
fn render(format: Format, mut response: Response) -> Response {
    let Some(payload) = response.extensions_mut().remove::<Payload>() else {
        return response;
    };
    let format = match &payload {
        Payload::Encoded { format, .. } => *format,
        _ => response
            .extensions()
            .get::<Format>()
            .copied()
            .unwrap_or(format),
    };
    // Serialised straight to bytes: going through `Display` (`to_string`) cost a tenth of the
    // CPU of a simple read in the profile.
    let body: Bytes = match (format, payload) {
        (_, Payload::Encoded { body, .. }) => body,
        (Format::Json, Payload::Result(result)) => {
            to_json(&ResultEnvelope { result: &result }).into()
        }
        (Format::Json, Payload::Error { message, detail }) => {
            to_json(&ErrorEnvelope::new(&message, detail.as_deref())).into()
        }
        (Format::Json, Payload::Bare(value)) => to_json(&value).into(),
        (Format::Xml, Payload::Result(v)) => xml::write_result(&v).into(),
        (Format::Xml, Payload::Bare(v)) => xml::write_bare(&v).into(),
        (Format::Xml, Payload::Error { message, detail }) => {
            xml::write_error(&message, detail.as_deref()).into()
        }
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
    *response.body_mut() = Body::from(body);
    response
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    // These always serialise: JSON values (string keys, no non-finite numbers) in a struct.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `X-HTTP-Method-Override` on a POST turns it into the named method (for clients that can only
/// send GET and POST). Anything but a POST, or an unknown method name, is left alone.
pub async fn method_override(mut req: Request, next: Next) -> Response {
    if req.method() == Method::POST
        && let Some(method) = req
            .headers()
            .get("x-http-method-override")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Method::from_bytes(v.trim().to_ascii_uppercase().as_bytes()).ok())
    {
        *req.method_mut() = method;
    }
    next.run(req).await
}

/// For APIs that speak only JSON (Agent Mapping): an `Accept` that chose XML is a 406 and an XML
/// body a 415, both checked before authentication; every answer is JSON.
pub async fn json_only(req: Request, next: Next) -> Response {
    let refusal = if req.extensions().get::<Format>() == Some(&Format::Xml) {
        Some((
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            "This API answers only application/json",
        ))
    } else if req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| negotiate::content_type(Some(ct)) != Ok(Some(Format::Json)))
    {
        Some((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "This API reads only application/json",
        ))
    } else {
        None
    };
    let mut response = match refusal {
        Some((status, message, detail)) => {
            let mut response = status.into_response();
            response.extensions_mut().insert(Payload::Error {
                message: message.into(),
                detail: Some(detail.into()),
            });
            response
        }
        None => next.run(req).await,
    };
    response.extensions_mut().insert(Format::Json);
    response
}

#[cfg(test)]
mod tests {
    use super::unreadable_target;

    #[test]
    fn nul_and_non_utf8_targets_are_refused() {
        let uri = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert!(unreadable_target(&uri("/api/now/table/sys_user/%00")).is_some());
        assert!(unreadable_target(&uri("/api/now/table/x?sysparm_query=a%3Db%00")).is_some());
        assert!(unreadable_target(&uri("/api/now/table/x?q=%FF")).is_some());
        assert!(unreadable_target(&uri("/api/now/table/x?q=%C3%A9")).is_none());
        assert!(unreadable_target(&uri("/api/now/table/x?q=a%2Bb")).is_none());
    }
}
