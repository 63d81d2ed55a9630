//! Prometheus metrics of the platform's requests (docs/control-plane.md, "Metrics"): each API's
//! answers pass through [`count`], which counts the request by API, route and status and
//! records how long it took; and the router of the separate metrics listener
//! (`--metrics-listen`), which serves only `/metrics`, without credentials.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::rate_limit::Api;
use crate::http::metrics::{self, HTTP_DURATION, HTTP_REQUESTS};

/// Counts a request to `api` by its route (the matched pattern, not the path: few values) and
/// status, and records how long it took: until the handler answered, not until the body was
/// sent. Called by the platform layer ([`super::platform`]) once the answer is ready.
pub fn count(api: Api, route: &str, status: StatusCode, elapsed: Duration) {
    let elapsed = elapsed.as_secs_f64();
    let key = (api.name(), route.as_ptr() as usize, status.as_u16());
    let known = HANDLES.read().unwrap_or_else(|e| e.into_inner());
    match known.get(&key).filter(|h| *h.route == *route) {
        Some(handles) => handles.count(elapsed),
        None => {
            drop(known);
            let handles = Handles::new(key.0, route, key.2);
            handles.count(elapsed);
            let mut known = HANDLES.write().unwrap_or_else(|e| e.into_inner());
            known.insert(key, handles);
        }
    }
}

/// A request's metrics for one API, route and status: made once, then found by the route
/// pattern's address (axum hands every request of a route the same one), since building a
/// metric's labels and finding it in the recorder's registry cost more than many requests.
struct Handles {
    /// The pattern itself: an address may be reused by another router's pattern.
    route: Box<str>,
    requests: ::metrics::Counter,
    duration: ::metrics::Histogram,
}

/// (API, the route pattern's address, status).
type HandleKey = (&'static str, usize, u16);

static HANDLES: LazyLock<RwLock<HashMap<HandleKey, Handles>>> = LazyLock::new(RwLock::default);

impl Handles {
    fn new(api: &'static str, route: &str, status: u16) -> Handles {
        let labels = (route.to_owned(), status.to_string());
        Handles {
            route: route.into(),
            requests: ::metrics::counter!(HTTP_REQUESTS, "api" => api, "route" => labels.0.clone(), "status" => labels.1),
            duration: ::metrics::histogram!(HTTP_DURATION, "api" => api, "route" => labels.0),
        }
    }

    fn count(&self, elapsed: f64) {
        self.requests.increment(1);
        self.duration.record(elapsed);
    }
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
