//! Fault injection's rules (docs/control-plane.md, "Fault injection"): added, listed, read,
//! removed and cleared under `/_switchboard/faults`. The rules act on the platform's routes
//! (`api::faults`) and on outbound deliveries (`outbound`); never on these routes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ControlAdmin;
use crate::auth::rate_limit::Api;
use crate::http::faults::{Action, FaultRule, Latency, MAX_RULES, NewRule, OUTBOUND};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add, list, clear))
        .routes(routes!(get, remove))
}

/// A fault rule as it is asked for. Every filter is optional; a rule with none acts on every
/// platform request.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)] // Read field by field (`parse`), to name the field that is wrong.
struct FaultRequest {
    /// An API's name (`table`, `interaction`, `conversation_member`, `agent_mapping`, `oauth`,
    /// `batch`, `aggregate`, `tinyurl`, `attachment`, `awa_agent`, ...), or `outbound` for the
    /// deliveries to contact centers. Null: every platform API (never outbound).
    api: Option<String>,
    /// An HTTP method (`GET`, ...).
    method: Option<String>,
    /// A glob on the request's path, `*` standing for any characters: `/api/now/table/incident*`.
    path: Option<String>,
    /// The user name the request names (Basic, a bearer token's user, a batch's caller).
    user: Option<String>,
    /// Outbound only: a provider's name or sys_id.
    provider: Option<String>,
    /// Milliseconds to wait first: a number, or `[min, max]` (drawn each time).
    #[schema(value_type = Option<Object>)]
    latency_ms: Option<Json>,
    /// The status to answer (400 to 599), in the platform's envelope.
    status: Option<u16>,
    /// Seconds for `Retry-After` (with a status).
    retry_after: Option<u64>,
    /// The envelope's message (default: the platform's usual one for the status).
    message: Option<String>,
    /// `respond` (the default with a status), `delay` (the default with only a latency),
    /// `drop` or `truncate`.
    action: Option<String>,
    /// The chance, 0 to 1, that a matching request gets the fault (default 1).
    probability: Option<f64>,
    /// How many faults to inject, then the rule is spent (default: no end).
    times: Option<u64>,
}

const FIELDS: [&str; 13] = [
    "api",
    "method",
    "path",
    "user",
    "provider",
    "latency_ms",
    "status",
    "retry_after",
    "message",
    "action",
    "probability",
    "times",
    "id",
];

/// The longest latency a rule may add: ten minutes.
const MAX_LATENCY_MS: u64 = 600_000;

fn invalid(field: &str, what: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("Invalid fault rule", format!("{field}: {what}"))
}

/// A field's value, where null is the same as absent.
fn field<'a>(fields: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    fields.get(name).filter(|v| !v.is_null())
}

fn text(fields: &Map<String, Json>, name: &str) -> Result<Option<String>, ApiError> {
    match field(fields, name) {
        None => Ok(None),
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(invalid(name, "must be a non-empty string or null")),
    }
}

fn whole(
    fields: &Map<String, Json>,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    match field(fields, name) {
        None => Ok(None),
        Some(v) => match v.as_u64().filter(|n| range.contains(n)) {
            Some(n) => Ok(Some(n)),
            None => Err(invalid(
                name,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

fn latency(fields: &Map<String, Json>) -> Result<Option<Latency>, ApiError> {
    let what =
        format!("must be milliseconds (0 to {MAX_LATENCY_MS}) or [min, max] with min <= max");
    let ms = |v: &Json| v.as_u64().filter(|n| *n <= MAX_LATENCY_MS);
    match field(fields, "latency_ms") {
        None => Ok(None),
        Some(Json::Array(pair)) => match pair.as_slice() {
            [min, max] => match (ms(min), ms(max)) {
                (Some(min), Some(max)) if min <= max => Ok(Some(Latency::Range(min, max))),
                _ => Err(invalid("latency_ms", what)),
            },
            _ => Err(invalid("latency_ms", what)),
        },
        Some(v) => ms(v)
            .map(|n| Some(Latency::Fixed(n)))
            .ok_or_else(|| invalid("latency_ms", what)),
    }
}

/// Reads and checks a rule, naming the first field that is wrong.
fn parse(fields: &Map<String, Json>) -> Result<NewRule, ApiError> {
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(unknown, "is not a field of a fault rule"));
    }
    let api = text(fields, "api")?;
    if let Some(name) = &api
        && name != OUTBOUND
        && !Api::ALL.iter().any(|a| a.name() == name)
    {
        let names: Vec<&str> = Api::ALL.iter().map(|a| a.name()).collect();
        let what = format!("must be outbound or one of {}", names.join(", "));
        return Err(invalid("api", what));
    }
    let outbound = api.as_deref() == Some(OUTBOUND);
    let method = text(fields, "method")?;
    if let Some(m) = &method
        && !m.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Err(invalid("method", "must be an HTTP method such as GET"));
    }
    let path = text(fields, "path")?;
    if let Some(p) = &path
        && !(p.starts_with('/') || p.starts_with('*'))
    {
        return Err(invalid("path", "must start with / or *"));
    }
    let user = text(fields, "user")?;
    if outbound && user.is_some() {
        return Err(invalid("user", "does not apply to outbound deliveries"));
    }
    let provider = text(fields, "provider")?;
    if !outbound && provider.is_some() {
        return Err(invalid("provider", "applies only with api outbound"));
    }
    let latency_ms = latency(fields)?;
    let status = whole(fields, "status", 400..=599)?.map(|s| s as u16);
    let retry_after = whole(fields, "retry_after", 0..=86_400)?;
    let message = text(fields, "message")?;
    let action = match text(fields, "action")?.as_deref() {
        None => None,
        Some("respond") => Some(Action::Respond),
        Some("delay") => Some(Action::Delay),
        Some("drop") => Some(Action::Drop),
        Some("truncate") => Some(Action::Truncate),
        Some(_) => {
            return Err(invalid(
                "action",
                "must be respond, delay, drop or truncate",
            ));
        }
    };
    match (action, status) {
        (Some(Action::Respond), None) => {
            return Err(invalid("status", "is required with action respond"));
        }
        (Some(Action::Delay | Action::Drop | Action::Truncate), Some(_)) => {
            return Err(invalid("status", "applies only with action respond"));
        }
        (Some(Action::Delay), None) if latency_ms.is_none() => {
            return Err(invalid("latency_ms", "is required with action delay"));
        }
        (None, None) if latency_ms.is_none() => {
            return Err(invalid(
                "action",
                "a rule needs an action, a status or a latency",
            ));
        }
        _ => {}
    }
    if outbound && action == Some(Action::Truncate) {
        return Err(invalid(
            "action",
            "truncate does not apply to outbound deliveries",
        ));
    }
    if status.is_none() && (retry_after.is_some() || message.is_some()) {
        let name = if retry_after.is_some() {
            "retry_after"
        } else {
            "message"
        };
        return Err(invalid(name, "applies only with a status"));
    }
    let probability = match field(fields, "probability") {
        None => None,
        Some(v) => match v.as_f64().filter(|p| (0.0..=1.0).contains(p)) {
            Some(p) => Some(p),
            None => return Err(invalid("probability", "must be a number from 0 to 1")),
        },
    };
    let times = whole(fields, "times", 1..=u64::from(u32::MAX))?;
    if fields.get("id").is_some_and(|v| !v.is_null()) {
        return Err(invalid("id", "is given by switchboard"));
    }
    Ok(NewRule {
        api,
        method,
        path,
        user,
        provider,
        latency_ms,
        status,
        retry_after,
        message,
        action,
        probability,
        times,
    })
}

fn no_rule(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some(format!("No fault rule has id {id}")),
    )
}

/// Adds a fault rule. 201 with the rule, its id and counters. Admin only.
#[utoipa::path(
    post,
    path = "/faults",
    tag = super::TAG,
    request_body(content = FaultRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The rule, live", body = ResultEnvelope<FaultRule>),
        (status = 400, description = "A field is wrong (named in the detail), or too many rules", body = ErrorEnvelope),
        (status = 401, description = "No credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    )
)]
async fn add(
    State(state): State<AppState>,
    ControlAdmin(caller): ControlAdmin,
    body: Body,
) -> Result<Response, ApiError> {
    let rule = parse(&body.into_object()?)?;
    let Some(rule) = state.faults.add(rule) else {
        let detail = format!("At most {MAX_RULES} fault rules are kept: remove some first");
        return Err(ApiError::bad_request("Invalid fault rule", detail));
    };
    tracing::info!(rule = %rule.id, user = %caller.user_name, action = rule.action.name(), "fault rule added");
    Ok(respond::typed(StatusCode::CREATED, &rule))
}

/// Every fault rule, spent ones included, in the order they were added (the order they are
/// tried in). Admin only.
#[utoipa::path(
    get,
    path = "/faults",
    tag = super::TAG,
    responses(
        (status = 200, description = "The rules", body = ResultEnvelope<Vec<FaultRule>>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    )
)]
async fn list(State(state): State<AppState>, _: ControlAdmin) -> Response {
    respond::typed(StatusCode::OK, &state.faults.list())
}

/// Removes every fault rule. 204. Admin only.
#[utoipa::path(
    delete,
    path = "/faults",
    tag = super::TAG,
    responses(
        (status = 204, description = "No rule is left"),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    )
)]
async fn clear(State(state): State<AppState>, _: ControlAdmin) -> Response {
    state.faults.clear();
    tracing::info!("fault rules cleared");
    StatusCode::NO_CONTENT.into_response()
}

/// One fault rule, with its counters. Admin only.
#[utoipa::path(
    get,
    path = "/faults/{id}",
    tag = super::TAG,
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = ResultEnvelope<FaultRule>),
        (status = 404, description = "No rule has that id", body = ErrorEnvelope),
    )
)]
async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: ControlAdmin,
) -> Result<Response, ApiError> {
    let rule = state.faults.get(&id).ok_or_else(|| no_rule(&id))?;
    Ok(respond::typed(StatusCode::OK, &rule))
}

/// Removes one fault rule. 204. Admin only.
#[utoipa::path(
    delete,
    path = "/faults/{id}",
    tag = super::TAG,
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "The rule is removed"),
        (status = 404, description = "No rule has that id", body = ErrorEnvelope),
    )
)]
async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: ControlAdmin,
) -> Result<Response, ApiError> {
    if !state.faults.remove(&id) {
        return Err(no_rule(&id));
    }
    tracing::info!(rule = %id, "fault rule removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
