//! The one world the AWA work tests (offers, routing, the inbox, the state machine and its races)
//! start from: presence states, Chat and Phone service channels, queues with provider ids, agents
//! Available on Chat, a third-party chat connector and reject reasons; and the steps they share:
//! the HTTP calls (as the integration user), and reading work items and conversation members,
//! through the Table API or straight from the store as the domain sees them.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value as Json, json};
use switchboard::domain::awa_work::{Deadline, Offer};
use switchboard::model::filter::{Filter, Select};
use switchboard::model::registry::{self, Table};
use switchboard::model::value::{Record, Value};
use switchboard::storage::Storage;
use time::{Duration, OffsetDateTime};

use super::{
    INTEGRATION, TestApp, chat_connector, fetch_record, fetch_records, json_of, sys_id_of,
};

/// Who the domain calls of these tests act as.
pub const ACTOR: &str = "integration";

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

/// The AWA world. The integration user ([`INTEGRATION`]) exists; its server's background sweeper
/// is off (see [`AwaWorld::new`]).
pub struct AwaWorld {
    pub app: TestApp,
    /// The integration user's sys_id (the caller of offers).
    pub caller: String,
    /// The presence state "Available" (available).
    pub available: String,
    /// The presence state "Away" (not available).
    pub away: String,
    /// The Chat service channel (capacity 2) the agents are Available on.
    pub chat: String,
    /// A Phone service channel no agent is available on.
    pub phone: String,
    /// A queue on Chat, with provider queue id [`AwaWorld::queue_external_id`].
    pub queue: String,
    pub queue_external_id: String,
    /// A second queue on Chat, with provider queue id [`AwaWorld::other_queue_external_id`].
    pub other_queue: String,
    pub other_queue_external_id: String,
    /// A queue on Phone.
    pub phone_queue: String,
    /// The third-party chat connector: its interactions have a conversation.
    pub connector: String,
    /// Three agents (`agent1`, `agent2`, `agent3`), each Available on Chat (only).
    pub agents: Vec<AwaAgent>,
    /// awa_agent without awa_external_user, Available on Chat.
    pub internal_agent: String,
    /// awa_agent and awa_external_user, Away.
    pub away_agent: String,
    /// A user without awa_agent.
    pub not_agent: String,
    /// Reject reasons: Chat's `Busy` (order 1); every channel's `Not my expertise` (order 2);
    /// Phone's `On a call` (order 0); an inactive Chat one.
    pub busy: String,
    pub not_my_expertise: String,
    pub on_a_call: String,
    pub retired_reason: String,
}

impl AwaWorld {
    /// The world on a fresh server whose background sweeper is off: tests expire offers by
    /// moving the clock (`app.state.clock.advance`) and running the pass themselves
    /// (`app.state.sweep_offers()`), which a sweeper of its own would otherwise race.
    pub async fn new() -> AwaWorld {
        let app =
            TestApp::spawn_with(|config| config.awa_sweep_interval = std::time::Duration::ZERO)
                .await;
        Self::on(app).await
    }

    /// The world on `app`.
    pub async fn on(app: TestApp) -> AwaWorld {
        let caller = app.integration_user().await;
        let state = |name: &str, available: bool, order: i64| json!({"name": name, "available": available, "order": order, "active": true});
        let available = sys_id_of(
            &app.insert("awa_presence_state", state("Available", true, 0))
                .await,
        );
        let away = sys_id_of(
            &app.insert("awa_presence_state", state("Away", false, 1000))
                .await,
        );
        app.insert("awa_presence_state", state("Offline", false, 2000))
            .await;
        let channel = |name: &str, kind: &str| json!({"name": name, "service_channel_type": kind, "max_capacity": 2, "active": true});
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
        let connector = chat_connector(&app).await;
        let reason = |reason: &str, order: i64, channel: &str, active: bool| json!({"reason": reason, "order": order, "service_channel": channel, "active": active});
        let mut reasons = Vec::new();
        // Inserted out of order: the API sorts by order.
        for body in [
            reason("Not my expertise", 2, "", true),
            reason("Busy", 1, &chat, true),
            reason("On a call", 0, &phone, true),
            reason("Retired", 0, &chat, false),
        ] {
            reasons.push(sys_id_of(&app.insert("awa_reject_reason", body).await));
        }
        let mut agents = Vec::new();
        for name in ["agent1", "agent2", "agent3"] {
            agents.push(add_agent(&app, name).await);
        }
        let internal_agent = app
            .user("awa.internal", "agent-password", &["awa_agent"])
            .await;
        let away_agent = add_agent(&app, "awa.resting").await.sys_id;
        let not_agent = app
            .user("awa.plain", "plain-password", &["interaction_agent"])
            .await;
        let world = AwaWorld {
            app,
            caller,
            available,
            away,
            chat,
            phone,
            queue: chat_queue,
            queue_external_id: "ext-chat-1".into(),
            other_queue,
            other_queue_external_id: "ext-chat-2".into(),
            phone_queue,
            connector,
            agents,
            internal_agent,
            away_agent,
            not_agent,
            not_my_expertise: reasons[0].clone(),
            busy: reasons[1].clone(),
            on_a_call: reasons[2].clone(),
            retired_reason: reasons[3].clone(),
        };
        let agents = world.agents.iter().map(|a| a.sys_id.as_str());
        for agent in agents.chain([world.internal_agent.as_str()]) {
            world.make_available(agent).await;
        }
        world
            .set_presence(&world.away_agent, &world.away, &world.chat_only())
            .await;
        world
    }

    /// Creates an agent (`awa_agent` and `awa_external_user`) named `name`, password
    /// `{name}-password`, not yet available.
    pub async fn add_agent(&self, name: &str) -> AwaAgent {
        add_agent(&self.app, name).await
    }

    /// The three agents' sys_ids.
    pub fn agent_ids(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.sys_id.clone()).collect()
    }

    fn chat_only(&self) -> [(&str, bool); 2] {
        [(&self.chat, true), (&self.phone, false)]
    }

    // -- HTTP, as the integration user -----------------------------------------------------------

    /// A request as the integration user with a JSON body.
    pub async fn send(&self, method: Method, path: &str, body: Json) -> Response {
        self.app
            .as_user(INTEGRATION, method, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Status and JSON body of a request as the integration user.
    pub async fn call(&self, method: Method, path: &str, body: Json) -> (StatusCode, Json) {
        json_of(self.send(method, path, body).await).await
    }

    /// Status and JSON body of a GET as the integration user.
    async fn get(&self, path: &str) -> (StatusCode, Json) {
        let response = self.app.as_user(INTEGRATION, Method::GET, path).send();
        json_of(response.await.unwrap()).await
    }

    /// Sets an agent's presence state and its channels' availability through the AWA Agent API
    /// (asserting 200).
    pub async fn set_presence(&self, agent: &str, state: &str, channels: &[(&str, bool)]) {
        let channels: Vec<Json> = channels
            .iter()
            .map(|(id, available)| json!({"sys_id": id, "available": available}))
            .collect();
        let body = json!({"presence": {"sys_id": state, "channels": channels}});
        let path = format!("/api/now/awa/agents/{agent}");
        let (status, body) = self.call(Method::PUT, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Makes the agent Available on Chat (not on Phone).
    pub async fn make_available(&self, agent: &str) {
        self.set_presence(agent, &self.available, &self.chat_only())
            .await;
    }

    /// The sys_id of an agent's presence state, through the AWA Agent API.
    pub async fn presence_of(&self, agent: &str) -> String {
        let (status, body) = self.get(&format!("/api/now/awa/agents/{agent}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sys_id_of(&body["result"]["presence"])
    }

    /// An agent's current workload on Chat, through the AWA Agent API's capacities.
    pub async fn workload(&self, agent: &str) -> i64 {
        let path = format!("/api/now/awa/agents/{agent}/capacities");
        let (status, body) = self.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["result"]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel_sys_id"] == self.chat.as_str())
            .unwrap_or_else(|| panic!("no Chat in {body}"))["current_workload"]
            .as_i64()
            .unwrap()
    }

    /// Opens an interaction on the connector in `queue` through the Interaction Management API:
    /// it waits there as a queued work item. Its sys_id.
    pub async fn open_in_queue(&self, queue: &str) -> String {
        self.open(json!({"channel": self.connector, "queue": queue}))
            .await
    }

    /// Opens an interaction on the connector in no queue: it has no work item. Its sys_id.
    pub async fn open_unrouted(&self) -> String {
        self.open(json!({"channel": self.connector})).await
    }

    async fn open(&self, body: Json) -> String {
        let (status, body) = self.call(Method::POST, "/api/now/interaction", body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        sys_id_of(&body["result"])
    }

    /// Closes an interaction through the Interaction Management API.
    pub async fn close(&self, interaction: &str) {
        let path = format!("/api/now/interaction/{interaction}/close");
        let (status, body) = self.call(Method::POST, &path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Offers the work item to `agent` (pending accept), written through the Table API as
    /// admin, as the Manual Assignment API will.
    pub async fn offer(&self, item: &str, agent: &str) {
        self.patch_item(
            item,
            json!({"state": "pending_accept", "assigned_to": agent}),
        )
        .await;
    }

    /// Changes a work item through the Table API as admin.
    pub async fn patch_item(&self, item: &str, body: Json) {
        let path = format!("/api/now/table/awa_work_item/{item}");
        let response = self.app.admin(Method::PATCH, &path).json(&body).send();
        let (status, body) = json_of(response.await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A queued interaction in the Chat queue, its work item offered to `agent`:
    /// (interaction, work item).
    pub async fn offered_interaction(&self, agent: &str) -> (String, String) {
        let interaction = self.open_in_queue(&self.queue).await;
        let item = sys_id_of(&self.active_work_item(&interaction).await);
        self.offer(&item, agent).await;
        (interaction, item)
    }

    /// Accepts through the Inbox Actions API (asserting 200).
    pub async fn accept(&self, agent: &str, item: &str) {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/now/awa/inbox/actions/accept",
                json!({"agent_id": agent, "work_item_id": item}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // -- Reading, through the Table API as admin (references as sys_ids) ------------------------

    /// A record as the Table API shows it.
    pub async fn record_json(&self, table: &str, id: &str) -> Json {
        fetch_record(&self.app, table, id)
            .await
            .unwrap_or_else(|| panic!("no {table} {id}"))
    }

    /// A document's work items, oldest first, as the Table API shows them.
    pub async fn work_items(&self, document: &str) -> Vec<Json> {
        let query = format!("document_id={document}&sysparm_query=ORDERBYsys_created_on");
        fetch_records(&self.app, "awa_work_item", &query).await
    }

    /// A document's one active work item (asserting there is exactly one), as the Table API
    /// shows it.
    pub async fn active_work_item(&self, document: &str) -> Json {
        let query = format!("document_id={document}&active=true");
        let items = fetch_records(&self.app, "awa_work_item", &query).await;
        assert_eq!(items.len(), 1, "{items:?}");
        items[0].clone()
    }

    // -- Reading, straight from the store ---------------------------------------------------------

    pub fn store(&self) -> &dyn Storage {
        &*self.app.state.store
    }

    /// Every work item of the document, oldest first.
    pub async fn items(&self, document: &str) -> Vec<Record> {
        let table = &registry::AWA_WORK_ITEM;
        let mut items = where_eq(self.store(), table, "document_id", document).await;
        items.sort_by(|a, b| {
            (a.str("sys_created_on"), a.sys_id()).cmp(&(b.str("sys_created_on"), b.sys_id()))
        });
        items
    }

    /// The document's only work item.
    pub async fn item(&self, document: &str) -> Record {
        let mut items = self.items(document).await;
        assert_eq!(items.len(), 1, "one work item: {items:?}");
        items.pop().unwrap()
    }

    pub async fn record(&self, table: &'static Table, id: &str) -> Record {
        self.store()
            .get(table, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {} {id}", table.name))
    }

    /// The interaction's conversation members: (member, member_type, active).
    pub async fn members(&self, interaction: &str) -> Vec<(String, String, bool)> {
        let store = self.store();
        let conversations = where_eq(
            store,
            &registry::SYS_CS_CONVERSATION,
            "interaction",
            interaction,
        )
        .await;
        assert_eq!(conversations.len(), 1, "{conversations:?}");
        let table = &registry::SYS_CS_CONVERSATION_MEMBER;
        let mut members: Vec<_> = where_eq(store, table, "conversation", conversations[0].sys_id())
            .await
            .iter()
            .map(|m| (text(m, "member"), text(m, "member_type"), flag(m, "active")))
            .collect();
        members.sort();
        members
    }

    /// The interaction's active members: (member, member_type).
    pub async fn active_members(&self, interaction: &str) -> Vec<(String, String)> {
        self.members(interaction)
            .await
            .into_iter()
            .filter(|m| m.2)
            .map(|m| (m.0, m.1))
            .collect()
    }

    /// The agent's memberships of the interaction's conversation: (member_type, active).
    pub async fn memberships(&self, interaction: &str, agent: &str) -> Vec<(String, bool)> {
        self.members(interaction)
            .await
            .into_iter()
            .filter(|m| m.0 == agent)
            .map(|m| (m.1, m.2))
            .collect()
    }

    /// The agent's one membership of the interaction's conversation, if any.
    pub async fn membership(&self, interaction: &str, agent: &str) -> Option<(String, bool)> {
        self.memberships(interaction, agent)
            .await
            .into_iter()
            .next()
    }
}

async fn add_agent(app: &TestApp, name: &str) -> AwaAgent {
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

/// The records of `table` whose `field` is `value`.
pub async fn where_eq(
    store: &dyn Storage,
    table: &'static Table,
    field: &str,
    value: &str,
) -> Vec<Record> {
    let field = table.field(field).expect("a field of the table");
    store
        .select(table, &Select::filter(Filter::eq(field, value.into())))
        .await
        .unwrap()
}

/// A field as text, empty when null.
pub fn text(record: &Record, field: &str) -> String {
    record.str(field).unwrap_or_default().to_owned()
}

pub fn flag(record: &Record, field: &str) -> bool {
    record.get(field) == &Value::Bool(true)
}

pub fn int(record: &Record, field: &str) -> i64 {
    match record.get(field) {
        Value::Int(n) => *n,
        other => panic!("{field} is not an integer: {other:?}"),
    }
}

/// A moment with whole seconds (stored date-times have no fractions), an hour from now.
pub fn t0() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc() + Duration::hours(1);
    now.replace_nanosecond(0).unwrap()
}

/// An offer to `agent` with the defaults and no time limit.
pub fn offer(agent: &str) -> Offer {
    Offer {
        agent: agent.to_owned(),
        allowed_to_decline: true,
        auto_assign: false,
        display_option: "card_only".to_owned(),
        deadline: None,
    }
}

/// An offer to `agent` made at `now` that expires `seconds` later, the agent then moved to
/// `after` (if given).
pub fn timed_offer(agent: &str, now: OffsetDateTime, seconds: i64, after: Option<&str>) -> Offer {
    Offer {
        deadline: Some(Deadline {
            seconds,
            offered_on: now,
            expires: now + Duration::seconds(seconds),
            after_timeout_presence: after.map(str::to_owned),
        }),
        ..offer(agent)
    }
}
