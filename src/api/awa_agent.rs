//! The AWA Agent API: an agent's presence, channel availability and capacities, as a contact
//! center checks them before it offers work. Role `awa_integration_user`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::awa_fields::Integration;
use crate::domain::awa_presence::{
    self, Capacities, Channel, Presence, Refusal, SetCapacities, SetPresence,
};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::model::filter::parse_bool;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_agent, put_agent))
        .routes(routes!(get_presence_states))
        .routes(routes!(get_capacities, put_capacities))
}

/// The largest capacity accepted (the platform's integers are 32-bit).
const MAX_CAPACITY: i64 = i32::MAX as i64;

const NOT_FOUND: &str = "Record Not Found";

/// The page's 404, with what was not found as the detail.
fn not_found(refusal: Refusal, user: &str) -> ApiError {
    let detail = match refusal {
        Refusal::NoUser => format!("User {user} not found"),
        Refusal::NotAnAgent => format!("User {user} is not an agent: it lacks the awa_agent role"),
        Refusal::NoPresenceState(id) => format!("Presence state {id} not found"),
        Refusal::NoChannel(id) => format!("Service channel {id} not found"),
        Refusal::NoPresence => format!("No presence state found for agent {user}"),
    };
    ApiError::new(StatusCode::NOT_FOUND, NOT_FOUND, Some(detail))
}

/// A request the page's types do not fit: 400, naming what is wrong.
fn bad_request(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Bad Request", detail)
}

/// `Ok(Ok(x))` to `x`; a refusal to its 404.
fn found<T>(outcome: Result<T, Refusal>, user: &str) -> Result<T, ApiError> {
    outcome.map_err(|refusal| not_found(refusal, user))
}

/// A channel in an agent's presence.
#[derive(Debug, serde::Serialize, ToSchema)]
struct PresenceChannel {
    name: String,
    available: bool,
    sys_id: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct PresenceBody {
    name: String,
    sys_id: String,
    available: bool,
    channels: Vec<PresenceChannel>,
}

/// `GET` and `PUT /awa/agents/{user_id}`: the agent's presence.
#[derive(Debug, serde::Serialize, ToSchema)]
struct AgentPresence {
    presence: PresenceBody,
    /// The agent's sys_id.
    sys_id: String,
}

impl AgentPresence {
    fn new(agent: &str, presence: Presence) -> Self {
        let channels = presence
            .channels
            .into_iter()
            .map(|c| PresenceChannel {
                name: c.name,
                available: c.available,
                sys_id: c.sys_id,
            })
            .collect();
        AgentPresence {
            presence: PresenceBody {
                name: presence.state.name,
                sys_id: presence.state.sys_id,
                available: presence.state.available,
                channels,
            },
            sys_id: agent.to_owned(),
        }
    }
}

/// A channel in a presence state of `presence_states`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct StateChannel {
    name: String,
    available: bool,
    sys_id: String,
    restrict_update: bool,
    service_channel_type: String,
}

impl From<Channel> for StateChannel {
    fn from(c: Channel) -> Self {
        StateChannel {
            name: c.name,
            available: c.available,
            sys_id: c.sys_id,
            restrict_update: c.restrict_update,
            service_channel_type: c.service_channel_type,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct StateBody {
    name: String,
    order: i64,
    show_channels: bool,
    sys_id: String,
    available: bool,
    channels: Vec<StateChannel>,
    disable_inactivity_check: bool,
}

impl From<Presence> for StateBody {
    fn from(p: Presence) -> Self {
        StateBody {
            name: p.state.name,
            order: p.state.order,
            show_channels: p.state.show_channels,
            sys_id: p.state.sys_id,
            available: p.state.available,
            channels: p.channels.into_iter().map(StateChannel::from).collect(),
            disable_inactivity_check: p.state.disable_inactivity_check,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct ChannelCapacityBody {
    channel_sys_id: String,
    current_workload: i64,
    max_capacity: i64,
}

/// `GET /awa/agents/{user_id}/capacities`. The universal fields only when the agent has a
/// universal capacity.
#[derive(Debug, serde::Serialize, ToSchema)]
struct CapacitiesBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    universal_workload: Option<i64>,
    channels: Vec<ChannelCapacityBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    universal_capacity: Option<i64>,
}

impl From<Capacities> for CapacitiesBody {
    fn from(c: Capacities) -> Self {
        CapacitiesBody {
            universal_workload: c.universal.map(|(_, workload)| workload),
            channels: c
                .channels
                .into_iter()
                .map(|c| ChannelCapacityBody {
                    channel_sys_id: c.channel,
                    current_workload: c.workload,
                    max_capacity: c.max_capacity,
                })
                .collect(),
            universal_capacity: c.universal.map(|(max, _)| max),
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct UpdatedChannelCapacity {
    channel_sys_id: String,
    max_capacity: i64,
}

/// `PUT /awa/agents/{user_id}/capacities`: the channels the request set; the universal capacity
/// when the agent has one.
#[derive(Debug, serde::Serialize, ToSchema)]
struct UpdatedCapacities {
    channels: Vec<UpdatedChannelCapacity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    universal_capacity: Option<i64>,
}

/// A channel of the PUT body. Read leniently: XML sends every value as text.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct ChannelInput {
    /// sys_id of an active service channel.
    #[schema(value_type = String)]
    sys_id: Option<Json>,
    /// Whether the agent takes work on it: `true`/`false` (any case) or `1`/`0`; missing is false.
    #[schema(value_type = Option<bool>)]
    available: Option<Json>,
}

#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct PresenceInput {
    /// sys_id of an active presence state.
    #[schema(value_type = String)]
    sys_id: Option<Json>,
    /// The channels' availability, for an available state; ignored for another.
    #[schema(value_type = Option<Vec<ChannelInput>>)]
    channels: Option<Json>,
}

/// The body of `PUT /awa/agents/{user_id}`.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct PresenceRequest {
    #[schema(value_type = PresenceInput)]
    presence: Option<Json>,
}

/// A non-blank string.
fn text(value: Option<&Json>) -> Option<&str> {
    value
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A boolean as JSON (`true`), as text (`"true"`, `"1"`: XML), or as a number (`1`).
fn boolean(value: &Json) -> Option<bool> {
    match value {
        Json::Bool(b) => Some(*b),
        Json::String(s) => parse_bool(s.trim()),
        Json::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A capacity: a whole number from 0, as JSON or as text.
fn capacity(value: &Json) -> Option<i64> {
    let n = match value {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (0..=MAX_CAPACITY).contains(&n).then_some(n)
}

/// A list: an array, or one object (XML's one repeated element), or nothing.
fn items(value: Option<&Json>) -> Option<Vec<Json>> {
    match value {
        None | Some(Json::Null) => Some(Vec::new()),
        Some(Json::String(s)) if s.trim().is_empty() => Some(Vec::new()),
        Some(Json::Array(items)) => Some(items.clone()),
        Some(object @ Json::Object(_)) => Some(vec![object.clone()]),
        Some(_) => None,
    }
}

impl PresenceRequest {
    fn into_set(self) -> Result<SetPresence, String> {
        let presence: PresenceInput = match self.presence {
            Some(Json::Object(map)) => {
                serde_json::from_value(Json::Object(map)).map_err(|e| format!("presence: {e}"))?
            }
            _ => return Err("The body must have a presence object".into()),
        };
        let state = text(presence.sys_id.as_ref())
            .ok_or("presence.sys_id is required")?
            .to_owned();
        let list = items(presence.channels.as_ref())
            .ok_or("presence.channels must be a list of channels")?;
        let mut channels = Vec::new();
        for item in list {
            let channel: ChannelInput = serde_json::from_value(item)
                .map_err(|_| "presence.channels must be a list of channels")?;
            let id = text(channel.sys_id.as_ref())
                .ok_or("presence.channels.sys_id is required")?
                .to_owned();
            let available = match &channel.available {
                None | Some(Json::Null) => false,
                Some(value) => {
                    boolean(value).ok_or("presence.channels.available must be true or false")?
                }
            };
            channels.push((id, available));
        }
        Ok(SetPresence { state, channels })
    }
}

/// The body of `PUT /awa/agents/{user_id}/capacities`: at least one of the two.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct CapacitiesRequest {
    /// Channel sys_id to the agent's maximum capacity on it.
    #[schema(value_type = Option<std::collections::HashMap<String, i64>>)]
    channels: Option<Json>,
    /// The agent's maximum capacity across every channel.
    #[schema(value_type = Option<i64>)]
    universal_capacity: Option<Json>,
}

impl CapacitiesRequest {
    fn into_set(self) -> Result<SetCapacities, String> {
        let mut set = SetCapacities::default();
        match self.channels {
            None | Some(Json::Null) => {}
            Some(Json::Object(map)) => {
                for (id, value) in map {
                    let max = capacity(&value).ok_or_else(|| {
                        format!("channels.{id} must be a whole number from 0 to {MAX_CAPACITY}")
                    })?;
                    set.channels.push((id, max));
                }
            }
            Some(_) => {
                return Err("channels must be an object of channel sys_ids to capacities".into());
            }
        }
        match self.universal_capacity {
            None | Some(Json::Null) => {}
            Some(value) => {
                let max = capacity(&value).ok_or_else(|| {
                    format!("universal_capacity must be a whole number from 0 to {MAX_CAPACITY}")
                })?;
                set.universal = Some(max);
            }
        }
        if set.channels.is_empty() && set.universal.is_none() {
            return Err("Give channels, universal_capacity, or both".into());
        }
        Ok(set)
    }
}

/// Returns the agent's current presence state and, in an available state, its channels.
#[utoipa::path(
    get,
    path = "/awa/agents/{user_id}",
    tag = "AWA Agent",
    params(("user_id" = String, Path, description = "sys_id of the agent (a user with awa_agent)")),
    responses(
        (status = 200, description = "The agent's presence", body = ResultEnvelope<AgentPresence>),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record Not Found`: no such user, not an agent, or no presence state", body = ErrorEnvelope),
    )
)]
async fn get_agent(
    State(state): State<AppState>,
    Path(user): Path<String>,
    _caller: Integration,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    found(awa_presence::agent(&mut tx, &user).await?, &user)?;
    let presence = found(awa_presence::presence(&mut tx, &user).await?, &user)?;
    tx.commit().await?;
    Ok(respond::typed(
        StatusCode::OK,
        &AgentPresence::new(&user, presence),
    ))
}

/// Sets the agent's presence state and, for an available state, its channels' availability.
#[utoipa::path(
    put,
    path = "/awa/agents/{user_id}",
    tag = "AWA Agent",
    params(("user_id" = String, Path, description = "sys_id of the agent (a user with awa_agent)")),
    request_body(content = PresenceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The agent's presence after the change", body = ResultEnvelope<AgentPresence>),
        (status = 400, description = "An unreadable body, or one the page's types do not fit", body = ErrorEnvelope),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record Not Found`: no such user, not an agent, no such presence state or service channel", body = ErrorEnvelope),
    )
)]
async fn put_agent(
    State(state): State<AppState>,
    Path(user): Path<String>,
    Integration(caller): Integration,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body
        .parse::<PresenceRequest>()?
        .into_set()
        .map_err(bad_request)?;
    let mut tx = state.store.begin().await?;
    found(awa_presence::agent(&mut tx, &user).await?, &user)?;
    let presence = awa_presence::set_presence(
        &mut tx,
        &user,
        request,
        state.clock.now(),
        &caller.user_name,
    )
    .await?;
    let presence = found(presence, &user)?;
    tx.commit().await?;
    Ok(respond::typed(
        StatusCode::OK,
        &AgentPresence::new(&user, presence),
    ))
}

/// Lists the presence states an agent can be in, each with the agent's channels in it.
#[utoipa::path(
    get,
    path = "/awa/agents/{user_id}/presence_states",
    tag = "AWA Agent",
    params(("user_id" = String, Path, description = "sys_id of the agent (a user with awa_agent)")),
    responses(
        (status = 200, description = "Every active presence state, in order", body = ResultEnvelope<Vec<StateBody>>),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record Not Found`: no such user, or not an agent", body = ErrorEnvelope),
    )
)]
async fn get_presence_states(
    State(state): State<AppState>,
    Path(user): Path<String>,
    _caller: Integration,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    found(awa_presence::agent(&mut tx, &user).await?, &user)?;
    let states = awa_presence::presence_states(&mut tx, &user).await?;
    tx.commit().await?;
    let states: Vec<StateBody> = states.into_iter().map(StateBody::from).collect();
    Ok(respond::typed(StatusCode::OK, &states))
}

/// Returns the agent's channel capacities, universal capacity and workloads.
#[utoipa::path(
    get,
    path = "/awa/agents/{user_id}/capacities",
    tag = "AWA Agent",
    params(("user_id" = String, Path, description = "sys_id of the agent (a user with awa_agent)")),
    responses(
        (status = 200, description = "The agent's capacities and workloads", body = ResultEnvelope<CapacitiesBody>),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record Not Found`: no such user, or not an agent", body = ErrorEnvelope),
    )
)]
async fn get_capacities(
    State(state): State<AppState>,
    Path(user): Path<String>,
    _caller: Integration,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    found(awa_presence::agent(&mut tx, &user).await?, &user)?;
    let capacities = awa_presence::capacities(&mut tx, &user).await?;
    tx.commit().await?;
    Ok(respond::typed(
        StatusCode::OK,
        &CapacitiesBody::from(capacities),
    ))
}

/// Sets the agent's maximum capacity on channels, and its universal capacity.
#[utoipa::path(
    put,
    path = "/awa/agents/{user_id}/capacities",
    tag = "AWA Agent",
    params(("user_id" = String, Path, description = "sys_id of the agent (a user with awa_agent)")),
    request_body(content = CapacitiesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The capacities set", body = ResultEnvelope<UpdatedCapacities>),
        (status = 400, description = "An unreadable body, no capacity, or one that is not a whole number from 0", body = ErrorEnvelope),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "The caller lacks awa_integration_user: `User Not Authenticated`", body = ErrorEnvelope),
        (status = 404, description = "`Record Not Found`: no such user, not an agent, or no such service channel", body = ErrorEnvelope),
    )
)]
async fn put_capacities(
    State(state): State<AppState>,
    Path(user): Path<String>,
    Integration(caller): Integration,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body
        .parse::<CapacitiesRequest>()?
        .into_set()
        .map_err(bad_request)?;
    let mut tx = state.store.begin().await?;
    found(awa_presence::agent(&mut tx, &user).await?, &user)?;
    let set = awa_presence::set_capacities(&mut tx, &user, request, &caller.user_name).await?;
    let set = found(set, &user)?;
    tx.commit().await?;
    let body = UpdatedCapacities {
        channels: set
            .channels
            .into_iter()
            .map(|(channel_sys_id, max_capacity)| UpdatedChannelCapacity {
                channel_sys_id,
                max_capacity,
            })
            .collect(),
        universal_capacity: set.universal,
    };
    Ok(respond::typed(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn presence(body: Json) -> Result<SetPresence, String> {
        serde_json::from_value::<PresenceRequest>(body)
            .unwrap()
            .into_set()
    }

    fn capacities(body: Json) -> Result<SetCapacities, String> {
        serde_json::from_value::<CapacitiesRequest>(body)
            .unwrap()
            .into_set()
    }

    #[test]
    fn a_presence_needs_a_state_and_readable_channels() {
        assert!(presence(json!({})).is_err());
        assert!(presence(json!({"presence": {}})).is_err());
        assert!(presence(json!({"presence": {"sys_id": " "}})).is_err());
        assert_eq!(
            presence(json!({"presence": {"sys_id": "s"}})),
            Ok(SetPresence {
                state: "s".into(),
                channels: vec![]
            })
        );
        // JSON booleans, XML's text, one XML element, a missing flag (false).
        let set = presence(json!({"presence": {"sys_id": "s", "channels": [
            {"sys_id": "a", "available": true}, {"sys_id": "b", "available": "FALSE"},
            {"sys_id": "c", "available": "1"}, {"sys_id": "d"}]}}));
        let channels = vec![
            ("a".into(), true),
            ("b".into(), false),
            ("c".into(), true),
            ("d".into(), false),
        ];
        assert_eq!(set.unwrap().channels, channels);
        let one = presence(json!({"presence": {"sys_id": "s",
            "channels": {"sys_id": "a", "available": "true"}}}));
        assert_eq!(one.unwrap().channels, vec![("a".into(), true)]);
        for bad in [
            json!({"presence": {"sys_id": "s", "channels": [{"sys_id": "a", "available": "maybe"}]}}),
            json!({"presence": {"sys_id": "s", "channels": [{"available": true}]}}),
            json!({"presence": {"sys_id": "s", "channels": 5}}),
            json!({"presence": "s"}),
        ] {
            assert!(presence(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn capacities_are_whole_numbers_from_zero() {
        let set = capacities(json!({"channels": {"c": 6}, "universal_capacity": "12"})).unwrap();
        assert_eq!(set.channels, vec![("c".into(), 6)]);
        assert_eq!(set.universal, Some(12));
        assert_eq!(
            capacities(json!({"universal_capacity": 0}))
                .unwrap()
                .universal,
            Some(0)
        );
        for bad in [
            json!({}),
            json!({"channels": {}}),
            json!({"channels": {"c": -1}}),
            json!({"channels": {"c": 1.5}}),
            json!({"channels": ["c"]}),
            json!({"universal_capacity": "ten"}),
            json!({"universal_capacity": 2147483648i64}),
        ] {
            assert!(capacities(bad.clone()).is_err(), "{bad}");
        }
    }
}
