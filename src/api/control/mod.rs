//! switchboard's own API, not the platform's: everything under `/_switchboard/`, under its own
//! tag in the OpenAPI document, and admin only but for the health checks ([`health`]). It
//! holds what a person does in the platform's UI (a supervisor observing and joining a chat:
//! [`supervisor`]) and the stand-in's controls (fault injection: [`faults`]). Nothing here changes what a platform API
//! answers unless a user asks it to.

mod faults;
mod health;
mod journal;
mod metrics;
mod supervisor;
mod world;
mod world_lock;

pub use world_lock::HoldWorld;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The prefix of every route of this module.
pub const PREFIX: &str = "/_switchboard";

/// The API name the request journal gives this module's requests.
pub const API_NAME: &str = "switchboard";

/// The OpenAPI tag of every route of this module.
pub const TAG: &str = "switchboard";

/// Whether a request is for the journal's event stream.
pub fn streams_events(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::GET && path.strip_prefix(PREFIX) == Some(journal::STREAM_PATH)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().nest(
        PREFIX,
        supervisor::router()
            .merge(health::router())
            .merge(world::router())
            .merge(faults::router())
            .merge(metrics::router())
            .merge(journal::router()),
    )
}
