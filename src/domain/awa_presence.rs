//! An agent's presence and capacity under Advanced Work Assignment: the rules behind the AWA
//! Agent API. An agent is a user holding `awa_agent`; its channels are the service channels it
//! has an availability record for; its presence is one `awa_agent_presence` record.
//!
//! Workload is what the agent's work items use ([`super::awa_work::workloads`]); under external
//! routing it grows past the capacity rather than being refused by it.

use super::{Changes, Result};
use crate::model::filter::{Filter, Op, RowLock, Select, SortKey};
use crate::model::registry::{self, UNIVERSAL_CAPACITY, field};
use crate::model::roles::AWA_AGENT;
use crate::model::value::{self, Record, Value};
use crate::storage::Tx;
use time::OffsetDateTime;

/// Why a request names nothing the API can act on: every one is the page's "Record Not Found".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No user with this sys_id.
    NoUser,
    /// The user does not hold `awa_agent`.
    NotAnAgent,
    /// No active presence state with this sys_id.
    NoPresenceState(String),
    /// No active service channel with this sys_id.
    NoChannel(String),
    /// The agent has no presence record, and there is no unavailable state to report instead.
    NoPresence,
}

pub type Outcome<T> = Result<std::result::Result<T, Refusal>>;

/// A service channel as an agent has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub sys_id: String,
    pub name: String,
    pub service_channel_type: String,
    pub restrict_update: bool,
    /// The agent takes work on it.
    pub available: bool,
    /// The channel's default capacity.
    pub max_capacity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceState {
    pub sys_id: String,
    pub name: String,
    pub available: bool,
    pub order: i64,
    pub show_channels: bool,
    pub disable_inactivity_check: bool,
}

/// An agent's presence: its state, and its channels (none unless the state is available).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub state: PresenceState,
    pub channels: Vec<Channel>,
}

/// The presence a PUT asks for: a state, and the availability of some channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPresence {
    pub state: String,
    pub channels: Vec<(String, bool)>,
}

/// An agent's capacity on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCapacity {
    pub channel: String,
    pub max_capacity: i64,
    pub workload: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacities {
    pub channels: Vec<ChannelCapacity>,
    /// The universal capacity and workload, when the agent has a universal capacity record.
    pub universal: Option<(i64, i64)>,
}

/// The capacities a PUT sets: channel sys_id to maximum, and the universal maximum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetCapacities {
    pub channels: Vec<(String, i64)>,
    pub universal: Option<i64>,
}

fn flag(record: &Record, name: &str) -> bool {
    record.get(name) == &Value::Bool(true)
}

fn int(record: &Record, name: &str) -> i64 {
    match record.get(name) {
        Value::Int(n) => *n,
        _ => 0,
    }
}

fn text(record: &Record, name: &str) -> String {
    record.str(name).unwrap_or_default().to_owned()
}

fn presence_state(record: &Record) -> PresenceState {
    PresenceState {
        sys_id: record.sys_id().to_owned(),
        name: text(record, "name"),
        available: flag(record, "available"),
        order: int(record, "order"),
        show_channels: flag(record, "show_channels"),
        disable_inactivity_check: flag(record, "disable_inactivity_check"),
    }
}

fn channel(record: &Record, available: bool) -> Channel {
    Channel {
        sys_id: record.sys_id().to_owned(),
        name: text(record, "name"),
        service_channel_type: text(record, "service_channel_type"),
        restrict_update: flag(record, "restrict_update"),
        available,
        max_capacity: int(record, "max_capacity"),
    }
}

/// The agent `user`: it exists and holds `awa_agent` (admin passes every role check).
pub async fn agent(tx: &mut Tx, user: &str) -> Outcome<Record> {
    let Some(record) = tx.get(&registry::SYS_USER, user).await? else {
        return Ok(Err(Refusal::NoUser));
    };
    let roles = record.str("roles").unwrap_or_default();
    if super::roles::holds(roles, AWA_AGENT) {
        Ok(Ok(record))
    } else {
        Ok(Err(Refusal::NotAnAgent))
    }
}

/// An active service channel, held while the transaction runs (a record about to refer to it).
async fn active_channel(tx: &mut Tx, id: &str) -> Result<Option<Record>> {
    let record = tx
        .get_held(&registry::AWA_SERVICE_CHANNEL, id, RowLock::KeyShare)
        .await?;
    Ok(record.filter(|c| flag(c, "active")))
}

/// The agent's channels: the active channels it has an availability record for, by name.
pub async fn channels(tx: &mut Tx, agent: &str) -> Result<Vec<Channel>> {
    let filter = Filter::eq(field!(AWA_AGENT_CHANNEL_AVAILABILITY, agent), agent.into());
    let records = tx
        .select(
            &registry::AWA_AGENT_CHANNEL_AVAILABILITY,
            &Select::filter(filter),
        )
        .await?;
    let mut channels = Vec::new();
    for availability in records {
        let Some(id) = availability.str("service_channel") else {
            continue;
        };
        let record = tx.get(&registry::AWA_SERVICE_CHANNEL, id).await?;
        if let Some(record) = record.filter(|c| flag(c, "active")) {
            channels.push(channel(&record, flag(&availability, "available")));
        }
    }
    channels.sort_by(|a, b| a.name.cmp(&b.name).then(a.sys_id.cmp(&b.sys_id)));
    Ok(channels)
}

/// Every active presence state, in their order (then by name).
pub async fn states(tx: &mut Tx) -> Result<Vec<PresenceState>> {
    let filter = Filter::eq(field!(AWA_PRESENCE_STATE, active), Value::Bool(true));
    let mut select = Select::filter(filter);
    select.order = vec![
        (SortKey::field(field!(AWA_PRESENCE_STATE, order)), false),
        (SortKey::field(field!(AWA_PRESENCE_STATE, name)), false),
    ];
    let records = tx.select(&registry::AWA_PRESENCE_STATE, &select).await?;
    Ok(records.iter().map(presence_state).collect())
}

/// The agent's current presence. An agent without a presence record (one that never set its
/// presence) is in the last unavailable state (Offline, on a default instance).
pub async fn presence(tx: &mut Tx, agent: &str) -> Outcome<Presence> {
    let filter = Filter::eq(field!(AWA_AGENT_PRESENCE, agent), agent.into());
    let record = tx
        .select(
            &registry::AWA_AGENT_PRESENCE,
            &Select::filter(filter).limit(1),
        )
        .await?
        .pop();
    let current = match record
        .as_ref()
        .and_then(|r| r.str("current_presence_state"))
    {
        Some(id) => tx.get(&registry::AWA_PRESENCE_STATE, id).await?,
        None => None,
    };
    let state = match current {
        Some(state) => presence_state(&state),
        None => match states(tx).await?.into_iter().rfind(|s| !s.available) {
            Some(state) => state,
            None => return Ok(Err(Refusal::NoPresence)),
        },
    };
    let channels = if state.available {
        channels(tx, agent).await?
    } else {
        Vec::new()
    };
    Ok(Ok(Presence { state, channels }))
}

/// Every active presence state, each with the channels the agent would have in it: its
/// channels in an available state, none in another.
pub async fn presence_states(tx: &mut Tx, agent: &str) -> Result<Vec<Presence>> {
    let channels = channels(tx, agent).await?;
    Ok(states(tx)
        .await?
        .into_iter()
        .map(|state| Presence {
            channels: if state.available {
                channels.clone()
            } else {
                Vec::new()
            },
            state,
        })
        .collect())
}

/// Writes to one agent's presence and capacities wait for each other (on every node), so
/// finding its record and creating it is one step.
async fn lock_agent(tx: &mut Tx, agent: &str) -> Result<()> {
    Ok(tx.lock(&format!("awa_agent:{agent}")).await?)
}

/// Sets the agent's presence state and, in an available state, its channels' availability, as
/// of `now` (the server's clock: the AWA sweeper's changes follow a clock tests move).
/// Channels named with an unavailable state are not written (the agent has no channels there):
/// the agent finds them as they were when it is next available. Every name is checked before
/// anything is written.
pub async fn set_presence(
    tx: &mut Tx,
    agent: &str,
    request: SetPresence,
    now: OffsetDateTime,
    actor: &str,
) -> Outcome<Presence> {
    let Some(state) = tx
        .get_held(
            &registry::AWA_PRESENCE_STATE,
            &request.state,
            RowLock::KeyShare,
        )
        .await?
        .filter(|s| flag(s, "active"))
    else {
        return Ok(Err(Refusal::NoPresenceState(request.state)));
    };
    let available = flag(&state, "available");
    if available {
        for (id, _) in &request.channels {
            if active_channel(tx, id).await?.is_none() {
                return Ok(Err(Refusal::NoChannel(id.clone())));
            }
        }
    }
    lock_agent(tx, agent).await?;
    let presences = &registry::AWA_AGENT_PRESENCE;
    let filter = Filter::eq(field!(AWA_AGENT_PRESENCE, agent), agent.into());
    let existing = tx
        .select(presences, &Select::filter(filter).limit(1).locked())
        .await?
        .pop();
    let now = Value::Text(value::format_date_time(now));
    match existing {
        Some(record) if record.str("current_presence_state") == Some(state.sys_id()) => {}
        Some(record) => {
            let changes = Changes::default()
                .set(
                    field!(AWA_AGENT_PRESENCE, current_presence_state),
                    Value::text(state.sys_id()),
                )
                .set(field!(AWA_AGENT_PRESENCE, state_changed_on), now.clone());
            super::update(tx, presences, record.sys_id(), changes, actor).await?;
            record_history(tx, agent, state.sys_id(), &now, actor).await?;
        }
        None => {
            let changes = Changes::default()
                .set(field!(AWA_AGENT_PRESENCE, agent), Value::text(agent))
                .set(
                    field!(AWA_AGENT_PRESENCE, current_presence_state),
                    Value::text(state.sys_id()),
                )
                .set(field!(AWA_AGENT_PRESENCE, state_changed_on), now.clone());
            super::insert(tx, presences, None, changes, actor).await?;
            record_history(tx, agent, state.sys_id(), &now, actor).await?;
        }
    }
    if available {
        for (id, on) in &request.channels {
            set_availability(tx, agent, id, *on, actor).await?;
        }
    }
    presence(tx, agent).await
}

/// The agent's presence history: the state it was in ends now, the new one starts.
async fn record_history(
    tx: &mut Tx,
    agent: &str,
    state: &str,
    now: &Value,
    actor: &str,
) -> Result<()> {
    let history = &registry::AWA_AGENT_PRESENCE_HISTORY;
    let open = Filter::eq(field!(AWA_AGENT_PRESENCE_HISTORY, agent), agent.into()).and(
        Filter::Cond(field!(AWA_AGENT_PRESENCE_HISTORY, state_end), Op::IsEmpty),
    );
    for record in tx.select(history, &Select::filter(open).locked()).await? {
        let changes =
            Changes::default().set(field!(AWA_AGENT_PRESENCE_HISTORY, state_end), now.clone());
        super::update(tx, history, record.sys_id(), changes, actor).await?;
    }
    let changes = Changes::default()
        .set(
            field!(AWA_AGENT_PRESENCE_HISTORY, agent),
            Value::text(agent),
        )
        .set(
            field!(AWA_AGENT_PRESENCE_HISTORY, presence_state),
            Value::text(state),
        )
        .set(field!(AWA_AGENT_PRESENCE_HISTORY, state_start), now.clone());
    super::insert(tx, history, None, changes, actor).await?;
    Ok(())
}

async fn set_availability(
    tx: &mut Tx,
    agent: &str,
    channel: &str,
    available: bool,
    actor: &str,
) -> Result<()> {
    let table = &registry::AWA_AGENT_CHANNEL_AVAILABILITY;
    let filter =
        Filter::eq(field!(AWA_AGENT_CHANNEL_AVAILABILITY, agent), agent.into()).and(Filter::eq(
            field!(AWA_AGENT_CHANNEL_AVAILABILITY, service_channel),
            channel.into(),
        ));
    let existing = tx
        .select(table, &Select::filter(filter).limit(1).locked())
        .await?
        .pop();
    let changes = Changes::default().set(
        field!(AWA_AGENT_CHANNEL_AVAILABILITY, available),
        Value::Bool(available),
    );
    match existing {
        Some(record) => {
            super::update(tx, table, record.sys_id(), changes, actor).await?;
        }
        None => {
            let changes = changes
                .set(
                    field!(AWA_AGENT_CHANNEL_AVAILABILITY, agent),
                    Value::text(agent),
                )
                .set(
                    field!(AWA_AGENT_CHANNEL_AVAILABILITY, service_channel),
                    Value::text(channel),
                );
            super::insert(tx, table, None, changes, actor).await?;
        }
    }
    Ok(())
}

/// The agent's capacity records, by what they are for (a channel's sys_id, or universal).
async fn capacity_records(tx: &mut Tx, agent: &str, locked: bool) -> Result<Vec<Record>> {
    let filter = Filter::eq(field!(AWA_AGENT_CAPACITY, agent), agent.into());
    let mut select = Select::filter(filter);
    if locked {
        select = select.locked();
    }
    Ok(tx.select(&registry::AWA_AGENT_CAPACITY, &select).await?)
}

/// The agent's capacities: one per channel it has (an availability record) or has an override
/// for, the override's maximum or else the channel's default; and its universal capacity when
/// it has one. Each with the workload the agent's pending and accepted work items put on it.
pub async fn capacities(tx: &mut Tx, agent: &str) -> Result<Capacities> {
    let records = capacity_records(tx, agent, false).await?;
    let loads = super::awa_work::workloads(tx, agent).await?;
    let total = loads.values().fold(0i64, |sum, n| sum.saturating_add(*n));
    let mut channels = channels(tx, agent).await?;
    for record in &records {
        let Some(id) = record.str("service_channel") else {
            continue;
        };
        if channels.iter().any(|c| c.sys_id == id) {
            continue;
        }
        let channel_record = tx.get(&registry::AWA_SERVICE_CHANNEL, id).await?;
        if let Some(c) = channel_record.filter(|c| flag(c, "active")) {
            channels.push(channel(&c, false));
        }
    }
    channels.sort_by(|a, b| a.name.cmp(&b.name).then(a.sys_id.cmp(&b.sys_id)));
    let override_for = |id: &str| {
        records
            .iter()
            .find(|r| r.str("capacity_for") == Some(id))
            .map(|r| int(r, "max_capacity"))
    };
    let universal = override_for(UNIVERSAL_CAPACITY).map(|max| (max, total));
    let channels = channels
        .iter()
        .map(|c| ChannelCapacity {
            channel: c.sys_id.clone(),
            max_capacity: override_for(&c.sys_id).unwrap_or(c.max_capacity),
            workload: loads.get(&Some(c.sys_id.clone())).copied().unwrap_or(0),
        })
        .collect();
    Ok(Capacities {
        channels,
        universal,
    })
}

/// Sets the agent's maximum capacity on each named channel (its override) and its universal
/// capacity. Every channel is checked before anything is written.
pub async fn set_capacities(
    tx: &mut Tx,
    agent: &str,
    request: SetCapacities,
    actor: &str,
) -> Outcome<SetCapacities> {
    for (id, _) in &request.channels {
        if active_channel(tx, id).await?.is_none() {
            return Ok(Err(Refusal::NoChannel(id.clone())));
        }
    }
    lock_agent(tx, agent).await?;
    let existing = capacity_records(tx, agent, true).await?;
    let scopes = request
        .channels
        .iter()
        .map(|(id, max)| (Some(id.as_str()), *max))
        .chain(request.universal.map(|max| (None, max)));
    let table = &registry::AWA_AGENT_CAPACITY;
    for (channel, max) in scopes {
        let capacity_for = channel.unwrap_or(UNIVERSAL_CAPACITY);
        let changes =
            Changes::default().set(field!(AWA_AGENT_CAPACITY, max_capacity), Value::Int(max));
        match existing
            .iter()
            .find(|r| r.str("capacity_for") == Some(capacity_for))
        {
            Some(record) => {
                super::update(tx, table, record.sys_id(), changes, actor).await?;
            }
            None => {
                let changes = changes
                    .set(field!(AWA_AGENT_CAPACITY, agent), Value::text(agent))
                    .set(
                        field!(AWA_AGENT_CAPACITY, service_channel),
                        Value::text(channel.unwrap_or_default()),
                    );
                super::insert(tx, table, None, changes, actor).await?;
            }
        }
    }
    // What the agent now has: the universal capacity whether or not this request set it.
    let universal = match request.universal {
        Some(max) => Some(max),
        None => capacities(tx, agent).await?.universal.map(|(max, _)| max),
    };
    Ok(Ok(SetCapacities {
        channels: request.channels,
        universal,
    }))
}
