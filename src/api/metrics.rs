//! Prometheus metrics of the platform's requests (docs/control-plane.md, "Metrics"): each API's
//! routes pass through [`observe`], which counts the request by API, route and status and
//! records how long it took; and the router of the separate metrics listener
//! (`--metrics-listen`), which serves only `/metrics`, without credentials.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::rate_limit::Api;
use crate::http::metrics::{self, HTTP_DURATION, HTTP_REQUESTS};

/// Counts a request to `api` by its route (the matched pattern, not the path: few values) and
/// status, and records its duration: until the handler answered, not until the body is sent.
pub async fn observe(api: Api, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |m| m.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    let (name, route2) = (api.name(), route.clone());
    ::metrics::counter!(HTTP_REQUESTS, "api" => name, "route" => route, "status" => status)
        .increment(1);
    ::metrics::histogram!(HTTP_DURATION, "api" => name, "route" => route2).record(elapsed);
    response
}

/// The metrics in Prometheus's text format.
pub fn exposition() -> Response {
    let mut response = metrics::render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    response
}

/// The separate metrics listener's router: `GET /metrics`, unauthenticated; nothing else.
pub fn listener_router() -> Router {
    Router::new().route("/metrics", axum::routing::get(|| async { exposition() }))
}
