//! Health checks for whatever waits on switchboard (a CI job, a load balancer, an orchestrator):
//! liveness (the process answers) and readiness (its database answers too). Unauthenticated,
//! and cheap: liveness touches nothing, readiness reads at most one small record.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, ErrorEnvelope, respond};
use crate::model::filter::Select;
use crate::model::registry;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct Health {
    /// `ok` (alive) or `ready` (alive, and the database answers).
    status: &'static str,
    version: &'static str,
}

fn healthy(status: &'static str) -> Response {
    let body = Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
    };
    respond::typed(StatusCode::OK, &body)
}

/// Liveness: the server answers. No credentials needed.
#[utoipa::path(
    get,
    path = "/health",
    tag = super::TAG,
    security(()),
    responses((status = 200, description = "The server answers", body = ResultEnvelope<Health>))
)]
async fn live() -> Response {
    healthy("ok")
}

/// Readiness: the server answers and so does its database (one read of at most one record).
/// 503 with `Retry-After` while the database does not. No credentials needed.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = super::TAG,
    security(()),
    responses(
        (status = 200, description = "The server and its database answer", body = ResultEnvelope<Health>),
        (status = 503, description = "The database does not answer", body = ErrorEnvelope),
    )
)]
async fn ready(State(state): State<AppState>) -> Result<Response, ApiError> {
    let probe = Select::all().limit(1);
    match state.store.select(&registry::SYS_USER_ROLE, &probe).await {
        Ok(_) => Ok(healthy("ready")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            Err(ApiError::unavailable(&e))
        }
    }
}
