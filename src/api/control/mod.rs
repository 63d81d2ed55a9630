//! switchboard's own API, not the platform's: everything under `/_switchboard/`, under its own
//! tag in the OpenAPI document, and admin only but for the health checks ([`health`]). It
//! holds what a person does in the platform's UI (a supervisor observing and joining a chat:
//! [`supervisor`]) and the stand-in's controls (fault injection: [`faults`]). Nothing here changes what a platform API
//! answers unless a user asks it to.

mod faults;
mod health;
mod metrics;
mod supervisor;
mod world;

pub use world::hold_world;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The prefix of every route of this module.
pub const PREFIX: &str = "/_switchboard";

/// The OpenAPI tag of every route of this module.
pub const TAG: &str = "switchboard";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().nest(
        PREFIX,
        supervisor::router()
            .merge(health::router())
            .merge(world::router())
            .merge(faults::router())
            .merge(metrics::router()),
    )
}
