//! The platform's REST APIs, one module each, and the router that serves them under the
//! platform's conventions.
//!
//! Each API module parses requests into typed input, calls [`crate::domain`], and turns the
//! outcome (or the domain's refusal) into the platform's answer. [`routes`] lists every
//! documented route once: the router and the OpenAPI document are both made from it.

pub mod attachment;
pub mod awa_agent;
pub mod awa_consult;
mod awa_fields;
pub mod awa_inbox;
pub mod awa_offer;
pub mod awa_routing;
pub mod batch;
pub mod control;
pub mod external_id_mapping;
pub mod faults;
pub mod interaction;
pub mod mapping;
mod marks;
pub mod member;
pub mod metrics;
pub mod oauth;
pub mod openapi;
mod platform;
pub mod stats;
pub mod table;
pub mod tiny_url;
pub mod wrap_up;

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router, middleware};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Caller;
use crate::auth::rate_limit::{self, Api};
use crate::http::{ApiError, conventions, replay};
use crate::state::AppState;
use marks::Mark;

/// Which version prefix a request came in on: `/api/now/`, `/api/now/v1/` or `/api/now/v2/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    Latest,
    V1,
    V2,
}

/// Every documented route, without state. The router and the OpenAPI document
/// ([`openapi`]) are both made from it, so they cannot disagree. Each API's routes carry their
/// [`Api`] as an extension, which rate limits count by.
pub fn routes() -> OpenApiRouter<AppState> {
    let mut api = OpenApiRouter::new();
    for (prefix, version) in [
        ("/api/now", ApiVersion::Latest),
        ("/api/now/v1", ApiVersion::V1),
        ("/api/now/v2", ApiVersion::V2),
    ] {
        let apis = platform(table::router(), Api::Table)
            .merge(platform(interaction::router(), Api::Interaction))
            .merge(platform(member::router(), Api::ConversationMember))
            .merge(platform(batch::router(), Api::Batch))
            .merge(platform(tiny_url::router(), Api::TinyUrl))
            .merge(platform(stats::router(), Api::Aggregate))
            .merge(platform(attachment::router(), Api::Attachment))
            .merge(platform(awa_agent::router(), Api::AwaAgent))
            .merge(platform(awa_offer::offer_router(), Api::AwaOfferWork))
            .merge(platform(
                awa_offer::assignment_router(),
                Api::AwaManualAssignment,
            ))
            .merge(platform(awa_routing::router(), Api::AwaRouting))
            .merge(platform(awa_inbox::router(), Api::AwaInboxActions))
            .merge(platform(awa_consult::router(), Api::AwaAgentConsult))
            .merge(platform(wrap_up::router(), Api::WrapUp));
        api = api.nest(prefix, apis.layer(Extension(version)));
    }
    api.merge(platform(mapping::router(), Api::AgentMapping))
        .merge(platform(
            external_id_mapping::router(),
            Api::ExternalIdMapping,
        ))
        .merge(platform(oauth::router(), Api::OAuth))
        .merge(control::router().layer(Mark::Name(control::API_NAME)))
        .merge(
            OpenApiRouter::new()
                .routes(utoipa_axum::routes!(serve_openapi))
                .layer(Mark::Route),
        )
}

/// An API's routes, behind the layer every platform API shares ([`platform`]: marks, fault
/// injection, metrics).
fn platform(routes: OpenApiRouter<AppState>, api: Api) -> OpenApiRouter<AppState> {
    routes.layer(platform::Platform(api))
}

/// The OpenAPI document of every route.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "OpenAPI",
    responses((status = 200, description = "The OpenAPI 3 document of every route", content_type = "application/json"))
)]
async fn serve_openapi() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| openapi::document(routes().into_openapi()));
    let mut response = document.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}

/// Every route, behind the platform's conventions.
pub fn router(state: AppState) -> Router {
    let (routed, _) = routes().split_for_parts();
    let rate_limited = !state.rate_limits.is_empty();
    let replay_limit = replay::ReplayLimit(state.config.max_body_bytes);
    let world = control::HoldWorld(state.world.clone());
    let routed = routed
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(faults::FaultGate::of(&state)))
        .with_state(state);
    // The conventions around the routes, as one tower stack over the routed router rather than
    // layers added to a `Router`: each `Router::layer` costs every request a clone of a boxed
    // service and a boxed future. The method override must act before routing, so it wraps the
    // routed service. A write that lost a database conflict runs again inside every other
    // convention (one transaction id).
    let conventions = ServiceBuilder::new()
        .layer(middleware::from_fn(conventions::method_override))
        .layer(middleware::from_fn_with_state(
            conventions::OwnContent(serves_content),
            conventions::conventions,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .option_layer(rate_limited.then(|| middleware::from_fn(rate_limit::report)))
        .layer(middleware::from_fn_with_state(
            replay_limit,
            replay::replay_conflicts,
        ))
        .service(routed);
    // A batch's items go to the conventions as they are here, without the dispatcher: an item
    // that is itself a batch finds none and is refused.
    let dispatch = batch::Dispatch(Router::new().fallback_service(conventions.clone()));
    // Outside the dispatcher: a batch holds the world once for all its items. (The journal,
    // which records a batch as one entry, is outside the router: `server::serve` puts
    // `journal::Record` on each connection's service.)
    let app = ServiceBuilder::new()
        .layer(world)
        .layer(Extension(dispatch))
        .service(conventions);
    Router::new().fallback_service(app)
}

/// The requests answered with content of their own whatever `Accept` names: an attachment's
/// file, and the journal's event stream (an `EventSource` asks for `text/event-stream`).
fn serves_content(method: &axum::http::Method, path: &str) -> bool {
    attachment::serves_content(method, path) || control::streams_events(method, path)
}

/// A path that names nothing. Under `/api/`, as on the platform, the caller is authenticated
/// first (401), and only then told the resource does not exist (400); clients such as
/// servicenow-api probe credentials this way.
async fn unknown_path(uri: Uri, caller: Result<Caller, ApiError>) -> ApiError {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        match caller {
            Ok(_) => ApiError::invalid_uri(),
            Err(unauthenticated) => unauthenticated,
        }
    } else {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            Some(format!("No resource at {}", uri.path())),
        )
    }
}

/// A panic in a handler is a bug: log it and answer 500 in the envelope, keeping the connection.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not Supported",
        Some("The HTTP method is not supported by this resource".into()),
    )
}
