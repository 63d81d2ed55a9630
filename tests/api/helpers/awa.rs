//! What the tests of the AWA work APIs (routing, offers, assignments, the inbox, consults) start
//! from: a service channel and its queues, presence states, agents Available on the channel, a
//! third-party connector; and the steps they share (opening a queued interaction, reading its
//! work items and conversation members, an agent's presence and workload).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{INTEGRATION, TestApp, fetch_records, json_of, query_encoded, sys_id_of};

/// An agent: a user holding `awa_agent` and `awa_external_user`.
#[derive(Debug, Clone)]
pub struct AwaAgent {
    pub sys_id: String,
    pub user_name: String,
    pub password: String,
}

impl AwaAgent {
    /// Credentials for [`TestApp::as_user`].
    pub fn login(&self) -> (&str, &str) {
        (&self.user_name, &self.password)
    }
}

/// The AWA setup most work tests share. The integration user ([`INTEGRATION`]) exists.
#[derive(Debug, Clone)]
pub struct AwaWorld {
    /// The Chat service channel, which the agents are Available on.
    pub channel: String,
    /// A Phone service channel, which the agents are not available on.
    pub other_channel: String,
    /// The presence state "Available" (available).
    pub available: String,
    /// The presence state "Away" (not available).
    pub away: String,
    /// A queue on Chat, with provider queue id [`AwaWorld::queue_external_id`].
    pub queue: String,
    pub queue_external_id: String,
    /// A second queue on Chat, with provider queue id `ext-chat-2`.
    pub other_queue: String,
    /// A queue on Phone.
    pub phone_queue: String,
    /// A third-party chat connector: its interactions have a conversation.
    pub connector: String,
    /// Three agents, each Available on Chat (only).
    pub agents: Vec<AwaAgent>,
}

/// Creates an agent (`awa_agent` and `awa_external_user`) named `name`, not yet available.
pub async fn awa_agent(app: &TestApp, name: &str) -> AwaAgent {
    let password = format!("{name}-password");
    let sys_id = app
        .user(name, &password, &["awa_agent", "awa_external_user"])
        .await;
    AwaAgent {
        sys_id,
        user_name: name.to_owned(),
        password,
    }
}

/// A server whose background sweeper is off: tests expire offers by moving the clock
/// (`app.state.clock.advance`) and running the pass themselves (`app.state.sweep_offers()`),
/// which a sweeper of its own would otherwise race.
pub async fn awa_app() -> TestApp {
    TestApp::spawn_with(|config| config.awa_sweep_interval = std::time::Duration::ZERO).await
}

/// Builds the [`AwaWorld`] on a fresh server (see [`awa_app`]).
pub async fn world(app: &TestApp) -> AwaWorld {
    app.integration_user().await;
    let state = |name: &str, available: bool, order: i64| json!({"name": name, "available": available, "order": order, "active": true});
    let available = sys_id_of(
        &app.insert("awa_presence_state", state("Available", true, 0))
            .await,
    );
    let away = sys_id_of(
        &app.insert("awa_presence_state", state("Away", false, 1000))
            .await,
    );
    let channel = |name: &str, kind: &str| json!({"name": name, "service_channel_type": kind, "max_capacity": 3, "active": true});
    let chat = sys_id_of(
        &app.insert("awa_service_channel", channel("Chat", "chat"))
            .await,
    );
    let phone = sys_id_of(
        &app.insert("awa_service_channel", channel("Phone", "phone"))
            .await,
    );
    let queue = |name: &str, channel: &str, external: &str| {
        json!({"name": name, "service_channel": channel, "external_id": external,
               "external_routing": true, "active": true})
    };
    let chat_queue = sys_id_of(
        &app.insert("awa_queue", queue("Chat queue", &chat, "ext-chat-1"))
            .await,
    );
    let other_queue = sys_id_of(
        &app.insert("awa_queue", queue("Chat queue 2", &chat, "ext-chat-2"))
            .await,
    );
    let phone_queue = sys_id_of(
        &app.insert("awa_queue", queue("Phone queue", &phone, "ext-phone-1"))
            .await,
    );
    let connector = sys_id_of(
        &app.insert(
            "interaction_connector",
            json!({"name": "CCaaS chat", "type": "chat", "third_party": true, "active": true}),
        )
        .await,
    );
    let mut agents = Vec::new();
    for name in ["awa.alice", "awa.bob", "awa.carol"] {
        let agent = awa_agent(app, name).await;
        set_presence(
            app,
            &agent.sys_id,
            &available,
            &[(&chat, true), (&phone, false)],
        )
        .await;
        agents.push(agent);
    }
    AwaWorld {
        channel: chat,
        other_channel: phone,
        available,
        away,
        queue: chat_queue,
        queue_external_id: "ext-chat-1".into(),
        other_queue,
        phone_queue,
        connector,
        agents,
    }
}

/// Sets an agent's presence state and its channels' availability through the AWA Agent API
/// (asserting 200).
pub async fn set_presence(app: &TestApp, agent: &str, state: &str, channels: &[(&str, bool)]) {
    let channels: Vec<Value> = channels
        .iter()
        .map(|(id, available)| json!({"sys_id": id, "available": available}))
        .collect();
    let body = json!({"presence": {"sys_id": state, "channels": channels}});
    let path = format!("/api/now/awa/agents/{agent}");
    let response = app.as_user(INTEGRATION, Method::PUT, &path).json(&body);
    let (status, body) = json_of(response.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The sys_id of an agent's presence state, through the AWA Agent API.
pub async fn presence_of(app: &TestApp, agent: &str) -> String {
    let path = format!("/api/now/awa/agents/{agent}");
    let response = app.as_user(INTEGRATION, Method::GET, &path).send().await;
    let (status, body) = json_of(response.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sys_id_of(&body["result"]["presence"])
}

/// An agent's current workload on `channel`, through the AWA Agent API's capacities.
pub async fn workload(app: &TestApp, agent: &str, channel: &str) -> i64 {
    let path = format!("/api/now/awa/agents/{agent}/capacities");
    let response = app.as_user(INTEGRATION, Method::GET, &path).send().await;
    let (status, body) = json_of(response.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_sys_id"] == channel)
        .map_or(0, |c| c["current_workload"].as_i64().unwrap())
}

/// Opens an interaction on the world's third-party connector in `queue`, through the
/// Interaction Management API as the integration user: it waits there as a queued work item.
pub async fn queued_interaction(app: &TestApp, world: &AwaWorld, queue: &str) -> String {
    let body = json!({"channel": world.connector, "queue": queue});
    let response = app.as_user(INTEGRATION, Method::POST, "/api/now/interaction");
    let (status, body) = json_of(response.json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sys_id_of(&body["result"])
}

/// Opens an interaction on the world's third-party connector in no queue: it has no work item.
pub async fn unrouted_interaction(app: &TestApp, world: &AwaWorld) -> String {
    let body = json!({"channel": world.connector});
    let response = app.as_user(INTEGRATION, Method::POST, "/api/now/interaction");
    let (status, body) = json_of(response.json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sys_id_of(&body["result"])
}

/// A document's work items, oldest first, as the Table API shows them.
pub async fn work_items(app: &TestApp, document: &str) -> Vec<Value> {
    let query = query_encoded(&format!("document_id={document}^ORDERBYsys_created_on"));
    let query = format!("sysparm_query={query}");
    fetch_records(app, "awa_work_item", &query).await
}

/// A document's one active work item (asserting there is exactly one).
pub async fn active_work_item(app: &TestApp, document: &str) -> Value {
    let query = query_encoded(&format!("document_id={document}^active=true"));
    let query = format!("sysparm_query={query}");
    let items = fetch_records(app, "awa_work_item", &query).await;
    assert_eq!(items.len(), 1, "{items:?}");
    items[0].clone()
}

/// The members of an interaction's conversation, as the Table API shows them.
pub async fn conversation_members(app: &TestApp, interaction: &str) -> Vec<Value> {
    let conversations = fetch_records(
        app,
        "sys_cs_conversation",
        &format!("sysparm_query=interaction={interaction}"),
    )
    .await;
    assert_eq!(conversations.len(), 1, "{conversations:?}");
    let conversation = sys_id_of(&conversations[0]);
    fetch_records(
        app,
        "sys_cs_conversation_member",
        &format!("sysparm_query=conversation={conversation}"),
    )
    .await
}

/// The agent's membership of the interaction's conversation: (member_type, active), if any.
pub async fn membership(app: &TestApp, interaction: &str, agent: &str) -> Option<(String, bool)> {
    conversation_members(app, interaction)
        .await
        .into_iter()
        .find(|m| m["member"] == agent)
        .map(|m| {
            (
                m["member_type"].as_str().unwrap_or_default().to_owned(),
                m["active"] == "true",
            )
        })
}
