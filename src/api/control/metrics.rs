//! `GET /_switchboard/metrics`: the process's Prometheus metrics (docs/control-plane.md,
//! "Metrics"), for an admin or the admin token. `--metrics-listen` serves the same without
//! credentials on an address of its own (`api::metrics::listener_router`).

use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ControlAdmin;
use crate::http::ErrorEnvelope;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Every metric in Prometheus's text exposition format (version 0.0.4). Admin only.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = super::TAG,
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 401, description = "No credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    )
)]
async fn metrics(_: ControlAdmin) -> Response {
    crate::api::metrics::exposition()
}
