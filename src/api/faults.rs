//! Fault injection on the platform's routes (docs/control-plane.md, "Fault injection"): while a
//! rule is live, each API's requests pass through [`inject`] (from the platform layer,
//! [`super::platform`]), which asks this node's rules
//! ([`crate::http::faults::Faults`]) whether the request gets a fault, and injects it: a wait,
//! an answer in the platform's envelope (rendered JSON or XML by the conventions), a dropped
//! connection or a cut body. Switchboard's own routes (`/_switchboard/`) never pass here.
//!
//! With no live rule, a request costs one extension lookup and one atomic load
//! ([`FaultGate::live`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{OriginalUri, Request};
use axum::http::{Extensions, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_service::Service;

use crate::auth::rate_limit::Api;
use crate::auth::{self, Authenticator};
use crate::http::ApiError;
use crate::http::faults::{self, Action, Fault, Faults, Target};
use crate::state::AppState;

/// What [`inject`] needs of the state, put on every request by the router.
#[derive(Clone)]
pub struct FaultGate {
    faults: Arc<Faults>,
    /// To find a bearer token's user, for rules that name a user.
    auth: Arc<Authenticator>,
}

impl FaultGate {
    pub fn of(state: &AppState) -> FaultGate {
        FaultGate {
            faults: state.faults.clone(),
            auth: state.auth.clone(),
        }
    }

    /// The gate on a request, when a rule may touch it: some rule is live.
    pub fn live(extensions: &Extensions) -> Option<FaultGate> {
        extensions
            .get::<FaultGate>()
            .filter(|gate| !gate.faults.is_empty())
            .cloned()
    }
}

/// Injects the fault a rule of `gate` holds for this request to `api`, if any, and marks the
/// answer with a [`faults::FaultNote`]; `route` (ready) answers the request otherwise.
pub async fn inject<S>(api: Api, gate: FaultGate, req: Request, mut route: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let run = |req| async move {
        match route.call(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    };
    // Nested routers see their part of the path; rules name the whole of it.
    let path = match req.extensions().get::<OriginalUri>() {
        Some(original) => original.path().to_owned(),
        None => req.uri().path().to_owned(),
    };
    let user = match gate.faults.needs_user() {
        true => auth::named_user(req.headers(), req.extensions(), &gate.auth).await,
        false => None,
    };
    let target = Target {
        api: api.name(),
        method: req.method().as_str(),
        path: &path,
        user: user.as_deref(),
        provider: None,
    };
    let Some(fault) = gate.faults.decide(&target) else {
        return run(req).await;
    };
    let note = fault.note();
    tracing::info!(fault = %note.0, api = api.name(), path = %path, "fault injected");
    // Known to the journal before any answer: a client that leaves during the latency leaves
    // an entry that names the fault.
    crate::journal::note_fault(req.extensions(), &note.0);
    if let Some(latency) = fault.latency {
        tokio::time::sleep(latency).await;
    }
    let mut response = match fault.action {
        Action::Delay => run(req).await,
        Action::Respond => answer(&fault),
        Action::Drop => faults::dropped(),
        Action::Truncate => {
            let mut response = run(req).await;
            response.extensions_mut().insert(faults::Truncate);
            response
        }
    };
    response.extensions_mut().insert(note);
    response
}

/// The rule's status in the platform's envelope, with `Retry-After` when the rule gives it.
fn answer(fault: &Fault) -> Response {
    let status = fault
        .status
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut error = ApiError::new(status, fault.message(), Some(fault.detail()));
    if let Some(seconds) = fault.retry_after {
        error = error.with_header(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    error.into_response()
}
